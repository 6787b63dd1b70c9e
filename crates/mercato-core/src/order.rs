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

use crate::error::CoreError;
use crate::money::Money;
use crate::quote::{Quote, Stage};
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
    /// Start a return.
    Return,
}

impl OrderAction {
    /// Every action, for exhaustive tests.
    pub const ALL: [OrderAction; 10] = [
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
                | (S::Paid, A::Hold | A::Cancel | A::Ship)
                | (S::PartiallyShipped, A::Ship)
                | (S::Shipped, A::Deliver)
                | (S::Delivered, A::Complete | A::Return)
                | (S::Completed, A::Return)
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

    /// Units of each line not yet shipped.
    pub fn unshipped(&self) -> Vec<LineQty> {
        self.quote
            .lines
            .iter()
            .zip(&self.shipped)
            .map(|(l, s)| LineQty {
                line: l.line,
                qty: l.qty - s,
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
        let mut want = vec![0_i64; self.quote.lines.len()];
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
            |i| self.quote.lines[i].qty - self.shipped[i],
            "shipment",
        )
    }

    /// Validates a return of `lines` (units shipped and not yet returned or
    /// in an open return).
    pub fn check_return(&self, lines: &[LineQty]) -> Result<(), CoreError> {
        Self::check_quantities(lines, "return")?;
        self.check(OrderAction::Return)?;
        self.line_units_check(
            lines,
            |i| self.shipped[i] - self.returned[i] - self.returning[i],
            "return",
        )
    }

    /// What refunding `lines` is worth, given the units already refunded
    /// (units are taken first-first).
    pub fn return_value(&self, lines: &[LineQty]) -> Result<ReturnValue, CoreError> {
        let c = self.quote.currency;
        let mut v = ReturnValue {
            pro_rata: Money::zero(c),
            points_deduction: Money::zero(c),
            net_before_points: Money::zero(c),
        };
        let mut taken = self.refunded_units.clone();
        for lq in lines {
            let l =
                self.quote
                    .lines
                    .get(lq.line)
                    .ok_or_else(|| CoreError::InvalidOrderRequest {
                        order: self.id.clone(),
                        problem: format!("no line {}", lq.line),
                    })?;
            let from = taken[lq.line];
            let net = unit_range_share(l.net, l.qty, from, lq.qty)?;
            let pts = unit_range_share(l.adjusted_at(Stage::Points)?, l.qty, from, lq.qty)?;
            taken[lq.line] += lq.qty;
            v.pro_rata = v.pro_rata.checked_add(net)?;
            v.points_deduction = v.points_deduction.checked_add(pts)?;
            v.net_before_points = v.net_before_points.checked_add(net.checked_add(pts)?)?;
        }
        Ok(v)
    }

    /// Whether, after refunding `lines` on top of what was refunded already,
    /// every unit of the order is refunded.
    pub fn completes_returns(&self, lines: &[LineQty]) -> bool {
        let mut back = self.refunded_units.clone();
        for lq in lines {
            if let Some(b) = back.get_mut(lq.line) {
                *b += lq.qty;
            }
        }
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

    /// Units per line the order keeps after refunding `lines` (and what was
    /// refunded before).
    pub fn kept_after(&self, lines: &[LineQty]) -> Vec<i64> {
        let mut kept: Vec<i64> = self
            .quote
            .lines
            .iter()
            .zip(&self.refunded_units)
            .map(|(l, r)| l.qty - r)
            .collect();
        for lq in lines {
            if let Some(k) = kept.get_mut(lq.line) {
                *k -= lq.qty;
            }
        }
        kept
    }

    /// Stock allocations of the units of `lines`, taken from the order's
    /// allocations in order (for restocking returned units).
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
                        .find(|x| x.sku == a.sku && x.location == a.location)
                    {
                        Some(x) => x.qty += t,
                        None => out.push(Allocation {
                            sku: a.sku.clone(),
                            location: a.location.clone(),
                            qty: t,
                            quota: None,
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
    },
    /// A return was approved.
    #[serde(rename = "return_approved.v1")]
    ReturnApproved {
        /// Order id.
        id: String,
        /// Return id.
        return_id: String,
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
    },
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
            | OrderEvent::Refunded { id, .. } => id,
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
            quote: Arc::clone(quote),
        })
    }

    fn return_mut(&mut self, return_id: &str) -> Option<&mut ReturnRecord> {
        self.returns.iter_mut().find(|r| r.id == return_id)
    }

    /// Folds one of this order's events into it (a `Placed` event is handled
    /// by [`Order::placed`]).
    pub fn apply(&mut self, event: &OrderEvent) {
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
            OrderEvent::Paid { amount, .. } => {
                self.status = OrderStatus::Paid;
                self.paid = *amount;
                self.deadline = None;
            }
            OrderEvent::Cancelled { refund, .. } => {
                self.status = OrderStatus::Cancelled;
                self.refunded = *refund;
                self.deadline = None;
            }
            OrderEvent::Closed { .. } => {
                self.status = OrderStatus::Closed;
                self.deadline = None;
            }
            OrderEvent::Shipped { lines, .. } => {
                for lq in lines {
                    if let Some(s) = self.shipped.get_mut(lq.line) {
                        *s += lq.qty;
                    }
                }
                let all = self
                    .quote
                    .lines
                    .iter()
                    .zip(&self.shipped)
                    .all(|(l, s)| *s >= l.qty);
                self.status = if all {
                    OrderStatus::Shipped
                } else {
                    OrderStatus::PartiallyShipped
                };
            }
            OrderEvent::Delivered { at, .. } => {
                self.status = OrderStatus::Delivered;
                self.delivered_at = Some(*at);
            }
            OrderEvent::Completed { .. } => self.status = OrderStatus::Completed,
            OrderEvent::StockCommitted { .. } => self.stock_committed = true,
            OrderEvent::ReturnRequested {
                return_id,
                lines,
                restock,
                ..
            } => {
                for lq in lines {
                    if let Some(r) = self.returning.get_mut(lq.line) {
                        *r += lq.qty;
                    }
                }
                self.returns.push(ReturnRecord {
                    id: return_id.clone(),
                    lines: lines.clone(),
                    restock: *restock,
                    status: ReturnStatus::Requested,
                    refund: None,
                    points_returned: 0,
                });
            }
            OrderEvent::ReturnApproved { return_id, .. } => {
                if let Some(r) = self.return_mut(return_id) {
                    r.status = ReturnStatus::Approved;
                }
            }
            OrderEvent::ReturnRejected { return_id, .. } => {
                let lines = self.return_mut(return_id).map(|r| {
                    r.status = ReturnStatus::Rejected;
                    r.lines.clone()
                });
                for lq in lines.unwrap_or_default() {
                    if let Some(r) = self.returning.get_mut(lq.line) {
                        *r -= lq.qty;
                    }
                }
            }
            OrderEvent::ReturnReceived { return_id, .. } => {
                let lines = self.return_mut(return_id).map(|r| {
                    r.status = ReturnStatus::Received;
                    r.lines.clone()
                });
                for lq in lines.unwrap_or_default() {
                    if let Some(r) = self.returning.get_mut(lq.line) {
                        *r -= lq.qty;
                    }
                    if let Some(r) = self.returned.get_mut(lq.line) {
                        *r += lq.qty;
                    }
                }
            }
            OrderEvent::Refunded {
                return_id,
                amount,
                points_returned,
                held_back,
                ..
            } => {
                let lines = self.return_mut(return_id).map(|r| {
                    r.status = ReturnStatus::Refunded;
                    r.refund = Some(*amount);
                    r.points_returned = *points_returned;
                    r.lines.clone()
                });
                for lq in lines.unwrap_or_default() {
                    if let Some(r) = self.refunded_units.get_mut(lq.line) {
                        *r += lq.qty;
                    }
                }
                self.refunded = self.refunded.checked_add(*amount).unwrap_or(self.refunded);
                self.points_returned += points_returned;
                self.held_back = *held_back;
                if self
                    .quote
                    .lines
                    .iter()
                    .zip(&self.refunded_units)
                    .all(|(l, r)| *r >= l.qty)
                {
                    self.status = OrderStatus::Returned;
                }
            }
        }
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
            (S::PartiallyShipped, A::Ship),
            (S::Shipped, A::Deliver),
            (S::Delivered, A::Complete),
            (S::Delivered, A::Return),
            (S::Completed, A::Return),
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
