//! # mercato-postgres
//!
//! A PostgreSQL store for mercato, for shops whose application runs in
//! several processes (on several machines) that must share one order, stock
//! and coupon truth. It implements [`mercato_store::Store`] on the
//! synchronous `postgres` client with an `r2d2` connection pool.
//!
//! - One transaction per batch of commits (group commit): the batch locks
//!   the single `chain_head` row (`SELECT … FOR UPDATE`), which serializes
//!   appenders across processes, reads the stream versions, idempotency keys
//!   and guard counters the batch needs in one query, checks every commit
//!   in order in memory, then writes events, streams, idempotency records,
//!   read models, guards and the chain head in one statement (`UNNEST`
//!   arrays in data-modifying CTEs): five round trips per batch whatever its
//!   size, on one writer connection with prepared statements. No
//!   transaction is held open across anything but the batch itself.
//! - The same hash chain as the other stores ([`mercato_store::Chain`]:
//!   SHA-256, or HMAC-SHA256 under the application's key, recorded in the
//!   database and checked when it is opened), so [`Store::verify`] works
//!   unchanged.
//! - Schema in a version table with migrations; a database written by a
//!   newer build is refused ([`StoreError::SchemaTooNew`]). An optional
//!   PostgreSQL schema (namespace) lets one database hold several stores.
//!
//! - Every open store holds a shared advisory lock on its schema, on one
//!   dedicated session, for as long as it lives. [`PgStore::open_fresh`]
//!   takes that lock exclusively before dropping anything and is refused
//!   with [`StoreError::InUse`] while any other store, in any process, has
//!   the schema open. [`PgStore::create_new`] refuses an existing schema
//!   and [`PgStore::open_read_only`] a missing store.
//!
//! See `docs/storage.md` for the schema, the guards and the scale-out path.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod listen;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use mercato_store::{
    BatchCheck, Chain, ChainTail, Commit, CommitOutcome, GENESIS, IdempotencyRecord, ReadModel,
    ReplayEntry, ReplayPage, SnapshotRecord, Store, StoreError, StoredEvent,
};
use postgres::types::FromSql;
use postgres::{NoTls, Row};
use r2d2_postgres::PostgresConnectionManager;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 3;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;
type Conn = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

/// How to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Connections in the pool (default 4). The engine writes through one
    /// at a time; the others serve reads.
    pub pool_size: u32,
    /// PostgreSQL schema (namespace) holding the tables, created if needed
    /// (default: none, the connection's `search_path`, normally `public`).
    /// Letters, digits and `_` only.
    pub schema: Option<String>,
    /// How long to wait for a connection (default 10 s).
    pub connect_timeout: Duration,
    /// How events are chained (default plain SHA-256). A log records its
    /// chain when it is created and opens only with the same one.
    pub chain: Chain,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 4,
            schema: None,
            connect_timeout: Duration::from_secs(10),
            chain: Chain::default(),
        }
    }
}

impl PgOptions {
    /// These options with the tables in `schema`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// These options with `chain` (e.g. `Chain::hmac(key)`).
    pub fn chain(mut self, chain: Chain) -> Self {
        self.chain = chain;
        self
    }
}

fn backend(e: postgres::Error) -> StoreError {
    StoreError::Backend(pg_message(&e))
}

fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("postgres {}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(src) => format!("postgres: {e}: {src}"),
            None => format!("postgres: {e}"),
        },
    }
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("sequence number {v} out of range")))
}

/// Column `i` of a row, or `Corrupt` when the stored type is not the
/// expected one (a table changed behind the store's back).
fn col<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, StoreError> {
    r.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("column {i}: {}", pg_message(&e))))
}

