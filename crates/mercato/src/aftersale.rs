//! The engine's after-sale and payments calls (issue 13): the payments
//! ledger ([`Engine::record_payment`]), staged after-sale requests
//! ([`Engine::request_after_sale`] and the calls that move them), goodwill
//! refunds and partial cancel; their requests' decisions and answers.
//!
//! Every call is one request decided by the core `Shop` (decide → events →
//! apply), so replay rebuilds the identical state and a repeated
//! idempotency key answers the first answer.

use chrono::{DateTime, Utc};
use mercato_core::aftersale::{AfterSaleAction, AfterSaleKind, AfterSaleRequest};
use mercato_core::order::{LineQty, OrderEvent, OrderStatus, ReturnStatus};
use mercato_core::payments::{PaymentShare, RefundKind};
use mercato_core::{Command, CoreError, Event, Money};
use mercato_rules::ShopView;
use mercato_store::Store;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::log::LogEvent;
use crate::request::{Request, Response};
use crate::settings::RefundPolicy;
use crate::state::EngineState;

/// One payment ([`Engine::record_payment`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentOptions {
    /// Method (`card`, `alipay`, `gift_card`...).
    pub method: String,
    /// Amount: positive, at most what is still due.
    pub amount: Money,
    /// The payment provider's reference.
    pub reference: Option<String>,
}

/// The answer to a captured payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReceipt {
    /// Order.
    pub order: String,
    /// The payment's id (`<order>-p<n>`).
    pub payment: String,
    /// Its amount.
    pub amount: Money,
    /// Σ captured so far.
    pub paid: Money,
    /// What is still due (zero once paid).
    pub due: Money,
    /// The order's status (`paid` once Σ captured = payable).
    pub status: OrderStatus,
}

/// A staged after-sale request ([`Engine::request_after_sale`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterSaleOptions {
    /// `return_refund` or `refund_only`.
    pub kind: AfterSaleKind,
    /// Units per line.
    pub lines: Vec<LineQty>,
    /// Reason code.
    pub reason_code: Option<String>,
    /// Free text.
    pub note: Option<String>,
    /// Return shipping the customer bears, deducted from the refund
    /// (`None`: the merchant pays).
    pub return_shipping_fee: Option<Money>,
}

impl AfterSaleOptions {
    /// A request of `kind` for `lines`, no reason, merchant-paid return
    /// shipping.
    pub fn new(kind: AfterSaleKind, lines: Vec<LineQty>) -> Self {
        AfterSaleOptions {
            kind,
            lines,
            reason_code: None,
            note: None,
            return_shipping_fee: None,
        }
    }
}

/// The answer to an after-sale call: where the request is now, and the
/// refund when it was refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfterSaleAnswer {
    /// Order.
    pub order: String,
    /// Request id.
    pub request: String,
    /// Its status.
    pub status: ReturnStatus,
    /// The refund, once refunded.
    pub refund: Option<RefundReceipt>,
    /// The order's status.
    pub order_status: OrderStatus,
    /// An exchange's terms and progress (requests of kind `exchange`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Box<crate::exchange::ExchangeView>>,
}

/// Money that went back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundReceipt {
    /// Order.
    pub order: String,
    /// Refund id (the request id, or `<order>-f<n>`).
    pub refund_id: String,
    /// Why.
    pub kind: RefundKind,
    /// Money refunded in all.
    pub amount: Money,
    /// The shipping part of it.
    pub shipping: Money,
    /// Points given back.
    pub points_returned: i64,
    /// The payments it goes back through.
    pub allocations: Vec<PaymentShare>,
    /// The order's status after it.
    pub status: OrderStatus,
}

pub(crate) fn money(st: &EngineState, amount: Decimal) -> Result<Money, EngineError> {
    let c = st.currency.ok_or(EngineError::NotConfigured)?;
    Ok(Money::new(amount, c)?)
}

