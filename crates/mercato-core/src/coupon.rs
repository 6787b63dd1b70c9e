//! The coupon ledger: which coupons were issued to whom, and every use of
//! each — locked by a placed order, redeemed on payment, returned on
//! cancel/close. Global and per-customer usage counts are derived from the
//! uses; a coupon is expired once its window has ended (derived from `now`,
//! not stored).
//!
//! What a coupon is worth is the rules crate's business; this ledger only
//! guards who may use it and how often.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
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
    /// The template it was issued from; `None`: a coupon defined in the
    /// configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Start of validity (inclusive), for a template's coupon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    /// Revoked before any use: it can no longer be used.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
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
    /// Revoked by the shop before any use.
    Revoked,
}

impl CouponStatus {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            CouponStatus::Available => "available",
            CouponStatus::Locked => "locked",
            CouponStatus::Redeemed => "redeemed",
            CouponStatus::Expired => "expired",
            CouponStatus::Revoked => "revoked",
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
        if self.revoked {
            return Err(CoreError::CouponState {
                code: self.code.clone(),
                state: "revoked",
                command: "lock",
            });
        }
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
        if self.revoked {
            return CouponStatus::Revoked;
        }
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
    /// A coupon of a template went to a customer (claimed by them, or
    /// issued by the shop): one use, owned by `owner`.
    #[serde(rename = "claimed.v1")]
    Claimed {
        /// Code.
        code: String,
        /// The template.
        template: String,
        /// The customer who holds it.
        owner: String,
        /// Start of validity (inclusive).
        valid_from: Option<DateTime<Utc>>,
        /// End of validity (exclusive).
        valid_until: Option<DateTime<Utc>>,
        /// Claimed by the customer or issued by the shop.
        via: ClaimVia,
    },
    /// An unused coupon of a template was revoked.
    #[serde(rename = "revoked.v1")]
    Revoked {
        /// Code.
        code: String,
    },
    /// A template coupon's validity was extended.
    #[serde(rename = "extended.v1")]
    Extended {
        /// Code.
        code: String,
        /// New end of validity (exclusive).
        valid_until: DateTime<Utc>,
    },
}

/// How a template's coupon reached its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimVia {
    /// The customer claimed it (领券).
    Claim,
    /// The shop issued it to the customer.
    Issue,
}

/// How long a template's coupons are valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Validity {
    /// The same window for every coupon: from `from` (inclusive; `None`:
    /// from the claim) to `to` (exclusive).
    Absolute {
        /// Start (inclusive); `None`: no start.
        #[serde(default)]
        from: Option<DateTime<Utc>>,
        /// End (exclusive).
        to: DateTime<Utc>,
    },
    /// `days` days from the claim (the claim instant inclusive, the same
    /// instant `days` later exclusive).
    Relative {
        /// Days, 1 ..= [`MAX_VALIDITY_DAYS`].
        days: i64,
    },
}

/// A coupon's validity: start (inclusive) and end (exclusive); `None`: open.
pub type ValidWindow = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Longest relative validity, in days (ten years).
pub const MAX_VALIDITY_DAYS: i64 = 3650;

/// The part of a coupon template the coupon ledger enforces: caps and
/// validity (what a coupon is worth is the rules crate's business).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateLimits {
    /// Template id.
    pub id: String,
    /// Coupons that may be out at once over all customers (revoked ones do
    /// not count); `None`: no cap.
    pub total_cap: Option<i64>,
    /// Coupons one customer may hold (every claim counts, used or expired;
    /// revoked ones do not); `None`: no cap.
    pub per_customer_cap: Option<i64>,
    /// Validity of each coupon.
    pub validity: Validity,
}

impl TemplateLimits {
    /// Checks the caps (at least 1) and the validity.
    ///
    /// # Errors
    /// [`CoreError::InvalidQuantity`] for a cap below 1,
    /// [`CoreError::InvalidValidity`] for a validity that cannot be used.
    pub fn validate(&self) -> Result<(), CoreError> {
        for (what, cap) in [
            ("total cap", self.total_cap),
            ("per-customer cap", self.per_customer_cap),
        ] {
            if let Some(c) = cap
                && c < 1
            {
                return Err(CoreError::InvalidQuantity {
                    what: format!("{what} of template {}", self.id),
                    qty: c,
                });
            }
        }
        let bad = |problem: &str| CoreError::InvalidValidity {
            code: self.id.clone(),
            problem: problem.to_string(),
        };
        match self.validity {
            Validity::Absolute { from, to } => {
                if from.is_some_and(|f| f >= to) {
                    return Err(bad("`to` must be after `from`"));
                }
            }
            Validity::Relative { days } => {
                if !(1..=MAX_VALIDITY_DAYS).contains(&days) {
                    return Err(bad(&format!("days {days} outside 1..={MAX_VALIDITY_DAYS}")));
                }
            }
        }
        Ok(())
    }

