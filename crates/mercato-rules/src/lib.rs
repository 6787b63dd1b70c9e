//! # mercato-rules
//!
//! The promotion and pricing pipeline of mercato. Rules are plain serde
//! data in the scenario contract's JSON shape ([`CatalogItem`],
//! [`Promotion`], [`Coupon`], [`PricingSettings`]), validated into a
//! [`RuleSet`]; [`price`] turns a [`Cart`] into a
//! [`mercato_core::Quote`] through the six stages (unit, item, order,
//! coupon, points, shipping); [`best_coupons`] finds the customer's best
//! coupon combination exactly; [`reprice_clawback`] computes what a
//! partial return claws back under `refund_policy: "reprice"`.
//!
//! Everything is pure: the time, the customers, usage counters, budgets
//! and stock come in through a [`PricingContext`]. All money is exact
//! (`Decimal` outside, integer minor units inside); rounding happens only
//! where the contract says, with the configured strategy.
//!
//! # Building rules in Rust
//!
//! Rust code need not write rule JSON:
//! [`Promotion::full_reduction`] and the other kind constructors give a
//! [`PromotionBuilder`], [`Coupon::amount_off`] and
//! [`Coupon::percent_off`] a [`CouponBuilder`]; [`CatalogItem::new`] gives
//! the item itself.
//!
//! ```
//! use mercato_rules::{Coupon, Promotion};
//! # fn main() -> Result<(), mercato_rules::RulesError> {
//! let m100 = Promotion::full_reduction("m100").tier("100.00", "15.00").build()?;
//! let welcome = Coupon::amount_off("WELCOME10", "10.00")
//!     .threshold("100.00")
//!     .owner("alice")
//!     .build()?;
//! // The same values serde reads from the contract's JSON.
//! assert_eq!(m100, serde_json::from_str(
//!     r#"{"id": "m100", "kind": "full_reduction", "tiers": [{"threshold": "100.00", "off": "15.00"}]}"#,
//! ).unwrap());
//! assert_eq!(welcome, serde_json::from_str(
//!     r#"{"code": "WELCOME10", "kind": "amount_off", "amount": "10.00", "threshold": "100.00", "owner": "alice"}"#,
//! ).unwrap());
//! # Ok(()) }
//! ```
//!
//! ## Amounts: text, read exactly, checked in two places
//!
//! Builder methods take an amount or a percent as [`IntoAmount`]: text in
//! the strict amount grammar (`"100.00"`, see
//! [`mercato_core::money::parse_amount`]), a
//! [`Decimal`](rust_decimal::Decimal), or an integer.
//! Text keeps the digits written, so `"15.00"` builds exactly what the JSON
//! `"15.00"` reads, and serializes back to it.
//!
//! A builder cannot know the shop's currency, and nothing here panics on
//! input, so a value is refused in one of two places, always with the
//! typed error a rule read from JSON gets:
//!
//! 1. **`build()`**. Text that is not an amount (`"1e3"`, `" 10"`) is
//!    remembered by the method it was given to, and `build` answers the
//!    first such error, [`RulesError::InvalidAmount`] (contract code
//!    `invalid_input`, like a malformed amount in JSON). `build` then runs
//!    every check that needs no currency — ascending tiers, percents within
//!    0-100 with at most 4 decimals, quantities ≥ 1, amounts not negative,
//!    a window that ends after it starts, `repeat` with one tier, a
//!    non-empty bundle, a `stage` that fits the kind —
//!    [`RulesError::InvalidRule`] (`invalid_rule`) or
//!    [`RulesError::TooManyDecimals`] for a percent (`invalid_input`).
//! 2. **Where the rule meets the shop**: [`RuleSet::add_promotion`] (and
//!    the engine's `add_promotion`), [`Promotion::validate`] with the
//!    currency.
//!    There the digits are counted against the currency (`"10.001"` is not
//!    a CNY amount: `TooManyDecimals`), the upper bound applies, and the
//!    rule set checks what needs the other rules (a duplicate id, a gift
//!    SKU missing from the catalog).
//!
//! So a value is refused as early as it can be known to be wrong, and
//! never later than when it is added.
//!
//! A rule's kind is part of its builder's type ([`kind`]): a full
//! reduction has `tier(threshold, off)`, a ladder `tier(min_qty, percent)`,
//! a price `tier(customer_tier)`, and a method of another kind does not
//! compile. `Promotion: TryFrom<PromotionBuilder<_>>` and `Coupon:
//! TryFrom<CouponBuilder>` are `build`, for code generic over
//! `TryInto<Promotion>`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod best;
mod build;
mod cart;
mod catalog;
mod changes;
mod conditions;
mod context;
mod contract_json;
mod coupon;
mod error;
mod minor;
mod pipeline;
mod presale;
mod promotion;
mod refund;
mod ruleset;
mod scope;
mod scope_index;
mod settings;

pub use best::{BestCoupons, best_coupons, usable_coupons};
pub use build::{CouponBuilder, IntoAmount, PromotionBuilder, kind};
pub use cart::{Cart, CartLine};
pub use catalog::CatalogItem;
pub use changes::{ItemChange, Lifecycle, PriceChange, PromotionState, SellableChange};
pub use conditions::Conditions;
pub use context::{BudgetSpent, CustomerFacts, CustomerView, PricingContext, ShopFacts, ShopView};
pub use contract_json::{best_coupons_to_contract_json, quote_to_contract_json};
pub use coupon::{Coupon, CouponKind};
pub use error::RulesError;
pub use minor::{MAX_AMOUNT_MINOR, MAX_QTY};
pub use pipeline::price;
pub use presale::{PresaleOffer, Span, presale_quote};
pub use promotion::{
    AmountPer, Budget, BundleItem, BuySide, DiscountTier, GetSide, GiftItem, LadderTier, Promotion,
    PromotionRule, PromotionStage, QuantityTier, ReductionMode, ReductionTier,
};
pub use refund::{kept_units_net, reprice_clawback, unit_shares_sum};
pub use ruleset::RuleSet;
pub use scope::{Scope, Window};
pub use settings::{
    MAX_COUPONS_PER_GROUP, MAX_POINTS_PER_UNIT, PointsSettings, PricingSettings, Selection,
    ShippingSettings,
};
