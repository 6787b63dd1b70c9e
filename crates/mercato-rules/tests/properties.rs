//! Property tests of the pipeline and of `best_coupons` on random shops:
//! nets never negative, discounts within what they apply to, shares adding
//! up to the applied amounts, totals consistent (`Quote::check`),
//! determinism, coupons never raising the payable, exact thresholds, and
//! `best_coupons` never worse than any subset (brute force).
//!
//! Cases per property: env `MERCATO_PROPTEST_CASES`, default 512 — the
//! whole rules test run stays well under 60 s in debug on 2 cores.

// The purity lints (clippy.toml) are for the library: this test
// reads its environment (`MERCATO_PROPTEST_CASES`).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mercato_core::money::Currency;
use mercato_core::quote::{Quote, Stage};
use mercato_rules::{
    Cart, CartLine, CatalogItem, Coupon, PricingContext, PricingSettings, Promotion, RuleSet,
    ShopFacts, best_coupons, price,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn cases() -> u32 {
    std::env::var("MERCATO_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

const SKUS: [&str; 5] = ["a", "b", "c", "d", "g"];

fn money(cents: i64) -> String {
    Decimal::new(cents, 2).to_string()
}

fn now() -> DateTime<Utc> {
    "2026-03-02T09:00:00Z".parse().unwrap()
}

fn scope() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"all": true})),
        Just(json!({"categories": ["x"]})),
        Just(json!({"skus": ["a", "c"]})),
        Just(json!({"exclude_skus": ["b"]})),
    ]
}

fn percent() -> impl Strategy<Value = String> {
    prop_oneof![
        (0_i64..=100).prop_map(|p| p.to_string()),
        (0_i64..=1_000_000).prop_map(|p| Decimal::new(p, 4).to_string()),
    ]
}

fn promotion() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        (1_i64..20_000, proptest::option::of(0_i64..4)).prop_map(|(p, lim)| json!({"kind": "price", "price": money(p), "per_customer_limit": lim})),
        (1_i64..4, percent()).prop_map(|(q, p)| json!({"kind": "ladder", "tiers": [{"min_qty": q, "percent": p}]})),
        (percent(), proptest::option::of(1_i64..5000), any::<bool>()).prop_map(|(p, m, order)| json!({"kind": "percent_off", "percent": p,
            "max_off": m.map(money), "stage": (if order {"order"} else {"item"})})),
        (1_i64..5000, 0_usize..3).prop_map(|(a, per)| json!({"kind": "amount_off", "amount": money(a), "per": (["unit", "line", "order"][per])})),
        (1_i64..30_000, 1_i64..3000, any::<bool>(), proptest::option::of(1_i64..9000)).prop_map(|(t, off, rep, cap)| if rep {
            json!({"kind": "full_reduction", "mode": "repeat", "tiers": [{"threshold": money(t), "off": money(off)}], "cap": cap.map(money)})
        } else {
            json!({"kind": "full_reduction", "tiers": [{"threshold": money(t), "off": money(off)}, {"threshold": money(t * 2), "off": money(off * 2)}]})
        }),
        (1_i64..30_000, percent()).prop_map(|(t, p)| json!({"kind": "full_discount", "tiers": [{"threshold": money(t), "percent": p}]})),
        (1_i64..6, 1_i64..3000, any::<bool>()).prop_map(|(q, off, pct)| if pct {
            json!({"kind": "quantity_discount", "tiers": [{"min_qty": q, "percent": "15"}]})
        } else {
            json!({"kind": "quantity_discount", "tiers": [{"min_qty": q, "off": money(off)}]})
        }),
        (1_i64..3, 1_i64..3, percent(), any::<bool>()).prop_map(|(b, g, p, r)| json!({"kind": "buy_x_get_y",
            "buy": {"qty": b}, "get": {"qty": g, "percent": p}, "repeat": r})),
        (1_i64..3, 1_i64..40_000).prop_map(|(q, p)| json!({"kind": "bundle", "items": [{"sku": "a", "qty": 1}, {"sku": "c", "qty": q}], "price": money(p)})),
        (0_i64..20_000).prop_map(|t| json!({"kind": "gift", "threshold": money(t), "gift": {"sku": "g", "qty": 1}})),
        (0_i64..20_000).prop_map(|t| json!({"kind": "free_shipping", "threshold": money(t)})),
    ];
    (
        kind,
        scope(),
        -2_i64..3,
        prop::bool::weighted(0.25),
        proptest::option::of(1_i64..3000),
    )
        .prop_map(|(mut k, scope, priority, exclusive, budget)| {
            if let Some(o) = k.as_object_mut() {
                o.insert("scope".into(), scope);
                o.insert("priority".into(), json!(priority));
                o.insert("exclusive".into(), json!(exclusive));
                if let Some(b) = budget {
                    o.insert("budget".into(), json!({"amount": money(b)}));
                }
            }
            k
        })
}

