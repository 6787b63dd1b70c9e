//! Promotions as plain serde data in the contract's JSON shape: the common
//! fields in [`Promotion`], the kind-specific ones in [`PromotionRule`], and
//! [`Promotion::validate`], which refuses a definition the pipeline could
//! not honour.

use mercato_core::money::{Currency, amount_str};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::RulesError;
use crate::minor::{self, Admit, MAX_QTY, Written};
use crate::scope::{Scope, Window};

/// A promotion: common fields plus its kind.
///
/// ```
/// use mercato_core::money::Currency;
/// use mercato_rules::{Promotion, PromotionRule, PromotionStage};
/// let p: Promotion = serde_json::from_str(r#"{
///     "id": "fr", "kind": "full_reduction",
///     "tiers": [{"threshold": "150.00", "off": "15.00"}, {"threshold": "300.00", "off": "40.00"}]
/// }"#).unwrap();
/// assert!(matches!(p.rule, PromotionRule::FullReduction { .. }));
/// assert_eq!(p.stage(), PromotionStage::Order);
/// p.validate(Currency::CNY).unwrap();
/// // Unknown kinds and JSON numbers as amounts are refused.
/// assert!(serde_json::from_str::<Promotion>(r#"{"id": "x", "kind": "magic"}"#).is_err());
/// assert!(serde_json::from_str::<Promotion>(r#"{"id": "x", "kind": "price", "price": 9.5}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    /// Unique id; the `source` of its adjustments.
    pub id: String,
    /// The kind and its fields.
    #[serde(flatten)]
    pub rule: PromotionRule,
    /// Lines it applies to (default: all).
    #[serde(default)]
    pub scope: Scope,
    /// Higher runs first (default 0).
    #[serde(default)]
    pub priority: i64,
    /// Applies alone when chosen (see the contract's Stacking).
    #[serde(default)]
    pub exclusive: bool,
    /// When it runs (default: always).
    #[serde(default)]
    pub window: Option<Window>,
    /// The stage, for `percent_off` (`item` default, or `order`). For
    /// `amount_off`, `per` decides the stage whatever this says (contract
    /// revision 4); other kinds have a fixed stage and may only repeat it
    /// here.
    #[serde(default)]
    pub stage: Option<PromotionStage>,
    /// Campaign budget across live orders.
    #[serde(default)]
    pub budget: Option<Budget>,
    /// Who may get it (tiers, channels, new customers, tags); failing
    /// carts get `not_eligible`. Default: everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<crate::conditions::Conditions>,
}

