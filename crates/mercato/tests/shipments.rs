//! Shipments through the engine (issue 13): packages with carrier and
//! tracking, delivery per shipment, the typed refusals, the location each
//! unit left from (with stock committed at payment and on shipment) and
//! the restock of a returned unit there, idempotent keys, the v1 `ship` /
//! `deliver` as shipments, logs written before shipments, and a replay
//! after reopening the store — on memory, SQLite and PostgreSQL (skipped
//! without a server, see `mercato_postgres::testing`).

use mercato::core::aftersale::{AfterSaleAction, AfterSaleKind};
use mercato::core::order::{LineQty, Order, OrderEvent};
use mercato::core::shop::StockCommit;
use mercato::core::{CoreError, Currency, Event, Money, Shop};
use mercato::sqlite::{SqliteOptions, SqliteStore};
use mercato::store::{MemoryStore, Store};
use mercato::{
    AfterSaleOptions, Engine, EngineError, LocationOptions, ManualClock, Package,
    PlaceOrderRequest, ReturnOptions, Settings, Shipment,
};

fn cny(s: &str) -> Money {
    Money::parse(s, Currency::CNY).unwrap()
}

fn clock() -> ManualClock {
    ManualClock::new("2026-03-02T09:00:00Z".parse().unwrap())
}

/// cup 20.00 at `east` (priority) and `west`, 6 units each.
fn shop<S: Store + 'static>(e: &Engine<S, ManualClock>, commit: StockCommit) {
    let settings = Settings {
        stock_commit: commit,
        ..Settings::default()
    };
    e.configure(Currency::CNY, settings).unwrap();
    e.add_catalog_item(
        serde_json::from_value(serde_json::json!({"sku": "cup", "price": "20.00"})).unwrap(),
    )
    .unwrap();
    e.configure_location(
        "cup",
        "east",
        LocationOptions {
            priority: 10,
            ..LocationOptions::default()
        },
    )
    .unwrap();
    e.configure_location("cup", "west", LocationOptions::default())
        .unwrap();
    e.adjust_stock("cup", "east", 6, "opening").unwrap();
    e.adjust_stock("cup", "west", 6, "opening").unwrap();
}

fn on_hand<S: Store + 'static>(e: &Engine<S, ManualClock>, loc: &str) -> (i64, i64) {
    e.read(|s| {
        let l = s
            .shop()
            .stock()
            .sku("cup")
            .unwrap()
            .locations
            .iter()
            .find(|l| l.location == loc)
            .cloned()
            .unwrap();
        (l.on_hand, l.reserved)
    })
    .unwrap()
}

fn core(e: EngineError) -> CoreError {
    match e {
        EngineError::Core(c) => c,
        other => panic!("not a core error: {other:?}"),
    }
}

fn pkg(carrier: &str, tracking: &str, line: usize, qty: i64) -> Package {
    Package::new(carrier, tracking).unit(line, qty)
}