fn valid_schema(s: &str) -> bool {
    s.len() <= 63
        && s.as_bytes().first().is_some_and(|b| !b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq            BIGINT PRIMARY KEY,
    stream         TEXT   NOT NULL,
    stream_version BIGINT NOT NULL,
    kind           TEXT   NOT NULL,
    payload        TEXT   NOT NULL,
    prev_hash      TEXT   NOT NULL,
    hash           TEXT   NOT NULL,
    UNIQUE (stream, stream_version)
);
CREATE TABLE IF NOT EXISTS streams (
    stream  TEXT   PRIMARY KEY,
    version BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    response     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT  NOT NULL,
    state TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS read_models (
    model TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model, key)
);
CREATE TABLE IF NOT EXISTS guards (
    key  TEXT   PRIMARY KEY,
    used BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000')
ON CONFLICT (id) DO NOTHING;
";

/// Version 2: an event may belong to further streams (`also`, a JSON array,
/// empty for most events; `streams` counts them too), snapshots are sealed
/// to their place in the chain (older, unsealed ones are dropped: the next
/// open replays the whole log), and the chain mode is recorded (older logs
/// with events were written with SHA-256).
const SCHEMA_V2: &str = "
ALTER TABLE events ADD COLUMN IF NOT EXISTS also TEXT NOT NULL DEFAULT '';
DELETE FROM snapshots;
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS chain_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS seal TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS chain_meta (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT    NOT NULL
);
INSERT INTO chain_meta (id, fingerprint)
    SELECT 1, 'sha256' WHERE EXISTS (SELECT 1 FROM events);
";

/// Version 3: named consumers of the log with their checkpoints, and a
/// trigger that notifies `mercato_append` (payload `<schema>:<seq>`) when a
/// batch moves the chain head, delivered at its commit, so that waiters in
/// every process wake up (`Store::wait_for_append`). The log is untouched.
const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS consumers (
    name TEXT   PRIMARY KEY,
    seq  BIGINT NOT NULL
);
CREATE OR REPLACE FUNCTION mercato_notify_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mercato_append', TG_TABLE_SCHEMA || ':' || NEW.seq::text);
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS mercato_notify_append ON chain_head;
CREATE TRIGGER mercato_notify_append AFTER UPDATE ON chain_head
    FOR EACH ROW EXECUTE FUNCTION mercato_notify_append();
";

/// Each schema version and the SQL that brings the previous one to it.
const MIGRATIONS: [(i64, &str); 3] = [(1, SCHEMA_V1), (2, SCHEMA_V2), (3, SCHEMA_V3)];

/// `also` as stored: empty, or a JSON array of stream names.
fn encode_also(also: &[String]) -> Result<String, StoreError> {
    if also.is_empty() {
        return Ok(String::new());
    }
    serde_json::to_string(also).map_err(|e| StoreError::Backend(e.to_string()))
}

fn decode_also(text: &str) -> Result<Vec<String>, StoreError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("events.also: {e}")))
}

/// A mercato store in a PostgreSQL database.
pub struct PgStore {
    pool: Pool,
    config: postgres::Config,
    writer: std::sync::Mutex<Option<Writer>>,
    schema: Option<String>,
    chain: Chain,
    /// The session holding this store's shared advisory lock on its schema
    /// (see [`PgStore::open`]); unlocked when the store is dropped.
    lock: std::sync::Mutex<postgres::Client>,
    /// The `LISTEN` session waking [`Store::wait_for_append`], started on
    /// first use.
    listener: std::sync::Mutex<Option<std::sync::Arc<listen::Listener>>>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Unlock explicitly: the server ends a closed session (and frees
        // its locks) only some time after the client has gone, and a caller
        // replacing the schema right after dropping its store must not find
        // it still held.
        if let Ok(mut c) = self.lock.lock() {
            let _ = c.batch_execute("SELECT pg_advisory_unlock_all()");
        }
        if let Ok(Some(l)) = self.listener.lock().as_deref() {
            l.stop();
        }
    }
}

/// How long opening waits while another caller replaces the schema (the
/// exclusive lock is held only while the schema is dropped).
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The advisory lock of a store: the key pair `(hashtext('mercato-store'),
/// hashtext(schema))`, apart from the one-key locks of migrations.
const TRY_LOCK_SHARED: &str =
    "SELECT pg_try_advisory_lock_shared(hashtext('mercato-store'), hashtext($1))";
const TRY_LOCK_EXCLUSIVE: &str =
    "SELECT pg_try_advisory_lock(hashtext('mercato-store'), hashtext($1))";
const UNLOCK_EXCLUSIVE: &str = "SELECT pg_advisory_unlock(hashtext('mercato-store'), hashtext($1))";

fn in_use(schema: &str) -> StoreError {
    StoreError::InUse {
        what: format!("PostgreSQL schema {schema}"),
    }
}

/// The connection settings for `url` and `options` (the schema's
/// `search_path`, read-only sessions when `read_only`).
fn parse_config(
    url: &str,
    options: &PgOptions,
    read_only: bool,
) -> Result<postgres::Config, StoreError> {
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e: postgres::Error| StoreError::Open(format!("bad URL: {}", pg_message(&e))))?;
    let mut settings = Vec::new();
    if let Some(s) = &options.schema {
        if !valid_schema(s) {
            return Err(StoreError::Open(format!(
                "schema name `{s}`: use lower-case letters, digits and _"
            )));
        }
        settings.push(format!("-c search_path={s}"));
    }
    if read_only {
        settings.push("-c default_transaction_read_only=on".to_string());
    }
    if !settings.is_empty() {
        if let Some(given) = config.get_options() {
            settings.insert(0, given.to_string());
        }
        config.options(&settings.join(" "));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    Ok(config)
}

/// A session for the store's advisory lock.
fn lock_session(config: &postgres::Config) -> Result<postgres::Client, StoreError> {
    config
        .connect(NoTls)
        .map_err(|e| StoreError::Open(pg_message(&e)))
}

