//! The exchange steps of the scenario runner (换货, issue 13; see
//! "Exchanges" in `docs/scenario-format.md`): `request_exchange`,
//! `pay_exchange`, `convert_exchange`, and the read `order_lines` (every
//! line of an order, exchange lines included, with its units and net).
//! An exchange moves through the after-sale steps too (`approve_after_sale`,
//! `reject_after_sale`, `withdraw_after_sale`, `receive_after_sale`),
//! whose answers gain an `exchange` object for an exchange.

use mercato_core::aftersale::AfterSaleAction;
use mercato_core::exchange::ExchangeItem;
use mercato_core::order::Order;
use mercato_store::Store;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::run::{OrderOnly, amount, body, engine_error, exec};
use crate::clock::ManualClock;
use crate::engine::Engine;
use crate::exchange::ExchangeView;
use crate::request::Request;

/// The step keys this module runs.
pub(crate) const ACTIONS: &[&str] = &[
    "request_exchange",
    "pay_exchange",
    "convert_exchange",
    "order_lines",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestBody {
    order: String,
    items: Vec<ExchangeItem>,
    #[serde(default)]
    reason_code: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayBody {
    order: String,
    request: String,
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
struct ConvertBody {
    order: String,
    request: String,
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// The `exchange` object of an after-sale answer: `{"due", "paid",
/// "pay_by", "reservation", "lines", "payments"}` (`due` and `pay_by` once
/// approved, `lines`: the exchange lines once exchanged).
pub(crate) fn view_json(x: &ExchangeView) -> Value {
    let mut v = json!({
        "paid": amount(&x.paid),
        "lines": x.lines,
        "payments": x.payments,
    });
    if let Some(m) = v.as_object_mut() {
        if let Some(d) = &x.due {
            m.insert("due".into(), json!(amount(d)));
        }
        if let Some(t) = x.pay_by {
            m.insert(
                "pay_by".into(),
                json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            );
        }
        if let Some(r) = &x.reservation {
            m.insert("reservation".into(), json!(r));
        }
    }
    v
}

fn at(v: &[i64], i: usize) -> i64 {
    v.get(i).copied().unwrap_or(0)
}

fn lines_json(o: &Order) -> Value {
    Value::Array(
        o.lines()
            .map(|l| {
                let i = l.index;
                let mut v = json!({
                    "line": i,
                    "sku": l.sku,
                    "qty": l.qty,
                    "net": amount(&l.net),
                    "shipped": at(&o.shipped, i),
                    "returned": at(&o.returned, i),
                    "refunded": at(&o.refunded_units, i),
                    "exchanged": at(&o.exchanged, i),
                    "cancelled": at(&o.cancelled, i),
                });
                if let (Some(x), Some(m)) = (l.exchange, v.as_object_mut()) {
                    m.insert("replaces".into(), json!(x.replaces));
                    m.insert("request".into(), json!(x.request));
                }
                v
            })
            .collect(),
    )
}

/// Runs one step of this module; `None` when `action` is not one of its.
pub(crate) fn run_step<S: Store + 'static>(
    engine: &Engine<S, ManualClock>,
    action: &str,
    b: &Value,
) -> Option<Result<Value, Value>> {
    Some(match action {
        "request_exchange" => (|| {
            let r: RequestBody = body(b)?;
            exec(
                engine,
                Request::RequestExchange {
                    order: r.order,
                    items: r.items,
                    reason_code: r.reason_code,
                    note: r.note,
                },
                r.idempotency_key.as_deref(),
            )
        })(),
        "pay_exchange" => (|| {
            let p: PayBody = body(b)?;
            exec(
                engine,
                Request::PayExchange {
                    order: p.order,
                    request: p.request,
                    method: p.method,
                    amount: p.amount,
                    reference: p.reference,
                    key: p.idempotency_key.clone(),
                },
                p.idempotency_key.as_deref(),
            )
        })(),
        "convert_exchange" => (|| {
            let c: ConvertBody = body(b)?;
            exec(
                engine,
                Request::AfterSale {
                    order: c.order,
                    request: c.request,
                    action: AfterSaleAction::Convert,
                    damaged: false,
                },
                c.idempotency_key.as_deref(),
            )
        })(),
        "order_lines" => (|| {
            let o: OrderOnly = body(b)?;
            let o = engine.order(&o.order).map_err(|e| engine_error(&e))?;
            Ok(json!({"status": o.status.as_str(), "lines": lines_json(&o)}))
        })(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_step_name_is_shared_with_other_runners() {
        for a in super::ACTIONS {
            assert!(!super::super::run::ACTIONS.contains(a), "{a}");
            assert!(!super::super::steps_aftersale::ACTIONS.contains(a), "{a}");
            assert!(!super::super::steps_shipments::ACTIONS.contains(a), "{a}");
        }
    }
}
