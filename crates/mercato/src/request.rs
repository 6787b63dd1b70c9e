//! The engine's operations as plain data: every mutating call is a
//! [`Request`] (hashed for idempotency, logged in traces) and answers a
//! [`Response`] (stored with its idempotency key, so a retried call gets the
//! first answer byte for byte).

use std::sync::Arc;

use mercato_core::money::{Money, amount_str};
use mercato_core::order::{LineQty, OrderStatus};
use mercato_core::{Currency, Quote};
use mercato_rules::{CartLine, CatalogItem, Coupon, Promotion};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use crate::aftersale::{AfterSaleAnswer, PaymentReceipt, RefundReceipt};
use crate::settings::Settings;
use mercato_core::aftersale::{AfterSaleAction, AfterSaleKind};
/// Operations whose request is the core command itself (one shape per
/// operation: the engine hashes, logs and decides the same value).
pub use mercato_core::shop::{EarnPoints, HoldOrder, OrderRef, RegisterCustomer, SetCustomerTags};
/// Stock operations whose request is the stock command itself.
pub use mercato_core::stock::{
    AdjustStock, CloseQuota, ConfigureLocation, OpenQuota, SetLowStockThreshold,
};

/// Placing an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOrderRequest {
    /// The order id (the caller's name for it).
    pub id: String,
    /// The customer; `None`: anonymous.
    #[serde(default)]
    pub customer: Option<String>,
    /// Lines.
    pub lines: Vec<CartLine>,
    /// Coupon codes, in request order.
    #[serde(default)]
    pub coupons: Vec<String>,
    /// Points to spend.
    #[serde(default)]
    pub points: i64,
    /// Sales channel (default `"web"`).
    #[serde(default)]
    pub channel: Option<String>,
}

/// Building a request: `new` names the order, each method adds to it.
///
/// ```
/// use mercato::PlaceOrderRequest;
/// let req = PlaceOrderRequest::new("o-1").line("tea", 3).customer("alice").points(500);
/// assert_eq!(req.lines.len(), 1);
/// assert_eq!(req.customer.as_deref(), Some("alice"));
/// ```
impl PlaceOrderRequest {
    /// An order `id` with no lines yet, anonymous, no coupons or points,
    /// the default channel.
    pub fn new(id: impl Into<String>) -> PlaceOrderRequest {
        PlaceOrderRequest {
            id: id.into(),
            customer: None,
            lines: Vec::new(),
            coupons: Vec::new(),
            points: 0,
            channel: None,
        }
    }

    /// Adds a line of `qty` units of `sku` (after the others).
    #[must_use]
    pub fn line(mut self, sku: impl Into<String>, qty: i64) -> Self {
        self.lines.push(CartLine::new(sku, qty));
        self
    }

    /// The customer (default: anonymous).
    #[must_use]
    pub fn customer(mut self, customer: impl Into<String>) -> Self {
        self.customer = Some(customer.into());
        self
    }

    /// Requests a coupon (after the others, in request order).
    #[must_use]
    pub fn coupon(mut self, code: impl Into<String>) -> Self {
        self.coupons.push(code.into());
        self
    }

    /// Points to spend (default 0).
    #[must_use]
    pub fn points(mut self, points: i64) -> Self {
        self.points = points;
        self
    }

    /// The sales channel (default `"web"`).
    #[must_use]
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }
}

