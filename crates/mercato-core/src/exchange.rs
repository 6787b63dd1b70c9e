//! Exchanges (换货, issue 13): an after-sale request of kind `exchange`
//! sends units of order lines back and gets units of another SKU (or the
//! same one) instead.
//!
//! **Flow.** `requested` (the units are held by the request, as for any
//! request) → `approve`: the replacement units are reserved all or nothing
//! in their own stock reservation (`<request>/exchange`, through the stock
//! ledger like any reservation, so a commit that reads the SKU's stock
//! stream cannot oversell), and the price difference is set from the list
//! prices at that time → `approved`, or `pending_payment` when money is
//! due (paid through the order's payments ledger by payments that name
//! the exchange, until a deadline) → `receive`: the goods are back
//! (restocked where they left, or not when damaged); the replaced units
//! leave their lines and the replacements become **exchange lines** of the
//! order, shipped with `ship_shipment` like any units → `exchanged`. Out of
//! stock at approval is [`CoreError::ExchangeOutOfStock`]; a request still
//! `requested` can be converted to an approved `return_refund`.
//!
//! **Prices.** Per unit, the replacement costs the replaced unit's net plus
//! the difference of the list unit prices at approval (`list(B) −
//! list(A)`; zero for the same SKU): `net(B) = max(0, net(A) + d)`. With
//! `d > 0` the customer pays `qty × d` (exact: no rounding, the list
//! prices are whole minor units); with `d < 0` the difference `net(A) −
//! net(B)` is refunded when the goods are received (kind `exchange`);
//! below zero the replacement is free and what is left of `net(A)` beyond
//! it is not refunded (the shop keeps it: a refund never exceeds what the
//! replaced unit was worth).
//!
//! **Units.** Every line — the quote's and the exchange lines after them
//! — is read through [`Order::line`]. A line's units are valued
//! first-first by largest remainder (as [`crate::order`] says); refunds and
//! exchanges take them from one cursor (units refunded + units exchanged
//! away), so an exchanged unit is never also refunded, and the values
//! taken from a line never add up to more than its net. An exchange line
//! carries its own net (the replaced units' nets plus what was paid, or
//! less what was refunded) and points share, so returning it refunds
//! exactly what it cost, and it can itself be exchanged (A → B → C).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::aftersale::AfterSaleKind;
use crate::error::CoreError;
use crate::event::Event;
use crate::money::Money;
use crate::order::{
    LineQty, Order, OrderAction, OrderEvent, OrderStatus, ReturnRecord, ReturnStatus, add_lines,
    at, unit_range_share,
};
use crate::payments::{PaymentRecord, PaymentShare, RefundKind, allocate_refund};
use crate::quote::{QuoteLine, Stage};
use crate::shop::{Context, Shop};
use crate::stock::{Allocation, ReleaseReason, StockCommand, StockEvent, StockLine};

/// Hours an exchange with money due waits for its payment when
/// `after_sale.exchange_payment_hours` is not set.
pub const DEFAULT_PAYMENT_HOURS: i64 = 24;

/// Which SKUs a unit may be exchanged for (setting `after_sale.exchange_to`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeScope {
    /// The same SKU, or another SKU of the same product (the catalog's
    /// `product`).
    #[default]
    SameProduct,
    /// Any SKU of the catalog.
    AnySku,
}

/// One item of an exchange: `qty` units of order line `line` go back, and
/// `qty` units of `sku` come instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeItem {
    /// The order line (a quote line or an exchange line).
    pub line: usize,
    /// Units.
    pub qty: i64,
    /// The replacement SKU.
    pub sku: String,
}

/// An exchange as a caller files it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRequest {
    /// Request id (the engine names them `<order>-r<n>`, in the sequence of
    /// every after-sale request).
    pub id: String,
    /// What goes back and what comes instead.
    pub items: Vec<ExchangeItem>,
    /// Reason code (`wrong_size`, `defective`...).
    pub reason_code: Option<String>,
    /// Free text.
    pub note: Option<String>,
}

impl ExchangeRequest {
    /// The units that go back, one entry per item.
    pub fn lines(&self) -> Vec<LineQty> {
        lines_of(&self.items)
    }
}

fn lines_of(items: &[ExchangeItem]) -> Vec<LineQty> {
    items
        .iter()
        .map(|i| LineQty {
            line: i.line,
            qty: i.qty,
        })
        .collect()
}

/// The list unit prices one item is approved with (the engine reads them
/// from the catalog at approval): the replaced line's SKU and the
/// replacement SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPrices {
    /// List unit price of the replaced units' SKU.
    pub from: Money,
    /// List unit price of the replacement SKU.
    pub to: Money,
}

