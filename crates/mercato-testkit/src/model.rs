//! The reference model: a deliberately simple, obviously-correct model of
//! stock (per SKU and location counts, quotas, the location every shipped
//! unit left from) and of the money flow of orders (payable, the payments
//! ledger and how each refund is allocated over it, refunds — cancel,
//! close, return, staged after-sale requests, refund-only, partial cancel,
//! goodwill — with their shipping share, points), of shipments and of
//! presale deposits, written from the contract, `docs/order-lifecycle.md`
//! and `docs/presale.md`, not from the engine's code.
//!
//! Pricing is not modelled: when an order is placed, the model takes the
//! engine's quote (its lines, gift lines included, nets, payable and points
//! used) and checks everything that follows from it. To keep the outcome of
//! a placement predictable, [`crate::strategies::shop_setup`] builds shops
//! whose coupons always give a discount when the coupon ledger lets them
//! (no thresholds, no windows, small fixed amounts) and whose gift SKUs are
//! never ordered directly. A presale deposit is the exception: its price is
//! simple enough (presale price less the inflation, split by units) that the
//! model computes it and checks the engine's quote against it.
//!
//! Use: build a [`ShopSetup`], install it on an engine
//! ([`ShopSetup::install`]) and in a [`ReferenceModel`]
//! ([`ReferenceModel::new`]), then for every [`Step`] call
//! [`ReferenceModel::apply`] with the quote the engine placed the order
//! with (if any) and compare the [`ExpectedOutcome`] with what the engine
//! did. [`crate::runner::ModelRunner`] does all of that.

use mercato::{AdjustStock, HoldOrder, OpenQuota, OrderRef};
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use mercato::core::Quote;
use mercato::core::aftersale::{AfterSaleKind, ShippingRefund};
use mercato::core::order::{OrderStatus, ReturnStatus};
use mercato::core::payments::RefundAllocation;
use mercato::core::presale::PresalePhase;
use mercato::core::quote::Stage;
use mercato::core::shop::StockCommit;
use mercato::rules::{CatalogItem, Coupon, Promotion};
use mercato::store::Store;
use mercato::{Clock, Engine, EngineError, Request, Settings};
use serde::{Deserialize, Serialize};

mod aftersale;
mod presale;

pub use presale::PresaleTerms;

use crate::util::{epoch, minor, unit_share};

/// One stock location of a SKU at setup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationSpec {
    /// SKU.
    pub sku: String,
    /// Location id.
    pub location: String,
    /// Opening units.
    pub on_hand: i64,
    /// Safety stock.
    pub safety: i64,
    /// Backorder permission.
    pub backorder: bool,
    /// Allocation priority (higher first).
    pub priority: i64,
}

/// A channel quota opened at setup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaSpec {
    /// SKU.
    pub sku: String,
    /// Channel.
    pub channel: String,
    /// Units set aside.
    pub qty: i64,
}

/// A customer at setup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerSpec {
    /// Id.
    pub id: String,
    /// Tier.
    pub tier: Option<String>,
    /// Opening points.
    pub points: i64,
}

/// A whole shop: what the engine and the model start from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopSetup {
    /// Settings (the model supports `stock_commit` both ways, review
    /// `max_qty` / `max_payable`, and the `pro_rata` refund policy).
    pub settings: Settings,
    /// Catalog; SKUs starting with `g` are gift SKUs (never ordered by
    /// generated steps).
    pub catalog: Vec<CatalogItem>,
    /// Locations with opening stock, in order of appearance.
    pub locations: Vec<LocationSpec>,
    /// Quotas opened after the stock.
    pub quotas: Vec<QuotaSpec>,
    /// Customers.
    pub customers: Vec<CustomerSpec>,
    /// Promotions.
    pub promotions: Vec<Promotion>,
    /// Coupons.
    pub coupons: Vec<Coupon>,
}

impl ShopSetup {
    /// SKUs that generated carts order (the catalog less gift SKUs).
    pub fn orderable(&self) -> Vec<String> {
        self.catalog
            .iter()
            .filter(|c| !c.sku.starts_with('g'))
            .map(|c| c.sku.clone())
            .collect()
    }

    /// Every SKU of the catalog.
    pub fn skus(&self) -> Vec<String> {
        self.catalog.iter().map(|c| c.sku.clone()).collect()
    }

    /// Installs the shop on a freshly opened engine (currency CNY).
    ///
    /// # Errors
    /// The first engine call that fails.
    pub fn install<S: Store + 'static, C: Clock>(
        &self,
        engine: &Engine<S, C>,
    ) -> Result<(), EngineError> {
        engine.configure(mercato::core::Currency::CNY, self.settings.clone())?;
        for item in &self.catalog {
            engine.add_catalog_item(item.clone())?;
        }
        for l in &self.locations {
            engine.configure_location(
                &l.sku,
                &l.location,
                mercato::LocationOptions {
                    safety: l.safety,
                    backorder: l.backorder,
                    priority: l.priority,
                },
            )?;
            engine.adjust_stock(&l.sku, &l.location, l.on_hand, "opening")?;
        }
        for q in &self.quotas {
            engine.execute(
                &Request::OpenQuota(OpenQuota {
                    sku: q.sku.clone(),
                    channel: q.channel.clone(),
                    qty: q.qty,
                }),
                None,
            )?;
        }
        for c in &self.customers {
            engine.register_customer(&c.id, c.tier.as_deref(), c.points)?;
        }
        for p in &self.promotions {
            engine.add_promotion(p.clone())?;
        }
        for c in &self.coupons {
            engine.add_coupon(c.clone())?;
        }
        Ok(())
    }
}

