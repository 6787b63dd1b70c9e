//! Replay and recovery benchmarks (criterion) over a log of 1,000,000
//! events: place+pay of 3-line orders (five events each) on the bench shop.
//!
//! * `replay/decode_apply_1m_events`: the pure replay cost — every stored
//!   payload decoded from JSON and applied to a fresh [`EngineState`]; the
//!   payloads are read into memory first, so no storage is measured.
//! * `recover/sqlite_1m_events_no_snapshot`: opening an engine on a SQLite
//!   database of that size with no snapshot (read every row, decode, apply).
//! * `recover/sqlite_1m_events_with_snapshot`: the same database with a
//!   snapshot at its head (what a shop that snapshots on shutdown opens).
//!
//! ```text
//! cargo bench -p mercato --bench replay
//! ```
//! The databases are built once (SQLite `NORMAL`, 8 callers, about a minute
//! on the 2-core VM) into `target/bench-data/` and reused while they open.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[path = "support/shop.rs"]
mod shop;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::Store;
use mercato::{EngineOptions, EngineState, LogEvent, rebuild};
use shop::{clock, place_pay, shop, three_lines};

/// Events in the log under test.
const EVENTS: u64 = 1_000_000;
/// Bumped whenever the bench shop or the workload changes.
const FIXTURE: &str = "replay-v2";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data")
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(
        path,
        SqliteOptions {
            synchronous: Synchronous::Normal,
        },
    )
    .expect("open bench database")
}

/// The database at `path` exists and holds at least [`EVENTS`] events
/// (and a snapshot, when `snapshot`). A change of the event format or of
/// the workload bumps [`FIXTURE`], so an existing file is of this version.
fn usable(path: &Path, snapshot: bool) -> bool {
    if !path.exists() {
        return false;
    }
    let store = open(path);
    store.head().unwrap_or(0) >= EVENTS
        && (!snapshot || store.load_snapshot().ok().flatten().is_some())
}

/// Builds (or reuses) the two databases: without and with a snapshot.
fn databases() -> (PathBuf, PathBuf) {
    let dir = data_dir();
    std::fs::create_dir_all(&dir).expect("bench-data dir");
    let plain = dir.join(format!("{FIXTURE}.db"));
    let snap = dir.join(format!("{FIXTURE}-snapshot.db"));
    if !usable(&plain, false) {
        for p in [&plain, &snap] {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
            }
        }
        eprintln!("building {} ({EVENTS} events)…", plain.display());
        let e = Arc::new(shop(open(&plain), EngineOptions::default()));
        let next = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let e = Arc::clone(&e);
                let next = Arc::clone(&next);
                std::thread::spawn(move || {
                    while e.store().head().expect("head") < EVENTS {
                        place_pay(&e, next.fetch_add(1, Ordering::Relaxed), three_lines());
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("writer");
        }
    }
    if !usable(&snap, true) {
        open(&plain).backup_to(&snap).expect("copy database");
        let e = mercato::Engine::open(open(&snap), clock()).expect("open copy");
        e.snapshot().expect("snapshot");
    }
    (plain, snap)
}

fn replay(c: &mut Criterion) {
    let (plain, snap) = databases();
    let store = open(&plain);
    let head = store.head().expect("head");
    let mut payloads = Vec::with_capacity(head as usize);
    let mut after = 0;
    loop {
        let page = store.read_from(after, 50_000).expect("read");
        let Some(last) = page.last() else { break };
        after = last.seq;
        payloads.extend(page.into_iter().map(|e| e.payload));
    }
    drop(store);

    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.throughput(Throughput::Elements(payloads.len() as u64));
    g.bench_function("decode_apply_1m_events", |b| {
        b.iter_with_large_drop(|| {
            let mut st = EngineState::default();
            for p in &payloads {
                let ev: LogEvent = serde_json::from_str(p).expect("stored event");
                st.apply(&ev);
            }
            st
        })
    });
    g.finish();
    drop(payloads);

    let mut g = c.benchmark_group("recover");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(40));
    g.bench_function("sqlite_1m_events_no_snapshot", |b| {
        b.iter_with_large_drop(|| rebuild(&open(&plain)).expect("rebuild"))
    });
    g.bench_function("sqlite_1m_events_with_snapshot", |b| {
        b.iter_with_large_drop(|| mercato::Engine::open(open(&snap), clock()).expect("open"))
    });
    g.finish();
}

criterion_group!(benches, replay);
criterion_main!(benches);
