//! The conformance suite: one set of checks every [`Store`] adapter must
//! pass. An adapter's tests call [`run_all`] with a factory that opens a
//! fresh, empty store (and, for [`reopen_keeps_everything`], a way to reopen
//! the same one).
//!
//! Each check panics with a message naming what failed, as tests do.

use std::sync::Arc;

use crate::Store;
use crate::types::{Commit, CommitOutcome, IdempotencyRecord, NewEvent, ReadModel, ReadModelRow};

fn ev(stream: &str, n: usize) -> NewEvent {
    NewEvent {
        stream: stream.to_string(),
        kind: "test.v1".to_string(),
        payload: format!("{{\"n\":{n},\"text\":\"héllo \\\"quoted\\\"\"}}"),
    }
}

fn commit(expected: &[(&str, u64)], events: Vec<NewEvent>) -> Commit {
    Commit {
        expected: expected
            .iter()
            .map(|(s, v)| ((*s).to_string(), *v))
            .collect(),
        events,
        idempotency: None,
        read_models: Vec::new(),
    }
}

fn one<S: Store + ?Sized>(store: &S, c: Commit) -> CommitOutcome {
    let mut out = store.commit_batch(&[c]).expect("commit_batch");
    assert_eq!(out.len(), 1, "one outcome per commit");
    out.remove(0)
}

/// Append and read back: order, seq, stream versions, payload bytes.
pub fn append_and_read<S: Store + ?Sized>(store: &S) {
    assert_eq!(store.head().unwrap(), 0);
    let out = one(
        store,
        commit(&[("a", 0)], vec![ev("a", 1), ev("b", 2), ev("a", 3)]),
    );
    assert_eq!(out, CommitOutcome::Committed { first: 1, last: 3 });
    assert_eq!(store.head().unwrap(), 3);
    let all = store.read_from(0, 100).unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(all[2].payload, ev("a", 3).payload, "payload bytes survive");
    assert_eq!(all[2].stream_version, 2);
    assert_eq!(store.read_from(1, 1).unwrap()[0].seq, 2, "paging");
    let a = store.read_stream("a").unwrap();
    assert_eq!(
        a.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(store.stream_version("a").unwrap(), 2);
    assert_eq!(store.stream_version("nothing").unwrap(), 0);
    assert!(store.verify().unwrap().ok());
}

/// A stale expected version is refused and stores nothing; other commits of
/// the same batch still go through and see the ones before them.
pub fn version_conflicts<S: Store + ?Sized>(store: &S) {
    one(store, commit(&[("s", 0)], vec![ev("s", 1)]));
    let out = store
        .commit_batch(&[
            commit(&[("s", 0)], vec![ev("s", 2)]),
            commit(&[("s", 1)], vec![ev("s", 3)]),
            commit(&[("s", 1)], vec![ev("s", 4)]),
        ])
        .unwrap();
    assert_eq!(
        out[0],
        CommitOutcome::Conflict {
            stream: "s".into(),
            expected: 0,
            actual: 1
        }
    );
    assert_eq!(out[1], CommitOutcome::Committed { first: 2, last: 2 });
    assert!(
        matches!(out[2], CommitOutcome::Conflict { actual: 2, .. }),
        "sees the commit before it"
    );
    assert_eq!(store.head().unwrap(), 2);
    assert!(store.verify().unwrap().ok());
}

/// An idempotency key is stored with its commit; a second commit with the
/// same key stores nothing and returns the first record.
pub fn idempotency<S: Store + ?Sized>(store: &S) {
    let rec = IdempotencyRecord {
        key: "k1".into(),
        request_hash: "h1".into(),
        response: "{\"ok\":1}".into(),
    };
    let mut c = commit(&[], vec![ev("x", 1)]);
    c.idempotency = Some(rec.clone());
    assert!(matches!(
        one(store, c.clone()),
        CommitOutcome::Committed { .. }
    ));
    assert_eq!(store.idempotency("k1").unwrap(), Some(rec.clone()));
    let mut c2 = c.clone();
    c2.idempotency = Some(IdempotencyRecord {
        request_hash: "other".into(),
        ..rec.clone()
    });
    assert_eq!(
        one(store, c2),
        CommitOutcome::DuplicateKey { existing: rec }
    );
    assert_eq!(
        store.head().unwrap(),
        1,
        "nothing appended for a repeated key"
    );
    assert_eq!(store.idempotency("nope").unwrap(), None);
}

/// Snapshots and read models round-trip; the latest snapshot wins.
pub fn snapshots_and_read_models<S: Store + ?Sized>(store: &S) {
    assert_eq!(store.load_snapshot().unwrap(), None);
    store.save_snapshot(5, "{\"state\":1}").unwrap();
    store.save_snapshot(9, "{\"state\":2}").unwrap();
    assert_eq!(
        store.load_snapshot().unwrap(),
        Some((9, "{\"state\":2}".into()))
    );
    let mut c = commit(&[], vec![]);
    c.read_models = vec![
        ReadModelRow {
            model: ReadModel::Stock,
            key: "tea".into(),
            value: "{\"on_hand\":3}".into(),
        },
        ReadModelRow {
            model: ReadModel::Stock,
            key: "tea".into(),
            value: "{\"on_hand\":4}".into(),
        },
        ReadModelRow {
            model: ReadModel::Order,
            key: "o1".into(),
            value: "{}".into(),
        },
    ];
    one(store, c);
    assert_eq!(
        store.read_model(ReadModel::Stock, "tea").unwrap(),
        Some("{\"on_hand\":4}".into())
    );
    assert_eq!(store.read_model(ReadModel::Coupon, "tea").unwrap(), None);
    assert_eq!(
        store.read_models(ReadModel::Order).unwrap(),
        vec![("o1".into(), "{}".into())]
    );
}

/// Several threads appending to their own and a shared stream: every
/// commit either lands or conflicts, seqs have no gaps, the chain verifies,
/// and a shared stream's versions are exactly its accepted commits.
pub fn concurrent_appends<S: Store + 'static>(store: Arc<S>) {
    let threads = 4;
    let per = 50;
    let mut handles = Vec::new();
    for t in 0..threads {
        let s = Arc::clone(&store);
        handles.push(std::thread::spawn(move || {
            let mut won = 0_u64;
            for i in 0..per {
                let v = s.stream_version("shared").unwrap();
                let out = s
                    .commit_batch(&[commit(
                        &[("shared", v)],
                        vec![ev("shared", i), ev(&format!("own{t}"), i)],
                    )])
                    .unwrap();
                if matches!(out[0], CommitOutcome::Committed { .. }) {
                    won += 1;
                }
            }
            won
        }));
    }
    let won: u64 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert!(
        won >= per as u64,
        "at least one thread's worth of commits lands"
    );
    assert_eq!(store.stream_version("shared").unwrap(), won);
    assert_eq!(store.head().unwrap(), won * 2);
    let all = store.read_from(0, usize::MAX).unwrap();
    assert!(
        all.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1),
        "no gaps"
    );
    assert!(store.verify().unwrap().ok());
}

