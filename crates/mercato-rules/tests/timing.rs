//! Timing smoke tests (ignored by default; run with
//! `cargo test --release -p mercato-rules --test timing -- --ignored --nocapture`):
//! a 100-line cart against 50 rules, qty 10 000 against qty 1, and
//! `best_coupons` over 30 coupons in 3 groups.

// The purity lints (clippy.toml) are for the library: this test
// measures time.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Instant;

use mercato_core::money::Currency;
use mercato_rules::{
    Cart, PricingContext, PricingSettings, RuleSet, ShopFacts, best_coupons, price,
};
use serde_json::json;

fn rules(coupons: usize) -> RuleSet {
    let catalog: Vec<_> = (0..100)
        .map(|i| json!({"sku": format!("s{i}"), "product": format!("p{}", i / 2), "category": format!("c{}", i % 7), "price": format!("{}.{:02}", 10 + i, i % 100)}))
        .collect();
    let mut promotions = Vec::new();
    for i in 0..50 {
        let scope = json!({"categories": [format!("c{}", i % 7)]});
        let p = match i % 10 {
            0 => json!({"kind": "price", "price": "9.99", "scope": {"skus": [format!("s{i}")]}}),
            1 => {
                json!({"kind": "ladder", "tiers": [{"min_qty": 2, "percent": "5"}], "scope": scope})
            }
            2 => json!({"kind": "percent_off", "percent": "3", "scope": scope}),
            3 => json!({"kind": "amount_off", "amount": "0.50", "per": "unit", "scope": scope}),
            4 => {
                json!({"kind": "buy_x_get_y", "buy": {"qty": 2}, "get": {"qty": 1, "percent": "50"}, "scope": scope})
            }
            5 => {
                json!({"kind": "bundle", "items": [{"sku": format!("s{i}"), "qty": 1}, {"sku": format!("s{}", i + 1), "qty": 1}], "price": "20.00"})
            }
            6 => {
                json!({"kind": "full_reduction", "tiers": [{"threshold": "100.00", "off": "5.00"}, {"threshold": "500.00", "off": "30.00"}], "scope": scope})
            }
            7 => {
                json!({"kind": "full_discount", "tiers": [{"threshold": "200.00", "percent": "2"}], "scope": scope})
            }
            8 => {
                json!({"kind": "quantity_discount", "tiers": [{"min_qty": 5, "off": "3.00"}], "scope": scope, "exclusive": true})
            }
            _ => json!({"kind": "percent_off", "percent": "1", "stage": "order", "scope": scope}),
        };
        let mut p = p;
        p["id"] = json!(format!("r{i}"));
        p["priority"] = json!(i % 3);
        promotions.push(p);
    }
    let coupons: Vec<_> = (0..coupons)
        .map(|i| {
            if i % 2 == 0 {
                json!({"code": format!("K{i:02}"), "kind": "amount_off", "amount": format!("{}.00", 5 + i), "threshold": format!("{}.00", 50 * i), "group": format!("g{}", i % 3)})
            } else {
                json!({"code": format!("K{i:02}"), "kind": "percent_off", "percent": format!("{}", i % 9 + 1), "max_off": "40.00", "group": format!("g{}", i % 3)})
            }
        })
        .collect();
    RuleSet::new(
        Currency::CNY,
        PricingSettings::default(),
        serde_json::from_value(json!(catalog)).unwrap(),
        serde_json::from_value(json!(promotions)).unwrap(),
        serde_json::from_value(json!(coupons)).unwrap(),
    )
    .unwrap()
}

fn time<T>(label: &str, n: u32, mut f: impl FnMut() -> T) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f());
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("{label}: {us:.1} µs");
    us
}

#[test]
#[ignore = "timing; run in release"]
fn timings() {
    let r = rules(30);
    let shop = ShopFacts::new();
    let ctx = PricingContext::new(&r, "2026-01-01T00:00:00Z".parse().unwrap(), &shop);
    let lines: Vec<(String, i64)> = (0..100).map(|i| (format!("s{i}"), 1 + i % 3)).collect();
    let refs: Vec<(&str, i64)> = lines.iter().map(|(s, q)| (s.as_str(), *q)).collect();
    let big = Cart::of(&refs);
    time("100 lines x 50 rules", 200, || price(&big, &ctx).unwrap());
    let one = Cart::of(&[("s4", 1), ("s5", 1)]);
    let many = Cart::of(&[("s4", 10_000), ("s5", 10_000)]);
    time("qty 1", 2000, || price(&one, &ctx).unwrap());
    time("qty 10000", 2000, || price(&many, &ctx).unwrap());
    let wallet: Vec<String> = r.coupons().iter().map(|c| c.code.clone()).collect();
    let small = Cart::of(&[("s10", 3), ("s20", 2), ("s30", 5)]);
    time("best_coupons 30 coupons / 3 groups", 50, || {
        best_coupons(&small, &wallet, &ctx).unwrap()
    });
}
