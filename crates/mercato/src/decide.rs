//! From a [`Request`] to logged events: validate, price with the rules
//! crate, run review, and ask the core [`Shop`] to decide; then, after the
//! events are applied, build the [`Response`]. Pure functions of the state
//! and `now`: the engine wraps them with locking, storage and retries.

use crate::request::{AdjustStock, HoldOrder, OrderRef};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mercato_core::order::{OrderEvent, OrderStatus};
use mercato_core::shop::PlaceOrder;
use mercato_core::stock::{StockCommand, StockEvent};
use mercato_core::{Command, Context, CoreError, Event, Money, Quote};
use mercato_rules::{Cart, CartLine, PricingContext, RuleSet, ShopView, price, reprice_clawback};

use crate::error::EngineError;
use crate::log::{ConfigEvent, LogEvent};
use crate::request::{
    Cancellation, PlacedOrder, Request, ReservationView, Response, ReturnRefund, TickReport,
};
use crate::review::{BuiltinReview, ReviewInput, ReviewRule};
use crate::settings::RefundPolicy;
use crate::state::{EngineState, rules_of};

fn core(events: Vec<Event>) -> Vec<LogEvent> {
    events.into_iter().map(LogEvent::Core).collect()
}

pub(crate) fn shop_decide(
    st: &EngineState,
    cmd: &Command,
    now: DateTime<Utc>,
) -> Result<Vec<LogEvent>, EngineError> {
    let config = st.settings.shop_config();
    let ctx = Context {
        now,
        config: &config,
    };
    let mut events = st.shop().decide(cmd, &ctx)?;
    // Points follow the order lifecycle (credit, claw-back, expiry).
    let follow = st
        .shop()
        .loyalty_follow_ups(cmd, &events, &st.settings.points_earning, &ctx)?;
    events.extend(follow);
    Ok(core(events))
}

fn money(st: &EngineState, amount: rust_decimal::Decimal) -> Result<Money, EngineError> {
    let c = st.currency.ok_or(EngineError::NotConfigured)?;
    Ok(Money::new(amount, c)?)
}

/// Prices a cart against the current state, reading shop facts through
/// `view` (the state itself, or a recording view of it).
pub(crate) fn quote(
    st: &EngineState,
    view: &dyn ShopView,
    cart: &Cart,
    now: DateTime<Utc>,
) -> Result<Quote, EngineError> {
    quote_in(st, view, cart, now, crate::campaigns::DEFAULT_CHANNEL)
}

/// [`quote`] for a cart sold through `channel` (channel conditions).
pub(crate) fn quote_in(
    st: &EngineState,
    view: &dyn ShopView,
    cart: &Cart,
    now: DateTime<Utc>,
    channel: &str,
) -> Result<Quote, EngineError> {
    let rules = crate::loyalty::current_rules_with(st, cart.coupons.iter().map(String::as_str))?;
    let ctx = PricingContext::new(&rules, now, view).with_channel(Some(channel));
    Ok(price(cart, &ctx)?)
}