/// The core's decision plus its follow-ups (points credited or clawed
/// back as the refund moves the order): the one path every command takes.
fn shop_decide(
    st: &EngineState,
    cmd: &Command,
    now: DateTime<Utc>,
) -> Result<Vec<LogEvent>, EngineError> {
    crate::decide::shop_decide(st, cmd, now)
}

/// The `reprice` claw-back for refunding `lines` of `order` (zero under
/// `pro_rata`).
fn owed_back(
    st: &EngineState,
    view: &dyn ShopView,
    order: &str,
    lines: &[LineQty],
) -> Result<Money, EngineError> {
    let o = st
        .shop()
        .order(order)
        .ok_or_else(|| CoreError::UnknownOrder(order.to_string()))?;
    match st.settings.refund_policy {
        RefundPolicy::ProRata => Ok(Money::zero(o.quote.currency)),
        RefundPolicy::Reprice => crate::decide::clawback(st, view, order, &o.kept_after(lines)),
    }
}

/// Decides the requests of this module; `None` for any other request.
pub(crate) fn decide(
    st: &EngineState,
    req: &Request,
    now: DateTime<Utc>,
    view: &dyn ShopView,
) -> Option<Result<Vec<LogEvent>, EngineError>> {
    if let Some(r) = crate::exchange::decide(st, req, now) {
        return Some(r);
    }
    let order_of = |id: &str| {
        st.shop()
            .order(id)
            .ok_or_else(|| EngineError::from(CoreError::UnknownOrder(id.to_string())))
    };
    Some(match req {
        Request::RecordPayment {
            order,
            method,
            amount,
            reference,
            key,
        } => money(st, *amount).and_then(|amount| {
            shop_decide(
                st,
                &Command::RecordPayment {
                    order: order.clone(),
                    method: method.clone(),
                    amount,
                    reference: reference.clone(),
                    key: key.clone(),
                },
                now,
            )
        }),
        Request::RequestAfterSale {
            order,
            kind,
            lines,
            reason_code,
            note,
            return_shipping_fee,
        } => (|| {
            let o = order_of(order)?;
            let fee = return_shipping_fee.map(|f| money(st, f)).transpose()?;
            shop_decide(
                st,
                &Command::AfterSaleRequest {
                    order: order.clone(),
                    request: AfterSaleRequest {
                        id: format!("{order}-r{}", o.returns.len() + 1),
                        kind: *kind,
                        lines: lines.clone(),
                        reason_code: reason_code.clone(),
                        note: note.clone(),
                        return_shipping_fee: fee,
                    },
                },
                now,
            )
        })(),
        Request::AfterSale {
            order,
            request,
            action,
            damaged,
        } => (|| {
            let o = order_of(order)?;
            let owed = match (
                action,
                o.returns.iter().find(|r| &r.id == request && r.is_open()),
            ) {
                (AfterSaleAction::Refund, Some(r)) => owed_back(st, view, order, &r.lines)?,
                _ => Money::zero(o.quote.currency),
            };
            shop_decide(
                st,
                &Command::AfterSale {
                    order: order.clone(),
                    request: request.clone(),
                    action: *action,
                    damaged: *damaged,
                    owed_back: owed,
                },
                now,
            )
        })(),
        Request::Goodwill { order, amount } => (|| {
            let o = order_of(order)?;
            shop_decide(
                st,
                &Command::Goodwill {
                    order: order.clone(),
                    refund_id: format!("{order}-f{}", o.refunds.len() + 1),
                    amount: money(st, *amount)?,
                },
                now,
            )
        })(),
        Request::CancelUnits { order, lines } => (|| {
            let o = order_of(order)?;
            // Malformed units before the reprice arithmetic reads them.
            mercato_core::order::Order::check_quantities(lines, "partial cancel")?;
            o.check_cancel_units(lines)?;
            let owed = owed_back(st, view, order, lines)?;
            shop_decide(
                st,
                &Command::CancelUnits {
                    order: order.clone(),
                    refund_id: format!("{order}-f{}", o.refunds.len() + 1),
                    lines: lines.clone(),
                    owed_back: owed,
                },
                now,
            )
        })(),
        _ => return None,
    })
}