/// The kind of a promotion with its kind-specific fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PromotionRule {
    /// A special unit price (promotion, member, flash-sale price).
    Price {
        /// The unit price.
        #[serde(with = "amount_str")]
        price: Decimal,
        /// Only customers of this tier.
        #[serde(default)]
        tier: Option<String>,
        /// Units per customer over all their live orders.
        #[serde(default)]
        per_customer_limit: Option<i64>,
        /// Units over all live orders.
        #[serde(default)]
        quota: Option<i64>,
    },
    /// Percent off the unit price by quantity of the product.
    Ladder {
        /// Ascending `min_qty`.
        tiers: Vec<LadderTier>,
    },
    /// Percent off the scoped amount (item stage per line, or order stage).
    PercentOff {
        /// Percent (0-100, up to 4 decimals).
        #[serde(with = "amount_str")]
        percent: Decimal,
        /// Cap on the promotion as a whole.
        #[serde(default, with = "amount_str::option")]
        max_off: Option<Decimal>,
    },
    /// A fixed amount off each unit, each line or the order.
    AmountOff {
        /// The amount.
        #[serde(with = "amount_str")]
        amount: Decimal,
        /// What it is taken off (default `order`).
        #[serde(default)]
        per: AmountPer,
    },
    /// 满减: spend ≥ threshold, save `off`.
    FullReduction {
        /// Ascending thresholds.
        tiers: Vec<ReductionTier>,
        /// Highest tier once, or every whole multiple.
        #[serde(default)]
        mode: ReductionMode,
        /// Cap for `repeat`.
        #[serde(default, with = "amount_str::option")]
        cap: Option<Decimal>,
    },
    /// 满折: spend ≥ threshold, percent off.
    FullDiscount {
        /// Ascending thresholds.
        tiers: Vec<DiscountTier>,
    },
    /// 满N件: by the scoped item count.
    QuantityDiscount {
        /// Ascending `min_qty`.
        tiers: Vec<QuantityTier>,
    },
    /// Buy X, get Y discounted.
    BuyXGetY {
        /// The units that qualify.
        buy: BuySide,
        /// The units discounted.
        get: GetSide,
        /// Once per `buy.qty` units (default) or only once.
        #[serde(default = "yes")]
        repeat: bool,
    },
    /// A set of SKUs sold at a price.
    Bundle {
        /// The set.
        items: Vec<BundleItem>,
        /// Price of one complete set.
        #[serde(with = "amount_str")]
        price: Decimal,
    },
    /// A gift line from a spend threshold.
    Gift {
        /// Scoped subtotal needed.
        #[serde(with = "amount_str")]
        threshold: Decimal,
        /// The gift.
        gift: GiftItem,
    },
    /// Waives the shipping fee from a goods threshold.
    FreeShipping {
        /// Goods payable needed (default 0).
        #[serde(default, with = "amount_str::option")]
        threshold: Option<Decimal>,
    },
    /// 预售/定金: units of the scope sold at `price` through a deposit of
    /// `deposit` per unit that counts as `deduction` against the price,
    /// then a balance (see `docs/presale.md`). Never part of an ordinary
    /// cart's pricing: only [`crate::presale_quote`] prices it.
    Presale {
        /// The presale unit price.
        #[serde(with = "amount_str")]
        price: Decimal,
        /// Deposit per unit (`X`, positive).
        #[serde(with = "amount_str")]
        deposit: Decimal,
        /// What a unit's deposit counts for (`Y`, ≥ `X`, < `price`).
        #[serde(with = "amount_str")]
        deduction: Decimal,
        /// When deposits are taken.
        deposit_window: crate::presale::Span,
        /// When the balance may be paid (its end is the balance deadline).
        balance_window: crate::presale::Span,
        /// What an unpaid balance does to the deposit (default `forfeit`).
        #[serde(default)]
        on_unpaid_balance: mercato_core::presale::UnpaidBalance,
        /// Units per customer over their live presale orders.
        #[serde(default)]
        per_customer_limit: Option<i64>,
    },
}

fn yes() -> bool {
    true
}

/// The pipeline stage a promotion runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionStage {
    /// Stage 1: unit prices.
    Unit,
    /// Stage 2: item promotions.
    Item,
    /// Stage 3: order promotions.
    Order,
    /// Stage 6: shipping.
    Shipping,
}

/// What an `amount_off` is taken off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountPer {
    /// Each unit (item stage).
    Unit,
    /// Each line (item stage).
    Line,
    /// Once off the scoped total (order stage).
    #[default]
    Order,
}

/// How a `full_reduction` applies its tiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReductionMode {
    /// The largest discount among the tiers met, once.
    #[default]
    HighestTier,
    /// 每满: `off` for every whole multiple of the one tier's threshold.
    Repeat,
}

/// A ladder tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderTier {
    /// Units of the product needed.
    pub min_qty: i64,
    /// Percent off the unit price.
    #[serde(with = "amount_str")]
    pub percent: Decimal,
}

/// A 满减 tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReductionTier {
    /// Scoped subtotal needed.
    #[serde(with = "amount_str")]
    pub threshold: Decimal,
    /// Amount off.
    #[serde(with = "amount_str")]
    pub off: Decimal,
}

/// A 满折 tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountTier {
    /// Scoped subtotal needed.
    #[serde(with = "amount_str")]
    pub threshold: Decimal,
    /// Percent off.
    #[serde(with = "amount_str")]
    pub percent: Decimal,
}