/// Every mutating operation of the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Request {
    /// Sets the shop's currency and settings (once).
    Configure {
        /// Currency.
        currency: Currency,
        /// Settings.
        settings: Settings,
    },
    /// Replaces the settings.
    UpdateSettings {
        /// Settings.
        settings: Settings,
    },
    /// Adds a catalog item.
    AddCatalogItem {
        /// The item.
        item: CatalogItem,
    },
    /// Adds a promotion.
    AddPromotion {
        /// The promotion.
        promotion: Promotion,
    },
    /// Defines and issues a coupon.
    AddCoupon {
        /// The coupon.
        coupon: Coupon,
    },
    /// Registers a customer with opening points.
    RegisterCustomer(RegisterCustomer),
    /// Credits points.
    EarnPoints(EarnPoints),
    /// Creates or reconfigures a stock location of a SKU.
    ConfigureLocation(ConfigureLocation),
    /// Adds (or removes) units at a location.
    AdjustStock(AdjustStock),
    /// Sets units of a SKU aside for a channel.
    OpenQuota(OpenQuota),
    /// Returns a channel quota's remainder to the general pool.
    CloseQuota(CloseQuota),
    /// Sets the low-stock threshold of a SKU.
    SetLowStockThreshold(SetLowStockThreshold),
    /// Prices the cart and places the order.
    PlaceOrder(PlaceOrderRequest),
    /// Pays an order.
    Pay {
        /// Order.
        order: String,
        /// Amount (must equal the payable). Read in the strict amount
        /// grammar (`mercato_core::money::parse_amount`) and written with at
        /// most the currency's minor digits: `"399.000"` is refused in CNY.
        #[serde(with = "amount_str")]
        amount: Decimal,
    },
    /// Holds an order for review.
    Hold(HoldOrder),
    /// Releases a held order.
    Release(OrderRef),
    /// Rejects a held order.
    Reject(OrderRef),
    /// Cancels an order before shipment.
    Cancel(OrderRef),
    /// Ships units (`None`: everything left).
    Ship {
        /// Order.
        order: String,
        /// Units per line.
        #[serde(default)]
        lines: Option<Vec<LineQty>>,
    },
    /// Marks delivered.
    Deliver {
        /// Order.
        order: String,
    },
    /// Confirms receipt.
    Complete(OrderRef),
    /// Returns units (request, approval, receipt and refund in one step).
    Return {
        /// Order.
        order: String,
        /// Units per line.
        lines: Vec<LineQty>,
        /// Put the units back into stock.
        #[serde(default)]
        restock: bool,
    },
    /// Runs the timers at the clock's time.
    Tick,
    /// Captures one payment: a part of what is due, or all of it
    /// ([`crate::Engine::record_payment`]).
    RecordPayment {
        /// Order.
        order: String,
        /// Method (`card`, `alipay`, `gift_card`...).
        method: String,
        /// Amount (strict amount grammar, positive, at most what is due).
        #[serde(with = "amount_str")]
        amount: Decimal,
        /// The payment provider's reference.
        #[serde(default)]
        reference: Option<String>,
        /// The idempotency key the payment is recorded under.
        #[serde(default)]
        key: Option<String>,
    },
    /// Files a staged after-sale request
    /// ([`crate::Engine::request_after_sale`]).
    RequestAfterSale {
        /// Order.
        order: String,
        /// `return_refund` or `refund_only`.
        kind: AfterSaleKind,
        /// Units per line.
        lines: Vec<LineQty>,
        /// Reason code.
        #[serde(default)]
        reason_code: Option<String>,
        /// Free text.
        #[serde(default)]
        note: Option<String>,
        /// Return shipping the customer bears (deducted from the refund).
        #[serde(default, with = "amount_str::option")]
        return_shipping_fee: Option<Decimal>,
    },
    /// Moves a staged after-sale request: approve, reject, withdraw,
    /// receive (optionally damaged), refund.
    AfterSale {
        /// Order.
        order: String,
        /// Request id.
        request: String,
        /// What to do.
        action: AfterSaleAction,
        /// For `receive`: arrived damaged (never restocked).
        #[serde(default)]
        damaged: bool,
    },
    /// Refunds a goodwill amount (no unit), capped by what was paid and not
    /// yet refunded.
    Goodwill {
        /// Order.
        order: String,
        /// Amount.
        #[serde(with = "amount_str")]
        amount: Decimal,
    },
    /// Cancels units not yet shipped: their stock is released and their
    /// nets refunded.
    CancelUnits {
        /// Order.
        order: String,
        /// Units per line.
        lines: Vec<LineQty>,
    },
    /// Adds a coupon template (configuration).
    AddCouponTemplate {
        /// The template.
        template: crate::loyalty::CouponTemplate,
    },
    /// Issues one coupon of a template to each customer listed (a customer
    /// listed twice gets two), within its caps; all or nothing.
    IssueCoupons {
        /// Template id.
        template: String,
        /// Customers, one per coupon.
        customers: Vec<String>,
        /// Codes, one per customer (empty: derived).
        #[serde(default)]
        codes: Vec<String>,
    },
    /// A customer claims one coupon of a template (领券).
    ClaimCoupon {
        /// Template id.
        template: String,
        /// Customer.
        customer: String,
    },
    /// Revokes an unused template coupon.
    RevokeCoupon {
        /// Code.
        code: String,
    },
    /// Moves a template coupon's end of validity later.
    ExtendCoupon {
        /// Code.
        code: String,
        /// New end (exclusive).
        valid_until: chrono::DateTime<chrono::Utc>,
    },
    /// Changes a SKU's list price now (`from: None`) or from a time.
    ChangePrice {
        /// SKU.
        sku: String,
        /// The new list unit price.
        #[serde(with = "amount_str")]
        price: Decimal,
        /// When it takes effect (not before now); `None`: now.
        #[serde(default)]
        from: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Makes a SKU unsellable or sellable again.
    SetSellable {
        /// SKU.
        sku: String,
        /// Whether carts may hold it.
        sellable: bool,
    },
    /// Renames or recategorizes a SKU.
    UpdateCatalogItem {
        /// SKU.
        sku: String,
        /// New product (`None`: unchanged).
        #[serde(default)]
        product: Option<String>,
        /// New category (`None`: unchanged).
        #[serde(default)]
        category: Option<String>,
        /// Removes the category (with `category: None`).
        #[serde(default)]
        clear_category: bool,
    },
    /// Ends a promotion now (`at: None`) or at a time (not before now).
    EndPromotion {
        /// Promotion id.
        id: String,
        /// When it ends.
        #[serde(default)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Pauses a running promotion.
    PausePromotion {
        /// Promotion id.
        id: String,
    },
    /// Resumes a paused promotion.
    ResumePromotion {
        /// Promotion id.
        id: String,
    },
    /// Replaces a promotion with a new version under the same id.
    ReplacePromotion {
        /// The new definition.
        promotion: Promotion,
    },
    /// Sets a customer's tags (replacing the earlier ones).
    SetCustomerTags(SetCustomerTags),
    /// Pays a presale deposit: places the order under a presale promotion
    /// and captures the deposit ([`crate::Engine::presale_deposit`]).
    PresaleDeposit(Box<crate::presale::PresaleDepositRequest>),
    /// Ships one shipment with its packages
    /// ([`crate::Engine::ship_shipment`]).
    ShipShipment {
        /// Order.
        order: String,
        /// Shipment id (unique within the order).
        shipment: String,
        /// Packages: carrier, tracking number and units of each.
        packages: Vec<mercato_core::shipment::Package>,
    },
    /// Delivers one shipment ([`crate::Engine::deliver_shipment`]).
    DeliverShipment {
        /// Order.
        order: String,
        /// Shipment id.
        shipment: String,
    },
    /// Files an exchange ([`crate::Engine::request_exchange`]); it then
    /// moves with [`Request::AfterSale`] (approve, reject, withdraw,
    /// receive, convert) and [`Request::PayExchange`].
    RequestExchange {
        /// Order.
        order: String,
        /// Units going back, each for units of a SKU.
        items: Vec<mercato_core::exchange::ExchangeItem>,
        /// Reason code.
        #[serde(default)]
        reason_code: Option<String>,
        /// Free text.
        #[serde(default)]
        note: Option<String>,
    },
    /// Pays (a part of) an exchange's price difference
    /// ([`crate::Engine::pay_exchange`]).
    PayExchange {
        /// Order.
        order: String,
        /// The exchange request.
        request: String,
        /// Method.
        method: String,
        /// Amount (strict amount grammar, positive, at most what is due).
        #[serde(with = "amount_str")]
        amount: Decimal,
        /// The payment provider's reference.
        #[serde(default)]
        reference: Option<String>,
        /// The idempotency key the payment is recorded under.
        #[serde(default)]
        key: Option<String>,
    },
}

impl Request {
    /// The operation's name, for traces.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Configure { .. } => "configure",
            Request::UpdateSettings { .. } => "update_settings",
            Request::AddCatalogItem { .. } => "add_catalog_item",
            Request::AddPromotion { .. } => "add_promotion",
            Request::AddCoupon { .. } => "add_coupon",
            Request::RegisterCustomer(RegisterCustomer { .. }) => "register_customer",
            Request::EarnPoints(EarnPoints { .. }) => "earn_points",
            Request::ConfigureLocation(ConfigureLocation { .. }) => "configure_location",
            Request::AdjustStock(AdjustStock { .. }) => "adjust_stock",
            Request::OpenQuota(OpenQuota { .. }) => "open_quota",
            Request::CloseQuota(CloseQuota { .. }) => "close_quota",
            Request::SetLowStockThreshold(SetLowStockThreshold { .. }) => "set_low_stock_threshold",
            Request::PlaceOrder(_) => "place_order",
            Request::Pay { .. } => "pay",
            Request::Hold(HoldOrder { .. }) => "hold",
            Request::Release(OrderRef { .. }) => "release",
            Request::Reject(OrderRef { .. }) => "reject",
            Request::Cancel(OrderRef { .. }) => "cancel",
            Request::Ship { .. } => "ship",
            Request::Deliver { .. } => "deliver",
            Request::Complete(OrderRef { .. }) => "complete",
            Request::Return { .. } => "return",
            Request::Tick => "tick",
            Request::RecordPayment { .. } => "record_payment",
            Request::RequestAfterSale { .. } => "request_after_sale",
            Request::AfterSale { .. } => "after_sale",
            Request::Goodwill { .. } => "goodwill",
            Request::CancelUnits { .. } => "cancel_units",
            Request::AddCouponTemplate { .. } => "add_coupon_template",
            Request::IssueCoupons { .. } => "issue_coupons",
            Request::ClaimCoupon { .. } => "claim_coupon",
            Request::RevokeCoupon { .. } => "revoke_coupon",
            Request::ExtendCoupon { .. } => "extend_coupon",
            Request::ChangePrice { .. } => "change_price",
            Request::SetSellable { .. } => "set_sellable",
            Request::UpdateCatalogItem { .. } => "update_catalog_item",
            Request::EndPromotion { .. } => "end_promotion",
            Request::PausePromotion { .. } => "pause_promotion",
            Request::ResumePromotion { .. } => "resume_promotion",
            Request::ReplacePromotion { .. } => "replace_promotion",
            Request::SetCustomerTags(SetCustomerTags { .. }) => "set_customer_tags",
            Request::PresaleDeposit(_) => "presale_deposit",
            Request::ShipShipment { .. } => "ship_shipment",
            Request::DeliverShipment { .. } => "deliver_shipment",
            Request::RequestExchange { .. } => "request_exchange",
            Request::PayExchange { .. } => "pay_exchange",
        }
    }

    /// The order the request is about, if any (for traces).
    pub fn order_id(&self) -> Option<&str> {
        match self {
            Request::PlaceOrder(p) => Some(&p.id),
            Request::Pay { order, .. }
            | Request::Hold(HoldOrder { order, .. })
            | Request::Release(OrderRef { order })
            | Request::Reject(OrderRef { order })
            | Request::Cancel(OrderRef { order })
            | Request::Ship { order, .. }
            | Request::Deliver { order }
            | Request::Complete(OrderRef { order })
            | Request::Return { order, .. }
            | Request::RecordPayment { order, .. }
            | Request::RequestAfterSale { order, .. }
            | Request::AfterSale { order, .. }
            | Request::Goodwill { order, .. }
            | Request::CancelUnits { order, .. } => Some(order),
            Request::PresaleDeposit(d) => Some(&d.order),
            Request::ShipShipment { order, .. } | Request::DeliverShipment { order, .. } => {
                Some(order)
            }
            Request::RequestExchange { order, .. } | Request::PayExchange { order, .. } => {
                Some(order)
            }
            _ => None,
        }
    }
}

