//! The pricing pipeline (contract, "The pricing pipeline (normative)"):
//! unit → item → order → coupon → points → shipping, each stage seeing the
//! amounts left by the one before. [`price`] is the entry point; the
//! stages live in one module each.

mod assemble;
pub(crate) mod coupons;
pub(crate) mod finish;
mod item;
mod order;
mod stage;
mod touches;
mod unit;
pub(crate) mod work;

use mercato_core::quote::{Quote, Stage};

use crate::cart::Cart;
use crate::context::PricingContext;
use crate::error::RulesError;
use work::{Env, Work};

/// Prices a cart: a pure function of the cart and the context.
///
/// Anonymous carts (`customer: None`) get no member prices, no
/// per-customer-limited prices and no points deduction ("points need a
/// customer": requested points are ignored, `points_used` is 0); they may
/// use public coupons.
///
/// ```
/// use mercato_core::money::Currency;
/// use mercato_rules::{price, Cart, PricingContext, PricingSettings, RuleSet, ShopFacts};
///
/// let catalog = serde_json::from_str(r#"[{"sku": "rice", "price": "59.00"}, {"sku": "oil", "price": "89.00"}]"#).unwrap();
/// let promotions = serde_json::from_str(r#"[{"id": "fr", "kind": "full_reduction",
///     "tiers": [{"threshold": "150.00", "off": "15.00"}]}]"#).unwrap();
/// let rules = RuleSet::new(Currency::CNY, PricingSettings::default(), catalog, promotions, vec![]).unwrap();
/// let shop = ShopFacts::new();
/// let ctx = PricingContext::new(&rules, "2026-03-02T09:00:00Z".parse().unwrap(), &shop);
///
/// let quote = price(&Cart::of(&[("rice", 2), ("oil", 1)]), &ctx).unwrap();
/// // 15.00 off 207.00, split 8.55 / 6.45 by largest remainder.
/// assert_eq!(quote.lines[0].adjustments[0].amount.amount().to_string(), "8.55");
/// assert_eq!(quote.totals.payable.amount().to_string(), "192.00");
/// quote.check().unwrap();
/// ```
///
/// # Errors
/// [`CoreError::EmptyCart`](mercato_core::CoreError::EmptyCart), [`CoreError::UnknownSku`](mercato_core::CoreError::UnknownSku),
/// [`CoreError::InvalidQuantity`](mercato_core::CoreError::InvalidQuantity) (qty ≤ 0 or above [`crate::MAX_QTY`]),
/// [`RulesError::InvalidPoints`] (negative points),
/// [`CoreError::UnknownCustomer`](mercato_core::CoreError::UnknownCustomer) (the shop does not know the cart's
/// customer), [`RulesError::Overflow`] for numbers too large to price.
pub fn price(cart: &Cart, ctx: &PricingContext<'_>) -> Result<Quote, RulesError> {
    let work = before_coupons(cart, ctx)?;
    finish(work, &cart.coupons, cart.points)
}

/// Stages 1-3 (everything that does not depend on coupons or points).
pub(crate) fn before_coupons<'a>(
    cart: &'a Cart,
    ctx: &PricingContext<'a>,
) -> Result<Work<'a>, RulesError> {
    let env = Env::new(ctx, cart)?;
    let mut work = Work::new(env, cart)?;
    unit::run(&mut work)?;
    let plan = env.rules.plan();
    stage::run(&mut work, &plan.item, Stage::Item)?;
    stage::run(&mut work, &plan.order, Stage::Order)?;
    Ok(work)
}

/// Stages 4-6 and the quote.
pub(crate) fn finish<'a>(
    mut work: Work<'a>,
    coupons: &'a [String],
    points: i64,
) -> Result<Quote, RulesError> {
    coupons::run(&mut work, coupons)?;
    let goods = work.goods();
    finish::points(&mut work, points)?;
    finish::shipping(&mut work, goods)?;
    assemble::quote(&work)
}

#[cfg(test)]
mod tests;
