//! The conformance suite: one set of checks every [`Store`] adapter must
//! pass. An adapter's tests call [`run_all`] with a factory that opens a
//! fresh, empty store (and, for [`reopen_keeps_everything`], a way to reopen
//! the same one).
//!
//! Each check panics with a message naming what failed, as tests do.

use std::sync::Arc;

use crate::chain::{Chain, check_snapshot, check_tail, snapshot_record};
use crate::types::{
    Commit, CommitOutcome, Guard, IdempotencyRecord, NewEvent, ReadModel, ReadModelRow,
    ReplayEntry, ReplayPage,
};
use crate::{Store, StoreError};

fn ev(stream: &str, n: usize) -> NewEvent {
    NewEvent::new(
        stream,
        "test.v1",
        format!("{{\"n\":{n},\"text\":\"héllo \\\"quoted\\\"\"}}"),
    )
}

fn ev_also(stream: &str, also: &[&str], n: usize) -> NewEvent {
    NewEvent {
        also: also.iter().map(|s| (*s).to_string()).collect(),
        ..ev(stream, n)
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
        guards: Vec::new(),
    }
}

fn guard(key: &str, delta: i64, max: Option<i64>) -> Guard {
    Guard {
        key: key.to_string(),
        delta,
        max,
    }
}

fn guarded(events: Vec<NewEvent>, guards: Vec<Guard>) -> Commit {
    Commit {
        guards,
        ..commit(&[], events)
    }
}

fn one<S: Store + ?Sized>(store: &S, c: Commit) -> CommitOutcome {
    let mut out = store.commit_batch(&[c]).expect("commit_batch");
    assert_eq!(out.len(), 1, "one outcome per commit");
    out.remove(0)
}

/// Append and read back: order, seq, stream versions, payload bytes, and
/// the entries a replay reads.
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
    let entries: Vec<ReplayEntry> = all.iter().cloned().map(ReplayEntry::from).collect();
    assert_eq!(
        store.read_payloads(0, 100).unwrap(),
        entries,
        "replay reads"
    );
    assert_eq!(
        store.read_payloads(1, 1).unwrap(),
        entries[1..2],
        "replay paging"
    );
    assert!(store.read_payloads(3, 10).unwrap().is_empty());
    let mut page = ReplayPage::new();
    store.read_replay_page(0, 100, &mut page).unwrap();
    assert_eq!(page.to_entries(), entries, "replay pages");
    store.read_replay_page(1, 1, &mut page).unwrap();
    assert_eq!(
        page.to_entries(),
        entries[1..2],
        "a page read again is replaced, not appended to"
    );
    store.read_replay_page(3, 10, &mut page).unwrap();
    assert!(page.is_empty(), "nothing after the head");
    assert_eq!(store.read_from(1, 1).unwrap()[0].seq, 2, "paging");
    let a = store.read_stream("a").unwrap();
    assert_eq!(
        a.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(store.stream_version("a").unwrap(), 2);
    assert_eq!(store.stream_version("nothing").unwrap(), 0);
    assert!(store.verify().unwrap().ok());
    assert_eq!(check_tail(store).unwrap().0, 3);
}

