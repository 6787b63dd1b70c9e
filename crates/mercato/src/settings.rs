//! [`Settings`]: the contract's `settings` object, split into what pricing
//! needs ([`PricingSettings`]), what the core state machine needs
//! ([`ShopConfig`]) and what only the engine uses (refund policy, review).
//! [`Settings::validate`] holds the allowed range of every number in it.

use mercato_core::aftersale::AfterSaleConfig;
use mercato_core::money::{Currency, Money, amount_str};
use mercato_core::shop::{ShopConfig, StockCommit};
use mercato_rules::{MAX_AMOUNT_MINOR, MAX_QTY, PricingSettings};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::EngineError;

/// The longest `payment_timeout_minutes`: 30 days.
pub const MAX_PAYMENT_TIMEOUT_MINUTES: i64 = 30 * 24 * 60;

/// The longest `auto_complete_days`: ten years.
pub const MAX_AUTO_COMPLETE_DAYS: i64 = 3_650;

/// The longest `review.max_orders.minutes` window: 365 days.
pub const MAX_REVIEW_WINDOW_MINUTES: i64 = 365 * 24 * 60;

/// The largest `review.max_orders.count`.
pub const MAX_REVIEW_ORDERS: i64 = 1_000_000;

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
#[serde(deny_unknown_fields)]
pub struct MaxOrders {
    /// More live orders than this within the window put the order on hold.
    pub count: i64,
    /// The window in minutes.
    pub minutes: i64,
}

/// The contract's review rules (`settings.review`); the ranges of their
/// numbers are in [`Settings::validate`].
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
/// [`Settings::validate`] gives the range of every number. Unknown fields
/// are refused (a misspelt `payment_timout_minutes` is an error, not a
/// default):
///
/// ```
/// let err = serde_json::from_str::<mercato::Settings>(r#"{"payment_timout_minutes": 5}"#);
/// assert!(err.unwrap_err().to_string().contains("payment_timout_minutes"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// After-sale windows, shipping refund policy and refund allocation
    /// (default: no windows, shipping never refunded, most recent payment
    /// first). Written only when not the default, so settings without it
    /// keep their JSON.
    #[serde(default, skip_serializing_if = "is_default_after_sale")]
    pub after_sale: AfterSaleConfig,
    /// How orders earn points (default: they earn none). Written only when
    /// set, so settings without it keep their JSON.
    #[serde(default, skip_serializing_if = "earning_is_default")]
    pub points_earning: mercato_core::points::EarningRules,
}

fn earning_is_default(r: &mercato_core::points::EarningRules) -> bool {
    *r == mercato_core::points::EarningRules::default()
}

fn is_default_after_sale(a: &AfterSaleConfig) -> bool {
    *a == AfterSaleConfig::default()
}

/// The longest after-sale window in days (`request_window_days`,
/// `return_ship_days`): ten years.
pub const MAX_AFTER_SALE_DAYS: i64 = 3_650;

/// The longest `after_sale.auto_approve_hours`: one year.
pub const MAX_AUTO_APPROVE_HOURS: i64 = 365 * 24;

fn default_timeout() -> i64 {
    30
}

fn default_auto_complete() -> i64 {
    7
}

/// The wire form of [`Settings`]: every field of the contract's `settings`
/// object, the pricing ones included, so that unknown fields can be
/// refused (`deny_unknown_fields` does not work through `flatten`). A test
/// round-trips `Settings` through it, so a field added to either struct
/// without the other fails.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsWire {
    #[serde(default)]
    rounding: mercato_core::Rounding,
    #[serde(default)]
    selection: mercato_rules::Selection,
    #[serde(default = "default_per_group")]
    max_coupons_per_group: i64,
    #[serde(default)]
    points: mercato_rules::PointsSettings,
    #[serde(default)]
    shipping: mercato_rules::ShippingSettings,
    #[serde(default = "default_timeout")]
    payment_timeout_minutes: i64,
    #[serde(default)]
    stock_commit: StockCommit,
    #[serde(default)]
    refund_policy: RefundPolicy,
    #[serde(default = "default_auto_complete")]
    auto_complete_days: i64,
    #[serde(default)]
    review: Option<ReviewSettings>,
    #[serde(default)]
    after_sale: AfterSaleConfig,
    #[serde(default)]
    points_earning: mercato_core::points::EarningRules,
}

