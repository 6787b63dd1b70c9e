//! Points through the whole engine, property-tested: random histories of
//! placements (spending points), payments, shipments, deliveries,
//! completions, returns, cancellations and ticks, with points earned at a
//! random lifecycle point and expiring. After every step, per customer:
//!
//! - `earned − spent + returned − expired − clawed = balance ≥ 0`, and the
//!   balance is what the lots have left;
//! - every order that earned `E` points on goods `G` and has `R` of its
//!   goods refunded has given back exactly `floor(E × min(R, G) / G)`
//!   (taken or recorded short);
//! - an order is credited at most once, and only once it reached the
//!   lifecycle point;
//!
//! and at the end a rebuild from the log gives the identical state.

use chrono::Duration;
use mercato::core::Currency;
use mercato::core::order::LineQty;
use mercato::store::MemoryStore;
use mercato::{Clock, Engine, ManualClock, PlaceOrderRequest, Settings};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Place { who: usize, qty: i64, points: i64 },
    Pay { pick: usize },
    ShipDeliver { pick: usize },
    Complete { pick: usize },
    Return { pick: usize, qty: i64 },
    Cancel { pick: usize },
    Tick { hours: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, 1..5i64, 0..60i64).prop_map(|(who, qty, points)| Op::Place { who, qty, points }),
        3 => (0..32usize).prop_map(|pick| Op::Pay { pick }),
        2 => (0..32usize).prop_map(|pick| Op::ShipDeliver { pick }),
        2 => (0..32usize).prop_map(|pick| Op::Complete { pick }),
        2 => (0..32usize, 1..4i64).prop_map(|(pick, qty)| Op::Return { pick, qty }),
        1 => (0..32usize).prop_map(|pick| Op::Cancel { pick }),
        1 => (1..400i64).prop_map(|hours| Op::Tick { hours }),
    ]
}

const WHO: [&str; 2] = ["u1", "u2"];

fn settings(credit_at: &str) -> Settings {
    serde_json::from_str(&format!(
        r#"{{"points": {{"per_unit": 1, "max_percent": "100"}},
            "points_earning": {{"per_unit": "1.5", "tiers": [{{"tier": "gold", "per_unit": "2"}}],
                               "credit_at": "{credit_at}", "expire_days": 5}}}}"#
    ))
    .unwrap()
}

fn check(e: &Engine<MemoryStore, ManualClock>) -> Result<(), TestCaseError> {
    for who in WHO {
        let p = e.points(who).unwrap();
        prop_assert_eq!(
            p.earned - p.spent + p.returned - p.expired - p.clawed,
            p.balance,
            "{}: {:?}",
            who,
            p
        );
        prop_assert!(p.balance >= 0);
        prop_assert_eq!(p.lots.iter().map(|l| l.left).sum::<i64>(), p.balance);
        prop_assert!(p.lots.iter().all(|l| l.left >= 0));
    }
    let violations = e
        .read(|s| {
            let mut bad = Vec::new();
            for o in s.shop().orders() {
                let Some(r) = s.shop().points().order_points(&o.id) else {
                    continue;
                };
                let g = r.base_minor;
                let refunded = mercato::core::loyalty::refunded_goods_minor(o);
                let due = if g == 0 {
                    0
                } else {
                    (i128::from(r.credited) * i128::from(refunded.min(g)) / i128::from(g)) as i64
                };
                if r.clawed + r.shortfall != due {
                    bad.push(format!("{}: {r:?} refunded {refunded}", o.id));
                }
            }
            bad
        })
        .unwrap();
    prop_assert!(violations.is_empty(), "{:?}", violations);
    Ok(())
}

fn run(credit_at: &str, ops: &[Op]) -> Result<(), TestCaseError> {
    let clock = ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap());
    let e = Engine::open(MemoryStore::new(), clock).unwrap();
    e.configure(Currency::CNY, settings(credit_at)).unwrap();
    e.add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "12.34"}"#).unwrap())
        .unwrap();
    e.adjust_stock("tea", "main", 100_000, "received").unwrap();
    e.register_customer("u1", None, 40).unwrap();
    e.register_customer("u2", Some("gold"), 0).unwrap();
    let mut orders: Vec<String> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let pick = |i: usize| orders.get(i % orders.len().max(1)).cloned();
        // Refusals are part of the history (a payment of a cancelled
        // order...): they must change nothing.
        match op {
            Op::Place { who, qty, points } => {
                let id = format!("o{n}");
                let req = PlaceOrderRequest::new(&id)
                    .customer(WHO[*who])
                    .line("tea", *qty)
                    .points(*points);
                if e.place_order(req, None).is_ok() {
                    orders.push(id);
                }
            }
            Op::Pay { pick: i } => {
                if let Some(id) = pick(*i) {
                    let payable = e.order(&id).unwrap().payable();
                    let _ = e.pay(&id, payable, None);
                }
            }
            Op::ShipDeliver { pick: i } => {
                if let Some(id) = pick(*i) {
                    let _ = e.ship(&id, None, None);
                    let _ = e.deliver(&id, None);
                }
            }
            Op::Complete { pick: i } => {
                if let Some(id) = pick(*i) {
                    let _ = e.complete(&id, None);
                }
            }
            Op::Return { pick: i, qty } => {
                if let Some(id) = pick(*i) {
                    let _ = e.return_items(
                        &id,
                        vec![LineQty { line: 0, qty: *qty }],
                        Default::default(),
                        None,
                    );
                }
            }
            Op::Cancel { pick: i } => {
                if let Some(id) = pick(*i) {
                    let _ = e.cancel(&id, None);
                }
            }
            Op::Tick { hours } => {
                e.clock().advance(Duration::hours(*hours));
                e.tick().unwrap();
                if let Some(next) = e.next_deadline().unwrap() {
                    prop_assert!(next > e.clock().now(), "a tick leaves nothing due");
                }
            }
        }
        check(&e)?;
    }
    let rebuilt = mercato::rebuild(e.store()).unwrap();
    prop_assert_eq!(rebuilt.durable, e.read(|s| s.durable.clone()).unwrap());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn points_are_conserved_through_the_engine(
        credit_at in prop_oneof![Just("paid"), Just("delivered"), Just("completed")],
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        run(credit_at, &ops)?;
    }
}
