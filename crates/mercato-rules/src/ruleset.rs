//! [`RuleSet`]: the validated catalog, promotions, coupons and pricing
//! settings of one shop in one currency, with the indexes and stage orders
//! the pipeline needs precomputed, so pricing a cart does no setup work.

use std::collections::HashMap;

use mercato_core::money::Currency;

use crate::catalog::CatalogItem;
use crate::coupon::Coupon;
use crate::error::RulesError;
use crate::minor::Admit;
use crate::promotion::{Promotion, PromotionRule, PromotionStage};
use crate::scope_index::{Compiled, ScopeIndex};
use crate::settings::PricingSettings;

/// Everything the pipeline prices with, validated.
///
/// ```
/// use mercato_core::money::Currency;
/// use mercato_rules::{PricingSettings, RuleSet};
/// let catalog = serde_json::from_str(r#"[{"sku": "tea", "price": "12.00"}]"#).unwrap();
/// let promotions = serde_json::from_str(r#"[{"id": "p", "kind": "percent_off", "percent": "10"}]"#).unwrap();
/// let rules = RuleSet::new(Currency::CNY, PricingSettings::default(), catalog, promotions, vec![]).unwrap();
/// assert_eq!(rules.promotions().len(), 1);
/// assert!(rules.item("tea").is_some());
/// ```
#[derive(Debug, Clone)]
pub struct RuleSet {
    currency: Currency,
    pub(crate) settings: PricingSettings,
    pub(crate) catalog: Vec<CatalogItem>,
    catalog_index: HashMap<String, usize>,
    pub(crate) promotions: Vec<Promotion>,
    coupons: Vec<Coupon>,
    coupon_index: HashMap<String, usize>,
    plan: StagePlan,
    /// Compiled scopes (rebuilt on every change).
    index: ScopeIndex,
    /// Catalog and campaign changes (issue 12): scheduled prices, unsellable
    /// SKUs, promotion versions and lifecycles.
    pub(crate) live: crate::changes::Live,
}

/// Promotion indexes per stage, in the order the stage runs them.
#[derive(Debug, Clone, Default)]
pub(crate) struct StagePlan {
    /// `price` and `ladder`: higher priority first, then appearance.
    pub unit: Vec<usize>,
    /// Item stage, same order.
    pub item: Vec<usize>,
    /// Order stage, same order.
    pub order: Vec<usize>,
    /// `free_shipping`, same order.
    pub shipping: Vec<usize>,
}

impl RuleSet {
    /// Validates everything and builds the indexes.
    ///
    /// # Errors
    /// [`RulesError::InvalidSettings`], [`RulesError::InvalidCatalogItem`]
    /// (bad price, duplicate SKU) or [`RulesError::InvalidRule`] (bad
    /// definition, duplicate id or code, gift SKU not in the catalog).
    pub fn new(
        currency: Currency,
        settings: PricingSettings,
        catalog: Vec<CatalogItem>,
        promotions: Vec<Promotion>,
        coupons: Vec<Coupon>,
    ) -> Result<RuleSet, RulesError> {
        Self::build(
            currency,
            settings,
            catalog,
            promotions,
            coupons,
            Admit::Input,
        )
    }

    /// [`RuleSet::new`] for definitions read back from a log or snapshot
    /// that an earlier version may have written: every check of `new`
    /// except the ones added for new input since — amounts and percents
    /// are checked by value, so `"10.000"` stored by a version that
    /// accepted it is still 10.00 CNY, and the upper bounds on
    /// `points.per_unit` and `max_coupons_per_group` do not apply. An old
    /// log thus rebuilds the rules it was priced with; new input goes
    /// through [`RuleSet::new`] and the `add_*` methods.
    ///
    /// # Errors
    /// As [`RuleSet::new`], for what it still checks.
    pub fn restore(
        currency: Currency,
        settings: PricingSettings,
        catalog: Vec<CatalogItem>,
        promotions: Vec<Promotion>,
        coupons: Vec<Coupon>,
    ) -> Result<RuleSet, RulesError> {
        Self::build(
            currency,
            settings,
            catalog,
            promotions,
            coupons,
            Admit::Stored,
        )
    }

