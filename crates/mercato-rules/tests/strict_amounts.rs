//! Issue 11: rule amounts and percents are read in the strict grammar and
//! count their written digits; definitions read back from an old log
//! (`RuleSet::restore*`) are checked by value, as the version that wrote
//! them did, so the log rebuilds the same rules.

use chrono::{DateTime, Utc};
use mercato_core::money::Currency;
use mercato_rules::{
    Cart, CartLine, CatalogItem, Coupon, MAX_COUPONS_PER_GROUP, MAX_POINTS_PER_UNIT,
    PricingContext, PricingSettings, Promotion, RuleSet, RulesError, ShopFacts, price,
};
use serde_json::json;

fn item(price: &str) -> Result<CatalogItem, serde_json::Error> {
    serde_json::from_value(json!({"sku": "tea", "price": price}))
}

fn promo(price: &str) -> Result<Promotion, serde_json::Error> {
    serde_json::from_value(json!({"id": "p", "kind": "price", "price": price}))
}

fn now() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

/// The payable of one unit of `tea` under `rules`.
fn payable(rules: &RuleSet) -> String {
    let shop = ShopFacts::new().with_stock("tea", 10);
    let ctx = PricingContext::new(rules, now(), &shop);
    let cart = Cart {
        customer: None,
        lines: vec![CartLine {
            sku: "tea".into(),
            qty: 1,
        }],
        coupons: vec![],
        points: 0,
    };
    price(&cart, &ctx).unwrap().totals.payable.to_string()
}

#[test]
fn malformed_amount_text_is_refused_when_read() {
    for bad in [
        "398.99999999999999999999999999999",
        " 399.00",
        "+399.00",
        "399.00 ",
        "3.99e2",
        "399.",
        ".5",
        "1_000",
    ] {
        assert!(item(bad).is_err(), "catalog price {bad:?}");
        assert!(promo(bad).is_err(), "promotion price {bad:?}");
        let c = serde_json::from_value::<Coupon>(
            json!({"code": "C", "kind": "amount_off", "amount": bad}),
        );
        assert!(c.is_err(), "coupon amount {bad:?}");
        let p = serde_json::from_value::<Promotion>(
            json!({"id": "p", "kind": "percent_off", "percent": bad}),
        );
        assert!(p.is_err(), "percent {bad:?}");
        let s = serde_json::from_value::<PricingSettings>(json!({"shipping": {"fee": bad}}));
        assert!(s.is_err(), "shipping fee {bad:?}");
    }
}

#[test]
fn written_digits_beyond_the_currency_are_refused_even_zeros() {
    let c = Currency::CNY;
    for (text, ok) in [
        ("399", true),
        ("399.0", true),
        ("399.00", true),
        ("399.000", false),
        ("399.001", false),
    ] {
        let i = item(text).unwrap();
        assert_eq!(i.validate(c).is_ok(), ok, "catalog {text}");
        assert_eq!(
            RuleSet::new(c, PricingSettings::default(), vec![i], vec![], vec![]).is_ok(),
            ok,
            "RuleSet::new {text}"
        );
        let p = promo(text).unwrap();
        assert_eq!(p.validate(c).is_ok(), ok, "promotion {text}");
        let mut rules = RuleSet::new(
            c,
            PricingSettings::default(),
            vec![item("500.00").unwrap()],
            vec![],
            vec![],
        )
        .unwrap();
        let added = rules.add_promotion(p);
        assert_eq!(added.is_ok(), ok, "add_promotion {text}");
        if !ok {
            // Too many decimals is its own error (contract code
            // `invalid_input`, not `invalid_rule`).
            assert!(
                matches!(
                    added,
                    Err(RulesError::TooManyDecimals { field: "price", .. })
                ),
                "{added:?}"
            );
        }
    }
    // Yen: no decimals at all, not even ".0".
    assert!(item("150.0").unwrap().validate(Currency::JPY).is_err());
    assert!(item("150").unwrap().validate(Currency::JPY).is_ok());
    // Percents: up to 4 written decimals.
    let pct = |p: &str| -> Promotion {
        serde_json::from_value(json!({"id": "p", "kind": "percent_off", "percent": p})).unwrap()
    };
    assert!(pct("12.5").validate(c).is_ok());
    assert!(pct("12.5000").validate(c).is_ok());
    assert!(matches!(
        pct("12.50000").validate(c),
        Err(RulesError::TooManyDecimals {
            field: "percent",
            ..
        })
    ));
    // Out of range is still an invalid rule.
    assert!(matches!(
        pct("101").validate(c),
        Err(RulesError::InvalidRule { .. })
    ));
    let coupon: Coupon =
        serde_json::from_value(json!({"code": "C", "kind": "amount_off", "amount": "5.000"}))
            .unwrap();
    assert!(matches!(
        coupon.validate(c),
        Err(RulesError::TooManyDecimals { .. })
    ));
    let settings: PricingSettings =
        serde_json::from_value(json!({"shipping": {"fee": "6.000"}})).unwrap();
    assert!(matches!(
        settings.validate(c),
        Err(RulesError::InvalidSettings {
            field: "shipping.fee",
            ..
        })
    ));
}

