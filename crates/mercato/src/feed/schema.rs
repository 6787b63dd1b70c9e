//! The integration event schema, version 1: what the feed tells other
//! systems, one type per business fact, mapped from the engine's internal
//! events by [`integration_events`].
//!
//! The schema is a contract of its own: the internal encoding may change
//! (new fields, new internal events, a different ledger layout) while these
//! types keep their names, fields and meanings. A type is never changed
//! in place; a change of meaning is a new type (`order.paid.v2`) published
//! beside the old one for a while. New optional fields may be added to a
//! `v1` type: consumers must ignore fields they do not know.
//!
//! Amounts are decimal strings in the currency named beside them
//! (`"amount": "36.00", "currency": "CNY"`), quantities and points are
//! integers, times are RFC 3339 UTC strings.

use chrono::{DateTime, Utc};
use mercato_core::coupon::{ClaimVia, CouponEvent};
use mercato_core::event::CustomerEvent;
use mercato_core::order::{LineQty, OrderEvent};
use mercato_core::points::PointsEvent;
use mercato_core::stock::{Allocation, ReleaseReason, StockEvent};
use mercato_core::{Event, Money};
use serde::{Deserialize, Serialize};

use crate::log::LogEvent;

/// A line of a placed order, as integrators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedLine {
    /// Index of the line in the order (what `line` of later events names).
    pub line: usize,
    /// The SKU.
    pub sku: String,
    /// Units.
    pub qty: i64,
    /// List price of one unit.
    pub unit_price: String,
    /// What the line costs after every discount.
    pub net: String,
    /// Whether the line is a free gift.
    pub gift: bool,
}

/// An order's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedTotals {
    /// Sum of list prices.
    pub list: String,
    /// Every discount together (unit, item, order and coupon discounts and
    /// the points deduction).
    pub discount: String,
    /// Shipping charged.
    pub shipping: String,
    /// What the customer pays.
    pub payable: String,
}

/// Units of one order line (`line` indexes the `order.placed.v1` lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedLineQty {
    /// Line index.
    pub line: usize,
    /// Units.
    pub qty: i64,
}

/// A package of a shipment (`order.shipped.v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPackage {
    /// Carrier.
    pub carrier: String,
    /// Tracking number.
    pub tracking: String,
    /// Units per line.
    pub lines: Vec<FeedLineQty>,
}

/// One item of an exchange (`exchange.requested.v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedExchangeItem {
    /// The order line whose units go back.
    pub line: usize,
    /// Units.
    pub qty: i64,
    /// The replacement SKU.
    pub sku: String,
}

/// A line an exchange added to its order (`exchange.completed.v1`): later
/// events name it by `line`, as they name the lines of `order.placed.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedExchangeLine {
    /// Its index (after the order's lines and earlier exchange lines).
    pub line: usize,
    /// The SKU.
    pub sku: String,
    /// Units.
    pub qty: i64,
    /// What the units cost in all (what returning them refunds).
    pub net: String,
    /// The line whose units it replaced.
    pub replaces_line: usize,
}

