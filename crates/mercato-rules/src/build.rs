//! Typed builders for rules (documented in the crate docs, "Building
//! rules in Rust"): [`PromotionBuilder`], [`CouponBuilder`],
//! [`CatalogItem::new`] and [`IntoAmount`].

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use mercato_core::CoreError;
use mercato_core::money::parse_amount;
use rust_decimal::Decimal;

use crate::catalog::CatalogItem;
use crate::coupon::{Coupon, CouponKind};
use crate::error::RulesError;
use crate::minor::Admit;
use crate::promotion::{
    AmountPer, Budget, BundleItem, BuySide, DiscountTier, GetSide, GiftItem, LadderTier, Promotion,
    PromotionRule, PromotionStage, QuantityTier, ReductionMode, ReductionTier,
};
use crate::scope::{Scope, Window};

/// A value a builder reads as an amount or a percent.
///
/// Text is read in the strict grammar of
/// [`mercato_core::money::parse_amount`], exactly, keeping the digits
/// written; a [`Decimal`] is taken as it is; an integer is a whole amount.
///
/// ```
/// use mercato_rules::IntoAmount;
/// use rust_decimal::Decimal;
/// assert_eq!("15.00".into_amount().unwrap().to_string(), "15.00");
/// assert_eq!(15.into_amount().unwrap(), Decimal::from(15));
/// assert!("1e3".into_amount().is_err());
/// ```
///
/// Never a float: money does not pass through binary fractions.
///
/// ```compile_fail
/// use mercato_rules::Promotion;
/// let p = Promotion::amount_off("x", 9.9);
/// ```
pub trait IntoAmount {
    /// The decimal, or why the text is not one.
    ///
    /// # Errors
    /// [`CoreError::InvalidAmount`] for text outside the grammar.
    fn into_amount(self) -> Result<Decimal, CoreError>;
}

impl IntoAmount for &str {
    fn into_amount(self) -> Result<Decimal, CoreError> {
        parse_amount(self)
    }
}

impl IntoAmount for String {
    fn into_amount(self) -> Result<Decimal, CoreError> {
        parse_amount(&self)
    }
}

impl IntoAmount for &String {
    fn into_amount(self) -> Result<Decimal, CoreError> {
        parse_amount(self)
    }
}

impl IntoAmount for Decimal {
    fn into_amount(self) -> Result<Decimal, CoreError> {
        Ok(self)
    }
}

macro_rules! into_amount_from_integer {
    ($($t:ty),*) => {$(
        impl IntoAmount for $t {
            fn into_amount(self) -> Result<Decimal, CoreError> {
                Ok(Decimal::from(self))
            }
        }
    )*};
}

into_amount_from_integer!(i32, i64, u32, u64);

/// Reads `value` for `field` of rule `rule`; the first failure is kept in
/// `error` (the placeholder zero it answers is never built into a rule:
/// `build` refuses first).
pub(crate) fn read(
    error: &mut Option<RulesError>,
    rule: &str,
    field: &'static str,
    value: impl IntoAmount,
) -> Decimal {
    match value.into_amount() {
        Ok(d) => d,
        Err(e) => {
            if error.is_none() {
                *error = Some(RulesError::InvalidAmount {
                    rule: rule.to_string(),
                    field,
                    problem: e.to_string(),
                });
            }
            Decimal::ZERO
        }
    }
}

