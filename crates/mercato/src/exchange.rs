//! The engine's exchange calls (换货, issue 13): [`Engine::request_exchange`]
//! files an exchange, [`Engine::after_sale`] moves it (approve, reject,
//! withdraw, receive, and `convert` to a refund), [`Engine::pay_exchange`]
//! pays its price difference. The rules are the core's
//! ([`mercato_core::exchange`]); this module adds what only the engine
//! knows: which SKUs may replace a unit (the catalog's products and
//! `after_sale.exchange_to`), and the list prices at approval.
//!
//! Every call is one request decided by the core `Shop`, so replay rebuilds
//! the identical state and a repeated idempotency key answers the first
//! answer.

use chrono::{DateTime, Utc};
use mercato_core::aftersale::{AfterSaleAction, AfterSaleKind};
use mercato_core::exchange::{ExchangeItem, ExchangeRequest, ExchangeScope, ListPrices};
use mercato_core::order::{Order, OrderEvent, ReturnRecord};
use mercato_core::{Command, CoreError, Event, Money};
use mercato_rules::RulesError;
use mercato_store::Store;
use serde::{Deserialize, Serialize};

use crate::aftersale::{AfterSaleAnswer, PaymentOptions, money, refund_receipt};
use crate::clock::Clock;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::log::LogEvent;
use crate::request::{Request, Response};
use crate::state::EngineState;

/// An exchange to file ([`Engine::request_exchange`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeOptions {
    /// Units going back, each for units of a SKU.
    pub items: Vec<ExchangeItem>,
    /// Reason code (`wrong_size`, `defective`...).
    pub reason_code: Option<String>,
    /// Free text.
    pub note: Option<String>,
}

impl ExchangeOptions {
    /// An exchange with no items yet, no reason.
    ///
    /// ```
    /// use mercato::ExchangeOptions;
    /// let x = ExchangeOptions::new().item(0, 1, "shirt-l").item(1, 2, "sock-black");
    /// assert_eq!((x.items[1].line, x.items[1].qty, x.items[1].sku.as_str()), (1, 2, "sock-black"));
    /// ```
    pub fn new() -> Self {
        ExchangeOptions {
            items: Vec::new(),
            reason_code: None,
            note: None,
        }
    }

    /// Adds an item: `qty` units of order line `line` for `qty` units of
    /// `sku`.
    #[must_use]
    pub fn item(mut self, line: usize, qty: i64, sku: impl Into<String>) -> Self {
        self.items.push(ExchangeItem {
            line,
            qty,
            sku: sku.into(),
        });
        self
    }

    /// The reason code.
    #[must_use]
    pub fn reason(mut self, code: impl Into<String>) -> Self {
        self.reason_code = Some(code.into());
        self
    }
}

impl Default for ExchangeOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// An exchange as an answer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeView {
    /// What goes back and what comes instead.
    pub items: Vec<ExchangeItem>,
    /// The price difference the customer pays (set at approval; zero when
    /// nothing is due).
    pub due: Option<Money>,
    /// Σ of the payments made for it.
    pub paid: Money,
    /// The payment deadline while money is due.
    pub pay_by: Option<DateTime<Utc>>,
    /// The stock reservation of the replacement units.
    pub reservation: Option<String>,
    /// The exchange lines it added to the order (once exchanged).
    pub lines: Vec<usize>,
    /// The payments made for it (ids).
    pub payments: Vec<String>,
}

/// The exchange view of request `r` of `o` (`None` when it is not an
/// exchange).
pub(crate) fn view(o: &Order, r: &ReturnRecord) -> Option<ExchangeView> {
    let x = r.exchange.as_ref()?;
    let mine = || {
        o.payments
            .iter()
            .filter(|p| p.exchange.as_deref() == Some(r.id.as_str()))
    };
    Some(ExchangeView {
        items: x.items.clone(),
        due: x.due,
        paid: Money::sum(o.quote.currency, mine().map(|p| p.amount))
            .unwrap_or(Money::zero(o.quote.currency)),
        pay_by: x.pay_by,
        reservation: x.reservation.clone(),
        lines: x.lines.clone(),
        payments: mine().map(|p| p.id.clone()).collect(),
    })
}

fn order_of<'a>(st: &'a EngineState, id: &str) -> Result<&'a Order, EngineError> {
    st.shop()
        .order(id)
        .ok_or_else(|| CoreError::UnknownOrder(id.to_string()).into())
}