/// One business fact for other systems. Serialized as `{"type":
/// "order.paid.v1", "data": {...}}`; the table of types is in
/// `docs/integration.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
#[non_exhaustive]
pub enum IntegrationEvent {
    /// A customer was registered (or given another tier).
    #[serde(rename = "customer.registered.v1")]
    CustomerRegistered {
        /// Customer id.
        customer: String,
        /// Membership tier.
        tier: Option<String>,
    },
    /// An order was placed: its stock is held, its coupons locked, its
    /// points spent.
    #[serde(rename = "order.placed.v1")]
    OrderPlaced {
        /// Order id.
        order: String,
        /// Customer, if known.
        customer: Option<String>,
        /// Sales channel.
        channel: String,
        /// Currency of every amount.
        currency: String,
        /// Priced lines (cart lines, then gifts).
        lines: Vec<FeedLine>,
        /// Totals.
        totals: FeedTotals,
        /// Coupons that applied.
        coupons: Vec<String>,
        /// Points spent.
        points_used: i64,
        /// When it was placed.
        placed_at: DateTime<Utc>,
        /// When it closes unless paid (none: no deadline).
        pay_by: Option<DateTime<Utc>>,
    },
    /// An order was held for review.
    #[serde(rename = "order.held.v1")]
    OrderHeld {
        /// Order id.
        order: String,
        /// Why.
        reasons: Vec<String>,
    },
    /// A held order was released.
    #[serde(rename = "order.released.v1")]
    OrderReleased {
        /// Order id.
        order: String,
        /// New payment deadline, when it is unpaid.
        pay_by: Option<DateTime<Utc>>,
    },
    /// An order was paid.
    #[serde(rename = "order.paid.v1")]
    OrderPaid {
        /// Order id.
        order: String,
        /// Amount paid.
        amount: String,
        /// Its currency.
        currency: String,
        /// When.
        paid_at: DateTime<Utc>,
    },
    /// An order was cancelled (or rejected by a reviewer); what was paid is
    /// refunded.
    #[serde(rename = "order.cancelled.v1")]
    OrderCancelled {
        /// Order id.
        order: String,
        /// Money going back to the customer.
        refund: String,
        /// Its currency.
        currency: String,
        /// Whether a reviewer rejected it.
        rejected: bool,
    },
    /// An unpaid order was closed at its deadline.
    #[serde(rename = "order.closed.v1")]
    OrderClosed {
        /// Order id.
        order: String,
        /// When.
        closed_at: DateTime<Utc>,
    },
    /// Units of an order were shipped.
    #[serde(rename = "order.shipped.v1")]
    OrderShipped {
        /// Order id.
        order: String,
        /// Units per line.
        lines: Vec<FeedLineQty>,
        /// The shipment's id (absent for shipments of logs written before
        /// shipments had ids).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shipment: Option<String>,
        /// Its packages with carrier and tracking number (absent for a
        /// shipment without packages).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        packages: Vec<FeedPackage>,
    },
    /// An order was delivered.
    #[serde(rename = "order.delivered.v1")]
    OrderDelivered {
        /// Order id.
        order: String,
        /// When.
        delivered_at: DateTime<Utc>,
    },
    /// An order was completed (receipt confirmed, or automatically).
    #[serde(rename = "order.completed.v1")]
    OrderCompleted {
        /// Order id.
        order: String,
    },
    /// A return was requested.
    #[serde(rename = "return.requested.v1")]
    ReturnRequested {
        /// Order id.
        order: String,
        /// Return id.
        return_id: String,
        /// Units per line.
        lines: Vec<FeedLineQty>,
        /// Whether the units go back into stock on receipt.
        restock: bool,
    },
    /// A return was approved.
    #[serde(rename = "return.approved.v1")]
    ReturnApproved {
        /// Order id.
        order: String,
        /// Return id.
        return_id: String,
    },
    /// A return was rejected.
    #[serde(rename = "return.rejected.v1")]
    ReturnRejected {
        /// Order id.
        order: String,
        /// Return id.
        return_id: String,
    },
    /// Returned goods arrived.
    #[serde(rename = "return.received.v1")]
    ReturnReceived {
        /// Order id.
        order: String,
        /// Return id.
        return_id: String,
    },
    /// Money was refunded for a return.
    #[serde(rename = "refund.issued.v1")]
    RefundIssued {
        /// Order id.
        order: String,
        /// Return id.
        return_id: String,
        /// Amount refunded.
        amount: String,
        /// Its currency.
        currency: String,
        /// Points given back to the customer.
        points_returned: i64,
    },
    /// Units on hand or held at a location changed.
    #[serde(rename = "stock.changed.v1")]
    StockChanged {
        /// SKU.
        sku: String,
        /// Location.
        location: String,
        /// Change of the units on hand.
        on_hand_delta: i64,
        /// Change of the units held for orders.
        reserved_delta: i64,
        /// Why: `adjusted:<reason>`, `reserved`, `sold`,
        /// `released:cancelled|closed|expired`, `restocked:<reason>`.
        reason: String,
        /// The order that moved them, if any (an exchange's replacement
        /// units, held and shipped: its reservation `<request>/exchange`,
        /// told by `exchange.approved.v1`).
        order: Option<String>,
    },
    /// A SKU's available units dropped below its low-stock threshold.
    #[serde(rename = "stock.low.v1")]
    StockLow {
        /// SKU.
        sku: String,
        /// Units available after the change.
        available: i64,
        /// The threshold.
        threshold: i64,
    },
    /// A SKU with a low-stock threshold has nothing left to sell (sent
    /// with the `stock.low.v1` of the same change).
    #[serde(rename = "stock.out.v1")]
    StockOut {
        /// SKU.
        sku: String,
        /// Units available after the change (0 or less).
        available: i64,
    },
    /// A coupon was issued.
    #[serde(rename = "coupon.issued.v1")]
    CouponIssued {
        /// Code.
        code: String,
        /// Owner, for a personal coupon.
        owner: Option<String>,
    },
    /// A coupon was locked by a placed order.
    #[serde(rename = "coupon.locked.v1")]
    CouponLocked {
        /// Code.
        code: String,
        /// Order.
        order: String,
        /// Customer.
        customer: Option<String>,
    },
    /// A coupon was redeemed (its order was paid).
    #[serde(rename = "coupon.redeemed.v1")]
    CouponRedeemed {
        /// Code.
        code: String,
        /// Order.
        order: String,
    },
    /// A locked coupon came back (its order was cancelled or closed).
    #[serde(rename = "coupon.released.v1")]
    CouponReleased {
        /// Code.
        code: String,
        /// Order.
        order: String,
    },
    /// A customer's points balance changed.
    #[serde(rename = "points.changed.v1")]
    PointsChanged {
        /// Customer.
        customer: String,
        /// Change (negative: spent).
        delta: i64,
        /// Why: the reason given when earned, `spent` or `returned`.
        reason: String,
        /// The order, when an order moved them.
        order: Option<String>,
    },
    /// A payment was captured (one of possibly several: part and split
    /// payments; `order.paid.v1` follows when the order is paid in full).
    #[serde(rename = "payment.captured.v1")]
    PaymentCaptured {
        /// Order id.
        order: String,
        /// Payment id (`<order>-p<n>`).
        payment: String,
        /// Method (`card`, `alipay`...).
        method: String,
        /// Amount captured.
        amount: String,
        /// Currency.
        currency: String,
        /// The payment provider's reference.
        reference: Option<String>,
    },
    /// An after-sale request was withdrawn by the customer.
    #[serde(rename = "return.withdrawn.v1")]
    ReturnWithdrawn {
        /// Order id.
        order: String,
        /// Request id.
        return_id: String,
    },
    /// An after-sale request was closed (the goods were not sent back in
    /// time).
    #[serde(rename = "return.closed.v1")]
    ReturnClosed {
        /// Order id.
        order: String,
        /// Request id.
        return_id: String,
    },
    /// Units not yet shipped were cancelled (their refund follows as
    /// `refund.issued.v1`).
    #[serde(rename = "order.units_cancelled.v1")]
    OrderUnitsCancelled {
        /// Order id.
        order: String,
        /// Units per line.
        lines: Vec<FeedLineQty>,
    },
    /// A customer claimed, or the shop issued, a coupon of a template.
    #[serde(rename = "coupon.claimed.v1")]
    CouponClaimed {
        /// Code.
        code: String,
        /// Template id.
        template: String,
        /// The customer who holds it.
        owner: String,
        /// `claim` (the customer) or `issue` (the shop).
        via: String,
        /// Start of validity (inclusive).
        valid_from: Option<DateTime<Utc>>,
        /// End of validity (exclusive).
        valid_until: Option<DateTime<Utc>>,
    },
    /// An unused template coupon was revoked.
    #[serde(rename = "coupon.revoked.v1")]
    CouponRevoked {
        /// Code.
        code: String,
    },
    /// A presale deposit was paid: the order (told by `order.placed.v1`)
    /// waits for its balance; its stock is held until `balance_until`.
    #[serde(rename = "presale.deposit_paid.v1")]
    PresaleDepositPaid {
        /// Order id.
        order: String,
        /// The presale promotion.
        promotion: String,
        /// Units.
        units: i64,
        /// The deposit paid.
        deposit: String,
        /// What it counts for against the price.
        deduction: String,
        /// Currency.
        currency: String,
        /// When the balance may be paid from.
        balance_from: DateTime<Utc>,
        /// The balance deadline.
        balance_until: DateTime<Utc>,
        /// `forfeit` or `refund`: what an unpaid balance does to the deposit.
        on_unpaid_balance: String,
    },
    /// A presale order's balance was paid (the order is paid).
    #[serde(rename = "presale.balance_paid.v1")]
    PresaleBalancePaid {
        /// Order id.
        order: String,
        /// The balance.
        amount: String,
        /// Currency.
        currency: String,
    },
    /// A presale order died without its balance: the deposit was kept
    /// (`forfeited`) or refunded (`refunded`; its refund is told by
    /// `refund.issued.v1` or `order.cancelled.v1`).
    #[serde(rename = "presale.lapsed.v1")]
    PresaleLapsed {
        /// Order id.
        order: String,
        /// Money the shop kept.
        forfeited: String,
        /// Money that went back.
        refunded: String,
        /// Currency.
        currency: String,
        /// `forfeit` or `refund`.
        policy: String,
    },
    /// One shipment of an order was delivered (`order.delivered.v1`
    /// follows with the last one; a v1 `deliver` tells only that).
    #[serde(rename = "shipment.delivered.v1")]
    ShipmentDelivered {
        /// Order id.
        order: String,
        /// Shipment id.
        shipment: String,
        /// When.
        delivered_at: DateTime<Utc>,
    },
    /// An exchange was requested: units of order lines to send back, each
    /// for units of a SKU.
    #[serde(rename = "exchange.requested.v1")]
    ExchangeRequested {
        /// Order id.
        order: String,
        /// Request id.
        request: String,
        /// What goes back and what comes instead.
        items: Vec<FeedExchangeItem>,
    },
    /// An exchange was approved: its replacement units are held (told by
    /// `stock.changed.v1` with `order` = `reservation`); with `due` above
    /// zero it waits for payment until `pay_by`.
    #[serde(rename = "exchange.approved.v1")]
    ExchangeApproved {
        /// Order id.
        order: String,
        /// Request id.
        request: String,
        /// The stock reservation of the replacement units.
        reservation: String,
        /// The price difference the customer pays.
        due: String,
        /// Its currency.
        currency: String,
        /// The payment deadline, when money is due.
        pay_by: Option<DateTime<Utc>>,
    },
    /// An exchange's price difference was paid in full (after the
    /// `payment.captured.v1` of its last part).
    #[serde(rename = "exchange.paid.v1")]
    ExchangePaid {
        /// Order id.
        order: String,
        /// Request id.
        request: String,
    },
    /// An exchange took place (after its `return.received.v1`): the
    /// replacement units are new lines of the order, to ship (a difference
    /// owed follows as `refund.issued.v1`).
    #[serde(rename = "exchange.completed.v1")]
    ExchangeCompleted {
        /// Order id.
        order: String,
        /// Request id.
        request: String,
        /// The new lines.
        lines: Vec<FeedExchangeLine>,
        /// Currency of the nets.
        currency: String,
    },
    /// An exchange became an approved return (its replacement was out of
    /// stock, or the merchant refunds instead).
    #[serde(rename = "exchange.converted.v1")]
    ExchangeConverted {
        /// Order id.
        order: String,
        /// Request id.
        request: String,
    },
}