/// A stock reservation of a placed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationView {
    /// SKU.
    pub sku: String,
    /// Location.
    pub location: String,
    /// Units.
    pub qty: i64,
}

/// The answer to [`Request::PlaceOrder`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedOrder {
    /// Order id.
    pub order: String,
    /// Status after placement (`pending_payment`, `paid` or `on_hold`).
    pub status: OrderStatus,
    /// The quote it was placed with (the order's own, shared).
    pub quote: Arc<Quote>,
    /// Where the stock is held.
    pub reservations: Vec<ReservationView>,
    /// Why it is held, if it is.
    pub hold_reasons: Vec<String>,
}

/// The answer to [`Request::Cancel`] (and to [`Request::Reject`]): the
/// order is cancelled and `refund` goes back to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    /// Order.
    pub order: String,
    /// Money going back (zero for an unpaid order).
    pub refund: Money,
}

/// The answer to [`Request::Return`]: the units came back and were
/// refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRefund {
    /// Order.
    pub order: String,
    /// The return's id (`<order>-r1`, `-r2`...).
    pub return_id: String,
    /// Money refunded.
    pub refund: Money,
    /// Points given back.
    pub points_returned: i64,
    /// The order's status after the return (`returned` once every unit is
    /// back).
    pub status: OrderStatus,
}

