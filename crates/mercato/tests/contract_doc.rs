//! Keeps `docs/scenario-format.md` honest: every ```` ```json ```` block in
//! it is a complete scenario that runs on the memory store with every
//! `expect` met; blocks marked ```` ```json fragment ```` must still be valid
//! JSON. The document explains the convention at its top.

use std::path::PathBuf;

use mercato::scenario::{self, Scenario};
use mercato::store::MemoryStore;
use serde_json::Value;

/// One fenced block of the document.
#[derive(Debug)]
struct Block {
    /// The info string after the opening fence (`json`, `json fragment`...).
    info: String,
    /// Line of the opening fence (from 1).
    line: usize,
    /// The text between the fences.
    text: String,
}

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/scenario-format.md")
}

fn read_doc() -> String {
    let path = doc_path();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fenced blocks of a Markdown text (fences of three backticks at the
/// start of a line; an unclosed block is an error).
fn blocks(doc: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in doc.lines().enumerate() {
        let fence = line.trim_end().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    line: i + 1,
                    text: String::new(),
                })
            }
            (Some(_), Some("")) => out.extend(open.take()),
            (Some(b), _) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(
        open.is_none(),
        "a fenced block is never closed (opened at line {})",
        open.map_or(0, |b| b.line)
    );
    out
}

#[test]
fn block_reader_splits_fences_and_info_strings() {
    let doc = "text\n```json\n{\"a\": 1}\n```\n```json fragment\n[1]\n```\n```text\nx\n```\n";
    let b = blocks(doc);
    assert_eq!(b.len(), 3);
    assert_eq!((b[0].info.as_str(), b[0].line), ("json", 2));
    assert_eq!(b[0].text, "{\"a\": 1}\n");
    assert_eq!(b[1].info, "json fragment");
    assert_eq!(b[2].info, "text");
}

#[test]
fn every_json_example_in_the_scenario_format_runs_as_written() {
    let doc = read_doc();
    let mut scenarios = 0;
    let mut fragments = 0;
    let mut expectations = 0;
    let mut kinds_seen: Vec<String> = Vec::new();
    for b in blocks(&doc) {
        let mut words = b.info.split_whitespace();
        if words.next() != Some("json") {
            continue;
        }
        let value: Value = serde_json::from_str(&b.text).unwrap_or_else(|e| {
            panic!(
                "docs/scenario-format.md line {}: not valid JSON: {e}",
                b.line
            )
        });
        match words.next() {
            Some("fragment") => {
                fragments += 1;
                continue;
            }
            Some(other) => panic!(
                "docs/scenario-format.md line {}: unknown block marker `{other}` (use ```json or ```json fragment)",
                b.line
            ),
            None => {}
        }
        assert!(
            value.get("steps").is_some(),
            "docs/scenario-format.md line {}: a ```json block must be a complete scenario \
             (with \"steps\"); mark a partial example ```json fragment",
            b.line
        );
        let sc = Scenario::parse(&b.text)
            .unwrap_or_else(|e| panic!("docs/scenario-format.md line {}: {e}", b.line));
        let out = scenario::run(&sc, MemoryStore::new())
            .unwrap_or_else(|e| panic!("docs/scenario-format.md line {}: {e}", b.line));
        let mut checked = 0;
        for step in &out {
            if !kinds_seen.contains(&step.action) {
                kinds_seen.push(step.action.clone());
            }
            let Some(expect) = &step.expect else {
                continue;
            };
            let diffs = scenario::matches(expect, &step.result);
            assert!(
                diffs.is_empty(),
                "docs/scenario-format.md line {} ({}), step {} ({}): {diffs:?}\nresult: {}",
                b.line,
                sc.name,
                step.index,
                step.action,
                step.result
            );
            checked += 1;
        }
        assert!(
            checked > 0,
            "docs/scenario-format.md line {}: a scenario with no expect checks nothing",
            b.line
        );
        expectations += checked;
        scenarios += 1;
    }
    // The document shows one example per step kind at least, each run above.
    for kind in mercato::scenario::step_kinds() {
        assert!(
            kinds_seen.iter().any(|k| k == kind),
            "no complete example in docs/scenario-format.md runs a `{kind}` step"
        );
    }
    assert!(scenarios >= 10, "only {scenarios} complete scenarios found");
    assert!(fragments >= 1, "no ```json fragment block found");
    assert!(
        expectations >= 50,
        "only {expectations} expectations checked"
    );
}

#[test]
fn the_scenario_format_stands_on_its_own() {
    // A reader of the published crate has only the repository: the
    // document may not send them to files outside it.
    let doc = read_doc();
    for outside in ["/work/", "shared/spec", "shared/scenarios", "../shared"] {
        assert!(
            !doc.contains(outside),
            "docs/scenario-format.md refers to `{outside}`, which is not in the repository"
        );
    }
}
