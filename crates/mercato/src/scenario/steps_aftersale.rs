//! The after-sale and payments steps of the scenario runner (issue 13; see
//! "After-sale and payments" in `docs/scenario-format.md`).

use mercato_core::aftersale::{AfterSaleAction, AfterSaleKind};
use mercato_core::order::LineQty;
use mercato_core::payments::PaymentShare;
use mercato_store::Store;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::run::{OrderOnly, amount, body, engine_error, exec};
use crate::aftersale::{AfterSaleAnswer, PaymentReceipt, RefundReceipt};
use crate::clock::ManualClock;
use crate::engine::Engine;
use crate::request::{Request, Response};

/// The step keys this module runs.
pub(crate) const ACTIONS: &[&str] = &[
    "record_payment",
    "request_after_sale",
    "approve_after_sale",
    "reject_after_sale",
    "withdraw_after_sale",
    "receive_after_sale",
    "refund_after_sale",
    "goodwill_refund",
    "cancel_units",
    "order",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentBody {
    order: String,
    method: String,
    #[serde(with = "mercato_core::money::amount_str")]
    amount: Decimal,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestBody {
    order: String,
    kind: AfterSaleKind,
    lines: Vec<LineQty>,
    #[serde(default)]
    reason_code: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default, with = "mercato_core::money::amount_str::option")]
    return_shipping_fee: Option<Decimal>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    order: String,
    request: String,
    #[serde(default)]
    damaged: bool,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GoodwillBody {
    order: String,
    #[serde(with = "mercato_core::money::amount_str")]
    amount: Decimal,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelUnitsBody {
    order: String,
    lines: Vec<LineQty>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

fn shares(a: &[PaymentShare]) -> Value {
    Value::Array(
        a.iter()
            .map(|s| json!({"payment": s.payment, "amount": amount(&s.amount)}))
            .collect(),
    )
}

fn refund_json(r: &RefundReceipt) -> Value {
    json!({
        "refund_id": r.refund_id,
        "kind": r.kind.as_str(),
        "refund": amount(&r.amount),
        "shipping": amount(&r.shipping),
        "points_returned": r.points_returned,
        "allocations": shares(&r.allocations),
        "status": r.status.as_str(),
    })
}

fn payment_json(p: &PaymentReceipt) -> Value {
    json!({
        "payment": p.payment,
        "amount": amount(&p.amount),
        "paid": amount(&p.paid),
        "due": amount(&p.due),
        "status": p.status.as_str(),
    })
}

fn after_sale_json(a: &AfterSaleAnswer) -> Value {
    let mut v = json!({
        "request": a.request,
        "status": a.status.as_str(),
        "order_status": a.order_status.as_str(),
    });
    if let (Some(r), Some(m)) = (&a.refund, v.as_object_mut()) {
        m.insert("refund".into(), refund_json(r));
    }
    if let (Some(x), Some(m)) = (&a.exchange, v.as_object_mut()) {
        m.insert("exchange".into(), super::steps_exchange::view_json(x));
    }
    v
}

/// The contract JSON of this module's responses; `None` for others.
pub(crate) fn response_json(r: &Response) -> Option<Value> {
    match r {
        Response::Payment(p) => Some(payment_json(p)),
        Response::AfterSale(a) => Some(after_sale_json(a)),
        Response::Refund(r) => Some(refund_json(r)),
        _ => None,
    }
}

/// Runs one step of this module; `None` when `action` is not one of its.
pub(crate) fn run_step<S: Store + 'static>(
    engine: &Engine<S, ManualClock>,
    action: &str,
    b: &Value,
) -> Option<Result<Value, Value>> {
    Some(match action {
        "record_payment" => (|| {
            let p: PaymentBody = body(b)?;
            exec(
                engine,
                Request::RecordPayment {
                    order: p.order,
                    method: p.method,
                    amount: p.amount,
                    reference: p.reference,
                    key: p.idempotency_key.clone(),
                },
                p.idempotency_key.as_deref(),
            )
        })(),
        "request_after_sale" => (|| {
            let r: RequestBody = body(b)?;
            exec(
                engine,
                Request::RequestAfterSale {
                    order: r.order,
                    kind: r.kind,
                    lines: r.lines,
                    reason_code: r.reason_code,
                    note: r.note,
                    return_shipping_fee: r.return_shipping_fee,
                },
                r.idempotency_key.as_deref(),
            )
        })(),
        "approve_after_sale"
        | "reject_after_sale"
        | "withdraw_after_sale"
        | "receive_after_sale"
        | "refund_after_sale" => (|| {
            let m: MoveBody = body(b)?;
            let act = match action {
                "approve_after_sale" => AfterSaleAction::Approve,
                "reject_after_sale" => AfterSaleAction::Reject,
                "withdraw_after_sale" => AfterSaleAction::Withdraw,
                "receive_after_sale" => AfterSaleAction::Receive,
                _ => AfterSaleAction::Refund,
            };
            exec(
                engine,
                Request::AfterSale {
                    order: m.order,
                    request: m.request,
                    action: act,
                    damaged: m.damaged,
                },
                m.idempotency_key.as_deref(),
            )
        })(),
        "goodwill_refund" => (|| {
            let g: GoodwillBody = body(b)?;
            exec(
                engine,
                Request::Goodwill {
                    order: g.order,
                    amount: g.amount,
                },
                g.idempotency_key.as_deref(),
            )
        })(),
        "cancel_units" => (|| {
            let c: CancelUnitsBody = body(b)?;
            exec(
                engine,
                Request::CancelUnits {
                    order: c.order,
                    lines: c.lines,
                },
                c.idempotency_key.as_deref(),
            )
        })(),
        "order" => (|| {
            let o: OrderOnly = body(b)?;
            let o = engine.order(&o.order).map_err(|e| engine_error(&e))?;
            let refunded_goods = o.refunded_goods().map_err(|e| engine_error(&e.into()))?;
            Ok(json!({
                "status": o.status.as_str(),
                "payable": amount(&o.payable()),
                "paid": amount(&o.paid),
                "refunded": amount(&o.refunded),
                "refunded_goods": amount(&refunded_goods),
                "payments": o.payments.iter().map(|p| json!({
                    "id": p.id,
                    "method": p.method,
                    "amount": amount(&p.amount),
                    "refunded": amount(&p.refunded),
                })).collect::<Vec<_>>(),
                "refunds": o.refunds.iter().map(|r| json!({
                    "id": r.id,
                    "kind": r.kind.as_str(),
                    "amount": amount(&r.amount),
                    "shipping": amount(&r.shipping),
                    "allocations": shares(&r.allocations),
                })).collect::<Vec<_>>(),
                "requests": o.returns.iter().map(|r| json!({
                    "id": r.id,
                    "kind": r.kind.as_str(),
                    "status": r.status.as_str(),
                    "lines": r.lines,
                })).collect::<Vec<_>>(),
            }))
        })(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_step_name_is_shared_with_the_core_runner() {
        for a in super::ACTIONS {
            assert!(!super::super::run::ACTIONS.contains(a), "{a}");
        }
    }
}
