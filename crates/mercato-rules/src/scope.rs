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
    /// The scope of everything, written `{}` (the default); the methods
    /// below narrow it.
    ///
    /// ```
    /// use mercato_rules::Scope;
    /// let teas_but_one = Scope::new().categories(["tea"]).skus(["cup"]).exclude_skus(["tea-sample"]);
    /// assert_eq!(teas_but_one, serde_json::from_str(
    ///     r#"{"skus": ["cup"], "categories": ["tea"], "exclude_skus": ["tea-sample"]}"#).unwrap());
    /// assert_eq!(serde_json::to_string(&Scope::new()).unwrap(), "{}");
    /// ```
    pub fn new() -> Scope {
        Scope::default()
    }

    /// The scope of everything, written `{"all": true}`; with
    /// [`Scope::exclude_skus`], everything but those. (Naming SKUs,
    /// products or categories in it narrows nothing: `all` wins.)
    pub fn all() -> Scope {
        Scope {
            all: Some(true),
            ..Scope::default()
        }
    }

    /// The scope of nothing, `{"all": false}` (until something is named).
    pub fn none() -> Scope {
        Scope {
            all: Some(false),
            ..Scope::default()
        }
    }

    /// Adds SKUs named one by one.
    #[must_use]
    pub fn skus(mut self, skus: impl IntoIterator<Item = impl Into<String>>) -> Scope {
        self.skus.extend(skus.into_iter().map(Into::into));
        self
    }

    /// Adds products: every SKU of each.
    #[must_use]
    pub fn products(mut self, products: impl IntoIterator<Item = impl Into<String>>) -> Scope {
        self.products.extend(products.into_iter().map(Into::into));
        self
    }

    /// Adds categories: every SKU in each.
    #[must_use]
    pub fn categories(mut self, categories: impl IntoIterator<Item = impl Into<String>>) -> Scope {
        self.categories
            .extend(categories.into_iter().map(Into::into));
        self
    }

    /// Takes SKUs out of the scope.
    #[must_use]
    pub fn exclude_skus(mut self, skus: impl IntoIterator<Item = impl Into<String>>) -> Scope {
        self.exclude_skus.extend(skus.into_iter().map(Into::into));
        self
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
