//! Presale with deposit (预售/定金): an order placed in a presale
//! promotion's deposit window with a deposit of `X` per unit that counts as
//! `Y` per unit against the price (定金膨胀: pay 50, deduct 100), then a
//! balance paid inside the balance window.
//!
//! The money model is the ordinary one: the order's quote prices each unit
//! at the presale price less the inflation `Y − X` (an adjustment of the
//! presale promotion, like any discount), so the payable is exactly what the
//! customer pays in all: deposit `X × units` plus balance
//! `(price − Y) × units`. The deposit is the order's first payment in the
//! payments ledger; the balance its last. Refunds then come from the unit
//! nets as for any order: a refund after the balance gives back what was
//! paid (the deposit counted at `X`, never at `Y`).
//!
//! The timeline:
//!
//! - **deposit** ([`PresaleDeposit`], `Command::PresaleDeposit`): inside the
//!   deposit window; places the order (stock reserved until the balance
//!   deadline), records the [`OrderEvent::PresaleDeposited`] terms and
//!   captures the deposit. The order is `pending_payment` with the balance
//!   deadline as its deadline.
//! - **balance** (`pay` or `record_payment` of exactly what is due): only
//!   inside the balance window (`check_payment`); it pays the order, and
//!   [`OrderEvent::PresaleBalancePaid`] follows.
//! - **lapse**: at the balance deadline `tick` closes the order and releases
//!   its stock; the deposit is kept (`forfeit`) or refunded (`refund`) as the
//!   promotion says ([`UnpaidBalance`]), told by
//!   [`OrderEvent::PresaleLapsed`]. A customer cancelling before the balance
//!   follows the same policy; a merchant's rejection always refunds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::event::Event;
use crate::money::Money;
use crate::order::{Order, OrderAction, OrderEvent, OrderStatus};
use crate::payments::PaymentRecord;
use crate::shop::{Command, Context, PlaceOrder, Shop};
use crate::stock::StockEvent;

/// What happens to the deposit when the balance is not paid by the
/// deadline (stated per promotion).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnpaidBalance {
    /// The deposit is kept by the shop (定金不退, Tmall's default).
    #[default]
    Forfeit,
    /// The deposit goes back to the customer.
    Refund,
}

impl UnpaidBalance {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            UnpaidBalance::Forfeit => "forfeit",
            UnpaidBalance::Refund => "refund",
        }
    }
}

/// The terms of one presale order, fixed at the deposit (the promotion may
/// change afterwards; the order keeps these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresaleTerms {
    /// The presale promotion's id.
    pub promotion: String,
    /// Units bought (Σ of the order's lines).
    pub units: i64,
    /// Deposit per unit (`X`).
    pub deposit_per_unit: Money,
    /// What a unit's deposit counts for against the price (`Y ≥ X`).
    pub deduction_per_unit: Money,
    /// The deposit paid: `X × units`.
    pub deposit: Money,
    /// What it counts for: `Y × units`.
    pub deduction: Money,
    /// First instant the balance may be paid.
    pub balance_from: DateTime<Utc>,
    /// The balance deadline (first instant it may no longer be paid).
    pub balance_until: DateTime<Utc>,
    /// What an unpaid balance does to the deposit.
    pub on_unpaid_balance: UnpaidBalance,
}

impl PresaleTerms {
    /// The inflation `(Y − X) × units`: the discount the deposit earns.
    pub fn inflation(&self) -> Result<Money, CoreError> {
        self.deduction.checked_sub(self.deposit)
    }
}

/// Where a presale order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresalePhase {
    /// The deposit is paid; the balance is awaited.
    Deposited,
    /// The balance is paid: an ordinary paid order from here.
    BalancePaid,
    /// The balance was not paid (or the customer cancelled): the shop kept
    /// the deposit.
    Forfeited,
    /// The balance was not paid (or the order was cancelled): the deposit
    /// went back.
    DepositRefunded,
}

impl PresalePhase {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            PresalePhase::Deposited => "deposited",
            PresalePhase::BalancePaid => "balance_paid",
            PresalePhase::Forfeited => "forfeited",
            PresalePhase::DepositRefunded => "deposit_refunded",
        }
    }
}

/// The presale part of an order ([`Order::presale`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presale {
    /// The terms fixed at the deposit.
    pub terms: PresaleTerms,
    /// Where it is.
    pub phase: PresalePhase,
}

