//! [`MemoryStore`]: the whole store in a mutex-guarded map, for tests, the
//! scenario runner and benchmarks of the engine without I/O.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::chain::{Chain, GENESIS};
use crate::types::{
    BatchCheck, ChainTail, Commit, CommitOutcome, IdempotencyRecord, ReadModel, SnapshotRecord,
    StoredEvent,
};
use crate::{Store, StoreError};

#[derive(Default)]
struct Inner {
    events: Vec<StoredEvent>,
    /// Stream → version (events that belong to it).
    versions: HashMap<String, u64>,
    /// Home stream → indexes of its events.
    homes: HashMap<String, Vec<usize>>,
    idempotency: HashMap<String, IdempotencyRecord>,
    snapshot: Option<SnapshotRecord>,
    models: HashMap<ReadModel, BTreeMap<String, String>>,
    head: Option<(u64, String)>,
    guards: HashMap<String, i64>,
    /// Consumer → checkpoint.
    consumers: BTreeMap<String, u64>,
}

/// A store that lives in memory and is gone when dropped.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// Held by every writer for its whole batch (and by
    /// `commit_exclusive` across its decision), apart from `inner`, so that
    /// reads go on meanwhile.
    writer: Mutex<()>,
    chain: Chain,
}

impl MemoryStore {
    /// An empty store with the plain SHA-256 chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store with the given chain (for example keyed).
    pub fn with_chain(chain: Chain) -> Self {
        MemoryStore {
            inner: Mutex::default(),
            writer: Mutex::default(),
            chain,
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }

    /// Test hook: runs `f` on stored event `seq` without fixing any hash,
    /// as an attacker editing the database would.
    pub fn tamper_with(
        &self,
        seq: u64,
        f: impl FnOnce(&mut StoredEvent),
    ) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        let i = usize::try_from(seq).unwrap_or(usize::MAX).wrapping_sub(1);
        match g.events.get_mut(i) {
            Some(e) => {
                f(e);
                Ok(())
            }
            None => Err(StoreError::Backend(format!("no event {seq}"))),
        }
    }

    /// Test hook: replaces the payload of event `seq` without fixing its
    /// hash.
    pub fn tamper(&self, seq: u64, payload: &str) -> Result<(), StoreError> {
        self.tamper_with(seq, |e| e.payload = payload.to_string())
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

    /// Test hook: overwrites the recorded chain head, as an attacker who
    /// re-chained the log would.
    pub fn set_head_raw(&self, seq: u64, hash: &str) -> Result<(), StoreError> {
        self.lock()?.head = Some((seq, hash.to_string()));
        Ok(())
    }

    /// Test hook: overwrites the stored snapshot as it is, unchecked.
    pub fn put_snapshot_raw(&self, snapshot: SnapshotRecord) -> Result<(), StoreError> {
        self.lock()?.snapshot = Some(snapshot);
        Ok(())
    }

    /// Checks and writes one batch (the writer lock is held).
    fn append(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>, StoreError> {
        let mut g = self.lock()?;
        let g = &mut *g;
        let mut out = Vec::with_capacity(commits.len());
        let mut batch = BatchCheck::new();
        for c in commits {
            let checked = batch.check::<StoreError>(
                c,
                |k| Ok(g.idempotency.get(k).cloned()),
                |st| Ok(g.versions.get(st).copied().unwrap_or(0)),
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
                // (Look up before inserting: no key copy for a known stream.)
                for s in e.streams() {
                    match g.versions.get_mut(s) {
                        Some(v) => *v += 1,
                        None => {
                            g.versions.insert(s.to_string(), 1);
                        }
                    }
                }
                let stream_version = g.versions.get(&e.stream).copied().unwrap_or(0);
                let at = g.events.len();
                match g.homes.get_mut(&e.stream) {
                    Some(home) => home.push(at),
                    None => {
                        g.homes.insert(e.stream.clone(), vec![at]);
                    }
                }
                let hash = self.chain.link(
                    &prev,
                    seq,
                    &e.stream,
                    stream_version,
                    &e.also,
                    &e.kind,
                    &e.payload,
                );
                g.events.push(StoredEvent {
                    seq,
                    stream: e.stream.clone(),
                    stream_version,
                    kind: e.kind.clone(),
                    payload: e.payload.clone(),
                    also: e.also.clone(),
                    prev_hash: prev,
                    hash,
                });
            }
            if let Some(r) = &c.idempotency {
                g.idempotency.insert(r.key.clone(), r.clone());
            }
            for row in &c.read_models {
                let rows = g.models.entry(row.model).or_default();
                match rows.get_mut(&row.key) {
                    Some(v) => v.clone_from(&row.value),
                    None => {
                        rows.insert(row.key.clone(), row.value.clone());
                    }
                }
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
}

impl Store for MemoryStore {
    fn commit_batch(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.append(commits)
    }

    fn commit_exclusive(
        &self,
        decide: &mut dyn FnMut() -> Vec<Commit>,
    ) -> Result<Vec<CommitOutcome>, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let commits = decide();
        self.append(&commits)
    }

    fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let g = self.lock()?;
        let start = g.events.partition_point(|e| e.seq <= after);
        Ok(g.events.iter().skip(start).take(limit).cloned().collect())
    }

    fn read_stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let g = self.lock()?;
        Ok(g.homes
            .get(stream)
            .map(|ix| {
                ix.iter()
                    .filter_map(|i| g.events.get(*i).cloned())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        Ok(self.lock()?.versions.get(stream).copied().unwrap_or(0))
    }

    fn head(&self) -> Result<u64, StoreError> {
        Ok(self.lock()?.events.last().map_or(0, |e| e.seq))
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.lock()?.idempotency.get(key).cloned())
    }

    fn save_snapshot(&self, snapshot: &SnapshotRecord) -> Result<(), StoreError> {
        self.lock()?.snapshot = Some(snapshot.clone());
        Ok(())
    }

    fn load_snapshot(&self) -> Result<Option<SnapshotRecord>, StoreError> {
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

    fn tail(&self) -> Result<ChainTail, StoreError> {
        let g = self.lock()?;
        let (head_seq, head_hash) = g.head.clone().unwrap_or((0, GENESIS.to_string()));
        let from = head_seq.max(1);
        let start = g.events.partition_point(|e| e.seq < from);
        Ok(ChainTail {
            head_seq,
            head_hash,
            events: g.events.iter().skip(start).take(2).cloned().collect(),
        })
    }

    fn chain(&self) -> &Chain {
        &self.chain
    }

    fn consumer_checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.lock()?.consumers.get(name).copied())
    }

    fn ack_consumer(&self, name: &str, seq: u64) -> Result<u64, StoreError> {
        let mut g = self.lock()?;
        let head = g.events.last().map_or(0, |e| e.seq);
        if seq > head {
            return Err(StoreError::AckBeyondHead {
                consumer: name.to_string(),
                seq,
                head,
            });
        }
        let c = g.consumers.entry(name.to_string()).or_insert(0);
        *c = (*c).max(seq);
        Ok(*c)
    }

    fn consumers(&self) -> Result<Vec<(String, u64)>, StoreError> {
        Ok(self
            .lock()?
            .consumers
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect())
    }
}
