//! `Concurrency::Locked`: calls decided in batches under the store's write
//! lock. Several engines on one store (each stands for a process: its own
//! state, learning of the others only through the store), commits that
//! fail, a panicking store, and a mix of locked and optimistic engines.
//! `crates/mercato/tests/processes.rs` runs the same with real processes.

use std::sync::Arc;
use std::time::Duration;

use mercato::core::Currency;
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{MemoryStore, Store};
use mercato::{Concurrency, Engine, EngineError, EngineOptions, ManualClock, Request, Settings};
use mercato_testkit::faults::{Fault, FaultyStore};

#[path = "support/calls.rs"]
mod calls;
use calls::{clock, json, on_postgres, order};

/// Locked, and no retry at all: a call that lost a race would fail with
/// `TooManyConflicts(0)` at once.
fn locked() -> EngineOptions {
    EngineOptions {
        concurrency: Concurrency::Locked,
        max_retries: 0,
        exclusive_after: 0,
        max_batch: 8,
        ..EngineOptions::default()
    }
}

const STOCK: i64 = 60;
const LIMIT: i64 = 2;

/// Sets up a hot SKU `a` (60 units, flash price 5.00 with a per-customer
/// limit of 2), `b` plenty, and 40 customers.
fn hot_shop<S: Store + 'static>(e: &Engine<S, ManualClock>) {
    e.configure(Currency::CNY, Settings::default()).unwrap();
    e.add_catalog_item(json(r#"{"sku": "a", "price": "10.00"}"#))
        .unwrap();
    e.add_catalog_item(json(r#"{"sku": "b", "price": "5.00"}"#))
        .unwrap();
    e.add_promotion(json(&format!(
        r#"{{"id": "flash", "kind": "price", "price": "5.00", "per_customer_limit": {LIMIT},
             "scope": {{"skus": ["a"]}}}}"#
    )))
    .unwrap();
    e.adjust_stock("a", "main", STOCK, "received").unwrap();
    e.adjust_stock("b", "main", 10_000, "received").unwrap();
    for c in 0..40 {
        e.register_customer(&format!("c{c}"), None, 0).unwrap();
    }
}

/// Three engines (two threads each) sell the hot SKU with two cart shapes
/// until it is gone, none retrying a lost race. Under the lock no call
/// ever loses one: every answer is a sale or `insufficient_stock`; exactly
/// the stock is sold; nobody gets more flash-priced units than the limit;
/// each engine, synchronised, holds the state rebuilt from the log.
fn no_call_loses_a_race<S: Store + 'static>(open: impl Fn() -> S) {
    let setup = Engine::with_options(open(), clock(), locked()).unwrap();
    hot_shop(&setup);
    let engines: Vec<_> = (0..3)
        .map(|_| Engine::with_options(open(), clock(), locked()).unwrap())
        .collect();
    let sold: i64 = std::thread::scope(|s| {
        let handles: Vec<_> = engines
            .iter()
            .enumerate()
            .flat_map(|(k, e)| (0..2).map(move |t| (k, t, e)))
            .map(|(k, t, e)| {
                s.spawn(move || {
                    let mut sold = 0;
                    for i in 0..200 {
                        let customer = format!("c{}", (k * 2 + t + i) % 40);
                        let lines: &[(&str, i64)] = if i % 2 == 0 {
                            &[("a", 1)]
                        } else {
                            &[("a", 1), ("b", 1)]
                        };
                        let id = format!("e{k}-t{t}-{i}");
                        match e.place_order(order(&id, Some(&customer), lines), None) {
                            Ok(_) => sold += 1,
                            Err(err) if err.code() == "insufficient_stock" => break,
                            Err(err) => panic!("{id}: a locked call failed with {err}"),
                        }
                    }
                    sold
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(sold, STOCK, "acknowledged units == stock");
    let truth = mercato::rebuild(setup.store()).unwrap();
    let a = truth.shop().stock().level("a");
    assert_eq!((a.on_hand, a.reserved, a.available), (STOCK, STOCK, 0));
    for c in 0..40 {
        let flash: i64 = truth
            .shop()
            .orders()
            .filter(|o| o.customer.as_deref() == Some(format!("c{c}").as_str()))
            .flat_map(|o| o.quote.lines.iter())
            .flat_map(|l| l.uses.iter())
            .filter(|u| u.source == "flash")
            .map(|u| u.units)
            .sum();
        assert!(flash <= LIMIT, "c{c} got {flash} flash units");
    }
    assert!(setup.store().verify().unwrap().ok());
    assert!(mercato_testkit::check_state(&truth).is_empty());
    for e in &engines {
        e.sync().unwrap();
        assert_eq!(e.read(|s| s.durable.clone()).unwrap(), truth.durable);
    }
}

#[test]
fn no_locked_call_loses_a_race_on_memory() {
    let store = Arc::new(MemoryStore::new());
    no_call_loses_a_race(|| Arc::clone(&store));
}

#[test]
fn no_locked_call_loses_a_race_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    no_call_loses_a_race(|| {
        SqliteStore::open(
            &path,
            SqliteOptions::default().synchronous(Synchronous::Normal),
        )
        .unwrap()
    });
}

#[test]
fn no_locked_call_loses_a_race_on_postgres() {
    on_postgres(|open| no_call_loses_a_race(open));
}

/// A locked decision reads everything stored before it, without a sync and
/// without a refusal first: stock another engine added is there to sell,
/// and the state it keeps (caught up in place, not copied) equals the log.
#[test]
fn a_locked_decision_sees_what_another_engine_stored() {
    let store = Arc::new(MemoryStore::new());
    let other = Engine::open(Arc::clone(&store), clock()).unwrap();
    hot_shop(&other);
    let e = Engine::with_options(Arc::clone(&store), clock(), locked()).unwrap();
    let before = store.head().unwrap();
    // Stored behind `e`'s back: 5 units of a new SKU, a new customer.
    other
        .add_catalog_item(json(r#"{"sku": "n", "price": "3.00"}"#))
        .unwrap();
    other.adjust_stock("n", "main", 5, "received").unwrap();
    other.register_customer("late", None, 0).unwrap();
    assert!(store.head().unwrap() > before);
    let placed = e
        .place_order(order("o1", Some("late"), &[("n", 5)]), None)
        .unwrap();
    assert_eq!(placed.quote.totals.payable.amount().to_string(), "15.00");
    assert_eq!(e.stock("n").unwrap().available, 0);
    let truth = mercato::rebuild(&*store).unwrap();
    assert_eq!(e.read(|s| s.durable.clone()).unwrap(), truth.durable);
    // And `other`, optimistic, is refused for the stock `e` took, then
    // (having caught up) says why.
    let err = other
        .place_order(order("o2", None, &[("n", 1)]), None)
        .unwrap_err();
    assert_eq!(err.code(), "insufficient_stock");
}

/// Several calls submitted before waiting are decided in one batch, each on
/// top of the ones before it: a pay right behind its place finds the order.
#[test]
fn a_batch_decides_in_queue_order() {
    let e = Engine::with_options(MemoryStore::new(), clock(), locked()).unwrap();
    hot_shop(&e);
    let head = e.store().head().unwrap();
    let calls: Vec<Request> = (0..4)
        .flat_map(|i| {
            let id = format!("o{i}");
            [
                Request::PlaceOrder(order(&id, Some(&format!("c{i}")), &[("a", 1)])),
                Request::Pay {
                    order: id,
                    amount: "5.00".parse().unwrap(),
                },
            ]
        })
        .collect();
    let submitted: Vec<_> = calls.iter().map(|r| e.submit(r, None)).collect();
    for s in submitted {
        s.wait().unwrap();
    }
    for i in 0..4 {
        assert_eq!(
            e.order(&format!("o{i}")).unwrap().status.to_string(),
            "paid"
        );
    }
    assert!(e.store().head().unwrap() > head);
    let truth = mercato::rebuild(e.store()).unwrap();
    assert_eq!(e.read(|s| s.durable.clone()).unwrap(), truth.durable);
}

/// A batch whose transaction fails: its calls hear the failure, nothing of
/// it is visible afterwards; an ambiguous failure (stored, then the
/// connection dropped) shows what the store holds and a retried key gets
/// the stored answer; a panicking store fails the batch, not the engine.
#[test]
fn a_failed_locked_batch_is_never_visible() {
    let e = Engine::with_options(FaultyStore::new(MemoryStore::new()), clock(), locked()).unwrap();
    hot_shop(&e);
    e.store().inject(Fault::FailBefore);
    let err = e
        .place_order(order("o1", Some("c1"), &[("a", 3)]), None)
        .unwrap_err();
    assert_eq!(err.code(), "storage_error");
    assert_eq!(e.stock("a").unwrap().reserved, 0);
    assert!(e.order("o1").is_err(), "the order does not exist");

    e.store().inject(Fault::FailAfter);
    let err = e
        .place_order(order("o2", Some("c2"), &[("a", 2)]), Some("k2"))
        .unwrap_err();
    assert_eq!(err.code(), "storage_error");
    assert_eq!(e.stock("a").unwrap().reserved, 2, "what the store holds");
    let again = e
        .place_order(order("o2", Some("c2"), &[("a", 2)]), Some("k2"))
        .unwrap();
    assert_eq!(again.order, "o2");
    assert_eq!(e.stock("a").unwrap().reserved, 2, "placed once");

    e.store().inject(Fault::Panic);
    let err = e
        .place_order(order("o3", Some("c3"), &[("a", 1)]), None)
        .unwrap_err();
    assert_eq!(err.code(), "storage_error");
    assert!(e.order("o3").is_err());
    e.place_order(order("o4", Some("c4"), &[("a", 1)]), None)
        .unwrap();
    assert_eq!(e.stock("a").unwrap().reserved, 3);
    let truth = mercato::rebuild(e.store()).unwrap();
    assert_eq!(e.read(|s| s.durable.clone()).unwrap(), truth.durable);
}

/// Locked and optimistic engines on one store keep the same guarantees:
/// the optimistic one may lose races (and retries), the locked one never
/// does; together they sell exactly the stock.
#[test]
fn locked_and_optimistic_engines_share_a_store() {
    let store = Arc::new(MemoryStore::new());
    let setup = Engine::open(Arc::clone(&store), clock()).unwrap();
    hot_shop(&setup);
    let locked_engine = Engine::with_options(Arc::clone(&store), clock(), locked()).unwrap();
    let optimistic = Engine::open(Arc::clone(&store), clock()).unwrap();
    let (mut sold_locked, mut sold_optimistic) = (0, 0);
    let (mut open_l, mut open_o) = (true, true);
    let mut i = 0;
    while open_l || open_o {
        let customer = format!("c{}", i % 40);
        if open_l {
            match locked_engine
                .place_order(order(&format!("l{i}"), Some(&customer), &[("a", 1)]), None)
            {
                Ok(_) => sold_locked += 1,
                Err(err) if err.code() == "insufficient_stock" => open_l = false,
                Err(err) => panic!("locked: {err}"),
            }
        }
        if open_o {
            match optimistic.place_order(
                order(&format!("o{i}"), Some(&customer), &[("a", 1), ("b", 1)]),
                None,
            ) {
                Ok(_) => sold_optimistic += 1,
                Err(EngineError::TooManyConflicts(_)) => {}
                Err(err) if err.code() == "insufficient_stock" => open_o = false,
                Err(err) => panic!("optimistic: {err}"),
            }
        }
        i += 1;
    }
    assert_eq!(sold_locked + sold_optimistic, STOCK);
    assert!(sold_locked > 0 && sold_optimistic > 0);
    let truth = mercato::rebuild(&*store).unwrap();
    assert!(mercato_testkit::check_state(&truth).is_empty());
    locked_engine.sync().unwrap();
    assert_eq!(
        locked_engine.read(|s| s.durable.clone()).unwrap(),
        truth.durable
    );
}

/// The state lock is held while a batch is decided, not while the store
/// writes it: a read during the write answers at once (showing the batch,
/// which is in flight, as reads do in optimistic mode), and the call is
/// answered once the write is done.
#[test]
fn reads_do_not_wait_for_a_locked_batch_to_be_written() {
    let e = Engine::with_options(FaultyStore::new(MemoryStore::new()), clock(), locked()).unwrap();
    hot_shop(&e);
    let hold = e.store().hold_next_write();
    std::thread::scope(|s| {
        let call = s.spawn(|| e.place_order(order("o1", Some("c1"), &[("a", 2)]), None));
        hold.wait_entered();
        let read = s.spawn(|| e.stock("a").unwrap().reserved);
        std::thread::sleep(Duration::from_millis(200));
        let (read_done, call_done) = (read.is_finished(), call.is_finished());
        hold.release();
        assert!(read_done, "a read waited for the store's write");
        assert!(!call_done, "the call waits for its write");
        assert_eq!(read.join().unwrap(), 2);
        assert!(call.join().unwrap().is_ok());
    });
    assert_eq!(e.stock("a").unwrap().reserved, 2);
}

/// `snapshot` and `sync` run between batches: while other threads keep a
/// locked engine busy on one SQLite file, snapshots and syncs neither
/// deadlock with a batch (the batch holds the store's writer and then takes
/// the state; a snapshot holds the state and then takes the writer) nor
/// hide an acknowledged order. A second engine on the same file keeps
/// SQLite's write lock busy, so a batch often waits in `BEGIN IMMEDIATE`
/// with the store's writer taken — the moment a snapshot could slip in.
#[test]
fn snapshots_and_syncs_run_between_locked_batches_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let store = SqliteStore::open(
        &path,
        SqliteOptions::default().synchronous(Synchronous::Normal),
    )
    .unwrap();
    let e = Engine::with_options(store, clock(), locked()).unwrap();
    hot_shop(&e);
    let other = Engine::open(
        SqliteStore::open(
            &path,
            SqliteOptions::default().synchronous(Synchronous::Normal),
        )
        .unwrap(),
        clock(),
    )
    .unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let e = Arc::new(e);
    let worker = {
        let e = Arc::clone(&e);
        std::thread::spawn(move || {
            std::thread::scope(|s| {
                for t in 0..2 {
                    let e = &e;
                    s.spawn(move || {
                        for i in 0..300 {
                            let id = format!("t{t}-{i}");
                            let placed = e.place_order(order(&id, None, &[("b", 1)]), None);
                            assert!(placed.is_ok(), "{id}: {placed:?}");
                            // Acknowledged, so visible, whatever snapshot or
                            // sync ran meanwhile.
                            assert!(e.order(&id).is_ok(), "{id} acknowledged but not visible");
                        }
                    });
                }
                s.spawn(|| {
                    for _ in 0..100 {
                        e.snapshot().unwrap();
                        e.sync().unwrap();
                    }
                });
                s.spawn(|| {
                    for _ in 0..300 {
                        other.adjust_stock("b", "main", 1, "received").unwrap();
                    }
                });
            });
            done_tx.send(()).unwrap();
        })
    };
    assert!(
        done_rx.recv_timeout(Duration::from_secs(120)).is_ok(),
        "locked batches and snapshots deadlocked"
    );
    worker.join().unwrap();
    let truth = mercato::rebuild(e.store()).unwrap();
    assert_eq!(e.read(|s| s.durable.clone()).unwrap(), truth.durable);
    e.sync().unwrap();
    assert_eq!(e.stock("b").unwrap().reserved, 600);
}

struct Bomb;

impl mercato::ReviewRule for Bomb {
    fn review(&self, input: &mercato::ReviewInput<'_>) -> Vec<String> {
        if input.quote.lines.iter().any(|l| l.qty == 7) {
            panic!("a buggy review rule");
        }
        Vec::new()
    }
}

/// A call that panics in the middle of a batch is answered `internal`;
/// the calls before it are stored, the ones after it are decided again on
/// the reloaded state (not on whatever the panicking call left behind).
#[test]
fn a_panic_in_the_middle_of_a_batch_fails_that_call_only() {
    // The default retries: the call after the panic is decided again.
    let options = EngineOptions {
        concurrency: Concurrency::Locked,
        ..EngineOptions::default()
    };
    let e = Engine::with_options(MemoryStore::new(), clock(), options).unwrap();
    hot_shop(&e);
    e.add_review_rule(Arc::new(Bomb));
    let calls = [
        Request::PlaceOrder(order("before", None, &[("b", 1)])),
        Request::PlaceOrder(order("boom", None, &[("b", 7)])),
        Request::PlaceOrder(order("after", None, &[("b", 2)])),
    ];
    let submitted: Vec<_> = calls.iter().map(|r| e.submit(r, None)).collect();
    let answers: Vec<_> = submitted.into_iter().map(|s| s.wait()).collect();
    assert!(answers[0].is_ok());
    assert_eq!(answers[1].as_ref().unwrap_err().code(), "internal");
    assert!(answers[2].is_ok(), "{:?}", answers[2]);
    assert_eq!(e.stock("b").unwrap().reserved, 3);
    let truth = mercato::rebuild(e.store()).unwrap();
    assert_eq!(e.read(|s| s.durable.clone()).unwrap(), truth.durable);
}
