//! [`Settings`]: the contract's `settings` object, split into what pricing
//! needs ([`PricingSettings`]), what the core state machine needs
//! ([`ShopConfig`]) and what only the engine uses (refund policy, review).

use mercato_core::money::amount_str;
use mercato_core::shop::{ShopConfig, StockCommit};
use mercato_rules::PricingSettings;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How returns are refunded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundPolicy {
    /// The returned units' nets.
    #[default]
    ProRata,
    /// Claw back discounts the kept units no longer earn.
    Reprice,
}

/// The `max_orders` review rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxOrders {
    /// More live orders than this within the window put the order on hold.
    pub count: i64,
    /// The window in minutes.
    pub minutes: i64,
}

/// The contract's review rules (`settings.review`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    /// Hold orders whose payable is above this.
    #[serde(default, with = "amount_str::option")]
    pub max_payable: Option<Decimal>,
    /// Hold orders with a line above this quantity.
    #[serde(default)]
    pub max_qty: Option<i64>,
    /// Hold a customer's orders beyond this many in a window.
    #[serde(default)]
    pub max_orders: Option<MaxOrders>,
}

/// Every setting of a shop, in the contract's shape; every field optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Pricing: rounding, selection, coupons per group, points, shipping.
    #[serde(flatten)]
    pub pricing: PricingSettings,
    /// Minutes an order may stay unpaid (default 30).
    #[serde(default = "default_timeout")]
    pub payment_timeout_minutes: i64,
    /// When stock is committed (default on payment).
    #[serde(default)]
    pub stock_commit: StockCommit,
    /// How returns are refunded (default pro rata).
    #[serde(default)]
    pub refund_policy: RefundPolicy,
    /// Days after delivery an order completes by itself (default 7).
    #[serde(default = "default_auto_complete")]
    pub auto_complete_days: i64,
    /// Review hold rules (default none).
    #[serde(default)]
    pub review: Option<ReviewSettings>,
}

fn default_timeout() -> i64 {
    30
}

fn default_auto_complete() -> i64 {
    7
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pricing: PricingSettings::default(),
            payment_timeout_minutes: default_timeout(),
            stock_commit: StockCommit::default(),
            refund_policy: RefundPolicy::default(),
            auto_complete_days: default_auto_complete(),
            review: None,
        }
    }
}

impl Settings {
    /// The part the core state machine reads.
    pub fn shop_config(&self) -> ShopConfig {
        ShopConfig {
            payment_timeout_minutes: self.payment_timeout_minutes,
            stock_commit: self.stock_commit,
            auto_complete_days: self.auto_complete_days,
        }
    }
}
