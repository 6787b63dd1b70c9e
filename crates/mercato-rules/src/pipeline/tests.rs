//! Unit tests of the pipeline: every kind, every reject reason, both
//! selection modes, the rounding modes, budgets and the errors. Every
//! expected number is worked out in the comment beside it.

use chrono::{DateTime, Utc};
use mercato_core::CoreError;
use mercato_core::money::Currency;
use mercato_core::quote::Quote;
use serde_json::{Value, json};

use crate::{
    BudgetSpent, Cart, CatalogItem, Coupon, PricingContext, PricingSettings, Promotion, RuleSet,
    RulesError, ShopFacts, price,
};

struct Shop {
    rules: RuleSet,
    shop: ShopFacts,
    now: DateTime<Utc>,
}

fn shop(v: Value) -> Shop {
    let get = |k: &str| v.get(k).cloned().unwrap_or(json!([]));
    let settings: PricingSettings =
        serde_json::from_value(v.get("settings").cloned().unwrap_or(json!({}))).unwrap();
    let catalog: Vec<CatalogItem> = serde_json::from_value(get("catalog")).unwrap();
    let promotions: Vec<Promotion> = serde_json::from_value(get("promotions")).unwrap();
    let coupons: Vec<Coupon> = serde_json::from_value(get("coupons")).unwrap();
    let rules = RuleSet::new(Currency::CNY, settings, catalog, promotions, coupons).unwrap();
    let shop = ShopFacts::new()
        .with_customer("u1", Some("vip"), 1000)
        .with_customer("u2", None, 300);
    Shop {
        rules,
        shop,
        now: "2026-03-02T09:00:00Z".parse().unwrap(),
    }
}

impl Shop {
    fn try_price(&self, cart: Value) -> Result<Quote, RulesError> {
        let cart: Cart = serde_json::from_value(cart).unwrap();
        let ctx = PricingContext::new(&self.rules, self.now, &self.shop);
        price(&cart, &ctx)
    }
    fn price(&self, cart: Value) -> Quote {
        let q = self.try_price(cart).unwrap();
        q.check().unwrap();
        q
    }
}

fn s(m: &mercato_core::money::Money) -> String {
    m.amount().to_string()
}

/// `source:stage:amount` of each adjustment of line `i`.
fn adj(q: &Quote, i: usize) -> Vec<String> {
    q.lines[i]
        .adjustments
        .iter()
        .map(|a| format!("{}:{}:{}", a.source, a.stage.as_str(), s(&a.amount)))
        .collect()
}

/// `source:reason[:missing]` of each rejection.
fn rej(q: &Quote) -> Vec<String> {
    q.rejected
        .iter()
        .map(|r| {
            let mut t = format!("{}:{}", r.source, r.reason.as_str());
            if let Some(m) = &r.missing {
                t += &format!(":{}", s(m));
            }
            if let Some(n) = r.missing_qty {
                t += &format!(":{n}");
            }
            t
        })
        .collect()
}

fn applied(q: &Quote) -> Vec<String> {
    q.applied
        .iter()
        .map(|a| format!("{}:{}", a.source, s(&a.amount)))
        .collect()
}

fn lines(l: &[(&str, i64)]) -> Value {
    json!(
        l.iter()
            .map(|(sku, qty)| json!({"sku": sku, "qty": qty}))
            .collect::<Vec<_>>()
    )
}

fn cart(l: &[(&str, i64)]) -> Value {
    json!({"lines": lines(l)})
}

const AB: &str = r#"[{"sku": "a", "category": "x", "price": "100.00"},
                     {"sku": "b", "category": "x", "price": "50.00"},
                     {"sku": "c", "category": "y", "price": "10.00"}]"#;

fn catalog() -> Value {
    serde_json::from_str(AB).unwrap()
}

// ---------- stage 1: unit ----------

#[test]
fn member_price_for_the_wrong_tier_is_not_eligible_and_lower_price_wins() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "member", "kind": "price", "price": "90.00", "tier": "vip"},
        {"id": "sale", "kind": "price", "price": "85.00", "scope": {"skus": ["a"]}},
        {"id": "gold", "kind": "price", "price": "10.00", "tier": "gold", "scope": {"skus": ["a"]}}
    ]}));
    // u1 is vip: 90 and 85 both qualify on a; 85 wins (saving 15.00), member loses: not_best.
    let q = sh.price(json!({"customer": "u1", "lines": lines(&[("a", 1)])}));
    assert_eq!(adj(&q, 0), ["sale:unit:15.00"]);
    assert_eq!(rej(&q), ["member:not_best", "gold:not_eligible"]);
    // Anonymous: member not eligible; sale applies.
    let q = sh.price(cart(&[("a", 2)]));
    assert_eq!(adj(&q, 0), ["sale:unit:30.00"]);
    assert_eq!(s(&q.lines[0].unit_price), "100.00");
    assert_eq!(rej(&q), ["member:not_eligible", "gold:not_eligible"]);
}