fn default_per_group() -> i64 {
    PricingSettings::default().max_coupons_per_group
}

impl<'de> Deserialize<'de> for Settings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = SettingsWire::deserialize(d)?;
        Ok(Settings {
            pricing: PricingSettings {
                rounding: w.rounding,
                selection: w.selection,
                max_coupons_per_group: w.max_coupons_per_group,
                points: w.points,
                shipping: w.shipping,
            },
            payment_timeout_minutes: w.payment_timeout_minutes,
            stock_commit: w.stock_commit,
            refund_policy: w.refund_policy,
            auto_complete_days: w.auto_complete_days,
            review: w.review,
            after_sale: w.after_sale,
            points_earning: w.points_earning,
        })
    }
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
            after_sale: AfterSaleConfig::default(),
            points_earning: mercato_core::points::EarningRules::default(),
        }
    }
}

impl Settings {
    /// Checks every number against its allowed range; `configure` and
    /// `update_settings` call this and store nothing when it fails.
    ///
    /// | setting | allowed |
    /// |---|---|
    /// | `payment_timeout_minutes` | 1 ..= [`MAX_PAYMENT_TIMEOUT_MINUTES`] (43 200, 30 days) |
    /// | `auto_complete_days` | 0 ..= [`MAX_AUTO_COMPLETE_DAYS`] (3 650, ten years) |
    /// | `review.max_payable` | an amount in `currency`: not negative, at most its minor digits as written, at most [`MAX_AMOUNT_MINOR`] minor units |
    /// | `review.max_qty` | 1 ..= [`MAX_QTY`] (10⁹) |
    /// | `review.max_orders.count` | 1 ..= [`MAX_REVIEW_ORDERS`] (10⁶) |
    /// | `review.max_orders.minutes` | 1 ..= [`MAX_REVIEW_WINDOW_MINUTES`] (525 600, 365 days) |
    /// | `after_sale.request_window_days`, `after_sale.return_ship_days` | 0 ..= [`MAX_AFTER_SALE_DAYS`] (3 650) |
    /// | `after_sale.auto_approve_hours` | 0 ..= [`MAX_AUTO_APPROVE_HOURS`] (8 760) |
    /// | `after_sale.exchange_payment_hours` | 1 ..= [`MAX_AUTO_APPROVE_HOURS`] (8 760) |
    /// | pricing settings | see [`PricingSettings::validate`] |
    ///
    /// A log written before these checks may hold values outside them; the
    /// engine opens it and never panics on them (see
    /// [`mercato_core::ShopConfig`] for what the timers do then).
    ///
    /// ```
    /// use mercato::{Settings, EngineError};
    /// use mercato::core::Currency;
    /// let mut s = Settings::default();
    /// assert!(s.validate(Currency::CNY).is_ok());
    /// s.payment_timeout_minutes = i64::MAX;
    /// let e = s.validate(Currency::CNY).unwrap_err();
    /// assert!(matches!(e, EngineError::InvalidSettings { field: "payment_timeout_minutes", .. }));
    /// assert_eq!(e.code(), "invalid_input");
    /// ```
    ///
    /// # Errors
    /// [`EngineError::InvalidSettings`] naming the first setting out of
    /// range, or [`EngineError::Rules`] for a pricing setting.
    pub fn validate(&self, currency: Currency) -> Result<(), EngineError> {
        self.pricing.validate(currency)?;
        in_range(
            "payment_timeout_minutes",
            self.payment_timeout_minutes,
            1,
            MAX_PAYMENT_TIMEOUT_MINUTES,
        )?;
        in_range(
            "auto_complete_days",
            self.auto_complete_days,
            0,
            MAX_AUTO_COMPLETE_DAYS,
        )?;
        let a = &self.after_sale;
        for (field, v, max) in [
            (
                "after_sale.request_window_days",
                a.request_window_days,
                MAX_AFTER_SALE_DAYS,
            ),
            (
                "after_sale.auto_approve_hours",
                a.auto_approve_hours,
                MAX_AUTO_APPROVE_HOURS,
            ),
            (
                "after_sale.return_ship_days",
                a.return_ship_days,
                MAX_AFTER_SALE_DAYS,
            ),
        ] {
            if let Some(v) = v {
                in_range(field, v, 0, max)?;
            }
        }
        if let Some(h) = a.exchange_payment_hours {
            in_range(
                "after_sale.exchange_payment_hours",
                h,
                1,
                MAX_AUTO_APPROVE_HOURS,
            )?;
        }
        self.points_earning
            .validate()
            .map_err(|(field, problem)| EngineError::InvalidSettings { field, problem })?;
        let Some(review) = &self.review else {
            return Ok(());
        };
        if let Some(max) = review.max_payable {
            check_amount("review.max_payable", max, currency)?;
        }
        if let Some(q) = review.max_qty {
            in_range("review.max_qty", q, 1, MAX_QTY)?;
        }
        if let Some(m) = review.max_orders {
            in_range("review.max_orders.count", m.count, 1, MAX_REVIEW_ORDERS)?;
            in_range(
                "review.max_orders.minutes",
                m.minutes,
                1,
                MAX_REVIEW_WINDOW_MINUTES,
            )?;
        }
        Ok(())
    }

