//! `audit`: opens a mercato SQLite or PostgreSQL database, walks the hash
//! chain, rebuilds every order and ledger from the events (without the
//! snapshot) and compares the result with everything stored beside the log:
//! the snapshot (replayed up to its event), the read models, the stream
//! versions and the guard counters. Prints OK, or the first broken link or
//! mismatch on stderr.
//!
//! ```text
//! cargo run --release --example audit -- sqlite:PATH [--backup-to FILE] [--chain-key-file FILE]
//! cargo run --release --example audit -- postgres:URL [--schema NAME] [--chain-key-file FILE]
//! ```
//! `--chain-key-file FILE` holds the hex key of a log chained with
//! HMAC-SHA256 (the application's key; without it such a log is refused).
//! On PostgreSQL, `--schema NAME` audits the store in that schema (e.g.
//! `mercato_flash_sale`); without it, the connection's `search_path`.
//! Exit status: 0 when everything holds, 1 on a broken link or mismatch,
//! 2 when the database cannot be opened. `--backup-to FILE` first writes an
//! online backup of the database to FILE, which must not exist yet (then
//! audits the original).
//!
//! PostgreSQL needs the crate's `postgres` feature
//! (`cargo run --release --features postgres --example audit -- postgres:URL`).
//!
//! The audit only reads: it opens the database read-only, and a missing
//! file or schema is an error — nothing is created, migrated or written
//! (beside an SQLite file, its lock file and SQLite's `-wal`/`-shm` files
//! may appear). While it reads, the database cannot be replaced.

use std::collections::BTreeMap;
use std::io;
use std::process::ExitCode;

#[cfg(feature = "postgres")]
use mercato::postgres::{PgOptions, PgStore};
use mercato::sqlite::{SqliteOptions, SqliteStore};
use mercato::store::{Chain, ChainKey, ReadModel, Store, StoreError};

#[macro_use]
#[path = "support/out.rs"]
mod out;

fn audit<S: Store>(store: &S) -> Result<Result<String, String>, String> {
    let report = store.verify().map_err(|e| e.to_string())?;
    if let Some((seq, why)) = report.first_break {
        return Ok(Err(format!("hash chain broken at event {seq}: {why}")));
    }
    // The whole log, not the snapshot: the snapshot is checked against it.
    let whole_log = mercato::OpenOptions::default().use_snapshot(false);
    let state = match mercato::rebuild_with(store, whole_log) {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("cannot rebuild state from the log: {e}"))),
    };
    let snapshot = match mercato::audit_snapshot(store) {
        Ok(Some(seq)) => format!(", the snapshot at event {seq} matches the log"),
        Ok(None) => String::new(),
        Err(e) => return Ok(Err(e.to_string())),
    };
    for (stream, version) in &state.durable.streams {
        let stored = store.stream_version(stream).map_err(|e| e.to_string())?;
        if stored != *version {
            return Ok(Err(format!(
                "stream {stream}: the store says version {stored}, the log {version}"
            )));
        }
    }
    let guards = state.expected_guards();
    for (key, want) in &guards {
        let got = store.guard(key).map_err(|e| e.to_string())?;
        if got != *want {
            return Ok(Err(format!(
                "guard {key}: the store counts {got}, live orders hold {want}"
            )));
        }
    }
    let expected: BTreeMap<(String, String), String> = state
        .all_read_model_rows()
        .into_iter()
        .map(|r| ((r.model.name().to_string(), r.key), r.value))
        .collect();
    let mut stored: BTreeMap<(String, String), String> = BTreeMap::new();
    for m in ReadModel::ALL {
        for (k, v) in store.read_models(m).map_err(|e| e.to_string())? {
            stored.insert((m.name().to_string(), k), v);
        }
    }
    for (key, want) in &expected {
        let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
        match stored.get(key) {
            None => {
                return Ok(Err(format!(
                    "read model {}/{} missing (rebuilt: {want})",
                    key.0, key.1
                )));
            }
            Some(got) if parse(got) != parse(want) => {
                return Ok(Err(format!(
                    "read model {}/{}: stored {got}, rebuilt {want}",
                    key.0, key.1
                )));
            }
            _ => {}
        }
    }
    if let Some(extra) = stored.keys().find(|k| !expected.contains_key(*k)) {
        return Ok(Err(format!(
            "read model {}/{} has no events behind it",
            extra.0, extra.1
        )));
    }
    for (sku, s) in state.shop().stock().skus() {
        for l in &s.locations {
            if !l.backorder && l.reserved > l.on_hand {
                return Ok(Err(format!(
                    "{sku} at {}: reserved {} > on_hand {}",
                    l.location, l.reserved, l.on_hand
                )));
            }
        }
    }
    for o in state.shop().orders() {
        if o.refunded > o.paid {
            return Ok(Err(format!(
                "order {}: refunded {} > paid {}",
                o.id, o.refunded, o.paid
            )));
        }
    }
    Ok(Ok(format!(
        "OK: {} events, {} orders rebuilt, {} read-model rows, {} stream versions and {} guard counters match{snapshot}",
        report.events,
        state.shop().orders().count(),
        expected.len(),
        state.durable.streams.len(),
        guards.len()
    )))
}

