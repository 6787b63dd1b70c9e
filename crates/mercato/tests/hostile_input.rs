//! Issue 11, "guarantees at the boundary": hostile settings and amounts.
//!
//! - Settings outside their ranges are refused at `configure` and
//!   `update_settings` with `invalid_input`, nothing is stored, and the
//!   engine keeps working.
//! - A store that already holds extreme settings (written before they were
//!   validated) opens, places, pays and ticks without panicking.
//! - Amount text is read in one strict grammar and may not carry more
//!   fractional digits than the currency, not even zeros.
//! - A stock adjustment that would overflow a SKU's total is refused.

use chrono::Duration;
use mercato::core::{Currency, Money};
use mercato::rules::CartLine;
use mercato::scenario::{Scenario, matches};
use mercato::store::{Commit, MemoryStore, NewEvent, Store};
use mercato::{
    ConfigEvent, Engine, EngineError, LogEvent, ManualClock, PlaceOrderRequest, Request, Response,
    Settings,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn clock() -> ManualClock {
    ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())
}

fn json<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn order(id: &str, qty: i64) -> PlaceOrderRequest {
    PlaceOrderRequest {
        id: id.into(),
        customer: Some("u1".into()),
        lines: vec![CartLine {
            sku: "tea".into(),
            qty,
        }],
        coupons: vec![],
        points: 0,
        channel: None,
    }
}

/// Catalog, stock and a customer on a configured engine.
fn stock_up<S: Store + 'static>(e: &Engine<S, ManualClock>) {
    e.add_catalog_item(json(json!({"sku": "tea", "price": "399.00"})))
        .unwrap();
    e.adjust_stock("tea", "main", 100, "received").unwrap();
    e.register_customer("u1", None, 0).unwrap();
}

/// Places, pays, ships, delivers and ticks far into the future: the engine
/// works and nothing panics. Returns what the last tick reported.
fn exercise<S: Store + 'static>(
    e: &Engine<S, ManualClock>,
    tag: &str,
) -> (Vec<String>, Vec<String>) {
    let unpaid = format!("{tag}-unpaid");
    let paid = format!("{tag}-paid");
    e.place_order(order(&unpaid, 1), None).unwrap();
    e.place_order(order(&paid, 1), None).unwrap();
    assert_eq!(
        e.pay(
            &paid,
            Money::new(Decimal::new(39900, 2), Currency::CNY).unwrap(),
            None
        )
        .unwrap(),
        "paid"
    );
    e.ship(&paid, None, None).unwrap();
    e.deliver(&paid, None).unwrap();
    e.tick().unwrap();
    e.clock().advance(Duration::days(365 * 50));
    let t = e.tick().unwrap();
    (t.closed, t.completed)
}

const HOSTILE: [i64; 5] = [
    i64::MAX,
    i64::MIN,
    200_000_000_000_000,
    -200_000_000_000_000,
    -1,
];

/// Every hostile settings object: one number per setting, the rest default.
fn hostile_settings() -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for v in HOSTILE {
        out.push((
            "payment_timeout_minutes",
            json!({"payment_timeout_minutes": v}),
        ));
        out.push(("auto_complete_days", json!({"auto_complete_days": v})));
        out.push((
            "review.max_orders.minutes",
            json!({"review": {"max_orders": {"count": 3, "minutes": v}}}),
        ));
        out.push((
            "review.max_orders.count",
            json!({"review": {"max_orders": {"count": v, "minutes": 60}}}),
        ));
        out.push(("review.max_qty", json!({"review": {"max_qty": v}})));
        out.push(("points.per_unit", json!({"points": {"per_unit": v}})));
        out.push(("max_coupons_per_group", json!({"max_coupons_per_group": v})));
    }
    out.push((
        "payment_timeout_minutes",
        json!({"payment_timeout_minutes": 0}),
    ));
    out.push((
        "review.max_orders.minutes",
        json!({"review": {"max_orders": {"count": 3, "minutes": 0}}}),
    ));
    out.push((
        "review.max_payable",
        json!({"review": {"max_payable": "-1.00"}}),
    ));
    out.push((
        "review.max_payable",
        json!({"review": {"max_payable": "100.000"}}),
    ));
    out
}

