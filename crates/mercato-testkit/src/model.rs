//! The reference model: a deliberately simple, obviously-correct model of
//! stock (per SKU and location counts, quotas) and of the money flow of
//! orders (payable, part payments and `pay`, refunds — cancel, close,
//! return, goodwill — points), written from the contract and
//! `docs/order-lifecycle.md`, not from the engine's code.
//!
//! Pricing is not modelled: when an order is placed, the model takes the
//! engine's quote (its lines, gift lines included, nets, payable and points
//! used) and checks everything that follows from it. To keep the outcome of
//! a placement predictable, [`crate::strategies::shop_setup`] builds shops
//! whose coupons always give a discount when the coupon ledger lets them
//! (no thresholds, no windows, small fixed amounts) and whose gift SKUs are
//! never ordered directly.
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
use mercato::core::order::OrderStatus;
use mercato::core::quote::Stage;
use mercato::core::shop::StockCommit;
use mercato::rules::{CatalogItem, Coupon, Promotion};
use mercato::store::Store;
use mercato::{Clock, Engine, EngineError, Request, Settings};
use serde::{Deserialize, Serialize};

use crate::util::{epoch, minor};

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
    },
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
}

/// True when a `review.max_orders` pair is within its ranges.
pub fn max_orders_in_range(count: i64, minutes: i64) -> bool {
    ranges::REVIEW_COUNT.contains(&count) && ranges::REVIEW_MINUTES.contains(&minutes)
}

/// What the model expects the engine to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedOutcome {
    /// Success, with what the model can tell about the answer.
    Ok {
        /// Order status after the step.
        status: Option<OrderStatus>,
        /// Money back (cancel, reject, return), in minor units.
        refund: Option<i64>,
        /// Points given back by a return.
        points_returned: Option<i64>,
        /// on_hand at the location after an adjustment.
        on_hand: Option<i64>,
        /// Orders closed / completed by a tick, in placement order.
        tick: Option<(Vec<String>, Vec<String>)>,
    },
    /// Failure with this contract error code.
    Err(&'static str),
    /// The engine's quote breaks something the model knows (the step is
    /// then not applied).
    Inconsistent(String),
}

impl ExpectedOutcome {
    fn ok() -> Self {
        ExpectedOutcome::Ok {
            status: None,
            refund: None,
            points_returned: None,
            on_hand: None,
            tick: None,
        }
    }

