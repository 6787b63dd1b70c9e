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
//! `benches/replay_mimalloc.rs` runs the same groups with mimalloc as the
//! global allocator (`replay_mimalloc/…`, `recover_mimalloc/…`): the
//! allocator is the application's choice, and rebuilding frees and
//! allocates across threads, where glibc's allocator is slow.

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/replay.rs"]
mod replay;
#[path = "support/shop.rs"]
mod shop;

fn benches(c: &mut Criterion) {
    replay::run(c, "");
}

criterion_group!(replay_benches, benches);
criterion_main!(replay_benches);
