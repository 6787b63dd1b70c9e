//! [`ModelRunner`]: drives a real [`Engine`] with [`Step`]s and the
//! [`ReferenceModel`] beside it, and compares after every step: the outcome
//! (success or the error code), the answer (status, refund, points given
//! back, on_hand, the orders a tick closed or completed), then the state
//! (stock per location, quota counters, every order's status, paid and
//! refunded, points balances, coupon live uses) and the invariants of
//! [`crate::invariants::check_state`].

use std::fmt;

use chrono::Duration;
use mercato::core::order::OrderStatus;
use mercato::store::Store;
use mercato::{Engine, EngineError, ManualClock, Response};

use crate::invariants::{Violation, check_engine, check_state};
use crate::model::{ExpectedOutcome, ReferenceModel, ShopSetup, Step};
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
}

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
        let placed = match &result {
            Ok(Response::Placed(p)) => Some(&*p.quote),
            _ => None,
        };
        let expected = self.model.apply(step, placed);
        compare(&expected, &result).map_err(fail)?;
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
        (ExpectedOutcome::Ok { .. }, Err(e)) => {
            Err(format!("expected success, engine failed {}: {e}", e.code()))
        }
        (
            ExpectedOutcome::Ok {
                status,
                refund,
                points_returned,
                on_hand,
                tick,
            },
            Ok(r),
        ) => {
            let want_status = status_str(*status);
            let ok = match r {
                Response::Placed(p) => want_status.is_none_or(|s| s == p.status.as_str()),
                Response::Status { status: s, .. } => want_status.is_none_or(|w| w == s.as_str()),
                Response::Cancelled(c) => {
                    refund.is_none_or(|f| f == minor(&c.refund)) && want_status == Some("cancelled")
                }
                Response::Returned(r) => {
                    refund.is_none_or(|f| f == minor(&r.refund))
                        && points_returned.is_none_or(|w| w == r.points_returned)
                        && want_status.is_none_or(|w| w == r.status.as_str())
                }
                Response::Stock { on_hand: h, .. } => on_hand.is_none_or(|w| w == *h),
                Response::Payment(p) => want_status.is_none_or(|w| w == p.status.as_str()),
                Response::Refund(f) => {
                    refund.is_none_or(|w| w == minor(&f.amount))
                        && points_returned.is_none_or(|w| w == f.points_returned)
                        && want_status.is_none_or(|w| w == f.status.as_str())
                        // The allocations add up to the refund.
                        && f.allocations.iter().map(|a| minor(&a.amount)).sum::<i64>()
                            == minor(&f.amount)
                }
                Response::Tick(t) => tick
                    .as_ref()
                    .is_none_or(|(c, d)| *c == t.closed && *d == t.completed),
                _ => true,
            };
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
