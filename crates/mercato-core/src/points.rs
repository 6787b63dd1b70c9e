//! The points ledger: per customer, points earned, spent by placed orders and
//! returned by cancelled, closed or returned ones, expired, and clawed back
//! from refunded orders. The spendable balance is
//! `earned − spent + returned − expired − clawed` and never goes below zero.
//!
//! Points live in **lots**: every credit is one lot (an opening balance or
//! a manual credit never expires; an order's credit expires after the
//! earning rules' `expire_days`). Spending takes the oldest lots first;
//! points given back by an order go back to the lots they came from; a lot
//! past its expiry is expired by the next tick ([`PointsLedger::decide_expire`]).
//! The balance is always the sum of what the lots have left.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::money::amount_str;

/// One customer's points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsAccount {
    /// Points ever earned (opening balances included).
    pub earned: i64,
    /// Points ever spent on orders.
    pub spent: i64,
    /// Points given back to the customer.
    pub returned: i64,
    /// Points expired (lots past their expiry).
    #[serde(default)]
    pub expired: i64,
    /// Points taken back from refunded orders.
    #[serde(default)]
    pub clawed: i64,
    /// Points a claw-back could not take (already spent): recorded, never
    /// taken from a later balance.
    #[serde(default)]
    pub shortfall: i64,
}

impl PointsAccount {
    /// Spendable balance (exact for a ledger built by its `decide`, which
    /// keeps every counter and the balance within `i64`; saturating
    /// otherwise, never wrapping).
    pub fn balance(&self) -> i64 {
        let b = i128::from(self.earned) - i128::from(self.spent) + i128::from(self.returned)
            - i128::from(self.expired)
            - i128::from(self.clawed);
        i64::try_from(b).unwrap_or(if b < 0 { i64::MIN } else { i64::MAX })
    }
}

/// One credit of points and what is left of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    /// Position among the customer's lots (0 = oldest).
    pub id: u64,
    /// Points credited.
    pub points: i64,
    /// Points left.
    pub left: i64,
    /// When what is left expires; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// The order it was earned on, if any.
    pub order: Option<String>,
}

/// The points an order earned and what was taken back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPoints {
    /// The customer.
    pub customer: String,
    /// Points credited for the order.
    pub credited: i64,
    /// Goods paid they were earned on, in minor units.
    pub base_minor: i64,
    /// Points taken back so far.
    pub clawed: i64,
    /// Points a claw-back could not take.
    pub shortfall: i64,
    /// The lot of the credit.
    pub lot: u64,
}

/// When an order's points are credited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditAt {
    /// On payment.
    Paid,
    /// On delivery.
    Delivered,
    /// On completion (confirmed or automatic).
    #[default]
    Completed,
}

/// A tier's own earning rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierRate {
    /// The tier.
    pub tier: String,
    /// Points per currency unit of goods paid.
    #[serde(with = "amount_str")]
    pub per_unit: Decimal,
}

/// How orders earn points. Off by default (`per_unit` 0, no tier rates).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarningRules {
    /// Points per currency unit of goods paid (`"1"`: one point per yuan),
    /// rounded down per order; `"0"`: no points.
    #[serde(default, with = "amount_str")]
    pub per_unit: Decimal,
    /// Rates of tiers that earn differently.
    #[serde(default)]
    pub tiers: Vec<TierRate>,
    /// When the points are credited (default on completion).
    #[serde(default)]
    pub credit_at: CreditAt,
    /// Days an order's points stay valid; `None`: forever.
    #[serde(default)]
    pub expire_days: Option<i64>,
}

/// Most points per currency unit a rule may give.
pub const MAX_POINTS_PER_UNIT: i64 = 10_000;

impl EarningRules {
    /// True when no order earns points (the default).
    pub fn is_off(&self) -> bool {
        self.per_unit.is_zero() && self.tiers.is_empty()
    }

    /// The rate of a customer of `tier`.
    pub fn rate(&self, tier: Option<&str>) -> Decimal {
        tier.and_then(|t| self.tiers.iter().find(|r| r.tier == t))
            .map_or(self.per_unit, |r| r.per_unit)
    }