fn assert_invalid_settings(r: Result<(), EngineError>, field: &str, what: &Value) {
    let e = r.expect_err(&format!("{what} was accepted"));
    assert_eq!(e.code(), "invalid_input", "{what}: {e}");
    let named = match &e {
        EngineError::InvalidSettings { field: f, .. } => *f,
        EngineError::Rules(mercato::rules::RulesError::InvalidSettings { field: f, .. }) => *f,
        other => panic!("{what}: not a settings error: {other:?}"),
    };
    assert_eq!(named, field, "{what}");
}

#[test]
fn configure_refuses_hostile_settings_and_stores_nothing() {
    for (field, v) in hostile_settings() {
        let e = Engine::open(MemoryStore::new(), clock()).unwrap();
        let settings: Settings = json(v.clone());
        assert_invalid_settings(e.configure(Currency::CNY, settings), field, &v);
        assert_eq!(e.store().head().unwrap(), 0, "{v}: nothing stored");
        // The engine keeps working: a valid configure, orders and ticks.
        e.configure(Currency::CNY, Settings::default()).unwrap();
        stock_up(&e);
        let (closed, completed) = exercise(&e, "o");
        assert_eq!(closed, vec!["o-unpaid".to_string()], "{v}");
        assert_eq!(completed, vec!["o-paid".to_string()], "{v}");
    }
}

#[test]
fn update_settings_refuses_hostile_settings_and_keeps_the_old_ones() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    e.configure(Currency::CNY, Settings::default()).unwrap();
    stock_up(&e);
    for (i, (field, v)) in hostile_settings().into_iter().enumerate() {
        let head = e.store().head().unwrap();
        let settings: Settings = json(v.clone());
        let r = e
            .execute(&Request::UpdateSettings { settings }, None)
            .map(|_| ());
        assert_invalid_settings(r, field, &v);
        assert_eq!(e.store().head().unwrap(), head, "{v}: nothing stored");
        assert_eq!(e.read(|s| s.settings.clone()).unwrap(), Settings::default());
        let tag = format!("o{i}");
        let (closed, completed) = exercise(&e, &tag);
        assert_eq!(closed, vec![format!("{tag}-unpaid")], "{v}");
        assert_eq!(completed, vec![format!("{tag}-paid")], "{v}");
    }
    // The bounds themselves are accepted.
    let edge: Settings = json(json!({
        "payment_timeout_minutes": mercato::MAX_PAYMENT_TIMEOUT_MINUTES,
        "auto_complete_days": mercato::MAX_AUTO_COMPLETE_DAYS,
        "review": {
            "max_qty": mercato::rules::MAX_QTY,
            "max_payable": "0",
            "max_orders": {"count": mercato::MAX_REVIEW_ORDERS, "minutes": mercato::MAX_REVIEW_WINDOW_MINUTES}
        },
        "points": {"per_unit": mercato::rules::MAX_POINTS_PER_UNIT},
        "max_coupons_per_group": mercato::rules::MAX_COUPONS_PER_GROUP,
    }));
    e.execute(&Request::UpdateSettings { settings: edge }, None)
        .unwrap();
    let floor: Settings = json(json!({
        "payment_timeout_minutes": 1,
        "auto_complete_days": 0,
        "review": {"max_qty": 1, "max_orders": {"count": 1, "minutes": 1}},
        "points": {"per_unit": 1},
        "max_coupons_per_group": 0,
    }));
    e.execute(&Request::UpdateSettings { settings: floor }, None)
        .unwrap();
}

/// Appends config events straight through the store, as an engine of an
/// earlier version (which did not validate what this one refuses) would
/// have: one commit per event on the `config` stream.
fn store_with(events: Vec<ConfigEvent>) -> MemoryStore {
    let store = MemoryStore::new();
    for (i, e) in events.into_iter().enumerate() {
        let event = LogEvent::Config(Box::new(e));
        let commit = Commit {
            expected: vec![(event.stream(), i as u64)],
            events: vec![NewEvent::new(
                event.stream(),
                event.kind(),
                serde_json::to_string(&event).unwrap(),
            )],
            ..Commit::default()
        };
        store.commit_batch(&[commit]).unwrap();
    }
    store
}

