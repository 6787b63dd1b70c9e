//! Changes to a live [`RuleSet`] (issue 12): a SKU's list price now or
//! from a given time, a SKU made unsellable and sellable again, a SKU
//! renamed or recategorized, and a promotion's lifecycle — ended now or at
//! a time, paused and resumed, replaced by a new version under the same id.
//!
//! Each change is plain serde data (the engine logs it as a configuration
//! event) and applying it is deterministic, so a replay rebuilds the same
//! rules, versions included. Nothing here touches a placed order: orders
//! keep the quote they were priced with.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use mercato_core::money::amount_str;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::RulesError;
use crate::minor::Admit;
use crate::promotion::{Promotion, PromotionRule};
use crate::ruleset::RuleSet;

/// A new list price for a SKU, in force from `from`.
///
/// An immediate change (`scheduled: false`, `from` = the time it was
/// made) replaces the list price and every scheduled price due by then; a
/// scheduled change takes effect when pricing's `now` reaches `from`.
/// Among prices due, the one with the latest `from` is in force (equal
/// times: the later change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceChange {
    /// The SKU.
    pub sku: String,
    /// The new list unit price (at most the currency's minor digits).
    #[serde(with = "amount_str")]
    pub price: Decimal,
    /// When it takes effect.
    pub from: DateTime<Utc>,
    /// Scheduled ahead (`true`) or made now (`false`).
    #[serde(default)]
    pub scheduled: bool,
}

/// A SKU made unsellable (`sellable: false`) or sellable again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellableChange {
    /// The SKU.
    pub sku: String,
    /// Whether carts may hold it.
    pub sellable: bool,
}

/// A SKU's new product and category (scope membership follows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemChange {
    /// The SKU.
    pub sku: String,
    /// The product it belongs to.
    pub product: String,
    /// The category, if any.
    #[serde(default)]
    pub category: Option<String>,
}

/// A lifecycle change of a promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Lifecycle {
    /// Ends at `at` (inclusive: from `at` on it no longer runs).
    End {
        /// The promotion.
        id: String,
        /// When it ends.
        at: DateTime<Utc>,
    },
    /// Stops running until resumed.
    Pause {
        /// The promotion.
        id: String,
    },
    /// Runs again.
    Resume {
        /// The promotion.
        id: String,
    },
    /// A new version of the promotion under the same id.
    Replace {
        /// The new definition.
        promotion: Box<Promotion>,
    },
}

/// Where a promotion is in its lifecycle ([`RuleSet::promotion_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionState {
    /// The version in force (1 for the definition first added).
    pub version: u32,
    /// Paused (does not run until resumed).
    pub paused: bool,
    /// When it ends, if an end was set.
    pub ends_at: Option<DateTime<Utc>>,
}

impl Default for PromotionState {
    fn default() -> Self {
        PromotionState {
            version: 1,
            paused: false,
            ends_at: None,
        }
    }
}

impl PromotionState {
    /// Whether it runs at `now` (not paused and not ended).
    pub fn running(&self, now: DateTime<Utc>) -> bool {
        !self.paused && self.ends_at.is_none_or(|e| now < e)
    }

    /// Whether it has ended by `now` (final: it cannot be paused, resumed
    /// or replaced any more).
    pub fn ended(&self, now: DateTime<Utc>) -> bool {
        self.ends_at.is_some_and(|e| now >= e)
    }
}

/// The live part of a rule set.
#[derive(Debug, Clone, Default)]
pub(crate) struct Live {
    /// Per SKU: scheduled prices, sorted by `from` (stable).
    schedules: HashMap<String, Vec<(DateTime<Utc>, Decimal)>>,
    /// SKUs carts may not hold.
    unsellable: HashSet<String>,
    /// Promotions whose state is not the default.
    promotions: HashMap<String, PromotionState>,
    /// Some promotion or coupon carries conditions.
    pub(crate) any_conditions: bool,
}

impl RuleSet {
    /// The list unit price of `sku` in force at `now` (`None`: no such SKU).
    pub fn price_at(&self, sku: &str, now: DateTime<Utc>) -> Option<Decimal> {
        let item = self.item(sku)?;
        Some(self.scheduled_price(sku, now).unwrap_or(item.price))
    }

