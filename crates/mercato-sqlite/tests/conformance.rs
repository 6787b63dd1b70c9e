//! The shared conformance suite on SQLite, plus what only a file can show:
//! reopening, tampering through SQL, deletion, newer schemas, backups.

use std::sync::atomic::{AtomicUsize, Ordering};

use mercato_sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato_store::{Commit, NewEvent, Store, StoreError, conformance};

static N: AtomicUsize = AtomicUsize::new(0);

fn fresh_in(dir: &std::path::Path) -> SqliteStore {
    let n = N.fetch_add(1, Ordering::SeqCst);
    SqliteStore::open(
        dir.join(format!("t{n}.db")),
        SqliteOptions::default().synchronous(Synchronous::Normal),
    )
    .unwrap()
}

fn three_events(s: &SqliteStore) {
    let events = (1..=3)
        .map(|i| NewEvent::new("a", "k", format!("{{\"i\":{i}}}")))
        .collect();
    s.commit_batch(&[Commit {
        events,
        ..Commit::default()
    }])
    .unwrap();
}

#[test]
fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(|| fresh_in(dir.path()));
}

#[test]
fn sqlite_reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reopen.db");
    conformance::reopen_keeps_everything(|| {
        SqliteStore::open(&path, SqliteOptions::default()).unwrap()
    });
}

#[test]
fn tampering_through_sql_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    conformance::tamper_is_detected(&fresh_in(dir.path()), |s, seq| {
        s.execute_raw(&format!(
            "UPDATE events SET payload = '{{\"i\":99}}' WHERE seq = {seq}"
        ))
        .unwrap();
    });
    // One changed byte of a hash is detected too.
    let s = fresh_in(dir.path());
    three_events(&s);
    s.execute_raw("UPDATE events SET kind = 'x' WHERE seq = 3")
        .unwrap();
    assert_eq!(s.verify().unwrap().first_break.map(|b| b.0), Some(3));
}

#[test]
fn deleting_an_event_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    for victim in [1, 2, 3] {
        let s = fresh_in(dir.path());
        three_events(&s);
        s.execute_raw(&format!("DELETE FROM events WHERE seq = {victim}"))
            .unwrap();
        let r = s.verify().unwrap();
        assert!(!r.ok(), "deleting event {victim} must be detected");
    }
}

#[test]
fn newer_schema_is_refused_not_corrupted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    {
        let s = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        three_events(&s);
        s.execute_raw("INSERT INTO schema_version (version) VALUES (99)")
            .unwrap();
    }
    assert!(matches!(
        SqliteStore::open(&path, SqliteOptions::default()),
        Err(StoreError::SchemaTooNew {
            found: 99,
            supported: mercato_sqlite::SCHEMA_VERSION
        })
    ));
    let other = dir.path().join("other.db");
    conformance::newer_schema_is_refused(
        || SqliteStore::open(&other, SqliteOptions::default()),
        |s, v| {
            s.execute_raw(&format!(
                "INSERT INTO schema_version (version) VALUES ({v})"
            ))
            .unwrap();
        },
    );
}

/// Turns a current file into what an older schema version wrote: version 3
/// had no `also` column, sealed snapshots, chain record or `streams` table;
/// version 2 still had the `streams` table (kept in step with the events),
/// version 1 had no `guards` table either.
fn downgrade(s: &SqliteStore, to: i64) {
    s.execute_raw("DROP TABLE consumers").unwrap();
    for sql in [
        "DROP TABLE streams",
        "ALTER TABLE events DROP COLUMN also",
        "ALTER TABLE snapshots DROP COLUMN chain_hash",
        "ALTER TABLE snapshots DROP COLUMN seal",
        "DROP TABLE chain_meta",
        "INSERT INTO snapshots (id, seq, state) VALUES (1, 3, '{\"old\":\"unsealed\"}')",
    ] {
        s.execute_raw(sql).unwrap();
    }
    if to < 3 {
        s.execute_raw(
            "CREATE TABLE streams (stream TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID",
        )
        .unwrap();
        s.execute_raw(
            "INSERT INTO streams SELECT stream, MAX(stream_version) FROM events GROUP BY stream",
        )
        .unwrap();
    }
    if to < 2 {
        s.execute_raw("DROP TABLE guards").unwrap();
    }
    s.execute_raw(&format!("DELETE FROM schema_version WHERE version > {to}"))
        .unwrap();
}

