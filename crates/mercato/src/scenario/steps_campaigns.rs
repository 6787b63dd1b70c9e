//! Scenario steps of issue 12's catalog changes, campaign lifecycles and
//! customer segments (`docs/scenario-format.md`, "Catalog and campaign
//! steps"): one body struct per step, each mapped to one `Engine` call.

use crate::request::SetCustomerTags;
use chrono::{DateTime, Utc};
use mercato_store::Store;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::run::{body, definition_error, engine_error, error_value, exec};
use crate::clock::ManualClock;
use crate::engine::Engine;
use crate::request::Request;

/// The step names this module runs.
pub(super) const ACTIONS: &[&str] = &[
    "change_price",
    "set_sellable",
    "update_catalog_item",
    "price_history",
    "end_promotion",
    "pause_promotion",
    "resume_promotion",
    "replace_promotion",
    "promotion_versions",
    "set_customer_tags",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePriceBody {
    sku: String,
    #[serde(with = "mercato_core::money::amount_str")]
    price: Decimal,
    #[serde(default)]
    from: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SellableBody {
    sku: String,
    sellable: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateItemBody {
    sku: String,
    #[serde(default)]
    product: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    clear_category: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SkuBody {
    sku: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndBody {
    id: String,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromotionIdBody {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagsBody {
    customer: String,
    tags: Vec<String>,
}

/// Runs one campaign step.
pub(super) fn run<S: Store + 'static>(
    engine: &Engine<S, ManualClock>,
    action: &str,
    b: &Value,
) -> Result<Value, Value> {
    let req = match action {
        "change_price" => {
            let c: ChangePriceBody = body(b)?;
            Request::ChangePrice {
                sku: c.sku,
                price: c.price,
                from: c.from,
            }
        }
        "set_sellable" => {
            let s: SellableBody = body(b)?;
            Request::SetSellable {
                sku: s.sku,
                sellable: s.sellable,
            }
        }
        "update_catalog_item" => {
            let u: UpdateItemBody = body(b)?;
            Request::UpdateCatalogItem {
                sku: u.sku,
                product: u.product,
                category: u.category,
                clear_category: u.clear_category,
            }
        }
        "price_history" => {
            let s: SkuBody = body(b)?;
            let h = engine.price_history(&s.sku).map_err(|e| engine_error(&e))?;
            return Ok(json!({
                "current": h.current.to_string(),
                "sellable": h.sellable,
                "changes": h.changes.iter().map(|c| json!({
                    "price": c.price.to_string(),
                    "from": c.from,
                    "scheduled": c.scheduled,
                })).collect::<Vec<_>>(),
            }));
        }
        "end_promotion" => {
            let e: EndBody = body(b)?;
            Request::EndPromotion { id: e.id, at: e.at }
        }
        "pause_promotion" => {
            let p: PromotionIdBody = body(b)?;
            Request::PausePromotion { id: p.id }
        }
        "resume_promotion" => {
            let p: PromotionIdBody = body(b)?;
            Request::ResumePromotion { id: p.id }
        }
        "replace_promotion" => {
            let v = b.get("promotion").cloned().unwrap_or(Value::Null);
            let promotion = serde_json::from_value(v).map_err(|e| definition_error(&e))?;
            Request::ReplacePromotion { promotion }
        }
        "promotion_versions" => {
            let p: PromotionIdBody = body(b)?;
            let err = |e: crate::EngineError| engine_error(&e);
            let state = engine.promotion_state(&p.id).map_err(err)?;
            let versions = engine.promotion_versions(&p.id).map_err(err)?;
            return Ok(json!({
                "version": state.version,
                "paused": state.paused,
                "ends_at": state.ends_at,
                "versions": versions.iter().map(|v| json!({
                    "version": v.version,
                    "promotion": v.promotion,
                })).collect::<Vec<_>>(),
            }));
        }
        "set_customer_tags" => {
            let t: TagsBody = body(b)?;
            Request::SetCustomerTags(SetCustomerTags {
                id: t.customer,
                tags: t.tags,
            })
        }
        other => {
            return Err(error_value(
                "invalid_input",
                &format!("unknown step `{other}`"),
            ));
        }
    };
    exec(engine, req, None)
}
