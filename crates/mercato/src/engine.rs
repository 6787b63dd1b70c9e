//! [`Engine`]: the pure core and the rules wired to a [`Store`] and a
//! [`Clock`]. One call per business operation.
//!
//! How a call flows: take the state lock; answer a repeated idempotency key
//! from its record; decide (price, review, core `decide`); apply the events
//! to the in-memory state; hand the commit (events, expected stream
//! versions, idempotency record, read-model rows) to the committer; release
//! the lock; wait until the committer says the commit is durable; answer.
//!
//! Group commit (leader/follower): commits are queued in decision order.
//! The caller that finds no write in progress becomes the leader: it takes
//! every queued commit (up to `max_batch`) and stores them in one
//! transaction, so many callers share one fsync, while the others wait for
//! their ticket. A leader writes at most `leader_rounds` batches, then hands
//! the lead to the oldest waiting caller, so no call waits on others'
//! traffic for long. A lone caller commits on its own thread: no handoff.
//!
//! Limits that no single stream protects (a flash-sale promotion's
//! per-customer limit and quota, counted over per-order streams) travel
//! with the commit as store guards (`Commit::guards`): a commit that would
//! pass one is refused by the store like a version conflict.
//!
//! When a commit does not land (a stream moved on in another process, the
//! key was taken, a guard's limit was reached, or storage failed), the in-memory state is ahead of the
//! store: the engine reloads it from the store before the next decision.
//! Conflicts are retried transparently (bounded); storage errors are
//! returned and nothing of the call is stored.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

use chrono::{DateTime, Utc};
use mercato_core::order::{LineQty, Order};
use mercato_core::stock::StockLevel;
use mercato_core::{Currency, Quote};
use mercato_rules::{BestCoupons, Cart, CartLine, PricingContext, best_coupons, usable_coupons};
use mercato_store::{Commit, CommitOutcome, IdempotencyRecord, NewEvent, Store, StoreError};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::decide::{decide, quote, respond};
use crate::error::EngineError;
use crate::log::LogEvent;
use crate::request::{PlaceOrderRequest, PlacedOrder, Request, Response, TickReport};
use crate::review::ReviewRule;
use crate::settings::Settings;
use crate::state::{Durable, EngineState};

/// Tuning knobs.
#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    /// Most commits stored in one transaction.
    pub max_batch: usize,
    /// Optimistic-concurrency retries before giving up.
    pub max_retries: u32,
    /// Batches a leader writes before handing the lead on.
    pub leader_rounds: u32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_batch: 1024,
            max_retries: 8,
            leader_rounds: 2,
        }
    }
}

/// A customer's points and coupons.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CustomerReport {
    /// Spendable points.
    pub points: i64,
    /// Owned coupons in definition order with their status
    /// (`available`, `locked`, `redeemed`, `expired`).
    pub coupons: Vec<(String, String)>,
}

enum Outcome {
    Durable,
    Retry,
    Failed(String),
    /// The caller takes over as group-commit leader.
    Lead,
}

struct Ticket {
    done: Mutex<Option<Outcome>>,
    cv: Condvar,
}

impl Ticket {
    fn new() -> Arc<Ticket> {
        Arc::new(Ticket {
            done: Mutex::new(None),
            cv: Condvar::new(),
        })
    }

    fn finish(&self, o: Outcome) {
        if let Ok(mut g) = self.done.lock() {
            *g = Some(o);
            self.cv.notify_all();
        }
    }

    fn wait(&self) -> Outcome {
        let Ok(mut g) = self.done.lock() else {
            return Outcome::Failed("ticket lock poisoned".into());
        };
        loop {
            if let Some(o) = g.take() {
                return o;
            }
            g = match self.cv.wait(g) {
                Ok(g) => g,
                Err(_) => return Outcome::Failed("ticket lock poisoned".into()),
            };
        }
    }
}

#[derive(Default)]
struct Queue {
    items: VecDeque<(Commit, Arc<Ticket>)>,
    /// A caller is writing batches.
    leader: bool,
}

