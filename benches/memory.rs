//! Resident state, measured with a counting allocator (`stats_alloc`): the
//! heap bytes held by the [`EngineState`] an engine rebuilds when it opens
//! (what stays in memory while it runs), per SKU, per open order and per
//! paid order. Not a criterion bench: it prints one table and exits.
//!
//! ```text
//! cargo bench -p mercato --bench memory
//! ```
//! Bytes are what the program asked the allocator for (live bytes after the
//! rebuild, transient allocations excluded); the allocator's own per-block
//! overhead (8–16 bytes a block with glibc) is not included. Each figure is
//! the growth between two states divided by the number of things added.

use std::alloc::System;

#[path = "support/shop.rs"]
mod shop;

use mercato::rules::CartLine;
use mercato::store::{MemoryStore, Store};
use mercato::{Engine, EngineOptions, EngineState, ManualClock, rebuild};
use shop::{json, order, shop, three_lines};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Things added per step.
const N: usize = 20_000;

/// Live heap bytes and blocks of the state rebuilt from `store`.
fn resident<S: Store>(store: &S) -> (i64, i64) {
    let region = Region::new(GLOBAL);
    let st: EngineState = rebuild(store).expect("rebuild");
    let c = region.change();
    let bytes = c.bytes_allocated as i64 - c.bytes_deallocated as i64 + c.bytes_reallocated as i64;
    let blocks = c.allocations as i64 - c.deallocations as i64;
    drop(st);
    (bytes, blocks)
}

fn row(what: &str, before: (i64, i64), after: (i64, i64), n: usize) {
    let n = n as i64;
    println!(
        "| {what} | {} | {} |",
        (after.0 - before.0) / n,
        (after.1 - before.1) / n
    );
}

fn main() {
    let e: Engine<MemoryStore, ManualClock> = shop(MemoryStore::new(), EngineOptions::default());
    let base = resident(e.store());

    for i in 0..N {
        let sku = format!("sku-{i:06}");
        e.add_catalog_item(json(&format!(
            r#"{{"sku": "{sku}", "product": "p-{}", "category": "c-{}", "price": "19.90"}}"#,
            i / 4,
            i % 50
        )))
        .expect("item");
        e.adjust_stock(&sku, "main", 100, "received")
            .expect("stock");
    }
    let skus = resident(e.store());

    for i in 0..N {
        e.place_order(order(i as u64, three_lines()), None)
            .expect("place");
    }
    let open = resident(e.store());

    for i in 0..N {
        let id = format!("o{i}");
        let payable = e.order(&id).expect("order").quote.totals.payable;
        e.pay(&id, payable, None).expect("pay");
    }
    let paid = resident(e.store());

    for i in N..2 * N {
        e.place_order(
            order(
                i as u64,
                vec![CartLine {
                    sku: "phone".into(),
                    qty: 1,
                }],
            ),
            None,
        )
        .expect("place");
    }
    let flash = resident(e.store());

    println!("resident engine state, {N} of each (bytes and allocator blocks per item)");
    println!();
    println!("| item | bytes | blocks |");
    println!("|---|---:|---:|");
    println!(
        "| empty shop (4 SKUs, 3 promotions, 1 customer), total | {} | {} |",
        base.0, base.1
    );
    row("SKU (catalog item + one stock location)", base, skus, N);
    row(
        "open order, 3 lines, 2 promotions (pending payment, stock reserved)",
        skus,
        open,
        N,
    );
    row(
        "paying it (paid, stock committed), growth per order",
        open,
        paid,
        N,
    );
    row(
        "open flash-sale order, 1 line, per-customer limit",
        paid,
        flash,
        N,
    );
}
