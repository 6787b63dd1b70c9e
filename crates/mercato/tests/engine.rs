//! The engine over real stores: idempotency, bad input that stores nothing,
//! concurrent callers that cannot oversell or over-use a coupon, reopening
//! and snapshots that rebuild the same state.

use mercato::AdjustStock;
use std::sync::Arc;

use mercato::core::Currency;
use mercato::core::order::LineQty;
use mercato::rules::CartLine;
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{MemoryStore, Store};
use mercato::{Engine, EngineError, ManualClock, PlaceOrderRequest, Request, Settings};
use rust_decimal::Decimal;

fn clock() -> ManualClock {
    ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> T {
    serde_json::from_str(s).unwrap()
}

fn shop<S: Store + 'static>(e: &Engine<S, ManualClock>) {
    e.configure(Currency::CNY, Settings::default()).unwrap();
    e.add_catalog_item(json(r#"{"sku": "tea", "price": "12.00"}"#))
        .unwrap();
    e.add_catalog_item(json(r#"{"sku": "cup", "price": "30.00"}"#))
        .unwrap();
    e.adjust_stock("tea", "main", 100, "received").unwrap();
    e.adjust_stock("cup", "main", 10, "received").unwrap();
    e.register_customer("u1", None, 500).unwrap();
    e.add_coupon(json(r#"{"code": "ONCE", "kind": "amount_off", "amount": "5.00", "usage_limit": 1, "per_customer_limit": null}"#))
        .unwrap();
}

fn order(id: &str, sku: &str, qty: i64) -> PlaceOrderRequest {
    PlaceOrderRequest {
        id: id.into(),
        customer: Some("u1".into()),
        lines: vec![CartLine {
            sku: sku.into(),
            qty,
        }],
        coupons: vec![],
        points: 0,
        channel: None,
    }
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn m(s: &str) -> mercato::Money {
    mercato::Money::parse(s, Currency::CNY).unwrap()
}

#[test]
fn a_repeated_key_returns_the_first_answer_and_appends_nothing() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e);
    let first = e.place_order(order("o1", "tea", 2), Some("k1")).unwrap();
    let head = e.store().head().unwrap();
    let again = e.place_order(order("o1", "tea", 2), Some("k1")).unwrap();
    assert_eq!(first, again);
    assert_eq!(e.store().head().unwrap(), head, "nothing appended");
    assert_eq!(e.stock("tea").unwrap().reserved, 2);
    let other = e.place_order(order("o2", "tea", 1), Some("k1"));
    assert!(matches!(other, Err(EngineError::IdempotencyConflict(_))));
    assert_eq!(other.unwrap_err().code(), "idempotency_conflict");
    // Payment retried with its key pays once.
    assert_eq!(e.pay("o1", m("24.00"), Some("p1")).unwrap(), "paid");
    assert_eq!(e.pay("o1", m("24.00"), Some("p1")).unwrap(), "paid");
    assert!(
        e.pay("o1", m("24.00"), None).is_err(),
        "without the key it is a second payment: refused"
    );
}

#[test]
fn keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let first = {
        let e = Engine::open(
            SqliteStore::open(&path, SqliteOptions::default()).unwrap(),
            clock(),
        )
        .unwrap();
        shop(&e);
        e.place_order(order("o1", "tea", 2), Some("k1")).unwrap()
    };
    let e = Engine::open(
        SqliteStore::open(&path, SqliteOptions::default()).unwrap(),
        clock(),
    )
    .unwrap();
    let head = e.store().head().unwrap();
    assert_eq!(
        e.place_order(order("o1", "tea", 2), Some("k1")).unwrap(),
        first
    );
    assert_eq!(e.store().head().unwrap(), head);
}

#[test]
fn bad_input_is_a_typed_error_and_stores_nothing() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e);
    e.place_order(order("o1", "tea", 1), None).unwrap();
    let head = e.store().head().unwrap();
    let cases: Vec<(Request, &str)> = vec![
        (Request::PlaceOrder(order("o2", "nope", 1)), "unknown_sku"),
        (
            Request::PlaceOrder(order("o2", "tea", -1)),
            "invalid_quantity",
        ),
        (
            Request::PlaceOrder(order("o2", "tea", 0)),
            "invalid_quantity",
        ),
        (
            Request::PlaceOrder(order("o2", "tea", 101)),
            "insufficient_stock",
        ),
        (
            Request::PlaceOrder(PlaceOrderRequest {
                lines: vec![],
                ..order("o2", "tea", 1)
            }),
            "empty_cart",
        ),
        (
            Request::PlaceOrder(PlaceOrderRequest {
                customer: Some("ghost".into()),
                ..order("o2", "tea", 1)
            }),
            "unknown_customer",
        ),
        (
            Request::PlaceOrder(PlaceOrderRequest {
                coupons: vec!["NOPE".into()],
                ..order("o2", "tea", 1)
            }),
            "coupon_rejected",
        ),
        (
            Request::PlaceOrder(order("o1", "tea", 1)),
            "duplicate_order_name",
        ),
        (
            Request::Pay {
                order: "o9".into(),
                amount: d("1.00"),
            },
            "unknown_order",
        ),
        (
            Request::Pay {
                order: "o1".into(),
                amount: d("11.99"),
            },
            "payment_mismatch",
        ),
        (
            Request::Pay {
                order: "o1".into(),
                amount: d("12.001"),
            },
            "invalid_input",
        ),
        (
            Request::Ship {
                order: "o1".into(),
                lines: None,
            },
            "invalid_transition",
        ),
        (
            Request::Return {
                order: "o1".into(),
                lines: vec![LineQty { line: 0, qty: 1 }],
                restock: true,
            },
            "invalid_transition",
        ),
        (
            Request::AdjustStock(AdjustStock {
                sku: "tea".into(),
                location: "main".into(),
                delta: -100,
                reason: "x".into(),
            }),
            "insufficient_stock",
        ),
        (
            Request::AddPromotion {
                promotion: json(r#"{"id": "p", "kind": "percent_off", "percent": "101"}"#),
            },
            "invalid_rule",
        ),
    ];
    for (req, code) in cases {
        let err = e.execute(&req, None).unwrap_err();
        assert_eq!(err.code(), code, "{req:?}: {err}");
        assert!(!err.to_string().is_empty());
    }
    assert_eq!(
        e.store().head().unwrap(),
        head,
        "refused calls append nothing"
    );
    assert!(e.store().verify().unwrap().ok());
}

#[test]
fn concurrent_orders_on_sqlite_never_oversell_or_overuse_a_coupon() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        dir.path().join("c.db"),
        SqliteOptions::default().synchronous(Synchronous::Normal),
    )
    .unwrap();
    let e = Arc::new(Engine::open(store, clock()).unwrap());
    shop(&e);
    let mut handles = Vec::new();
    for t in 0..6 {
        let e = Arc::clone(&e);
        handles.push(std::thread::spawn(move || {
            let mut placed = Vec::new();
            for i in 0..20 {
                let id = format!("t{t}-{i}");
                let mut req = order(&id, "cup", 1);
                if i == 0 {
                    req.coupons = vec!["ONCE".into()];
                }
                if let Ok(p) = e.place_order(req, Some(&format!("key-{id}"))) {
                    if i % 2 == 0 {
                        e.pay(&id, p.quote.totals.payable, None).unwrap();
                    }
                    placed.push(p);
                }
            }
            placed
        }));
    }
    let placed: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(placed.len(), 10, "exactly the 10 cups in stock were sold");
    let with_coupon = placed
        .iter()
        .filter(|p| p.quote.coupons.contains(&"ONCE".to_string()))
        .count();
    assert!(
        with_coupon <= 1,
        "the single-use coupon was used {with_coupon} times"
    );
    let level = e.stock("cup").unwrap();
    let paid = e
        .read(|st| {
            st.shop()
                .orders()
                .filter(|o| o.status == mercato::core::order::OrderStatus::Paid)
                .count() as i64
        })
        .unwrap();
    assert!(paid >= 1);
    assert_eq!(level.on_hand, 10 - paid, "paid orders took their cups");
    assert_eq!(level.reserved, 10 - paid, "unpaid orders hold theirs");
    assert_eq!(level.available, 0);
    assert!(e.store().verify().unwrap().ok());
    // The log replays to the same state.
    let rebuilt = mercato::rebuild(e.store()).unwrap();
    e.read(|st| assert_eq!(&rebuilt.durable, &st.durable))
        .unwrap();
}

#[test]
fn reopen_and_snapshot_rebuild_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let before = {
        let e = Engine::open(
            SqliteStore::open(&path, SqliteOptions::default()).unwrap(),
            clock(),
        )
        .unwrap();
        shop(&e);
        for i in 0..5 {
            e.place_order(order(&format!("o{i}"), "tea", 1 + i), None)
                .unwrap();
        }
        e.pay("o1", m("24.00"), None).unwrap();
        e.snapshot().unwrap();
        e.cancel("o2", None).unwrap();
        e.clock().advance(chrono::Duration::hours(1));
        let t = e.tick().unwrap();
        assert_eq!(t.closed, ["o0", "o3", "o4"]);
        e.read(|s| s.durable.clone()).unwrap()
    };
    let e = Engine::open(
        SqliteStore::open(&path, SqliteOptions::default()).unwrap(),
        clock(),
    )
    .unwrap();
    let after = e.read(|s| s.durable.clone()).unwrap();
    assert_eq!(before, after);
    assert_eq!(e.stock("tea").unwrap().on_hand, 98);
    assert_eq!(e.customer("u1").unwrap().points, 500);
    // A fresh replay without the snapshot agrees too.
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    store.execute_raw("DELETE FROM snapshots").unwrap();
    assert_eq!(mercato::rebuild(&store).unwrap().durable, after);
}