/// Checks the replacement SKUs of `items` against the catalog, in the
/// contract's order of codes: an unknown SKU (`unknown_sku`), a quantity
/// below 1 (`invalid_quantity`), an unsellable SKU (`not_sellable`), a SKU
/// outside `after_sale.exchange_to` (`invalid_transition`). A line the
/// order does not have is the core's to refuse.
fn check_items(st: &EngineState, o: &Order, items: &[ExchangeItem]) -> Result<(), EngineError> {
    let rules = st.rules()?;
    for i in items {
        if rules.item(&i.sku).is_none() {
            return Err(CoreError::UnknownSku(i.sku.clone()).into());
        }
    }
    let lines: Vec<_> = items
        .iter()
        .map(|i| mercato_core::order::LineQty {
            line: i.line,
            qty: i.qty,
        })
        .collect();
    Order::check_quantities(&lines, "exchange")?;
    for i in items {
        if !rules.is_sellable(&i.sku) {
            return Err(RulesError::NotSellable(i.sku.clone()).into());
        }
    }
    for i in items {
        let Some(from) = o.line(i.line) else {
            continue;
        };
        if from.sku == i.sku || st.settings.after_sale.exchange_to == ExchangeScope::AnySku {
            continue;
        }
        let product = |sku: &str| {
            rules
                .item(sku)
                .map_or_else(|| sku.to_string(), |c| c.product.clone())
        };
        let (p, q) = (product(from.sku), product(&i.sku));
        if p != q {
            return Err(CoreError::ExchangeNotAllowed {
                order: o.id.clone(),
                line: i.line,
                from: from.sku.to_string(),
                to: i.sku.clone(),
                problem: format!(
                    "another product (`{}` is of `{p}`, `{}` of `{q}`; after_sale.exchange_to is same_product)",
                    from.sku, i.sku
                ),
            }
            .into());
        }
    }
    Ok(())
}

/// The list unit price of `sku` at `now`.
fn list_price(st: &EngineState, sku: &str, now: DateTime<Utc>) -> Result<Money, EngineError> {
    let price = st
        .rules()?
        .price_at(sku, now)
        .ok_or_else(|| CoreError::UnknownSku(sku.to_string()))?;
    money(st, price)
}

/// Decides the exchange requests: filing, paying, and the approval of an
/// exchange (priced here from the catalog); `None` for any other request.
pub(crate) fn decide(
    st: &EngineState,
    req: &Request,
    now: DateTime<Utc>,
) -> Option<Result<Vec<LogEvent>, EngineError>> {
    Some(match req {
        Request::RequestExchange {
            order,
            items,
            reason_code,
            note,
        } => (|| {
            let o = order_of(st, order)?;
            check_items(st, o, items)?;
            crate::decide::shop_decide(
                st,
                &Command::ExchangeRequest {
                    order: order.clone(),
                    request: ExchangeRequest {
                        id: format!("{order}-r{}", o.returns.len() + 1),
                        items: items.clone(),
                        reason_code: reason_code.clone(),
                        note: note.clone(),
                    },
                },
                now,
            )
        })(),
        Request::PayExchange {
            order,
            request,
            method,
            amount,
            reference,
            key,
        } => (|| {
            order_of(st, order)?;
            crate::decide::shop_decide(
                st,
                &Command::ExchangePay {
                    order: order.clone(),
                    request: request.clone(),
                    method: method.clone(),
                    amount: money(st, *amount)?,
                    reference: reference.clone(),
                    key: key.clone(),
                },
                now,
            )
        })(),
        Request::AfterSale {
            order,
            request,
            action: AfterSaleAction::Approve,
            ..
        } => {
            let o = st.shop().order(order)?;
            let r = o.returns.iter().find(|r| &r.id == request)?;
            let x = r
                .exchange
                .as_ref()
                .filter(|_| r.kind == AfterSaleKind::Exchange)?;
            (|| {
                let mut prices = Vec::with_capacity(x.items.len());
                for i in &x.items {
                    let from = o
                        .line(i.line)
                        .ok_or_else(|| CoreError::InvalidOrderRequest {
                            order: order.clone(),
                            problem: format!("no line {}", i.line),
                        })?;
                    if !st.rules()?.is_sellable(&i.sku) {
                        return Err(RulesError::NotSellable(i.sku.clone()).into());
                    }
                    let to = list_price(st, &i.sku, now)?;
                    let from = if from.sku == i.sku {
                        to
                    } else {
                        list_price(st, from.sku, now)?
                    };
                    prices.push(ListPrices { from, to });
                }
                crate::decide::shop_decide(
                    st,
                    &Command::ExchangeApprove {
                        order: order.clone(),
                        request: request.clone(),
                        prices,
                    },
                    now,
                )
            })()
        }
        _ => return None,
    })
}

