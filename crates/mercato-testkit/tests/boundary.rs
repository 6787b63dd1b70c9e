//! Regression tests for the guarantees at the engine's boundary (issue 11):
//! several engines on one store, commits that fail, tampered logs, a
//! panicking step. Each test names the finding it pins; each failed on the
//! code before the fix. Two engines over one store stand for two processes
//! (each has its own in-memory state and learns of the other's writes only
//! through the store); `tests/processes.rs` runs real processes.

use std::sync::Arc;
use std::time::Duration;

use mercato::core::Currency;
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{Chain, ChainKey, MemoryStore, Store, StoreError};
use mercato::{
    Engine, EngineError, EngineOptions, ManualClock, OpenOptions, PlaceOrderRequest, Settings,
    Verify,
};
use mercato_testkit::faults::{Fault, FaultyStore};

#[path = "support/calls.rs"]
mod calls;
use calls::{clock, json, on_postgres, order};

/// Places `req`, retrying a call that lost too many races; `None` when the
/// stock is gone.
fn place<S: Store + 'static>(
    e: &Engine<S, ManualClock>,
    req: PlaceOrderRequest,
) -> Option<mercato::PlacedOrder> {
    loop {
        match e.place_order(req.clone(), None) {
            Ok(p) => return Some(p),
            Err(EngineError::TooManyConflicts(_)) => continue,
            Err(err) if err.code() == "insufficient_stock" => return None,
            Err(err) => panic!("place {}: {err}", req.id),
        }
    }
}

fn sqlite(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(
        path,
        SqliteOptions::default().synchronous(Synchronous::Normal),
    )
    .unwrap()
}

// ----- finding 1: oversell across processes with different cart shapes ----

