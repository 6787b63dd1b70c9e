//! The engine against the reference model over random command sequences,
//! on the memory store, SQLite and PostgreSQL, with every invariant checked after
//! every step and replay + hash chain checked at the end of each sequence:
//! the v1 commands, part payments, goodwill, staged after-sale requests,
//! partial cancel and shipments in every sequence; presale deposits in
//! their own suites (their shop has a presale promotion).
//!
//! Cases: `MERCATO_PROPTEST_CASES` (per store) overrides the defaults below.

use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{MemoryStore, Store};
use mercato_testkit::model::ShopSetup;
use mercato_testkit::strategies::{concurrent_orders_on_one_sku, presale_case, shop_setup, steps};
use mercato_testkit::{ModelRunner, StepStats, proptest_cases};
use proptest::prelude::*;

/// Sequences on the memory store in CI (50–80 commands each).
const MEMORY_CASES: u32 = 6_000;
/// Sequences on SQLite in CI.
const SQLITE_CASES: u32 = 2_000;
/// Presale sequences on the memory store in CI (26–52 commands each).
const PRESALE_CASES: u32 = 600;
/// Presale sequences on SQLite in CI.
const PRESALE_SQLITE_CASES: u32 = 100;

fn sqlite_store(dir: &tempfile::TempDir) -> Result<SqliteStore, TestCaseError> {
    SqliteStore::open(
        dir.path().join("shop.db"),
        SqliteOptions::default().synchronous(Synchronous::Off),
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))
}

fn run<S: Store + 'static>(
    store: S,
    setup: &ShopSetup,
    seq: &[mercato_testkit::Step],
    replay_every: usize,
) -> Result<ModelRunner<S>, TestCaseError> {
    let mut r = ModelRunner::new(store, setup).map_err(|e| TestCaseError::fail(e.to_string()))?;
    r.replay_every = replay_every;
    r.run(seq).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(r)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: proptest_cases(MEMORY_CASES),
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn memory_store_matches_the_model(setup in shop_setup(), seq in steps(50..=80)) {
        run(MemoryStore::new(), &setup, &seq, 25)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: proptest_cases(PRESALE_CASES),
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn presale_on_memory_matches_the_model((setup, seq) in presale_case()) {
        run(MemoryStore::new(), &setup, &seq, 25)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: proptest_cases(PRESALE_SQLITE_CASES),
        max_shrink_iters: 500,
        ..ProptestConfig::default()
    })]

    #[test]
    fn presale_on_sqlite_matches_the_model((setup, seq) in presale_case()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        run(sqlite_store(&dir)?, &setup, &seq, 0)?;
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
        run(sqlite_store(&dir)?, &setup, &seq, 0)?;
    }

    #[test]
    fn many_orders_on_one_sku_never_oversell(setup in shop_setup(), seq in concurrent_orders_on_one_sku(30)) {
        run(MemoryStore::new(), &setup, &seq, 0)?;
    }
}

/// Sequences on PostgreSQL (each on a fresh schema of a private cluster
/// started from the installed binaries, or of `MERCATO_PG_URL`).
const POSTGRES_CASES: u32 = 24;
/// Presale sequences on PostgreSQL.
const PRESALE_POSTGRES_CASES: u32 = 12;

fn pg_store() -> Result<Option<mercato_postgres::PgStore>, TestCaseError> {
    let Some(cluster) = mercato_postgres::testing::TestCluster::shared_or_skip() else {
        return Ok(None);
    };
    cluster
        .fresh_store()
        .map(Some)
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: proptest_cases(POSTGRES_CASES),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    /// Skipped (loudly) without PostgreSQL, unless `MERCATO_REQUIRE_PG=1`.
    #[test]
    fn postgres_store_matches_the_model(setup in shop_setup(), seq in steps(50..=80)) {
        if let Some(store) = pg_store()? {
            run(store, &setup, &seq, 0)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: proptest_cases(PRESALE_POSTGRES_CASES),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn presale_on_postgres_matches_the_model((setup, seq) in presale_case()) {
        if let Some(store) = pg_store()? {
            run(store, &setup, &seq, 0)?;
        }
    }
}

/// Runs `cases` generated (setup, sequence) pairs on memory and adds up
/// what each kind of step did.
fn step_mix<T: Strategy<Value = (ShopSetup, Vec<mercato_testkit::Step>)>>(
    cases: u32,
    strategy: T,
) -> StepStats {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut all = StepStats::new();
    // Where the orders ended: (status, presale phase) → orders.
    let mut ends: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
    for _ in 0..cases {
        let (setup, seq) = strategy.new_tree(&mut runner).unwrap().current();
        let r = run(MemoryStore::new(), &setup, &seq, 0).unwrap();
        for (k, (ok, err)) in r.stats() {
            let e = all.entry(k).or_insert((0, 0));
            e.0 += ok;
            e.1 += err;
        }
        for o in r.model().orders() {
            let phase = o.presale.as_ref().map_or("-", |(_, p)| p.as_str());
            *ends.entry((o.status.as_str(), phase)).or_insert(0) += 1;
        }
    }
    eprintln!("{cases} sequences — step: accepted / refused");
    for (k, (ok, err)) in &all {
        eprintln!("  {k:<24} {ok:>8} / {err:>8}");
    }
    eprintln!("  orders at the end (status, presale phase):");
    for ((status, phase), n) in &ends {
        eprintln!("  {status:<18} {phase:<17} {n:>8}");
    }
    all
}

/// The generators reach every new command, and each is both accepted and
/// refused (with the model agreeing): a generator that stops producing
/// valid (or invalid) requests fails here. `--nocapture` prints the mix
/// (`MERCATO_STEP_MIX=N`: of N sequences, N / 2 presale ones).
#[test]
fn the_generated_sequences_exercise_every_command() {
    let n: u32 = std::env::var("MERCATO_STEP_MIX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let all = step_mix(n, (shop_setup(), steps(50..=80)));
    for k in [
        "request return_refund",
        "request refund_only",
        "after_sale approve",
        "after_sale reject",
        "after_sale withdraw",
        "after_sale receive",
        "after_sale refund",
        "cancel_units",
        "ship_shipment",
        "deliver_shipment",
        "update_settings",
    ] {
        let (ok, err) = all.get(k).copied().unwrap_or((0, 0));
        assert!(ok > 0 && err > 0, "{k}: {ok} accepted, {err} refused");
    }
    // `close` is the timer's own: always refused.
    assert_eq!(all.get("after_sale close").map(|c| c.0), Some(0));
    let presale = step_mix(n / 2, presale_case());
    for k in ["presale_deposit", "pay", "record_payment", "cancel"] {
        let (ok, err) = presale.get(k).copied().unwrap_or((0, 0));
        assert!(
            ok > 0 && err > 0,
            "presale {k}: {ok} accepted, {err} refused"
        );
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
            after_sale: None,
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