/// One command of a generated sequence. Indices are resolved against the
/// [`ShopSetup`] (modulo its lists; one past the end names something that
/// does not exist, for error paths).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "fuzzing", derive(arbitrary::Arbitrary))]
pub enum Step {
    /// Place order `o{order}`.
    Place {
        /// Order slot.
        order: u8,
        /// Customer index; `None`: anonymous.
        customer: Option<u8>,
        /// (orderable SKU index, qty).
        lines: Vec<(u8, i64)>,
        /// Coupon indices (one past the end: an unknown code).
        coupons: Vec<u8>,
        /// Points requested.
        points: i64,
        /// Channel: 0 web, otherwise `app`.
        channel: u8,
    },
    /// Pay the payable (`exact`) or one minor unit more.
    Pay {
        /// Order slot.
        order: u8,
        /// Pay exactly the payable.
        exact: bool,
    },
    /// Hold for review.
    Hold {
        /// Order slot.
        order: u8,
    },
    /// Release a held order.
    Release {
        /// Order slot.
        order: u8,
    },
    /// Reject a held order.
    Reject {
        /// Order slot.
        order: u8,
    },
    /// Cancel.
    Cancel {
        /// Order slot.
        order: u8,
    },
    /// Ship (`None`: everything left).
    Ship {
        /// Order slot.
        order: u8,
        /// (line, qty).
        lines: Option<Vec<(u8, i64)>>,
    },
    /// Deliver.
    Deliver {
        /// Order slot.
        order: u8,
    },
    /// Complete.
    Complete {
        /// Order slot.
        order: u8,
    },
    /// Return units.
    Return {
        /// Order slot.
        order: u8,
        /// (line, qty).
        lines: Vec<(u8, i64)>,
        /// Restock.
        restock: bool,
    },
    /// Move the clock forward by `minutes`, then run the timers.
    Tick {
        /// Minutes.
        minutes: u32,
    },
    /// Adjust stock at a location (SKU index one past the end: unknown SKU;
    /// location index 3: a new location `l3`).
    Adjust {
        /// SKU index into the whole catalog.
        sku: u8,
        /// Location index (`l{n}`).
        location: u8,
        /// Units.
        delta: i64,
    },
    /// `record_payment`: a part payment of `percent` % of what is still due
    /// (rounded down to the minor unit); above 100, one minor unit more
    /// than is due (an over-payment, `payment_mismatch`).
    PayPart {
        /// Order slot.
        order: u8,
        /// Share of what is due, in percent (0..=120).
        percent: u8,
        /// Method: 0 `card`, otherwise `wallet` (split payments).
        method: u8,
    },
    /// `goodwill_refund` of `percent` % of what was paid and not yet
    /// refunded (rounded down); above 100, one minor unit more (refused
    /// with `invalid_input`).
    Goodwill {
        /// Order slot.
        order: u8,
        /// Share of what is refundable, in percent (0..=120).
        percent: u8,
    },
    /// `update_settings`: the current settings with these timers (and, when
    /// out of its range, this `review.max_orders`). Values outside the
    /// ranges of `docs/scenario-format.md` are refused with
    /// `invalid_input` and change nothing.
    Settings {
        /// `payment_timeout_minutes`.
        payment_timeout_minutes: i64,
        /// `auto_complete_days`.
        auto_complete_days: i64,
        /// `review.max_orders` as (count, minutes). The model does not
        /// model that rule, so a pair within range is left out of the
        /// request; an out-of-range pair is sent (and must be refused).
        max_orders: Option<(i64, i64)>,
        /// New `after_sale` settings (`None`: unchanged).
        after_sale: Option<AfterSaleKnobs>,
    },
    /// `request_after_sale`: a staged request of `lines` (line, qty).
    RequestAfterSale {
        /// Order slot.
        order: u8,
        /// `refund_only` (仅退款) rather than `return_refund`.
        refund_only: bool,
        /// (line, qty).
        lines: Vec<(u8, i64)>,
        /// Reason code: `damaged`, `wrong_item`, `not_as_described`,
        /// `changed_mind` (modulo 4).
        reason: u8,
        /// Return shipping the customer bears, in minor units (`None`: the
        /// merchant pays).
        fee: Option<u16>,
    },
    /// `after_sale`: moves a staged request.
    AfterSale {
        /// Order slot.
        order: u8,
        /// Request `<order>-r<n>` (0: the order's latest request).
        request: u8,
        /// Modulo 6: approve, reject, withdraw, receive, refund, close (the
        /// timer's own: always refused).
        action: u8,
        /// For receive: arrived damaged (not restocked).
        damaged: bool,
    },
    /// `cancel_units`: a partial cancel of units not shipped.
    CancelUnits {
        /// Order slot.
        order: u8,
        /// (line, qty).
        lines: Vec<(u8, i64)>,
        /// Cancel every unit not shipped yet instead (`lines` unused).
        rest: bool,
    },
    /// `ship_shipment`: shipment `s{shipment % 4}` with packages of
    /// (line, qty) units.
    ShipShipment {
        /// Order slot.
        order: u8,
        /// Shipment id index (`s0`…`s3`; a repeated one is a duplicate).
        shipment: u8,
        /// The packages' units.
        packages: Vec<Vec<(u8, i64)>>,
        /// Carrier modulo 8: 0–6 `SF`, `JD`, `YTO` in turn, 7 an empty
        /// carrier (refused).
        carrier: u8,
    },
    /// `deliver_shipment`: the order's shipment of this index, in shipping
    /// order (one past the end: an unknown shipment).
    DeliverShipment {
        /// Order slot.
        order: u8,
        /// Shipment index.
        shipment: u8,
    },
    /// `presale_deposit` under the setup's presale promotion
    /// ([`PRESALE_PROMOTION`]).
    PresaleDeposit {
        /// Order slot.
        order: u8,
        /// Customer index (one past the end: an unknown customer).
        customer: u8,
        /// (orderable SKU index, qty).
        lines: Vec<(u8, i64)>,
        /// Offer exactly the deposit (else one minor unit more).
        exact: bool,
    },
}

impl Step {
    /// A short name of the command (after-sale moves by action), for
    /// statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Place { .. } => "place",
            Step::Pay { .. } => "pay",
            Step::Hold { .. } => "hold",
            Step::Release { .. } => "release",
            Step::Reject { .. } => "reject",
            Step::Cancel { .. } => "cancel",
            Step::Ship { .. } => "ship",
            Step::Deliver { .. } => "deliver",
            Step::Complete { .. } => "complete",
            Step::Return { .. } => "return",
            Step::Tick { .. } => "tick",
            Step::Adjust { .. } => "adjust",
            Step::PayPart { .. } => "record_payment",
            Step::Goodwill { .. } => "goodwill",
            Step::Settings { .. } => "update_settings",
            Step::RequestAfterSale {
                refund_only: false, ..
            } => "request return_refund",
            Step::RequestAfterSale { .. } => "request refund_only",
            Step::AfterSale { action, .. } => match action % 6 {
                0 => "after_sale approve",
                1 => "after_sale reject",
                2 => "after_sale withdraw",
                3 => "after_sale receive",
                4 => "after_sale refund",
                _ => "after_sale close",
            },
            Step::CancelUnits { .. } => "cancel_units",
            Step::ShipShipment { .. } => "ship_shipment",
            Step::DeliverShipment { .. } => "deliver_shipment",
            Step::PresaleDeposit { .. } => "presale_deposit",
        }
    }
}

/// The id of the presale promotion [`Step::PresaleDeposit`] names.
pub const PRESALE_PROMOTION: &str = "PS";

/// The `after_sale` settings a [`Step::Settings`] sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "fuzzing", derive(arbitrary::Arbitrary))]
pub struct AfterSaleKnobs {
    /// `request_window_days` (0..=3,650).
    pub request_window_days: Option<i64>,
    /// `auto_approve_hours` (0..=8,760).
    pub auto_approve_hours: Option<i64>,
    /// `return_ship_days` (0..=3,650).
    pub return_ship_days: Option<i64>,
    /// `shipping_refund` modulo 3: `never`, `on_full_return`, `pro_rata`.
    pub shipping_refund: u8,
    /// `refund_allocation`: 0 `most_recent_first`, otherwise
    /// `proportional`.
    pub refund_allocation: u8,
}

impl AfterSaleKnobs {
    /// The shipping refund policy it names.
    pub fn shipping_policy(&self) -> ShippingRefund {
        match self.shipping_refund % 3 {
            0 => ShippingRefund::Never,
            1 => ShippingRefund::OnFullReturn,
            _ => ShippingRefund::ProRata,
        }
    }

    /// The refund allocation it names.
    pub fn allocation(&self) -> RefundAllocation {
        if self.refund_allocation == 0 {
            RefundAllocation::MostRecentFirst
        } else {
            RefundAllocation::Proportional
        }
    }
}

/// The settings ranges of `docs/scenario-format.md` ("settings"), written
/// out here rather than taken from the engine.
mod ranges {
    /// `payment_timeout_minutes`: a minute to 30 days.
    pub const TIMEOUT: std::ops::RangeInclusive<i64> = 1..=43_200;
    /// `auto_complete_days`: 0 to ten years.
    pub const AUTO_COMPLETE: std::ops::RangeInclusive<i64> = 0..=3_650;
    /// `review.max_orders.count`.
    pub const REVIEW_COUNT: std::ops::RangeInclusive<i64> = 1..=1_000_000;
    /// `review.max_orders.minutes`: a minute to 365 days.
    pub const REVIEW_MINUTES: std::ops::RangeInclusive<i64> = 1..=525_600;
    /// `after_sale.request_window_days` and `return_ship_days`: 0 to ten
    /// years.
    pub const AFTER_SALE_DAYS: std::ops::RangeInclusive<i64> = 0..=3_650;
    /// `after_sale.auto_approve_hours`: 0 to a year.
    pub const AUTO_APPROVE_HOURS: std::ops::RangeInclusive<i64> = 0..=8_760;
}

/// True when a `review.max_orders` pair is within its ranges.
pub fn max_orders_in_range(count: i64, minutes: i64) -> bool {
    ranges::REVIEW_COUNT.contains(&count) && ranges::REVIEW_MINUTES.contains(&minutes)
}

/// What the model can tell about a successful answer (`None`: not
/// checked, except where a field says otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// Order status after the step.
    pub status: Option<OrderStatus>,
    /// Money back (cancel, reject, return, refund), in minor units. For an
    /// after-sale answer `None` means no refund.
    pub refund: Option<i64>,
    /// The shipping part of `refund`.
    pub shipping: Option<i64>,
    /// Points given back by a refund.
    pub points_returned: Option<i64>,
    /// on_hand at the location after an adjustment.
    pub on_hand: Option<i64>,
    /// Orders closed / completed by a tick, in placement order.
    pub tick: Option<(Vec<String>, Vec<String>)>,
    /// The after-sale request's status after the step.
    pub request: Option<ReturnStatus>,
    /// What is still due after a payment or a presale deposit.
    pub due: Option<i64>,
}

/// What the model expects the engine to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedOutcome {
    /// Success, with what the model can tell about the answer.
    Ok(Expected),
    /// Failure with this contract error code.
    Err(&'static str),
    /// The engine's quote breaks something the model knows (the step is
    /// then not applied).
    Inconsistent(String),
}

