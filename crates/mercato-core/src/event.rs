//! [`Event`]: the one envelope for everything that happens in a shop, tagged
//! by ledger and by a versioned type (`{"ledger": "stock", "event": {"type":
//! "reserved.v1", "data": {...}}}`), so a stored log stays readable as types
//! evolve. The type comes before its data so that reading an event streams
//! (an internally tagged `{"type": ..., fields...}` would make serde buffer
//! the whole event before decoding it).

use serde::{Deserialize, Serialize};

use crate::coupon::CouponEvent;
use crate::order::OrderEvent;
use crate::points::PointsEvent;
use crate::stock::StockEvent;

/// What happened to a customer record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
#[non_exhaustive]
pub enum CustomerEvent {
    /// A customer was registered (or re-tiered).
    #[serde(rename = "registered.v1")]
    Registered {
        /// Customer id.
        id: String,
        /// Membership tier.
        tier: Option<String>,
    },
    /// A customer's tags were set (segments that promotion and coupon
    /// conditions read); replaces the earlier tags.
    #[serde(rename = "tagged.v1")]
    Tagged {
        /// Customer id.
        id: String,
        /// The tags, sorted, without duplicates.
        tags: Vec<String>,
    },
}

/// Every event of a shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ledger", content = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// Customers.
    Customer(CustomerEvent),
    /// Stock ledger.
    Stock(StockEvent),
    /// Orders.
    Order(OrderEvent),
    /// Coupon ledger.
    Coupon(CouponEvent),
    /// Points ledger.
    Points(PointsEvent),
}

/// Stream names: the unit of optimistic concurrency. Every fact a decision
/// can read lives in exactly one stream, and every event that changes a
/// fact belongs to that fact's stream (see [`Event::stream`] and
/// [`Event::also_streams`]).
pub mod stream {
    /// A SKU's stock (levels, locations, quotas, threshold).
    pub fn sku(sku: &str) -> String {
        format!("sku/{sku}")
    }
    /// An order, with its reservation, payments and returns.
    pub fn order(id: &str) -> String {
        format!("order/{id}")
    }
    /// A coupon's state and uses.
    pub fn coupon(code: &str) -> String {
        format!("coupon/{code}")
    }
    /// A customer: tier, points, and the orders they placed.
    pub fn customer(id: &str) -> String {
        format!("customer/{id}")
    }
}

impl Event {
    /// The event's home stream: `order/ID`, `sku/SKU`, `coupon/CODE` or
    /// `customer/ID`. A reservation is part of its order (its id is the
    /// order id), so reservation events live in `order/ID`.
    pub fn stream(&self) -> String {
        match self {
            Event::Customer(CustomerEvent::Registered { id, .. }) => stream::customer(id),
            Event::Customer(CustomerEvent::Tagged { id, .. }) => stream::customer(id),
            Event::Order(e) => stream::order(e.order_id()),
            Event::Coupon(e) => stream::coupon(e.code()),
            Event::Points(e) => stream::customer(e.customer()),
            Event::Stock(e) => match e.reservation() {
                Some(id) => stream::order(id),
                None => match e.skus().first() {
                    Some(sku) => stream::sku(sku),
                    None => "stock".to_string(),
                },
            },
        }
    }

    /// Every stream whose facts the event changes besides its home stream:
    /// a reservation event changes the stock of each SKU it holds, and a
    /// placed order changes its customer's order history (which review
    /// rules and new-customer conditions read).
    pub fn also_streams(&self) -> Vec<String> {
        match self {
            Event::Stock(e) if e.reservation().is_some() => {
                e.skus().into_iter().map(stream::sku).collect()
            }
            Event::Order(crate::order::OrderEvent::Placed {
                customer: Some(c), ..
            }) => vec![stream::customer(c)],
            _ => Vec::new(),
        }
    }
}