impl IntegrationEvent {
    /// The versioned type name (`"order.paid.v1"`).
    pub fn type_name(&self) -> &'static str {
        match self {
            IntegrationEvent::CustomerRegistered { .. } => "customer.registered.v1",
            IntegrationEvent::OrderPlaced { .. } => "order.placed.v1",
            IntegrationEvent::OrderHeld { .. } => "order.held.v1",
            IntegrationEvent::OrderReleased { .. } => "order.released.v1",
            IntegrationEvent::OrderPaid { .. } => "order.paid.v1",
            IntegrationEvent::OrderCancelled { .. } => "order.cancelled.v1",
            IntegrationEvent::OrderClosed { .. } => "order.closed.v1",
            IntegrationEvent::OrderShipped { .. } => "order.shipped.v1",
            IntegrationEvent::OrderDelivered { .. } => "order.delivered.v1",
            IntegrationEvent::OrderCompleted { .. } => "order.completed.v1",
            IntegrationEvent::ReturnRequested { .. } => "return.requested.v1",
            IntegrationEvent::ReturnApproved { .. } => "return.approved.v1",
            IntegrationEvent::ReturnRejected { .. } => "return.rejected.v1",
            IntegrationEvent::ReturnReceived { .. } => "return.received.v1",
            IntegrationEvent::RefundIssued { .. } => "refund.issued.v1",
            IntegrationEvent::StockChanged { .. } => "stock.changed.v1",
            IntegrationEvent::StockLow { .. } => "stock.low.v1",
            IntegrationEvent::StockOut { .. } => "stock.out.v1",
            IntegrationEvent::CouponIssued { .. } => "coupon.issued.v1",
            IntegrationEvent::CouponLocked { .. } => "coupon.locked.v1",
            IntegrationEvent::CouponRedeemed { .. } => "coupon.redeemed.v1",
            IntegrationEvent::CouponReleased { .. } => "coupon.released.v1",
            IntegrationEvent::PointsChanged { .. } => "points.changed.v1",
            IntegrationEvent::PaymentCaptured { .. } => "payment.captured.v1",
            IntegrationEvent::ReturnWithdrawn { .. } => "return.withdrawn.v1",
            IntegrationEvent::ReturnClosed { .. } => "return.closed.v1",
            IntegrationEvent::OrderUnitsCancelled { .. } => "order.units_cancelled.v1",
            IntegrationEvent::CouponClaimed { .. } => "coupon.claimed.v1",
            IntegrationEvent::CouponRevoked { .. } => "coupon.revoked.v1",
            IntegrationEvent::PresaleDepositPaid { .. } => "presale.deposit_paid.v1",
            IntegrationEvent::PresaleBalancePaid { .. } => "presale.balance_paid.v1",
            IntegrationEvent::PresaleLapsed { .. } => "presale.lapsed.v1",
            IntegrationEvent::ShipmentDelivered { .. } => "shipment.delivered.v1",
            IntegrationEvent::ExchangeRequested { .. } => "exchange.requested.v1",
            IntegrationEvent::ExchangeApproved { .. } => "exchange.approved.v1",
            IntegrationEvent::ExchangePaid { .. } => "exchange.paid.v1",
            IntegrationEvent::ExchangeCompleted { .. } => "exchange.completed.v1",
            IntegrationEvent::ExchangeConverted { .. } => "exchange.converted.v1",
        }
    }
}

