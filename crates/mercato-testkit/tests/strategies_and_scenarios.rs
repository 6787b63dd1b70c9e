//! The kit checks itself: valid strategies give definitions that validate,
//! `invalid_*` ones give definitions that are refused, and generated
//! scenarios give the same results through the scenario runner and through
//! the library API.

use mercato::core::Currency;
use mercato::rules::{Coupon, Promotion, RuleSet};
use mercato_testkit::proptest_cases;
use mercato_testkit::scenario_gen::{differential, scenario_json};
use mercato_testkit::strategies::{
    catalog, coupon, invalid_coupon_json, invalid_promotion_json, promotion, settings,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: proptest_cases(256), ..ProptestConfig::default() })]

    #[test]
    fn generated_rules_are_valid(cat in catalog(4), p in promotion(0, 4, 0), c in coupon(0, 4, 2), s in settings()) {
        prop_assert!(p.validate(Currency::CNY).is_ok(), "{p:?}");
        prop_assert!(c.validate(Currency::CNY).is_ok(), "{c:?}");
        let rules = RuleSet::new(Currency::CNY, s.pricing.clone(), cat, vec![p], vec![c]);
        prop_assert!(rules.is_ok(), "{:?}", rules.err());
    }

    #[test]
    fn invalid_rules_are_refused(p in invalid_promotion_json(), c in invalid_coupon_json()) {
        let p_ok = serde_json::from_value::<Promotion>(p.clone())
            .is_ok_and(|p| p.validate(Currency::CNY).is_ok());
        prop_assert!(!p_ok, "accepted {p}");
        let c_ok = serde_json::from_value::<Coupon>(c.clone())
            .is_ok_and(|c| c.validate(Currency::CNY).is_ok());
        prop_assert!(!c_ok, "accepted {c}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: proptest_cases(300), ..ProptestConfig::default() })]

    #[test]
    fn scenario_runner_agrees_with_the_library(sc in scenario_json()) {
        differential(&sc).map_err(TestCaseError::fail)?;
    }
}

/// Generated scenarios are not vacuous: they parse and set up, and their
/// steps both succeed and fail.
#[test]
fn generated_scenarios_set_up_and_do_things() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut set_up, mut ok_steps, mut failed_steps) = (0, 0, 0);
    for _ in 0..50 {
        let v = scenario_json().new_tree(&mut runner).unwrap().current();
        let sc = mercato::scenario::Scenario::parse(&v.to_string()).unwrap();
        if let Ok(out) = mercato::scenario::run(&sc, mercato::store::MemoryStore::new()) {
            set_up += 1;
            for o in out {
                if o.result.get("error").is_some() {
                    failed_steps += 1;
                } else {
                    ok_steps += 1;
                }
            }
        }
    }
    assert!(set_up >= 45, "only {set_up} of 50 scenarios set up");
    assert!(
        ok_steps > 100 && failed_steps > 50,
        "{ok_steps} ok, {failed_steps} failed"
    );
}
