//! Every scenario in the repository's `scenarios/` folder — the public
//! contract examples (`p01`–`p11`, kept verbatim) and the ones issues added
//! (`p12`, `i17_*`) — passes on the memory store, on SQLite and on
//! PostgreSQL, with identical step results on all of them. Each file has at
//! least one `expect`, and every one is met (matched as a subset, as
//! `mercato check` does).

use std::path::PathBuf;

use mercato::scenario::{self, Scenario};
use mercato::store::MemoryStore;

/// The repository's `scenarios/` folder: the tests need nothing outside
/// the repository.
fn scenario_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    assert!(
        dir.is_dir(),
        "the repository's scenarios must be at {}",
        dir.display()
    );
    dir
}

/// The public contract examples, which must all be there.
const PUBLIC: [&str; 11] = [
    "p01_unit_member_price_and_ladder.json",
    "p02_item_percent_and_amount.json",
    "p03_buy_x_get_y_and_bundle.json",
    "p04_full_reduction_tiers.json",
    "p05_full_discount_quantity_gift.json",
    "p06_coupons.json",
    "p07_points.json",
    "p08_shipping.json",
    "p09_order_lifecycle.json",
    "p10_insufficient_stock.json",
    "p11_cancel_and_return.json",
];

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for name in PUBLIC.iter().chain(&["p12_bundle_after_buy_x_get_y.json"]) {
        assert!(
            files.iter().any(|f| f.ends_with(name)),
            "scenarios/{name} is missing"
        );
    }
    files
}

fn parse(f: &std::path::Path) -> Scenario {
    let text = std::fs::read_to_string(f).unwrap();
    Scenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()))
}

#[test]
fn repository_scenarios_pass_on_memory() {
    let files = scenario_files();
    let mut checked = 0;
    for f in &files {
        let out = scenario::run(&parse(f), MemoryStore::new())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let mut expectations = 0;
        for step in &out {
            if let Some(expect) = &step.expect {
                let diffs = scenario::matches(expect, &step.result);
                assert!(
                    diffs.is_empty(),
                    "{}: step {}: {diffs:?}",
                    f.display(),
                    step.index
                );
                expectations += 1;
            }
        }
        // A file without a single expectation checks nothing.
        assert!(expectations > 0, "{}: no step has an expect", f.display());
        checked += expectations;
    }
    assert!(checked >= files.len());
}

/// Runs every scenario on memory and on the store `open(n)` gives for file
/// `n`: identical step results, and every expectation met.
fn same_as_memory<S: mercato::store::Store + 'static>(label: &str, open: impl Fn(usize) -> S) {
    let mut steps = 0;
    for (n, f) in scenario_files().iter().enumerate() {
        let sc = parse(f);
        let mem = scenario::run(&sc, MemoryStore::new()).unwrap();
        let other = scenario::run(&sc, open(n)).unwrap();
        assert_eq!(mem.len(), other.len());
        for (m, o) in mem.iter().zip(&other) {
            assert_eq!(
                m.result,
                o.result,
                "{}: step {} differs between memory and {label}",
                f.display(),
                m.index
            );
            if let Some(expect) = &o.expect {
                let diffs = scenario::matches(expect, &o.result);
                assert!(
                    diffs.is_empty(),
                    "{}: step {}: {diffs:?}",
                    f.display(),
                    o.index
                );
            }
            steps += 1;
        }
    }
    assert!(steps >= 50);
}

#[cfg(feature = "sqlite")]
#[test]
fn repository_scenarios_pass_on_memory_and_sqlite_identically() {
    use mercato::sqlite::{SqliteOptions, SqliteStore};
    let tmp = tempfile::tempdir().unwrap();
    same_as_memory("SQLite", |n| {
        SqliteStore::open(
            tmp.path().join(format!("s{n}.db")),
            SqliteOptions::default(),
        )
        .unwrap()
    });
}

#[test]
fn a_broken_expectation_is_reported() {
    let sc = Scenario::parse(
        r#"{"currency": "CNY", "now": "2026-01-01T00:00:00Z",
            "catalog": [{"sku": "a", "price": "10.00"}],
            "steps": [{"price": {"lines": [{"sku": "a", "qty": 2}]}, "expect": {"totals": {"payable": "20.01"}}}]}"#,
    )
    .unwrap();
    let out = scenario::run(&sc, MemoryStore::new()).unwrap();
    let diffs = scenario::matches(out[0].expect.as_ref().unwrap(), &out[0].result);
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].path, "$.totals.payable");
}

#[test]
fn malformed_files_fail_with_a_path_and_line() {
    match Scenario::parse(
        "{\"currency\": \"CNY\", \"now\": \"2026-01-01T00:00:00Z\",\n \"catalog\": [{\"sku\": \"a\", \"price\": 10.5}], \"steps\": []}",
    ) {
        Err(scenario::ScenarioError::Parse { path, line, .. }) => {
            assert_eq!(path, "catalog[0].price");
            assert_eq!(line, 2);
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    assert!(Scenario::parse("not json").is_err());
    assert!(
        Scenario::parse(
            r#"{"currency": "XXX", "now": "2026-01-01T00:00:00Z", "catalog": [], "steps": []}"#
        )
        .is_err()
    );
    // An invalid rule at the top level fails the whole file at setup.
    let sc = Scenario::parse(
        r#"{"currency": "CNY", "now": "2026-01-01T00:00:00Z", "catalog": [{"sku": "a", "price": "1.00"}],
            "promotions": [{"id": "p", "kind": "percent_off", "percent": "150"}], "steps": []}"#,
    )
    .unwrap();
    assert!(matches!(
        scenario::run(&sc, MemoryStore::new()),
        Err(scenario::ScenarioError::Setup(_))
    ));
}

#[test]
fn repository_scenarios_pass_on_postgres_identically_to_memory() {
    use mercato_postgres::testing::TestCluster;
    use mercato_postgres::{PgOptions, PgStore};
    let Some(cluster) = TestCluster::shared_or_skip() else {
        return;
    };
    // Each file on a fresh schema.
    same_as_memory("PostgreSQL", |_| {
        PgStore::open_fresh(
            cluster.url(),
            PgOptions::default().schema(cluster.fresh_schema_name()),
        )
        .unwrap()
    });
}
