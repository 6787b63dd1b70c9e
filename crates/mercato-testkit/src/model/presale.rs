//! The model of presale with deposit (预售/定金, `docs/presale.md`): the
//! deposit places the order (stock held until the balance deadline) and is
//! its first payment; the balance is one payment of exactly what is due,
//! inside the balance window; at the deadline an unpaid order closes and
//! its deposit is forfeited or refunded as the promotion says. The price
//! is simple enough to compute here: each unit at the presale price, less
//! the inflation `(Y − X) × units` split over the lines by units (largest
//! remainder, ties to the larger line, then the earlier).

use chrono::{DateTime, Utc};
use mercato::core::Quote;
use mercato::core::order::OrderStatus;
use mercato::core::presale::{PresalePhase, UnpaidBalance};
use mercato::rules::{CartLine, PromotionRule};
use mercato::{PresaleDepositRequest, Request};

use super::{
    Expected, ExpectedOutcome, ModelOrder, ModelPayment, PRESALE_PROMOTION, ReferenceModel,
    ShopSetup, Step, order_id, pick,
};
use crate::util::minor;

/// The setup's presale promotion, in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PresaleRule {
    price: i64,
    deposit: i64,
    deduction: i64,
    deposit_from: DateTime<Utc>,
    deposit_until: DateTime<Utc>,
    balance_from: DateTime<Utc>,
    balance_until: DateTime<Utc>,
    refund_unpaid: bool,
    per_customer_limit: Option<i64>,
    /// The SKUs of its scope (the generated presale promotions name SKUs
    /// only).
    skus: Vec<String>,
}

impl PresaleRule {
    /// The presale promotion [`PRESALE_PROMOTION`] of `setup`, if it has
    /// one.
    pub(super) fn of(setup: &ShopSetup) -> Option<Self> {
        let p = setup
            .promotions
            .iter()
            .find(|p| p.id == PRESALE_PROMOTION)?;
        let PromotionRule::Presale {
            price,
            deposit,
            deduction,
            deposit_window,
            balance_window,
            on_unpaid_balance,
            per_customer_limit,
        } = &p.rule
        else {
            return None;
        };
        let m = |d: &rust_decimal::Decimal| (d * rust_decimal::Decimal::from(100)).trunc();
        let m = |d| i64::try_from(m(d)).unwrap_or(0);
        Some(PresaleRule {
            price: m(price),
            deposit: m(deposit),
            deduction: m(deduction),
            deposit_from: deposit_window.from,
            deposit_until: deposit_window.to,
            balance_from: balance_window.from,
            balance_until: balance_window.to,
            refund_unpaid: *on_unpaid_balance == UnpaidBalance::Refund,
            per_customer_limit: *per_customer_limit,
            skus: p.scope.skus.clone(),
        })
    }
}

/// The terms one presale order keeps from its deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresaleTerms {
    /// Units bought.
    pub units: i64,
    /// The deposit paid (minor units).
    pub deposit: i64,
    /// First instant the balance is taken.
    pub balance_from: DateTime<Utc>,
    /// The balance deadline (first instant it is no longer taken).
    pub balance_until: DateTime<Utc>,
    /// An unpaid balance refunds the deposit (else it is forfeited).
    pub refund_unpaid: bool,
    /// The presale promotion's customer.
    pub customer: String,
}

/// Largest-remainder split of `total` over `weights` (ties: the larger
/// weight, then the earlier).
fn split(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i64 = weights.iter().sum();
    if sum <= 0 {
        return vec![0; weights.len()];
    }
    let mut out: Vec<i64> = weights.iter().map(|w| total * w / sum).collect();
    let mut rems: Vec<(i64, i64, usize)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| (total * w % sum, *w, i))
        .collect();
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let extra = usize::try_from(total - out.iter().sum::<i64>()).unwrap_or(0);
    for (_, _, i) in rems.into_iter().take(extra) {
        out[i] += 1;
    }
    out
}

impl ReferenceModel {
    /// The cart of a [`Step::PresaleDeposit`].
    fn presale_lines(&self, lines: &[(u8, i64)]) -> Vec<CartLine> {
        lines
            .iter()
            .map(|(s, q)| CartLine {
                sku: pick(&self.orderable, *s).unwrap_or_else(|| "zz-unknown".into()),
                qty: *q,
            })
            .collect()
    }

    /// The deposit `lines` owe: `X × units`.
    fn deposit_for(&self, lines: &[(u8, i64)]) -> i64 {
        let units: i64 = lines.iter().map(|(_, q)| (*q).max(0)).sum();
        self.presale_rule.as_ref().map_or(0, |r| r.deposit * units)
    }

    /// The engine request of a presale step.
    pub(super) fn presale_request(&self, step: &Step) -> Option<Request> {
        let Step::PresaleDeposit {
            order,
            customer,
            lines,
            exact,
        } = step
        else {
            return None;
        };
        let amount = self.deposit_for(lines) + i64::from(!*exact);
        Some(Request::PresaleDeposit(Box::new(PresaleDepositRequest {
            order: order_id(*order),
            promotion: PRESALE_PROMOTION.into(),
            customer: pick(&self.customers, *customer).unwrap_or_else(|| "zz-nobody".into()),
            lines: self.presale_lines(lines),
            method: "card".into(),
            amount: crate::util::dec(amount),
            reference: None,
            channel: None,
        })))
    }

