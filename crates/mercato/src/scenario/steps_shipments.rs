//! The shipment steps of the scenario runner (issue 13; see "Shipments" in
//! `docs/scenario-format.md`): `ship_shipment`, `deliver_shipment`, and the
//! reads `shipments` (an order's shipments with where their units left
//! from) and `stock_locations` (a SKU's stock per location).

use mercato_core::order::LineQty;
use mercato_core::shipment::Package;
use mercato_store::Store;
use serde::Deserialize;
use serde_json::{Value, json};

use super::run::{OrderOnly, body, engine_error, error_value, exec};
use crate::clock::ManualClock;
use crate::engine::Engine;
use crate::request::{Request, Response};
use crate::shipments::ShipmentAnswer;

/// The step keys this module runs.
pub(crate) const ACTIONS: &[&str] = &[
    "ship_shipment",
    "deliver_shipment",
    "shipments",
    "stock_locations",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageBody {
    carrier: String,
    tracking: String,
    lines: Vec<LineQty>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShipBody {
    order: String,
    shipment: String,
    packages: Vec<PackageBody>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliverBody {
    order: String,
    shipment: String,
    #[serde(default)]
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SkuOnly {
    sku: String,
}

fn answer_json(a: &ShipmentAnswer) -> Value {
    json!({
        "shipment": a.shipment,
        "delivered": a.delivered_at.is_some(),
        "status": a.status.as_str(),
    })
}

/// The contract JSON of this module's responses; `None` for others.
pub(crate) fn response_json(r: &Response) -> Option<Value> {
    match r {
        Response::Shipment(a) => Some(answer_json(a)),
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
        "ship_shipment" => (|| {
            let s: ShipBody = body(b)?;
            exec(
                engine,
                Request::ShipShipment {
                    order: s.order,
                    shipment: s.shipment,
                    packages: s
                        .packages
                        .into_iter()
                        .map(|p| Package {
                            carrier: p.carrier,
                            tracking: p.tracking,
                            lines: p.lines,
                        })
                        .collect(),
                },
                s.idempotency_key.as_deref(),
            )
        })(),
        "deliver_shipment" => (|| {
            let d: DeliverBody = body(b)?;
            exec(
                engine,
                Request::DeliverShipment {
                    order: d.order,
                    shipment: d.shipment,
                },
                d.idempotency_key.as_deref(),
            )
        })(),
        "shipments" => (|| {
            let o: OrderOnly = body(b)?;
            let o = engine.order(&o.order).map_err(|e| engine_error(&e))?;
            Ok(json!({
                "status": o.status.as_str(),
                "shipments": o.shipments.iter().map(|s| json!({
                    "id": s.id,
                    "packages": s.packages.iter().map(|p| json!({
                        "carrier": p.carrier,
                        "tracking": p.tracking,
                        "lines": p.lines,
                    })).collect::<Vec<_>>(),
                    "lines": s.lines,
                    "from": s.sources.iter().map(|u| json!({
                        "line": u.line,
                        "location": u.location,
                        "qty": u.qty,
                    })).collect::<Vec<_>>(),
                    "delivered": s.is_delivered(),
                })).collect::<Vec<_>>(),
            }))
        })(),
        "stock_locations" => (|| {
            let s: SkuOnly = body(b)?;
            let locations = engine
                .read(|st| {
                    st.shop().stock().sku(&s.sku).map(|k| {
                        k.locations
                            .iter()
                            .map(|l| {
                                json!({
                                    "location": l.location,
                                    "on_hand": l.on_hand,
                                    "reserved": l.reserved,
                                })
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .map_err(|e| engine_error(&e))?;
            match locations {
                Some(l) => Ok(json!({ "locations": l })),
                None => Err(error_value(
                    "unknown_sku",
                    &format!("unknown SKU `{}`", s.sku),
                )),
            }
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
        }
    }
}
