//! The error type of `mercato-rules`: a rule, catalog item, setting or cart
//! that cannot be priced ends up as a [`RulesError`] variant.

use mercato_core::{CoreError, ErrorKind};

/// Everything the pricing pipeline can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// A promotion or coupon whose definition is invalid (contract code
    /// `invalid_rule`).
    #[error("invalid rule `{rule}`: {field} {problem}")]
    InvalidRule {
        /// The promotion id or coupon code.
        rule: String,
        /// The offending field (`"tiers"`, `"percent"`, ...).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// An amount or percent of a promotion or coupon written with more
    /// decimals than allowed (the currency's minor digits, 4 for a
    /// percent). Contract code `invalid_input`: the contract lists "too
    /// many decimals" under it, and it comes before `invalid_rule`.
    #[error("invalid rule `{rule}`: {field} {problem}")]
    TooManyDecimals {
        /// The promotion id or coupon code.
        rule: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// An amount or percent given to a builder that is not a decimal in
    /// the strict amount grammar (`mercato_core::money::parse_amount`):
    /// `"1e3"`, `" 10.00"`, `"ten"`. Contract code `invalid_input`, as for
    /// a malformed amount in JSON.
    #[error("invalid rule `{rule}`: {field} {problem}")]
    InvalidAmount {
        /// The promotion id or coupon code.
        rule: String,
        /// The field the amount was given for.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A catalog entry that cannot be used (contract code `invalid_input`).
    #[error("invalid catalog item `{sku}`: {problem}")]
    InvalidCatalogItem {
        /// The SKU.
        sku: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Pricing settings that cannot be used (contract code `invalid_input`).
    #[error("invalid setting {field}: {problem}")]
    InvalidSettings {
        /// The offending setting.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A negative number of points was requested.
    #[error("invalid number of points {0}")]
    InvalidPoints(i64),
    /// Numbers too large for exact arithmetic.
    #[error("arithmetic overflow in {0}")]
    Overflow(&'static str),
    /// An error of the core: an unknown SKU or customer, an invalid
    /// quantity, an empty cart (one error type for each of those, whichever
    /// crate finds it), or a money error.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A cart line names a SKU the shop made unsellable (contract code
    /// `not_sellable`).
    #[error("SKU `{0}` is not sellable")]
    NotSellable(String),
    /// A campaign operation names a promotion that does not exist
    /// (contract code `invalid_input`).
    #[error("unknown promotion `{0}`")]
    UnknownPromotion(String),
    /// A campaign operation the promotion's state does not allow: resuming
    /// a running promotion, pausing a paused one, changing an ended one
    /// (contract code `invalid_transition`).
    #[error("promotion `{id}`: {problem}")]
    PromotionState {
        /// The promotion id.
        id: String,
        /// What is not allowed.
        problem: String,
    },
}

impl RulesError {
    /// The kind of failure (the contract's error code). An exhaustive
    /// match: a new variant must choose its kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RulesError::InvalidRule { .. } => ErrorKind::InvalidRule,
            RulesError::TooManyDecimals { .. }
            | RulesError::InvalidAmount { .. }
            | RulesError::InvalidCatalogItem { .. }
            | RulesError::InvalidSettings { .. }
            | RulesError::InvalidPoints(_)
            | RulesError::Overflow(_) => ErrorKind::InvalidInput,
            RulesError::Core(e) => e.kind(),
            RulesError::NotSellable(_) => ErrorKind::NotSellable,
            RulesError::UnknownPromotion(_) => ErrorKind::InvalidInput,
            RulesError::PromotionState { .. } => ErrorKind::InvalidTransition,
        }
    }

    pub(crate) fn rule(rule: &str, field: &'static str, problem: impl Into<String>) -> RulesError {
        RulesError::InvalidRule {
            rule: rule.to_string(),
            field,
            problem: problem.into(),
        }
    }
}
