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
//! order over all callers (criterion's `iter_custom`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mercato::core::Currency;
use mercato::rules::{Cart, CartLine};
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{MemoryStore, Store};
use mercato::{Engine, EngineOptions, ManualClock, PlaceOrderRequest, Settings};

const STOCK: i64 = 1_000_000_000;

fn json<T: serde::de::DeserializeOwned>(s: &str) -> T {
    serde_json::from_str(s).expect("bench fixture")
}

fn clock() -> ManualClock {
    ManualClock::new("2026-11-11T10:00:00Z".parse().expect("time"))
}

/// A shop with three SKUs, a 满减 and an item percent-off, and a flash SKU
/// with a per-customer limit.
fn shop<S: Store + 'static>(store: S, options: EngineOptions) -> Engine<S, ManualClock> {
    let e = Engine::with_options(store, clock(), options).expect("engine");
    e.configure(Currency::CNY, Settings::default())
        .expect("configure");
    for (sku, price) in [
        ("tea", "45.00"),
        ("cake", "25.00"),
        ("mug", "39.00"),
        ("phone", "1999.00"),
    ] {
        e.add_catalog_item(json(&format!(
            r#"{{"sku": "{sku}", "category": "c-{sku}", "price": "{price}"}}"#
        )))
        .expect("item");
        e.adjust_stock(sku, "main", STOCK, "received")
            .expect("stock");
    }
    e.add_promotion(json(r#"{"id": "m200", "kind": "full_reduction", "tiers": [{"threshold": "200.00", "off": "30.00"}], "scope": {"skus": ["tea", "cake", "mug"]}}"#)).expect("promo");
    e.add_promotion(json(
        r#"{"id": "tea10", "kind": "percent_off", "percent": "10", "scope": {"skus": ["tea"]}}"#,
    ))
    .expect("promo");
    e.add_promotion(json(r#"{"id": "flash", "kind": "price", "price": "999.00", "per_customer_limit": 1000000000, "scope": {"skus": ["phone"]}}"#)).expect("promo");
    e.register_customer("u1", None, 0).expect("customer");
    e
}

fn three_lines() -> Vec<CartLine> {
    vec![
        CartLine {
            sku: "tea".into(),
            qty: 3,
        },
        CartLine {
            sku: "cake".into(),
            qty: 2,
        },
        CartLine {
            sku: "mug".into(),
            qty: 1,
        },
    ]
}

fn order(id: u64, lines: Vec<CartLine>) -> PlaceOrderRequest {
    PlaceOrderRequest {
        id: format!("o{id}"),
        customer: Some("u1".into()),
        lines,
        coupons: vec![],
        points: 0,
        channel: None,
    }
}

fn place_pay<S: Store + 'static>(e: &Engine<S, ManualClock>, id: u64, lines: Vec<CartLine>) {
    let p = e.place_order(order(id, lines), None).expect("place");
    e.pay(&p.order, p.quote.totals.payable.amount(), None)
        .expect("pay");
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
    let next = AtomicU64::new(0);
    g.bench_function("place_3_lines_2_rules", |b| {
        b.iter(|| {
            e.place_order(
                order(next.fetch_add(1, Ordering::Relaxed), three_lines()),
                None,
            )
            .expect("place")
        })
    });
    let e = shop(MemoryStore::new(), EngineOptions::default());
    g.bench_function("place_pay_3_lines_2_rules", |b| {
        b.iter(|| place_pay(&e, next.fetch_add(1, Ordering::Relaxed), three_lines()))
    });
    let e = shop(MemoryStore::new(), EngineOptions::default());
    g.bench_function("flash_sale_place_pay", |b| {
        b.iter(|| {
            place_pay(
                &e,
                next.fetch_add(1, Ordering::Relaxed),
                vec![CartLine {
                    sku: "phone".into(),
                    qty: 1,
                }],
            )
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
            SqliteOptions { synchronous: sync },
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
            SqliteOptions { synchronous: sync },
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
