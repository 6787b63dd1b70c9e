//! Keeps `docs/campaigns.md` honest: every ```` ```json ```` block in it is
//! a complete scenario that runs on the memory store with every `expect`
//! met.

use std::path::PathBuf;

use mercato::scenario::{self, Scenario};
use mercato::store::MemoryStore;

#[test]
fn every_worked_example_in_campaigns_md_runs_as_written() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/campaigns.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let mut block: Option<(usize, String)> = None;
    let mut examples = 0;
    let mut checked = 0;
    for (i, line) in doc.lines().enumerate() {
        match (&mut block, line.trim_end()) {
            (None, "```json") => block = Some((i + 1, String::new())),
            (Some(_), "```") => {
                let (at, text) = block.take().unwrap();
                let sc = Scenario::parse(&text)
                    .unwrap_or_else(|e| panic!("docs/campaigns.md line {at}: {e}"));
                let out = scenario::run(&sc, MemoryStore::new()).unwrap();
                for step in &out {
                    let Some(expect) = &step.expect else { continue };
                    let diffs = scenario::matches(expect, &step.result);
                    assert!(
                        diffs.is_empty(),
                        "docs/campaigns.md line {at}, step {} ({}): {diffs:?}\nresult: {}",
                        step.index,
                        step.action,
                        step.result
                    );
                    checked += 1;
                }
                examples += 1;
            }
            (Some((_, text)), l) => {
                text.push_str(l);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(examples >= 3, "only {examples} examples");
    assert!(checked >= 15, "only {checked} expectations");
}
