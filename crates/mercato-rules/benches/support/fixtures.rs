//! Deterministic pricing fixtures for the `pricing` bench (and any test that
//! includes this file with `#[path]`): a catalog, `n` promotions cycling
//! through every kind with scopes over categories, products and SKUs, a
//! coupon wallet in 3 groups, a shop and carts. A `seed` varies prices,
//! quantities, scopes and settings without changing the sizes.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use mercato_core::money::Currency;
use mercato_rules::{Cart, CartLine, PricingSettings, RuleSet, ShopFacts};
use serde_json::{Value, json};

/// SKUs in the catalog (a 1,000-line cart uses distinct SKUs).
pub const SKUS: usize = 1200;
const PRODUCTS: usize = SKUS / 3;
const CATEGORIES: usize = 17;

/// The bench's "now".
pub fn now() -> DateTime<Utc> {
    "2026-03-02T09:00:00Z".parse().unwrap_or_default()
}

/// A small deterministic mixer (splitmix64 step).
fn mix(seed: u64, k: u64) -> u64 {
    let mut z = seed
        .wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A scope over categories, products or SKUs (or all), by `k`.
fn scope(seed: u64, k: u64) -> Value {
    let r = mix(seed, 1000 + k);
    let c = |j: u64| format!("c{}", (r >> (8 * j)) % CATEGORIES as u64);
    let p = |j: u64| format!("p{}", (r >> (8 * j)) % PRODUCTS as u64);
    let s = |j: u64| format!("s{}", (r >> (10 * j)) % SKUS as u64);
    match k % 6 {
        0 => json!({"categories": [c(0), c(1), c(2)]}),
        1 => json!({"products": (0..6).map(p).collect::<Vec<_>>()}),
        2 => json!({"skus": (0..6).map(s).collect::<Vec<_>>(), "categories": [c(3)]}),
        3 => json!({"all": true}),
        4 => {
            json!({"categories": [c(0), c(1), c(2), c(3), c(4), c(5)], "exclude_skus": [s(0), s(1)]})
        }
        _ => json!({"exclude_skus": [s(2)]}),
    }
}

/// Promotion `k` of the generator: kinds cycle through all 16 shapes.
pub fn promotion(seed: u64, k: u64) -> Value {
    let r = mix(seed, k);
    let pct = |j: u64| format!("{}", 1 + (r >> j) % 15);
    let amt = |j: u64, lo: u64, span: u64| money(lo + (r >> j) % span);
    let sku = |j: u64| format!("s{}", (r >> j) % SKUS as u64);
    let mut p = match k % 16 {
        0 => match (r >> 61) % 3 {
            0 => json!({"kind": "price", "price": amt(3, 100, 900), "quota": 3}),
            1 => json!({"kind": "price", "price": amt(3, 100, 900), "per_customer_limit": 2}),
            _ => json!({"kind": "price", "price": amt(3, 100, 900)}),
        },
        1 => json!({"kind": "price", "price": amt(5, 100, 2000), "tier": "gold"}),
        2 => {
            json!({"kind": "ladder", "tiers": [{"min_qty": 2, "percent": pct(7)}, {"min_qty": 5, "percent": "12.5"}]})
        }
        3 => json!({"kind": "percent_off", "percent": pct(9)}),
        4 => {
            json!({"kind": "percent_off", "percent": pct(11), "stage": "order", "max_off": amt(13, 1000, 20000)})
        }
        5 => json!({"kind": "amount_off", "amount": amt(15, 10, 200), "per": "unit"}),
        6 => json!({"kind": "amount_off", "amount": amt(17, 50, 500), "per": "line"}),
        7 => json!({"kind": "amount_off", "amount": amt(19, 500, 5000), "per": "order"}),
        8 => {
            json!({"kind": "full_reduction", "tiers": [{"threshold": "100.00", "off": amt(21, 100, 900)}, {"threshold": "1000.00", "off": amt(23, 5000, 5000)}]})
        }
        9 => {
            json!({"kind": "full_reduction", "mode": "repeat", "tiers": [{"threshold": amt(25, 5000, 10000), "off": amt(27, 100, 900)}], "cap": amt(29, 2000, 10000)})
        }
        10 => {
            json!({"kind": "full_discount", "tiers": [{"threshold": "150.00", "percent": pct(31)}, {"threshold": "800.00", "percent": "7.5"}]})
        }
        11 => {
            json!({"kind": "quantity_discount", "tiers": [{"min_qty": 3, "percent": pct(33)}, {"min_qty": 10, "off": amt(35, 500, 3000)}]})
        }
        12 => {
            json!({"kind": "buy_x_get_y", "buy": {"qty": 1 + (r >> 37) % 3}, "get": {"qty": 1, "percent": if (r >> 39).is_multiple_of(2) { "100".to_string() } else { pct(41) }}, "repeat": !(r >> 43).is_multiple_of(4)})
        }
        13 => {
            json!({"kind": "bundle", "items": [{"sku": sku(45), "qty": 1}, {"sku": sku(47), "qty": 1 + (r >> 49) % 2}], "price": amt(51, 500, 3000)})
        }
        14 => {
            json!({"kind": "gift", "threshold": amt(53, 2000, 20000), "gift": {"sku": "gift", "qty": 1}})
        }
        _ => json!({"kind": "free_shipping", "threshold": amt(55, 5000, 20000)}),
    };
    if let Some(o) = p.as_object_mut() {
        o.insert("id".into(), json!(format!("r{k}")));
        if k % 16 != 13 {
            o.insert("scope".into(), scope(seed, k));
        }
        o.insert("priority".into(), json!((r >> 57) % 4));
        o.insert("exclusive".into(), json!(k % 7 == 6));
        if k % 9 == 4 {
            o.insert(
                "budget".into(),
                json!({"amount": money(100 + (r >> 59) % 3000)}),
            );
        }
    }
    p
}

/// Coupon `k` of a wallet: groups g0..g2, amount (with threshold) and
/// percent (with cap), some scoped.
pub fn coupon(seed: u64, k: u64) -> Value {
    let r = mix(seed, 5000 + k);
    let mut c = if k.is_multiple_of(2) {
        json!({"kind": "amount_off", "amount": money(200 + (r >> 3) % 3000), "threshold": money((r >> 17) % 40000)})
    } else {
        json!({"kind": "percent_off", "percent": format!("{}", 1 + (r >> 5) % 20), "max_off": money(500 + (r >> 11) % 5000)})
    };
    if let Some(o) = c.as_object_mut() {
        o.insert("code".into(), json!(format!("K{k:03}")));
        o.insert("group".into(), json!(format!("g{}", k % 3)));
        o.insert("per_customer_limit".into(), Value::Null);
        if k % 4 == 3 {
            o.insert("scope".into(), scope(seed, 7000 + k));
        }
    }
    c
}

/// A rule set with `rules` promotions and `coupons` coupons.
pub fn rules(rules: usize, coupons: usize, seed: u64) -> RuleSet {
    let mut catalog: Vec<Value> = (0..SKUS as u64)
        .map(|i| {
            let r = mix(seed, 90_000 + i);
            json!({"sku": format!("s{i}"), "product": format!("p{}", i / 3),
                   "category": format!("c{}", i % CATEGORIES as u64), "price": money(99 + r % 50_000)})
        })
        .collect();
    catalog.push(json!({"sku": "gift", "price": "15.00"}));
    let promotions: Vec<Value> = (0..rules as u64).map(|k| promotion(seed, k)).collect();
    let coupons: Vec<Value> = (0..coupons as u64).map(|k| coupon(seed, k)).collect();
    let settings: PricingSettings = serde_json::from_value(json!({
        "rounding": if seed.is_multiple_of(2) { "half_up" } else { "half_even" },
        "selection": if seed % 3 == 2 { "priority" } else { "best_for_customer" },
        "max_coupons_per_group": 1 + seed % 2,
        "points": {"per_unit": 100, "max_percent": "20"},
        "shipping": {"fee": "8.00", "free_threshold": "99999.00"}
    }))
    .unwrap_or_default();
    let catalog = serde_json::from_value(Value::Array(catalog));
    let promotions = serde_json::from_value(Value::Array(promotions));
    let coupons = serde_json::from_value(Value::Array(coupons));
    match (catalog, promotions, coupons) {
        (Ok(c), Ok(p), Ok(k)) => RuleSet::new(Currency::CNY, settings, c, p, k)
            .unwrap_or_else(|e| panic!("fixture rules: {e}")),
        _ => panic!("fixture JSON"),
    }
}

/// The shop: customer `u1` (gold, 50,000 points), gift stock.
pub fn shop() -> ShopFacts {
    ShopFacts::new()
        .with_customer("u1", Some("gold"), 50_000)
        .with_stock("gift", 1_000)
}

/// A cart of `lines` distinct SKUs for customer `u1`, 1-4 units each,
/// asking for `coupons` (codes) and 2,000 points.
pub fn cart(lines: usize, seed: u64, coupons: &[&str]) -> Cart {
    let start = mix(seed, 77) % SKUS as u64;
    Cart {
        customer: Some("u1".into()),
        lines: (0..lines as u64)
            .map(|i| CartLine {
                sku: format!("s{}", (start + i * 7) % SKUS as u64),
                qty: 1 + (mix(seed, 300_000 + i) % 4) as i64,
            })
            .collect(),
        coupons: coupons.iter().map(|c| (*c).to_string()).collect(),
        points: 2_000,
    }
}

/// A one-line cart of `qty` units of a SKU most promotions can touch.
pub fn single(qty: i64) -> Cart {
    Cart {
        customer: Some("u1".into()),
        lines: vec![CartLine {
            sku: "s0".into(),
            qty,
        }],
        coupons: Vec::new(),
        points: 0,
    }
}
