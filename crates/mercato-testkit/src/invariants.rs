//! Invariant checkers callable on any engine state. They return every
//! [`Violation`] found (an empty list when the state is sound) and never
//! panic, so they can run inside property tests, fuzz targets, audits or a
//! production health check.
//!
//! [`check_state`] looks at an [`EngineState`] alone; [`check_engine`] adds
//! what needs the store: replaying the log reproduces the state, and the
//! hash chain verifies.

use std::collections::BTreeMap;
use std::fmt;

use mercato::core::coupon::UseState;
use mercato::core::order::{Order, OrderStatus, ReturnStatus};
use mercato::core::payments::RefundKind;
use mercato::core::{Money, Shop};
use mercato::store::Store;
use mercato::{Clock, Engine, EngineState};

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// A location without backorder holds more reservations than units, or
    /// negative counts.
    Oversell {
        /// SKU.
        sku: String,
        /// Location.
        location: String,
        /// on_hand there.
        on_hand: i64,
        /// reserved there.
        reserved: i64,
    },
    /// Σ of open reservations at a location differs from its `reserved`.
    ReservationMismatch {
        /// SKU.
        sku: String,
        /// Location.
        location: String,
        /// What the reservations add up to.
        held: i64,
        /// The location's counter.
        reserved: i64,
    },
    /// A coupon use is not accounted for: a live order without exactly one
    /// live use, a live use without a live order, or a limit exceeded.
    CouponUse {
        /// Code.
        code: String,
        /// What is wrong.
        problem: String,
    },
    /// A points account does not add up or is negative.
    Points {
        /// Customer.
        customer: String,
        /// What is wrong.
        problem: String,
    },
    /// An order's money does not add up.
    OrderMoney {
        /// Order.
        order: String,
        /// What is wrong.
        problem: String,
    },
    /// An order's units do not add up: per line counters (shipped,
    /// cancelled, returned, in requests, refunded), its shipments.
    OrderUnits {
        /// Order.
        order: String,
        /// What is wrong.
        problem: String,
    },
    /// Rebuilding the state from the store's log gives a different state.
    Replay(String),
    /// The hash chain does not verify (or the store could not be read).
    Chain(String),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Oversell {
                sku,
                location,
                on_hand,
                reserved,
            } => write!(
                f,
                "oversell at {sku}/{location}: on_hand {on_hand}, reserved {reserved}"
            ),
            Violation::ReservationMismatch {
                sku,
                location,
                held,
                reserved,
            } => write!(
                f,
                "reservations at {sku}/{location} add up to {held}, the location says {reserved}"
            ),
            Violation::CouponUse { code, problem } => write!(f, "coupon {code}: {problem}"),
            Violation::Points { customer, problem } => {
                write!(f, "points of {customer}: {problem}")
            }
            Violation::OrderMoney { order, problem } => write!(f, "order {order}: {problem}"),
            Violation::OrderUnits { order, problem } => {
                write!(f, "order {order} units: {problem}")
            }
            Violation::Replay(m) => write!(f, "replay: {m}"),
            Violation::Chain(m) => write!(f, "hash chain: {m}"),
        }
    }
}

/// Checks every invariant that the state alone can show.
pub fn check_state(state: &EngineState) -> Vec<Violation> {
    let shop = state.shop();
    let mut out = Vec::new();
    check_stock(shop, &mut out);
    check_coupons(shop, &mut out);
    check_points(shop, &mut out);
    check_orders(shop, &mut out);
    for o in shop.orders() {
        check_ledger(o, &mut out);
        check_units(o, &mut out);
    }
    out
}

/// [`check_state`] on the engine's current state, plus: rebuilding the state
/// from the store ([`mercato::rebuild`]) gives the same durable state, and
/// the store's hash chain verifies. Call it when no other thread is writing.
pub fn check_engine<S: Store + 'static, C: Clock>(engine: &Engine<S, C>) -> Vec<Violation> {
    let mut out = match engine.read(|st| (check_state(st), st.durable.clone())) {
        Ok((mut v, durable)) => {
            match mercato::rebuild(engine.store()) {
                Ok(rebuilt) => {
                    if rebuilt.durable != durable {
                        v.push(Violation::Replay(describe_difference(
                            &durable,
                            &rebuilt.durable,
                        )));
                    }
                }
                Err(e) => v.push(Violation::Replay(format!("rebuild failed: {e}"))),
            }
            v
        }
        Err(e) => vec![Violation::Replay(format!("cannot read the state: {e}"))],
    };
    match engine.store().verify() {
        Ok(report) if report.ok() => {}
        Ok(report) => out.push(Violation::Chain(format!("{report:?}"))),
        Err(e) => out.push(Violation::Chain(e.to_string())),
    }
    out
}