/// The promotion kinds, as type parameters of [`PromotionBuilder`]: each
/// kind's builder has the methods of that kind's fields. These types are
/// never made; they only name a kind.
pub mod kind {
    /// `presale` (预售/定金, [`crate::Promotion::presale`]).
    #[derive(Debug, Clone, Copy)]
    pub enum Presale {}
    /// `price`: a special unit price ([`crate::Promotion::price`]).
    #[derive(Debug, Clone, Copy)]
    pub enum Price {}
    /// `ladder`: percent off by quantity ([`crate::Promotion::ladder`]).
    #[derive(Debug, Clone, Copy)]
    pub enum Ladder {}
    /// `percent_off` ([`crate::Promotion::percent_off`]).
    #[derive(Debug, Clone, Copy)]
    pub enum PercentOff {}
    /// `amount_off` ([`crate::Promotion::amount_off`]).
    #[derive(Debug, Clone, Copy)]
    pub enum AmountOff {}
    /// `full_reduction` (满减, [`crate::Promotion::full_reduction`]).
    #[derive(Debug, Clone, Copy)]
    pub enum FullReduction {}
    /// `full_discount` (满折, [`crate::Promotion::full_discount`]).
    #[derive(Debug, Clone, Copy)]
    pub enum FullDiscount {}
    /// `quantity_discount` (满N件, [`crate::Promotion::quantity_discount`]).
    #[derive(Debug, Clone, Copy)]
    pub enum QuantityDiscount {}
    /// `buy_x_get_y` ([`crate::Promotion::buy_x_get_y`]).
    #[derive(Debug, Clone, Copy)]
    pub enum BuyXGetY {}
    /// `bundle` ([`crate::Promotion::bundle`]).
    #[derive(Debug, Clone, Copy)]
    pub enum Bundle {}
    /// `gift` ([`crate::Promotion::gift`]).
    #[derive(Debug, Clone, Copy)]
    pub enum Gift {}
    /// `free_shipping` ([`crate::Promotion::free_shipping`]).
    #[derive(Debug, Clone, Copy)]
    pub enum FreeShipping {}
}

/// Builds a [`Promotion`] of kind `K` (see the [crate docs](crate#building-rules-in-rust) for
/// how amounts are read and checked). Made by the kind constructors on
/// [`Promotion`]; [`PromotionBuilder::build`] gives the promotion.
///
/// Every method is named after the contract's JSON field it sets, and
/// only a kind with that field has it:
///
/// ```compile_fail
/// use mercato_rules::Promotion;
/// // `cap` is a field of `full_reduction`, not of `price`.
/// let p = Promotion::price("p", "1.00").cap("10.00");
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder makes nothing until `build` is called"]
pub struct PromotionBuilder<K> {
    promotion: Promotion,
    error: Option<RulesError>,
    kind: PhantomData<K>,
}

impl<K> PromotionBuilder<K> {
    pub(crate) fn new(id: String, rule: PromotionRule, error: Option<RulesError>) -> Self {
        PromotionBuilder {
            promotion: Promotion {
                id,
                rule,
                scope: Scope::default(),
                priority: 0,
                exclusive: false,
                window: None,
                stage: None,
                budget: None,
                conditions: None,
            },
            error,
            kind: PhantomData,
        }
    }

    fn read(&mut self, field: &'static str, value: impl IntoAmount) -> Decimal {
        read(&mut self.error, &self.promotion.id, field, value)
    }

    pub(crate) fn rule(&mut self) -> &mut PromotionRule {
        &mut self.promotion.rule
    }

    /// The lines it applies to, replacing what was set (default: all).
    pub fn scope(mut self, scope: Scope) -> Self {
        self.promotion.scope = scope;
        self
    }

    /// Adds SKUs to the scope.
    pub fn skus(mut self, skus: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.promotion.scope = self.promotion.scope.skus(skus);
        self
    }

    /// Adds products (every SKU of each) to the scope.
    pub fn products(mut self, products: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.promotion.scope = self.promotion.scope.products(products);
        self
    }

    /// Adds categories (every SKU in each) to the scope.
    pub fn categories(mut self, categories: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.promotion.scope = self.promotion.scope.categories(categories);
        self
    }

    /// Takes SKUs out of the scope.
    pub fn exclude_skus(mut self, skus: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.promotion.scope = self.promotion.scope.exclude_skus(skus);
        self
    }

    /// Higher runs first (default 0).
    pub fn priority(mut self, priority: i64) -> Self {
        self.promotion.priority = priority;
        self
    }

    /// Applies alone when chosen (see the contract's Stacking; default
    /// `false`).
    pub fn exclusive(mut self, exclusive: bool) -> Self {
        self.promotion.exclusive = exclusive;
        self
    }

    /// Runs from `from` (inclusive) to `to` (exclusive).
    pub fn window(mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        self.promotion.window = Some(Window {
            from: Some(from),
            to: Some(to),
        });
        self
    }