/// An item's prices as approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangePrice {
    /// List unit price of the replaced units' SKU at approval.
    pub list_from: Money,
    /// List unit price of the replacement SKU at approval.
    pub list_to: Money,
    /// Per unit: `list_to − list_from`, zero for the same SKU.
    pub difference: Money,
}

/// An exchange's terms and progress (on its [`ReturnRecord`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// What goes back and what comes instead.
    pub items: Vec<ExchangeItem>,
    /// Per item, the prices approved (empty before approval).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<ExchangePrice>,
    /// Money the customer pays: Σ `qty × difference` of the items whose
    /// replacement costs more (`None` before approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Money>,
    /// The payment deadline while money is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_by: Option<DateTime<Utc>>,
    /// The stock reservation of the replacement units (from approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
    /// The exchange lines it added to the order (once exchanged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<usize>,
}

/// A line an exchange added to the order: the replacement units, with
/// their own net, shipped from their own reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeLine {
    /// The SKU.
    pub sku: String,
    /// Units.
    pub qty: i64,
    /// What the units cost in all (split over them by largest remainder,
    /// earlier units first): the replaced units' nets plus the difference
    /// paid, or less the difference refunded.
    pub net: Money,
    /// The points deduction carried over from the replaced units.
    pub points_deduction: Money,
    /// The SKU's list unit price at approval.
    pub unit_price: Money,
    /// The line and units it replaced.
    pub replaces: LineQty,
    /// The exchange request.
    pub request: String,
    /// The stock reservation its units ship from.
    pub reservation: String,
}

/// One line of an order as every computation reads it: a quote line, or
/// an exchange line after them ([`Order::line`]).
#[derive(Debug, Clone, Copy)]
pub struct LineRef<'a> {
    /// Its index (`quote.lines.len()` and up: an exchange line).
    pub index: usize,
    /// The SKU.
    pub sku: &'a str,
    /// Units.
    pub qty: i64,
    /// What the units cost in all.
    pub net: Money,
    /// List unit price (at placement; at approval for an exchange line).
    pub unit_price: Money,
    /// The quote line, for a line of the quote.
    pub quote: Option<&'a QuoteLine>,
    /// The exchange line, for a line an exchange added.
    pub exchange: Option<&'a ExchangeLine>,
}

impl LineRef<'_> {
    /// The line's points deduction (what points took off its net).
    pub fn points_deduction(&self) -> Result<Money, CoreError> {
        match (self.quote, self.exchange) {
            (Some(q), _) => q.adjusted_at(Stage::Points),
            (None, Some(x)) => Ok(x.points_deduction),
            (None, None) => Ok(Money::zero(self.net.currency())),
        }
    }
}

/// The stock reservation of an exchange's replacement units.
pub fn reservation_id(request: &str) -> String {
    format!("{request}/exchange")
}

/// Σ over units `from..from+k` of a line worth `total` over `qty` units of
/// `max(0, unit share + diff)`, in closed form (the shares are `base + 1`
/// for the first `total mod qty` units, `base` after).
fn shifted_range(
    total: Money,
    qty: i64,
    from: i64,
    k: i64,
    diff: Money,
) -> Result<Money, CoreError> {
    // Validates the range as `unit_range_share` does.
    unit_range_share(total, qty, from, k)?;
    let n = total.to_minor()?;
    let d = diff.to_minor()?;
    let q = i128::from(qty);
    let (base, extra) = (n.div_euclid(q), n.rem_euclid(q));
    let (from, k) = (i128::from(from), i128::from(k));
    let bonus = (extra.min(from + k) - from).clamp(0, k);
    let high = (base + 1 + d).max(0);
    let low = (base + d).max(0);
    let sum = high
        .checked_mul(bonus)
        .and_then(|h| low.checked_mul(k - bonus).and_then(|l| h.checked_add(l)))
        .ok_or(CoreError::Overflow("exchange net"))?;
    Money::from_minor_i128(sum, total.currency())
}

impl Order {
    /// Lines of the order: the quote's, then the exchange lines.
    pub fn line_count(&self) -> usize {
        self.quote.lines.len() + self.exchange_lines.len()
    }

