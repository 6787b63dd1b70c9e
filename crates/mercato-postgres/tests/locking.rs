//! Opening never destroys: every store holds a shared advisory lock on its
//! schema; `open_fresh` is refused while another store (another session,
//! as another process would have) has the schema open, and drops nothing;
//! `create_new` refuses an existing schema; `open_read_only` creates
//! nothing and writes nothing. On the shared throwaway cluster (or
//! `MERCATO_PG_URL`).

use mercato_postgres::testing::TestCluster;
use mercato_postgres::{PgOptions, PgStore};
use mercato_store::{Commit, NewEvent, Store, StoreError};

/// The shared server, or `None` (the test returns at once) when there is
/// no PostgreSQL: see `TestCluster::shared_or_skip`.
fn cluster() -> Option<&'static TestCluster> {
    TestCluster::shared_or_skip()
}

fn options(schema: &str) -> PgOptions {
    PgOptions::default().schema(schema)
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

fn schema_exists(schema: &str) -> bool {
    let mut c = postgres::Client::connect(TestCluster::shared().url(), postgres::NoTls).unwrap();
    c.query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
        .unwrap()
        .is_some()
}

#[test]
fn open_fresh_is_refused_while_another_store_has_the_schema() {
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    let holder = PgStore::open(c.url(), options(&schema)).unwrap();
    three_events(&holder);
    // A second store on the same schema opens fine (shared).
    let second = PgStore::open(c.url(), options(&schema)).unwrap();
    assert_eq!(second.head().unwrap(), 3);
    match PgStore::open_fresh(c.url(), options(&schema)) {
        Err(StoreError::InUse { what }) => assert!(what.contains(&schema), "{what}"),
        other => panic!("expected InUse, got {other:?}"),
    }
    drop(second);
    assert!(matches!(
        PgStore::open_fresh(c.url(), options(&schema)),
        Err(StoreError::InUse { .. })
    ));
    assert_eq!(holder.head().unwrap(), 3, "the holder's data stays");
    assert!(holder.verify().unwrap().ok());
    // Once the last store is dropped, the schema can be replaced at once.
    drop(holder);
    let fresh = PgStore::open_fresh(c.url(), options(&schema)).unwrap();
    assert_eq!(fresh.head().unwrap(), 0, "a new, empty store");
    three_events(&fresh);
    // And the fresh store holds the schema like any other.
    assert!(matches!(
        PgStore::open_fresh(c.url(), options(&schema)),
        Err(StoreError::InUse { .. })
    ));
    assert_eq!(fresh.head().unwrap(), 3);
}

#[test]
fn a_read_only_store_holds_the_schema_too() {
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    three_events(&PgStore::open(c.url(), options(&schema)).unwrap());
    let reader = PgStore::open_read_only(c.url(), options(&schema)).unwrap();
    assert!(matches!(
        PgStore::open_fresh(c.url(), options(&schema)),
        Err(StoreError::InUse { .. })
    ));
    assert_eq!(reader.head().unwrap(), 3);
}

#[test]
fn stores_of_other_schemas_do_not_block_each_other() {
    let Some(c) = cluster() else { return };
    let a = c.fresh_schema_name();
    let b = c.fresh_schema_name();
    let _held = PgStore::open(c.url(), options(&a)).unwrap();
    let fresh = PgStore::open_fresh(c.url(), options(&b)).unwrap();
    assert_eq!(fresh.head().unwrap(), 0);
}

#[test]
fn create_new_refuses_an_existing_schema() {
    let Some(c) = cluster() else { return };
    let schema = c.fresh_schema_name();
    let s = PgStore::create_new(c.url(), options(&schema)).unwrap();
    three_events(&s);
    drop(s);
    match PgStore::create_new(c.url(), options(&schema)) {
        Err(StoreError::Exists { what }) => assert!(what.contains(&schema), "{what}"),
        other => panic!("expected Exists, got {other:?}"),
    }
    let s = PgStore::open(c.url(), options(&schema)).unwrap();
    assert_eq!(s.head().unwrap(), 3, "refusing changed nothing");
    assert!(matches!(
        PgStore::create_new(c.url(), PgOptions::default()),
        Err(StoreError::Open(_))
    ));
}

#[test]
fn open_read_only_creates_nothing_and_writes_nothing() {
    let Some(c) = cluster() else { return };
    let missing = c.fresh_schema_name();
    assert!(matches!(
        PgStore::open_read_only(c.url(), options(&missing)),
        Err(StoreError::Open(_))
    ));
    assert!(!schema_exists(&missing), "no schema was created");

    let schema = c.fresh_schema_name();
    three_events(&PgStore::open(c.url(), options(&schema)).unwrap());
    let r = PgStore::open_read_only(c.url(), options(&schema)).unwrap();
    assert_eq!(r.head().unwrap(), 3);
    assert!(r.verify().unwrap().ok());
    assert!(
        r.commit_batch(&[Commit {
            events: vec![NewEvent::new("b", "k", "{}")],
            ..Commit::default()
        }])
        .is_err(),
        "a read-only store cannot write"
    );
    assert!(r.execute_raw("DELETE FROM events").is_err());
    assert_eq!(r.head().unwrap(), 3);

    // A schema without a mercato store is refused, untouched.
    let other = c.fresh_schema_name();
    let mut admin = postgres::Client::connect(c.url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {other}; CREATE TABLE {other}.t (x INT)"
        ))
        .unwrap();
    assert!(matches!(
        PgStore::open_read_only(c.url(), options(&other)),
        Err(StoreError::Open(_))
    ));
    let tables: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
            &[&other],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "nothing was created in it");
}
