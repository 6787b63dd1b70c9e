//! The typed API of catalog changes, campaign lifecycles and customer
//! segments (issue 12); the decisions live in `crate::campaigns`.

use crate::request::SetCustomerTags;
use chrono::{DateTime, Utc};
use mercato_rules::{IntoAmount, Promotion, PromotionState};
use mercato_store::Store;

use super::Engine;
use crate::campaigns::{PriceHistory, PromotionVersion};
use crate::clock::Clock;
use crate::error::EngineError;
use crate::request::Request;

/// When a price change takes effect ([`Engine::change_price`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PriceOptions {
    /// `None` (default): now. `Some(t)`: from `t` (not before now); quotes
    /// priced at or after `t` use the new price.
    pub from: Option<DateTime<Utc>>,
}

/// A SKU's new names ([`Engine::update_catalog_item`]); `None` keeps a
/// name as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemUpdate {
    /// The product the SKU belongs to.
    pub product: Option<String>,
    /// The category.
    pub category: Option<String>,
    /// Removes the category (not together with `category`).
    pub clear_category: bool,
}

/// When a promotion ends ([`Engine::end_promotion`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndOptions {
    /// `None` (default): now. `Some(t)`: at `t` (not before now).
    pub at: Option<DateTime<Utc>>,
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    fn done(&self, req: Request) -> Result<(), EngineError> {
        self.execute(&req, None).map(|_| ())
    }

    /// Changes a SKU's list price now or from a time. The price is read in
    /// the strict amount grammar and may carry at most the currency's
    /// minor digits (`invalid_input` otherwise). Orders already placed keep
    /// their quote.
    ///
    /// ```
    /// # use mercato::{Engine, ManualClock, Settings, PriceOptions};
    /// # use mercato::core::Currency;
    /// # use mercato::store::MemoryStore;
    /// # let engine = Engine::open(MemoryStore::new(), ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())).unwrap();
    /// # engine.configure(Currency::CNY, Settings::default()).unwrap();
    /// # engine.add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "12.00"}"#).unwrap()).unwrap();
    /// engine.change_price("tea", "10.00", PriceOptions::default()).unwrap();
    /// let later = PriceOptions { from: Some("2026-11-12T00:00:00Z".parse().unwrap()) };
    /// engine.change_price("tea", "11.00", later).unwrap();
    /// assert!(engine.change_price("tea", "9.999", PriceOptions::default()).is_err());
    /// let h = engine.price_history("tea").unwrap();
    /// assert_eq!(h.current.to_string(), "10.00");
    /// assert_eq!(h.changes.len(), 3);
    /// ```
    pub fn change_price(
        &self,
        sku: &str,
        price: impl IntoAmount,
        options: PriceOptions,
    ) -> Result<(), EngineError> {
        let price = price
            .into_amount()
            .map_err(|e| EngineError::InvalidInput(e.to_string()))?;
        self.done(Request::ChangePrice {
            sku: sku.to_string(),
            price,
            from: options.from,
        })
    }

    /// Makes a SKU unsellable (`false`: a cart holding it is refused with
    /// `not_sellable`) or sellable again (`true`).
    pub fn set_sellable(&self, sku: &str, sellable: bool) -> Result<(), EngineError> {
        self.done(Request::SetSellable {
            sku: sku.to_string(),
            sellable,
        })
    }

    /// Renames or recategorizes a SKU; promotion and coupon scopes that
    /// name products or categories follow from the next quote on.
    pub fn update_catalog_item(&self, sku: &str, update: ItemUpdate) -> Result<(), EngineError> {
        self.done(Request::UpdateCatalogItem {
            sku: sku.to_string(),
            product: update.product,
            category: update.category,
            clear_category: update.clear_category,
        })
    }

    /// The prices a SKU was given and the one in force now.
    pub fn price_history(&self, sku: &str) -> Result<PriceHistory, EngineError> {
        let now = self.clock.now();
        let (st, _) = self.fresh_state()?;
        crate::campaigns::price_history(&st, sku, now)
    }

    /// Ends a promotion now or at a time. Orders already placed, pending
    /// ones included, keep their quotes.
    pub fn end_promotion(&self, id: &str, options: EndOptions) -> Result<(), EngineError> {
        self.done(Request::EndPromotion {
            id: id.to_string(),
            at: options.at,
        })
    }

    /// Pauses a running promotion (its budget and counters are kept).
    pub fn pause_promotion(&self, id: &str) -> Result<(), EngineError> {
        self.done(Request::PausePromotion { id: id.to_string() })
    }

    /// Resumes a paused promotion.
    pub fn resume_promotion(&self, id: &str) -> Result<(), EngineError> {
        self.done(Request::ResumePromotion { id: id.to_string() })
    }

    /// Replaces a promotion with a new version under the same id. Budgets,
    /// per-customer counts and quotas carry over; orders placed under an
    /// earlier version keep it (refunds re-price with it).
    pub fn replace_promotion(&self, promotion: Promotion) -> Result<(), EngineError> {
        self.done(Request::ReplacePromotion { promotion })
    }

    /// A promotion's version and lifecycle now.
    pub fn promotion_state(&self, id: &str) -> Result<PromotionState, EngineError> {
        let (st, _) = self.fresh_state()?;
        let rules = st.rules()?;
        if rules.promotion(id).is_none() {
            return Err(mercato_rules::RulesError::UnknownPromotion(id.to_string()).into());
        }
        Ok(rules.promotion_state(id))
    }

    /// Every version of a promotion, oldest first.
    pub fn promotion_versions(&self, id: &str) -> Result<Vec<PromotionVersion>, EngineError> {
        let (st, _) = self.fresh_state()?;
        crate::campaigns::promotion_versions(&st, id)
    }

    /// Sets a customer's tags (replacing the earlier ones), which
    /// promotion and coupon `conditions` read.
    pub fn set_customer_tags(&self, id: &str, tags: &[&str]) -> Result<(), EngineError> {
        self.done(Request::SetCustomerTags(SetCustomerTags {
            id: id.to_string(),
            tags: tags.iter().map(|t| (*t).to_string()).collect(),
        }))
    }
}
