//! # mercato-store
//!
//! The storage contract of mercato. A [`Store`] only persists: it appends
//! batches of opaque events with optimistic per-stream versions, keeps
//! idempotency records, snapshots and the read models the engine hands it,
//! and chains every stored event to the one before (SHA-256, or HMAC-SHA256
//! under a key the application holds: [`Chain`]) so that any change or
//! deletion is detected by [`Store::verify`] — and, for the last event and
//! the snapshot, already in O(1) when the engine opens the store
//! ([`check_tail`], [`check_snapshot`]). No business rule lives in a store.
//!
//! This crate also holds [`MemoryStore`] (for tests and the scenario runner)
//! and the [`conformance`] suite that every adapter must pass.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chain;
pub mod conformance;
mod error;
mod memory;
mod types;

pub use chain::{
    Chain, ChainKey, GENESIS, check_snapshot, check_tail, event_hash, snapshot_record,
};
pub use error::StoreError;
pub use memory::MemoryStore;
pub use types::{
    BatchCheck, ChainTail, Commit, CommitOutcome, Guard, GuardMoves, IdempotencyRecord, NewEvent,
    ReadModel, ReadModelRow, ReplayEntry, ReplayPage, ReplayRow, SnapshotRecord, StoredEvent,
    VerifyReport,
};

/// What every storage adapter provides. Implementations must be safe to
/// share between threads; each method is one atomic operation.
pub trait Store: Send + Sync {
    /// Appends several commits in one transaction (group commit). The
    /// commits are checked in order with one [`BatchCheck`] — idempotency
    /// key, expected stream versions, guard counters ([`Guard`]), and the
    /// chain rule (a commit that read what a refused commit before it would
    /// have written is refused too) — each seeing the commits stored before
    /// it in the same batch. A refused commit stores nothing; the others
    /// are stored. Returns one outcome per commit, after the transaction is
    /// durable.
    fn commit_batch(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>, StoreError>;

    /// Events with `seq > after`, in order, at most `limit` of them.
    fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError>;

    /// Runs `decide` while no other writer — in this process or any other —
    /// can store anything, then stores the commits it returns (checked like
    /// any batch) before anyone else may write. `decide` reads the log
    /// through this store's read methods and sees everything stored before
    /// it was called. The engine uses it for a call that lost optimistic
    /// races: deciding under the lock, it cannot lose again (no
    /// starvation).
    ///
    /// The default runs `decide` then [`Store::commit_batch`] without any
    /// exclusion: right for a store with one writer; an adapter shared by
    /// several processes overrides it (all of this workspace's do).
    fn commit_exclusive(
        &self,
        decide: &mut dyn FnMut() -> Vec<Commit>,
    ) -> Result<Vec<CommitOutcome>, StoreError> {
        let commits = decide();
        self.commit_batch(&commits)
    }

    /// What a replay needs of the events with `seq > after` (seq, streams,
    /// payload), in order, at most `limit` of them. The default reads whole
    /// events; adapters override it to read only those columns.
    fn read_payloads(&self, after: u64, limit: usize) -> Result<Vec<ReplayEntry>, StoreError> {
        Ok(self
            .read_from(after, limit)?
            .into_iter()
            .map(ReplayEntry::from)
            .collect())
    }

    /// Replaces the rows of `page` with what a replay needs of the events
    /// with `seq > after`, in order, at most `limit` of them: the same
    /// entries as [`Store::read_payloads`], copied into the page's reused
    /// buffers instead of one `String` per payload and stream. The engine
    /// rebuilds its state through this method. The default copies what
    /// `read_payloads` returns; adapters override it to copy straight from
    /// their rows. On an error the page's rows are unspecified.
    fn read_replay_page(
        &self,
        after: u64,
        limit: usize,
        page: &mut ReplayPage,
    ) -> Result<(), StoreError> {
        page.clear();
        for entry in self.read_payloads(after, limit)? {
            page.push_entry(&entry);
        }
        Ok(())
    }

    /// The events whose home stream is `stream`, in order.
    fn read_stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreError>;

    /// The current version of a stream: how many stored events belong to it
    /// (home or `also`; 0: none).
    fn stream_version(&self, stream: &str) -> Result<u64, StoreError>;

    /// The sequence number of the last event (0: empty log).
    fn head(&self) -> Result<u64, StoreError>;

    /// The idempotency record stored under `key`.
    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Stores a snapshot (replacing older ones). Build it with
    /// [`snapshot_record`], which seals it with this store's chain.
    fn save_snapshot(&self, snapshot: &SnapshotRecord) -> Result<(), StoreError>;

    /// The latest snapshot, as stored; check it with [`check_snapshot`]
    /// before trusting it.
    fn load_snapshot(&self) -> Result<Option<SnapshotRecord>, StoreError>;

    /// One read-model row.
    fn read_model(&self, model: ReadModel, key: &str) -> Result<Option<String>, StoreError>;

    /// Every row of a read model, by key.
    fn read_models(&self, model: ReadModel) -> Result<Vec<(String, String)>, StoreError>;

    /// The current value of a guard counter (0: never moved). The default
    /// says the adapter cannot report it; the adapters of this workspace
    /// all do.
    fn guard(&self, key: &str) -> Result<i64, StoreError> {
        Err(StoreError::Backend(format!(
            "this store does not report guard counters (asked for `{key}`)"
        )))
    }

    /// The recorded head of the chain: last seq and its hash (detects a
    /// truncated log).
    fn chain_head(&self) -> Result<(u64, String), StoreError>;

    /// The recorded chain head and the events from it on, read at one
    /// instant (one read transaction), so that a check of the tail is not
    /// fooled by another process appending meanwhile. The default reads
    /// them one after the other: right for a store with one writer, while
    /// an adapter shared by several processes must override it.
    fn tail(&self) -> Result<ChainTail, StoreError> {
        let (head_seq, head_hash) = self.chain_head()?;
        let events = self.read_from(head_seq.saturating_sub(1), 2)?;
        let events = if head_seq == 0 {
            events.into_iter().take(1).collect()
        } else {
            events
        };
        Ok(ChainTail {
            head_seq,
            head_hash,
            events,
        })
    }

    /// How this store links events and seals snapshots (set when it is
    /// opened; a store refuses to open a log written with another chain).
    fn chain(&self) -> &Chain;

    /// Walks the whole log and reports the first broken link.
    fn verify(&self) -> Result<VerifyReport, StoreError> {
        chain::verify_store(self)
    }

    /// The checkpoint of the named consumer of the log: the last `seq` it
    /// acknowledged (`None`: it never acknowledged anything). The default
    /// says the adapter keeps no checkpoints; the adapters of this
    /// workspace all do.
    fn consumer_checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Err(no_checkpoints(name))
    }