/// An event that belongs to further streams (`also`) moves each of their
/// versions; they are stored with it, read back for replays, covered by the
/// chain, and a commit that read one of those streams at an older version
/// is refused.
pub fn events_in_several_streams<S: Store + ?Sized>(store: &S) {
    one(store, commit(&[], vec![ev("sku/a", 1)]));
    let out = one(
        store,
        commit(
            &[("sku/a", 1), ("sku/b", 0)],
            vec![ev_also("order/o1", &["sku/a", "sku/b"], 2)],
        ),
    );
    assert_eq!(out, CommitOutcome::Committed { first: 2, last: 2 });
    assert_eq!(store.stream_version("sku/a").unwrap(), 2);
    assert_eq!(store.stream_version("sku/b").unwrap(), 1);
    assert_eq!(store.stream_version("order/o1").unwrap(), 1);
    let e = &store.read_from(1, 1).unwrap()[0];
    assert_eq!(e.also, ["sku/a", "sku/b"]);
    assert_eq!(e.stream_version, 1, "the home stream's version");
    assert_eq!(
        store.read_payloads(1, 1).unwrap()[0].also,
        ["sku/a", "sku/b"]
    );
    let mut page = ReplayPage::new();
    store.read_replay_page(0, 10, &mut page).unwrap();
    // Against the whole events (`read_from`), a path of its own in every
    // adapter (their `read_payloads` goes through the page).
    let whole: Vec<ReplayEntry> = store
        .read_from(0, 10)
        .unwrap()
        .into_iter()
        .map(ReplayEntry::from)
        .collect();
    assert_eq!(page.to_entries(), whole);
    let rows: Vec<_> = page.iter().collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].also().count(),
        0,
        "the first event has no further stream"
    );
    assert_eq!(
        rows[1].streams().collect::<Vec<_>>(),
        ["order/o1", "sku/a", "sku/b"],
        "home stream first, then the further streams in stored order"
    );
    assert_eq!(
        store.read_stream("sku/b").unwrap().len(),
        0,
        "read_stream lists home events only"
    );
    // A single-SKU event read sku/a before the order above: refused.
    assert_eq!(
        one(store, commit(&[("sku/a", 1)], vec![ev("sku/a", 3)])),
        CommitOutcome::Conflict {
            stream: "sku/a".into(),
            expected: 1,
            actual: 2
        }
    );
    // The next home event of sku/a gets version 3 (2 was the order's).
    one(store, commit(&[("sku/a", 2)], vec![ev("sku/a", 4)]));
    assert_eq!(store.read_stream("sku/a").unwrap()[1].stream_version, 3);
    assert!(store.verify().unwrap().ok());
}