/// A store whose log starts with `configured.v1` carrying `settings`.
fn store_with_configured(settings: Settings) -> MemoryStore {
    let store = store_with(vec![ConfigEvent::Configured {
        currency: Currency::CNY,
        settings,
    }]);
    assert_eq!(store.head().unwrap(), 1);
    store
}

/// A log from before amounts counted their written digits holds
/// `"12.000"`: it still opens with the same rules (checked by value).
#[test]
fn an_old_log_with_trailing_zeros_rebuilds_the_same_rules() {
    let settings: Settings = json(json!({"shipping": {"fee": "6.000"}}));
    let store = store_with(vec![
        ConfigEvent::Configured {
            currency: Currency::CNY,
            settings,
        },
        ConfigEvent::CatalogItemAdded {
            item: json(json!({"sku": "tea", "price": "12.000"})),
        },
        ConfigEvent::PromotionAdded {
            promotion: json(json!({"id": "p", "kind": "price", "price": "9.000"})),
        },
    ]);
    let e = Engine::open(store, clock()).unwrap();
    assert_eq!(
        e.read(|s| s.rules.as_ref().map(|r| r.promotions().len()))
            .unwrap(),
        Some(1)
    );
    e.adjust_stock("tea", "main", 5, "received").unwrap();
    e.register_customer("u1", None, 0).unwrap();
    let placed = e.place_order(order("o1", 1), None).unwrap();
    // The special price 9.00 + shipping 6.00 = 15.00.
    assert_eq!(placed.quote.totals.payable.to_string(), "15.00 CNY");
    // New input with the same spelling is refused.
    let err = e
        .add_catalog_item(json(json!({"sku": "cup", "price": "1.000"})))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
}

#[test]
fn a_store_that_already_holds_extreme_settings_opens_and_works() {
    for v in HOSTILE {
        for field in ["payment_timeout_minutes", "auto_complete_days", "review"] {
            let settings: Settings = json(match field {
                "review" => {
                    json!({"review": {"max_orders": {"count": v, "minutes": v}, "max_qty": v}})
                }
                f => json!({ f: v }),
            });
            let e = Engine::open(store_with_configured(settings.clone()), clock()).unwrap();
            assert_eq!(e.read(|s| s.settings.clone()).unwrap(), settings);
            stock_up(&e);
            if field == "review" && v < 0 {
                // Every order is held (more than a negative count, a line
                // above a negative maximum); nothing panics.
                let p = e.place_order(order("held", 1), None).unwrap();
                assert_eq!(p.status, "on_hold", "{v}");
                e.clock().advance(Duration::days(365 * 50));
                e.tick().unwrap();
            } else {
                let (closed, completed) = exercise(&e, "o");
                // What the timers do with a stored value outside the
                // ranges: an unrepresentable time never comes (not closed,
                // not completed); a representable negative one (-1) is due
                // at once, so the first tick acted and the last has nothing
                // left.
                let unpaid = e.order("o-unpaid").unwrap().status;
                let paid = e.order("o-paid").unwrap().status;
                match field {
                    "payment_timeout_minutes" => {
                        assert!(closed.is_empty(), "{v}");
                        let want = if v == -1 { "closed" } else { "pending_payment" };
                        assert_eq!(unpaid.as_str(), want, "{v}");
                    }
                    "auto_complete_days" => {
                        assert!(completed.is_empty(), "{v}");
                        let want = if v == -1 { "completed" } else { "delivered" };
                        assert_eq!(paid.as_str(), want, "{v}");
                    }
                    _ => {
                        // A huge window or count: nothing is held, the
                        // default timers run.
                        assert_eq!(closed, vec!["o-unpaid".to_string()]);
                        assert_eq!(completed, vec!["o-paid".to_string()]);
                    }
                }
            }
            // A settings change through the engine is validated as usual,
            // and a valid one puts the shop back on normal timers.
            e.execute(
                &Request::UpdateSettings {
                    settings: Settings::default(),
                },
                None,
            )
            .unwrap();
            let (closed, completed) = exercise(&e, "n");
            assert_eq!(closed, vec!["n-unpaid".to_string()]);
            assert_eq!(completed, vec!["n-paid".to_string()]);
            // And it reopens the same.
            let reopened = mercato::rebuild(e.store()).unwrap();
            assert_eq!(reopened.durable, e.read(|s| s.durable.clone()).unwrap());
        }
    }
}