    fn build(
        currency: Currency,
        settings: PricingSettings,
        catalog: Vec<CatalogItem>,
        promotions: Vec<Promotion>,
        coupons: Vec<Coupon>,
        admit: Admit,
    ) -> Result<RuleSet, RulesError> {
        settings.check(currency, admit)?;
        let mut rules = RuleSet {
            currency,
            settings,
            catalog: Vec::with_capacity(catalog.len()),
            catalog_index: HashMap::with_capacity(catalog.len()),
            promotions: Vec::with_capacity(promotions.len()),
            coupons: Vec::with_capacity(coupons.len()),
            coupon_index: HashMap::with_capacity(coupons.len()),
            plan: StagePlan::default(),
            index: ScopeIndex::default(),
            live: crate::changes::Live::default(),
        };
        for item in catalog {
            rules.insert_item(item, admit)?;
        }
        for p in promotions {
            rules.check_promotion(&p, admit)?;
            rules.promotions.push(p);
        }
        rules.rebuild_plan();
        for c in coupons {
            rules.insert_coupon(c, admit)?;
        }
        rules.rebuild_index();
        Ok(rules)
    }

    /// Adds a catalog item.
    ///
    /// # Errors
    /// An invalid price or a SKU already in the catalog.
    pub fn add_item(&mut self, item: CatalogItem) -> Result<(), RulesError> {
        self.push_item(item, Admit::Input)
    }

    /// [`RuleSet::add_item`] for an item read back from a log (checked as
    /// [`RuleSet::restore`] checks).
    ///
    /// # Errors
    /// An invalid price or a SKU already in the catalog.
    pub fn restore_item(&mut self, item: CatalogItem) -> Result<(), RulesError> {
        self.push_item(item, Admit::Stored)
    }

    fn push_item(&mut self, item: CatalogItem, admit: Admit) -> Result<(), RulesError> {
        self.insert_item(item, admit)?;
        // Incremental: rebuilding the whole index per item made loading a
        // catalog of n items cost O(n²).
        if let Some(item) = self.catalog.last() {
            self.index.add_item(item);
        }
        Ok(())
    }

    fn insert_item(&mut self, item: CatalogItem, admit: Admit) -> Result<(), RulesError> {
        item.check(Some(self.currency), admit)?;
        if self.catalog_index.contains_key(&item.sku) {
            return Err(RulesError::InvalidCatalogItem {
                sku: item.sku,
                problem: "appears twice".into(),
            });
        }
        self.catalog_index
            .insert(item.sku.clone(), self.catalog.len());
        self.catalog.push(item);
        Ok(())
    }

    /// Adds a promotion (it runs from now on, after the existing ones of
    /// equal priority).
    ///
    /// # Errors
    /// [`RulesError::InvalidRule`].
    pub fn add_promotion(&mut self, promotion: Promotion) -> Result<(), RulesError> {
        self.push_promotion(promotion, Admit::Input)
    }

    /// [`RuleSet::add_promotion`] for a promotion read back from a log
    /// (checked as [`RuleSet::restore`] checks).
    ///
    /// # Errors
    /// [`RulesError::InvalidRule`].
    pub fn restore_promotion(&mut self, promotion: Promotion) -> Result<(), RulesError> {
        self.push_promotion(promotion, Admit::Stored)
    }

    fn push_promotion(&mut self, promotion: Promotion, admit: Admit) -> Result<(), RulesError> {
        self.check_promotion(&promotion, admit)?;
        self.promotions.push(promotion);
        self.rebuild_plan();
        self.rebuild_index();
        Ok(())
    }

    /// Adds a coupon.
    ///
    /// # Errors
    /// [`RulesError::InvalidRule`] (bad definition or a code already used).
    pub fn add_coupon(&mut self, coupon: Coupon) -> Result<(), RulesError> {
        self.insert_coupon(coupon, Admit::Input)?;
        self.rebuild_index();
        Ok(())
    }

