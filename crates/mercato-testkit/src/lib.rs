//! # mercato-testkit
//!
//! Tools to property-test mercato and integrations built on it:
//!
//! - [`strategies`]: proptest strategies for every input type (catalogs,
//!   stock layouts, carts, promotions of every kind, coupons, customers,
//!   settings) and whole command sequences ([`model::Step`]), valid by
//!   default with `invalid_*` variants for error paths;
//! - [`model`]: [`ReferenceModel`], a deliberately simple model of stock
//!   and of order money flow, and [`ShopSetup`], the shop both start from;
//! - [`runner`]: drives a real [`mercato::Engine`] step by step against the
//!   model and reports the first [`Divergence`];
//! - [`invariants`]: checkers callable on any engine state that return a
//!   list of [`Violation`]s (never panic);
//! - [`scenario_gen`]: random scenarios in the contract's JSON format and a
//!   differential check of the scenario runner against the library API;
//! - `fuzz` (feature `fuzzing`): the fuzz targets' logic as plain functions.
//!
//! See `docs/testing.md` for a complete example.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod faults;
pub mod invariants;
pub mod model;
pub mod runner;
pub mod scenario_gen;
pub mod sim;
pub mod strategies;
mod util;

#[cfg(feature = "fuzzing")]
pub mod fuzz;

pub use invariants::{Violation, check_engine, check_state};
pub use model::{ExpectedOutcome, ReferenceModel, ShopSetup, Step};
pub use runner::{Divergence, ModelRunner, StepStats};

/// Number of proptest cases: `MERCATO_PROPTEST_CASES` when set to a number,
/// else `default`. Lets CI run a modest count and soak runs a large one.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("MERCATO_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}
