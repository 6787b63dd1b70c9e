//! The replay and recover benchmarks of `benches/replay.rs` with mimalloc
//! as the global allocator (group names `replay_mimalloc`,
//! `recover_mimalloc`). mercato, a library, never picks the allocator; this
//! shows what the one-line choice in an application changes.
//!
//! ```text
//! cargo bench -p mercato --bench replay_mimalloc
//! ```

use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/replay.rs"]
mod replay;
#[path = "support/shop.rs"]
mod shop;

fn benches(c: &mut Criterion) {
    replay::run(c, "_mimalloc");
}

criterion_group!(replay_benches, benches);
criterion_main!(replay_benches);