fn report(result: Result<Result<String, String>, String>, what: &str) -> io::Result<ExitCode> {
    Ok(match result {
        Ok(Ok(msg)) => {
            outln!("{msg}")?;
            ExitCode::SUCCESS
        }
        Ok(Err(problem)) => {
            eprintln!("{problem}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("cannot read {what}: {e}");
            ExitCode::from(2)
        }
    })
}

const USAGE: &str = "usage: audit sqlite:PATH [--backup-to FILE] [--chain-key-file FILE]
       audit postgres:URL [--schema NAME] [--chain-key-file FILE]

Walks the hash chain of a mercato database, rebuilds every order and ledger
from its events and compares them with the snapshot, the stored read models,
the stream versions and the guard counters. Read-only: a missing database is
an error, nothing is created or changed.

  --backup-to FILE       first write an online backup of the SQLite database
                         to FILE (which must not exist), then audit the
                         original.
  --schema NAME          the PostgreSQL schema holding the store (default:
                         the connection's search_path).
  --chain-key-file FILE  the hex key of a log chained with HMAC-SHA256.

Examples:
  cargo run --release --example audit -- sqlite:/tmp/shop.db
  cargo run --release --example audit -- sqlite:/tmp/shop.db --chain-key-file /etc/mercato/chain.key
  cargo run --release --features postgres --example audit -- \\
      postgres:postgresql://postgres@127.0.0.1:5432/shop --schema mercato_flash_sale

PostgreSQL needs the `postgres` feature (`--features postgres`).

Exit status: 0 when everything holds, 1 on a broken link or mismatch, 2 when
the database cannot be opened.";

fn main() -> ExitCode {
    out::exit(run())
}

/// `audit postgres:URL [--schema NAME]` (after `--chain-key-file`).
#[cfg(feature = "postgres")]
fn audit_postgres(url: &str, rest: &[String], chain: Chain) -> io::Result<ExitCode> {
    let options = match rest {
        [] => PgOptions::default().chain(chain),
        [flag, schema] if flag == "--schema" => {
            PgOptions::default().schema(schema.clone()).chain(chain)
        }
        _ => {
            eprintln!("usage: audit postgres:URL [--schema NAME]");
            return Ok(ExitCode::from(2));
        }
    };
    match PgStore::open_read_only(url, options) {
        Ok(store) => report(audit(&store), "the database"),
        Err(e) => {
            eprintln!("cannot open the database: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Without the `postgres` feature: says how to build it.
#[cfg(not(feature = "postgres"))]
fn audit_postgres(_url: &str, _rest: &[String], _chain: Chain) -> io::Result<ExitCode> {
    eprintln!(
        "postgres:URL: this binary was built without the `postgres` feature; \
         build it with `--features postgres`"
    );
    Ok(ExitCode::from(2))
}

/// The audit; a write to stdout that fails (a reader that went away) ends
/// it.
fn run() -> io::Result<ExitCode> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        outln!("{USAGE}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut chain = Chain::sha256();
    if let Some(i) = args.iter().position(|a| a == "--chain-key-file") {
        let Some(file) = args.get(i + 1).cloned() else {
            eprintln!("{USAGE}");
            return Ok(ExitCode::from(2));
        };
        let key = std::fs::read_to_string(&file)
            .map_err(|e| StoreError::ChainKey(format!("{file}: {e}")))
            .and_then(|hex| ChainKey::from_hex(&hex));
        match key {
            Ok(k) => chain = Chain::hmac(k),
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(2));
            }
        }
        args.drain(i..i + 2);
    }
    if let Some(url) = args.first().and_then(|t| t.strip_prefix("postgres:")) {
        return audit_postgres(url, &args[1..], chain);
    }
    let (target, backup) = match args.as_slice() {
        [t] => (t.clone(), None),
        [t, flag, b] if flag == "--backup-to" => (t.clone(), Some(b.clone())),
        _ => {
            eprintln!("{USAGE}");
            return Ok(ExitCode::from(2));
        }
    };
    let Some(path) = target.strip_prefix("sqlite:") else {
        eprintln!("{USAGE}");
        return Ok(ExitCode::from(2));
    };
    // Read-only: a missing file is an error, never a new empty database.
    let store = match SqliteStore::open_read_only(path, SqliteOptions::default().chain(chain)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(b) = backup {
        match store.backup_to(&b) {
            Ok(()) => {}
            Err(mercato::store::StoreError::Exists { .. }) => {
                eprintln!("{b} exists: a backup never overwrites a file; choose a new name");
                return Ok(ExitCode::from(2));
            }
            Err(e) => {
                eprintln!("backup to {b} failed: {e}");
                return Ok(ExitCode::from(2));
            }
        }
        outln!("backup written to {b}")?;
    }
    report(audit(&store), path)
}
