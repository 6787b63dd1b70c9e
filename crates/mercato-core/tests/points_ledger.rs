//! The points ledger's conservation, property-tested: after every step of a
//! random history of credits, spends, give-backs, claw-backs and expiries
//! (each decided by the ledger, then applied, then round-tripped through
//! JSON), per customer
//!
//! - `earned − (spent − returned) − expired − clawed = balance`,
//! - the balance is the sum of what the lots have left,
//! - no balance and no lot is ever negative,
//! - an order never gives back more than it took, nor is clawed back more
//!   than it earned (taken + shortfall),
//!
//! and a replay of the events rebuilds the identical ledger.

use chrono::{DateTime, Duration, Utc};
use mercato_core::points::{PointsEvent, PointsLedger, clawback_due};
use proptest::prelude::*;

const CUSTOMERS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Op {
    /// A manual credit (never expires).
    Earn { who: usize, points: i64 },
    /// An order's credit on `base` minor units of goods, expiring after
    /// `days`.
    Credit {
        who: usize,
        points: i64,
        base: i64,
        days: i64,
    },
    /// An order spends points (as much of `points` as the balance has).
    Spend { who: usize, points: i64 },
    /// A spending order gives back part of what it took.
    GiveBack { pick: usize, points: i64 },
    /// A crediting order has `share`/8 more of its goods refunded.
    Refund { pick: usize, share: i64 },
    /// Time moves `hours` on and the tick expires what is due.
    Tick { hours: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1..500i64).prop_map(|(who, points)| Op::Earn { who, points }),
        (0..3usize, 1..500i64, 1..100_000i64, 1..10i64).prop_map(|(who, points, base, days)| {
            Op::Credit {
                who,
                points,
                base,
                days,
            }
        }),
        (0..3usize, 1..800i64).prop_map(|(who, points)| Op::Spend { who, points }),
        (0..64usize, 1..800i64).prop_map(|(pick, points)| Op::GiveBack { pick, points }),
        (0..64usize, 1..9i64).prop_map(|(pick, share)| Op::Refund { pick, share }),
        (1..120i64).prop_map(|hours| Op::Tick { hours }),
    ]
}

struct World {
    ledger: PointsLedger,
    log: Vec<PointsEvent>,
    now: DateTime<Utc>,
    /// Spending orders: (order, customer, points taken, points given back).
    spends: Vec<(String, String, i64, i64)>,
    /// Crediting orders: (order, refunded minor so far).
    credits: Vec<(String, i64)>,
    n: usize,
}

impl World {
    fn apply(&mut self, e: PointsEvent) {
        // Every event survives a JSON round trip unchanged.
        let back: PointsEvent = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        self.ledger.apply(&e);
        self.log.push(e);
    }

    fn step(&mut self, op: &Op) {
        self.n += 1;
        match *op {
            Op::Earn { who, points } => {
                let e = self
                    .ledger
                    .decide_earn(CUSTOMERS[who], points, "gift")
                    .unwrap();
                self.apply(e);
            }
            Op::Credit {
                who,
                points,
                base,
                days,
            } => {
                let order = format!("c{}", self.n);
                let e = self
                    .ledger
                    .decide_credit(
                        CUSTOMERS[who],
                        &order,
                        points,
                        base,
                        Some(self.now + Duration::days(days)),
                    )
                    .unwrap();
                self.apply(e);
                assert!(
                    self.ledger
                        .decide_credit(CUSTOMERS[who], &order, 1, 1, None)
                        .is_err(),
                    "an order is credited once"
                );
                self.credits.push((order, 0));
            }
            Op::Spend { who, points } => {
                let c = CUSTOMERS[who];
                let balance = self.ledger.balance(c);
                assert!(self.ledger.decide_spend(c, "x", balance + 1).is_err());
                let p = points.min(balance);
                if p > 0 {
                    let order = format!("s{}", self.n);
                    let e = self.ledger.decide_spend(c, &order, p).unwrap();
                    self.apply(e);
                    self.spends.push((order, c.to_string(), p, 0));
                }
            }
            Op::GiveBack { pick, points } => {
                if self.spends.is_empty() {
                    return;
                }
                let i = pick % self.spends.len();
                let (order, c, took, back) = self.spends[i].clone();
                let p = points.min(took - back);
                if p > 0 {
                    let e = self.ledger.decide_return(&c, &order, p).unwrap();
                    self.apply(e);
                    self.spends[i].3 += p;
                }
            }
            Op::Refund { pick, share } => {
                if self.credits.is_empty() {
                    return;
                }
                let i = pick % self.credits.len();
                let (order, refunded) = self.credits[i].clone();
                let r = self.ledger.order_points(&order).unwrap().clone();
                let refunded = (refunded + r.base_minor * share / 8).min(r.base_minor);
                self.credits[i].1 = refunded;
                let balance = self.ledger.balance(&r.customer);
                if let Some(e) = self.ledger.decide_clawback(&order, refunded, balance) {
                    self.apply(e);
                }
                let after = self.ledger.order_points(&order).unwrap();
                // The order has given back exactly floor(credited × refunded
                // / base), taken or short.
                assert_eq!(
                    after.clawed + after.shortfall,
                    clawback_due(r.credited, r.base_minor, refunded, 0)
                );
                assert!(after.clawed + after.shortfall <= after.credited);
                // Asking again with the same refund takes nothing more.
                assert!(
                    self.ledger
                        .decide_clawback(&order, refunded, self.ledger.balance(&r.customer))
                        .is_none()
                );
            }
            Op::Tick { hours } => {
                self.now += Duration::hours(hours);
                for e in self.ledger.decide_expire(self.now) {
                    self.apply(e);
                }
                if let Some(next) = self.ledger.next_expiry() {
                    assert!(next > self.now, "nothing due is left after a tick");
                }
            }
        }
        self.check();
    }

