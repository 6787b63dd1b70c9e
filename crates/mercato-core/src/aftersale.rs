//! Staged after-sale: requests (`return_refund`, `refund_only`, and
//! `exchange` of [`crate::exchange`]) that move
//! requested → approved | rejected | withdrawn → (returns) received →
//! refunded, with windows and timers; refund-only goodwill amounts; partial
//! cancel of units not yet shipped; the shipping refund policy; and the one
//! refund computation every path shares ([`Shop::unit_refund_events`]).
//!
//! Every refund, whatever the path, is one `refunded.v1` order event (its
//! `kind` says why), so the order's refund accounting ([`Order::refunded`],
//! [`Order::refunds`], [`Order::refunded_goods`]) sees all of them.
//!
//! The request state table is [`ReturnStatus::allows`]; a unit test
//! compares it with the table written out in `docs/order-lifecycle.md`.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::event::Event;
use crate::money::Money;
use crate::order::{LineQty, Order, OrderAction, OrderEvent, ReturnStatus, at, unit_range_share};
use crate::payments::{RefundAllocation, RefundKind, allocate_refund};
use crate::shop::{Context, Shop, ShopConfig, StockCommit};
use crate::stock::{Allocation, StockCommand, StockEvent, StockLine};

/// What an after-sale request asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterSaleKind {
    /// Send the goods back, get the money back (退货退款).
    #[default]
    ReturnRefund,
    /// Money back, the customer keeps the goods (仅退款).
    RefundOnly,
    /// Send units back, get units of a SKU instead (换货; see
    /// [`crate::exchange`]).
    Exchange,
}

impl AfterSaleKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AfterSaleKind::ReturnRefund => "return_refund",
            AfterSaleKind::RefundOnly => "refund_only",
            AfterSaleKind::Exchange => "exchange",
        }
    }
}

/// When shipping money goes back with refunded units (setting
/// `after_sale.shipping_refund`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShippingRefund {
    /// Never (the contract's v1 behaviour).
    #[default]
    Never,
    /// All of it, with the refund that refunds the order's last unit.
    OnFullReturn,
    /// In proportion to the goods net refunded so far
    /// (`floor(shipping × refunded net / Σ nets)`, the last unit the rest).
    ProRata,
}

/// The after-sale settings the core reads (`settings.after_sale`).
/// `None` windows mean no limit / no timer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AfterSaleConfig {
    /// Staged requests only within this many days of delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_window_days: Option<i64>,
    /// A request without a decision is approved after this many hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_approve_hours: Option<i64>,
    /// An approved `return_refund` whose goods are not received within
    /// this many days is closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_ship_days: Option<i64>,
    /// Whether shipping is refunded with units.
    #[serde(default, skip_serializing_if = "is_default")]
    pub shipping_refund: ShippingRefund,
    /// How a refund is split over the order's payments.
    #[serde(default, skip_serializing_if = "is_default")]
    pub refund_allocation: RefundAllocation,
    /// Which SKUs a unit may be exchanged for (default: the same product).
    #[serde(default, skip_serializing_if = "is_default")]
    pub exchange_to: crate::exchange::ExchangeScope,
    /// Hours an exchange with money due waits for its payment before `tick`
    /// closes it (`None`: [`crate::exchange::DEFAULT_PAYMENT_HOURS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_payment_hours: Option<i64>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// What can be done to an after-sale request: the columns of its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterSaleAction {
    /// Approve (by the merchant, or the auto-approve timer).
    Approve,
    /// Reject.
    Reject,
    /// Withdraw (by the customer).
    Withdraw,
    /// Goods received back (`return_refund` only).
    Receive,
    /// Money back.
    Refund,
    /// Close because the goods did not come back in time (`return_refund`,
    /// `exchange`), or an exchange's difference was not paid in time.
    Close,
    /// Turn an exchange into an approved `return_refund` (its replacement
    /// is out of stock, or the merchant refunds instead).
    Convert,
    /// An exchange's price difference paid in full (by its payments, not
    /// by the after-sale call).
    Pay,
}