/// 50 units of `a`. Engine 1 sells carts `[a, b]`, engine 2 carts `[a]`,
/// alternating, each on its own view of the store. Before the fix a
/// multi-SKU reservation went to stream `stock` and a single-SKU one to
/// `sku/a`, so neither engine's commit conflicted with the other's and
/// they sold 100 units together.
fn mixed_cart_shapes_never_oversell<S: Store + 'static>(open: impl Fn() -> S) {
    let e1 = Engine::open(open(), clock()).unwrap();
    e1.configure(Currency::CNY, Settings::default()).unwrap();
    e1.add_catalog_item(json(r#"{"sku": "a", "price": "10.00"}"#))
        .unwrap();
    e1.add_catalog_item(json(r#"{"sku": "b", "price": "5.00"}"#))
        .unwrap();
    e1.adjust_stock("a", "main", 50, "received").unwrap();
    e1.adjust_stock("b", "main", 1_000, "received").unwrap();
    let e2 = Engine::open(open(), clock()).unwrap();
    let mut sold = 0;
    let (mut open1, mut open2) = (true, true);
    let mut i = 0;
    while open1 || open2 {
        if open1 {
            match place(&e1, order(&format!("x{i}"), None, &[("a", 1), ("b", 1)])) {
                Some(_) => sold += 1,
                None => open1 = false,
            }
        }
        if open2 {
            match place(&e2, order(&format!("y{i}"), None, &[("a", 1)])) {
                Some(_) => sold += 1,
                None => open2 = false,
            }
        }
        i += 1;
    }
    assert_eq!(sold, 50, "acknowledged units of a");
    let truth = mercato::rebuild(e1.store()).unwrap();
    let a = truth.shop().stock().level("a");
    assert_eq!((a.on_hand, a.reserved, a.available), (50, 50, 0));
    assert!(e1.store().verify().unwrap().ok());
    assert!(mercato_testkit::check_state(&truth).is_empty());
}

#[test]
fn finding_1_mixed_cart_shapes_on_memory() {
    let store = Arc::new(MemoryStore::new());
    mixed_cart_shapes_never_oversell(|| Arc::clone(&store));
}

#[test]
fn finding_1_mixed_cart_shapes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    mixed_cart_shapes_never_oversell(|| sqlite(&path));
}

#[test]
fn finding_1_mixed_cart_shapes_on_postgres() {
    on_postgres(|open| mixed_cart_shapes_never_oversell(open));
}

// ----- finding 2: promotion budgets across processes ---------------------

/// A promotion with `budget: {"uses": 1}` over SKUs c and d; engine 1
/// orders c, engine 2 (opened before, so it has not seen that order)
/// orders d. Before the fix both got the discount.
fn budgets_hold_across_engines<S: Store + 'static>(open: impl Fn() -> S) {
    let e1 = Engine::open(open(), clock()).unwrap();
    e1.configure(Currency::CNY, Settings::default()).unwrap();
    for sku in ["c", "d"] {
        e1.add_catalog_item(json(&format!(r#"{{"sku": "{sku}", "price": "100.00"}}"#)))
            .unwrap();
        e1.adjust_stock(sku, "main", 10, "received").unwrap();
    }
    e1.add_promotion(json(
        r#"{"id": "once", "kind": "amount_off", "per": "line", "amount": "30.00",
            "budget": {"uses": 1}, "scope": {"skus": ["c", "d"]}}"#,
    ))
    .unwrap();
    let e2 = Engine::open(open(), clock()).unwrap();
    let p1 = place(&e1, order("o1", None, &[("c", 1)])).unwrap();
    let p2 = place(&e2, order("o2", None, &[("d", 1)])).unwrap();
    let discounted = [&p1, &p2]
        .iter()
        .filter(|p| p.quote.applied.iter().any(|a| a.source == "once"))
        .count();
    assert_eq!(discounted, 1, "the budget allows one use");
    assert_eq!(p1.quote.totals.payable.amount().to_string(), "70.00");
    assert_eq!(
        p2.quote.totals.payable.amount().to_string(),
        "100.00",
        "engine 2 re-priced after its commit was refused"
    );
    let truth = mercato::rebuild(e1.store()).unwrap();
    assert_eq!(truth.shop().budget_used("once").uses, 1);
    assert_eq!(e1.store().guard("budget/once/uses").unwrap(), 1);
    assert_eq!(e1.store().guard("budget/once/amount").unwrap(), 3_000);
    // Cancelling gives the use back, in memory and in the store.
    e2.cancel("o1", None).unwrap();
    assert_eq!(e1.store().guard("budget/once/uses").unwrap(), 0);
    let p3 = place(&e1, order("o3", None, &[("d", 1)])).unwrap();
    assert_eq!(p3.quote.totals.payable.amount().to_string(), "70.00");
}

#[test]
fn finding_2_budgets_on_memory() {
    let store = Arc::new(MemoryStore::new());
    budgets_hold_across_engines(|| Arc::clone(&store));
}

#[test]
fn finding_2_budgets_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    budgets_hold_across_engines(|| sqlite(&path));
}

#[test]
fn finding_2_budgets_on_postgres() {
    on_postgres(|open| budgets_hold_across_engines(open));
}

// ----- the chain rule: a commit decided on a refused one ---------------------

/// Engine E decides two commits that end up in one batch: paying o1
/// (which moves `sku/a`) and then placing o2 on top of it. Before the
/// batch is written, engine F reserves the last free unit of `a`, so the
/// payment conflicts. The placement expected `sku/a` at the version the
/// payment would have given it — which F's reservation happened to give it
/// too. Before the fix the store accepted the placement (the numbers
/// matched) and `a` was oversold; it showed up as a flaky oversell by one
/// in the PostgreSQL process test.
#[test]
fn a_commit_decided_on_a_refused_one_is_refused_too() {
    let shared = Arc::new(MemoryStore::new());
    let e = Engine::open(FaultyStore::new(Arc::clone(&shared)), clock()).unwrap();
    e.configure(Currency::CNY, Settings::default()).unwrap();
    for sku in ["a", "b"] {
        e.add_catalog_item(json(&format!(r#"{{"sku": "{sku}", "price": "10.00"}}"#)))
            .unwrap();
    }
    e.adjust_stock("a", "main", 2, "received").unwrap();
    let o1 = e.place_order(order("o1", None, &[("a", 1)]), None).unwrap();
    let f = Engine::open(Arc::clone(&shared), clock()).unwrap();
    let hold = e.store().hold_next();
    let payable = o1.quote.totals.payable;
    std::thread::scope(|s| {
        // An unrelated commit, held in the store: what E decides next queues.
        let first = s.spawn(|| e.adjust_stock("b", "main", 1, "received"));
        hold.wait_entered();
        let pay = s.spawn(|| e.pay("o1", payable, None));
        std::thread::sleep(Duration::from_millis(200));
        let place_o2 = s.spawn(|| e.place_order(order("o2", None, &[("a", 1)]), None));
        std::thread::sleep(Duration::from_millis(200));
        // F, which has seen o1, takes the last free unit.
        f.place_order(order("o3", None, &[("a", 1)]), None).unwrap();
        hold.release();
        first.join().unwrap().unwrap();
        assert_eq!(pay.join().unwrap().unwrap(), "paid");
        let o2 = place_o2.join().unwrap();
        assert_eq!(
            o2.map(|p| p.order).map_err(|e| e.code()),
            Err("insufficient_stock"),
            "no unit of a was left for o2"
        );
    });
    let truth = mercato::rebuild(&shared).unwrap();
    let a = truth.shop().stock().level("a");
    assert_eq!((a.on_hand, a.reserved, a.available), (1, 1, 0), "{a:?}");
    assert!(mercato_testkit::check_state(&truth).is_empty());
}

// ----- finding 3: a failed commit leaves no trace --------------------------

fn tea_shop<S: Store + 'static>(e: &Engine<S, ManualClock>) {
    e.configure(Currency::CNY, Settings::default()).unwrap();
    e.add_catalog_item(json(r#"{"sku": "tea", "price": "12.00"}"#))
        .unwrap();
    e.adjust_stock("tea", "main", 10, "received").unwrap();
}

/// After `place_order` fails with `storage_error`, no read shows its
/// reservation or its order (before the fix `stock` showed the
/// reservation until a later write resynchronised the engine).
#[test]
fn finding_3_a_failed_commit_is_never_visible() {
    let e = Engine::open(FaultyStore::new(MemoryStore::new()), clock()).unwrap();
    tea_shop(&e);
    e.store().inject(Fault::FailBefore);
    let err = e
        .place_order(order("o1", None, &[("tea", 3)]), None)
        .unwrap_err();
    assert_eq!(err.code(), "storage_error");
    assert_eq!(e.stock("tea").unwrap().reserved, 0);
    assert_eq!(e.stock("tea").unwrap().available, 10);
    assert!(e.order("o1").is_err(), "the order does not exist");
    // The ambiguous failure: stored, but the caller heard an error. Reads
    // then show what the store holds, and a retry with the same key gets
    // the stored answer instead of a second order.
    e.store().inject(Fault::FailAfter);
    let err = e
        .place_order(order("o2", None, &[("tea", 2)]), Some("k2"))
        .unwrap_err();
    assert_eq!(err.code(), "storage_error");
    assert_eq!(e.stock("tea").unwrap().reserved, 2, "what the store holds");
    let again = e
        .place_order(order("o2", None, &[("tea", 2)]), Some("k2"))
        .unwrap();
    assert_eq!(again.order, "o2");
    assert_eq!(e.stock("tea").unwrap().reserved, 2, "placed once");
    let truth = mercato::rebuild(e.store()).unwrap();
    assert_eq!(truth.durable, e.read(|s| s.durable.clone()).unwrap());
}

/// A request with the same idempotency key, arriving while the first is
/// still being committed, waits for the first call's outcome and gets the
/// same answer. Before the fix it got `Ok("pending_payment")` at once,
/// though the first call then failed and the store held no such order.
#[test]
fn finding_3_a_repeated_key_waits_for_the_first_outcome() {
    let e = Engine::open(FaultyStore::new(MemoryStore::new()), clock()).unwrap();
    tea_shop(&e);
    let head = e.store().head().unwrap();
    let hold = e.store().hold_next();
    e.store().inject(Fault::FailBefore);
    std::thread::scope(|s| {
        let first = s.spawn(|| e.place_order(order("o1", None, &[("tea", 1)]), Some("k")));
        hold.wait_entered();
        let second = s.spawn(|| e.place_order(order("o1", None, &[("tea", 1)]), Some("k")));
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !second.is_finished(),
            "the repeat must wait for the first call, not answer from its speculative state"
        );
        hold.release();
        let first = first.join().unwrap();
        let second = second.join().unwrap();
        assert_eq!(first.as_ref().unwrap_err().code(), "storage_error");
        assert_eq!(second.as_ref().unwrap_err().code(), "storage_error");
    });
    assert_eq!(e.store().head().unwrap(), head, "nothing stored");
    assert!(e.order("o1").is_err());
    // The failure stored nothing, so the key is free: a retry places it.
    let placed = e
        .place_order(order("o1", None, &[("tea", 1)]), Some("k"))
        .unwrap();
    assert_eq!(placed.status, "pending_payment");
    assert!(e.store().idempotency("k").unwrap().is_some());
    // A different request under a running key is a conflict at once.
    let hold = e.store().hold_next();
    std::thread::scope(|s| {
        let first = s.spawn(|| e.place_order(order("o5", None, &[("tea", 1)]), Some("k5")));
        hold.wait_entered();
        let other = e.place_order(order("o6", None, &[("tea", 1)]), Some("k5"));
        assert_eq!(other.unwrap_err().code(), "idempotency_conflict");
        hold.release();
        assert!(first.join().unwrap().is_ok());
    });
}

// ----- finding 4: tampered and truncated logs ------------------------------

fn sqlite_with_orders(path: &std::path::Path, options: SqliteOptions) -> u64 {
    let e = Engine::open(SqliteStore::open(path, options).unwrap(), clock()).unwrap();
    tea_shop(&e);
    for i in 0..5 {
        e.place_order(order(&format!("o{i}"), None, &[("tea", 1)]), None)
            .unwrap();
    }
    e.store().head().unwrap()
}

fn open_sqlite(
    path: &std::path::Path,
    verify: Verify,
) -> Result<Engine<SqliteStore, ManualClock>, EngineError> {
    Engine::with_options(
        SqliteStore::open(path, SqliteOptions::default()).unwrap(),
        clock(),
        EngineOptions {
            open: OpenOptions::default().verify(verify),
            ..EngineOptions::default()
        },
    )
}

fn tampered_at(r: Result<Engine<SqliteStore, ManualClock>, EngineError>) -> u64 {
    match r {
        Err(EngineError::Store(StoreError::Tampered { seq, .. })) => seq,
        Err(e) => panic!("expected Tampered, got {e}"),
        Ok(_) => panic!("a tampered log must not open"),
    }
}

/// Deleting the last event: opening refuses it, naming the event (before
/// the fix the engine opened without it, appended past the gap, and the
/// file could not be opened again).
#[test]
fn finding_4_a_truncated_log_is_refused_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let head = sqlite_with_orders(&path, SqliteOptions::default());
    SqliteStore::open(&path, SqliteOptions::default())
        .unwrap()
        .execute_raw(&format!("DELETE FROM events WHERE seq = {head}"))
        .unwrap();
    assert_eq!(tampered_at(open_sqlite(&path, Verify::Tail)), head);
}

/// A flipped payload byte: in the last event, the O(1) check finds it; in
/// an earlier one, `Verify::Full` does (the default open does not read
/// every hash: see the table in `docs/guarantees.md`). Two swapped payloads
/// likewise.
#[test]
fn finding_4_changed_events_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let head = sqlite_with_orders(&path, SqliteOptions::default());
    let raw = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    raw.execute_raw(&format!(
        "UPDATE events SET payload = replace(payload, 'tea', 'tex') WHERE seq = {head}"
    ))
    .unwrap();
    assert_eq!(tampered_at(open_sqlite(&path, Verify::Tail)), head);

    let path = dir.path().join("middle.db");
    sqlite_with_orders(&path, SqliteOptions::default());
    let raw = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    raw.execute_raw("UPDATE events SET payload = replace(payload, '12.00', '02.00') WHERE seq = 2")
        .unwrap();
    assert_eq!(tampered_at(open_sqlite(&path, Verify::Full)), 2);

    let path = dir.path().join("swapped.db");
    sqlite_with_orders(&path, SqliteOptions::default());
    let raw = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    raw.execute_raw(
        "UPDATE events SET payload = CASE seq WHEN 5 THEN (SELECT payload FROM events WHERE seq = 7)
                                            ELSE (SELECT payload FROM events WHERE seq = 5) END
         WHERE seq IN (5, 7)",
    )
    .unwrap();
    assert_eq!(tampered_at(open_sqlite(&path, Verify::Full)), 5);
}

/// Editing the snapshot (and the read-model row that matches it) so that
/// the engine would sell from forged stock: opening refuses the snapshot
/// (before the fix it was outside the chain and used as it was).
#[test]
fn finding_4_a_forged_snapshot_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    sqlite_with_orders(&path, SqliteOptions::default());
    {
        let e = open_sqlite(&path, Verify::Tail).unwrap();
        e.snapshot().unwrap();
    }
    let raw = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    raw.execute_raw(
        "UPDATE snapshots SET state = replace(state, '\"on_hand\":10', '\"on_hand\":1000')",
    )
    .unwrap();
    raw.execute_raw(
        "UPDATE read_models SET value = replace(value, '\"on_hand\":10', '\"on_hand\":1000')",
    )
    .unwrap();
    match open_sqlite(&path, Verify::Tail) {
        Err(EngineError::Store(StoreError::SnapshotRejected { .. })) => {}
        Err(e) => panic!("expected SnapshotRejected, got {e}"),
        Ok(e) => panic!(
            "a forged snapshot must be refused; the engine would sell from on_hand {}",
            e.stock("tea").unwrap().on_hand
        ),
    }
    // The log itself is intact: opening without the snapshot works.
    let e = Engine::with_options(
        SqliteStore::open(&path, SqliteOptions::default()).unwrap(),
        clock(),
        EngineOptions {
            open: OpenOptions::default().use_snapshot(false),
            ..EngineOptions::default()
        },
    )
    .unwrap();
    assert_eq!(e.stock("tea").unwrap().on_hand, 10);
}

/// With the keyed chain, a database writer who changes an event and
/// re-chains everything after it with plain SHA-256 (and fixes the head)
/// is caught by the O(1) check when the engine opens.
#[test]
fn finding_4_a_rechained_log_is_refused_with_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyed.db");
    let key = ChainKey::new(*b"the application's secret key!!").unwrap();
    let keyed = SqliteOptions::default().chain(Chain::hmac(key.clone()));
    let head = sqlite_with_orders(&path, keyed.clone());
    // The attacker rewrites event 3 and re-chains 3..=head without the key.
    let raw = SqliteStore::open(&path, keyed.clone()).unwrap();
    let events = raw.read_from(0, 1_000).unwrap();
    let mut prev = events[1].hash.clone();
    for e in events.iter().skip(2) {
        let mut e = e.clone();
        if e.seq == 3 {
            e.payload = e.payload.replace("\"10\"", "\"1000\"");
        }
        e.prev_hash = prev.clone();
        e.hash = Chain::sha256().link_of(&e);
        raw.execute_raw(&format!(
            "UPDATE events SET payload = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
            e.payload.replace('\'', "''"),
            e.prev_hash,
            e.hash,
            e.seq
        ))
        .unwrap();
        prev = e.hash;
    }
    raw.execute_raw(&format!(
        "UPDATE chain_head SET hash = '{prev}' WHERE id = 1"
    ))
    .unwrap();
    drop(raw);
    let r = Engine::open(SqliteStore::open(&path, keyed).unwrap(), clock());
    match r {
        Err(EngineError::Store(StoreError::Tampered { seq, .. })) => assert_eq!(seq, head),
        Err(e) => panic!("expected Tampered, got {e}"),
        Ok(_) => panic!("a re-chained log must not open under the key"),
    }
    // Without the key the log is refused too (it was written with one).
    assert!(matches!(
        SqliteStore::open(&path, SqliteOptions::default()),
        Err(StoreError::ChainKey(_))
    ));
}

// ----- a panic must not poison the engine ------------------------------------

struct Bomb;

impl mercato::ReviewRule for Bomb {
    fn review(&self, input: &mercato::ReviewInput<'_>) -> Vec<String> {
        if input.quote.lines.iter().any(|l| l.qty == 7) {
            panic!("a buggy review rule");
        }
        Vec::new()
    }
}

/// A panic inside a call (here an application review rule) is answered as
/// an internal error, stores nothing, and leaves the engine working.
#[test]
fn a_panic_in_a_call_does_not_poison_the_engine() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    tea_shop(&e);
    e.add_review_rule(Arc::new(Bomb));
    let head = e.store().head().unwrap();
    let err = e
        .place_order(order("o1", None, &[("tea", 7)]), Some("boom"))
        .unwrap_err();
    assert_eq!(err.code(), "internal");
    assert_eq!(e.store().head().unwrap(), head);
    let ok = e
        .place_order(order("o2", None, &[("tea", 2)]), None)
        .unwrap();
    assert_eq!(ok.status, "pending_payment");
    assert_eq!(e.stock("tea").unwrap().reserved, 2);
    let truth = mercato::rebuild(e.store()).unwrap();
    assert_eq!(truth.durable, e.read(|s| s.durable.clone()).unwrap());
}

