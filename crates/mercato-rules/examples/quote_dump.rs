//! Prints many generated quotes and best-coupon answers from the bench
//! fixtures, one per line, so two builds can be compared byte for byte
//! (`cargo run --release -p mercato-rules --example quote_dump > a.txt`
//! on each, then `cmp`). Each answer is written with `{:?}`, which shows
//! every `Decimal`'s scale, and as JSON.
//!
//! With `profile N [RULES] [LINES]` instead, prices the bench cart of
//! `LINES` lines (100) against `RULES` rules (50) `N` times (for callgrind).

#[path = "../benches/support/fixtures.rs"]
mod fixtures;

use mercato_rules::{BudgetSpent, Cart, PricingContext, ShopFacts, best_coupons, price};
use rust_decimal::Decimal;

fn shops() -> Vec<ShopFacts> {
    let used = fixtures::shop()
        .with_coupon_uses("K001", 3)
        .with_coupon_uses_by("K002", "u1", 1)
        .with_units_bought("r0", "u1", 1)
        .with_units_sold("r16", 2)
        .with_budget_spent(
            "r4",
            BudgetSpent {
                amount: Decimal::new(2_50, 2),
                orders: 1,
            },
        )
        .with_budget_spent(
            "r13",
            BudgetSpent {
                amount: Decimal::new(9_999_999, 2),
                orders: 7,
            },
        );
    vec![fixtures::shop(), used]
}

fn variant(mut cart: Cart, v: usize) -> Cart {
    match v {
        0 => cart,
        1 => {
            cart.customer = None;
            cart
        }
        2 => {
            cart.points = 0;
            cart.coupons.clear();
            cart
        }
        _ => {
            cart.points = 50_000;
            cart.coupons = ["K003", "K000", "K004", "K005", "K000", "nope", "K001"]
                .iter()
                .map(|c| (*c).to_string())
                .collect();
            cart
        }
    }
}

fn dump() {
    let shops = shops();
    let mut n = 0_usize;
    for seed in 0..6_u64 {
        for rules_n in [0_usize, 1, 7, 16, 50, 100] {
            let rules = fixtures::rules(rules_n, 9, seed);
            let wallet: Vec<String> = rules.coupons().iter().map(|c| c.code.clone()).collect();
            for (si, shop) in shops.iter().enumerate() {
                let ctx = PricingContext::new(&rules, fixtures::now(), shop);
                for lines in [1_usize, 2, 5, 13, 40, 100, 333] {
                    for v in 0..4 {
                        let cart = variant(
                            fixtures::cart(lines, seed * 31 + v as u64, &["K000", "K001", "K002"]),
                            v,
                        );
                        let tag =
                            format!("seed {seed} rules {rules_n} shop {si} lines {lines} v {v}");
                        match price(&cart, &ctx) {
                            Ok(q) => {
                                println!("{tag} price {q:?}");
                                println!(
                                    "{tag} json {}",
                                    serde_json::to_string(&q).unwrap_or_default()
                                );
                            }
                            Err(e) => println!("{tag} price error {e:?}"),
                        }
                        n += 1;
                        if lines <= 40 {
                            match best_coupons(&cart, &wallet, &ctx) {
                                Ok(b) => println!("{tag} best {b:?}"),
                                Err(e) => println!("{tag} best error {e:?}"),
                            }
                            n += 1;
                        }
                    }
                }
                for qty in [1_i64, 7, 10_000, 0, -1] {
                    let cart = fixtures::single(qty);
                    println!(
                        "single {qty} seed {seed} rules {rules_n} shop {si} {:?}",
                        price(&cart, &ctx)
                    );
                    n += 1;
                }
            }
        }
    }
    eprintln!("{n} answers");
}

fn profile(times: usize, rules_n: usize, lines: usize) {
    let shop = fixtures::shop();
    let rules = fixtures::rules(rules_n, 6, 0);
    let ctx = PricingContext::new(&rules, fixtures::now(), &shop);
    let cart = fixtures::cart(lines, 0, &["K000", "K001", "K002"]);
    let mut payable = Decimal::ZERO;
    for _ in 0..times {
        if let Ok(q) = price(std::hint::black_box(&cart), &ctx) {
            payable += q.totals.payable.amount();
        }
    }
    println!("{payable}");
}

// A developer tool, not the rules: it reads its command line.
#[allow(clippy::disallowed_methods)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("profile") => {
            let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
            profile(arg(2, 1000), arg(3, 50), arg(4, 100));
        }
        _ => dump(),
    }
}