fn describe_difference(live: &mercato::Durable, rebuilt: &mercato::Durable) -> String {
    if live.position != rebuilt.position {
        return format!(
            "live state at position {}, the log rebuilds to {}",
            live.position, rebuilt.position
        );
    }
    if live.shop != rebuilt.shop {
        return "the shop differs".into();
    }
    if live.streams != rebuilt.streams {
        return "stream versions differ".into();
    }
    "configuration or order rules differ".into()
}

fn check_stock(shop: &Shop, out: &mut Vec<Violation>) {
    let mut held: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for r in shop.stock().reservations() {
        for a in &r.held {
            *held.entry((&a.sku, &a.location)).or_insert(0) += a.qty;
        }
    }
    for (sku, s) in shop.stock().skus() {
        for l in &s.locations {
            let bad = l.reserved < 0 || (!l.backorder && (l.on_hand < 0 || l.reserved > l.on_hand));
            if bad {
                out.push(Violation::Oversell {
                    sku: sku.clone(),
                    location: l.location.clone(),
                    on_hand: l.on_hand,
                    reserved: l.reserved,
                });
            }
            let h = held
                .remove(&(sku.as_str(), l.location.as_str()))
                .unwrap_or(0);
            if h != l.reserved {
                out.push(Violation::ReservationMismatch {
                    sku: sku.clone(),
                    location: l.location.clone(),
                    held: h,
                    reserved: l.reserved,
                });
            }
        }
        for q in &s.quotas {
            if q.taken < 0 || q.allotted < 0 {
                out.push(Violation::Oversell {
                    sku: sku.clone(),
                    location: format!("quota {}", q.channel),
                    on_hand: q.allotted,
                    reserved: q.taken,
                });
            }
        }
    }
    for ((sku, location), h) in held {
        out.push(Violation::ReservationMismatch {
            sku: sku.to_string(),
            location: location.to_string(),
            held: h,
            reserved: 0,
        });
    }
}

fn check_coupons(shop: &Shop, out: &mut Vec<Violation>) {
    for c in shop.coupons().iter() {
        let live: Vec<_> = c
            .uses
            .iter()
            .filter(|u| u.state != UseState::Returned)
            .collect();
        for u in &live {
            match shop.order(&u.order) {
                None => out.push(Violation::CouponUse {
                    code: c.code.clone(),
                    problem: format!("live use by unknown order {}", u.order),
                }),
                Some(o) => {
                    if !o.status.is_live() {
                        out.push(Violation::CouponUse {
                            code: c.code.clone(),
                            problem: format!("live use by {} order {}", o.status.as_str(), o.id),
                        });
                    }
                    if !o.quote.coupons.contains(&c.code) {
                        out.push(Violation::CouponUse {
                            code: c.code.clone(),
                            problem: format!("order {} uses it but its quote does not", o.id),
                        });
                    }
                }
            }
            if live.iter().filter(|v| v.order == u.order).count() > 1 {
                out.push(Violation::CouponUse {
                    code: c.code.clone(),
                    problem: format!("used twice by order {}", u.order),
                });
            }
        }
        let n = i64::try_from(live.len()).unwrap_or(i64::MAX);
        if c.usage_limit.is_some_and(|l| n > l) {
            out.push(Violation::CouponUse {
                code: c.code.clone(),
                problem: format!("{n} live uses over the limit {:?}", c.usage_limit),
            });
        }
        if c.live_uses() != n {
            out.push(Violation::CouponUse {
                code: c.code.clone(),
                problem: format!("live_uses() says {}, the uses {n}", c.live_uses()),
            });
        }
    }
    for o in shop.orders() {
        for code in &o.quote.coupons {
            let live = shop.coupons().get(code).map_or(0, |c| {
                c.uses
                    .iter()
                    .filter(|u| u.order == o.id && u.state != UseState::Returned)
                    .count()
            });
            let want = usize::from(o.status.is_live());
            if live != want {
                out.push(Violation::CouponUse {
                    code: code.clone(),
                    problem: format!(
                        "{} order {} holds {live} live uses, expected {want}",
                        o.status.as_str(),
                        o.id
                    ),
                });
            }
        }
    }
}