/// Paying a presale deposit: places the order and captures the deposit in
/// one append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresaleDeposit {
    /// The order to place (its quote priced by the presale promotion; its
    /// hold reasons are ignored: a presale deposit is not held for review).
    pub place: PlaceOrder,
    /// The terms.
    pub terms: PresaleTerms,
    /// First instant deposits are taken.
    pub deposit_from: DateTime<Utc>,
    /// First instant they are no longer taken.
    pub deposit_until: DateTime<Utc>,
    /// Units per customer over their live orders of this promotion.
    pub per_customer_limit: Option<i64>,
    /// The amount offered: must be the deposit.
    pub amount: Money,
    /// Payment method of the deposit.
    pub method: String,
    /// The payment provider's reference.
    pub reference: Option<String>,
    /// The idempotency key the deposit is recorded under.
    pub key: Option<String>,
}

fn terms_err(t: &PresaleTerms, problem: impl Into<String>) -> CoreError {
    CoreError::PresaleTerms {
        promotion: t.promotion.clone(),
        problem: problem.into(),
    }
}

/// Checks the terms against the quote they come with: units, deposit and
/// deduction totals, a positive balance, windows in order.
fn check_terms(d: &PresaleDeposit) -> Result<(), CoreError> {
    let t = &d.terms;
    let q = &d.place.quote;
    let units: i64 = q.lines.iter().map(|l| l.qty).sum();
    if units != t.units || units <= 0 {
        return Err(terms_err(
            t,
            format!("terms name {} units, the order {units}", t.units),
        ));
    }
    if !t.deposit_per_unit.is_positive() {
        return Err(terms_err(t, "the deposit per unit must be positive"));
    }
    if t.deduction_per_unit < t.deposit_per_unit {
        return Err(terms_err(t, "the deduction is below the deposit"));
    }
    if t.deposit != t.deposit_per_unit.times(units)?
        || t.deduction != t.deduction_per_unit.times(units)?
    {
        return Err(terms_err(t, "deposit or deduction is not per unit × units"));
    }
    let balance = q.totals.payable.checked_sub(t.deposit)?;
    if !balance.is_positive() {
        return Err(terms_err(
            t,
            "the balance would not be positive (price ≤ deduction)",
        ));
    }
    if !(d.deposit_from < d.deposit_until
        && d.deposit_until <= t.balance_from
        && t.balance_from < t.balance_until)
    {
        return Err(terms_err(
            t,
            "windows must be deposit_from < deposit_until ≤ balance_from < balance_until",
        ));
    }
    Ok(())
}

impl Shop {
    /// Decides a presale deposit: the window, the per-customer limit, the
    /// amount, then the placement (stock reserved until the balance
    /// deadline), the terms and the deposit payment.
    pub(crate) fn decide_presale_deposit(
        &self,
        d: &PresaleDeposit,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let t = &d.terms;
        let id = d.place.id.clone();
        if self.order(&id).is_some() {
            return Err(CoreError::DuplicateOrder(id));
        }
        if !(d.deposit_from <= ctx.now && ctx.now < d.deposit_until) {
            return Err(CoreError::PresaleDepositWindow {
                promotion: t.promotion.clone(),
                now: ctx.now,
                from: d.deposit_from,
                until: d.deposit_until,
            });
        }
        let Some(customer) = d.place.customer.as_deref() else {
            return Err(terms_err(t, "a presale deposit needs a customer"));
        };
        if self.customer(customer).is_none() {
            return Err(CoreError::UnknownCustomer(customer.to_string()));
        }
        check_terms(d)?;
        if let Some(limit) = d.per_customer_limit {
            let held = self.promotion_units(&t.promotion, customer);
            if held.saturating_add(t.units) > limit {
                return Err(CoreError::PresaleLimit {
                    promotion: t.promotion.clone(),
                    limit,
                    held,
                    wanted: t.units,
                });
            }
        }
        if d.amount != t.deposit {
            return Err(CoreError::PresaleAmount {
                order: id,
                what: "deposit",
                expected: t.deposit.amount(),
                offered: d.amount.amount(),
            });
        }
        if d.method.trim().is_empty() {
            return Err(CoreError::InvalidOrderRequest {
                order: id,
                problem: "a payment needs a method".into(),
            });
        }
        let place = PlaceOrder {
            hold_reasons: Vec::new(),
            ..d.place.clone()
        };
        let mut ev = self.decide(&Command::Place(Box::new(place)), ctx)?;
        // Stock is held, and the order waits, until the balance deadline.
        let until = Some(t.balance_until);
        for e in &mut ev {
            match e {
                Event::Order(OrderEvent::Placed { deadline, .. }) => *deadline = until,
                Event::Stock(StockEvent::Reserved { expires_at, .. }) => *expires_at = until,
                _ => {}
            }
        }
        ev.push(Event::Order(OrderEvent::PresaleDeposited {
            id: id.clone(),
            terms: t.clone(),
        }));
        ev.push(Event::Order(OrderEvent::PaymentCaptured {
            id: id.clone(),
            payment: PaymentRecord {
                id: format!("{id}-p1"),
                method: d.method.clone(),
                amount: d.amount,
                reference: d.reference.clone(),
                key: d.key.clone(),
                at: ctx.now,
                refunded: Money::zero(d.amount.currency()),
                exchange: None,
            },
        }));
        Ok(ev)
    }
}