/// A 满N件 tier: exactly one of `percent` and `off`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantityTier {
    /// Scoped units needed.
    pub min_qty: i64,
    /// Percent off the scoped subtotal.
    #[serde(
        default,
        with = "amount_str::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub percent: Option<Decimal>,
    /// Amount off the scoped subtotal.
    #[serde(
        default,
        with = "amount_str::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub off: Option<Decimal>,
}

/// The buy side of a `buy_x_get_y`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuySide {
    /// Units that qualify (default: the promotion's `scope`).
    #[serde(default)]
    pub scope: Option<Scope>,
    /// Units to buy per set.
    pub qty: i64,
}

/// The get side of a `buy_x_get_y`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSide {
    /// Units that may be discounted (default: the buy scope).
    #[serde(default)]
    pub scope: Option<Scope>,
    /// Units discounted per set.
    pub qty: i64,
    /// Percent off those units (default 100).
    #[serde(default = "hundred", with = "amount_str")]
    pub percent: Decimal,
}

fn hundred() -> Decimal {
    Decimal::ONE_HUNDRED
}

/// One SKU of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleItem {
    /// The SKU.
    pub sku: String,
    /// Units per set.
    pub qty: i64,
}

/// The gift of a `gift` promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftItem {
    /// The gift SKU (must be in the catalog).
    pub sku: String,
    /// Units given (default 1).
    #[serde(default = "one")]
    pub qty: i64,
}

fn one() -> i64 {
    1
}

/// A campaign budget across live orders: a total discount or a number of
/// orders.
///
/// ```
/// use mercato_rules::Budget;
/// assert!(matches!(serde_json::from_str::<Budget>(r#"{"uses": 100}"#).unwrap(), Budget::Uses(100)));
/// assert!(serde_json::from_str::<Budget>(r#"{"amount": 1000}"#).is_err());
/// assert!(serde_json::from_str::<Budget>(r#"{}"#).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawBudget", into = "RawBudget")]
pub enum Budget {
    /// Total discount the promotion may give.
    Amount(Decimal),
    /// Number of live orders it may apply to.
    Uses(i64),
}

#[derive(Serialize, Deserialize)]
struct RawBudget {
    #[serde(
        default,
        with = "amount_str::option",
        skip_serializing_if = "Option::is_none"
    )]
    amount: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uses: Option<i64>,
}

impl TryFrom<RawBudget> for Budget {
    type Error = String;
    fn try_from(r: RawBudget) -> Result<Budget, String> {
        match (r.amount, r.uses) {
            (Some(a), None) => Ok(Budget::Amount(a)),
            (None, Some(u)) => Ok(Budget::Uses(u)),
            _ => Err("a budget is either {\"amount\": \"…\"} or {\"uses\": n}".into()),
        }
    }
}

impl From<Budget> for RawBudget {
    fn from(b: Budget) -> RawBudget {
        match b {
            Budget::Amount(a) => RawBudget {
                amount: Some(a),
                uses: None,
            },
            Budget::Uses(u) => RawBudget {
                amount: None,
                uses: Some(u),
            },
        }
    }
}

impl Promotion {
    /// The scope of a `buy_x_get_y`'s buy side (its own, else the
    /// promotion's) and get side (its own, else the buy side's).
    pub fn buy_get_scopes(&self) -> Option<(&Scope, &Scope)> {
        match &self.rule {
            PromotionRule::BuyXGetY { buy, get, .. } => {
                let b = buy.scope.as_ref().unwrap_or(&self.scope);
                Some((b, get.scope.as_ref().unwrap_or(b)))
            }
            _ => None,
        }
    }

    /// The stage this promotion runs in.
    pub fn stage(&self) -> PromotionStage {
        match &self.rule {
            PromotionRule::Price { .. }
            | PromotionRule::Ladder { .. }
            | PromotionRule::Presale { .. } => PromotionStage::Unit,
            PromotionRule::PercentOff { .. } => match self.stage {
                Some(PromotionStage::Order) => PromotionStage::Order,
                _ => PromotionStage::Item,
            },
            PromotionRule::AmountOff { per, .. } => match per {
                AmountPer::Order => PromotionStage::Order,
                AmountPer::Unit | AmountPer::Line => PromotionStage::Item,
            },
            PromotionRule::BuyXGetY { .. } | PromotionRule::Bundle { .. } => PromotionStage::Item,
            PromotionRule::FullReduction { .. }
            | PromotionRule::FullDiscount { .. }
            | PromotionRule::QuantityDiscount { .. }
            | PromotionRule::Gift { .. } => PromotionStage::Order,
            PromotionRule::FreeShipping { .. } => PromotionStage::Shipping,
        }
    }

