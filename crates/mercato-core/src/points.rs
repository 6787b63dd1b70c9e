//! The points ledger: per customer, points earned, spent by placed orders and
//! returned by cancelled, closed or returned ones. The spendable balance is
//! `earned − spent + returned` and never goes below zero.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// One customer's points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsAccount {
    /// Points ever earned (opening balances included).
    pub earned: i64,
    /// Points ever spent on orders.
    pub spent: i64,
    /// Points given back to the customer.
    pub returned: i64,
}

impl PointsAccount {
    /// Spendable balance (exact for a ledger built by its `decide`, which
    /// keeps every counter and the balance within `i64`; saturating
    /// otherwise, never wrapping).
    pub fn balance(&self) -> i64 {
        let b = i128::from(self.earned) - i128::from(self.spent) + i128::from(self.returned);
        i64::try_from(b).unwrap_or(if b < 0 { i64::MIN } else { i64::MAX })
    }
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
}

impl PointsEvent {
    /// The customer.
    pub fn customer(&self) -> &str {
        match self {
            PointsEvent::Earned { customer, .. }
            | PointsEvent::Spent { customer, .. }
            | PointsEvent::Returned { customer, .. } => customer,
        }
    }
}

/// All customers' points.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsLedger {
    accounts: BTreeMap<String, PointsAccount>,
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

    /// Folds an event in.
    pub fn apply(&mut self, event: &PointsEvent) {
        match event {
            PointsEvent::Earned {
                customer, points, ..
            } => {
                let a = self.accounts.entry(customer.clone()).or_default();
                a.earned = a.earned.saturating_add(*points);
            }
            PointsEvent::Spent {
                customer, points, ..
            } => {
                let a = self.accounts.entry(customer.clone()).or_default();
                a.spent = a.spent.saturating_add(*points);
            }
            PointsEvent::Returned {
                customer, points, ..
            } => {
                let a = self.accounts.entry(customer.clone()).or_default();
                a.returned = a.returned.saturating_add(*points);
            }
        }
    }
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
