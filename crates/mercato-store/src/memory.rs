//! [`MemoryStore`]: the whole store in a mutex-guarded map, for tests, the
//! scenario runner and benchmarks of the engine without I/O.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::chain::{GENESIS, event_hash};
use crate::types::{Commit, CommitOutcome, IdempotencyRecord, ReadModel, StoredEvent};
use crate::{Store, StoreError};

#[derive(Default)]
struct Inner {
    events: Vec<StoredEvent>,
    streams: HashMap<String, Vec<usize>>,
    idempotency: HashMap<String, IdempotencyRecord>,
    snapshot: Option<(u64, String)>,
    models: HashMap<ReadModel, BTreeMap<String, String>>,
    head: Option<(u64, String)>,
    guards: HashMap<String, i64>,
}

/// A store that lives in memory and is gone when dropped.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }

    /// Test hook: replaces the payload of event `seq` without fixing its
    /// hash, as an attacker editing the database would.
    pub fn tamper(&self, seq: u64, payload: &str) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        let i = usize::try_from(seq).unwrap_or(usize::MAX).wrapping_sub(1);
        match g.events.get_mut(i) {
            Some(e) => {
                e.payload = payload.to_string();
                Ok(())
            }
            None => Err(StoreError::Backend(format!("no event {seq}"))),
        }
    }

    /// Test hook: deletes event `seq`.
    pub fn delete(&self, seq: u64) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        let i = usize::try_from(seq).unwrap_or(usize::MAX).wrapping_sub(1);
        if i < g.events.len() {
            g.events.remove(i);
            Ok(())
        } else {
            Err(StoreError::Backend(format!("no event {seq}")))
        }
    }
}

impl Store for MemoryStore {
    fn commit_batch(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>, StoreError> {
        let mut g = self.lock()?;
        let mut out = Vec::with_capacity(commits.len());
        for c in commits {
            let checked = c.check::<StoreError>(
                |k| Ok(g.idempotency.get(k).cloned()),
                |st| Ok(g.streams.get(st).map_or(0, |x| x.len() as u64)),
                |k| Ok(g.guards.get(k).copied().unwrap_or(0)),
            )?;
            let moved = match checked {
                Ok(moved) => moved,
                Err(refused) => {
                    out.push(refused);
                    continue;
                }
            };
            g.guards
                .extend(moved.into_iter().map(|(k, v)| (k.to_string(), v)));
            let first = g.events.len() as u64 + 1;
            for e in &c.events {
                let seq = g.events.len() as u64 + 1;
                let prev = g
                    .events
                    .last()
                    .map_or(GENESIS.to_string(), |p| p.hash.clone());
                let idx = g.events.len();
                let positions = g.streams.entry(e.stream.clone()).or_default();
                positions.push(idx);
                let stream_version = positions.len() as u64;
                let hash = event_hash(&prev, seq, &e.stream, stream_version, &e.kind, &e.payload);
                g.events.push(StoredEvent {
                    seq,
                    stream: e.stream.clone(),
                    stream_version,
                    kind: e.kind.clone(),
                    payload: e.payload.clone(),
                    prev_hash: prev,
                    hash,
                });
            }
            if let Some(r) = &c.idempotency {
                g.idempotency.insert(r.key.clone(), r.clone());
            }
            for row in &c.read_models {
                g.models
                    .entry(row.model)
                    .or_default()
                    .insert(row.key.clone(), row.value.clone());
            }
            if let Some(last) = g.events.last() {
                g.head = Some((last.seq, last.hash.clone()));
            }
            out.push(CommitOutcome::Committed {
                first,
                last: g.events.len() as u64,
            });
        }
        Ok(out)
    }

    fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let g = self.lock()?;
        let start = g.events.partition_point(|e| e.seq <= after);
        Ok(g.events.iter().skip(start).take(limit).cloned().collect())
    }

    fn read_stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let g = self.lock()?;
        Ok(g.streams
            .get(stream)
            .map(|ix| {
                ix.iter()
                    .filter_map(|i| g.events.get(*i).cloned())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        Ok(self
            .lock()?
            .streams
            .get(stream)
            .map_or(0, |x| x.len() as u64))
    }

    fn head(&self) -> Result<u64, StoreError> {
        Ok(self.lock()?.events.last().map_or(0, |e| e.seq))
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.lock()?.idempotency.get(key).cloned())
    }

    fn save_snapshot(&self, seq: u64, state: &str) -> Result<(), StoreError> {
        self.lock()?.snapshot = Some((seq, state.to_string()));
        Ok(())
    }

    fn load_snapshot(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self.lock()?.snapshot.clone())
    }

    fn read_model(&self, model: ReadModel, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()?
            .models
            .get(&model)
            .and_then(|m| m.get(key).cloned()))
    }

    fn read_models(&self, model: ReadModel) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .lock()?
            .models
            .get(&model)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    fn guard(&self, key: &str) -> Result<i64, StoreError> {
        Ok(self.lock()?.guards.get(key).copied().unwrap_or(0))
    }

    fn chain_head(&self) -> Result<(u64, String), StoreError> {
        Ok(self
            .lock()?
            .head
            .clone()
            .unwrap_or((0, GENESIS.to_string())))
    }
}
