//! The engine against the reference model over random command sequences,
//! on the memory store and on SQLite, with every invariant checked after
//! every step and replay + hash chain checked at the end of each sequence.
//!
//! Cases: `MERCATO_PROPTEST_CASES` (per store) overrides the defaults below.

use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::MemoryStore;
use mercato_testkit::strategies::{concurrent_orders_on_one_sku, shop_setup, steps};
use mercato_testkit::{ModelRunner, proptest_cases};
use proptest::prelude::*;

/// Sequences on the memory store in CI (50–80 commands each).
const MEMORY_CASES: u32 = 6_000;
/// Sequences on SQLite in CI.
const SQLITE_CASES: u32 = 2_000;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: proptest_cases(MEMORY_CASES),
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn memory_store_matches_the_model(setup in shop_setup(), seq in steps(50..=80)) {
        let mut r = ModelRunner::new(MemoryStore::new(), &setup).map_err(|e| TestCaseError::fail(e.to_string()))?;
        r.replay_every = 25;
        r.run(&seq).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: proptest_cases(SQLITE_CASES),
        max_shrink_iters: 500,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sqlite_store_matches_the_model(setup in shop_setup(), seq in steps(50..=80)) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let store = SqliteStore::open(
            dir.path().join("shop.db"),
            SqliteOptions::default().synchronous(Synchronous::Off),
        )
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut r = ModelRunner::new(store, &setup).map_err(|e| TestCaseError::fail(e.to_string()))?;
        r.run(&seq).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }

    #[test]
    fn many_orders_on_one_sku_never_oversell(setup in shop_setup(), seq in concurrent_orders_on_one_sku(30)) {
        let mut r = ModelRunner::new(MemoryStore::new(), &setup).map_err(|e| TestCaseError::fail(e.to_string()))?;
        r.run(&seq).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}