fn check_points(shop: &Shop, out: &mut Vec<Violation>) {
    // What orders spent and got back, per customer.
    let mut spent: BTreeMap<&str, i64> = BTreeMap::new();
    let mut back: BTreeMap<&str, i64> = BTreeMap::new();
    for o in shop.orders() {
        let Some(c) = &o.customer else { continue };
        *spent.entry(c).or_insert(0) += o.quote.points_used;
        let returned = if o.status.is_live() {
            o.points_returned
        } else {
            o.quote.points_used
        };
        *back.entry(c).or_insert(0) += returned;
        if o.points_returned > o.quote.points_used || o.points_returned < 0 {
            out.push(Violation::Points {
                customer: c.clone(),
                problem: format!(
                    "order {} gave back {} of {} points",
                    o.id, o.points_returned, o.quote.points_used
                ),
            });
        }
    }
    for (id, a) in shop.points().iter() {
        let bal = a.balance();
        if bal != a.earned - a.spent + a.returned || bal < 0 {
            out.push(Violation::Points {
                customer: id.clone(),
                problem: format!(
                    "balance {bal} with earned {}, spent {}, returned {}",
                    a.earned, a.spent, a.returned
                ),
            });
        }
        let s = spent.get(id.as_str()).copied().unwrap_or(0);
        let b = back.get(id.as_str()).copied().unwrap_or(0);
        if a.spent != s || a.returned != b {
            out.push(Violation::Points {
                customer: id.clone(),
                problem: format!(
                    "ledger spent {} / returned {}, orders say {s} / {b}",
                    a.spent, a.returned
                ),
            });
        }
    }
}

fn check_orders(shop: &Shop, out: &mut Vec<Violation>) {
    for o in shop.orders() {
        let mut bad = |p: String| {
            out.push(Violation::OrderMoney {
                order: o.id.clone(),
                problem: p,
            })
        };
        let q = &o.quote;
        let c = q.currency;
        match Money::sum(c, q.lines.iter().map(|l| &l.net)) {
            Ok(s) if s == q.totals.goods => {}
            Ok(s) => bad(format!("Σ line nets {s} ≠ goods {}", q.totals.goods)),
            Err(e) => bad(format!("Σ line nets: {e}")),
        }
        for l in &q.lines {
            if l.net.is_negative() {
                bad(format!("line {} net {} < 0", l.line, l.net));
            }
        }
        match q.totals.goods.checked_add(q.totals.shipping) {
            Ok(p) if p == q.totals.payable => {}
            Ok(p) => bad(format!(
                "goods + shipping {p} ≠ payable {}",
                q.totals.payable
            )),
            Err(e) => bad(format!("goods + shipping: {e}")),
        }
        if q.totals.payable.is_negative() {
            bad(format!("payable {} < 0", q.totals.payable));
        }
        // Part payments (the payments ledger) may leave an unpaid order
        // with 0 < paid < payable; never more than the payable, and an
        // order past payment has captured all of it.
        if o.paid.is_negative() || o.paid > q.totals.payable {
            bad(format!("paid {} outside 0..={}", o.paid, q.totals.payable));
        }
        let past_payment = !matches!(
            o.status,
            OrderStatus::PendingPayment
                | OrderStatus::OnHold
                | OrderStatus::Cancelled
                | OrderStatus::Closed
        );
        if past_payment && o.paid != q.totals.payable {
            bad(format!(
                "{} with {} of {} paid",
                o.status, o.paid, q.totals.payable
            ));
        }
        if o.refunded > o.paid || o.refunded.is_negative() {
            bad(format!("refunded {} with {} paid", o.refunded, o.paid));
        }
        if let Err(e) = q.check() {
            bad(format!("quote check: {e}"));
        }
    }
}

