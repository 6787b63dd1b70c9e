//! What the engine writes to its store: [`LogEvent`], either a core
//! [`Event`] or a [`ConfigEvent`] (currency, settings, catalog, promotions,
//! coupon definitions). Rules are data in the log too, so replaying the log
//! rebuilds the prices an order was placed with.

use mercato_core::{Currency, Event};
use mercato_rules::{CatalogItem, Coupon, Promotion};
use serde::{Deserialize, Serialize};

use crate::settings::Settings;

/// A change of the shop's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
#[non_exhaustive]
pub enum ConfigEvent {
    /// The shop got its currency and settings.
    #[serde(rename = "configured.v1")]
    Configured {
        /// Currency of every amount.
        currency: Currency,
        /// Settings.
        settings: Settings,
    },
    /// Settings changed.
    #[serde(rename = "settings_changed.v1")]
    SettingsChanged {
        /// New settings.
        settings: Settings,
    },
    /// A catalog item was added.
    #[serde(rename = "catalog_item_added.v1")]
    CatalogItemAdded {
        /// The item.
        item: CatalogItem,
    },
    /// A promotion was added.
    #[serde(rename = "promotion_added.v1")]
    PromotionAdded {
        /// The promotion.
        promotion: Promotion,
    },
    /// A coupon was defined.
    #[serde(rename = "coupon_added.v1")]
    CouponAdded {
        /// The coupon.
        coupon: Coupon,
    },
    /// A coupon template was defined.
    #[serde(rename = "coupon_template_added.v1")]
    CouponTemplateAdded {
        /// The template.
        template: crate::loyalty::CouponTemplate,
    },
    /// A SKU's list price changed, now or from a given time.
    #[serde(rename = "price_changed.v1")]
    PriceChanged {
        /// The change.
        change: mercato_rules::PriceChange,
    },
    /// A SKU was made unsellable or sellable again.
    #[serde(rename = "sellable_changed.v1")]
    SellableChanged {
        /// The change.
        change: mercato_rules::SellableChange,
    },
    /// A SKU was renamed or recategorized.
    #[serde(rename = "catalog_item_changed.v1")]
    CatalogItemChanged {
        /// The change.
        change: mercato_rules::ItemChange,
    },
    /// A promotion was ended, paused, resumed or replaced by a new version.
    #[serde(rename = "promotion_changed.v1")]
    PromotionChanged {
        /// The change.
        change: mercato_rules::Lifecycle,
    },
}

/// One entry of the engine's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "log", content = "data", rename_all = "snake_case")]
pub enum LogEvent {
    /// A state-machine event.
    Core(Event),
    /// A configuration change.
    Config(Box<ConfigEvent>),
}

impl LogEvent {
    /// The stream it belongs to.
    pub fn stream(&self) -> String {
        match self {
            LogEvent::Core(e) => e.stream(),
            LogEvent::Config(_) => "config".to_string(),
        }
    }

    /// A short type tag for the store's index (the ledger).
    pub fn kind(&self) -> &'static str {
        match self {
            LogEvent::Core(Event::Customer(_)) => "customer",
            LogEvent::Core(Event::Stock(_)) => "stock",
            LogEvent::Core(Event::Order(_)) => "order",
            LogEvent::Core(Event::Coupon(_)) => "coupon",
            LogEvent::Core(Event::Points(_)) => "points",
            LogEvent::Core(_) => "core",
            LogEvent::Config(_) => "config",
        }
    }
}