impl ExpectedOutcome {
    fn ok() -> Self {
        ExpectedOutcome::Ok(Expected::default())
    }

    fn status(s: OrderStatus) -> Self {
        ExpectedOutcome::Ok(Expected {
            status: Some(s),
            ..Expected::default()
        })
    }
}

/// Stock of one SKU at one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelLocation {
    /// Location id.
    pub location: String,
    /// Units held.
    pub on_hand: i64,
    /// Units reserved.
    pub reserved: i64,
    /// Safety stock.
    pub safety: i64,
    /// Backorder permission.
    pub backorder: bool,
    /// Priority.
    pub priority: i64,
}

/// A channel quota: (channel, allotted, taken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelQuota {
    /// Channel.
    pub channel: String,
    /// Units set aside.
    pub allotted: i64,
    /// Units reserved or sold through it.
    pub taken: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ModelSku {
    locations: Vec<ModelLocation>,
    quotas: Vec<ModelQuota>,
}

impl ModelSku {
    fn free_total(&self) -> i64 {
        self.locations
            .iter()
            .map(|l| (l.on_hand - l.reserved - l.safety).max(0))
            .sum()
    }

    fn pool(&self, channel: &str) -> (i64, Option<String>) {
        if let Some(q) = self.quotas.iter().find(|q| q.channel == channel) {
            let rem = (q.allotted - q.taken).max(0);
            return (rem.min(self.free_total()), Some(channel.to_string()));
        }
        let held: i64 = self
            .quotas
            .iter()
            .map(|q| (q.allotted - q.taken).max(0))
            .sum();
        ((self.free_total() - held).max(0), None)
    }
}

/// Units of a SKU held at a location (for a reservation or an order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelAlloc {
    /// SKU.
    pub sku: String,
    /// Location.
    pub location: String,
    /// Units.
    pub qty: i64,
    /// Quota channel, if taken from one.
    pub quota: Option<String>,
}

#[derive(Debug, Clone)]
struct ModelLine {
    sku: String,
    qty: i64,
    net: i64,
    points: i64,
}

/// One captured payment (`<order>-p<n>`): its amount and what went back
/// through it, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelPayment {
    /// Captured.
    pub amount: i64,
    /// Refunded through it.
    pub refunded: i64,
}

/// One after-sale record of an order (`<order>-r<n>`): a staged request,
/// or a one-step return (refunded at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRequest {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: AfterSaleKind,
    /// Units per line, as asked.
    pub lines: Vec<(usize, i64)>,
    /// Where it is.
    pub status: ReturnStatus,
    /// When it was filed (staged requests).
    pub requested_at: Option<DateTime<Utc>>,
    /// When it was approved (staged requests).
    pub approved_at: Option<DateTime<Utc>>,
    /// Return shipping the customer bears, in minor units.
    pub fee: i64,
}

/// One shipment of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelShipment {
    /// Id.
    pub id: String,
    /// Delivered.
    pub delivered: bool,
}

/// The model's view of one order.
#[derive(Debug, Clone)]
pub struct ModelOrder {
    /// Id.
    pub id: String,
    customer: Option<String>,
    /// Status.
    pub status: OrderStatus,
    held_from: Option<OrderStatus>,
    lines: Vec<ModelLine>,
    /// Payable in minor units.
    pub payable: i64,
    /// Paid in minor units.
    pub paid: i64,
    /// Refunded in minor units.
    pub refunded: i64,
    points_used: i64,
    points_total_deduction: i64,
    /// Points given back so far.
    pub points_returned: i64,
    coupons: Vec<String>,
    allocs: Vec<ModelAlloc>,
    held: Vec<ModelAlloc>,
    deadline: Option<DateTime<Utc>>,
    committed: bool,
    /// Units shipped per line.
    pub shipped: Vec<i64>,
    /// Units received back per line (one-step returns, received requests).
    pub returned: Vec<i64>,
    delivered_at: Option<DateTime<Utc>>,
    /// Units cancelled before shipment per line (partial cancel).
    pub cancelled: Vec<i64>,
    /// Units in open requests (requested, approved) per line.
    pub returning: Vec<i64>,
    /// Units refunded while the customer keeps them, per line.
    pub kept_refunded: Vec<i64>,
    /// Units whose money went back, per line (refund shares are taken
    /// first-first in this order).
    pub refunded_units: Vec<i64>,
    /// Per line, the location each shipped unit left from, in order.
    pub sources: Vec<Vec<String>>,
    /// The payments ledger.
    pub payments: Vec<ModelPayment>,
    /// Shipping charged, in minor units.
    pub shipping: i64,
    /// Shipping refunded so far.
    pub shipping_refunded: i64,
    /// After-sale records (`<order>-r1`…), one-step returns included.
    pub requests: Vec<ModelRequest>,
    /// Shipments in shipping order.
    pub shipments: Vec<ModelShipment>,
    /// The presale terms and phase, for a presale order.
    pub presale: Option<(PresaleTerms, PresalePhase)>,
}

impl ModelOrder {
    /// A freshly placed order: `pending_payment`, its stock held at
    /// `allocs`, nothing paid, shipped or refunded.
    fn new(id: &str, customer: Option<String>, q: &Quote, allocs: Vec<ModelAlloc>) -> Self {
        let n = q.lines.len();
        ModelOrder {
            id: id.to_string(),
            customer,
            status: OrderStatus::PendingPayment,
            held_from: None,
            lines: q
                .lines
                .iter()
                .map(|l| ModelLine {
                    sku: l.sku.clone(),
                    qty: l.qty,
                    net: minor(&l.net),
                    points: l.adjusted_at(Stage::Points).map_or(0, |m| minor(&m)),
                })
                .collect(),
            payable: minor(&q.totals.payable),
            paid: 0,
            refunded: 0,
            points_used: q.points_used,
            points_total_deduction: minor(&q.totals.points_deduction),
            points_returned: 0,
            coupons: q.coupons.clone(),
            allocs: allocs.clone(),
            held: allocs,
            deadline: None,
            committed: false,
            shipped: vec![0; n],
            returned: vec![0; n],
            delivered_at: None,
            cancelled: vec![0; n],
            returning: vec![0; n],
            kept_refunded: vec![0; n],
            refunded_units: vec![0; n],
            sources: vec![Vec::new(); n],
            payments: Vec::new(),
            shipping: minor(&q.totals.shipping),
            shipping_refunded: 0,
            requests: Vec::new(),
            shipments: Vec::new(),
            presale: None,
        }
    }

    /// Whether every unit is shipped or cancelled.
    fn all_shipped_or_cancelled(&self) -> bool {
        self.lines
            .iter()
            .enumerate()
            .all(|(i, l)| self.shipped[i] + self.cancelled[i] >= l.qty)
    }

    /// Whether every unit's money went back.
    fn all_refunded(&self) -> bool {
        self.lines
            .iter()
            .zip(&self.refunded_units)
            .all(|(l, r)| *r >= l.qty)
    }

    /// The presale phase while the balance is awaited.
    fn awaiting_balance(&self) -> Option<&PresaleTerms> {
        self.presale
            .as_ref()
            .filter(|(_, p)| *p == PresalePhase::Deposited)
            .map(|(t, _)| t)
    }

    /// The units of line `i` as (location, quota channel), in the order
    /// the order's allocations hold them (units of the same SKU on earlier
    /// lines first): where the units were sold from when stock commits at
    /// payment.
    fn unit_slots(&self, i: usize) -> Vec<(String, Option<String>)> {
        let Some(line) = self.lines.get(i) else {
            return Vec::new();
        };
        let before: i64 = self.lines[..i]
            .iter()
            .filter(|l| l.sku == line.sku)
            .map(|l| l.qty)
            .sum();
        let mut units: Vec<(String, Option<String>)> = Vec::new();
        for a in self.allocs.iter().filter(|a| a.sku == line.sku) {
            for _ in 0..a.qty {
                units.push((a.location.clone(), a.quota.clone()));
            }
        }
        units
            .into_iter()
            .skip(usize::try_from(before).unwrap_or(usize::MAX))
            .take(usize::try_from(line.qty).unwrap_or(0))
            .collect()
    }
}

#[derive(Debug, Clone)]
struct CouponDef {
    owner: Option<String>,
    usage_limit: Option<i64>,
    per_customer_limit: Option<i64>,
    group: String,
}

