//! The priced shape of a cart: a [`Quote`] with its [`QuoteLine`]s, each
//! line's [`Adjustment`]s by pipeline [`Stage`], the [`Totals`], and the
//! explanations ([`Applied`], [`Rejected`]).
//!
//! The rules crate produces quotes; an order keeps the quote it was placed
//! with, so refunds and limits are computed from exactly what was charged.
//! [`Quote::check`] verifies that the numbers add up before an order accepts
//! them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::money::{Currency, Money};

/// A stage of the pricing pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Unit price: promotion, member, flash-sale and ladder prices.
    Unit,
    /// Item promotions.
    Item,
    /// Order promotions (满减, 满折, 满N件, gifts).
    Order,
    /// Coupons.
    Coupon,
    /// Points deduction.
    Points,
}

impl Stage {
    /// The contract name (`"unit"`, `"item"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Unit => "unit",
            Stage::Item => "item",
            Stage::Order => "order",
            Stage::Coupon => "coupon",
            Stage::Points => "points",
        }
    }
}

/// The contract name, as [`Stage::as_str`] gives it.
///
/// ```
/// use mercato_core::Stage;
/// assert_eq!(Stage::Coupon.to_string(), "coupon");
/// ```
impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One discount taken off one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// Promotion id, coupon code, or `"points"`.
    pub source: String,
    /// Pipeline stage.
    pub stage: Stage,
    /// Amount taken off (positive).
    pub amount: Money,
}

/// Units of a line priced by a limited promotion (a `price` rule with a
/// per-customer limit or quota); limits count these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionUse {
    /// The promotion id.
    pub source: String,
    /// Units priced by it.
    pub units: i64,
}

/// One priced line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLine {
    /// Position in the quote (cart lines first, then gift lines).
    pub line: usize,
    /// The SKU.
    pub sku: String,
    /// Units.
    pub qty: i64,
    /// List unit price.
    pub unit_price: Money,
    /// `unit_price × qty`.
    pub amount: Money,
    /// Discounts in pipeline order.
    pub adjustments: Vec<Adjustment>,
    /// `amount − Σ adjustments`.
    pub net: Money,
    /// A gift line added by a `gift` promotion.
    pub gift: bool,
    /// Units priced by limited promotions (for per-customer limits and quotas).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uses: Vec<PromotionUse>,
}

impl QuoteLine {
    /// Sum of this line's adjustments at `stage`.
    pub fn adjusted_at(&self, stage: Stage) -> Result<Money, CoreError> {
        Money::sum(
            self.amount.currency(),
            self.adjustments
                .iter()
                .filter(|a| a.stage == stage)
                .map(|a| &a.amount),
        )
    }

    /// The line's net before the points stage (what the goods cost before
    /// points were deducted).
    pub fn net_before_points(&self) -> Result<Money, CoreError> {
        self.net.checked_add(self.adjusted_at(Stage::Points)?)
    }
}

/// A promotion or coupon that gave a discount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Promotion id or coupon code.
    pub source: String,
    /// Total discount it gave (for `free_shipping`: the fee waived).
    pub amount: Money,
}

/// Why a promotion or coupon gave nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectReason {
    /// A spend or quantity threshold is not met (see `missing`).
    ThresholdNotMet,
    /// Outside the validity window.
    OutsideWindow,
    /// A usage or per-customer limit is used up.
    LimitReached,
    /// A coupon owned by someone else.
    NotOwner,
    /// The customer does not qualify (tier).
    NotEligible,
    /// A unit price that lost to a lower one.
    NotBest,
    /// Lost against an exclusive promotion or the stack.
    ExclusiveLost,
    /// Would give 0.00.
    NoDiscount,
    /// A gift without stock.
    OutOfStock,
    /// The campaign budget is used up.
    BudgetExhausted,
    /// A coupon code that does not exist.
    NotFound,
    /// A coupon requested twice.
    Duplicate,
    /// Too many coupons of one group.
    GroupLimit,
    /// No cart line is in the coupon's scope.
    OutOfScope,
}