/// The payments ledger and the refunds of issue 13: Σ payments = paid;
/// per payment 0 ≤ refunded ≤ captured; Σ of what went back through the
/// payments = Σ refund records = refunded; each refund's allocations add
/// up to it; shipping refunded ≤ shipping charged; the goods money of unit
/// refunds (returns, refund-only, partial cancel: refund less shipping)
/// never exceeds the units' shares of their lines' nets.
fn check_ledger(o: &Order, out: &mut Vec<Violation>) {
    let mut bad = |p: String| {
        out.push(Violation::OrderMoney {
            order: o.id.clone(),
            problem: p,
        })
    };
    let m = crate::util::minor;
    let captured: i64 = o.payments.iter().map(|p| m(&p.amount)).sum();
    if captured != m(&o.paid) {
        bad(format!("Σ payments {captured} ≠ paid {}", m(&o.paid)));
    }
    for p in &o.payments {
        if p.refunded.is_negative() || p.refunded > p.amount {
            bad(format!(
                "payment {} gave back {} of {}",
                p.id, p.refunded, p.amount
            ));
        }
    }
    let through: i64 = o.payments.iter().map(|p| m(&p.refunded)).sum();
    let records: i64 = o.refunds.iter().map(|r| m(&r.amount)).sum();
    if through != m(&o.refunded) || records != m(&o.refunded) {
        bad(format!(
            "refunded {}, the payments gave back {through}, the refund records say {records}",
            m(&o.refunded)
        ));
    }
    for r in &o.refunds {
        let shares: i64 = r.allocations.iter().map(|a| m(&a.amount)).sum();
        if shares != m(&r.amount) {
            bad(format!(
                "refund {} of {} allocated {shares}",
                r.id,
                m(&r.amount)
            ));
        }
        if r.shipping.is_negative() || r.shipping > r.amount {
            bad(format!(
                "refund {} of {} with shipping {}",
                r.id, r.amount, r.shipping
            ));
        }
    }
    let shipping: i64 = o.refunds.iter().map(|r| m(&r.shipping)).sum();
    if shipping > m(&o.quote.totals.shipping) {
        bad(format!(
            "shipping refunded {shipping} > charged {}",
            m(&o.quote.totals.shipping)
        ));
    }
    let unit_goods: i64 = o
        .refunds
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                RefundKind::Return | RefundKind::RefundOnly | RefundKind::PartialCancel
            )
        })
        .map(|r| m(&r.amount) - m(&r.shipping))
        .sum();
    let nets: i64 = o
        .quote
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let k = o
                .refunded_units
                .get(i)
                .copied()
                .unwrap_or(0)
                .clamp(0, l.qty);
            crate::util::unit_share(m(&l.net), l.qty, 0, k)
        })
        .sum();
    if unit_goods > nets {
        bad(format!(
            "unit refunds gave back {unit_goods} of goods, the refunded units' nets are {nets}"
        ));
    }
}