/// The reference model of a shop.
#[derive(Debug, Clone)]
pub struct ReferenceModel {
    now: DateTime<Utc>,
    settings: Settings,
    catalog: Vec<String>,
    orderable: Vec<String>,
    customers: Vec<String>,
    coupon_codes: Vec<String>,
    coupons: BTreeMap<String, CouponDef>,
    /// Live uses per coupon: (order, customer).
    coupon_uses: BTreeMap<String, Vec<(String, Option<String>)>>,
    stock: BTreeMap<String, ModelSku>,
    points: BTreeMap<String, i64>,
    orders: BTreeMap<String, ModelOrder>,
    placement: Vec<String>,
    /// The setup's presale promotion, if any.
    presale_rule: Option<presale::PresaleRule>,
}

/// The order id of slot `n`.
pub fn order_id(n: u8) -> String {
    format!("o{n}")
}

fn pick<T: Clone>(list: &[T], i: u8) -> Option<T> {
    if list.is_empty() {
        return None;
    }
    list.get(usize::from(i) % (list.len() + 1)).cloned()
}

impl ReferenceModel {
    /// The model of a freshly installed `setup`, at the generated shops'
    /// start time.
    pub fn new(setup: &ShopSetup) -> Self {
        Self::at(setup, epoch())
    }

    /// The model of `setup` at clock time `now`.
    pub fn at(setup: &ShopSetup, now: DateTime<Utc>) -> Self {
        let mut stock: BTreeMap<String, ModelSku> = BTreeMap::new();
        for l in &setup.locations {
            let s = stock.entry(l.sku.clone()).or_default();
            match s.locations.iter_mut().find(|x| x.location == l.location) {
                Some(x) => {
                    x.on_hand += l.on_hand;
                    x.safety = l.safety;
                    x.backorder = l.backorder;
                    x.priority = l.priority;
                }
                None => s.locations.push(ModelLocation {
                    location: l.location.clone(),
                    on_hand: l.on_hand,
                    reserved: 0,
                    safety: l.safety,
                    backorder: l.backorder,
                    priority: l.priority,
                }),
            }
        }
        for q in &setup.quotas {
            stock
                .entry(q.sku.clone())
                .or_default()
                .quotas
                .push(ModelQuota {
                    channel: q.channel.clone(),
                    allotted: q.qty,
                    taken: 0,
                });
        }
        ReferenceModel {
            now,
            settings: setup.settings.clone(),
            catalog: setup.skus(),
            orderable: setup.orderable(),
            customers: setup.customers.iter().map(|c| c.id.clone()).collect(),
            coupon_codes: setup.coupons.iter().map(|c| c.code.clone()).collect(),
            coupons: setup
                .coupons
                .iter()
                .map(|c| {
                    (
                        c.code.clone(),
                        CouponDef {
                            owner: c.owner.clone(),
                            usage_limit: c.usage_limit,
                            per_customer_limit: c.per_customer_limit,
                            group: c.group.clone(),
                        },
                    )
                })
                .collect(),
            coupon_uses: BTreeMap::new(),
            stock,
            points: setup
                .customers
                .iter()
                .map(|c| (c.id.clone(), c.points))
                .collect(),
            orders: BTreeMap::new(),
            placement: Vec::new(),
            presale_rule: presale::PresaleRule::of(setup),
        }
    }

    /// The model's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// (on_hand, reserved) at every location of every SKU the model knows.
    pub fn stock_levels(&self) -> Vec<(String, String, i64, i64)> {
        let mut out = Vec::new();
        for (sku, s) in &self.stock {
            for l in &s.locations {
                out.push((sku.clone(), l.location.clone(), l.on_hand, l.reserved));
            }
        }
        out
    }

    /// Quota `taken` counts: (sku, channel, taken).
    pub fn quota_levels(&self) -> Vec<(String, String, i64)> {
        let mut out = Vec::new();
        for (sku, s) in &self.stock {
            for q in &s.quotas {
                out.push((sku.clone(), q.channel.clone(), q.taken));
            }
        }
        out
    }

    /// Points balance per customer.
    pub fn points(&self) -> &BTreeMap<String, i64> {
        &self.points
    }

    /// Live uses per coupon code.
    pub fn coupon_live_uses(&self) -> BTreeMap<String, i64> {
        self.coupon_codes
            .iter()
            .map(|c| {
                let n = self.coupon_uses.get(c).map_or(0, Vec::len);
                (c.clone(), i64::try_from(n).unwrap_or(i64::MAX))
            })
            .collect()
    }

    /// Orders the model knows.
    pub fn orders(&self) -> impl Iterator<Item = &ModelOrder> {
        self.orders.values()
    }

    /// Resolves a step into the engine request it stands for (`None` for a
    /// tick: the runner moves the clock first). `payable` gives the payable
    /// of an order the model knows.
    pub fn request(&self, step: &Step) -> Option<Request> {
        Some(match step {
            Step::Place {
                order,
                customer,
                lines,
                coupons,
                points,
                channel,
            } => Request::PlaceOrder(mercato::PlaceOrderRequest {
                id: order_id(*order),
                customer: customer.and_then(|c| pick(&self.customers, c)),
                lines: lines
                    .iter()
                    .map(|(s, q)| mercato::rules::CartLine {
                        sku: pick(&self.orderable, *s).unwrap_or_else(|| "zz-unknown".into()),
                        qty: *q,
                    })
                    .collect(),
                coupons: coupons
                    .iter()
                    .map(|c| pick(&self.coupon_codes, *c).unwrap_or_else(|| "NOPE".into()))
                    .collect(),
                points: *points,
                channel: (*channel != 0).then(|| "app".to_string()),
            }),
            Step::Pay { order, exact } => {
                let id = order_id(*order);
                // What is still due after part payments.
                let payable = self.orders.get(&id).map_or(0, |o| o.payable - o.paid);
                Request::Pay {
                    order: id,
                    amount: crate::util::dec(if *exact { payable } else { payable + 1 }),
                }
            }
            Step::Hold { order } => Request::Hold(HoldOrder {
                order: order_id(*order),
                reasons: vec!["manual".into()],
            }),
            Step::Release { order } => Request::Release(OrderRef {
                order: order_id(*order),
            }),
            Step::Reject { order } => Request::Reject(OrderRef {
                order: order_id(*order),
            }),
            Step::Cancel { order } => Request::Cancel(OrderRef {
                order: order_id(*order),
            }),
            Step::Ship { order, lines } => Request::Ship {
                order: order_id(*order),
                lines: lines.as_ref().map(|l| line_qtys(l)),
            },
            Step::Deliver { order } => Request::Deliver {
                order: order_id(*order),
            },
            Step::Complete { order } => Request::Complete(OrderRef {
                order: order_id(*order),
            }),
            Step::Return {
                order,
                lines,
                restock,
            } => Request::Return {
                order: order_id(*order),
                lines: line_qtys(lines),
                restock: *restock,
            },
            Step::PayPart {
                order,
                percent,
                method,
            } => {
                let id = order_id(*order);
                let amount = self.part_amount(&id, *percent);
                Request::RecordPayment {
                    order: id,
                    method: if *method == 0 { "card" } else { "wallet" }.into(),
                    amount: crate::util::dec(amount),
                    reference: None,
                    key: None,
                }
            }
            Step::Goodwill { order, percent } => {
                let id = order_id(*order);
                let amount = self.goodwill_amount(&id, *percent);
                Request::Goodwill {
                    order: id,
                    amount: crate::util::dec(amount),
                }
            }
            Step::Tick { .. } => return None,
            Step::Settings { .. } => Request::UpdateSettings {
                settings: self.settings_for(step),
            },
            Step::Adjust {
                sku,
                location,
                delta,
            } => Request::AdjustStock(AdjustStock {
                sku: pick(&self.catalog, *sku).unwrap_or_else(|| "zz-unknown".into()),
                location: format!("l{}", location % 4),
                delta: *delta,
                reason: "count".into(),
            }),
            Step::RequestAfterSale { .. }
            | Step::AfterSale { .. }
            | Step::CancelUnits { .. }
            | Step::ShipShipment { .. }
            | Step::DeliverShipment { .. } => self.after_sale_request(step)?,
            Step::PresaleDeposit { .. } => self.presale_request(step)?,
        })
    }