#[test]
fn older_databases_are_migrated() {
    use mercato_store::{CommitOutcome, Guard};
    for from in [1, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("v{from}.db"));
        {
            let s = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
            three_events(&s);
            downgrade(&s, from);
            if from == 1 {
                assert!(s.guard("g").is_err(), "no guards table in version 1");
            }
        }
        let s = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        assert_eq!(s.head().unwrap(), 3, "the log survives the migration");
        assert!(s.verify().unwrap().ok());
        assert_eq!(
            s.stream_version("a").unwrap(),
            3,
            "versions come from the events"
        );
        assert_eq!(
            s.load_snapshot().unwrap(),
            None,
            "an unsealed snapshot of an older version is dropped"
        );
        assert_eq!(
            mercato_store::check_tail(&s).unwrap().0,
            3,
            "older logs are SHA-256 chained"
        );
        assert!(matches!(
            SqliteStore::open(&path, SqliteOptions::default().chain(key_chain())),
            Err(StoreError::ChainKey(_))
        ));
        assert_eq!(s.guard("g").unwrap(), 0);
        let out = s
            .commit_batch(&[Commit {
                expected: vec![("a".into(), 3)],
                events: vec![NewEvent {
                    also: vec!["b".into()],
                    ..NewEvent::new("a", "k", "{}")
                }],
                guards: vec![Guard {
                    key: "g".into(),
                    delta: 1,
                    max: Some(1),
                }],
                ..Commit::default()
            }])
            .unwrap();
        assert!(matches!(out[0], CommitOutcome::Committed { .. }));
        assert_eq!(s.guard("g").unwrap(), 1);
        assert_eq!(s.stream_version("a").unwrap(), 4);
        drop(s);
        // Reopening a migrated file migrates nothing again.
        let s = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        assert_eq!(s.guard("g").unwrap(), 1);
        assert_eq!(s.stream_version("a").unwrap(), 4);
        assert_eq!(s.stream_version("b").unwrap(), 1);
        assert!(s.verify().unwrap().ok());
    }
}

fn key_chain() -> mercato_store::Chain {
    mercato_store::Chain::hmac(
        mercato_store::ChainKey::new(*b"sqlite test key 0123456789").unwrap(),
    )
}

#[test]
fn chain_mode_is_recorded_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyed.db");
    conformance::chain_mode_is_recorded(|chain| {
        SqliteStore::open(&path, SqliteOptions::default().chain(chain))
    });
}

#[test]
fn damaged_tails_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    conformance::damaged_tail_is_refused(&fresh_in(dir.path()), |s, seq| {
        s.execute_raw(&format!("DELETE FROM events WHERE seq = {seq}"))
            .unwrap();
    });
    conformance::damaged_tail_is_refused(&fresh_in(dir.path()), |s, seq| {
        s.execute_raw(&format!(
            "UPDATE events SET payload = '{{\"i\":7}}' WHERE seq = {seq}"
        ))
        .unwrap();
    });
}

#[test]
fn online_backup_verifies_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let s = fresh_in(dir.path());
    three_events(&s);
    let copy = dir.path().join("backup.db");
    s.backup_to(&copy).unwrap();
    three_events(&s);
    let b = SqliteStore::open(&copy, SqliteOptions::default()).unwrap();
    assert_eq!(
        b.head().unwrap(),
        3,
        "the backup is the state at backup time"
    );
    assert!(b.verify().unwrap().ok());
}

#[test]
fn unopenable_path_is_an_error() {
    assert!(matches!(
        SqliteStore::open("/nonexistent-dir/x/y.db", SqliteOptions::default()),
        Err(StoreError::Open(_))
    ));
}

/// Two stores on one file (two connections, as two processes have).
#[test]
fn exclusive_commits_across_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let open = || {
        std::sync::Arc::new(
            SqliteStore::open(
                &path,
                SqliteOptions::default().synchronous(Synchronous::Normal),
            )
            .unwrap(),
        )
    };
    conformance::exclusive_commits_never_conflict(open(), open());
}

#[test]
fn sqlite_checkpoints_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.db");
    conformance::checkpoints_survive_reopen(|| {
        SqliteStore::open(&path, SqliteOptions::default()).unwrap()
    });
}

/// Version 4 had no `consumers` table: opening adds it (schema 5), the log
/// untouched, and acknowledgements work from then on.
#[test]
fn version_4_databases_get_consumer_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    {
        let s = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        three_events(&s);
        s.execute_raw("DROP TABLE consumers").unwrap();
        s.execute_raw("DELETE FROM schema_version WHERE version > 4")
            .unwrap();
        assert!(
            s.consumer_checkpoint("wms").is_err(),
            "no consumers table in version 4"
        );
    }
    let s = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(s.head().unwrap(), 3, "the log survives the migration");
    assert!(s.verify().unwrap().ok());
    assert_eq!(s.consumer_checkpoint("wms").unwrap(), None);
    assert_eq!(s.ack_consumer("wms", 2).unwrap(), 2);
    drop(s);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, mercato_sqlite::SCHEMA_VERSION);
    assert_eq!(version, 5);
    let s = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(s.consumer_checkpoint("wms").unwrap(), Some(2));
}