impl AfterSaleAction {
    /// Every action, for exhaustive tests.
    pub const ALL: [AfterSaleAction; 8] = [
        AfterSaleAction::Approve,
        AfterSaleAction::Reject,
        AfterSaleAction::Withdraw,
        AfterSaleAction::Receive,
        AfterSaleAction::Refund,
        AfterSaleAction::Close,
        AfterSaleAction::Convert,
        AfterSaleAction::Pay,
    ];

    /// Lower-case name used in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            AfterSaleAction::Approve => "approve",
            AfterSaleAction::Reject => "reject",
            AfterSaleAction::Withdraw => "withdraw",
            AfterSaleAction::Receive => "receive",
            AfterSaleAction::Refund => "refund",
            AfterSaleAction::Close => "close",
            AfterSaleAction::Convert => "convert",
            AfterSaleAction::Pay => "pay",
        }
    }
}

impl ReturnStatus {
    /// Every status, for exhaustive tests.
    pub const ALL: [ReturnStatus; 9] = [
        ReturnStatus::Requested,
        ReturnStatus::Approved,
        ReturnStatus::Rejected,
        ReturnStatus::Received,
        ReturnStatus::Refunded,
        ReturnStatus::Withdrawn,
        ReturnStatus::Closed,
        ReturnStatus::PendingPayment,
        ReturnStatus::Exchanged,
    ];

    /// The after-sale transition table: whether `action` is allowed on a
    /// request of `kind` in this status.
    pub fn allows(self, kind: AfterSaleKind, action: AfterSaleAction) -> bool {
        use AfterSaleAction as A;
        use AfterSaleKind as K;
        use ReturnStatus as S;
        matches!(
            (self, kind, action),
            (S::Requested, _, A::Approve | A::Reject | A::Withdraw)
                | (S::Approved, K::ReturnRefund, A::Receive | A::Close)
                | (S::Approved, K::RefundOnly, A::Refund)
                | (S::Received, K::ReturnRefund, A::Refund)
                | (S::Requested, K::Exchange, A::Convert)
                | (S::Approved, K::Exchange, A::Receive | A::Close)
                | (S::PendingPayment, K::Exchange, A::Pay | A::Close)
        )
    }
}

/// One after-sale request as a caller files it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfterSaleRequest {
    /// Request id (the engine names them `<order>-r<n>`).
    pub id: String,
    /// What is asked for.
    pub kind: AfterSaleKind,
    /// Lines and units.
    pub lines: Vec<LineQty>,
    /// Reason code (`damaged`, `wrong_item`, `not_as_described`...).
    pub reason_code: Option<String>,
    /// Free text.
    pub note: Option<String>,
    /// Return shipping the customer bears, deducted from the refund
    /// (`None`: the merchant pays it).
    pub return_shipping_fee: Option<Money>,
}

fn add(a: Option<DateTime<Utc>>, d: Option<TimeDelta>) -> Option<DateTime<Utc>> {
    a.zip(d).and_then(|(a, d)| a.checked_add_signed(d))
}

/// When the after-sale timers next act on `o` by themselves: the earliest
/// auto-approve of a request without a decision, or auto-close of an
/// approved return whose goods did not come back. `None`: never.
pub fn request_timer(o: &Order, config: &ShopConfig) -> Option<DateTime<Utc>> {
    o.returns
        .iter()
        .filter_map(|r| request_due(r, config))
        .min()
}

fn request_due(r: &crate::order::ReturnRecord, config: &ShopConfig) -> Option<DateTime<Utc>> {
    let a = &config.after_sale;
    if r.kind == AfterSaleKind::Exchange {
        return crate::exchange::exchange_due(r, config);
    }
    match (r.status, r.kind) {
        (ReturnStatus::Requested, _) => add(
            r.requested_at,
            a.auto_approve_hours.and_then(TimeDelta::try_hours),
        ),
        (ReturnStatus::Approved, AfterSaleKind::ReturnRefund) => add(
            r.approved_at,
            a.return_ship_days.and_then(TimeDelta::try_days),
        ),
        _ => None,
    }
}

