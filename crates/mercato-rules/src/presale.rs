//! Presale (预售/定金) promotions: the `presale` kind's windows and checks,
//! its typed builder ([`Promotion::presale`]) and the pricing of a deposit
//! ([`presale_quote`]).
//!
//! A presale promotion never takes part in an ordinary cart's pricing (the
//! stage plan leaves it out): its units are sold only through deposits.
//! A deposit's quote prices each unit at the presale price (a unit-stage
//! adjustment when it is below the list price) and takes the inflation
//! `(deduction − deposit) × units` off as an order-stage adjustment of the
//! promotion, split over the lines by [`mercato_core::apportion()`] by
//! units, so the payable is what the customer pays in all: deposit plus
//! balance. No other promotion, coupon or points apply to a presale order,
//! and it carries no shipping fee (see `docs/presale.md`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mercato_core::presale::{PresaleTerms, UnpaidBalance};
use mercato_core::quote::{
    Adjustment, Applied, PricedWith, PromotionUse, Quote, QuoteLine, Stage, Totals,
};
use mercato_core::{CoreError, Money, apportion};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::build::{PromotionBuilder, kind, read};
use crate::cart::CartLine;
use crate::error::RulesError;
use crate::minor::MAX_QTY;
use crate::promotion::{Promotion, PromotionRule};
use crate::ruleset::RuleSet;

/// A time span `[from, to)`: both ends required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// First instant inside (inclusive).
    pub from: DateTime<Utc>,
    /// First instant outside (exclusive).
    pub to: DateTime<Utc>,
}

impl Span {
    /// `[from, to)`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Span {
        Span { from, to }
    }

    /// Whether `now` is inside.
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        self.from <= now && now < self.to
    }
}

impl Default for Span {
    fn default() -> Self {
        Span {
            from: DateTime::UNIX_EPOCH,
            to: DateTime::UNIX_EPOCH,
        }
    }
}

/// The kind-specific checks of a `presale`: a positive deposit, a
/// deduction not below it and below the price (so a balance is left), and
/// windows in order (the deposit window ends at or before the balance
/// window opens).
pub(crate) fn check_rule(
    id: &str,
    price: Decimal,
    deposit: Decimal,
    deduction: Decimal,
    deposit_window: &Span,
    balance_window: &Span,
) -> Result<(), RulesError> {
    if deposit <= Decimal::ZERO {
        return Err(RulesError::rule(id, "deposit", "must be positive"));
    }
    if deduction < deposit {
        return Err(RulesError::rule(
            id,
            "deduction",
            "is below the deposit (a deposit counts for at least itself)",
        ));
    }
    if deduction >= price {
        return Err(RulesError::rule(
            id,
            "deduction",
            "must be below the price (a balance must be left to pay)",
        ));
    }
    if deposit_window.to <= deposit_window.from {
        return Err(RulesError::rule(
            id,
            "deposit_window",
            "ends at or before it starts",
        ));
    }
    if balance_window.to <= balance_window.from {
        return Err(RulesError::rule(
            id,
            "balance_window",
            "ends at or before it starts",
        ));
    }
    if balance_window.from < deposit_window.to {
        return Err(RulesError::rule(
            id,
            "balance_window",
            "opens before the deposit window ends",
        ));
    }
    Ok(())
}

/// A deposit priced by a presale promotion: the order's quote, the terms it
/// fixes, and what the core checks at the deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresaleOffer {
    /// The quote (payable = deposit + balance).
    pub quote: Quote,
    /// The terms.
    pub terms: PresaleTerms,
    /// The deposit window.
    pub deposit_window: Span,
    /// Units per customer, if limited.
    pub per_customer_limit: Option<i64>,
}

fn core(e: CoreError) -> RulesError {
    RulesError::Core(e)
}

fn terms_err(id: &str, problem: impl Into<String>) -> RulesError {
    core(CoreError::PresaleTerms {
        promotion: id.to_string(),
        problem: problem.into(),
    })
}