    /// Checks the definition against the contract: tiers in ascending order,
    /// percents within 0-100 with at most 4 decimals, amounts not negative
    /// and with no more decimals than `currency`, quantities ≥ 1, a
    /// non-empty bundle, a window that ends after it starts, `repeat` with
    /// exactly one tier, a `stage` that fits the kind (any `stage` fits an
    /// `amount_off`, whose `per` decides).
    ///
    /// Amounts and percents count the digits as written: `"10.000"` is not
    /// a CNY amount, `"12.50000"` not a percent.
    ///
    /// # Errors
    /// [`RulesError::InvalidRule`] naming the promotion and the field.
    pub fn validate(&self, currency: Currency) -> Result<(), RulesError> {
        self.check(Some(currency), Admit::Input)
    }

    /// The checks of [`Promotion::validate`]; with no `currency` (a
    /// builder's `build`, before the shop's currency is known) amounts are
    /// checked for their sign only.
    pub(crate) fn check(&self, currency: Option<Currency>, admit: Admit) -> Result<(), RulesError> {
        let id = self.id.as_str();
        let err = |field: &'static str, problem: String| RulesError::rule(id, field, problem);
        if let Some(f) = self.conditions.as_ref().and_then(|c| c.problem()) {
            return Err(err("conditions", format!("{f} holds an empty name")));
        }
        let amount = |field: &'static str, d: Decimal| {
            minor::check_amount_in(d, currency, admit).map_err(|r| r.for_rule(id, field))
        };
        let percent = |field: &'static str, d: Decimal| {
            minor::check_percent(d, admit).map_err(|r| r.for_rule(id, field))
        };
        let qty = |field: &'static str, q: i64| {
            if (1..=MAX_QTY).contains(&q) {
                Ok(())
            } else {
                Err(err(field, format!("{q} must be between 1 and {MAX_QTY}")))
            }
        };
        let limit = |field: &'static str, q: Option<i64>| match q {
            Some(q) if !(0..=MAX_QTY).contains(&q) => {
                Err(err(field, format!("{q} must be between 0 and {MAX_QTY}")))
            }
            _ => Ok(()),
        };
        minor::digits_first(id, self.written_numbers(), currency, admit)?;
        if id.is_empty() {
            return Err(err("id", "is empty".into()));
        }
        if self.window.is_some_and(|w| w.is_empty()) {
            return Err(err("window", "ends at or before it starts".into()));
        }
        match self.budget {
            Some(Budget::Amount(a)) => amount("budget", a)?,
            Some(Budget::Uses(u)) if u < 0 => {
                return Err(err("budget", format!("uses {u} is negative")));
            }
            _ => {}
        }
        if let Some(s) = self.stage {
            // `percent_off` takes `item` or `order`; for `amount_off`, `per`
            // decides the stage whatever `stage` says (contract revision
            // 4); every other kind may only repeat its own stage.
            let fits = s == self.stage()
                || match self.rule {
                    PromotionRule::PercentOff { .. } => s == PromotionStage::Order,
                    PromotionRule::AmountOff { .. } => true,
                    _ => false,
                };
            if !fits {
                return Err(err("stage", format!("{s:?} does not fit this kind")));
            }
        }
        match &self.rule {
            PromotionRule::Price {
                price,
                per_customer_limit,
                quota,
                ..
            } => {
                amount("price", *price)?;
                limit("per_customer_limit", *per_customer_limit)?;
                limit("quota", *quota)?;
            }
            PromotionRule::Ladder { tiers } => {
                ascending(id, "tiers", tiers.iter().map(|t| Decimal::from(t.min_qty)))?;
                for t in tiers {
                    qty("tiers", t.min_qty)?;
                    percent("tiers", t.percent)?;
                }
            }
            PromotionRule::PercentOff {
                percent: p,
                max_off,
            } => {
                percent("percent", *p)?;
                if let Some(m) = max_off {
                    amount("max_off", *m)?;
                }
            }
            PromotionRule::AmountOff { amount: a, .. } => amount("amount", *a)?,
            PromotionRule::FullReduction { tiers, mode, cap } => {
                ascending(id, "tiers", tiers.iter().map(|t| t.threshold))?;
                for t in tiers {
                    amount("tiers", t.threshold)?;
                    amount("tiers", t.off)?;
                }
                if let Some(c) = cap {
                    amount("cap", *c)?;
                }
                if *mode == ReductionMode::Repeat {
                    match tiers.as_slice() {
                        [t] if t.threshold > Decimal::ZERO => {}
                        [_] => return Err(err("tiers", "repeat needs a threshold above 0".into())),
                        _ => return Err(err("mode", "repeat needs exactly one tier".into())),
                    }
                }
            }
            PromotionRule::FullDiscount { tiers } => {
                ascending(id, "tiers", tiers.iter().map(|t| t.threshold))?;
                for t in tiers {
                    amount("tiers", t.threshold)?;
                    percent("tiers", t.percent)?;
                }
            }
            PromotionRule::QuantityDiscount { tiers } => {
                ascending(id, "tiers", tiers.iter().map(|t| Decimal::from(t.min_qty)))?;
                for t in tiers {
                    qty("tiers", t.min_qty)?;
                    match (t.percent, t.off) {
                        (Some(p), None) => percent("tiers", p)?,
                        (None, Some(o)) => amount("tiers", o)?,
                        _ => {
                            return Err(err(
                                "tiers",
                                "each tier needs exactly one of percent and off".into(),
                            ));
                        }
                    }
                }
            }
            PromotionRule::BuyXGetY { buy, get, .. } => {
                qty("buy", buy.qty)?;
                qty("get", get.qty)?;
                percent("get", get.percent)?;
            }
            PromotionRule::Bundle { items, price } => {
                if items.is_empty() {
                    return Err(err("items", "is empty".into()));
                }
                for (i, it) in items.iter().enumerate() {
                    qty("items", it.qty)?;
                    if items.iter().take(i).any(|o| o.sku == it.sku) {
                        return Err(err("items", format!("names `{}` twice", it.sku)));
                    }
                }
                amount("price", *price)?;
            }
            PromotionRule::Gift { threshold, gift } => {
                amount("threshold", *threshold)?;
                qty("gift", gift.qty)?;
            }
            PromotionRule::FreeShipping { threshold } => {
                if let Some(t) = threshold {
                    amount("threshold", *t)?;
                }
            }
            PromotionRule::Presale {
                price,
                deposit,
                deduction,
                deposit_window,
                balance_window,
                per_customer_limit,
                ..
            } => {
                amount("price", *price)?;
                amount("deposit", *deposit)?;
                amount("deduction", *deduction)?;
                limit("per_customer_limit", *per_customer_limit)?;
                crate::presale::check_rule(
                    id,
                    *price,
                    *deposit,
                    *deduction,
                    deposit_window,
                    balance_window,
                )?;
            }
        }
        Ok(())
    }
}