/// The request events of a tick at `ctx.now` for `o`: approvals of requests
/// past the auto-approve window, closings of returns past the ship-back
/// window, and closings of exchanges (unpaid by their deadline, or their
/// goods not back in time).
pub fn tick_events(shop: &Shop, o: &Order, ctx: &Context<'_>) -> Result<Vec<Event>, CoreError> {
    let mut ev = shop.exchange_tick_events(o, ctx)?;
    for r in &o.returns {
        if r.kind == AfterSaleKind::Exchange {
            continue;
        }
        if request_due(r, ctx.config).is_none_or(|t| t > ctx.now) {
            continue;
        }
        match r.status {
            ReturnStatus::Requested => ev.push(Event::Order(OrderEvent::ReturnApproved {
                id: o.id.clone(),
                return_id: r.id.clone(),
                at: Some(ctx.now),
                auto: true,
            })),
            ReturnStatus::Approved => ev.push(Event::Order(OrderEvent::ReturnClosed {
                id: o.id.clone(),
                return_id: r.id.clone(),
            })),
            _ => {}
        }
    }
    Ok(ev)
}

/// What a unit refund is worth: goods, shipping, points, the discount held
/// back after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitRefund {
    /// Money refunded in all (goods + shipping − return shipping fee,
    /// capped at what the payments still hold).
    pub amount: Money,
    /// The shipping part of `amount`.
    pub shipping: Money,
    /// Points given back.
    pub points: i64,
    /// Discount held back by the order after it (`reprice`).
    pub held_back: Money,
}

/// The shipping share refunded with `lines` under `policy` (see
/// [`ShippingRefund`]); never more than the shipping not yet refunded.
pub fn shipping_share(
    o: &Order,
    lines: &[LineQty],
    policy: ShippingRefund,
) -> Result<Money, CoreError> {
    let c = o.quote.currency;
    let total = o.quote.totals.shipping;
    let done = o.shipping_refunded()?;
    let left = total.checked_sub(done)?.max(Money::zero(c))?;
    if total.is_zero() || policy == ShippingRefund::Never {
        return Ok(Money::zero(c));
    }
    if o.completes_returns(lines) {
        return Ok(left);
    }
    if policy == ShippingRefund::OnFullReturn {
        return Ok(Money::zero(c));
    }
    // Pro rata: the share due after this refund, less what went back (a
    // unit of an exchange line counts for the quote line it descends
    // from: shipping was paid for the quote's goods).
    let after = o.root_refunded(lines);
    let mut net_after = 0_i128;
    let mut net_all = 0_i128;
    for (i, l) in o.quote.lines.iter().enumerate() {
        let k = at(&after, i).clamp(0, l.qty);
        net_after += unit_range_share(l.net, l.qty, 0, k)?.to_minor()?;
        net_all += l.net.to_minor()?;
    }
    if net_all <= 0 {
        return Ok(Money::zero(c));
    }
    let due = total
        .to_minor()?
        .checked_mul(net_after)
        .ok_or(CoreError::Overflow("shipping share"))?
        / net_all;
    let share = Money::from_minor_i128(due, c)?
        .checked_sub(done)?
        .max(Money::zero(c))?;
    share.min(left)
}

/// Refuses a request filed more than `after_sale.request_window_days` after
/// its units were delivered ([`Order::delivered_at_of`]).
pub(crate) fn check_request_window(
    o: &Order,
    lines: &[LineQty],
    request: &str,
    ctx: &Context<'_>,
) -> Result<(), CoreError> {
    let closes = add(
        o.delivered_at_of(lines),
        ctx.config
            .after_sale
            .request_window_days
            .and_then(TimeDelta::try_days),
    );
    if closes.is_some_and(|t| ctx.now > t) {
        return Err(CoreError::AfterSaleState {
            order: o.id.clone(),
            request: request.to_string(),
            state: "window_closed",
            command: "request",
        });
    }
    Ok(())
}