/// Prices a deposit of `lines` under the presale promotion `promotion` at
/// `now`: every SKU in the catalog and in the promotion's scope, every
/// quantity within 1..=`MAX_QTY`, the promotion running (not paused or
/// ended). The deposit window itself is checked by the core (a typed
/// `PresaleDepositWindow`).
///
/// ```
/// use mercato_core::money::Currency;
/// use mercato_rules::{CartLine, Promotion, PricingSettings, RuleSet, presale_quote};
/// let t = |s: &str| s.parse().unwrap();
/// let p = Promotion::presale("ps", "300.00", "50.00", "100.00")
///     .skus(["tv"])
///     .deposit_window(t("2026-10-20T00:00:00Z"), t("2026-11-10T00:00:00Z"))
///     .balance_window(t("2026-11-11T00:00:00Z"), t("2026-11-12T00:00:00Z"))
///     .build()
///     .unwrap();
/// let catalog = serde_json::from_str(r#"[{"sku": "tv", "price": "399.00"}]"#).unwrap();
/// let rules = RuleSet::new(Currency::CNY, PricingSettings::default(), catalog, vec![p], vec![]).unwrap();
/// let offer = presale_quote(&rules, "ps", &[CartLine::new("tv", 2)], t("2026-10-21T00:00:00Z")).unwrap();
/// // 2 × 300.00 = 600.00, less the inflation 2 × (100.00 − 50.00) = 100.00.
/// assert_eq!(offer.quote.totals.payable.amount().to_string(), "500.00");
/// assert_eq!(offer.terms.deposit.amount().to_string(), "100.00");
/// ```
///
/// # Errors
/// [`CoreError::UnknownSku`], [`CoreError::InvalidQuantity`],
/// [`CoreError::EmptyCart`], [`CoreError::PresaleDepositWindow`] (paused
/// or ended), [`CoreError::PresaleTerms`] (not a presale, a SKU outside its
/// scope), [`RulesError::Overflow`]-like arithmetic errors — all wrapped in
/// [`RulesError::Core`].
pub fn presale_quote(
    rules: &RuleSet,
    promotion: &str,
    lines: &[CartLine],
    now: DateTime<Utc>,
) -> Result<PresaleOffer, RulesError> {
    let p = rules
        .promotion(promotion)
        .ok_or_else(|| terms_err(promotion, "no such promotion"))?;
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
        return Err(terms_err(promotion, "is not a presale promotion"));
    };
    let state = rules.promotion_state(promotion);
    if !state.running(now) {
        return Err(core(CoreError::PresaleDepositWindow {
            promotion: promotion.to_string(),
            now,
            from: deposit_window.from,
            until: state
                .ends_at
                .unwrap_or(deposit_window.to)
                .min(deposit_window.to),
        }));
    }
    if lines.is_empty() {
        return Err(core(CoreError::EmptyCart));
    }
    let c = rules.currency();
    let money = |d: Decimal| Money::new(d, c).map_err(core);
    let (price, deposit, deduction) = (money(*price)?, money(*deposit)?, money(*deduction)?);
    let mut units: i64 = 0;
    let mut out: Vec<QuoteLine> = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        if !(1..=MAX_QTY).contains(&l.qty) {
            return Err(core(CoreError::InvalidQuantity {
                what: format!("line {i}"),
                qty: l.qty,
            }));
        }
        let item = rules
            .item(&l.sku)
            .ok_or_else(|| core(CoreError::UnknownSku(l.sku.clone())))?;
        if !p.scope.contains(item) {
            return Err(terms_err(
                promotion,
                format!("SKU `{}` is not in its scope", l.sku),
            ));
        }
        units = units
            .checked_add(l.qty)
            .ok_or(core(CoreError::Overflow("presale units")))?;
        let list = money(rules.price_at(&l.sku, now).unwrap_or(item.price))?;
        // The presale price replaces the list price; below it, the
        // difference is the promotion's unit-stage adjustment.
        let unit_price = list.max(price).map_err(core)?;
        let amount = unit_price.times(l.qty).map_err(core)?;
        let unit_off = unit_price
            .checked_sub(price)
            .and_then(|d| d.times(l.qty))
            .map_err(core)?;
        let mut adjustments = Vec::new();
        if unit_off.is_positive() {
            adjustments.push(Adjustment {
                source: promotion.to_string(),
                stage: Stage::Unit,
                amount: unit_off,
            });
        }
        out.push(QuoteLine {
            line: i,
            sku: l.sku.clone(),
            qty: l.qty,
            unit_price,
            amount,
            adjustments,
            net: amount.checked_sub(unit_off).map_err(core)?,
            gift: false,
            uses: vec![PromotionUse {
                source: promotion.to_string(),
                units: l.qty,
            }],
        });
    }
    let deposit_total = deposit.times(units).map_err(core)?;
    let deduction_total = deduction.times(units).map_err(core)?;
    let inflation = deduction_total.checked_sub(deposit_total).map_err(core)?;
    // The inflation is an adjustment like any discount: split over the
    // lines by units (largest remainder; per-unit amounts make it exact).
    let weights: Vec<Decimal> = out.iter().map(|l| Decimal::from(l.qty)).collect();
    let shares = apportion(inflation, &weights).map_err(core)?;
    for (l, s) in out.iter_mut().zip(shares) {
        if s.is_positive() {
            l.adjustments.push(Adjustment {
                source: promotion.to_string(),
                stage: Stage::Order,
                amount: s,
            });
            l.net = l.net.checked_sub(s).map_err(core)?;
        }
    }
    let zero = Money::zero(c);
    let sum = |f: &dyn Fn(&QuoteLine) -> Money| Money::sum(c, out.iter().map(f)).map_err(core);
    let list = sum(&|l| l.amount)?;
    let goods = sum(&|l| l.net)?;
    let unit_discount = sum(&|l| {
        l.adjusted_at(Stage::Unit)
            .unwrap_or_else(|_| Money::zero(l.amount.currency()))
    })?;
    let discount = list.checked_sub(goods).map_err(core)?;
    let state_version = state.version;
    let priced_with = (state_version > 1).then(|| PricedWith {
        versions: BTreeMap::from([(promotion.to_string(), state_version)]),
        ..PricedWith::default()
    });
    let quote = Quote {
        currency: c,
        lines: out,
        applied: if discount.is_positive() {
            vec![Applied {
                source: promotion.to_string(),
                amount: discount,
            }]
        } else {
            Vec::new()
        },
        rejected: Vec::new(),
        coupons: Vec::new(),
        points_used: 0,
        totals: Totals {
            list,
            unit_discount,
            item_discount: zero,
            order_discount: inflation,
            coupon_discount: zero,
            points_deduction: zero,
            goods,
            shipping: zero,
            payable: goods,
        },
        priced_with,
    };
    quote.check().map_err(core)?;
    Ok(PresaleOffer {
        quote,
        terms: PresaleTerms {
            promotion: promotion.to_string(),
            units,
            deposit_per_unit: deposit,
            deduction_per_unit: deduction,
            deposit: deposit_total,
            deduction: deduction_total,
            balance_from: balance_window.from,
            balance_until: balance_window.to,
            on_unpaid_balance: *on_unpaid_balance,
        },
        deposit_window: *deposit_window,
        per_customer_limit: *per_customer_limit,
    })
}