    /// The price scheduled for `sku` in force at `now`, if any.
    pub(crate) fn scheduled_price(&self, sku: &str, now: DateTime<Utc>) -> Option<Decimal> {
        self.live
            .schedules
            .get(sku)?
            .iter()
            .rev()
            .find(|(from, _)| *from <= now)
            .map(|(_, p)| *p)
    }

    /// Prices scheduled for `sku` and not yet replaced, `(from, price)` by
    /// time.
    pub fn scheduled_prices(&self, sku: &str) -> &[(DateTime<Utc>, Decimal)] {
        self.live.schedules.get(sku).map_or(&[], Vec::as_slice)
    }

    /// Whether carts may hold `sku` (a SKU not in the catalog is not
    /// refused here: pricing says `unknown_sku`).
    pub fn is_sellable(&self, sku: &str) -> bool {
        !self.live.unsellable.contains(sku)
    }

    /// The version and lifecycle of a promotion (the default for an id
    /// that was never changed).
    pub fn promotion_state(&self, id: &str) -> PromotionState {
        self.live.promotions.get(id).copied().unwrap_or_default()
    }

    /// Whether any promotion or coupon carries conditions (quotes then
    /// record the segment they were priced with).
    pub fn has_conditions(&self) -> bool {
        self.live.any_conditions
    }

    /// Replaces the pricing settings, keeping everything else.
    ///
    /// # Errors
    /// [`RulesError::InvalidSettings`].
    pub fn set_settings(&mut self, settings: crate::PricingSettings) -> Result<(), RulesError> {
        settings.check(self.currency(), Admit::Stored)?;
        self.settings = settings;
        Ok(())
    }

    /// Applies a price change (the price checked as a new catalog price).
    ///
    /// # Errors
    /// [`CoreError::UnknownSku`](mercato_core::CoreError::UnknownSku) or
    /// [`RulesError::InvalidCatalogItem`] (a negative price, too many
    /// decimals).
    pub fn change_price(&mut self, c: &PriceChange) -> Result<(), RulesError> {
        self.price_change(c, Admit::Input)
    }

    /// [`RuleSet::change_price`] for a change read back from a log.
    ///
    /// # Errors
    /// As [`RuleSet::change_price`].
    pub fn restore_price_change(&mut self, c: &PriceChange) -> Result<(), RulesError> {
        self.price_change(c, Admit::Stored)
    }

    fn price_change(&mut self, c: &PriceChange, admit: Admit) -> Result<(), RulesError> {
        let currency = self.currency();
        let item = self
            .catalog
            .iter_mut()
            .find(|i| i.sku == c.sku)
            .ok_or_else(|| mercato_core::CoreError::UnknownSku(c.sku.clone()))?;
        let mut trial = item.clone();
        trial.price = c.price;
        trial.check(Some(currency), admit)?;
        let schedule = self.live.schedules.entry(c.sku.clone()).or_default();
        if c.scheduled {
            let at = schedule.partition_point(|(from, _)| *from <= c.from);
            schedule.insert(at, (c.from, c.price));
        } else {
            item.price = c.price;
            schedule.retain(|(from, _)| *from > c.from);
        }
        if schedule.is_empty() {
            self.live.schedules.remove(&c.sku);
        }
        Ok(())
    }

    /// Makes a SKU unsellable or sellable again.
    ///
    /// # Errors
    /// [`CoreError::UnknownSku`](mercato_core::CoreError::UnknownSku).
    pub fn set_sellable(&mut self, c: &SellableChange) -> Result<(), RulesError> {
        if self.item(&c.sku).is_none() {
            return Err(mercato_core::CoreError::UnknownSku(c.sku.clone()).into());
        }
        if c.sellable {
            self.live.unsellable.remove(&c.sku);
        } else {
            self.live.unsellable.insert(c.sku.clone());
        }
        Ok(())
    }