    /// Runs from `from` (inclusive); keeps an end already set.
    pub fn starts_at(mut self, from: DateTime<Utc>) -> Self {
        self.promotion.window.get_or_insert_default().from = Some(from);
        self
    }

    /// Runs until `to` (exclusive); keeps a start already set.
    pub fn ends_at(mut self, to: DateTime<Utc>) -> Self {
        self.promotion.window.get_or_insert_default().to = Some(to);
        self
    }

    /// The stage: `order` for a `percent_off` (default `item`). Other kinds
    /// have a fixed stage (for `amount_off`, `per` decides), so this is
    /// only ever needed for `percent_off`.
    pub fn stage(mut self, stage: PromotionStage) -> Self {
        self.promotion.stage = Some(stage);
        self
    }

    /// Limits the promotion to a customer segment ([`crate::Conditions`]).
    pub fn conditions(mut self, conditions: crate::Conditions) -> Self {
        self.promotion.conditions = Some(conditions);
        self
    }

    /// A campaign budget of a number of live orders.
    pub fn budget_uses(mut self, uses: i64) -> Self {
        self.promotion.budget = Some(Budget::Uses(uses));
        self
    }

    /// A campaign budget of a total discount across live orders.
    pub fn budget_amount(mut self, amount: impl IntoAmount) -> Self {
        let amount = self.read("budget", amount);
        self.promotion.budget = Some(Budget::Amount(amount));
        self
    }

    /// The promotion, checked as far as it can be without the shop's
    /// currency (see the [crate docs](crate#building-rules-in-rust)).
    ///
    /// # Errors
    /// [`RulesError::InvalidAmount`] for text that is not an amount (the
    /// first one given), then [`RulesError::InvalidRule`] or
    /// [`RulesError::TooManyDecimals`] naming the field, as
    /// [`Promotion::validate`] would.
    pub fn build(self) -> Result<Promotion, RulesError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.promotion.check(None, Admit::Input)?;
        Ok(self.promotion)
    }
}

/// [`PromotionBuilder::build`].
impl<K> TryFrom<PromotionBuilder<K>> for Promotion {
    type Error = RulesError;
    fn try_from(b: PromotionBuilder<K>) -> Result<Promotion, RulesError> {
        b.build()
    }
}

/// Constructors, one per kind, with the kind's required fields.
impl Promotion {
    /// `price`: a special unit price (promotion, member or flash-sale
    /// price).
    ///
    /// ```
    /// use mercato_rules::Promotion;
    /// let flash = Promotion::price("flash", "999.00")
    ///     .skus(["phone"])
    ///     .per_customer_limit(1)
    ///     .quota(100)
    ///     .build()
    ///     .unwrap();
    /// # assert_eq!(flash.scope.skus, ["phone"]);
    /// ```
    pub fn price(id: impl Into<String>, price: impl IntoAmount) -> PromotionBuilder<kind::Price> {
        let id = id.into();
        let mut error = None;
        let price = read(&mut error, &id, "price", price);
        let rule = PromotionRule::Price {
            price,
            tier: None,
            per_customer_limit: None,
            quota: None,
        };
        PromotionBuilder::new(id, rule, error)
    }

    /// `ladder`: percent off the unit price by quantity of the product; add
    /// tiers with [`PromotionBuilder::<kind::Ladder>::tier`].
    ///
    /// ```
    /// use mercato_rules::Promotion;
    /// let l = Promotion::ladder("l").tier(2, "10").tier(5, "20").build().unwrap();
    /// # let _ = l;
    /// ```
    pub fn ladder(id: impl Into<String>) -> PromotionBuilder<kind::Ladder> {
        PromotionBuilder::new(id.into(), PromotionRule::Ladder { tiers: Vec::new() }, None)
    }

    /// `percent_off`: percent off the scoped amount (item stage; order stage
    /// with `.stage(PromotionStage::Order)`).
    ///
    /// ```
    /// use mercato_rules::{Promotion, PromotionStage};
    /// let p = Promotion::percent_off("p", "12.5").max_off("20.00").stage(PromotionStage::Order).build().unwrap();
    /// assert_eq!(p.stage(), PromotionStage::Order);
    /// ```
    pub fn percent_off(
        id: impl Into<String>,
        percent: impl IntoAmount,
    ) -> PromotionBuilder<kind::PercentOff> {
        let id = id.into();
        let mut error = None;
        let percent = read(&mut error, &id, "percent", percent);
        let rule = PromotionRule::PercentOff {
            percent,
            max_off: None,
        };
        PromotionBuilder::new(id, rule, error)
    }