    /// Line `i`: a quote line, or an exchange line after them. Every read
    /// of a line's SKU, units, net and points deduction goes through here,
    /// so refunds, returns, shipping shares, shipments and partial cancels
    /// work on exchange lines unchanged.
    pub fn line(&self, i: usize) -> Option<LineRef<'_>> {
        let n = self.quote.lines.len();
        if let Some(q) = self.quote.lines.get(i) {
            return Some(LineRef {
                index: i,
                sku: &q.sku,
                qty: q.qty,
                net: q.net,
                unit_price: q.unit_price,
                quote: Some(q),
                exchange: None,
            });
        }
        let x = self.exchange_lines.get(i.checked_sub(n)?)?;
        Some(LineRef {
            index: i,
            sku: &x.sku,
            qty: x.qty,
            net: x.net,
            unit_price: x.unit_price,
            quote: None,
            exchange: Some(x),
        })
    }

    /// Every line, in order.
    pub fn lines(&self) -> impl Iterator<Item = LineRef<'_>> {
        (0..self.line_count()).filter_map(|i| self.line(i))
    }

    /// Units of line `i` (0 for no such line).
    pub fn line_qty(&self, i: usize) -> i64 {
        self.line(i).map_or(0, |l| l.qty)
    }

    /// Whether line `i` is an exchange line.
    pub fn is_exchange_line(&self, i: usize) -> bool {
        i >= self.quote.lines.len() && i < self.line_count()
    }

    /// The quote line that line `i` descends from (itself for a quote
    /// line; for an exchange line, the line it replaced, followed back).
    pub fn root_line(&self, i: usize) -> usize {
        let n = self.quote.lines.len();
        let mut i = i;
        while i >= n {
            match self.exchange_lines.get(i - n) {
                Some(x) if x.replaces.line < i => i = x.replaces.line,
                _ => break,
            }
        }
        i
    }

    /// Units refunded per quote line after refunding `extra`, counting a
    /// refunded unit of an exchange line for the quote line it descends
    /// from (what "every unit refunded", the kept units of `reprice` and
    /// the pro-rata shipping share read).
    pub fn root_refunded(&self, extra: &[LineQty]) -> Vec<i64> {
        let n = self.quote.lines.len();
        let mut out = vec![0_i64; n];
        let mut add = |line: usize, qty: i64| {
            if let Some(r) = out.get_mut(self.root_line(line)) {
                *r = r.saturating_add(qty);
            }
        };
        for i in 0..self.line_count() {
            add(i, at(&self.refunded_units, i));
        }
        for lq in extra {
            add(lq.line, lq.qty);
        }
        out
    }

    /// Per line, the units whose value is taken: refunded, or exchanged
    /// away (the cursor refunds and exchanges take units from).
    pub(crate) fn units_taken(&self) -> Vec<i64> {
        (0..self.line_count())
            .map(|i| at(&self.refunded_units, i) + at(&self.exchanged, i))
            .collect()
    }

    /// Units of line `i` a new after-sale request (or a one-step return)
    /// may name: shipped (an exchange line: delivered), and not returned,
    /// in an open request or refunded while kept.
    pub fn after_sale_left(&self, i: usize) -> i64 {
        let out = if self.is_exchange_line(i) {
            self.delivered_units(i)
        } else {
            at(&self.shipped, i)
        };
        out - at(&self.returned, i) - at(&self.returning, i) - at(&self.kept_refunded, i)
    }

    /// Units of line `i` in delivered shipments.
    pub fn delivered_units(&self, i: usize) -> i64 {
        self.shipments
            .iter()
            .filter(|s| s.is_delivered())
            .flat_map(|s| &s.lines)
            .filter(|lq| lq.line == i)
            .map(|lq| lq.qty)
            .sum()
    }

    /// When the units of `lines` were delivered, for the request window:
    /// the order's delivery for its quote lines, the latest delivery of a
    /// shipment holding an exchange line's units.
    pub fn delivered_at_of(&self, lines: &[LineQty]) -> Option<DateTime<Utc>> {
        lines
            .iter()
            .filter_map(|lq| {
                if self.is_exchange_line(lq.line) {
                    self.shipments
                        .iter()
                        .filter(|s| s.lines.iter().any(|l| l.line == lq.line))
                        .filter_map(|s| s.delivered_at)
                        .max()
                } else {
                    self.delivered_at
                }
            })
            .max()
    }

    /// Σ of the payments made for exchange `request`.
    pub fn exchange_paid(&self, request: &str) -> Result<Money, CoreError> {
        Money::sum(
            self.quote.currency,
            self.payments
                .iter()
                .filter(|p| p.exchange.as_deref() == Some(request))
                .map(|p| p.amount),
        )
    }

    /// Delivered, completed or returned: the order's own units are out, so
    /// shipping or cancelling exchange units leaves its status alone.
    pub(crate) fn is_delivered_status(&self) -> bool {
        matches!(
            self.status,
            OrderStatus::Delivered | OrderStatus::Completed | OrderStatus::Returned
        )
    }

    /// Whether a shipment (or a partial cancel) of `lines` may go now: the
    /// quote's lines by the order's table; exchange lines (never mixed
    /// with the quote's) once the order is delivered or completed.
    pub(crate) fn check_exchange_lines(
        &self,
        lines: &[LineQty],
        action: OrderAction,
    ) -> Result<(), CoreError> {
        let exchange = lines
            .iter()
            .filter(|lq| self.is_exchange_line(lq.line))
            .count();
        if exchange == 0 {
            return self.check(action);
        }
        if exchange != lines.len() {
            return Err(CoreError::InvalidOrderRequest {
                order: self.id.clone(),
                problem: format!(
                    "a {} mixes the order's lines and exchange lines",
                    action.as_str()
                ),
            });
        }
        if matches!(self.status, OrderStatus::Delivered | OrderStatus::Completed) {
            Ok(())
        } else {
            Err(CoreError::InvalidTransition {
                order: self.id.clone(),
                state: self.status.as_str(),
                command: action.as_str(),
            })
        }
    }

    /// The exchange request `request` of this order.
    fn exchange_request(&self, request: &str) -> Result<(&ReturnRecord, &Exchange), CoreError> {
        let r = self
            .returns
            .iter()
            .find(|r| r.id == request)
            .ok_or_else(|| CoreError::InvalidOrderRequest {
                order: self.id.clone(),
                problem: format!("no after-sale request `{request}`"),
            })?;
        match (&r.exchange, r.kind) {
            (Some(x), AfterSaleKind::Exchange) => Ok((r, x)),
            _ => Err(CoreError::InvalidOrderRequest {
                order: self.id.clone(),
                problem: format!("after-sale request `{request}` is not an exchange"),
            }),
        }
    }
}