#[test]
fn equal_unit_prices_go_to_the_higher_priority_then_the_earlier() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "p1", "kind": "price", "price": "80.00"},
        {"id": "p2", "kind": "price", "price": "80.00", "priority": 1},
        {"id": "p3", "kind": "price", "price": "80.00", "priority": 1}
    ]}));
    let q = sh.price(cart(&[("a", 1)]));
    assert_eq!(adj(&q, 0), ["p2:unit:20.00"]);
    assert_eq!(rej(&q), ["p1:not_best", "p3:not_best"]);
}

#[test]
fn per_customer_limit_splits_the_line_and_counts_earlier_orders() {
    let mut sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "flash", "kind": "price", "price": "60.00", "per_customer_limit": 3, "scope": {"skus": ["a"]}}
    ]}));
    sh.shop = sh.shop.clone().with_units_bought("flash", "u1", 1);
    // 3 - 1 = 2 units left: line 0 (qty 1) takes 1, line 1 (qty 4) takes 1, the rest at list.
    let q = sh.price(json!({"customer": "u1", "lines": lines(&[("a", 1), ("a", 4)])}));
    assert_eq!(adj(&q, 0), ["flash:unit:40.00"]);
    assert_eq!(adj(&q, 1), ["flash:unit:40.00"]);
    assert_eq!(s(&q.lines[1].net), "360.00");
    assert_eq!(q.lines[1].uses[0].units, 1);
    assert_eq!(applied(&q), ["flash:80.00"]);
    // All used up: limit_reached.
    sh.shop = sh.shop.clone().with_units_bought("flash", "u1", 3);
    let q = sh.price(json!({"customer": "u1", "lines": lines(&[("a", 1)])}));
    assert_eq!(rej(&q), ["flash:limit_reached"]);
    // Anonymous: the limit cannot be counted.
    let q = sh.price(cart(&[("a", 1)]));
    assert_eq!(rej(&q), ["flash:not_eligible"]);
}

#[test]
fn quota_and_window() {
    let mut sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "q", "kind": "price", "price": "60.00", "quota": 5},
        {"id": "later", "kind": "price", "price": "1.00", "window": {"from": "2026-04-01T00:00:00Z"}}
    ]}));
    sh.shop = sh.shop.clone().with_units_sold("q", 3);
    // 2 units of quota left: 2 × 40.00 off a line of 3.
    let q = sh.price(cart(&[("a", 3)]));
    assert_eq!(adj(&q, 0), ["q:unit:80.00"]);
    assert_eq!(rej(&q), ["later:outside_window"]);
    sh.shop = sh.shop.clone().with_units_sold("q", 5);
    assert_eq!(
        rej(&sh.price(cart(&[("a", 1)]))),
        ["q:limit_reached", "later:outside_window"]
    );
}

#[test]
fn ladder_rounds_per_unit_and_reports_missing_qty() {
    let sh = shop(
        json!({"catalog": [{"sku": "p", "price": "33.33"}], "promotions": [
            {"id": "lad", "kind": "ladder", "tiers": [{"min_qty": 3, "percent": "10"}]}
        ]}),
    );
    // 10 % of 33.33 = 3.333 -> 3.33 per unit, × 3 = 9.99 (not 10% of 99.99 = 10.00).
    let q = sh.price(cart(&[("p", 3)]));
    assert_eq!(adj(&q, 0), ["lad:unit:9.99"]);
    let q = sh.price(cart(&[("p", 1)]));
    assert_eq!(rej(&q), ["lad:threshold_not_met:2"]);
}

// ---------- stage 2: item ----------

#[test]
fn percent_off_max_off_caps_the_promotion_as_a_whole() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "pc", "kind": "percent_off", "percent": "20", "max_off": "15.00", "scope": {"categories": ["x"]}}
    ]}));
    // 20 % of 100 + 50 = 30.00, capped at 15.00, split 100:50 -> 10.00 / 5.00; c is out of scope.
    let q = sh.price(cart(&[("a", 1), ("b", 1), ("c", 1)]));
    assert_eq!(adj(&q, 0), ["pc:item:10.00"]);
    assert_eq!(adj(&q, 1), ["pc:item:5.00"]);
    assert!(adj(&q, 2).is_empty());
    assert_eq!(applied(&q), ["pc:15.00"]);
}

