//! [`EngineError`]: every way an engine call can fail, with the contract's
//! error code ([`EngineError::code`]).

use mercato_core::quote::RejectReason;
use mercato_core::{CoreError, ErrorKind};
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
    /// The kind of failure: one per contract error code. An exhaustive
    /// match (no catch-all): a new variant must choose its kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Core(e) => e.kind(),
            EngineError::Rules(e) => e.kind(),
            EngineError::Store(_) => ErrorKind::StorageError,
            EngineError::CouponRejected { .. } => ErrorKind::CouponRejected,
            EngineError::IdempotencyConflict(_) => ErrorKind::IdempotencyConflict,
            EngineError::NotConfigured
            | EngineError::AlreadyConfigured
            | EngineError::InvalidSettings { .. }
            | EngineError::InvalidInput(_) => ErrorKind::InvalidInput,
            EngineError::TooManyConflicts(_) => ErrorKind::Conflict,
            EngineError::ShutDown => ErrorKind::ShutDown,
            EngineError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The contract's error code (`insufficient_stock`, `payment_mismatch`...):
    /// `self.kind().code()`.
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }
}
