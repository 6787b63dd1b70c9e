//! [`EngineError`]: every way an engine call can fail, with the contract's
//! error code ([`EngineError::code`]).

use mercato_core::CoreError;
use mercato_core::quote::RejectReason;
use mercato_rules::RulesError;
use mercato_store::StoreError;

/// Why an engine call failed. A failed call changes nothing.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The state machine refused the command.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Pricing refused the cart or a rule.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// Storage failed; nothing of the call is stored.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A requested coupon would not apply.
    #[error("coupon `{code}` rejected: {}", reason.as_str())]
    CouponRejected {
        /// The coupon.
        code: String,
        /// Why.
        reason: RejectReason,
    },
    /// The idempotency key was used for a different request.
    #[error("idempotency key `{0}` was used for a different request")]
    IdempotencyConflict(String),
    /// The engine has no currency and settings yet.
    #[error("the shop is not configured yet (call configure first)")]
    NotConfigured,
    /// The shop is already configured with another currency.
    #[error("the shop is already configured")]
    AlreadyConfigured,
    /// A setting outside its allowed range (contract code `invalid_input`);
    /// see [`crate::Settings::validate`] for the ranges. Nothing is stored.
    #[error("invalid setting {field}: {problem}")]
    InvalidSettings {
        /// The setting, as a path in the settings object
        /// (`"review.max_orders.minutes"`).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// Malformed input (bad JSON, wrong type, a JSON number as an amount...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Concurrent writers kept winning; the call was retried and gave up.
    #[error("gave up after {0} optimistic-concurrency retries")]
    TooManyConflicts(u32),
    /// The engine's committer is gone (it panicked or was shut down).
    #[error("the engine is shut down")]
    ShutDown,
    /// A bug: a step of the engine panicked. Nothing of the call is stored;
    /// the engine reloads its state from the store before the next call.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// The contract's error code (`insufficient_stock`, `payment_mismatch`...).
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Core(e) => match e {
                CoreError::UnknownCurrency(_)
                | CoreError::CurrencyMismatch { .. }
                | CoreError::TooManyDecimals { .. }
                | CoreError::InvalidAmount(_)
                | CoreError::Negative { .. }
                | CoreError::Overflow(_) => "invalid_input",
                CoreError::InvalidQuantity { .. } => "invalid_quantity",
                CoreError::UnknownSku(_) | CoreError::UnknownLocation { .. } => "unknown_sku",
                CoreError::InsufficientStock { .. } => "insufficient_stock",
                CoreError::UnknownOrder(_) => "unknown_order",
                CoreError::DuplicateOrder(_) => "duplicate_order_name",
                CoreError::InvalidTransition { .. } | CoreError::InvalidOrderRequest { .. } => {
                    "invalid_transition"
                }
                CoreError::PaymentMismatch { .. } => "payment_mismatch",
                CoreError::EmptyCart => "empty_cart",
                CoreError::UnknownCustomer(_) => "unknown_customer",
                CoreError::UnknownCoupon(_)
                | CoreError::CouponState { .. }
                | CoreError::CouponNotOwner { .. }
                | CoreError::CouponLimitReached { .. } => "coupon_rejected",
                CoreError::InsufficientPoints { .. } => "insufficient_points",
                CoreError::DuplicateCoupon(_) => "invalid_rule",
                _ => "invalid_input",
            },
            EngineError::Rules(e) => match e {
                RulesError::InvalidRule { .. } => "invalid_rule",
                RulesError::UnknownSku(_) => "unknown_sku",
                RulesError::InvalidQuantity { .. } => "invalid_quantity",
                RulesError::EmptyCart => "empty_cart",
                RulesError::UnknownCustomer(_) => "unknown_customer",
                _ => "invalid_input",
            },
            EngineError::Store(_) => "storage_error",
            EngineError::CouponRejected { .. } => "coupon_rejected",
            EngineError::IdempotencyConflict(_) => "idempotency_conflict",
            EngineError::NotConfigured
            | EngineError::AlreadyConfigured
            | EngineError::InvalidSettings { .. }
            | EngineError::InvalidInput(_) => "invalid_input",
            EngineError::TooManyConflicts(_) => "conflict",
            EngineError::ShutDown => "shut_down",
            EngineError::Internal(_) => "internal",
        }
    }
}
