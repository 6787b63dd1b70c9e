//! The pricing parts of a scenario's `settings`: rounding, exclusive
//! selection, coupons per group, points and shipping. Other settings keys
//! (order lifecycle, stock) are ignored when deserializing, so the whole
//! `settings` object can be read into [`PricingSettings`].

use mercato_core::money::{Currency, Rounding, amount_str};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::RulesError;
use crate::minor::{self, Admit};

/// The most points `points.per_unit` may make worth one currency unit.
pub const MAX_POINTS_PER_UNIT: i64 = 1_000_000;

/// The most coupons of one group `max_coupons_per_group` may allow.
pub const MAX_COUPONS_PER_GROUP: i64 = 1_000;

/// How exclusive promotions are chosen within a stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// The exclusive or the stack that saves the customer more.
    #[default]
    BestForCustomer,
    /// The highest-priority eligible exclusive promotion, alone.
    Priority,
}

/// Points conversion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsSettings {
    /// Points worth one currency unit (default 100).
    #[serde(default = "default_per_unit")]
    pub per_unit: i64,
    /// At most this percent of the goods payable after coupons (default 50).
    #[serde(default = "default_max_percent", with = "amount_str")]
    pub max_percent: Decimal,
}

fn default_per_unit() -> i64 {
    100
}

fn default_max_percent() -> Decimal {
    Decimal::from(50)
}

impl Default for PointsSettings {
    fn default() -> Self {
        PointsSettings {
            per_unit: default_per_unit(),
            max_percent: default_max_percent(),
        }
    }
}

/// Shipping fee.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingSettings {
    /// The fee (default 0.00).
    #[serde(default, with = "amount_str")]
    pub fee: Decimal,
    /// Goods payable from which shipping is free (default none).
    #[serde(default, with = "amount_str::option")]
    pub free_threshold: Option<Decimal>,
}

/// The pricing settings of a shop.
///
/// Unknown top-level fields are ignored here, because the contract's
/// `settings` object also holds the engine's settings (`stock_commit`
/// below); `mercato::Settings`, the whole object, refuses unknown fields.
///
/// ```
/// use mercato_rules::{PricingSettings, Selection};
/// let s: PricingSettings = serde_json::from_str(
///     r#"{"selection": "priority", "shipping": {"fee": "6.00"}, "stock_commit": "payment"}"#).unwrap();
/// assert_eq!(s.selection, Selection::Priority);
/// assert_eq!(s.max_coupons_per_group, 1);
/// assert_eq!(s.points.per_unit, 100);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingSettings {
    /// How computed amounts are rounded to minor units (default half up).
    #[serde(default)]
    pub rounding: Rounding,
    /// How exclusive promotions are chosen (default best for customer).
    #[serde(default)]
    pub selection: Selection,
    /// Coupons of one group per order (default 1).
    #[serde(default = "default_per_group")]
    pub max_coupons_per_group: i64,
    /// Points conversion.
    #[serde(default)]
    pub points: PointsSettings,
    /// Shipping fee.
    #[serde(default)]
    pub shipping: ShippingSettings,
}

fn default_per_group() -> i64 {
    1
}

impl Default for PricingSettings {
    fn default() -> Self {
        PricingSettings {
            rounding: Rounding::default(),
            selection: Selection::default(),
            max_coupons_per_group: default_per_group(),
            points: PointsSettings::default(),
            shipping: ShippingSettings::default(),
        }
    }
}

impl PricingSettings {
    /// Checks the settings:
    ///
    /// | setting | allowed |
    /// |---|---|
    /// | `points.per_unit` | 1 ..= [`MAX_POINTS_PER_UNIT`] (1 000 000) |
    /// | `points.max_percent` | 0 ..= 100, at most 4 decimals as written |
    /// | `shipping.fee`, `shipping.free_threshold` | amounts in `currency`: not negative, at most its minor digits as written, at most [`crate::MAX_AMOUNT_MINOR`] minor units |
    /// | `max_coupons_per_group` | 0 ..= [`MAX_COUPONS_PER_GROUP`] (1 000) |
    ///
    /// # Errors
    /// [`RulesError::InvalidSettings`] naming the setting.
    pub fn validate(&self, currency: Currency) -> Result<(), RulesError> {
        self.check(currency, Admit::Input)
    }

    pub(crate) fn check(&self, currency: Currency, admit: Admit) -> Result<(), RulesError> {
        let err =
            |field: &'static str, problem: String| RulesError::InvalidSettings { field, problem };
        let input = admit == Admit::Input;
        if self.points.per_unit < 1 {
            return Err(err(
                "points.per_unit",
                format!("{} must be at least 1", self.points.per_unit),
            ));
        }
        if input && self.points.per_unit > MAX_POINTS_PER_UNIT {
            return Err(err(
                "points.per_unit",
                format!(
                    "{} must be at most {MAX_POINTS_PER_UNIT}",
                    self.points.per_unit
                ),
            ));
        }
        minor::check_percent(self.points.max_percent, admit)
            .map_err(|r| err("points.max_percent", r.into_problem()))?;
        minor::check_amount(self.shipping.fee, currency, admit)
            .map_err(|r| err("shipping.fee", r.into_problem()))?;
        if let Some(t) = self.shipping.free_threshold {
            minor::check_amount(t, currency, admit)
                .map_err(|r| err("shipping.free_threshold", r.into_problem()))?;
        }
        if self.max_coupons_per_group < 0 {
            return Err(err("max_coupons_per_group", "is negative".into()));
        }
        if input && self.max_coupons_per_group > MAX_COUPONS_PER_GROUP {
            return Err(err(
                "max_coupons_per_group",
                format!(
                    "{} must be at most {MAX_COUPONS_PER_GROUP}",
                    self.max_coupons_per_group
                ),
            ));
        }
        Ok(())
    }
}