fn state_error(o: &Order, r: &ReturnRecord, command: &'static str) -> CoreError {
    CoreError::AfterSaleState {
        order: o.id.clone(),
        request: r.id.clone(),
        state: r.status.as_str(),
        command,
    }
}

impl Shop {
    fn exchange_order(&self, id: &str) -> Result<&Order, CoreError> {
        self.order(id)
            .ok_or_else(|| CoreError::UnknownOrder(id.to_string()))
    }

    /// Files an exchange at `ctx.now`: units delivered and in no other
    /// request, within the request window, each for units of a SKU (which
    /// SKUs are allowed is the engine's to check: the core knows no
    /// products).
    pub fn decide_exchange_request(
        &self,
        order: &str,
        req: &ExchangeRequest,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.exchange_order(order)?;
        let lines = req.lines();
        Order::check_quantities(&lines, "exchange")?;
        o.check(OrderAction::Return)?;
        if req.items.is_empty() {
            return Err(CoreError::InvalidOrderRequest {
                order: order.to_string(),
                problem: "an exchange names no units".into(),
            });
        }
        if let Some(i) = req.items.iter().find(|i| i.sku.trim().is_empty()) {
            return Err(CoreError::InvalidOrderRequest {
                order: order.to_string(),
                problem: format!("line {} is exchanged for no SKU", i.line),
            });
        }
        o.check_after_sale_units(&lines)?;
        if o.returns.iter().any(|r| r.id == req.id) {
            return Err(CoreError::InvalidOrderRequest {
                order: order.to_string(),
                problem: format!("after-sale request `{}` already exists", req.id),
            });
        }
        crate::aftersale::check_request_window(o, &lines, &req.id, ctx)?;
        Ok(vec![Event::Order(OrderEvent::ExchangeRequested {
            id: order.to_string(),
            return_id: req.id.clone(),
            items: req.items.clone(),
            reason_code: req.reason_code.clone(),
            note: req.note.clone(),
            at: ctx.now,
        })])
    }