/// Decides a request: the events to log, or why it is refused. Pricing
/// reads shop facts through `view` (the plan passes a recording view, so
/// that what pricing read joins the commit's read set).
pub(crate) fn decide(
    st: &EngineState,
    req: &Request,
    now: DateTime<Utc>,
    extra_review: &[std::sync::Arc<dyn ReviewRule>],
    view: &dyn ShopView,
) -> Result<Vec<LogEvent>, EngineError> {
    match req {
        Request::Configure { currency, settings } => {
            if st.currency.is_some() {
                return Err(EngineError::AlreadyConfigured);
            }
            settings.validate(*currency)?;
            Ok(vec![LogEvent::Config(Box::new(ConfigEvent::Configured {
                currency: *currency,
                settings: settings.clone(),
            }))])
        }
        Request::UpdateSettings { settings } => {
            let c = st.currency.ok_or(EngineError::NotConfigured)?;
            settings.validate(c)?;
            Ok(vec![LogEvent::Config(Box::new(
                ConfigEvent::SettingsChanged {
                    settings: settings.clone(),
                },
            ))])
        }
        Request::AddCatalogItem { item } => {
            let rules = st.rules()?;
            item.validate(rules.currency())?;
            if rules.item(&item.sku).is_some() {
                return Err(EngineError::InvalidInput(format!(
                    "SKU `{}` is already in the catalog",
                    item.sku
                )));
            }
            Ok(vec![LogEvent::Config(Box::new(
                ConfigEvent::CatalogItemAdded { item: item.clone() },
            ))])
        }
        Request::AddPromotion { promotion } => {
            let mut trial: RuleSet = st.rules()?.clone();
            trial.add_promotion(promotion.clone())?;
            Ok(vec![LogEvent::Config(Box::new(
                ConfigEvent::PromotionAdded {
                    promotion: promotion.clone(),
                },
            ))])
        }
        Request::AddCoupon { coupon } => {
            let mut trial: RuleSet = st.rules()?.clone();
            trial.add_coupon(coupon.clone())?;
            let mut ev = vec![LogEvent::Config(Box::new(ConfigEvent::CouponAdded {
                coupon: coupon.clone(),
            }))];
            ev.extend(shop_decide(
                st,
                &Command::IssueCoupon {
                    code: coupon.code.clone(),
                    owner: coupon.owner.clone(),
                    usage_limit: coupon.usage_limit,
                    per_customer_limit: coupon.per_customer_limit.unwrap_or(i64::MAX),
                    valid_until: coupon.window.as_ref().and_then(|w| w.to),
                },
                now,
            )?);
            Ok(ev)
        }
        // Requests whose value is the core command itself.
        Request::RegisterCustomer(c) => shop_decide(st, &Command::RegisterCustomer(c.clone()), now),
        Request::EarnPoints(c) => shop_decide(st, &Command::EarnPoints(c.clone()), now),
        Request::ConfigureLocation(c) => {
            shop_decide(st, &Command::Stock(StockCommand::Configure(c.clone())), now)
        }
        Request::AdjustStock(c) => {
            if let Some(rules) = &st.rules
                && rules.item(&c.sku).is_none()
            {
                return Err(CoreError::UnknownSku(c.sku.clone()).into());
            }
            shop_decide(st, &Command::Stock(StockCommand::Adjust(c.clone())), now)
        }
        Request::OpenQuota(c) => {
            shop_decide(st, &Command::Stock(StockCommand::OpenQuota(c.clone())), now)
        }
        Request::CloseQuota(c) => shop_decide(
            st,
            &Command::Stock(StockCommand::CloseQuota(c.clone())),
            now,
        ),
        Request::SetLowStockThreshold(c) => shop_decide(
            st,
            &Command::Stock(StockCommand::SetLowStockThreshold(c.clone())),
            now,
        ),
        Request::PlaceOrder(p) => {
            // The contract's order: malformed input, then a reused name,
            // then what pricing finds.
            if p.points < 0 {
                return Err(mercato_rules::RulesError::InvalidPoints(p.points).into());
            }
            if st.shop().order(&p.id).is_some() {
                return Err(CoreError::DuplicateOrder(p.id.clone()).into());
            }
            let cart = Cart {
                customer: p.customer.clone(),
                lines: p.lines.clone(),
                coupons: p.coupons.clone(),
                points: p.points,
            };
            let channel = p.channel.clone().unwrap_or_else(|| "web".to_string());
            let q = quote_in(st, view, &cart, now, &channel)?;
            if let Some(r) = q.rejected.iter().find(|r| p.coupons.contains(&r.source)) {
                return Err(EngineError::CouponRejected {
                    code: r.source.clone(),
                    reason: r.reason,
                });
            }
            let input = ReviewInput {
                quote: &q,
                customer: p.customer.as_deref(),
                channel: &channel,
                now,
                shop: st.shop(),
            };
            let mut hold_reasons = match &st.settings.review {
                Some(r) => BuiltinReview(r).review(&input),
                None => Vec::new(),
            };
            for rule in extra_review {
                for reason in rule.review(&input) {
                    if !hold_reasons.contains(&reason) {
                        hold_reasons.push(reason);
                    }
                }
            }
            shop_decide(
                st,
                &Command::Place(Box::new(PlaceOrder {
                    id: p.id.clone(),
                    customer: p.customer.clone(),
                    channel,
                    quote: Arc::new(q),
                    hold_reasons,
                })),
                now,
            )
        }
        Request::Pay { order, amount } => {
            let amount = money(st, *amount)?;
            shop_decide(
                st,
                &Command::Pay {
                    order: order.clone(),
                    amount,
                },
                now,
            )
        }
        Request::Hold(c) => shop_decide(st, &Command::Hold(c.clone()), now),
        Request::Release(c) => shop_decide(st, &Command::Release(c.clone()), now),
        Request::Reject(c) => shop_decide(st, &Command::Reject(c.clone()), now),
        Request::Cancel(c) => shop_decide(st, &Command::Cancel(c.clone()), now),
        Request::Ship { order, lines } => shop_decide(
            st,
            &Command::Ship {
                order: order.clone(),
                lines: lines.clone(),
            },
            now,
        ),
        Request::Deliver { order } => shop_decide(
            st,
            &Command::Deliver {
                order: order.clone(),
            },
            now,
        ),
        Request::Complete(c) => shop_decide(st, &Command::Complete(c.clone()), now),
        Request::Return {
            order,
            lines,
            restock,
        } => {
            let o = st
                .shop()
                .order(order)
                .ok_or_else(|| CoreError::UnknownOrder(order.clone()))?;
            o.check_return(lines)?;
            let owed_back = match st.settings.refund_policy {
                RefundPolicy::ProRata => Money::zero(o.quote.currency),
                RefundPolicy::Reprice => clawback(st, view, order, &o.kept_after(lines))?,
            };
            shop_decide(
                st,
                &Command::Return {
                    order: order.clone(),
                    return_id: format!("{order}-r{}", o.returns.len() + 1),
                    lines: lines.clone(),
                    restock: *restock,
                    owed_back,
                },
                now,
            )
        }
        Request::Tick => shop_decide(st, &Command::Tick, now),
        Request::RecordPayment { .. }
        | Request::RequestAfterSale { .. }
        | Request::AfterSale { .. }
        | Request::Goodwill { .. }
        | Request::CancelUnits { .. }
        | Request::RequestExchange { .. }
        | Request::PayExchange { .. } => crate::aftersale::decide(st, req, now, view)
            .unwrap_or_else(|| Err(EngineError::Internal("after-sale request".into()))),
        Request::AddCouponTemplate { template } => crate::loyalty::add_template(st, template),
        Request::IssueCoupons { .. }
        | Request::ClaimCoupon { .. }
        | Request::RevokeCoupon { .. }
        | Request::ExtendCoupon { .. } => match crate::loyalty::command(st, req) {
            Some(cmd) => shop_decide(st, &cmd?, now),
            None => Err(EngineError::Internal("not a loyalty request".into())),
        },
        Request::ShipShipment { .. } | Request::DeliverShipment { .. } => {
            crate::shipments::decide(st, req, now)
        }
        Request::SetCustomerTags(c) => {
            if c.tags.iter().any(String::is_empty) {
                return Err(EngineError::InvalidInput("a customer tag is empty".into()));
            }
            shop_decide(st, &Command::SetCustomerTags(c.clone()), now)
        }
        Request::ChangePrice { .. }
        | Request::SetSellable { .. }
        | Request::UpdateCatalogItem { .. }
        | Request::EndPromotion { .. }
        | Request::PausePromotion { .. }
        | Request::ResumePromotion { .. }
        | Request::ReplacePromotion { .. } => crate::campaigns::decide(st, req, now),
        Request::PresaleDeposit(_) => crate::presale::decide(st, req, now),
    }
}

