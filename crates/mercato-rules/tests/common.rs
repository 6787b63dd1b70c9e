//! Shared helpers for the integration tests: loading a scenario file into
//! a rule set and a shop snapshot, and the contract's subset matcher.
#![allow(dead_code)]

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use mercato_core::money::Currency;
use mercato_rules::{
    CatalogItem, Coupon, CustomerFacts, PricingSettings, Promotion, RuleSet, ShopFacts,
};
use rust_decimal::Decimal;
use serde_json::Value;

/// The repository's `scenarios/` folder (the public contract examples and
/// the scenarios issues added).
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// A scenario's pricing setup.
pub struct Setup {
    pub rules: RuleSet,
    pub shop: ShopFacts,
    pub now: DateTime<Utc>,
}

fn field<T: serde::de::DeserializeOwned + Default>(v: &Value, key: &str) -> T {
    match v.get(key) {
        None | Some(Value::Null) => T::default(),
        Some(x) => serde_json::from_value(x.clone()).unwrap_or_else(|e| panic!("{key}: {e}")),
    }
}

/// Builds the rule set and shop of a scenario file's top level.
pub fn setup(v: &Value) -> Setup {
    let currency =
        Currency::from_code(v["currency"].as_str().expect("currency")).expect("known currency");
    let now: DateTime<Utc> = v["now"]
        .as_str()
        .expect("now")
        .parse()
        .expect("RFC 3339 now");
    let settings: PricingSettings = match v.get("settings") {
        Some(s) => serde_json::from_value(s.clone()).expect("settings"),
        None => PricingSettings::default(),
    };
    let catalog: Vec<CatalogItem> = field(v, "catalog");
    let promotions: Vec<Promotion> = field(v, "promotions");
    let coupons: Vec<Coupon> = field(v, "coupons");
    let rules =
        RuleSet::new(currency, settings, catalog, promotions, coupons).expect("valid rules");
    let mut shop = ShopFacts::new();
    let customers: Vec<CustomerFacts> = field(v, "customers");
    for c in customers {
        shop.add_customer(c);
    }
    let mut stock: Vec<(String, i64)> = Vec::new();
    for s in v
        .get("stock")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let sku = s["sku"].as_str().expect("stock sku").to_string();
        let avail = if s.get("backorder").and_then(Value::as_bool).unwrap_or(false) {
            i64::MAX / 4
        } else {
            s["on_hand"].as_i64().unwrap_or(0)
                - s.get("safety").and_then(Value::as_i64).unwrap_or(0)
        };
        match stock.iter_mut().find(|(k, _)| *k == sku) {
            Some((_, a)) => *a += avail,
            None => stock.push((sku, avail)),
        }
    }
    for (sku, a) in stock {
        shop = shop.with_stock(&sku, a);
    }
    Setup { rules, shop, now }
}

/// The contract's `expect` matching: subset of objects, same-length arrays
/// element by element, amount strings compared as decimals. Pushes one
/// message per mismatch.
pub fn subset(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => subset(ev, av, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: missing (expected {ev})")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!(
                    "{path}: expected {} elements, got {}: {actual}",
                    e.len(),
                    a.len()
                ));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                subset(ev, av, &format!("{path}[{i}]"), out);
            }
        }
        (Value::String(e), Value::String(a)) => {
            let same = match (e.parse::<Decimal>(), a.parse::<Decimal>()) {
                (Ok(x), Ok(y)) => x == y,
                _ => e == a,
            };
            if !same {
                out.push(format!("{path}: expected {e}, got {a}"));
            }
        }
        (e, a) => {
            if e != a {
                out.push(format!("{path}: expected {e}, got {a}"));
            }
        }
    }
}