    /// The window of a coupon claimed at `now`: `(from, until)`.
    ///
    /// # Errors
    /// [`CoreError::InvalidValidity`] when the end cannot be represented or
    /// an absolute window has already ended.
    pub fn window_at(&self, now: DateTime<Utc>) -> Result<ValidWindow, CoreError> {
        let bad = |problem: &str| CoreError::InvalidValidity {
            code: self.id.clone(),
            problem: problem.to_string(),
        };
        match self.validity {
            Validity::Absolute { from, to } => {
                if to <= now {
                    return Err(bad("the template's window has ended"));
                }
                Ok((from, Some(to)))
            }
            Validity::Relative { days } => {
                let end = TimeDelta::try_days(days)
                    .and_then(|d| now.checked_add_signed(d))
                    .ok_or_else(|| bad("the end cannot be represented"))?;
                Ok((Some(now), Some(end)))
            }
        }
    }
}

/// One coupon wanted from a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponClaim {
    /// The customer who gets it.
    pub customer: String,
    /// Its code; `None`: derived (`<template>-<customer>-<n>`, `n` the
    /// customer's n-th coupon of the template, skipping codes taken).
    pub code: Option<String>,
}

/// How many coupons of one template are out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateCount {
    /// Coupons out, not revoked.
    pub issued: i64,
    /// Per customer: coupons held, not revoked.
    pub by_customer: BTreeMap<String, i64>,
    /// Per customer: coupons ever received (derived codes count on).
    pub ordinals: BTreeMap<String, i64>,
}

impl CouponEvent {
    /// The coupon code.
    pub fn code(&self) -> &str {
        match self {
            CouponEvent::Issued { code, .. }
            | CouponEvent::Locked { code, .. }
            | CouponEvent::Redeemed { code, .. }
            | CouponEvent::Returned { code, .. }
            | CouponEvent::Claimed { code, .. }
            | CouponEvent::Revoked { code }
            | CouponEvent::Extended { code, .. } => code,
        }
    }
}