/// The answer to a filing or a payment of an exchange, read from the state
/// after its events; `None` for any other request.
pub(crate) fn respond(st: &EngineState, req: &Request, events: &[LogEvent]) -> Option<Response> {
    let (order, id) = match req {
        Request::RequestExchange { order, .. } => (
            order,
            events.iter().find_map(|e| match e {
                LogEvent::Core(Event::Order(OrderEvent::ExchangeRequested {
                    return_id, ..
                })) => Some(return_id.clone()),
                _ => None,
            })?,
        ),
        Request::PayExchange { order, request, .. } => (order, request.clone()),
        _ => return None,
    };
    let o = st.shop().order(order)?;
    let r = o.returns.iter().find(|r| r.id == id)?;
    Some(Response::AfterSale(AfterSaleAnswer {
        order: order.clone(),
        request: id,
        status: r.status,
        refund: refund_receipt(st, order, events),
        order_status: o.status,
        exchange: view(o, r).map(Box::new),
    }))
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    /// Files an exchange (`<order>-r<n>`, in the sequence of every
    /// after-sale request): units delivered and in no other request, within
    /// `after_sale.request_window_days` of delivery, each for as many units
    /// of a SKU — the same SKU, another SKU of the same product, or (with
    /// `after_sale.exchange_to: any_sku`) any SKU of the catalog. Refused
    /// with a typed error: an unknown SKU, an unsellable one, one outside
    /// the scope ([`CoreError::ExchangeNotAllowed`]), units the order cannot
    /// give.
    ///
    /// It then moves with [`Engine::after_sale`]: `approve` reserves the
    /// replacements and prices the difference from the list prices
    /// ([`CoreError::ExchangeOutOfStock`] when they cannot be reserved),
    /// `reject`, `withdraw`, `receive` (the goods are back: the
    /// replacements become order lines to ship), `convert` (to an approved
    /// `return_refund`); money due is paid with [`Engine::pay_exchange`].
    ///
    /// ```
    /// # use mercato::{Engine, ManualClock, Settings, PlaceOrderRequest, ExchangeOptions};
    /// # use mercato::core::{Currency, Money, aftersale::AfterSaleAction};
    /// # use mercato::store::MemoryStore;
    /// # let engine = Engine::open(MemoryStore::new(), ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())).unwrap();
    /// # engine.configure(Currency::CNY, Settings::default()).unwrap();
    /// # for (sku, price) in [("shirt-m", "100.00"), ("shirt-l", "120.00")] {
    /// #     engine.add_catalog_item(serde_json::from_value(serde_json::json!({"sku": sku, "product": "shirt", "price": price})).unwrap()).unwrap();
    /// #     engine.adjust_stock(sku, "main", 5, "received").unwrap();
    /// # }
    /// let cny = |s: &str| Money::parse(s, Currency::CNY).unwrap();
    /// engine.place_order(PlaceOrderRequest::new("o1").line("shirt-m", 1), None).unwrap();
    /// engine.pay("o1", cny("100.00"), None).unwrap();
    /// engine.ship("o1", None, None).unwrap();
    /// engine.deliver("o1", None).unwrap();
    /// let x = engine.request_exchange("o1", ExchangeOptions::new().item(0, 1, "shirt-l"), None).unwrap();
    /// let a = engine.after_sale("o1", &x.request, AfterSaleAction::Approve, false, None).unwrap();
    /// // L lists 20.00 above M: 20.00 to pay before the exchange goes on.
    /// assert_eq!((a.status.as_str(), a.exchange.unwrap().due), ("pending_payment", Some(cny("20.00"))));
    /// ```
    pub fn request_exchange(
        &self,
        order: &str,
        options: ExchangeOptions,
        key: Option<&str>,
    ) -> Result<AfterSaleAnswer, EngineError> {
        self.after_sale_call(
            Request::RequestExchange {
                order: order.to_string(),
                items: options.items,
                reason_code: options.reason_code,
                note: options.note,
            },
            key,
        )
    }

    /// Pays (a part of) exchange `request`'s price difference, through the
    /// order's payments ledger (the payment names the exchange). The last
    /// part moves the exchange from `pending_payment` to `approved`. More
    /// than is still due is refused ([`CoreError::Overpayment`],
    /// `payment_mismatch`); after the deadline, or in another state,
    /// [`CoreError::AfterSaleState`] (`invalid_transition`). `key` is both
    /// the call's idempotency key and the payment's.
    pub fn pay_exchange(
        &self,
        order: &str,
        request: &str,
        payment: PaymentOptions,
        key: Option<&str>,
    ) -> Result<AfterSaleAnswer, EngineError> {
        let amount = self.shop_money(payment.amount)?;
        self.after_sale_call(
            Request::PayExchange {
                order: order.to_string(),
                request: request.to_string(),
                method: payment.method,
                amount,
                reference: payment.reference,
                key: key.map(str::to_string),
            },
            key,
        )
    }

    /// Converts exchange `request`, still `requested`, into an approved
    /// `return_refund` request (its replacement was out of stock, or the
    /// merchant refunds instead): the goods come back and their nets are
    /// refunded as for any return. Same as [`Engine::after_sale`] with
    /// [`AfterSaleAction::Convert`].
    pub fn convert_exchange(
        &self,
        order: &str,
        request: &str,
        key: Option<&str>,
    ) -> Result<AfterSaleAnswer, EngineError> {
        self.after_sale(order, request, AfterSaleAction::Convert, false, key)
    }
}