    fn check(&self) {
        for c in CUSTOMERS {
            let a = self.ledger.account(c);
            let balance = self.ledger.balance(c);
            assert_eq!(
                a.earned - (a.spent - a.returned) - a.expired - a.clawed,
                balance,
                "{c}: {a:?}"
            );
            assert!(balance >= 0, "{c}: {a:?}");
            let lots = self.ledger.lots(c);
            assert!(
                lots.iter().all(|l| l.left >= 0 && l.left <= l.points),
                "{c}: {lots:?}"
            );
            assert_eq!(lots.iter().map(|l| l.left).sum::<i64>(), balance, "{c}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn points_are_conserved_at_every_step(ops in proptest::collection::vec(op(), 1..60)) {
        let mut w = World {
            ledger: PointsLedger::default(),
            log: Vec::new(),
            now: "2026-01-01T00:00:00Z".parse().unwrap(),
            spends: Vec::new(),
            credits: Vec::new(),
            n: 0,
        };
        for op in &ops {
            w.step(op);
        }
        let mut replay = PointsLedger::default();
        for e in &w.log {
            replay.apply(e);
        }
        prop_assert_eq!(&replay, &w.ledger);
        let json = serde_json::to_string(&w.ledger).unwrap();
        let back: PointsLedger = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, w.ledger);
    }
}

#[test]
fn spending_takes_the_oldest_lots_first_and_give_backs_refill_them() {
    let mut l = PointsLedger::default();
    let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    for e in [
        l.decide_earn("a", 50, "opening").unwrap(),
        l.decide_credit("a", "o1", 30, 3000, Some(now + Duration::days(1)))
            .unwrap(),
    ] {
        l.apply(&e);
    }
    // 60 spent: 50 from the opening lot, 10 from o1's.
    l.apply(&l.decide_spend("a", "s1", 60).unwrap());
    assert_eq!(
        l.lots("a").iter().map(|x| x.left).collect::<Vec<_>>(),
        [0, 20]
    );
    // The day passes: o1's lot expires with its 20.
    for e in l.decide_expire(now + Duration::days(1)) {
        l.apply(&e);
    }
    assert_eq!(l.balance("a"), 0);
    assert_eq!(l.account("a").expired, 20);
    // s1 gives 15 back: the 10 of o1's lot first (latest taken), then 5
    // of the opening lot; o1's lot is past its expiry, so the next tick
    // expires those 10 again: 5 stay.
    l.apply(&l.decide_return("a", "s1", 15).unwrap());
    assert_eq!(
        l.lots("a").iter().map(|x| x.left).collect::<Vec<_>>(),
        [5, 10]
    );
    assert_eq!(l.next_expiry(), Some(now + Duration::days(1)));
    for e in l.decide_expire(now + Duration::days(2)) {
        l.apply(&e);
    }
    assert_eq!(l.balance("a"), 5);
    // o1's goods fully refunded: 30 due, 5 there → 5 taken, 25 short.
    let e = l.decide_clawback("o1", 3000, l.balance("a")).unwrap();
    assert_eq!(
        e,
        PointsEvent::ClawedBack {
            customer: "a".into(),
            order: "o1".into(),
            points: 5,
            shortfall: 25
        }
    );
}
