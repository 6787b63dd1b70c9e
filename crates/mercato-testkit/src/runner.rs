//! [`ModelRunner`]: drives a real [`Engine`] with [`Step`]s and the
//! [`ReferenceModel`] beside it, and compares after every step: the outcome
//! (success or the error code), the answer (status, refund, points given
//! back, on_hand, the orders a tick closed or completed), then the state
//! (stock per location, quota counters, every order's status, paid and
//! refunded, points balances, coupon live uses) and the invariants of
//! [`crate::invariants::check_state`].

use std::fmt;
use std::sync::Arc;

use chrono::Duration;
use mercato::core::order::OrderStatus;
use mercato::store::Store;
use mercato::{Engine, EngineError, ManualClock, Response};

use crate::invariants::{Violation, check_engine, check_state};
use crate::model::{Expected, ExpectedOutcome, ModelOrder, ReferenceModel, ShopSetup, Step};
use crate::util::{epoch, minor};

/// How the engine and the model parted ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the step (`usize::MAX`: during setup).
    pub step: usize,
    /// The step, as debug text.
    pub what: String,
    /// The difference.
    pub problem: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} ({}): {}", self.step, self.what, self.problem)
    }
}

impl std::error::Error for Divergence {}

/// An engine on a [`ManualClock`] and the model of the same shop.
pub struct ModelRunner<S: Store + 'static> {
    engine: Engine<S, ManualClock>,
    clock: ManualClock,
    model: ReferenceModel,
    steps: usize,
    /// Run [`check_engine`] (replay and hash chain) every this many steps
    /// (0: never during the run; [`ModelRunner::finish`] always does).
    pub replay_every: usize,
    stats: StepStats,
}

/// Per kind of step ([`Step::kind`]): how many the engine accepted and
/// how many it refused (with the model agreeing every time).
pub type StepStats = std::collections::BTreeMap<&'static str, (u64, u64)>;

