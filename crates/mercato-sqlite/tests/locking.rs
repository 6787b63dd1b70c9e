//! Opening never destroys: stores share a file through a shared lock on
//! `<db>.lock`; replacing a database is refused while any store (in this
//! process or another) has it open; `create_new` refuses an existing file,
//! `open_read_only` a missing one; a backup never overwrites.
//!
//! The other process is this same test binary, started with
//! `MERCATO_SQLITE_HOLDER` set: it opens the store, prints `ready` and
//! keeps it open until its stdin closes.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use mercato_sqlite::{SqliteOptions, SqliteStore};
use mercato_store::{Commit, NewEvent, Store, StoreError};

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

fn with_three(path: &Path) -> SqliteStore {
    let s = SqliteStore::open(path, SqliteOptions::default()).unwrap();
    three_events(&s);
    s
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn two_stores_share_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let a = with_three(&path);
    let b = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(
        b.head().unwrap(),
        3,
        "the second store sees the first's events"
    );
    three_events(&b);
    assert_eq!(a.head().unwrap(), 6, "and the first sees the second's");
    assert!(SqliteStore::lock_path(&path).is_file());
}

#[test]
fn create_fresh_is_refused_while_another_store_has_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let holder = with_three(&path);
    match SqliteStore::create_fresh(&path, SqliteOptions::default()) {
        Err(StoreError::InUse { what }) => assert!(what.contains("shop.db"), "{what}"),
        other => panic!("expected InUse, got {:?}", other.map(|_| ())),
    }
    assert!(matches!(
        SqliteStore::remove_database(&path),
        Err(StoreError::InUse { .. })
    ));
    assert_eq!(holder.head().unwrap(), 3, "the holder's data stays");
    assert!(holder.verify().unwrap().ok());
    // A read-only store holds the file as well.
    drop(holder);
    let reader = SqliteStore::open_read_only(&path, SqliteOptions::default()).unwrap();
    assert!(matches!(
        SqliteStore::create_fresh(&path, SqliteOptions::default()),
        Err(StoreError::InUse { .. })
    ));
    drop(reader);
    let again = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(again.head().unwrap(), 3, "refusals changed nothing");
}

#[test]
fn create_fresh_replaces_a_database_nobody_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    drop(with_three(&path));
    let s = SqliteStore::create_fresh(&path, SqliteOptions::default()).unwrap();
    assert_eq!(s.head().unwrap(), 0, "a new, empty database");
    three_events(&s);
    assert!(s.verify().unwrap().ok());
    // And it holds the file like any other store.
    assert!(matches!(
        SqliteStore::create_fresh(&path, SqliteOptions::default()),
        Err(StoreError::InUse { .. })
    ));
}

#[test]
fn create_fresh_never_removes_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "my notes, not a database\n").unwrap();
    assert!(matches!(
        SqliteStore::create_fresh(&path, SqliteOptions::default()),
        Err(StoreError::Open(_))
    ));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "my notes, not a database\n"
    );
}

#[test]
fn create_new_refuses_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    drop(with_three(&path));
    match SqliteStore::create_new(&path, SqliteOptions::default()) {
        Err(StoreError::Exists { what }) => assert!(what.contains("shop.db"), "{what}"),
        other => panic!("expected Exists, got {:?}", other.map(|_| ())),
    }
    let s = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(s.head().unwrap(), 3);
    // A new path works, and is a mercato database.
    let other = dir.path().join("other.db");
    let n = SqliteStore::create_new(&other, SqliteOptions::default()).unwrap();
    three_events(&n);
    assert_eq!(n.head().unwrap(), 3);
}

#[test]
fn open_read_only_never_creates_or_writes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    assert!(matches!(
        SqliteStore::open_read_only(&missing, SqliteOptions::default()),
        Err(StoreError::Open(_))
    ));
    assert!(
        files_in(dir.path()).is_empty(),
        "nothing created: {:?}",
        files_in(dir.path())
    );

    let path = dir.path().join("shop.db");
    drop(with_three(&path));
    let before = std::fs::read(&path).unwrap();
    let r = SqliteStore::open_read_only(&path, SqliteOptions::default()).unwrap();
    assert_eq!(r.head().unwrap(), 3);
    assert!(r.verify().unwrap().ok());
    assert!(r.execute_raw("DELETE FROM events").is_err(), "no writes");
    assert!(
        r.commit_batch(&[Commit {
            events: vec![NewEvent::new("b", "k", "{}")],
            ..Commit::default()
        }])
        .is_err()
    );
    drop(r);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is unchanged"
    );

    // An SQLite file that is not a mercato store is refused, untouched.
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER)")
        .unwrap();
    assert!(matches!(
        SqliteStore::open_read_only(&foreign, SqliteOptions::default()),
        Err(StoreError::Open(_))
    ));
}

#[test]
fn open_read_only_does_not_migrate_an_older_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    {
        let s = with_three(&path);
        s.execute_raw("DELETE FROM schema_version WHERE version > 2")
            .unwrap();
    }
    let r = SqliteStore::open_read_only(&path, SqliteOptions::default()).unwrap();
    assert_eq!(r.head().unwrap(), 3);
    drop(r);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2, "reading did not migrate");
}

#[test]
fn a_backup_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = with_three(&dir.path().join("shop.db"));
    let dest = dir.path().join("precious.db");
    std::fs::write(&dest, "precious").unwrap();
    assert!(matches!(s.backup_to(&dest), Err(StoreError::Exists { .. })));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "precious");
}

#[test]
fn holder_child() {
    // Does nothing unless started by `another_process_holding_the_file_blocks_replacing_it`.
    if let Ok(path) = std::env::var("MERCATO_SQLITE_HOLDER") {
        let s = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        println!("@@ ready {}", s.head().unwrap());
        let mut rest = String::new();
        let _ = std::io::stdin().read_to_string(&mut rest);
    }
}

#[test]
fn another_process_holding_the_file_blocks_replacing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    drop(with_three(&path));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "holder_child", "--nocapture", "--test-threads=1"])
        .env("MERCATO_SQLITE_HOLDER", &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("the child's output").unwrap();
        if let Some(at) = line.find("@@ ready ") {
            assert_eq!(&line[at + 9..], "3");
            break;
        }
    }
    assert!(matches!(
        SqliteStore::create_fresh(&path, SqliteOptions::default()),
        Err(StoreError::InUse { .. })
    ));
    // Opening alongside it is fine (shared).
    assert_eq!(
        SqliteStore::open(&path, SqliteOptions::default())
            .unwrap()
            .head()
            .unwrap(),
        3
    );
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    // Once it is gone, the file can be replaced.
    let s = SqliteStore::create_fresh(&path, SqliteOptions::default()).unwrap();
    assert_eq!(s.head().unwrap(), 0);
}
