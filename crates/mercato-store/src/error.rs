//! [`StoreError`]: what a storage adapter can fail with.

/// A storage failure. Business refusals never come from a store.
#[derive(Debug, thiserror::Error)]
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
}