impl<S: Store + 'static> ModelRunner<S> {
    /// Opens an engine over `store` at the generated shops' start time and
    /// installs `setup` on it and in a fresh model.
    ///
    /// # Errors
    /// A [`Divergence`] at step `usize::MAX` when the engine cannot open or
    /// refuses the setup.
    pub fn new(store: S, setup: &ShopSetup) -> Result<Self, Divergence> {
        let setup_err = |e: EngineError| Divergence {
            step: usize::MAX,
            what: "setup".into(),
            problem: e.to_string(),
        };
        let clock = ManualClock::new(epoch());
        let engine = Engine::open(store, clock.clone()).map_err(setup_err)?;
        setup.install(&engine).map_err(setup_err)?;
        Ok(ModelRunner {
            engine,
            clock,
            model: ReferenceModel::new(setup),
            steps: 0,
            replay_every: 0,
            stats: StepStats::new(),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine<S, ManualClock> {
        &self.engine
    }

    /// The model.
    pub fn model(&self) -> &ReferenceModel {
        &self.model
    }

    /// Steps run so far per kind: (accepted, refused).
    pub fn stats(&self) -> &StepStats {
        &self.stats
    }

    /// Runs one step on both and compares.
    ///
    /// # Errors
    /// The first difference found.
    pub fn step(&mut self, step: &Step) -> Result<(), Divergence> {
        let index = self.steps;
        self.steps += 1;
        let fail = |problem: String| Divergence {
            step: index,
            what: format!("{step:?}"),
            problem,
        };
        let result: Result<Response, EngineError> = match (step, self.model.request(step)) {
            (Step::Tick { minutes }, _) => {
                self.clock.advance(Duration::minutes(i64::from(*minutes)));
                self.engine.tick().map(Response::Tick)
            }
            (_, Some(req)) => self.engine.execute(&req, None),
            (_, None) => return Err(fail("the model cannot express this step".into())),
        };
        // The quote the order was placed with: the answer's, or for a
        // presale deposit the placed order's.
        let presale_quote = match (&result, step) {
            (Ok(Response::Presale(p)), _) => self
                .engine
                .read(|st| st.shop().order(&p.order).map(|o| Arc::clone(&o.quote)))
                .map_err(|e| fail(e.to_string()))?,
            _ => None,
        };
        let placed = match &result {
            Ok(Response::Placed(p)) => Some(&*p.quote),
            _ => presale_quote.as_deref(),
        };
        let expected = self.model.apply(step, placed);
        compare(&expected, &result).map_err(fail)?;
        let counts = self.stats.entry(step.kind()).or_insert((0, 0));
        if result.is_ok() {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
        self.compare_state().map_err(fail)?;
        let v = self
            .engine
            .read(check_state)
            .map_err(|e| fail(e.to_string()))?;
        if !v.is_empty() {
            return Err(fail(violations(&v)));
        }
        if self.replay_every > 0 && self.steps.is_multiple_of(self.replay_every) {
            let v = check_engine(&self.engine);
            if !v.is_empty() {
                return Err(fail(violations(&v)));
            }
        }
        Ok(())
    }

    /// Runs every step, then [`ModelRunner::finish`].
    ///
    /// # Errors
    /// The first difference found.
    pub fn run(&mut self, steps: &[Step]) -> Result<(), Divergence> {
        for s in steps {
            self.step(s)?;
        }
        self.finish()
    }

    /// The checks that need the store: replay and hash chain.
    ///
    /// # Errors
    /// A [`Divergence`] listing the violations.
    pub fn finish(&self) -> Result<(), Divergence> {
        let v = check_engine(&self.engine);
        if v.is_empty() {
            Ok(())
        } else {
            Err(Divergence {
                step: self.steps,
                what: "end of run".into(),
                problem: violations(&v),
            })
        }
    }

    fn compare_state(&self) -> Result<(), String> {
        let m = &self.model;
        self.engine
            .read(|st| {
                let shop = st.shop();
                for (sku, loc, on_hand, reserved) in m.stock_levels() {
                    let l = shop
                        .stock()
                        .sku(&sku)
                        .and_then(|s| s.locations.iter().find(|l| l.location == loc));
                    match l {
                        Some(l) if l.on_hand == on_hand && l.reserved == reserved => {}
                        Some(l) => {
                            return Err(format!(
                                "{sku}/{loc}: engine on_hand {} reserved {}, model {on_hand} / {reserved}",
                                l.on_hand, l.reserved
                            ));
                        }
                        None => return Err(format!("{sku}/{loc}: unknown to the engine")),
                    }
                }
                for (sku, channel, taken) in m.quota_levels() {
                    let t = shop
                        .stock()
                        .sku(&sku)
                        .and_then(|s| s.quotas.iter().find(|q| q.channel == channel))
                        .map(|q| q.taken);
                    if t != Some(taken) {
                        return Err(format!(
                            "quota {sku}/{channel}: engine taken {t:?}, model {taken}"
                        ));
                    }
                }
                for o in m.orders() {
                    let Some(e) = shop.order(&o.id) else {
                        return Err(format!("order {} unknown to the engine", o.id));
                    };
                    let got = (e.status, minor(&e.paid), minor(&e.refunded));
                    let want = (o.status, o.paid, o.refunded);
                    if got != want {
                        return Err(format!(
                            "order {}: engine (status, paid, refunded) {got:?}, model {want:?}",
                            o.id
                        ));
                    }
                    compare_order(e, o)?;
                }
                if shop.orders().count() != m.orders().count() {
                    return Err(format!(
                        "engine has {} orders, model {}",
                        shop.orders().count(),
                        m.orders().count()
                    ));
                }
                for (c, p) in m.points() {
                    let b = shop.points().balance(c);
                    if b != *p {
                        return Err(format!("points of {c}: engine {b}, model {p}"));
                    }
                }
                for (code, n) in m.coupon_live_uses() {
                    let e = shop.coupons().get(&code).map_or(0, |c| c.live_uses());
                    if e != n {
                        return Err(format!("coupon {code}: engine {e} live uses, model {n}"));
                    }
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?
    }
}

fn violations(v: &[Violation]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn status_str(s: Option<OrderStatus>) -> Option<&'static str> {
    s.map(OrderStatus::as_str)
}

/// Compares what the model expected with what the engine answered.
fn compare(expected: &ExpectedOutcome, got: &Result<Response, EngineError>) -> Result<(), String> {
    match (expected, got) {
        (ExpectedOutcome::Inconsistent(m), _) => Err(format!("model: {m}")),
        (ExpectedOutcome::Err(code), Err(e)) if e.code() == *code => Ok(()),
        (ExpectedOutcome::Err(code), Err(e)) => Err(format!(
            "expected error {code}, engine failed {}: {e}",
            e.code()
        )),
        (ExpectedOutcome::Err(code), Ok(r)) => {
            Err(format!("expected error {code}, engine answered {r:?}"))
        }
        (ExpectedOutcome::Ok(_), Err(e)) => {
            Err(format!("expected success, engine failed {}: {e}", e.code()))
        }
        (ExpectedOutcome::Ok(x), Ok(r)) => {
            let ok = answer_matches(x, r);
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "engine answered {r:?}, model expected {expected:?}"
                ))
            }
        }
    }
}

/// Whether the engine's answer `r` agrees with what the model expected.
fn answer_matches(x: &Expected, r: &Response) -> bool {
    let want_status = status_str(x.status);
    let shares_add_up = |f: &mercato::RefundReceipt| {
        f.allocations.iter().map(|a| minor(&a.amount)).sum::<i64>() == minor(&f.amount)
    };
    let refund_matches = |f: &mercato::RefundReceipt| {
        x.refund.is_none_or(|w| w == minor(&f.amount))
            && x.shipping.is_none_or(|w| w == minor(&f.shipping))
            && x.points_returned.is_none_or(|w| w == f.points_returned)
            && shares_add_up(f)
    };
    match r {
        Response::Placed(p) => want_status.is_none_or(|s| s == p.status.as_str()),
        Response::Status { status: s, .. } => want_status.is_none_or(|w| w == s.as_str()),
        Response::Cancelled(c) => {
            x.refund.is_none_or(|f| f == minor(&c.refund)) && want_status == Some("cancelled")
        }
        Response::Returned(r) => {
            x.refund.is_none_or(|f| f == minor(&r.refund))
                && x.points_returned.is_none_or(|w| w == r.points_returned)
                && want_status.is_none_or(|w| w == r.status.as_str())
        }
        Response::Stock { on_hand: h, .. } => x.on_hand.is_none_or(|w| w == *h),
        Response::Payment(p) => {
            want_status.is_none_or(|w| w == p.status.as_str())
                && x.due.is_none_or(|w| w == minor(&p.due))
        }
        Response::Refund(f) => {
            refund_matches(f) && want_status.is_none_or(|w| w == f.status.as_str())
        }
        // An after-sale answer carries a refund exactly when the model
        // expects one.
        Response::AfterSale(a) => {
            want_status.is_none_or(|w| w == a.order_status.as_str())
                && x.request.is_none_or(|w| w == a.status)
                && match (&a.refund, x.refund) {
                    (Some(f), Some(_)) => refund_matches(f) && f.status == a.order_status,
                    (None, None) => true,
                    _ => false,
                }
        }
        Response::Shipment(s) => want_status.is_none_or(|w| w == s.status.as_str()),
        Response::Presale(p) => {
            want_status.is_none_or(|w| w == p.status.as_str())
                && x.due.is_none_or(|w| w == minor(&p.balance))
                && minor(&p.payable) == minor(&p.deposit) + minor(&p.balance)
        }
        Response::Tick(t) => x
            .tick
            .as_ref()
            .is_none_or(|(c, d)| *c == t.closed && *d == t.completed),
        _ => true,
    }
}

/// Compares the engine's order with the model's beyond status and money:
/// units per line (shipped, cancelled, received back, in open requests,
/// refunded while kept, refunded), the payments ledger with what went back
/// through each payment, shipping refunded, points given back, after-sale
/// records, shipments and the location each shipped unit left from, and
/// the presale phase.
fn compare_order(e: &mercato::core::order::Order, o: &ModelOrder) -> Result<(), String> {
    let id = &o.id;
    let diff = |what: &str, got: &dyn fmt::Debug, want: &dyn fmt::Debug| {
        Err(format!("order {id}: engine {what} {got:?}, model {want:?}"))
    };
    if minor(&e.quote.totals.payable) != o.payable {
        return diff("payable", &e.quote.totals.payable, &o.payable);
    }
    let counters: [(&str, &[i64], &[i64]); 6] = [
        ("shipped", &e.shipped, &o.shipped),
        ("cancelled", &e.cancelled, &o.cancelled),
        ("returned", &e.returned, &o.returned),
        ("returning", &e.returning, &o.returning),
        ("kept_refunded", &e.kept_refunded, &o.kept_refunded),
        ("refunded_units", &e.refunded_units, &o.refunded_units),
    ];
    for (what, got, want) in counters {
        if got != want {
            return diff(what, &got, &want);
        }
    }
    let pays: Vec<(i64, i64)> = e
        .payments
        .iter()
        .map(|p| (minor(&p.amount), minor(&p.refunded)))
        .collect();
    let want: Vec<(i64, i64)> = o.payments.iter().map(|p| (p.amount, p.refunded)).collect();
    if pays != want {
        return diff("payments (captured, refunded)", &pays, &want);
    }
    let shipping: i64 = e.refunds.iter().map(|r| minor(&r.shipping)).sum();
    if shipping != o.shipping_refunded {
        return diff("shipping refunded", &shipping, &o.shipping_refunded);
    }
    if e.points_returned != o.points_returned {
        return diff("points returned", &e.points_returned, &o.points_returned);
    }
    let reqs: Vec<(&str, _)> = e
        .returns
        .iter()
        .map(|r| (r.id.as_str(), r.status))
        .collect();
    let want: Vec<(&str, _)> = o
        .requests
        .iter()
        .map(|r| (r.id.as_str(), r.status))
        .collect();
    if reqs != want {
        return diff("after-sale records", &reqs, &want);
    }
    let ships: Vec<(&str, bool)> = e
        .shipments
        .iter()
        .map(|s| (s.id.as_str(), s.is_delivered()))
        .collect();
    let want: Vec<(&str, bool)> = o
        .shipments
        .iter()
        .map(|s| (s.id.as_str(), s.delivered))
        .collect();
    if ships != want {
        return diff("shipments (id, delivered)", &ships, &want);
    }
    // Where each shipped unit of each line left from, in shipping order.
    let mut sources: Vec<Vec<String>> = vec![Vec::new(); o.sources.len()];
    for s in e.shipments.iter().flat_map(|s| &s.sources) {
        if let Some(v) = sources.get_mut(s.line) {
            for _ in 0..s.qty {
                v.push(s.location.clone());
            }
        }
    }
    if sources != o.sources {
        return diff("unit sources", &sources, &o.sources);
    }
    let phase = e.presale.as_ref().map(|p| p.phase);
    let want = o.presale.as_ref().map(|(_, p)| *p);
    if phase != want {
        return diff("presale phase", &phase, &want);
    }
    Ok(())
}
