//! Small builders shared by the engine-boundary tests (`boundary.rs`,
//! `locked.rs`): a fixed clock, JSON fixtures, order requests, stores on
//! a fresh PostgreSQL schema.
#![allow(dead_code)]

use mercato::rules::CartLine;
use mercato::{ManualClock, PlaceOrderRequest};
use mercato_postgres::testing::TestCluster;
use mercato_postgres::{PgOptions, PgStore};

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

/// Runs `run` with an opener of stores on one fresh schema of the shared
/// test cluster; without PostgreSQL it skips, saying so loudly (and fails
/// with `MERCATO_REQUIRE_PG=1`).
pub fn on_postgres(run: impl FnOnce(&dyn Fn() -> PgStore)) {
    let Some(cluster) = TestCluster::shared_or_skip() else {
        return;
    };
    let schema = cluster.fresh_schema_name();
    run(&|| PgStore::open(cluster.url(), PgOptions::default().schema(schema.clone())).unwrap());
}
