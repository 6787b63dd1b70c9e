//! Small builders shared by the engine-boundary tests (`boundary.rs`,
//! `locked.rs`): a fixed clock, JSON fixtures, order requests.
#![allow(dead_code)]

use mercato::rules::CartLine;
use mercato::{ManualClock, PlaceOrderRequest};

/// The tests' clock, at 2026-11-11T10:00:00Z.
pub fn clock() -> ManualClock {
    ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())
}

/// A fixture from JSON.
pub fn json<T: serde::de::DeserializeOwned>(s: &str) -> T {
    serde_json::from_str(s).unwrap()
}

/// An order `id` for `customer` (or a guest) of `(sku, qty)` lines.
pub fn order(id: &str, customer: Option<&str>, lines: &[(&str, i64)]) -> PlaceOrderRequest {
    PlaceOrderRequest {
        id: id.into(),
        customer: customer.map(str::to_string),
        lines: lines
            .iter()
            .map(|(sku, qty)| CartLine {
                sku: (*sku).into(),
                qty: *qty,
            })
            .collect(),
        coupons: vec![],
        points: 0,
        channel: None,
    }
}