fn coupon() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        1_i64..6000,
        proptest::option::of(0_i64..40_000),
        percent(),
        proptest::option::of(1_i64..4000),
        scope(),
        0_usize..3,
        proptest::option::of(0_i64..3),
    )
        .prop_map(|(amount, a, threshold, p, max_off, scope, group, window)| {
            let mut c = if amount {
                json!({"kind": "amount_off", "amount": money(a)})
            } else {
                json!({"kind": "percent_off", "percent": p, "max_off": max_off.map(money)})
            };
            if let Some(o) = c.as_object_mut() {
                o.insert("threshold".into(), json!(threshold.map(money)));
                o.insert("scope".into(), scope);
                o.insert("group".into(), json!((["g1", "g2", "g3"][group])));
                if let Some(w) = window {
                    o.insert(
                        "window".into(),
                        json!({"to": format!("2026-0{}-01T00:00:00Z", w + 4)}),
                    );
                }
            }
            c
        })
}

#[derive(Debug, Clone)]
struct Case {
    prices: Vec<i64>,
    promotions: Vec<Value>,
    coupons: Vec<Value>,
    lines: Vec<(usize, i64)>,
    requested: Vec<usize>,
    points: i64,
    settings: Value,
}

fn case(max_coupons: usize) -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(1_i64..30_000, 5),
        proptest::collection::vec(promotion(), 0..6),
        proptest::collection::vec(coupon(), 0..=max_coupons),
        proptest::collection::vec((0_usize..5, 1_i64..6), 1..5),
        proptest::collection::vec(0_usize..8, 0..4),
        0_i64..3000,
        (
            any::<bool>(),
            any::<bool>(),
            1_i64..3,
            0_i64..1000,
            proptest::option::of(0_i64..40_000),
        ),
    )
        .prop_map(
            |(
                prices,
                promotions,
                coupons,
                lines,
                requested,
                points,
                (even, prio, per_group, fee, free),
            )| Case {
                prices,
                promotions,
                coupons,
                lines,
                requested,
                points,
                settings: json!({"rounding": (if even {"half_even"} else {"half_up"}),
                "selection": (if prio {"priority"} else {"best_for_customer"}),
                "max_coupons_per_group": per_group,
                "shipping": {"fee": money(fee), "free_threshold": free.map(money)}}),
            },
        )
}

struct Built {
    rules: RuleSet,
    shop: ShopFacts,
}

fn build(c: &Case, settings: &Value) -> Built {
    let catalog: Vec<CatalogItem> = SKUS
        .iter()
        .zip(&c.prices)
        .map(|(s, p)| {
            let cat = if *s == "a" || *s == "b" { "x" } else { "y" };
            serde_json::from_value(json!({"sku": s, "category": cat, "price": money(*p)})).unwrap()
        })
        .collect();
    let promotions: Vec<Promotion> = c
        .promotions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut p = p.clone();
            p["id"] = json!(format!("p{i}"));
            serde_json::from_value(p).unwrap()
        })
        .collect();
    let coupons: Vec<Coupon> = c
        .coupons
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut k = k.clone();
            k["code"] = json!(format!("C{i}"));
            serde_json::from_value(k).unwrap()
        })
        .collect();
    let settings: PricingSettings = serde_json::from_value(settings.clone()).unwrap();
    let rules = RuleSet::new(Currency::CNY, settings, catalog, promotions, coupons).unwrap();
    let shop = ShopFacts::new()
        .with_customer("u", Some("vip"), 2000)
        .with_stock("g", 3);
    Built { rules, shop }
}

