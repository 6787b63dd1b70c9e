//! The engine's coupon-template and points calls (see `crate::loyalty`
//! and `docs/coupons-and-points.md`).

use chrono::{DateTime, Utc};
use mercato_core::points::Lot;
use mercato_store::Store;

use super::{Engine, unexpected};
use crate::clock::Clock;
use crate::error::EngineError;
use crate::loyalty::CouponTemplate;
use crate::request::{IssuedCode, Request, Response};

/// Issuing template coupons to customers ([`Engine::issue_coupons`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueOptions {
    /// The codes, one per customer in order; empty (the default): derived
    /// as `<template>-<customer>-<n>`.
    pub codes: Vec<String>,
    /// Idempotency key.
    pub key: Option<String>,
}

/// Claiming a template coupon ([`Engine::claim_coupon`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimOptions {
    /// Idempotency key (a retried claim gets the same coupon).
    pub key: Option<String>,
}

/// A customer's points in full ([`Engine::points`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PointsReport {
    /// Spendable balance.
    pub balance: i64,
    /// Points ever earned (opening balances, credits, order earnings).
    pub earned: i64,
    /// Points spent on orders.
    pub spent: i64,
    /// Points given back by orders.
    pub returned: i64,
    /// Points expired.
    pub expired: i64,
    /// Points taken back from refunded orders.
    pub clawed: i64,
    /// Points a claw-back could not take (already spent).
    pub shortfall: i64,
    /// Every lot, oldest first.
    pub lots: Vec<Lot>,
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    /// Adds a coupon template (configuration: validated, refused when its
    /// id exists).
    ///
    /// ```
    /// # use mercato::{Engine, ManualClock, Settings, CouponTemplate};
    /// # use mercato::core::Currency;
    /// # use mercato::store::MemoryStore;
    /// let engine = Engine::open(MemoryStore::new(), ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())).unwrap();
    /// engine.configure(Currency::CNY, Settings::default()).unwrap();
    /// engine.register_customer("alice", None, 0).unwrap();
    /// let t: CouponTemplate = serde_json::from_str(r#"{"id": "NEW10",
    ///     "coupon": {"kind": "amount_off", "amount": "10.00", "threshold": "99.00"},
    ///     "total_cap": 100, "per_customer_cap": 1, "validity": {"relative": {"days": 7}}}"#).unwrap();
    /// engine.add_coupon_template(t).unwrap();
    /// let c = engine.claim_coupon("NEW10", "alice", Default::default()).unwrap();
    /// assert_eq!(c.code, "NEW10-alice-1");
    /// assert_eq!(c.valid_until.unwrap().to_rfc3339(), "2026-11-18T10:00:00+00:00");
    /// // One per customer:
    /// assert_eq!(engine.claim_coupon("NEW10", "alice", Default::default()).unwrap_err().code(), "coupon_rejected");
    /// ```
    pub fn add_coupon_template(&self, template: CouponTemplate) -> Result<(), EngineError> {
        self.execute(&Request::AddCouponTemplate { template }, None)
            .map(|_| ())
    }

    /// Issues one coupon of `template` to each of `customers` (a customer
    /// named twice gets two), within the template's caps; all or nothing.
    /// Returns the coupons in order.
    pub fn issue_coupons(
        &self,
        template: &str,
        customers: Vec<String>,
        options: IssueOptions,
    ) -> Result<Vec<IssuedCode>, EngineError> {
        match self.execute(
            &Request::IssueCoupons {
                template: template.to_string(),
                customers,
                codes: options.codes,
            },
            options.key.as_deref(),
        )? {
            Response::Coupons { coupons } => Ok(coupons),
            other => Err(unexpected(other)),
        }
    }

    /// `customer` claims one coupon of `template` (领券): refused with
    /// `coupon_rejected` once the template's total or per-customer cap is
    /// reached — exactly, however many threads and processes claim.
    pub fn claim_coupon(
        &self,
        template: &str,
        customer: &str,
        options: ClaimOptions,
    ) -> Result<IssuedCode, EngineError> {
        match self.execute(
            &Request::ClaimCoupon {
                template: template.to_string(),
                customer: customer.to_string(),
            },
            options.key.as_deref(),
        )? {
            Response::Coupons { mut coupons } if coupons.len() == 1 => coupons
                .pop()
                .ok_or_else(|| EngineError::Internal("no coupon".into())),
            other => Err(unexpected(other)),
        }
    }

    /// Revokes an unused template coupon: it can no longer be used, and
    /// its place under the template's caps is free again.
    pub fn revoke_coupon(&self, code: &str, key: Option<&str>) -> Result<(), EngineError> {
        self.execute(
            &Request::RevokeCoupon {
                code: code.to_string(),
            },
            key,
        )
        .map(|_| ())
    }

    /// Moves a template coupon's end of validity to `valid_until` (later
    /// than its current end).
    pub fn extend_coupon(
        &self,
        code: &str,
        valid_until: DateTime<Utc>,
        key: Option<&str>,
    ) -> Result<(), EngineError> {
        self.execute(
            &Request::ExtendCoupon {
                code: code.to_string(),
                valid_until,
            },
            key,
        )
        .map(|_| ())
    }

    /// A customer's points: counters and lots.
    pub fn points(&self, customer: &str) -> Result<PointsReport, EngineError> {
        let (st, _) = self.fresh_state()?;
        if st.shop().customer(customer).is_none() {
            return Err(mercato_core::CoreError::UnknownCustomer(customer.to_string()).into());
        }
        let p = st.shop().points();
        let a = p.account(customer);
        Ok(PointsReport {
            balance: a.balance(),
            earned: a.earned,
            spent: a.spent,
            returned: a.returned,
            expired: a.expired,
            clawed: a.clawed,
            shortfall: a.shortfall,
            lots: p.lots(customer).to_vec(),
        })
    }
}
