//! The order: its [`OrderStatus`] lifecycle, the [`OrderEvent`]s that move it,
//! after-sale [`ReturnRecord`]s, and the refund arithmetic that comes from the
//! lines' net amounts.
//!
//! Which transitions exist is one table, [`OrderStatus::allows`]; the
//! composite [`crate::shop::Shop`] decides commands against it and emits the
//! order events together with the stock, coupon and points events they imply.
//!
//! Refunds: a line's net is split over its units by largest remainder (ties:
//! earlier unit), so 3 units with net 20.00 are worth 6.67, 6.67, 6.66 and
//! returning every unit refunds exactly the line's net. Returns take units
//! first-first. The same split applies to a line's points deduction.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aftersale::AfterSaleKind;
use crate::error::CoreError;
use crate::money::Money;
use crate::payments::{
    PaymentRecord, PaymentShare, RefundAllocation, RefundKind, RefundRecord, allocate_refund,
};
use crate::quote::Quote;
use crate::shipment::{Package, ShipmentRecord, UnitSource};
use crate::stock::Allocation;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, waiting for payment (stock reserved, coupons locked, points spent).
    PendingPayment,
    /// Held for review (订单审核); keeps its reservation.
    OnHold,
    /// Paid, nothing shipped yet.
    Paid,
    /// Some units shipped.
    PartiallyShipped,
    /// Every unit shipped.
    Shipped,
    /// Delivered to the customer.
    Delivered,
    /// Confirmed (by the customer or automatically).
    Completed,
    /// Every unit came back through returns.
    Returned,
    /// Cancelled before shipment (by customer, merchant or review).
    Cancelled,
    /// Closed unpaid after the payment deadline.
    Closed,
}

/// What can be done to an order; the columns of the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderAction {
    /// Pay the payable.
    Pay,
    /// Put on hold for review.
    Hold,
    /// Release from hold.
    Release,
    /// Reject in review (cancels).
    Reject,
    /// Cancel before shipment.
    Cancel,
    /// Close unpaid after the deadline.
    Close,
    /// Ship some or all units.
    Ship,
    /// Mark delivered.
    Deliver,
    /// Confirm receipt.
    Complete,
    /// Start a return (a one-step return, or a staged `return_refund`
    /// request).
    Return,
    /// Cancel some units not yet shipped (partial cancel).
    CancelUnits,
    /// Refund money while the customer keeps the goods: a staged
    /// `refund_only` request of shipped units, or a goodwill amount.
    Refund,
}

impl OrderAction {
    /// Every action, for exhaustive tests.
    pub const ALL: [OrderAction; 12] = [
        OrderAction::Pay,
        OrderAction::Hold,
        OrderAction::Release,
        OrderAction::Reject,
        OrderAction::Cancel,
        OrderAction::Close,
        OrderAction::Ship,
        OrderAction::Deliver,
        OrderAction::Complete,
        OrderAction::Return,
        OrderAction::CancelUnits,
        OrderAction::Refund,
    ];

    /// Lower-case name used in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderAction::Pay => "pay",
            OrderAction::Hold => "hold",
            OrderAction::Release => "release",
            OrderAction::Reject => "reject",
            OrderAction::Cancel => "cancel",
            OrderAction::Close => "close",
            OrderAction::Ship => "ship",
            OrderAction::Deliver => "deliver",
            OrderAction::Complete => "complete",
            OrderAction::Return => "return",
            OrderAction::CancelUnits => "cancel_units",
            OrderAction::Refund => "refund",
        }
    }
}

/// `status == "paid"`: compares with the contract name.
impl PartialEq<str> for OrderStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// `status == "paid"`: compares with the contract name.
impl PartialEq<&str> for OrderStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The contract name, as [`OrderStatus::as_str`] gives it.
///
/// ```
/// use mercato_core::order::OrderStatus;
/// assert_eq!(OrderStatus::PendingPayment.to_string(), "pending_payment");
/// assert_eq!(format!("[{:<8}]", OrderStatus::Paid), "[paid    ]");
/// ```
impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl OrderStatus {
    /// Every status, for exhaustive tests.
    pub const ALL: [OrderStatus; 10] = [
        OrderStatus::PendingPayment,
        OrderStatus::OnHold,
        OrderStatus::Paid,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderStatus::Returned,
        OrderStatus::Cancelled,
        OrderStatus::Closed,
    ];

    /// The contract name (`"pending_payment"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::OnHold => "on_hold",
            OrderStatus::Paid => "paid",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Returned => "returned",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Closed => "closed",
        }
    }

    /// The transition table: whether `action` is allowed in this status.
    /// (Whether a partial ship or return fits the units left is checked
    /// separately.)
    pub fn allows(self, action: OrderAction) -> bool {
        use OrderAction as A;
        use OrderStatus as S;
        matches!(
            (self, action),
            (S::PendingPayment, A::Pay | A::Hold | A::Cancel | A::Close)
                | (S::OnHold, A::Release | A::Reject | A::Cancel)
                | (
                    S::Paid,
                    A::Hold | A::Cancel | A::Ship | A::CancelUnits | A::Refund
                )
                | (S::PartiallyShipped, A::Ship | A::CancelUnits | A::Refund)
                | (S::Shipped, A::Deliver | A::Refund)
                | (S::Delivered, A::Complete | A::Return | A::Refund)
                | (S::Completed, A::Return | A::Refund)
        )
    }

    /// Live orders count toward limits; cancelled and closed ones give them back.
    pub fn is_live(self) -> bool {
        !matches!(self, OrderStatus::Cancelled | OrderStatus::Closed)
    }
}

/// Units of one order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineQty {
    /// Line index in the order's quote.
    pub line: usize,
    /// Units.
    pub qty: i64,
}

/// Where a return is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    /// Asked for by the customer.
    Requested,
    /// Accepted by the merchant.
    Approved,
    /// Refused by the merchant.
    Rejected,
    /// Goods are back.
    Received,
    /// Money is back.
    Refunded,
    /// Withdrawn by the customer before a decision.
    Withdrawn,
    /// Closed because the goods were not sent back in time (an exchange:
    /// or its price difference not paid in time).
    Closed,
    /// An exchange approved with a price difference to pay, waiting for
    /// the payment (see [`crate::exchange`]).
    PendingPayment,
    /// An exchange done: the goods are back and the replacement units are
    /// order lines of their own.
    Exchanged,
}

