//! # mercato-sqlite
//!
//! The embedded default store of mercato: one SQLite file (rusqlite with the
//! bundled SQLite), WAL journal, `synchronous=FULL` unless configured
//! otherwise, `BEGIN IMMEDIATE` write transactions and cached prepared
//! statements. A whole batch of commits (group commit) is one transaction:
//! one fsync for many callers.
//!
//! Schema (version 3, see `docs/storage.md`): `events` (the hash-chained
//! log; its unique `(stream, stream_version)` index also answers a stream's
//! current version), `idempotency`, `snapshots`, `read_models`,
//! `chain_head`, `guards` (cross-stream limit counters, added by version 2),
//! and `schema_version`. Older files are migrated when opened (version 3
//! dropped the `streams` table, which repeated what the index holds). Payloads and read
//! models are JSON text whose amounts are decimal strings: no REAL column
//! ever holds money. Opening a database written by a newer schema is an
//! error, never a silent downgrade.
//!
//! ```
//! use mercato_sqlite::{SqliteOptions, SqliteStore};
//! use mercato_store::{Commit, NewEvent, Store};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqliteStore::open(dir.path().join("shop.db"), SqliteOptions::default()).unwrap();
//! let commit = Commit {
//!     events: vec![NewEvent { stream: "order/o1".into(), kind: "placed.v1".into(), payload: "{}".into() }],
//!     ..Commit::default()
//! };
//! store.commit_batch(&[commit]).unwrap();
//! assert_eq!(store.head().unwrap(), 1);
//! assert!(store.verify().unwrap().ok());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use mercato_store::{
    Commit, CommitOutcome, GENESIS, IdempotencyRecord, ReadModel, Store, StoreError, StoredEvent,
    event_hash,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 3;

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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Durability level (default FULL).
    pub synchronous: Synchronous,
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

/// A stream's current version (0 when it has no events).
const STREAM_VERSION_SQL: &str = "SELECT MAX(stream_version) FROM events WHERE stream = ?1";

/// Each schema version and the SQL that brings the previous one to it.
const MIGRATIONS: [(i64, &str); 3] = [(1, SCHEMA), (2, SCHEMA_V2), (3, SCHEMA_V3)];

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it to
    /// the current schema.
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let writer = Connection::open(&path)
            .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
        configure(&writer, options)?;
        migrate(&writer)?;
        let reader = Connection::open(&path)
            .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
        configure(&reader, options)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
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
    /// [`SqliteStore::open`] and `verify` accept.
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<(), StoreError> {
        let src = self.reader()?;
        let mut dst =
            Connection::open(dest.as_ref()).map_err(|e| StoreError::Open(e.to_string()))?;
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

fn configure(c: &Connection, options: SqliteOptions) -> Result<(), StoreError> {
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(backend)?;
    c.pragma_update(None, "journal_mode", "WAL")
        .map_err(backend)?;
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

/// The record of `key` from a `(request_hash, response)` row.
fn idempotency_row(key: &str, r: &rusqlite::Row<'_>) -> rusqlite::Result<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        key: key.to_string(),
        request_hash: r.get(0)?,
        response: r.get(1)?,
    })
}

fn row_to_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: to_u64(r.get(0)?),
        stream: r.get(1)?,
        stream_version: to_u64(r.get(2)?),
        kind: r.get(3)?,
        payload: r.get(4)?,
        prev_hash: r.get(5)?,
        hash: r.get(6)?,
    })
}

