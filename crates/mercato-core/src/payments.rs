//! The payments ledger of an order: every captured payment
//! ([`PaymentRecord`]), every refund ([`RefundRecord`]) and how a refund is
//! split over the payments it returns money to ([`allocate_refund`]).
//!
//! An order is paid when Σ captured = payable. Payments may come in parts
//! (before the payment deadline) and through several methods; a payment
//! beyond what is still due is refused ([`crate::CoreError::Overpayment`]).
//! A refund is allocated over the payments that still hold refundable money,
//! either the most recent payment first or in proportion to what each still
//! holds ([`RefundAllocation`] policy), through [`crate::apportion()`], so the
//! shares always add up to the refund and no payment gives back more than
//! it took.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::apportion::apportion;
use crate::error::CoreError;
use crate::money::Money;
use crate::order::LineQty;

/// One captured payment of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    /// Payment id (`<order>-p1`, `-p2`...).
    pub id: String,
    /// Payment method (`card`, `alipay`, `wechat`, `gift_card`...; free text).
    pub method: String,
    /// Money captured.
    pub amount: Money,
    /// The payment provider's reference, if any.
    #[serde(default)]
    pub reference: Option<String>,
    /// The idempotency key the payment was recorded under, if any.
    #[serde(default)]
    pub key: Option<String>,
    /// When it was captured.
    pub at: DateTime<Utc>,
    /// Money refunded from this payment so far.
    pub refunded: Money,
    /// The exchange request this payment pays the price difference of
    /// (`None`: a payment of the order; see [`crate::exchange`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
}

impl PaymentRecord {
    /// What this payment can still give back: `amount − refunded`.
    pub fn refundable(&self) -> Result<Money, CoreError> {
        self.amount.checked_sub(self.refunded)
    }
}

/// How a refund is split over an order's payments (setting
/// `after_sale.refund_allocation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundAllocation {
    /// The most recent payment gives back first, then the one before it.
    #[default]
    MostRecentFirst,
    /// Every payment gives back in proportion to what it still holds
    /// (largest remainder through `apportion`).
    Proportional,
}

/// The share of a refund that goes back through one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentShare {
    /// The payment id.
    pub payment: String,
    /// Money returned through it.
    pub amount: Money,
}

/// Why money went back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundKind {
    /// A return (the one-step `return`, or a staged `return_refund` request).
    #[default]
    Return,
    /// A staged `refund_only` request (the customer keeps the goods).
    RefundOnly,
    /// A goodwill amount, tied to no unit.
    Goodwill,
    /// Units cancelled before shipment.
    PartialCancel,
    /// The whole order was cancelled or rejected.
    Cancel,
    /// An unpaid order was closed at its deadline with part payments.
    Close,
    /// The price difference an exchange owes the customer (the replaced
    /// units were worth more than their replacements; no unit refunded).
    Exchange,
    /// An exchange's payments given back: the exchange was closed before
    /// it took place (not paid in time, or the goods not sent back).
    ExchangePayment,
}

impl RefundKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundKind::Return => "return",
            RefundKind::RefundOnly => "refund_only",
            RefundKind::Goodwill => "goodwill",
            RefundKind::PartialCancel => "partial_cancel",
            RefundKind::Cancel => "cancel",
            RefundKind::Close => "close",
            RefundKind::Exchange => "exchange",
            RefundKind::ExchangePayment => "exchange_payment",
        }
    }
}

/// One refund of an order, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRecord {
    /// Refund id (the return or request id, or `<order>-f<n>`).
    pub id: String,
    /// Why.
    pub kind: RefundKind,
    /// Money refunded in all (goods and shipping).
    pub amount: Money,
    /// The part of `amount` that refunds shipping.
    pub shipping: Money,
    /// Units whose money went back (empty for goodwill, cancel and close).
    pub lines: Vec<LineQty>,
    /// Which payments the money goes back through.
    pub allocations: Vec<PaymentShare>,
}

