//! Criterion benches of `mercato_rules::price` and `best_coupons` on the
//! deterministic fixtures of `support/fixtures.rs`: carts of 1 to 1,000
//! lines against 1 to 100 mixed promotions, coupon wallets of 5 to 30, and
//! one line of qty 1 against qty 10,000.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mercato_rules::{PricingContext, best_coupons, price};

fn pricing(c: &mut Criterion) {
    let shop = fixtures::shop();
    let mut group = c.benchmark_group("price");
    for rules_n in [1, 10, 50, 100] {
        let rules = fixtures::rules(rules_n, 6, 0);
        let ctx = PricingContext::new(&rules, fixtures::now(), &shop);
        for lines in [1, 10, 100, 1000] {
            let cart = fixtures::cart(lines, 0, &["K000", "K001", "K002"]);
            group.bench_with_input(
                BenchmarkId::new(format!("{rules_n}_rules"), format!("{lines}_lines")),
                &cart,
                |b, cart| b.iter(|| price(black_box(cart), &ctx)),
            );
        }
    }
    group.finish();
}

fn coupons(c: &mut Criterion) {
    let shop = fixtures::shop();
    let mut group = c.benchmark_group("best_coupons");
    for wallet_n in [5, 15, 30] {
        let rules = fixtures::rules(50, wallet_n, 0);
        let ctx = PricingContext::new(&rules, fixtures::now(), &shop);
        let wallet: Vec<String> = rules.coupons().iter().map(|c| c.code.clone()).collect();
        let cart = fixtures::cart(10, 0, &[]);
        group.bench_with_input(
            BenchmarkId::new("10_lines_50_rules", format!("{wallet_n}_coupons")),
            &wallet,
            |b, wallet| b.iter(|| best_coupons(black_box(&cart), wallet, &ctx)),
        );
    }
    group.finish();
}

fn quantity(c: &mut Criterion) {
    let shop = fixtures::shop();
    let rules = fixtures::rules(50, 0, 0);
    let ctx = PricingContext::new(&rules, fixtures::now(), &shop);
    let mut group = c.benchmark_group("quantity");
    for qty in [1, 10_000] {
        let cart = fixtures::single(qty);
        group.bench_with_input(
            BenchmarkId::new("1_line_50_rules", format!("qty_{qty}")),
            &cart,
            |b, cart| b.iter(|| price(black_box(cart), &ctx)),
        );
    }
    group.finish();
}

criterion_group!(benches, pricing, coupons, quantity);
criterion_main!(benches);