pub(crate) fn refund_receipt(
    st: &EngineState,
    order: &str,
    events: &[LogEvent],
) -> Option<RefundReceipt> {
    events.iter().find_map(|e| match e {
        LogEvent::Core(Event::Order(OrderEvent::Refunded {
            return_id,
            amount,
            points_returned,
            kind,
            shipping,
            allocations,
            ..
        })) => Some(RefundReceipt {
            order: order.to_string(),
            refund_id: return_id.clone(),
            kind: *kind,
            amount: *amount,
            shipping: shipping.unwrap_or(Money::zero(amount.currency())),
            points_returned: *points_returned,
            allocations: allocations.clone(),
            status: st
                .shop()
                .order(order)
                .map_or(OrderStatus::Closed, |o| o.status),
        }),
        _ => None,
    })
}

/// The answer to a request of this module, read from the state after its
/// events; `None` for any other request.
pub(crate) fn respond(st: &EngineState, req: &Request, events: &[LogEvent]) -> Option<Response> {
    if let Some(r) = crate::exchange::respond(st, req, events) {
        return Some(r);
    }
    let o = |id: &str| st.shop().order(id);
    match req {
        Request::RecordPayment { order, .. } => {
            let o = o(order)?;
            let p = events.iter().find_map(|e| match e {
                LogEvent::Core(Event::Order(OrderEvent::PaymentCaptured { payment, .. })) => {
                    Some(payment)
                }
                _ => None,
            })?;
            Some(Response::Payment(PaymentReceipt {
                order: order.clone(),
                payment: p.id.clone(),
                amount: p.amount,
                paid: o.paid,
                due: o.due().unwrap_or(Money::zero(o.quote.currency)),
                status: o.status,
            }))
        }
        Request::RequestAfterSale { order, .. } | Request::AfterSale { order, .. } => {
            let id = match req {
                Request::AfterSale { request, .. } => request.clone(),
                _ => events.iter().find_map(|e| match e {
                    LogEvent::Core(Event::Order(OrderEvent::ReturnRequested {
                        return_id, ..
                    })) => Some(return_id.clone()),
                    _ => None,
                })?,
            };
            let ord = o(order)?;
            let r = ord.returns.iter().find(|r| r.id == id)?;
            Some(Response::AfterSale(AfterSaleAnswer {
                order: order.clone(),
                request: id,
                status: r.status,
                refund: refund_receipt(st, order, events),
                order_status: ord.status,
                exchange: crate::exchange::view(ord, r).map(Box::new),
            }))
        }
        Request::Goodwill { order, .. } | Request::CancelUnits { order, .. } => {
            refund_receipt(st, order, events).map(Response::Refund)
        }
        _ => None,
    }
}