/// The name the lock is taken on: the schema of `options`, else the
/// session's current schema (normally `public`).
fn lock_name(client: &mut postgres::Client, options: &PgOptions) -> Result<String, StoreError> {
    match &options.schema {
        Some(s) => Ok(s.clone()),
        None => col(
            &client
                .query_one("SELECT COALESCE(current_schema(), '')", &[])
                .map_err(backend)?,
            0,
        ),
    }
}

/// Takes the shared lock of `schema` on `client`, waiting up to
/// [`LOCK_WAIT`] while another caller replaces it.
fn lock_shared(client: &mut postgres::Client, schema: &str) -> Result<(), StoreError> {
    let start = std::time::Instant::now();
    loop {
        let got: bool = col(
            &client
                .query_one(TRY_LOCK_SHARED, &[&schema])
                .map_err(backend)?,
            0,
        )?;
        if got {
            return Ok(());
        }
        if start.elapsed() >= LOCK_WAIT {
            return Err(in_use(schema));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgresql://user[:password]@host[:port]/database`
    /// or `host=… user=… dbname=…`), creates the schema if needed and
    /// migrates it to [`SCHEMA_VERSION`].
    ///
    /// The store holds a shared advisory lock on its schema, on a session
    /// of its own, until it is dropped: any number of stores, in any
    /// processes, may have one schema open; none can have it dropped under
    /// them by [`PgStore::open_fresh`].
    pub fn open(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let config = parse_config(url, &options, false)?;
        let mut lock = lock_session(&config)?;
        let name = lock_name(&mut lock, &options)?;
        lock_shared(&mut lock, &name)?;
        Self::open_locked(config, options, lock, false)
    }

    /// Drops the schema named in `options` with everything in it, then
    /// opens a fresh store there (the tools' `--fresh`). Refuses options
    /// without a schema: it never empties `public` by default.
    ///
    /// Takes the schema's advisory lock exclusively first: while any other
    /// store (in this process or another) has the schema open, it fails
    /// with [`StoreError::InUse`] and drops nothing. The new store then
    /// holds the lock shared, like [`PgStore::open`] (taken before the
    /// exclusive one is released, so nobody can drop the schema in
    /// between).
    pub fn open_fresh(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let Some(schema) = options.schema.clone() else {
            return Err(StoreError::Open(
                "open_fresh needs a schema to drop and recreate".into(),
            ));
        };
        let config = parse_config(url, &options, false)?;
        let mut lock = lock_session(&config)?;
        let got: bool = col(
            &lock
                .query_one(TRY_LOCK_EXCLUSIVE, &[&schema])
                .map_err(backend)?,
            0,
        )?;
        if !got {
            return Err(in_use(&schema));
        }
        lock.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .map_err(backend)?;
        // A session never waits for its own locks: shared, then let go of
        // the exclusive one.
        lock_shared(&mut lock, &schema)?;
        lock.query_one(UNLOCK_EXCLUSIVE, &[&schema])
            .map_err(backend)?;
        Self::open_locked(config, options, lock, false)
    }

    /// Creates a new store in the schema named in `options`, refusing with
    /// [`StoreError::Exists`] when that schema already exists (whatever it
    /// holds); nothing existing is opened or changed. Refuses options
    /// without a schema.
    pub fn create_new(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let Some(schema) = options.schema.clone() else {
            return Err(StoreError::Open(
                "create_new needs a schema to create".into(),
            ));
        };
        let config = parse_config(url, &options, false)?;
        let mut lock = lock_session(&config)?;
        lock_shared(&mut lock, &schema)?;
        if let Err(e) = lock.batch_execute(&format!("CREATE SCHEMA \"{schema}\"")) {
            if e.code() == Some(&postgres::error::SqlState::DUPLICATE_SCHEMA) {
                return Err(StoreError::Exists {
                    what: format!("PostgreSQL schema {schema}"),
                });
            }
            return Err(backend(e));
        }
        Self::open_locked(config, options, lock, false)
    }

    /// Opens an existing store for reading only (the auditor's open): a
    /// missing schema or a schema without mercato's `schema_version` table
    /// is [`StoreError::Open`] and nothing is created; nothing is migrated,
    /// and every session is read-only (`default_transaction_read_only`), so
    /// writes fail. Holds the shared lock like [`PgStore::open`].
    pub fn open_read_only(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let config = parse_config(url, &options, true)?;
        let mut lock = lock_session(&config)?;
        let name = lock_name(&mut lock, &options)?;
        lock_shared(&mut lock, &name)?;
        Self::open_locked(config, options, lock, true)
    }

    /// The pool and the store, once `lock` holds the shared lock; migrates
    /// (or, `read_only`, only checks) the schema.
    fn open_locked(
        config: postgres::Config,
        options: PgOptions,
        lock: postgres::Client,
        read_only: bool,
    ) -> Result<PgStore, StoreError> {
        let manager = PostgresConnectionManager::new(config.clone(), NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(options.connect_timeout)
            .build(manager)
            .map_err(|e| StoreError::Open(e.to_string()))?;
        let store = PgStore {
            pool,
            config,
            writer: std::sync::Mutex::new(None),
            schema: options.schema,
            chain: options.chain.clone(),
            lock: std::sync::Mutex::new(lock),
            listener: std::sync::Mutex::new(None),
        };
        if read_only {
            store.check_readable()?;
            store.check_chain_read_only()?;
        } else {
            store.migrate()?;
            store.check_chain()?;
        }
        Ok(store)
    }

    /// The PostgreSQL schema holding the tables, if one was chosen.
    pub fn schema_name(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    fn conn(&self) -> Result<Conn, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Backend(format!("no database connection: {e}")))
    }

    /// Creates the schema and brings it to [`SCHEMA_VERSION`] in one
    /// transaction, under an advisory lock so that processes opening the
    /// same database at once migrate it once.
    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(backend)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('mercato-migrate:' || $1))",
            &[&self.schema.clone().unwrap_or_default()],
        )
        .map_err(backend)?;
        if let Some(s) = &self.schema {
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{s}\""))
                .map_err(backend)?;
        }
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(backend)?;
        let found: Option<i32> = col(
            &tx.query_one("SELECT MAX(version) FROM schema_version", &[])
                .map_err(backend)?,
            0,
        )?;
        let found = i64::from(found.unwrap_or(0));
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (version, sql) in MIGRATIONS {
            if version > found {
                tx.batch_execute(sql).map_err(backend)?;
                let v = i32::try_from(version).unwrap_or(i32::MAX);
                tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&v])
                    .map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)
    }

    /// Refuses a log recorded with another chain, changing nothing (no
    /// record: an older schema, or nothing written yet; SHA-256 if it has
    /// events).
    fn check_chain_read_only(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let table: Option<String> = col(
            &c.query_one("SELECT to_regclass('chain_meta')::text", &[])
                .map_err(backend)?,
            0,
        )?;
        let recorded: Option<String> = match table {
            Some(_) => c
                .query_opt("SELECT fingerprint FROM chain_meta WHERE id = 1", &[])
                .map_err(backend)?
                .map(|r| col(&r, 0))
                .transpose()?,
            None => None,
        };
        match recorded {
            Some(r) => self.chain.check_fingerprint(&r),
            None => {
                let any: bool = col(
                    &c.query_one("SELECT EXISTS (SELECT 1 FROM events)", &[])
                        .map_err(backend)?,
                    0,
                )?;
                if any {
                    self.chain.check_fingerprint(&Chain::Sha256.fingerprint())
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Records the chain of a new log, or refuses a log recorded with another.
    fn check_chain(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        c.execute(
            "INSERT INTO chain_meta (id, fingerprint) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            &[&self.chain.fingerprint()],
        )
        .map_err(backend)?;
        let recorded: String = col(
            &c.query_one("SELECT fingerprint FROM chain_meta WHERE id = 1", &[])
                .map_err(backend)?,
            0,
        )?;
        self.chain.check_fingerprint(&recorded)
    }

    /// Runs one batch on the writer connection, reconnecting after a lost
    /// connection.
    fn write(&self, source: Source<'_>) -> Result<Vec<CommitOutcome>, StoreError> {
        let mut slot = self
            .writer
            .lock()
            .map_err(|_| StoreError::Backend("writer lock poisoned".into()))?;
        if slot.is_none() {
            *slot = Some(Writer::connect(&self.config, &self.chain)?);
        }
        let Some(writer) = slot.as_mut() else {
            return Err(StoreError::Backend("no writer connection".into()));
        };
        let result = writer.commit_batch(source);
        if result.is_err() && writer.client.is_closed() {
            // Reconnect on the next batch.
            *slot = None;
        }
        result
    }

    /// Checks, changing nothing, that the schema holds a mercato store this
    /// build can read.
    fn check_readable(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let where_ = match &self.schema {
            Some(s) => format!("schema {s}"),
            None => "the search_path".to_string(),
        };
        let table: Option<String> = col(
            &c.query_one("SELECT to_regclass('schema_version')::text", &[])
                .map_err(backend)?,
            0,
        )?;
        if table.is_none() {
            return Err(StoreError::Open(format!("no mercato store in {where_}")));
        }
        let found: Option<i32> = col(
            &c.query_one("SELECT MAX(version) FROM schema_version", &[])
                .map_err(backend)?,
            0,
        )?;
        let found = i64::from(found.unwrap_or(0));
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// Test and audit hook: runs SQL on the database as an outside writer
    /// would (used to prove that tampering is detected).
    pub fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        self.conn()?.batch_execute(sql).map_err(backend)
    }
}

/// The columns [`row_to_event`] reads, in order.
const EVENT_COLUMNS: &str = "seq, stream, stream_version, kind, payload, prev_hash, hash, also";

fn row_to_event(r: &Row) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        seq: to_u64(col(r, 0)?),
        stream: col(r, 1)?,
        stream_version: to_u64(col(r, 2)?),
        kind: col(r, 3)?,
        payload: col(r, 4)?,
        prev_hash: col(r, 5)?,
        hash: col(r, 6)?,
        also: decode_also(col::<&str>(r, 7)?)?,
    })
}