    /// Checks the rates (0 ..= [`MAX_POINTS_PER_UNIT`], at most 4 decimals)
    /// and `expire_days` (1 ..= 3650). Returns the field and the problem.
    ///
    /// # Errors
    /// `(field, problem)` of the first value out of range.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let rate_ok = |d: Decimal| {
            !d.is_sign_negative() && d <= Decimal::from(MAX_POINTS_PER_UNIT) && d.scale() <= 4
        };
        if !rate_ok(self.per_unit) {
            return Err((
                "points_earning.per_unit",
                format!(
                    "{} is outside 0..={MAX_POINTS_PER_UNIT} (at most 4 decimals)",
                    self.per_unit
                ),
            ));
        }
        for t in &self.tiers {
            if !rate_ok(t.per_unit) {
                return Err((
                    "points_earning.tiers.per_unit",
                    format!(
                        "{} (tier {}) is outside 0..={MAX_POINTS_PER_UNIT}",
                        t.per_unit, t.tier
                    ),
                ));
            }
        }
        if let Some(d) = self.expire_days
            && !(1..=3650).contains(&d)
        {
            return Err((
                "points_earning.expire_days",
                format!("{d} is outside 1..=3650"),
            ));
        }
        Ok(())
    }

    /// Points earned on `goods` (currency units of goods paid) by a
    /// customer of `tier`: `floor(goods × rate)`, 0 for no goods.
    pub fn points_for(&self, goods: Decimal, tier: Option<&str>) -> i64 {
        let p = goods
            .max(Decimal::ZERO)
            .checked_mul(self.rate(tier))
            .map(|x| x.floor())
            .unwrap_or_default();
        i64::try_from(p).unwrap_or(0)
    }

    /// When points credited at `now` expire.
    pub fn expiry_from(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.expire_days
            .and_then(TimeDelta::try_days)
            .and_then(|d| now.checked_add_signed(d))
    }
}

/// The claw-back rule, one function for every refund path: an order that
/// earned `credited` points on `base_minor` of goods and has `refunded_minor`
/// of its goods refunded in all keeps `credited − floor(credited × refunded
/// / base)` (refunded capped at base); `already` points were taken (or
/// found short) before. Returns the points now due (0: nothing).
pub fn clawback_due(credited: i64, base_minor: i64, refunded_minor: i64, already: i64) -> i64 {
    if credited <= 0 || base_minor <= 0 || refunded_minor <= 0 {
        return 0;
    }
    let r = i128::from(refunded_minor.min(base_minor));
    let target = i128::from(credited) * r / i128::from(base_minor);
    let due = target - i128::from(already);
    i64::try_from(due.max(0)).unwrap_or(0)
}

/// What happened to points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
#[non_exhaustive]
pub enum PointsEvent {
    /// Points earned (or an opening balance).
    #[serde(rename = "earned.v1")]
    Earned {
        /// Customer.
        customer: String,
        /// Points.
        points: i64,
        /// Why.
        reason: String,
    },
    /// Points spent by an order.
    #[serde(rename = "spent.v1")]
    Spent {
        /// Customer.
        customer: String,
        /// Order.
        order: String,
        /// Points.
        points: i64,
    },
    /// Points given back by an order.
    #[serde(rename = "returned.v1")]
    Returned {
        /// Customer.
        customer: String,
        /// Order.
        order: String,
        /// Points.
        points: i64,
    },
    /// Points earned by an order (the earning rules), one lot.
    #[serde(rename = "credited.v1")]
    Credited {
        /// Customer.
        customer: String,
        /// Order.
        order: String,
        /// Points.
        points: i64,
        /// Goods paid they were earned on, in minor units.
        base_minor: i64,
        /// When the lot expires; `None`: never.
        expires_at: Option<DateTime<Utc>>,
    },
    /// Points taken back from a refunded order: `points` taken (at most the
    /// balance), `shortfall` due but already spent (recorded, not taken).
    #[serde(rename = "clawed_back.v1")]
    ClawedBack {
        /// Customer.
        customer: String,
        /// Order.
        order: String,
        /// Points taken.
        points: i64,
        /// Points due that the balance could not cover.
        shortfall: i64,
    },
    /// What was left of a lot expired.
    #[serde(rename = "expired.v1")]
    Expired {
        /// Customer.
        customer: String,
        /// The lot.
        lot: u64,
        /// Points.
        points: i64,
    },
}