impl Shop {
    fn order_of(&self, id: &str) -> Result<&Order, CoreError> {
        self.order(id)
            .ok_or_else(|| CoreError::UnknownOrder(id.to_string()))
    }

    /// What refunding `lines` of `o` is worth: their nets (first-first),
    /// less the `reprice` discount owed back, plus the shipping share of
    /// `kind`s that give goods back (returns, partial cancel), less the
    /// return shipping fee; capped at what the payments still hold.
    pub fn unit_refund(
        &self,
        o: &Order,
        lines: &[LineQty],
        kind: RefundKind,
        owed_back: Money,
        fee: Option<Money>,
        ctx: &Context<'_>,
    ) -> Result<UnitRefund, CoreError> {
        let c = o.quote.currency;
        if owed_back.is_negative() {
            return Err(CoreError::Negative {
                what: "discount owed back",
                value: owed_back.amount(),
            });
        }
        let value = o.return_value(lines)?;
        let completes = o.completes_returns(lines);
        let points = o.points_for_return(value.points_deduction, completes)?;
        // reprice: refund = max(0, pro_rata − (C − held back so far)).
        let owed = if completes { Money::zero(c) } else { owed_back };
        let extra = owed.checked_sub(o.held_back)?;
        let goods = value.pro_rata.checked_sub(extra)?.max(Money::zero(c))?;
        let held_back = o
            .held_back
            .checked_add(value.pro_rata)?
            .checked_sub(goods)?;
        let shipping = match kind {
            RefundKind::Return | RefundKind::PartialCancel => {
                shipping_share(o, lines, ctx.config.after_sale.shipping_refund)?
            }
            _ => Money::zero(c),
        };
        let fee = fee.unwrap_or(Money::zero(c));
        let gross = goods.checked_add(shipping)?;
        let amount = gross
            .checked_sub(fee)?
            .max(Money::zero(c))?
            .min(o.refundable()?.max(Money::zero(c))?)?;
        Ok(UnitRefund {
            amount,
            shipping: shipping.min(amount)?,
            points,
            held_back,
        })
    }

    /// The events of refunding units `lines` of order `id` under refund id
    /// `refund_id`: the `refunded.v1` event (with its payment allocations)
    /// and the points given back. `lines_in_event`: whether the event names
    /// the units (every path but the one-step return, whose units are its
    /// return's).
    #[allow(clippy::too_many_arguments)]
    pub fn unit_refund_events(
        &self,
        o: &Order,
        refund_id: &str,
        lines: &[LineQty],
        kind: RefundKind,
        owed_back: Money,
        fee: Option<Money>,
        lines_in_event: bool,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let r = self.unit_refund(o, lines, kind, owed_back, fee, ctx)?;
        let allocations = allocate_refund(
            &o.payments,
            r.amount,
            ctx.config.after_sale.refund_allocation,
        )?;
        let mut ev = vec![Event::Order(OrderEvent::Refunded {
            id: o.id.clone(),
            return_id: refund_id.to_string(),
            amount: r.amount,
            points_returned: r.points,
            held_back: r.held_back,
            kind,
            lines: lines_in_event.then(|| lines.to_vec()),
            shipping: (!r.shipping.is_zero()).then_some(r.shipping),
            allocations,
        })];
        if let (Some(c), true) = (&o.customer, r.points > 0) {
            ev.push(Event::Points(
                self.points().decide_return(c, &o.id, r.points)?,
            ));
        }
        Ok(ev)
    }