impl Store for SqliteStore {
    fn commit_batch(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>, StoreError> {
        let mut conn = self.writer()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let mut out = Vec::with_capacity(commits.len());
        {
            let (mut seq, mut prev): (u64, String) = tx
                .query_row("SELECT seq, hash FROM chain_head WHERE id = 1", [], |r| {
                    Ok((to_u64(r.get(0)?), r.get(1)?))
                })
                .optional()
                .map_err(backend)?
                .unwrap_or((0, GENESIS.to_string()));
            let start_seq = seq;
            let mut get_idem = tx
                .prepare_cached("SELECT request_hash, response FROM idempotency WHERE key = ?1")
                .map_err(backend)?;
            let mut get_version = tx.prepare_cached(STREAM_VERSION_SQL).map_err(backend)?;
            let mut put_event = tx
                .prepare_cached(
                    "INSERT INTO events (seq, stream, stream_version, kind, payload, prev_hash, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(backend)?;
            let mut put_idem = tx
                .prepare_cached(
                    "INSERT INTO idempotency (key, request_hash, response) VALUES (?1, ?2, ?3)",
                )
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
            let version_of =
                |s: &str, stmt: &mut rusqlite::CachedStatement<'_>| -> Result<u64, StoreError> {
                    Ok(stmt
                        .query_row([s], |r| r.get::<_, Option<i64>>(0))
                        .map_err(backend)?
                        .map_or(0, to_u64))
                };
            for c in commits {
                let checked = c.check(
                    |key| {
                        get_idem
                            .query_row([key], |r| idempotency_row(key, r))
                            .optional()
                            .map_err(backend)
                    },
                    |stream| version_of(stream, &mut get_version),
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
                // Stream versions this commit moved: each read once.
                let mut touched: Vec<(&str, u64)> = Vec::new();
                for e in &c.events {
                    let sv = match touched.iter_mut().find(|(s, _)| *s == e.stream) {
                        Some((_, v)) => {
                            *v += 1;
                            *v
                        }
                        None => {
                            let v = version_of(&e.stream, &mut get_version)? + 1;
                            touched.push((&e.stream, v));
                            v
                        }
                    };
                    seq += 1;
                    let hash = event_hash(&prev, seq, &e.stream, sv, &e.kind, &e.payload);
                    put_event
                        .execute(params![
                            to_i64(seq)?,
                            e.stream,
                            to_i64(sv)?,
                            e.kind,
                            e.payload,
                            prev,
                            hash
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
            if seq != start_seq {
                tx.execute(
                    "INSERT INTO chain_head (id, seq, hash) VALUES (1, ?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                    params![to_i64(seq)?, prev],
                )
                .map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)?;
        Ok(out)
    }

    fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let c = self.reader()?;
        let mut stmt = c
            .prepare_cached(
                "SELECT seq, stream, stream_version, kind, payload, prev_hash, hash
                 FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(backend)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![to_i64(after)?, limit], row_to_event)
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn read_payloads(&self, after: u64, limit: usize) -> Result<Vec<(u64, String)>, StoreError> {
        let c = self.reader()?;
        let mut stmt = c
            .prepare_cached("SELECT seq, payload FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(backend)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![to_i64(after)?, limit], |r| {
                Ok((to_u64(r.get(0)?), r.get(1)?))
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn read_stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let c = self.reader()?;
        let mut stmt = c
            .prepare_cached(
                "SELECT seq, stream, stream_version, kind, payload, prev_hash, hash
                 FROM events WHERE stream = ?1 ORDER BY stream_version",
            )
            .map_err(backend)?;
        let rows = stmt.query_map([stream], row_to_event).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        let c = self.reader()?;
        let v: Option<i64> = c
            .query_row(STREAM_VERSION_SQL, [stream], |r| r.get(0))
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

    fn save_snapshot(&self, seq: u64, state: &str) -> Result<(), StoreError> {
        self.writer()?
            .execute(
                "INSERT INTO snapshots (id, seq, state) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, state = excluded.state",
                params![to_i64(seq)?, state],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn load_snapshot(&self) -> Result<Option<(u64, String)>, StoreError> {
        let c = self.reader()?;
        c.query_row("SELECT seq, state FROM snapshots WHERE id = 1", [], |r| {
            Ok((to_u64(r.get(0)?), r.get(1)?))
        })
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