/// Every type name of the schema, in the order of `docs/integration.md`.
pub const TYPES: [&str; 38] = [
    "customer.registered.v1",
    "order.placed.v1",
    "order.held.v1",
    "order.released.v1",
    "order.paid.v1",
    "order.cancelled.v1",
    "order.closed.v1",
    "order.shipped.v1",
    "order.delivered.v1",
    "order.completed.v1",
    "return.requested.v1",
    "return.approved.v1",
    "return.rejected.v1",
    "return.received.v1",
    "refund.issued.v1",
    "stock.changed.v1",
    "stock.low.v1",
    "stock.out.v1",
    "coupon.issued.v1",
    "coupon.locked.v1",
    "coupon.redeemed.v1",
    "coupon.released.v1",
    "points.changed.v1",
    "payment.captured.v1",
    "return.withdrawn.v1",
    "return.closed.v1",
    "order.units_cancelled.v1",
    "coupon.claimed.v1",
    "coupon.revoked.v1",
    "presale.deposit_paid.v1",
    "presale.balance_paid.v1",
    "presale.lapsed.v1",
    "shipment.delivered.v1",
    "exchange.requested.v1",
    "exchange.approved.v1",
    "exchange.paid.v1",
    "exchange.completed.v1",
    "exchange.converted.v1",
];

