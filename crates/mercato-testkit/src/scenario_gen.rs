//! Random scenarios in the contract's JSON format
//! (`docs/scenario-format.md`), and [`differential`]: run one through
//! the scenario runner ([`mercato::scenario::run`]) and through the library
//! API directly, and compare step by step (error codes, statuses, payables,
//! refunds, stock levels, points).

use chrono::Duration;
use mercato::core::order::LineQty;
use mercato::rules::{Cart, CartLine};
use mercato::scenario::Scenario;
use mercato::store::MemoryStore;
use mercato::{Engine, EngineError, ManualClock, PlaceOrderRequest};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::strategies::{
    cart_lines, catalog, coupon_json, customers, promotion_json, settings, stock_layout,
};
use crate::util::{amount, epoch};

fn lines_json(lines: &[CartLine]) -> Value {
    json!(
        lines
            .iter()
            .map(|l| json!({"sku": l.sku, "qty": l.qty}))
            .collect::<Vec<_>>()
    )
}

/// One contract step over `n` SKUs, `c` customers, `k` coupons and order
/// names `o0`…`o5`.
pub fn scenario_step(n: usize, c: usize, k: usize) -> impl Strategy<Value = Value> {
    let order = (0_u8..6).prop_map(|o| format!("o{o}"));
    let customer = proptest::option::of((0..c.max(1)).prop_map(|i| format!("u{i}")));
    let codes = proptest::collection::vec((0..k.max(1) + 1).prop_map(|i| format!("C{i}")), 0..2);
    prop_oneof![
        2 => (customer.clone(), cart_lines(n), codes.clone(), 0_i64..2_000).prop_map(|(cu, l, co, p)| {
            json!({"price": {"customer": cu, "lines": lines_json(&l), "coupons": co, "points": p}})
        }),
        6 => (order.clone(), customer, cart_lines(n), codes, prop_oneof![Just(0_i64), 0_i64..2_000]).prop_map(|(o, cu, l, co, p)| {
            json!({"place_order": {"as": o, "customer": cu, "lines": lines_json(&l), "coupons": co, "points": p}})
        }),
        3 => (order.clone(), 0_i64..100_000).prop_map(|(o, a)| json!({"pay": {"order": o, "amount": amount(a)}})),
        2 => order.clone().prop_map(|o| json!({"cancel": {"order": o}})),
        1 => order.clone().prop_map(|o| json!({"hold": {"order": o, "reasons": ["manual"]}})),
        1 => order.clone().prop_map(|o| json!({"release": {"order": o}})),
        2 => order.clone().prop_map(|o| json!({"ship": {"order": o}})),
        2 => order.clone().prop_map(|o| json!({"deliver": {"order": o}})),
        2 => (order, 0_usize..3, 1_i64..3).prop_map(|(o, l, q)| json!({"return": {"order": o, "lines": [{"line": l, "qty": q}]}})),
        1 => select(vec![5_i64, 31, 60 * 24 * 8]).prop_map(|m| json!({"tick": {"now": (epoch() + Duration::minutes(m)).to_rfc3339()}})),
        1 => (0..n.max(1)).prop_map(|s| json!({"stock": {"sku": format!("s{s}")}})),
        1 => (0..n.max(1), 0_u8..3, -3_i64..6).prop_map(|(s, l, d)| json!({"adjust_stock": {"sku": format!("s{s}"), "location": format!("l{l}"), "delta": d}})),
        1 => (0..c.max(1)).prop_map(|i| json!({"customer": {"id": format!("u{i}")}})),
    ]
}

/// A whole random scenario (valid setup; steps that may fail) as JSON.
pub fn scenario_json() -> impl Strategy<Value = Value> {
    (2_usize..=4, 0_usize..=3, 0_usize..=3, 0_usize..=3).prop_flat_map(
        |(n, ncust, npromo, ncoupon)| {
            let skus: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
            (
            settings(),
            catalog(n),
            stock_layout(skus),
            customers(ncust),
            (0..npromo)
                .map(|i| promotion_json(i, n, 0))
                .collect::<Vec<_>>(),
            (0..ncoupon)
                .map(|i| coupon_json(i, n, ncust))
                .collect::<Vec<_>>(),
            proptest::collection::vec(scenario_step(n, ncust, ncoupon), 5..30),
        )
            .prop_map(|(settings, catalog, stock, customers, promotions, coupons, steps)| {
                json!({
                    "name": "generated",
                    "currency": "CNY",
                    "now": epoch().to_rfc3339(),
                    "settings": serde_json::to_value(&settings).unwrap_or(Value::Null),
                    "catalog": serde_json::to_value(&catalog).unwrap_or(Value::Null),
                    "stock": stock.iter().map(|l| json!({"sku": l.sku, "location": l.location,
                        "on_hand": l.on_hand, "safety": l.safety, "backorder": l.backorder,
                        "priority": l.priority})).collect::<Vec<_>>(),
                    "customers": customers.iter().map(|c| json!({"id": c.id, "tier": c.tier,
                        "points": c.points})).collect::<Vec<_>>(),
                    "promotions": promotions,
                    "coupons": coupons,
                    "steps": steps,
                })
            })
        },
    )
}