/// All issued coupons.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponLedger {
    coupons: BTreeMap<String, IssuedCoupon>,
    /// Counts per template.
    #[serde(default)]
    templates: BTreeMap<String, TemplateCount>,
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
                        template: None,
                        valid_from: None,
                        revoked: false,
                    },
                );
            }
            CouponEvent::Claimed {
                code,
                template,
                owner,
                valid_from,
                valid_until,
                ..
            } => {
                if self.coupons.contains_key(code) {
                    return;
                }
                self.coupons.insert(
                    code.clone(),
                    IssuedCoupon {
                        code: code.clone(),
                        owner: Some(owner.clone()),
                        usage_limit: Some(1),
                        per_customer_limit: 1,
                        valid_until: *valid_until,
                        uses: Vec::new(),
                        template: Some(template.clone()),
                        valid_from: *valid_from,
                        revoked: false,
                    },
                );
                let t = self.templates.entry(template.clone()).or_default();
                t.issued = t.issued.saturating_add(1);
                let n = t.by_customer.entry(owner.clone()).or_insert(0);
                *n = n.saturating_add(1);
                let n = t.ordinals.entry(owner.clone()).or_insert(0);
                *n = n.saturating_add(1);
            }
            CouponEvent::Revoked { code } => {
                let Some(c) = self.coupons.get_mut(code) else {
                    return;
                };
                if c.revoked {
                    return;
                }
                c.revoked = true;
                if let (Some(t), Some(owner)) = (&c.template, &c.owner)
                    && let Some(t) = self.templates.get_mut(t)
                {
                    t.issued = t.issued.saturating_sub(1);
                    if let Some(n) = t.by_customer.get_mut(owner) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            CouponEvent::Extended { code, valid_until } => {
                if let Some(c) = self.coupons.get_mut(code) {
                    c.valid_until = Some(*valid_until);
                }
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

    /// Coupons of `template` out (not revoked), and those `customer` holds.
    pub fn template_count(&self, template: &str) -> Option<&TemplateCount> {
        self.templates.get(template)
    }

    /// Decides coupons of a template for `claims`, in order, at `now`: each
    /// within the template's total and per-customer caps as this ledger
    /// counts them (across processes the store's guard counters hold the
    /// same caps exactly), with a code not yet taken. All or nothing.
    ///
    /// # Errors
    /// [`CoreError::ClaimLimitReached`], [`CoreError::DuplicateCoupon`],
    /// [`CoreError::InvalidValidity`].
    pub fn decide_claims(
        &self,
        template: &TemplateLimits,
        claims: &[CouponClaim],
        via: ClaimVia,
        now: DateTime<Utc>,
    ) -> Result<Vec<CouponEvent>, CoreError> {
        let (valid_from, valid_until) = template.window_at(now)?;
        let empty = TemplateCount::default();
        let count = self.templates.get(&template.id).unwrap_or(&empty);
        let mut issued = count.issued;
        let mut held: BTreeMap<&str, i64> = BTreeMap::new();
        let mut ordinals: BTreeMap<&str, i64> = BTreeMap::new();
        let mut taken: Vec<String> = Vec::new();
        let mut out = Vec::with_capacity(claims.len());
        for c in claims {
            let customer = c.customer.as_str();
            issued = issued.checked_add(1).ok_or(CoreError::Overflow("claims"))?;
            if let Some(cap) = template.total_cap
                && issued > cap
            {
                return Err(CoreError::ClaimLimitReached {
                    template: template.id.clone(),
                    which: "total",
                    cap,
                });
            }
            let h = held
                .entry(customer)
                .or_insert_with(|| count.by_customer.get(customer).copied().unwrap_or(0));
            *h = h.checked_add(1).ok_or(CoreError::Overflow("claims"))?;
            if let Some(cap) = template.per_customer_cap
                && *h > cap
            {
                return Err(CoreError::ClaimLimitReached {
                    template: template.id.clone(),
                    which: "per-customer",
                    cap,
                });
            }
            let n = ordinals
                .entry(customer)
                .or_insert_with(|| count.ordinals.get(customer).copied().unwrap_or(0));
            let code = match &c.code {
                Some(code) => {
                    if self.coupons.contains_key(code) || taken.contains(code) {
                        return Err(CoreError::DuplicateCoupon(code.clone()));
                    }
                    *n = n.saturating_add(1);
                    code.clone()
                }
                None => loop {
                    *n = n.checked_add(1).ok_or(CoreError::Overflow("claims"))?;
                    let code = format!("{}-{customer}-{n}", template.id);
                    if !self.coupons.contains_key(&code) && !taken.contains(&code) {
                        break code;
                    }
                },
            };
            taken.push(code.clone());
            out.push(CouponEvent::Claimed {
                code,
                template: template.id.clone(),
                owner: customer.to_string(),
                valid_from,
                valid_until,
                via,
            });
        }
        Ok(out)
    }

    fn template_coupon(
        &self,
        code: &str,
        command: &'static str,
    ) -> Result<&IssuedCoupon, CoreError> {
        let c = self.coupon(code)?;
        if c.template.is_none() {
            return Err(CoreError::CouponState {
                code: code.to_string(),
                state: "defined in the configuration",
                command,
            });
        }
        if c.revoked {
            return Err(CoreError::CouponState {
                code: code.to_string(),
                state: "revoked",
                command,
            });
        }
        Ok(c)
    }

    /// Revokes an unused coupon of a template (no live use: never locked,
    /// or every lock given back).
    ///
    /// # Errors
    /// [`CoreError::UnknownCoupon`], [`CoreError::CouponState`] (a
    /// configuration coupon, already revoked, or in use).
    pub fn decide_revoke(&self, code: &str) -> Result<CouponEvent, CoreError> {
        let c = self.template_coupon(code, "revoke")?;
        if c.live_uses() > 0 {
            return Err(CoreError::CouponState {
                code: code.to_string(),
                state: "in use",
                command: "revoke",
            });
        }
        Ok(CouponEvent::Revoked {
            code: code.to_string(),
        })
    }

    /// Moves a template coupon's end of validity later.
    ///
    /// # Errors
    /// [`CoreError::UnknownCoupon`], [`CoreError::CouponState`],
    /// [`CoreError::InvalidValidity`] (not later than the current end).
    pub fn decide_extend(
        &self,
        code: &str,
        valid_until: DateTime<Utc>,
    ) -> Result<CouponEvent, CoreError> {
        let c = self.template_coupon(code, "extend")?;
        let bad = |problem: String| CoreError::InvalidValidity {
            code: code.to_string(),
            problem,
        };
        match c.valid_until {
            None => return Err(bad("it never expires".into())),
            Some(end) if valid_until <= end => {
                return Err(bad(format!("{valid_until} is not after its end {end}")));
            }
            Some(_) => {}
        }
        Ok(CouponEvent::Extended {
            code: code.to_string(),
            valid_until,
        })
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
    fn limits(total: Option<i64>, per: Option<i64>) -> TemplateLimits {
        TemplateLimits {
            id: "T".into(),
            total_cap: total,
            per_customer_cap: per,
            validity: Validity::Relative { days: 7 },
        }
    }

    fn claim(who: &str, code: Option<&str>) -> CouponClaim {
        CouponClaim {
            customer: who.into(),
            code: code.map(str::to_string),
        }
    }

    #[test]
    fn claims_respect_both_caps_and_derive_free_codes() {
        let mut l = CouponLedger::default();
        // A code a caller took already is skipped by derivation.
        let e = l
            .decide_claims(
                &limits(Some(3), Some(2)),
                &[claim("b", Some("T-a-1"))],
                ClaimVia::Issue,
                now(),
            )
            .unwrap();
        l.apply(&e[0]);
        let t = limits(Some(3), Some(2));
        let e = l
            .decide_claims(
                &t,
                &[claim("a", None), claim("a", None)],
                ClaimVia::Claim,
                now(),
            )
            .unwrap();
        let codes: Vec<&str> = e.iter().map(CouponEvent::code).collect();
        assert_eq!(codes, ["T-a-2", "T-a-3"]);
        // All or nothing: a third for a is over its cap of 2 (the total
        // cap left out: it would bind first, at 4 > 3).
        assert!(matches!(
            l.decide_claims(
                &limits(None, Some(2)),
                &[claim("a", None), claim("a", None), claim("a", None)],
                ClaimVia::Claim,
                now()
            ),
            Err(CoreError::ClaimLimitReached {
                which: "per-customer",
                ..
            })
        ));
        for e in &e {
            l.apply(e);
        }
        assert_eq!(l.template_count("T").unwrap().issued, 3);
        assert!(matches!(
            l.decide_claims(&t, &[claim("c", None)], ClaimVia::Claim, now()),
            Err(CoreError::ClaimLimitReached {
                which: "total",
                cap: 3,
                ..
            })
        ));
        let c = l.get("T-a-2").unwrap();
        assert_eq!(c.valid_from, Some(now()));
        assert_eq!(c.valid_until, Some(now() + TimeDelta::days(7)));
        // Revoking frees a place; a revoked coupon is not usable.
        l.apply(&l.decide_revoke("T-a-2").unwrap());
        assert_eq!(
            l.get("T-a-2").unwrap().status(Some("a"), now()),
            CouponStatus::Revoked
        );
        assert!(l.decide_lock("T-a-2", "o1", Some("a")).is_err());
        assert!(l.decide_revoke("T-a-2").is_err());
        let e = l
            .decide_claims(&t, &[claim("c", None)], ClaimVia::Claim, now())
            .unwrap();
        assert_eq!(e[0].code(), "T-c-1");
        // In use: not revoked; extension only later.
        l.apply(&l.decide_lock("T-a-3", "o1", Some("a")).unwrap());
        assert!(matches!(
            l.decide_revoke("T-a-3"),
            Err(CoreError::CouponState {
                state: "in use",
                ..
            })
        ));
        assert!(l.decide_extend("T-a-3", now()).is_err());
        let later = now() + TimeDelta::days(30);
        l.apply(&l.decide_extend("T-a-3", later).unwrap());
        assert_eq!(l.get("T-a-3").unwrap().valid_until, Some(later));
    }

    #[test]
    fn template_limits_are_validated() {
        assert!(limits(Some(0), None).validate().is_err());
        assert!(limits(None, Some(-1)).validate().is_err());
        let mut t = limits(None, None);
        t.validity = Validity::Relative { days: 0 };
        assert!(t.validate().is_err());
        t.validity = Validity::Absolute {
            from: Some(now()),
            to: now(),
        };
        assert!(t.validate().is_err());
        t.validity = Validity::Absolute {
            from: None,
            to: now(),
        };
        assert!(t.validate().is_ok());
        assert!(
            t.window_at(now()).is_err(),
            "an ended window gives no coupon"
        );
    }
}