fn amount(m: &Money) -> String {
    m.amount().to_string()
}

fn currency(m: &Money) -> String {
    m.currency().to_string()
}

fn line_qty(lines: &[LineQty]) -> Vec<FeedLineQty> {
    lines
        .iter()
        .map(|l| FeedLineQty {
            line: l.line,
            qty: l.qty,
        })
        .collect()
}

fn stock_moves(
    allocations: &[Allocation],
    order: &str,
    on_hand_sign: i64,
    reserved_sign: i64,
    reason: &str,
) -> Vec<IntegrationEvent> {
    allocations
        .iter()
        .map(|a| IntegrationEvent::StockChanged {
            sku: a.sku.clone(),
            location: a.location.clone(),
            on_hand_delta: a.qty.saturating_mul(on_hand_sign),
            reserved_delta: a.qty.saturating_mul(reserved_sign),
            reason: reason.to_string(),
            order: Some(order.to_string()),
        })
        .collect()
}

/// The integration events one internal event stands for, in order: none
/// for configuration and internal bookkeeping (catalog, promotions,
/// settings, locations, quotas, thresholds, expiry extensions), one for
/// most, one per SKU and location for stock movements.
pub fn integration_events(event: &LogEvent) -> Vec<IntegrationEvent> {
    let LogEvent::Core(event) = event else {
        return Vec::new();
    };
    use IntegrationEvent as I;
    match event {
        Event::Customer(CustomerEvent::Registered { id, tier }) => vec![I::CustomerRegistered {
            customer: id.clone(),
            tier: tier.clone(),
        }],
        Event::Order(e) => order_events(e),
        Event::Stock(e) => stock_events(e),
        Event::Coupon(e) => coupon_events(e),
        Event::Points(e) => points_events(e),
        _ => Vec::new(),
    }
}

