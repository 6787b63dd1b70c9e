//! The shared conformance suite on a real PostgreSQL server (each check on
//! a fresh schema), plus what only a database shows: reopening, tampering
//! and deletion through SQL, newer schemas, bad URLs. The server is the one
//! in `MERCATO_PG_URL` or a private throwaway cluster; without PostgreSQL
//! these tests skip, saying so loudly (and fail with `MERCATO_REQUIRE_PG=1`).

use mercato_postgres::testing::TestCluster;
use mercato_postgres::{PgOptions, PgStore};
use mercato_store::{Commit, NewEvent, Store, StoreError, conformance};

/// The shared server, or `None` (the test returns at once) when there is
/// no PostgreSQL: see `TestCluster::shared_or_skip`.
fn cluster() -> Option<&'static TestCluster> {
    TestCluster::shared_or_skip()
}

fn fresh() -> PgStore {
    TestCluster::shared().fresh_store().unwrap()
}

fn three_events(s: &PgStore) {
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
fn postgres_store_conforms() {
    if cluster().is_none() {
        return;
    }
    conformance::run_all(fresh);
}

#[test]
fn postgres_reopen_keeps_everything() {
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    conformance::reopen_keeps_everything(|| {
        PgStore::open(c.url(), PgOptions::default().schema(schema.clone())).unwrap()
    });
}

#[test]
fn tampering_through_sql_is_detected() {
    if cluster().is_none() {
        return;
    }
    conformance::tamper_is_detected(&fresh(), |s, seq| {
        s.execute_raw(&format!(
            "UPDATE events SET payload = '{{\"i\":99}}' WHERE seq = {seq}"
        ))
        .unwrap();
    });
    let s = fresh();
    three_events(&s);
    s.execute_raw("UPDATE events SET kind = 'x' WHERE seq = 3")
        .unwrap();
    assert_eq!(s.verify().unwrap().first_break.map(|b| b.0), Some(3));
    // Rewriting an event together with its hash breaks the next link.
    let s = fresh();
    three_events(&s);
    let forged = mercato_store::event_hash(
        &s.read_from(0, 1).unwrap()[0].hash,
        2,
        "a",
        2,
        "k",
        "{\"i\":42}",
    );
    s.execute_raw(&format!(
        "UPDATE events SET payload = '{{\"i\":42}}', hash = '{forged}' WHERE seq = 2"
    ))
    .unwrap();
    assert_eq!(s.verify().unwrap().first_break.map(|b| b.0), Some(3));
}

#[test]
fn deleting_an_event_is_detected() {
    if cluster().is_none() {
        return;
    }
    for victim in [1, 2, 3] {
        let s = fresh();
        three_events(&s);
        s.execute_raw(&format!("DELETE FROM events WHERE seq = {victim}"))
            .unwrap();
        assert!(
            !s.verify().unwrap().ok(),
            "deleting event {victim} must be detected"
        );
    }
}

#[test]
fn newer_schema_is_refused() {
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    conformance::newer_schema_is_refused(
        || PgStore::open(c.url(), PgOptions::default().schema(schema.clone())),
        |s, v| {
            s.execute_raw(&format!(
                "INSERT INTO schema_version (version) VALUES ({v})"
            ))
            .unwrap();
        },
    );
}

#[test]
fn stores_in_two_schemas_are_separate() {
    if cluster().is_none() {
        return;
    }
    let a = fresh();
    let b = fresh();
    three_events(&a);
    assert_eq!(a.head().unwrap(), 3);
    assert_eq!(b.head().unwrap(), 0);
    assert_ne!(a.schema_name(), b.schema_name());
}

#[test]
fn bad_urls_and_schema_names_are_open_errors() {
    assert!(matches!(
        PgStore::open(
            "postgresql://u@127.0.0.1:1/x",
            PgOptions {
                connect_timeout: std::time::Duration::from_millis(500),
                ..PgOptions::default()
            }
        ),
        Err(StoreError::Open(_))
    ));
    assert!(matches!(
        PgStore::open("not a url ===", PgOptions::default()),
        Err(StoreError::Open(_))
    ));
    // A bad schema name is refused by a live server.
    let Some(c) = cluster() else { return };
    assert!(matches!(
        PgStore::open(c.url(), PgOptions::default().schema("x; DROP TABLE y")),
        Err(StoreError::Open(_))
    ));
}

#[test]
fn a_big_batch_is_one_transaction() {
    if cluster().is_none() {
        return;
    }
    let s = fresh();
    let commits: Vec<Commit> = (0..500)
        .map(|i| Commit {
            expected: vec![(format!("o{i}"), 0), ("shared".into(), i)],
            events: vec![
                NewEvent::new(format!("o{i}"), "k", format!("{{\"i\":{i}}}")),
                NewEvent::new("shared", "k", "{}"),
            ],
            ..Commit::default()
        })
        .collect();
    let out = s.commit_batch(&commits).unwrap();
    assert!(
        out.iter()
            .all(|o| matches!(o, mercato_store::CommitOutcome::Committed { .. }))
    );
    assert_eq!(s.head().unwrap(), 1000);
    assert_eq!(s.stream_version("shared").unwrap(), 500);
    assert!(s.verify().unwrap().ok());
}

#[test]
fn two_stores_on_one_schema_serialize_on_the_chain_head() {
    use mercato_store::{CommitOutcome, Guard};
    use std::sync::Arc;
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    let open =
        || Arc::new(PgStore::open(c.url(), PgOptions::default().schema(schema.clone())).unwrap());
    // Two stores: two writer connections, as two processes would have.
    let stores = [open(), open()];
    let max = 50_i64;
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let s = Arc::clone(&stores[t % 2]);
            std::thread::spawn(move || {
                let mut won = 0_i64;
                for i in 0..30 {
                    let out = s
                        .commit_batch(&[Commit {
                            events: vec![NewEvent::new(
                                format!("own{t}"),
                                "k",
                                format!("{{\"i\":{i}}}"),
                            )],
                            guards: vec![Guard {
                                key: "hot".into(),
                                delta: 1,
                                max: Some(max),
                            }],
                            ..Commit::default()
                        }])
                        .unwrap();
                    match &out[0] {
                        CommitOutcome::Committed { .. } => won += 1,
                        CommitOutcome::LimitExceeded { current, .. } => assert_eq!(*current, max),
                        other => panic!("{other:?}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: i64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(won, max, "exactly max moves land across two connections");
    assert_eq!(stores[0].guard("hot").unwrap(), max);
    assert_eq!(stores[1].head().unwrap(), 50);
    assert!(
        stores[1].verify().unwrap().ok(),
        "no gap, no fork in the chain"
    );
}

#[test]
fn chain_mode_is_recorded_in_the_schema() {
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    conformance::chain_mode_is_recorded(|chain| {
        PgStore::open(
            c.url(),
            PgOptions::default().schema(schema.clone()).chain(chain),
        )
    });
}

#[test]
fn damaged_tails_are_refused() {
    if cluster().is_none() {
        return;
    }
    conformance::damaged_tail_is_refused(&fresh(), |s, seq| {
        s.execute_raw(&format!("DELETE FROM events WHERE seq = {seq}"))
            .unwrap();
    });
    conformance::damaged_tail_is_refused(&fresh(), |s, seq| {
        s.execute_raw(&format!(
            "UPDATE events SET payload = '{{\"i\":7}}' WHERE seq = {seq}"
        ))
        .unwrap();
    });
}

/// A schema written by version 1 (no `also`, unsealed snapshots, no chain
/// record) is migrated when opened: the log verifies, the unsealed snapshot
/// is dropped, the log is recorded as SHA-256 chained, and events with
/// further streams can be appended.
#[test]
fn version_1_schemas_are_migrated() {
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    let open = |chain: mercato_store::Chain| {
        PgStore::open(
            c.url(),
            PgOptions::default().schema(schema.clone()).chain(chain),
        )
    };
    {
        let s = open(mercato_store::Chain::sha256()).unwrap();
        three_events(&s);
        for sql in [
            "ALTER TABLE events DROP COLUMN also",
            "ALTER TABLE snapshots DROP COLUMN chain_hash",
            "ALTER TABLE snapshots DROP COLUMN seal",
            "DROP TABLE chain_meta",
            "INSERT INTO snapshots (id, seq, state) VALUES (1, 3, '{}')",
            "DELETE FROM schema_version WHERE version > 1",
        ] {
            s.execute_raw(sql).unwrap();
        }
    }
    let key = mercato_store::ChainKey::new(*b"postgres test key 0123456789").unwrap();
    assert!(matches!(
        open(mercato_store::Chain::hmac(key)),
        Err(StoreError::ChainKey(_))
    ));
    let s = open(mercato_store::Chain::sha256()).unwrap();
    assert!(s.verify().unwrap().ok());
    assert_eq!(s.load_snapshot().unwrap(), None);
    assert_eq!(mercato_store::check_tail(&s).unwrap().0, 3);
    let out = s
        .commit_batch(&[Commit {
            expected: vec![("a".into(), 3)],
            events: vec![NewEvent {
                also: vec!["b".into()],
                ..NewEvent::new("a", "k", "{}")
            }],
            ..Commit::default()
        }])
        .unwrap();
    assert!(matches!(
        out[0],
        mercato_store::CommitOutcome::Committed { .. }
    ));
    assert_eq!(s.stream_version("b").unwrap(), 1);
    assert!(s.verify().unwrap().ok());
}

/// Two stores on one schema (two writer connections, as two processes).
#[test]
fn exclusive_commits_across_connections() {
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    let open = || {
        std::sync::Arc::new(
            PgStore::open(c.url(), PgOptions::default().schema(schema.clone())).unwrap(),
        )
    };
    conformance::exclusive_commits_never_conflict(open(), open());
}

#[test]
fn postgres_checkpoints_survive_reopen() {
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    conformance::checkpoints_survive_reopen(|| {
        PgStore::open(c.url(), PgOptions::default().schema(schema.clone())).unwrap()
    });
}

/// A version 2 schema (no `consumers`, no notify trigger) is brought to
/// version 3 on open, its log untouched; acks and wake-ups work then.
#[test]
fn version_2_schemas_get_consumers_and_notifications() {
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    let open = || PgStore::open(c.url(), PgOptions::default().schema(schema.clone())).unwrap();
    {
        let s = open();
        three_events(&s);
        for sql in [
            "DROP TABLE consumers",
            "DROP TRIGGER mercato_notify_append ON chain_head",
            "DROP FUNCTION mercato_notify_append()",
            "DELETE FROM schema_version WHERE version > 2",
        ] {
            s.execute_raw(sql).unwrap();
        }
        assert!(
            s.consumer_checkpoint("wms").is_err(),
            "no table in version 2"
        );
    }
    let s = open();
    assert_eq!(s.head().unwrap(), 3);
    assert!(s.verify().unwrap().ok());
    assert_eq!(s.ack_consumer("wms", 3).unwrap(), 3);
    // The trigger is back: a waiter on another store wakes on an append.
    let other = open();
    let t = std::thread::spawn(move || {
        other
            .wait_for_append(3, std::time::Duration::from_secs(20))
            .unwrap()
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    three_events(&s);
    assert_eq!(t.join().unwrap(), Some(6));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// A waiter on one store (one process's connection) is woken by another
/// store's append through `LISTEN/NOTIFY`, well before its timeout, and a
/// wait with nothing new returns the head after the timeout.
#[test]
fn waiters_wake_on_appends_of_other_stores() {
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    let open = || PgStore::open(c.url(), PgOptions::default().schema(schema.clone())).unwrap();
    let (a, b) = (open(), open());
    let t0 = std::time::Instant::now();
    assert_eq!(
        a.wait_for_append(0, std::time::Duration::from_millis(300))
            .unwrap(),
        Some(0)
    );
    assert!(t0.elapsed() >= std::time::Duration::from_millis(300));
    let waiter = std::thread::spawn(move || {
        let t = std::time::Instant::now();
        let head = a
            .wait_for_append(0, std::time::Duration::from_secs(30))
            .unwrap();
        (head, t.elapsed())
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    three_events(&b);
    let (head, waited) = waiter.join().unwrap();
    assert_eq!(head, Some(3));
    assert!(
        waited < std::time::Duration::from_secs(5),
        "woken by NOTIFY, not by the timeout: {waited:?}"
    );
}