/// The `presale` constructor.
impl Promotion {
    /// `presale` (预售/定金): units of the scope sold at `price` through a
    /// deposit of `deposit` per unit that counts as `deduction` against the
    /// price; set both windows (required), the policy for an unpaid balance
    /// (default: the deposit is forfeited) and a per-customer limit.
    ///
    /// ```
    /// use mercato_rules::Promotion;
    /// use mercato_core::presale::UnpaidBalance;
    /// let t = |s: &str| s.parse().unwrap();
    /// let p = Promotion::presale("ps", "300.00", "50.00", "100.00")
    ///     .skus(["tv"])
    ///     .deposit_window(t("2026-10-20T00:00:00Z"), t("2026-11-10T00:00:00Z"))
    ///     .balance_window(t("2026-11-11T00:00:00Z"), t("2026-11-12T00:00:00Z"))
    ///     .on_unpaid_balance(UnpaidBalance::Refund)
    ///     .per_customer_limit(2)
    ///     .build()
    ///     .unwrap();
    /// # let _ = p;
    /// // Without windows it is refused.
    /// assert!(Promotion::presale("x", "300.00", "50.00", "100.00").build().is_err());
    /// // A deduction at or above the price leaves no balance.
    /// assert!(Promotion::presale("x", "100.00", "50.00", "100.00")
    ///     .deposit_window(t("2026-10-20T00:00:00Z"), t("2026-11-10T00:00:00Z"))
    ///     .balance_window(t("2026-11-11T00:00:00Z"), t("2026-11-12T00:00:00Z"))
    ///     .build().is_err());
    /// ```
    pub fn presale(
        id: impl Into<String>,
        price: impl crate::IntoAmount,
        deposit: impl crate::IntoAmount,
        deduction: impl crate::IntoAmount,
    ) -> PromotionBuilder<kind::Presale> {
        let id = id.into();
        let mut error = None;
        let price = read(&mut error, &id, "price", price);
        let deposit = read(&mut error, &id, "deposit", deposit);
        let deduction = read(&mut error, &id, "deduction", deduction);
        let rule = PromotionRule::Presale {
            price,
            deposit,
            deduction,
            deposit_window: Span::default(),
            balance_window: Span::default(),
            on_unpaid_balance: UnpaidBalance::default(),
            per_customer_limit: None,
        };
        PromotionBuilder::new(id, rule, error)
    }
}