    /// `amount_off`: a fixed amount off the order (default), each unit or
    /// each line ([`PromotionBuilder::<kind::AmountOff>::per`]).
    ///
    /// ```
    /// use mercato_rules::{AmountPer, Promotion, PromotionStage};
    /// let p = Promotion::amount_off("a", "3.00").per(AmountPer::Unit).build().unwrap();
    /// assert_eq!(p.stage(), PromotionStage::Item);
    /// ```
    pub fn amount_off(
        id: impl Into<String>,
        amount: impl IntoAmount,
    ) -> PromotionBuilder<kind::AmountOff> {
        let id = id.into();
        let mut error = None;
        let amount = read(&mut error, &id, "amount", amount);
        let rule = PromotionRule::AmountOff {
            amount,
            per: AmountPer::default(),
        };
        PromotionBuilder::new(id, rule, error)
    }

    /// `full_reduction` (满减): spend ≥ threshold, save `off`; add tiers
    /// with [`PromotionBuilder::<kind::FullReduction>::tier`].
    ///
    /// ```
    /// use mercato_rules::{Promotion, ReductionMode};
    /// let m100 = Promotion::full_reduction("m100").tier("100.00", "15.00").build().unwrap();
    /// // 每满 100 减 10, at most 30.00:
    /// let every = Promotion::full_reduction("every100")
    ///     .tier("100.00", "10.00")
    ///     .mode(ReductionMode::Repeat)
    ///     .cap("30.00")
    ///     .build()
    ///     .unwrap();
    /// # let _ = (m100, every);
    /// ```
    pub fn full_reduction(id: impl Into<String>) -> PromotionBuilder<kind::FullReduction> {
        let rule = PromotionRule::FullReduction {
            tiers: Vec::new(),
            mode: ReductionMode::default(),
            cap: None,
        };
        PromotionBuilder::new(id.into(), rule, None)
    }

    /// `full_discount` (满折): spend ≥ threshold, percent off; add tiers
    /// with [`PromotionBuilder::<kind::FullDiscount>::tier`].
    pub fn full_discount(id: impl Into<String>) -> PromotionBuilder<kind::FullDiscount> {
        PromotionBuilder::new(
            id.into(),
            PromotionRule::FullDiscount { tiers: Vec::new() },
            None,
        )
    }

    /// `quantity_discount` (满N件): by the scoped item count; add tiers
    /// with [`PromotionBuilder::<kind::QuantityDiscount>::tier_percent`]
    /// or [`PromotionBuilder::<kind::QuantityDiscount>::tier_off`].
    pub fn quantity_discount(id: impl Into<String>) -> PromotionBuilder<kind::QuantityDiscount> {
        PromotionBuilder::new(
            id.into(),
            PromotionRule::QuantityDiscount { tiers: Vec::new() },
            None,
        )
    }

    /// `buy_x_get_y`: for each `buy_qty` qualifying units, `get_qty` get
    /// units free (or [`get_percent`](PromotionBuilder::<kind::BuyXGetY>::get_percent)
    /// off). Both sides default to the promotion's scope.
    ///
    /// ```
    /// use mercato_rules::{Promotion, Scope};
    /// // Buy 2 tea, get 1 cup half price, once.
    /// let p = Promotion::buy_x_get_y("tea-cup", 2, 1)
    ///     .buy_scope(Scope::new().categories(["tea"]))
    ///     .get_scope(Scope::new().skus(["cup"]))
    ///     .get_percent("50")
    ///     .repeat(false)
    ///     .build()
    ///     .unwrap();
    /// # let _ = p;
    /// ```
    pub fn buy_x_get_y(
        id: impl Into<String>,
        buy_qty: i64,
        get_qty: i64,
    ) -> PromotionBuilder<kind::BuyXGetY> {
        let rule = PromotionRule::BuyXGetY {
            buy: BuySide {
                scope: None,
                qty: buy_qty,
            },
            get: GetSide {
                scope: None,
                qty: get_qty,
                percent: Decimal::ONE_HUNDRED,
            },
            repeat: true,
        };
        PromotionBuilder::new(id.into(), rule, None)
    }