#[test]
fn amount_off_per_unit_and_per_line_never_exceed_the_line() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "unit", "kind": "amount_off", "amount": "12.00", "per": "unit", "scope": {"skus": ["c"]}},
        {"id": "line", "kind": "amount_off", "amount": "5.00", "per": "line", "scope": {"skus": ["b"]}}
    ]}));
    // c: 12.00 off each 10.00 unit is capped at the line's 30.00; b: 5.00 once per line.
    let q = sh.price(cart(&[("c", 3), ("b", 2)]));
    assert_eq!(adj(&q, 0), ["unit:item:30.00"]);
    assert_eq!(s(&q.lines[0].net), "0.00");
    assert_eq!(adj(&q, 1), ["line:item:5.00"]);
}

#[test]
fn item_promotions_compound_in_priority_order() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "second", "kind": "percent_off", "percent": "10"},
        {"id": "first", "kind": "amount_off", "amount": "20.00", "per": "line", "priority": 5}
    ]}));
    // first: 100 - 20 = 80; second: 10 % of 80 = 8.
    let q = sh.price(cart(&[("a", 1)]));
    assert_eq!(adj(&q, 0), ["first:item:20.00", "second:item:8.00"]);
    assert_eq!(applied(&q), ["first:20.00", "second:8.00"]);
}

#[test]
fn buy_x_get_y_discounts_the_cheapest_and_repeats() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "b2g1", "kind": "buy_x_get_y", "buy": {"qty": 2}, "get": {"qty": 1}}
    ]}));
    // 2 a + 1 c: one set; the cheapest unit (c, 10.00) is free.
    let q = sh.price(cart(&[("a", 2), ("c", 1)]));
    assert_eq!(adj(&q, 1), ["b2g1:item:10.00"]);
    assert!(adj(&q, 0).is_empty());
    // 6 units of b: two sets, 2 units free = 100.00.
    let q = sh.price(cart(&[("b", 6)]));
    assert_eq!(adj(&q, 0), ["b2g1:item:100.00"]);
    // 2 units: one short of a set.
    let q = sh.price(cart(&[("b", 2)]));
    assert_eq!(rej(&q), ["b2g1:threshold_not_met:1"]);
}

#[test]
fn buy_x_get_y_without_repeat_and_with_a_partial_percent() {
    let sh = shop(
        json!({"catalog": [{"sku": "t", "price": "10.00"}], "promotions": [
            {"id": "cut", "kind": "amount_off", "amount": "20.00", "per": "line", "priority": 9},
            {"id": "half", "kind": "buy_x_get_y", "buy": {"qty": 1}, "get": {"qty": 1, "percent": "50"}, "repeat": false}
        ]}),
    );
    // After `cut` the line of 5 has 30.00 left (6.00 a unit); one set only:
    // 50 % of one unit = 3.00.
    let q = sh.price(cart(&[("t", 5)]));
    assert_eq!(adj(&q, 0), ["cut:item:20.00", "half:item:3.00"]);
    // Line of 3 after cut: 10.00 left, 3.333.. a unit; half is 1.666.. -> 1.67 (rounded per line).
    let q = sh.price(cart(&[("t", 3)]));
    assert_eq!(adj(&q, 0), ["cut:item:20.00", "half:item:1.67"]);
}

#[test]
fn buy_x_get_y_with_separate_scopes() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "ac", "kind": "buy_x_get_y", "buy": {"scope": {"skus": ["a"]}, "qty": 1},
         "get": {"scope": {"skus": ["c"]}, "qty": 1}}
    ]}));
    // 2 a buy two c free; the third c stays.
    let q = sh.price(cart(&[("a", 2), ("c", 3)]));
    assert_eq!(adj(&q, 1), ["ac:item:20.00"]);
    // Only a: the get side is missing one unit.
    assert_eq!(
        rej(&sh.price(cart(&[("a", 1)]))),
        ["ac:threshold_not_met:1"]
    );
}

#[test]
fn bundle_spreads_the_saving_by_largest_remainder() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "set", "kind": "bundle", "items": [{"sku": "a", "qty": 1}, {"sku": "c", "qty": 2}], "price": "110.00"}
    ]}));
    // One set: a (100.00) + 2 c (20.00) = 120.00 sold at 110.00: 10.00 over 100:20
    // -> 8.33.. / 1.66.. -> 8.33 / 1.67 (the larger remainder takes the cent).
    let q = sh.price(cart(&[("a", 2), ("c", 2)]));
    assert_eq!(adj(&q, 0), ["set:item:8.33"]);
    assert_eq!(adj(&q, 1), ["set:item:1.67"]);
    // a alone: two c missing.
    assert_eq!(
        rej(&sh.price(cart(&[("a", 1)]))),
        ["set:threshold_not_met:2"]
    );
    // Untouched when no bundle SKU is in the cart.
    assert!(rej(&sh.price(cart(&[("b", 1)]))).is_empty());
}

