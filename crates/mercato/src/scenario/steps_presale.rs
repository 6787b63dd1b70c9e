//! The presale steps of the scenario runner (issue 13, 预售/定金; see
//! "Presale" in `docs/scenario-format.md` and `docs/presale.md`).

use mercato_rules::CartLine;
use mercato_store::Store;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::run::{OrderOnly, amount, body, engine_error, exec};
use crate::clock::ManualClock;
use crate::engine::Engine;
use crate::presale::{PresaleDepositRequest, PresaleReceipt};
use crate::request::{Request, Response};

/// The step keys this module runs.
pub(crate) const ACTIONS: &[&str] = &["presale_deposit", "pay_balance", "presale"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepositBody {
    order: String,
    promotion: String,
    customer: String,
    lines: Vec<CartLine>,
    method: String,
    #[serde(with = "mercato_core::money::amount_str")]
    amount: Decimal,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn receipt_json(r: &PresaleReceipt) -> Value {
    json!({
        "deposit": amount(&r.deposit),
        "deduction": amount(&r.deduction),
        "payable": amount(&r.payable),
        "balance": amount(&r.balance),
        "balance_from": time(&r.balance_from),
        "balance_until": time(&r.balance_until),
        "on_unpaid_balance": r.on_unpaid_balance.as_str(),
        "status": r.status.as_str(),
    })
}

/// The contract JSON of this module's responses; `None` for others.
pub(crate) fn response_json(r: &Response) -> Option<Value> {
    match r {
        Response::Presale(p) => Some(receipt_json(p)),
        _ => None,
    }
}

/// Runs one step of this module (`action` is one of [`ACTIONS`]).
pub(crate) fn run<S: Store + 'static>(
    engine: &Engine<S, ManualClock>,
    action: &str,
    b: &Value,
) -> Result<Value, Value> {
    match action {
        "presale_deposit" => {
            let d: DepositBody = body(b)?;
            let key = d.idempotency_key.clone();
            exec(
                engine,
                Request::PresaleDeposit(Box::new(PresaleDepositRequest {
                    order: d.order,
                    promotion: d.promotion,
                    customer: d.customer,
                    lines: d.lines,
                    method: d.method,
                    amount: d.amount,
                    reference: d.reference,
                    channel: d.channel,
                })),
                key.as_deref(),
            )
        }
        // The balance is a payment like any other: the same body and
        // request as `record_payment`.
        "pay_balance" => super::steps_aftersale::run_step(engine, "record_payment", b)
            .unwrap_or_else(|| {
                Err(engine_error(&crate::error::EngineError::Internal(
                    "record_payment step".into(),
                )))
            }),
        _ => {
            let o: OrderOnly = body(b)?;
            let o = engine.order(&o.order).map_err(|e| engine_error(&e))?;
            let Some(p) = &o.presale else {
                return Ok(json!({"presale": null, "status": o.status.as_str()}));
            };
            Ok(json!({
                "phase": p.phase.as_str(),
                "status": o.status.as_str(),
                "deposit": amount(&p.terms.deposit),
                "deduction": amount(&p.terms.deduction),
                "payable": amount(&o.payable()),
                "paid": amount(&o.paid),
                "refunded": amount(&o.refunded),
                "balance_from": time(&p.terms.balance_from),
                "balance_until": time(&p.terms.balance_until),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_step_name_is_shared_with_another_module() {
        for a in super::ACTIONS {
            assert!(!super::super::run::ACTIONS.contains(a), "{a}");
            assert!(!super::super::steps_aftersale::ACTIONS.contains(a), "{a}");
        }
    }
}