/// Splits `refund` over `payments` by `policy`. Only what each payment still
/// holds can go back through it.
///
/// ```
/// use chrono::Utc;
/// use mercato_core::payments::{PaymentRecord, RefundAllocation, allocate_refund};
/// use mercato_core::money::{Currency, Money};
/// let m = |s: &str| Money::parse(s, Currency::CNY).unwrap();
/// let at = "2026-01-01T00:00:00Z".parse().unwrap();
/// let p = |id: &str, a: &str| PaymentRecord {
///     id: id.into(), method: "card".into(), amount: m(a), reference: None, key: None,
///     at, refunded: m("0.00"), exchange: None,
/// };
/// let pays = [p("o-p1", "60.00"), p("o-p2", "40.00")];
/// let recent = allocate_refund(&pays, m("50.00"), RefundAllocation::MostRecentFirst).unwrap();
/// assert_eq!((recent[0].payment.as_str(), recent[0].amount), ("o-p2", m("40.00")));
/// assert_eq!((recent[1].payment.as_str(), recent[1].amount), ("o-p1", m("10.00")));
/// let prop = allocate_refund(&pays, m("50.00"), RefundAllocation::Proportional).unwrap();
/// assert_eq!(prop[0].amount, m("30.00"));
/// assert_eq!(prop[1].amount, m("20.00"));
/// ```
///
/// # Errors
/// [`CoreError::RefundExceedsPaid`] when the payments do not hold
/// `refund`; a negative refund; arithmetic overflow.
pub fn allocate_refund(
    payments: &[PaymentRecord],
    refund: Money,
    policy: RefundAllocation,
) -> Result<Vec<PaymentShare>, CoreError> {
    if refund.is_negative() {
        return Err(CoreError::Negative {
            what: "refund",
            value: refund.amount(),
        });
    }
    let currency = refund.currency();
    let left: Vec<Money> = payments
        .iter()
        .map(PaymentRecord::refundable)
        .collect::<Result<_, _>>()?;
    let held = Money::sum(currency, &left)?;
    if refund > held {
        return Err(CoreError::RefundExceedsPaid {
            refund: refund.amount(),
            refundable: held.amount(),
        });
    }
    if refund.is_zero() {
        return Ok(Vec::new());
    }
    let shares: Vec<Money> = match policy {
        RefundAllocation::Proportional => {
            let weights: Vec<Decimal> =
                left.iter().map(|m| m.amount().max(Decimal::ZERO)).collect();
            apportion(refund, &weights)?
        }
        RefundAllocation::MostRecentFirst => {
            let mut need = refund;
            let mut out = vec![Money::zero(currency); left.len()];
            for (i, l) in left.iter().enumerate().rev() {
                if need.is_zero() {
                    break;
                }
                let take = need.min(l.max(Money::zero(currency))?)?;
                out[i] = take;
                need = need.checked_sub(take)?;
            }
            out
        }
    };
    let mut out: Vec<PaymentShare> = payments
        .iter()
        .zip(shares)
        .filter(|(_, s)| s.is_positive())
        .map(|(p, s)| PaymentShare {
            payment: p.id.clone(),
            amount: s,
        })
        .collect();
    if policy == RefundAllocation::MostRecentFirst {
        out.reverse();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;

    fn m(minor: i64) -> Money {
        Money::from_minor(minor, Currency::CNY)
    }

    fn pay(i: usize, amount: i64, refunded: i64) -> PaymentRecord {
        PaymentRecord {
            id: format!("o-p{i}"),
            method: "card".into(),
            amount: m(amount),
            reference: None,
            key: None,
            at: "2026-01-01T00:00:00Z".parse().unwrap(),
            refunded: m(refunded),
            exchange: None,
        }
    }

    #[test]
    fn most_recent_first_skips_what_was_given_back() {
        // p1 60.00, p2 40.00 of which 30.00 back already: a 20.00 refund
        // takes the 10.00 p2 still holds, then 10.00 from p1.
        let pays = [pay(1, 6000, 0), pay(2, 4000, 3000)];
        let a = allocate_refund(&pays, m(2000), RefundAllocation::MostRecentFirst).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!((a[0].payment.as_str(), a[0].amount), ("o-p2", m(1000)));
        assert_eq!((a[1].payment.as_str(), a[1].amount), ("o-p1", m(1000)));
    }

    #[test]
    fn proportional_splits_by_largest_remainder() {
        // 0.10 over 3 payments of 1.00 each: 0.04, 0.03, 0.03.
        let pays = [pay(1, 100, 0), pay(2, 100, 0), pay(3, 100, 0)];
        let a = allocate_refund(&pays, m(10), RefundAllocation::Proportional).unwrap();
        let got: Vec<i128> = a.iter().map(|s| s.amount.to_minor().unwrap()).collect();
        assert_eq!(got, [4, 3, 3]);
    }

    #[test]
    fn more_than_held_is_refused() {
        let pays = [pay(1, 100, 50)];
        let e = allocate_refund(&pays, m(51), RefundAllocation::MostRecentFirst).unwrap_err();
        assert!(matches!(e, CoreError::RefundExceedsPaid { .. }), "{e:?}");
        assert!(allocate_refund(&pays, m(-1), RefundAllocation::Proportional).is_err());
        assert!(
            allocate_refund(&[], m(0), RefundAllocation::Proportional)
                .unwrap()
                .is_empty()
        );
    }

    proptest! {
        /// The shares add up to the refund, and no payment gives back more
        /// than it still holds, whatever the policy.
        #[test]
        fn shares_add_up_and_respect_each_payment(
            pays in proptest::collection::vec((1i64..100_000, 0i64..100), 1..6),
            frac in 0u32..=100,
            proportional in any::<bool>(),
        ) {
            let pays: Vec<PaymentRecord> = pays.iter().enumerate()
                .map(|(i, (a, r))| pay(i, *a, a * r / 100)).collect();
            let held: i64 = pays.iter().map(|p| (p.amount.to_minor().unwrap() - p.refunded.to_minor().unwrap()) as i64).sum();
            let refund = held * i64::from(frac) / 100;
            let policy = if proportional { RefundAllocation::Proportional } else { RefundAllocation::MostRecentFirst };
            let a = allocate_refund(&pays, m(refund), policy).unwrap();
            let total: i128 = a.iter().map(|s| s.amount.to_minor().unwrap()).sum();
            prop_assert_eq!(total, i128::from(refund));
            for s in &a {
                let p = pays.iter().find(|p| p.id == s.payment).unwrap();
                prop_assert!(s.amount <= p.refundable().unwrap());
                prop_assert!(s.amount.is_positive());
            }
            prop_assert!(allocate_refund(&pays, m(held + 1), policy).is_err());
        }
    }
}