#[test]
fn bundle_after_buy_x_get_y_spreads_by_line_amount_left_per_unit() {
    // Issue 17. b3g1 first: 30 % off one b unit, 254.91 × 0.3 = 76.473 ->
    // 76.47; b is left 1784.37 - 76.47 = 1707.90 over 7 units.
    // One set: a gives 2 of 3 units, 1377.69 × 2 / 3 = 918.46; b gives 2 of 7,
    // 1707.90 × 2 / 7 = 487.9714…; value 1406.4314…, price 1142.62, saving
    // 263.8114… -> 263.81. Spread 918.46 : 487.9714… -> 172.2792… / 91.5307…
    // -> floors 172.27 / 91.53, the cent to the larger remainder (a): 172.28.
    let sh = shop(
        json!({"catalog": [{"sku": "a", "price": "459.23"}, {"sku": "b", "price": "254.91"}],
            "promotions": [
            {"id": "b3g1", "kind": "buy_x_get_y", "priority": 5, "buy": {"scope": {"skus": ["a"]}, "qty": 3},
             "get": {"scope": {"all": true}, "qty": 1, "percent": "30"}},
            {"id": "set", "kind": "bundle", "priority": 2, "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 2}], "price": "1142.62"}
        ]}),
    );
    let q = sh.price(cart(&[("a", 3), ("b", 7)]));
    assert_eq!(adj(&q, 0), ["set:item:172.28"]);
    assert_eq!(adj(&q, 1), ["b3g1:item:76.47", "set:item:91.53"]);
    assert_eq!(applied(&q), ["b3g1:76.47", "set:263.81"]);
    // 1377.69 - 172.28 = 1205.41; 1784.37 - 76.47 - 91.53 = 1616.37.
    assert_eq!(s(&q.lines[0].net), "1205.41");
    assert_eq!(s(&q.lines[1].net), "1616.37");
    assert_eq!(s(&q.totals.goods), "2821.78");
}

#[test]
fn bundle_after_bundle_spreads_by_line_amount_left_per_unit() {
    // set1 takes 1 of 3 a (459.23) and b (254.91): value 714.14, saving
    // 114.14, split 459.23 : 254.91 -> 73.398… / 40.741… -> 73.40 / 40.74.
    // a is left 1377.69 - 73.40 = 1304.29. set2 takes 1 of 3 a, worth
    // 1304.29 / 3 = 434.7633…, and c 999.00: value 1433.7633…, saving
    // 233.7633… -> 233.76, split 434.7633… : 999.00 -> 70.8835… / 162.8764…
    // -> floors 70.88 / 162.87, the cent to the larger remainder (c).
    let sh = shop(
        json!({"catalog": [{"sku": "a", "price": "459.23"}, {"sku": "b", "price": "254.91"},
                                         {"sku": "c", "price": "999.00"}],
            "promotions": [
            {"id": "set1", "kind": "bundle", "priority": 5, "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 1}], "price": "600.00"},
            {"id": "set2", "kind": "bundle", "priority": 2, "items": [{"sku": "a", "qty": 1}, {"sku": "c", "qty": 1}], "price": "1200.00"}
        ]}),
    );
    let q = sh.price(cart(&[("a", 3), ("b", 1), ("c", 1)]));
    assert_eq!(adj(&q, 0), ["set1:item:73.40", "set2:item:70.88"]);
    assert_eq!(adj(&q, 1), ["set1:item:40.74"]);
    assert_eq!(adj(&q, 2), ["set2:item:162.88"]);
    assert_eq!(applied(&q), ["set1:114.14", "set2:233.76"]);
}

#[test]
fn bundle_saving_is_rounded_from_the_exact_set_value() {
    // Line amounts left after amount_off per line: x 1.50 - 0.01 = 1.49,
    // y 1.49, z 3.00 - 0.05 = 2.95. One set takes 2 of 3 x, 2 of 3 y, 5 of
    // 6 z: 1.49 × 2 / 3 = 0.99333… twice and 2.95 × 5 / 6 = 2.458333…: value
    // exactly 4.445 (1/3 + 1/3 + 5/6 of a cent = 1.5 cents), price 3.50,
    // saving exactly 0.945: half up 0.95, half even 0.94. (Summed as 28-digit
    // decimals the three fractions are each cut short and the value comes
    // out at 4.44499…, which rounds to 0.94 either way.)
    let promos = json!([
        {"id": "o1", "kind": "amount_off", "per": "line", "amount": "0.01", "priority": 5, "scope": {"skus": ["x", "y"]}},
        {"id": "o5", "kind": "amount_off", "per": "line", "amount": "0.05", "priority": 5, "scope": {"skus": ["z"]}},
        {"id": "set", "kind": "bundle", "items": [{"sku": "x", "qty": 2}, {"sku": "y", "qty": 2}, {"sku": "z", "qty": 5}], "price": "3.50"}
    ]);
    let cat = json!([{"sku": "x", "price": "0.50"}, {"sku": "y", "price": "0.50"}, {"sku": "z", "price": "0.50"}]);
    let c = cart(&[("x", 3), ("y", 3), ("z", 6)]);
    let up = shop(json!({"catalog": cat, "promotions": promos}));
    let q = up.price(c.clone());
    // 0.95 over 0.99333… : 0.99333… : 2.458333… (× 600: 596 : 596 : 1475)
    // -> 21.229… / 21.229… / 52.540… cents -> floors 21 / 21 / 52, the cent
    // to the larger remainder (z).
    assert_eq!(applied(&q), ["o1:0.02", "o5:0.05", "set:0.95"]);
    assert_eq!(adj(&q, 0), ["o1:item:0.01", "set:item:0.21"]);
    assert_eq!(adj(&q, 1), ["o1:item:0.01", "set:item:0.21"]);
    assert_eq!(adj(&q, 2), ["o5:item:0.05", "set:item:0.53"]);
    let even =
        shop(json!({"catalog": cat, "promotions": promos, "settings": {"rounding": "half_even"}}));
    let q = even.price(c);
    // 0.94: 21.006… / 21.006… / 51.987… -> floors 21 / 21 / 51, the cent to z.
    assert_eq!(applied(&q), ["o1:0.02", "o5:0.05", "set:0.94"]);
    assert_eq!(adj(&q, 0), ["o1:item:0.01", "set:item:0.21"]);
    assert_eq!(adj(&q, 1), ["o1:item:0.01", "set:item:0.21"]);
    assert_eq!(adj(&q, 2), ["o5:item:0.05", "set:item:0.52"]);
}

#[test]
fn bundle_priced_above_its_items_gives_no_discount() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "set", "kind": "bundle", "items": [{"sku": "c", "qty": 1}], "price": "12.00"}
    ]}));
    assert_eq!(rej(&sh.price(cart(&[("c", 1)]))), ["set:no_discount"]);
}

