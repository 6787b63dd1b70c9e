//! The coupon ledger: which coupons were issued to whom, and every use of
//! each — locked by a placed order, redeemed on payment, returned on
//! cancel/close. Global and per-customer usage counts are derived from the
//! uses; a coupon is expired once its window has ended (derived from `now`,
//! not stored).
//!
//! What a coupon is worth is the rules crate's business; this ledger only
//! guards who may use it and how often.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// Where one use of a coupon is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UseState {
    /// Held by a placed, unpaid order.
    Locked,
    /// Spent by a paid order.
    Redeemed,
    /// Given back by a cancelled or closed order.
    Returned,
}

/// One use of a coupon by one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponUse {
    /// The order.
    pub order: String,
    /// The customer.
    pub customer: Option<String>,
    /// Where it is.
    pub state: UseState,
}

/// An issued coupon and its uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCoupon {
    /// Code.
    pub code: String,
    /// Owner; `None`: public.
    pub owner: Option<String>,
    /// Live uses allowed in all; `None`: unlimited.
    pub usage_limit: Option<i64>,
    /// Live uses allowed per customer.
    pub per_customer_limit: i64,
    /// End of validity (exclusive); `None`: never.
    pub valid_until: Option<DateTime<Utc>>,
    /// Every use, in order.
    pub uses: Vec<CouponUse>,
}

/// How a coupon looks to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponStatus {
    /// Can be used.
    Available,
    /// Held by an unpaid order.
    Locked,
    /// Used up.
    Redeemed,
    /// Past its window.
    Expired,
}

impl CouponStatus {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            CouponStatus::Available => "available",
            CouponStatus::Locked => "locked",
            CouponStatus::Redeemed => "redeemed",
            CouponStatus::Expired => "expired",
        }
    }
}

impl IssuedCoupon {
    /// Live uses (locked or redeemed).
    pub fn live_uses(&self) -> i64 {
        self.uses
            .iter()
            .filter(|u| u.state != UseState::Returned)
            .count() as i64
    }

    /// Live uses by `customer`.
    pub fn live_uses_by(&self, customer: Option<&str>) -> i64 {
        self.uses
            .iter()
            .filter(|u| u.state != UseState::Returned && u.customer.as_deref() == customer)
            .count() as i64
    }

    /// Whether `customer` may lock it now (owner and limits; the window and
    /// the discount are the pricing's business).
    pub fn usable_by(&self, customer: Option<&str>) -> Result<(), CoreError> {
        if let Some(owner) = &self.owner
            && customer != Some(owner.as_str())
        {
            return Err(CoreError::CouponNotOwner {
                code: self.code.clone(),
            });
        }
        let over_global = self.usage_limit.is_some_and(|l| self.live_uses() >= l);
        // An anonymous buyer cannot be told apart from other anonymous
        // buyers, so the per-customer limit binds only known customers (the
        // pricing crate reads the contract the same way).
        let over_own = customer.is_some() && self.live_uses_by(customer) >= self.per_customer_limit;
        if over_global || over_own {
            return Err(CoreError::CouponLimitReached {
                code: self.code.clone(),
            });
        }
        Ok(())
    }

    /// Status as its owner sees it at `now`.
    pub fn status(&self, customer: Option<&str>, now: DateTime<Utc>) -> CouponStatus {
        let mine = |u: &&CouponUse| u.customer.as_deref() == customer;
        if self
            .uses
            .iter()
            .filter(mine)
            .any(|u| u.state == UseState::Locked)
        {
            return CouponStatus::Locked;
        }
        let redeemed = self
            .uses
            .iter()
            .filter(mine)
            .filter(|u| u.state == UseState::Redeemed)
            .count() as i64;
        let used_up = redeemed >= self.per_customer_limit
            || self
                .usage_limit
                .is_some_and(|l| self.live_uses() >= l && redeemed > 0);
        if used_up {
            CouponStatus::Redeemed
        } else if self.valid_until.is_some_and(|t| t <= now) {
            CouponStatus::Expired
        } else {
            CouponStatus::Available
        }
    }
}

/// What happened to a coupon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
#[non_exhaustive]
pub enum CouponEvent {
    /// A coupon was issued.
    #[serde(rename = "issued.v1")]
    Issued {
        /// Code.
        code: String,
        /// Owner.
        owner: Option<String>,
        /// Global limit.
        usage_limit: Option<i64>,
        /// Per-customer limit.
        per_customer_limit: i64,
        /// End of validity.
        valid_until: Option<DateTime<Utc>>,
    },
    /// Locked by a placed order.
    #[serde(rename = "locked.v1")]
    Locked {
        /// Code.
        code: String,
        /// Order.
        order: String,
        /// Customer.
        customer: Option<String>,
    },
    /// Redeemed by payment.
    #[serde(rename = "redeemed.v1")]
    Redeemed {
        /// Code.
        code: String,
        /// Order.
        order: String,
    },
    /// Given back by a cancelled or closed order.
    #[serde(rename = "returned.v1")]
    Returned {
        /// Code.
        code: String,
        /// Order.
        order: String,
    },
}

