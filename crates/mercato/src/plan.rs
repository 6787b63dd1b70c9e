//! [`plan`]: the engine's one pure step. A request, the state and `now`
//! give the commit to store (events, read set, guard moves, read-model
//! rows) and the answer to give once it is durable — or a typed error, and
//! nothing changed. No I/O: the engine wraps it with locking, idempotency,
//! storage and retries.
//!
//! **The read-set rule** (an architecture invariant, see
//! `docs/guarantees.md`): every fact a decision read that another process
//! can change is checked when the commit is stored.
//!
//! - Facts that live in streams (a SKU's stock, an order, a coupon, a
//!   customer's tier, points and orders, the configuration) are checked by
//!   version: the commit's `expected` holds every stream the decision read,
//!   with the version it read. The set is *derived*, never hand-kept: the
//!   streams the pricing view was asked about ([`Recorded`]), the streams
//!   of every event the decision produced (the core decides on exactly the
//!   facts it changes), and `config` (every decision reads the rules or
//!   settings).
//! - Limits that many orders share (promotion budgets, flash-sale limits
//!   and quotas) are checked as guard counters
//!   ([`EngineState::guards_for`]): commutative, so orders in several
//!   processes do not conflict on them, yet none can pass the limit.

use std::cell::RefCell;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mercato_core::event::stream;
use mercato_rules::{BudgetSpent, CustomerView, ShopView};
use mercato_store::{Commit, NewEvent};

use crate::decide::{decide, respond};
use crate::error::EngineError;
use crate::log::LogEvent;
use crate::request::{Request, Response};
use crate::review::ReviewRule;
use crate::state::EngineState;

/// The stream of the shop's configuration (currency, settings, catalog,
/// promotions, coupon definitions).
pub const CONFIG_STREAM: &str = "config";

/// A [`ShopView`] that records the stream of every fact it is asked about.
/// Limit counters (units bought and sold at a limited promotion, budgets)
/// are not recorded: guards check them at commit.
pub(crate) struct Recorded<'a> {
    inner: &'a dyn ShopView,
    reads: RefCell<Vec<String>>,
}

impl<'a> Recorded<'a> {
    pub(crate) fn new(inner: &'a dyn ShopView) -> Self {
        Recorded {
            inner,
            reads: RefCell::new(Vec::new()),
        }
    }

    fn record(&self, stream: String) {
        let mut reads = self.reads.borrow_mut();
        if !reads.contains(&stream) {
            reads.push(stream);
        }
    }

    /// The streams read, in first-read order.
    pub(crate) fn into_reads(self) -> Vec<String> {
        self.reads.into_inner()
    }
}

impl ShopView for Recorded<'_> {
    fn customer(&self, id: &str) -> Option<CustomerView<'_>> {
        self.record(stream::customer(id));
        self.inner.customer(id)
    }
    fn units_bought(&self, promotion: &str, customer: &str) -> i64 {
        self.inner.units_bought(promotion, customer)
    }
    fn units_sold(&self, promotion: &str) -> i64 {
        self.inner.units_sold(promotion)
    }
    fn coupon_uses(&self, code: &str) -> i64 {
        self.record(stream::coupon(code));
        self.inner.coupon_uses(code)
    }
    fn coupon_uses_by(&self, code: &str, customer: &str) -> i64 {
        self.record(stream::coupon(code));
        self.inner.coupon_uses_by(code, customer)
    }
    fn budget_spent(&self, promotion: &str) -> BudgetSpent {
        self.inner.budget_spent(promotion)
    }
    fn available(&self, sku: &str) -> i64 {
        self.record(stream::sku(sku));
        self.inner.available(sku)
    }
    // Tags and the live orders of a customer are facts of the customer's
    // stream (a placed order belongs to it: `Event::also_streams`).
    fn customer_tags(&self, customer: &str) -> Vec<String> {
        self.record(stream::customer(customer));
        self.inner.customer_tags(customer)
    }
    fn live_orders(&self, customer: &str) -> i64 {
        self.record(stream::customer(customer));
        self.inner.live_orders(customer)
    }
}

/// What one request does, ready to store.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Events, read set, guard moves and read-model rows (the idempotency
    /// record is the engine's to add).
    pub commit: Commit,
    /// The answer, from the state after the events.
    pub response: Response,
}

/// Decides `req` on `st` at `now` and applies its events to `st`.
///
/// On `Err` nothing changed. On `Ok` the state holds the request's effects
/// (speculatively: the engine resynchronises it from the store if the
/// commit does not land) and the plan says what to store and answer.
pub(crate) fn plan(
    st: &mut EngineState,
    req: &Request,
    now: DateTime<Utc>,
    review: &[Arc<dyn ReviewRule>],
) -> Result<Plan, EngineError> {
    let (events, reads) = {
        let view = Recorded::new(&*st);
        let events = decide(st, req, now, review, &view)?;
        (events, view.into_reads())
    };
    // Everything that can fail comes before the state changes.
    let mut new_events = Vec::with_capacity(events.len());
    for e in &events {
        let payload = serde_json::to_string(e)
            .map_err(|err| EngineError::InvalidInput(format!("cannot serialize event: {err}")))?;
        let (home, also) = e.streams();
        new_events.push(NewEvent {
            stream: home,
            kind: e.kind().to_string(),
            payload,
            also,
        });
    }
    let mut read_set: Vec<String> = Vec::with_capacity(reads.len() + new_events.len() + 1);
    read_set.push(CONFIG_STREAM.to_string());
    for s in reads {
        if !read_set.contains(&s) {
            read_set.push(s);
        }
    }
    for s in new_events.iter().flat_map(NewEvent::streams) {
        if !read_set.iter().any(|r| r == s) {
            read_set.push(s.to_string());
        }
    }
    let expected = read_set
        .into_iter()
        .map(|s| {
            let v = st.version(&s);
            (s, v)
        })
        .collect();
    let was_live = st.live_orders_touched(&events);
    for (e, ne) in events.iter().zip(&new_events) {
        st.apply(e, ne.streams());
    }
    let guards = st.guards_for(&events, &was_live);
    let response = respond(st, req, &events);
    let read_models = st.read_model_rows(&events);
    Ok(Plan {
        commit: Commit {
            expected,
            events: new_events,
            idempotency: None,
            read_models,
            guards,
        },
        response,
    })
}

impl LogEvent {
    /// The streams the event belongs to: its home stream and the further
    /// streams whose facts it changes (stored with it, so a replay counts
    /// versions as the store did).
    pub fn streams(&self) -> (String, Vec<String>) {
        match self {
            LogEvent::Core(e) => (e.stream(), e.also_streams()),
            LogEvent::Config(_) => (CONFIG_STREAM.to_string(), Vec::new()),
        }
    }
}