    /// Approves exchange `request` with the list prices of each item: the
    /// replacement units are reserved all or nothing (out of stock:
    /// [`CoreError::ExchangeOutOfStock`], nothing changes), and the price
    /// difference is set; with money due the exchange waits for payment
    /// until `now + after_sale.exchange_payment_hours`.
    pub fn decide_exchange_approve(
        &self,
        order: &str,
        request: &str,
        prices: &[ListPrices],
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.exchange_order(order)?;
        let (r, x) = o.exchange_request(request)?;
        if !r
            .status
            .allows(r.kind, crate::aftersale::AfterSaleAction::Approve)
        {
            return Err(state_error(o, r, "approve"));
        }
        if prices.len() != x.items.len() {
            return Err(CoreError::InvalidOrderRequest {
                order: order.to_string(),
                problem: format!(
                    "{} list prices for the {} items of exchange `{request}`",
                    prices.len(),
                    x.items.len()
                ),
            });
        }
        let c = o.quote.currency;
        let mut due = Money::zero(c);
        let mut approved = Vec::with_capacity(prices.len());
        for (item, p) in x.items.iter().zip(prices) {
            for m in [p.from, p.to] {
                if m.currency() != c {
                    return Err(CoreError::CurrencyMismatch {
                        left: c,
                        right: m.currency(),
                    });
                }
                if m.is_negative() {
                    return Err(CoreError::Negative {
                        what: "list price",
                        value: m.amount(),
                    });
                }
            }
            let same = o.line(item.line).is_some_and(|l| l.sku == item.sku);
            let difference = if same {
                Money::zero(c)
            } else {
                p.to.checked_sub(p.from)?
            };
            if difference.is_positive() {
                due = due.checked_add(difference.times(item.qty)?)?;
            }
            approved.push(ExchangePrice {
                list_from: p.from,
                list_to: p.to,
                difference,
            });
        }
        let reservation = reservation_id(request);
        let stock_lines: Vec<StockLine> = x
            .items
            .iter()
            .map(|i| StockLine {
                sku: i.sku.clone(),
                qty: i.qty,
            })
            .collect();
        let out_of_stock =
            |sku: String, wanted: i64, available: i64| CoreError::ExchangeOutOfStock {
                order: order.to_string(),
                request: request.to_string(),
                sku,
                wanted,
                available,
            };
        if let Some(l) = stock_lines
            .iter()
            .find(|l| self.stock().sku(&l.sku).is_none())
        {
            return Err(out_of_stock(l.sku.clone(), l.qty, 0));
        }
        let reserved = self
            .stock()
            .decide(&StockCommand::Reserve {
                id: reservation.clone(),
                lines: stock_lines,
                channel: None,
                expires_at: None,
            })
            .map_err(|e| match e {
                CoreError::InsufficientStock {
                    sku,
                    wanted,
                    available,
                } => out_of_stock(sku, wanted, available),
                other => other,
            })?;
        let pay_by = if due.is_positive() {
            let hours = ctx
                .config
                .after_sale
                .exchange_payment_hours
                .unwrap_or(DEFAULT_PAYMENT_HOURS);
            TimeDelta::try_hours(hours).and_then(|h| ctx.now.checked_add_signed(h))
        } else {
            None
        };
        let mut ev = vec![Event::Order(OrderEvent::ExchangeApproved {
            id: order.to_string(),
            return_id: request.to_string(),
            at: ctx.now,
            reservation,
            prices: approved,
            due,
            pay_by,
        })];
        ev.extend(reserved.into_iter().map(Event::Stock));
        Ok(ev)
    }

    /// Captures a payment of exchange `request`'s price difference (a part,
    /// or the rest: then the exchange is `approved`). More than is still
    /// due is [`CoreError::Overpayment`]; after the deadline, or in another
    /// state, [`CoreError::AfterSaleState`].
    #[allow(clippy::too_many_arguments)]
    pub fn decide_exchange_pay(
        &self,
        order: &str,
        request: &str,
        method: &str,
        amount: Money,
        reference: Option<String>,
        key: Option<String>,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.exchange_order(order)?;
        let c = o.quote.currency;
        if amount.currency() != c {
            return Err(CoreError::CurrencyMismatch {
                left: c,
                right: amount.currency(),
            });
        }
        if !amount.is_positive() {
            return Err(CoreError::Negative {
                what: "payment (must be positive)",
                value: amount.amount(),
            });
        }
        let (r, x) = o.exchange_request(request)?;
        if !r
            .status
            .allows(r.kind, crate::aftersale::AfterSaleAction::Pay)
        {
            return Err(state_error(o, r, "pay"));
        }
        if x.pay_by.is_some_and(|t| ctx.now > t) {
            return Err(CoreError::AfterSaleState {
                order: order.to_string(),
                request: request.to_string(),
                state: "past_payment_deadline",
                command: "pay",
            });
        }
        if method.trim().is_empty() {
            return Err(CoreError::InvalidOrderRequest {
                order: order.to_string(),
                problem: "a payment needs a method".into(),
            });
        }
        if let Some(k) = &key
            && o.payments.iter().any(|p| p.key.as_ref() == Some(k))
        {
            return Err(CoreError::InvalidOrderRequest {
                order: order.to_string(),
                problem: format!("payment key `{k}` already recorded"),
            });
        }
        let due = x.due.unwrap_or(Money::zero(c));
        let left = due.checked_sub(o.exchange_paid(request)?)?;
        if amount > left {
            return Err(CoreError::Overpayment {
                payable: due.amount(),
                due: left.amount(),
                offered: amount.amount(),
            });
        }
        let mut ev = vec![Event::Order(OrderEvent::PaymentCaptured {
            id: order.to_string(),
            payment: PaymentRecord {
                id: format!("{order}-p{}", o.payments.len() + 1),
                method: method.to_string(),
                amount,
                reference,
                key,
                at: ctx.now,
                refunded: Money::zero(c),
                exchange: Some(request.to_string()),
            },
        })];
        if amount == left {
            ev.push(Event::Order(OrderEvent::ExchangePaid {
                id: order.to_string(),
                return_id: request.to_string(),
                at: ctx.now,
            }));
        }
        Ok(ev)
    }