    fn status(s: OrderStatus) -> Self {
        ExpectedOutcome::Ok {
            status: Some(s),
            refund: None,
            points_returned: None,
            on_hand: None,
            tick: None,
        }
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
    points_returned: i64,
    coupons: Vec<String>,
    allocs: Vec<ModelAlloc>,
    held: Vec<ModelAlloc>,
    deadline: Option<DateTime<Utc>>,
    committed: bool,
    shipped: Vec<i64>,
    returned: Vec<i64>,
    delivered_at: Option<DateTime<Utc>>,
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

/// Largest-remainder share of `total` minor units over `qty` units, earlier
/// units first: the sum of units `from..from + k`.
fn unit_share(total: i64, qty: i64, from: i64, k: i64) -> i64 {
    if qty <= 0 {
        return 0;
    }
    let base = total.div_euclid(qty);
    let extra = total.rem_euclid(qty);
    let bonus = (from + k).min(extra) - from.min(extra);
    base * k + bonus
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
                self.transition(&order_id(*order), &[OrderStatus::Shipped], |o| {
                    o.status = OrderStatus::Delivered;
                    o.delivered_at = Some(now);
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
        } = step
        {
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
        if !ranges::TIMEOUT.contains(&s.payment_timeout_minutes)
            || !ranges::AUTO_COMPLETE.contains(&s.auto_complete_days)
            || !review_ok
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
        let mut o = ModelOrder {
            id: req.id.clone(),
            customer: req.customer.clone(),
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
            payable,
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
            shipped: vec![0; q.lines.len()],
            returned: vec![0; q.lines.len()],
            delivered_at: None,
        };
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

    fn quota_back(&mut self, a: &ModelAlloc) {
        if let (Some(c), Some(s)) = (&a.quota, self.stock.get_mut(&a.sku))
            && let Some(q) = s.quotas.iter_mut().find(|q| &q.channel == c)
        {
            q.taken = (q.taken - a.qty).max(0);
        }
    }

    /// Payment: stock committed (payment mode) or its expiry cleared.
    fn pay_order(&mut self, o: &mut ModelOrder, amount: i64) {
        o.status = OrderStatus::Paid;
        o.paid += amount;
        o.deadline = None;
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

    fn pay(&mut self, id: &str, exact: bool) -> ExpectedOutcome {
        let Some(mut o) = self.orders.get(id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        if o.status != OrderStatus::PendingPayment {
            return ExpectedOutcome::Err("invalid_transition");
        }
        if !exact {
            return ExpectedOutcome::Err("payment_mismatch");
        }
        // `pay` pays what is still due after part payments.
        let amount = o.payable - o.paid;
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
        let due = o.payable - o.paid;
        if amount > due {
            return ExpectedOutcome::Err("payment_mismatch");
        }
        if amount == due {
            self.pay_order(&mut o, amount);
        } else {
            o.paid += amount;
        }
        let status = o.status;
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::status(status)
    }

    /// `goodwill_refund` (docs/scenario-format.md): from `paid` through
    /// `completed`; zero is `invalid_transition`, more than is refundable
    /// `invalid_input`.
    fn goodwill(&mut self, id: &str, percent: u8) -> ExpectedOutcome {
        let amount = self.goodwill_amount(id, percent);
        let Some(o) = self.orders.get_mut(id) else {
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
        o.refunded += amount;
        ExpectedOutcome::Ok {
            status: Some(o.status),
            refund: Some(amount),
            points_returned: Some(0),
            on_hand: None,
            tick: None,
        }
    }

    fn hold(&mut self, id: &str) -> ExpectedOutcome {
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

    /// Everything a dead order gives back: stock, coupons, points.
    fn give_back(&mut self, o: &mut ModelOrder) {
        for a in std::mem::take(&mut o.held) {
            if let Some(l) = self.loc_mut(&a.sku, &a.location) {
                l.reserved -= a.qty;
            }
            self.quota_back(&a);
        }
        if o.committed {
            for a in o.allocs.clone() {
                if let Some(l) = self.loc_mut(&a.sku, &a.location) {
                    l.on_hand += a.qty;
                }
                self.quota_back(&a);
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
        self.give_back(&mut o);
        o.status = OrderStatus::Cancelled;
        // What was captured and not yet refunded (a goodwill refund before
        // the cancel has already gone back).
        let refund = o.paid - o.refunded;
        o.refunded = o.paid;
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::Ok {
            status: Some(OrderStatus::Cancelled),
            refund: Some(refund),
            points_returned: None,
            on_hand: None,
            tick: None,
        }
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
            *w += qty;
        }
        if want.iter().enumerate().any(|(i, w)| *w > left(i)) {
            return Err("invalid_transition");
        }
        Ok(want)
    }

    fn ship(&mut self, id: &str, lines: Option<&[(u8, i64)]>) -> ExpectedOutcome {
        let Some(mut o) = self.orders.get(id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        // The contract's order: a quantity below 1 before the status.
        if lines.is_some_and(|l| l.iter().any(|(_, q)| *q <= 0)) {
            return ExpectedOutcome::Err("invalid_quantity");
        }
        if !matches!(o.status, OrderStatus::Paid | OrderStatus::PartiallyShipped) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        let left: Vec<i64> = o
            .lines
            .iter()
            .zip(&o.shipped)
            .map(|(l, s)| l.qty - s)
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
        let want = match Self::units(&o, &pairs, |i| left[i]) {
            Ok(w) => w,
            Err(code) => return ExpectedOutcome::Err(code),
        };
        if self.settings.stock_commit == StockCommit::Shipment && !o.held.is_empty() {
            // Commit the shipped units, taken from the held allocations of
            // each line's SKU in order.
            for (line, qty) in &pairs {
                let sku = o.lines[usize::from(*line)].sku.clone();
                let mut need = *qty;
                for h in o.held.iter_mut().filter(|h| h.sku == sku) {
                    let t = need.min(h.qty);
                    if t > 0 {
                        h.qty -= t;
                        need -= t;
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
            }
            o.held.retain(|h| h.qty > 0);
        }
        for (i, w) in want.iter().enumerate() {
            o.shipped[i] += w;
        }
        let all = o.lines.iter().zip(&o.shipped).all(|(l, s)| *s >= l.qty);
        if all && self.settings.stock_commit == StockCommit::Shipment {
            o.committed = true;
        }
        o.status = if all {
            OrderStatus::Shipped
        } else {
            OrderStatus::PartiallyShipped
        };
        let status = o.status;
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::status(status)
    }

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
        let left: Vec<i64> = o
            .shipped
            .iter()
            .zip(&o.returned)
            .map(|(s, r)| s - r)
            .collect();
        if let Err(code) = Self::units(&o, lines, |i| left[i]) {
            return ExpectedOutcome::Err(code);
        }
        let mut refund = 0;
        let mut pts_part = 0;
        let mut taken = o.returned.clone();
        for (line, qty) in lines {
            let i = usize::from(*line);
            let l = &o.lines[i];
            refund += unit_share(l.net, l.qty, taken[i], *qty);
            pts_part += unit_share(l.points, l.qty, taken[i], *qty);
            if restock {
                // The units of this SKU in order: earlier lines first.
                let before: i64 = o.lines[..i]
                    .iter()
                    .filter(|x| x.sku == l.sku)
                    .map(|x| x.qty)
                    .sum::<i64>()
                    + taken[i];
                let mut units: Vec<String> = Vec::new();
                for a in o.allocs.iter().filter(|a| a.sku == l.sku) {
                    for _ in 0..a.qty {
                        units.push(a.location.clone());
                    }
                }
                let from = usize::try_from(before).unwrap_or(usize::MAX);
                let k = usize::try_from(*qty).unwrap_or(0);
                for loc in units.iter().skip(from).take(k) {
                    let sku = l.sku.clone();
                    if let Some(x) = self.loc_mut(&sku, loc) {
                        x.on_hand += 1;
                    }
                }
            }
            taken[i] += qty;
        }
        // A goodwill refund may have taken part of the money: a unit refund
        // is capped at what the payments still hold
        // (docs/order-lifecycle.md, "Refunds").
        let refund = refund.min(o.paid - o.refunded).max(0);
        o.returned = taken;
        let completes = o.lines.iter().zip(&o.returned).all(|(l, r)| *r >= l.qty);
        let remaining = o.points_used - o.points_returned;
        let pts = if completes {
            remaining.max(0)
        } else if o.points_total_deduction == 0 {
            0
        } else {
            (o.points_used * pts_part / o.points_total_deduction)
                .min(remaining)
                .max(0)
        };
        o.points_returned += pts;
        if let Some(c) = &o.customer {
            *self.points.entry(c.clone()).or_insert(0) += pts;
        }
        o.refunded += refund;
        if completes {
            o.status = OrderStatus::Returned;
        }
        let status = o.status;
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::Ok {
            status: Some(status),
            refund: Some(refund),
            points_returned: Some(pts),
            on_hand: None,
            tick: None,
        }
    }

    fn tick(&mut self, minutes: u32) -> ExpectedOutcome {
        self.now += Duration::minutes(i64::from(minutes));
        let now = self.now;
        let days = Duration::days(self.settings.auto_complete_days);
        let mut closed = Vec::new();
        let mut completed = Vec::new();
        for id in self.placement.clone() {
            let Some(mut o) = self.orders.get(&id).cloned() else {
                continue;
            };
            if o.status == OrderStatus::PendingPayment && o.deadline.is_some_and(|d| d <= now) {
                self.give_back(&mut o);
                o.status = OrderStatus::Closed;
                // Part payments captured before the deadline go back.
                o.refunded = o.paid;
                closed.push(id.clone());
            } else if o.status == OrderStatus::Delivered
                && o.delivered_at.is_some_and(|d| d + days <= now)
            {
                o.status = OrderStatus::Completed;
                completed.push(id.clone());
            }
            self.orders.insert(id, o);
        }
        ExpectedOutcome::Ok {
            status: None,
            refund: None,
            points_returned: None,
            on_hand: None,
            tick: Some((closed, completed)),
        }
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
    ExpectedOutcome::Ok {
        status: None,
        refund: None,
        points_returned: None,
        on_hand: Some(n),
        tick: None,
    }
}

fn line_qtys(l: &[(u8, i64)]) -> Vec<mercato::core::order::LineQty> {
    l.iter()
        .map(|(line, qty)| mercato::core::order::LineQty {
            line: usize::from(*line),
            qty: *qty,
        })
        .collect()
}