impl ReturnStatus {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnStatus::Requested => "requested",
            ReturnStatus::Approved => "approved",
            ReturnStatus::Rejected => "rejected",
            ReturnStatus::Received => "received",
            ReturnStatus::Refunded => "refunded",
            ReturnStatus::Withdrawn => "withdrawn",
            ReturnStatus::Closed => "closed",
            ReturnStatus::PendingPayment => "pending_payment",
            ReturnStatus::Exchanged => "exchanged",
        }
    }
}

/// One after-sale return of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRecord {
    /// Return id.
    pub id: String,
    /// Lines and units.
    pub lines: Vec<LineQty>,
    /// Put the units back into stock on receipt.
    pub restock: bool,
    /// Where it is.
    pub status: ReturnStatus,
    /// Money refunded (once refunded).
    pub refund: Option<Money>,
    /// Points given back (once refunded).
    pub points_returned: i64,
    /// What is asked for (default `return_refund`).
    #[serde(default)]
    pub kind: AfterSaleKind,
    /// The customer's reason code.
    #[serde(default)]
    pub reason_code: Option<String>,
    /// The customer's free text.
    #[serde(default)]
    pub note: Option<String>,
    /// When it was requested (`None` for one-step returns of old logs).
    #[serde(default)]
    pub requested_at: Option<DateTime<Utc>>,
    /// When it was approved.
    #[serde(default)]
    pub approved_at: Option<DateTime<Utc>>,
    /// Return shipping the customer bears, deducted from the refund
    /// (`None`: the merchant pays it).
    #[serde(default)]
    pub return_shipping_fee: Option<Money>,
    /// Received damaged (never restocked).
    #[serde(default)]
    pub damaged: bool,
    /// An exchange's terms and progress (kind `exchange`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<crate::exchange::Exchange>,
}

impl ReturnRecord {
    /// Whether the request still holds its units (requested, approved, or
    /// received and not yet refunded).
    pub fn is_open(&self) -> bool {
        matches!(
            self.status,
            ReturnStatus::Requested
                | ReturnStatus::Approved
                | ReturnStatus::Received
                | ReturnStatus::PendingPayment
        )
    }
}

/// An order as the events built it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Order id.
    pub id: String,
    /// Placement sequence number (0 for the first order of the shop).
    pub seq: u64,
    /// The customer, if any.
    pub customer: Option<String>,
    /// Sales channel (web, app, store, marketplace...).
    pub channel: String,
    /// The priced lines and totals it was placed with (shared with the
    /// `placed` event it came from: a quote never changes after placement).
    pub quote: Arc<Quote>,
    /// Where its stock is held or was taken from.
    pub allocations: Vec<Allocation>,
    /// Status.
    pub status: OrderStatus,
    /// The status a held order returns to on release.
    pub held_from: Option<OrderStatus>,
    /// Why it was held.
    pub hold_reasons: Vec<String>,
    /// Placement time.
    pub placed_at: DateTime<Utc>,
    /// Payment deadline while pending payment.
    pub deadline: Option<DateTime<Utc>>,
    /// Delivery time.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Money paid.
    pub paid: Money,
    /// Money refunded so far (cancel and returns).
    pub refunded: Money,
    /// Units shipped per line.
    pub shipped: Vec<i64>,
    /// Units returned (received) per line.
    pub returned: Vec<i64>,
    /// Units in returns that are requested or approved but not yet received.
    pub returning: Vec<i64>,
    /// Units whose money went back (refunds take unit ranges in this order).
    pub refunded_units: Vec<i64>,
    /// After-sale returns.
    pub returns: Vec<ReturnRecord>,
    /// Points given back so far.
    pub points_returned: i64,
    /// Discount held back by `reprice` refunds so far.
    pub held_back: Money,
    /// Whether stock was committed (sold) for the whole order already.
    pub stock_committed: bool,
    /// The payments ledger: every captured payment, in order.
    #[serde(default)]
    pub payments: Vec<PaymentRecord>,
    /// Every refund, in order, with the payments it went back through.
    #[serde(default)]
    pub refunds: Vec<RefundRecord>,
    /// Units cancelled before shipment per line (partial cancel).
    #[serde(default)]
    pub cancelled: Vec<i64>,
    /// Units refunded while the customer keeps them (refund-only) per line.
    #[serde(default)]
    pub kept_refunded: Vec<i64>,
    /// The presale terms and phase of a presale order (`None`: an ordinary
    /// order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presale: Option<crate::presale::Presale>,
    /// Its shipments, in the order they were shipped.
    #[serde(default)]
    pub shipments: Vec<ShipmentRecord>,
    /// The lines exchanges added (line `quote.lines.len() + i` is
    /// `exchange_lines[i]`; read every line through [`Order::line`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchange_lines: Vec<crate::exchange::ExchangeLine>,
    /// Units of each line exchanged away (replaced by an exchange line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchanged: Vec<i64>,
}

/// `v[i]`, or 0 when `v` is shorter (fields added after a snapshot was
/// written start empty).
pub(crate) fn at(v: &[i64], i: usize) -> i64 {
    v.get(i).copied().unwrap_or(0)
}

/// Adds `lines` to the per-line counter `v` (grown to `n` lines first).
pub(crate) fn add_lines(v: &mut Vec<i64>, n: usize, lines: &[LineQty], sign: i64) {
    if v.len() < n {
        v.resize(n, 0);
    }
    for lq in lines {
        if let Some(x) = v.get_mut(lq.line) {
            *x += sign * lq.qty;
        }
    }
}

/// What a return of some units is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnValue {
    /// Σ nets of the returned units (after points): the pro-rata refund.
    pub pro_rata: Money,
    /// Σ points deductions of the returned units.
    pub points_deduction: Money,
    /// Σ nets before points of the returned units.
    pub net_before_points: Money,
}