    /// `bundle`: each complete set sold at `price`; add the set's SKUs with
    /// [`PromotionBuilder::<kind::Bundle>::item`].
    ///
    /// ```
    /// use mercato_rules::Promotion;
    /// let set = Promotion::bundle("set", "110.00").item("a", 1).item("c", 2).build().unwrap();
    /// # let _ = set;
    /// ```
    pub fn bundle(id: impl Into<String>, price: impl IntoAmount) -> PromotionBuilder<kind::Bundle> {
        let id = id.into();
        let mut error = None;
        let price = read(&mut error, &id, "price", price);
        let rule = PromotionRule::Bundle {
            items: Vec::new(),
            price,
        };
        PromotionBuilder::new(id, rule, error)
    }

    /// `gift`: from a scoped subtotal of `threshold`, one unit of
    /// `gift_sku` (more with [`PromotionBuilder::<kind::Gift>::gift_qty`]).
    ///
    /// ```
    /// use mercato_rules::Promotion;
    /// let g = Promotion::gift("mug", "90.00", "celadon-mug").categories(["tea"]).build().unwrap();
    /// # let _ = g;
    /// ```
    pub fn gift(
        id: impl Into<String>,
        threshold: impl IntoAmount,
        gift_sku: impl Into<String>,
    ) -> PromotionBuilder<kind::Gift> {
        let id = id.into();
        let mut error = None;
        let threshold = read(&mut error, &id, "threshold", threshold);
        let rule = PromotionRule::Gift {
            threshold,
            gift: GiftItem {
                sku: gift_sku.into(),
                qty: 1,
            },
        };
        PromotionBuilder::new(id, rule, error)
    }

    /// `free_shipping`: waives the fee (from a goods threshold with
    /// [`PromotionBuilder::<kind::FreeShipping>::threshold`]).
    pub fn free_shipping(id: impl Into<String>) -> PromotionBuilder<kind::FreeShipping> {
        PromotionBuilder::new(
            id.into(),
            PromotionRule::FreeShipping { threshold: None },
            None,
        )
    }
}

impl PromotionBuilder<kind::Price> {
    /// Only customers of this tier (a member price).
    pub fn tier(mut self, customer_tier: impl Into<String>) -> Self {
        if let PromotionRule::Price { tier, .. } = self.rule() {
            *tier = Some(customer_tier.into());
        }
        self
    }

    /// Units per customer over all their live orders.
    pub fn per_customer_limit(mut self, units: i64) -> Self {
        if let PromotionRule::Price {
            per_customer_limit, ..
        } = self.rule()
        {
            *per_customer_limit = Some(units);
        }
        self
    }

    /// Units over all live orders.
    pub fn quota(mut self, units: i64) -> Self {
        if let PromotionRule::Price { quota, .. } = self.rule() {
            *quota = Some(units);
        }
        self
    }
}

impl PromotionBuilder<kind::Ladder> {
    /// A tier: `percent` off the unit price from `min_qty` units of the
    /// product (tiers ascending).
    pub fn tier(mut self, min_qty: i64, percent: impl IntoAmount) -> Self {
        let percent = self.read("tiers", percent);
        if let PromotionRule::Ladder { tiers } = self.rule() {
            tiers.push(LadderTier { min_qty, percent });
        }
        self
    }
}

impl PromotionBuilder<kind::PercentOff> {
    /// Caps the promotion as a whole.
    pub fn max_off(mut self, amount: impl IntoAmount) -> Self {
        let amount = self.read("max_off", amount);
        if let PromotionRule::PercentOff { max_off, .. } = self.rule() {
            *max_off = Some(amount);
        }
        self
    }
}

impl PromotionBuilder<kind::AmountOff> {
    /// What the amount is taken off: each unit, each line, or the order
    /// (default); it decides the stage.
    pub fn per(mut self, per: AmountPer) -> Self {
        if let PromotionRule::AmountOff { per: p, .. } = self.rule() {
            *p = per;
        }
        self
    }
}

