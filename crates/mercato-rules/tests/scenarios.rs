//! Runs the `price` and `best_coupons` steps (with `tick` moving the clock)
//! of every scenario in the repository's `scenarios/` folder and matches
//! each `expect` block as the contract says. Other step kinds belong to the
//! engine and are skipped here. A missing scenarios directory is a failure,
//! not a skip.

// The purity lints (clippy.toml) are for the library: this test
// reads the scenario files.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use mercato_rules::{
    Cart, Coupon, ItemChange, Lifecycle, PriceChange, PricingContext, Promotion, SellableChange,
    best_coupons, best_coupons_to_contract_json, price, quote_to_contract_json, usable_coupons,
};
use serde_json::Value;

#[test]
fn public_scenarios_price_and_best_coupons_steps() {
    let dir = common::scenarios_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("scenarios directory {} is missing: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios in {}", dir.display());
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let text = std::fs::read_to_string(file).expect("readable scenario");
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        let mut setup = common::setup(&v);
        for (i, step) in v["steps"].as_array().expect("steps").iter().enumerate() {
            if let Some(t) = step.get("tick") {
                setup.now = t["now"]
                    .as_str()
                    .expect("tick now")
                    .parse()
                    .expect("RFC 3339");
                continue;
            }
            // Definitions added mid-scenario change what later steps price.
            if let Some(body) = step.get("add_promotion") {
                let added = serde_json::from_value::<Promotion>(body["promotion"].clone())
                    .map_err(|e| e.to_string())
                    .and_then(|p| setup.rules.add_promotion(p).map_err(|e| e.to_string()));
                check_definition_step(&name, i, step, added, &mut failures);
                continue;
            }
            if let Some(body) = step.get("add_coupon") {
                let added = serde_json::from_value::<Coupon>(body["coupon"].clone())
                    .map_err(|e| e.to_string())
                    .and_then(|c| setup.rules.add_coupon(c).map_err(|e| e.to_string()));
                check_definition_step(&name, i, step, added, &mut failures);
                continue;
            }
            // Catalog and campaign changes (issue 12) move the rules too; a
            // refused one changes nothing (the engine's runner checks its
            // error).
            if apply_change(&mut setup, step) {
                continue;
            }
            let ctx = PricingContext::new(&setup.rules, setup.now, &setup.shop);
            let actual = if let Some(body) = step.get("price") {
                let cart: Cart = serde_json::from_value(body.clone()).expect("cart");
                price(&cart, &ctx).map(|q| {
                    q.check().expect("quote adds up");
                    quote_to_contract_json(&q)
                })
            } else if let Some(body) = step.get("best_coupons") {
                let cart: Cart = serde_json::from_value(body.clone()).expect("cart");
                usable_coupons(&cart, &ctx)
                    .and_then(|wallet| best_coupons(&cart, &wallet, &ctx))
                    .map(|b| {
                        b.quote.check().expect("quote adds up");
                        best_coupons_to_contract_json(&b)
                    })
            } else {
                continue;
            };
            checked += 1;
            let Some(expect) = step.get("expect") else {
                continue;
            };
            let mut out = Vec::new();
            match (&actual, expect.get("error")) {
                (Err(_), Some(_)) => {}
                (Err(e), None) => out.push(format!("failed: {e}")),
                (Ok(a), Some(_)) => out.push(format!("expected an error, got {a}")),
                (Ok(a), None) => common::subset(expect, a, "$", &mut out),
            }
            for o in out {
                failures.push(format!("{name} step {i}: {o}"));
            }
        }
    }
    assert!(checked >= 20, "only {checked} pricing steps found");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Applies an issue 12 change step to the rules (or the customer tags);
