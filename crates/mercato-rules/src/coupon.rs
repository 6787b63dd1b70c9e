//! Coupons as plain serde data in the contract's JSON shape, with
//! [`Coupon::validate`].

use mercato_core::money::{Currency, amount_str};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::RulesError;
use crate::minor::{self, Admit, Written};
use crate::scope::{Scope, Window};

/// The kind of a coupon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponKind {
    /// A fixed amount off (满减券 with a threshold, 无门槛 without).
    AmountOff,
    /// A percent off, rounded, then capped by `max_off` (折扣券).
    PercentOff,
}

/// A coupon definition.
///
/// ```
/// use mercato_core::money::Currency;
/// use mercato_rules::Coupon;
/// let c: Coupon = serde_json::from_str(r#"{"code": "SAVE10", "kind": "amount_off",
///     "amount": "10.00", "threshold": "99.00", "window": null, "owner": null}"#).unwrap();
/// assert_eq!(c.group, "default");
/// assert_eq!(c.per_customer_limit, Some(1));
/// c.validate(Currency::CNY).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    /// The code the customer enters.
    pub code: String,
    /// The kind.
    pub kind: CouponKind,
    /// Amount off (`amount_off`).
    #[serde(default, with = "amount_str::option")]
    pub amount: Option<Decimal>,
    /// Scoped subtotal needed.
    #[serde(default, with = "amount_str::option")]
    pub threshold: Option<Decimal>,
    /// Percent off (`percent_off`).
    #[serde(default, with = "amount_str::option")]
    pub percent: Option<Decimal>,
    /// Cap of a `percent_off` coupon.
    #[serde(default, with = "amount_str::option")]
    pub max_off: Option<Decimal>,
    /// Lines it applies to (default: all; `null` is the default).
    #[serde(default, deserialize_with = "null_as_default")]
    pub scope: Scope,
    /// Coupon group (default `"default"`).
    #[serde(default = "default_group", deserialize_with = "null_as_default_group")]
    pub group: String,
    /// When it may be used (default: always).
    #[serde(default)]
    pub window: Option<Window>,
    /// The customer it belongs to; `None`: public.
    #[serde(default)]
    pub owner: Option<String>,
    /// Uses over all live orders; `None`: unlimited.
    #[serde(default)]
    pub usage_limit: Option<i64>,
    /// Uses per customer (default 1; explicit `null`: unlimited).
    #[serde(default = "one")]
    pub per_customer_limit: Option<i64>,
    /// Who may use it (tiers, channels, new customers, tags); a failing
    /// cart gets `not_eligible`. Default: everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<crate::conditions::Conditions>,
}

fn default_group() -> String {
    "default".to_string()
}

fn one() -> Option<i64> {
    Some(1)
}

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn null_as_default_group<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(default_group))
}

impl Coupon {
    /// True when the coupon has a threshold (applied before the others).
    pub fn has_threshold(&self) -> bool {
        self.threshold.is_some()
    }

    /// Checks the definition: `amount` for `amount_off`, `percent` (0-100,
    /// up to 4 decimals) for `percent_off`, amounts not negative and with no
    /// more decimals than `currency`, limits not negative, a window that
    /// ends after it starts.
    ///
    /// Amounts and percents count the digits as written: `"10.000"` is not
    /// a CNY amount.
    ///
    /// # Errors
    /// [`RulesError::InvalidRule`] naming the coupon code and the field.
    pub fn validate(&self, currency: Currency) -> Result<(), RulesError> {
        self.check(Some(currency), Admit::Input)
    }

    /// The checks of [`Coupon::validate`]; with no `currency` (a builder's
    /// `build`) amounts are checked for their sign only.
    pub(crate) fn check(&self, currency: Option<Currency>, admit: Admit) -> Result<(), RulesError> {
        let code = self.code.as_str();
        let err = |field: &'static str, problem: String| RulesError::rule(code, field, problem);
        let amount = |field: &'static str, d: Option<Decimal>| match d {
            Some(d) => {
                minor::check_amount_in(d, currency, admit).map_err(|r| r.for_rule(code, field))
            }
            None => Ok(()),
        };
        let numbers = [
            ("amount", self.amount.map(Written::Amount)),
            ("threshold", self.threshold.map(Written::Amount)),
            ("max_off", self.max_off.map(Written::Amount)),
            ("percent", self.percent.map(Written::Percent)),
        ];
        minor::digits_first(
            code,
            numbers.into_iter().filter_map(|(f, n)| Some((f, n?))),
            currency,
            admit,
        )?;
        if code.is_empty() {
            return Err(err("code", "is empty".into()));
        }
        amount("amount", self.amount)?;
        amount("threshold", self.threshold)?;
        amount("max_off", self.max_off)?;
        match self.kind {
            CouponKind::AmountOff if self.amount.is_none() => {
                return Err(err("amount", "is required for amount_off".into()));
            }
            CouponKind::PercentOff => match self.percent {
                None => return Err(err("percent", "is required for percent_off".into())),
                Some(p) => {
                    minor::check_percent(p, admit).map_err(|r| r.for_rule(code, "percent"))?
                }
            },
            CouponKind::AmountOff => {}
        }
        if self.window.is_some_and(|w| w.is_empty()) {
            return Err(err("window", "ends at or before it starts".into()));
        }
        if let Some(f) = self.conditions.as_ref().and_then(|c| c.problem()) {
            return Err(err("conditions", format!("{f} holds an empty name")));
        }
        for (field, v) in [
            ("usage_limit", self.usage_limit),
            ("per_customer_limit", self.per_customer_limit),
        ] {
            if v.is_some_and(|v| v < 0) {
                return Err(err(field, "is negative".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupon_validation() {
        let ok: Coupon = serde_json::from_str(
            r#"{"code":"T","kind":"percent_off","percent":"10","max_off":"15.00","scope":null,"group":null}"#,
        )
        .unwrap();
        ok.validate(Currency::CNY).unwrap();
        assert_eq!(ok.group, "default");
        for (json, field) in [
            (r#"{"code":"T","kind":"percent_off"}"#, "percent"),
            (r#"{"code":"T","kind":"amount_off"}"#, "amount"),
            (
                r#"{"code":"T","kind":"amount_off","amount":"1.001"}"#,
                "amount",
            ),
            (
                r#"{"code":"T","kind":"amount_off","amount":"1","threshold":"-5"}"#,
                "threshold",
            ),
            (
                r#"{"code":"T","kind":"percent_off","percent":"101"}"#,
                "percent",
            ),
            (
                r#"{"code":"T","kind":"amount_off","amount":"1","usage_limit":-1}"#,
                "usage_limit",
            ),
        ] {
            let c: Coupon = serde_json::from_str(json).unwrap();
            match c.validate(Currency::CNY) {
                Err(
                    RulesError::InvalidRule { field: f, .. }
                    | RulesError::TooManyDecimals { field: f, .. },
                ) => assert_eq!(f, field, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
        assert!(
            serde_json::from_str::<Coupon>(r#"{"code":"T","kind":"amount_off","amount":10}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<Coupon>(r#"{"code":"T","kind":"free"}"#).is_err());
        let unlimited: Coupon = serde_json::from_str(
            r#"{"code":"T","kind":"amount_off","amount":"1","per_customer_limit":null}"#,
        )
        .unwrap();
        assert_eq!(unlimited.per_customer_limit, None);
    }
}
