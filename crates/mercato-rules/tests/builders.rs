//! The typed builders against the contract: a builder-made rule of every
//! kind is the very value serde reads from the contract's JSON example and
//! serializes to the same bytes; invalid values are refused at `build` or
//! where the rule meets the shop, with the typed errors a JSON rule gets;
//! no input makes a builder panic.

use chrono::{DateTime, Utc};
use mercato_core::money::Currency;
use mercato_rules::{
    AmountPer, Cart, CatalogItem, Coupon, PricingSettings, Promotion, PromotionStage,
    ReductionMode, RuleSet, RulesError, Scope,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// `built` is the value `json` reads, serializes to the same bytes as it,
/// and reads back from its own serialization.
fn same<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(built: T, json: &str) {
    let parsed: T = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(built, parsed, "{json}");
    let bytes = serde_json::to_string(&built).unwrap();
    assert_eq!(bytes, serde_json::to_string(&parsed).unwrap(), "{json}");
    assert_eq!(serde_json::from_str::<T>(&bytes).unwrap(), built, "{bytes}");
}

#[test]
fn every_promotion_kind_matches_its_contract_json() -> Result<(), RulesError> {
    same(
        Promotion::price("flash", "999.00")
            .tier("gold")
            .per_customer_limit(2)
            .quota(100)
            .skus(["phone"])
            .build()?,
        r#"{"id": "flash", "kind": "price", "price": "999.00", "tier": "gold",
            "per_customer_limit": 2, "quota": 100, "scope": {"skus": ["phone"]}}"#,
    );
    same(
        Promotion::ladder("ladder")
            .tier(2, "20")
            .tier(5, "30")
            .build()?,
        r#"{"id": "ladder", "kind": "ladder", "tiers": [{"min_qty": 2, "percent": "20"}, {"min_qty": 5, "percent": "30"}]}"#,
    );
    same(
        Promotion::percent_off("pct", "12.5")
            .max_off("20.00")
            .stage(PromotionStage::Order)
            .build()?,
        r#"{"id": "pct", "kind": "percent_off", "percent": "12.5", "max_off": "20.00", "stage": "order"}"#,
    );
    same(
        Promotion::amount_off("off", "3.00")
            .per(AmountPer::Unit)
            .build()?,
        r#"{"id": "off", "kind": "amount_off", "amount": "3.00", "per": "unit"}"#,
    );
    // The issue's example.
    same(
        Promotion::full_reduction("m100")
            .tier("100.00", "15.00")
            .build()?,
        r#"{"id": "m100", "kind": "full_reduction", "tiers": [{"threshold": "100.00", "off": "15.00"}]}"#,
    );
    same(
        Promotion::full_reduction("every")
            .tier("200.00", "30.00")
            .mode(ReductionMode::Repeat)
            .cap("90.00")
            .build()?,
        r#"{"id": "every", "kind": "full_reduction", "tiers": [{"threshold": "200.00", "off": "30.00"}],
            "mode": "repeat", "cap": "90.00"}"#,
    );
    same(
        Promotion::full_discount("fd")
            .tier("300.00", "10")
            .build()?,
        r#"{"id": "fd", "kind": "full_discount", "tiers": [{"threshold": "300.00", "percent": "10"}]}"#,
    );
    same(
        Promotion::quantity_discount("qd")
            .tier_percent(3, "10")
            .tier_off(5, "20.00")
            .build()?,
        r#"{"id": "qd", "kind": "quantity_discount", "tiers": [{"min_qty": 3, "percent": "10"}, {"min_qty": 5, "off": "20.00"}]}"#,
    );
    same(
        Promotion::buy_x_get_y("b2g1", 2, 1)
            .buy_scope(Scope::new().categories(["tea"]))
            .get_scope(Scope::new().skus(["cup"]))
            .get_percent("50")
            .repeat(false)
            .build()?,
        r#"{"id": "b2g1", "kind": "buy_x_get_y", "buy": {"scope": {"categories": ["tea"]}, "qty": 2},
            "get": {"scope": {"skus": ["cup"]}, "qty": 1, "percent": "50"}, "repeat": false}"#,
    );
    // The get side's default percent is the contract's "100".
    same(
        Promotion::buy_x_get_y("b1g1", 1, 1).build()?,
        r#"{"id": "b1g1", "kind": "buy_x_get_y", "buy": {"qty": 1}, "get": {"qty": 1, "percent": "100"}}"#,
    );
    same(
        Promotion::bundle("set", "110.00")
            .item("a", 1)
            .item("c", 2)
            .build()?,
        r#"{"id": "set", "kind": "bundle", "items": [{"sku": "a", "qty": 1}, {"sku": "c", "qty": 2}], "price": "110.00"}"#,
    );
    same(
        Promotion::gift("mug", "90.00", "g").gift_qty(2).build()?,
        r#"{"id": "mug", "kind": "gift", "threshold": "90.00", "gift": {"sku": "g", "qty": 2}}"#,
    );
    same(
        Promotion::free_shipping("ship")
            .threshold("60.00")
            .build()?,
        r#"{"id": "ship", "kind": "free_shipping", "threshold": "60.00"}"#,
    );
    // Every common field.
    same(
        Promotion::percent_off("all", "10")
            .categories(["tea", "ware"])
            .products(["mi8"])
            .skus(["cup"])
            .exclude_skus(["sample"])
            .priority(5)
            .exclusive(true)
            .window(t("2026-11-11T00:00:00Z"), t("2026-11-12T00:00:00Z"))
            .budget_amount("1000.00")
            .build()?,
        r#"{"id": "all", "kind": "percent_off", "percent": "10",
            "scope": {"skus": ["cup"], "products": ["mi8"], "categories": ["tea", "ware"], "exclude_skus": ["sample"]},
            "priority": 5, "exclusive": true,
            "window": {"from": "2026-11-11T00:00:00Z", "to": "2026-11-12T00:00:00Z"},
            "budget": {"amount": "1000.00"}}"#,
    );
    same(
        Promotion::free_shipping("open")
            .scope(Scope::all().exclude_skus(["heavy"]))
            .ends_at(t("2026-12-01T00:00:00Z"))
            .budget_uses(100)
            .build()?,
        r#"{"id": "open", "kind": "free_shipping", "scope": {"all": true, "exclude_skus": ["heavy"]},
            "window": {"to": "2026-12-01T00:00:00Z"}, "budget": {"uses": 100}}"#,
    );
    same(
        Promotion::gift("g2", "1", "g")
            .scope(Scope::none())
            .starts_at(t("2026-01-01T00:00:00Z"))
            .build()?,
        r#"{"id": "g2", "kind": "gift", "threshold": "1", "gift": {"sku": "g"}, "scope": {"all": false},
            "window": {"from": "2026-01-01T00:00:00Z"}}"#,
    );
    Ok(())
}

