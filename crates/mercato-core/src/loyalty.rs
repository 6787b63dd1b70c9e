//! Coupon claims and points earning as the [`Shop`] decides them: claims
//! check their customers and the template's caps; points follow the order
//! lifecycle ([`Shop::loyalty_follow_ups`]): credited at the earning
//! rules' lifecycle point, clawed back pro rata as goods are refunded,
//! expired by the tick.

use std::collections::BTreeMap;

use crate::coupon::{ClaimVia, CouponClaim, TemplateLimits};
use crate::error::CoreError;
use crate::event::Event;
use crate::order::{Order, OrderEvent};
use crate::points::{CreditAt, EarningRules, OrderPoints, PointsEvent, clawback_event};
use crate::shop::{Command, Context, Shop};

/// The goods of `o` refunded so far, in minor units: what every refund
/// path has refunded ([`Order::refunded_goods`]: cancellations, partial
/// cancels, returns and refund-only requests alike, less their shipping
/// part; goodwill gives no points back), at most the goods paid. This is
/// the one input of the claw-back.
pub fn refunded_goods_minor(o: &Order) -> i64 {
    let goods = o.quote.totals.goods.to_minor().unwrap_or(0);
    let refunded = o
        .refunded_goods()
        .map_or(o.refunded, |m| m)
        .to_minor()
        .unwrap_or(0);
    i64::try_from(refunded.min(goods).max(0)).unwrap_or(0)
}

/// Goods paid by `o`, in minor units (the base points are earned on).
pub fn goods_paid_minor(o: &Order) -> i64 {
    i64::try_from(o.quote.totals.goods.to_minor().unwrap_or(0).max(0)).unwrap_or(0)
}

/// The change of `customer`'s balance made by `events`.
fn balance_delta(customer: &str, events: &[Event]) -> i64 {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Points(p) if p.customer() == customer => Some(match p {
                PointsEvent::Earned { points, .. }
                | PointsEvent::Returned { points, .. }
                | PointsEvent::Credited { points, .. } => *points,
                PointsEvent::Spent { points, .. }
                | PointsEvent::ClawedBack { points, .. }
                | PointsEvent::Expired { points, .. } => -*points,
            }),
            _ => None,
        })
        .fold(0_i64, i64::saturating_add)
}

impl Shop {
    pub(crate) fn decide_claim_coupons(
        &self,
        template: &TemplateLimits,
        claims: &[CouponClaim],
        via: ClaimVia,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        if claims.is_empty() {
            return Err(CoreError::InvalidQuantity {
                what: format!("coupons of template {}", template.id),
                qty: 0,
            });
        }
        for c in claims {
            if self.customer(&c.customer).is_none() {
                return Err(CoreError::UnknownCustomer(c.customer.clone()));
            }
        }
        Ok(self
            .coupons()
            .decide_claims(template, claims, via, ctx.now)?
            .into_iter()
            .map(Event::Coupon)
            .collect())
    }

    /// The points events that follow `events`, the decision of `cmd`:
    ///
    /// 1. a tick expires every lot past its expiry;
    /// 2. an order reaching `rules.credit_at` (paid, delivered or
    ///    completed) with a customer earns `floor(goods paid × rate of the
    ///    customer's tier now)` points, one lot expiring
    ///    `rules.expire_days` later — once per order;
    /// 3. an order with points whose refunded goods grew (a return, a
    ///    cancellation, or a credit after an earlier refund) gives back
    ///    [`crate::points::clawback_due`] points, at most the balance; the
    ///    rest is recorded as a shortfall.
    ///
    /// # Errors
    /// [`CoreError::Overflow`] when a credit cannot be counted.
    pub fn loyalty_follow_ups(
        &self,
        cmd: &Command,
        events: &[Event],
        rules: &EarningRules,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let mut out: Vec<Event> = Vec::new();
        if matches!(cmd, Command::Tick) {
            // Expire on the ledger as the tick's own events leave it
            // (points an order closed by this tick gives back to a lot past
            // its expiry expire now, not at the next tick).
            let mut after = self.points().clone();
            for e in events {
                if let Event::Points(p) = e {
                    after.apply(p);
                }
            }
            out.extend(after.decide_expire(ctx.now).into_iter().map(Event::Points));
        }
        // Whether an order event's order can be credited or clawed back by
        // this command: only those are looked at (copied and moved on by
        // the command's events) — most commands touch none.
        let credits_at = |e: &Event| {
            !rules.is_off()
                && matches!(
                    (e, rules.credit_at),
                    (Event::Order(OrderEvent::Paid { .. }), CreditAt::Paid)
                        | (
                            Event::Order(OrderEvent::Delivered { .. }),
                            CreditAt::Delivered
                        )
                        | (
                            Event::Order(OrderEvent::Completed { .. }),
                            CreditAt::Completed
                        )
                )
        };
        let mut candidates: Vec<&str> = Vec::new();
        for e in events {
            if let Event::Order(oe) = e
                && (credits_at(e) || self.points().order_points(oe.order_id()).is_some())
                && !candidates.contains(&oe.order_id())
            {
                candidates.push(oe.order_id());
            }
        }
        // The orders the command moved, as they are after its events.
        let mut touched: BTreeMap<&str, Order> = BTreeMap::new();
        for e in events {
            if let Event::Order(oe) = e
                && candidates.contains(&oe.order_id())
                && let Some(o) = self.order(oe.order_id())
            {
                let o = touched.entry(oe.order_id()).or_insert_with(|| o.clone());
                o.apply(oe);
            }
        }
        let mut credited: BTreeMap<String, OrderPoints> = BTreeMap::new();
        if !rules.is_off() {
            for e in events {
                let id = match (e, rules.credit_at) {
                    (Event::Order(OrderEvent::Paid { id, .. }), CreditAt::Paid)
                    | (Event::Order(OrderEvent::Delivered { id, .. }), CreditAt::Delivered)
                    | (Event::Order(OrderEvent::Completed { id }), CreditAt::Completed) => id,
                    _ => continue,
                };
                let Some(o) = touched.get(id.as_str()) else {
                    continue;
                };
                let Some(customer) = &o.customer else {
                    continue;
                };
                if self.points().order_points(id).is_some() || credited.contains_key(id) {
                    continue;
                }
                let tier = self.customer(customer).and_then(|c| c.tier.as_deref());
                let points = rules.points_for(o.quote.totals.goods.amount(), tier);
                if points <= 0 {
                    continue;
                }
                let base_minor = goods_paid_minor(o);
                let ev = self.points().decide_credit(
                    customer,
                    id,
                    points,
                    base_minor,
                    rules.expiry_from(ctx.now),
                )?;
                credited.insert(
                    id.clone(),
                    OrderPoints {
                        customer: customer.clone(),
                        credited: points,
                        base_minor,
                        clawed: 0,
                        shortfall: 0,
                        lot: 0,
                    },
                );
                out.push(Event::Points(ev));
            }
        }
        for (id, o) in &touched {
            let record = match credited.get(*id) {
                Some(r) => r,
                None => match self.points().order_points(id) {
                    Some(r) => r,
                    None => continue,
                },
            };
            let balance = self
                .points()
                .balance(&record.customer)
                .saturating_add(balance_delta(&record.customer, events))
                .saturating_add(balance_delta(&record.customer, &out));
            if let Some(ev) = clawback_event(id, record, refunded_goods_minor(o), balance) {
                out.push(Event::Points(ev));
            }
        }
        Ok(out)
    }
}
