//! The bench shop shared by the engine, replay and memory benches: three
//! SKUs under a 满减 and an item percent-off, a flash-priced SKU with a
//! per-customer limit, one registered customer; and the 3-line order they
//! all place.

#![allow(dead_code)]

use mercato::core::Currency;
use mercato::rules::CartLine;
use mercato::store::Store;
use mercato::{Engine, EngineOptions, ManualClock, PlaceOrderRequest, Settings};

pub const STOCK: i64 = 1_000_000_000;

pub fn json<T: serde::de::DeserializeOwned>(s: &str) -> T {
    serde_json::from_str(s).expect("bench fixture")
}

pub fn clock() -> ManualClock {
    ManualClock::new("2026-11-11T10:00:00Z".parse().expect("time"))
}

/// A shop with three SKUs, a 满减 and an item percent-off, and a flash SKU
/// with a per-customer limit.
pub fn shop<S: Store + 'static>(store: S, options: EngineOptions) -> Engine<S, ManualClock> {
    let e = Engine::with_options(store, clock(), options).expect("engine");
    e.configure(Currency::CNY, Settings::default())
        .expect("configure");
    for (sku, price) in [
        ("tea", "45.00"),
        ("cake", "25.00"),
        ("mug", "39.00"),
        ("phone", "1999.00"),
    ] {
        e.add_catalog_item(json(&format!(
            r#"{{"sku": "{sku}", "category": "c-{sku}", "price": "{price}"}}"#
        )))
        .expect("item");
        e.adjust_stock(sku, "main", STOCK, "received")
            .expect("stock");
    }
    e.add_promotion(json(r#"{"id": "m200", "kind": "full_reduction", "tiers": [{"threshold": "200.00", "off": "30.00"}], "scope": {"skus": ["tea", "cake", "mug"]}}"#)).expect("promo");
    e.add_promotion(json(
        r#"{"id": "tea10", "kind": "percent_off", "percent": "10", "scope": {"skus": ["tea"]}}"#,
    ))
    .expect("promo");
    e.add_promotion(json(r#"{"id": "flash", "kind": "price", "price": "999.00", "per_customer_limit": 1000000000, "scope": {"skus": ["phone"]}}"#)).expect("promo");
    e.register_customer("u1", None, 0).expect("customer");
    e
}

pub fn three_lines() -> Vec<CartLine> {
    vec![
        CartLine {
            sku: "tea".into(),
            qty: 3,
        },
        CartLine {
            sku: "cake".into(),
            qty: 2,
        },
        CartLine {
            sku: "mug".into(),
            qty: 1,
        },
    ]
}

pub fn order(id: u64, lines: Vec<CartLine>) -> PlaceOrderRequest {
    PlaceOrderRequest {
        id: format!("o{id}"),
        customer: Some("u1".into()),
        lines,
        coupons: vec![],
        points: 0,
        channel: None,
    }
}

pub fn place_pay<S: Store + 'static>(e: &Engine<S, ManualClock>, id: u64, lines: Vec<CartLine>) {
    let p = e.place_order(order(id, lines), None).expect("place");
    e.pay(&p.order, p.quote.totals.payable, None).expect("pay");
}