impl RejectReason {
    /// The contract name (`"threshold_not_met"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::ThresholdNotMet => "threshold_not_met",
            RejectReason::OutsideWindow => "outside_window",
            RejectReason::LimitReached => "limit_reached",
            RejectReason::NotOwner => "not_owner",
            RejectReason::NotEligible => "not_eligible",
            RejectReason::NotBest => "not_best",
            RejectReason::ExclusiveLost => "exclusive_lost",
            RejectReason::NoDiscount => "no_discount",
            RejectReason::OutOfStock => "out_of_stock",
            RejectReason::BudgetExhausted => "budget_exhausted",
            RejectReason::NotFound => "not_found",
            RejectReason::Duplicate => "duplicate",
            RejectReason::GroupLimit => "group_limit",
            RejectReason::OutOfScope => "out_of_scope",
        }
    }
}

/// The contract name, as [`RejectReason::as_str`] gives it.
///
/// ```
/// use mercato_core::RejectReason;
/// assert_eq!(RejectReason::ThresholdNotMet.to_string(), "threshold_not_met");
/// assert_eq!(format!("{:>12}", RejectReason::NotBest), "    not_best");
/// ```
impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A promotion or requested coupon that did not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Promotion id or coupon code.
    pub source: String,
    /// The reason.
    pub reason: RejectReason,
    /// For `threshold_not_met` on an amount: how much more to add (凑单).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Money>,
    /// For `threshold_not_met` on a count: how many more units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_qty: Option<i64>,
}

/// The quote's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Σ line amounts (list prices, gift lines included).
    pub list: Money,
    /// Σ unit-stage adjustments.
    pub unit_discount: Money,
    /// Σ item-stage adjustments.
    pub item_discount: Money,
    /// Σ order-stage adjustments (gift lines included).
    pub order_discount: Money,
    /// Σ coupon-stage adjustments.
    pub coupon_discount: Money,
    /// Σ points-stage adjustments.
    pub points_deduction: Money,
    /// Σ line nets.
    pub goods: Money,
    /// Shipping fee after free-shipping rules.
    pub shipping: Money,
    /// `goods + shipping`.
    pub payable: Money,
}

/// A priced cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The currency of every amount.
    pub currency: Currency,
    /// Priced lines: cart lines in cart order, then gift lines.
    pub lines: Vec<QuoteLine>,
    /// Promotions and coupons that gave a discount, in pipeline order.
    pub applied: Vec<Applied>,
    /// Promotions touching the cart and requested coupons that gave nothing.
    pub rejected: Vec<Rejected>,
    /// The coupons that applied, in application order.
    pub coupons: Vec<String>,
    /// Points spent.
    pub points_used: i64,
    /// Totals.
    pub totals: Totals,
    /// The facts the quote was priced with beyond the cart, when the rules
    /// had any that a refund must see again: the version of each applied
    /// promotion that has been replaced, and the customer segment read by
    /// promotion and coupon conditions (absent: none of these mattered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priced_with: Option<PricedWith>,
}

/// What a quote was priced with besides the cart and the rules
/// ([`Quote::priced_with`]): refunds re-price with these instead of the
/// customer's facts of the day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedWith {
    /// Applied promotion id → the version it had (only versions above 1; an
    /// applied promotion not listed had version 1).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub versions: std::collections::BTreeMap<String, u32>,
    /// The customer's tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The customer's tags, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The sales channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Whether the customer had no earlier live order (`None`: anonymous).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_customer: Option<bool>,
}