    /// Files a staged after-sale request at `ctx.now`.
    pub fn decide_after_sale_request(
        &self,
        order: &str,
        req: &AfterSaleRequest,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.order_of(order)?;
        Order::check_quantities(&req.lines, "after-sale request")?;
        match req.kind {
            AfterSaleKind::ReturnRefund => o.check(OrderAction::Return)?,
            AfterSaleKind::RefundOnly => o.check(OrderAction::Refund)?,
            AfterSaleKind::Exchange => {
                return Err(CoreError::InvalidOrderRequest {
                    order: order.to_string(),
                    problem: "an exchange is filed with its replacement SKUs (an exchange request)"
                        .into(),
                });
            }
        }
        o.check_after_sale_units(&req.lines)?;
        if o.returns.iter().any(|r| r.id == req.id) {
            return Err(CoreError::InvalidOrderRequest {
                order: order.to_string(),
                problem: format!("after-sale request `{}` already exists", req.id),
            });
        }
        if let Some(fee) = req.return_shipping_fee {
            if fee.is_negative() {
                return Err(CoreError::Negative {
                    what: "return shipping fee",
                    value: fee.amount(),
                });
            }
            if fee.currency() != o.quote.currency {
                return Err(CoreError::CurrencyMismatch {
                    left: o.quote.currency,
                    right: fee.currency(),
                });
            }
        }
        check_request_window(o, &req.lines, &req.id, ctx)?;
        Ok(vec![Event::Order(OrderEvent::ReturnRequested {
            id: order.to_string(),
            return_id: req.id.clone(),
            lines: req.lines.clone(),
            restock: true,
            kind: req.kind,
            reason_code: req.reason_code.clone(),
            note: req.note.clone(),
            at: Some(ctx.now),
            return_shipping_fee: req.return_shipping_fee,
        })])
    }

    /// Moves a staged request by `action` (approve, reject, withdraw,
    /// receive, refund). `damaged` matters to `receive` (no restock),
    /// `owed_back` to `refund` (the `reprice` claw-back).
    pub fn decide_after_sale(
        &self,
        order: &str,
        request: &str,
        action: AfterSaleAction,
        damaged: bool,
        owed_back: Money,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.order_of(order)?;
        let r = o.returns.iter().find(|r| r.id == request).ok_or_else(|| {
            CoreError::InvalidOrderRequest {
                order: order.to_string(),
                problem: format!("no after-sale request `{request}`"),
            }
        })?;
        // `close` is the timer's; `pay` an exchange payment's.
        if !r.status.allows(r.kind, action)
            || matches!(action, AfterSaleAction::Close | AfterSaleAction::Pay)
        {
            return Err(CoreError::AfterSaleState {
                order: order.to_string(),
                request: request.to_string(),
                state: r.status.as_str(),
                command: action.as_str(),
            });
        }
        let (id, return_id) = (order.to_string(), request.to_string());
        if r.kind == AfterSaleKind::Exchange {
            match action {
                AfterSaleAction::Approve => {
                    return Err(CoreError::InvalidOrderRequest {
                        order: id,
                        problem: format!(
                            "exchange `{return_id}` is approved with its list prices (an exchange approval)"
                        ),
                    });
                }
                AfterSaleAction::Receive => {
                    return self.exchange_receive_events(o, r, damaged, ctx);
                }
                AfterSaleAction::Convert => {
                    return Ok(vec![Event::Order(OrderEvent::ExchangeConverted {
                        id,
                        return_id,
                        at: ctx.now,
                    })]);
                }
                _ => {}
            }
        }
        Ok(match action {
            AfterSaleAction::Approve => vec![Event::Order(OrderEvent::ReturnApproved {
                id,
                return_id,
                at: Some(ctx.now),
                auto: false,
            })],
            AfterSaleAction::Reject => {
                vec![Event::Order(OrderEvent::ReturnRejected { id, return_id })]
            }
            AfterSaleAction::Withdraw => {
                vec![Event::Order(OrderEvent::ReturnWithdrawn { id, return_id })]
            }
            AfterSaleAction::Receive => {
                let mut ev = vec![Event::Order(OrderEvent::ReturnReceived {
                    id: id.clone(),
                    return_id,
                    damaged,
                })];
                if r.restock && !damaged {
                    let allocations = o.return_allocations(&r.lines, &o.returned);
                    if !allocations.is_empty() {
                        ev.push(Event::Stock(StockEvent::Restocked {
                            id,
                            allocations,
                            reason: "returned".into(),
                        }));
                    }
                }
                ev
            }
            AfterSaleAction::Convert | AfterSaleAction::Pay => {
                return Err(CoreError::AfterSaleState {
                    order: id,
                    request: return_id,
                    state: r.status.as_str(),
                    command: action.as_str(),
                });
            }
            AfterSaleAction::Refund | AfterSaleAction::Close => {
                let kind = match r.kind {
                    AfterSaleKind::ReturnRefund => RefundKind::Return,
                    AfterSaleKind::RefundOnly => RefundKind::RefundOnly,
                    AfterSaleKind::Exchange => RefundKind::Exchange,
                };
                self.unit_refund_events(
                    o,
                    request,
                    &r.lines,
                    kind,
                    owed_back,
                    r.return_shipping_fee,
                    true,
                    ctx,
                )?
            }
        })
    }

