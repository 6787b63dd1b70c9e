//! [`apportion`]: split an amount over weighted lines by the largest-remainder
//! method in minor units. Every order discount, coupon, points deduction and
//! refund in mercato is carried by this one function.
//!
//! The rule (contract "Apportionment"): each line gets the floor of its exact
//! share `total × weight / Σ weights`, and the minor units left over go one
//! each to the lines with the largest remainders; ties go to the larger
//! weight, then the earlier line. The shares always add up to the total; a
//! zero-weight line gets nothing unless every weight is zero, in which case
//! the total is split evenly, the earlier lines taking the odd units.
//!
//! All arithmetic is exact integer arithmetic on minor units (`i128`), so
//! remainders are compared exactly, never through a rounded division.

use rust_decimal::Decimal;

use crate::error::CoreError;
use crate::money::Money;

/// Splits `total` over `weights` by largest remainder.
///
/// Weights are any non-negative decimals (line amounts, unit counts). The
/// result has one share per weight, in the same order, in `total`'s currency.
///
/// ```
/// use mercato_core::{apportion, money::{Currency, Money}};
/// use rust_decimal::Decimal;
///
/// let coupon = Money::parse("10.00", Currency::CNY).unwrap();
/// let lines = [Decimal::from(10); 3];
/// let shares = apportion(coupon, &lines).unwrap();
/// let cents: Vec<String> = shares.iter().map(|m| m.amount().to_string()).collect();
/// assert_eq!(cents, ["3.34", "3.33", "3.33"]);
/// ```
///
/// # Errors
/// A negative total or weight, no weights with a non-zero total, or numbers
/// too large for exact integer arithmetic.
pub fn apportion(total: Money, weights: &[Decimal]) -> Result<Vec<Money>, CoreError> {
    let currency = total.currency();
    if total.is_negative() {
        return Err(CoreError::Negative {
            what: "apportioned total",
            value: total.amount(),
        });
    }
    if let Some(w) = weights
        .iter()
        .find(|w| w.is_sign_negative() && !w.is_zero())
    {
        return Err(CoreError::Negative {
            what: "apportionment weight",
            value: *w,
        });
    }
    if weights.is_empty() {
        return if total.is_zero() {
            Ok(Vec::new())
        } else {
            Err(CoreError::NothingToApportion(total.amount()))
        };
    }
    let t = total.to_minor()?;
    let n = weights.len();

    // Integer weights: scale every weight by the same power of ten. This is
    // done on the mantissas in i128, never with `Decimal::rescale`, which
    // stops short of a scale whose mantissa would not fit in 96 bits and so
    // would silently weigh that line a power of ten too little.
    let scale = weights.iter().map(|w| w.scale()).max().unwrap_or(0);
    let mut ints = Vec::with_capacity(n);
    for w in weights {
        let up = 10_i128
            .checked_pow(scale - w.scale())
            .and_then(|p| w.mantissa().checked_mul(p))
            .ok_or(CoreError::Overflow("apportion"))?;
        ints.push(up);
    }
    let sum = ints
        .iter()
        .try_fold(0_i128, |acc, w| acc.checked_add(*w))
        .ok_or(CoreError::Overflow("apportion"))?;

    let mut shares = vec![0_i128; n];
    if sum == 0 {
        // All weights zero: split evenly, earlier lines first.
        let n_i = n as i128;
        let base = t / n_i;
        let extra = (t % n_i) as usize;
        for (i, s) in shares.iter_mut().enumerate() {
            *s = base + i128::from(i < extra);
        }
    } else {
        let mut rems = Vec::with_capacity(n);
        let mut given = 0_i128;
        for (i, w) in ints.iter().enumerate() {
            let prod = t.checked_mul(*w).ok_or(CoreError::Overflow("apportion"))?;
            shares[i] = prod / sum;
            given += shares[i];
            rems.push((prod % sum, *w, i));
        }
        let left = (t - given) as usize;
        if left > 0 {
            // Largest remainder first; ties: larger weight, then earlier line.
            rems.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
            for r in rems.iter().take(left) {
                shares[r.2] += 1;
            }
        }
    }
    shares
        .into_iter()
        .map(|s| Money::from_minor_i128(s, currency))
        .collect()
}

