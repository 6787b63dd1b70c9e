//! Revision 4 of the contract (2026-11-29): three readings made explicit.
//! One test per reading, each number worked out by hand beside it.
//!
//! Catalog: a 100.00, b 50.00, c 10.00 (CNY).

use mercato_core::money::Currency;
use mercato_core::quote::Quote;
use mercato_rules::{
    Cart, PricingContext, PricingSettings, Promotion, RuleSet, RulesError, ShopFacts, price,
};
use serde_json::{Value, json};

fn rules(promotions: Value) -> Result<RuleSet, RulesError> {
    let catalog = serde_json::from_value(json!([
        {"sku": "a", "price": "100.00"},
        {"sku": "b", "price": "50.00"},
        {"sku": "c", "price": "10.00"}
    ]))
    .unwrap();
    let promotions: Vec<Promotion> = serde_json::from_value(promotions).unwrap();
    RuleSet::new(
        Currency::CNY,
        PricingSettings::default(),
        catalog,
        promotions,
        vec![],
    )
}

fn quote(rules: &RuleSet, lines: &[(&str, i64)]) -> Quote {
    let shop = ShopFacts::new().with_stock("c", 100);
    let now = "2026-12-01T00:00:00Z".parse().unwrap();
    let ctx = PricingContext::new(rules, now, &shop);
    let q = price(&Cart::of(lines), &ctx).unwrap();
    q.check().unwrap();
    q
}

/// `source:stage:amount` of each adjustment of line `i`.
fn adj(q: &Quote, i: usize) -> Vec<String> {
    q.lines[i]
        .adjustments
        .iter()
        .map(|a| format!("{}:{}:{}", a.source, a.stage.as_str(), a.amount.amount()))
        .collect()
}

/// `source:reason[:missing]` of each rejection.
fn rej(q: &Quote) -> Vec<String> {
    q.rejected
        .iter()
        .map(|r| match &r.missing {
            Some(m) => format!("{}:{}:{}", r.source, r.reason.as_str(), m.amount()),
            None => format!("{}:{}", r.source, r.reason.as_str()),
        })
        .collect()
}

/// Reading (a): an `amount_off` with `per: "unit"` or `"line"` and a
/// `stage` is valid, and `per` decides its stage (item), whatever `stage`
/// says. (`per: "order"` likewise runs at the order stage whatever
/// `stage` says: the contract's table says "`per` decides".)
#[test]
fn amount_off_per_decides_the_stage_whatever_stage_says() {
    let r = rules(json!([
        {"id": "unit2", "kind": "amount_off", "amount": "2.00", "per": "unit", "stage": "order", "scope": {"skus": ["c"]}},
        {"id": "line5", "kind": "amount_off", "amount": "5.00", "per": "line", "stage": "order", "scope": {"skus": ["b"]}},
        {"id": "order1", "kind": "amount_off", "amount": "1.00", "per": "order", "stage": "item", "scope": {"skus": ["a"]}},
        {"id": "fr", "kind": "full_reduction", "tiers": [{"threshold": "30.00", "off": "3.00"}], "scope": {"skus": ["c"]}}
    ]))
    .expect("valid under revision 4");
    // c × 3 = 30.00. unit2 runs at the item stage: 3 × 2.00 = 6.00 off, line
    // left 24.00; then the order stage's fr sees 24.00 < 30.00: missing 6.00.
    // (At the order stage unit2 would be labelled `order`.)
    // b × 2 = 100.00: line5 takes 5.00 once, at the item stage.
    // a × 1 = 100.00: order1 takes 1.00 at the order stage.
    let q = quote(&r, &[("c", 3), ("b", 2), ("a", 1)]);
    assert_eq!(adj(&q, 0), ["unit2:item:6.00"]);
    assert_eq!(adj(&q, 1), ["line5:item:5.00"]);
    assert_eq!(adj(&q, 2), ["order1:order:1.00"]);
    assert_eq!(rej(&q), ["fr:threshold_not_met:6.00"]);
    // item 6.00 + 5.00 = 11.00; order 1.00; goods 230.00 - 12.00 = 218.00.
    assert_eq!(q.totals.item_discount.amount().to_string(), "11.00");
    assert_eq!(q.totals.order_discount.amount().to_string(), "1.00");
    assert_eq!(q.totals.goods.amount().to_string(), "218.00");
    // A stage that does not fit another kind is still refused.
    let bad = rules(json!([
        {"id": "x", "kind": "full_reduction", "tiers": [{"threshold": "1.00", "off": "1.00"}], "stage": "item"}
    ]));
    assert!(
        matches!(bad, Err(RulesError::InvalidRule { field: "stage", .. })),
        "{bad:?}"
    );
}