#[test]
fn return_flow_and_customer_report() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e);
    let p = e
        .place_order(
            PlaceOrderRequest {
                points: 100,
                ..order("o1", "tea", 3)
            },
            None,
        )
        .unwrap();
    assert_eq!(p.quote.points_used, 100);
    assert_eq!(e.customer("u1").unwrap().points, 400);
    e.pay("o1", p.quote.totals.payable, None).unwrap();
    e.ship("o1", None, None).unwrap();
    e.deliver("o1", None).unwrap();
    let r = e
        .return_items(
            "o1",
            vec![LineQty { line: 0, qty: 3 }],
            mercato::ReturnOptions { restock: true },
            None,
        )
        .unwrap();
    assert_eq!(r.refund, p.quote.totals.payable);
    assert_eq!(r.points_returned, 100);
    assert_eq!(r.status, "returned");
    assert_eq!(e.customer("u1").unwrap().points, 500);
    assert_eq!(e.stock("tea").unwrap().on_hand, 100);
}

#[test]
fn max_orders_review_holds_the_extra_order_within_the_window_only() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    e.configure(
        Currency::CNY,
        json(r#"{"review": {"max_orders": {"count": 2, "minutes": 60}}}"#),
    )
    .unwrap();
    e.add_catalog_item(json(r#"{"sku": "tea", "price": "12.00"}"#))
        .unwrap();
    e.adjust_stock("tea", "main", 100, "received").unwrap();
    e.register_customer("u1", None, 0).unwrap();
    e.register_customer("u2", None, 0).unwrap();
    let status = |id: &str, customer: &str| {
        e.place_order(
            PlaceOrderRequest {
                customer: Some(customer.into()),
                ..order(id, "tea", 1)
            },
            None,
        )
        .unwrap()
        .status
    };
    // Two orders in the window are allowed; the third (this one included: 3 > 2) is held.
    assert_eq!(status("a1", "u1"), "pending_payment");
    assert_eq!(status("a2", "u1"), "pending_payment");
    assert_eq!(status("a3", "u1"), "on_hold");
    // Another customer is counted on their own.
    assert_eq!(status("b1", "u2"), "pending_payment");
    // A cancelled order no longer counts.
    e.cancel("a1", None).unwrap();
    assert_eq!(
        status("a4", "u1"),
        "on_hold",
        "a2, a3 (held, still live) and a4 make 3"
    );
    // Past the window, earlier orders stop counting (a2..a4 were placed at the start).
    e.clock().advance(chrono::Duration::minutes(61));
    assert_eq!(status("a5", "u1"), "pending_payment");
}

/// Rebuilding reads long logs in pages on helper threads: the result must
/// be the live state whether the log ends inside a page or exactly on a
/// page boundary, and a damaged event in a later page must stop the
/// rebuild with `Corrupt` naming it, a missing one with `Tampered`.
#[test]
fn rebuild_of_a_long_log_matches_the_live_state_and_finds_damage() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e);
    let mut i = 0_u64;
    let mut grow_to = |target: u64| {
        while e.store().head().unwrap() < target {
            if i % 1000 == 7 {
                e.place_order(order(&format!("o{i}"), "tea", 1), None)
                    .unwrap();
            } else {
                e.adjust_stock("cup", "main", 1 + (i % 3) as i64, "received")
                    .unwrap();
            }
            i += 1;
        }
    };
    grow_to(31_017);
    let live = e.read(|s| s.durable.clone()).unwrap();
    assert_eq!(mercato::rebuild(e.store()).unwrap().durable, live);

    // Exactly on a page boundary (pages hold 10,000 events).
    while e.store().head().unwrap() < 40_000 {
        e.adjust_stock("cup", "main", 1, "received").unwrap();
    }
    assert_eq!(e.store().head().unwrap(), 40_000);
    let live = e.read(|s| s.durable.clone()).unwrap();
    assert_eq!(mercato::rebuild(e.store()).unwrap().durable, live);

    e.store().tamper(25_001, "{not json").unwrap();
    match mercato::rebuild(e.store()) {
        Err(EngineError::Store(mercato::store::StoreError::Corrupt(m))) => {
            assert!(m.contains("event 25001"), "{m}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let e2 = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e2);
    while e2.store().head().unwrap() < 35_000 {
        e2.adjust_stock("cup", "main", 1, "received").unwrap();
    }
    e2.store().delete(32_000).unwrap();
    match mercato::rebuild(e2.store()) {
        Err(EngineError::Store(mercato::store::StoreError::Tampered { seq, reason })) => {
            assert_eq!(seq, 32_000, "{reason}");
            assert!(reason.contains("missing"), "{reason}");
        }
        other => panic!("expected Tampered, got {other:?}"),
    }
}

/// A store that returns at most 3,000 events a read, as the `Store` trait
/// allows ("at most `limit`"), whatever limit it is asked for.
struct ShortPages(MemoryStore);

impl Store for ShortPages {
    fn commit_batch(
        &self,
        commits: &[mercato::store::Commit],
    ) -> Result<Vec<mercato::store::CommitOutcome>, mercato::store::StoreError> {
        self.0.commit_batch(commits)
    }
    fn read_from(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<mercato::store::StoredEvent>, mercato::store::StoreError> {
        self.0.read_from(after, limit.min(3_000))
    }
    fn read_stream(
        &self,
        stream: &str,
    ) -> Result<Vec<mercato::store::StoredEvent>, mercato::store::StoreError> {
        self.0.read_stream(stream)
    }
    fn stream_version(&self, stream: &str) -> Result<u64, mercato::store::StoreError> {
        self.0.stream_version(stream)
    }
    fn head(&self) -> Result<u64, mercato::store::StoreError> {
        self.0.head()
    }
    fn idempotency(
        &self,
        key: &str,
    ) -> Result<Option<mercato::store::IdempotencyRecord>, mercato::store::StoreError> {
        self.0.idempotency(key)
    }
    fn save_snapshot(
        &self,
        snapshot: &mercato::store::SnapshotRecord,
    ) -> Result<(), mercato::store::StoreError> {
        self.0.save_snapshot(snapshot)
    }
    fn load_snapshot(
        &self,
    ) -> Result<Option<mercato::store::SnapshotRecord>, mercato::store::StoreError> {
        self.0.load_snapshot()
    }
    fn read_model(
        &self,
        model: mercato::store::ReadModel,
        key: &str,
    ) -> Result<Option<String>, mercato::store::StoreError> {
        self.0.read_model(model, key)
    }
    fn read_models(
        &self,
        model: mercato::store::ReadModel,
    ) -> Result<Vec<(String, String)>, mercato::store::StoreError> {
        self.0.read_models(model)
    }
    fn chain_head(&self) -> Result<(u64, String), mercato::store::StoreError> {
        self.0.chain_head()
    }
    fn chain(&self) -> &mercato::store::Chain {
        self.0.chain()
    }
}

/// Short pages before the end of the log are not the end: the rebuild
/// still reads every event.
#[test]
fn rebuild_reads_a_store_that_returns_short_pages_to_the_end() {
    let e = Engine::open(ShortPages(MemoryStore::new()), clock()).unwrap();
    shop(&e);
    while e.store().head().unwrap() < 25_000 {
        e.adjust_stock("cup", "main", 1, "received").unwrap();
    }
    let live = e.read(|s| s.durable.clone()).unwrap();
    let rebuilt = mercato::rebuild(e.store()).unwrap().durable;
    assert_eq!(rebuilt.position, 25_000);
    assert_eq!(rebuilt, live);
}

/// A SQLite log longer than two pages is rebuilt through the store's own
/// page reader (`read_replay_page`) and the two decoding helpers: the
/// rebuilt state, stream versions of events in several streams included,
/// is the live one.
#[test]
fn rebuild_of_a_long_sqlite_log_matches_the_live_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        dir.path().join("long.db"),
        SqliteOptions::default().synchronous(Synchronous::Normal),
    )
    .unwrap();
    let e = Engine::open(store, clock()).unwrap();
    shop(&e);
    let mut i = 0_u64;
    // Past 25,000 events: two full pages for the helpers, then a short one.
    while e.store().head().unwrap() < 25_005 {
        if i.is_multiple_of(10) {
            e.place_order(order(&format!("o{i}"), "tea", 1), None)
                .unwrap();
        } else {
            e.adjust_stock("tea", "main", 1, "received").unwrap();
        }
        i += 1;
    }
    let live = e.read(|s| s.durable.clone()).unwrap();
    assert!(
        live.streams.keys().any(|s| s.starts_with("order/")) && live.streams["sku/tea"] > 20_000,
        "orders and the SKU stream were both written"
    );
    let rebuilt = mercato::rebuild(e.store()).unwrap().durable;
    assert_eq!(rebuilt.position, live.position);
    assert_eq!(rebuilt, live);
}

/// `next_deadline` is exactly when the timer next has work: a tick one
/// second before it changes nothing, a tick at it acts (payment deadline,
/// then auto-completion seven days after delivery).
#[test]
fn next_deadline_is_when_tick_next_acts() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e);
    assert_eq!(e.next_deadline().unwrap(), None);
    e.place_order(order("o1", "tea", 1), None).unwrap();
    e.clock().advance(chrono::Duration::minutes(5));
    let p = e.place_order(order("o2", "tea", 1), None).unwrap();
    let first = e.next_deadline().unwrap().unwrap();
    assert_eq!(first, e.order("o1").unwrap().deadline.unwrap());
    e.clock().set(first - chrono::Duration::seconds(1));
    assert!(e.tick().unwrap().closed.is_empty());
    e.clock().set(first);
    assert_eq!(e.tick().unwrap().closed, ["o1"]);
    // o2 is paid, shipped and delivered: it completes 7 days later.
    e.pay("o2", p.quote.totals.payable, None).unwrap();
    e.ship("o2", None, None).unwrap();
    e.deliver("o2", None).unwrap();
    let delivered = e.order("o2").unwrap().delivered_at.unwrap();
    let due = e.next_deadline().unwrap().unwrap();
    assert_eq!(due, delivered + chrono::Duration::days(7));
    e.clock().set(due - chrono::Duration::seconds(1));
    assert!(e.tick().unwrap().completed.is_empty());
    e.clock().set(due);
    assert_eq!(e.tick().unwrap().completed, ["o2"]);
    assert_eq!(e.next_deadline().unwrap(), None);
}
