//! # mercato-sqlite
//!
//! The embedded default store of mercato: one SQLite file (rusqlite with the
//! bundled SQLite), WAL journal, `synchronous=FULL` unless configured
//! otherwise, `BEGIN IMMEDIATE` write transactions and cached prepared
//! statements. A whole batch of commits (group commit) is one transaction:
//! one fsync for many callers.
//!
//! Schema (version 4, see `docs/storage.md`): `events` (the hash-chained
//! log; `also` lists the further streams an event belongs to), `streams`
//! (each stream's version: how many events belong to it), `idempotency`,
//! `snapshots` (sealed to their place in the chain), `read_models`,
//! `chain_head`, `chain_meta` (which chain the log is written with: plain
//! SHA-256 or HMAC under the application's key), `guards` (cross-stream
//! limit counters), and `schema_version`. Older files are migrated when
//! opened. Payloads and read models are JSON text whose amounts are decimal
//! strings: no REAL column ever holds money. Opening a database written by a
//! newer schema is an error, never a silent downgrade.
//!
//! Every open store holds a shared advisory lock on a sidecar file,
//! `<database>.lock`, for as long as it lives. Replacing a database
//! ([`SqliteStore::create_fresh`], [`SqliteStore::remove_database`]) takes
//! that lock exclusively first and is refused with [`StoreError::InUse`]
//! while any store, in this process or another, has the file open.
//! [`SqliteStore::create_new`] refuses an existing file and
//! [`SqliteStore::open_read_only`] a missing one.
//!
//! ```
//! use mercato_sqlite::{SqliteOptions, SqliteStore};
//! use mercato_store::{Commit, NewEvent, Store};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqliteStore::open(dir.path().join("shop.db"), SqliteOptions::default()).unwrap();
//! let commit = Commit {
//!     events: vec![NewEvent::new("order/o1", "placed.v1", "{}")],
//!     ..Commit::default()
//! };
//! store.commit_batch(&[commit]).unwrap();
//! assert_eq!(store.head().unwrap(), 1);
//! assert!(store.verify().unwrap().ok());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::collections::HashMap;

use mercato_store::{
    BatchCheck, Chain, ChainTail, Commit, CommitOutcome, GENESIS, IdempotencyRecord, ReadModel,
    ReplayEntry, ReplayPage, SnapshotRecord, Store, StoreError, StoredEvent,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 5;

/// SQLite's `synchronous` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync on every commit (WAL): a committed transaction survives power loss.
    #[default]
    Full,
    /// fsync at checkpoints only (WAL): survives a process crash, may lose
    /// the last commits on power loss.
    Normal,
    /// No fsync at all: for throwaway databases only.
    Off,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
            Synchronous::Off => "OFF",
        }
    }
}

/// How to open the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Durability level (default FULL).
    pub synchronous: Synchronous,
    /// How events are chained (default plain SHA-256). A log records its
    /// chain when it is created and opens only with the same one.
    pub chain: Chain,
}

impl SqliteOptions {
    /// These options with `synchronous`.
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// These options with `chain` (e.g. `Chain::hmac(key)`).
    pub fn chain(mut self, chain: Chain) -> Self {
        self.chain = chain;
        self
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("sequence number {v} out of range")))
}

/// A mercato store in one SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    chain: Chain,
    /// `<database>.lock`, locked shared for the store's lifetime (`None`
    /// only where the file system cannot lock). Declared last: dropped, and
    /// so unlocked, after both connections are closed.
    _lock: Option<File>,
}

/// How long opening waits for a database that is being replaced (the
/// exclusive lock is held only while files are removed), like SQLite's
/// busy timeout.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The suffixes of the files SQLite keeps beside a database.
const SIDECARS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

fn open_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Open(format!("{}: {e}", path.display()))
}

fn in_use(path: &Path) -> StoreError {
    StoreError::InUse {
        what: path.display().to_string(),
    }
}

