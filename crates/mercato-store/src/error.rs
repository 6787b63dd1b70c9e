//! [`StoreError`]: what a storage adapter can fail with.

/// A storage failure. Business refusals never come from a store.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The underlying database failed (I/O, locking, corruption...).
    #[error("storage backend: {0}")]
    Backend(String),
    /// The database was written by a newer schema than this code knows.
    #[error("database schema version {found} is newer than supported {supported}")]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A stored value cannot be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The store cannot be opened at that location.
    #[error("cannot open store: {0}")]
    Open(String),
    /// The log does not match its recorded chain: an event was changed,
    /// deleted or added outside the store, or the log was truncated.
    #[error("the log was tampered with at event {seq}: {reason}")]
    Tampered {
        /// The first event found wrong.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// The chain key given does not fit the log (missing, wrong, or given
    /// for a log chained without one).
    #[error("chain key: {0}")]
    ChainKey(String),
    /// A stored snapshot does not match its seal or the log.
    #[error("the snapshot at event {seq} is refused: {reason}")]
    SnapshotRejected {
        /// The event the snapshot claims to follow.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// The store is held by another open store (in this process or another
    /// one), so it cannot be replaced or removed now. Nothing was changed.
    #[error("store in use: {what} is open elsewhere; close it first")]
    InUse {
        /// The database (path or schema) that is in use.
        what: String,
    },
    /// A new store was asked for where one (or another file) already
    /// exists. Nothing was changed.
    #[error("store exists: {what}")]
    Exists {
        /// What is in the way (path or schema).
        what: String,
    },
    /// A consumer acknowledged an event the log does not hold yet. Its
    /// checkpoint was not changed.
    #[error("consumer `{consumer}` acknowledged event {seq}, but the log ends at {head}")]
    AckBeyondHead {
        /// The consumer.
        consumer: String,
        /// The seq it acknowledged.
        seq: u64,
        /// The log's head.
        head: u64,
    },
}

impl StoreError {
    /// A stable code per variant, for logs and APIs.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Backend(_) => "backend",
            StoreError::SchemaTooNew { .. } => "schema_too_new",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Open(_) => "open",
            StoreError::Tampered { .. } => "tampered",
            StoreError::ChainKey(_) => "chain_key",
            StoreError::SnapshotRejected { .. } => "snapshot_rejected",
            StoreError::InUse { .. } => "in_use",
            StoreError::Exists { .. } => "exists",
            StoreError::AckBeyondHead { .. } => "ack_beyond_head",
        }
    }
}