    /// Acknowledges every event up to `seq` for the named consumer, in one
    /// atomic step: its checkpoint becomes `max(checkpoint, seq)` (it never
    /// moves back; a consumer unknown so far is registered). Returns the
    /// checkpoint after the step. `seq` past the log's head is
    /// [`StoreError::AckBeyondHead`] and changes nothing.
    fn ack_consumer(&self, name: &str, seq: u64) -> Result<u64, StoreError> {
        let _ = seq;
        Err(no_checkpoints(name))
    }

    /// Every registered consumer with its checkpoint, by name.
    fn consumers(&self) -> Result<Vec<(String, u64)>, StoreError> {
        Err(no_checkpoints("*"))
    }

    /// Waits up to `timeout` until the log holds an event with
    /// `seq > after`, woken by appends of any process: `Some(head)` (the
    /// head may still be `<= after` when the time ran out). `None`: this
    /// store cannot be woken across processes (the default), so the caller
    /// waits its own way (the engine: its in-process signal, and polling
    /// [`Store::head`] for other processes).
    fn wait_for_append(
        &self,
        after: u64,
        timeout: std::time::Duration,
    ) -> Result<Option<u64>, StoreError> {
        let _ = (after, timeout);
        Ok(None)
    }
}

fn no_checkpoints(name: &str) -> StoreError {
    StoreError::Backend(format!(
        "this store keeps no consumer checkpoints (asked for `{name}`)"
    ))
}

/// A shared store is a store: several engines (in one process, as in the
/// simulation tests) can share one.
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn commit_batch(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>, StoreError> {
        (**self).commit_batch(commits)
    }
    fn commit_exclusive(
        &self,
        decide: &mut dyn FnMut() -> Vec<Commit>,
    ) -> Result<Vec<CommitOutcome>, StoreError> {
        (**self).commit_exclusive(decide)
    }
    fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        (**self).read_from(after, limit)
    }
    fn read_payloads(&self, after: u64, limit: usize) -> Result<Vec<ReplayEntry>, StoreError> {
        (**self).read_payloads(after, limit)
    }
    fn read_replay_page(
        &self,
        after: u64,
        limit: usize,
        page: &mut ReplayPage,
    ) -> Result<(), StoreError> {
        (**self).read_replay_page(after, limit, page)
    }
    fn read_stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreError> {
        (**self).read_stream(stream)
    }
    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        (**self).stream_version(stream)
    }
    fn head(&self) -> Result<u64, StoreError> {
        (**self).head()
    }
    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        (**self).idempotency(key)
    }
    fn save_snapshot(&self, snapshot: &SnapshotRecord) -> Result<(), StoreError> {
        (**self).save_snapshot(snapshot)
    }
    fn load_snapshot(&self) -> Result<Option<SnapshotRecord>, StoreError> {
        (**self).load_snapshot()
    }
    fn read_model(&self, model: ReadModel, key: &str) -> Result<Option<String>, StoreError> {
        (**self).read_model(model, key)
    }
    fn read_models(&self, model: ReadModel) -> Result<Vec<(String, String)>, StoreError> {
        (**self).read_models(model)
    }
    fn guard(&self, key: &str) -> Result<i64, StoreError> {
        (**self).guard(key)
    }
    fn chain_head(&self) -> Result<(u64, String), StoreError> {
        (**self).chain_head()
    }
    fn tail(&self) -> Result<ChainTail, StoreError> {
        (**self).tail()
    }
    fn chain(&self) -> &Chain {
        (**self).chain()
    }
    fn verify(&self) -> Result<VerifyReport, StoreError> {
        (**self).verify()
    }
    fn consumer_checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        (**self).consumer_checkpoint(name)
    }
    fn ack_consumer(&self, name: &str, seq: u64) -> Result<u64, StoreError> {
        (**self).ack_consumer(name, seq)
    }
    fn consumers(&self) -> Result<Vec<(String, u64)>, StoreError> {
        (**self).consumers()
    }
    fn wait_for_append(
        &self,
        after: u64,
        timeout: std::time::Duration,
    ) -> Result<Option<u64>, StoreError> {
        (**self).wait_for_append(after, timeout)
    }
}
