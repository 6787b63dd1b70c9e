//! Renders a [`Quote`] (and a best-coupons answer) in the scenario
//! contract's JSON shape: amounts as strings at the currency's minor-unit
//! scale, `lines[].line/sku/qty/unit_price/amount/adjustments/net/gift`,
//! `applied`, `rejected` (with `missing` or `missing_qty` when known),
//! `points_used` and `totals`.

use mercato_core::money::Money;
use mercato_core::quote::Quote;
use serde_json::{Map, Value, json};

use crate::best::BestCoupons;

fn amount(m: &Money) -> Value {
    // Money always carries the currency's scale, so "0.10" stays "0.10".
    Value::String(m.amount().to_string())
}

/// The contract's `quote` object.
///
/// ```
/// use mercato_core::money::Currency;
/// use mercato_rules::{price, quote_to_contract_json, Cart, PricingContext, PricingSettings, RuleSet, ShopFacts};
/// let catalog = serde_json::from_str(r#"[{"sku": "a", "price": "0.1"}]"#).unwrap();
/// let rules = RuleSet::new(Currency::CNY, PricingSettings::default(), catalog, vec![], vec![]).unwrap();
/// let shop = ShopFacts::new();
/// let ctx = PricingContext::new(&rules, "2026-01-01T00:00:00Z".parse().unwrap(), &shop);
/// let json = quote_to_contract_json(&price(&Cart::of(&[("a", 3)]), &ctx).unwrap());
/// assert_eq!(json["lines"][0]["amount"], "0.30");
/// assert_eq!(json["totals"]["payable"], "0.30");
/// assert_eq!(json["points_used"], 0);
/// ```
pub fn quote_to_contract_json(q: &Quote) -> Value {
    let lines: Vec<Value> = q
        .lines
        .iter()
        .map(|l| {
            let adjustments: Vec<Value> = l
                .adjustments
                .iter()
                .map(|a| json!({"source": a.source, "stage": a.stage.as_str(), "amount": amount(&a.amount)}))
                .collect();
            json!({
                "line": l.line,
                "sku": l.sku,
                "qty": l.qty,
                "unit_price": amount(&l.unit_price),
                "amount": amount(&l.amount),
                "adjustments": adjustments,
                "net": amount(&l.net),
                "gift": l.gift,
            })
        })
        .collect();
    let applied: Vec<Value> = q
        .applied
        .iter()
        .map(|a| json!({"source": a.source, "amount": amount(&a.amount)}))
        .collect();
    let rejected: Vec<Value> = q
        .rejected
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("source".into(), Value::String(r.source.clone()));
            m.insert("reason".into(), Value::String(r.reason.as_str().into()));
            if let Some(missing) = &r.missing {
                m.insert("missing".into(), amount(missing));
            }
            if let Some(n) = r.missing_qty {
                m.insert("missing_qty".into(), Value::from(n));
            }
            Value::Object(m)
        })
        .collect();
    let t = &q.totals;
    let mut out = json!({
        "lines": lines,
        "applied": applied,
        "rejected": rejected,
        "points_used": q.points_used,
        "totals": {
            "list": amount(&t.list),
            "unit_discount": amount(&t.unit_discount),
            "item_discount": amount(&t.item_discount),
            "order_discount": amount(&t.order_discount),
            "coupon_discount": amount(&t.coupon_discount),
            "points_deduction": amount(&t.points_deduction),
            "goods": amount(&t.goods),
            "shipping": amount(&t.shipping),
            "payable": amount(&t.payable),
        },
    });
    // Issue 12: the versions and segment a quote was priced with, only
    // when recorded (older quotes keep their exact shape).
    if let (Some(p), Value::Object(m)) = (&q.priced_with, &mut out)
        && let Ok(v) = serde_json::to_value(p)
    {
        m.insert("priced_with".into(), v);
    }
    out
}

/// The contract's `best_coupons` result: `{"coupons": [...], "quote": {...}}`.
pub fn best_coupons_to_contract_json(b: &BestCoupons) -> Value {
    json!({"coupons": b.coupons, "quote": quote_to_contract_json(&b.quote)})
}
