//! Store guards for limits that no stream protects: a flash-sale price
//! promotion's per-customer limit and quota are counted in the store as
//! well as in memory, so two engines over one database (two processes in
//! production) cannot sell beyond them together. A stale engine's commit is
//! refused, it resyncs and prices the units at list price (on SQLite and on
//! PostgreSQL).

use mercato::core::Currency;
use mercato::rules::{Cart, CartLine};
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{MemoryStore, Store};
use mercato::{Engine, ManualClock, PlaceOrderRequest, Settings};

fn clock() -> ManualClock {
    ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> T {
    serde_json::from_str(s).unwrap()
}

/// Tea 12.00 and cup 30.00, both at 10.00 in the `flash` promotion: one
/// unit per customer, two units in all.
fn shop<S: Store + 'static>(e: &Engine<S, ManualClock>) {
    e.configure(Currency::CNY, Settings::default()).unwrap();
    e.add_catalog_item(json(r#"{"sku": "tea", "price": "12.00"}"#))
        .unwrap();
    e.add_catalog_item(json(r#"{"sku": "cup", "price": "30.00"}"#))
        .unwrap();
    e.adjust_stock("tea", "main", 100, "received").unwrap();
    e.adjust_stock("cup", "main", 100, "received").unwrap();
    for u in ["u1", "u2", "u3"] {
        e.register_customer(u, None, 0).unwrap();
    }
    e.add_promotion(json(
        r#"{"id": "flash", "kind": "price", "price": "10.00", "per_customer_limit": 1, "quota": 2,
            "scope": {"skus": ["tea", "cup"]}}"#,
    ))
    .unwrap();
}

fn order(id: &str, customer: &str, sku: &str, qty: i64) -> PlaceOrderRequest {
    PlaceOrderRequest {
        id: id.into(),
        customer: Some(customer.into()),
        lines: vec![CartLine {
            sku: sku.into(),
            qty,
        }],
        coupons: vec![],
        points: 0,
        channel: None,
    }
}

fn payable<S: Store + 'static>(e: &Engine<S, ManualClock>, req: PlaceOrderRequest) -> String {
    e.place_order(req, None)
        .unwrap()
        .quote
        .totals
        .payable
        .amount()
        .to_string()
}

const CUSTOMER_U1: &str = "promo/flash/customer/u1";
const QUOTA: &str = "promo/flash";

#[test]
fn guard_counters_follow_live_orders() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e);
    assert_eq!(e.store().guard(CUSTOMER_U1).unwrap(), 0);
    // One unit at the flash price, the second at list price.
    assert_eq!(payable(&e, order("o1", "u1", "tea", 2)), "22.00");
    assert_eq!(e.store().guard(CUSTOMER_U1).unwrap(), 1);
    assert_eq!(e.store().guard(QUOTA).unwrap(), 1);
    // Cancelling gives the units back.
    e.cancel("o1", None).unwrap();
    assert_eq!(e.store().guard(CUSTOMER_U1).unwrap(), 0);
    assert_eq!(e.store().guard(QUOTA).unwrap(), 0);
    assert_eq!(payable(&e, order("o2", "u1", "cup", 1)), "10.00");
    assert_eq!(payable(&e, order("o3", "u2", "tea", 1)), "10.00");
    assert_eq!(e.store().guard(QUOTA).unwrap(), 2);
    // The quota is used up: list price, no guard moves.
    assert_eq!(payable(&e, order("o4", "u3", "tea", 1)), "12.00");
    assert_eq!(e.store().guard(QUOTA).unwrap(), 2);
    assert_eq!(e.store().guard("promo/flash/customer/u3").unwrap(), 0);
    // An unpaid order closed by the timer gives its units back too.
    e.clock().advance(chrono::Duration::days(30));
    let closed = e.tick().unwrap().closed;
    assert!(closed.contains(&"o2".to_string()), "{closed:?}");
    assert_eq!(e.store().guard(CUSTOMER_U1).unwrap(), 0);
    assert_eq!(e.store().guard(QUOTA).unwrap(), 0);
}

#[test]
fn a_stale_engine_cannot_pass_the_limits_of_another() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    stale_engine_is_stopped_by_guards(|| {
        SqliteStore::open(
            &path,
            SqliteOptions::default().synchronous(Synchronous::Normal),
        )
        .unwrap()
    });
}