/// Pricing facts for re-pricing a kept part of an order: the customer as
/// now, limits that do not bind (the order already holds its uses), and
/// gifts always in stock.
struct RepriceView<'a> {
    view: &'a dyn ShopView,
    /// The segment the order was priced with (issue 12), if recorded.
    facts: Option<&'a mercato_core::PricedWith>,
}

impl ShopView for RepriceView<'_> {
    fn customer(&self, id: &str) -> Option<mercato_rules::CustomerView<'_>> {
        let c = self.view.customer(id)?;
        Some(match self.facts {
            Some(f) => mercato_rules::CustomerView {
                tier: f.tier.as_deref(),
                ..c
            },
            None => c,
        })
    }
    fn customer_tags(&self, customer: &str) -> Vec<String> {
        match self.facts {
            Some(f) => f.tags.clone(),
            None => self.view.customer_tags(customer),
        }
    }
    fn live_orders(&self, customer: &str) -> i64 {
        match self.facts.and_then(|f| f.new_customer) {
            Some(true) => 0,
            Some(false) => 1,
            None => self.view.live_orders(customer),
        }
    }
    fn available(&self, _sku: &str) -> i64 {
        i64::MAX / 4
    }
}

/// `C` of the contract's reprice rule for keeping `kept` units per line.
pub(crate) fn clawback(
    st: &EngineState,
    view: &dyn ShopView,
    order: &str,
    kept: &[i64],
) -> Result<Money, EngineError> {
    let o = st
        .shop()
        .order(order)
        .ok_or_else(|| CoreError::UnknownOrder(order.to_string()))?;
    if crate::presale::is_presale(st, order) {
        return Ok(Money::zero(o.quote.currency));
    }
    let n = st.durable.order_rules.get(order).copied().unwrap_or(0);
    let log = st
        .durable
        .config_log
        .get(..n)
        .unwrap_or(&st.durable.config_log);
    let (_, _, rules) = rules_of(log);
    let rules = rules.ok_or(EngineError::NotConfigured)?;
    // Template coupons are priced with their template as at placement.
    let templates = crate::loyalty::templates_of(log);
    let rules = crate::loyalty::rules_with(
        st,
        &rules,
        &templates,
        o.quote.coupons.iter().map(String::as_str),
    )?;
    let cart_lines: Vec<&mercato_core::QuoteLine> =
        o.quote.lines.iter().filter(|l| !l.gift).collect();
    let cart = Cart {
        customer: o.customer.clone(),
        lines: cart_lines
            .iter()
            .map(|l| CartLine {
                sku: l.sku.clone(),
                qty: l.qty,
            })
            .collect(),
        coupons: o.quote.coupons.clone(),
        points: 0,
    };
    let kept: Vec<i64> = o
        .quote
        .lines
        .iter()
        .zip(kept)
        .filter(|(l, _)| !l.gift)
        .map(|(_, k)| *k)
        .collect();
    let facts = o.quote.priced_with.as_ref();
    let view = RepriceView { view, facts };
    let channel = facts
        .and_then(|f| f.channel.as_deref())
        .or(Some(o.channel.as_str()));
    let ctx = PricingContext::new(&rules, o.placed_at, &view).with_channel(channel);
    Ok(reprice_clawback(&cart, &kept, &o.quote, &ctx)?)
}