    /// Units `customer` holds in live orders of the presale promotion.
    fn presale_units(&self, customer: &str) -> i64 {
        self.orders
            .values()
            .filter(|o| o.status.is_live())
            .filter_map(|o| o.presale.as_ref())
            .filter(|(t, _)| t.customer == customer)
            .map(|(t, _)| t.units)
            .sum()
    }

    /// `presale_deposit` (`docs/presale.md`): the promotion prices the
    /// lines (empty cart, quantities, SKUs, scope), then the core checks
    /// the order id, the deposit window, the customer, the per-customer
    /// limit, the amount and the stock; the order waits for its balance
    /// with its deposit captured as its first payment.
    pub(super) fn presale_deposit(
        &mut self,
        step: &Step,
        placed: Option<&Quote>,
    ) -> ExpectedOutcome {
        let Some(Request::PresaleDeposit(req)) = self.presale_request(step) else {
            return ExpectedOutcome::Inconsistent("not a presale deposit".into());
        };
        let Some(rule) = self.presale_rule.clone() else {
            return ExpectedOutcome::Err("invalid_input");
        };
        if req.lines.is_empty() {
            return ExpectedOutcome::Err("empty_cart");
        }
        for l in &req.lines {
            if l.qty <= 0 {
                return ExpectedOutcome::Err("invalid_quantity");
            }
            if !self.catalog.contains(&l.sku) {
                return ExpectedOutcome::Err("unknown_sku");
            }
            if !rule.skus.contains(&l.sku) {
                return ExpectedOutcome::Err("invalid_input");
            }
        }
        if self.orders.contains_key(&req.order) {
            return ExpectedOutcome::Err("duplicate_order_name");
        }
        if !(rule.deposit_from <= self.now && self.now < rule.deposit_until) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        if !self.customers.contains(&req.customer) {
            return ExpectedOutcome::Err("unknown_customer");
        }
        let units: i64 = req.lines.iter().map(|l| l.qty).sum();
        if rule
            .per_customer_limit
            .is_some_and(|limit| self.presale_units(&req.customer) + units > limit)
        {
            return ExpectedOutcome::Err("invalid_quantity");
        }
        let deposit = rule.deposit * units;
        // The request offers the deposit, or one minor unit more.
        if matches!(step, Step::PresaleDeposit { exact: false, .. }) {
            return ExpectedOutcome::Err("payment_mismatch");
        }
        let cart: Vec<(String, i64)> = req.lines.iter().map(|l| (l.sku.clone(), l.qty)).collect();
        let Ok((stock, allocs)) = self.reserve(&cart, "web") else {
            return ExpectedOutcome::Err("insufficient_stock");
        };
        let Some(q) = placed else {
            return ExpectedOutcome::ok();
        };
        // The price: each unit at the presale price, the inflation split
        // over the lines by units.
        let qtys: Vec<i64> = req.lines.iter().map(|l| l.qty).collect();
        let shares = split((rule.deduction - rule.deposit) * units, &qtys);
        let nets: Vec<i64> = qtys
            .iter()
            .zip(&shares)
            .map(|(k, s)| k * rule.price - s)
            .collect();
        let got: Vec<(String, i64, i64)> = q
            .lines
            .iter()
            .map(|l| (l.sku.clone(), l.qty, minor(&l.net)))
            .collect();
        let want: Vec<(String, i64, i64)> = cart
            .iter()
            .zip(&nets)
            .map(|((s, k), n)| (s.clone(), *k, *n))
            .collect();
        let payable: i64 = nets.iter().sum();
        if got != want
            || minor(&q.totals.payable) != payable
            || !q.totals.shipping.is_zero()
            || q.points_used != 0
            || !q.coupons.is_empty()
        {
            return ExpectedOutcome::Inconsistent(format!(
                "presale quote: lines (sku, qty, net) {got:?} payable {}, the model {want:?} payable {payable}",
                q.totals.payable
            ));
        }
        self.stock = stock;
        let mut o = ModelOrder::new(&req.order, Some(req.customer.clone()), q, allocs);
        o.deadline = Some(rule.balance_until);
        o.payments.push(ModelPayment {
            amount: deposit,
            refunded: 0,
        });
        o.paid = deposit;
        o.presale = Some((
            PresaleTerms {
                units,
                deposit,
                balance_from: rule.balance_from,
                balance_until: rule.balance_until,
                refund_unpaid: rule.refund_unpaid,
                customer: req.customer.clone(),
            },
            PresalePhase::Deposited,
        ));
        let due = o.payable - o.paid;
        self.placement.push(o.id.clone());
        self.orders.insert(o.id.clone(), o);
        ExpectedOutcome::Ok(Expected {
            status: Some(OrderStatus::PendingPayment),
            due: Some(due),
            ..Expected::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn the_inflation_splits_by_units() {
        // 100.00 over 2 + 1 units: 66.67 / 33.33 (remainders 2/3, 1/3).
        assert_eq!(split(10_000, &[2, 1]), [6667, 3333]);
        // 0.05 over 1 + 1 units: the earlier line takes the odd cent.
        assert_eq!(split(5, &[1, 1]), [3, 2]);
        // 1.00 over 3 units on one line.
        assert_eq!(split(100, &[3]), [100]);
    }
}