// ---------- stage 3: order ----------

#[test]
fn order_percent_rounds_with_the_setting() {
    let cat = json!([{"sku": "q", "price": "0.25"}]);
    let promos = json!([{"id": "ten", "kind": "percent_off", "percent": "10", "stage": "order"}]);
    // 10 % of 0.25 = 0.025: half up 0.03, half even 0.02.
    let up = shop(json!({"catalog": cat, "promotions": promos}));
    assert_eq!(adj(&up.price(cart(&[("q", 1)])), 0), ["ten:order:0.03"]);
    let even =
        shop(json!({"catalog": cat, "promotions": promos, "settings": {"rounding": "half_even"}}));
    assert_eq!(adj(&even.price(cart(&[("q", 1)])), 0), ["ten:order:0.02"]);
}

#[test]
fn full_reduction_repeat_is_capped_and_thresholds_are_exact() {
    let sh = shop(
        json!({"catalog": [{"sku": "m", "price": "99.50"}, {"sku": "k", "price": "999.50"}], "promotions": [
            {"id": "every", "kind": "full_reduction", "mode": "repeat", "scope": {"skus": ["m"]},
             "tiers": [{"threshold": "100.00", "off": "10.00"}], "cap": "25.00"},
            {"id": "big", "kind": "full_reduction", "scope": {"skus": ["k"]},
             "tiers": [{"threshold": "1000.00", "off": "100.00"}]}
        ]}),
    );
    // 4 × 99.50 = 398.00: three multiples of 100 -> 30.00, capped at 25.00.
    let q = sh.price(cart(&[("m", 4)]));
    assert_eq!(applied(&q), ["every:25.00"]);
    // 99.50 misses by 0.50; 999.50 never reaches 1000.00.
    assert_eq!(
        rej(&sh.price(cart(&[("m", 1)]))),
        ["every:threshold_not_met:0.50"]
    );
    assert_eq!(
        rej(&sh.price(cart(&[("k", 1)]))),
        ["big:threshold_not_met:0.50"]
    );
}