/// Every refusal is its own typed error, and nothing of it is stored.
fn typed_refusals<S: Store + 'static>(e: &Engine<S, ManualClock>) {
    shop(e, StockCommit::Payment);
    e.place_order(PlaceOrderRequest::new("o1").line("cup", 3), None)
        .unwrap();
    let s1 = || Shipment::new("s1").package(pkg("SF", "SF1", 0, 1));
    // Unpaid: the order cannot ship.
    let err = core(e.ship_shipment("o1", s1(), None).unwrap_err());
    assert!(
        matches!(err, CoreError::InvalidTransition { .. }),
        "{err:?}"
    );
    e.pay("o1", cny("60.00"), None).unwrap();
    let head = e.store().head().unwrap();
    let err = core(
        e.ship_shipment("o1", Shipment::new("s1"), None)
            .unwrap_err(),
    );
    assert!(matches!(err, CoreError::EmptyShipment { .. }), "{err:?}");
    assert_eq!(err.kind().code(), "invalid_quantity");
    let empty = Shipment::new("s1")
        .package(pkg("SF", "SF1", 0, 1))
        .package(Package::new("JD", "JD1"));
    let err = core(e.ship_shipment("o1", empty, None).unwrap_err());
    assert!(
        matches!(err, CoreError::EmptyPackage { package: 1, .. }),
        "{err:?}"
    );
    let too_many = Shipment::new("s1")
        .package(pkg("SF", "SF1", 0, 2))
        .package(pkg("JD", "JD1", 0, 2));
    let err = core(e.ship_shipment("o1", too_many, None).unwrap_err());
    assert_eq!(
        err,
        CoreError::UnitsNotShippable {
            order: "o1".into(),
            line: 0,
            wanted: 4,
            left: 3
        }
    );
    let err = core(
        e.ship_shipment(
            "o1",
            Shipment::new("s1").package(pkg("SF", "SF1", 5, 1)),
            None,
        )
        .unwrap_err(),
    );
    assert!(
        matches!(
            err,
            CoreError::UnitsNotShippable {
                line: 5,
                left: 0,
                ..
            }
        ),
        "{err:?}"
    );
    let err = core(
        e.ship_shipment(
            "o1",
            Shipment::new("s1").package(pkg("SF", "SF1", 0, 0)),
            None,
        )
        .unwrap_err(),
    );
    assert!(matches!(err, CoreError::InvalidQuantity { .. }), "{err:?}");
    let err = core(e.deliver_shipment("o1", "s1", None).unwrap_err());
    assert!(matches!(err, CoreError::UnknownShipment { .. }), "{err:?}");
    assert_eq!(e.store().head().unwrap(), head, "refusals store nothing");

    let a = e.ship_shipment("o1", s1(), None).unwrap();
    assert_eq!(
        (a.shipment.as_str(), a.status.as_str()),
        ("s1", "partially_shipped")
    );
    let err = core(e.ship_shipment("o1", s1(), None).unwrap_err());
    assert!(
        matches!(err, CoreError::DuplicateShipment { .. }),
        "{err:?}"
    );
    let d = e.deliver_shipment("o1", "s1", None).unwrap();
    assert!(d.delivered_at.is_some());
    assert_eq!(d.status.as_str(), "partially_shipped");
    let err = core(e.deliver_shipment("o1", "s1", None).unwrap_err());
    assert!(
        matches!(err, CoreError::ShipmentAlreadyDelivered { .. }),
        "{err:?}"
    );
    assert_eq!(err.kind().code(), "invalid_transition");
    let err = core(e.ship_shipment("nope", s1(), None).unwrap_err());
    assert!(matches!(err, CoreError::UnknownOrder(_)), "{err:?}");
}

#[test]
fn refusals_are_typed_on_memory() {
    typed_refusals(&Engine::open(MemoryStore::new(), clock()).unwrap());
}

#[test]
fn refusals_are_typed_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("s.db"), SqliteOptions::default()).unwrap();
    typed_refusals(&Engine::open(store, clock()).unwrap());
}

/// A keyed shipment is shipped once: the retry answers the first answer.
#[test]
fn a_shipment_key_ships_once() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e, StockCommit::Payment);
    e.place_order(PlaceOrderRequest::new("o1").line("cup", 2), None)
        .unwrap();
    e.pay("o1", cny("40.00"), None).unwrap();
    let s = || Shipment::new("s1").package(pkg("SF", "SF1", 0, 1));
    let first = e.ship_shipment("o1", s(), Some("k1")).unwrap();
    let head = e.store().head().unwrap();
    assert_eq!(e.ship_shipment("o1", s(), Some("k1")).unwrap(), first);
    assert_eq!(e.store().head().unwrap(), head);
    let d = e.deliver_shipment("o1", "s1", Some("k2")).unwrap();
    assert_eq!(e.deliver_shipment("o1", "s1", Some("k2")).unwrap(), d);
    assert_eq!(e.order("o1").unwrap().shipments.len(), 1);
}

