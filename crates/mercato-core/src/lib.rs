//! # mercato-core
//!
//! The pure domain of mercato: exact [`money`], [`apportion`](mod@apportion)ment, and the
//! state machines for stock, orders, coupons and points. Nothing in this
//! crate performs I/O, reads a clock, draws random numbers or keeps global
//! state: a command plus the current state plus an explicit context (the time
//! `now`, ids, configuration) gives typed events or a typed error, and
//! applying events gives the next state.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apportion;
pub mod error;
mod error_kind;
pub mod money;

pub use apportion::apportion;
pub use error::CoreError;
pub use error_kind::{ErrorKind, UnknownErrorCode};
pub use money::{Currency, Money, Rounding};
/// The exact decimal type of every amount (`rust_decimal::Decimal`),
/// re-exported so a caller need not depend on `rust_decimal` itself.
///
/// ```
/// use mercato_core::{Currency, Decimal, Money};
/// let m = Money::new(Decimal::new(1990, 2), Currency::CNY).unwrap();
/// assert_eq!(m.to_string(), "19.90 CNY");
/// ```
pub use rust_decimal::Decimal;
pub mod quote;
pub use quote::{
    Adjustment, Applied, PricedWith, PromotionUse, Quote, QuoteLine, RejectReason, Rejected, Stage,
    Totals,
};
pub mod aftersale;
pub mod coupon;
pub mod event;
pub mod exchange;
pub mod loyalty;
pub mod order;
pub mod payments;
pub mod points;
pub mod presale;
pub mod shipment;
pub mod shop;
pub mod stock;
pub use event::Event;
pub use shop::{Command, Context, Shop, ShopConfig};
