//! Bugs the kit's property suites and fuzzers found, each kept as a plain
//! test (the proptest regression files keep the generated cases too).

use mercato::core::order::LineQty;
use mercato::rules::CartLine;
use mercato::store::MemoryStore;
use mercato::{Engine, ManualClock, PlaceOrderRequest, Settings};

fn engine() -> Engine<MemoryStore, ManualClock> {
    let clock = ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap());
    let e = Engine::open(MemoryStore::new(), clock).unwrap();
    e.configure(mercato::core::Currency::CNY, Settings::default())
        .unwrap();
    e.add_catalog_item(serde_json::from_str(r#"{"sku": "a", "price": "10.00"}"#).unwrap())
        .unwrap();
    e
}

/// A return that names the same line twice restocks the next units each
/// time (first-first), not the same units twice: with units 1–2 from `l0`
/// and units 3–4 from `l1`, returning 2 + 2 units puts 2 back at each.
#[test]
fn return_naming_a_line_twice_restocks_each_unit_where_it_came_from() {
    let e = engine();
    let priority = |priority| mercato::LocationOptions {
        priority,
        ..mercato::LocationOptions::default()
    };
    e.configure_location("a", "l0", priority(1)).unwrap();
    e.configure_location("a", "l1", priority(0)).unwrap();
    e.adjust_stock("a", "l0", 2, "opening").unwrap();
    e.adjust_stock("a", "l1", 2, "opening").unwrap();
    let placed = e
        .place_order(
            PlaceOrderRequest {
                id: "o1".into(),
                customer: None,
                lines: vec![CartLine {
                    sku: "a".into(),
                    qty: 4,
                }],
                coupons: vec![],
                points: 0,
                channel: None,
            },
            None,
        )
        .unwrap();
    // Split by priority: 2 from l0, 2 from l1.
    assert_eq!(placed.reservations.len(), 2);
    e.pay(
        "o1",
        mercato::Money::parse("40.00", mercato::Currency::CNY).unwrap(),
        None,
    )
    .unwrap();
    e.ship("o1", None, None).unwrap();
    e.deliver("o1", None).unwrap();
    let two = LineQty { line: 0, qty: 2 };
    e.return_items(
        "o1",
        vec![two, two],
        mercato::ReturnOptions { restock: true },
        None,
    )
    .unwrap();
    let at = |loc: &str| {
        e.read(|st| {
            st.shop()
                .stock()
                .sku("a")
                .and_then(|s| s.locations.iter().find(|l| l.location == loc))
                .map(|l| l.on_hand)
        })
        .unwrap()
    };
    assert_eq!(at("l0"), Some(2));
    assert_eq!(at("l1"), Some(2));
    assert!(mercato_testkit::check_engine(&e).is_empty());
}

/// The contract's error order: `unknown_sku` wins over `invalid_quantity`
/// even when the bad quantity is on an earlier line.
#[test]
fn unknown_sku_wins_over_an_earlier_invalid_quantity() {
    let e = engine();
    e.adjust_stock("a", "main", 5, "opening").unwrap();
    let err = e
        .place_order(
            PlaceOrderRequest {
                id: "o1".into(),
                customer: None,
                lines: vec![
                    CartLine {
                        sku: "a".into(),
                        qty: 0,
                    },
                    CartLine {
                        sku: "nope".into(),
                        qty: 1,
                    },
                ],
                coupons: vec![],
                points: 0,
                channel: None,
            },
            None,
        )
        .unwrap_err();
    assert_eq!(err.code(), "unknown_sku");
}

/// A partial cancel gives the cancelled units back to the channel quota
/// they were sold through, whether stock commits at payment or at
/// shipment (found by the engine-vs-model suite once it covered
/// `cancel_units`: under `stock_commit: payment` the quota kept them, and
/// a later cancel of the order then kept the rest too).
#[test]
fn partial_cancel_gives_quota_units_back_under_either_stock_commit() {
    use mercato::core::shop::StockCommit;
    for commit in [StockCommit::Payment, StockCommit::Shipment] {
        let e = engine();
        let settings = Settings {
            stock_commit: commit,
            ..Settings::default()
        };
        e.execute(&mercato::Request::UpdateSettings { settings }, None)
            .unwrap();
        e.adjust_stock("a", "l0", 5, "opening").unwrap();
        e.execute(
            &mercato::Request::OpenQuota(mercato::OpenQuota {
                sku: "a".into(),
                channel: "app".into(),
                qty: 3,
            }),
            None,
        )
        .unwrap();
        let taken = || {
            e.read(|st| st.shop().stock().sku("a").map(|s| s.quotas[0].taken))
                .unwrap()
        };
        let mut req = PlaceOrderRequest::new("o1").line("a", 3);
        req.channel = Some("app".into());
        e.place_order(req, None).unwrap();
        e.pay(
            "o1",
            mercato::Money::parse("30.00", mercato::Currency::CNY).unwrap(),
            None,
        )
        .unwrap();
        // 3 units sold through the app quota of 3.
        assert_eq!(taken(), Some(3), "{commit:?}");
        e.cancel_units("o1", vec![LineQty { line: 0, qty: 1 }], None)
            .unwrap();
        // One unit cancelled: 3 − 1 = 2 taken.
        assert_eq!(taken(), Some(2), "{commit:?}");
        e.cancel("o1", None).unwrap();
        // The order cancelled: nothing taken, all 5 units on the shelf.
        assert_eq!(taken(), Some(0), "{commit:?}");
        let on_hand = e
            .read(|st| st.shop().stock().sku("a").map(|s| s.locations[0].on_hand))
            .unwrap();
        assert_eq!(on_hand, Some(5), "{commit:?}");
        assert!(mercato_testkit::check_engine(&e).is_empty());
    }
}
