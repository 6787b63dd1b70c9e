//! Per-order cost in instructions, for `valgrind --tool=callgrind`: runs
//! `N` orders of one kind on the in-memory engine and exits. Instruction
//! counts do not depend on the load of the machine, so two runs with
//! different `N` give the cost of one order (setup cancels out):
//!
//! ```text
//! cargo bench -p mercato --bench order_cost --no-run
//! B=$(ls -t target/release/deps/order_cost-* | grep -v '\.d$' | head -1)
//! for n in 2000 4000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/tmp/oc.$n $B three $n
//! done
//! # (refs(4000) − refs(2000)) / 2000 = instructions per place+pay
//! ```
//!
//! Kinds: `three` (place+pay of the 3-line, 2-rule order of the engine
//! bench), `flash` (place+pay of one flash-priced phone), `place` (the
//! 3-line place alone). Under `cargo bench` (argument `--bench`) it runs
//! each kind once with a small `N` and prints the wall time, as a smoke
//! check.

use std::time::Instant;

#[path = "support/shop.rs"]
mod shop;

use mercato::EngineOptions;
use mercato::rules::CartLine;
use mercato::store::MemoryStore;
use shop::{order, place_pay, shop, three_lines};

fn phone() -> Vec<CartLine> {
    vec![CartLine {
        sku: "phone".into(),
        qty: 1,
    }]
}

fn run(kind: &str, n: u64) {
    let e = shop(MemoryStore::new(), EngineOptions::default());
    let start = Instant::now();
    for i in 0..n {
        match kind {
            "three" => place_pay(&e, i, three_lines()),
            "flash" => place_pay(&e, i, phone()),
            "place" => {
                e.place_order(order(i, three_lines()), None).expect("place");
            }
            other => panic!("unknown kind {other} (three, flash, place)"),
        }
    }
    let took = start.elapsed();
    println!(
        "{kind}: {n} orders in {:.3} s, {:.0} orders/s",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.as_slice() {
        [kind, n] => run(kind, n.parse().expect("N is a number")),
        _ => {
            for kind in ["three", "flash", "place"] {
                run(kind, 2_000);
            }
        }
    }
}
