//! # mercato-store
//!
//! The storage contract of mercato. A [`Store`] only persists: it appends
//! batches of opaque events with optimistic per-stream versions, keeps
//! idempotency records, snapshots and the read models the engine hands it,
//! and chains every stored event to the one before by SHA-256 so that any
//! change or deletion is detected by [`Store::verify`]. No business rule
//! lives in a store.
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

pub use chain::{GENESIS, event_hash};
pub use error::StoreError;
pub use memory::MemoryStore;
pub use types::{
    Commit, CommitOutcome, Guard, GuardMoves, IdempotencyRecord, NewEvent, ReadModel, ReadModelRow,
    StoredEvent, VerifyReport,
};

/// What every storage adapter provides. Implementations must be safe to
/// share between threads; each method is one atomic operation.
pub trait Store: Send + Sync {
    /// Appends several commits in one transaction (group commit). Each
    /// commit is checked on its own — idempotency key, expected stream
    /// versions, then guard counters ([`Guard`]) — in order, seeing the
    /// commits before it in the same batch; a
    /// commit that fails a check is skipped and reported, the others are
    /// stored. Returns one outcome per commit, after the transaction is
    /// durable.
    fn commit_batch(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>, StoreError>;

    /// Events with `seq > after`, in order, at most `limit` of them.
    fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError>;

    /// `(seq, payload)` of the events with `seq > after`, in order, at most
    /// `limit` of them: what a replay needs. The default reads whole events;
    /// adapters override it to read only the two columns.
    fn read_payloads(&self, after: u64, limit: usize) -> Result<Vec<(u64, String)>, StoreError> {
        Ok(self
            .read_from(after, limit)?
            .into_iter()
            .map(|e| (e.seq, e.payload))
            .collect())
    }

    /// The events of one stream, in order.
    fn read_stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreError>;

    /// The current version of a stream (0: no events).
    fn stream_version(&self, stream: &str) -> Result<u64, StoreError>;

    /// The sequence number of the last event (0: empty log).
    fn head(&self) -> Result<u64, StoreError>;

    /// The idempotency record stored under `key`.
    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Stores a snapshot of the state as of event `seq` (replacing older ones).
    fn save_snapshot(&self, seq: u64, state: &str) -> Result<(), StoreError>;

    /// The latest snapshot: the `seq` it covers and the state.
    fn load_snapshot(&self) -> Result<Option<(u64, String)>, StoreError>;

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

    /// Walks the whole log and reports the first broken link.
    fn verify(&self) -> Result<VerifyReport, StoreError> {
        chain::verify_store(self)
    }
}
