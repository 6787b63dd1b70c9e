//! The scenario steps of coupon templates and points (issue 12):
//! `add_coupon_template`, `issue_coupons`, `claim_coupon`, `revoke_coupon`,
//! `extend_coupon` and `points` (`docs/scenario-format.md`, section
//! "Coupon templates and points").

use chrono::{DateTime, Utc};
use mercato_store::Store;
use serde::Deserialize;
use serde_json::{Value, json};

use super::run::{body, definition_error, engine_error};
use crate::clock::ManualClock;
use crate::engine::{ClaimOptions, Engine, IssueOptions};
use crate::request::IssuedCode;

/// The step names this module runs.
pub(crate) const ACTIONS: &[&str] = &[
    "add_coupon_template",
    "issue_coupons",
    "claim_coupon",
    "revoke_coupon",
    "extend_coupon",
    "points",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    template: String,
    customers: Vec<String>,
    #[serde(default)]
    codes: Vec<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    template: String,
    customer: String,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendBody {
    code: String,
    valid_until: DateTime<Utc>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerBody {
    customer: String,
}

fn time(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    })
}

/// A template coupon in the contract's shape.
pub(crate) fn code_json(c: &IssuedCode) -> Value {
    json!({
        "code": c.code,
        "customer": c.customer,
        "valid_from": time(c.valid_from),
        "valid_until": time(c.valid_until),
    })
}

/// Runs one of [`ACTIONS`].
pub(crate) fn run<S: Store + 'static>(
    engine: &Engine<S, ManualClock>,
    action: &str,
    b: &Value,
) -> Result<Value, Value> {
    let err = |e: crate::EngineError| engine_error(&e);
    match action {
        "add_coupon_template" => {
            let v = b.get("template").cloned().unwrap_or(Value::Null);
            let template = serde_json::from_value(v).map_err(|e| definition_error(&e))?;
            engine.add_coupon_template(template).map_err(err)?;
            Ok(json!({}))
        }
        "issue_coupons" => {
            let i: IssueBody = body(b)?;
            let codes = engine
                .issue_coupons(
                    &i.template,
                    i.customers,
                    IssueOptions {
                        codes: i.codes,
                        key: i.idempotency_key,
                    },
                )
                .map_err(err)?;
            Ok(json!({"coupons": codes.iter().map(code_json).collect::<Vec<_>>()}))
        }
        "claim_coupon" => {
            let c: ClaimBody = body(b)?;
            let code = engine
                .claim_coupon(
                    &c.template,
                    &c.customer,
                    ClaimOptions {
                        key: c.idempotency_key,
                    },
                )
                .map_err(err)?;
            Ok(code_json(&code))
        }
        "revoke_coupon" => {
            let c: CodeBody = body(b)?;
            engine
                .revoke_coupon(&c.code, c.idempotency_key.as_deref())
                .map_err(err)?;
            Ok(json!({"code": c.code, "status": "revoked"}))
        }
        "extend_coupon" => {
            let x: ExtendBody = body(b)?;
            engine
                .extend_coupon(&x.code, x.valid_until, x.idempotency_key.as_deref())
                .map_err(err)?;
            Ok(json!({"code": x.code, "valid_until": time(Some(x.valid_until))}))
        }
        "points" => {
            let c: CustomerBody = body(b)?;
            let p = engine.points(&c.customer).map_err(err)?;
            Ok(json!({
                "balance": p.balance,
                "earned": p.earned,
                "spent": p.spent,
                "returned": p.returned,
                "expired": p.expired,
                "clawed": p.clawed,
                "shortfall": p.shortfall,
                "lots": p.lots.iter().map(|l| json!({
                    "points": l.points,
                    "left": l.left,
                    "expires_at": time(l.expires_at),
                    "order": l.order,
                })).collect::<Vec<_>>(),
            }))
        }
        other => Err(super::run::error_value(
            "invalid_input",
            &format!("unknown step `{other}`"),
        )),
    }
}