/// A stale expected version is refused and stores nothing; the commits of
/// the same batch after it see the ones stored before them, and a commit
/// that read a stream the refused one would have written is refused too
/// (`Skipped`), even when the version it expected happens to be current.
pub fn version_conflicts<S: Store + ?Sized>(store: &S) {
    one(store, commit(&[("s", 0)], vec![ev("s", 1)]));
    let out = store
        .commit_batch(&[
            commit(&[("t", 0)], vec![ev("t", 2)]),
            commit(&[("t", 0)], vec![ev("t", 3)]),
            commit(&[("s", 0)], vec![ev("s", 4)]),
            // Decided after the refused commit above: expects s at 1, which
            // is what the store has, but counted an event never stored.
            commit(&[("s", 1)], vec![ev("s", 5)]),
            commit(&[("u", 0)], vec![ev("u", 6)]),
        ])
        .unwrap();
    assert_eq!(out[0], CommitOutcome::Committed { first: 2, last: 2 });
    assert!(
        matches!(out[1], CommitOutcome::Conflict { actual: 1, .. }),
        "sees the commit before it: {:?}",
        out[1]
    );
    assert_eq!(
        out[2],
        CommitOutcome::Conflict {
            stream: "s".into(),
            expected: 0,
            actual: 1
        }
    );
    assert_eq!(
        out[3],
        CommitOutcome::Skipped { stream: "s".into() },
        "the chain rule"
    );
    assert_eq!(out[4], CommitOutcome::Committed { first: 3, last: 3 });
    assert_eq!(store.head().unwrap(), 3);
    assert_eq!(store.stream_version("s").unwrap(), 1);
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

/// Snapshots and read models round-trip; the latest snapshot wins; a
/// snapshot is sealed to its state and its place in the chain, and a
/// changed one is refused by [`check_snapshot`].
pub fn snapshots_and_read_models<S: Store + ?Sized>(store: &S) {
    assert_eq!(store.load_snapshot().unwrap(), None);
    one(store, commit(&[], vec![ev("a", 1), ev("a", 2)]));
    let first = snapshot_record(store, 1, "{\"state\":1}".into()).unwrap();
    store.save_snapshot(&first).unwrap();
    let second = snapshot_record(store, 2, "{\"state\":2}".into()).unwrap();
    store.save_snapshot(&second).unwrap();
    let loaded = store.load_snapshot().unwrap().expect("a snapshot");
    assert_eq!(loaded, second);
    check_snapshot(store, &loaded).unwrap();
    let forged = crate::SnapshotRecord {
        state: "{\"state\":3}".into(),
        ..loaded.clone()
    };
    assert!(matches!(
        check_snapshot(store, &forged),
        Err(StoreError::SnapshotRejected { seq: 2, .. })
    ));
    let moved = crate::SnapshotRecord {
        chain_hash: first.chain_hash.clone(),
        ..loaded.clone()
    };
    assert!(
        check_snapshot(store, &moved).is_err(),
        "sealed to its place"
    );
    assert!(
        snapshot_record(store, 9, "{}".into()).is_err(),
        "no snapshot past the log"
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
        let snap = snapshot_record(&s, 2, "snap".into()).unwrap();
        s.save_snapshot(&snap).unwrap();
    }
    let s = open();
    assert_eq!(s.head().unwrap(), 2);
    assert_eq!(s.stream_version("r").unwrap(), 2);
    assert!(s.idempotency("kk").unwrap().is_some());
    assert_eq!(
        s.read_model(ReadModel::Balance, "u1").unwrap(),
        Some("10".into())
    );
    let snap = s.load_snapshot().unwrap().expect("the snapshot");
    assert_eq!((snap.seq, snap.state.as_str()), (2, "snap"));
    check_snapshot(&s, &snap).unwrap();
    assert!(s.verify().unwrap().ok());
    assert_eq!(check_tail(&s).unwrap().0, 2);
    assert!(matches!(
        one(&s, commit(&[("r", 2)], vec![ev("r", 3)])),
        CommitOutcome::Committed { first: 3, last: 3 }
    ));
    assert!(s.verify().unwrap().ok());
}

/// Guard counters: start at 0, move within their maximum, and a commit
/// whose guard would pass its maximum stores nothing at all (events,
/// idempotency record, read models, its other guards).
pub fn guards<S: Store + ?Sized>(store: &S) {
    assert_eq!(store.guard("g").unwrap(), 0, "an unknown counter is 0");
    assert_eq!(
        one(
            store,
            guarded(vec![ev("o1", 1)], vec![guard("g", 2, Some(3))])
        ),
        CommitOutcome::Committed { first: 1, last: 1 }
    );
    assert_eq!(store.guard("g").unwrap(), 2);
    let mut c = guarded(
        vec![ev("o2", 2)],
        vec![guard("h", 1, Some(5)), guard("g", 2, Some(3))],
    );
    c.idempotency = Some(IdempotencyRecord {
        key: "kg".into(),
        request_hash: "h".into(),
        response: "r".into(),
    });
    c.read_models = vec![ReadModelRow {
        model: ReadModel::Order,
        key: "o2".into(),
        value: "{}".into(),
    }];
    assert_eq!(
        one(store, c),
        CommitOutcome::LimitExceeded {
            key: "g".into(),
            current: 2,
            delta: 2,
            max: 3
        }
    );
    assert_eq!(store.head().unwrap(), 1, "no event of a refused commit");
    assert_eq!(store.stream_version("o2").unwrap(), 0);
    assert_eq!(store.guard("h").unwrap(), 0, "no guard of a refused commit");
    assert_eq!(store.guard("g").unwrap(), 2);
    assert_eq!(store.idempotency("kg").unwrap(), None);
    assert_eq!(store.read_model(ReadModel::Order, "o2").unwrap(), None);
    // Exactly at the maximum is allowed; no maximum always moves.
    assert!(matches!(
        one(store, guarded(vec![], vec![guard("g", 1, Some(3))])),
        CommitOutcome::Committed { .. }
    ));
    assert_eq!(store.guard("g").unwrap(), 3);
    assert!(matches!(
        one(
            store,
            guarded(vec![ev("o1", 3)], vec![guard("g", -3, None)])
        ),
        CommitOutcome::Committed { first: 2, last: 2 }
    ));
    assert_eq!(store.guard("g").unwrap(), 0);
    assert!(matches!(
        one(store, guarded(vec![], vec![guard("big", 1_000_000, None)])),
        CommitOutcome::Committed { .. }
    ));
    assert_eq!(store.guard("big").unwrap(), 1_000_000);
    // A first move beyond the maximum is refused too.
    assert!(matches!(
        one(store, guarded(vec![], vec![guard("new", 4, Some(3))])),
        CommitOutcome::LimitExceeded { current: 0, .. }
    ));
    assert_eq!(store.guard("new").unwrap(), 0);
    assert!(store.verify().unwrap().ok());
}

/// Guards inside one batch: each commit sees the guards of the commits
/// before it and of its own earlier guards; a refused or conflicting commit
/// moves nothing, and the commits after it that did not read what it wrote
/// still land.
pub fn guards_within_batch<S: Store + ?Sized>(store: &S) {
    let out = store
        .commit_batch(&[
            guarded(vec![ev("a", 1)], vec![guard("q", 1, Some(2))]),
            guarded(vec![ev("b", 2)], vec![guard("q", 1, Some(2))]),
            guarded(vec![ev("c", 3)], vec![guard("q", 1, Some(2))]),
            // A version conflict: its guard must not move.
            Commit {
                guards: vec![guard("q", -1, None)],
                ..commit(&[("a", 0)], vec![ev("a", 4)])
            },
            // Its own second guard passes the maximum.
            guarded(
                vec![ev("d", 5)],
                vec![guard("q", -1, None), guard("q", 2, Some(2))],
            ),
            guarded(vec![ev("e", 6)], vec![guard("q", -1, None)]),
            guarded(vec![ev("f", 7)], vec![guard("q", 1, Some(2))]),
        ])
        .unwrap();
    assert_eq!(out.len(), 7, "one outcome per commit");
    assert_eq!(out[0], CommitOutcome::Committed { first: 1, last: 1 });
    assert_eq!(out[1], CommitOutcome::Committed { first: 2, last: 2 });
    assert_eq!(
        out[2],
        CommitOutcome::LimitExceeded {
            key: "q".into(),
            current: 2,
            delta: 1,
            max: 2
        },
        "sees the guards of the commits before it"
    );
    assert!(
        matches!(out[3], CommitOutcome::Conflict { .. }),
        "{:?}",
        out[3]
    );
    assert_eq!(
        out[4],
        CommitOutcome::LimitExceeded {
            key: "q".into(),
            current: 1,
            delta: 2,
            max: 2
        },
        "sees its own earlier guard"
    );
    assert_eq!(out[5], CommitOutcome::Committed { first: 3, last: 3 });
    assert_eq!(out[6], CommitOutcome::Committed { first: 4, last: 4 });
    assert_eq!(store.guard("q").unwrap(), 2);
    assert_eq!(store.head().unwrap(), 4);
    assert_eq!(store.stream_version("c").unwrap(), 0);
    assert_eq!(store.stream_version("d").unwrap(), 0);
    assert!(store.verify().unwrap().ok());
}

/// Several threads moving one guarded counter on their own streams (no
/// stream protects it): exactly `max` moves land, whatever the interleaving.
pub fn concurrent_guards<S: Store + 'static>(store: Arc<S>) {
    let threads = 4;
    let per = 30;
    let max = 50_i64;
    let mut handles = Vec::new();
    for t in 0..threads {
        let s = Arc::clone(&store);
        handles.push(std::thread::spawn(move || {
            let mut won = 0_i64;
            for i in 0..per {
                let out = s
                    .commit_batch(&[guarded(
                        vec![ev(&format!("own{t}"), i)],
                        vec![guard("hot", 1, Some(max))],
                    )])
                    .unwrap();
                match &out[0] {
                    CommitOutcome::Committed { .. } => won += 1,
                    CommitOutcome::LimitExceeded { current, .. } => {
                        assert_eq!(*current, max, "refused only at the maximum")
                    }
                    other => panic!("unexpected outcome {other:?}"),
                }
            }
            won
        }));
    }
    let won: i64 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(won, max, "exactly max moves land");
    assert_eq!(store.guard("hot").unwrap(), max);
    assert_eq!(store.head().unwrap(), u64::try_from(max).unwrap());
    assert!(store.verify().unwrap().ok());
}