impl CouponEvent {
    /// The coupon code.
    pub fn code(&self) -> &str {
        match self {
            CouponEvent::Issued { code, .. }
            | CouponEvent::Locked { code, .. }
            | CouponEvent::Redeemed { code, .. }
            | CouponEvent::Returned { code, .. } => code,
        }
    }
}

/// All issued coupons.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponLedger {
    coupons: BTreeMap<String, IssuedCoupon>,
}

impl CouponLedger {
    /// A coupon by code.
    pub fn get(&self, code: &str) -> Option<&IssuedCoupon> {
        self.coupons.get(code)
    }

    /// All coupons in code order.
    pub fn iter(&self) -> impl Iterator<Item = &IssuedCoupon> {
        self.coupons.values()
    }

    /// Issues a coupon.
    pub fn decide_issue(
        &self,
        code: &str,
        owner: Option<String>,
        usage_limit: Option<i64>,
        per_customer_limit: i64,
        valid_until: Option<DateTime<Utc>>,
    ) -> Result<CouponEvent, CoreError> {
        if self.coupons.contains_key(code) {
            return Err(CoreError::DuplicateCoupon(code.to_string()));
        }
        if per_customer_limit < 0 || usage_limit.is_some_and(|l| l < 0) {
            return Err(CoreError::InvalidQuantity {
                what: format!("usage limit of coupon {code}"),
                qty: per_customer_limit.min(usage_limit.unwrap_or(0)),
            });
        }
        Ok(CouponEvent::Issued {
            code: code.to_string(),
            owner,
            usage_limit,
            per_customer_limit,
            valid_until,
        })
    }

    fn coupon(&self, code: &str) -> Result<&IssuedCoupon, CoreError> {
        self.coupons
            .get(code)
            .ok_or_else(|| CoreError::UnknownCoupon(code.to_string()))
    }

    /// Locks `code` for `order`.
    pub fn decide_lock(
        &self,
        code: &str,
        order: &str,
        customer: Option<&str>,
    ) -> Result<CouponEvent, CoreError> {
        let c = self.coupon(code)?;
        if c.uses
            .iter()
            .any(|u| u.order == order && u.state != UseState::Returned)
        {
            return Err(CoreError::CouponState {
                code: code.to_string(),
                state: "locked",
                command: "lock twice for one order",
            });
        }
        c.usable_by(customer)?;
        Ok(CouponEvent::Locked {
            code: code.to_string(),
            order: order.to_string(),
            customer: customer.map(str::to_string),
        })
    }

    fn use_of(&self, code: &str, order: &str) -> Result<&CouponUse, CoreError> {
        self.coupon(code)?
            .uses
            .iter()
            .rev()
            .find(|u| u.order == order)
            .ok_or_else(|| CoreError::CouponState {
                code: code.to_string(),
                state: "not used by this order",
                command: "redeem or return",
            })
    }

    /// Redeems the lock `order` holds on `code`.
    pub fn decide_redeem(&self, code: &str, order: &str) -> Result<CouponEvent, CoreError> {
        let u = self.use_of(code, order)?;
        if u.state != UseState::Locked {
            return Err(CoreError::CouponState {
                code: code.to_string(),
                state: state_name(u.state),
                command: "redeem",
            });
        }
        Ok(CouponEvent::Redeemed {
            code: code.to_string(),
            order: order.to_string(),
        })
    }

    /// Gives back the use `order` holds on `code` (locked or redeemed).
    pub fn decide_return(&self, code: &str, order: &str) -> Result<CouponEvent, CoreError> {
        let u = self.use_of(code, order)?;
        if u.state == UseState::Returned {
            return Err(CoreError::CouponState {
                code: code.to_string(),
                state: "returned",
                command: "return",
            });
        }
        Ok(CouponEvent::Returned {
            code: code.to_string(),
            order: order.to_string(),
        })
    }

    /// Folds an event in.
    pub fn apply(&mut self, event: &CouponEvent) {
        match event {
            CouponEvent::Issued {
                code,
                owner,
                usage_limit,
                per_customer_limit,
                valid_until,
            } => {
                self.coupons.insert(
                    code.clone(),
                    IssuedCoupon {
                        code: code.clone(),
                        owner: owner.clone(),
                        usage_limit: *usage_limit,
                        per_customer_limit: *per_customer_limit,
                        valid_until: *valid_until,
                        uses: Vec::new(),
                    },
                );
            }
            CouponEvent::Locked {
                code,
                order,
                customer,
            } => {
                if let Some(c) = self.coupons.get_mut(code) {
                    c.uses.push(CouponUse {
                        order: order.clone(),
                        customer: customer.clone(),
                        state: UseState::Locked,
                    });
                }
            }
            CouponEvent::Redeemed { code, order } => {
                self.set_state(code, order, UseState::Redeemed)
            }
            CouponEvent::Returned { code, order } => {
                self.set_state(code, order, UseState::Returned)
            }
        }
    }