/// What timers did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickReport {
    /// Orders closed unpaid, in placement order.
    pub closed: Vec<String>,
    /// Orders completed automatically, in placement order.
    pub completed: Vec<String>,
}

/// The answer of a mutating call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Response {
    /// Done; nothing to report.
    Done,
    /// An order was placed.
    Placed(Box<PlacedOrder>),
    /// An order's new status.
    Status {
        /// Order.
        order: String,
        /// Status.
        status: OrderStatus,
    },
    /// An order was cancelled.
    Cancelled(Cancellation),
    /// A return was refunded.
    Returned(ReturnRefund),
    /// Stock at a location after an adjustment.
    Stock {
        /// SKU.
        sku: String,
        /// Location.
        location: String,
        /// on_hand there.
        on_hand: i64,
    },
    /// What the timers did.
    Tick(TickReport),
    /// A payment was captured.
    Payment(PaymentReceipt),
    /// An after-sale request moved.
    AfterSale(AfterSaleAnswer),
    /// Money went back (goodwill, partial cancel).
    Refund(RefundReceipt),
    /// Template coupons given out, in request order.
    Coupons {
        /// The coupons.
        coupons: Vec<IssuedCode>,
    },
    /// A presale deposit was paid.
    Presale(Box<crate::presale::PresaleReceipt>),
    /// A shipment was shipped or delivered.
    Shipment(crate::shipments::ShipmentAnswer),
}

/// A template coupon given to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCode {
    /// Its code.
    pub code: String,
    /// Its owner.
    pub customer: String,
    /// Start of validity (inclusive).
    pub valid_from: Option<chrono::DateTime<chrono::Utc>>,
    /// End of validity (exclusive).
    pub valid_until: Option<chrono::DateTime<chrono::Utc>>,
}