impl Promotion {
    /// Every amount and percent this promotion writes, with its field name,
    /// in the order [`Promotion::check`] visits them.
    fn written_numbers(&self) -> Vec<(&'static str, Written)> {
        use Written::{Amount, Percent};
        let mut out = Vec::new();
        if let Some(Budget::Amount(a)) = self.budget {
            out.push(("budget", Amount(a)));
        }
        match &self.rule {
            PromotionRule::Price { price, .. } => out.push(("price", Amount(*price))),
            PromotionRule::Ladder { tiers } => {
                out.extend(tiers.iter().map(|t| ("tiers", Percent(t.percent))));
            }
            PromotionRule::PercentOff { percent, max_off } => {
                out.push(("percent", Percent(*percent)));
                out.extend(max_off.map(|m| ("max_off", Amount(m))));
            }
            PromotionRule::AmountOff { amount, .. } => out.push(("amount", Amount(*amount))),
            PromotionRule::FullReduction { tiers, cap, .. } => {
                for t in tiers {
                    out.push(("tiers", Amount(t.threshold)));
                    out.push(("tiers", Amount(t.off)));
                }
                out.extend(cap.map(|c| ("cap", Amount(c))));
            }
            PromotionRule::FullDiscount { tiers } => {
                for t in tiers {
                    out.push(("tiers", Amount(t.threshold)));
                    out.push(("tiers", Percent(t.percent)));
                }
            }
            PromotionRule::QuantityDiscount { tiers } => {
                for t in tiers {
                    out.extend(t.percent.map(|p| ("tiers", Percent(p))));
                    out.extend(t.off.map(|o| ("tiers", Amount(o))));
                }
            }
            PromotionRule::BuyXGetY { get, .. } => out.push(("get", Percent(get.percent))),
            PromotionRule::Bundle { price, .. } => out.push(("price", Amount(*price))),
            PromotionRule::Gift { threshold, .. } => out.push(("threshold", Amount(*threshold))),
            PromotionRule::FreeShipping { threshold } => {
                out.extend(threshold.map(|t| ("threshold", Amount(t))));
            }
            PromotionRule::Presale {
                price,
                deposit,
                deduction,
                ..
            } => {
                out.push(("price", Amount(*price)));
                out.push(("deposit", Amount(*deposit)));
                out.push(("deduction", Amount(*deduction)));
            }
        }
        out
    }
}

