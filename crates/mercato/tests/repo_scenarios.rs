//! Every scenario kept in the repository's `scenarios/` folder passes on
//! the memory store: each step's result meets its `expect` block (matched
//! as a subset, as `mercato check` does).

use std::path::PathBuf;

use mercato::scenario::{self, Scenario};
use mercato::store::MemoryStore;

fn scenario_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    assert!(
        dir.is_dir(),
        "the repository's scenarios must be at {}",
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
    files
}

#[test]
fn repository_scenarios_pass_on_memory() {
    let files = scenario_files();
    // Issue 17's scenario is kept here; the folder is never empty.
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("p12_bundle_after_buy_x_get_y.json")),
        "scenarios/p12_bundle_after_buy_x_get_y.json is missing"
    );
    let mut checked = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let sc = Scenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let out = scenario::run(&sc, MemoryStore::new())
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