/// false for any other step.
fn apply_change(setup: &mut common::Setup, step: &Value) -> bool {
    let now = setup.now;
    let rules = &mut setup.rules;
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    if let Some(b) = step.get("change_price") {
        let from: Option<chrono::DateTime<chrono::Utc>> = b
            .get("from")
            .and_then(|f| serde_json::from_value(f.clone()).ok());
        if from.is_none_or(|f| f >= now)
            && let Ok(price) = mercato_core::money::parse_amount(&s(b, "price"))
        {
            let _ = rules.change_price(&PriceChange {
                sku: s(b, "sku"),
                price,
                from: from.unwrap_or(now),
                scheduled: from.is_some(),
            });
        }
    } else if let Some(b) = step.get("set_sellable") {
        let _ = rules.set_sellable(&SellableChange {
            sku: s(b, "sku"),
            sellable: b["sellable"].as_bool().unwrap_or(true),
        });
    } else if let Some(b) = step.get("update_catalog_item") {
        let sku = s(b, "sku");
        if let Some(item) = rules.item(&sku).cloned() {
            let category = if b["clear_category"].as_bool() == Some(true) {
                None
            } else {
                b["category"].as_str().map(str::to_string).or(item.category)
            };
            let _ = rules.change_item(&ItemChange {
                product: b["product"].as_str().map_or(item.product, str::to_string),
                sku,
                category,
            });
        }
    } else if let Some(b) = step.get("end_promotion") {
        let at = b
            .get("at")
            .and_then(|f| serde_json::from_value(f.clone()).ok())
            .unwrap_or(now);
        if at >= now && !rules.promotion_state(&s(b, "id")).ended(now) {
            let _ = rules.change_promotion(&Lifecycle::End { id: s(b, "id"), at });
        }
    } else if let Some(b) = step.get("pause_promotion") {
        if !rules.promotion_state(&s(b, "id")).ended(now) {
            let _ = rules.change_promotion(&Lifecycle::Pause { id: s(b, "id") });
        }
    } else if let Some(b) = step.get("resume_promotion") {
        if !rules.promotion_state(&s(b, "id")).ended(now) {
            let _ = rules.change_promotion(&Lifecycle::Resume { id: s(b, "id") });
        }
    } else if let Some(b) = step.get("replace_promotion") {
        if let Ok(promotion) = serde_json::from_value::<Promotion>(b["promotion"].clone())
            && !rules.promotion_state(&promotion.id).ended(now)
        {
            let _ = rules.change_promotion(&Lifecycle::Replace {
                promotion: Box::new(promotion),
            });
        }
    } else if let Some(b) = step.get("set_customer_tags") {
        let tags: Vec<String> = serde_json::from_value(b["tags"].clone()).unwrap_or_default();
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        setup.shop = std::mem::take(&mut setup.shop).with_tags(&s(b, "customer"), &tags);
    } else {
        return false;
    }
    true
}

#[test]
fn the_matcher_is_not_vacuous() {
    let mut out = Vec::new();
    let expected = serde_json::json!({"a": "10", "b": [{"c": 1}]});
    common::subset(
        &expected,
        &serde_json::json!({"a": "10.00", "b": [{"c": 1, "d": 2}], "e": 0}),
        "$",
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    common::subset(
        &expected,
        &serde_json::json!({"a": "10.01", "b": [{"c": 1}]}),
        "$",
        &mut out,
    );
    common::subset(
        &expected,
        &serde_json::json!({"a": "10", "b": []}),
        "$",
        &mut out,
    );
    common::subset(
        &expected,
        &serde_json::json!({"b": [{"c": 2}]}),
        "$",
        &mut out,
    );
    assert_eq!(out.len(), 4, "{out:?}");
}

/// An `add_promotion`/`add_coupon` step: its `expect` is either `{}` (the
/// definition is accepted) or `{"error": ...}` (refused). Only the
/// accept/refuse outcome is checked here; the exact code is the engine
/// runner's business.
fn check_definition_step(
    name: &str,
    i: usize,
    step: &Value,
    added: Result<(), String>,
    failures: &mut Vec<String>,
) {
    let wants_error = step.get("expect").and_then(|e| e.get("error")).is_some();
    match (added, wants_error) {
        (Ok(()), true) => failures.push(format!("{name} step {i}: expected an error, got none")),
        (Err(e), false) => failures.push(format!("{name} step {i}: refused: {e}")),
        _ => {}
    }
}
