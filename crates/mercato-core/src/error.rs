//! The one error type of `mercato-core`: every refused command and every bad
//! input that reaches the core ends up as a [`CoreError`] variant.

use rust_decimal::Decimal;

use crate::ErrorKind;
use crate::money::Currency;

/// Everything the pure core can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A currency code that is not in the ISO 4217 table mercato knows.
    #[error("unknown currency code `{0}`")]
    UnknownCurrency(String),
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: {left} vs {right}")]
    CurrencyMismatch {
        /// Currency of the left operand.
        left: Currency,
        /// Currency of the right operand.
        right: Currency,
    },
    /// An amount has more decimals than the currency's minor unit allows.
    #[error("amount {amount} has more decimals than {currency} allows ({minor_units})")]
    TooManyDecimals {
        /// The offending amount.
        amount: Decimal,
        /// Its currency.
        currency: Currency,
        /// The currency's number of minor-unit digits.
        minor_units: u32,
    },
    /// Checked arithmetic overflowed.
    #[error("arithmetic overflow in {0}")]
    Overflow(&'static str),
    /// A string that is not a decimal amount (outside the grammar of
    /// [`crate::money::parse_amount`], or a value `Decimal` cannot hold
    /// exactly).
    #[error("`{0}` is not a decimal amount")]
    InvalidAmount(String),
    /// A string that is not an amount and a currency (`"19.90 CNY"`):
    /// no single space between them.
    #[error("`{0}` is not an amount and a currency, e.g. `19.90 CNY`")]
    InvalidMoney(String),
    /// A value that must not be negative was.
    #[error("{what} must not be negative (got {value})")]
    Negative {
        /// What was negative.
        what: &'static str,
        /// The value.
        value: Decimal,
    },
    /// A quantity was zero or negative where a positive one is needed.
    #[error("invalid quantity {qty} for {what}")]
    InvalidQuantity {
        /// What the quantity was for.
        what: String,
        /// The quantity.
        qty: i64,
    },
    /// A stock adjustment that would take a location's `on_hand`, or the
    /// SKU's `on_hand` summed over its locations, beyond what an `i64`
    /// counts.
    #[error(
        "adjusting `{sku}` at `{location}` by {delta} would take its stock beyond the countable range"
    )]
    StockOverflow {
        /// The SKU.
        sku: String,
        /// The location adjusted.
        location: String,
        /// The refused change.
        delta: i64,
    },
    /// A SKU the ledger does not know.
    #[error("unknown SKU `{0}`")]
    UnknownSku(String),
    /// A stock location the ledger does not know for that SKU.
    #[error("unknown location `{location}` for SKU `{sku}`")]
    UnknownLocation {
        /// The SKU.
        sku: String,
        /// The location.
        location: String,
    },
    /// A reservation or adjustment cannot be satisfied.
    #[error("insufficient stock for `{sku}`: wanted {wanted}, available {available}")]
    InsufficientStock {
        /// The SKU.
        sku: String,
        /// Units asked for.
        wanted: i64,
        /// Units that could be had.
        available: i64,
    },
    /// A reservation id that is already in use.
    #[error("reservation `{0}` already exists")]
    DuplicateReservation(String),
    /// A reservation id that does not exist or has already ended.
    #[error("no open reservation `{0}`")]
    UnknownReservation(String),
    /// A channel quota problem (already open, not open, too large).
    #[error("quota for `{sku}` on channel `{channel}`: {problem}")]
    Quota {
        /// The SKU.
        sku: String,
        /// The channel.
        channel: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// An order id that does not exist.
    #[error("unknown order `{0}`")]
    UnknownOrder(String),
    /// An order id that is already taken.
    #[error("order `{0}` already exists")]
    DuplicateOrder(String),
    /// A command that the order's current state does not allow.
    #[error("order `{order}` is {state}: cannot {command}")]
    InvalidTransition {
        /// The order.
        order: String,
        /// Its current state.
        state: &'static str,
        /// The refused command.
        command: &'static str,
    },
    /// A command whose details are inconsistent with the order (a line that
    /// does not exist, more units than are left, ...).
    #[error("order `{order}`: {problem}")]
    InvalidOrderRequest {
        /// The order.
        order: String,
        /// What is wrong.
        problem: String,
    },
    /// A payment whose amount is not the payable.
    #[error("payment of {paid} does not match the payable {payable}")]
    PaymentMismatch {
        /// The payable.
        payable: Decimal,
        /// The amount offered.
        paid: Decimal,
    },
    /// An order without lines.
    #[error("an order needs at least one line")]
    EmptyCart,
    /// Priced lines whose numbers do not add up.
    #[error("inconsistent priced order: {0}")]
    InconsistentPricing(String),
    /// A coupon code that was never issued.
    #[error("unknown coupon `{0}`")]
    UnknownCoupon(String),
    /// A coupon code issued twice.
    #[error("coupon `{0}` already issued")]
    DuplicateCoupon(String),
    /// A coupon that cannot be locked, redeemed or returned in its state.
    #[error("coupon `{code}` is {state}: cannot {command}")]
    CouponState {
        /// The coupon.
        code: String,
        /// Its state.
        state: &'static str,
        /// The refused command.
        command: &'static str,
    },
    /// A coupon used by someone other than its owner.
    #[error("coupon `{code}` belongs to another customer")]
    CouponNotOwner {
        /// The coupon.
        code: String,
    },
    /// A coupon whose usage limits are used up.
    #[error("coupon `{code}` has reached its usage limit")]
    CouponLimitReached {
        /// The coupon.
        code: String,
    },
    /// A points movement that would take a balance below zero.
    #[error("customer `{customer}` has {balance} points, {wanted} needed")]
    InsufficientPoints {
        /// The customer.
        customer: String,
        /// Current spendable balance.
        balance: i64,
        /// Points needed.
        wanted: i64,
    },
    /// A customer the ledger does not know.
    #[error("unknown customer `{0}`")]
    UnknownCustomer(String),
    /// An apportionment with no lines.
    #[error("cannot apportion {0} over no lines")]
    NothingToApportion(Decimal),
    /// A payment beyond what the order still owes.
    #[error("payment of {offered} exceeds the {due} still due (payable {payable})")]
    Overpayment {
        /// The order's payable.
        payable: Decimal,
        /// What is still due.
        due: Decimal,
        /// The amount offered.
        offered: Decimal,
    },
    /// A refund beyond what the order's payments still hold.
    #[error("refund of {refund} exceeds the {refundable} paid and not yet refunded")]
    RefundExceedsPaid {
        /// The refund asked for.
        refund: Decimal,
        /// What is left to refund.
        refundable: Decimal,
    },
    /// An after-sale request that its state, or its window, does not allow.
    #[error("after-sale request `{request}` of order `{order}` is {state}: cannot {command}")]
    AfterSaleState {
        /// The order.
        order: String,
        /// The request.
        request: String,
        /// Its state (or `window_closed`).
        state: &'static str,
        /// The refused command.
        command: &'static str,
    },
    /// A coupon template the shop does not know.
    #[error("unknown coupon template `{0}`")]
    UnknownTemplate(String),
    /// A claim or issue that would pass a template's total or per-customer
    /// cap.
    #[error("coupon template `{template}` {which} cap of {cap} is reached")]
    ClaimLimitReached {
        /// The template.
        template: String,
        /// `"total"` or `"per-customer"`.
        which: &'static str,
        /// The cap.
        cap: i64,
    },
    /// A validity that cannot be used (an end not after the start, an
    /// extension that shortens, a time that cannot be represented).
    #[error("invalid validity of `{code}`: {problem}")]
    InvalidValidity {
        /// The coupon or template.
        code: String,
        /// What is wrong.
        problem: String,
    },
    /// A presale deposit outside the promotion's deposit window (or while
    /// the promotion is paused or ended).
    #[error("presale `{promotion}` takes deposits from {from} until {until}, not at {now}")]
    PresaleDepositWindow {
        /// The presale promotion.
        promotion: String,
        /// The time of the deposit.
        now: chrono::DateTime<chrono::Utc>,
        /// First instant deposits are taken.
        from: chrono::DateTime<chrono::Utc>,
        /// First instant they are no longer taken.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// A presale balance paid before the balance window opens.
    #[error("presale order `{order}`: the balance can be paid from {opens}, not before")]
    PresaleBalanceNotOpen {
        /// The order.
        order: String,
        /// When the balance window opens.
        opens: chrono::DateTime<chrono::Utc>,
    },
    /// A presale balance paid at or after its deadline.
    #[error("presale order `{order}`: the balance was due before {deadline}")]
    PresaleBalanceClosed {
        /// The order.
        order: String,
        /// The balance deadline.
        deadline: chrono::DateTime<chrono::Utc>,
    },
    /// A presale deposit or balance of the wrong amount.
    #[error("presale `{order}`: the {what} is {expected}, not {offered}")]
    PresaleAmount {
        /// The order.
        order: String,
        /// `"deposit"` or `"balance"`.
        what: &'static str,
        /// The amount due.
        expected: Decimal,
        /// The amount offered.
        offered: Decimal,
    },
    /// A presale deposit beyond the promotion's per-customer limit.
    #[error(
        "presale `{promotion}` allows {limit} units per customer; {held} held, {wanted} more asked"
    )]
    PresaleLimit {
        /// The presale promotion.
        promotion: String,
        /// Units per customer over their live orders.
        limit: i64,
        /// Units the customer's live orders hold.
        held: i64,
        /// Units asked for.
        wanted: i64,
    },
    /// A presale deposit the terms cannot honour (no customer, a balance
    /// that would not be positive, inconsistent terms).
    #[error("presale `{promotion}`: {problem}")]
    PresaleTerms {
        /// The presale promotion.
        promotion: String,
        /// What is wrong.
        problem: String,
    },
    /// A shipment id the order does not have.
    #[error("order `{order}` has no shipment `{shipment}`")]
    UnknownShipment {
        /// Order.
        order: String,
        /// Shipment id.
        shipment: String,
    },
    /// A shipment id the order already has.
    #[error("order `{order}` already has a shipment `{shipment}`")]
    DuplicateShipment {
        /// Order.
        order: String,
        /// Shipment id.
        shipment: String,
    },
    /// A shipment without packages.
    #[error("shipment `{shipment}` of order `{order}` has no package")]
    EmptyShipment {
        /// Order.
        order: String,
        /// Shipment id.
        shipment: String,
    },
    /// A package without units.
    #[error("package {package} of shipment `{shipment}` of order `{order}` has no units")]
    EmptyPackage {
        /// Order.
        order: String,
        /// Shipment id.
        shipment: String,
        /// The package's index in the shipment.
        package: usize,
    },
    /// More units of a line than are left to ship (or a line the order
    /// does not have: none left).
    #[error("order `{order}`: {wanted} units of line {line} to ship, {left} left")]
    UnitsNotShippable {
        /// Order.
        order: String,
        /// Line.
        line: usize,
        /// Units in the shipment.
        wanted: i64,
        /// Units not yet shipped or cancelled.
        left: i64,
    },
    /// A shipment delivered before.
    #[error("shipment `{shipment}` of order `{order}` is delivered already")]
    ShipmentAlreadyDelivered {
        /// Order.
        order: String,
        /// Shipment id.
        shipment: String,
    },
    /// An exchange's replacement units cannot be reserved when it is
    /// approved (contract code `insufficient_stock`): the request stays
    /// `requested`, and may be converted to a `return_refund`.
    #[error(
        "exchange `{request}` of order `{order}`: `{sku}` out of stock (wanted {wanted}, available {available}); it can be converted to a refund"
    )]
    ExchangeOutOfStock {
        /// Order.
        order: String,
        /// The exchange request.
        request: String,
        /// The replacement SKU.
        sku: String,
        /// Units wanted.
        wanted: i64,
        /// Units available.
        available: i64,
    },
    /// An exchange to a SKU the shop's exchange scope does not allow (by
    /// default the same SKU or another SKU of the same product; contract
    /// code `invalid_transition`).
    #[error("order `{order}`: line {line} (`{from}`) cannot be exchanged for `{to}`: {problem}")]
    ExchangeNotAllowed {
        /// Order.
        order: String,
        /// The line whose units would be exchanged.
        line: usize,
        /// Its SKU.
        from: String,
        /// The SKU asked for.
        to: String,
        /// Why not.
        problem: String,
    },
}