/// Σ of the shares of units `from..from+k` when `total` is split over `qty`
/// units by largest remainder with ties to the earlier unit.
pub fn unit_range_share(total: Money, qty: i64, from: i64, k: i64) -> Result<Money, CoreError> {
    if qty <= 0 || from < 0 || k < 0 || from.checked_add(k).is_none_or(|end| end > qty) {
        return Err(CoreError::InvalidQuantity {
            what: "unit range".into(),
            qty: k,
        });
    }
    let n = total.to_minor()?;
    let q = i128::from(qty);
    let (base, extra) = (n.div_euclid(q), n.rem_euclid(q));
    let (from, k) = (i128::from(from), i128::from(k));
    let bonus = (extra.min(from + k) - from).max(0);
    let units = base
        .checked_mul(k)
        .and_then(|x| x.checked_add(bonus))
        .ok_or(CoreError::Overflow("unit share"))?;
    Money::from_minor_i128(units, total.currency())
}

impl Order {
    fn err(&self, action: OrderAction) -> CoreError {
        CoreError::InvalidTransition {
            order: self.id.clone(),
            state: self.status.as_str(),
            command: action.as_str(),
        }
    }

    /// Ok when the transition table allows `action` now.
    pub fn check(&self, action: OrderAction) -> Result<(), CoreError> {
        crate::presale::check_action(self, action)?;
        if self.status.allows(action) {
            Ok(())
        } else {
            Err(self.err(action))
        }
    }

    /// The payable of the order.
    pub fn payable(&self) -> Money {
        self.quote.totals.payable
    }

    /// Units of each line not yet shipped (exchange lines included).
    pub fn unshipped(&self) -> Vec<LineQty> {
        self.lines()
            .map(|l| LineQty {
                line: l.index,
                qty: l.qty - at(&self.shipped, l.index) - at(&self.cancelled, l.index),
            })
            .filter(|lq| lq.qty > 0)
            .collect()
    }

    fn line_units_check(
        &self,
        lines: &[LineQty],
        left: impl Fn(usize) -> i64,
        what: &str,
    ) -> Result<(), CoreError> {
        if lines.is_empty() {
            return Err(CoreError::InvalidOrderRequest {
                order: self.id.clone(),
                problem: format!("{what} names no lines"),
            });
        }
        let mut want = vec![0_i64; self.line_count()];
        for lq in lines {
            if lq.qty <= 0 {
                return Err(CoreError::InvalidQuantity {
                    what: format!("{what} of line {}", lq.line),
                    qty: lq.qty,
                });
            }
            let Some(w) = want.get_mut(lq.line) else {
                return Err(CoreError::InvalidOrderRequest {
                    order: self.id.clone(),
                    problem: format!("no line {}", lq.line),
                });
            };
            *w = w.saturating_add(lq.qty);
        }
        for (i, w) in want.iter().enumerate() {
            if *w > left(i) {
                return Err(CoreError::InvalidOrderRequest {
                    order: self.id.clone(),
                    problem: format!("{what} of {w} units of line {i}, only {} left", left(i)),
                });
            }
        }
        Ok(())
    }

    /// Refuses a quantity below 1 before anything else is checked: the
    /// contract puts `invalid_quantity` before `invalid_transition`.
    pub fn check_quantities(lines: &[LineQty], what: &str) -> Result<(), CoreError> {
        match lines.iter().find(|lq| lq.qty <= 0) {
            Some(lq) => Err(CoreError::InvalidQuantity {
                what: format!("{what} of line {}", lq.line),
                qty: lq.qty,
            }),
            None => Ok(()),
        }
    }

    /// Validates a shipment of `lines` (units not yet shipped).
    pub fn check_ship(&self, lines: &[LineQty]) -> Result<(), CoreError> {
        Self::check_quantities(lines, "shipment")?;
        self.check(OrderAction::Ship)?;
        self.line_units_check(
            lines,
            |i| self.line_qty(i) - at(&self.shipped, i) - at(&self.cancelled, i),
            "shipment",
        )
    }

    /// Validates a return of `lines` (units shipped and not yet returned or
    /// in an open return).
    pub fn check_return(&self, lines: &[LineQty]) -> Result<(), CoreError> {
        Self::check_quantities(lines, "return")?;
        self.check(OrderAction::Return)?;
        self.line_units_check(lines, |i| self.after_sale_left(i), "return")
    }

    /// Validates the units of a staged after-sale request: shipped, and not
    /// returned, in an open request, or refunded while kept.
    pub fn check_after_sale_units(&self, lines: &[LineQty]) -> Result<(), CoreError> {
        self.line_units_check(lines, |i| self.after_sale_left(i), "after-sale request")
    }

    /// Validates a partial cancel: units neither shipped nor cancelled.
    pub fn check_cancel_units(&self, lines: &[LineQty]) -> Result<(), CoreError> {
        self.line_units_check(
            lines,
            |i| self.line_qty(i) - at(&self.shipped, i) - at(&self.cancelled, i),
            "partial cancel",
        )
    }

    /// What refunding `lines` is worth, given the units already refunded
    /// or exchanged away (units are taken first-first).
    pub fn return_value(&self, lines: &[LineQty]) -> Result<ReturnValue, CoreError> {
        let c = self.quote.currency;
        let mut v = ReturnValue {
            pro_rata: Money::zero(c),
            points_deduction: Money::zero(c),
            net_before_points: Money::zero(c),
        };
        let mut taken = self.units_taken();
        for lq in lines {
            let l = self
                .line(lq.line)
                .ok_or_else(|| CoreError::InvalidOrderRequest {
                    order: self.id.clone(),
                    problem: format!("no line {}", lq.line),
                })?;
            let from = at(&taken, lq.line);
            let net = unit_range_share(l.net, l.qty, from, lq.qty)?;
            let pts = unit_range_share(l.points_deduction()?, l.qty, from, lq.qty)?;
            if let Some(t) = taken.get_mut(lq.line) {
                *t += lq.qty;
            }
            v.pro_rata = v.pro_rata.checked_add(net)?;
            v.points_deduction = v.points_deduction.checked_add(pts)?;
            v.net_before_points = v.net_before_points.checked_add(net.checked_add(pts)?)?;
        }
        Ok(v)
    }

