//! Runs a [`Scenario`] against a fresh [`Engine`] on any store: sets up the
//! shop, then runs each step and renders its result in the contract's JSON
//! shape (`{"error": {"code", "message"}}` for a failed step).

use crate::request::{AdjustStock, HoldOrder, OrderRef};
use mercato_core::order::LineQty;
use mercato_rules::{Cart, CartLine, best_coupons_to_contract_json, quote_to_contract_json};
use mercato_store::Store;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::{Scenario, ScenarioError};
use crate::clock::ManualClock;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::request::{PlaceOrderRequest, PlacedOrder, Request, Response};

/// One step's result.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// Step index (from 0).
    pub index: usize,
    /// The action key (`price`, `place_order`...).
    pub action: String,
    /// The result in the contract's shape.
    pub result: Value,
    /// The step's `expect` block, if any.
    pub expect: Option<Value>,
}

pub(crate) const ACTIONS: &[&str] = &[
    "price",
    "best_coupons",
    "place_order",
    "add_promotion",
    "add_coupon",
    "release",
    "reject",
    "pay",
    "cancel",
    "ship",
    "deliver",
    "complete",
    "return",
    "tick",
    "stock",
    "adjust_stock",
    "customer",
    "hold",
];

/// Every step kind the runner knows: the contract's v1 steps, then each
/// extension's (after-sale, coupon templates and points, catalog and
/// campaigns), in that order. One list: the runner dispatches on it and
/// the documentation test checks that `docs/scenario-format.md` runs an
/// example of each.
pub fn step_kinds() -> impl Iterator<Item = &'static str> {
    ACTIONS
        .iter()
        .chain(super::steps_aftersale::ACTIONS)
        .chain(super::steps_loyalty::ACTIONS)
        .chain(super::steps_campaigns::ACTIONS)
        .chain(super::steps_presale::ACTIONS)
        .chain(super::steps_shipments::ACTIONS)
        .chain(super::steps_exchange::ACTIONS)
        .copied()
}

fn is_step_kind(a: &str) -> bool {
    step_kinds().any(|k| k == a)
}

/// A promotion or coupon that does not deserialize: `invalid_input` when
/// an amount is malformed or a JSON number (the contract puts those under
/// `invalid_input`, which comes first), `invalid_rule` otherwise.
/// The code of a promotion or coupon definition that does not decode: a
/// malformed amount or a value of the wrong JSON type is `invalid_input`
/// (the contract's first code); anything else — a missing field, an
/// unknown kind — is `invalid_rule`.
pub(super) fn definition_error(e: &serde_json::Error) -> Value {
    let message = e.to_string();
    let wrong_type = message.starts_with("invalid type:");
    let code = if wrong_type || mercato_core::money::amount_str::is_amount_error(&message) {
        "invalid_input"
    } else {
        "invalid_rule"
    };
    error_value(code, &message)
}