/// The amount strings of the issue, as a caller sends them.
const BAD_AMOUNTS: [&str; 7] = [
    "398.99999999999999999999999999999",
    "399.000",
    " 399.00",
    "+399.00",
    "399.001",
    "3.99e2",
    "399.",
];

const GOOD_AMOUNTS: [&str; 3] = ["399", "399.0", "399.00"];

fn pay_request(amount: &str) -> Result<Request, serde_json::Error> {
    serde_json::from_value(json!({"op": "pay", "order": "o1", "amount": amount}))
}

#[test]
fn pay_refuses_every_malformed_or_overlong_amount() {
    for bad in BAD_AMOUNTS {
        let e = Engine::open(MemoryStore::new(), clock()).unwrap();
        e.configure(Currency::CNY, Settings::default()).unwrap();
        stock_up(&e);
        e.place_order(order("o1", 1), None).unwrap();
        let head = e.store().head().unwrap();
        // Text that is not in the grammar does not become a request; text
        // that is (399.000) is refused by the engine. Both: invalid_input.
        match pay_request(bad) {
            Err(_) => {}
            Ok(req) => {
                let err = e.execute(&req, None).unwrap_err();
                assert_eq!(err.code(), "invalid_input", "{bad}: {err}");
            }
        }
        assert_eq!(e.store().head().unwrap(), head, "{bad}: nothing stored");
        assert_eq!(e.order("o1").unwrap().status.as_str(), "pending_payment");
    }
    for good in GOOD_AMOUNTS {
        let e = Engine::open(MemoryStore::new(), clock()).unwrap();
        e.configure(Currency::CNY, Settings::default()).unwrap();
        stock_up(&e);
        e.place_order(order("o1", 1), None).unwrap();
        let r = e.execute(&pay_request(good).unwrap(), None).unwrap();
        assert!(
            matches!(&r, Response::Status { status, .. } if status == "paid"),
            "{good}: {r:?}"
        );
    }
    // The Rust API: a Decimal carrying three digits is three digits.
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    e.configure(Currency::CNY, Settings::default()).unwrap();
    stock_up(&e);
    e.place_order(order("o1", 1), None).unwrap();
    // Money itself refuses three digits for CNY, so `pay` never sees them.
    let err = Money::new(Decimal::new(399_000, 3), Currency::CNY).unwrap_err();
    assert_eq!(mercato::EngineError::from(err).code(), "invalid_input");
    let yen = Money::new(Decimal::new(399, 0), Currency::JPY).unwrap();
    assert_eq!(
        e.pay("o1", yen, None).unwrap_err().code(),
        "invalid_input",
        "another currency is refused"
    );
    let whole = Money::new(Decimal::new(399, 0), Currency::CNY).unwrap();
    assert_eq!(e.pay("o1", whole, None).unwrap(), "paid");
}

#[test]
fn rule_prices_refuse_every_malformed_or_overlong_amount() {
    for bad in BAD_AMOUNTS {
        let e = Engine::open(MemoryStore::new(), clock()).unwrap();
        e.configure(Currency::CNY, Settings::default()).unwrap();
        stock_up(&e);
        let head = e.store().head().unwrap();
        let item = serde_json::from_value::<Request>(
            json!({"op": "add_catalog_item", "item": {"sku": "cup", "price": bad}}),
        );
        let promo = serde_json::from_value::<Request>(
            json!({"op": "add_promotion", "promotion": {"id": "p", "kind": "price", "price": bad}}),
        );
        // Text outside the grammar does not become a request at all.
        for req in [item, promo].into_iter().flatten() {
            let err = e.execute(&req, None).unwrap_err();
            assert_eq!(err.code(), "invalid_input", "{bad}: {err}");
        }
        assert_eq!(e.store().head().unwrap(), head, "{bad}: nothing stored");
    }
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    e.configure(Currency::CNY, Settings::default()).unwrap();
    stock_up(&e);
    for (i, good) in GOOD_AMOUNTS.iter().enumerate() {
        let req: Request = json(
            json!({"op": "add_promotion", "promotion": {"id": format!("p{i}"), "kind": "price", "price": good}}),
        );
        e.execute(&req, None).unwrap();
    }
}

