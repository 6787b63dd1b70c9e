//! The engine's presale calls (issue 13, 预售/定金; `docs/presale.md`):
//! [`Engine::presale_deposit`] places a presale order and captures its
//! deposit in one append; [`Engine::pay_presale_balance`] pays the balance
//! (a `record_payment` that the core accepts only inside the balance window
//! and only for exactly the balance). `tick` closes an order whose balance
//! is unpaid at the deadline and forfeits or refunds its deposit.

use chrono::{DateTime, Utc};
use mercato_core::Money;
use mercato_core::order::{OrderEvent, OrderStatus};
use mercato_core::presale::{PresaleDeposit, PresalePhase, UnpaidBalance};
use mercato_core::shop::PlaceOrder;
use mercato_core::{Command, Event};
use mercato_rules::{CartLine, presale_quote};
use mercato_store::Store;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::aftersale::{PaymentOptions, PaymentReceipt};
use crate::clock::Clock;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::log::LogEvent;
use crate::request::{Request, Response};
use crate::state::EngineState;

/// A presale deposit ([`Engine::presale_deposit`]): the order to place
/// under a presale promotion and the deposit payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresaleDepositRequest {
    /// The order id.
    pub order: String,
    /// The presale promotion.
    pub promotion: String,
    /// The customer (a presale needs one).
    pub customer: String,
    /// Lines (SKUs in the promotion's scope).
    pub lines: Vec<CartLine>,
    /// Deposit payment method.
    pub method: String,
    /// The deposit offered: must be the deposit per unit × units.
    #[serde(with = "mercato_core::money::amount_str")]
    pub amount: Decimal,
    /// The payment provider's reference.
    #[serde(default)]
    pub reference: Option<String>,
    /// Sales channel (default `"web"`).
    #[serde(default)]
    pub channel: Option<String>,
}

/// The answer to a presale deposit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresaleReceipt {
    /// Order.
    pub order: String,
    /// The deposit paid.
    pub deposit: Money,
    /// What it counts for against the price.
    pub deduction: Money,
    /// The order's payable (deposit + balance).
    pub payable: Money,
    /// The balance still due.
    pub balance: Money,
    /// When the balance may be paid from.
    pub balance_from: DateTime<Utc>,
    /// The balance deadline.
    pub balance_until: DateTime<Utc>,
    /// What an unpaid balance does to the deposit.
    pub on_unpaid_balance: UnpaidBalance,
    /// The order's status (`pending_payment`).
    pub status: OrderStatus,
}

