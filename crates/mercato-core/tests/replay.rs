//! Replay determinism and the shop-wide invariants: random command sequences
//! (place, pay, cancel, hold/release, ship partially, deliver, return, adjust
//! stock, tick with time jumps), every event kept; rebuilding a fresh shop
//! from the log — also after a JSON round trip — gives the identical state.

// The purity lints (clippy.toml) are for the library: this test
// reads its environment (`MERCATO_PROPTEST_CASES`).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use chrono::{DateTime, Duration, Utc};
use mercato_core::order::LineQty;
use mercato_core::quote::{Adjustment, Stage};
use mercato_core::shop::{OrderRef, RegisterCustomer};
use mercato_core::shop::{PlaceOrder, StockCommit};
use mercato_core::stock::AdjustStock;
use mercato_core::stock::StockCommand;
use mercato_core::{Command, Context, Currency, Event, Money, Quote, Shop, ShopConfig};
use proptest::prelude::*;

fn cny(minor: i64) -> Money {
    Money::from_minor(minor, Currency::CNY)
}

#[derive(Debug, Clone)]
enum Op {
    Place {
        lines: Vec<(usize, i64)>,
        customer: usize,
        points: i64,
        coupon: bool,
        hold: bool,
    },
    Pay(usize),
    Cancel(usize),
    Release(usize),
    Reject(usize),
    Ship(usize, Option<i64>),
    Deliver(usize),
    Complete(usize),
    Return(usize, i64, bool),
    Adjust(usize, i64),
    Tick(i64),
}

const SKUS: [&str; 3] = ["a", "b", "c"];
const PRICES: [i64; 3] = [1999, 500, 12_345];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (proptest::collection::vec((0..3usize, 1i64..4), 1..4), 0..3usize, 0i64..300, any::<bool>(), proptest::bool::weighted(0.1))
            .prop_map(|(lines, customer, points, coupon, hold)| Op::Place { lines, customer, points, coupon, hold }),
        4 => (0..30usize).prop_map(Op::Pay),
        1 => (0..30usize).prop_map(Op::Cancel),
        1 => (0..30usize).prop_map(Op::Release),
        1 => (0..30usize).prop_map(Op::Reject),
        3 => (0..30usize, proptest::option::of(1i64..3)).prop_map(|(i, q)| Op::Ship(i, q)),
        2 => (0..30usize).prop_map(Op::Deliver),
        1 => (0..30usize).prop_map(Op::Complete),
        2 => (0..30usize, 1i64..3, any::<bool>()).prop_map(|(i, q, r)| Op::Return(i, q, r)),
        1 => (0..3usize, -3i64..10).prop_map(|(s, d)| Op::Adjust(s, d)),
        2 => (0i64..(60 * 24 * 8)).prop_map(Op::Tick),
    ]
}

/// A quote at list prices with a coupon of 1.00 on the first line and
/// `points` points (1 point = 0.01) taken from the last line, capped so no
/// net goes negative.
fn quote(lines: &[(usize, i64)], points: i64, coupon: bool) -> Quote {
    let l: Vec<(&str, i64, Money)> = lines
        .iter()
        .map(|(s, q)| (SKUS[*s], *q, cny(PRICES[*s])))
        .collect();
    let mut q = Quote::at_list_prices(Currency::CNY, &l, cny(600)).unwrap();
    if coupon {
        let line = &mut q.lines[0];
        line.adjustments.push(Adjustment {
            source: "C1".into(),
            stage: Stage::Coupon,
            amount: cny(100),
        });
        line.net = line.net.checked_sub(cny(100)).unwrap();
        q.coupons.push("C1".into());
        q.totals.coupon_discount = cny(100);
    }
    let last = q.lines.len() - 1;
    let line = &mut q.lines[last];
    let pts = points.min(line.net.to_minor().unwrap() as i64);
    if pts > 0 {
        line.adjustments.push(Adjustment {
            source: "points".into(),
            stage: Stage::Points,
            amount: cny(pts),
        });
        line.net = line.net.checked_sub(cny(pts)).unwrap();
        q.points_used = pts;
        q.totals.points_deduction = cny(pts);
    }
    q.totals.goods = Money::sum(Currency::CNY, q.lines.iter().map(|l| &l.net)).unwrap();
    q.totals.payable = q.totals.goods.checked_add(q.totals.shipping).unwrap();
    q.check().unwrap();
    q
}