    fn set_state(&mut self, code: &str, order: &str, state: UseState) {
        if let Some(u) = self
            .coupons
            .get_mut(code)
            .and_then(|c| c.uses.iter_mut().rev().find(|u| u.order == order))
        {
            u.state = state;
        }
    }
}

fn state_name(s: UseState) -> &'static str {
    match s {
        UseState::Locked => "locked",
        UseState::Redeemed => "redeemed",
        UseState::Returned => "returned",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed instant (2026-01-01T00:00:00Z): the core reads no clock, not
    /// even in its tests. These coupons never expire, so any instant works.
    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap()
    }

    fn ledger() -> CouponLedger {
        let mut l = CouponLedger::default();
        let e = l
            .decide_issue("MINE", Some("u1".into()), None, 1, None)
            .unwrap();
        l.apply(&e);
        let e = l.decide_issue("PUBLIC", None, Some(2), 1, None).unwrap();
        l.apply(&e);
        l
    }

    #[test]
    fn lock_redeem_return_cycle() {
        let mut l = ledger();
        assert!(l.decide_issue("MINE", None, None, 1, None).is_err());
        assert!(matches!(
            l.decide_lock("MINE", "o1", Some("u2")),
            Err(CoreError::CouponNotOwner { .. })
        ));
        assert!(matches!(
            l.decide_lock("NOPE", "o1", Some("u1")),
            Err(CoreError::UnknownCoupon(_))
        ));
        let e = l.decide_lock("MINE", "o1", Some("u1")).unwrap();
        l.apply(&e);
        assert_eq!(
            l.get("MINE").unwrap().status(Some("u1"), now()),
            CouponStatus::Locked
        );
        // Locked by one order at a time: a second order is over the limit.
        assert!(matches!(
            l.decide_lock("MINE", "o2", Some("u1")),
            Err(CoreError::CouponLimitReached { .. })
        ));
        assert!(l.decide_redeem("MINE", "o2").is_err());
        let e = l.decide_return("MINE", "o1").unwrap();
        l.apply(&e);
        assert_eq!(
            l.get("MINE").unwrap().status(Some("u1"), now()),
            CouponStatus::Available
        );
        assert!(
            l.decide_redeem("MINE", "o1").is_err(),
            "a returned use cannot be redeemed"
        );
        let e = l.decide_lock("MINE", "o2", Some("u1")).unwrap();
        l.apply(&e);
        let e = l.decide_redeem("MINE", "o2").unwrap();
        l.apply(&e);
        assert_eq!(
            l.get("MINE").unwrap().status(Some("u1"), now()),
            CouponStatus::Redeemed
        );
        assert!(l.decide_lock("MINE", "o3", Some("u1")).is_err());
    }

    #[test]
    fn global_and_per_customer_limits() {
        let mut l = ledger();
        for (o, c) in [("o1", "a"), ("o2", "b")] {
            let e = l.decide_lock("PUBLIC", o, Some(c)).unwrap();
            l.apply(&e);
        }
        assert!(matches!(
            l.decide_lock("PUBLIC", "o3", Some("c")),
            Err(CoreError::CouponLimitReached { .. })
        ));
        let e = l.decide_return("PUBLIC", "o1").unwrap();
        l.apply(&e);
        assert!(l.decide_lock("PUBLIC", "o3", Some("c")).is_ok());
        assert!(
            l.decide_lock("PUBLIC", "o3", Some("b")).is_err(),
            "b already holds one"
        );
    }

    #[test]
    fn anonymous_buyers_are_held_by_the_global_limit_only() {
        let mut l = ledger();
        let e = l.decide_issue("GUEST", None, Some(2), 1, None).unwrap();
        l.apply(&e);
        for o in ["o1", "o2"] {
            let e = l.decide_lock("GUEST", o, None).unwrap();
            l.apply(&e);
        }
        assert!(matches!(
            l.decide_lock("GUEST", "o3", None),
            Err(CoreError::CouponLimitReached { .. })
        ));
        assert!(
            l.decide_lock("MINE", "o4", None).is_err(),
            "an owned coupon needs its owner"
        );
    }

    #[test]
    fn expiry_is_derived_from_now() {
        let mut l = CouponLedger::default();
        let end: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let e = l
            .decide_issue("X", Some("u".into()), None, 1, Some(end))
            .unwrap();
        l.apply(&e);
        let c = l.get("X").unwrap();
        assert_eq!(
            c.status(Some("u"), "2025-12-31T23:59:59Z".parse().unwrap()),
            CouponStatus::Available
        );
        assert_eq!(c.status(Some("u"), end), CouponStatus::Expired);
    }
}