/// The columns of the rows one batch writes.
#[derive(Default)]
struct Writes {
    seq: Vec<i64>,
    stream: Vec<String>,
    stream_version: Vec<i64>,
    kind: Vec<String>,
    payload: Vec<String>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
    also: Vec<String>,
    idem_key: Vec<String>,
    idem_hash: Vec<String>,
    idem_response: Vec<String>,
    /// (model, key) → value, last write wins, first-write order kept.
    models: Vec<(&'static str, String, String)>,
    model_index: HashMap<(&'static str, String), usize>,
}

/// Takes the chain head row lock: the single serialization point of every
/// appender, in every process.
const LOCK_HEAD: &str = "SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE";

/// Everything a batch checks, in one statement run after the lock (so it
/// sees every batch committed before): stream versions, idempotency records
/// and guard counters of the keys the batch names.
const READ_BATCH: &str = "
SELECT 0::int4, stream, version, NULL::text, NULL::text FROM streams WHERE stream = ANY($1)
UNION ALL
SELECT 1::int4, key, NULL::int8, request_hash, response FROM idempotency WHERE key = ANY($2)
UNION ALL
SELECT 2::int4, key, used, NULL::text, NULL::text FROM guards WHERE key = ANY($3)";

/// Everything a batch writes, in one statement: events, stream versions,
/// idempotency records, read models, guard counters and the chain head.
const WRITE_BATCH: &str = "
WITH e AS (
    INSERT INTO events (seq, stream, stream_version, kind, payload, prev_hash, hash, also)
    SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $20::text[])
), s AS (
    INSERT INTO streams (stream, version)
    SELECT * FROM UNNEST($8::text[], $9::int8[])
    ON CONFLICT (stream) DO UPDATE SET version = EXCLUDED.version
), i AS (
    INSERT INTO idempotency (key, request_hash, response)
    SELECT * FROM UNNEST($10::text[], $11::text[], $12::text[])
), r AS (
    INSERT INTO read_models (model, key, value)
    SELECT * FROM UNNEST($13::text[], $14::text[], $15::text[])
    ON CONFLICT (model, key) DO UPDATE SET value = EXCLUDED.value
), g AS (
    INSERT INTO guards (key, used)
    SELECT * FROM UNNEST($16::text[], $17::int8[])
    ON CONFLICT (key) DO UPDATE SET used = EXCLUDED.used
)
UPDATE chain_head SET seq = $18, hash = $19 WHERE id = 1";

/// Where a batch's commits come from.
enum Source<'a> {
    /// Decided before the batch.
    Given(&'a [Commit]),
    /// Decided while the chain head is locked.
    Decide(&'a mut dyn FnMut() -> Vec<Commit>),
}

/// The connection that writes batches, with its prepared statements.
/// Batches are serialized on the chain head row anyway, so one connection
/// per store is all the writing needs; reads use the pool.
struct Writer {
    chain: Chain,
    client: postgres::Client,
    lock: postgres::Statement,
    read: postgres::Statement,
    write: postgres::Statement,
}

impl Writer {
    fn connect(config: &postgres::Config, chain: &Chain) -> Result<Writer, StoreError> {
        let mut client = config
            .connect(NoTls)
            .map_err(|e| StoreError::Backend(format!("writer connection: {}", pg_message(&e))))?;
        let lock = client.prepare(LOCK_HEAD).map_err(backend)?;
        let read = client.prepare(READ_BATCH).map_err(backend)?;
        let write = client.prepare(WRITE_BATCH).map_err(backend)?;
        Ok(Writer {
            chain: chain.clone(),
            client,
            lock,
            read,
            write,
        })
    }

    /// One batch in one transaction (see [`Store::commit_batch`]); the
    /// commits are given, or decided once the chain head is locked (see
    /// [`Store::commit_exclusive`]).
    fn commit_batch(&mut self, source: Source<'_>) -> Result<Vec<CommitOutcome>, StoreError> {
        let mut tx = self.client.transaction().map_err(backend)?;
        let head = tx.query_one(&self.lock, &[]).map_err(backend)?;
        let (mut seq, mut prev): (u64, String) = (to_u64(col(&head, 0)?), col(&head, 1)?);
        let decided;
        let commits: &[Commit] = match source {
            Source::Given(c) => c,
            Source::Decide(decide) => {
                decided = decide();
                &decided
            }
        };

        let mut stream_names: Vec<&str> = Vec::new();
        let mut idem_keys: Vec<&str> = Vec::new();
        let mut guard_keys: Vec<&str> = Vec::new();
        for c in commits {
            stream_names.extend(c.expected.iter().map(|(s, _)| s.as_str()));
            stream_names.extend(c.events.iter().flat_map(|e| e.streams()));
            idem_keys.extend(c.idempotency.iter().map(|r| r.key.as_str()));
            guard_keys.extend(c.guards.iter().map(|g| g.key.as_str()));
        }
        for v in [&mut stream_names, &mut idem_keys, &mut guard_keys] {
            v.sort_unstable();
            v.dedup();
        }
        let mut versions: HashMap<String, u64> = HashMap::new();
        let mut known_keys: HashMap<String, IdempotencyRecord> = HashMap::new();
        let mut guards: HashMap<String, i64> = HashMap::new();
        if !(stream_names.is_empty() && idem_keys.is_empty() && guard_keys.is_empty()) {
            for r in tx
                .query(&self.read, &[&stream_names, &idem_keys, &guard_keys])
                .map_err(backend)?
            {
                let tag: i32 = col(&r, 0)?;
                let key: String = col(&r, 1)?;
                match tag {
                    0 => {
                        versions.insert(key, to_u64(col::<Option<i64>>(&r, 2)?.unwrap_or(0)));
                    }
                    1 => {
                        let rec = IdempotencyRecord {
                            key: key.clone(),
                            request_hash: col::<Option<String>>(&r, 3)?.unwrap_or_default(),
                            response: col::<Option<String>>(&r, 4)?.unwrap_or_default(),
                        };
                        known_keys.insert(key, rec);
                    }
                    _ => {
                        guards.insert(key, col::<Option<i64>>(&r, 2)?.unwrap_or(0));
                    }
                }
            }
        }
        // Streams and guards the batch moves, in first-touch order.
        let mut touched_streams: Vec<String> = Vec::new();
        let mut touched_guards: Vec<String> = Vec::new();
        let mut touched: HashSet<(bool, String)> = HashSet::new();

        let mut w = Writes::default();
        let mut out = Vec::with_capacity(commits.len());
        let mut batch = BatchCheck::new();
        for c in commits {
            let checked = batch.check::<StoreError>(
                c,
                |k| Ok(known_keys.get(k).cloned()),
                |st| Ok(versions.get(st).copied().unwrap_or(0)),
                |k| Ok(guards.get(k).copied().unwrap_or(0)),
            )?;
            let moved = match checked {
                Ok(moved) => moved,
                Err(refused) => {
                    out.push(refused);
                    continue;
                }
            };
            for (k, v) in moved {
                guards.insert(k.to_string(), v);
                if touched.insert((false, k.to_string())) {
                    touched_guards.push(k.to_string());
                }
            }
            let first = seq + 1;
            for e in &c.events {
                for st in e.streams() {
                    let v = versions.get(st).copied().unwrap_or(0) + 1;
                    versions.insert(st.to_string(), v);
                    if touched.insert((true, st.to_string())) {
                        touched_streams.push(st.to_string());
                    }
                }
                let sv = versions.get(&e.stream).copied().unwrap_or(0);
                seq += 1;
                let hash = self
                    .chain
                    .link(&prev, seq, &e.stream, sv, &e.also, &e.kind, &e.payload);
                w.also.push(encode_also(&e.also)?);
                w.seq.push(to_i64(seq)?);
                w.stream.push(e.stream.clone());
                w.stream_version.push(to_i64(sv)?);
                w.kind.push(e.kind.clone());
                w.payload.push(e.payload.clone());
                w.prev_hash.push(std::mem::replace(&mut prev, hash.clone()));
                w.hash.push(hash);
            }
            if let Some(rec) = &c.idempotency {
                known_keys.insert(rec.key.clone(), rec.clone());
                w.idem_key.push(rec.key.clone());
                w.idem_hash.push(rec.request_hash.clone());
                w.idem_response.push(rec.response.clone());
            }
            for row in &c.read_models {
                let k = (row.model.name(), row.key.clone());
                match w.model_index.get(&k) {
                    Some(i) => {
                        if let Some(m) = w.models.get_mut(*i) {
                            m.2 = row.value.clone();
                        }
                    }
                    None => {
                        w.model_index.insert(k, w.models.len());
                        w.models
                            .push((row.model.name(), row.key.clone(), row.value.clone()));
                    }
                }
            }
            out.push(CommitOutcome::Committed { first, last: seq });
        }

        let nothing = w.seq.is_empty()
            && w.idem_key.is_empty()
            && w.models.is_empty()
            && touched_guards.is_empty();
        if !nothing {
            let stream_versions: Vec<i64> = touched_streams
                .iter()
                .map(|s| to_i64(versions.get(s).copied().unwrap_or(0)))
                .collect::<Result<_, _>>()?;
            let model_names: Vec<&str> = w.models.iter().map(|m| m.0).collect();
            let model_keys: Vec<&str> = w.models.iter().map(|m| m.1.as_str()).collect();
            let model_values: Vec<&str> = w.models.iter().map(|m| m.2.as_str()).collect();
            let guard_used: Vec<i64> = touched_guards
                .iter()
                .map(|k| guards.get(k).copied().unwrap_or(0))
                .collect();
            let head_seq = to_i64(seq)?;
            tx.execute(
                &self.write,
                &[
                    &w.seq,
                    &w.stream,
                    &w.stream_version,
                    &w.kind,
                    &w.payload,
                    &w.prev_hash,
                    &w.hash,
                    &touched_streams,
                    &stream_versions,
                    &w.idem_key,
                    &w.idem_hash,
                    &w.idem_response,
                    &model_names,
                    &model_keys,
                    &model_values,
                    &touched_guards,
                    &guard_used,
                    &head_seq,
                    &prev,
                    &w.also,
                ],
            )
            .map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        Ok(out)
    }
}

impl Store for PgStore {
    fn commit_batch(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>, StoreError> {
        self.write(Source::Given(commits))
    }

    /// The batch's transaction locks the chain head row, which every
    /// writer in every process locks first; `decide` runs under that lock
    /// and reads through the pool (read committed: everything stored
    /// before the lock).
    fn commit_exclusive(
        &self,
        decide: &mut dyn FnMut() -> Vec<Commit>,
    ) -> Result<Vec<CommitOutcome>, StoreError> {
        self.write(Source::Decide(decide))
    }

    fn read_from(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn()?
            .query(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"),
                &[&to_i64(after)?, &limit],
            )
            .map_err(backend)?
            .iter()
            .map(row_to_event)
            .collect()
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
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .conn()?
            .query(
                "SELECT seq, stream, also, payload FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&to_i64(after)?, &limit],
            )
            .map_err(backend)?;
        // Copied from the rows' buffers into the page: no String per row.
        let filled = rows.iter().try_for_each(|r| {
            let also = col::<&str>(r, 2)?;
            if !also.is_empty() {
                let mut de = serde_json::Deserializer::from_str(also);
                page.push_also_from(&mut de)
                    .and_then(|()| de.end())
                    .map_err(|e| StoreError::Corrupt(format!("events.also: {e}")))?;
            }
            page.push_row(to_u64(col(r, 0)?), col(r, 1)?, col(r, 3)?);
            Ok(())
        });
        if filled.is_err() {
            page.clear();
        }
        filled
    }

    fn read_stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream = $1 ORDER BY stream_version"
                ),
                &[&stream],
            )
            .map_err(backend)?
            .iter()
            .map(row_to_event)
            .collect()
    }

    fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        let r = self
            .conn()?
            .query_opt("SELECT version FROM streams WHERE stream = $1", &[&stream])
            .map_err(backend)?;
        Ok(match r {
            Some(r) => to_u64(col(&r, 0)?),
            None => 0,
        })
    }

