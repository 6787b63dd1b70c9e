//! # mercato
//!
//! An embeddable order engine: orders, stock, pricing and promotions that are
//! exact, fast and hard to corrupt. This facade re-exports the public API of
//! the pure core ([`core`]); the engine, stores and rules are wired here as
//! they land.
//!
//! ```
//! use mercato::core::{Command, Context, Currency, Money, Quote, Shop, ShopConfig};
//! use mercato::core::shop::PlaceOrder;
//! use mercato::core::stock::StockCommand;
//!
//! let config = ShopConfig::default();
//! let ctx = Context { now: "2026-11-11T10:00:00Z".parse().unwrap(), config: &config };
//! let mut shop = Shop::new();
//! let mut run = |shop: &mut Shop, cmd: Command| {
//!     let events = shop.decide(&cmd, &ctx)?;
//!     shop.apply_all(&events);
//!     Ok::<_, mercato::core::CoreError>(events)
//! };
//! run(&mut shop, Command::Stock(StockCommand::Adjust {
//!     sku: "tea".into(), location: "main".into(), delta: 10, reason: "received".into(),
//! }))?;
//! let price = Money::parse("12.00", Currency::CNY)?;
//! let quote = Quote::at_list_prices(Currency::CNY, &[("tea", 3, price)], Money::zero(Currency::CNY))?;
//! run(&mut shop, Command::Place(Box::new(PlaceOrder {
//!     id: "o1".into(), customer: None, channel: "web".into(), quote, hold_reasons: vec![],
//! })))?;
//! assert_eq!(shop.stock().level("tea").reserved, 3);
//! # Ok::<(), mercato::core::CoreError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use mercato_core as core;
pub use mercato_core::{Currency, Money, Rounding, apportion};
