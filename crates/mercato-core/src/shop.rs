//! [`Shop`]: the composite state machine that keeps every ledger consistent.
//!
//! One command moves several ledgers at once — placing an order reserves
//! stock, locks coupons and spends points; cancelling gives all three back —
//! so [`Shop::decide`] returns every event of the command together, and the
//! caller appends them in one atomic write. [`Shop::apply`] folds any event
//! in; replaying a log rebuilds the identical shop.
//!
//! The shop also keeps the read models that limits need (units of limited
//! promotions per customer and in all, campaign budget used, live orders per
//! customer), derived from the events of live orders.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::aftersale::{AfterSaleAction, AfterSaleConfig, AfterSaleRequest};
use crate::coupon::{CouponEvent, CouponLedger, UseState};
use crate::error::CoreError;
use crate::event::{CustomerEvent, Event};
use crate::money::Money;
use crate::order::{LineQty, Order, OrderAction, OrderEvent, OrderStatus};
use crate::payments::{PaymentRecord, RefundKind, allocate_refund};
use crate::points::PointsLedger;
use crate::quote::Quote;
use crate::stock::{Allocation, ReleaseReason, StockCommand, StockEvent, StockLedger, StockLine};

/// When stock turns from reserved into sold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockCommit {
    /// On payment (lock on order, deduct on payment).
    #[default]
    Payment,
    /// On shipment, per shipped unit.
    Shipment,
}

/// The shop's configuration that the core needs (pricing settings live in
/// the rules crate).
///
/// The core takes any value and never panics on one (the engine validates
/// settings before it stores them, but a log may hold values from before
/// that): a payment timeout whose deadline cannot be represented
/// (`now + timeout` outside chrono's range, e.g. `i64::MAX` minutes) gives
/// the order no deadline, so it is never closed unpaid; an
/// `auto_complete_days` whose completion time cannot be represented means
/// delivered orders never complete by themselves. A representable negative
/// value puts the time in the past: the next tick acts on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopConfig {
    /// Minutes an order may stay unpaid.
    pub payment_timeout_minutes: i64,
    /// When stock is committed.
    pub stock_commit: StockCommit,
    /// Days after delivery an order completes by itself.
    pub auto_complete_days: i64,
    /// After-sale windows, shipping refund policy, refund allocation.
    #[serde(default)]
    pub after_sale: AfterSaleConfig,
}

impl Default for ShopConfig {
    fn default() -> Self {
        ShopConfig {
            payment_timeout_minutes: 30,
            stock_commit: StockCommit::Payment,
            auto_complete_days: 7,
            after_sale: AfterSaleConfig::default(),
        }
    }
}

/// The explicit inputs of a decision: the time and the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The time of the command.
    pub now: DateTime<Utc>,
    /// Configuration.
    pub config: &'a ShopConfig,
}

/// A registered customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Id.
    pub id: String,
    /// Membership tier.
    pub tier: Option<String>,
    /// Tags (segments), sorted, without duplicates (default none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Placing an order: the priced quote plus who, where and why held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOrder {
    /// Order id (an input: the caller makes ids).
    pub id: String,
    /// Customer.
    pub customer: Option<String>,
    /// Sales channel (web, app, store, marketplace, a flash-sale channel...).
    pub channel: String,
    /// The quote from the pricing pipeline, with the coupons and points it
    /// used (shared, not copied, by the event and the order).
    pub quote: Arc<Quote>,
    /// Review rules that fired: a non-empty list puts the order on hold.
    pub hold_reasons: Vec<String>,
}

/// Registers a customer (or changes their tier) with opening points.
///
/// The same value is the core command and the engine request
/// (`mercato::Request`), so the operation has one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterCustomer {
    /// Id.
    pub id: String,
    /// Tier.
    #[serde(default)]
    pub tier: Option<String>,
    /// Opening points (0: none).
    #[serde(default)]
    pub points: i64,
}

/// Credits points to a customer.
///
/// The same value is the core command and the engine request
/// (`mercato::Request`), so the operation has one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarnPoints {
    /// Customer.
    pub customer: String,
    /// Points.
    pub points: i64,
    /// Why.
    pub reason: String,
}

/// Holds an order for review.
///
/// The same value is the core command and the engine request
/// (`mercato::Request`), so the operation has one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldOrder {
    /// Order.
    pub order: String,
    /// Why.
    pub reasons: Vec<String>,
}

/// Sets a known customer's tags (sorted and deduplicated; replaces the earlier ones).
///
/// The same value is the core command and the engine request
/// (`mercato::Request`), so the operation has one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetCustomerTags {
    /// Customer.
    pub id: String,
    /// Tags (each non-empty).
    pub tags: Vec<String>,
}

/// An operation that names only an order: release, reject, cancel,
/// complete (the core command and the engine request share it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderRef {
    /// The order id.
    pub order: String,
}

