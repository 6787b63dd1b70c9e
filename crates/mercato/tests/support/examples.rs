//! The example binaries for the tests that run them (`tools.rs`,
//! `server.rs`, `relay.rs`): built by cargo with this test binary's
//! features and profile, so every test runs the same executables.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// One nested cargo at a time (they would wait on each other's lock).
static CARGO: Mutex<()> = Mutex::new(());

/// The features this test binary was built with (`default` included, as
/// cargo counts it), for the examples: the very same set, so cargo reuses
/// what `cargo test` built and every test runs the same binaries.
pub const FEATURES: &str = match (cfg!(feature = "default"), cfg!(feature = "postgres")) {
    (true, true) => "default,sqlite,postgres",
    (true, false) => "default,sqlite",
    (false, true) => "sqlite,postgres",
    (false, false) => "sqlite",
};

/// The executable of example `name`, built by cargo if it is not up to date.
pub fn example(name: &str) -> PathBuf {
    let _one = CARGO.lock().unwrap_or_else(|e| e.into_inner());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "--profile",
            "test",
            "-p",
            "mercato",
            "--example",
            name,
            "--message-format=json",
            "--no-default-features",
            "--features",
            FEATURES,
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo");
    let messages: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if !out.status.success() {
        let rendered: Vec<&str> = messages
            .iter()
            .filter_map(|m| m["message"]["rendered"].as_str())
            .collect();
        panic!(
            "cargo build --example {name} failed:\n{}",
            rendered.join("\n")
        );
    }
    messages
        .into_iter()
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo named no executable for example {name}"))
}