    /// Applies `step`: the outcome the engine must give, and the model's
    /// state moved accordingly. `placed` is the quote the engine placed the
    /// order with, when a `Place` succeeded there.
    pub fn apply(&mut self, step: &Step, placed: Option<&Quote>) -> ExpectedOutcome {
        match step {
            Step::Tick { minutes } => self.tick(*minutes),
            Step::Place { .. } => self.place(step, placed),
            Step::Adjust { .. } => self.adjust(step),
            Step::Settings { .. } => self.update_settings(step),
            Step::Pay { order, exact } => self.pay(&order_id(*order), *exact),
            Step::PayPart { order, percent, .. } => self.pay_part(&order_id(*order), *percent),
            Step::Goodwill { order, percent } => self.goodwill(&order_id(*order), *percent),
            Step::Hold { order } => self.hold(&order_id(*order)),
            Step::Release { order } => self.release(&order_id(*order)),
            Step::Reject { order } => self.cancel(&order_id(*order), true),
            Step::Cancel { order } => self.cancel(&order_id(*order), false),
            Step::Ship { order, lines } => self.ship(&order_id(*order), lines.as_deref()),
            Step::Deliver { order } => {
                let now = self.now;
                // v1 `deliver`: every shipment not yet delivered with it.
                self.transition(&order_id(*order), &[OrderStatus::Shipped], |o| {
                    o.status = OrderStatus::Delivered;
                    o.delivered_at = Some(now);
                    for s in &mut o.shipments {
                        s.delivered = true;
                    }
                })
            }
            Step::Complete { order } => {
                self.transition(&order_id(*order), &[OrderStatus::Delivered], |o| {
                    o.status = OrderStatus::Completed;
                })
            }
            Step::Return {
                order,
                lines,
                restock,
            } => self.ret(&order_id(*order), lines, *restock),
            Step::RequestAfterSale {
                order,
                refund_only,
                lines,
                fee,
                ..
            } => self.request_after_sale(
                &order_id(*order),
                *refund_only,
                lines,
                fee.map_or(0, i64::from),
            ),
            Step::AfterSale { .. } => self.move_request(step),
            Step::CancelUnits { order, .. } => {
                let lines = self.cancel_lines(step);
                self.cancel_units(&order_id(*order), &lines)
            }
            Step::ShipShipment { .. } => self.ship_shipment(step),
            Step::DeliverShipment { .. } => self.deliver_shipment(step),
            Step::PresaleDeposit { .. } => self.presale_deposit(step, placed),
        }
    }

    fn transition(
        &mut self,
        id: &str,
        from: &[OrderStatus],
        f: impl FnOnce(&mut ModelOrder),
    ) -> ExpectedOutcome {
        let Some(o) = self.orders.get_mut(id) else {
            return ExpectedOutcome::Err("unknown_order");
        };
        if !from.contains(&o.status) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        f(o);
        ExpectedOutcome::status(o.status)
    }

    /// The settings a [`Step::Settings`] asks for (the current ones
    /// otherwise).
    fn settings_for(&self, step: &Step) -> Settings {
        let mut s = self.settings.clone();
        if let Step::Settings {
            payment_timeout_minutes,
            auto_complete_days,
            max_orders,
            after_sale,
        } = step
        {
            if let Some(k) = after_sale {
                s.after_sale.request_window_days = k.request_window_days;
                s.after_sale.auto_approve_hours = k.auto_approve_hours;
                s.after_sale.return_ship_days = k.return_ship_days;
                s.after_sale.shipping_refund = k.shipping_policy();
                s.after_sale.refund_allocation = k.allocation();
            }
            s.payment_timeout_minutes = *payment_timeout_minutes;
            s.auto_complete_days = *auto_complete_days;
            if let Some((count, minutes)) = max_orders
                && !max_orders_in_range(*count, *minutes)
            {
                let mut review = s.review.clone().unwrap_or_default();
                review.max_orders = Some(mercato::MaxOrders {
                    count: *count,
                    minutes: *minutes,
                });
                s.review = Some(review);
            }
        }
        s
    }

    fn update_settings(&mut self, step: &Step) -> ExpectedOutcome {
        let s = self.settings_for(step);
        let review_ok = s
            .review
            .as_ref()
            .and_then(|r| r.max_orders)
            .is_none_or(|m| max_orders_in_range(m.count, m.minutes));
        let a = &s.after_sale;
        let after_sale_ok = a
            .request_window_days
            .is_none_or(|d| ranges::AFTER_SALE_DAYS.contains(&d))
            && a.return_ship_days
                .is_none_or(|d| ranges::AFTER_SALE_DAYS.contains(&d))
            && a.auto_approve_hours
                .is_none_or(|h| ranges::AUTO_APPROVE_HOURS.contains(&h));
        if !ranges::TIMEOUT.contains(&s.payment_timeout_minutes)
            || !ranges::AUTO_COMPLETE.contains(&s.auto_complete_days)
            || !review_ok
            || !after_sale_ok
        {
            return ExpectedOutcome::Err("invalid_input");
        }
        self.settings = s;
        ExpectedOutcome::ok()
    }

    fn deadline(&self) -> DateTime<Utc> {
        self.now + Duration::minutes(self.settings.payment_timeout_minutes)
    }

    fn place(&mut self, step: &Step, placed: Option<&Quote>) -> ExpectedOutcome {
        let Some(Request::PlaceOrder(req)) = self.request(step) else {
            return ExpectedOutcome::Inconsistent("not a placement".into());
        };
        if self.orders.contains_key(&req.id) {
            return ExpectedOutcome::Err("duplicate_order_name");
        }
        if let Some(c) = &req.customer
            && !self.customers.contains(c)
        {
            return ExpectedOutcome::Err("unknown_customer");
        }
        if req.lines.is_empty() {
            return ExpectedOutcome::Err("empty_cart");
        }
        if req.lines.iter().any(|l| l.sku == "zz-unknown") {
            return ExpectedOutcome::Err("unknown_sku");
        }
        if req.lines.iter().any(|l| l.qty <= 0) {
            return ExpectedOutcome::Err("invalid_quantity");
        }
        if req.points < 0 {
            return ExpectedOutcome::Err("invalid_input");
        }
        // Coupons, in request order: ledger reasons only (see module docs).
        let mut groups: Vec<String> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for code in &req.coupons {
            let Some(def) = self.coupons.get(code) else {
                return ExpectedOutcome::Err("coupon_rejected");
            };
            if seen.contains(&code.as_str()) {
                return ExpectedOutcome::Err("coupon_rejected");
            }
            seen.push(code);
            if def.owner.is_some() && def.owner != req.customer {
                return ExpectedOutcome::Err("coupon_rejected");
            }
            let uses = self.coupon_uses.get(code).map_or(&[][..], Vec::as_slice);
            let live = i64::try_from(uses.len()).unwrap_or(i64::MAX);
            if def.usage_limit.is_some_and(|u| live >= u) {
                return ExpectedOutcome::Err("coupon_rejected");
            }
            if let (Some(c), Some(p)) = (&req.customer, def.per_customer_limit) {
                let mine = uses.iter().filter(|(_, u)| u.as_ref() == Some(c)).count();
                if i64::try_from(mine).unwrap_or(i64::MAX) >= p {
                    return ExpectedOutcome::Err("coupon_rejected");
                }
            }
            let in_group = groups.iter().filter(|g| **g == def.group).count();
            if i64::try_from(in_group).unwrap_or(i64::MAX)
                >= self.settings.pricing.max_coupons_per_group
            {
                return ExpectedOutcome::Err("coupon_rejected");
            }
            groups.push(def.group.clone());
        }
        // Stock for the cart lines.
        let channel = req.channel.clone().unwrap_or_else(|| "web".into());
        let cart: Vec<(String, i64)> = req.lines.iter().map(|l| (l.sku.clone(), l.qty)).collect();
        if self.reserve(&cart, &channel).is_err() {
            return ExpectedOutcome::Err("insufficient_stock");
        }
        let Some(q) = placed else {
            return ExpectedOutcome::ok();
        };
        // From here on, check and apply the engine's quote.
        let cart_lines: Vec<(String, i64)> = q
            .lines
            .iter()
            .filter(|l| !l.gift)
            .map(|l| (l.sku.clone(), l.qty))
            .collect();
        if cart_lines != cart {
            return ExpectedOutcome::Inconsistent(format!(
                "quote lines {cart_lines:?} differ from the cart {cart:?}"
            ));
        }
        let mut sorted_req = req.coupons.clone();
        sorted_req.sort();
        let mut sorted_q = q.coupons.clone();
        sorted_q.sort();
        if sorted_req != sorted_q {
            return ExpectedOutcome::Inconsistent(format!(
                "quote applied coupons {:?}, requested {:?}",
                q.coupons, req.coupons
            ));
        }
        let balance = req
            .customer
            .as_ref()
            .and_then(|c| self.points.get(c).copied())
            .unwrap_or(0);
        if q.points_used < 0 || q.points_used > req.points.min(balance) {
            return ExpectedOutcome::Inconsistent(format!(
                "points_used {} with {} requested and a balance of {balance}",
                q.points_used, req.points
            ));
        }
        let all: Vec<(String, i64)> = q.lines.iter().map(|l| (l.sku.clone(), l.qty)).collect();
        let Ok((stock, allocs)) = self.reserve(&all, &channel) else {
            return ExpectedOutcome::Inconsistent(format!(
                "the quote's lines {all:?} (gifts included) cannot all be reserved"
            ));
        };
        self.stock = stock;
        let payable = minor(&q.totals.payable);
        let review = self.settings.review.as_ref();
        let held = review.is_some_and(|r| {
            r.max_qty.is_some_and(|m| q.lines.iter().any(|l| l.qty > m))
                || r.max_payable.is_some_and(|m| q.totals.payable.amount() > m)
        });
        let mut o = ModelOrder::new(&req.id, req.customer.clone(), q, allocs);
        for code in &o.coupons {
            self.coupon_uses
                .entry(code.clone())
                .or_default()
                .push((o.id.clone(), o.customer.clone()));
        }
        if let Some(c) = &o.customer {
            *self.points.entry(c.clone()).or_insert(0) -= o.points_used;
        }
        if held {
            o.held_from = Some(OrderStatus::PendingPayment);
            o.status = OrderStatus::OnHold;
        } else if payable == 0 {
            self.pay_order(&mut o, 0);
        } else {
            o.deadline = Some(self.deadline());
        }
        let status = o.status;
        self.placement.push(o.id.clone());
        self.orders.insert(o.id.clone(), o);
        ExpectedOutcome::status(status)
    }