/// Opens (creating if needed) the lock file of the database at `path`.
fn lock_file(path: &Path) -> Result<File, StoreError> {
    let lock = SqliteStore::lock_path(path);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(|e| open_error(&lock, e))
}

/// Takes the shared lock of the database at `path`, waiting up to
/// [`LOCK_WAIT`] while another caller replaces the database. `None` when
/// the file system does not support locking (opening still works there;
/// replacing is refused).
fn lock_shared(path: &Path) -> Result<Option<File>, StoreError> {
    let file = lock_file(path)?;
    let start = Instant::now();
    loop {
        match file.try_lock_shared() {
            Ok(()) => return Ok(Some(file)),
            Err(TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(TryLockError::WouldBlock) => return Err(in_use(path)),
            Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                return Ok(None);
            }
            Err(TryLockError::Error(e)) => {
                return Err(open_error(&SqliteStore::lock_path(path), e));
            }
        }
    }
}

/// The first bytes of every SQLite 3 database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// True when the file at `path` is empty or starts like an SQLite
/// database (so removing it cannot destroy some other kind of file).
fn looks_like_sqlite(path: &Path) -> Result<bool, StoreError> {
    use std::io::Read;
    let mut head = Vec::with_capacity(16);
    File::open(path)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(|e| open_error(path, e))?;
    Ok(head.is_empty() || head.as_slice() == SQLITE_MAGIC)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq            INTEGER PRIMARY KEY,
    stream         TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    kind           TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL,
    UNIQUE (stream, stream_version)
);
CREATE TABLE IF NOT EXISTS streams (
    stream  TEXT PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    response     TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    state TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS read_models (
    model TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
";

/// Version 2: guard counters (`Commit::guards`).
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS guards (
    key  TEXT    PRIMARY KEY,
    used INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 3: no `streams` table. A stream's version is the largest
/// `stream_version` of its events, one seek in the unique index every event
/// insert already writes; the table cost a second random page per stream
/// per commit.
const SCHEMA_V3: &str = "
DROP TABLE IF EXISTS streams;
";

/// Version 4: an event may belong to further streams (`also`, a JSON array,
/// empty for most events), so a stream's version is no longer the largest
/// `stream_version` of its home events: `streams` keeps it again, filled
/// from the events (every older event belongs to its home stream only).
/// Snapshots are sealed to their place in the chain; older, unsealed
/// snapshots are dropped (the next open replays the whole log). The chain
/// mode is recorded: older logs with events were written with SHA-256.
const SCHEMA_V4: &str = "
CREATE TABLE IF NOT EXISTS streams (
    stream  TEXT PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO streams (stream, version)
    SELECT stream, MAX(stream_version) FROM events GROUP BY stream;
ALTER TABLE events ADD COLUMN also TEXT NOT NULL DEFAULT '';
DELETE FROM snapshots;
ALTER TABLE snapshots ADD COLUMN chain_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE snapshots ADD COLUMN seal TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS chain_meta (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT    NOT NULL
);
INSERT INTO chain_meta (id, fingerprint)
    SELECT 1, 'sha256' WHERE EXISTS (SELECT 1 FROM events);
";

/// Version 5: named consumers of the log and their checkpoints (the last
/// seq each acknowledged). The log is untouched.
const SCHEMA_V5: &str = "
CREATE TABLE IF NOT EXISTS consumers (
    name TEXT    PRIMARY KEY,
    seq  INTEGER NOT NULL
) WITHOUT ROWID;
";

/// A stream's current version (no row: 0).
const STREAM_VERSION_SQL: &str = "SELECT version FROM streams WHERE stream = ?1";

/// Each schema version and the SQL that brings the previous one to it.
const MIGRATIONS: [(i64, &str); 5] = [
    (1, SCHEMA),
    (2, SCHEMA_V2),
    (3, SCHEMA_V3),
    (4, SCHEMA_V4),
    (5, SCHEMA_V5),
];

/// `also` as stored: empty, or a JSON array of stream names.
fn encode_also(also: &[String]) -> Result<String, StoreError> {
    if also.is_empty() {
        return Ok(String::new());
    }
    serde_json::to_string(also).map_err(|e| StoreError::Backend(e.to_string()))
}

fn decode_also(text: &str) -> rusqlite::Result<Vec<String>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it to
    /// the current schema. The store holds a shared lock on
    /// [`SqliteStore::lock_path`] until it is dropped: any number of stores,
    /// in any processes, may have one file open; none of them can have it
    /// replaced under them.
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        let lock = lock_shared(path)?;
        Self::connect(path, options, false, lock)
    }

    /// Creates a new database at `path`, refusing with
    /// [`StoreError::Exists`] when a file (or a write-ahead log or journal
    /// of one) is already there. Nothing existing is opened or changed.
    pub fn create_new(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        let lock = lock_shared(path)?;
        for suffix in ["-wal", "-journal"] {
            let side = with_suffix(path, suffix);
            if side.exists() {
                return Err(StoreError::Exists {
                    what: format!("{} (a database's log is there)", side.display()),
                });
            }
        }
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::Exists {
                    what: path.display().to_string(),
                });
            }
            Err(e) => return Err(open_error(path, e)),
        }
        Self::connect(path, options, false, lock)
    }

    /// Replaces the database at `path` with a new, empty one: removes the
    /// file and its `-wal`, `-shm` and `-journal` sidecars (see
    /// [`SqliteStore::remove_database`]), then opens a new database there.
    ///
    /// Refused with [`StoreError::InUse`], changing nothing, while any
    /// other store (in this process or another) has the database open.
    /// The files are removed only under the exclusive lock and the new
    /// database is opened under a shared one, so a store never keeps
    /// writing to a file that was removed; two callers replacing one path
    /// at the same moment may both end up on the same new database.
    pub fn create_fresh(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        Self::remove_database(path)?;
        Self::open(path, options)
    }

    /// Removes the database at `path` with its `-wal`, `-shm` and
    /// `-journal` sidecars (a missing file is fine). Takes the lock file
    /// exclusively first: refused with [`StoreError::InUse`] while any store
    /// has the database open, and with [`StoreError::Open`] when the file
    /// is not an SQLite database or the file system cannot lock; nothing is
    /// removed then. The lock file itself stays (it is empty).
    pub fn remove_database(path: impl AsRef<Path>) -> Result<(), StoreError> {
        let path = path.as_ref();
        let lock = lock_file(path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(in_use(path)),
            Err(TryLockError::Error(e)) => {
                return Err(open_error(
                    &Self::lock_path(path),
                    format!("cannot lock, so cannot tell whether it is in use: {e}"),
                ));
            }
        }
        if path.exists() && !looks_like_sqlite(path)? {
            return Err(open_error(path, "not an SQLite database; not removing it"));
        }
        for p in std::iter::once(path.to_path_buf()).chain(SIDECARS.map(|s| with_suffix(path, s))) {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(open_error(&p, format!("cannot remove: {e}"))),
            }
        }
        // Dropping `lock` releases the exclusive lock.
        Ok(())
    }

    /// Opens an existing database for reading only (the auditor's open):
    /// a missing file is [`StoreError::Open`] and nothing is created; the
    /// file is neither migrated nor written (writes fail), and a file
    /// without mercato's `schema_version` table is refused. A database of
    /// an older schema version is read as it is. Holds the shared lock like
    /// [`SqliteStore::open`], so the database cannot be replaced while it
    /// is being read (the lock file and SQLite's `-shm`/`-wal` files may be
    /// created beside the database).
    pub fn open_read_only(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(open_error(path, "no such database file"));
        }
        let lock = lock_shared(path)?;
        Self::connect(path, options, true, lock)
    }

    /// The lock file of the database at `path`: `<path>.lock`.
    pub fn lock_path(path: impl AsRef<Path>) -> PathBuf {
        with_suffix(path.as_ref(), ".lock")
    }

    /// Opens the two connections (the caller holds the shared lock).
    fn connect(
        path: &Path,
        options: SqliteOptions,
        read_only: bool,
        lock: Option<File>,
    ) -> Result<SqliteStore, StoreError> {
        let open = || {
            if read_only {
                Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
            } else {
                Connection::open(path)
            }
            .map_err(|e| open_error(path, e))
        };
        let writer = open()?;
        configure(&writer, &options, read_only)?;
        if read_only {
            check_readable(&writer).map_err(|e| match e {
                StoreError::Backend(m) => open_error(path, m),
                other => other,
            })?;
            check_chain_read_only(&writer, &options.chain)?;
        } else {
            migrate(&writer)?;
            check_chain(&writer, &options.chain)?;
        }
        let reader = open()?;
        configure(&reader, &options, read_only)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            chain: options.chain,
            _lock: lock,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn writer(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.writer
            .lock()
            .map_err(|_| StoreError::Backend("writer lock poisoned".into()))
    }

    fn reader(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.reader
            .lock()
            .map_err(|_| StoreError::Backend("reader lock poisoned".into()))
    }

    /// Copies the live database to `dest` with SQLite's online backup API
    /// (writers keep going meanwhile). The copy is a complete database that
    /// [`SqliteStore::open`] and `verify` accept. `dest` must not exist
    /// ([`StoreError::Exists`]): a backup never overwrites a file.
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<(), StoreError> {
        let dest = dest.as_ref();
        match OpenOptions::new().write(true).create_new(true).open(dest) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::Exists {
                    what: dest.display().to_string(),
                });
            }
            Err(e) => return Err(open_error(dest, e)),
        }
        let src = self.reader()?;
        let mut dst = Connection::open(dest).map_err(|e| open_error(dest, e))?;
        let backup = rusqlite::backup::Backup::new(&src, &mut dst).map_err(backend)?;
        backup
            .run_to_completion(1024, std::time::Duration::from_millis(0), None)
            .map_err(backend)?;
        Ok(())
    }

    /// Test and audit hook: runs one SQL statement on the database as an
    /// outside writer would (used to prove that tampering is detected).
    pub fn execute_raw(&self, sql: &str) -> Result<usize, StoreError> {
        self.writer()?.execute(sql, []).map_err(backend)
    }
}