fn order_events(e: &OrderEvent) -> Vec<IntegrationEvent> {
    use IntegrationEvent as I;
    let one = match e {
        OrderEvent::Placed {
            id,
            customer,
            channel,
            quote,
            at,
            deadline,
            ..
        } => {
            let t = &quote.totals;
            let discount = [
                &t.unit_discount,
                &t.item_discount,
                &t.order_discount,
                &t.coupon_discount,
                &t.points_deduction,
            ]
            .into_iter()
            .try_fold(Money::zero(quote.currency), |acc, m| acc.checked_add(*m))
            .map(|m| amount(&m))
            .unwrap_or_default();
            I::OrderPlaced {
                order: id.clone(),
                customer: customer.clone(),
                channel: channel.clone(),
                currency: quote.currency.to_string(),
                lines: quote
                    .lines
                    .iter()
                    .map(|l| FeedLine {
                        line: l.line,
                        sku: l.sku.clone(),
                        qty: l.qty,
                        unit_price: amount(&l.unit_price),
                        net: amount(&l.net),
                        gift: l.gift,
                    })
                    .collect(),
                totals: FeedTotals {
                    list: amount(&t.list),
                    discount,
                    shipping: amount(&t.shipping),
                    payable: amount(&t.payable),
                },
                coupons: quote.coupons.clone(),
                points_used: quote.points_used,
                placed_at: *at,
                pay_by: *deadline,
            }
        }
        OrderEvent::Held { id, reasons } => I::OrderHeld {
            order: id.clone(),
            reasons: reasons.clone(),
        },
        OrderEvent::Released { id, deadline } => I::OrderReleased {
            order: id.clone(),
            pay_by: *deadline,
        },
        OrderEvent::Paid { id, amount: a, at } => I::OrderPaid {
            order: id.clone(),
            amount: amount(a),
            currency: currency(a),
            paid_at: *at,
        },
        OrderEvent::Cancelled {
            id,
            refund,
            rejected,
            ..
        } => I::OrderCancelled {
            order: id.clone(),
            refund: amount(refund),
            currency: currency(refund),
            rejected: *rejected,
        },
        OrderEvent::Closed { id, at } => I::OrderClosed {
            order: id.clone(),
            closed_at: *at,
        },
        OrderEvent::Shipped {
            id,
            lines,
            shipment,
            packages,
            ..
        } => I::OrderShipped {
            order: id.clone(),
            lines: line_qty(lines),
            shipment: shipment.clone(),
            packages: packages
                .iter()
                .map(|p| FeedPackage {
                    carrier: p.carrier.clone(),
                    tracking: p.tracking.clone(),
                    lines: line_qty(&p.lines),
                })
                .collect(),
        },
        OrderEvent::ShipmentDelivered { id, shipment, at } => I::ShipmentDelivered {
            order: id.clone(),
            shipment: shipment.clone(),
            delivered_at: *at,
        },
        OrderEvent::Delivered { id, at } => I::OrderDelivered {
            order: id.clone(),
            delivered_at: *at,
        },
        OrderEvent::Completed { id } => I::OrderCompleted { order: id.clone() },
        OrderEvent::ReturnRequested {
            id,
            return_id,
            lines,
            restock,
            ..
        } => I::ReturnRequested {
            order: id.clone(),
            return_id: return_id.clone(),
            lines: line_qty(lines),
            restock: *restock,
        },
        OrderEvent::ReturnApproved { id, return_id, .. } => I::ReturnApproved {
            order: id.clone(),
            return_id: return_id.clone(),
        },
        OrderEvent::ReturnRejected { id, return_id } => I::ReturnRejected {
            order: id.clone(),
            return_id: return_id.clone(),
        },
        OrderEvent::ReturnReceived { id, return_id, .. } => I::ReturnReceived {
            order: id.clone(),
            return_id: return_id.clone(),
        },
        OrderEvent::Refunded {
            id,
            return_id,
            amount: a,
            points_returned,
            ..
        } => I::RefundIssued {
            order: id.clone(),
            return_id: return_id.clone(),
            amount: amount(a),
            currency: currency(a),
            points_returned: *points_returned,
        },
        OrderEvent::PaymentCaptured { id, payment } => I::PaymentCaptured {
            order: id.clone(),
            payment: payment.id.clone(),
            method: payment.method.clone(),
            amount: amount(&payment.amount),
            currency: currency(&payment.amount),
            reference: payment.reference.clone(),
        },
        OrderEvent::ReturnWithdrawn { id, return_id } => I::ReturnWithdrawn {
            order: id.clone(),
            return_id: return_id.clone(),
        },
        OrderEvent::ReturnClosed { id, return_id } => I::ReturnClosed {
            order: id.clone(),
            return_id: return_id.clone(),
        },
        OrderEvent::UnitsCancelled { id, lines } => I::OrderUnitsCancelled {
            order: id.clone(),
            lines: line_qty(lines),
        },
        OrderEvent::PresaleDeposited { id, terms } => I::PresaleDepositPaid {
            order: id.clone(),
            promotion: terms.promotion.clone(),
            units: terms.units,
            deposit: amount(&terms.deposit),
            deduction: amount(&terms.deduction),
            currency: currency(&terms.deposit),
            balance_from: terms.balance_from,
            balance_until: terms.balance_until,
            on_unpaid_balance: terms.on_unpaid_balance.as_str().to_string(),
        },
        OrderEvent::PresaleBalancePaid { id, amount: a } => I::PresaleBalancePaid {
            order: id.clone(),
            amount: amount(a),
            currency: currency(a),
        },
        OrderEvent::PresaleLapsed {
            id,
            forfeited,
            refunded,
            policy,
        } => I::PresaleLapsed {
            order: id.clone(),
            forfeited: amount(forfeited),
            refunded: amount(refunded),
            currency: currency(forfeited),
            policy: policy.as_str().to_string(),
        },
        OrderEvent::ExchangeRequested {
            id,
            return_id,
            items,
            ..
        } => I::ExchangeRequested {
            order: id.clone(),
            request: return_id.clone(),
            items: items
                .iter()
                .map(|i| FeedExchangeItem {
                    line: i.line,
                    qty: i.qty,
                    sku: i.sku.clone(),
                })
                .collect(),
        },
        OrderEvent::ExchangeApproved {
            id,
            return_id,
            reservation,
            due,
            pay_by,
            ..
        } => I::ExchangeApproved {
            order: id.clone(),
            request: return_id.clone(),
            reservation: reservation.clone(),
            due: amount(due),
            currency: currency(due),
            pay_by: *pay_by,
        },
        OrderEvent::ExchangePaid { id, return_id, .. } => I::ExchangePaid {
            order: id.clone(),
            request: return_id.clone(),
        },
        OrderEvent::Exchanged {
            id,
            return_id,
            first_line,
            lines,
        } => I::ExchangeCompleted {
            order: id.clone(),
            request: return_id.clone(),
            lines: lines
                .iter()
                .enumerate()
                .map(|(k, l)| FeedExchangeLine {
                    line: first_line.saturating_add(k),
                    sku: l.sku.clone(),
                    qty: l.qty,
                    net: amount(&l.net),
                    replaces_line: l.replaces.line,
                })
                .collect(),
            currency: lines.first().map_or_else(String::new, |l| currency(&l.net)),
        },
        OrderEvent::ExchangeConverted { id, return_id, .. } => I::ExchangeConverted {
            order: id.clone(),
            request: return_id.clone(),
        },
        // The stock side of a sale is told by `stock.changed.v1` (`sold`).
        _ => return Vec::new(),
    };
    vec![one]
}