    /// Allocates `lines` on a copy of the stock: the stock after and the
    /// merged allocations, or `Err` when a line cannot be served.
    #[allow(clippy::type_complexity)]
    fn reserve(
        &self,
        lines: &[(String, i64)],
        channel: &str,
    ) -> Result<(BTreeMap<String, ModelSku>, Vec<ModelAlloc>), ()> {
        let mut stock = self.stock.clone();
        let mut out: Vec<ModelAlloc> = Vec::new();
        for (sku, qty) in lines {
            let s = stock.get_mut(sku).ok_or(())?;
            let (pool, quota) = s.pool(channel);
            // Locations by priority, higher first, ties in order of appearance.
            let mut order: Vec<usize> = (0..s.locations.len()).collect();
            order.sort_by_key(|i| std::cmp::Reverse(s.locations[*i].priority));
            let free = |l: &ModelLocation| l.on_hand - l.reserved - l.safety;
            let mut got: Vec<(usize, i64)> = Vec::new();
            if *qty <= pool
                && let Some(i) = order.iter().find(|i| free(&s.locations[**i]) >= *qty)
            {
                got.push((*i, *qty));
            }
            if got.is_empty() {
                let mut need = *qty;
                let mut budget = pool;
                for &i in &order {
                    let t = need.min(free(&s.locations[i]).max(0)).min(budget);
                    if t > 0 {
                        got.push((i, t));
                        need -= t;
                        budget -= t;
                    }
                }
                if need > 0
                    && quota.is_none()
                    && let Some(&i) = order.iter().find(|i| s.locations[**i].backorder)
                {
                    got.push((i, need));
                    need = 0;
                }
                if need > 0 {
                    return Err(());
                }
            }
            for (i, t) in got {
                s.locations[i].reserved += t;
                if let Some(c) = &quota
                    && let Some(q) = s.quotas.iter_mut().find(|q| &q.channel == c)
                {
                    q.taken += t;
                }
                let location = s.locations[i].location.clone();
                match out
                    .iter_mut()
                    .find(|a| &a.sku == sku && a.location == location && a.quota == quota)
                {
                    Some(a) => a.qty += t,
                    None => out.push(ModelAlloc {
                        sku: sku.clone(),
                        location,
                        qty: t,
                        quota: quota.clone(),
                    }),
                }
            }
        }
        Ok((stock, out))
    }

    fn loc_mut(&mut self, sku: &str, location: &str) -> Option<&mut ModelLocation> {
        self.stock
            .get_mut(sku)?
            .locations
            .iter_mut()
            .find(|l| l.location == location)
    }

    /// One sold unit back on the shelf at `location`, and its quota unit
    /// back to `quota`'s channel.
    fn unit_back(&mut self, sku: &str, location: &str, quota: Option<&str>) {
        if let Some(l) = self.loc_mut(sku, location) {
            l.on_hand += 1;
        }
        if let (Some(c), Some(s)) = (quota, self.stock.get_mut(sku))
            && let Some(q) = s.quotas.iter_mut().find(|q| q.channel == c)
        {
            q.taken = (q.taken - 1).max(0);
        }
    }

    fn quota_back(&mut self, a: &ModelAlloc) {
        if let (Some(c), Some(s)) = (&a.quota, self.stock.get_mut(&a.sku))
            && let Some(q) = s.quotas.iter_mut().find(|q| &q.channel == c)
        {
            q.taken = (q.taken - a.qty).max(0);
        }
    }

    /// Payment: stock committed (payment mode) or its expiry cleared; the
    /// rest of the payable is one payment (`pay`), nothing more when part
    /// payments captured it all (`record_payment`).
    fn pay_order(&mut self, o: &mut ModelOrder, amount: i64) {
        o.status = OrderStatus::Paid;
        if amount > 0 {
            o.payments.push(ModelPayment {
                amount,
                refunded: 0,
            });
        }
        o.paid += amount;
        o.deadline = None;
        if let Some((_, phase)) = &mut o.presale {
            *phase = PresalePhase::BalancePaid;
        }
        if self.settings.stock_commit == StockCommit::Payment {
            for a in std::mem::take(&mut o.held) {
                if let Some(l) = self.loc_mut(&a.sku, &a.location) {
                    l.on_hand -= a.qty;
                    l.reserved -= a.qty;
                }
            }
            o.committed = true;
        }
    }