    /// Refunds a goodwill `amount` (no unit), capped by what was paid and
    /// not yet refunded.
    pub fn decide_goodwill(
        &self,
        order: &str,
        refund_id: &str,
        amount: Money,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.order_of(order)?;
        if amount.is_negative() {
            return Err(CoreError::Negative {
                what: "goodwill refund",
                value: amount.amount(),
            });
        }
        if amount.currency() != o.quote.currency {
            return Err(CoreError::CurrencyMismatch {
                left: o.quote.currency,
                right: amount.currency(),
            });
        }
        o.check(OrderAction::Refund)?;
        if amount.is_zero() {
            return Err(CoreError::InvalidOrderRequest {
                order: order.to_string(),
                problem: "a goodwill refund of zero".into(),
            });
        }
        let allocations =
            allocate_refund(&o.payments, amount, ctx.config.after_sale.refund_allocation)?;
        Ok(vec![Event::Order(OrderEvent::Refunded {
            id: order.to_string(),
            return_id: refund_id.to_string(),
            amount,
            points_returned: 0,
            held_back: o.held_back,
            kind: RefundKind::Goodwill,
            lines: Some(Vec::new()),
            shipping: None,
            allocations,
        })])
    }

    /// Cancels units not yet shipped: their stock is released (or
    /// restocked where it was already committed) at the locations it was
    /// held, and their nets are refunded (kind `partial_cancel`).
    pub fn decide_cancel_units(
        &self,
        order: &str,
        refund_id: &str,
        lines: &[LineQty],
        owed_back: Money,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.order_of(order)?;
        Order::check_quantities(lines, "partial cancel")?;
        if lines.iter().any(|lq| o.is_exchange_line(lq.line)) {
            return self.exchange_cancel_events(o, refund_id, lines, owed_back, ctx);
        }
        o.check(OrderAction::CancelUnits)?;
        o.check_cancel_units(lines)?;
        let cancels_all = o.quote.lines.iter().enumerate().all(|(i, l)| {
            let k: i64 = lines.iter().filter(|x| x.line == i).map(|x| x.qty).sum();
            at(&o.cancelled, i) + k >= l.qty
        });
        if cancels_all {
            return Err(CoreError::InvalidOrderRequest {
                order: order.to_string(),
                problem: "a partial cancel of every unit: cancel the order".into(),
            });
        }
        let mut ev = vec![Event::Order(OrderEvent::UnitsCancelled {
            id: order.to_string(),
            lines: lines.to_vec(),
        })];
        ev.extend(crate::shipment::delivered_by_cancel(o, lines, ctx));
        let stock_lines: Vec<StockLine> = lines
            .iter()
            .map(|lq| StockLine {
                sku: o.quote.lines[lq.line].sku.clone(),
                qty: lq.qty,
            })
            .collect();
        if self.stock().reservation(order).is_some() {
            // Held, not sold: commit the units and put them straight back,
            // which releases them where they were held.
            let committed = self.stock().decide(&StockCommand::Commit {
                id: order.to_string(),
                lines: Some(stock_lines),
            })?;
            let mut back: Vec<Allocation> = Vec::new();
            for e in &committed {
                if let StockEvent::Committed { allocations, .. } = e {
                    back.extend(allocations.iter().cloned());
                }
            }
            ev.extend(committed.into_iter().map(Event::Stock));
            ev.push(Event::Stock(StockEvent::Restocked {
                id: order.to_string(),
                allocations: back,
                reason: "units cancelled".into(),
            }));
        } else if o.stock_committed || ctx.config.stock_commit == StockCommit::Payment {
            // Sold at payment: the last units of each line go back.
            let already: Vec<i64> = o
                .quote
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let k: i64 = lines.iter().filter(|x| x.line == i).map(|x| x.qty).sum();
                    l.qty - at(&o.cancelled, i) - k
                })
                .collect();
            let allocations = o.allocations_for(lines, &already);
            if !allocations.is_empty() {
                ev.push(Event::Stock(StockEvent::Restocked {
                    id: order.to_string(),
                    allocations,
                    reason: "units cancelled".into(),
                }));
            }
        }
        ev.extend(self.unit_refund_events(
            o,
            refund_id,
            lines,
            RefundKind::PartialCancel,
            owed_back,
            None,
            true,
            ctx,
        )?);
        Ok(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The after-sale table as docs/order-lifecycle.md writes it.
    const ALLOWED: &[(ReturnStatus, AfterSaleKind, AfterSaleAction)] = {
        use AfterSaleAction as A;
        use AfterSaleKind as K;
        use ReturnStatus as S;
        &[
            (S::Requested, K::ReturnRefund, A::Approve),
            (S::Requested, K::ReturnRefund, A::Reject),
            (S::Requested, K::ReturnRefund, A::Withdraw),
            (S::Requested, K::RefundOnly, A::Approve),
            (S::Requested, K::RefundOnly, A::Reject),
            (S::Requested, K::RefundOnly, A::Withdraw),
            (S::Approved, K::ReturnRefund, A::Receive),
            (S::Approved, K::ReturnRefund, A::Close),
            (S::Approved, K::RefundOnly, A::Refund),
            (S::Received, K::ReturnRefund, A::Refund),
            (S::Requested, K::Exchange, A::Approve),
            (S::Requested, K::Exchange, A::Reject),
            (S::Requested, K::Exchange, A::Withdraw),
            (S::Requested, K::Exchange, A::Convert),
            (S::Approved, K::Exchange, A::Receive),
            (S::Approved, K::Exchange, A::Close),
            (S::PendingPayment, K::Exchange, A::Pay),
            (S::PendingPayment, K::Exchange, A::Close),
        ]
    };

    const KINDS: [AfterSaleKind; 3] = [
        AfterSaleKind::ReturnRefund,
        AfterSaleKind::RefundOnly,
        AfterSaleKind::Exchange,
    ];

    #[test]
    fn after_sale_table_matches_the_documented_one() {
        for s in ReturnStatus::ALL {
            for k in KINDS {
                for a in AfterSaleAction::ALL {
                    assert_eq!(
                        s.allows(k, a),
                        ALLOWED.contains(&(s, k, a)),
                        "{} / {} / {}",
                        s.as_str(),
                        k.as_str(),
                        a.as_str()
                    );
                }
            }
        }
    }

    #[test]
    fn the_documented_table_is_the_one_in_the_docs() {
        // docs/order-lifecycle.md lists the same rows, one per line.
        let doc = include_str!("../../../docs/order-lifecycle.md");
        for (s, k, a) in ALLOWED {
            let row = format!("| {} | {} | {} |", s.as_str(), k.as_str(), a.as_str());
            assert!(doc.contains(&row), "docs/order-lifecycle.md lacks `{row}`");
        }
        let rows = doc
            .lines()
            .filter(|l| {
                ReturnStatus::ALL.iter().any(|s| {
                    KINDS
                        .iter()
                        .any(|k| l.starts_with(&format!("| {} | {} |", s.as_str(), k.as_str())))
                })
            })
            .count();
        assert_eq!(rows, ALLOWED.len(), "extra after-sale rows in the docs");
    }
}
