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
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod best;
mod cart;
mod catalog;
mod context;
mod contract_json;
mod coupon;
mod error;
mod minor;
mod pipeline;
mod promotion;
mod refund;
mod ruleset;
mod scope;
mod scope_index;
mod settings;

pub use best::{BestCoupons, best_coupons, usable_coupons};
pub use cart::{Cart, CartLine};
pub use catalog::CatalogItem;
pub use context::{BudgetSpent, CustomerFacts, CustomerView, PricingContext, ShopFacts, ShopView};
pub use contract_json::{best_coupons_to_contract_json, quote_to_contract_json};
pub use coupon::{Coupon, CouponKind};
pub use error::RulesError;
pub use minor::{MAX_AMOUNT_MINOR, MAX_QTY};
pub use pipeline::price;
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
