//! Exact integer arithmetic on minor units (`i128`), used inside the
//! pipeline; amounts become [`Money`] only when the quote is assembled.
//!
//! Rule and catalog amounts are bounded by [`MAX_AMOUNT_MINOR`] and line
//! quantities by [`MAX_QTY`], so sums stay far inside `i128`; products that
//! could still grow large (percent × amount × units) use checked
//! multiplication and fail with [`RulesError::Overflow`], never a panic.

use mercato_core::money::{Currency, Money, Rounding};
use rust_decimal::Decimal;

use crate::error::RulesError;

/// The largest amount (in minor units) a price or rule amount may hold:
/// 10^15 minor units (10 trillion CNY).
pub const MAX_AMOUNT_MINOR: i128 = 1_000_000_000_000_000;

/// The largest quantity a cart line, tier or limit may hold.
pub const MAX_QTY: i64 = 1_000_000_000;

/// Which checks a definition gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// New input: an amount may not be written with more fractional digits
    /// than the currency has (`"10.000"` is not a CNY amount, though it is
    /// worth 10.00), a percent not with more than 4, and every bound of
    /// this version applies.
    Input,
    /// A definition read back from a log that an earlier version wrote:
    /// amounts and percents are checked by value (trailing zeros ignored),
    /// and bounds added since are not applied, so an old log rebuilds the
    /// same rules.
    Stored,
}

impl Admit {
    /// The number of fractional digits `d` counts for: as written for new
    /// input, without trailing zeros for stored definitions.
    fn digits(self, d: Decimal) -> u32 {
        match self {
            Admit::Input => d.scale(),
            Admit::Stored => d.normalize().scale(),
        }
    }
}

/// Why an amount or percent was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Written with more decimals than allowed (the contract's
    /// `invalid_input`: "too many decimals").
    Digits(String),
    /// Negative, too large or out of range.
    Value(String),
}

impl Refusal {
    /// What is wrong, as text.
    pub(crate) fn into_problem(self) -> String {
        match self {
            Refusal::Digits(p) | Refusal::Value(p) => p,
        }
    }

    /// The error for a promotion's or coupon's field: too many decimals
    /// is [`RulesError::TooManyDecimals`], anything else
    /// [`RulesError::InvalidRule`].
    pub(crate) fn for_rule(self, rule: &str, field: &'static str) -> RulesError {
        match self {
            Refusal::Digits(problem) => RulesError::TooManyDecimals {
                rule: rule.to_string(),
                field,
                problem,
            },
            Refusal::Value(problem) => RulesError::rule(rule, field, problem),
        }
    }
}

/// A number as a definition writes it, for [`digits_first`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Written {
    /// A money amount (checked against the currency's minor digits).
    Amount(Decimal),
    /// A percent (at most 4 decimals).
    Percent(Decimal),
}