impl PromotionBuilder<kind::FullReduction> {
    /// A tier: `off` from a scoped subtotal of `threshold` (tiers
    /// ascending).
    pub fn tier(mut self, threshold: impl IntoAmount, off: impl IntoAmount) -> Self {
        let threshold = self.read("tiers", threshold);
        let off = self.read("tiers", off);
        if let PromotionRule::FullReduction { tiers, .. } = self.rule() {
            tiers.push(ReductionTier { threshold, off });
        }
        self
    }

    /// The highest tier met, once (default), or `off` for every whole
    /// multiple of the one tier's threshold (每满).
    pub fn mode(mut self, mode: ReductionMode) -> Self {
        if let PromotionRule::FullReduction { mode: m, .. } = self.rule() {
            *m = mode;
        }
        self
    }

    /// Caps a `repeat` reduction.
    pub fn cap(mut self, amount: impl IntoAmount) -> Self {
        let amount = self.read("cap", amount);
        if let PromotionRule::FullReduction { cap, .. } = self.rule() {
            *cap = Some(amount);
        }
        self
    }
}

impl PromotionBuilder<kind::FullDiscount> {
    /// A tier: `percent` off from a scoped subtotal of `threshold` (tiers
    /// ascending).
    pub fn tier(mut self, threshold: impl IntoAmount, percent: impl IntoAmount) -> Self {
        let threshold = self.read("tiers", threshold);
        let percent = self.read("tiers", percent);
        if let PromotionRule::FullDiscount { tiers } = self.rule() {
            tiers.push(DiscountTier { threshold, percent });
        }
        self
    }
}

impl PromotionBuilder<kind::QuantityDiscount> {
    /// A tier: `percent` off the scoped subtotal from `min_qty` scoped
    /// units (tiers ascending).
    pub fn tier_percent(mut self, min_qty: i64, percent: impl IntoAmount) -> Self {
        let percent = self.read("tiers", percent);
        if let PromotionRule::QuantityDiscount { tiers } = self.rule() {
            tiers.push(QuantityTier {
                min_qty,
                percent: Some(percent),
                off: None,
            });
        }
        self
    }

    /// A tier: `off` the scoped subtotal from `min_qty` scoped units (tiers
    /// ascending).
    pub fn tier_off(mut self, min_qty: i64, off: impl IntoAmount) -> Self {
        let off = self.read("tiers", off);
        if let PromotionRule::QuantityDiscount { tiers } = self.rule() {
            tiers.push(QuantityTier {
                min_qty,
                percent: None,
                off: Some(off),
            });
        }
        self
    }
}

impl PromotionBuilder<kind::BuyXGetY> {
    /// The units that qualify (default: the promotion's scope).
    pub fn buy_scope(mut self, scope: Scope) -> Self {
        if let PromotionRule::BuyXGetY { buy, .. } = self.rule() {
            buy.scope = Some(scope);
        }
        self
    }

    /// The units that may be discounted (default: the buy scope).
    pub fn get_scope(mut self, scope: Scope) -> Self {
        if let PromotionRule::BuyXGetY { get, .. } = self.rule() {
            get.scope = Some(scope);
        }
        self
    }

    /// Percent off the get units (default 100: free).
    pub fn get_percent(mut self, percent: impl IntoAmount) -> Self {
        let percent = self.read("get", percent);
        if let PromotionRule::BuyXGetY { get, .. } = self.rule() {
            get.percent = percent;
        }
        self
    }

    /// Every whole set (default `true`) or one set only.
    pub fn repeat(mut self, repeat: bool) -> Self {
        if let PromotionRule::BuyXGetY { repeat: r, .. } = self.rule() {
            *r = repeat;
        }
        self
    }
}

impl PromotionBuilder<kind::Bundle> {
    /// `qty` units of `sku` per set.
    pub fn item(mut self, sku: impl Into<String>, qty: i64) -> Self {
        if let PromotionRule::Bundle { items, .. } = self.rule() {
            items.push(BundleItem {
                sku: sku.into(),
                qty,
            });
        }
        self
    }
}