impl Quote {
    /// A quote at list prices with no promotions: for POS-style callers and
    /// tests. `lines` are `(sku, qty, unit price)`.
    pub fn at_list_prices(
        currency: Currency,
        lines: &[(&str, i64, Money)],
        shipping: Money,
    ) -> Result<Quote, CoreError> {
        let mut out = Vec::with_capacity(lines.len());
        for (i, (sku, qty, price)) in lines.iter().enumerate() {
            if *qty <= 0 {
                return Err(CoreError::InvalidQuantity {
                    what: format!("line {i}"),
                    qty: *qty,
                });
            }
            let amount = price.times(*qty)?;
            out.push(QuoteLine {
                line: i,
                sku: (*sku).to_string(),
                qty: *qty,
                unit_price: *price,
                amount,
                adjustments: Vec::new(),
                net: amount,
                gift: false,
                uses: Vec::new(),
            });
        }
        let zero = Money::zero(currency);
        let goods = Money::sum(currency, out.iter().map(|l| &l.net))?;
        let q = Quote {
            currency,
            lines: out,
            applied: Vec::new(),
            rejected: Vec::new(),
            coupons: Vec::new(),
            points_used: 0,
            priced_with: None,
            totals: Totals {
                list: goods,
                unit_discount: zero,
                item_discount: zero,
                order_discount: zero,
                coupon_discount: zero,
                points_deduction: zero,
                goods,
                shipping,
                payable: goods.checked_add(shipping)?,
            },
        };
        q.check()?;
        Ok(q)
    }

    /// Verifies that the quote adds up: every line's net is its amount less
    /// its adjustments and is not negative, no adjustment is negative, and
    /// the totals are the sums they claim to be.
    pub fn check(&self) -> Result<(), CoreError> {
        let c = self.currency;
        let bad = |what: String| Err(CoreError::InconsistentPricing(what));
        let mut stage_sums = [Money::zero(c); 5];
        let mut list = Money::zero(c);
        let mut goods = Money::zero(c);
        for l in &self.lines {
            if l.qty <= 0 {
                return bad(format!("line {} has quantity {}", l.line, l.qty));
            }
            if l.unit_price.times(l.qty)? != l.amount {
                return bad(format!("line {} amount is not unit price × qty", l.line));
            }
            let mut net = l.amount;
            for a in &l.adjustments {
                if a.amount.is_negative() {
                    return bad(format!("line {} has a negative adjustment", l.line));
                }
                net = net.checked_sub(a.amount)?;
                let i = a.stage as usize;
                stage_sums[i] = stage_sums[i].checked_add(a.amount)?;
            }
            if net != l.net || net.is_negative() {
                return bad(format!("line {} net does not add up", l.line));
            }
            list = list.checked_add(l.amount)?;
            goods = goods.checked_add(l.net)?;
        }
        let t = &self.totals;
        let expect = [
            (list, t.list, "list"),
            (stage_sums[0], t.unit_discount, "unit_discount"),
            (stage_sums[1], t.item_discount, "item_discount"),
            (stage_sums[2], t.order_discount, "order_discount"),
            (stage_sums[3], t.coupon_discount, "coupon_discount"),
            (stage_sums[4], t.points_deduction, "points_deduction"),
            (goods, t.goods, "goods"),
            (goods.checked_add(t.shipping)?, t.payable, "payable"),
        ];
        for (computed, claimed, name) in expect {
            if computed != claimed {
                return bad(format!("{name} is {claimed}, lines give {computed}"));
            }
        }
        if t.shipping.is_negative() || self.points_used < 0 {
            return bad("negative shipping or points".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_serde_name() {
        let stages = [
            Stage::Unit,
            Stage::Item,
            Stage::Order,
            Stage::Coupon,
            Stage::Points,
        ];
        for s in stages {
            assert_eq!(format!("\"{s}\""), serde_json::to_string(&s).unwrap());
        }
        let reasons = [
            RejectReason::ThresholdNotMet,
            RejectReason::OutsideWindow,
            RejectReason::LimitReached,
            RejectReason::NotOwner,
            RejectReason::NotEligible,
            RejectReason::NotBest,
            RejectReason::ExclusiveLost,
            RejectReason::NoDiscount,
            RejectReason::OutOfStock,
            RejectReason::BudgetExhausted,
            RejectReason::NotFound,
            RejectReason::Duplicate,
            RejectReason::GroupLimit,
            RejectReason::OutOfScope,
        ];
        for r in reasons {
            assert_eq!(format!("\"{r}\""), serde_json::to_string(&r).unwrap());
        }
    }
}