struct Shared<S> {
    store: S,
    state: Mutex<EngineState>,
    queue: Mutex<Queue>,
    idle_cv: Condvar,
    stale: AtomicBool,
    /// The state as of the last resync, holding only stored events; a
    /// resync catches it up with the events stored since and copies it,
    /// instead of replaying the whole log (kept from the first resync on).
    base: Mutex<Option<EngineState>>,
    review: RwLock<Vec<Arc<dyn ReviewRule>>>,
    options: EngineOptions,
}

/// The embeddable order engine.
///
/// ```
/// use mercato::{Engine, ManualClock, Settings, PlaceOrderRequest};
/// use mercato::core::Currency;
/// use mercato::rules::CartLine;
/// use mercato::store::MemoryStore;
///
/// let clock = ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap());
/// let engine = Engine::open(MemoryStore::new(), clock).unwrap();
/// engine.configure(Currency::CNY, Settings::default()).unwrap();
/// engine.add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "12.00"}"#).unwrap()).unwrap();
/// engine.adjust_stock("tea", "main", 10, "received").unwrap();
/// let placed = engine.place_order(PlaceOrderRequest {
///     id: "o1".into(), customer: None, coupons: vec![], points: 0, channel: None,
///     lines: vec![CartLine { sku: "tea".into(), qty: 3 }],
/// }, Some("checkout-1")).unwrap();
/// assert_eq!(placed.quote.totals.payable.amount().to_string(), "36.00");
/// assert_eq!(engine.pay("o1", "36.00".parse().unwrap(), None).unwrap(), "paid");
/// assert_eq!(engine.stock("tea").unwrap().on_hand, 7);
/// ```
pub struct Engine<S: Store + 'static, C: Clock> {
    shared: Arc<Shared<S>>,
    clock: C,
}

fn request_hash(req: &Request) -> String {
    let json = serde_json::to_string(req).unwrap_or_default();
    let digest = Sha256::digest(json.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rebuilds the engine state from a store: the latest snapshot, then every
/// event after it (what opening an engine does; audits use it on its own).
pub fn rebuild<S: Store + ?Sized>(store: &S) -> Result<EngineState, EngineError> {
    let mut st = match store.load_snapshot()? {
        Some((seq, json)) => {
            let durable: Durable = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("snapshot at {seq}: {e}")))?;
            EngineState::from_durable(durable)
        }
        None => EngineState::default(),
    };
    catch_up(store, &mut st)?;
    Ok(st)
}

/// Events read from the store per page while catching up.
const PAGE: usize = 10_000;

/// Applies every stored event after `st`'s position, in log order.
///
/// A short tail (one partial page: the usual resync) is read, decoded and
/// applied on this thread. A longer log is read and decoded by two helper
/// threads, page by page in turn (page `k` by helper `k % 2`), while this
/// thread applies the decoded pages in order: decoding is pure and costs
/// more than applying, so on two cores the three overlap. Each helper keeps
/// at most two decoded pages waiting. Applied pages go back to the helper
/// that decoded them to be freed there: freeing on the applying thread
/// memory another thread allocated makes the allocator lock that thread's
/// arena, which it is busy allocating in.
///
/// The helpers stop at the first page shorter than [`PAGE`]. A store may
/// return short pages before the end of its log (`read_payloads` promises
/// at most `limit` events), so the rest is always read on this thread,
/// page by page, until a page comes back empty.
fn catch_up<S: Store + ?Sized>(store: &S, st: &mut EngineState) -> Result<(), EngineError> {
    let mut helpers_done = false;
    loop {
        let page = store.read_payloads(st.durable.position, PAGE)?;
        if page.is_empty() {
            return Ok(());
        }
        let full = page.len() == PAGE;
        let mut after = st.durable.position;
        for ev in decode_page(page, &mut after)? {
            st.apply(&ev);
        }
        if full && !helpers_done {
            helpers_done = true;
            catch_up_on_helpers(store, st)?;
        }
    }
}