    /// The part the core state machine reads.
    pub fn shop_config(&self) -> ShopConfig {
        ShopConfig {
            payment_timeout_minutes: self.payment_timeout_minutes,
            stock_commit: self.stock_commit,
            auto_complete_days: self.auto_complete_days,
            after_sale: self.after_sale,
        }
    }
}

fn in_range(field: &'static str, v: i64, min: i64, max: i64) -> Result<(), EngineError> {
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(EngineError::InvalidSettings {
            field,
            problem: format!("{v} is outside {min}..={max}"),
        })
    }
}

fn check_amount(field: &'static str, d: Decimal, currency: Currency) -> Result<(), EngineError> {
    let invalid = |problem: String| EngineError::InvalidSettings { field, problem };
    let m = Money::new(d, currency).map_err(|e| invalid(e.to_string()))?;
    if m.is_negative() {
        return Err(invalid(format!("{d} is negative")));
    }
    if m.to_minor().map_or(true, |u| u > MAX_AMOUNT_MINOR) {
        return Err(invalid(format!(
            "{d} is above {MAX_AMOUNT_MINOR} minor units"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod wire_tests {
    use super::*;

    /// Every field `Settings` writes is one it reads back (the wire struct
    /// and the two real ones list the same fields), defaults included.
    #[test]
    fn settings_round_trip_through_the_wire_form() {
        let mut s = Settings {
            review: Some(ReviewSettings {
                max_payable: Some(rust_decimal::Decimal::new(100_000, 2)),
                max_qty: Some(5),
                max_orders: Some(MaxOrders {
                    count: 3,
                    minutes: 60,
                }),
            }),
            ..Settings::default()
        };
        s.pricing.shipping.free_threshold = Some(rust_decimal::Decimal::new(9900, 2));
        s.after_sale.request_window_days = Some(7);
        s.after_sale.shipping_refund = mercato_core::aftersale::ShippingRefund::ProRata;
        for s in [Settings::default(), s] {
            let json = serde_json::to_string(&s).unwrap();
            let back: Settings = serde_json::from_str(&json).unwrap();
            assert_eq!(back, s, "{json}");
        }
        assert_eq!(
            serde_json::from_str::<Settings>("{}").unwrap(),
            Settings::default()
        );
        for bad in [
            r#"{"payment_timout_minutes": 5}"#,
            r#"{"points": {"per_unt": 100}}"#,
            r#"{"shipping": {"fees": "1.00"}}"#,
            r#"{"review": {"max_order": {"count": 1, "minutes": 1}}}"#,
            r#"{"after_sale": {"window_days": 7}}"#,
        ] {
            assert!(serde_json::from_str::<Settings>(bad).is_err(), "{bad}");
        }
    }
}