/// A store that panics inside a commit fails that call; the next one works.
#[test]
fn a_panicking_store_fails_the_call_not_the_engine() {
    let e = Engine::open(FaultyStore::new(MemoryStore::new()), clock()).unwrap();
    tea_shop(&e);
    e.store().inject(Fault::Panic);
    let err = e
        .place_order(order("o1", None, &[("tea", 1)]), None)
        .unwrap_err();
    assert_eq!(err.code(), "storage_error");
    assert!(
        e.place_order(order("o2", None, &[("tea", 1)]), None)
            .is_ok()
    );
    assert_eq!(e.stock("tea").unwrap().reserved, 1);
}

/// A database writer who forges the snapshot *and re-seals it* (plain
/// SHA-256 needs no key): opening cannot tell without replaying the log,
/// but the audit's comparison with a replay finds it; with the keyed chain
/// the re-sealed snapshot is refused when the engine opens.
#[test]
fn finding_4_a_resealed_snapshot_is_caught_by_audit_or_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = ChainKey::new(*b"the application's secret key!!").unwrap();
    for keyed in [false, true] {
        let path = dir.path().join(format!("reseal-{keyed}.db"));
        let options = if keyed {
            SqliteOptions::default().chain(Chain::hmac(key.clone()))
        } else {
            SqliteOptions::default()
        };
        sqlite_with_orders(&path, options.clone());
        {
            let e =
                Engine::open(SqliteStore::open(&path, options.clone()).unwrap(), clock()).unwrap();
            e.snapshot().unwrap();
        }
        let raw = SqliteStore::open(&path, options.clone()).unwrap();
        let mut snap = raw.load_snapshot().unwrap().unwrap();
        assert!(snap.state.contains("\"on_hand\":10"));
        snap.state = snap.state.replace("\"on_hand\":10", "\"on_hand\":1000");
        snap.seal = Chain::sha256().seal(snap.seq, &snap.chain_hash, &snap.state);
        raw.save_snapshot(&snap).unwrap();
        drop(raw);
        let opened = Engine::open(SqliteStore::open(&path, options.clone()).unwrap(), clock());
        if keyed {
            assert!(
                matches!(
                    opened,
                    Err(EngineError::Store(StoreError::SnapshotRejected { .. }))
                ),
                "the keyed seal cannot be forged"
            );
        } else {
            // The documented limit of the unkeyed chain: the seal matches.
            assert_eq!(opened.unwrap().stock("tea").unwrap().on_hand, 1000);
        }
        let store = SqliteStore::open(&path, options).unwrap();
        assert!(
            matches!(
                mercato::audit_snapshot(&store),
                Err(EngineError::Store(StoreError::SnapshotRejected { .. }))
            ),
            "the audit compares the snapshot with a replay of the log"
        );
    }
}
