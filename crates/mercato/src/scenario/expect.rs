//! Subset matching of `expect` blocks: every expected key must be present
//! with a matching value, arrays match element by element with the same
//! length, amount strings compare as decimals, and `{"error": "code"}` /
//! `{"error": {}}` match failures.

use rust_decimal::Decimal;
use serde_json::Value;

/// One difference between an expectation and a result.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// JSON path (`$.lines[0].net`).
    pub path: String,
    /// What was expected.
    pub expected: Value,
    /// What was found (`null` when missing).
    pub actual: Value,
}

fn decimal(v: &Value) -> Option<Decimal> {
    v.as_str().and_then(|s| s.trim().parse::<Decimal>().ok())
}

fn walk(path: &str, expected: &Value, actual: &Value, out: &mut Vec<Mismatch>) {
    let miss = |out: &mut Vec<Mismatch>| {
        out.push(Mismatch {
            path: path.to_string(),
            expected: expected.clone(),
            actual: actual.clone(),
        })
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                if k == "error" && path == "$" {
                    let code = a.get("error").and_then(|x| x.get("code"));
                    let ok = match (ev, code) {
                        (Value::String(want), Some(Value::String(got))) => want == got,
                        (Value::Object(o), Some(_)) if o.is_empty() => true,
                        (Value::Object(o), Some(_)) => {
                            walk_ok(&format!("{path}.error"), ev, &a["error"]) || o.is_empty()
                        }
                        _ => false,
                    };
                    if !ok {
                        out.push(Mismatch {
                            path: format!("{path}.error"),
                            expected: ev.clone(),
                            actual: a.get("error").cloned().unwrap_or(Value::Null),
                        });
                    }
                    continue;
                }
                match a.get(k) {
                    Some(av) => walk(&format!("{path}.{k}"), ev, av, out),
                    None => out.push(Mismatch {
                        path: format!("{path}.{k}"),
                        expected: ev.clone(),
                        actual: Value::Null,
                    }),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                miss(out);
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                walk(&format!("{path}[{i}]"), ev, av, out);
            }
        }
        (Value::String(es), Value::String(as_)) => {
            if es != as_ {
                match (decimal(expected), decimal(actual)) {
                    (Some(x), Some(y)) if x == y => {}
                    _ => miss(out),
                }
            }
        }
        (e, a) => {
            if e != a {
                miss(out);
            }
        }
    }
}

fn walk_ok(path: &str, expected: &Value, actual: &Value) -> bool {
    let mut v = Vec::new();
    walk(path, expected, actual, &mut v);
    v.is_empty()
}

/// Compares a step's result with its `expect` block; empty when it matches.
///
/// ```
/// use mercato::scenario::matches;
/// use serde_json::json;
/// assert!(matches(&json!({"a": "10"}), &json!({"a": "10.00", "b": 1})).is_empty());
/// assert_eq!(matches(&json!({"x": [1, 2]}), &json!({"x": [1]}))[0].path, "$.x");
/// assert!(matches(&json!({"error": "unknown_sku"}), &json!({"error": {"code": "unknown_sku", "message": ""}})).is_empty());
/// assert!(!matches(&json!({"error": {}}), &json!({"status": "paid"})).is_empty());
/// ```
pub fn matches(expected: &Value, actual: &Value) -> Vec<Mismatch> {
    let mut out = Vec::new();
    walk("$", expected, actual, &mut out);
    out
}