#[test]
fn full_reduction_seven_times_one_gives_exactly_one() {
    // The macrozheng #492 case: 满5减1 on 7 × 1.00 over seven lines.
    let sh = shop(
        json!({"catalog": [{"sku": "o", "price": "1.00"}], "promotions": [
            {"id": "fr", "kind": "full_reduction", "tiers": [{"threshold": "5.00", "off": "1.00"}]}
        ]}),
    );
    let q = sh.price(cart(&[("o", 1); 7]));
    assert_eq!(s(&q.totals.order_discount), "1.00");
    // 100 / 7: 14 each, the two odd cents to the earliest lines.
    assert_eq!(adj(&q, 0), ["fr:order:0.15"]);
    assert_eq!(adj(&q, 6), ["fr:order:0.14"]);
}

#[test]
fn quantity_discount_percent_and_missing_qty() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "n3", "kind": "quantity_discount", "scope": {"skus": ["c"]}, "tiers": [{"min_qty": 3, "percent": "10"}]}
    ]}));
    assert_eq!(applied(&sh.price(cart(&[("c", 3)]))), ["n3:3.00"]);
    assert_eq!(
        rej(&sh.price(cart(&[("c", 2)]))),
        ["n3:threshold_not_met:1"]
    );
}

#[test]
fn order_amount_off_is_capped_at_the_subtotal() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "big", "kind": "amount_off", "amount": "500.00"}
    ]}));
    let q = sh.price(cart(&[("c", 2)]));
    assert_eq!(applied(&q), ["big:20.00"]);
    assert_eq!(s(&q.totals.payable), "0.00");
}

#[test]
fn gift_out_of_stock_counts_the_carts_own_units() {
    let mut sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "g", "kind": "gift", "threshold": "100.00", "gift": {"sku": "c", "qty": 1}}
    ]}));
    sh.shop = sh.shop.clone().with_stock("c", 2);
    // Stock 2, the cart takes 2 itself: nothing left for the gift.
    let q = sh.price(cart(&[("a", 1), ("c", 2)]));
    assert_eq!(rej(&q), ["g:out_of_stock"]);
    // Stock 2, the cart takes 1: the gift line is added.
    let q = sh.price(cart(&[("a", 1), ("c", 1)]));
    assert_eq!(q.lines.len(), 3);
    assert!(q.lines[2].gift);
    assert_eq!(adj(&q, 2), ["g:order:10.00"]);
    assert_eq!(s(&q.totals.list), "120.00");
    assert_eq!(s(&q.totals.goods), "110.00");
    // Below the threshold: 凑单 hint.
    assert_eq!(
        rej(&sh.price(cart(&[("b", 1)]))),
        ["g:threshold_not_met:50.00"]
    );
}

// ---------- stacking ----------

fn stacking(selection: &str, exclusive_percent: &str, exclusive_priority: i64) -> Shop {
    shop(
        json!({"catalog": catalog(), "settings": {"selection": selection}, "promotions": [
            {"id": "five", "kind": "percent_off", "percent": "5"},
            {"id": "three", "kind": "amount_off", "amount": "3.00", "per": "line"},
            {"id": "solo", "kind": "percent_off", "percent": exclusive_percent, "exclusive": true, "priority": exclusive_priority},
            {"id": "never", "kind": "amount_off", "amount": "1.00", "per": "line", "exclusive": true, "scope": {"skus": ["zzz"]}}
        ]}),
    )
}

#[test]
fn best_for_customer_keeps_the_larger_saving_ties_to_the_stack() {
    // Stack on 100.00: 5.00 then 3.00 = 8.00.
    let q = stacking("best_for_customer", "10", 0).price(cart(&[("a", 1)]));
    assert_eq!(adj(&q, 0), ["solo:item:10.00"]);
    assert_eq!(rej(&q), ["five:exclusive_lost", "three:exclusive_lost"]);
    let q = stacking("best_for_customer", "8", 0).price(cart(&[("a", 1)]));
    assert_eq!(adj(&q, 0), ["five:item:5.00", "three:item:3.00"]);
    assert_eq!(rej(&q), ["solo:exclusive_lost"]);
}

#[test]
fn priority_selection_takes_the_eligible_exclusive_alone() {
    // 1 % saves less than the stack but priority mode takes it anyway.
    let q = stacking("priority", "1", 0).price(cart(&[("a", 1)]));
    assert_eq!(adj(&q, 0), ["solo:item:1.00"]);
    assert_eq!(rej(&q), ["five:exclusive_lost", "three:exclusive_lost"]);
    // An exclusive that would give nothing is reported with its own reason.
    let q = stacking("priority", "0", 0).price(cart(&[("a", 1)]));
    assert_eq!(adj(&q, 0), ["five:item:5.00", "three:item:3.00"]);
    assert_eq!(rej(&q), ["solo:no_discount"]);
}