pub(crate) fn unexpected(r: Response) -> EngineError {
    EngineError::Internal(format!("unexpected response {r:?}"))
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    pub(crate) fn shop_money(&self, m: Money) -> Result<Decimal, EngineError> {
        let currency = self.read(|s| s.currency)?;
        if let Some(c) = currency
            && c != m.currency()
        {
            return Err(CoreError::CurrencyMismatch {
                left: c,
                right: m.currency(),
            }
            .into());
        }
        Ok(m.amount())
    }

    /// Captures one payment of an unpaid order: a part of what is due
    /// (before the payment deadline), or the rest of it, through any
    /// method; the order is `paid` once Σ captured = payable. More than is
    /// due is refused ([`CoreError::Overpayment`], `payment_mismatch`).
    /// `key` is both the call's idempotency key and the payment's.
    ///
    /// ```
    /// # use mercato::{Engine, ManualClock, Settings, PlaceOrderRequest, PaymentOptions};
    /// # use mercato::core::{Currency, Money};
    /// # use mercato::store::MemoryStore;
    /// # let engine = Engine::open(MemoryStore::new(), ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())).unwrap();
    /// # engine.configure(Currency::CNY, Settings::default()).unwrap();
    /// # engine.add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "100.00"}"#).unwrap()).unwrap();
    /// # engine.adjust_stock("tea", "main", 10, "received").unwrap();
    /// engine.place_order(PlaceOrderRequest::new("o1").line("tea", 1), None).unwrap();
    /// let cny = |s: &str| Money::parse(s, Currency::CNY).unwrap();
    /// let card = PaymentOptions { method: "card".into(), amount: cny("60.00"), reference: None };
    /// let r = engine.record_payment("o1", card, Some("pay-1")).unwrap();
    /// assert_eq!((r.due, r.status.as_str()), (cny("40.00"), "pending_payment"));
    /// let gift = PaymentOptions { method: "gift_card".into(), amount: cny("40.00"), reference: None };
    /// assert_eq!(engine.record_payment("o1", gift, Some("pay-2")).unwrap().status.as_str(), "paid");
    /// ```
    pub fn record_payment(
        &self,
        order: &str,
        payment: PaymentOptions,
        key: Option<&str>,
    ) -> Result<PaymentReceipt, EngineError> {
        let amount = self.shop_money(payment.amount)?;
        match self.execute(
            &Request::RecordPayment {
                order: order.to_string(),
                method: payment.method,
                amount,
                reference: payment.reference,
                key: key.map(str::to_string),
            },
            key,
        )? {
            Response::Payment(p) => Ok(p),
            other => Err(unexpected(other)),
        }
    }

    pub(crate) fn after_sale_call(
        &self,
        req: Request,
        key: Option<&str>,
    ) -> Result<AfterSaleAnswer, EngineError> {
        match self.execute(&req, key)? {
            Response::AfterSale(a) => Ok(a),
            other => Err(unexpected(other)),
        }
    }

    /// Files a staged after-sale request (`<order>-r<n>`): units delivered
    /// and not in another request, within `after_sale.request_window_days`
    /// of delivery (`refund_only` may also come before delivery).
    pub fn request_after_sale(
        &self,
        order: &str,
        options: AfterSaleOptions,
        key: Option<&str>,
    ) -> Result<AfterSaleAnswer, EngineError> {
        let fee = options
            .return_shipping_fee
            .map(|f| self.shop_money(f))
            .transpose()?;
        self.after_sale_call(
            Request::RequestAfterSale {
                order: order.to_string(),
                kind: options.kind,
                lines: options.lines,
                reason_code: options.reason_code,
                note: options.note,
                return_shipping_fee: fee,
            },
            key,
        )
    }

    /// Moves a staged request: `approve`, `reject`, `withdraw` (before
    /// approval), `receive` (`damaged`: not restocked), `refund`.
    pub fn after_sale(
        &self,
        order: &str,
        request: &str,
        action: AfterSaleAction,
        damaged: bool,
        key: Option<&str>,
    ) -> Result<AfterSaleAnswer, EngineError> {
        self.after_sale_call(
            Request::AfterSale {
                order: order.to_string(),
                request: request.to_string(),
                action,
                damaged,
            },
            key,
        )
    }

    /// Refunds a goodwill amount (no unit), capped by what was paid and not
    /// yet refunded.
    pub fn goodwill_refund(
        &self,
        order: &str,
        amount: Money,
        key: Option<&str>,
    ) -> Result<RefundReceipt, EngineError> {
        let amount = self.shop_money(amount)?;
        match self.execute(
            &Request::Goodwill {
                order: order.to_string(),
                amount,
            },
            key,
        )? {
            Response::Refund(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// Cancels units not yet shipped: their stock goes back where it was
    /// held and their nets are refunded.
    pub fn cancel_units(
        &self,
        order: &str,
        lines: Vec<LineQty>,
        key: Option<&str>,
    ) -> Result<RefundReceipt, EngineError> {
        match self.execute(
            &Request::CancelUnits {
                order: order.to_string(),
                lines,
            },
            key,
        )? {
            Response::Refund(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }
}