    fn head(&self) -> Result<u64, StoreError> {
        let r = self
            .conn()?
            .query_one("SELECT MAX(seq) FROM events", &[])
            .map_err(backend)?;
        Ok(col::<Option<i64>>(&r, 0)?.map_or(0, to_u64))
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let r = self
            .conn()?
            .query_opt(
                "SELECT request_hash, response FROM idempotency WHERE key = $1",
                &[&key],
            )
            .map_err(backend)?;
        r.map(|r| {
            Ok(IdempotencyRecord {
                key: key.to_string(),
                request_hash: col(&r, 0)?,
                response: col(&r, 1)?,
            })
        })
        .transpose()
    }

    fn save_snapshot(&self, snapshot: &SnapshotRecord) -> Result<(), StoreError> {
        self.conn()?
            .execute(
                "INSERT INTO snapshots (id, seq, state, chain_hash, seal) VALUES (1, $1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, state = EXCLUDED.state,
                     chain_hash = EXCLUDED.chain_hash, seal = EXCLUDED.seal",
                &[
                    &to_i64(snapshot.seq)?,
                    &snapshot.state,
                    &snapshot.chain_hash,
                    &snapshot.seal,
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn load_snapshot(&self) -> Result<Option<SnapshotRecord>, StoreError> {
        let r = self
            .conn()?
            .query_opt(
                "SELECT seq, state, chain_hash, seal FROM snapshots WHERE id = 1",
                &[],
            )
            .map_err(backend)?;
        r.map(|r| {
            Ok(SnapshotRecord {
                seq: to_u64(col(&r, 0)?),
                state: col(&r, 1)?,
                chain_hash: col(&r, 2)?,
                seal: col(&r, 3)?,
            })
        })
        .transpose()
    }

    fn read_model(&self, model: ReadModel, key: &str) -> Result<Option<String>, StoreError> {
        let r = self
            .conn()?
            .query_opt(
                "SELECT value FROM read_models WHERE model = $1 AND key = $2",
                &[&model.name(), &key],
            )
            .map_err(backend)?;
        r.map(|r| col(&r, 0)).transpose()
    }

    fn read_models(&self, model: ReadModel) -> Result<Vec<(String, String)>, StoreError> {
        self.conn()?
            .query(
                "SELECT key, value FROM read_models WHERE model = $1 ORDER BY key COLLATE \"C\"",
                &[&model.name()],
            )
            .map_err(backend)?
            .iter()
            .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
            .collect()
    }

    fn guard(&self, key: &str) -> Result<i64, StoreError> {
        let r = self
            .conn()?
            .query_opt("SELECT used FROM guards WHERE key = $1", &[&key])
            .map_err(backend)?;
        Ok(match r {
            Some(r) => col(&r, 0)?,
            None => 0,
        })
    }

    fn tail(&self) -> Result<ChainTail, StoreError> {
        let mut c = self.conn()?;
        // One snapshot for both reads, whatever other processes append.
        let mut tx = c
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(backend)?;
        let (head_seq, head_hash) = match tx
            .query_opt("SELECT seq, hash FROM chain_head WHERE id = 1", &[])
            .map_err(backend)?
        {
            Some(r) => (to_u64(col(&r, 0)?), col::<String>(&r, 1)?),
            None => (0, GENESIS.to_string()),
        };
        let events = tx
            .query(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq >= $1 ORDER BY seq LIMIT 2"),
                &[&to_i64(head_seq.max(1))?],
            )
            .map_err(backend)?
            .iter()
            .map(row_to_event)
            .collect::<Result<Vec<_>, _>>()?;
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

    fn consumer_checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let r = self
            .conn()?
            .query_opt("SELECT seq FROM consumers WHERE name = $1", &[&name])
            .map_err(backend)?;
        r.map(|r| col::<i64>(&r, 0).map(to_u64)).transpose()
    }

    /// One statement: the checkpoint moves to `GREATEST(checkpoint, seq)`
    /// only when `seq` is within the head read in the same statement (an
    /// append committed meanwhile only moves the head further).
    fn ack_consumer(&self, name: &str, seq: u64) -> Result<u64, StoreError> {
        let mut c = self.conn()?;
        let r = c
            .query_opt(
                "INSERT INTO consumers (name, seq)
                 SELECT $1, $2 WHERE $2 <= (SELECT seq FROM chain_head WHERE id = 1)
                 ON CONFLICT (name) DO UPDATE SET seq = GREATEST(consumers.seq, excluded.seq)
                 RETURNING seq",
                &[&name, &to_i64(seq)?],
            )
            .map_err(backend)?;
        match r {
            Some(r) => col::<i64>(&r, 0).map(to_u64),
            None => {
                let head = c
                    .query_one("SELECT seq FROM chain_head WHERE id = 1", &[])
                    .map_err(backend)?;
                Err(StoreError::AckBeyondHead {
                    consumer: name.to_string(),
                    seq,
                    head: to_u64(col(&head, 0)?),
                })
            }
        }
    }

    fn consumers(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.conn()?
            .query("SELECT name, seq FROM consumers ORDER BY name", &[])
            .map_err(backend)?
            .iter()
            .map(|r| Ok((col(r, 0)?, to_u64(col(r, 1)?))))
            .collect()
    }

    /// Woken by the `mercato_append` notifications of every process (see
    /// the `listen` module); re-reads the head at least every 500 ms.
    fn wait_for_append(&self, after: u64, timeout: Duration) -> Result<Option<u64>, StoreError> {
        let listener = {
            let mut g = self
                .listener
                .lock()
                .map_err(|_| StoreError::Backend("listener lock poisoned".into()))?;
            match g.as_ref() {
                Some(l) if l.alive() => std::sync::Arc::clone(l),
                _ => {
                    let l = listen::Listener::start(&self.config)?;
                    *g = Some(std::sync::Arc::clone(&l));
                    l
                }
            }
        };
        listener.wait(after, timeout, || self.head()).map(Some)
    }

    fn chain_head(&self) -> Result<(u64, String), StoreError> {
        let r = self
            .conn()?
            .query_opt("SELECT seq, hash FROM chain_head WHERE id = 1", &[])
            .map_err(backend)?;
        match r {
            Some(r) => Ok((to_u64(col(&r, 0)?), col(&r, 1)?)),
            None => Ok((0, GENESIS.to_string())),
        }
    }
}