// ---------- budgets ----------

#[test]
fn budgets_cap_and_exhaust() {
    let mut sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "amt", "kind": "percent_off", "percent": "10", "budget": {"amount": "100.00"}},
        {"id": "uses", "kind": "amount_off", "amount": "1.00", "budget": {"uses": 2}}
    ]}));
    sh.shop = sh
        .shop
        .clone()
        .with_budget_spent(
            "amt",
            BudgetSpent {
                amount: "97.00".parse().unwrap(),
                orders: 9,
            },
        )
        .with_budget_spent(
            "uses",
            BudgetSpent {
                amount: "2.00".parse().unwrap(),
                orders: 2,
            },
        );
    // 10 % of 100.00 = 10.00, but only 3.00 of the budget is left.
    let q = sh.price(cart(&[("a", 1)]));
    assert_eq!(applied(&q), ["amt:3.00"]);
    assert_eq!(rej(&q), ["uses:budget_exhausted"]);
}

// ---------- stage 4: coupons ----------

fn coupon_shop() -> Shop {
    shop(json!({"catalog": catalog(), "coupons": [
        {"code": "PCT10", "kind": "percent_off", "percent": "10", "group": "g"},
        {"code": "TH", "kind": "amount_off", "amount": "10.00", "threshold": "100.00", "group": "h"},
        {"code": "TH2", "kind": "amount_off", "amount": "5.00", "threshold": "10.00", "group": "g"},
        {"code": "ONLYC", "kind": "amount_off", "amount": "1.00", "scope": {"skus": ["c"]}},
        {"code": "USED", "kind": "amount_off", "amount": "1.00", "usage_limit": 5},
        {"code": "MINE", "kind": "amount_off", "amount": "1.00", "owner": "u1"},
        {"code": "OLD", "kind": "amount_off", "amount": "1.00", "window": {"to": "2026-01-01T00:00:00Z"}}
    ]}))
}

fn with_coupons(l: &[(&str, i64)], codes: &[&str]) -> Value {
    json!({"customer": "u1", "lines": lines(l), "coupons": codes})
}

#[test]
fn threshold_coupons_apply_first() {
    // Request order PCT10, TH; TH (threshold) goes first on 100.00 -> 10.00,
    // then 10 % of 90.00 = 9.00. The other way round TH would miss.
    let q = coupon_shop().price(with_coupons(&[("a", 1)], &["PCT10", "TH"]));
    assert_eq!(adj(&q, 0), ["TH:coupon:10.00", "PCT10:coupon:9.00"]);
    assert_eq!(q.coupons, ["TH", "PCT10"]);
}

#[test]
fn group_limit_drops_the_later_request() {
    // PCT10 and TH2 share group g; both would apply; TH2 is later in the request.
    let q = coupon_shop().price(with_coupons(&[("a", 1)], &["PCT10", "TH2"]));
    assert_eq!(applied(&q), ["PCT10:10.00"]);
    assert_eq!(rej(&q), ["TH2:group_limit"]);
    // A coupon that does not apply takes no slot: ONLYC is out of scope, PCT10 applies.
    let q = coupon_shop().price(with_coupons(&[("a", 1)], &["ONLYC", "PCT10"]));
    assert_eq!(rej(&q), ["ONLYC:out_of_scope"]);
}

#[test]
fn coupon_reject_reasons() {
    let mut sh = coupon_shop();
    sh.shop = sh.shop.clone().with_coupon_uses("USED", 5);
    let q = sh.price(with_coupons(
        &[("c", 1)],
        &["NOPE", "MINE", "MINE", "USED", "OLD", "TH"],
    ));
    assert_eq!(
        rej(&q),
        [
            "NOPE:not_found",
            "MINE:duplicate",
            "USED:limit_reached",
            "OLD:outside_window",
            "TH:threshold_not_met:90.00"
        ]
    );
    assert_eq!(applied(&q), ["MINE:1.00"]);
    // Someone else's coupon; and the per-customer default limit of 1.
    let q = sh.price(json!({"customer": "u2", "lines": lines(&[("c", 1)]), "coupons": ["MINE"]}));
    assert_eq!(rej(&q), ["MINE:not_owner"]);
    sh.shop = sh.shop.clone().with_coupon_uses_by("ONLYC", "u1", 1);
    let q = sh.price(with_coupons(&[("c", 1)], &["ONLYC"]));
    assert_eq!(rej(&q), ["ONLYC:limit_reached"]);
}