/// The contract's order of codes puts `invalid_input` before
/// `invalid_rule`: a definition with a number written with too many
/// decimals is refused for that, whatever else is wrong with it. This pass
/// looks only at the digits of every number `numbers` lists (field name,
/// number) and answers the first [`Refusal::Digits`] as
/// [`RulesError::TooManyDecimals`]; the other checks come after it.
pub(crate) fn digits_first(
    rule: &str,
    numbers: impl IntoIterator<Item = (&'static str, Written)>,
    currency: Option<Currency>,
    admit: Admit,
) -> Result<(), crate::RulesError> {
    for (field, n) in numbers {
        let refused = match n {
            Written::Amount(d) => check_amount_in(d, currency, admit),
            Written::Percent(d) => check_percent(d, admit),
        };
        if let Err(r @ Refusal::Digits(_)) = refused {
            return Err(r.for_rule(rule, field));
        }
    }
    Ok(())
}

/// Percent values are held as integers in units of 1/10 000 percent.
pub(crate) const PCT_SCALE: i128 = 10_000;

/// 100 % in [`PCT_SCALE`] units times 100 (the divisor of a percentage).
const PCT_DIVISOR: i128 = 100 * PCT_SCALE;

/// Checks a rule or catalog amount: not negative, no more decimals than the
/// currency (as written, for [`Admit::Input`]), at most
/// [`MAX_AMOUNT_MINOR`]. The error text says what is wrong.
pub(crate) fn check_amount(d: Decimal, currency: Currency, admit: Admit) -> Result<(), Refusal> {
    let units = currency.minor_units();
    if admit.digits(d) > units {
        return Err(Refusal::Digits(format!(
            "{d} has more decimals than {currency} allows ({units})"
        )));
    }
    if d.is_sign_negative() && !d.is_zero() {
        return Err(Refusal::Value(format!("{d} is negative")));
    }
    let max = Decimal::try_from_i128_with_scale(MAX_AMOUNT_MINOR, units).unwrap_or(Decimal::MAX);
    if d > max {
        return Err(Refusal::Value(format!("{d} is larger than {max}")));
    }
    Ok(())
}

/// Checks an amount before its currency is known (a builder's `build`):
/// not negative. The digits and the upper bound are checked against the
/// currency later, by [`check_amount`].
pub(crate) fn check_sign(d: Decimal) -> Result<(), Refusal> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err(Refusal::Value(format!("{d} is negative")));
    }
    Ok(())
}

/// [`check_amount`] against `currency`, or [`check_sign`] when it is not
/// known yet.
pub(crate) fn check_amount_in(
    d: Decimal,
    currency: Option<Currency>,
    admit: Admit,
) -> Result<(), Refusal> {
    match currency {
        Some(c) => check_amount(d, c, admit),
        None => check_sign(d),
    }
}

/// Checks a percent: 0 to 100 with at most 4 decimals (as written, for
/// [`Admit::Input`]).
pub(crate) fn check_percent(d: Decimal, admit: Admit) -> Result<(), Refusal> {
    if admit.digits(d) > 4 {
        return Err(Refusal::Digits(format!("{d} has more than 4 decimals")));
    }
    if d.is_sign_negative() && !d.is_zero() || d > Decimal::ONE_HUNDRED {
        return Err(Refusal::Value(format!("{d} is outside 0-100")));
    }
    Ok(())
}

/// A checked amount in minor units (`19.90` CNY → 1990).
pub(crate) fn to_minor(d: Decimal, currency: Currency) -> i128 {
    scaled(d, currency.minor_units())
}

/// A checked percent in 1/10 000 percent units (`"12.5"` → 125 000).
pub(crate) fn pct_units(d: Decimal) -> i128 {
    scaled(d, 4)
}

/// The mantissa of `d` at `scale` decimals: `d` normalised, then rescaled
/// to `scale`. When `d` has at most `scale` decimals and the result fits
/// a `Decimal` mantissa (96 bits) that is `mantissa × 10^(scale − d.scale)`,
/// computed directly (normalising only drops trailing zeros that the
/// rescale puts back); anything else goes the long way
/// ([`scaled_slow`]; a property test checks both agree).
fn scaled(d: Decimal, scale: u32) -> i128 {
    if let Some(up) = scale.checked_sub(d.scale())
        && let Some(&factor) = POW10.get(up as usize)
        && let Ok(m) = i64::try_from(d.mantissa())
    {
        // |m| < 2^63 and factor ≤ 10^18 < 2^60: the product fits i128.
        let v = i128::from(m) * i128::from(factor);
        if v.unsigned_abs() < 1_u128 << 96 {
            return v;
        }
    }
    scaled_slow(d, scale)
}