/// [`apportion`] in integer minor units: splits `total` minor units over
/// integer `weights` by exactly the same rule (largest remainder; ties:
/// larger weight, then the earlier line; all weights zero: an even split,
/// earlier lines first), without `Decimal` and without a full sort.
///
/// For any currency, `apportion_minor(t, w)` equals the minor units of
/// `apportion(Money::from_minor(t, c), w as Decimal)`, and it fails exactly
/// when `apportion` fails (a property test checks both).
///
/// ```
/// use mercato_core::apportion::apportion_minor;
/// assert_eq!(apportion_minor(1000, &[10, 10, 10]).unwrap(), [334, 333, 333]);
/// assert_eq!(apportion_minor(1500, &[11800, 8900]).unwrap(), [855, 645]);
/// ```
///
/// # Errors
/// A negative total or weight, or no weights with a non-zero total.
pub fn apportion_minor(total: i64, weights: &[i64]) -> Result<Vec<i64>, CoreError> {
    if total < 0 {
        return Err(CoreError::Negative {
            what: "apportioned total",
            value: Decimal::from(total),
        });
    }
    if let Some(w) = weights.iter().find(|w| **w < 0) {
        return Err(CoreError::Negative {
            what: "apportionment weight",
            value: Decimal::from(*w),
        });
    }
    let n = weights.len();
    if n == 0 {
        return if total == 0 {
            Ok(Vec::new())
        } else {
            Err(CoreError::NothingToApportion(Decimal::from(total)))
        };
    }
    // n weights below 2^63 each: the sum fits in i128 (and in u128).
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    let t = i128::from(total);
    let mut shares = vec![0_i64; n];
    if sum == 0 {
        // All weights zero: split evenly, earlier lines first.
        let n_i = n as i128;
        let base = t / n_i;
        let extra = (t % n_i) as usize;
        for (i, s) in shares.iter_mut().enumerate() {
            // base ≤ total, so it fits in i64.
            *s = i64::try_from(base).unwrap_or(i64::MAX) + i64::from(i < extra);
        }
        return Ok(shares);
    }
    // Each product fits in i128 (both factors are below 2^63); when the
    // product and the sum both fit in u64, divide in 64 bits.
    let small_sum = u64::try_from(sum).ok();
    let mut rems: Vec<(i128, i64, usize)> = Vec::with_capacity(n);
    let mut given = 0_i128;
    for (i, (s, w)) in shares.iter_mut().zip(weights).enumerate() {
        let prod = t * i128::from(*w);
        let (q, r) = match (small_sum, u64::try_from(prod)) {
            (Some(den), Ok(p)) => (i128::from(p / den), i128::from(p % den)),
            _ => (prod / sum, prod % sum),
        };
        // q ≤ total.
        *s = i64::try_from(q).unwrap_or(i64::MAX);
        given += q;
        if r > 0 {
            rems.push((r, *w, i));
        }
    }
    let left = usize::try_from(t - given).unwrap_or(0);
    if left > 0 {
        // Largest remainder first; ties: larger weight, then earlier line.
        // The order is total, so the `left` first are the same set a full
        // sort would give; each of them gets one unit, in any order.
        let cmp = |a: &(i128, i64, usize), b: &(i128, i64, usize)| {
            b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2))
        };
        if left < rems.len() {
            rems.select_nth_unstable_by(left - 1, cmp);
        }
        for r in rems.iter().take(left) {
            if let Some(s) = shares.get_mut(r.2) {
                *s += 1;
            }
        }
    }
    Ok(shares)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }
    fn amounts(v: &[Money]) -> Vec<String> {
        v.iter().map(|m| m.amount().to_string()).collect()
    }
    fn cny(s: &str) -> Money {
        Money::parse(s, Currency::CNY).unwrap()
    }

    #[test]
    fn contract_example_coupon_split() {
        // p06: 20.00 over 199.00 and 19.00 -> 18.26 / 1.74.
        let s = apportion(cny("20.00"), &[d("199.00"), d("19.00")]).unwrap();
        assert_eq!(amounts(&s), ["18.26", "1.74"]);
        // p04: 15.00 over 118.00 and 89.00 -> 8.55 / 6.45.
        let s = apportion(cny("15.00"), &[d("118.00"), d("89.00")]).unwrap();
        assert_eq!(amounts(&s), ["8.55", "6.45"]);
    }

    #[test]
    fn anchor_bug_seven_times_one() {
        // macrozheng #492: 满5减1 on 7 × 1.00 must give exactly 1.00 off.
        let s = apportion(cny("1.00"), &[d("1.00"); 7]).unwrap();
        let total: i128 = s.iter().map(|m| m.to_minor().unwrap()).sum();
        assert_eq!(total, 100);
        // 100 / 7 = 14 rem 2: the two earliest lines (equal remainders and weights) get 15.
        assert_eq!(
            amounts(&s),
            ["0.15", "0.15", "0.14", "0.14", "0.14", "0.14", "0.14"]
        );
    }

    #[test]
    fn ties_prefer_larger_weight_then_earlier() {
        // 0.01 over weights 1 and 3 with equal remainders? 1*1/4 rem 1, 1*3/4 rem 3: larger remainder wins.
        assert_eq!(
            amounts(&apportion(cny("0.01"), &[d("1"), d("3")]).unwrap()),
            ["0.00", "0.01"]
        );
        // 0.01 over 1, 1 (equal everything): earlier wins.
        assert_eq!(
            amounts(&apportion(cny("0.01"), &[d("1"), d("1")]).unwrap()),
            ["0.01", "0.00"]
        );
        // 0.02 over 1, 2, 1, 2 -> exact shares 1/3, 2/3, 1/3, 2/3 cents; the
        // remainders 2/6... : the weight-2 lines (larger remainder) take them.
        assert_eq!(
            amounts(&apportion(cny("0.02"), &[d("1"), d("2"), d("1"), d("2")]).unwrap()),
            ["0.00", "0.01", "0.00", "0.01"]
        );
    }

    #[test]
    fn zero_weights() {
        assert_eq!(
            amounts(&apportion(cny("1.00"), &[d("0"), d("5")]).unwrap()),
            ["0.00", "1.00"]
        );
        assert_eq!(
            amounts(&apportion(cny("0.05"), &[d("0"); 3]).unwrap()),
            ["0.02", "0.02", "0.01"]
        );
    }

    #[test]
    fn errors_instead_of_panics() {
        assert!(apportion(cny("1.00"), &[]).is_err());
        assert_eq!(apportion(cny("0.00"), &[]).unwrap(), vec![]);
        assert!(apportion(cny("-1.00"), &[d("1")]).is_err());
        assert!(apportion(cny("1.00"), &[d("-1")]).is_err());
        assert!(
            apportion(
                Money::new(Decimal::MAX, Currency::JPY).unwrap(),
                &[Decimal::MAX, Decimal::MAX]
            )
            .is_err()
        );
    }

    #[test]
    fn weights_of_different_scales_keep_their_value() {
        // 918.46 (scale 0 here: 91846 minor units) against 3415.80 ÷ 7 =
        // 48797.142857142857142857142857 (scale 24). Brought to scale 24,
        // 91846 needs a mantissa above 2^96, which `Decimal` cannot hold: the
        // weights must still compare as 91846 : 48797.14… (issue 17).
        let w = Decimal::from(341_580) / Decimal::from(7);
        assert_eq!(w.scale(), 24);
        // 263.81 × 91846 / 140643.142857… = 172.279…, the other 91.530…:
        // floors 172.27 / 91.53, the odd cent to the larger remainder (.9).
        let s = apportion(cny("263.81"), &[Decimal::from(91846), w]).unwrap();
        assert_eq!(amounts(&s), ["172.28", "91.53"]);
    }

    #[test]
    fn jpy_has_no_minor_unit() {
        let yen = Money::parse("100", Currency::JPY).unwrap();
        assert_eq!(
            amounts(&apportion(yen, &[d("1"), d("1"), d("1")]).unwrap()),
            ["34", "33", "33"]
        );
    }

    fn weight() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            1 => Just(Decimal::ZERO),
            6 => (0_i64..10_000_000).prop_map(|c| Decimal::new(c, 2)),
            1 => (0_i64..1000, 0_u32..5).prop_map(|(m, s)| Decimal::new(m, s)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn shares_add_up_and_follow_the_rule(
            total in 0_i64..100_000_000,
            weights in proptest::collection::vec(weight(), 1..40),
        ) {
            let total = Money::from_minor(total, Currency::CNY);
            let shares = apportion(total, &weights).unwrap();
            prop_assert_eq!(shares.len(), weights.len());
            let t = total.to_minor().unwrap();
            let got: Vec<i128> = shares.iter().map(|m| m.to_minor().unwrap()).collect();
            // Σ shares == total, always.
            prop_assert_eq!(got.iter().sum::<i128>(), t);
            prop_assert!(got.iter().all(|s| *s >= 0));
            let sum_w: Decimal = weights.iter().sum();
            if sum_w.is_zero() {
                let max = *got.iter().max().unwrap();
                let min = *got.iter().min().unwrap();
                prop_assert!(max - min <= 1);
                // Earlier lines take the odd units.
                prop_assert!(got.windows(2).all(|w| w[0] >= w[1]));
            } else {
                for (i, w) in weights.iter().enumerate() {
                    // Each share is floor or floor+1 of the exact share; zero weight gets zero.
                    let exact = Decimal::from_i128_with_scale(t, 0) * *w / sum_w;
                    let floor = exact.floor();
                    let s = Decimal::from_i128_with_scale(got[i], 0);
                    prop_assert!(s == floor || s == floor + Decimal::ONE, "share {} vs exact {}", s, exact);
                    if w.is_zero() { prop_assert_eq!(got[i], 0); }
                }
            }
        }

        #[test]
        fn proportional_weights_give_the_same_split(
            total in 0_i64..10_000_000,
            weights in proptest::collection::vec(1_i64..100_000, 1..20),
            k in 2_i64..50,
        ) {
            let total = Money::from_minor(total, Currency::CNY);
            let a: Vec<Decimal> = weights.iter().map(|w| Decimal::from(*w)).collect();
            let b: Vec<Decimal> = weights.iter().map(|w| Decimal::from(*w * k)).collect();
            prop_assert_eq!(apportion(total, &a).unwrap(), apportion(total, &b).unwrap());
        }
    }
}