/// The serialized form is the contract's, byte for byte: worked out from
/// the serde attributes (the kind's fields flattened after `id`, defaults
/// written out, an empty scope as `{}`).
#[test]
fn the_serialized_form_is_unchanged() -> Result<(), RulesError> {
    let p = Promotion::full_reduction("m100")
        .tier("100.00", "15.00")
        .build()?;
    assert_eq!(
        serde_json::to_string(&p).unwrap(),
        r#"{"id":"m100","kind":"full_reduction","tiers":[{"threshold":"100.00","off":"15.00"}],"mode":"highest_tier","cap":null,"scope":{},"priority":0,"exclusive":false,"window":null,"stage":null,"budget":null}"#
    );
    let c = Coupon::amount_off("WELCOME10", "10.00")
        .threshold("100.00")
        .owner("alice")
        .build()?;
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"code":"WELCOME10","kind":"amount_off","amount":"10.00","threshold":"100.00","percent":null,"max_off":null,"scope":{},"group":"default","window":null,"owner":"alice","usage_limit":null,"per_customer_limit":1}"#
    );
    Ok(())
}

#[test]
fn coupons_and_catalog_items_match_their_contract_json() -> Result<(), RulesError> {
    // The issue's example.
    same(
        Coupon::amount_off("WELCOME10", "10.00")
            .threshold("100.00")
            .owner("alice")
            .build()?,
        r#"{"code": "WELCOME10", "kind": "amount_off", "amount": "10.00", "threshold": "100.00", "owner": "alice"}"#,
    );
    // The contract's coupon example, every field written.
    same(
        Coupon::amount_off("SAVE10", "10.00")
            .threshold("99.00")
            .scope(Scope::all())
            .group("platform")
            .per_customer_limit(1)
            .build()?,
        r#"{ "code": "SAVE10", "kind": "amount_off", "amount": "10.00", "threshold": "99.00",
  "percent": null, "max_off": null, "scope": {"all": true}, "group": "platform",
  "window": null, "owner": null, "usage_limit": null, "per_customer_limit": 1 }"#,
    );
    same(
        Coupon::percent_off("TEA15", "15")
            .max_off("30.00")
            .categories(["tea"])
            .exclude_skus(["gift-box"])
            .window(t("2026-11-01T00:00:00Z"), t("2026-11-12T00:00:00Z"))
            .usage_limit(1000)
            .per_customer_limit(None)
            .build()?,
        r#"{"code": "TEA15", "kind": "percent_off", "percent": "15", "max_off": "30.00",
            "scope": {"categories": ["tea"], "exclude_skus": ["gift-box"]},
            "window": {"from": "2026-11-01T00:00:00Z", "to": "2026-11-12T00:00:00Z"},
            "usage_limit": 1000, "per_customer_limit": null}"#,
    );
    same(
        Coupon::amount_off("P", "5")
            .skus(["a"])
            .products(["p"])
            .starts_at(t("2026-11-01T00:00:00Z"))
            .ends_at(t("2026-11-02T00:00:00Z"))
            .build()?,
        r#"{"code": "P", "kind": "amount_off", "amount": "5", "scope": {"skus": ["a"], "products": ["p"]},
            "window": {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}}"#,
    );
    same(
        CatalogItem::new("mi8-64", "2699.00")?
            .product("mi8")
            .category("phones"),
        r#"{ "sku": "mi8-64", "product": "mi8", "category": "phones", "price": "2699.00" }"#,
    );
    same(
        CatalogItem::new("tea", "45.00")?,
        r#"{"sku": "tea", "price": "45.00"}"#,
    );
    same(
        Cart::new()
            .line("tea", 3)
            .customer("alice")
            .coupon("WELCOME10")
            .points(500),
        r#"{"customer": "alice", "lines": [{"sku": "tea", "qty": 3}], "coupons": ["WELCOME10"], "points": 500}"#,
    );
    Ok(())
}