/// Tiers must be non-empty and strictly ascending.
fn ascending(
    id: &str,
    field: &'static str,
    keys: impl Iterator<Item = Decimal>,
) -> Result<(), RulesError> {
    let mut last: Option<Decimal> = None;
    let mut any = false;
    for k in keys {
        if last.is_some_and(|l| k <= l) {
            return Err(RulesError::rule(id, field, "are not in ascending order"));
        }
        last = Some(k);
        any = true;
    }
    if any {
        Ok(())
    } else {
        Err(RulesError::rule(id, field, "are empty"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Promotion {
        serde_json::from_str(json).unwrap()
    }

    fn invalid_field(json: &str) -> &'static str {
        match parse(json).validate(Currency::CNY) {
            Err(
                RulesError::InvalidRule { field, rule, .. }
                | RulesError::TooManyDecimals { field, rule, .. },
            ) => {
                assert_eq!(rule, "x");
                field
            }
            other => panic!("expected invalid_rule or too many decimals, got {other:?}"),
        }
    }

    #[test]
    fn every_kind_parses() {
        for json in [
            r#"{"id":"x","kind":"price","price":"9.90","tier":"vip","per_customer_limit":2,"quota":100}"#,
            r#"{"id":"x","kind":"ladder","tiers":[{"min_qty":2,"percent":"10"}]}"#,
            r#"{"id":"x","kind":"percent_off","percent":"12.5","max_off":"20.00","stage":"order"}"#,
            r#"{"id":"x","kind":"amount_off","amount":"3.00","per":"unit"}"#,
            r#"{"id":"x","kind":"full_reduction","mode":"repeat","tiers":[{"threshold":"100","off":"10"}],"cap":"30"}"#,
            r#"{"id":"x","kind":"full_discount","tiers":[{"threshold":"150.00","percent":"10"}]}"#,
            r#"{"id":"x","kind":"quantity_discount","tiers":[{"min_qty":3,"off":"20.00"}]}"#,
            r#"{"id":"x","kind":"buy_x_get_y","buy":{"qty":2},"get":{"qty":1},"repeat":false}"#,
            r#"{"id":"x","kind":"bundle","items":[{"sku":"a","qty":1}],"price":"20.00"}"#,
            r#"{"id":"x","kind":"gift","threshold":"90.00","gift":{"sku":"g"}}"#,
            r#"{"id":"x","kind":"free_shipping","threshold":"60.00","budget":{"uses":3},"window":{"from":"2026-01-01T00:00:00Z"}}"#,
        ] {
            let p = parse(json);
            p.validate(Currency::CNY).unwrap();
            let back = serde_json::to_string(&p).unwrap();
            assert_eq!(
                serde_json::from_str::<Promotion>(&back).unwrap(),
                p,
                "{back}"
            );
        }
    }

    #[test]
    fn invalid_definitions_name_the_field() {
        let cases = [
            (
                r#"{"id":"x","kind":"ladder","tiers":[{"min_qty":4,"percent":"10"},{"min_qty":2,"percent":"20"}]}"#,
                "tiers",
            ),
            (r#"{"id":"x","kind":"ladder","tiers":[]}"#, "tiers"),
            (
                r#"{"id":"x","kind":"percent_off","percent":"100.5"}"#,
                "percent",
            ),
            (
                r#"{"id":"x","kind":"percent_off","percent":"-1"}"#,
                "percent",
            ),
            (
                r#"{"id":"x","kind":"percent_off","percent":"1.00001"}"#,
                "percent",
            ),
            (
                r#"{"id":"x","kind":"amount_off","amount":"-3.00"}"#,
                "amount",
            ),
            (
                r#"{"id":"x","kind":"amount_off","amount":"3.001"}"#,
                "amount",
            ),
            (
                r#"{"id":"x","kind":"bundle","items":[],"price":"1"}"#,
                "items",
            ),
            (
                r#"{"id":"x","kind":"bundle","items":[{"sku":"a","qty":0}],"price":"1"}"#,
                "items",
            ),
            (
                r#"{"id":"x","kind":"free_shipping","window":{"from":"2026-01-02T00:00:00Z","to":"2026-01-02T00:00:00Z"}}"#,
                "window",
            ),
            (
                r#"{"id":"x","kind":"full_reduction","mode":"repeat","tiers":[{"threshold":"1","off":"1"},{"threshold":"2","off":"2"}]}"#,
                "mode",
            ),
            (
                r#"{"id":"x","kind":"full_reduction","tiers":[{"threshold":"200","off":"1"},{"threshold":"100","off":"2"}]}"#,
                "tiers",
            ),
            (
                r#"{"id":"x","kind":"buy_x_get_y","buy":{"qty":0},"get":{"qty":1}}"#,
                "buy",
            ),
            (
                r#"{"id":"x","kind":"buy_x_get_y","buy":{"qty":1},"get":{"qty":-1}}"#,
                "get",
            ),
            (
                r#"{"id":"x","kind":"gift","threshold":"1","gift":{"sku":"g","qty":0}}"#,
                "gift",
            ),
            (
                r#"{"id":"x","kind":"quantity_discount","tiers":[{"min_qty":3,"off":"1","percent":"2"}]}"#,
                "tiers",
            ),
            (
                r#"{"id":"x","kind":"gift","threshold":"1","gift":{"sku":"g"},"stage":"item"}"#,
                "stage",
            ),
            (
                r#"{"id":"x","kind":"percent_off","percent":"1","stage":"unit"}"#,
                "stage",
            ),
            (
                r#"{"id":"x","kind":"price","price":"1","quota":-1}"#,
                "quota",
            ),
            (
                r#"{"id":"x","kind":"price","price":"1","budget":{"amount":"1.001"}}"#,
                "budget",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(invalid_field(json), field, "{json}");
        }
    }

    #[test]
    fn jpy_amounts_have_no_decimals() {
        let p = parse(r#"{"id":"x","kind":"amount_off","amount":"1.5"}"#);
        assert!(p.validate(Currency::JPY).is_err());
        assert!(p.validate(Currency::CNY).is_ok());
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        for json in [
            r#"{"id":"x","kind":"percent_off","percent":15}"#,
            r#"{"id":"x"}"#,
            r#"{"id":"x","kind":"gift","threshold":"1"}"#,
            r#"{"id":"x","kind":"price","price":"1","budget":{"amount":"1","uses":2}}"#,
            r#"{"kind":"price","price":"1"}"#,
        ] {
            assert!(serde_json::from_str::<Promotion>(json).is_err(), "{json}");
        }
    }
}