    /// Whether, after refunding `lines` on top of what was refunded already,
    /// every unit of the order is refunded.
    /// (A unit of an exchange line counts as a unit of the order line it
    /// descends from: [`Order::root_refunded`].)
    pub fn completes_returns(&self, lines: &[LineQty]) -> bool {
        let back = self.root_refunded(lines);
        self.quote.lines.iter().zip(&back).all(|(l, b)| *b >= l.qty)
    }

    /// Points given back by a return worth `points_deduction`:
    /// `floor(points_used × deduction / total deduction)`, or everything not
    /// yet given back when the return completes the order.
    pub fn points_for_return(
        &self,
        points_deduction: Money,
        completes: bool,
    ) -> Result<i64, CoreError> {
        let used = self.quote.points_used;
        if completes {
            return Ok((used - self.points_returned).max(0));
        }
        let total = self.quote.totals.points_deduction.to_minor()?;
        if total == 0 {
            return Ok(0);
        }
        let part = points_deduction.to_minor()?;
        let pts = i128::from(used)
            .checked_mul(part)
            .ok_or(CoreError::Overflow("points return"))?
            / total;
        let pts = i64::try_from(pts).map_err(|_| CoreError::Overflow("points return"))?;
        Ok(pts.min(used - self.points_returned).max(0))
    }

    /// Units per line of the quote the order keeps after refunding `lines`
    /// (and what was refunded before); the units of an exchange line count
    /// for the quote line they descend from.
    pub fn kept_after(&self, lines: &[LineQty]) -> Vec<i64> {
        self.quote
            .lines
            .iter()
            .zip(self.root_refunded(lines))
            .map(|(l, r)| l.qty - r)
            .collect()
    }

    /// Stock allocations of the units of `lines`, taken from the order's
    /// allocations in order, each with the channel quota it was taken
    /// through (so that units cancelled before shipment give their quota
    /// back).
    pub fn allocations_for(&self, lines: &[LineQty], already: &[i64]) -> Vec<Allocation> {
        let mut out: Vec<Allocation> = Vec::new();
        // Units of each line taken so far, this return's earlier entries
        // included (a line may be named twice).
        let mut taken: Vec<i64> = already.to_vec();
        for lq in lines {
            let Some(line) = self.quote.lines.get(lq.line) else {
                continue;
            };
            // Units of this SKU before this line's units in the order, plus
            // those of this line already taken.
            let before: i64 = self.quote.lines[..lq.line]
                .iter()
                .filter(|l| l.sku == line.sku)
                .map(|l| l.qty)
                .sum::<i64>()
                + taken.get(lq.line).copied().unwrap_or(0);
            if let Some(t) = taken.get_mut(lq.line) {
                *t += lq.qty;
            }
            let mut skip = before;
            let mut need = lq.qty;
            for a in self.allocations.iter().filter(|a| a.sku == line.sku) {
                if need == 0 {
                    break;
                }
                let avail = a.qty - skip.min(a.qty);
                skip -= skip.min(a.qty);
                let t = avail.min(need);
                if t > 0 {
                    need -= t;
                    match out
                        .iter_mut()
                        .find(|x| x.sku == a.sku && x.location == a.location && x.quota == a.quota)
                    {
                        Some(x) => x.qty += t,
                        None => out.push(Allocation {
                            sku: a.sku.clone(),
                            location: a.location.clone(),
                            qty: t,
                            quota: a.quota.clone(),
                        }),
                    }
                }
            }
        }
        out
    }
}