impl PointsEvent {
    /// The customer.
    pub fn customer(&self) -> &str {
        match self {
            PointsEvent::Earned { customer, .. }
            | PointsEvent::Spent { customer, .. }
            | PointsEvent::Returned { customer, .. }
            | PointsEvent::Credited { customer, .. }
            | PointsEvent::ClawedBack { customer, .. }
            | PointsEvent::Expired { customer, .. } => customer,
        }
    }
}

/// All customers' points.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsLedger {
    accounts: BTreeMap<String, PointsAccount>,
    /// Per customer, every lot, oldest first.
    #[serde(default)]
    lots: BTreeMap<String, Vec<Lot>>,
    /// Per order, the lots its spend took from, in order.
    #[serde(default)]
    spends: BTreeMap<String, Vec<(u64, i64)>>,
    /// Per order, the points it earned.
    #[serde(default)]
    orders: BTreeMap<String, OrderPoints>,
}

impl PointsLedger {
    /// A customer's account (zeros when unknown).
    pub fn account(&self, customer: &str) -> PointsAccount {
        self.accounts.get(customer).copied().unwrap_or_default()
    }

    /// Spendable balance.
    pub fn balance(&self, customer: &str) -> i64 {
        self.account(customer).balance()
    }

    /// All accounts.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &PointsAccount)> {
        self.accounts.iter()
    }

    /// Earns points.
    pub fn decide_earn(
        &self,
        customer: &str,
        points: i64,
        reason: &str,
    ) -> Result<PointsEvent, CoreError> {
        if points <= 0 {
            return Err(CoreError::InvalidQuantity {
                what: format!("points earned by {customer}"),
                qty: points,
            });
        }
        self.account(customer)
            .earned
            .checked_add(points)
            .ok_or(CoreError::Overflow("points"))?;
        Ok(PointsEvent::Earned {
            customer: customer.to_string(),
            points,
            reason: reason.to_string(),
        })
    }

    /// Spends points for an order; the balance must cover them.
    pub fn decide_spend(
        &self,
        customer: &str,
        order: &str,
        points: i64,
    ) -> Result<PointsEvent, CoreError> {
        if points <= 0 {
            return Err(CoreError::InvalidQuantity {
                what: format!("points spent by {customer}"),
                qty: points,
            });
        }
        let balance = self.balance(customer);
        if balance < points {
            return Err(CoreError::InsufficientPoints {
                customer: customer.to_string(),
                balance,
                wanted: points,
            });
        }
        Ok(PointsEvent::Spent {
            customer: customer.to_string(),
            order: order.to_string(),
            points,
        })
    }

    /// Gives points back for an order.
    pub fn decide_return(
        &self,
        customer: &str,
        order: &str,
        points: i64,
    ) -> Result<PointsEvent, CoreError> {
        if points <= 0 {
            return Err(CoreError::InvalidQuantity {
                what: format!("points returned to {customer}"),
                qty: points,
            });
        }
        Ok(PointsEvent::Returned {
            customer: customer.to_string(),
            order: order.to_string(),
            points,
        })
    }

    /// A customer's lots, oldest first.
    pub fn lots(&self, customer: &str) -> &[Lot] {
        self.lots.get(customer).map_or(&[], Vec::as_slice)
    }

    /// The points an order earned, if it earned any.
    pub fn order_points(&self, order: &str) -> Option<&OrderPoints> {
        self.orders.get(order)
    }

    /// Credits points earned by `order` (one lot).
    ///
    /// # Errors
    /// [`CoreError::InvalidQuantity`] for points below 1,
    /// [`CoreError::InvalidOrderRequest`] for an order already credited.
    pub fn decide_credit(
        &self,
        customer: &str,
        order: &str,
        points: i64,
        base_minor: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<PointsEvent, CoreError> {
        if points <= 0 {
            return Err(CoreError::InvalidQuantity {
                what: format!("points credited to {customer}"),
                qty: points,
            });
        }
        if self.orders.contains_key(order) {
            return Err(CoreError::InvalidOrderRequest {
                order: order.to_string(),
                problem: "its points are already credited".into(),
            });
        }
        self.account(customer)
            .earned
            .checked_add(points)
            .ok_or(CoreError::Overflow("points"))?;
        Ok(PointsEvent::Credited {
            customer: customer.to_string(),
            order: order.to_string(),
            points,
            base_minor,
            expires_at,
        })
    }

    /// The claw-back of `order` once `refunded_minor` of its goods are
    /// refunded in all ([`clawback_due`]); `balance` is the customer's
    /// balance at that point of the command. Takes at most the balance and
    /// records the rest as a shortfall. `None`: nothing due (no points
    /// earned, or already taken).
    pub fn decide_clawback(
        &self,
        order: &str,
        refunded_minor: i64,
        balance: i64,
    ) -> Option<PointsEvent> {
        let r = self.orders.get(order)?;
        clawback_event(order, r, refunded_minor, balance)
    }

    /// Expires what is left of every lot whose expiry is at or before `now`.
    pub fn decide_expire(&self, now: DateTime<Utc>) -> Vec<PointsEvent> {
        let mut out = Vec::new();
        for (customer, lots) in &self.lots {
            for l in lots {
                if l.left > 0 && l.expires_at.is_some_and(|t| t <= now) {
                    out.push(PointsEvent::Expired {
                        customer: customer.clone(),
                        lot: l.id,
                        points: l.left,
                    });
                }
            }
        }
        out
    }

    /// The earliest expiry of a lot with points left.
    pub fn next_expiry(&self) -> Option<DateTime<Utc>> {
        self.lots
            .values()
            .flatten()
            .filter(|l| l.left > 0)
            .filter_map(|l| l.expires_at)
            .min()
    }

    fn push_lot(
        &mut self,
        customer: &str,
        points: i64,
        expires_at: Option<DateTime<Utc>>,
        order: Option<&str>,
    ) -> u64 {
        let lots = self.lots.entry(customer.to_string()).or_default();
        let id = lots.len() as u64;
        lots.push(Lot {
            id,
            points,
            left: points,
            expires_at,
            order: order.map(str::to_string),
        });
        id
    }

    /// Takes `points` from the customer's lots, `first` (if any) before the
    /// oldest; returns what each lot gave.
    fn take(&mut self, customer: &str, mut points: i64, first: Option<u64>) -> Vec<(u64, i64)> {
        let mut taken = Vec::new();
        let Some(lots) = self.lots.get_mut(customer) else {
            return taken;
        };
        let order: Vec<usize> = first
            .and_then(|f| usize::try_from(f).ok())
            .filter(|f| *f < lots.len())
            .into_iter()
            .chain((0..lots.len()).filter(|i| Some(*i as u64) != first))
            .collect();
        for i in order {
            if points <= 0 {
                break;
            }
            let l = &mut lots[i];
            let t = l.left.min(points);
            if t > 0 {
                l.left -= t;
                points -= t;
                taken.push((l.id, t));
            }
        }
        taken
    }

    /// Folds an event in.
    pub fn apply(&mut self, event: &PointsEvent) {
        match event {
            PointsEvent::Earned {
                customer, points, ..
            } => {
                let a = self.accounts.entry(customer.clone()).or_default();
                a.earned = a.earned.saturating_add(*points);
                self.push_lot(customer, *points, None, None);
            }
            PointsEvent::Spent {
                customer,
                order,
                points,
            } => {
                let a = self.accounts.entry(customer.clone()).or_default();
                a.spent = a.spent.saturating_add(*points);
                let taken = self.take(customer, *points, None);
                self.spends.entry(order.clone()).or_default().extend(taken);
            }
            PointsEvent::Returned {
                customer,
                order,
                points,
            } => {
                let a = self.accounts.entry(customer.clone()).or_default();
                a.returned = a.returned.saturating_add(*points);
                // Back into the lots they came from, latest taken first.
                let mut left = *points;
                if let Some(spent) = self.spends.get_mut(order) {
                    while left > 0 {
                        let Some((lot, n)) = spent.last_mut() else {
                            break;
                        };
                        let back = (*n).min(left);
                        if let Some(l) = self
                            .lots
                            .get_mut(customer)
                            .and_then(|ls| usize::try_from(*lot).ok().and_then(|i| ls.get_mut(i)))
                        {
                            l.left = l.left.saturating_add(back);
                        }
                        *n -= back;
                        left -= back;
                        if *n == 0 {
                            spent.pop();
                        }
                    }
                }
                if left > 0 {
                    self.push_lot(customer, left, None, Some(order));
                }
            }
            PointsEvent::Credited {
                customer,
                order,
                points,
                base_minor,
                expires_at,
            } => {
                let a = self.accounts.entry(customer.clone()).or_default();
                a.earned = a.earned.saturating_add(*points);
                let lot = self.push_lot(customer, *points, *expires_at, Some(order));
                self.orders.insert(
                    order.clone(),
                    OrderPoints {
                        customer: customer.clone(),
                        credited: *points,
                        base_minor: *base_minor,
                        clawed: 0,
                        shortfall: 0,
                        lot,
                    },
                );
            }
            PointsEvent::ClawedBack {
                customer,
                order,
                points,
                shortfall,
            } => {
                let a = self.accounts.entry(customer.clone()).or_default();
                a.clawed = a.clawed.saturating_add(*points);
                a.shortfall = a.shortfall.saturating_add(*shortfall);
                let first = self.orders.get_mut(order).map(|r| {
                    r.clawed = r.clawed.saturating_add(*points);
                    r.shortfall = r.shortfall.saturating_add(*shortfall);
                    r.lot
                });
                self.take(customer, *points, first);
            }
            PointsEvent::Expired {
                customer,
                lot,
                points,
            } => {
                let a = self.accounts.entry(customer.clone()).or_default();
                a.expired = a.expired.saturating_add(*points);
                if let Some(l) = self
                    .lots
                    .get_mut(customer)
                    .and_then(|ls| usize::try_from(*lot).ok().and_then(|i| ls.get_mut(i)))
                {
                    l.left = l.left.saturating_sub(*points).max(0);
                }
            }
        }
    }
}