/// A database written by a newer schema is refused with
/// [`StoreError::SchemaTooNew`], and refusing it changes nothing:
/// `set_version` records version 99 through the back door.
pub fn newer_schema_is_refused<S: Store>(
    open: impl Fn() -> Result<S, StoreError>,
    set_version: impl FnOnce(&S, i64),
) {
    {
        let s = open().expect("open a fresh store");
        one(&s, commit(&[], vec![ev("a", 1)]));
        set_version(&s, 99);
    }
    for _ in 0..2 {
        match open() {
            Err(StoreError::SchemaTooNew { found, supported }) => {
                assert_eq!(found, 99);
                assert!(supported < 99, "supported {supported}");
            }
            Err(e) => panic!("expected SchemaTooNew, got {e}"),
            Ok(_) => panic!("a newer schema must be refused"),
        }
    }
}

/// `commit_exclusive`: while another writer (`b`, a second handle on the
/// same store, as another process would have) appends to a hot stream as
/// fast as it can, every decision made inside `commit_exclusive` on `a`
/// reads the stream's current version and is stored without a conflict.
pub fn exclusive_commits_never_conflict<S: Store + 'static>(a: Arc<S>, b: Arc<S>) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let (mut n, mut landed) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let v = b.stream_version("hot").unwrap();
                let out = b
                    .commit_batch(&[commit(&[("hot", v)], vec![ev("hot", n)])])
                    .unwrap();
                if matches!(out[0], CommitOutcome::Committed { .. }) {
                    landed += 1;
                }
                n += 1;
            }
            landed
        })
    };
    for i in 0..50 {
        let mut read = 0;
        let out = a
            .commit_exclusive(&mut || {
                read = a.stream_version("hot").unwrap();
                vec![commit(&[("hot", read)], vec![ev("hot", 1_000 + i)])]
            })
            .unwrap();
        assert!(
            matches!(out.as_slice(), [CommitOutcome::Committed { .. }]),
            "an exclusive decision (read version {read}) must land: {out:?}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let theirs = writer.join().expect("writer");
    assert_eq!(a.stream_version("hot").unwrap(), 50 + theirs as u64);
    assert!(a.verify().unwrap().ok());
}

/// The O(1) tail check: after `damage` (which must remove the last
/// event, or change it without fixing its hash, as an outside writer
/// would), [`check_tail`] refuses the log naming the last event.
pub fn damaged_tail_is_refused<S: Store + ?Sized>(store: &S, damage: impl FnOnce(&S, u64)) {
    one(store, commit(&[], vec![ev("a", 1), ev("a", 2), ev("a", 3)]));
    assert_eq!(check_tail(store).unwrap().0, 3);
    damage(store, 3);
    match check_tail(store) {
        Err(StoreError::Tampered { seq, .. }) => assert_eq!(seq, 3, "names the last event"),
        other => panic!("a damaged tail must be refused, got {other:?}"),
    }
    assert!(!store.verify().unwrap().ok());
}

/// The chain a log was written with is recorded: `open(chain)` opens the
/// same persistent store with `chain`. A keyed log opens only with its
/// key; a plain log refuses a key; a keyed log verifies only with its key.
pub fn chain_mode_is_recorded<S: Store>(open: impl Fn(Chain) -> Result<S, StoreError>) {
    let key = crate::ChainKey::new(*b"conformance key 0123456789").unwrap();
    let other = crate::ChainKey::new(*b"another key 0123456789abcd").unwrap();
    {
        let s = open(Chain::hmac(key.clone())).expect("open keyed");
        one(&s, commit(&[], vec![ev("a", 1), ev("a", 2)]));
        assert!(s.verify().unwrap().ok());
        assert_eq!(check_tail(&s).unwrap().0, 2);
        let plain = Chain::sha256().link(GENESIS_FOR_TESTS, 1, "a", 1, &[], "test.v1", "x");
        let keyed = s
            .chain()
            .link(GENESIS_FOR_TESTS, 1, "a", 1, &[], "test.v1", "x");
        assert_ne!(plain, keyed, "the store links with its key");
    }
    for wrong in [Chain::sha256(), Chain::hmac(other)] {
        match open(wrong) {
            Err(StoreError::ChainKey(_)) => {}
            Err(e) => panic!("expected a chain key error, got {e}"),
            Ok(_) => panic!("a keyed log must not open with another chain"),
        }
    }
    let s = open(Chain::hmac(key)).expect("reopen with the key");
    assert!(s.verify().unwrap().ok());
    assert_eq!(check_tail(&s).unwrap().0, 2);
}

/// Consumer checkpoints: unknown until acknowledged, advanced atomically
/// to the largest seq acknowledged (never back), refused past the head
/// without any change, independent per consumer, names kept exactly.
pub fn consumer_checkpoints<S: Store + ?Sized>(store: &S) {
    assert_eq!(store.consumer_checkpoint("wms").unwrap(), None);
    assert!(store.consumers().unwrap().is_empty());
    match store.ack_consumer("wms", 1) {
        Err(StoreError::AckBeyondHead {
            seq: 1, head: 0, ..
        }) => {}
        other => panic!("an ack past an empty log must be refused, got {other:?}"),
    }
    assert_eq!(
        store.consumer_checkpoint("wms").unwrap(),
        None,
        "a refused ack registers nothing"
    );
    // Registering at 0 on an empty log is fine.
    assert_eq!(store.ack_consumer("erp", 0).unwrap(), 0);
    one(store, commit(&[], vec![ev("a", 1), ev("a", 2), ev("b", 3)]));
    assert_eq!(store.ack_consumer("wms", 2).unwrap(), 2);
    assert_eq!(store.ack_consumer("wms", 1).unwrap(), 2, "never backwards");
    assert_eq!(store.consumer_checkpoint("wms").unwrap(), Some(2));
    assert_eq!(store.ack_consumer("wms", 3).unwrap(), 3);
    match store.ack_consumer("wms", 4) {
        Err(StoreError::AckBeyondHead {
            consumer,
            seq: 4,
            head: 3,
        }) => assert_eq!(consumer, "wms"),
        other => panic!("an ack past the head must be refused, got {other:?}"),
    }
    assert_eq!(store.consumer_checkpoint("wms").unwrap(), Some(3));
    let odd = "search-index \"é\" 'x'";
    assert_eq!(store.ack_consumer(odd, 1).unwrap(), 1);
    assert_eq!(store.consumer_checkpoint(odd).unwrap(), Some(1));
    assert_eq!(store.consumer_checkpoint("erp").unwrap(), Some(0));
    let mut all = store.consumers().unwrap();
    all.sort();
    let mut want = vec![
        ("erp".to_string(), 0),
        ("wms".to_string(), 3),
        (odd.to_string(), 1),
    ];
    want.sort();
    assert_eq!(all, want);
    // Appends do not move checkpoints.
    one(store, commit(&[], vec![ev("c", 4)]));
    assert_eq!(store.consumer_checkpoint("wms").unwrap(), Some(3));
}

/// Many threads acknowledging one consumer at once, in any order: the
/// checkpoint ends at the largest seq acknowledged, and no answer is ever
/// below an answer the same thread had before (it never moves back).
pub fn concurrent_acks<S: Store + 'static>(store: Arc<S>) {
    let events = (1..=40).map(|n| ev("acks", n)).collect();
    one(&*store, commit(&[], events));
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let s = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut seen = 0;
                // Thread t acknowledges t+1, t+5, ..., up to 40, in an
                // order interleaved with the other threads.
                for seq in (t + 1..=40).step_by(4) {
                    let now = s.ack_consumer("relay", seq).expect("ack");
                    assert!(now >= seq && now >= seen, "checkpoint moved back");
                    seen = now;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("an ack thread panicked");
    }
    // The largest seq acknowledged: thread 3 acknowledges 4, 8, ..., 40.
    assert_eq!(store.consumer_checkpoint("relay").unwrap(), Some(40));
}