fn stock_events(e: &StockEvent) -> Vec<IntegrationEvent> {
    use IntegrationEvent as I;
    match e {
        StockEvent::Adjusted {
            sku,
            location,
            delta,
            reason,
        } => vec![I::StockChanged {
            sku: sku.clone(),
            location: location.clone(),
            on_hand_delta: *delta,
            reserved_delta: 0,
            reason: format!("adjusted:{reason}"),
            order: None,
        }],
        StockEvent::Reserved {
            id, allocations, ..
        } => stock_moves(allocations, id, 0, 1, "reserved"),
        StockEvent::Committed { id, allocations } => stock_moves(allocations, id, -1, -1, "sold"),
        StockEvent::Released {
            id,
            reason,
            allocations,
        } => {
            let why = match reason {
                ReleaseReason::Cancelled => "released:cancelled",
                ReleaseReason::Closed => "released:closed",
                ReleaseReason::Expired => "released:expired",
            };
            stock_moves(allocations, id, 0, -1, why)
        }
        StockEvent::Restocked {
            id,
            allocations,
            reason,
        } => stock_moves(allocations, id, 1, 0, &format!("restocked:{reason}")),
        StockEvent::LowStock {
            sku,
            available,
            threshold,
        } => {
            let mut out = vec![I::StockLow {
                sku: sku.clone(),
                available: *available,
                threshold: *threshold,
            }];
            if *available <= 0 {
                out.push(I::StockOut {
                    sku: sku.clone(),
                    available: *available,
                });
            }
            out
        }
        _ => Vec::new(),
    }
}

