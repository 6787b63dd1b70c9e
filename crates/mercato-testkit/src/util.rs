//! Small helpers shared by the modules: money strings and fixed times.

use chrono::{DateTime, Utc};
use mercato::core::Money;
use rust_decimal::Decimal;

/// The start time of every generated shop.
pub(crate) fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_793_786_400, 0).unwrap_or_default()
}

/// `minor` minor units of CNY as a decimal (`1999` → `19.99`).
pub(crate) fn dec(minor: i64) -> Decimal {
    Decimal::new(minor, 2)
}

/// `minor` minor units of CNY as a contract amount string.
pub(crate) fn amount(minor: i64) -> String {
    dec(minor).to_string()
}

/// Minor units of a money amount (0 when it does not fit).
pub(crate) fn minor(m: &Money) -> i64 {
    m.to_minor()
        .ok()
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(0)
}

/// Largest-remainder share of `total` minor units over `qty` units, earlier
/// units first: the sum of units `from..from + k`.
pub(crate) fn unit_share(total: i64, qty: i64, from: i64, k: i64) -> i64 {
    if qty <= 0 {
        return 0;
    }
    let base = total.div_euclid(qty);
    let extra = total.rem_euclid(qty);
    let bonus = (from + k).min(extra) - from.min(extra);
    base * k + bonus
}