/// The claw-back event of an order's record `r` (see
/// [`PointsLedger::decide_clawback`]).
pub fn clawback_event(
    order: &str,
    r: &OrderPoints,
    refunded_minor: i64,
    balance: i64,
) -> Option<PointsEvent> {
    let due = clawback_due(
        r.credited,
        r.base_minor,
        refunded_minor,
        r.clawed.saturating_add(r.shortfall),
    );
    if due == 0 {
        return None;
    }
    let taken = due.min(balance.max(0));
    Some(PointsEvent::ClawedBack {
        customer: r.customer.clone(),
        order: order.to_string(),
        points: taken,
        shortfall: due - taken,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_never_negative() {
        let mut l = PointsLedger::default();
        l.apply(&l.decide_earn("u", 100, "opening").unwrap());
        assert!(l.decide_spend("u", "o1", 101).is_err());
        l.apply(&l.decide_spend("u", "o1", 60).unwrap());
        assert_eq!(l.balance("u"), 40);
        assert!(l.decide_spend("u", "o2", 41).is_err());
        l.apply(&l.decide_return("u", "o1", 60).unwrap());
        assert_eq!(l.balance("u"), 100);
        assert!(l.decide_earn("u", 0, "x").is_err());
        assert!(l.decide_spend("u", "o", -1).is_err());
        let a = l.account("u");
        assert_eq!(a.balance(), a.earned - a.spent + a.returned);
    }
}