#[test]
fn a_stale_engine_cannot_pass_the_limits_of_another_on_postgres() {
    use mercato_postgres::testing::TestCluster;
    use mercato_postgres::{PgOptions, PgStore};
    let Some(cluster) = TestCluster::shared_or_skip() else {
        return;
    };
    let schema = cluster.fresh_schema_name();
    stale_engine_is_stopped_by_guards(|| {
        PgStore::open(cluster.url(), PgOptions::default().schema(schema.clone())).unwrap()
    });
}

/// Two engines over one database (`open` opens it again each time).
fn stale_engine_is_stopped_by_guards<S: Store + 'static>(open: impl Fn() -> S) {
    let a = Engine::open(open(), clock()).unwrap();
    shop(&a);
    let b = Engine::open(open(), clock()).unwrap();
    let cup_for = |c: &str| Cart {
        customer: Some(c.into()),
        lines: vec![CartLine {
            sku: "cup".into(),
            qty: 1,
        }],
        coupons: vec![],
        points: 0,
    };

    // Per-customer limit: A sells u1 a flash-priced tea; B has not seen it
    // and quotes u1's cup at the flash price. No stream is shared (other
    // order, other SKU): only the guard stops B.
    assert_eq!(payable(&a, order("a1", "u1", "tea", 1)), "10.00");
    assert_eq!(
        b.quote(&cup_for("u1"))
            .unwrap()
            .totals
            .payable
            .amount()
            .to_string(),
        "10.00",
        "B is stale"
    );
    assert_eq!(payable(&b, order("b1", "u1", "cup", 1)), "30.00");
    assert_eq!(b.store().guard(CUSTOMER_U1).unwrap(), 1);

    // Quota: A sells u2 the second flash unit; stale B quotes u3 at the
    // flash price but the store refuses the third unit.
    assert_eq!(payable(&a, order("a2", "u2", "cup", 1)), "10.00");
    assert_eq!(
        b.quote(&cup_for("u3"))
            .unwrap()
            .totals
            .payable
            .amount()
            .to_string(),
        "10.00",
        "B is stale again"
    );
    assert_eq!(payable(&b, order("b2", "u3", "cup", 1)), "30.00");
    assert_eq!(a.store().guard(QUOTA).unwrap(), 2);

    // Both engines rebuilt from the log agree with the counters.
    let st = mercato::rebuild(a.store()).unwrap();
    assert_eq!(st.shop().promotion_units("flash", "u1"), 1);
    assert_eq!(st.shop().promotion_units_total("flash"), 2);
    assert!(a.store().verify().unwrap().ok());
}

/// A refusal that comes from not having seen another engine's commits is
/// not final: the engine sees that the store moved, catches up and decides
/// again. Engine B opens before A places `o1` and adds stock; without the
/// catch-up B answers `unknown_order` to paying `o1` and
/// `insufficient_stock` to an order for the new stock.
fn stale_refusals_are_decided_again<S: Store + 'static>(open: impl Fn() -> S) {
    let a = Engine::open(open(), clock()).unwrap();
    shop(&a);
    let b = Engine::open(open(), clock()).unwrap();
    let placed = a.place_order(order("o1", "u1", "cup", 2), None).unwrap();
    let total = placed.quote.totals.payable;
    let paid = b.pay("o1", total, Some("pay-o1")).unwrap();
    assert_eq!(paid, mercato::core::order::OrderStatus::Paid);
    // Stock A adds is B's to sell: 98 cups left, A adds 50, B sells 140.
    a.adjust_stock("cup", "main", 50, "received").unwrap();
    b.place_order(order("o2", "u2", "cup", 140), None).unwrap();
    // A refusal that stands after catching up is still a refusal.
    let err = b
        .place_order(order("o3", "u3", "cup", 9), None)
        .unwrap_err();
    assert_eq!(err.kind(), mercato::ErrorKind::InsufficientStock);
}

#[test]
fn stale_refusals_are_decided_again_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    stale_refusals_are_decided_again(|| {
        SqliteStore::open(
            &path,
            SqliteOptions::default().synchronous(Synchronous::Normal),
        )
        .unwrap()
    });
}

#[test]
fn stale_refusals_are_decided_again_on_postgres() {
    use mercato_postgres::testing::TestCluster;
    use mercato_postgres::{PgOptions, PgStore};
    let Some(cluster) = TestCluster::shared_or_skip() else {
        return;
    };
    let schema = cluster.fresh_schema_name();
    stale_refusals_are_decided_again(|| {
        PgStore::open(cluster.url(), PgOptions::default().schema(schema.clone())).unwrap()
    });
}