/// Checkpoints survive closing and reopening the store.
pub fn checkpoints_survive_reopen<S: Store>(open: impl Fn() -> S) {
    {
        let s = open();
        one(&s, commit(&[], vec![ev("r", 1), ev("r", 2)]));
        assert_eq!(s.ack_consumer("wms", 2).unwrap(), 2);
    }
    let s = open();
    assert_eq!(s.consumer_checkpoint("wms").unwrap(), Some(2));
    assert_eq!(s.ack_consumer("wms", 1).unwrap(), 2);
}

const GENESIS_FOR_TESTS: &str = crate::GENESIS;

/// Runs every check that needs only fresh stores.
pub fn run_all<S: Store + 'static>(fresh: impl Fn() -> S) {
    append_and_read(&fresh());
    events_in_several_streams(&fresh());
    version_conflicts(&fresh());
    idempotency(&fresh());
    snapshots_and_read_models(&fresh());
    guards(&fresh());
    guards_within_batch(&fresh());
    concurrent_appends(Arc::new(fresh()));
    concurrent_guards(Arc::new(fresh()));
    let shared = Arc::new(fresh());
    exclusive_commits_never_conflict(Arc::clone(&shared), shared);
    consumer_checkpoints(&fresh());
    concurrent_acks(Arc::new(fresh()));
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
    fn memory_store_tail_checks() {
        damaged_tail_is_refused(&MemoryStore::new(), |s, seq| s.delete(seq).unwrap());
        damaged_tail_is_refused(&MemoryStore::new(), |s, seq| s.tamper(seq, "{}").unwrap());
        // Swapping two payloads keeps every hash field but breaks the links.
        let s = MemoryStore::new();
        one(&s, commit(&[], vec![ev("a", 1), ev("a", 2), ev("a", 3)]));
        let second = s.read_from(1, 1).unwrap()[0].payload.clone();
        let first = s.read_from(0, 1).unwrap()[0].payload.clone();
        s.tamper(1, &second).unwrap();
        s.tamper(2, &first).unwrap();
        assert_eq!(s.verify().unwrap().first_break.map(|b| b.0), Some(1));
    }

    /// An attacker who can write the store but lacks the key changes an
    /// event and re-chains everything after it with plain SHA-256: the
    /// keyed store's O(1) tail check already refuses it, and so does
    /// `verify`; a plain store cannot tell.
    #[test]
    fn rechained_suffix_is_caught_only_with_a_key() {
        let key = crate::ChainKey::new(*b"0123456789abcdef").unwrap();
        for keyed in [false, true] {
            let chain = if keyed {
                Chain::hmac(key.clone())
            } else {
                Chain::sha256()
            };
            let s = MemoryStore::with_chain(chain);
            one(&s, commit(&[], vec![ev("a", 1), ev("a", 2), ev("a", 3)]));
            // Forge event 2 and re-chain 2..=3 with the attacker's chain.
            let mut prev = s.read_from(0, 1).unwrap()[0].hash.clone();
            for seq in 2..=3 {
                s.tamper_with(seq, |e| {
                    if seq == 2 {
                        e.payload = "{\"forged\":true}".into();
                    }
                    e.prev_hash = prev.clone();
                    e.hash = Chain::sha256().link_of(e);
                    prev = e.hash.clone();
                })
                .unwrap();
            }
            s.set_head_raw(3, &prev).unwrap();
            assert_eq!(check_tail(&s).is_err(), keyed, "keyed: {keyed}");
            assert_eq!(!s.verify().unwrap().ok(), keyed, "keyed: {keyed}");
        }
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

    #[test]
    fn guard_rule_is_used_plus_delta_within_max() {
        let g = guard("k", 2, Some(5));
        assert_eq!(g.apply_to(3), Ok(5));
        assert_eq!(
            g.apply_to(4),
            Err(CommitOutcome::LimitExceeded {
                key: "k".into(),
                current: 4,
                delta: 2,
                max: 5
            })
        );
        assert_eq!(guard("k", -2, None).apply_to(3), Ok(1));
        // A give-back never takes a counter below zero.
        assert_eq!(guard("k", -7, None).apply_to(3), Ok(0));
        assert_eq!(guard("k", -1, Some(0)).apply_to(0), Ok(0));
    }
}
