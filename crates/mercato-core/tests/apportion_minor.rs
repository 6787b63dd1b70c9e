//! Property test: the integer fast path [`apportion_minor`] gives exactly
//! what [`apportion`] gives (shares and errors) for every total and set of
//! integer weights, in currencies with 0 and 2 minor units.

use mercato_core::apportion;
use mercato_core::apportion::apportion_minor;
use mercato_core::money::{Currency, Money};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// `apportion` on the same integers, as minor units (errors as `None`).
fn reference(total: i64, weights: &[i64], currency: Currency) -> Option<Vec<i64>> {
    let w: Vec<Decimal> = weights.iter().map(|w| Decimal::from(*w)).collect();
    let shares = apportion(Money::from_minor(total, currency), &w).ok()?;
    shares
        .iter()
        .map(|m| m.to_minor().ok().and_then(|v| i64::try_from(v).ok()))
        .collect()
}

fn weight() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => Just(0_i64),
        6 => 0_i64..100_000,
        2 => 0_i64..10_000_000_000,
        1 => 0_i64..=i64::MAX,
        1 => Just(7_i64),
        1 => -3_i64..0,
    ]
}

fn total() -> impl Strategy<Value = i64> {
    prop_oneof![
        1 => Just(0_i64),
        6 => 0_i64..1_000_000,
        2 => 0_i64..=i64::MAX,
        1 => -5_i64..0,
    ]
}

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![Just(Currency::CNY), Just(Currency::JPY)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn fast_path_equals_apportion(
        total in total(),
        weights in proptest::collection::vec(weight(), 0..60),
        currency in currency(),
    ) {
        let fast = apportion_minor(total, &weights).ok();
        prop_assert_eq!(fast, reference(total, &weights, currency));
    }

    #[test]
    fn equal_weights_and_ties(
        total in 0_i64..10_000,
        w in 0_i64..5,
        n in 1_usize..40,
        bump in proptest::collection::vec(0_usize..40, 0..4),
    ) {
        // Many equal remainders: the tie rules decide.
        let mut weights = vec![w; n];
        for b in bump {
            if let Some(x) = weights.get_mut(b) {
                *x += 1;
            }
        }
        let fast = apportion_minor(total, &weights).ok();
        prop_assert_eq!(fast, reference(total, &weights, Currency::CNY));
    }
}

#[test]
fn errors_match() {
    assert!(apportion_minor(1, &[]).is_err());
    assert_eq!(apportion_minor(0, &[]).ok(), Some(vec![]));
    assert!(apportion_minor(-1, &[1]).is_err());
    assert!(apportion_minor(1, &[2, -1]).is_err());
    assert_eq!(apportion_minor(5, &[0, 0, 0]).ok(), Some(vec![2, 2, 1]));
}