/// What the library API said for a step, in the contract's terms.
fn library_step(
    engine: &Engine<MemoryStore, ManualClock>,
    clock: &ManualClock,
    step: &Value,
) -> Result<Value, String> {
    let code = |e: EngineError| e.code().to_string();
    let (action, b) = step
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| *k != "expect"))
        .ok_or_else(|| "invalid_input".to_string())?;
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let lines =
        || -> Vec<CartLine> { serde_json::from_value(b["lines"].clone()).unwrap_or_default() };
    let cart = || Cart {
        customer: b
            .get("customer")
            .and_then(Value::as_str)
            .map(str::to_string),
        lines: lines(),
        coupons: serde_json::from_value(b["coupons"].clone()).unwrap_or_default(),
        points: b.get("points").and_then(Value::as_i64).unwrap_or(0),
    };
    let money = |m: &mercato::core::Money| m.amount().to_string();
    Ok(match action.as_str() {
        "price" => {
            let q = engine.quote(&cart()).map_err(code)?;
            json!({"totals": {"payable": money(&q.totals.payable)}})
        }
        "place_order" => {
            let c = cart();
            let p = engine
                .place_order(
                    PlaceOrderRequest {
                        id: s("as"),
                        customer: c.customer,
                        lines: c.lines,
                        coupons: c.coupons,
                        points: c.points,
                        channel: None,
                    },
                    None,
                )
                .map_err(code)?;
            json!({"status": p.status, "quote": {"totals": {"payable": money(&p.quote.totals.payable)}}})
        }
        "pay" => {
            let a = mercato::Money::parse(&s("amount"), mercato::Currency::CNY)
                .map_err(|_| "invalid_input".to_string())?;
            json!({"status": engine.pay(&s("order"), a, None).map_err(code)?})
        }
        "cancel" => {
            json!({"status": "cancelled", "refund": money(&engine.cancel(&s("order"), None).map_err(code)?.refund)})
        }
        "hold" => {
            json!({"status": engine.hold(&s("order"), vec!["manual".into()], None).map_err(code)?})
        }
        "release" => json!({"status": engine.release(&s("order"), None).map_err(code)?}),
        "ship" => json!({"status": engine.ship(&s("order"), None, None).map_err(code)?}),
        "deliver" => json!({"status": engine.deliver(&s("order"), None).map_err(code)?}),
        "return" => {
            let l: Vec<LineQty> = serde_json::from_value(b["lines"].clone()).unwrap_or_default();
            let r = engine
                .return_items(
                    &s("order"),
                    l,
                    mercato::ReturnOptions { restock: true },
                    None,
                )
                .map_err(code)?;
            json!({"refund": money(&r.refund), "points_returned": r.points_returned, "status": r.status})
        }
        "tick" => {
            let now = s("now").parse().map_err(|_| "invalid_input".to_string())?;
            clock.set(now);
            let r = engine.tick().map_err(code)?;
            json!({"closed": r.closed, "completed": r.completed})
        }
        "stock" => {
            let l = engine.stock(&s("sku")).map_err(code)?;
            json!({"on_hand": l.on_hand, "reserved": l.reserved, "available": l.available})
        }
        "adjust_stock" => {
            let d = b.get("delta").and_then(Value::as_i64).unwrap_or(0);
            json!({"on_hand": engine.adjust_stock(&s("sku"), &s("location"), d, "adjustment").map_err(code)?})
        }
        "customer" => json!({"points": engine.customer(&s("id")).map_err(code)?.points}),
        _ => return Err("invalid_input".into()),
    })
}

/// Runs `scenario` through the scenario runner and through the library API
/// on a fresh engine each, and compares every step: both fail with the same
/// code, or both succeed and the runner's result matches the library's
/// facts (as an `expect` subset). A scenario whose setup fails must fail the
/// same way in both (then `Ok`).
///
/// # Errors
/// The first step where they differ, described.
pub fn differential(scenario: &Value) -> Result<(), String> {
    let sc: Scenario = Scenario::parse(&scenario.to_string()).map_err(|e| format!("parse: {e}"))?;
    let Ok(outcomes) = mercato::scenario::run(&sc, MemoryStore::new()) else {
        return Ok(());
    };
    let clock = ManualClock::new(sc.now);
    let engine = Engine::open(MemoryStore::new(), clock.clone()).map_err(|e| e.to_string())?;
    let setup = crate::model::ShopSetup {
        settings: sc.settings.clone(),
        catalog: sc.catalog.clone(),
        locations: sc
            .stock
            .iter()
            .map(|s| crate::model::LocationSpec {
                sku: s.sku.clone(),
                location: s.location.clone(),
                on_hand: s.on_hand,
                safety: s.safety,
                backorder: s.backorder,
                priority: s.priority,
            })
            .collect(),
        quotas: vec![],
        customers: sc
            .customers
            .iter()
            .map(|c| crate::model::CustomerSpec {
                id: c.id.clone(),
                tier: c.tier.clone(),
                points: c.points,
            })
            .collect(),
        promotions: sc.promotions.clone(),
        coupons: sc.coupons.clone(),
    };
    setup
        .install(&engine)
        .map_err(|e| format!("library setup: {e}"))?;
    for (o, step) in outcomes.iter().zip(&sc.steps) {
        let lib = library_step(&engine, &clock, step);
        let runner_err = o
            .result
            .get("error")
            .and_then(|e| e.get("code"))
            .and_then(Value::as_str);
        match (&lib, runner_err) {
            (Err(a), Some(b)) if a == b => {}
            (Ok(facts), None) => {
                let m = mercato::scenario::matches(facts, &o.result);
                if !m.is_empty() {
                    return Err(format!(
                        "step {} {step}: runner {} vs library {facts}: {m:?}",
                        o.index, o.result
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "step {} {step}: runner {} vs library {lib:?}",
                    o.index, o.result
                ));
            }
        }
    }
    Ok(())
}