/// What happened to an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
#[non_exhaustive]
pub enum OrderEvent {
    /// An order was placed (stock reserved, coupons locked, points spent by
    /// the events beside it).
    #[serde(rename = "placed.v1")]
    Placed {
        /// Order id.
        id: String,
        /// Customer.
        customer: Option<String>,
        /// Channel.
        channel: String,
        /// Priced lines and totals.
        quote: Arc<Quote>,
        /// Where the stock is held.
        allocations: Vec<Allocation>,
        /// Placement time.
        at: DateTime<Utc>,
        /// Payment deadline.
        deadline: Option<DateTime<Utc>>,
    },
    /// Held for review.
    #[serde(rename = "held.v1")]
    Held {
        /// Order id.
        id: String,
        /// Why.
        reasons: Vec<String>,
    },
    /// Released from hold.
    #[serde(rename = "released.v1")]
    Released {
        /// Order id.
        id: String,
        /// New payment deadline (when it goes back to pending payment).
        deadline: Option<DateTime<Utc>>,
    },
    /// Paid.
    #[serde(rename = "paid.v1")]
    Paid {
        /// Order id.
        id: String,
        /// Amount.
        amount: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// Cancelled (also by a review rejection); `refund` is what was paid.
    #[serde(rename = "cancelled.v1")]
    Cancelled {
        /// Order id.
        id: String,
        /// Money going back.
        refund: Money,
        /// Whether a reviewer rejected it.
        rejected: bool,
        /// The payments the refund goes back through (empty in logs written
        /// before the payments ledger: then most recent first).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        allocations: Vec<PaymentShare>,
    },
    /// Closed unpaid.
    #[serde(rename = "closed.v1")]
    Closed {
        /// Order id.
        id: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Units shipped.
    #[serde(rename = "shipped.v1")]
    Shipped {
        /// Order id.
        id: String,
        /// Units per line.
        lines: Vec<LineQty>,
        /// The shipment's id (`None` in logs written before shipments:
        /// then `<order>-s<n>`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shipment: Option<String>,
        /// Its packages (none for the v1 `ship`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        packages: Vec<Package>,
        /// Where its units left from (empty in logs written before
        /// shipments: then read from the order's allocations).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sources: Vec<UnitSource>,
        /// When.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
    /// Delivered.
    #[serde(rename = "delivered.v1")]
    Delivered {
        /// Order id.
        id: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Completed.
    #[serde(rename = "completed.v1")]
    Completed {
        /// Order id.
        id: String,
    },
    /// The whole order's stock was committed (sold).
    #[serde(rename = "stock_committed.v1")]
    StockCommitted {
        /// Order id.
        id: String,
    },
    /// A return was requested.
    #[serde(rename = "return_requested.v1")]
    ReturnRequested {
        /// Order id.
        id: String,
        /// Return id.
        return_id: String,
        /// Units per line.
        lines: Vec<LineQty>,
        /// Restock on receipt.
        restock: bool,
        /// What is asked for (default `return_refund`).
        #[serde(default, skip_serializing_if = "is_default")]
        kind: AfterSaleKind,
        /// Reason code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason_code: Option<String>,
        /// Free text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// When (staged requests; `None` for one-step returns).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
        /// Return shipping the customer bears.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        return_shipping_fee: Option<Money>,
    },
    /// A return was approved.
    #[serde(rename = "return_approved.v1")]
    ReturnApproved {
        /// Order id.
        id: String,
        /// Return id.
        return_id: String,
        /// When (staged requests).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
        /// Approved by the timer (no decision within the window).
        #[serde(default, skip_serializing_if = "is_default")]
        auto: bool,
    },
    /// A return was rejected.
    #[serde(rename = "return_rejected.v1")]
    ReturnRejected {
        /// Order id.
        id: String,
        /// Return id.
        return_id: String,
    },
    /// Returned goods arrived.
    #[serde(rename = "return_received.v1")]
    ReturnReceived {
        /// Order id.
        id: String,
        /// Return id.
        return_id: String,
        /// Arrived damaged: not restocked.
        #[serde(default, skip_serializing_if = "is_default")]
        damaged: bool,
    },
    /// A return was refunded.
    #[serde(rename = "refunded.v1")]
    Refunded {
        /// Order id.
        id: String,
        /// Return id.
        return_id: String,
        /// Money refunded.
        amount: Money,
        /// Points given back.
        points_returned: i64,
        /// Discount held back by the order after this refund (`reprice`).
        held_back: Money,
        /// Why (default: a return).
        #[serde(default, skip_serializing_if = "is_default")]
        kind: RefundKind,
        /// The units refunded; `None`: the return's lines.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lines: Option<Vec<LineQty>>,
        /// The part of `amount` that refunds shipping.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shipping: Option<Money>,
        /// The payments the refund goes back through (empty in logs written
        /// before the payments ledger: then most recent first).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        allocations: Vec<PaymentShare>,
    },
    /// A payment was captured (a part of the payable, or all of it); the
    /// order is paid by the `Paid` event that follows the last part.
    #[serde(rename = "payment_captured.v1")]
    PaymentCaptured {
        /// Order id.
        id: String,
        /// The payment.
        payment: PaymentRecord,
    },
    /// An after-sale request was withdrawn before approval.
    #[serde(rename = "return_withdrawn.v1")]
    ReturnWithdrawn {
        /// Order id.
        id: String,
        /// Return id.
        return_id: String,
    },
    /// An approved return was closed: the goods were not sent back in time.
    #[serde(rename = "return_closed.v1")]
    ReturnClosed {
        /// Order id.
        id: String,
        /// Return id.
        return_id: String,
    },
    /// Units not yet shipped were cancelled (their refund is a `Refunded`
    /// event of kind `partial_cancel`).
    #[serde(rename = "units_cancelled.v1")]
    UnitsCancelled {
        /// Order id.
        id: String,
        /// Units per line.
        lines: Vec<LineQty>,
    },
    /// A presale deposit was paid: the order (placed by the events before)
    /// waits for its balance until `terms.balance_until` (the deposit
    /// payment follows as `payment_captured.v1`).
    #[serde(rename = "presale_deposited.v1")]
    PresaleDeposited {
        /// Order id.
        id: String,
        /// The presale terms.
        terms: crate::presale::PresaleTerms,
    },
    /// A presale order's balance was paid (after its `payment_captured.v1`
    /// and `paid.v1`).
    #[serde(rename = "presale_balance_paid.v1")]
    PresaleBalancePaid {
        /// Order id.
        id: String,
        /// The balance.
        amount: Money,
    },
    /// A presale order died before its balance (closed at the deadline or
    /// cancelled): the deposit was forfeited or refunded.
    #[serde(rename = "presale_lapsed.v1")]
    PresaleLapsed {
        /// Order id.
        id: String,
        /// Money the shop kept.
        forfeited: Money,
        /// Money that went back (its refund is the `refunded.v1` or
        /// `cancelled.v1` beside it).
        refunded: Money,
        /// The promotion's policy.
        policy: crate::presale::UnpaidBalance,
    },
    /// One shipment was delivered (the order's `Delivered` follows when it
    /// was the last one and nothing is left to ship).
    #[serde(rename = "shipment_delivered.v1")]
    ShipmentDelivered {
        /// Order id.
        id: String,
        /// Shipment id.
        shipment: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// An exchange was requested: units of order lines to send back, each
    /// for units of a SKU (see [`crate::exchange`]).
    #[serde(rename = "exchange_requested.v1")]
    ExchangeRequested {
        /// Order id.
        id: String,
        /// Request id.
        return_id: String,
        /// What goes back and what comes instead.
        items: Vec<crate::exchange::ExchangeItem>,
        /// Reason code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason_code: Option<String>,
        /// Free text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// An exchange was approved: its replacement units are reserved (the
    /// `reserved.v1` beside it, reservation `reservation`) and its price
    /// difference set; with money `due` it waits for payment until
    /// `pay_by`.
    #[serde(rename = "exchange_approved.v1")]
    ExchangeApproved {
        /// Order id.
        id: String,
        /// Request id.
        return_id: String,
        /// When.
        at: DateTime<Utc>,
        /// The stock reservation holding the replacement units.
        reservation: String,
        /// Per item, the list unit prices at approval and the difference.
        prices: Vec<crate::exchange::ExchangePrice>,
        /// Money the customer pays before the exchange goes on (zero:
        /// nothing to pay).
        due: Money,
        /// The payment deadline (with money due).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pay_by: Option<DateTime<Utc>>,
    },
    /// An exchange's price difference is paid in full (after the
    /// `payment_captured.v1` of its last part).
    #[serde(rename = "exchange_paid.v1")]
    ExchangePaid {
        /// Order id.
        id: String,
        /// Request id.
        return_id: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// An exchange took place (after its `return_received.v1`): the
    /// replaced units left their lines and the replacements became lines
    /// of the order, to be shipped.
    #[serde(rename = "exchanged.v1")]
    Exchanged {
        /// Order id.
        id: String,
        /// Request id.
        return_id: String,
        /// The index of the first new line (the order's lines before it);
        /// the others follow.
        first_line: usize,
        /// The new lines, in item order.
        lines: Vec<crate::exchange::ExchangeLine>,
    },
    /// An exchange still `requested` became a `return_refund` request,
    /// approved (its replacement was out of stock, or the merchant chose
    /// to refund).
    #[serde(rename = "exchange_converted.v1")]
    ExchangeConverted {
        /// Order id.
        id: String,
        /// Request id.
        return_id: String,
        /// When.
        at: DateTime<Utc>,
    },
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl OrderEvent {
    /// The order the event belongs to.
    pub fn order_id(&self) -> &str {
        match self {
            OrderEvent::Placed { id, .. }
            | OrderEvent::Held { id, .. }
            | OrderEvent::Released { id, .. }
            | OrderEvent::Paid { id, .. }
            | OrderEvent::Cancelled { id, .. }
            | OrderEvent::Closed { id, .. }
            | OrderEvent::Shipped { id, .. }
            | OrderEvent::Delivered { id, .. }
            | OrderEvent::Completed { id }
            | OrderEvent::StockCommitted { id }
            | OrderEvent::ReturnRequested { id, .. }
            | OrderEvent::ReturnApproved { id, .. }
            | OrderEvent::ReturnRejected { id, .. }
            | OrderEvent::ReturnReceived { id, .. }
            | OrderEvent::Refunded { id, .. }
            | OrderEvent::PaymentCaptured { id, .. }
            | OrderEvent::ReturnWithdrawn { id, .. }
            | OrderEvent::ReturnClosed { id, .. }
            | OrderEvent::UnitsCancelled { id, .. }
            | OrderEvent::PresaleDeposited { id, .. }
            | OrderEvent::PresaleBalancePaid { id, .. }
            | OrderEvent::PresaleLapsed { id, .. } => id,
            OrderEvent::ShipmentDelivered { id, .. } => id,
            OrderEvent::ExchangeRequested { id, .. }
            | OrderEvent::ExchangeApproved { id, .. }
            | OrderEvent::ExchangePaid { id, .. }
            | OrderEvent::Exchanged { id, .. }
            | OrderEvent::ExchangeConverted { id, .. } => id,
        }
    }
}

impl Order {
    /// Builds the order from its `Placed` event.
    pub fn placed(seq: u64, event: &OrderEvent) -> Option<Order> {
        let OrderEvent::Placed {
            id,
            customer,
            channel,
            quote,
            allocations,
            at,
            deadline,
        } = event
        else {
            return None;
        };
        let n = quote.lines.len();
        Some(Order {
            id: id.clone(),
            seq,
            customer: customer.clone(),
            channel: channel.clone(),
            allocations: allocations.clone(),
            status: OrderStatus::PendingPayment,
            held_from: None,
            hold_reasons: Vec::new(),
            placed_at: *at,
            deadline: *deadline,
            delivered_at: None,
            paid: Money::zero(quote.currency),
            refunded: Money::zero(quote.currency),
            shipped: vec![0; n],
            returned: vec![0; n],
            returning: vec![0; n],
            refunded_units: vec![0; n],
            returns: Vec::new(),
            points_returned: 0,
            held_back: Money::zero(quote.currency),
            stock_committed: false,
            payments: Vec::new(),
            refunds: Vec::new(),
            cancelled: vec![0; n],
            kept_refunded: vec![0; n],
            presale: None,
            shipments: Vec::new(),
            exchange_lines: Vec::new(),
            exchanged: Vec::new(),
            quote: Arc::clone(quote),
        })
    }

    pub(crate) fn return_mut(&mut self, return_id: &str) -> Option<&mut ReturnRecord> {
        self.returns.iter_mut().find(|r| r.id == return_id)
    }

    /// Folds one of this order's events into it (a `Placed` event is handled
    /// by [`Order::placed`]).
    pub fn apply(&mut self, event: &OrderEvent) {
        let n = self.line_count();
        match event {
            OrderEvent::Placed { .. } => {}
            OrderEvent::Held { reasons, .. } => {
                self.held_from = Some(self.status);
                self.status = OrderStatus::OnHold;
                self.hold_reasons = reasons.clone();
            }
            OrderEvent::Released { deadline, .. } => {
                self.status = self.held_from.take().unwrap_or(OrderStatus::PendingPayment);
                if self.status == OrderStatus::PendingPayment {
                    self.deadline = *deadline;
                }
            }
            OrderEvent::Paid { amount, at, .. } => {
                self.status = OrderStatus::Paid;
                // A payment of the whole payable in one call (and every
                // payment of a log written before the ledger) is one
                // payment of what was not captured yet.
                let c = self.quote.currency;
                let captured =
                    Money::sum(c, self.payments.iter().map(|p| p.amount)).unwrap_or(self.paid);
                if let Ok(rest) = amount.checked_sub(captured)
                    && rest.is_positive()
                {
                    self.payments.push(PaymentRecord {
                        id: format!("{}-p{}", self.id, self.payments.len() + 1),
                        method: "default".into(),
                        amount: rest,
                        reference: None,
                        key: None,
                        at: *at,
                        refunded: Money::zero(c),
                        exchange: None,
                    });
                }
                self.paid = *amount;
                self.deadline = None;
            }
            OrderEvent::PaymentCaptured { payment, .. } => {
                self.paid = self.paid.checked_add(payment.amount).unwrap_or(self.paid);
                self.payments.push(payment.clone());
            }
            OrderEvent::Cancelled {
                refund,
                rejected,
                allocations,
                ..
            } => {
                self.status = OrderStatus::Cancelled;
                let kind = RefundKind::Cancel;
                let id = format!(
                    "{}-{}",
                    self.id,
                    if *rejected { "reject" } else { "cancel" }
                );
                self.record_refund(id, kind, *refund, None, Vec::new(), allocations);
                self.deadline = None;
            }
            OrderEvent::Closed { .. } => {
                self.status = OrderStatus::Closed;
                self.deadline = None;
            }
            OrderEvent::Shipped {
                lines,
                shipment,
                packages,
                sources,
                at,
                ..
            } => {
                self.record_shipment(shipment.as_ref(), packages, lines, sources, *at);
                add_lines(&mut self.shipped, n, lines, 1);
                // An exchange's replacement units ship after delivery: the
                // order's status stays.
                if !self.is_delivered_status() {
                    self.status = if self.all_shipped_or_cancelled() {
                        OrderStatus::Shipped
                    } else {
                        OrderStatus::PartiallyShipped
                    };
                }
            }
            OrderEvent::UnitsCancelled { lines, .. } => {
                add_lines(&mut self.cancelled, n, lines, 1);
                if !self.is_delivered_status()
                    && self.shipped.iter().any(|s| *s > 0)
                    && self.all_shipped_or_cancelled()
                {
                    self.status = OrderStatus::Shipped;
                }
            }
            OrderEvent::Delivered { at, .. } => {
                self.status = OrderStatus::Delivered;
                self.delivered_at = Some(*at);
                // The v1 `deliver` delivers every shipment not yet delivered.
                for s in self.shipments.iter_mut().filter(|s| !s.is_delivered()) {
                    s.delivered_at = Some(*at);
                }
            }
            OrderEvent::ShipmentDelivered { shipment, at, .. } => {
                if let Some(s) = self.shipments.iter_mut().find(|s| &s.id == shipment) {
                    s.delivered_at = Some(*at);
                }
            }
            OrderEvent::Completed { .. } => self.status = OrderStatus::Completed,
            OrderEvent::StockCommitted { .. } => self.stock_committed = true,
            OrderEvent::ReturnRequested {
                return_id,
                lines,
                restock,
                kind,
                reason_code,
                note,
                at,
                return_shipping_fee,
                ..
            } => {
                add_lines(&mut self.returning, n, lines, 1);
                self.returns.push(ReturnRecord {
                    id: return_id.clone(),
                    lines: lines.clone(),
                    restock: *restock,
                    status: ReturnStatus::Requested,
                    refund: None,
                    points_returned: 0,
                    kind: *kind,
                    reason_code: reason_code.clone(),
                    note: note.clone(),
                    requested_at: *at,
                    approved_at: None,
                    return_shipping_fee: *return_shipping_fee,
                    damaged: false,
                    exchange: None,
                });
            }
            OrderEvent::ReturnApproved { return_id, at, .. } => {
                if let Some(r) = self.return_mut(return_id) {
                    r.status = ReturnStatus::Approved;
                    r.approved_at = *at;
                }
            }
            OrderEvent::ReturnRejected { return_id, .. } => {
                self.end_return(return_id, ReturnStatus::Rejected);
            }
            OrderEvent::ReturnWithdrawn { return_id, .. } => {
                self.end_return(return_id, ReturnStatus::Withdrawn);
            }
            OrderEvent::ReturnClosed { return_id, .. } => {
                self.end_return(return_id, ReturnStatus::Closed);
            }
            OrderEvent::ReturnReceived {
                return_id, damaged, ..
            } => {
                let lines = self.return_mut(return_id).map(|r| {
                    r.status = ReturnStatus::Received;
                    r.damaged = *damaged;
                    r.lines.clone()
                });
                let lines = lines.unwrap_or_default();
                add_lines(&mut self.returning, n, &lines, -1);
                add_lines(&mut self.returned, n, &lines, 1);
            }
            OrderEvent::Refunded {
                return_id,
                amount,
                points_returned,
                held_back,
                kind,
                lines,
                shipping,
                allocations,
                ..
            } => {
                // An exchange's money leaves its request's status alone.
                let exchange_money =
                    matches!(kind, RefundKind::Exchange | RefundKind::ExchangePayment);
                let record_lines = self.return_mut(return_id).map(|r| {
                    if !exchange_money {
                        r.status = ReturnStatus::Refunded;
                        r.points_returned = *points_returned;
                    }
                    r.refund = Some(*amount);
                    r.lines.clone()
                });
                let units = match lines {
                    Some(l) => l.clone(),
                    None => record_lines.clone().unwrap_or_default(),
                };
                add_lines(&mut self.refunded_units, n, &units, 1);
                if *kind == RefundKind::RefundOnly {
                    // The customer keeps the goods: the request's units
                    // leave `returning` for good.
                    add_lines(&mut self.returning, n, &units, -1);
                    add_lines(&mut self.kept_refunded, n, &units, 1);
                }
                self.record_refund(
                    return_id.clone(),
                    *kind,
                    *amount,
                    *shipping,
                    units,
                    allocations,
                );
                self.points_returned += points_returned;
                self.held_back = *held_back;
                // (A partial cancel after delivery cancels an exchange's
                // replacement units not yet shipped.)
                let goods_back =
                    matches!(
                        kind,
                        RefundKind::Return | RefundKind::RefundOnly | RefundKind::PartialCancel
                    ) && matches!(self.status, OrderStatus::Delivered | OrderStatus::Completed);
                if goods_back && self.completes_returns(&[]) {
                    self.status = OrderStatus::Returned;
                }
            }
            OrderEvent::PresaleDeposited { .. }
            | OrderEvent::PresaleBalancePaid { .. }
            | OrderEvent::PresaleLapsed { .. } => crate::presale::apply(self, event),
            OrderEvent::ExchangeRequested { .. }
            | OrderEvent::ExchangeApproved { .. }
            | OrderEvent::ExchangePaid { .. }
            | OrderEvent::Exchanged { .. }
            | OrderEvent::ExchangeConverted { .. } => crate::exchange::apply(self, event),
        }
    }

    /// Whether every unit is shipped or cancelled.
    pub fn all_shipped_or_cancelled(&self) -> bool {
        self.quote
            .lines
            .iter()
            .enumerate()
            .all(|(i, l)| at(&self.shipped, i) + at(&self.cancelled, i) >= l.qty)
    }

    /// Ends an open request without refund: its units are free again.
    fn end_return(&mut self, return_id: &str, status: ReturnStatus) {
        let n = self.line_count();
        let lines = self.return_mut(return_id).map(|r| {
            r.status = status;
            r.lines.clone()
        });
        add_lines(&mut self.returning, n, &lines.unwrap_or_default(), -1);
    }

    /// Books a refund: the order's refunded total, each payment's refunded
    /// part, and the refund record. Allocations missing from an old event
    /// are rebuilt most recent first (deterministic).
    fn record_refund(
        &mut self,
        id: String,
        kind: RefundKind,
        amount: Money,
        shipping: Option<Money>,
        lines: Vec<LineQty>,
        allocations: &[PaymentShare],
    ) {
        let c = self.quote.currency;
        self.refunded = self.refunded.checked_add(amount).unwrap_or(self.refunded);
        let allocations = if allocations.is_empty() && amount.is_positive() {
            allocate_refund(&self.payments, amount, RefundAllocation::MostRecentFirst)
                .unwrap_or_default()
        } else {
            allocations.to_vec()
        };
        for a in &allocations {
            if let Some(p) = self.payments.iter_mut().find(|p| p.id == a.payment) {
                p.refunded = p.refunded.checked_add(a.amount).unwrap_or(p.refunded);
            }
        }
        self.refunds.push(RefundRecord {
            id,
            kind,
            amount,
            shipping: shipping.unwrap_or(Money::zero(c)),
            lines,
            allocations,
        });
    }

    /// Σ captured payments (what [`Order::paid`] holds).
    pub fn captured(&self) -> Money {
        self.paid
    }

    /// What is still due before the order is paid: payable − captured.
    pub fn due(&self) -> Result<Money, CoreError> {
        self.payable().checked_sub(self.paid)
    }

    /// What can still be refunded: captured − refunded.
    pub fn refundable(&self) -> Result<Money, CoreError> {
        self.paid.checked_sub(self.refunded)
    }

    /// Shipping refunded so far.
    pub fn shipping_refunded(&self) -> Result<Money, CoreError> {
        Money::sum(self.quote.currency, self.refunds.iter().map(|r| r.shipping))
    }

    /// Goods money refunded so far: every refund less its shipping part,
    /// goodwill amounts (tied to no unit) left out. What a points
    /// claw-back reads.
    ///
    /// With exchanges: the money an exchange put in (its payments, less
    /// what went back when it closed) is taken off, never below zero, so
    /// that what went back counts only against the goods the order paid
    /// (returning a replacement that cost 90.00 + 20.00 paid counts
    /// 90.00).
    pub fn refunded_goods(&self) -> Result<Money, CoreError> {
        let c = self.quote.currency;
        let goods = self
            .refunds
            .iter()
            .filter(|r| r.kind != RefundKind::Goodwill)
            .try_fold(Money::zero(c), |acc, r| {
                acc.checked_add(r.amount.checked_sub(r.shipping)?)
            })?;
        if self.payments.iter().all(|p| p.exchange.is_none()) {
            return Ok(goods);
        }
        let put_in = Money::sum(
            c,
            self.payments
                .iter()
                .filter(|p| p.exchange.is_some())
                .map(|p| p.amount),
        )?;
        // Exchange payments that went back are in `goods` once as refunds
        // and once here: both come off.
        goods.checked_sub(put_in)?.max(Money::zero(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn display_is_the_serde_name() {
        for s in OrderStatus::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(format!("\"{s}\""), json);
            assert_eq!(s.to_string(), s.as_str());
        }
    }

    fn cny(s: &str) -> Money {
        Money::parse(s, Currency::CNY).unwrap()
    }

    /// The transition table, written out by hand: every allowed pair.
    const ALLOWED: &[(OrderStatus, OrderAction)] = {
        use OrderAction as A;
        use OrderStatus as S;
        &[
            (S::PendingPayment, A::Pay),
            (S::PendingPayment, A::Hold),
            (S::PendingPayment, A::Cancel),
            (S::PendingPayment, A::Close),
            (S::OnHold, A::Release),
            (S::OnHold, A::Reject),
            (S::OnHold, A::Cancel),
            (S::Paid, A::Hold),
            (S::Paid, A::Cancel),
            (S::Paid, A::Ship),
            (S::Paid, A::CancelUnits),
            (S::Paid, A::Refund),
            (S::PartiallyShipped, A::Ship),
            (S::PartiallyShipped, A::CancelUnits),
            (S::PartiallyShipped, A::Refund),
            (S::Shipped, A::Deliver),
            (S::Shipped, A::Refund),
            (S::Delivered, A::Complete),
            (S::Delivered, A::Return),
            (S::Delivered, A::Refund),
            (S::Completed, A::Return),
            (S::Completed, A::Refund),
        ]
    };

    #[test]
    fn transition_table_matches_the_documented_one() {
        for s in OrderStatus::ALL {
            for a in OrderAction::ALL {
                assert_eq!(
                    s.allows(a),
                    ALLOWED.contains(&(s, a)),
                    "{} / {}",
                    s.as_str(),
                    a.as_str()
                );
            }
        }
    }

    #[test]
    fn unit_shares_split_first_first() {
        // 3 units, net 20.00: 6.67, 6.67, 6.66.
        let net = cny("20.00");
        assert_eq!(unit_range_share(net, 3, 0, 1).unwrap(), cny("6.67"));
        assert_eq!(unit_range_share(net, 3, 1, 1).unwrap(), cny("6.67"));
        assert_eq!(unit_range_share(net, 3, 2, 1).unwrap(), cny("6.66"));
        assert_eq!(unit_range_share(net, 3, 0, 3).unwrap(), net);
        assert_eq!(unit_range_share(net, 3, 1, 2).unwrap(), cny("13.33"));
        assert!(unit_range_share(net, 3, 2, 2).is_err());
        assert!(unit_range_share(net, 0, 0, 0).is_err());
    }

    #[test]
    fn unit_shares_agree_with_apportion() {
        use rust_decimal::Decimal;
        for (net, qty) in [("0.05", 7), ("100.00", 3), ("19.99", 10), ("0.00", 4)] {
            let m = cny(net);
            let shares = crate::apportion(m, &vec![Decimal::ONE; qty as usize]).unwrap();
            for from in 0..qty {
                for k in 0..=(qty - from) {
                    let want =
                        Money::sum(Currency::CNY, &shares[from as usize..(from + k) as usize])
                            .unwrap();
                    assert_eq!(unit_range_share(m, qty, from, k).unwrap(), want);
                }
            }
        }
    }
}