impl OrderRef {
    /// Names `order`.
    pub fn new(order: impl Into<String>) -> OrderRef {
        OrderRef {
            order: order.into(),
        }
    }
}

/// Every command a shop understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Command {
    /// Registers a customer (or changes their tier) with opening points.
    RegisterCustomer(RegisterCustomer),
    /// Credits points.
    EarnPoints(EarnPoints),
    /// Issues a coupon.
    IssueCoupon {
        /// Code.
        code: String,
        /// Owner; `None`: public.
        owner: Option<String>,
        /// Global live-use limit.
        usage_limit: Option<i64>,
        /// Per-customer live-use limit.
        per_customer_limit: i64,
        /// End of validity.
        valid_until: Option<DateTime<Utc>>,
    },
    /// A stock-ledger command (adjust, configure, quotas...).
    Stock(StockCommand),
    /// Places an order.
    Place(Box<PlaceOrder>),
    /// Pays an order.
    Pay {
        /// Order.
        order: String,
        /// Amount offered: must equal the payable.
        amount: Money,
    },
    /// Holds an order for review.
    Hold(HoldOrder),
    /// Releases a held order.
    Release(OrderRef),
    /// Rejects a held order (cancels it).
    Reject(OrderRef),
    /// Cancels an order before shipment; refund = what was paid.
    Cancel(OrderRef),
    /// Ships units (`None`: everything left).
    Ship {
        /// Order.
        order: String,
        /// Units per line.
        lines: Option<Vec<LineQty>>,
    },
    /// Marks delivered.
    Deliver {
        /// Order.
        order: String,
    },
    /// Confirms receipt.
    Complete(OrderRef),
    /// Request, approval, receipt and refund of a return in one step.
    Return {
        /// Order.
        order: String,
        /// Return id.
        return_id: String,
        /// Units per line.
        lines: Vec<LineQty>,
        /// Put the units back into stock.
        restock: bool,
        /// For the `reprice` refund policy: the discount the kept units no
        /// longer earn (`C` of the contract); zero for `pro_rata`.
        owed_back: Money,
    },
    /// Moves timers: closes unpaid orders past their deadline, completes
    /// delivered orders past the auto-complete delay, expires reservations.
    Tick,
    /// Captures one payment (a part of what is due, or all of it).
    RecordPayment {
        /// Order.
        order: String,
        /// Method (`card`, `alipay`...).
        method: String,
        /// Amount: positive, at most what is due.
        amount: Money,
        /// The provider's reference.
        reference: Option<String>,
        /// The idempotency key it is recorded under.
        key: Option<String>,
    },
    /// Files a staged after-sale request.
    AfterSaleRequest {
        /// Order.
        order: String,
        /// The request.
        request: AfterSaleRequest,
    },
    /// Moves a staged after-sale request.
    AfterSale {
        /// Order.
        order: String,
        /// Request id.
        request: String,
        /// What to do.
        action: AfterSaleAction,
        /// For `receive`: arrived damaged (no restock).
        damaged: bool,
        /// For `refund` under `reprice`: the discount the kept units no
        /// longer earn.
        owed_back: Money,
    },
    /// Refunds a goodwill amount.
    Goodwill {
        /// Order.
        order: String,
        /// Refund id.
        refund_id: String,
        /// Amount.
        amount: Money,
    },
    /// Cancels units not yet shipped and refunds them.
    CancelUnits {
        /// Order.
        order: String,
        /// Refund id.
        refund_id: String,
        /// Units per line.
        lines: Vec<LineQty>,
        /// For `reprice`: the discount the kept units no longer earn.
        owed_back: Money,
    },
    /// Gives coupons of a template to customers (claimed or issued), within
    /// its caps; all or nothing.
    ClaimCoupons {
        /// The template's caps and validity.
        template: crate::coupon::TemplateLimits,
        /// One entry per coupon.
        claims: Vec<crate::coupon::CouponClaim>,
        /// Claimed by the customer or issued by the shop.
        via: crate::coupon::ClaimVia,
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
        valid_until: DateTime<Utc>,
    },
    /// Sets a known customer's tags (sorted and deduplicated; replaces the
    /// earlier ones).
    SetCustomerTags(SetCustomerTags),
    /// Pays a presale deposit: places the order and captures the deposit
    /// (see [`crate::presale`]).
    PresaleDeposit(Box<crate::presale::PresaleDeposit>),
    /// Ships one shipment: its packages (carrier, tracking number, units)
    /// with the units of each.
    ShipShipment {
        /// Order.
        order: String,
        /// The shipment.
        shipment: crate::shipment::Shipment,
    },
    /// Delivers one shipment (the order is delivered with its last one).
    DeliverShipment {
        /// Order.
        order: String,
        /// Shipment id.
        shipment: String,
    },
    /// Files an exchange (see [`crate::exchange`]).
    ExchangeRequest {
        /// Order.
        order: String,
        /// The request.
        request: crate::exchange::ExchangeRequest,
    },
    /// Approves an exchange with the list prices of each item at approval.
    ExchangeApprove {
        /// Order.
        order: String,
        /// Request id.
        request: String,
        /// Per item, the list unit prices of the replaced and replacement
        /// SKUs.
        prices: Vec<crate::exchange::ListPrices>,
    },
    /// Captures a payment of an exchange's price difference.
    ExchangePay {
        /// Order.
        order: String,
        /// Request id.
        request: String,
        /// Method.
        method: String,
        /// Amount: positive, at most what is still due.
        amount: Money,
        /// The provider's reference.
        reference: Option<String>,
        /// The idempotency key it is recorded under.
        key: Option<String>,
    },
}