/// The answer to `req`, read from the state after its `events`.
pub(crate) fn respond(st: &EngineState, req: &Request, events: &[LogEvent]) -> Response {
    // Every order a request names exists once its events applied (or the
    // request was refused before): closed is only a stand-in for the total
    // function.
    let status = |id: &str| {
        st.shop()
            .order(id)
            .map_or(OrderStatus::Closed, |o| o.status)
    };
    match req {
        Request::PlaceOrder(p) => {
            let o = st.shop().order(&p.id);
            let reservations = events
                .iter()
                .find_map(|e| match e {
                    LogEvent::Core(Event::Stock(StockEvent::Reserved { allocations, .. })) => Some(
                        allocations
                            .iter()
                            .map(|a| ReservationView {
                                sku: a.sku.clone(),
                                location: a.location.clone(),
                                qty: a.qty,
                            })
                            .collect(),
                    ),
                    _ => None,
                })
                .unwrap_or_default();
            match o {
                Some(o) => Response::Placed(Box::new(PlacedOrder {
                    order: p.id.clone(),
                    status: o.status,
                    quote: Arc::clone(&o.quote),
                    reservations,
                    hold_reasons: if o.status == OrderStatus::OnHold {
                        o.hold_reasons.clone()
                    } else {
                        Vec::new()
                    },
                })),
                None => Response::Done,
            }
        }
        Request::Cancel(OrderRef { order }) | Request::Reject(OrderRef { order }) => {
            let refund = events.iter().find_map(|e| match e {
                LogEvent::Core(Event::Order(OrderEvent::Cancelled { refund, .. })) => Some(*refund),
                _ => None,
            });
            match refund {
                Some(refund) => Response::Cancelled(Cancellation {
                    order: order.clone(),
                    refund,
                }),
                None => Response::Status {
                    order: order.clone(),
                    status: status(order),
                },
            }
        }
        Request::Return { order, .. } => events
            .iter()
            .find_map(|e| match e {
                LogEvent::Core(Event::Order(OrderEvent::Refunded {
                    return_id,
                    amount,
                    points_returned,
                    ..
                })) => Some(Response::Returned(ReturnRefund {
                    order: order.clone(),
                    return_id: return_id.clone(),
                    refund: *amount,
                    points_returned: *points_returned,
                    status: status(order),
                })),
                _ => None,
            })
            .unwrap_or(Response::Done),
        Request::Pay { order, .. }
        | Request::Hold(HoldOrder { order, .. })
        | Request::Release(OrderRef { order })
        | Request::Ship { order, .. }
        | Request::Deliver { order }
        | Request::Complete(OrderRef { order }) => Response::Status {
            order: order.clone(),
            status: status(order),
        },
        Request::AdjustStock(AdjustStock { sku, location, .. }) => Response::Stock {
            sku: sku.clone(),
            location: location.clone(),
            on_hand: st
                .shop()
                .stock()
                .sku(sku)
                .and_then(|s| s.locations.iter().find(|l| &l.location == location))
                .map_or(0, |l| l.on_hand),
        },
        Request::Tick => {
            let mut r = TickReport::default();
            for e in events {
                match e {
                    LogEvent::Core(Event::Order(OrderEvent::Closed { id, .. })) => {
                        r.closed.push(id.clone())
                    }
                    LogEvent::Core(Event::Order(OrderEvent::Completed { id })) => {
                        r.completed.push(id.clone())
                    }
                    _ => {}
                }
            }
            Response::Tick(r)
        }
        Request::IssueCoupons { .. } | Request::ClaimCoupon { .. } => Response::Coupons {
            coupons: crate::loyalty::issued_codes(events),
        },
        Request::PresaleDeposit(_) => crate::presale::respond(st, req, events),
        Request::ShipShipment { .. } | Request::DeliverShipment { .. } => {
            crate::shipments::respond(st, req).unwrap_or(Response::Done)
        }
        _ => crate::aftersale::respond(st, req, events).unwrap_or(Response::Done),
    }
}
