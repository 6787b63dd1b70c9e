//! Every public scenario of the contract passes on the memory store, on
//! SQLite and on PostgreSQL, with identical step results on all of them.

use std::path::PathBuf;

use mercato::scenario::{self, Scenario};
use mercato::sqlite::{SqliteOptions, SqliteStore};
use mercato::store::MemoryStore;

fn scenario_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scenarios");
    assert!(
        dir.is_dir(),
        "the public scenarios must be at {} (shared/ beside the repo)",
        dir.display()
    );
    dir
}

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 11,
        "expected the eleven public scenarios, found {}",
        files.len()
    );
    files
}

/// Runs every public scenario on memory and on the store `open(n)` gives
/// for file `n`: identical step results, and every expectation met.
fn same_as_memory<S: mercato::store::Store + 'static>(label: &str, open: impl Fn(usize) -> S) {
    let mut steps = 0;
    for (n, f) in scenario_files().iter().enumerate() {
        let sc = Scenario::parse(&std::fs::read_to_string(f).unwrap()).unwrap();
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

#[test]
fn public_scenarios_pass_on_memory_and_sqlite_identically() {
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
fn public_scenarios_pass_on_postgres_identically_to_memory() {
    use mercato::postgres::testing::TestCluster;
    use mercato::postgres::{PgOptions, PgStore};
    let cluster = TestCluster::shared();
    // Each file on a fresh schema.
    same_as_memory("PostgreSQL", |_| {
        PgStore::open_fresh(
            cluster.url(),
            PgOptions::default().schema(cluster.fresh_schema_name()),
        )
        .unwrap()
    });
}