/// Decides [`Request::PresaleDeposit`].
pub(crate) fn decide(
    st: &EngineState,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Vec<LogEvent>, EngineError> {
    let Request::PresaleDeposit(d) = req else {
        return Err(EngineError::Internal("not a presale deposit".into()));
    };
    let rules = st.rules()?;
    let amount = Money::new(d.amount, rules.currency())?;
    let offer = presale_quote(rules, &d.promotion, &d.lines, now)?;
    let cmd = Command::PresaleDeposit(Box::new(PresaleDeposit {
        place: PlaceOrder {
            id: d.order.clone(),
            customer: Some(d.customer.clone()),
            channel: d.channel.clone().unwrap_or_else(|| "web".to_string()),
            quote: Arc::new(offer.quote),
            hold_reasons: Vec::new(),
        },
        terms: offer.terms,
        deposit_from: offer.deposit_window.from,
        deposit_until: offer.deposit_window.to,
        per_customer_limit: offer.per_customer_limit,
        amount,
        method: d.method.clone(),
        reference: d.reference.clone(),
        key: None,
    }));
    crate::decide::shop_decide(st, &cmd, now)
}

/// The answer to [`Request::PresaleDeposit`].
pub(crate) fn respond(st: &EngineState, req: &Request, events: &[LogEvent]) -> Response {
    let Request::PresaleDeposit(d) = req else {
        return Response::Done;
    };
    let deposited = events.iter().any(|e| {
        matches!(e, LogEvent::Core(Event::Order(OrderEvent::PresaleDeposited { id, .. })) if *id == d.order)
    });
    let Some(o) = st.shop().order(&d.order).filter(|_| deposited) else {
        return Response::Done;
    };
    let Some(p) = &o.presale else {
        return Response::Done;
    };
    Response::Presale(Box::new(PresaleReceipt {
        order: o.id.clone(),
        deposit: p.terms.deposit,
        deduction: p.terms.deduction,
        payable: o.payable(),
        balance: o.due().unwrap_or(o.payable()),
        balance_from: p.terms.balance_from,
        balance_until: p.terms.balance_until,
        on_unpaid_balance: p.terms.on_unpaid_balance,
        status: o.status,
    }))
}

/// Whether `order` is a presale order: its refunds never re-price (the
/// inflation is per unit, so no kept unit loses a discount it earned).
pub(crate) fn is_presale(st: &EngineState, order: &str) -> bool {
    st.shop().order(order).is_some_and(|o| o.presale.is_some())
}

/// A presale order's phase, for reads (`None`: not a presale order).
pub(crate) fn phase(st: &EngineState, order: &str) -> Option<PresalePhase> {
    st.shop()
        .order(order)
        .and_then(|o| o.presale.as_ref())
        .map(|p| p.phase)
}

fn unexpected(r: Response) -> EngineError {
    EngineError::Internal(format!("unexpected response {r:?}"))
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    /// Pays a presale deposit: prices the order with the presale
    /// promotion (presale price, inflation as its adjustment), places it
    /// with its stock reserved until the balance deadline, and captures the
    /// deposit as its first payment — one append. `key` is the call's
    /// idempotency key.
    ///
    /// Refused: outside the deposit window or while the promotion is
    /// paused or ended (`PresaleDepositWindow`), an amount that is not the
    /// deposit (`PresaleAmount`), beyond the per-customer limit
    /// (`PresaleLimit`), a SKU outside the promotion (`PresaleTerms`), not
    /// enough stock.
    ///
    /// ```
    /// # use mercato::{Engine, ManualClock, Settings, PresaleDepositRequest, PaymentOptions};
    /// # use mercato::core::{Currency, Money};
    /// # use mercato::rules::{CartLine, Promotion};
    /// # use mercato::store::MemoryStore;
    /// let t = |s: &str| s.parse().unwrap();
    /// let clock = ManualClock::new(t("2026-10-21T10:00:00Z"));
    /// let engine = Engine::open(MemoryStore::new(), clock.clone()).unwrap();
    /// # engine.configure(Currency::CNY, Settings::default()).unwrap();
    /// # engine.add_catalog_item(serde_json::from_str(r#"{"sku": "tv", "price": "399.00"}"#).unwrap()).unwrap();
    /// # engine.adjust_stock("tv", "main", 10, "received").unwrap();
    /// # engine.register_customer("u1", None, 0).unwrap();
    /// engine.add_promotion(Promotion::presale("ps", "300.00", "50.00", "100.00")
    ///     .skus(["tv"])
    ///     .deposit_window(t("2026-10-20T00:00:00Z"), t("2026-11-10T00:00:00Z"))
    ///     .balance_window(t("2026-11-11T00:00:00Z"), t("2026-11-12T00:00:00Z"))
    ///     .build().unwrap()).unwrap();
    /// let r = engine.presale_deposit(PresaleDepositRequest {
    ///     order: "o1".into(), promotion: "ps".into(), customer: "u1".into(),
    ///     lines: vec![CartLine::new("tv", 1)], method: "card".into(),
    ///     amount: "50.00".parse().unwrap(), reference: None, channel: None,
    /// }, None).unwrap();
    /// // 300.00 − (100.00 − 50.00) = 250.00 in all; 200.00 left to pay.
    /// assert_eq!(r.balance.amount().to_string(), "200.00");
    /// assert_eq!(engine.next_deadline().unwrap(), Some(t("2026-11-12T00:00:00Z")));
    /// clock.set(t("2026-11-11T08:00:00Z"));
    /// let cny = |s: &str| Money::parse(s, Currency::CNY).unwrap();
    /// let paid = engine.pay_presale_balance("o1",
    ///     PaymentOptions { method: "card".into(), amount: cny("200.00"), reference: None }, None).unwrap();
    /// assert_eq!(paid.status.as_str(), "paid");
    /// ```
    pub fn presale_deposit(
        &self,
        req: PresaleDepositRequest,
        key: Option<&str>,
    ) -> Result<PresaleReceipt, EngineError> {
        match self.execute(&Request::PresaleDeposit(Box::new(req)), key)? {
            Response::Presale(r) => Ok(*r),
            other => Err(unexpected(other)),
        }
    }

    /// Pays a presale order's balance: a [`Engine::record_payment`] of
    /// exactly what is due, accepted only inside the balance window
    /// (`PresaleBalanceNotOpen` before, `PresaleBalanceClosed` from the
    /// deadline on; another amount is `PresaleAmount`). The order is then
    /// paid, its stock committed (or kept until shipment), and
    /// `presale_balance_paid.v1` logged.
    pub fn pay_presale_balance(
        &self,
        order: &str,
        payment: PaymentOptions,
        key: Option<&str>,
    ) -> Result<PaymentReceipt, EngineError> {
        self.record_payment(order, payment, key)
    }

    /// A presale order's phase (`None`: not a presale order).
    pub fn presale_phase(&self, order: &str) -> Result<Option<PresalePhase>, EngineError> {
        self.read(|st| phase(st, order))
    }
}