/// 10^0 to 10^18.
const POW10: [i64; 19] = {
    let mut t = [1_i64; 19];
    let mut k = 1;
    while k < 19 {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// [`scaled`] through `Decimal`: normalise, rescale, take the mantissa.
fn scaled_slow(d: Decimal, scale: u32) -> i128 {
    let mut x = d.normalize();
    x.rescale(scale);
    x.mantissa()
}

/// Minor units back to [`Money`]. Amounts that fit `i64` (all but the
/// most extreme) take [`Money::from_minor`], which builds the decimal
/// directly; the result is the same decimal, bit for bit (property test).
pub(crate) fn money(v: i128, currency: Currency) -> Result<Money, RulesError> {
    match i64::try_from(v) {
        Ok(small) => Ok(Money::from_minor(small, currency)),
        Err(_) => Ok(Money::from_minor_i128(v, currency)?),
    }
}

/// A decimal weight for apportionment.
pub(crate) fn weight(v: i128) -> Result<Decimal, RulesError> {
    Decimal::try_from_i128_with_scale(v, 0).map_err(|_| RulesError::Overflow("weight"))
}

/// `num / den` rounded to a whole number with `rounding`, for `num ≥ 0`,
/// `den > 0`.
pub(crate) fn div_round(num: i128, den: i128, rounding: Rounding) -> i128 {
    if den <= 0 {
        return 0;
    }
    // Amounts and their products nearly always fit 64 bits, where the
    // division is one instruction instead of a 128-bit routine; the
    // quotient and remainder are the same either way.
    let (q, r) = match (u64::try_from(num), u64::try_from(den)) {
        (Ok(n), Ok(d)) => (i128::from(n / d), i128::from(n % d)),
        _ => (num / den, num % den),
    };
    let twice = r.saturating_mul(2);
    let up = match rounding {
        Rounding::Down => false,
        Rounding::HalfUp => twice >= den,
        Rounding::HalfEven => twice > den || (twice == den && q % 2 == 1),
    };
    if up { q + 1 } else { q }
}

/// `a × b / den`, rounded with `rounding`.
pub(crate) fn mul_div(a: i128, b: i128, den: i128, rounding: Rounding) -> Result<i128, RulesError> {
    let p = match (i64::try_from(a), i64::try_from(b)) {
        // Two factors below 2^63 in magnitude: the product fits i128.
        (Ok(x), Ok(y)) => i128::from(x) * i128::from(y),
        _ => a.checked_mul(b).ok_or(RulesError::Overflow("mul_div"))?,
    };
    Ok(div_round(p, den, rounding))
}

/// `pct` (in [`PCT_SCALE`] units) percent of `amount` minor units, rounded.
pub(crate) fn percent_of(amount: i128, pct: i128, rounding: Rounding) -> Result<i128, RulesError> {
    mul_div(amount, pct, PCT_DIVISOR, rounding)
}

/// `pct` percent of `amount × units / qty` (a share of a line), rounded
/// once.
pub(crate) fn percent_of_units(
    amount: i128,
    units: i128,
    qty: i128,
    pct: i128,
    rounding: Rounding,
) -> Result<i128, RulesError> {
    let p = amount
        .checked_mul(units)
        .and_then(|x| x.checked_mul(pct))
        .ok_or(RulesError::Overflow("percent_of_units"))?;
    let den = qty
        .checked_mul(PCT_DIVISOR)
        .ok_or(RulesError::Overflow("percent_of_units"))?;
    Ok(div_round(p, den, rounding))
}

/// Greatest common divisor of two non-negative numbers (`gcd(0, 0) = 0`).
pub(crate) fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Non-negative fractions `num / den` (`den > 0`) brought over their least
/// common denominator `d`: returns the numerators over `d`, and `d`. The
/// result is exact, so weights that are fractions of a minor unit (a line
/// amount × units ÷ qty) can be compared and apportioned in integers; when
/// every fraction is whole, `d` is 1 and the numerators are the values.
///
/// # Errors
/// [`RulesError::Overflow`] when the denominator or a numerator does not
/// fit in `i128`.
pub(crate) fn over_common_denominator(
    fractions: &[(i128, i128)],
) -> Result<(Vec<i128>, i128), RulesError> {
    let overflow = || RulesError::Overflow("common denominator");
    // Lowest terms first, so the common denominator stays as small as it can.
    let reduced: Vec<(i128, i128)> = fractions
        .iter()
        .map(|&(n, d)| {
            let g = gcd(n, d).max(1);
            (n / g, (d / g).max(1))
        })
        .collect();
    let mut common = 1_i128;
    for &(_, d) in &reduced {
        let g = gcd(common, d).max(1);
        common = common.checked_mul(d / g).ok_or_else(overflow)?;
    }
    let nums = reduced
        .iter()
        .map(|&(n, d)| n.checked_mul(common / d).ok_or_else(overflow))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((nums, common))
}

/// Splits `total` minor units over `weights` by largest remainder (the
/// contract's apportionment, through [`mercato_core::apportion`]).
pub(crate) fn apportion(
    total: i128,
    weights: &[Decimal],
    currency: Currency,
) -> Result<Vec<i128>, RulesError> {
    if total == 0 {
        return Ok(vec![0; weights.len()]);
    }
    let shares = mercato_core::apportion(money(total, currency)?, weights)?;
    shares
        .iter()
        .map(|m| m.to_minor().map_err(RulesError::from))
        .collect()
}

/// [`apportion`] with integer weights. When the total and every weight fit
/// in `i64` (always, within [`MAX_AMOUNT_MINOR`] × [`MAX_QTY`] per line,
/// unless the amounts are extreme) this goes through
/// [`mercato_core::apportion::apportion_minor`], which gives exactly what
/// [`mercato_core::apportion`] gives without `Decimal`; otherwise through
/// [`apportion`].
pub(crate) fn apportion_int(
    total: i128,
    weights: &[i128],
    currency: Currency,
) -> Result<Vec<i128>, RulesError> {
    if let Ok(t) = i64::try_from(total) {
        let small: Option<Vec<i64>> = weights.iter().map(|w| i64::try_from(*w).ok()).collect();
        if let Some(w) = small {
            if total == 0 {
                return Ok(vec![0; weights.len()]);
            }
            let shares = mercato_core::apportion::apportion_minor(t, &w)?;
            return Ok(shares.into_iter().map(i128::from).collect());
        }
    }
    let w = weights
        .iter()
        .map(|v| weight(*v))
        .collect::<Result<Vec<_>, _>>()?;
    apportion(total, &w, currency)
}

/// [`apportion_int`] over the lines named in `weights` (line, weight;
/// lines ascending) of `n` lines, the others weighing 0. The result names
/// the same lines in the same order.
pub(crate) fn apportion_sparse(
    total: i128,
    weights: &[(u32, i128)],
    n: usize,
    currency: Currency,
) -> Result<Vec<(u32, i128)>, RulesError> {
    let w: Vec<i128> = weights.iter().map(|(_, w)| *w).collect();
    if total > 0 && w.iter().all(|w| *w == 0) {
        // Every weight 0: the split goes over all n lines, so do it densely.
        let mut dense = vec![0_i128; n];
        for (i, x) in weights {
            if let Some(slot) = dense.get_mut(*i as usize) {
                *slot = *x;
            }
        }
        let shares = apportion_int(total, &dense, currency)?;
        return Ok(shares
            .into_iter()
            .enumerate()
            .filter(|(_, s)| *s != 0)
            .map(|(i, s)| (u32::try_from(i).unwrap_or(u32::MAX), s))
            .collect());
    }
    let shares = apportion_int(total, &w, currency)?;
    Ok(weights.iter().map(|(i, _)| *i).zip(shares).collect())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Any `Decimal`: a mantissa up to 96 bits (often with trailing zeros)
    /// at any scale.
    fn decimal() -> impl Strategy<Value = Decimal> {
        (
            prop_oneof![
                -(1_i128 << 96) + 1..1_i128 << 96,
                -1_000_000_i128..1_000_000,
                (0_i128..100_000, 0_u32..20).prop_map(|(m, z)| m * 10_i128.pow(z)),
            ],
            0_u32..=28,
        )
            .prop_map(|(m, s)| Decimal::try_from_i128_with_scale(m, s).unwrap_or(Decimal::ONE))
    }

    /// [`div_round`] with 128-bit division only.
    fn div_round_wide(num: i128, den: i128, rounding: Rounding) -> i128 {
        if den <= 0 {
            return 0;
        }
        let q = num / den;
        let r = num % den;
        let twice = r.saturating_mul(2);
        let up = match rounding {
            Rounding::Down => false,
            Rounding::HalfUp => twice >= den,
            Rounding::HalfEven => twice > den || (twice == den && q % 2 == 1),
        };
        if up { q + 1 } else { q }
    }

    fn rounding() -> impl Strategy<Value = Rounding> {
        prop_oneof![
            Just(Rounding::Down),
            Just(Rounding::HalfUp),
            Just(Rounding::HalfEven)
        ]
    }

    proptest! {
        /// [`money`] builds the same decimal as [`Money::from_minor_i128`]
        /// (same bytes: mantissa, scale and sign) for any amount.
        #[test]
        fn money_equals_from_minor_i128(
            v in prop_oneof![any::<i128>(), any::<i64>().prop_map(i128::from), -1000_i128..1000],
            currency in prop_oneof![
                Just(Currency::CNY),
                Just(Currency::JPY),
                Just(Currency::from_code("KWD").unwrap_or(Currency::CNY)),
            ],
        ) {
            let fast = money(v, currency).ok();
            let slow = Money::from_minor_i128(v, currency).ok();
            prop_assert_eq!(fast, slow);
            prop_assert_eq!(
                fast.map(|m| m.amount().serialize()),
                slow.map(|m| m.amount().serialize())
            );
        }

        /// `mul_div` gives what a checked 128-bit product then
        /// [`div_round`] gives, overflow included.
        #[test]
        fn mul_div_equals_checked_product(
            a in prop_oneof![any::<i128>(), any::<i64>().prop_map(i128::from), -1000_i128..1000],
            b in prop_oneof![any::<i128>(), any::<i64>().prop_map(i128::from), -1000_i128..1000],
            den in 1_i128..10_000_000,
            rounding in rounding(),
        ) {
            let wide = a.checked_mul(b).map(|p| div_round(p, den, rounding));
            prop_assert_eq!(mul_div(a, b, den, rounding).ok(), wide);
        }

        /// The 64-bit division path rounds exactly as 128-bit division,
        /// on both sides of the 64-bit bounds and for negative numerators.
        #[test]
        fn div_round_equals_wide_division(
            num in prop_oneof![
                any::<i128>(),
                0_i128..1 << 64,
                (1_i128 << 64) - 1000..(1_i128 << 64) + 1000,
                -1000_i128..1000,
                0_i128..10_000_000,
            ],
            den in prop_oneof![
                any::<i128>(),
                1_i128..1 << 64,
                (1_i128 << 64) - 10..(1_i128 << 64) + 10,
                1_i128..1000,
                Just(1_000_000_i128),
            ],
            rounding in rounding(),
        ) {
            prop_assert_eq!(div_round(num, den, rounding), div_round_wide(num, den, rounding));
        }

        /// The direct scaling equals normalise + rescale for any decimal
        /// and target scale.
        #[test]
        fn scaled_equals_normalise_and_rescale(d in decimal(), scale in 0_u32..=8) {
            prop_assert_eq!(scaled(d, scale), scaled_slow(d, scale), "{} at {}", d, scale);
        }
    }

    #[test]
    fn rounding_modes_on_halves() {
        assert_eq!(div_round(5, 10, Rounding::HalfUp), 1);
        assert_eq!(div_round(5, 10, Rounding::HalfEven), 0);
        assert_eq!(div_round(15, 10, Rounding::HalfEven), 2);
        assert_eq!(div_round(19, 10, Rounding::Down), 1);
        assert_eq!(div_round(14, 10, Rounding::HalfUp), 1);
        assert_eq!(div_round(16, 10, Rounding::HalfEven), 2);
    }

    #[test]
    fn percent_in_minor_units() {
        // 15 % of 36.00 = 5.40; 12.5 % of 0.01 rounds to 0.00 either way.
        assert_eq!(
            percent_of(3600, pct_units(Decimal::from(15)), Rounding::HalfUp).unwrap(),
            540
        );
        assert_eq!(
            percent_of(1, pct_units("12.5".parse().unwrap()), Rounding::HalfUp).unwrap(),
            0
        );
        // 50 % of 0.01 = 0.005: half up 0.01, half even 0.00.
        assert_eq!(
            percent_of(1, pct_units(Decimal::from(50)), Rounding::HalfUp).unwrap(),
            1
        );
        assert_eq!(
            percent_of(1, pct_units(Decimal::from(50)), Rounding::HalfEven).unwrap(),
            0
        );
    }

    #[test]
    fn fractions_over_their_least_common_denominator() {
        // 918.46 and 2 × 1707.90 ÷ 7 = 3415.80 ÷ 7 (in minor units): over 7,
        // 91846 × 7 = 642922 and 341580.
        let (nums, d) = over_common_denominator(&[(91846, 1), (341_580, 7)]).unwrap();
        assert_eq!((nums, d), (vec![642_922, 341_580], 7));
        // 10/4 = 5/2 and 1/6: lcm(2, 6) = 6 -> 15/6 and 1/6.
        let (nums, d) = over_common_denominator(&[(10, 4), (1, 6)]).unwrap();
        assert_eq!((nums, d), (vec![15, 1], 6));
        // Whole values stay themselves over 1; a zero numerator stays 0.
        let (nums, d) = over_common_denominator(&[(12, 3), (0, 9)]).unwrap();
        assert_eq!((nums, d), (vec![4, 0], 1));
        assert_eq!(gcd(0, 0), 0);
        assert_eq!(gcd(12, 18), 6);
        // Denominators whose product does not fit: a typed error, no panic.
        let big = (1_i128 << 100) + 1;
        assert!(matches!(
            over_common_denominator(&[(1, big), (1, big - 2), (1, big + 2)]),
            Err(RulesError::Overflow(_))
        ));
    }

    #[test]
    fn amount_checks() {
        let d = |s: &str| -> Decimal { s.parse().unwrap() };
        for admit in [Admit::Input, Admit::Stored] {
            assert!(check_amount(d("1.234"), Currency::CNY, admit).is_err());
            assert!(check_amount(d("-1"), Currency::CNY, admit).is_err());
            assert!(check_amount(d("1.5"), Currency::JPY, admit).is_err());
            assert!(check_amount(d("1.50"), Currency::CNY, admit).is_ok());
            assert!(check_amount(d("1.5"), Currency::CNY, admit).is_ok());
            assert!(check_amount(Decimal::MAX, Currency::CNY, admit).is_err());
            assert!(check_percent(d("100.0001"), admit).is_err());
            assert!(check_percent(d("12.12345"), admit).is_err());
            assert!(check_percent(d("12.1234"), admit).is_ok());
        }
        // Written zeros count for new input only.
        assert!(check_amount(d("1.500"), Currency::CNY, Admit::Input).is_err());
        assert!(check_amount(d("1.500"), Currency::CNY, Admit::Stored).is_ok());
        assert!(check_amount(d("150.0"), Currency::JPY, Admit::Input).is_err());
        assert!(check_amount(d("150.0"), Currency::JPY, Admit::Stored).is_ok());
        assert!(check_percent(d("12.50000"), Admit::Input).is_err());
        assert!(check_percent(d("12.50000"), Admit::Stored).is_ok());
        assert_eq!(to_minor(d("19.9"), Currency::CNY), 1990);
        assert_eq!(to_minor(d("19.900"), Currency::CNY), 1990);
    }
}