/// Per line: 0 ≤ shipped + cancelled ≤ qty; returned, in open requests
/// and refunded while kept add up to at most shipped; 0 ≤ refunded units,
/// at most qty; the units in open requests are what the requested and
/// approved requests hold. Shipments: unique ids, their units and the locations recorded for them
/// add up to what was shipped per line; a delivered (completed,
/// returned) order has every shipment delivered.
fn check_units(o: &Order, out: &mut Vec<Violation>) {
    let mut bad = |p: String| {
        out.push(Violation::OrderUnits {
            order: o.id.clone(),
            problem: p,
        })
    };
    let at = |v: &[i64], i: usize| v.get(i).copied().unwrap_or(0);
    for (i, l) in o.quote.lines.iter().enumerate() {
        let (shipped, cancelled) = (at(&o.shipped, i), at(&o.cancelled, i));
        let (returned, returning, kept) = (
            at(&o.returned, i),
            at(&o.returning, i),
            at(&o.kept_refunded, i),
        );
        let refunded = at(&o.refunded_units, i);
        let all = [shipped, cancelled, returned, returning, kept, refunded];
        if all.iter().any(|c| *c < 0)
            || shipped + cancelled > l.qty
            || returned + returning + kept > shipped
            || refunded > l.qty
        {
            bad(format!(
                "line {i} of {}: shipped {shipped}, cancelled {cancelled}, returned {returned}, \
                 in requests {returning}, kept and refunded {kept}, refunded {refunded}",
                l.qty
            ));
        }
        let open: i64 = o
            .returns
            .iter()
            .filter(|r| matches!(r.status, ReturnStatus::Requested | ReturnStatus::Approved))
            .flat_map(|r| &r.lines)
            .filter(|lq| lq.line == i)
            .map(|lq| lq.qty)
            .sum();
        if open != returning {
            bad(format!(
                "line {i}: open requests hold {open} units, the order says {returning}"
            ));
        }
        let in_shipments: i64 = o
            .shipments
            .iter()
            .flat_map(|s| &s.lines)
            .filter(|lq| lq.line == i)
            .map(|lq| lq.qty)
            .sum();
        let sourced: i64 = o
            .shipments
            .iter()
            .flat_map(|s| &s.sources)
            .filter(|s| s.line == i)
            .map(|s| s.qty)
            .sum();
        if in_shipments != shipped || sourced != shipped {
            bad(format!(
                "line {i}: {shipped} shipped, the shipments hold {in_shipments}, \
                 with a location for {sourced}"
            ));
        }
    }
    for (k, s) in o.shipments.iter().enumerate() {
        if o.shipments[..k].iter().any(|x| x.id == s.id) {
            bad(format!("shipment id {} twice", s.id));
        }
    }
    let delivered = matches!(
        o.status,
        OrderStatus::Delivered | OrderStatus::Completed | OrderStatus::Returned
    );
    if delivered && o.shipments.iter().any(|s| !s.is_delivered()) {
        bad(format!("{} with a shipment not delivered", o.status));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mercato::core::order::LineQty;
    use mercato::store::MemoryStore;
    use mercato::{Engine, ManualClock, PlaceOrderRequest, Settings};

    /// A delivered order of 3 units at 10.00 with one unit returned
    /// (refund 10.00 through its one payment of 30.00).
    fn returned_one() -> Order {
        let clock = ManualClock::new(crate::util::epoch());
        let e = Engine::open(MemoryStore::new(), clock).unwrap();
        e.configure(mercato::Currency::CNY, Settings::default())
            .unwrap();
        e.add_catalog_item(serde_json::from_str(r#"{"sku": "a", "price": "10.00"}"#).unwrap())
            .unwrap();
        e.adjust_stock("a", "l0", 5, "opening").unwrap();
        e.place_order(PlaceOrderRequest::new("o1").line("a", 3), None)
            .unwrap();
        e.pay(
            "o1",
            mercato::Money::from_minor(3000, mercato::Currency::CNY),
            None,
        )
        .unwrap();
        e.ship("o1", None, None).unwrap();
        e.deliver("o1", None).unwrap();
        e.return_items(
            "o1",
            vec![LineQty { line: 0, qty: 1 }],
            mercato::ReturnOptions { restock: true },
            None,
        )
        .unwrap();
        e.read(|st| st.shop().order("o1").cloned())
            .unwrap()
            .unwrap()
    }

    fn violations(o: &Order) -> Vec<Violation> {
        let mut v = Vec::new();
        check_ledger(o, &mut v);
        check_units(o, &mut v);
        v
    }

    #[test]
    fn a_sound_order_passes_and_each_break_is_reported() {
        let o = returned_one();
        assert_eq!(violations(&o), []);
        let cny = |minor| mercato::Money::from_minor(minor, mercato::Currency::CNY);
        // A payment that gave back more than it took.
        let mut x = o.clone();
        x.payments[0].refunded = cny(3001);
        assert!(!violations(&x).is_empty());
        // A refund whose allocations do not add up.
        let mut x = o.clone();
        x.refunds[0].allocations.clear();
        assert!(!violations(&x).is_empty());
        // A unit refund beyond the unit's net: 10.00 back for one unit,
        // booked as 10.01.
        let mut x = o.clone();
        x.refunds[0].amount = cny(1001);
        x.refunds[0].allocations[0].amount = cny(1001);
        x.payments[0].refunded = cny(1001);
        x.refunded = cny(1001);
        assert!(!violations(&x).is_empty());
        // More units shipped than the shipments hold.
        let mut x = o.clone();
        x.shipped[0] = 2;
        assert!(!violations(&x).is_empty());
        // A delivered order with a shipment in transit.
        let mut x = o;
        x.shipments[0].delivered_at = None;
        assert!(!violations(&x).is_empty());
    }
}
