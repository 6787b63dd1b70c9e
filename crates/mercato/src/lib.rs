//! # mercato
//!
//! An embeddable order engine: orders, stock, pricing and promotions that
//! are exact, fast and hard to corrupt. [`Engine`] wires the pure core
//! ([`core`]), the pricing rules ([`rules`]) and a [`store::Store`] (the
//! embedded SQLite default in `mercato::sqlite`, PostgreSQL for several
//! processes in `mercato::postgres`, or [`store::MemoryStore`]) with a
//! [`Clock`]. The [`scenario`] module runs the JSON scenario contract.
//!
//! ## Cargo features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `sqlite` | yes | `mercato::sqlite`: the embedded store (rusqlite, bundled SQLite) |
//! | `postgres` | no | `mercato::postgres`: the store for several processes (the `postgres` client, r2d2) |
//!
//! ```toml
//! [dependencies]
//! mercato = "0.1"                      # SQLite
//! # mercato = { version = "0.1", default-features = false, features = ["postgres"] }
//! ```
//!
//! Without either, the engine runs on [`store::MemoryStore`] or on any
//! other [`store::Store`].
#![forbid(unsafe_code)]
// docs.rs (nightly) marks the items behind a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod aftersale;
mod campaigns;
mod clock;
mod decide;
mod engine;
mod error;
mod exchange;
pub mod feed;
mod log;
mod loyalty;
mod plan;
mod presale;
mod request;
mod review;
pub mod scenario;
mod settings;
mod shipments;
mod state;

pub use mercato_core as core;
/// The PostgreSQL store (feature `postgres`): the `mercato-postgres` crate.
#[cfg(feature = "postgres")]
pub use mercato_postgres as postgres;
pub use mercato_rules as rules;
/// The embedded SQLite store (feature `sqlite`, on by default): the
/// `mercato-sqlite` crate.
#[cfg(feature = "sqlite")]
pub use mercato_sqlite as sqlite;
pub use mercato_store as store;

pub use aftersale::{
    AfterSaleAnswer, AfterSaleOptions, PaymentOptions, PaymentReceipt, RefundReceipt,
};
pub use campaigns::{PriceHistory, PricePoint, PromotionVersion};
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{ClaimOptions, IssueOptions, PointsReport};
pub use engine::{
    Concurrency, CustomerWallet, Engine, EngineOptions, LocationOptions, OpenOptions,
    ReturnOptions, SNAPSHOT_FORMAT, Submitted, Verify, audit_snapshot, rebuild, rebuild_with,
    replay_until,
};
pub use engine::{EndOptions, ItemUpdate, PriceOptions};
pub use error::EngineError;
pub use exchange::{ExchangeOptions, ExchangeView};
pub use log::{ConfigEvent, LogEvent};
pub use loyalty::{CouponTemplate, WalletCoupon, template_customer_guard_key, template_guard_key};
pub use mercato_core::coupon::{CouponStatus, Validity};
pub use mercato_core::points::{CreditAt, EarningRules, TierRate};
pub use mercato_core::shipment::{Package, Shipment, ShipmentRecord, UnitSource};
pub use mercato_core::{Currency, ErrorKind, Money, Rounding, apportion};
pub use plan::CONFIG_STREAM;
pub use presale::{PresaleDepositRequest, PresaleReceipt};
pub use request::IssuedCode;
pub use request::{
    AdjustStock, CloseQuota, ConfigureLocation, EarnPoints, HoldOrder, OpenQuota, OrderRef,
    RegisterCustomer, SetCustomerTags, SetLowStockThreshold,
};
pub use request::{
    Cancellation, PlaceOrderRequest, PlacedOrder, Request, ReservationView, Response, ReturnRefund,
    TickReport,
};
pub use review::{BuiltinReview, ReviewInput, ReviewRule};
pub use settings::{
    MAX_AFTER_SALE_DAYS, MAX_AUTO_APPROVE_HOURS, MAX_AUTO_COMPLETE_DAYS,
    MAX_PAYMENT_TIMEOUT_MINUTES, MAX_REVIEW_ORDERS, MAX_REVIEW_WINDOW_MINUTES, MaxOrders,
    RefundPolicy, ReviewSettings, Settings,
};
pub use shipments::ShipmentAnswer;
pub use state::{Durable, EngineState};

/// The names most programs need, in one import: `use mercato::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Cancellation, Clock, Engine, EngineError, EngineOptions, ErrorKind, LocationOptions,
        ManualClock, PlaceOrderRequest, PlacedOrder, ReturnOptions, ReturnRefund, Settings,
        SystemClock,
    };
    pub use mercato_core::order::{LineQty, OrderStatus};
    pub use mercato_core::{Currency, Money, Rounding};
    pub use mercato_rules::{Cart, CartLine, CatalogItem, Coupon, Promotion};
    pub use mercato_store::{MemoryStore, Store};
    pub use rust_decimal::Decimal;

    #[cfg(feature = "sqlite")]
    pub use crate::sqlite::{SqliteOptions, SqliteStore};
}

/// `rust_decimal::Decimal`, re-exported so that users need not depend on
/// rust_decimal themselves.
pub use rust_decimal::Decimal;

/// The README's usage example, compiled and run as a doctest (it uses
/// SQLite).
#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// `docs/coupons-and-points.md`'s Rust example, compiled and run as a
/// doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/coupons-and-points.md")]
pub struct CouponsAndPointsDoctests;
