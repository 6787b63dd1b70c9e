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

impl Event {
    /// The stream this event belongs to: `order/ID`, `sku/SKU`,
    /// `coupon/CODE`, `customer/ID`, or `stock` for a reservation that spans
    /// several SKUs. Stores may partition or index by it.
    pub fn stream(&self) -> String {
        match self {
            Event::Customer(CustomerEvent::Registered { id, .. }) => format!("customer/{id}"),
            Event::Order(e) => format!("order/{}", e.order_id()),
            Event::Coupon(e) => format!("coupon/{}", e.code()),
            Event::Points(e) => format!("customer/{}", e.customer()),
            Event::Stock(e) => match e.skus().as_slice() {
                [one] => format!("sku/{one}"),
                _ => "stock".to_string(),
            },
        }
    }
}
