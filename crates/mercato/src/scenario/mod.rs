//! The JSON scenario contract (`docs/scenario-format.md`): [`Scenario`]
//! parsing, [`run`] against an engine on any store, and [`matches()`] for the
//! subset matching of `expect` blocks. The `mercato` example binary is a thin
//! command line over this module.

mod expect;
mod run;
mod steps_aftersale;
mod steps_campaigns;
mod steps_exchange;
mod steps_loyalty;
mod steps_presale;
mod steps_shipments;

use chrono::{DateTime, Utc};
use mercato_core::Currency;
use mercato_rules::{CatalogItem, Coupon, CustomerFacts, Promotion};
use serde::Deserialize;

pub use expect::{Mismatch, matches};
pub use run::{StepOutcome, run, step_kinds};

use crate::settings::Settings;

/// A stock entry of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockEntry {
    /// SKU.
    pub sku: String,
    /// Location.
    pub location: String,
    /// Units on hand.
    pub on_hand: i64,
    /// Safety stock.
    #[serde(default)]
    pub safety: i64,
    /// Backorder permission.
    #[serde(default)]
    pub backorder: bool,
    /// Priority (higher first).
    #[serde(default)]
    pub priority: i64,
}

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    /// Description.
    #[serde(default)]
    pub name: String,
    /// Currency.
    pub currency: Currency,
    /// Start time.
    pub now: DateTime<Utc>,
    /// Settings.
    #[serde(default)]
    pub settings: Settings,
    /// Catalog.
    pub catalog: Vec<CatalogItem>,
    /// Stock.
    #[serde(default)]
    pub stock: Vec<StockEntry>,
    /// Customers.
    #[serde(default)]
    pub customers: Vec<CustomerFacts>,
    /// Promotions.
    #[serde(default)]
    pub promotions: Vec<Promotion>,
    /// Coupons.
    #[serde(default)]
    pub coupons: Vec<Coupon>,
    /// Steps, kept as JSON: a malformed step fails that step only.
    pub steps: Vec<serde_json::Value>,
}

/// Why a scenario file cannot be run at all (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not valid JSON, or not the contract's shape.
    #[error("{path}: {message} (line {line}, column {column})")]
    Parse {
        /// JSON path of the offending element.
        path: String,
        /// What is wrong.
        message: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
    /// The shop it sets up is invalid (an invalid rule at the top level,
    /// a bad price, an unknown SKU in stock...).
    #[error("setup: {0}")]
    Setup(String),
}

impl Scenario {
    /// Parses a scenario from JSON text.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            ScenarioError::Parse {
                path,
                message: inner.to_string(),
                line: inner.line(),
                column: inner.column(),
            }
        })
    }
}