/// Verification finds a changed payload.
pub fn tamper_is_detected<S: Store + ?Sized>(store: &S, tamper: impl FnOnce(&S, u64)) {
    one(store, commit(&[], vec![ev("a", 1), ev("a", 2), ev("a", 3)]));
    assert!(store.verify().unwrap().ok());
    tamper(store, 2);
    let r = store.verify().unwrap();
    assert_eq!(
        r.first_break.map(|b| b.0),
        Some(2),
        "the changed event is named"
    );
}

/// After the store is dropped and reopened, everything is still there.
pub fn reopen_keeps_everything<S: Store>(open: impl Fn() -> S) {
    {
        let s = open();
        let mut c = commit(&[("r", 0)], vec![ev("r", 1), ev("r", 2)]);
        c.idempotency = Some(IdempotencyRecord {
            key: "kk".into(),
            request_hash: "h".into(),
            response: "r".into(),
        });
        c.read_models = vec![ReadModelRow {
            model: ReadModel::Balance,
            key: "u1".into(),
            value: "10".into(),
        }];
        one(&s, c);
        s.save_snapshot(2, "snap").unwrap();
    }
    let s = open();
    assert_eq!(s.head().unwrap(), 2);
    assert_eq!(s.stream_version("r").unwrap(), 2);
    assert!(s.idempotency("kk").unwrap().is_some());
    assert_eq!(
        s.read_model(ReadModel::Balance, "u1").unwrap(),
        Some("10".into())
    );
    assert_eq!(s.load_snapshot().unwrap(), Some((2, "snap".into())));
    assert!(s.verify().unwrap().ok());
    assert!(matches!(
        one(&s, commit(&[("r", 2)], vec![ev("r", 3)])),
        CommitOutcome::Committed { first: 3, last: 3 }
    ));
    assert!(s.verify().unwrap().ok());
}

/// Runs every check that needs only fresh stores.
pub fn run_all<S: Store + 'static>(fresh: impl Fn() -> S) {
    append_and_read(&fresh());
    version_conflicts(&fresh());
    idempotency(&fresh());
    snapshots_and_read_models(&fresh());
    concurrent_appends(Arc::new(fresh()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[test]
    fn memory_store_conforms() {
        run_all(MemoryStore::new);
        tamper_is_detected(&MemoryStore::new(), |s, seq| s.tamper(seq, "{}").unwrap());
    }

    #[test]
    fn memory_store_detects_deletion() {
        let s = MemoryStore::new();
        one(&s, commit(&[], vec![ev("a", 1), ev("a", 2), ev("a", 3)]));
        s.delete(3).unwrap();
        assert!(
            !s.verify().unwrap().ok(),
            "a deleted last event is detected by the head"
        );
        let s = MemoryStore::new();
        one(&s, commit(&[], vec![ev("a", 1), ev("a", 2), ev("a", 3)]));
        s.delete(2).unwrap();
        assert_eq!(s.verify().unwrap().first_break.map(|b| b.0), Some(2));
    }
}