/// The same through the scenario runner, which answers in the contract's
/// shape: every bad amount gets `invalid_input`, the good ones pay.
#[test]
fn the_scenario_contract_answers_invalid_input_for_bad_amounts() {
    let mut steps = vec![
        json!({"place_order": {"as": "o1", "customer": "u1", "lines": [{"sku": "tea", "qty": 1}]},
                                "expect": {"quote": {"totals": {"payable": "399.00"}}}}),
    ];
    for bad in BAD_AMOUNTS {
        steps.push(json!({"pay": {"order": "o1", "amount": bad}, "expect": {"error": {"code": "invalid_input"}}}));
        steps.push(json!({"add_promotion": {"promotion": {"id": "p", "kind": "price", "price": bad}}, "expect": {"error": {"code": "invalid_input"}}}));
    }
    // A JSON number as an amount is invalid_input too.
    steps.push(json!({"add_promotion": {"promotion": {"id": "p", "kind": "price", "price": 9.5}}, "expect": {"error": {"code": "invalid_input"}}}));
    // An unknown kind is still an invalid rule.
    steps.push(json!({"add_promotion": {"promotion": {"id": "p", "kind": "magic"}}, "expect": {"error": {"code": "invalid_rule"}}}));
    steps.push(json!({"pay": {"order": "o1", "amount": 399.0}, "expect": {"error": {"code": "invalid_input"}}}));
    steps.push(json!({"pay": {"order": "o1", "amount": "399.0"}, "expect": {"status": "paid"}}));
    let sc = json!({
        "currency": "CNY",
        "now": "2026-11-11T10:00:00Z",
        "catalog": [{"sku": "tea", "price": "399.00"}],
        "stock": [{"sku": "tea", "location": "main", "on_hand": 5}],
        "customers": [{"id": "u1"}],
        "steps": steps,
    });
    let sc = Scenario::parse(&sc.to_string()).unwrap();
    let outcomes = mercato::scenario::run(&sc, MemoryStore::new()).unwrap();
    for o in &outcomes {
        let expect = o.expect.as_ref().unwrap();
        let m = matches(expect, &o.result);
        assert!(
            m.is_empty(),
            "step {} {}: {:?} got {}",
            o.index,
            o.action,
            m,
            o.result
        );
    }
    // A settings object out of range fails the scenario's setup.
    let bad = Scenario::parse(
        &json!({"currency": "CNY", "now": "2026-11-11T10:00:00Z", "catalog": [],
                "settings": {"payment_timeout_minutes": i64::MAX}, "steps": []})
        .to_string(),
    )
    .unwrap();
    assert!(mercato::scenario::run(&bad, MemoryStore::new()).is_err());
}

#[test]
fn an_adjustment_that_would_overflow_the_stock_total_is_refused() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    e.configure(Currency::CNY, Settings::default()).unwrap();
    e.add_catalog_item(json(json!({"sku": "tea", "price": "1.00"})))
        .unwrap();
    e.adjust_stock("tea", "east", i64::MAX, "received").unwrap();
    let head = e.store().head().unwrap();
    let err = e
        .adjust_stock("tea", "west", i64::MAX, "received")
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input", "{err}");
    assert!(matches!(
        err,
        EngineError::Core(mercato::core::CoreError::StockOverflow { .. })
    ));
    assert_eq!(e.store().head().unwrap(), head, "nothing stored");
    let level = e.stock("tea").unwrap();
    assert_eq!(level.on_hand, i64::MAX, "never wraps to −2");
    assert_eq!(level.available, i64::MAX);
    // Orders still reserve from it.
    e.register_customer("u1", None, 0).unwrap();
    e.place_order(order("o1", 3), None).unwrap();
    let level = e.stock("tea").unwrap();
    assert_eq!((level.on_hand, level.reserved), (i64::MAX, 3));
    assert!(level.available > 0);
}