/// A build's result and the (error, field) it must fail with.
type Case<T> = (Result<T, RulesError>, (&'static str, &'static str));

fn field_of(e: RulesError) -> (&'static str, &'static str) {
    match e {
        RulesError::InvalidAmount { field, .. } => ("invalid_amount", field),
        RulesError::InvalidRule { field, .. } => ("invalid_rule", field),
        RulesError::TooManyDecimals { field, .. } => ("too_many_decimals", field),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn build_refuses_what_needs_no_currency() {
    let cases: Vec<Case<Promotion>> = vec![
        // Text that is not an amount: the first one given is the error.
        (
            Promotion::full_reduction("x")
                .tier("1e3", "15.00")
                .cap("bad")
                .build(),
            ("invalid_amount", "tiers"),
        ),
        (
            Promotion::price("x", " 9.90").build(),
            ("invalid_amount", "price"),
        ),
        (
            Promotion::percent_off("x", "10").max_off("+1").build(),
            ("invalid_amount", "max_off"),
        ),
        (
            Promotion::gift("x", "NaN", "g").build(),
            ("invalid_amount", "threshold"),
        ),
        (
            Promotion::free_shipping("x").budget_amount("1,5").build(),
            ("invalid_amount", "budget"),
        ),
        // The unparsable amount wins over a later shape error.
        (
            Promotion::bundle("x", "ten").build(),
            ("invalid_amount", "price"),
        ),
        // Shape: the same errors as `validate`.
        (
            Promotion::full_reduction("x")
                .tier("200.00", "1.00")
                .tier("100.00", "2.00")
                .build(),
            ("invalid_rule", "tiers"),
        ),
        (
            Promotion::full_reduction("x").build(),
            ("invalid_rule", "tiers"),
        ),
        (
            Promotion::full_reduction("x")
                .tier("1", "1")
                .tier("2", "2")
                .mode(ReductionMode::Repeat)
                .build(),
            ("invalid_rule", "mode"),
        ),
        (
            Promotion::percent_off("x", "100.5").build(),
            ("invalid_rule", "percent"),
        ),
        (
            Promotion::percent_off("x", "1.00001").build(),
            ("too_many_decimals", "percent"),
        ),
        (
            Promotion::amount_off("x", "-3.00").build(),
            ("invalid_rule", "amount"),
        ),
        (
            Promotion::amount_off("x", -3).build(),
            ("invalid_rule", "amount"),
        ),
        (
            Promotion::bundle("x", "1").build(),
            ("invalid_rule", "items"),
        ),
        (
            Promotion::bundle("x", "1")
                .item("a", 1)
                .item("a", 2)
                .build(),
            ("invalid_rule", "items"),
        ),
        (
            Promotion::buy_x_get_y("x", 0, 1).build(),
            ("invalid_rule", "buy"),
        ),
        (
            Promotion::buy_x_get_y("x", 1, 1).get_percent("101").build(),
            ("invalid_rule", "get"),
        ),
        (
            Promotion::gift("x", "1", "g").gift_qty(0).build(),
            ("invalid_rule", "gift"),
        ),
        (
            Promotion::ladder("x").tier(0, "10").build(),
            ("invalid_rule", "tiers"),
        ),
        (
            Promotion::quantity_discount("x").build(),
            ("invalid_rule", "tiers"),
        ),
        (
            Promotion::price("x", "1").quota(-1).build(),
            ("invalid_rule", "quota"),
        ),
        (
            Promotion::price("x", "1").budget_uses(-1).build(),
            ("invalid_rule", "budget"),
        ),
        (
            Promotion::free_shipping("x")
                .window(t("2026-01-02T00:00:00Z"), t("2026-01-01T00:00:00Z"))
                .build(),
            ("invalid_rule", "window"),
        ),
        (
            Promotion::gift("x", "1", "g")
                .stage(PromotionStage::Item)
                .build(),
            ("invalid_rule", "stage"),
        ),
        (Promotion::free_shipping("").build(), ("invalid_rule", "id")),
    ];
    for (i, (got, want)) in cases.into_iter().enumerate() {
        let e = got.expect_err(&format!("case {i} was accepted"));
        assert_eq!(field_of(e), want, "case {i}");
    }
    let coupons: Vec<Case<Coupon>> = vec![
        (
            Coupon::amount_off("C", "10.0.0").build(),
            ("invalid_amount", "amount"),
        ),
        (
            Coupon::amount_off("C", "10").threshold("1e2").build(),
            ("invalid_amount", "threshold"),
        ),
        (
            Coupon::percent_off("C", "101").build(),
            ("invalid_rule", "percent"),
        ),
        (
            Coupon::amount_off("C", "1").threshold("-5").build(),
            ("invalid_rule", "threshold"),
        ),
        (
            Coupon::amount_off("C", "1").usage_limit(-1).build(),
            ("invalid_rule", "usage_limit"),
        ),
        (
            Coupon::amount_off("C", "1")
                .ends_at(t("2026-01-01T00:00:00Z"))
                .starts_at(t("2026-01-01T00:00:00Z"))
                .build(),
            ("invalid_rule", "window"),
        ),
    ];
    for (i, (got, want)) in coupons.into_iter().enumerate() {
        let e = got.expect_err(&format!("coupon case {i} was accepted"));
        assert_eq!(field_of(e), want, "coupon case {i}");
    }
    for bad in [
        CatalogItem::new("a", "4e1"),
        CatalogItem::new("a", "-1.00"),
        CatalogItem::new("", "1.00"),
    ] {
        assert!(
            matches!(bad, Err(RulesError::InvalidCatalogItem { .. })),
            "{bad:?}"
        );
    }
}

/// What needs the currency is refused where the rule meets the shop, with
/// the errors a JSON rule gets there.
#[test]
fn the_currency_checks_run_when_the_rule_is_added() -> Result<(), RulesError> {
    let mut rules = RuleSet::new(
        Currency::CNY,
        PricingSettings::default(),
        vec![CatalogItem::new("g", "1.00")?],
        vec![],
        vec![],
    )?;
    // Three written decimals: fine for `build`, not a CNY amount.
    let p = Promotion::full_reduction("x")
        .tier("100.001", "1")
        .build()?;
    assert!(matches!(
        p.validate(Currency::CNY),
        Err(RulesError::TooManyDecimals { field: "tiers", .. })
    ));
    assert!(matches!(
        rules.add_promotion(p),
        Err(RulesError::TooManyDecimals { field: "tiers", .. })
    ));
    // "1.5" is a CNY amount, not a JPY one.
    let p = Promotion::amount_off("y", "1.5").build()?;
    assert!(p.validate(Currency::JPY).is_err());
    rules.add_promotion(p)?;
    // A gift SKU the catalog lacks: only the rule set can tell.
    let gift = Promotion::gift("z", "1", "nope").build()?;
    assert!(matches!(
        rules.add_promotion(gift),
        Err(RulesError::InvalidRule { field: "gift", .. })
    ));
    let c = Coupon::amount_off("C", "10.000").build()?;
    assert!(matches!(
        rules.add_coupon(c),
        Err(RulesError::TooManyDecimals {
            field: "amount",
            ..
        })
    ));
    let item = CatalogItem::new("h", "12.000")?;
    assert!(matches!(
        rules.add_item(item),
        Err(RulesError::InvalidCatalogItem { .. })
    ));
    Ok(())
}

proptest! {
    /// Any text as an amount: the builder never panics, and it builds
    /// exactly when the contract's JSON with the same text reads into a
    /// rule that passes the same checks — into the same value.
    #[test]
    fn builders_agree_with_json_on_any_text(
        a in prop_oneof![
            "-?[0-9]{1,4}(\\.[0-9]{0,5})?",
            "[-+ .eE0-9a-z]{0,8}",
            ".{0,6}",
        ],
        b in "-?[0-9]{1,3}(\\.[0-9]{1,3})?",
    ) {
        let built = Promotion::full_reduction("x").tier(a.as_str(), b.as_str()).build();
        let json = serde_json::json!({"id": "x", "kind": "full_reduction",
            "tiers": [{"threshold": a, "off": b}]});
        match serde_json::from_value::<Promotion>(json) {
            Err(_) => prop_assert!(
                matches!(built, Err(RulesError::InvalidAmount { .. })),
                "{:?}", built
            ),
            Ok(p) => {
                // Shape checks: the currency with the most digits (KWD, 3)
                // admits every written amount of up to 3 decimals.
                let kwd = Currency::from_code("KWD").unwrap();
                match (&built, p.validate(kwd)) {
                    (Ok(q), Ok(())) => prop_assert_eq!(q, &p),
                    (Err(RulesError::TooManyDecimals { .. }), _) | (_, Err(RulesError::TooManyDecimals { .. })) => {}
                    (Err(e), Err(f)) => prop_assert_eq!(e, &f),
                    (got, want) => prop_assert!(false, "build {:?} vs validate {:?}", got, want),
                }
            }
        }
        let c = Coupon::percent_off("C", a.as_str()).max_off(b.as_str()).build();
        let _ = c;
        let i = CatalogItem::new("s", a.as_str());
        let _ = i;
    }
}