/// The pipelined part of [`catch_up`]: two helpers read and decode, this
/// thread applies, until a helper finds a short or empty page.
fn catch_up_on_helpers<S: Store + ?Sized>(
    store: &S,
    st: &mut EngineState,
) -> Result<(), EngineError> {
    let after = st.durable.position;
    const HELPERS: u64 = 2;
    std::thread::scope(|scope| {
        let receivers: Vec<_> = (0..HELPERS)
            .map(|k| {
                let (tx, rx) = std::sync::mpsc::sync_channel(2);
                let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<LogEvent>>();
                scope.spawn(move || {
                    // Pages are contiguous seq ranges (the log has no gaps;
                    // decode_page checks it), so helper k knows its own.
                    let mut page_start = after + k * PAGE as u64;
                    loop {
                        while let Ok(applied) = back_rx.try_recv() {
                            drop(applied);
                        }
                        let page = match store.read_payloads(page_start, PAGE) {
                            Ok(p) if p.is_empty() => return,
                            Ok(p) => {
                                let mut last = page_start;
                                decode_page(p, &mut last)
                            }
                            Err(e) => Err(e.into()),
                        };
                        let stop = page.as_ref().map_or(true, |p| p.len() < PAGE);
                        // A closed channel means the applier stopped early.
                        if tx.send(page).is_err() || stop {
                            return;
                        }
                        page_start += HELPERS * PAGE as u64;
                    }
                });
                (rx, back_tx)
            })
            .collect();
        let mut k = 0;
        loop {
            let (rx, back) = &receivers[k];
            let Ok(page) = rx.recv() else {
                return Ok(()); // that helper reached the end of the log
            };
            let page: Vec<LogEvent> = page?;
            let short = page.len() < PAGE;
            for ev in &page {
                st.apply(ev);
            }
            // A helper that has stopped hands the page back: dropped here.
            let _ = back.send(page);
            if short {
                return Ok(());
            }
            k = (k + 1) % receivers.len();
        }
    })
}

