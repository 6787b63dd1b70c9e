//! Real child processes for the multi-process tests (`processes.rs`,
//! `postgres_processes.rs`, `claim_processes.rs`): each child is the test
//! binary itself, started on one test (`--exact NAME`) with environment
//! variables that tell it to act. A child prints `@@ ready`, waits for a
//! line on stdin, does its work, prints `@@ <word> <args>` lines and `@@
//! done`. The test harness may print its own text before ours on a line,
//! so only what follows `@@ ` counts.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// Starts `n` children running test `test` (child `k` gets `envs(k)`),
/// waits until every one is ready, starts them all at once, and returns
/// the `@@` lines of each (without the `@@ ` and without `ready`/`done`)
/// once it has exited. Panics when a child fails or stops before `done`.
pub fn run_children(
    test: &str,
    n: usize,
    envs: impl Fn(usize) -> Vec<(String, String)>,
) -> Vec<Vec<String>> {
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<_> = (0..n)
        .map(|k| {
            Command::new(&exe)
                .args(["--exact", test, "--nocapture", "--test-threads=1"])
                .envs(envs(k))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let ours = |line: &str| line.find("@@ ").map(|at| line[at + 3..].to_string());
    let mut readers: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().unwrap()).lines())
        .collect();
    for r in &mut readers {
        loop {
            let line = r.next().expect("child output").unwrap();
            if ours(&line).as_deref() == Some("ready") {
                break;
            }
        }
    }
    for c in &mut children {
        writeln!(c.stdin.as_mut().unwrap(), "go").unwrap();
    }
    let mut out = Vec::new();
    for (mut c, r) in children.into_iter().zip(readers) {
        let mut done = false;
        let mut lines = Vec::new();
        for line in r {
            match ours(&line.unwrap()) {
                Some(l) if l == "done" => done = true,
                Some(l) => lines.push(l),
                None => {}
            }
        }
        assert!(c.wait().unwrap().success(), "a child failed");
        assert!(done, "a child stopped early");
        out.push(lines);
    }
    out
}