/// Stock committed on shipment, after a partial cancel took held units:
/// each shipment records the locations its commit took, and returned units
/// go back exactly there (not where the order's allocations list them).
fn locations_follow_the_commit<S: Store + 'static>(e: &Engine<S, ManualClock>) {
    shop(e, StockCommit::Shipment);
    // 8 cups: 6 held at east (priority), 2 at west.
    e.place_order(PlaceOrderRequest::new("o1").line("cup", 8), None)
        .unwrap();
    e.pay("o1", e.order("o1").unwrap().payable(), None).unwrap();
    // The partial cancel commits and restocks 3 of the held units: the
    // first held, east's.
    e.cancel_units("o1", vec![LineQty { line: 0, qty: 3 }], None)
        .unwrap();
    assert_eq!(on_hand(e, "east"), (6, 3));
    assert_eq!(on_hand(e, "west"), (6, 2));
    // s1: 4 units, the 3 still held at east, then 1 of west.
    e.ship_shipment(
        "o1",
        Shipment::new("s1").package(pkg("SF", "SF1", 0, 4)),
        None,
    )
    .unwrap();
    assert_eq!(on_hand(e, "east"), (3, 0));
    assert_eq!(on_hand(e, "west"), (5, 1));
    // The v1 ship: the last unit, west's.
    e.ship("o1", None, None).unwrap();
    assert_eq!(on_hand(e, "west"), (4, 0));
    let o = e.order("o1").unwrap();
    let from: Vec<(String, String, i64)> = o
        .shipments
        .iter()
        .flat_map(|s| {
            s.sources
                .iter()
                .map(|u| (s.id.clone(), u.location.clone(), u.qty))
        })
        .collect();
    assert_eq!(
        from,
        vec![
            ("s1".into(), "east".into(), 3),
            ("s1".into(), "west".into(), 1),
            ("o1-s2".into(), "west".into(), 1),
        ]
    );
    e.deliver("o1", None).unwrap();
    assert!(
        e.order("o1")
            .unwrap()
            .shipments
            .iter()
            .all(|s| s.is_delivered())
    );
    // Returning all 5: the 3 from east go back to east, 2 to west (the
    // order's allocations would say 5 to east: east left only 3).
    e.return_items(
        "o1",
        vec![LineQty { line: 0, qty: 4 }],
        ReturnOptions { restock: true },
        None,
    )
    .unwrap();
    assert_eq!(on_hand(e, "east"), (6, 0));
    assert_eq!(on_hand(e, "west"), (5, 0));
    let kind = AfterSaleKind::ReturnRefund;
    let r = e
        .request_after_sale(
            "o1",
            AfterSaleOptions::new(kind, vec![LineQty { line: 0, qty: 1 }]),
            None,
        )
        .unwrap()
        .request;
    e.after_sale("o1", &r, AfterSaleAction::Approve, false, None)
        .unwrap();
    e.after_sale("o1", &r, AfterSaleAction::Receive, false, None)
        .unwrap();
    assert_eq!(on_hand(e, "east"), (6, 0));
    assert_eq!(
        on_hand(e, "west"),
        (6, 0),
        "every unit is back where it left"
    );
    let a = e
        .after_sale("o1", &r, AfterSaleAction::Refund, false, None)
        .unwrap();
    // 8 × 20.00 = 160.00; each unit 20.00.
    assert_eq!(a.refund.unwrap().amount, cny("20.00"));
    assert_eq!(a.order_status.as_str(), "returned");
}

#[test]
fn locations_follow_the_commit_on_memory() {
    locations_follow_the_commit(&Engine::open(MemoryStore::new(), clock()).unwrap());
}

#[test]
fn locations_follow_the_commit_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("s.db"), SqliteOptions::default()).unwrap();
    locations_follow_the_commit(&Engine::open(store, clock()).unwrap());
}

/// Shipments, deliveries, a partial cancel that delivers the order and
/// returns, stored in SQLite: reopening the file rebuilds the identical
/// orders and stock.
#[test]
fn reopening_sqlite_rebuilds_the_shipments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (orders, stock) = {
        let e = Engine::open(
            SqliteStore::open(&path, SqliteOptions::default()).unwrap(),
            clock(),
        )
        .unwrap();
        locations_follow_the_commit(&e);
        e.place_order(PlaceOrderRequest::new("o2").line("cup", 3), None)
            .unwrap();
        e.pay("o2", cny("60.00"), None).unwrap();
        let s = Shipment::new("s1")
            .package(pkg("SF", "SF9", 0, 1))
            .package(pkg("JD", "JD9", 0, 1));
        e.ship_shipment("o2", s, None).unwrap();
        e.deliver_shipment("o2", "s1", None).unwrap();
        let r = e
            .cancel_units("o2", vec![LineQty { line: 0, qty: 1 }], None)
            .unwrap();
        // 3 × 20.00, one unit 20.00; the last unit left to ship is
        // cancelled and the only shipment is delivered: delivered.
        assert_eq!(r.amount, cny("20.00"));
        assert_eq!(r.status.as_str(), "delivered");
        let orders: Vec<Order> = e.read(|s| s.shop().orders().cloned().collect()).unwrap();
        let stock = e.read(|s| s.shop().stock().clone()).unwrap();
        (orders, stock)
    };
    let e = Engine::open(
        SqliteStore::open(&path, SqliteOptions::default()).unwrap(),
        clock(),
    )
    .unwrap();
    let again: Vec<Order> = e.read(|s| s.shop().orders().cloned().collect()).unwrap();
    assert_eq!(again, orders);
    assert_eq!(e.read(|s| s.shop().stock().clone()).unwrap(), stock);
    assert_eq!(again[1].shipments[0].packages.len(), 2);
    let rebuilt = mercato::rebuild(e.store()).unwrap();
    assert_eq!(rebuilt.shop().orders().cloned().collect::<Vec<_>>(), orders);
}

