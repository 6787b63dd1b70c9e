//! Catalog changes and campaign lifecycles (issue 12): the decisions for
//! [`Request::ChangePrice`], [`Request::SetSellable`],
//! [`Request::UpdateCatalogItem`], [`Request::EndPromotion`],
//! [`Request::PausePromotion`], [`Request::ResumePromotion`] and
//! [`Request::ReplacePromotion`], how their configuration events move the
//! rules, and the histories read back from the configuration log
//! ([`PriceHistory`], [`PromotionVersion`]).
//!
//! Each is one configuration event on the `config` stream: it conflicts
//! with every decision in flight (which all read `config`), so a quote is
//! always priced with the rules it saw. Placed orders keep their stored
//! quote, and refunds re-price with the rules of the log prefix at their
//! placement, so nothing here changes the money of an order placed before.

use chrono::{DateTime, Utc};
use mercato_rules::{ItemChange, Lifecycle, PriceChange, Promotion, RuleSet, SellableChange};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::error::EngineError;
use crate::log::{ConfigEvent, LogEvent};
use crate::request::Request;
use crate::state::EngineState;

/// The channel of a cart priced without one (the default of placing).
pub(crate) const DEFAULT_CHANNEL: &str = "web";

fn config(e: ConfigEvent) -> Vec<LogEvent> {
    vec![LogEvent::Config(Box::new(e))]
}

fn not_before_now(what: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), EngineError> {
    if at < now {
        return Err(EngineError::InvalidInput(format!(
            "{what} {at} is in the past (now is {now})"
        )));
    }
    Ok(())
}

/// Decides a catalog or campaign request: validated on a copy of the
/// rules, so a refused change changes nothing.
pub(crate) fn decide(
    st: &EngineState,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Vec<LogEvent>, EngineError> {
    let rules = st.rules()?;
    let mut trial: RuleSet = rules.clone();
    let event = match req {
        Request::ChangePrice { sku, price, from } => {
            if let Some(at) = from {
                not_before_now("a scheduled price's time", *at, now)?;
            }
            let change = PriceChange {
                sku: sku.clone(),
                price: *price,
                from: from.unwrap_or(now),
                scheduled: from.is_some(),
            };
            trial.change_price(&change)?;
            ConfigEvent::PriceChanged { change }
        }
        Request::SetSellable { sku, sellable } => {
            let change = SellableChange {
                sku: sku.clone(),
                sellable: *sellable,
            };
            trial.set_sellable(&change)?;
            ConfigEvent::SellableChanged { change }
        }
        Request::UpdateCatalogItem {
            sku,
            product,
            category,
            clear_category,
        } => {
            let item = rules
                .item(sku)
                .ok_or_else(|| mercato_core::CoreError::UnknownSku(sku.clone()))?;
            if *clear_category && category.is_some() {
                return Err(EngineError::InvalidInput(
                    "give a category or clear it, not both".into(),
                ));
            }
            let change = ItemChange {
                sku: sku.clone(),
                product: product.clone().unwrap_or_else(|| item.product.clone()),
                category: if *clear_category {
                    None
                } else {
                    category.clone().or_else(|| item.category.clone())
                },
            };
            trial.change_item(&change)?;
            ConfigEvent::CatalogItemChanged { change }
        }
        Request::EndPromotion { id, at } => {
            if let Some(at) = at {
                not_before_now("an end time", *at, now)?;
            }
            let change = Lifecycle::End {
                id: id.clone(),
                at: at.unwrap_or(now),
            };
            lifecycle(&mut trial, &change, now)?;
            ConfigEvent::PromotionChanged { change }
        }
        Request::PausePromotion { id } => {
            let change = Lifecycle::Pause { id: id.clone() };
            lifecycle(&mut trial, &change, now)?;
            ConfigEvent::PromotionChanged { change }
        }
        Request::ResumePromotion { id } => {
            let change = Lifecycle::Resume { id: id.clone() };
            lifecycle(&mut trial, &change, now)?;
            ConfigEvent::PromotionChanged { change }
        }
        Request::ReplacePromotion { promotion } => {
            let change = Lifecycle::Replace {
                promotion: Box::new(promotion.clone()),
            };
            lifecycle(&mut trial, &change, now)?;
            ConfigEvent::PromotionChanged { change }
        }
        other => {
            return Err(EngineError::Internal(format!(
                "`{}` is not a campaign request",
                other.name()
            )));
        }
    };
    Ok(config(event))
}

/// A lifecycle change, refused once the promotion has ended.
fn lifecycle(
    rules: &mut RuleSet,
    change: &Lifecycle,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    let id = match change {
        Lifecycle::End { id, .. } | Lifecycle::Pause { id } | Lifecycle::Resume { id } => id,
        Lifecycle::Replace { promotion } => &promotion.id,
    };
    if rules.promotion(id).is_some() && rules.promotion_state(id).ended(now) {
        return Err(mercato_rules::RulesError::PromotionState {
            id: id.clone(),
            problem: "has ended".into(),
        }
        .into());
    }
    Ok(rules.change_promotion(change)?)
}

/// Applies a catalog or campaign configuration event (one read back from
/// the log: checked as stored rules are). Total: a change that no longer
/// applies changes nothing.
pub(crate) fn apply_config(r: &mut RuleSet, c: &ConfigEvent) {
    let _ = match c {
        ConfigEvent::PriceChanged { change } => r.restore_price_change(change),
        ConfigEvent::SellableChanged { change } => r.set_sellable(change),
        ConfigEvent::CatalogItemChanged { change } => r.change_item(change),
        ConfigEvent::PromotionChanged { change } => r.restore_promotion_change(change),
        _ => Ok(()),
    };
}

/// One entry of a SKU's price history ([`crate::Engine::price_history`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricePoint {
    /// The list unit price.
    #[serde(with = "mercato_core::money::amount_str")]
    pub price: Decimal,
    /// When it took (or takes) effect; `None`: since the SKU was added.
    pub from: Option<DateTime<Utc>>,
    /// Set ahead of its time (`true`) or when it was made.
    pub scheduled: bool,
}