pub(crate) fn error_value(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

pub(crate) fn engine_error(e: &EngineError) -> Value {
    error_value(e.code(), &e.to_string())
}

pub(crate) fn body<T: DeserializeOwned>(v: &Value) -> Result<T, Value> {
    let de = v.clone();
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        error_value("invalid_input", &format!("{path}: {}", e.into_inner()))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceBody {
    #[serde(default)]
    customer: Option<String>,
    lines: Vec<CartLine>,
    #[serde(default)]
    coupons: Vec<String>,
    #[serde(default)]
    points: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceBody {
    #[serde(rename = "as")]
    name: String,
    #[serde(default)]
    customer: Option<String>,
    lines: Vec<CartLine>,
    #[serde(default)]
    coupons: Vec<String>,
    #[serde(default)]
    points: i64,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// A step body that names only an order (the read steps of the extension
/// modules).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OrderOnly {
    /// The order.
    pub(super) order: String,
}

/// An amount as the contract writes it (the number, without the currency).
pub(super) fn amount(m: &mercato_core::Money) -> String {
    m.amount().to_string()
}

#[derive(Deserialize)]
struct OrderBody {
    order: String,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
struct PayBody {
    order: String,
    #[serde(with = "mercato_core::money::amount_str")]
    amount: Decimal,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
struct LinesBody {
    order: String,
    #[serde(default)]
    lines: Option<Vec<LineQty>>,
    #[serde(default)]
    restock: Option<bool>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
struct HoldBody {
    order: String,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
struct TickBody {
    now: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
struct SkuBody {
    sku: String,
}

#[derive(Deserialize)]
struct AdjustBody {
    sku: String,
    location: String,
    delta: i64,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
struct IdBody {
    id: String,
}

fn placed_json(p: &PlacedOrder) -> Value {
    let mut m = Map::new();
    m.insert("order".into(), json!(p.order));
    m.insert("status".into(), json!(p.status));
    m.insert("quote".into(), quote_to_contract_json(&p.quote));
    m.insert(
        "reservations".into(),
        Value::Array(
            p.reservations
                .iter()
                .map(|r| json!({"sku": r.sku, "location": r.location, "qty": r.qty}))
                .collect(),
        ),
    );
    if !p.hold_reasons.is_empty() {
        m.insert("hold_reasons".into(), json!(p.hold_reasons));
    }
    Value::Object(m)
}

fn response_json(r: &Response) -> Value {
    match r {
        Response::Done => json!({}),
        Response::Placed(p) => placed_json(p),
        Response::Status { status, .. } => json!({"status": status.as_str()}),
        Response::Cancelled(c) => {
            json!({"status": "cancelled", "refund": c.refund.amount().to_string()})
        }
        Response::Returned(r) => {
            json!({"refund": r.refund.amount().to_string(), "points_returned": r.points_returned, "status": r.status.as_str()})
        }
        Response::Stock { on_hand, .. } => json!({"on_hand": on_hand}),
        Response::Tick(t) => json!({"closed": t.closed, "completed": t.completed}),
        Response::Coupons { coupons } => json!({
            "coupons": coupons.iter().map(super::steps_loyalty::code_json).collect::<Vec<_>>()
        }),
        other => super::steps_aftersale::response_json(other)
            .or_else(|| super::steps_shipments::response_json(other))
            .or_else(|| super::steps_presale::response_json(other))
            .unwrap_or_else(|| json!({})),
    }
}

fn setup<S: Store + 'static>(
    sc: &Scenario,
    engine: &Engine<S, ManualClock>,
) -> Result<(), ScenarioError> {
    let s = |e: EngineError| ScenarioError::Setup(e.to_string());
    engine
        .configure(sc.currency, sc.settings.clone())
        .map_err(s)?;
    for item in &sc.catalog {
        engine.add_catalog_item(item.clone()).map_err(s)?;
    }
    for st in &sc.stock {
        if engine
            .read(|e| e.rules.as_ref().and_then(|r| r.item(&st.sku)).is_none())
            .map_err(s)?
        {
            return Err(ScenarioError::Setup(format!(
                "stock for unknown SKU `{}`",
                st.sku
            )));
        }
        engine
            .configure_location(
                &st.sku,
                &st.location,
                crate::LocationOptions {
                    safety: st.safety,
                    backorder: st.backorder,
                    priority: st.priority,
                },
            )
            .map_err(s)?;
        if st.on_hand != 0 {
            engine
                .adjust_stock(&st.sku, &st.location, st.on_hand, "opening stock")
                .map_err(s)?;
        }
    }
    for c in &sc.customers {
        engine
            .register_customer(&c.id, c.tier.as_deref(), c.points)
            .map_err(s)?;
    }
    for p in &sc.promotions {
        engine.add_promotion(p.clone()).map_err(s)?;
    }
    for c in &sc.coupons {
        engine.add_coupon(c.clone()).map_err(s)?;
    }
    Ok(())
}

/// Runs every step of `scenario` on a fresh engine over `store`.
///
/// # Errors
/// [`ScenarioError::Setup`] when the shop the file describes cannot be set
/// up (the file fails as a whole).
pub fn run<S: Store + 'static>(
    scenario: &Scenario,
    store: S,
) -> Result<Vec<StepOutcome>, ScenarioError> {
    let clock = ManualClock::new(scenario.now);
    let engine =
        Engine::open(store, clock.clone()).map_err(|e| ScenarioError::Setup(e.to_string()))?;
    setup(scenario, &engine)?;
    let mut out = Vec::with_capacity(scenario.steps.len());
    for (index, step) in scenario.steps.iter().enumerate() {
        let expect = step.get("expect").cloned();
        let (action, result) = match step.as_object() {
            None => (
                "?".to_string(),
                error_value("invalid_input", "a step must be an object"),
            ),
            Some(obj) => {
                let actions: Vec<&String> = obj.keys().filter(|k| *k != "expect").collect();
                match actions.as_slice() {
                    [a] if is_step_kind(a) => {
                        let result =
                            run_step(&engine, &clock, a, &obj[a.as_str()]).unwrap_or_else(|e| e);
                        ((*a).clone(), result)
                    }
                    [a] => (
                        (*a).clone(),
                        error_value("invalid_input", &format!("unknown step `{a}`")),
                    ),
                    _ => (
                        "?".to_string(),
                        error_value(
                            "invalid_input",
                            "a step has exactly one action key besides `expect`",
                        ),
                    ),
                }
            }
        };
        out.push(StepOutcome {
            index,
            action,
            result,
            expect,
        });
    }
    Ok(out)
}

pub(super) fn exec<S: Store + 'static>(
    engine: &Engine<S, ManualClock>,
    req: Request,
    key: Option<&str>,
) -> Result<Value, Value> {
    engine
        .execute(&req, key)
        .map(|r| response_json(&r))
        .map_err(|e| engine_error(&e))
}

fn run_step<S: Store + 'static>(
    engine: &Engine<S, ManualClock>,
    clock: &ManualClock,
    action: &str,
    b: &Value,
) -> Result<Value, Value> {
    let err = |e: EngineError| engine_error(&e);
    match action {
        "price" => {
            let p: PriceBody = body(b)?;
            let cart = Cart {
                customer: p.customer,
                lines: p.lines,
                coupons: p.coupons,
                points: p.points,
            };
            Ok(quote_to_contract_json(&engine.quote(&cart).map_err(err)?))
        }
        "best_coupons" => {
            let p: PriceBody = body(b)?;
            if !p.coupons.is_empty() {
                return Err(error_value(
                    "invalid_input",
                    "best_coupons takes no coupons",
                ));
            }
            let best = engine
                .best_coupons(p.customer.as_deref(), &p.lines, p.points)
                .map_err(err)?;
            Ok(best_coupons_to_contract_json(&best))
        }
        "place_order" => {
            let p: PlaceBody = body(b)?;
            if p.points < 0 {
                // Malformed input comes before a reused name.
                return Err(error_value(
                    "invalid_input",
                    &format!("invalid number of points {}", p.points),
                ));
            }
            let exists = engine
                .read(|s| s.shop().order(&p.name).is_some())
                .map_err(err)?;
            if exists && p.idempotency_key.is_none() {
                return Err(error_value(
                    "duplicate_order_name",
                    &format!("order `{}` already exists", p.name),
                ));
            }
            let req = Request::PlaceOrder(PlaceOrderRequest {
                id: p.name.clone(),
                customer: p.customer,
                lines: p.lines,
                coupons: p.coupons,
                points: p.points,
                channel: p.channel,
            });
            match engine.execute(&req, p.idempotency_key.as_deref()) {
                Ok(r) => Ok(response_json(&r)),
                Err(EngineError::IdempotencyConflict(_)) if exists => Err(error_value(
                    "duplicate_order_name",
                    &format!("order `{}` already exists", p.name),
                )),
                Err(e) => Err(err(e)),
            }
        }
        "add_promotion" => {
            let v = b.get("promotion").cloned().unwrap_or(Value::Null);
            let promotion = serde_json::from_value(v).map_err(|e| definition_error(&e))?;
            exec(engine, Request::AddPromotion { promotion }, None)
        }
        "add_coupon" => {
            let v = b.get("coupon").cloned().unwrap_or(Value::Null);
            let coupon = serde_json::from_value(v).map_err(|e| definition_error(&e))?;
            exec(engine, Request::AddCoupon { coupon }, None)
        }
        "release" | "reject" | "cancel" | "deliver" | "complete" => {
            let o: OrderBody = body(b)?;
            let order = o.order;
            let req = match action {
                "release" => Request::Release(OrderRef { order }),
                "reject" => Request::Reject(OrderRef { order }),
                "cancel" => Request::Cancel(OrderRef { order }),
                "deliver" => Request::Deliver { order },
                _ => Request::Complete(OrderRef { order }),
            };
            let r = exec(engine, req, o.idempotency_key.as_deref())?;
            // release/reject answer the status; a rejection cancels.
            Ok(match (action, r.get("refund")) {
                ("reject", Some(_)) => json!({"status": "cancelled"}),
                _ => r,
            })
        }
        "hold" => {
            let h: HoldBody = body(b)?;
            exec(
                engine,
                Request::Hold(HoldOrder {
                    order: h.order,
                    reasons: h.reasons,
                }),
                h.idempotency_key.as_deref(),
            )
        }
        "pay" => {
            let p: PayBody = body(b)?;
            exec(
                engine,
                Request::Pay {
                    order: p.order,
                    amount: p.amount,
                },
                p.idempotency_key.as_deref(),
            )
        }
        "ship" => {
            let l: LinesBody = body(b)?;
            exec(
                engine,
                Request::Ship {
                    order: l.order,
                    lines: l.lines,
                },
                l.idempotency_key.as_deref(),
            )
        }
        "return" => {
            let l: LinesBody = body(b)?;
            let Some(lines) = l.lines else {
                return Err(error_value("invalid_input", "return needs `lines`"));
            };
            exec(
                engine,
                Request::Return {
                    order: l.order,
                    lines,
                    restock: l.restock.unwrap_or(true),
                },
                l.idempotency_key.as_deref(),
            )
        }
        "tick" => {
            let t: TickBody = body(b)?;
            clock.set(t.now);
            exec(engine, Request::Tick, None)
        }
        "stock" => {
            let s: SkuBody = body(b)?;
            let known = engine
                .read(|st| st.rules.as_ref().is_some_and(|r| r.item(&s.sku).is_some()))
                .map_err(err)?;
            if !known {
                return Err(error_value(
                    "unknown_sku",
                    &format!("unknown SKU `{}`", s.sku),
                ));
            }
            let l = engine.stock(&s.sku).map_err(err)?;
            Ok(json!({"on_hand": l.on_hand, "reserved": l.reserved, "available": l.available}))
        }
        "adjust_stock" => {
            let a: AdjustBody = body(b)?;
            exec(
                engine,
                Request::AdjustStock(AdjustStock {
                    sku: a.sku,
                    location: a.location,
                    delta: a.delta,
                    reason: a.reason.unwrap_or_else(|| "adjustment".into()),
                }),
                a.idempotency_key.as_deref(),
            )
        }
        "customer" => {
            let c: IdBody = body(b)?;
            let r = engine.customer(&c.id).map_err(err)?;
            Ok(json!({
                "points": r.points,
                "coupons": r.wallet.iter().map(|w| {
                    let mut c = json!({"code": w.code, "status": w.status.as_str()});
                    if let Some(t) = w.valid_until {
                        c["valid_until"] = json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
                    }
                    c
                }).collect::<Vec<_>>(),
            }))
        }
        a if super::steps_campaigns::ACTIONS.contains(&a) => {
            super::steps_campaigns::run(engine, a, b)
        }
        a if super::steps_loyalty::ACTIONS.contains(&a) => super::steps_loyalty::run(engine, a, b),
        a if super::steps_presale::ACTIONS.contains(&a) => super::steps_presale::run(engine, a, b),
        a if super::steps_shipments::ACTIONS.contains(&a) => {
            super::steps_shipments::run_step(engine, a, b).unwrap_or_else(|| {
                Err(error_value("invalid_input", &format!("unknown step `{a}`")))
            })
        }
        a if super::steps_exchange::ACTIONS.contains(&a) => {
            super::steps_exchange::run_step(engine, a, b).unwrap_or_else(|| {
                Err(error_value("invalid_input", &format!("unknown step `{a}`")))
            })
        }
        other => super::steps_aftersale::run_step(engine, other, b).unwrap_or_else(|| {
            Err(error_value(
                "invalid_input",
                &format!("unknown step `{other}`"),
            ))
        }),
    }
}