impl PromotionBuilder<kind::Gift> {
    /// Units of the gift given (default 1).
    pub fn gift_qty(mut self, qty: i64) -> Self {
        if let PromotionRule::Gift { gift, .. } = self.rule() {
            gift.qty = qty;
        }
        self
    }
}

impl PromotionBuilder<kind::FreeShipping> {
    /// Goods payable needed (default: none, always free).
    pub fn threshold(mut self, amount: impl IntoAmount) -> Self {
        let amount = self.read("threshold", amount);
        if let PromotionRule::FreeShipping { threshold } = self.rule() {
            *threshold = Some(amount);
        }
        self
    }
}

/// Builds a [`Coupon`] (see the [crate docs](crate#building-rules-in-rust) for how amounts are
/// read and checked). Made by [`Coupon::amount_off`] and
/// [`Coupon::percent_off`]; [`CouponBuilder::build`] gives the coupon.
/// Unset fields take the contract's defaults: every line, group
/// `"default"`, always valid, public, unlimited uses, one use per
/// customer.
///
/// ```
/// use mercato_rules::Coupon;
/// let c = Coupon::percent_off("TEA15", "15")
///     .max_off("30.00")
///     .categories(["tea"])
///     .group("platform")
///     .usage_limit(1000)
///     .per_customer_limit(None) // unlimited
///     .build()
///     .unwrap();
/// assert_eq!(c.per_customer_limit, None);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder makes nothing until `build` is called"]
pub struct CouponBuilder {
    coupon: Coupon,
    error: Option<RulesError>,
}

impl Coupon {
    fn start(code: String, kind: CouponKind) -> CouponBuilder {
        CouponBuilder {
            coupon: Coupon {
                code,
                kind,
                amount: None,
                threshold: None,
                percent: None,
                max_off: None,
                scope: Scope::default(),
                group: "default".to_string(),
                window: None,
                owner: None,
                usage_limit: None,
                per_customer_limit: Some(1),
                conditions: None,
            },
            error: None,
        }
    }

    /// An `amount_off` coupon: `amount` off (满减券 with a
    /// [`threshold`](CouponBuilder::threshold), 无门槛 without).
    pub fn amount_off(code: impl Into<String>, amount: impl IntoAmount) -> CouponBuilder {
        let mut b = Coupon::start(code.into(), CouponKind::AmountOff);
        let amount = b.read("amount", amount);
        b.coupon.amount = Some(amount);
        b
    }

    /// A `percent_off` coupon (折扣券): `percent` off, rounded, then capped
    /// by [`max_off`](CouponBuilder::max_off).
    pub fn percent_off(code: impl Into<String>, percent: impl IntoAmount) -> CouponBuilder {
        let mut b = Coupon::start(code.into(), CouponKind::PercentOff);
        let percent = b.read("percent", percent);
        b.coupon.percent = Some(percent);
        b
    }
}

impl CouponBuilder {
    fn read(&mut self, field: &'static str, value: impl IntoAmount) -> Decimal {
        read(&mut self.error, &self.coupon.code, field, value)
    }

    /// The scoped subtotal needed.
    pub fn threshold(mut self, amount: impl IntoAmount) -> Self {
        self.coupon.threshold = Some(self.read("threshold", amount));
        self
    }

    /// Caps a `percent_off` coupon.
    pub fn max_off(mut self, amount: impl IntoAmount) -> Self {
        self.coupon.max_off = Some(self.read("max_off", amount));
        self
    }

    /// The lines it applies to, replacing what was set (default: all).
    pub fn scope(mut self, scope: Scope) -> Self {
        self.coupon.scope = scope;
        self
    }

    /// Adds SKUs to the scope.
    pub fn skus(mut self, skus: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.coupon.scope = self.coupon.scope.skus(skus);
        self
    }

    /// Adds products (every SKU of each) to the scope.
    pub fn products(mut self, products: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.coupon.scope = self.coupon.scope.products(products);
        self
    }

    /// Adds categories (every SKU in each) to the scope.
    pub fn categories(mut self, categories: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.coupon.scope = self.coupon.scope.categories(categories);
        self
    }

    /// Takes SKUs out of the scope.
    pub fn exclude_skus(mut self, skus: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.coupon.scope = self.coupon.scope.exclude_skus(skus);
        self
    }

