//! [`ErrorKind`]: the contract's error codes as a type. Every error of
//! every mercato crate has exactly one kind (`CoreError::kind`,
//! `RulesError::kind`, `EngineError::kind`, each an exhaustive match), and
//! every kind has exactly one stable code.

use std::fmt;

/// What kind of failure an error is: one variant per error code of the
/// scenario contract (`docs/scenario-format.md`), plus the engine's own
/// (`storage_error`, `conflict`, `shut_down`, `internal`).
///
/// ```
/// use mercato_core::ErrorKind;
/// assert_eq!(ErrorKind::InsufficientStock.code(), "insufficient_stock");
/// assert_eq!("payment_mismatch".parse::<ErrorKind>(), Ok(ErrorKind::PaymentMismatch));
/// assert_eq!(ErrorKind::ALL.len(), 19);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Malformed input: bad JSON, a wrong type, a JSON number or a
    /// malformed amount, too many decimals, a setting out of range.
    InvalidInput,
    /// A promotion or coupon definition that cannot be used.
    InvalidRule,
    /// An order id already taken.
    DuplicateOrderName,
    /// An idempotency key used for another request.
    IdempotencyConflict,
    /// An order id that does not exist.
    UnknownOrder,
    /// A customer the shop does not know.
    UnknownCustomer,
    /// A SKU (or a SKU's location) the shop does not know.
    UnknownSku,
    /// An order or cart without lines.
    EmptyCart,
    /// A quantity that is zero, negative or too large.
    InvalidQuantity,
    /// A command the order's state does not allow, or whose details do not
    /// fit the order.
    InvalidTransition,
    /// A requested coupon that does not apply or cannot be used.
    CouponRejected,
    /// Not enough stock for a reservation or a removal.
    InsufficientStock,
    /// A payment whose amount is not the payable.
    PaymentMismatch,
    /// Not enough points.
    InsufficientPoints,
    /// The store failed; nothing of the call is stored.
    StorageError,
    /// Concurrent writers kept winning; the call gave up.
    Conflict,
    /// The engine is shut down.
    ShutDown,
    /// A bug in mercato (a step panicked); nothing of the call is stored.
    Internal,
    /// A cart line names a SKU that the shop has made unsellable (issue 12;
    /// in the contract's precedence it comes right after
    /// `invalid_quantity`).
    NotSellable,
}

impl ErrorKind {
    /// Every kind, in the contract's order of precedence, then the
    /// engine's own.
    pub const ALL: [ErrorKind; 19] = [
        ErrorKind::InvalidInput,
        ErrorKind::InvalidRule,
        ErrorKind::DuplicateOrderName,
        ErrorKind::IdempotencyConflict,
        ErrorKind::UnknownOrder,
        ErrorKind::UnknownCustomer,
        ErrorKind::UnknownSku,
        ErrorKind::EmptyCart,
        ErrorKind::InvalidQuantity,
        ErrorKind::InvalidTransition,
        ErrorKind::CouponRejected,
        ErrorKind::InsufficientStock,
        ErrorKind::PaymentMismatch,
        ErrorKind::InsufficientPoints,
        ErrorKind::StorageError,
        ErrorKind::Conflict,
        ErrorKind::ShutDown,
        ErrorKind::Internal,
        ErrorKind::NotSellable,
    ];

    /// The stable code (`"insufficient_stock"`, ...).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::InvalidRule => "invalid_rule",
            ErrorKind::DuplicateOrderName => "duplicate_order_name",
            ErrorKind::IdempotencyConflict => "idempotency_conflict",
            ErrorKind::UnknownOrder => "unknown_order",
            ErrorKind::UnknownCustomer => "unknown_customer",
            ErrorKind::UnknownSku => "unknown_sku",
            ErrorKind::EmptyCart => "empty_cart",
            ErrorKind::InvalidQuantity => "invalid_quantity",
            ErrorKind::InvalidTransition => "invalid_transition",
            ErrorKind::CouponRejected => "coupon_rejected",
            ErrorKind::InsufficientStock => "insufficient_stock",
            ErrorKind::PaymentMismatch => "payment_mismatch",
            ErrorKind::InsufficientPoints => "insufficient_points",
            ErrorKind::StorageError => "storage_error",
            ErrorKind::Conflict => "conflict",
            ErrorKind::ShutDown => "shut_down",
            ErrorKind::Internal => "internal",
            ErrorKind::NotSellable => "not_sellable",
        }
    }

    /// The kind of a code, if it is one.
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A code that is no [`ErrorKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an error code")]
pub struct UnknownErrorCode(pub String);

impl std::str::FromStr for ErrorKind {
    type Err = UnknownErrorCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::from_code(s).ok_or_else(|| UnknownErrorCode(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind has its own code, and the code leads back to the kind.
    #[test]
    fn codes_are_distinct_and_round_trip() {
        let mut codes: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(k.code()), Some(k));
            assert_eq!(k.to_string().parse::<ErrorKind>(), Ok(k));
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len(), "one code per kind");
        assert!("no_such_code".parse::<ErrorKind>().is_err());
    }
}