/// Reading (b): the number of `buy_x_get_y` sets is the largest k such that
/// the k × get.qty cheapest get-scope units exist and the buy-scope units
/// left beside them number at least k × buy.qty.
#[test]
fn buy_x_get_y_counts_the_largest_k_of_the_formula() {
    // Buy 1 (b or c), get 1 b free: b is in both scopes.
    let r = rules(json!([
        {"id": "r", "kind": "buy_x_get_y",
         "buy": {"scope": {"skus": ["b", "c"]}, "qty": 1},
         "get": {"scope": {"skus": ["b"]}, "qty": 1}}
    ]))
    .unwrap();
    // b × 2 (50.00), c × 2 (10.00). k = 2: the 2 cheapest get units are both
    // b; the buy units left are c, c = 2 ≥ 2 × 1. k = 3: only 2 get units.
    // So 2 sets: both b free = 100.00 on line 0. (A greedy first set that
    // paid with the dearest buy unit, a b, would leave no b to give: 1 set.)
    let q = quote(&r, &[("b", 2), ("c", 2)]);
    assert_eq!(adj(&q, 0), ["r:item:100.00"]);
    assert!(adj(&q, 1).is_empty());
    assert_eq!(q.totals.goods.amount().to_string(), "20.00");
    // b × 3 alone: k = 1 (get b; buy left b, b = 2 ≥ 1); k = 2 needs 2 get
    // units and 2 buy units left: 3 - 2 = 1 < 2. One set: 50.00.
    let q = quote(&r, &[("b", 3)]);
    assert_eq!(adj(&q, 0), ["r:item:50.00"]);

    // The formula takes the cheapest get units: buy 1 c, get 1 of c or a.
    let r = rules(json!([
        {"id": "r", "kind": "buy_x_get_y",
         "buy": {"scope": {"skus": ["c"]}, "qty": 1},
         "get": {"scope": {"skus": ["c", "a"]}, "qty": 1}}
    ]))
    .unwrap();
    // c × 2 (10.00), a × 2 (100.00). Get-scope units cheapest first: c, c,
    // a, a. k = 1: get c; buy left c = 1 ≥ 1. k = 2: get c, c; buy left 0 <
    // 2. So 1 set: the cheapest get unit, one c, is free: 10.00 on line 0.
    let q = quote(&r, &[("c", 2), ("a", 2)]);
    assert_eq!(adj(&q, 0), ["r:item:10.00"]);
    assert!(adj(&q, 1).is_empty());
}

/// Reading (c): under `best_for_customer`, when the stack applies nothing,
/// an eligible exclusive promotion applies — even a gift, worth 0 in the
/// comparison; a tie with a stack that applies something goes to the stack.
#[test]
fn an_exclusive_gift_applies_when_the_stack_gives_nothing() {
    let promotions = |stack_threshold: &str| {
        json!([
            {"id": "fr", "kind": "full_reduction", "tiers": [{"threshold": stack_threshold, "off": "20.00"}]},
            {"id": "mug", "kind": "gift", "threshold": "50.00", "gift": {"sku": "c", "qty": 1}, "exclusive": true}
        ])
    };
    // a × 1 = 100.00: fr needs 200.00 (missing 100.00), so the stack applies
    // nothing; the exclusive gift is eligible (a 10.00 gift line) and applies.
    let r = rules(promotions("200.00")).unwrap();
    let q = quote(&r, &[("a", 1)]);
    assert_eq!(q.lines.len(), 2);
    assert!(q.lines[1].gift);
    assert_eq!(adj(&q, 1), ["mug:order:10.00"]);
    assert_eq!(rej(&q), ["fr:threshold_not_met:100.00"]);
    // list 110.00, order discount 10.00 (the gift), goods 100.00.
    assert_eq!(q.totals.goods.amount().to_string(), "100.00");
    // fr from 100.00 applies (20.00, worth 20.00 > 0): the stack wins and
    // the gift is exclusive_lost.
    let r = rules(promotions("100.00")).unwrap();
    let q = quote(&r, &[("a", 1)]);
    assert_eq!(q.lines.len(), 1);
    assert_eq!(adj(&q, 0), ["fr:order:20.00"]);
    assert_eq!(rej(&q), ["mug:exclusive_lost"]);

    // A tie at 0 with a stack that applies something (a non-exclusive gift,
    // worth 0) goes to the stack.
    let r = rules(json!([
        {"id": "pen", "kind": "gift", "threshold": "50.00", "gift": {"sku": "c", "qty": 1}},
        {"id": "mug", "kind": "gift", "threshold": "50.00", "gift": {"sku": "c", "qty": 2}, "exclusive": true}
    ]))
    .unwrap();
    let q = quote(&r, &[("a", 1)]);
    assert_eq!(q.lines.len(), 2);
    assert_eq!(adj(&q, 1), ["pen:order:10.00"]);
    assert_eq!(rej(&q), ["mug:exclusive_lost"]);
}