    /// Renames or recategorizes a SKU; scopes naming products and
    /// categories follow.
    ///
    /// # Errors
    /// [`CoreError::UnknownSku`](mercato_core::CoreError::UnknownSku) or
    /// [`RulesError::InvalidCatalogItem`] (an empty product or category).
    pub fn change_item(&mut self, c: &ItemChange) -> Result<(), RulesError> {
        if c.product.is_empty() || c.category.as_deref().is_some_and(str::is_empty) {
            return Err(RulesError::InvalidCatalogItem {
                sku: c.sku.clone(),
                problem: "empty product or category".into(),
            });
        }
        let item = self
            .catalog
            .iter_mut()
            .find(|i| i.sku == c.sku)
            .ok_or_else(|| mercato_core::CoreError::UnknownSku(c.sku.clone()))?;
        item.product = c.product.clone();
        item.category = c.category.clone();
        self.rebuild_index();
        Ok(())
    }

    /// Applies a lifecycle change. Whether it is allowed *now* (an ended
    /// promotion stays ended) is the caller's check, with
    /// [`PromotionState::ended`]; here: the promotion exists, `pause` needs
    /// a running one and `resume` a paused one, and a new version is a
    /// valid definition.
    ///
    /// # Errors
    /// [`RulesError::UnknownPromotion`], [`RulesError::PromotionState`],
    /// or the errors of [`RuleSet::add_promotion`] for a new version.
    pub fn change_promotion(&mut self, c: &Lifecycle) -> Result<(), RulesError> {
        self.lifecycle(c, Admit::Input)
    }

    /// [`RuleSet::change_promotion`] for a change read back from a log.
    ///
    /// # Errors
    /// As [`RuleSet::change_promotion`].
    pub fn restore_promotion_change(&mut self, c: &Lifecycle) -> Result<(), RulesError> {
        self.lifecycle(c, Admit::Stored)
    }

    fn lifecycle(&mut self, c: &Lifecycle, admit: Admit) -> Result<(), RulesError> {
        let id = match c {
            Lifecycle::End { id, .. } | Lifecycle::Pause { id } | Lifecycle::Resume { id } => id,
            Lifecycle::Replace { promotion } => &promotion.id,
        };
        let pos = self
            .promotions
            .iter()
            .position(|p| &p.id == id)
            .ok_or_else(|| RulesError::UnknownPromotion(id.clone()))?;
        let mut state = self.promotion_state(id);
        let refuse = |problem: &str| RulesError::PromotionState {
            id: id.clone(),
            problem: problem.to_string(),
        };
        match c {
            Lifecycle::End { at, .. } => state.ends_at = Some(*at),
            Lifecycle::Pause { .. } => {
                if state.paused {
                    return Err(refuse("is already paused"));
                }
                state.paused = true;
            }
            Lifecycle::Resume { .. } => {
                if !state.paused {
                    return Err(refuse("is not paused"));
                }
                state.paused = false;
            }
            Lifecycle::Replace { promotion } => {
                promotion.check(Some(self.currency()), admit)?;
                if let PromotionRule::Gift { gift, .. } = &promotion.rule
                    && self.item(&gift.sku).is_none()
                {
                    return Err(RulesError::rule(
                        &promotion.id,
                        "gift",
                        format!("SKU `{}` is not in the catalog", gift.sku),
                    ));
                }
                state.version = state
                    .version
                    .checked_add(1)
                    .ok_or(RulesError::Overflow("promotion version"))?;
                if let Some(p) = self.promotions.get_mut(pos) {
                    *p = (**promotion).clone();
                }
                self.rebuild_plan();
                self.rebuild_index();
            }
        }
        self.live.promotions.insert(id.clone(), state);
        Ok(())
    }

    /// Recomputes [`RuleSet::has_conditions`].
    pub(crate) fn note_conditions(&mut self) {
        self.live.any_conditions = self.promotions.iter().any(|p| p.conditions.is_some())
            || self.coupons().iter().any(|c| c.conditions.is_some());
    }

    /// The promotion with this id.
    pub fn promotion(&self, id: &str) -> Option<&Promotion> {
        self.promotions.iter().find(|p| p.id == id)
    }
}