fn configure(c: &Connection, options: &SqliteOptions, read_only: bool) -> Result<(), StoreError> {
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(backend)?;
    if !read_only {
        c.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
    }
    c.pragma_update(None, "synchronous", options.synchronous.pragma())
        .map_err(backend)?;
    c.pragma_update(None, "foreign_keys", "ON")
        .map_err(backend)?;
    c.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn schema_version(c: &Connection) -> Result<i64, StoreError> {
    let found: Option<i64> = c
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .map_err(backend)?;
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Checks that a database opened read-only is a mercato store this build
/// can read: it has a `schema_version` table, of a version not newer than
/// [`SCHEMA_VERSION`].
fn check_readable(c: &Connection) -> Result<(), StoreError> {
    let tables: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if tables == 0 {
        return Err(StoreError::Backend(
            "not a mercato database (no schema_version table)".into(),
        ));
    }
    schema_version(c).map(|_| ())
}

/// Brings the database to [`SCHEMA_VERSION`], one migration per version, in
/// one `BEGIN IMMEDIATE` transaction (a second process opening the same file
/// meanwhile waits and then finds nothing to do). A newer database is
/// refused untouched.
fn migrate(c: &Connection) -> Result<(), StoreError> {
    c.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")
        .map_err(backend)?;
    if schema_version(c)? == SCHEMA_VERSION {
        return Ok(());
    }
    c.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    let result = (|| {
        let found = schema_version(c)?;
        for (version, sql) in MIGRATIONS {
            if version > found {
                c.execute_batch(sql).map_err(backend)?;
                c.execute(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    [version],
                )
                .map_err(backend)?;
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => c.execute_batch("COMMIT").map_err(backend),
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Refuses a log recorded with another chain, changing nothing (a log with
/// no record — older schema, or nothing written yet — is SHA-256 chained
/// if it has events).
fn check_chain_read_only(c: &Connection, chain: &Chain) -> Result<(), StoreError> {
    let has_meta: bool = c
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'chain_meta'",
            [],
            |r| r.get(0),
        )
        .map_err(backend)?;
    let recorded: Option<String> = if has_meta {
        c.query_row("SELECT fingerprint FROM chain_meta WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(backend)?
    } else {
        None
    };
    match recorded {
        Some(r) => chain.check_fingerprint(&r),
        None => {
            let events: i64 = c
                .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
                .map_err(backend)?;
            if events > 0 {
                chain.check_fingerprint(&Chain::Sha256.fingerprint())
            } else {
                Ok(())
            }
        }
    }
}

/// Records the chain of a new log, or refuses a log recorded with another.
fn check_chain(c: &Connection, chain: &Chain) -> Result<(), StoreError> {
    c.execute(
        "INSERT OR IGNORE INTO chain_meta (id, fingerprint) VALUES (1, ?1)",
        [chain.fingerprint()],
    )
    .map_err(backend)?;
    let recorded: String = c
        .query_row("SELECT fingerprint FROM chain_meta WHERE id = 1", [], |r| {
            r.get(0)
        })
        .map_err(backend)?;
    chain.check_fingerprint(&recorded)
}

/// The record of `key` from a `(request_hash, response)` row.
fn idempotency_row(key: &str, r: &rusqlite::Row<'_>) -> rusqlite::Result<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        key: key.to_string(),
        request_hash: r.get(0)?,
        response: r.get(1)?,
    })
}

/// The columns [`row_to_event`] reads, in order.
const EVENT_COLUMNS: &str = "seq, stream, stream_version, kind, payload, prev_hash, hash, also";

fn row_to_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: to_u64(r.get(0)?),
        stream: r.get(1)?,
        stream_version: to_u64(r.get(2)?),
        kind: r.get(3)?,
        payload: r.get(4)?,
        prev_hash: r.get(5)?,
        hash: r.get(6)?,
        also: decode_also(r.get_ref(7)?.as_str()?)?,
    })
}

/// Checks and writes one batch inside a write transaction (the body of
/// `commit_batch`, shared with `commit_exclusive`).
fn append(
    tx: &rusqlite::Transaction<'_>,
    chain: &Chain,
    commits: &[Commit],
) -> Result<Vec<CommitOutcome>, StoreError> {
    let mut out = Vec::with_capacity(commits.len());
    let (mut seq, mut prev): (u64, String) = tx
        .prepare_cached("SELECT seq, hash FROM chain_head WHERE id = 1")
        .map_err(backend)?
        .query_row([], |r| Ok((to_u64(r.get(0)?), r.get(1)?)))
        .optional()
        .map_err(backend)?
        .unwrap_or((0, GENESIS.to_string()));
    let start_seq = seq;
    let mut get_idem = tx
        .prepare_cached("SELECT request_hash, response FROM idempotency WHERE key = ?1")
        .map_err(backend)?;
    let mut get_version = tx.prepare_cached(STREAM_VERSION_SQL).map_err(backend)?;
    let mut put_version = tx
        .prepare_cached(
            "INSERT INTO streams (stream, version) VALUES (?1, ?2)
             ON CONFLICT (stream) DO UPDATE SET version = excluded.version",
        )
        .map_err(backend)?;
    let mut put_event = tx
        .prepare_cached(
            "INSERT INTO events (seq, stream, stream_version, kind, payload, prev_hash, hash, also)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(backend)?;
    let mut put_idem = tx
        .prepare_cached("INSERT INTO idempotency (key, request_hash, response) VALUES (?1, ?2, ?3)")
        .map_err(backend)?;
    let mut put_model = tx
        .prepare_cached(
            "INSERT INTO read_models (model, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (model, key) DO UPDATE SET value = excluded.value",
        )
        .map_err(backend)?;
    let mut get_guard = tx
        .prepare_cached("SELECT used FROM guards WHERE key = ?1")
        .map_err(backend)?;
    let mut put_guard = tx
        .prepare_cached(
            "INSERT INTO guards (key, used) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET used = excluded.used",
        )
        .map_err(backend)?;
    // Stream versions as the batch goes: read once, written once at
    // the end (`dirty`), seen by every later commit of the batch.
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut dirty: Vec<String> = Vec::new();
    let mut version_of =
        |s: &str, versions: &mut HashMap<String, u64>| -> Result<u64, StoreError> {
            if let Some(v) = versions.get(s) {
                return Ok(*v);
            }
            let v = get_version
                .query_row([s], |r| r.get::<_, i64>(0))
                .optional()
                .map_err(backend)?
                .map_or(0, to_u64);
            versions.insert(s.to_string(), v);
            Ok(v)
        };
    let mut batch = BatchCheck::new();
    for c in commits {
        for (stream, _) in &c.expected {
            version_of(stream, &mut versions)?;
        }
        let checked = batch.check(
            c,
            |key| {
                get_idem
                    .query_row([key], |r| idempotency_row(key, r))
                    .optional()
                    .map_err(backend)
            },
            |stream| {
                // Every expected stream was read just above.
                Ok(versions.get(stream).copied().unwrap_or(0))
            },
            |key| {
                Ok(get_guard
                    .query_row([key], |r| r.get::<_, i64>(0))
                    .optional()
                    .map_err(backend)?
                    .unwrap_or(0))
            },
        )?;
        let moved = match checked {
            Ok(moved) => moved,
            Err(refused) => {
                out.push(refused);
                continue;
            }
        };
        for (key, used) in &moved {
            put_guard.execute(params![key, used]).map_err(backend)?;
        }
        let first = seq + 1;
        for e in &c.events {
            for s in e.streams() {
                let v = version_of(s, &mut versions)? + 1;
                versions.insert(s.to_string(), v);
                if !dirty.iter().any(|d| d == s) {
                    dirty.push(s.to_string());
                }
            }
            let sv = versions.get(&e.stream).copied().unwrap_or(0);
            seq += 1;
            let hash = chain.link(&prev, seq, &e.stream, sv, &e.also, &e.kind, &e.payload);
            put_event
                .execute(params![
                    to_i64(seq)?,
                    e.stream,
                    to_i64(sv)?,
                    e.kind,
                    e.payload,
                    prev,
                    hash,
                    encode_also(&e.also)?
                ])
                .map_err(backend)?;
            prev = hash;
        }
        if let Some(rec) = &c.idempotency {
            put_idem
                .execute(params![rec.key, rec.request_hash, rec.response])
                .map_err(backend)?;
        }
        for row in &c.read_models {
            put_model
                .execute(params![row.model.name(), row.key, row.value])
                .map_err(backend)?;
        }
        out.push(CommitOutcome::Committed { first, last: seq });
    }
    for s in &dirty {
        let v = versions.get(s).copied().unwrap_or(0);
        put_version
            .execute(params![s, to_i64(v)?])
            .map_err(backend)?;
    }
    if seq != start_seq {
        tx.prepare_cached(
            "INSERT INTO chain_head (id, seq, hash) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        )
        .map_err(backend)?
        .execute(params![to_i64(seq)?, prev])
        .map_err(backend)?;
    }
    Ok(out)
}

impl Store for SqliteStore {
    fn commit_batch(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>, StoreError> {
        let mut conn = self.writer()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let out = append(&tx, &self.chain, commits)?;
        tx.commit().map_err(backend)?;
        Ok(out)
    }

    /// `BEGIN IMMEDIATE` takes SQLite's write lock (across processes) for
    /// `decide` and its commits; `decide` reads through this store's reader
    /// connection, which sees everything committed before the lock.
    fn commit_exclusive(
        &self,
        decide: &mut dyn FnMut() -> Vec<Commit>,
    ) -> Result<Vec<CommitOutcome>, StoreError> {
        let mut conn = self.writer()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let commits = decide();
        let out = append(&tx, &self.chain, &commits)?;
        tx.commit().map_err(backend)?;
        Ok(out)
    }

    fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let c = self.reader()?;
        let mut stmt = c
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))
            .map_err(backend)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![to_i64(after)?, limit], row_to_event)
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn read_payloads(&self, after: u64, limit: usize) -> Result<Vec<ReplayEntry>, StoreError> {
        // One query for replays: the page read, as owned entries.
        let mut page = ReplayPage::new();
        self.read_replay_page(after, limit, &mut page)?;
        Ok(page.to_entries())
    }

    fn read_replay_page(
        &self,
        after: u64,
        limit: usize,
        page: &mut ReplayPage,
    ) -> Result<(), StoreError> {
        page.clear();
        let c = self.reader()?;
        let mut stmt = c
            .prepare_cached(
                "SELECT seq, stream, also, payload FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(backend)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt
            .query(params![to_i64(after)?, limit])
            .map_err(backend)?;
        // Copied from SQLite's row buffers into the page: no String per row.
        let filled = (|| {
            while let Some(r) = rows.next()? {
                let also = r.get_ref(2)?.as_str()?;
                if !also.is_empty() {
                    let mut de = serde_json::Deserializer::from_str(also);
                    page.push_also_from(&mut de)
                        .and_then(|()| de.end())
                        .map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                2,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })?;
                }
                page.push_row(
                    to_u64(r.get(0)?),
                    r.get_ref(1)?.as_str()?,
                    r.get_ref(3)?.as_str()?,
                );
            }
            Ok(())
        })();
        filled.map_err(|e: rusqlite::Error| {
            page.clear();
            backend(e)
        })
    }

    fn read_stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let c = self.reader()?;
        let mut stmt = c
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1 ORDER BY stream_version"
            ))
            .map_err(backend)?;
        let rows = stmt.query_map([stream], row_to_event).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        let c = self.reader()?;
        let v: Option<i64> = c
            .query_row(STREAM_VERSION_SQL, [stream], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        Ok(v.map_or(0, to_u64))
    }

    fn head(&self) -> Result<u64, StoreError> {
        let c = self.reader()?;
        let v: Option<i64> = c
            .query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))
            .map_err(backend)?;
        Ok(v.map_or(0, to_u64))
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let c = self.reader()?;
        c.query_row(
            "SELECT request_hash, response FROM idempotency WHERE key = ?1",
            [key],
            |r| idempotency_row(key, r),
        )
        .optional()
        .map_err(backend)
    }

    fn save_snapshot(&self, snapshot: &SnapshotRecord) -> Result<(), StoreError> {
        self.writer()?
            .execute(
                "INSERT INTO snapshots (id, seq, state, chain_hash, seal) VALUES (1, ?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, state = excluded.state,
                     chain_hash = excluded.chain_hash, seal = excluded.seal",
                params![
                    to_i64(snapshot.seq)?,
                    snapshot.state,
                    snapshot.chain_hash,
                    snapshot.seal
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn load_snapshot(&self) -> Result<Option<SnapshotRecord>, StoreError> {
        let c = self.reader()?;
        c.query_row(
            "SELECT seq, state, chain_hash, seal FROM snapshots WHERE id = 1",
            [],
            |r| {
                Ok(SnapshotRecord {
                    seq: to_u64(r.get(0)?),
                    state: r.get(1)?,
                    chain_hash: r.get(2)?,
                    seal: r.get(3)?,
                })
            },
        )
        .optional()
        .map_err(backend)
    }

    fn read_model(&self, model: ReadModel, key: &str) -> Result<Option<String>, StoreError> {
        let c = self.reader()?;
        c.query_row(
            "SELECT value FROM read_models WHERE model = ?1 AND key = ?2",
            params![model.name(), key],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)
    }

    fn read_models(&self, model: ReadModel) -> Result<Vec<(String, String)>, StoreError> {
        let c = self.reader()?;
        let mut stmt = c
            .prepare_cached("SELECT key, value FROM read_models WHERE model = ?1 ORDER BY key")
            .map_err(backend)?;
        let rows = stmt
            .query_map([model.name()], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn guard(&self, key: &str) -> Result<i64, StoreError> {
        let c = self.reader()?;
        Ok(
            c.query_row("SELECT used FROM guards WHERE key = ?1", [key], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map_err(backend)?
            .unwrap_or(0),
        )
    }

    fn tail(&self) -> Result<ChainTail, StoreError> {
        let mut c = self.reader()?;
        // One read transaction: a snapshot of the WAL, whatever other
        // connections append meanwhile.
        let tx = c.transaction().map_err(backend)?;
        let (head_seq, head_hash): (u64, String) = tx
            .query_row("SELECT seq, hash FROM chain_head WHERE id = 1", [], |r| {
                Ok((to_u64(r.get(0)?), r.get(1)?))
            })
            .optional()
            .map_err(backend)?
            .unwrap_or((0, GENESIS.to_string()));
        let events = {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE seq >= ?1 ORDER BY seq LIMIT 2"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map([to_i64(head_seq.max(1))?], row_to_event)
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)?
        };
        tx.commit().map_err(backend)?;
        Ok(ChainTail {
            head_seq,
            head_hash,
            events,
        })
    }

    fn chain(&self) -> &Chain {
        &self.chain
    }

    /// A checkpoint read on the reader connection (WAL: it sees every
    /// committed ack).
    fn consumer_checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let c = self.reader()?;
        c.query_row("SELECT seq FROM consumers WHERE name = ?1", [name], |r| {
            r.get::<_, i64>(0)
        })
        .optional()
        .map(|v| v.map(to_u64))
        .map_err(backend)
    }

    /// One `BEGIN IMMEDIATE` transaction on the writer: the head is read
    /// under SQLite's write lock (no process can append or ack meanwhile),
    /// then the checkpoint moves to `max(checkpoint, seq)`.
    fn ack_consumer(&self, name: &str, seq: u64) -> Result<u64, StoreError> {
        let c = self.writer()?;
        let seq_i = to_i64(seq)?;
        c.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
        let result = (|| {
            let head: Option<i64> = c
                .query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))
                .map_err(backend)?;
            let head = head.map_or(0, to_u64);
            if seq > head {
                return Err(StoreError::AckBeyondHead {
                    consumer: name.to_string(),
                    seq,
                    head,
                });
            }
            c.execute(
                "INSERT INTO consumers (name, seq) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET seq = MAX(seq, excluded.seq)",
                params![name, seq_i],
            )
            .map_err(backend)?;
            c.query_row("SELECT seq FROM consumers WHERE name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .map(to_u64)
            .map_err(backend)
        })();
        match result {
            Ok(v) => c.execute_batch("COMMIT").map_err(backend).map(|()| v),
            Err(e) => {
                let _ = c.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn consumers(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let c = self.reader()?;
        let mut stmt = c
            .prepare_cached("SELECT name, seq FROM consumers ORDER BY name")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, to_u64(r.get(1)?))))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn chain_head(&self) -> Result<(u64, String), StoreError> {
        let c = self.reader()?;
        Ok(
            c.query_row("SELECT seq, hash FROM chain_head WHERE id = 1", [], |r| {
                Ok((to_u64(r.get(0)?), r.get(1)?))
            })
            .optional()
            .map_err(backend)?
            .unwrap_or((0, GENESIS.to_string())),
        )
    }
}