fn cases() -> u32 {
    std::env::var("MERCATO_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn replay_rebuilds_the_identical_shop(ops in proptest::collection::vec(op(), 1..60), shipment in any::<bool>()) {
        let config = ShopConfig {
            stock_commit: if shipment { StockCommit::Shipment } else { StockCommit::Payment },
            ..ShopConfig::default()
        };
        let mut now: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().unwrap();
        let mut shop = Shop::new();
        let mut log: Vec<Event> = Vec::new();
        let mut orders: Vec<String> = Vec::new();
        let mut setup = vec![];
        for (i, c) in ["u0", "u1", "u2"].iter().enumerate() {
            setup.push(Command::RegisterCustomer(RegisterCustomer { id: (*c).into(), tier: None, points: 200 * i as i64 }));
            setup.push(Command::IssueCoupon { code: "C1".into(), owner: None, usage_limit: Some(3), per_customer_limit: 2, valid_until: None });
        }
        setup.dedup();
        for (s, sku) in SKUS.iter().enumerate() {
            setup.push(Command::Stock(StockCommand::Adjust(AdjustStock { sku: (*sku).into(), location: "main".into(), delta: 20, reason: "received".into() })));
            setup.push(Command::Stock(StockCommand::Adjust(AdjustStock { sku: (*sku).into(), location: format!("w{s}"), delta: 3, reason: "received".into() })));
        }
        let do_cmd = |shop: &mut Shop, log: &mut Vec<Event>, cmd: Command, now: DateTime<Utc>| {
            let ctx = Context { now, config: &config };
            match shop.decide(&cmd, &ctx) {
                Ok(ev) => { shop.apply_all(&ev); log.extend(ev); true }
                Err(_) => false,
            }
        };
        for c in setup {
            do_cmd(&mut shop, &mut log, c, now);
        }
        for (n, op) in ops.into_iter().enumerate() {
            let pick = |i: usize| orders.get(i % orders.len().max(1)).cloned().unwrap_or_default();
            let cmd = match op {
                Op::Place { lines, customer, points, coupon, hold } => {
                    let id = format!("o{n}");
                    orders.push(id.clone());
                    Command::Place(Box::new(PlaceOrder {
                        id,
                        customer: Some(format!("u{customer}")),
                        channel: "web".into(),
                        quote: quote(&lines, points, coupon).into(),
                        hold_reasons: if hold { vec!["max_qty".into()] } else { vec![] },
                    }))
                }
                Op::Pay(i) => {
                    let id = pick(i);
                    let amount = shop.order(&id).map(|o| o.payable()).unwrap_or(cny(1));
                    Command::Pay { order: id, amount }
                }
                Op::Cancel(i) => Command::Cancel(OrderRef { order: pick(i) }),
                Op::Release(i) => Command::Release(OrderRef { order: pick(i) }),
                Op::Reject(i) => Command::Reject(OrderRef { order: pick(i) }),
                Op::Ship(i, q) => Command::Ship { order: pick(i), lines: q.map(|q| vec![LineQty { line: 0, qty: q }]) },
                Op::Deliver(i) => Command::Deliver { order: pick(i) },
                Op::Complete(i) => Command::Complete(OrderRef { order: pick(i) }),
                Op::Return(i, q, restock) => Command::Return {
                    order: pick(i), return_id: format!("r{n}"), lines: vec![LineQty { line: 0, qty: q }], restock, owed_back: cny(0),
                },
                Op::Adjust(s, d) => Command::Stock(StockCommand::Adjust(AdjustStock { sku: SKUS[s].into(), location: "main".into(), delta: d, reason: "count".into() })),
                Op::Tick(m) => { now += Duration::minutes(m); Command::Tick }
            };
            do_cmd(&mut shop, &mut log, cmd, now);

            // Shop-wide invariants after every step.
            for (_, acct) in shop.points().iter() {
                prop_assert!(acct.balance() >= 0);
            }
            for o in shop.orders() {
                prop_assert!(o.refunded <= o.paid, "order {} refunded {} > paid {}", o.id, o.refunded, o.paid);
                prop_assert!(o.points_returned <= o.quote.points_used);
            }
            for c in shop.coupons().iter() {
                let live = c.live_uses();
                prop_assert!(c.usage_limit.is_none_or(|l| live <= l));
                let live_orders = shop.orders().filter(|o| o.status.is_live() && o.quote.coupons.contains(&c.code)).count() as i64;
                prop_assert_eq!(live, live_orders, "coupon uses = live orders using it");
            }
            for (sku, s) in shop.stock().skus() {
                for l in &s.locations {
                    prop_assert!(l.reserved <= l.on_hand, "oversold {} at {}", sku, l.location);
                }
            }
        }
        let mut rebuilt = Shop::new();
        rebuilt.apply_all(&log);
        prop_assert_eq!(&rebuilt, &shop);
        let json = serde_json::to_string(&log).unwrap();
        let back: Vec<Event> = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &log);
        let mut from_json = Shop::new();
        from_json.apply_all(&back);
        prop_assert_eq!(&from_json, &shop);
    }
}
