//! Replays the committed fuzz corpora, seeds and crash artifacts
//! (`fuzz/corpus/TARGET`, `fuzz/seeds/TARGET`, `fuzz/artifacts/TARGET`)
//! through the targets' library functions, so a normal `cargo test` on the
//! stable toolchain keeps every input the fuzzers found interesting.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "seeds", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn replay(target: &str, f: fn(&[u8])) -> usize {
    let files = inputs(target);
    for p in &files {
        let data = std::fs::read(p).unwrap();
        let r = std::panic::catch_unwind(|| f(&data));
        assert!(r.is_ok(), "{target}: {} fails", p.display());
    }
    files.len()
}

#[test]
fn scenario_corpus_replays() {
    let n = replay("scenario", mercato_testkit::fuzz::scenario);
    assert!(n > 0, "no scenario seeds or corpus found");
}

#[test]
fn rules_corpus_replays() {
    let n = replay("rules", mercato_testkit::fuzz::rules);
    assert!(n > 0, "no rules seeds or corpus found");
}

#[test]
fn engine_commands_corpus_replays() {
    replay("engine_commands", mercato_testkit::fuzz::engine_commands);
}

#[test]
fn apportion_corpus_replays() {
    replay("apportion", mercato_testkit::fuzz::apportion);
}

/// The targets accept anything without panicking on trivial inputs.
#[test]
fn targets_survive_trivial_inputs() {
    for data in [&b""[..], b"{}", b"\xff\xfe", &[0_u8; 64], b"[1,2,3]"] {
        mercato_testkit::fuzz::scenario(data);
        mercato_testkit::fuzz::rules(data);
        mercato_testkit::fuzz::engine_commands(data);
        mercato_testkit::fuzz::apportion(data);
    }
}