#[test]
fn postgres_rebuilds_the_shipments() {
    use mercato_postgres::testing::TestCluster;
    use mercato_postgres::{PgOptions, PgStore};
    let Some(cluster) = TestCluster::shared_or_skip() else {
        return;
    };
    let schema = cluster.fresh_schema_name();
    let open = |fresh: bool| {
        let opts = PgOptions::default().schema(schema.clone());
        if fresh {
            PgStore::open_fresh(cluster.url(), opts).unwrap()
        } else {
            PgStore::open(cluster.url(), opts).unwrap()
        }
    };
    let orders = {
        let e = Engine::open(open(true), clock()).unwrap();
        locations_follow_the_commit(&e);
        e.read(|s| s.shop().orders().cloned().collect::<Vec<_>>())
            .unwrap()
    };
    let e = Engine::open(open(false), clock()).unwrap();
    let again: Vec<Order> = e.read(|s| s.shop().orders().cloned().collect()).unwrap();
    assert_eq!(again, orders);
}

/// A `shipped.v1` written before shipments (no id, no packages, no
/// locations) replays into a shipment `<order>-s<n>` whose locations come
/// from the order's allocations, and a `delivered.v1` delivers it.
#[test]
fn logs_written_before_shipments_replay_into_shipments() {
    let quote = mercato::core::Quote::at_list_prices(
        Currency::CNY,
        &[("cup", 3, cny("20.00"))],
        cny("0.00"),
    )
    .unwrap();
    let old = [
        r#"{"type":"placed.v1","data":{"id":"o1","customer":null,"channel":"web","quote":QUOTE,"allocations":[{"sku":"cup","location":"east","qty":2},{"sku":"cup","location":"west","qty":1}],"at":"2026-03-02T09:00:00Z","deadline":null}}"#,
        r#"{"type":"paid.v1","data":{"id":"o1","amount":"60.00 CNY","at":"2026-03-02T09:01:00Z"}}"#,
        r#"{"type":"shipped.v1","data":{"id":"o1","lines":[{"line":0,"qty":2}]}}"#,
        r#"{"type":"shipped.v1","data":{"id":"o1","lines":[{"line":0,"qty":1}]}}"#,
        r#"{"type":"delivered.v1","data":{"id":"o1","at":"2026-03-03T09:00:00Z"}}"#,
    ];
    let quote_json = serde_json::to_string(&quote).unwrap();
    let mut shop = Shop::new();
    for line in old {
        let e: OrderEvent = serde_json::from_str(&line.replace("QUOTE", &quote_json)).unwrap();
        shop.apply(&Event::Order(e));
    }
    let o = shop.order("o1").unwrap();
    assert_eq!(o.status.as_str(), "delivered");
    let ids: Vec<&str> = o.shipments.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["o1-s1", "o1-s2"]);
    assert!(
        o.shipments
            .iter()
            .all(|s| s.is_delivered() && s.packages.is_empty())
    );
    let from: Vec<(&str, i64)> = o
        .shipments
        .iter()
        .flat_map(|s| s.sources.iter().map(|u| (u.location.as_str(), u.qty)))
        .collect();
    assert_eq!(from, [("east", 2), ("west", 1)]);
    // An old event serializes as it was written.
    let e: OrderEvent = serde_json::from_str(old[2]).unwrap();
    assert_eq!(serde_json::to_string(&e).unwrap(), old[2]);
}