    /// A presale order awaiting its balance takes a payment only inside the
    /// balance window (`docs/presale.md`): before it opens and from the
    /// deadline on, `invalid_transition`; inside it, only exactly what is
    /// due (`payment_mismatch` otherwise).
    fn presale_payment(&self, o: &ModelOrder, amount: i64) -> Result<(), &'static str> {
        let Some(t) = o.awaiting_balance() else {
            return Ok(());
        };
        if self.now < t.balance_from || self.now >= t.balance_until {
            return Err("invalid_transition");
        }
        if amount != o.payable - o.paid {
            return Err("payment_mismatch");
        }
        Ok(())
    }

    fn pay(&mut self, id: &str, exact: bool) -> ExpectedOutcome {
        let Some(mut o) = self.orders.get(id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        if o.status != OrderStatus::PendingPayment {
            return ExpectedOutcome::Err("invalid_transition");
        }
        // `pay` pays what is still due after part payments.
        let amount = o.payable - o.paid;
        let offered = if exact { amount } else { amount + 1 };
        if let Err(code) = self.presale_payment(&o, offered) {
            return ExpectedOutcome::Err(code);
        }
        if !exact {
            return ExpectedOutcome::Err("payment_mismatch");
        }
        self.pay_order(&mut o, amount);
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::status(OrderStatus::Paid)
    }

    /// The amount a [`Step::PayPart`] offers: `percent` % of what is due,
    /// or one minor unit more than is due above 100 %.
    fn part_amount(&self, id: &str, percent: u8) -> i64 {
        let due = self.orders.get(id).map_or(0, |o| o.payable - o.paid);
        if percent > 100 {
            due + 1
        } else {
            due * i64::from(percent) / 100
        }
    }

    /// The amount a [`Step::Goodwill`] asks for: `percent` % of what is
    /// refundable, or one minor unit more above 100 %.
    fn goodwill_amount(&self, id: &str, percent: u8) -> i64 {
        let left = self.orders.get(id).map_or(0, |o| o.paid - o.refunded);
        if percent > 100 {
            left + 1
        } else {
            left * i64::from(percent) / 100
        }
    }

    /// `record_payment` (docs/order-lifecycle.md, "Payments ledger"): a
    /// positive amount, while `pending_payment`, at most what is due; the
    /// order is paid when the captures reach the payable.
    fn pay_part(&mut self, id: &str, percent: u8) -> ExpectedOutcome {
        let amount = self.part_amount(id, percent);
        let Some(mut o) = self.orders.get(id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        if amount <= 0 {
            return ExpectedOutcome::Err("invalid_input");
        }
        if o.status != OrderStatus::PendingPayment {
            return ExpectedOutcome::Err("invalid_transition");
        }
        if let Err(code) = self.presale_payment(&o, amount) {
            return ExpectedOutcome::Err(code);
        }
        let due = o.payable - o.paid;
        if amount > due {
            return ExpectedOutcome::Err("payment_mismatch");
        }
        if amount == due {
            // The last part: captured, then the order is paid (no second
            // payment for what the parts captured).
            o.payments.push(ModelPayment {
                amount,
                refunded: 0,
            });
            o.paid += amount;
            self.pay_order(&mut o, 0);
        } else {
            o.payments.push(ModelPayment {
                amount,
                refunded: 0,
            });
            o.paid += amount;
        }
        let status = o.status;
        let left = o.payable - o.paid;
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::Ok(Expected {
            status: Some(status),
            due: Some(left),
            ..Expected::default()
        })
    }

    /// `goodwill_refund` (docs/scenario-format.md): from `paid` through
    /// `completed`; zero is `invalid_transition`, more than is refundable
    /// `invalid_input`.
    fn goodwill(&mut self, id: &str, percent: u8) -> ExpectedOutcome {
        let amount = self.goodwill_amount(id, percent);
        let Some(mut o) = self.orders.get(id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        if !matches!(
            o.status,
            OrderStatus::Paid
                | OrderStatus::PartiallyShipped
                | OrderStatus::Shipped
                | OrderStatus::Delivered
                | OrderStatus::Completed
        ) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        if amount == 0 {
            return ExpectedOutcome::Err("invalid_transition");
        }
        if amount > o.paid - o.refunded {
            return ExpectedOutcome::Err("invalid_input");
        }
        self.book_refund(&mut o, amount, 0);
        let status = o.status;
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::Ok(Expected {
            status: Some(status),
            refund: Some(amount),
            shipping: Some(0),
            points_returned: Some(0),
            ..Expected::default()
        })
    }

    fn hold(&mut self, id: &str) -> ExpectedOutcome {
        // A presale order awaiting its balance is never held.
        if self
            .orders
            .get(id)
            .is_some_and(|o| o.awaiting_balance().is_some())
        {
            return ExpectedOutcome::Err("invalid_transition");
        }
        self.transition(id, &[OrderStatus::PendingPayment, OrderStatus::Paid], |o| {
            o.held_from = Some(o.status);
            o.status = OrderStatus::OnHold;
            o.deadline = None;
        })
    }

    fn release(&mut self, id: &str) -> ExpectedOutcome {
        let dl = self.deadline();
        self.transition(id, &[OrderStatus::OnHold], |o| {
            o.status = o.held_from.take().unwrap_or(OrderStatus::PendingPayment);
            if o.status == OrderStatus::PendingPayment {
                o.deadline = Some(dl);
            }
        })
    }

    /// Everything a dead order gives back: stock, coupons, points. What a
    /// partial cancel gave back already is not given back again.
    fn give_back(&mut self, o: &mut ModelOrder) {
        for a in std::mem::take(&mut o.held) {
            if let Some(l) = self.loc_mut(&a.sku, &a.location) {
                l.reserved -= a.qty;
            }
            self.quota_back(&a);
        }
        if o.committed {
            // The units sold and not cancelled: the first units of each
            // line (a partial cancel gave back the last ones).
            // (each with its quota unit: the order never happened).
            for i in 0..o.lines.len() {
                let kept = usize::try_from(o.lines[i].qty - o.cancelled[i]).unwrap_or(0);
                let sku = o.lines[i].sku.clone();
                for (loc, quota) in o.unit_slots(i).into_iter().take(kept) {
                    self.unit_back(&sku, &loc, quota.as_deref());
                }
            }
        }
        for code in &o.coupons {
            if let Some(uses) = self.coupon_uses.get_mut(code) {
                uses.retain(|(ord, _)| ord != &o.id);
            }
        }
        if let Some(c) = &o.customer {
            *self.points.entry(c.clone()).or_insert(0) += o.points_used - o.points_returned;
        }
        o.deadline = None;
    }

    /// What a dead order refunds: everything captured and not refunded —
    /// except a presale deposit under `forfeit` when the balance is unpaid
    /// (a reviewer's rejection always refunds).
    fn lapse_refund(o: &ModelOrder, rejected: bool) -> i64 {
        match o.awaiting_balance() {
            Some(t) if !t.refund_unpaid && !rejected => 0,
            _ => o.paid - o.refunded,
        }
    }

    /// The presale phase a dead presale order ends in.
    fn lapse_phase(o: &mut ModelOrder, refund: i64) {
        let forfeited = o.paid - o.refunded - refund;
        if let Some((_, phase)) = &mut o.presale
            && *phase == PresalePhase::Deposited
        {
            *phase = if forfeited > 0 {
                PresalePhase::Forfeited
            } else {
                PresalePhase::DepositRefunded
            };
        }
    }

    fn cancel(&mut self, id: &str, reject: bool) -> ExpectedOutcome {
        let Some(mut o) = self.orders.get(id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        let allowed: &[OrderStatus] = if reject {
            &[OrderStatus::OnHold]
        } else {
            &[
                OrderStatus::PendingPayment,
                OrderStatus::OnHold,
                OrderStatus::Paid,
            ]
        };
        if !allowed.contains(&o.status) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        // What was captured and not yet refunded (a goodwill refund or a
        // partial cancel before the cancel has already gone back).
        let refund = Self::lapse_refund(&o, reject);
        Self::lapse_phase(&mut o, refund);
        self.give_back(&mut o);
        o.status = OrderStatus::Cancelled;
        self.book_refund(&mut o, refund, 0);
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::Ok(Expected {
            status: Some(OrderStatus::Cancelled),
            refund: Some(refund),
            ..Expected::default()
        })
    }

    /// Checks units per line against `left`: the contract's
    /// `invalid_quantity` / `invalid_transition` split.
    fn units(
        o: &ModelOrder,
        lines: &[(u8, i64)],
        left: impl Fn(usize) -> i64,
    ) -> Result<Vec<i64>, &'static str> {
        if lines.is_empty() {
            return Err("invalid_transition");
        }
        let mut want = vec![0_i64; o.lines.len()];
        for (line, qty) in lines {
            if *qty <= 0 {
                return Err("invalid_quantity");
            }
            let Some(w) = want.get_mut(usize::from(*line)) else {
                return Err("invalid_transition");
            };
            *w = w.saturating_add(*qty);
        }
        if want.iter().enumerate().any(|(i, w)| *w > left(i)) {
            return Err("invalid_transition");
        }
        Ok(want)
    }

    fn ship(&mut self, id: &str, lines: Option<&[(u8, i64)]>) -> ExpectedOutcome {
        let Some(o) = self.orders.get(id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        // The contract's order: a quantity below 1 before the status.
        if lines.is_some_and(|l| l.iter().any(|(_, q)| *q <= 0)) {
            return ExpectedOutcome::Err("invalid_quantity");
        }
        if !matches!(o.status, OrderStatus::Paid | OrderStatus::PartiallyShipped) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        let left: Vec<i64> = (0..o.lines.len())
            .map(|i| o.lines[i].qty - o.shipped[i] - o.cancelled[i])
            .collect();
        let pairs: Vec<(u8, i64)> = match lines {
            Some(l) => l.to_vec(),
            None => left
                .iter()
                .enumerate()
                .filter(|(_, q)| **q > 0)
                .map(|(i, q)| (u8::try_from(i).unwrap_or(u8::MAX), *q))
                .collect(),
        };
        if let Err(code) = Self::units(&o, &pairs, |i| left[i]) {
            return ExpectedOutcome::Err(code);
        }
        // v1 `ship`: one shipment `<order>-s<n>`, the first n from
        // shipments + 1 not taken.
        let mut n = o.shipments.len() + 1;
        let sid = loop {
            let sid = format!("{id}-s{n}");
            if !o.shipments.iter().any(|s| s.id == sid) {
                break sid;
            }
            n += 1;
        };
        let entries: Vec<(usize, i64)> = pairs.iter().map(|(l, q)| (usize::from(*l), *q)).collect();
        self.ship_units(id, o, sid, &entries)
    }

    /// Ships `entries` (line, qty; checked) of `o` as shipment `sid`: the
    /// units leave from the stock held for their SKU, first-first in the
    /// order the reservation holds it (stock commit on shipment), or from
    /// the order's allocations in order, after the units shipped before
    /// (commit on payment).
    fn ship_units(
        &mut self,
        id: &str,
        mut o: ModelOrder,
        sid: String,
        entries: &[(usize, i64)],
    ) -> ExpectedOutcome {
        let from_held = self.settings.stock_commit == StockCommit::Shipment && !o.held.is_empty();
        for (line, qty) in entries {
            let i = *line;
            if from_held {
                let sku = o.lines[i].sku.clone();
                let mut need = *qty;
                for h in o.held.iter_mut().filter(|h| h.sku == sku) {
                    let t = need.min(h.qty);
                    if t > 0 {
                        h.qty -= t;
                        need -= t;
                        for _ in 0..t {
                            o.sources[i].push(h.location.clone());
                        }
                        if let Some(l) = self
                            .stock
                            .get_mut(&h.sku)
                            .and_then(|s| s.locations.iter_mut().find(|l| l.location == h.location))
                        {
                            l.on_hand -= t;
                            l.reserved -= t;
                        }
                    }
                }
            } else {
                let from = usize::try_from(o.shipped[i]).unwrap_or(usize::MAX);
                let k = usize::try_from(*qty).unwrap_or(0);
                let taken: Vec<String> = o
                    .unit_slots(i)
                    .into_iter()
                    .skip(from)
                    .take(k)
                    .map(|(loc, _)| loc)
                    .collect();
                o.sources[i].extend(taken);
            }
            o.shipped[i] += qty;
        }
        o.held.retain(|h| h.qty > 0);
        let all = o.all_shipped_or_cancelled();
        if all && from_held {
            o.committed = true;
        }
        o.status = if all {
            OrderStatus::Shipped
        } else {
            OrderStatus::PartiallyShipped
        };
        o.shipments.push(ModelShipment {
            id: sid,
            delivered: false,
        });
        let status = o.status;
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::status(status)
    }

    /// Restocks the units `entries` (line, qty) that come back, given the
    /// units of each line received before: the `n`-th unit received back
    /// is the `n`-th shipped one, and goes back where it left from.
    fn restock_returned(&mut self, o: &ModelOrder, entries: &[(usize, i64)]) {
        let mut taken = o.returned.clone();
        for (i, qty) in entries {
            let sku = o.lines[*i].sku.clone();
            let from = usize::try_from(taken[*i]).unwrap_or(usize::MAX);
            let k = usize::try_from(*qty).unwrap_or(0);
            for loc in o.sources[*i].iter().skip(from).take(k) {
                if let Some(x) = self.loc_mut(&sku, loc) {
                    x.on_hand += 1;
                }
            }
            taken[*i] += qty;
        }
    }

    /// The one-step `return`: a request approved, received (restocked or
    /// not) and refunded in one append.
    fn ret(&mut self, id: &str, lines: &[(u8, i64)], restock: bool) -> ExpectedOutcome {
        let Some(mut o) = self.orders.get(id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        if lines.iter().any(|(_, q)| *q <= 0) {
            return ExpectedOutcome::Err("invalid_quantity");
        }
        if !matches!(o.status, OrderStatus::Delivered | OrderStatus::Completed) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        let left: Vec<i64> = (0..o.lines.len())
            .map(|i| o.shipped[i] - o.returned[i] - o.returning[i] - o.kept_refunded[i])
            .collect();
        if let Err(code) = Self::units(&o, lines, |i| left[i]) {
            return ExpectedOutcome::Err(code);
        }
        let entries: Vec<(usize, i64)> = lines.iter().map(|(l, q)| (usize::from(*l), *q)).collect();
        if restock {
            self.restock_returned(&o, &entries);
        }
        for (i, q) in &entries {
            o.returned[*i] += q;
        }
        let r = self.unit_refund(&o, &entries, true, 0);
        self.book_unit_refund(&mut o, &entries, &r);
        o.requests.push(ModelRequest {
            id: format!("{id}-r{}", o.requests.len() + 1),
            kind: AfterSaleKind::ReturnRefund,
            lines: entries,
            status: ReturnStatus::Refunded,
            requested_at: None,
            approved_at: None,
            fee: 0,
        });
        if o.all_refunded() {
            o.status = OrderStatus::Returned;
        }
        let status = o.status;
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::Ok(Expected {
            status: Some(status),
            refund: Some(r.amount),
            shipping: Some(r.shipping),
            points_returned: Some(r.points),
            ..Expected::default()
        })
    }

    fn tick(&mut self, minutes: u32) -> ExpectedOutcome {
        self.now += Duration::minutes(i64::from(minutes));
        let now = self.now;
        let days = Duration::days(self.settings.auto_complete_days);
        let approve_after = self
            .settings
            .after_sale
            .auto_approve_hours
            .map(Duration::hours);
        let close_after = self
            .settings
            .after_sale
            .return_ship_days
            .map(Duration::days);
        let mut closed = Vec::new();
        let mut completed = Vec::new();
        for id in self.placement.clone() {
            let Some(mut o) = self.orders.get(&id).cloned() else {
                continue;
            };
            // After-sale timers: a request without a decision is approved,
            // an approved return whose goods did not come back is closed.
            for r in &mut o.requests {
                match r.status {
                    ReturnStatus::Requested
                        if r.requested_at
                            .zip(approve_after)
                            .is_some_and(|(t, d)| t + d <= now) =>
                    {
                        r.status = ReturnStatus::Approved;
                        r.approved_at = Some(now);
                    }
                    ReturnStatus::Approved
                        if r.kind == AfterSaleKind::ReturnRefund
                            && r.approved_at
                                .zip(close_after)
                                .is_some_and(|(t, d)| t + d <= now) =>
                    {
                        r.status = ReturnStatus::Closed;
                        for (i, q) in &r.lines {
                            o.returning[*i] -= q;
                        }
                    }
                    _ => {}
                }
            }
            if o.status == OrderStatus::PendingPayment && o.deadline.is_some_and(|d| d <= now) {
                // Part payments captured before the deadline go back; a
                // presale deposit as its promotion says.
                let refund = Self::lapse_refund(&o, false);
                Self::lapse_phase(&mut o, refund);
                self.give_back(&mut o);
                o.status = OrderStatus::Closed;
                self.book_refund(&mut o, refund, 0);
                closed.push(id.clone());
            } else if o.status == OrderStatus::Delivered
                && o.delivered_at.is_some_and(|d| d + days <= now)
            {
                o.status = OrderStatus::Completed;
                completed.push(id.clone());
            }
            self.orders.insert(id, o);
        }
        ExpectedOutcome::Ok(Expected {
            tick: Some((closed, completed)),
            ..Expected::default()
        })
    }

    fn adjust(&mut self, step: &Step) -> ExpectedOutcome {
        let Some(Request::AdjustStock(AdjustStock {
            sku,
            location,
            delta,
            ..
        })) = self.request(step)
        else {
            return ExpectedOutcome::Inconsistent("not an adjustment".into());
        };
        if !self.catalog.contains(&sku) {
            return ExpectedOutcome::Err("unknown_sku");
        }
        let s = self.stock.entry(sku).or_default();
        match s.locations.iter_mut().find(|l| l.location == location) {
            None if delta < 0 => ExpectedOutcome::Err("insufficient_stock"),
            None => {
                s.locations.push(ModelLocation {
                    location,
                    on_hand: delta,
                    reserved: 0,
                    safety: 0,
                    backorder: false,
                    priority: 0,
                });
                on_hand(delta)
            }
            Some(l) => {
                if !l.backorder && l.on_hand + delta < l.reserved {
                    return ExpectedOutcome::Err("insufficient_stock");
                }
                l.on_hand += delta;
                on_hand(l.on_hand)
            }
        }
    }
}

fn on_hand(n: i64) -> ExpectedOutcome {
    ExpectedOutcome::Ok(Expected {
        on_hand: Some(n),
        ..Expected::default()
    })
}

fn line_qtys(l: &[(u8, i64)]) -> Vec<mercato::core::order::LineQty> {
    l.iter()
        .map(|(line, qty)| mercato::core::order::LineQty {
            line: usize::from(*line),
            qty: *qty,
        })
        .collect()
}