fn coupon_events(e: &CouponEvent) -> Vec<IntegrationEvent> {
    use IntegrationEvent as I;
    vec![match e {
        CouponEvent::Issued { code, owner, .. } => I::CouponIssued {
            code: code.clone(),
            owner: owner.clone(),
        },
        CouponEvent::Locked {
            code,
            order,
            customer,
        } => I::CouponLocked {
            code: code.clone(),
            order: order.clone(),
            customer: customer.clone(),
        },
        CouponEvent::Redeemed { code, order } => I::CouponRedeemed {
            code: code.clone(),
            order: order.clone(),
        },
        CouponEvent::Returned { code, order } => I::CouponReleased {
            code: code.clone(),
            order: order.clone(),
        },
        CouponEvent::Claimed {
            code,
            template,
            owner,
            valid_from,
            valid_until,
            via,
        } => I::CouponClaimed {
            code: code.clone(),
            template: template.clone(),
            owner: owner.clone(),
            via: match via {
                ClaimVia::Claim => "claim",
                ClaimVia::Issue => "issue",
            }
            .to_string(),
            valid_from: *valid_from,
            valid_until: *valid_until,
        },
        CouponEvent::Revoked { code } => I::CouponRevoked { code: code.clone() },
        _ => return Vec::new(),
    }]
}

fn points_events(e: &PointsEvent) -> Vec<IntegrationEvent> {
    use IntegrationEvent as I;
    vec![match e {
        PointsEvent::Earned {
            customer,
            points,
            reason,
        } => I::PointsChanged {
            customer: customer.clone(),
            delta: *points,
            reason: reason.clone(),
            order: None,
        },
        PointsEvent::Spent {
            customer,
            order,
            points,
        } => I::PointsChanged {
            customer: customer.clone(),
            delta: points.saturating_neg(),
            reason: "spent".into(),
            order: Some(order.clone()),
        },
        PointsEvent::Returned {
            customer,
            order,
            points,
        } => I::PointsChanged {
            customer: customer.clone(),
            delta: *points,
            reason: "returned".into(),
            order: Some(order.clone()),
        },
        PointsEvent::Credited {
            customer,
            order,
            points,
            ..
        } => I::PointsChanged {
            customer: customer.clone(),
            delta: *points,
            reason: "credited".into(),
            order: Some(order.clone()),
        },
        PointsEvent::ClawedBack {
            customer,
            order,
            points,
            ..
        } => I::PointsChanged {
            customer: customer.clone(),
            delta: points.saturating_neg(),
            reason: "clawed_back".into(),
            order: Some(order.clone()),
        },
        PointsEvent::Expired {
            customer, points, ..
        } => I::PointsChanged {
            customer: customer.clone(),
            delta: points.saturating_neg(),
            reason: "expired".into(),
            order: None,
        },
        _ => return Vec::new(),
    }]
}
