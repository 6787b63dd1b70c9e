//! The deterministic simulation (`mercato_testkit::sim`): several engines
//! over one store, random interleavings with failing commits, crashes and
//! retried keys, every invariant checked after every step. CI runs a fixed
//! set of seeds; `MERCATO_SIM_SEEDS=N` runs more (a soak), and a failure
//! prints the one command that replays it (`MERCATO_SIM_SEED=S`).

use mercato_testkit::sim::{self, SimBackend, SimConfig, SimReport};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn run_seeds(backend: impl Fn(u64) -> SimBackend, seeds: u64, steps: usize) -> Vec<SimReport> {
    let first = env_u64("MERCATO_SIM_FIRST_SEED", 1);
    (first..first + seeds)
        .map(|seed| {
            let config = SimConfig {
                backend: backend(seed),
                ..SimConfig::new(seed, steps)
            };
            match sim::run(&config) {
                Ok(r) => r,
                Err(failure) => panic!("{failure}"),
            }
        })
        .collect()
}

#[test]
fn fixed_seeds_on_memory() {
    let seeds = env_u64("MERCATO_SIM_SEEDS", 40);
    let steps = env_u64("MERCATO_SIM_STEPS", 400) as usize;
    let reports = run_seeds(|_| SimBackend::Memory, seeds, steps);
    println!(
        "memory, {seeds} seeds x {steps} steps: {:?}",
        sim::total(&reports)
    );
    let t = sim::total(&reports);
    assert!(t["faults_after"] > 0 && t["faults_before"] > 0 && t["crashes"] > 0);
    assert!(t["key_replays"] > 0, "retried keys were exercised");
}

#[test]
fn fixed_seeds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = env_u64("MERCATO_SIM_SQLITE_SEEDS", 4);
    let steps = env_u64("MERCATO_SIM_STEPS", 250) as usize;
    let reports = run_seeds(
        |seed| SimBackend::Sqlite(dir.path().join(format!("sim{seed}.db"))),
        seeds,
        steps,
    );
    println!(
        "sqlite, {seeds} seeds x {steps} steps: {:?}",
        sim::total(&reports)
    );
}

/// Replays one seed: `MERCATO_SIM_SEED=S [MERCATO_SIM_STEPS=N]`.
#[test]
fn one_seed() {
    let Ok(seed) = std::env::var("MERCATO_SIM_SEED") else {
        return;
    };
    let seed: u64 = seed.trim().parse().expect("MERCATO_SIM_SEED is a number");
    let steps = env_u64("MERCATO_SIM_STEPS", 400) as usize;
    match sim::run(&SimConfig::new(seed, steps)) {
        Ok(r) => println!("seed {seed}: {r:?}"),
        Err(failure) => panic!("{failure}"),
    }
}
