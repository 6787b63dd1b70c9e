//! The replay and recover benchmarks over a log of 1,000,000 events, shared
//! by `benches/replay.rs` (system allocator) and `benches/replay_mimalloc.rs`
//! (mimalloc as the global allocator); see `benches/replay.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::shop::{clock, place_pay, shop, three_lines};
use criterion::{Criterion, Throughput};
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::Store;
use mercato::{EngineOptions, EngineState, LogEvent, rebuild};

/// Events in the log under test.
const EVENTS: u64 = 1_000_000;
/// Bumped whenever the bench shop or the workload changes.
const FIXTURE: &str = "replay-v3";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data")
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(
        path,
        SqliteOptions::default().synchronous(Synchronous::Normal),
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
            // Our own fixture under target/bench-data; refused while in use.
            SqliteStore::remove_database(p).expect("remove the outdated bench database");
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
        SqliteStore::remove_database(&snap).expect("remove the outdated bench database");
        open(&plain).backup_to(&snap).expect("copy database");
        let e = mercato::Engine::open(open(&snap), clock()).expect("open copy");
        e.snapshot().expect("snapshot");
    }
    (plain, snap)
}

/// The replay and recover groups; `suffix` names the allocator in the
/// group names (`""` for the system allocator).
pub fn run(c: &mut Criterion, suffix: &str) {
    let (plain, snap) = databases();
    let store = open(&plain);
    let head = store.head().expect("head");
    let mut payloads = Vec::with_capacity(head as usize);
    let mut after = 0;
    loop {
        let page = store.read_from(after, 50_000).expect("read");
        let Some(last) = page.last() else { break };
        after = last.seq;
        payloads.extend(page.into_iter().map(|e| (e.payload, e.stream, e.also)));
    }
    drop(store);

    let mut g = c.benchmark_group(format!("replay{suffix}"));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.throughput(Throughput::Elements(payloads.len() as u64));
    g.bench_function("decode_apply_1m_events", |b| {
        b.iter_with_large_drop(|| {
            let mut st = EngineState::default();
            for (p, stream, also) in &payloads {
                let ev: LogEvent = serde_json::from_str(p).expect("stored event");
                st.apply(
                    &ev,
                    std::iter::once(stream.as_str()).chain(also.iter().map(String::as_str)),
                );
            }
            st
        })
    });
    g.finish();
    drop(payloads);

    let mut g = c.benchmark_group(format!("recover{suffix}"));
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