/// Decodes a page of stored events that must follow `after` without a gap;
/// moves `after` to the last one.
fn decode_page(page: Vec<(u64, String)>, after: &mut u64) -> Result<Vec<LogEvent>, EngineError> {
    let mut out = Vec::with_capacity(page.len());
    for (seq, payload) in page {
        if seq != *after + 1 {
            return Err(StoreError::Corrupt(format!("event {seq} follows {after}")).into());
        }
        let ev: LogEvent = serde_json::from_str(&payload)
            .map_err(|err| StoreError::Corrupt(format!("event {seq}: {err}")))?;
        out.push(ev);
        *after = seq;
    }
    Ok(out)
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    /// Opens an engine over `store`, rebuilding its state from the latest
    /// snapshot and the events after it.
    pub fn open(store: S, clock: C) -> Result<Self, EngineError> {
        Self::with_options(store, clock, EngineOptions::default())
    }

    /// [`Engine::open`] with tuning options.
    pub fn with_options(store: S, clock: C, options: EngineOptions) -> Result<Self, EngineError> {
        let state = rebuild(&store)?;
        let shared = Arc::new(Shared {
            store,
            state: Mutex::new(state),
            queue: Mutex::new(Queue::default()),
            idle_cv: Condvar::new(),
            stale: AtomicBool::new(false),
            base: Mutex::new(None),
            review: RwLock::new(Vec::new()),
            options,
        });
        Ok(Engine { shared, clock })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.shared.store
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Adds an application review rule, evaluated at every placement after
    /// the built-in `settings.review` rules.
    pub fn add_review_rule(&self, rule: Arc<dyn ReviewRule>) {
        if let Ok(mut g) = self.shared.review.write() {
            g.push(rule);
        }
    }

    fn state(&self) -> Result<MutexGuard<'_, EngineState>, EngineError> {
        self.shared.state.lock().map_err(|_| {
            EngineError::Store(StoreError::Backend("engine state lock poisoned".into()))
        })
    }

    /// Runs `f` on the current state (for queries and invariant checks).
    pub fn read<T>(&self, f: impl FnOnce(&EngineState) -> T) -> Result<T, EngineError> {
        let st = self.state()?;
        Ok(f(&st))
    }

    /// Executes a mutating request; `key` makes it idempotent: a repeated
    /// key with the same request returns the first response and appends
    /// nothing, with a different request it is `IdempotencyConflict`.
    pub fn execute(&self, req: &Request, key: Option<&str>) -> Result<Response, EngineError> {
        let span = tracing::info_span!(
            "mercato",
            op = req.name(),
            order = req.order_id().unwrap_or("")
        );
        let _enter = span.enter();
        let result = self.execute_inner(req, key);
        match &result {
            Ok(_) => tracing::info!(outcome = "ok"),
            Err(e) => tracing::info!(outcome = e.code(), error = %e),
        }
        result
    }

    fn execute_inner(&self, req: &Request, key: Option<&str>) -> Result<Response, EngineError> {
        let hash = key.map(|_| request_hash(req));
        for _ in 0..=self.shared.options.max_retries {
            let now = self.clock.now();
            let (response, ticket, leader) = {
                let mut st = self.state()?;
                if self.shared.stale.swap(false, Ordering::SeqCst) {
                    let fresh = self.wait_idle().and_then(|()| self.resync());
                    match fresh {
                        Ok(fresh) => *st = fresh,
                        Err(e) => {
                            // Still ahead of the store: resync next time.
                            self.shared.stale.store(true, Ordering::SeqCst);
                            return Err(e);
                        }
                    }
                }
                if let (Some(k), Some(h)) = (key, &hash) {
                    let known = match st.idempotency.get(k) {
                        Some((rh, resp)) => Some((rh.clone(), resp.clone())),
                        None => self
                            .shared
                            .store
                            .idempotency(k)?
                            .map(|r| (r.request_hash, r.response)),
                    };
                    if let Some((rh, resp)) = known {
                        if &rh != h {
                            return Err(EngineError::IdempotencyConflict(k.to_string()));
                        }
                        return serde_json::from_str(&resp).map_err(|e| {
                            StoreError::Corrupt(format!("idempotency record {k}: {e}")).into()
                        });
                    }
                }
                let review = self
                    .shared
                    .review
                    .read()
                    .map(|g| g.clone())
                    .unwrap_or_default();
                let events = decide(&st, req, now, &review)?;
                let mut expected: Vec<(String, u64)> = Vec::new();
                let mut new_events = Vec::with_capacity(events.len());
                for e in &events {
                    let stream = e.stream();
                    if !expected.iter().any(|(s, _)| s == &stream) {
                        let v = st.durable.streams.get(&stream).copied().unwrap_or(0);
                        expected.push((stream.clone(), v));
                    }
                    let payload = serde_json::to_string(e).map_err(|err| {
                        EngineError::InvalidInput(format!("cannot serialize event: {err}"))
                    })?;
                    new_events.push(NewEvent {
                        stream,
                        kind: e.kind().to_string(),
                        payload,
                    });
                }
                let was_live = st.live_orders_touched(&events);
                for e in &events {
                    st.apply(e);
                }
                let guards = st.guards_for(&events, &was_live);
                let response = respond(&st, req, &events);
                if events.is_empty() && key.is_none() {
                    return Ok(response);
                }
                let idempotency = match (key, &hash) {
                    (Some(k), Some(h)) => {
                        let resp = serde_json::to_string(&response).map_err(|err| {
                            EngineError::InvalidInput(format!("cannot serialize response: {err}"))
                        })?;
                        st.idempotency
                            .insert(k.to_string(), (h.clone(), resp.clone()));
                        Some(IdempotencyRecord {
                            key: k.to_string(),
                            request_hash: h.clone(),
                            response: resp,
                        })
                    }
                    _ => None,
                };
                let commit = Commit {
                    expected,
                    read_models: st.read_model_rows(&events),
                    events: new_events,
                    idempotency,
                    guards,
                };
                let ticket = Ticket::new();
                let leader = self.enqueue(commit, Arc::clone(&ticket))?;
                (response, ticket, leader)
            };
            if leader {
                self.lead();
            }
            loop {
                match ticket.wait() {
                    Outcome::Durable => return Ok(response),
                    Outcome::Retry => break,
                    Outcome::Failed(e) => return Err(EngineError::Store(StoreError::Backend(e))),
                    Outcome::Lead => self.lead(),
                }
            }
        }
        Err(EngineError::TooManyConflicts(
            self.shared.options.max_retries,
        ))
    }

    /// The state of the store's log: the kept base caught up with the
    /// events stored since the last resync (the whole log the first time).
    fn resync(&self) -> Result<EngineState, EngineError> {
        let mut base = self.shared.base.lock().map_err(|_| EngineError::ShutDown)?;
        match base.as_mut() {
            Some(b) => {
                if let Err(e) = catch_up(&self.shared.store, b) {
                    *base = None;
                    return Err(e);
                }
                Ok(b.clone())
            }
            None => {
                let b = rebuild(&self.shared.store)?;
                *base = Some(b.clone());
                Ok(b)
            }
        }
    }

    /// Queues a commit; true when the caller must lead (no write in progress).
    fn enqueue(&self, commit: Commit, ticket: Arc<Ticket>) -> Result<bool, EngineError> {
        let mut q = self
            .shared
            .queue
            .lock()
            .map_err(|_| EngineError::ShutDown)?;
        q.items.push_back((commit, ticket));
        let lead = !q.leader;
        q.leader = true;
        Ok(lead)
    }

    /// Writes queued batches as the group-commit leader, then steps down or
    /// hands the lead to the oldest waiting caller.
    fn lead(&self) {
        let shared = &self.shared;
        let mut rounds = 0;
        loop {
            let batch: Vec<(Commit, Arc<Ticket>)> = {
                let Ok(mut q) = shared.queue.lock() else {
                    return;
                };
                if q.items.is_empty() {
                    q.leader = false;
                    shared.idle_cv.notify_all();
                    return;
                }
                if rounds >= shared.options.leader_rounds.max(1) {
                    if let Some((_, next)) = q.items.front() {
                        next.finish(Outcome::Lead);
                    }
                    return;
                }
                let n = q.items.len().min(shared.options.max_batch.max(1));
                q.items.drain(..n).collect()
            };
            rounds += 1;
            let (commits, tickets): (Vec<Commit>, Vec<Arc<Ticket>>) = batch.into_iter().unzip();
            write_batch(shared, &commits, &tickets);
        }
    }

    /// Waits until every queued commit is stored.
    fn wait_idle(&self) -> Result<(), EngineError> {
        let mut q = self
            .shared
            .queue
            .lock()
            .map_err(|_| EngineError::ShutDown)?;
        while !q.items.is_empty() || q.leader {
            q = self
                .shared
                .idle_cv
                .wait(q)
                .map_err(|_| EngineError::ShutDown)?;
        }
        Ok(())
    }

    /// Stores a snapshot of the current state, so that opening replays only
    /// the events after it. Waits for queued commits first.
    pub fn snapshot(&self) -> Result<u64, EngineError> {
        let st = self.state()?;
        self.wait_idle()?;
        if self.shared.stale.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("state is being resynchronised; retry".into()).into());
        }
        let json = serde_json::to_string(&st.durable)
            .map_err(|e| EngineError::InvalidInput(format!("cannot serialize snapshot: {e}")))?;
        self.shared
            .store
            .save_snapshot(st.durable.position, &json)?;
        Ok(st.durable.position)
    }

    // ----- configuration -------------------------------------------------

    /// Sets the shop's currency and settings (once).
    pub fn configure(&self, currency: Currency, settings: Settings) -> Result<(), EngineError> {
        self.execute(&Request::Configure { currency, settings }, None)
            .map(|_| ())
    }

    /// Adds a catalog item.
    pub fn add_catalog_item(&self, item: mercato_rules::CatalogItem) -> Result<(), EngineError> {
        self.execute(&Request::AddCatalogItem { item }, None)
            .map(|_| ())
    }

    /// Adds a promotion (validated: an invalid one is `invalid_rule`).
    pub fn add_promotion(&self, promotion: mercato_rules::Promotion) -> Result<(), EngineError> {
        self.execute(&Request::AddPromotion { promotion }, None)
            .map(|_| ())
    }

    /// Defines and issues a coupon.
    pub fn add_coupon(&self, coupon: mercato_rules::Coupon) -> Result<(), EngineError> {
        self.execute(&Request::AddCoupon { coupon }, None)
            .map(|_| ())
    }

    /// Registers a customer with opening points.
    pub fn register_customer(
        &self,
        id: &str,
        tier: Option<&str>,
        points: i64,
    ) -> Result<(), EngineError> {
        self.execute(
            &Request::RegisterCustomer {
                id: id.to_string(),
                tier: tier.map(str::to_string),
                points,
            },
            None,
        )
        .map(|_| ())
    }

    /// Creates or reconfigures a stock location.
    pub fn configure_location(
        &self,
        sku: &str,
        location: &str,
        safety: i64,
        backorder: bool,
        priority: i64,
    ) -> Result<(), EngineError> {
        self.execute(
            &Request::ConfigureLocation {
                sku: sku.to_string(),
                location: location.to_string(),
                safety,
                backorder,
                priority,
            },
            None,
        )
        .map(|_| ())
    }

    /// Adds (or removes) units at a location; returns on_hand there.
    pub fn adjust_stock(
        &self,
        sku: &str,
        location: &str,
        delta: i64,
        reason: &str,
    ) -> Result<i64, EngineError> {
        match self.execute(
            &Request::AdjustStock {
                sku: sku.to_string(),
                location: location.to_string(),
                delta,
                reason: reason.to_string(),
            },
            None,
        )? {
            Response::Stock { on_hand, .. } => Ok(on_hand),
            _ => Ok(0),
        }
    }

    // ----- orders ----------------------------------------------------------

    /// Prices a cart without placing it.
    pub fn quote(&self, cart: &Cart) -> Result<Quote, EngineError> {
        let now = self.clock.now();
        let st = self.state()?;
        quote(&st, cart, now)
    }

    /// The best combination of the customer's usable coupons for a cart.
    pub fn best_coupons(
        &self,
        customer: Option<&str>,
        lines: &[CartLine],
        points: i64,
    ) -> Result<BestCoupons, EngineError> {
        let now = self.clock.now();
        let st = self.state()?;
        let rules = st.rules()?;
        let cart = Cart {
            customer: customer.map(str::to_string),
            lines: lines.to_vec(),
            coupons: Vec::new(),
            points,
        };
        let ctx = PricingContext::new(rules, now, &*st);
        let wallet = usable_coupons(&cart, &ctx)?;
        Ok(best_coupons(&cart, &wallet, &ctx)?)
    }

    /// Prices and places an order: stock reserved, coupons locked, points
    /// spent, in one atomic append.
    pub fn place_order(
        &self,
        req: PlaceOrderRequest,
        key: Option<&str>,
    ) -> Result<PlacedOrder, EngineError> {
        match self.execute(&Request::PlaceOrder(req), key)? {
            Response::Placed(p) => Ok(*p),
            other => Err(EngineError::InvalidInput(format!(
                "unexpected response {other:?}"
            ))),
        }
    }

    fn status_of(&self, req: Request, key: Option<&str>) -> Result<String, EngineError> {
        match self.execute(&req, key)? {
            Response::Status { status, .. } => Ok(status),
            Response::Cancelled { .. } => Ok("cancelled".into()),
            other => Err(EngineError::InvalidInput(format!(
                "unexpected response {other:?}"
            ))),
        }
    }

    /// Pays an order; the amount must equal its payable. Returns the status.
    pub fn pay(
        &self,
        order: &str,
        amount: Decimal,
        key: Option<&str>,
    ) -> Result<String, EngineError> {
        self.status_of(
            Request::Pay {
                order: order.to_string(),
                amount,
            },
            key,
        )
    }

    /// Cancels an order before shipment; returns the refund.
    pub fn cancel(
        &self,
        order: &str,
        key: Option<&str>,
    ) -> Result<mercato_core::Money, EngineError> {
        match self.execute(
            &Request::Cancel {
                order: order.to_string(),
            },
            key,
        )? {
            Response::Cancelled { refund, .. } => Ok(refund),
            other => Err(EngineError::InvalidInput(format!(
                "unexpected response {other:?}"
            ))),
        }
    }

    /// Holds an order for review.
    pub fn hold(
        &self,
        order: &str,
        reasons: Vec<String>,
        key: Option<&str>,
    ) -> Result<String, EngineError> {
        self.status_of(
            Request::Hold {
                order: order.to_string(),
                reasons,
            },
            key,
        )
    }

    /// Releases a held order.
    pub fn release(&self, order: &str, key: Option<&str>) -> Result<String, EngineError> {
        self.status_of(
            Request::Release {
                order: order.to_string(),
            },
            key,
        )
    }

    /// Rejects a held order (cancels it, giving everything back).
    pub fn reject(&self, order: &str, key: Option<&str>) -> Result<String, EngineError> {
        self.status_of(
            Request::Reject {
                order: order.to_string(),
            },
            key,
        )
    }

    /// Ships units (`None`: everything left). Returns the status.
    pub fn ship(
        &self,
        order: &str,
        lines: Option<Vec<LineQty>>,
        key: Option<&str>,
    ) -> Result<String, EngineError> {
        self.status_of(
            Request::Ship {
                order: order.to_string(),
                lines,
            },
            key,
        )
    }

    /// Marks an order delivered.
    pub fn deliver(&self, order: &str, key: Option<&str>) -> Result<String, EngineError> {
        self.status_of(
            Request::Deliver {
                order: order.to_string(),
            },
            key,
        )
    }

    /// Confirms receipt.
    pub fn complete(&self, order: &str, key: Option<&str>) -> Result<String, EngineError> {
        self.status_of(
            Request::Complete {
                order: order.to_string(),
            },
            key,
        )
    }

    /// Returns units after delivery and refunds them.
    pub fn return_items(
        &self,
        order: &str,
        lines: Vec<LineQty>,
        restock: bool,
        key: Option<&str>,
    ) -> Result<Response, EngineError> {
        self.execute(
            &Request::Return {
                order: order.to_string(),
                lines,
                restock,
            },
            key,
        )
    }

    /// Runs the timers at the clock's time.
    pub fn tick(&self) -> Result<TickReport, EngineError> {
        match self.execute(&Request::Tick, None)? {
            Response::Tick(r) => Ok(r),
            _ => Ok(TickReport::default()),
        }
    }

    // ----- queries -----------------------------------------------------------

    /// An order.
    pub fn order(&self, id: &str) -> Result<Order, EngineError> {
        self.state()?
            .shop()
            .order(id)
            .cloned()
            .ok_or_else(|| mercato_core::CoreError::UnknownOrder(id.to_string()).into())
    }

    /// A SKU's stock summed over locations.
    pub fn stock(&self, sku: &str) -> Result<StockLevel, EngineError> {
        Ok(self.state()?.shop().stock().level(sku))
    }

    /// A customer's points and coupons.
    pub fn customer(&self, id: &str) -> Result<CustomerReport, EngineError> {
        let now: DateTime<Utc> = self.clock.now();
        let st = self.state()?;
        if st.shop().customer(id).is_none() {
            return Err(mercato_core::CoreError::UnknownCustomer(id.to_string()).into());
        }
        Ok(CustomerReport {
            points: st.shop().points().balance(id),
            coupons: st
                .customer_coupons(id, now)
                .into_iter()
                .map(|(c, s)| (c, s.as_str().to_string()))
                .collect(),
        })
    }
}

/// Stores one batch in one transaction and answers its callers.
fn write_batch<S: Store>(shared: &Shared<S>, commits: &[Commit], tickets: &[Arc<Ticket>]) {
    match shared.store.commit_batch(commits) {
        Ok(outcomes) => {
            for (ticket, outcome) in tickets.iter().zip(outcomes) {
                match outcome {
                    CommitOutcome::Committed { .. } => ticket.finish(Outcome::Durable),
                    CommitOutcome::Conflict { .. }
                    | CommitOutcome::DuplicateKey { .. }
                    | CommitOutcome::LimitExceeded { .. } => {
                        shared.stale.store(true, Ordering::SeqCst);
                        ticket.finish(Outcome::Retry);
                    }
                }
            }
        }
        Err(e) => {
            shared.stale.store(true, Ordering::SeqCst);
            for ticket in tickets {
                ticket.finish(Outcome::Failed(e.to_string()));
            }
        }
    }
}