/// Discount a promotion gave across live orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetUse {
    /// Money given.
    pub amount: Decimal,
    /// Orders it applied to.
    pub uses: i64,
}

/// The whole shop: every ledger and the read models limits need.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shop {
    customers: BTreeMap<String, Customer>,
    stock: StockLedger,
    coupons: CouponLedger,
    points: PointsLedger,
    orders: BTreeMap<String, Order>,
    by_seq: Vec<String>,
    /// Order ids per customer, in placement order (review rules look here
    /// instead of scanning every order).
    by_customer: BTreeMap<String, Vec<String>>,
    promo_units: BTreeMap<String, BTreeMap<String, i64>>,
    promo_units_total: BTreeMap<String, i64>,
    budget_used: BTreeMap<String, BudgetUse>,
}

/// The payment deadline of an order placed (or released) now; `None` when
/// it cannot be represented (see [`ShopConfig`]).
fn deadline(ctx: &Context<'_>) -> Option<DateTime<Utc>> {
    TimeDelta::try_minutes(ctx.config.payment_timeout_minutes)
        .and_then(|d| ctx.now.checked_add_signed(d))
}

impl Shop {
    /// An empty shop.
    pub fn new() -> Self {
        Self::default()
    }

    /// A customer.
    pub fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.get(id)
    }

    /// The stock ledger.
    pub fn stock(&self) -> &StockLedger {
        &self.stock
    }

    /// The coupon ledger.
    pub fn coupons(&self) -> &CouponLedger {
        &self.coupons
    }

    /// The points ledger.
    pub fn points(&self) -> &PointsLedger {
        &self.points
    }

    /// An order.
    pub fn order(&self, id: &str) -> Option<&Order> {
        self.orders.get(id)
    }

    /// Orders in placement order.
    pub fn orders(&self) -> impl Iterator<Item = &Order> {
        self.by_seq.iter().filter_map(|id| self.orders.get(id))
    }

    /// Units of limited promotion `promo` that `customer`'s live orders hold.
    pub fn promotion_units(&self, promo: &str, customer: &str) -> i64 {
        self.promo_units
            .get(promo)
            .and_then(|m| m.get(customer))
            .copied()
            .unwrap_or(0)
    }

    /// Units of limited promotion `promo` that all live orders hold.
    pub fn promotion_units_total(&self, promo: &str) -> i64 {
        self.promo_units_total.get(promo).copied().unwrap_or(0)
    }

    /// What promotion `promo` gave across live orders.
    pub fn budget_used(&self, promo: &str) -> BudgetUse {
        self.budget_used.get(promo).copied().unwrap_or_default()
    }

    /// Live orders of `customer` placed at or after `since`.
    pub fn live_orders_since(&self, customer: &str, since: DateTime<Utc>) -> usize {
        self.by_customer
            .get(customer)
            .into_iter()
            .flatten()
            .filter_map(|id| self.orders.get(id))
            .filter(|o| o.status.is_live() && o.placed_at >= since)
            .count()
    }

    fn order_ref(&self, id: &str) -> Result<&Order, CoreError> {
        self.orders
            .get(id)
            .ok_or_else(|| CoreError::UnknownOrder(id.to_string()))
    }

    /// Decides `cmd` at `ctx.now`: every event it produces, across all
    /// ledgers, or why it is refused. Nothing changes until the events are
    /// applied.
    pub fn decide(&self, cmd: &Command, ctx: &Context<'_>) -> Result<Vec<Event>, CoreError> {
        match cmd {
            Command::RegisterCustomer(RegisterCustomer { id, tier, points }) => {
                let mut ev = vec![Event::Customer(CustomerEvent::Registered {
                    id: id.clone(),
                    tier: tier.clone(),
                })];
                if *points != 0 {
                    ev.push(Event::Points(self.points.decide_earn(
                        id,
                        *points,
                        "opening balance",
                    )?));
                }
                Ok(ev)
            }
            Command::EarnPoints(EarnPoints {
                customer,
                points,
                reason,
            }) => {
                if !self.customers.contains_key(customer) {
                    return Err(CoreError::UnknownCustomer(customer.clone()));
                }
                Ok(vec![Event::Points(
                    self.points.decide_earn(customer, *points, reason)?,
                )])
            }
            Command::IssueCoupon {
                code,
                owner,
                usage_limit,
                per_customer_limit,
                valid_until,
            } => Ok(vec![Event::Coupon(self.coupons.decide_issue(
                code,
                owner.clone(),
                *usage_limit,
                *per_customer_limit,
                *valid_until,
            )?)]),
            Command::Stock(c) => Ok(self
                .stock
                .decide(c)?
                .into_iter()
                .map(Event::Stock)
                .collect()),
            Command::Place(p) => self.decide_place(p, ctx),
            Command::Pay { order, amount } => self.decide_pay(order, *amount, ctx),
            Command::Hold(HoldOrder { order, reasons }) => {
                let o = self.order_ref(order)?;
                o.check(OrderAction::Hold)?;
                let mut ev = vec![Event::Order(OrderEvent::Held {
                    id: order.clone(),
                    reasons: reasons.clone(),
                })];
                if self.stock.reservation(order).is_some() {
                    ev.push(Event::Stock(StockEvent::Extended {
                        id: order.clone(),
                        expires_at: None,
                    }));
                }
                Ok(ev)
            }
            Command::Release(OrderRef { order }) => {
                let o = self.order_ref(order)?;
                o.check(OrderAction::Release)?;
                let back = o.held_from.unwrap_or(OrderStatus::PendingPayment);
                let dl = if back == OrderStatus::PendingPayment {
                    deadline(ctx)
                } else {
                    None
                };
                let mut ev = vec![Event::Order(OrderEvent::Released {
                    id: order.clone(),
                    deadline: dl,
                })];
                if self.stock.reservation(order).is_some() && back == OrderStatus::PendingPayment {
                    ev.push(Event::Stock(StockEvent::Extended {
                        id: order.clone(),
                        expires_at: dl,
                    }));
                }
                Ok(ev)
            }
            Command::Reject(OrderRef { order }) => {
                self.decide_cancel(order, OrderAction::Reject, ctx)
            }
            Command::Cancel(OrderRef { order }) => {
                self.decide_cancel(order, OrderAction::Cancel, ctx)
            }
            Command::Ship { order, lines } => self.decide_ship(order, lines.as_deref(), ctx),
            Command::Deliver { order } => {
                self.order_ref(order)?.check(OrderAction::Deliver)?;
                Ok(vec![Event::Order(OrderEvent::Delivered {
                    id: order.clone(),
                    at: ctx.now,
                })])
            }
            Command::Complete(OrderRef { order }) => {
                self.order_ref(order)?.check(OrderAction::Complete)?;
                Ok(vec![Event::Order(OrderEvent::Completed {
                    id: order.clone(),
                })])
            }
            Command::Return {
                order,
                return_id,
                lines,
                restock,
                owed_back,
            } => self.decide_return(order, return_id, lines, *restock, *owed_back, ctx),
            Command::Tick => self.decide_tick(ctx),
            Command::RecordPayment {
                order,
                method,
                amount,
                reference,
                key,
            } => self.decide_record_payment(
                order,
                method,
                *amount,
                reference.clone(),
                key.clone(),
                ctx,
            ),
            Command::AfterSaleRequest { order, request } => {
                self.decide_after_sale_request(order, request, ctx)
            }
            Command::AfterSale {
                order,
                request,
                action,
                damaged,
                owed_back,
            } => self.decide_after_sale(order, request, *action, *damaged, *owed_back, ctx),
            Command::Goodwill {
                order,
                refund_id,
                amount,
            } => self.decide_goodwill(order, refund_id, *amount, ctx),
            Command::CancelUnits {
                order,
                refund_id,
                lines,
                owed_back,
            } => self.decide_cancel_units(order, refund_id, lines, *owed_back, ctx),
            Command::ClaimCoupons {
                template,
                claims,
                via,
            } => self.decide_claim_coupons(template, claims, *via, ctx),
            Command::RevokeCoupon { code } => {
                Ok(vec![Event::Coupon(self.coupons.decide_revoke(code)?)])
            }
            Command::ExtendCoupon { code, valid_until } => Ok(vec![Event::Coupon(
                self.coupons.decide_extend(code, *valid_until)?,
            )]),
            Command::SetCustomerTags(SetCustomerTags { id, tags }) => {
                if !self.customers.contains_key(id) {
                    return Err(CoreError::UnknownCustomer(id.clone()));
                }
                let mut tags = tags.clone();
                tags.sort();
                tags.dedup();
                Ok(vec![Event::Customer(CustomerEvent::Tagged {
                    id: id.clone(),
                    tags,
                })])
            }
            Command::PresaleDeposit(d) => self.decide_presale_deposit(d, ctx),
            Command::ShipShipment { order, shipment } => {
                self.decide_ship_shipment(order, shipment, ctx)
            }
            Command::DeliverShipment { order, shipment } => {
                self.decide_deliver_shipment(order, shipment, ctx)
            }
            Command::ExchangeRequest { order, request } => {
                self.decide_exchange_request(order, request, ctx)
            }
            Command::ExchangeApprove {
                order,
                request,
                prices,
            } => self.decide_exchange_approve(order, request, prices, ctx),
            Command::ExchangePay {
                order,
                request,
                method,
                amount,
                reference,
                key,
            } => self.decide_exchange_pay(
                order,
                request,
                method,
                *amount,
                reference.clone(),
                key.clone(),
                ctx,
            ),
        }
    }

    fn decide_place(&self, p: &PlaceOrder, ctx: &Context<'_>) -> Result<Vec<Event>, CoreError> {
        if self.orders.contains_key(&p.id) {
            return Err(CoreError::DuplicateOrder(p.id.clone()));
        }
        if p.quote.lines.is_empty() {
            return Err(CoreError::EmptyCart);
        }
        p.quote.check()?;
        if let Some(c) = &p.customer
            && !self.customers.contains_key(c)
        {
            return Err(CoreError::UnknownCustomer(c.clone()));
        }
        let held = !p.hold_reasons.is_empty();
        let free = p.quote.totals.payable.is_zero();
        let dl = if held || free { None } else { deadline(ctx) };

        // Stock: every line, gifts included, all or nothing.
        let lines: Vec<StockLine> = p
            .quote
            .lines
            .iter()
            .map(|l| StockLine {
                sku: l.sku.clone(),
                qty: l.qty,
            })
            .collect();
        for l in &lines {
            if self.stock.sku(&l.sku).is_none() {
                return Err(CoreError::InsufficientStock {
                    sku: l.sku.clone(),
                    wanted: l.qty,
                    available: 0,
                });
            }
        }
        let reserved = self.stock.decide(&StockCommand::Reserve {
            id: p.id.clone(),
            lines,
            channel: Some(p.channel.clone()),
            expires_at: dl,
        })?;
        let allocations = reserved
            .iter()
            .find_map(|e| match e {
                StockEvent::Reserved { allocations, .. } => Some(allocations.clone()),
                _ => None,
            })
            .unwrap_or_default();

        let mut ev = vec![Event::Order(OrderEvent::Placed {
            id: p.id.clone(),
            customer: p.customer.clone(),
            channel: p.channel.clone(),
            quote: Arc::clone(&p.quote),
            allocations: allocations.clone(),
            at: ctx.now,
            deadline: dl,
        })];
        ev.extend(reserved.into_iter().map(Event::Stock));
        let mut seen: Vec<&str> = Vec::new();
        for code in &p.quote.coupons {
            if seen.contains(&code.as_str()) {
                return Err(CoreError::CouponState {
                    code: code.clone(),
                    state: "locked",
                    command: "use twice in one order",
                });
            }
            seen.push(code);
            ev.push(Event::Coupon(self.coupons.decide_lock(
                code,
                &p.id,
                p.customer.as_deref(),
            )?));
        }
        if p.quote.points_used > 0 {
            let Some(c) = &p.customer else {
                return Err(CoreError::InconsistentPricing(
                    "points used without a customer".into(),
                ));
            };
            ev.push(Event::Points(self.points.decide_spend(
                c,
                &p.id,
                p.quote.points_used,
            )?));
        }
        if held {
            ev.push(Event::Order(OrderEvent::Held {
                id: p.id.clone(),
                reasons: p.hold_reasons.clone(),
            }));
        } else if free {
            ev.extend(self.payment_events(
                &p.id,
                &p.quote,
                &allocations,
                p.quote.totals.payable,
                ctx,
            ));
        }
        Ok(ev)
    }

    /// The events of a payment: paid, coupons redeemed, stock committed (or
    /// its expiry cleared when stock commits on shipment).
    fn payment_events(
        &self,
        id: &str,
        quote: &Quote,
        held: &[Allocation],
        amount: Money,
        ctx: &Context<'_>,
    ) -> Vec<Event> {
        let mut ev = vec![Event::Order(OrderEvent::Paid {
            id: id.to_string(),
            amount,
            at: ctx.now,
        })];
        for code in &quote.coupons {
            ev.push(Event::Coupon(CouponEvent::Redeemed {
                code: code.clone(),
                order: id.to_string(),
            }));
        }
        match ctx.config.stock_commit {
            StockCommit::Payment => {
                ev.push(Event::Stock(StockEvent::Committed {
                    id: id.to_string(),
                    allocations: held.to_vec(),
                }));
                ev.push(Event::Order(OrderEvent::StockCommitted {
                    id: id.to_string(),
                }));
            }
            StockCommit::Shipment => ev.push(Event::Stock(StockEvent::Extended {
                id: id.to_string(),
                expires_at: None,
            })),
        }
        ev
    }

    fn decide_pay(
        &self,
        id: &str,
        amount: Money,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.order_ref(id)?;
        o.check(OrderAction::Pay)?;
        crate::presale::check_payment(o, amount, ctx.now)?;
        // One payment of everything still due (the payable when nothing
        // was captured before).
        let due = o.due()?;
        if amount != due {
            return Err(CoreError::PaymentMismatch {
                payable: due.amount(),
                paid: amount.amount(),
            });
        }
        let held = self
            .stock
            .reservation(id)
            .map(|r| r.held.clone())
            .unwrap_or_default();
        let mut ev = self.payment_events(id, &o.quote, &held, o.payable(), ctx);
        ev.extend(crate::presale::balance_paid(o, amount));
        Ok(ev)
    }

    fn decide_record_payment(
        &self,
        id: &str,
        method: &str,
        amount: Money,
        reference: Option<String>,
        key: Option<String>,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.order_ref(id)?;
        if amount.currency() != o.quote.currency {
            return Err(CoreError::CurrencyMismatch {
                left: o.quote.currency,
                right: amount.currency(),
            });
        }
        if !amount.is_positive() {
            return Err(CoreError::Negative {
                what: "payment (must be positive)",
                value: amount.amount(),
            });
        }
        o.check(OrderAction::Pay)?;
        crate::presale::check_payment(o, amount, ctx.now)?;
        if method.trim().is_empty() {
            return Err(CoreError::InvalidOrderRequest {
                order: id.to_string(),
                problem: "a payment needs a method".into(),
            });
        }
        if let Some(k) = &key
            && o.payments.iter().any(|p| p.key.as_ref() == Some(k))
        {
            return Err(CoreError::InvalidOrderRequest {
                order: id.to_string(),
                problem: format!("payment key `{k}` already recorded"),
            });
        }
        let due = o.due()?;
        if amount > due {
            return Err(CoreError::Overpayment {
                payable: o.payable().amount(),
                due: due.amount(),
                offered: amount.amount(),
            });
        }
        let mut ev = vec![Event::Order(OrderEvent::PaymentCaptured {
            id: id.to_string(),
            payment: PaymentRecord {
                id: format!("{id}-p{}", o.payments.len() + 1),
                method: method.to_string(),
                amount,
                reference,
                key,
                at: ctx.now,
                refunded: Money::zero(amount.currency()),
                exchange: None,
            },
        })];
        if amount == due {
            let held = self
                .stock
                .reservation(id)
                .map(|r| r.held.clone())
                .unwrap_or_default();
            ev.extend(self.payment_events(id, &o.quote, &held, o.payable(), ctx));
            ev.extend(crate::presale::balance_paid(o, amount));
        }
        Ok(ev)
    }

    /// Everything a dead order gives back: stock, coupons, points.
    fn give_back(&self, o: &Order, reason: ReleaseReason) -> Result<Vec<Event>, CoreError> {
        let mut ev = Vec::new();
        if let Some(r) = self.stock.reservation(&o.id) {
            ev.push(Event::Stock(StockEvent::Released {
                id: o.id.clone(),
                reason,
                allocations: r.held.clone(),
            }));
        }
        if o.stock_committed {
            // Units cancelled earlier (partial cancel) went back already.
            let allocations = if o.cancelled.iter().any(|c| *c > 0) {
                let kept: Vec<LineQty> = o
                    .quote
                    .lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| LineQty {
                        line: i,
                        qty: l.qty - crate::order::at(&o.cancelled, i),
                    })
                    .filter(|lq| lq.qty > 0)
                    .collect();
                o.allocations_for(&kept, &vec![0; o.quote.lines.len()])
            } else {
                o.allocations.clone()
            };
            ev.push(Event::Stock(StockEvent::Restocked {
                id: o.id.clone(),
                allocations,
                reason: "order cancelled".into(),
            }));
        }
        for code in &o.quote.coupons {
            let live = self
                .coupons
                .get(code)
                .and_then(|c| c.uses.iter().rev().find(|u| u.order == o.id))
                .is_some_and(|u| u.state != UseState::Returned);
            if live {
                ev.push(Event::Coupon(self.coupons.decide_return(code, &o.id)?));
            }
        }
        let points = o.quote.points_used - o.points_returned;
        if let (Some(c), true) = (&o.customer, points > 0) {
            ev.push(Event::Points(self.points.decide_return(c, &o.id, points)?));
        }
        Ok(ev)
    }

    fn decide_cancel(
        &self,
        id: &str,
        action: OrderAction,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.order_ref(id)?;
        o.check(action)?;
        if o.shipped.iter().any(|s| *s > 0) {
            return Err(CoreError::InvalidTransition {
                order: id.to_string(),
                state: "partially_shipped",
                command: action.as_str(),
            });
        }
        // What was captured and not yet refunded (partial cancels and
        // goodwill refunds went back already).
        let refund = crate::presale::refund_on_lapse(o, action)?;
        let allocations =
            allocate_refund(&o.payments, refund, ctx.config.after_sale.refund_allocation)?;
        let mut ev = vec![Event::Order(OrderEvent::Cancelled {
            id: id.to_string(),
            refund,
            rejected: action == OrderAction::Reject,
            allocations,
        })];
        ev.extend(crate::presale::lapsed(o, refund)?);
        ev.extend(self.give_back(o, ReleaseReason::Cancelled)?);
        Ok(ev)
    }

    fn decide_ship(
        &self,
        id: &str,
        lines: Option<&[LineQty]>,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.order_ref(id)?;
        if let Some(l) = lines {
            Order::check_quantities(l, "shipment")?;
        }
        o.check(OrderAction::Ship)?;
        let lines: Vec<LineQty> = match lines {
            Some(l) => l.to_vec(),
            None => o.unshipped(),
        };
        o.check_ship(&lines)?;
        // One shipment without packages.
        self.shipment_events(o, o.next_shipment_id(), Vec::new(), &lines, ctx)
    }

    fn decide_return(
        &self,
        id: &str,
        return_id: &str,
        lines: &[LineQty],
        restock: bool,
        owed_back: Money,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self.order_ref(id)?;
        o.check_return(lines)?;
        if o.returns.iter().any(|r| r.id == return_id) {
            return Err(CoreError::InvalidOrderRequest {
                order: id.to_string(),
                problem: format!("return `{return_id}` already exists"),
            });
        }
        let mut ev = vec![
            Event::Order(OrderEvent::ReturnRequested {
                id: id.to_string(),
                return_id: return_id.to_string(),
                lines: lines.to_vec(),
                restock,
                kind: Default::default(),
                reason_code: None,
                note: None,
                at: None,
                return_shipping_fee: None,
            }),
            Event::Order(OrderEvent::ReturnApproved {
                id: id.to_string(),
                return_id: return_id.to_string(),
                at: None,
                auto: false,
            }),
            Event::Order(OrderEvent::ReturnReceived {
                id: id.to_string(),
                return_id: return_id.to_string(),
                damaged: false,
            }),
        ];
        if restock {
            let allocations = o.return_allocations(lines, &o.returned);
            if !allocations.is_empty() {
                ev.push(Event::Stock(StockEvent::Restocked {
                    id: id.to_string(),
                    allocations,
                    reason: "returned".into(),
                }));
            }
        }
        ev.extend(self.unit_refund_events(
            o,
            return_id,
            lines,
            RefundKind::Return,
            owed_back,
            None,
            false,
            ctx,
        )?);
        Ok(ev)
    }

    /// When the timer next acts on `o` by itself: the payment deadline of
    /// an unpaid order (it closes), the auto-complete time of a delivered
    /// one (it completes). `None`: never (or a time that cannot be
    /// represented, see [`ShopConfig`]). [`Shop::next_deadline`] and the
    /// tick read this one function.
    fn order_timer(o: &Order, config: &ShopConfig) -> Option<DateTime<Utc>> {
        match o.status {
            OrderStatus::PendingPayment => o.deadline,
            OrderStatus::Delivered => o
                .delivered_at
                .zip(TimeDelta::try_days(config.auto_complete_days))
                .and_then(|(d, after)| d.checked_add_signed(after)),
            _ => None,
        }
    }

    /// The earliest time at which a tick has work: an unpaid order's
    /// deadline, a delivered order's auto-complete time, a reservation's
    /// expiry. `None`: no timer is pending. An application calls `tick` at
    /// (or after) this time, as a network stack polls its next timeout.
    pub fn next_deadline(&self, config: &ShopConfig) -> Option<DateTime<Utc>> {
        let orders = self.orders().filter_map(|o| {
            let status = Self::order_timer(o, config);
            let requests = crate::aftersale::request_timer(o, config);
            status.into_iter().chain(requests).min()
        });
        let reservations = self.stock.reservations().filter_map(|r| r.expires_at);
        orders.chain(reservations).min()
    }

    fn decide_tick(&self, ctx: &Context<'_>) -> Result<Vec<Event>, CoreError> {
        let mut ev = Vec::new();
        let mut closed: Vec<&str> = Vec::new();
        for o in self.orders() {
            ev.extend(crate::aftersale::tick_events(self, o, ctx)?);
            if Self::order_timer(o, ctx.config).is_none_or(|t| t > ctx.now) {
                continue;
            }
            match o.status {
                OrderStatus::PendingPayment => {
                    ev.push(Event::Order(OrderEvent::Closed {
                        id: o.id.clone(),
                        at: ctx.now,
                    }));
                    // Part payments captured before the deadline go back.
                    let back = crate::presale::refund_on_lapse(o, OrderAction::Close)?;
                    if back.is_positive() {
                        ev.push(Event::Order(OrderEvent::Refunded {
                            id: o.id.clone(),
                            return_id: format!("{}-close", o.id),
                            amount: back,
                            points_returned: 0,
                            held_back: o.held_back,
                            kind: RefundKind::Close,
                            lines: Some(Vec::new()),
                            shipping: None,
                            allocations: allocate_refund(
                                &o.payments,
                                back,
                                ctx.config.after_sale.refund_allocation,
                            )?,
                        }));
                    }
                    ev.extend(crate::presale::lapsed(o, back)?);
                    ev.extend(self.give_back(o, ReleaseReason::Closed)?);
                    closed.push(&o.id);
                }
                OrderStatus::Delivered => {
                    ev.push(Event::Order(OrderEvent::Completed { id: o.id.clone() }));
                }
                _ => {}
            }
        }
        for e in self
            .stock
            .decide(&StockCommand::ExpireDue { now: ctx.now })?
        {
            let ours =
                matches!(&e, StockEvent::Released { id, .. } if closed.contains(&id.as_str()));
            if !ours {
                ev.push(Event::Stock(e));
            }
        }
        Ok(ev)
    }

    /// Folds one event into the shop. Total and deterministic.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Customer(CustomerEvent::Registered { id, tier }) => {
                // Re-registering re-tiers and keeps the customer's tags.
                let tags = self
                    .customers
                    .remove(id)
                    .map(|c| c.tags)
                    .unwrap_or_default();
                self.customers.insert(
                    id.clone(),
                    Customer {
                        id: id.clone(),
                        tier: tier.clone(),
                        tags,
                    },
                );
            }
            Event::Customer(CustomerEvent::Tagged { id, tags }) => {
                if let Some(c) = self.customers.get_mut(id) {
                    c.tags = tags.clone();
                }
            }
            Event::Stock(e) => self.stock.apply(e),
            Event::Coupon(e) => self.coupons.apply(e),
            Event::Points(e) => self.points.apply(e),
            Event::Order(e) => self.apply_order(e),
        }
    }

    /// Applies a batch of events in order.
    pub fn apply_all<'a>(&mut self, events: impl IntoIterator<Item = &'a Event>) {
        for e in events {
            self.apply(e);
        }
    }

    fn apply_order(&mut self, e: &OrderEvent) {
        if let OrderEvent::Placed { .. } = e {
            let seq = self.by_seq.len() as u64;
            if let Some(o) = Order::placed(seq, e) {
                if self.orders.contains_key(&o.id) {
                    return;
                }
                self.count_quote(&o.quote, o.customer.as_deref(), 1);
                self.by_seq.push(o.id.clone());
                if let Some(c) = &o.customer {
                    self.by_customer
                        .entry(c.clone())
                        .or_default()
                        .push(o.id.clone());
                }
                self.orders.insert(o.id.clone(), o);
            }
            return;
        }
        let Some(o) = self.orders.get_mut(e.order_id()) else {
            return;
        };
        let was_live = o.status.is_live();
        o.apply(e);
        if was_live && !o.status.is_live() {
            let (quote, customer) = (Arc::clone(&o.quote), o.customer.clone());
            self.count_quote(&quote, customer.as_deref(), -1);
        }
    }

    /// Moves the per-promotion counters (units per customer, units in all,
    /// budget) by `sign` times what `quote` used.
    fn count_quote(&mut self, quote: &Quote, customer: Option<&str>, sign: i64) {
        for l in &quote.lines {
            for u in &l.uses {
                if let Some(c) = customer {
                    let per = match self.promo_units.get_mut(&u.source) {
                        Some(per) => per,
                        None => self.promo_units.entry(u.source.clone()).or_default(),
                    };
                    match per.get_mut(c) {
                        Some(n) => *n = n.saturating_add(sign.saturating_mul(u.units)),
                        None => {
                            per.insert(c.to_string(), sign.saturating_mul(u.units));
                        }
                    }
                }
                match self.promo_units_total.get_mut(&u.source) {
                    Some(n) => *n = n.saturating_add(sign.saturating_mul(u.units)),
                    None => {
                        self.promo_units_total
                            .insert(u.source.clone(), sign.saturating_mul(u.units));
                    }
                }
            }
        }
        for a in &quote.applied {
            let b = match self.budget_used.get_mut(&a.source) {
                Some(b) => b,
                None => self.budget_used.entry(a.source.clone()).or_default(),
            };
            // Amounts are bounded far below Decimal's range; saturate
            // rather than panic if a sum ever could not be held.
            b.amount = b
                .amount
                .saturating_add(Decimal::from(sign).saturating_mul(a.amount.amount()));
            b.uses = b.uses.saturating_add(sign);
        }
    }
}