    /// The events of receiving an approved exchange's goods: the receipt
    /// (and the restock where the units left, unless damaged), the
    /// exchange lines, and the refund of the difference owed.
    pub(crate) fn exchange_receive_events(
        &self,
        o: &Order,
        r: &ReturnRecord,
        damaged: bool,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let (_, x) = o.exchange_request(&r.id)?;
        let c = o.quote.currency;
        let mut ev = vec![Event::Order(OrderEvent::ReturnReceived {
            id: o.id.clone(),
            return_id: r.id.clone(),
            damaged,
        })];
        if r.restock && !damaged {
            let allocations = o.return_allocations(&r.lines, &o.returned);
            if !allocations.is_empty() {
                ev.push(Event::Stock(StockEvent::Restocked {
                    id: o.id.clone(),
                    allocations,
                    reason: "returned".into(),
                }));
            }
        }
        let reservation = x
            .reservation
            .clone()
            .unwrap_or_else(|| reservation_id(&r.id));
        let mut taken = o.units_taken();
        let mut lines = Vec::with_capacity(x.items.len());
        let mut owed = Money::zero(c);
        for (item, p) in x.items.iter().zip(&x.prices) {
            let l = o
                .line(item.line)
                .ok_or_else(|| CoreError::InvalidOrderRequest {
                    order: o.id.clone(),
                    problem: format!("no line {}", item.line),
                })?;
            let from = at(&taken, item.line);
            let value = unit_range_share(l.net, l.qty, from, item.qty)?;
            let net = shifted_range(l.net, l.qty, from, item.qty, p.difference)?;
            let points = unit_range_share(l.points_deduction()?, l.qty, from, item.qty)?;
            if let Some(t) = taken.get_mut(item.line) {
                *t += item.qty;
            }
            owed = owed.checked_add(value.checked_sub(net)?.max(Money::zero(c))?)?;
            lines.push(ExchangeLine {
                sku: item.sku.clone(),
                qty: item.qty,
                net,
                points_deduction: points,
                unit_price: p.list_to,
                replaces: LineQty {
                    line: item.line,
                    qty: item.qty,
                },
                request: r.id.clone(),
                reservation: reservation.clone(),
            });
        }
        ev.push(Event::Order(OrderEvent::Exchanged {
            id: o.id.clone(),
            return_id: r.id.clone(),
            first_line: o.line_count(),
            lines,
        }));
        let amount = owed.min(o.refundable()?.max(Money::zero(c))?)?;
        if amount.is_positive() {
            let allocations =
                allocate_refund(&o.payments, amount, ctx.config.after_sale.refund_allocation)?;
            ev.push(exchange_refund(
                o,
                &r.id,
                amount,
                RefundKind::Exchange,
                allocations,
            ));
        }
        Ok(ev)
    }

    /// The events of closing exchange `r` before it took place (its
    /// payment deadline passed, or its goods did not come back in time):
    /// the request closes, its replacement units are released, and what
    /// was paid for it goes back. `payments` and `refundable` are the
    /// order's as earlier closings of the same tick left them.
    fn exchange_close_events(
        &self,
        o: &Order,
        r: &ReturnRecord,
        payments: &mut [PaymentRecord],
        refundable: &mut Money,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let c = o.quote.currency;
        let mut ev = vec![Event::Order(OrderEvent::ReturnClosed {
            id: o.id.clone(),
            return_id: r.id.clone(),
        })];
        let reservation = reservation_id(&r.id);
        if self.stock().reservation(&reservation).is_some() {
            ev.extend(
                self.stock()
                    .decide(&StockCommand::Release {
                        id: reservation,
                        reason: ReleaseReason::Closed,
                    })?
                    .into_iter()
                    .map(Event::Stock),
            );
        }
        let paid = o.exchange_paid(&r.id)?;
        let amount = paid.min((*refundable).max(Money::zero(c))?)?;
        if amount.is_positive() {
            let allocations =
                allocate_refund(payments, amount, ctx.config.after_sale.refund_allocation)?;
            for a in &allocations {
                if let Some(p) = payments.iter_mut().find(|p| p.id == a.payment) {
                    p.refunded = p.refunded.checked_add(a.amount)?;
                }
            }
            *refundable = refundable.checked_sub(amount)?;
            ev.push(exchange_refund(
                o,
                &r.id,
                amount,
                RefundKind::ExchangePayment,
                allocations,
            ));
        }
        Ok(ev)
    }