    /// [`RuleSet::add_coupon`] for a coupon read back from a log (checked
    /// as [`RuleSet::restore`] checks).
    ///
    /// # Errors
    /// [`RulesError::InvalidRule`] (bad definition or a code already used).
    pub fn restore_coupon(&mut self, coupon: Coupon) -> Result<(), RulesError> {
        self.insert_coupon(coupon, Admit::Stored)?;
        self.rebuild_index();
        Ok(())
    }

    fn insert_coupon(&mut self, coupon: Coupon, admit: Admit) -> Result<(), RulesError> {
        coupon.check(Some(self.currency), admit)?;
        if self.coupon_index.contains_key(&coupon.code) {
            return Err(RulesError::rule(&coupon.code, "code", "appears twice"));
        }
        self.coupon_index
            .insert(coupon.code.clone(), self.coupons.len());
        self.coupons.push(coupon);
        Ok(())
    }

    fn check_promotion(&self, p: &Promotion, admit: Admit) -> Result<(), RulesError> {
        p.check(Some(self.currency), admit)?;
        if self.promotions.iter().any(|o| o.id == p.id) {
            return Err(RulesError::rule(&p.id, "id", "appears twice"));
        }
        if let PromotionRule::Gift { gift, .. } = &p.rule
            && self.item(&gift.sku).is_none()
        {
            return Err(RulesError::rule(
                &p.id,
                "gift",
                format!("SKU `{}` is not in the catalog", gift.sku),
            ));
        }
        Ok(())
    }

    pub(crate) fn rebuild_index(&mut self) {
        self.index = ScopeIndex::build(&self.catalog, &self.promotions, &self.coupons);
        self.note_conditions();
    }

    pub(crate) fn rebuild_plan(&mut self) {
        let mut plan = StagePlan::default();
        for (i, p) in self.promotions.iter().enumerate() {
            // A presale prices only its own deposits (`presale_quote`).
            if matches!(p.rule, PromotionRule::Presale { .. }) {
                continue;
            }
            match p.stage() {
                PromotionStage::Unit => plan.unit.push(i),
                PromotionStage::Item => plan.item.push(i),
                PromotionStage::Order => plan.order.push(i),
                PromotionStage::Shipping => plan.shipping.push(i),
            }
        }
        let promotions = &self.promotions;
        for list in [
            &mut plan.unit,
            &mut plan.item,
            &mut plan.order,
            &mut plan.shipping,
        ] {
            // Stable: equal priorities keep their order of appearance.
            list.sort_by_key(|i| std::cmp::Reverse(promotions.get(*i).map_or(0, |p| p.priority)));
        }
        self.plan = plan;
    }

    /// The currency of every amount.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The pricing settings.
    pub fn settings(&self) -> &PricingSettings {
        &self.settings
    }

    /// The catalog item of a SKU.
    pub fn item(&self, sku: &str) -> Option<&CatalogItem> {
        self.catalog_index
            .get(sku)
            .and_then(|i| self.catalog.get(*i))
    }

    /// The catalog, in the order given.
    pub fn catalog(&self) -> &[CatalogItem] {
        &self.catalog
    }

    /// The promotions, in the order given.
    pub fn promotions(&self) -> &[Promotion] {
        &self.promotions
    }

    /// The coupons, in the order given.
    pub fn coupons(&self) -> &[Coupon] {
        &self.coupons
    }

    /// The coupon with this code.
    pub fn coupon(&self, code: &str) -> Option<&Coupon> {
        self.coupon_index
            .get(code)
            .and_then(|i| self.coupons.get(*i))
    }

    pub(crate) fn plan(&self) -> &StagePlan {
        &self.plan
    }

    /// The compiled scopes.
    pub(crate) fn index(&self) -> &ScopeIndex {
        &self.index
    }

    /// The catalog item of a SKU and its position in the catalog.
    pub(crate) fn item_at(&self, sku: &str) -> Option<(usize, &CatalogItem)> {
        let i = *self.catalog_index.get(sku)?;
        Some((i, self.catalog.get(i)?))
    }

    /// The compiled scope of the coupon with this code.
    pub(crate) fn coupon_scope(&self, code: &str) -> Option<&Compiled> {
        self.coupon_index
            .get(code)
            .and_then(|i| self.index.coupon(*i))
    }
}
