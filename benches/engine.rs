//! Engine benchmarks (criterion): the in-memory engine (quote, place,
//! place+pay of a 3-line order with 2 rules, the flash-sale path) and the
//! SQLite store (place+pay with 1, 2, 4, 8, 32 concurrent callers through
//! group commit, FULL and NORMAL, and the one-order-per-commit baseline).
//!
//! ```text
//! cargo bench -p mercato --bench engine
//! cargo bench -p mercato --bench engine -- memory      # one group
//! ```
//! Throughput = 1 / (time per order); concurrent groups report the time per
//! order over all callers (criterion's `iter_custom`). The in-memory place
//! benches run in fresh shops of up to 10,000 orders each.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "support/shop.rs"]
mod shop;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mercato::rules::{Cart, CartLine};
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{MemoryStore, Store};
use mercato::{Engine, EngineOptions, ManualClock};
use shop::{order, place_pay, shop, three_lines};

/// Orders a bench shop holds before it is replaced by a fresh one: the
/// in-memory figures are per order in a shop of up to this many orders, not
/// in one that grows with however many iterations criterion chooses (a
/// faster engine would otherwise be measured on a bigger, slower heap).
const SHOP_ORDERS: u64 = 10_000;

/// Times `iters` runs of `op` (given a shop and an order number) in fresh
/// shops of at most [`SHOP_ORDERS`] orders; building and dropping the
/// shops is not timed.
fn in_fresh_shops(iters: u64, op: impl Fn(&Engine<MemoryStore, ManualClock>, u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let e = shop(MemoryStore::new(), EngineOptions::default());
        let n = (iters - done).min(SHOP_ORDERS);
        let start = Instant::now();
        for i in 0..n {
            op(&e, i);
        }
        total += start.elapsed();
        done += n;
        drop(e);
    }
    total
}

fn memory(c: &mut Criterion) {
    let mut g = c.benchmark_group("memory");
    g.throughput(Throughput::Elements(1));
    let e = shop(MemoryStore::new(), EngineOptions::default());
    let cart = Cart {
        customer: Some("u1".into()),
        lines: three_lines(),
        coupons: vec![],
        points: 0,
    };
    g.bench_function("quote_3_lines_2_rules", |b| {
        b.iter(|| e.quote(&cart).expect("quote"))
    });
    g.bench_function("place_3_lines_2_rules", |b| {
        b.iter_custom(|iters| {
            in_fresh_shops(iters, |e, i| {
                e.place_order(order(i, three_lines()), None).expect("place");
            })
        })
    });
    g.bench_function("place_pay_3_lines_2_rules", |b| {
        b.iter_custom(|iters| in_fresh_shops(iters, |e, i| place_pay(e, i, three_lines())))
    });
    g.bench_function("flash_sale_place_pay", |b| {
        b.iter_custom(|iters| {
            in_fresh_shops(iters, |e, i| {
                place_pay(
                    e,
                    i,
                    vec![CartLine {
                        sku: "phone".into(),
                        qty: 1,
                    }],
                )
            })
        })
    });
    g.finish();
}

/// Place+pay by `callers` threads; returns the time per order.
fn concurrent<S: Store + 'static>(
    e: &Arc<Engine<S, ManualClock>>,
    callers: usize,
    orders: u64,
    next: &Arc<AtomicU64>,
) -> Duration {
    let per = (orders / callers as u64).max(1);
    let start = Instant::now();
    let handles: Vec<_> = (0..callers)
        .map(|_| {
            let e = Arc::clone(e);
            let next = Arc::clone(next);
            std::thread::spawn(move || {
                for _ in 0..per {
                    place_pay(&e, next.fetch_add(1, Ordering::Relaxed), three_lines());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("caller");
    }
    start.elapsed() / (per * callers as u64) as u32
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = c.benchmark_group("sqlite_place_pay");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    let next = Arc::new(AtomicU64::new(0));
    for (sync, name) in [(Synchronous::Full, "full"), (Synchronous::Normal, "normal")] {
        let store = SqliteStore::open(
            dir.path().join(format!("{name}.db")),
            SqliteOptions::default().synchronous(sync),
        )
        .expect("db");
        let e = Arc::new(shop(store, EngineOptions::default()));
        for callers in [1_usize, 2, 4, 8, 32] {
            g.bench_with_input(
                BenchmarkId::new(format!("{name}_group_commit"), callers),
                &callers,
                |b, &callers| {
                    b.iter_custom(|iters| {
                        concurrent(&e, callers, iters.max(callers as u64), &next) * iters as u32
                    })
                },
            );
        }
        let store = SqliteStore::open(
            dir.path().join(format!("{name}-single.db")),
            SqliteOptions::default().synchronous(sync),
        )
        .expect("db");
        let single = Arc::new(shop(
            store,
            EngineOptions {
                max_batch: 1,
                ..EngineOptions::default()
            },
        ));
        g.bench_with_input(
            BenchmarkId::new(format!("{name}_one_commit_per_tx"), 8),
            &8,
            |b, &callers| {
                b.iter_custom(|iters| {
                    concurrent(&single, callers, iters.max(callers as u64), &next) * iters as u32
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, memory, sqlite);
criterion_main!(benches);
