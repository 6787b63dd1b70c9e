//! Scratch: dumps quotes of generated fixtures to $EQUIV_OUT.
#[path = "../benches/support/fixtures.rs"]
mod fixtures;
use mercato_rules::{
    BudgetSpent, PricingContext, best_coupons, best_coupons_to_contract_json, price,
    quote_to_contract_json,
};
use std::fmt::Write;

#[test]
#[ignore]
fn dump() {
    let Ok(path) = std::env::var("EQUIV_OUT") else {
        return;
    };
    let mut out = String::new();
    let base = fixtures::shop();
    let spent = fixtures::shop()
        .with_budget_spent(
            "r4",
            BudgetSpent {
                amount: "50.00".parse().unwrap(),
                orders: 3,
            },
        )
        .with_budget_spent(
            "r13",
            BudgetSpent {
                amount: "1.00".parse().unwrap(),
                orders: 1,
            },
        )
        .with_budget_spent(
            "r22",
            BudgetSpent {
                amount: "9999.00".parse().unwrap(),
                orders: 1,
            },
        )
        .with_units_bought("r0", "u1", 1)
        .with_units_sold("r0", 2)
        .with_units_bought("r16", "u1", 5)
        .with_units_sold("r16", 9)
        .with_units_bought("r32", "u1", 1)
        .with_units_sold("r32", 9)
        .with_units_bought("r48", "u1", 9)
        .with_units_sold("r48", 1)
        .with_stock("gift", 1);
    for seed in 0..24u64 {
        for &(rules_n, lines) in &[
            (1usize, 1usize),
            (5, 3),
            (10, 10),
            (16, 20),
            (33, 40),
            (50, 100),
            (100, 300),
            (64, 5),
        ] {
            let rules = fixtures::rules(rules_n, 9, seed);
            for (si, shop) in [&base, &spent].into_iter().enumerate() {
                let ctx = PricingContext::new(&rules, fixtures::now(), shop);
                let mut cart = fixtures::cart(
                    lines,
                    seed * 31 + lines as u64,
                    &[
                        "K000", "K001", "K003", "K004", "K005", "K001", "NOPE", "K006",
                    ],
                );
                if seed % 4 == 1 {
                    cart.customer = None;
                }
                if seed % 5 == 2 {
                    cart.points = 0;
                }
                let q = price(&cart, &ctx).map(|q| quote_to_contract_json(&q));
                writeln!(out, "{seed} {rules_n} {lines} {si} {:?}", q).unwrap();
                if lines <= 20 {
                    let wallet: Vec<String> =
                        rules.coupons().iter().map(|c| c.code.clone()).collect();
                    let b = best_coupons(&cart, &wallet, &ctx)
                        .map(|b| best_coupons_to_contract_json(&b));
                    writeln!(out, "best {seed} {rules_n} {lines} {si} {:?}", b).unwrap();
                }
                for qty in [1, 7, 10_000] {
                    let mut c = fixtures::single(qty);
                    c.lines[0].sku = format!("s{}", seed * 13 % 1200);
                    let q = price(&c, &ctx).map(|q| quote_to_contract_json(&q));
                    writeln!(out, "single {seed} {rules_n} {qty} {si} {:?}", q).unwrap();
                }
            }
        }
    }
    std::fs::write(path, out).unwrap();
}