#[test]
fn coupon_on_nothing_left_is_no_discount() {
    let mut sh = coupon_shop();
    sh.rules
        .add_promotion(
            serde_json::from_value(json!({"id": "free", "kind": "percent_off", "percent": "100"}))
                .unwrap(),
        )
        .unwrap();
    let q = sh.price(with_coupons(&[("c", 1)], &["PCT10"]));
    assert_eq!(rej(&q), ["PCT10:no_discount"]);
    assert_eq!(s(&q.totals.payable), "0.00");
}

// ---------- stages 5 and 6 ----------

#[test]
fn points_are_capped_rounded_down_and_need_a_customer() {
    let sh = shop(
        json!({"catalog": [{"sku": "d", "price": "10.01"}], "settings": {"points": {"per_unit": 3, "max_percent": "50"}}}),
    );
    // u2 has 300 points; asks 10: 10 / 3 = 3.333 -> 3.33 (rounded down);
    // cap 50 % of 10.01 = 5.005 -> 5.00; 3.33 needs ceil(333 × 3 / 100) = 10 points.
    let q = sh.price(json!({"customer": "u2", "lines": lines(&[("d", 1)]), "points": 10}));
    assert_eq!(s(&q.totals.points_deduction), "3.33");
    assert_eq!(q.points_used, 10);
    // Asks 5000, has 300: 100.00 worth, capped at 5.00 -> 15 points.
    let q = sh.price(json!({"customer": "u2", "lines": lines(&[("d", 1)]), "points": 5000}));
    assert_eq!(s(&q.totals.points_deduction), "5.00");
    assert_eq!(q.points_used, 15);
    // Anonymous: ignored.
    let q = sh.price(json!({"lines": lines(&[("d", 1)]), "points": 500}));
    assert_eq!(q.points_used, 0);
    assert_eq!(s(&q.totals.payable), "10.01");
}

#[test]
fn free_shipping_reasons() {
    let sh = shop(
        json!({"catalog": catalog(), "settings": {"shipping": {"fee": "8.00", "free_threshold": "200.00"}},
        "promotions": [{"id": "fs", "kind": "free_shipping", "threshold": "100.00"}]}),
    );
    let q = sh.price(cart(&[("c", 1)]));
    assert_eq!(rej(&q), ["fs:threshold_not_met:90.00"]);
    assert_eq!(s(&q.totals.payable), "18.00");
    let q = sh.price(cart(&[("a", 1)]));
    assert_eq!(applied(&q), ["fs:8.00"]);
    assert_eq!(s(&q.totals.shipping), "0.00");
    // Above free_threshold the fee is already 0.00.
    assert_eq!(rej(&sh.price(cart(&[("a", 2)]))), ["fs:no_discount"]);
}

// ---------- errors ----------

#[test]
fn bad_carts_are_typed_errors() {
    let sh = coupon_shop();
    assert_eq!(
        sh.try_price(cart(&[("zzz", 1)])),
        Err(RulesError::Core(CoreError::UnknownSku("zzz".into())))
    );
    assert!(matches!(
        sh.try_price(cart(&[("a", 0)])),
        Err(RulesError::Core(CoreError::InvalidQuantity { .. }))
    ));
    assert!(matches!(
        sh.try_price(cart(&[("a", -3)])),
        Err(RulesError::Core(CoreError::InvalidQuantity { .. }))
    ));
    assert_eq!(
        sh.try_price(cart(&[])),
        Err(RulesError::Core(CoreError::EmptyCart))
    );
    assert_eq!(
        sh.try_price(json!({"customer": "ghost", "lines": lines(&[("a", 1)])})),
        Err(RulesError::Core(CoreError::UnknownCustomer("ghost".into())))
    );
    assert_eq!(
        sh.try_price(json!({"customer": "u1", "lines": lines(&[("a", 1)]), "points": -1})),
        Err(RulesError::InvalidPoints(-1))
    );
}

#[test]
fn huge_quantities_cost_no_more_than_small_ones() {
    let sh = shop(json!({"catalog": catalog(), "promotions": [
        {"id": "b2g1", "kind": "buy_x_get_y", "buy": {"qty": 2}, "get": {"qty": 1}},
        {"id": "set", "kind": "bundle", "items": [{"sku": "a", "qty": 1}, {"sku": "c", "qty": 2}], "price": "110.00"}
    ]}));
    // 999 999 999 units of c: 333 333 333 sets, each unit free worth 10.00.
    let q = sh.price(cart(&[("c", 999_999_999)]));
    assert_eq!(s(&q.totals.item_discount), "3333333330.00");
}
