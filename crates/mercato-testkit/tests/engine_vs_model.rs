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

/// `update_settings` with hostile timers (issue 11) between orders and
/// ticks: the engine refuses what is out of range exactly as the model
/// says, takes what is in range, and the timers follow the new values.
#[test]
fn settings_steps_follow_the_model() {
    use mercato_testkit::model::Step;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for _ in 0..8 {
        let setup = shop_setup().new_tree(&mut runner).unwrap().current();
        let mut r = ModelRunner::new(MemoryStore::new(), &setup).unwrap();
        let settings = |t: i64, d: i64, m: Option<(i64, i64)>| Step::Settings {
            payment_timeout_minutes: t,
            auto_complete_days: d,
            max_orders: m,
        };
        let place = |order: u8| Step::Place {
            order,
            customer: Some(0),
            lines: vec![(0, 1)],
            coupons: vec![],
            points: 0,
            channel: 0,
        };
        let mut seq = Vec::new();
        for v in [i64::MAX, i64::MIN, 200_000_000_000_000, -1, 0] {
            seq.push(settings(v, 7, None));
            seq.push(settings(30, v, None));
            seq.push(settings(30, 7, Some((v, 60))));
            seq.push(settings(30, 7, Some((3, v))));
        }
        seq.extend([
            place(0),
            settings(1, 0, None),
            place(1),
            Step::Pay {
                order: 0,
                exact: true,
            },
            Step::Ship {
                order: 0,
                lines: None,
            },
            Step::Deliver { order: 0 },
            Step::Tick { minutes: 1 },
            settings(43_200, 3_650, None),
            place(2),
            Step::Tick {
                minutes: 60 * 24 * 29,
            },
            settings(43_201, 3_651, None),
            Step::Tick {
                minutes: 60 * 24 * 2,
            },
        ]);
        r.run(&seq).unwrap();
    }
}