    /// The coupon group (default `"default"`): at most
    /// `max_coupons_per_group` coupons of one group per order.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.coupon.group = group.into();
        self
    }

    /// Limits the coupon to a customer segment ([`crate::Conditions`]).
    pub fn conditions(mut self, conditions: crate::Conditions) -> Self {
        self.coupon.conditions = Some(conditions);
        self
    }

    /// Usable from `from` to `to` (exclusive).
    pub fn window(mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        self.coupon.window = Some(Window {
            from: Some(from),
            to: Some(to),
        });
        self
    }

    /// Usable from `from` (inclusive); keeps an end already set.
    pub fn starts_at(mut self, from: DateTime<Utc>) -> Self {
        self.coupon.window.get_or_insert_default().from = Some(from);
        self
    }

    /// Usable until `to` (exclusive); keeps a start already set.
    pub fn ends_at(mut self, to: DateTime<Utc>) -> Self {
        self.coupon.window.get_or_insert_default().to = Some(to);
        self
    }

    /// The customer it belongs to (default: public).
    pub fn owner(mut self, customer: impl Into<String>) -> Self {
        self.coupon.owner = Some(customer.into());
        self
    }

    /// Uses over all live orders; `None`: unlimited (the default).
    pub fn usage_limit(mut self, uses: impl Into<Option<i64>>) -> Self {
        self.coupon.usage_limit = uses.into();
        self
    }

    /// Uses per customer (default 1); `None`: unlimited.
    pub fn per_customer_limit(mut self, uses: impl Into<Option<i64>>) -> Self {
        self.coupon.per_customer_limit = uses.into();
        self
    }

    /// The coupon, checked as far as it can be without the shop's
    /// currency (see the [crate docs](crate#building-rules-in-rust)).
    ///
    /// # Errors
    /// [`RulesError::InvalidAmount`] for text that is not an amount (the
    /// first one given), then [`RulesError::InvalidRule`] or
    /// [`RulesError::TooManyDecimals`] naming the field, as
    /// [`Coupon::validate`] would.
    pub fn build(self) -> Result<Coupon, RulesError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.coupon.check(None, Admit::Input)?;
        Ok(self.coupon)
    }
}

/// [`CouponBuilder::build`].
impl TryFrom<CouponBuilder> for Coupon {
    type Error = RulesError;
    fn try_from(b: CouponBuilder) -> Result<Coupon, RulesError> {
        b.build()
    }
}

impl CatalogItem {
    /// A SKU at a list price, its own product, in no category (set them
    /// with [`CatalogItem::product`] and [`CatalogItem::category`]).
    ///
    /// ```
    /// use mercato_rules::CatalogItem;
    /// let tea = CatalogItem::new("longjing-250g", "45.00")?.product("longjing").category("tea");
    /// assert_eq!(tea, serde_json::from_str(
    ///     r#"{"sku": "longjing-250g", "product": "longjing", "category": "tea", "price": "45.00"}"#).unwrap());
    /// assert!(CatalogItem::new("x", "4e1").is_err());
    /// # Ok::<(), mercato_rules::RulesError>(())
    /// ```
    ///
    /// # Errors
    /// [`RulesError::InvalidCatalogItem`] (contract code `invalid_input`)
    /// for an empty SKU, a price that is not an amount, or a negative
    /// price. Its digits are counted against the shop's currency when it
    /// is added (`RuleSet::add_item`) or validated.
    pub fn new(sku: impl Into<String>, price: impl IntoAmount) -> Result<CatalogItem, RulesError> {
        let sku = sku.into();
        let price = price
            .into_amount()
            .map_err(|e| RulesError::InvalidCatalogItem {
                sku: sku.clone(),
                problem: format!("price {e}"),
            })?;
        let item = CatalogItem {
            product: sku.clone(),
            sku,
            category: None,
            price,
        };
        item.check(None, Admit::Input)?;
        Ok(item)
    }

    /// The product the SKU belongs to (default: the SKU itself).
    #[must_use]
    pub fn product(mut self, product: impl Into<String>) -> Self {
        self.product = product.into();
        self
    }

    /// The category.
    #[must_use]
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }
}