#[test]
fn pricing_settings_counts_are_bounded() {
    let c = Currency::CNY;
    let mut s = PricingSettings::default();
    s.points.per_unit = MAX_POINTS_PER_UNIT;
    s.max_coupons_per_group = MAX_COUPONS_PER_GROUP;
    assert!(s.validate(c).is_ok());
    for (per_unit, per_group, field) in [
        (MAX_POINTS_PER_UNIT + 1, 1, "points.per_unit"),
        (i64::MAX, 1, "points.per_unit"),
        (0, 1, "points.per_unit"),
        (i64::MIN, 1, "points.per_unit"),
        (100, MAX_COUPONS_PER_GROUP + 1, "max_coupons_per_group"),
        (100, i64::MAX, "max_coupons_per_group"),
        (100, -1, "max_coupons_per_group"),
    ] {
        s.points.per_unit = per_unit;
        s.max_coupons_per_group = per_group;
        match s.validate(c) {
            Err(RulesError::InvalidSettings { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{per_unit}/{per_group}: {other:?}"),
        }
    }
}

/// A log written before the strict check may hold `"12.000"` or a huge
/// `per_unit`: restoring it gives the rules it was priced with.
#[test]
fn restore_checks_stored_definitions_by_value() {
    let c = Currency::CNY;
    let mut settings: PricingSettings =
        serde_json::from_value(json!({"shipping": {"fee": "6.000"}})).unwrap();
    settings.points.per_unit = i64::MAX;
    let catalog = vec![item("12.000").unwrap()];
    assert!(RuleSet::new(c, settings.clone(), catalog.clone(), vec![], vec![]).is_err());
    let mut rules = RuleSet::restore(c, settings, catalog, vec![], vec![]).unwrap();
    // 12.00 + shipping 6.00 = 18.00.
    assert_eq!(payable(&rules), "18.00 CNY");
    rules.restore_promotion(promo("9.000").unwrap()).unwrap();
    // The special price 9.00 + shipping 6.00 = 15.00.
    assert_eq!(payable(&rules), "15.00 CNY");
    let coupon: Coupon =
        serde_json::from_value(json!({"code": "C", "kind": "amount_off", "amount": "1.000"}))
            .unwrap();
    assert!(rules.clone().add_coupon(coupon.clone()).is_err());
    rules.restore_coupon(coupon).unwrap();
    assert!(
        rules.restore_item(item("1.000").unwrap()).is_err(),
        "duplicate SKU"
    );
    // What is wrong by value stays wrong.
    assert!(rules.restore_promotion(promo("9.001").unwrap()).is_err());
}