    /// The exchange events of a tick at `ctx.now` for `o`: exchanges whose
    /// payment deadline passed unpaid, and approved exchanges whose goods
    /// did not come back within `after_sale.return_ship_days`, are closed.
    pub(crate) fn exchange_tick_events(
        &self,
        o: &Order,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let mut ev = Vec::new();
        let mut payments = o.payments.clone();
        let mut refundable = o.refundable()?;
        for r in o
            .returns
            .iter()
            .filter(|r| r.kind == AfterSaleKind::Exchange)
        {
            if exchange_due(r, ctx.config).is_some_and(|t| t <= ctx.now) {
                ev.extend(self.exchange_close_events(o, r, &mut payments, &mut refundable, ctx)?);
            }
        }
        Ok(ev)
    }

    /// The events of cancelling units of exchange lines not yet shipped
    /// (after delivery): their units are committed from the exchange's
    /// reservation and put straight back where they were held, and their
    /// nets are refunded (kind `partial_cancel`).
    pub(crate) fn exchange_cancel_events(
        &self,
        o: &Order,
        refund_id: &str,
        lines: &[LineQty],
        owed_back: Money,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        o.check_exchange_lines(lines, OrderAction::CancelUnits)?;
        o.check_cancel_units(lines)?;
        let mut ev = vec![Event::Order(OrderEvent::UnitsCancelled {
            id: o.id.clone(),
            lines: lines.to_vec(),
        })];
        for (reservation, stock_lines, _) in by_reservation(o, lines) {
            let committed = self.stock().decide(&StockCommand::Commit {
                id: reservation.clone(),
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
                id: reservation,
                allocations: back,
                reason: "units cancelled".into(),
            }));
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

    /// The `shipped.v1` event and the stock commits of shipping units of
    /// exchange lines: each line's units are committed from its exchange's
    /// reservation, and the shipment records where they left.
    pub(crate) fn exchange_shipment_events(
        &self,
        o: &Order,
        shipment: String,
        packages: Vec<crate::shipment::Package>,
        lines: &[LineQty],
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let mut parts: Vec<Vec<Allocation>> = vec![Vec::new(); lines.len()];
        let mut stock = Vec::new();
        for (reservation, stock_lines, at_) in by_reservation(o, lines) {
            let split = self.stock().commit_split(&reservation, &stock_lines)?;
            for (k, part) in at_.into_iter().zip(split) {
                if let Some(p) = parts.get_mut(k) {
                    *p = part;
                }
            }
            stock.extend(
                self.stock()
                    .decide(&StockCommand::Commit {
                        id: reservation,
                        lines: Some(stock_lines),
                    })?
                    .into_iter()
                    .map(Event::Stock),
            );
        }
        let mut ev = vec![Event::Order(OrderEvent::Shipped {
            id: o.id.clone(),
            lines: lines.to_vec(),
            shipment: Some(shipment),
            packages,
            sources: crate::shipment::sources_of(lines, &parts),
            at: Some(ctx.now),
        })];
        ev.extend(stock);
        Ok(ev)
    }
}

/// `lines` of exchange lines grouped by the reservation their units are
/// held in, in order of first appearance: the reservation, the stock lines,
/// and the positions in `lines` they come from.
fn by_reservation(o: &Order, lines: &[LineQty]) -> Vec<(String, Vec<StockLine>, Vec<usize>)> {
    let mut out: Vec<(String, Vec<StockLine>, Vec<usize>)> = Vec::new();
    for (k, lq) in lines.iter().enumerate() {
        let Some(x) = o.line(lq.line).and_then(|l| l.exchange) else {
            continue;
        };
        let line = StockLine {
            sku: x.sku.clone(),
            qty: lq.qty,
        };
        match out.iter_mut().find(|(r, _, _)| *r == x.reservation) {
            Some((_, s, p)) => {
                s.push(line);
                p.push(k);
            }
            None => out.push((x.reservation.clone(), vec![line], vec![k])),
        }
    }
    out
}

fn exchange_refund(
    o: &Order,
    request: &str,
    amount: Money,
    kind: RefundKind,
    allocations: Vec<PaymentShare>,
) -> Event {
    Event::Order(OrderEvent::Refunded {
        id: o.id.clone(),
        return_id: request.to_string(),
        amount,
        points_returned: 0,
        held_back: o.held_back,
        kind,
        lines: Some(Vec::new()),
        shipping: None,
        allocations,
    })
}

/// When the timers next act on exchange `r` by themselves: its payment
/// deadline while money is due; `return_ship_days` after approval while
/// its goods are awaited. A requested exchange is never approved by the
/// timer (approval reserves stock and prices the difference from the
/// catalog: the merchant's decision).
pub(crate) fn exchange_due(
    r: &ReturnRecord,
    config: &crate::shop::ShopConfig,
) -> Option<DateTime<Utc>> {
    match r.status {
        ReturnStatus::PendingPayment => r.exchange.as_ref().and_then(|x| x.pay_by),
        ReturnStatus::Approved => r
            .approved_at
            .zip(
                config
                    .after_sale
                    .return_ship_days
                    .and_then(TimeDelta::try_days),
            )
            .and_then(|(a, d)| a.checked_add_signed(d)),
        _ => None,
    }
}

/// Folds an exchange event into its order.
pub(crate) fn apply(o: &mut Order, event: &OrderEvent) {
    match event {
        OrderEvent::ExchangeRequested {
            return_id,
            items,
            reason_code,
            note,
            at,
            ..
        } => {
            let lines = lines_of(items);
            let n = o.line_count();
            add_lines(&mut o.returning, n, &lines, 1);
            o.returns.push(ReturnRecord {
                id: return_id.clone(),
                lines,
                restock: true,
                status: ReturnStatus::Requested,
                refund: None,
                points_returned: 0,
                kind: AfterSaleKind::Exchange,
                reason_code: reason_code.clone(),
                note: note.clone(),
                requested_at: Some(*at),
                approved_at: None,
                return_shipping_fee: None,
                damaged: false,
                exchange: Some(Exchange {
                    items: items.clone(),
                    prices: Vec::new(),
                    due: None,
                    pay_by: None,
                    reservation: None,
                    lines: Vec::new(),
                }),
            });
        }
        OrderEvent::ExchangeApproved {
            return_id,
            at,
            reservation,
            prices,
            due,
            pay_by,
            ..
        } => {
            if let Some(r) = o.return_mut(return_id) {
                r.status = if due.is_positive() {
                    ReturnStatus::PendingPayment
                } else {
                    ReturnStatus::Approved
                };
                r.approved_at = Some(*at);
                if let Some(x) = &mut r.exchange {
                    x.prices = prices.clone();
                    x.due = Some(*due);
                    x.pay_by = *pay_by;
                    x.reservation = Some(reservation.clone());
                }
            }
        }
        OrderEvent::ExchangePaid { return_id, at, .. } => {
            if let Some(r) = o.return_mut(return_id) {
                // The ship-back window counts from here.
                r.status = ReturnStatus::Approved;
                r.approved_at = Some(*at);
            }
        }
        OrderEvent::Exchanged {
            return_id, lines, ..
        } => {
            let first = o.line_count();
            for l in lines {
                o.exchange_lines.push(l.clone());
            }
            let n = o.line_count();
            for v in [
                &mut o.shipped,
                &mut o.returned,
                &mut o.returning,
                &mut o.refunded_units,
                &mut o.cancelled,
                &mut o.kept_refunded,
                &mut o.exchanged,
            ] {
                if v.len() < n {
                    v.resize(n, 0);
                }
            }
            let replaced: Vec<LineQty> = lines.iter().map(|l| l.replaces).collect();
            add_lines(&mut o.exchanged, n, &replaced, 1);
            if let Some(r) = o.return_mut(return_id) {
                r.status = ReturnStatus::Exchanged;
                if let Some(x) = &mut r.exchange {
                    x.lines = (first..n).collect();
                }
            }
        }
        OrderEvent::ExchangeConverted { return_id, at, .. } => {
            if let Some(r) = o.return_mut(return_id) {
                r.kind = AfterSaleKind::ReturnRefund;
                r.status = ReturnStatus::Approved;
                r.approved_at = Some(*at);
                r.exchange = None;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn cny(s: &str) -> Money {
        Money::parse(s, Currency::CNY).unwrap()
    }

    /// The closed form agrees with adding up `max(0, share + d)` unit by
    /// unit.
    #[test]
    fn shifted_range_agrees_with_unit_by_unit() {
        for (net, qty) in [("20.00", 3), ("19.99", 7), ("0.05", 4), ("100.00", 1)] {
            for d in ["0.00", "3.00", "-0.01", "-2.85", "-6.67", "-50.00"] {
                let (m, d) = (cny(net), cny(d));
                for from in 0..qty {
                    for k in 0..=(qty - from) {
                        let mut want = Money::zero(Currency::CNY);
                        for j in from..from + k {
                            let a = unit_range_share(m, qty, j, 1).unwrap();
                            let b = a.checked_add(d).unwrap().max(Money::zero(Currency::CNY));
                            want = want.checked_add(b.unwrap()).unwrap();
                        }
                        assert_eq!(
                            shifted_range(m, qty, from, k, d).unwrap(),
                            want,
                            "{net} / {qty} from {from} k {k} d {d}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn shifted_range_refuses_a_range_outside_the_line() {
        assert!(shifted_range(cny("10.00"), 2, 1, 2, cny("1.00")).is_err());
    }
}