impl CoreError {
    /// The kind of failure (the contract's error code). An exhaustive
    /// match: a new variant must choose its kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::UnknownCurrency(_)
            | CoreError::CurrencyMismatch { .. }
            | CoreError::TooManyDecimals { .. }
            | CoreError::Overflow(_)
            | CoreError::InvalidAmount(_)
            | CoreError::InvalidMoney(_)
            | CoreError::Negative { .. }
            | CoreError::StockOverflow { .. }
            | CoreError::DuplicateReservation(_)
            | CoreError::UnknownReservation(_)
            | CoreError::Quota { .. }
            | CoreError::InconsistentPricing(_)
            | CoreError::NothingToApportion(_) => ErrorKind::InvalidInput,
            CoreError::InvalidQuantity { .. } => ErrorKind::InvalidQuantity,
            CoreError::UnknownSku(_) | CoreError::UnknownLocation { .. } => ErrorKind::UnknownSku,
            CoreError::InsufficientStock { .. } => ErrorKind::InsufficientStock,
            CoreError::UnknownOrder(_) => ErrorKind::UnknownOrder,
            CoreError::DuplicateOrder(_) => ErrorKind::DuplicateOrderName,
            CoreError::InvalidTransition { .. } | CoreError::InvalidOrderRequest { .. } => {
                ErrorKind::InvalidTransition
            }
            CoreError::PaymentMismatch { .. } => ErrorKind::PaymentMismatch,
            CoreError::EmptyCart => ErrorKind::EmptyCart,
            CoreError::UnknownCoupon(_)
            | CoreError::CouponState { .. }
            | CoreError::CouponNotOwner { .. }
            | CoreError::CouponLimitReached { .. } => ErrorKind::CouponRejected,
            CoreError::DuplicateCoupon(_) => ErrorKind::InvalidRule,
            CoreError::InsufficientPoints { .. } => ErrorKind::InsufficientPoints,
            CoreError::UnknownCustomer(_) => ErrorKind::UnknownCustomer,
            CoreError::Overpayment { .. } => ErrorKind::PaymentMismatch,
            CoreError::RefundExceedsPaid { .. } => ErrorKind::InvalidInput,
            CoreError::AfterSaleState { .. } => ErrorKind::InvalidTransition,
            CoreError::UnknownTemplate(_) | CoreError::InvalidValidity { .. } => {
                ErrorKind::InvalidInput
            }
            CoreError::ClaimLimitReached { .. } => ErrorKind::CouponRejected,
            CoreError::PresaleDepositWindow { .. }
            | CoreError::PresaleBalanceNotOpen { .. }
            | CoreError::PresaleBalanceClosed { .. } => ErrorKind::InvalidTransition,
            CoreError::PresaleAmount { .. } => ErrorKind::PaymentMismatch,
            CoreError::PresaleLimit { .. } => ErrorKind::InvalidQuantity,
            CoreError::PresaleTerms { .. } => ErrorKind::InvalidInput,
            CoreError::UnknownShipment { .. }
            | CoreError::DuplicateShipment { .. }
            | CoreError::UnitsNotShippable { .. }
            | CoreError::ShipmentAlreadyDelivered { .. } => ErrorKind::InvalidTransition,
            CoreError::EmptyShipment { .. } | CoreError::EmptyPackage { .. } => {
                ErrorKind::InvalidQuantity
            }
            CoreError::ExchangeOutOfStock { .. } => ErrorKind::InsufficientStock,
            CoreError::ExchangeNotAllowed { .. } => ErrorKind::InvalidTransition,
        }
    }
}