/// The presale of `o` while its balance is awaited.
fn awaiting(o: &Order) -> Option<&Presale> {
    o.presale
        .as_ref()
        .filter(|p| p.phase == PresalePhase::Deposited)
}

/// Refuses what a presale order awaiting its balance cannot do: a hold
/// (its deadline is the balance deadline, not a review's).
pub(crate) fn check_action(o: &Order, action: OrderAction) -> Result<(), CoreError> {
    if awaiting(o).is_some() && action == OrderAction::Hold {
        return Err(CoreError::InvalidTransition {
            order: o.id.clone(),
            state: "presale_deposited",
            command: action.as_str(),
        });
    }
    Ok(())
}

/// Checks a payment of `amount` on `o` at `now`: on a presale order
/// awaiting its balance, it must fall in the balance window and be exactly
/// the balance. Other orders pass.
pub(crate) fn check_payment(o: &Order, amount: Money, now: DateTime<Utc>) -> Result<(), CoreError> {
    let Some(p) = awaiting(o) else {
        return Ok(());
    };
    if now < p.terms.balance_from {
        return Err(CoreError::PresaleBalanceNotOpen {
            order: o.id.clone(),
            opens: p.terms.balance_from,
        });
    }
    if now >= p.terms.balance_until {
        return Err(CoreError::PresaleBalanceClosed {
            order: o.id.clone(),
            deadline: p.terms.balance_until,
        });
    }
    let due = o.due()?;
    if amount != due {
        return Err(CoreError::PresaleAmount {
            order: o.id.clone(),
            what: "balance",
            expected: due.amount(),
            offered: amount.amount(),
        });
    }
    Ok(())
}

/// The event that follows a payment of `amount` on `o` that paid its
/// balance (none for other orders).
pub(crate) fn balance_paid(o: &Order, amount: Money) -> Option<Event> {
    awaiting(o).map(|_| {
        Event::Order(OrderEvent::PresaleBalancePaid {
            id: o.id.clone(),
            amount,
        })
    })
}

/// What goes back when `o` dies before it is paid (closed at its deadline,
/// or cancelled by the customer): for a presale order awaiting its balance
/// under `forfeit`, nothing; otherwise everything captured and not yet
/// refunded. A reviewer's rejection always refunds.
pub(crate) fn refund_on_lapse(o: &Order, action: OrderAction) -> Result<Money, CoreError> {
    match awaiting(o) {
        Some(p)
            if p.terms.on_unpaid_balance == UnpaidBalance::Forfeit
                && action != OrderAction::Reject =>
        {
            Ok(Money::zero(o.quote.currency))
        }
        _ => o.refundable(),
    }
}

/// The [`OrderEvent::PresaleLapsed`] fact when `o` dies awaiting its
/// balance, `refund` being what goes back.
pub(crate) fn lapsed(o: &Order, refund: Money) -> Result<Option<Event>, CoreError> {
    let Some(p) = awaiting(o) else {
        return Ok(None);
    };
    let forfeited = o.refundable()?.checked_sub(refund)?;
    Ok(Some(Event::Order(OrderEvent::PresaleLapsed {
        id: o.id.clone(),
        forfeited,
        refunded: refund,
        policy: p.terms.on_unpaid_balance,
    })))
}

/// Folds a presale event into its order.
pub(crate) fn apply(o: &mut Order, e: &OrderEvent) {
    match e {
        OrderEvent::PresaleDeposited { terms, .. } => {
            o.deadline = Some(terms.balance_until);
            o.presale = Some(Presale {
                terms: terms.clone(),
                phase: PresalePhase::Deposited,
            });
        }
        OrderEvent::PresaleBalancePaid { .. } => {
            if let Some(p) = &mut o.presale {
                p.phase = PresalePhase::BalancePaid;
            }
        }
        OrderEvent::PresaleLapsed { forfeited, .. } => {
            if let Some(p) = &mut o.presale {
                p.phase = if forfeited.is_positive() {
                    PresalePhase::Forfeited
                } else {
                    PresalePhase::DepositRefunded
                };
            }
        }
        _ => {}
    }
}

/// Whether `o` is a presale order whose stock is held for its balance.
pub fn holds_for_balance(o: &Order) -> bool {
    awaiting(o).is_some() && o.status == OrderStatus::PendingPayment
}
