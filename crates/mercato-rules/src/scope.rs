//! Which cart lines a rule applies to ([`Scope`]) and when it runs
//! ([`Window`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::CatalogItem;

/// The lines a promotion or coupon applies to.
///
/// `{"all": true}` (the default) is everything; otherwise the union of the
/// named SKUs, products and categories, minus `exclude_skus`.
/// `exclude_skus` alone (or with `all: true`) means everything but those.
/// `{"all": false}` with nothing named matches nothing. Gift lines are in no
/// scope (the pipeline never offers them to a scope).
///
/// ```
/// use mercato_rules::{CatalogItem, Scope};
/// let item: CatalogItem = serde_json::from_str(r#"{"sku":"tea","category":"drinks","price":"12.00"}"#).unwrap();
/// let drinks: Scope = serde_json::from_str(r#"{"categories":["drinks"]}"#).unwrap();
/// let not_tea: Scope = serde_json::from_str(r#"{"exclude_skus":["tea"]}"#).unwrap();
/// assert!(drinks.contains(&item));
/// assert!(!not_tea.contains(&item));
/// assert!(Scope::default().contains(&item));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// `true`: every SKU (less `exclude_skus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    /// SKUs named one by one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skus: Vec<String>,
    /// Products: every SKU of each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    /// Categories: every SKU in each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// SKUs taken out of the scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_skus: Vec<String>,
}

impl Scope {
    /// The scope of everything.
    pub fn all() -> Scope {
        Scope {
            all: Some(true),
            ..Scope::default()
        }
    }

    /// True when nothing is named (everything is in scope unless `all` is
    /// `false`).
    fn names_nothing(&self) -> bool {
        self.skus.is_empty() && self.products.is_empty() && self.categories.is_empty()
    }

    /// True when `item` is in this scope.
    pub fn contains(&self, item: &CatalogItem) -> bool {
        if self.exclude_skus.contains(&item.sku) {
            return false;
        }
        match self.all {
            Some(true) => true,
            Some(false) if self.names_nothing() => false,
            None if self.names_nothing() => true,
            _ => {
                self.skus.contains(&item.sku)
                    || self.products.contains(&item.product)
                    || item
                        .category
                        .as_deref()
                        .is_some_and(|c| self.categories.iter().any(|x| x == c))
            }
        }
    }
}

/// When a rule is active: `from` inclusive, `to` exclusive; a missing end is
/// open.
///
/// ```
/// use mercato_rules::Window;
/// let w: Window = serde_json::from_str(
///     r#"{"from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"}"#).unwrap();
/// assert!(w.contains("2026-12-01T00:00:00Z".parse().unwrap()));
/// assert!(!w.contains("2026-12-02T00:00:00Z".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First instant the rule runs (inclusive).
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// First instant it no longer runs (exclusive).
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
}

impl Window {
    /// True when `now` is inside the window.
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| now >= f) && self.to.is_none_or(|t| now < t)
    }

    /// True when the window ends at or before it starts.
    pub fn is_empty(&self) -> bool {
        matches!((self.from, self.to), (Some(f), Some(t)) if t <= f)
    }
}

/// True when an optional window contains `now` (no window: always).
pub(crate) fn in_window(w: Option<&Window>, now: DateTime<Utc>) -> bool {
    w.is_none_or(|w| w.contains(now))
}