/// A SKU's prices: every price it was given, in the order given, and the
/// price in force now ([`crate::Engine::price_history`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceHistory {
    /// The SKU.
    pub sku: String,
    /// The price in force at the time asked.
    #[serde(with = "mercato_core::money::amount_str")]
    pub current: Decimal,
    /// Whether carts may hold it.
    pub sellable: bool,
    /// Every price set, in log order (the first is the catalog price).
    pub changes: Vec<PricePoint>,
}

/// One version of a promotion ([`crate::Engine::promotion_versions`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromotionVersion {
    /// 1 for the definition first added, then one more per replacement.
    pub version: u32,
    /// The definition.
    pub promotion: Promotion,
}

/// The price history of `sku` read from the configuration log.
pub(crate) fn price_history(
    st: &EngineState,
    sku: &str,
    now: DateTime<Utc>,
) -> Result<PriceHistory, EngineError> {
    let rules = st.rules()?;
    let current = rules
        .price_at(sku, now)
        .ok_or_else(|| mercato_core::CoreError::UnknownSku(sku.to_string()))?;
    let mut changes = Vec::new();
    for e in &st.durable.config_log {
        match e {
            ConfigEvent::CatalogItemAdded { item } if item.sku == sku => {
                changes.push(PricePoint {
                    price: item.price,
                    from: None,
                    scheduled: false,
                });
            }
            ConfigEvent::PriceChanged { change } if change.sku == sku => {
                changes.push(PricePoint {
                    price: change.price,
                    from: Some(change.from),
                    scheduled: change.scheduled,
                });
            }
            _ => {}
        }
    }
    Ok(PriceHistory {
        sku: sku.to_string(),
        current,
        sellable: rules.is_sellable(sku),
        changes,
    })
}

/// Every version of promotion `id`, oldest first, from the configuration
/// log (a version that the rules refused when replayed is not listed).
pub(crate) fn promotion_versions(
    st: &EngineState,
    id: &str,
) -> Result<Vec<PromotionVersion>, EngineError> {
    let rules = st.rules()?;
    if rules.promotion(id).is_none() {
        return Err(mercato_rules::RulesError::UnknownPromotion(id.to_string()).into());
    }
    let mut out: Vec<PromotionVersion> = Vec::new();
    for e in &st.durable.config_log {
        let p = match e {
            ConfigEvent::PromotionAdded { promotion } if promotion.id == id => promotion,
            ConfigEvent::PromotionChanged {
                change: Lifecycle::Replace { promotion },
            } if promotion.id == id => &**promotion,
            _ => continue,
        };
        let version = u32::try_from(out.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        out.push(PromotionVersion {
            version,
            promotion: p.clone(),
        });
    }
    Ok(out)
}