fn cart(c: &Case, coupons: Vec<String>) -> Cart {
    Cart {
        customer: Some("u".into()),
        lines: c
            .lines
            .iter()
            .map(|(i, q)| CartLine {
                sku: SKUS[*i % 4].to_string(),
                qty: *q,
            })
            .collect(),
        coupons,
        points: c.points,
    }
}

fn requested(c: &Case) -> Vec<String> {
    c.requested
        .iter()
        .filter(|i| **i < c.coupons.len())
        .map(|i| format!("C{i}"))
        .collect()
}

/// Payable, coupon count, sorted window ends (no end last), sorted codes.
type RankKey = (i128, usize, Vec<(bool, Option<DateTime<Utc>>)>, Vec<String>);

fn cents(m: &mercato_core::money::Money) -> i128 {
    m.to_minor().unwrap()
}

/// The invariants every quote keeps.
fn check_invariants(q: &Quote) -> Result<(), TestCaseError> {
    prop_assert!(q.check().is_ok(), "{:?}", q.check());
    let mut by_source: BTreeMap<&str, i128> = BTreeMap::new();
    for l in &q.lines {
        prop_assert!(!l.net.is_negative());
        let mut running = cents(&l.amount);
        for a in &l.adjustments {
            prop_assert!(a.amount.is_positive(), "listed adjustments are above 0.00");
            prop_assert!(
                cents(&a.amount) <= running,
                "a discount above what it applies to"
            );
            running -= cents(&a.amount);
            if a.stage != Stage::Points {
                *by_source.entry(a.source.as_str()).or_insert(0) += cents(&a.amount);
            }
        }
    }
    for a in &q.applied {
        prop_assert!(a.amount.is_positive());
        let shares = by_source.remove(a.source.as_str()).unwrap_or(0);
        // free_shipping lists the fee waived, which no line carries.
        if shares != 0 {
            prop_assert_eq!(
                shares,
                cents(&a.amount),
                "shares of {} add up to its applied amount",
                a.source
            );
        }
    }
    prop_assert!(
        by_source.is_empty(),
        "adjustments from sources not applied: {:?}",
        by_source
    );
    let t = &q.totals;
    prop_assert_eq!(cents(&t.payable), cents(&t.goods) + cents(&t.shipping));
    prop_assert!(!t.payable.is_negative());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases()) })]

    #[test]
    fn quotes_keep_their_invariants_and_are_deterministic(c in case(6)) {
        let b = build(&c, &c.settings);
        let ctx = PricingContext::new(&b.rules, now(), &b.shop);
        let cart = cart(&c, requested(&c));
        let q = price(&cart, &ctx).unwrap();
        check_invariants(&q)?;
        prop_assert_eq!(&q, &price(&cart, &ctx).unwrap());
    }

    #[test]
    fn items_added_one_by_one_price_as_a_catalog_built_at_once(c in case(6)) {
        let b = build(&c, &c.settings);
        // Bundles and gifts must name SKUs of the catalog they are checked
        // against: those start the catalog; "b" and "d" come one by one
        // after the promotions' scopes were compiled.
        let (first, later): (Vec<CatalogItem>, Vec<CatalogItem>) = b
            .rules
            .catalog()
            .iter()
            .cloned()
            .partition(|it| ["a", "c", "g"].contains(&it.sku.as_str()));
        let mut grown = RuleSet::new(
            Currency::CNY,
            b.rules.settings().clone(),
            first,
            b.rules.promotions().to_vec(),
            b.rules.coupons().to_vec(),
        )
        .unwrap();
        for item in later {
            grown.add_item(item).unwrap();
        }
        let cart = cart(&c, requested(&c));
        let at_once = price(&cart, &PricingContext::new(&b.rules, now(), &b.shop));
        let one_by_one = price(&cart, &PricingContext::new(&grown, now(), &b.shop));
        prop_assert_eq!(at_once, one_by_one);
    }

    #[test]
    fn adding_a_coupon_never_raises_the_payable(c in case(6), extra in 0_usize..6) {
        // Without shipping: a lower goods amount can cost a free-shipping
        // threshold, which is the one way a coupon raises the payable.
        let mut settings = c.settings.clone();
        settings["shipping"] = json!({"fee": "0.00"});
        let mut c = c;
        c.promotions.retain(|p| p["kind"] != "free_shipping");
        let b = build(&c, &settings);
        let ctx = PricingContext::new(&b.rules, now(), &b.shop);
        let before = requested(&c);
        let mut after = before.clone();
        after.push(format!("C{extra}"));
        let q0 = price(&cart(&c, before), &ctx).unwrap();
        let q1 = price(&cart(&c, after), &ctx).unwrap();
        check_invariants(&q1)?;
        prop_assert!(q1.totals.payable.amount() <= q0.totals.payable.amount(),
            "{} > {}", q1.totals.payable, q0.totals.payable);
    }

    #[test]
    fn thresholds_compare_exact_decimals(p in 1_i64..100_000, q in 1_i64..5, short in -3_i64..4) {
        let t = p * q + short;
        let settings = json!({});
        let c = Case {
            prices: vec![p, 1, 1, 1, 1],
            promotions: vec![json!({"kind": "full_reduction", "tiers": [{"threshold": money(t.max(1)), "off": "0.01"}], "scope": {"skus": ["a"]}})],
            coupons: vec![], lines: vec![(0, q)], requested: vec![], points: 0, settings: settings.clone(),
        };
        let b = build(&c, &settings);
        let ctx = PricingContext::new(&b.rules, now(), &b.shop);
        let quote = price(&cart(&c, vec![]), &ctx).unwrap();
        if p * q >= t.max(1) {
            prop_assert_eq!(quote.applied.len(), 1);
        } else {
            prop_assert_eq!(quote.rejected.len(), 1);
            prop_assert_eq!(cents(quote.rejected[0].missing.as_ref().unwrap()), i128::from(t - p * q));
        }
    }

    #[test]
    fn best_coupons_is_never_worse_than_any_subset(c in case(8)) {
        let b = build(&c, &c.settings);
        let ctx = PricingContext::new(&b.rules, now(), &b.shop);
        let wallet: Vec<String> = (0..c.coupons.len()).map(|i| format!("C{i}")).collect();
        let best = best_coupons(&cart(&c, vec![]), &wallet, &ctx).unwrap();
        check_invariants(&best.quote)?;
        prop_assert_eq!(best.quote.coupons.len(), best.coupons.len());
        let per_group = b.rules.settings().max_coupons_per_group;
        // Brute force: every subset within the group limits whose coupons all apply.
        let mut brute: Option<RankKey> = None;
        for mask in 0_u32..(1 << wallet.len()) {
            let mut codes: Vec<String> = (0..wallet.len()).filter(|i| mask & (1 << i) != 0).map(|i| wallet[i].clone()).collect();
            codes.sort();
            let mut groups: BTreeMap<&str, i64> = BTreeMap::new();
            for code in &codes {
                *groups.entry(b.rules.coupon(code).unwrap().group.as_str()).or_insert(0) += 1;
            }
            if groups.values().any(|n| *n > per_group) {
                continue;
            }
            let q = price(&cart(&c, codes.clone()), &ctx).unwrap();
            if q.coupons.len() != codes.len() {
                continue;
            }
            let mut ends: Vec<(bool, Option<DateTime<Utc>>)> = codes.iter().map(|k| {
                let end = b.rules.coupon(k).unwrap().window.and_then(|w| w.to);
                (end.is_none(), end)
            }).collect();
            ends.sort();
            let key = (cents(&q.totals.payable), codes.len(), ends, codes);
            if brute.as_ref().is_none_or(|k| key < *k) {
                brute = Some(key);
            }
        }
        let brute = brute.unwrap();
        prop_assert_eq!(cents(&best.quote.totals.payable), brute.0);
        let mut got = best.coupons.clone();
        got.sort();
        prop_assert_eq!(got, brute.3);
    }
}

#[test]
fn the_scenario_helpers_are_shared() {
    // Keeps `common` linked in this test binary (its loader is used by scenarios.rs).
    assert!(common::scenarios_dir().ends_with("scenarios"));
}