impl PromotionBuilder<kind::Presale> {
    /// When deposits are taken: `[from, to)`.
    pub fn deposit_window(mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        if let PromotionRule::Presale { deposit_window, .. } = self.rule() {
            *deposit_window = Span::new(from, to);
        }
        self
    }

    /// When the balance may be paid: `[from, to)`; `to` is the balance
    /// deadline.
    pub fn balance_window(mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        if let PromotionRule::Presale { balance_window, .. } = self.rule() {
            *balance_window = Span::new(from, to);
        }
        self
    }

    /// What an unpaid balance does to the deposit (default `Forfeit`).
    pub fn on_unpaid_balance(mut self, policy: UnpaidBalance) -> Self {
        if let PromotionRule::Presale {
            on_unpaid_balance, ..
        } = self.rule()
        {
            *on_unpaid_balance = policy;
        }
        self
    }

    /// Units per customer over their live presale orders.
    pub fn per_customer_limit(mut self, units: i64) -> Self {
        if let PromotionRule::Presale {
            per_customer_limit, ..
        } = self.rule()
        {
            *per_customer_limit = Some(units);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PricingSettings;
    use mercato_core::Currency;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn rules(list: &str, p: Promotion) -> RuleSet {
        let catalog = serde_json::from_str(&format!(
            r#"[{{"sku": "tv", "price": "{list}"}}, {{"sku": "tv2", "price": "{list}"}}, {{"sku": "mug", "price": "9.00"}}]"#
        ))
        .unwrap();
        RuleSet::new(
            Currency::CNY,
            PricingSettings::default(),
            catalog,
            vec![p],
            vec![],
        )
        .unwrap()
    }

    fn presale() -> Promotion {
        Promotion::presale("ps", "300.00", "50.00", "100.00")
            .skus(["tv", "tv2"])
            .deposit_window(t("2026-10-20T00:00:00Z"), t("2026-11-10T00:00:00Z"))
            .balance_window(t("2026-11-11T00:00:00Z"), t("2026-11-12T00:00:00Z"))
            .build()
            .unwrap()
    }

    #[test]
    fn quote_takes_the_presale_price_and_the_inflation() {
        let r = rules("399.00", presale());
        let o = presale_quote(
            &r,
            "ps",
            &[CartLine::new("tv", 3), CartLine::new("tv2", 1)],
            t("2026-10-21T00:00:00Z"),
        )
        .unwrap();
        let q = &o.quote;
        // tv: 3 × 399.00 = 1197.00; unit stage 3 × 99.00 = 297.00;
        // inflation 3 × 50.00 = 150.00; net 750.00. tv2: 399 − 99 − 50 = 250.
        assert_eq!(
            q.lines[0].net,
            Money::parse("750.00", Currency::CNY).unwrap()
        );
        assert_eq!(
            q.lines[1].net,
            Money::parse("250.00", Currency::CNY).unwrap()
        );
        assert_eq!(q.totals.unit_discount.amount().to_string(), "396.00");
        assert_eq!(q.totals.order_discount.amount().to_string(), "200.00");
        assert_eq!(q.totals.payable.amount().to_string(), "1000.00");
        assert_eq!(o.terms.units, 4);
        assert_eq!(o.terms.deposit.amount().to_string(), "200.00");
        assert_eq!(o.terms.deduction.amount().to_string(), "400.00");
        // Balance: 1000.00 − 200.00 = 800.00 = 4 × (300.00 − 100.00).
    }

    #[test]
    fn ordinary_carts_never_see_a_presale() {
        let r = rules("399.00", presale());
        let shop = crate::ShopFacts::new();
        let ctx = crate::PricingContext::new(&r, t("2026-10-21T00:00:00Z"), &shop);
        let q = crate::price(&crate::Cart::of(&[("tv", 1)]), &ctx).unwrap();
        assert_eq!(q.totals.payable.amount().to_string(), "399.00");
        assert!(q.applied.is_empty() && q.rejected.is_empty());
    }

    #[test]
    fn out_of_scope_unknown_and_bad_quantities_are_typed() {
        let r = rules("399.00", presale());
        let now = t("2026-10-21T00:00:00Z");
        let kind = |lines: &[CartLine]| match presale_quote(&r, "ps", lines, now) {
            Err(RulesError::Core(e)) => e,
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            kind(&[CartLine::new("mug", 1)]),
            CoreError::PresaleTerms { .. }
        ));
        assert!(matches!(
            kind(&[CartLine::new("nope", 1)]),
            CoreError::UnknownSku(_)
        ));
        assert!(matches!(
            kind(&[CartLine::new("tv", 0)]),
            CoreError::InvalidQuantity { .. }
        ));
        assert!(matches!(kind(&[]), CoreError::EmptyCart));
    }

    #[test]
    fn definitions_are_checked_field_by_field() {
        let field = |p: Result<Promotion, RulesError>| match p {
            Err(RulesError::InvalidRule { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let base = || {
            Promotion::presale("x", "300.00", "50.00", "100.00")
                .deposit_window(t("2026-10-20T00:00:00Z"), t("2026-11-10T00:00:00Z"))
        };
        assert_eq!(field(base().build()), "balance_window");
        assert_eq!(
            field(
                base()
                    .balance_window(t("2026-11-09T00:00:00Z"), t("2026-11-12T00:00:00Z"))
                    .build()
            ),
            "balance_window"
        );
        let ok = |p: Promotion| {
            p.validate(Currency::CNY).unwrap();
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Promotion>(&json).unwrap(), p);
        };
        ok(presale());
        assert_eq!(
            field(
                Promotion::presale("x", "300.00", "50.00", "40.00")
                    .deposit_window(t("2026-10-20T00:00:00Z"), t("2026-11-10T00:00:00Z"))
                    .balance_window(t("2026-11-11T00:00:00Z"), t("2026-11-12T00:00:00Z"))
                    .build()
            ),
            "deduction"
        );
        assert_eq!(
            field(
                Promotion::presale("x", "300.00", "0.00", "40.00")
                    .deposit_window(t("2026-10-20T00:00:00Z"), t("2026-11-10T00:00:00Z"))
                    .balance_window(t("2026-11-11T00:00:00Z"), t("2026-11-12T00:00:00Z"))
                    .build()
            ),
            "deposit"
        );
    }
}
