//! Executing a call: idempotency keys, the retry loop, and keeping the
//! in-memory state honest.
//!
//! - **Exactly once with a key.** A call under a key that is running in
//!   this engine is joined: the second caller waits for the first call's
//!   final outcome and gets the same answer (or the same error). A key
//!   already stored answers from its record, byte for byte. Across
//!   processes the store refuses a second commit of a key, and the loser
//!   answers from the winner's record.
//! - **Nothing acknowledged before it is durable.** A call returns `Ok`
//!   only after its commit's transaction is durable.
//! - **Nothing visible after it failed.** When a commit does not land, the
//!   state is marked stale; every access (call or read) reloads it from the
//!   store before going on, so no read after the failure shows its effects.
//!   While a commit is in flight its effects are visible to reads in this
//!   engine (documented as speculative in `docs/guarantees.md`).
//! - **A panic does not poison the engine.** A panic in the pure step is
//!   caught and answered as `EngineError::Internal`; a poisoned state lock
//!   is recovered; both reload the state from the store.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use mercato_store::{CommitOutcome, IdempotencyRecord, Store, StoreError};
use sha2::{Digest, Sha256};

use super::commit::{Outcome, Queued, Ticket};
use super::locked::Pending;
use super::{Concurrency, Engine, open};
use crate::clock::Clock;
use crate::error::EngineError;
use crate::plan::plan;
use crate::request::{Request, Response};
use crate::state::EngineState;

/// A call running under an idempotency key: later callers with the same
/// key wait here for its outcome.
pub(crate) struct Call {
    request_hash: String,
    outcome: Mutex<Option<Result<Response, EngineError>>>,
    done: Condvar,
}

impl Call {
    fn wait(&self) -> Result<Response, EngineError> {
        let mut g = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(o) = g.as_ref() {
                return o.clone();
            }
            g = self.done.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn publish(&self, outcome: Result<Response, EngineError>) {
        let mut g = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            *g = Some(outcome);
        }
        self.done.notify_all();
    }
}

/// Removes a key's call from the in-flight map when the call ends, however
/// it ends (a panic, or a dropped [`Submitted`], publishes an error to the
/// waiters).
struct InFlightGuard<'a> {
    map: &'a Mutex<std::collections::HashMap<String, Arc<Call>>>,
    key: String,
    call: Arc<Call>,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.call.publish(Err(EngineError::Internal(
            "the call under this idempotency key ended without an answer".into(),
        )));
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map
            .get(&self.key)
            .is_some_and(|c| Arc::ptr_eq(c, &self.call))
        {
            map.remove(&self.key);
        }
    }
}

/// The fingerprint of a request, stored with its idempotency key.
pub(super) fn request_hash(req: &Request) -> String {
    let json = serde_json::to_string(req).unwrap_or_default();
    let digest = Sha256::digest(json.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What deciding a request gives.
pub(super) enum Decided {
    /// An answer without a commit (a stored key, nothing to do).
    Answer(Result<Response, EngineError>),
    /// A commit to store and the answer once it is durable.
    Commit(mercato_store::Commit, Response),
}

/// Where one attempt of a call stands.
enum Attempt {
    /// Answered without a commit (a stored key, a refusal, nothing to do).
    Done(Result<Response, EngineError>),
    /// Queued for the group commit.
    Queued {
        response: Response,
        ticket: Arc<Ticket>,
    },
    /// The same key is running in another call: its outcome is ours.
    Joined(Arc<Call>),
    /// Queued to be decided under the store's write lock
    /// ([`Concurrency::Locked`]).
    Locked(Arc<Pending>),
}

/// A request handed to the engine whose commit may still be in flight
/// ([`Engine::submit`]). [`Submitted::wait`] gives its answer once it is
/// durable. Submitting several requests before waiting puts their commits
/// in one batch (one transaction, one fsync) without a thread per request.
///
/// Dropping it without waiting still completes the call (its commit is
/// written or refused), but the answer is lost.
#[must_use = "wait() gives the answer; dropping it loses the answer"]
pub struct Submitted<'e, 'r, S: Store + 'static, C: Clock> {
    engine: &'e Engine<S, C>,
    request: &'r Request,
    key: Option<(&'r str, String)>,
    guard: Option<InFlightGuard<'e>>,
    attempt: Option<Attempt>,
    attempts: u32,
}

impl<S: Store + 'static, C: Clock> Submitted<'_, '_, S, C> {
    /// Waits until the request's commit is durable (writing batches when
    /// it is this call's turn to lead), retrying a commit that lost an
    /// optimistic race on the reloaded state, and gives the answer.
    pub fn wait(mut self) -> Result<Response, EngineError> {
        let result = self.finish();
        if let Some(g) = self.guard.take() {
            g.call.publish(result.clone());
        }
        result
    }

    fn finish(&mut self) -> Result<Response, EngineError> {
        let engine = self.engine;
        let shared = &engine.shared;
        loop {
            let key = self.key.as_ref().map(|(k, h)| (*k, h.as_str()));
            let attempt = match self.attempt.take() {
                Some(a) => a,
                None => {
                    let after = shared.options.exclusive_after;
                    if after > 0 && self.attempts >= after {
                        match engine.exclusive_attempt(self.request, key) {
                            Some(answer) => Attempt::Done(answer),
                            None => {
                                self.attempts += 1;
                                if self.attempts > shared.options.max_retries {
                                    return Err(EngineError::TooManyConflicts(
                                        shared.options.max_retries,
                                    ));
                                }
                                continue;
                            }
                        }
                    } else {
                        engine.attempt(self.request, key)
                    }
                }
            };
            match attempt {
                Attempt::Done(result) => return result,
                Attempt::Joined(call) => return call.wait(),
                Attempt::Locked(pending) => return engine.locked_wait(&pending),
                Attempt::Queued { response, ticket } => {
                    match shared
                        .committer
                        .wait_for(&shared.store, &shared.health, &ticket)
                    {
                        Outcome::Durable => return Ok(response),
                        Outcome::Failed(e) => return Err(e),
                        Outcome::Retry | Outcome::Lead => {}
                    }
                    self.attempts += 1;
                    if self.attempts > shared.options.max_retries {
                        return Err(EngineError::TooManyConflicts(shared.options.max_retries));
                    }
                }
            }
        }
    }
}

impl<S: Store + 'static, C: Clock> Drop for Submitted<'_, '_, S, C> {
    fn drop(&mut self) {
        // Never leave the group commit without its leader: a call dropped
        // unwaited still writes (or is refused), and publishes its answer.
        if matches!(
            self.attempt,
            Some(Attempt::Queued { .. } | Attempt::Locked(_))
        ) {
            let result = self.finish();
            if let Some(g) = self.guard.take() {
                g.call.publish(result);
            }
        }
    }
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    /// Executes a mutating request; `key` makes it idempotent: a repeated
    /// key with the same request returns the first response and appends
    /// nothing (a repeat that arrives while the first call is running waits
    /// for its outcome), with a different request it is
    /// `IdempotencyConflict`.
    pub fn execute(&self, req: &Request, key: Option<&str>) -> Result<Response, EngineError> {
        let span = tracing::info_span!(
            "mercato",
            op = req.name(),
            order = req.order_id().unwrap_or("")
        );
        let _enter = span.enter();
        let result = self.submit(req, key).wait();
        match &result {
            Ok(_) => tracing::info!(outcome = "ok"),
            Err(e) => tracing::info!(outcome = e.code(), error = %e),
        }
        result
    }

    /// Decides a request and queues its commit without waiting for it:
    /// [`Submitted::wait`] gives the answer once the commit is durable. A
    /// thread (or an async task) with many requests in flight submits them
    /// all, then waits: their commits share batches. Under
    /// [`Concurrency::Locked`] the request itself is queued and decided
    /// with its batch under the store's write lock, in submission order,
    /// when this or another caller waits.
    ///
    /// A request submitted again under a key whose first call has not been
    /// waited for joins that call and is answered when the first is waited
    /// for (or dropped): wait for calls that may share a key in the order
    /// they were submitted.
    ///
    /// ```
    /// use mercato::{AdjustStock, Engine, ManualClock, Request, Settings};
    /// use mercato::core::Currency;
    /// use mercato::store::MemoryStore;
    ///
    /// let engine = Engine::open(MemoryStore::new(), ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())).unwrap();
    /// engine.configure(Currency::CNY, Settings::default()).unwrap();
    /// engine.add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "12.00"}"#).unwrap()).unwrap();
    /// let adds: Vec<Request> = (0..3)
    ///     .map(|_| Request::AdjustStock(AdjustStock { sku: "tea".into(), location: "main".into(), delta: 5, reason: "received".into() }))
    ///     .collect();
    /// let pending: Vec<_> = adds.iter().map(|r| engine.submit(r, None)).collect();
    /// for p in pending {
    ///     p.wait().unwrap();
    /// }
    /// assert_eq!(engine.stock("tea").unwrap().on_hand, 15);
    /// ```
    pub fn submit<'e, 'r>(
        &'e self,
        req: &'r Request,
        key: Option<&'r str>,
    ) -> Submitted<'e, 'r, S, C> {
        let mut submitted = Submitted {
            engine: self,
            request: req,
            key: None,
            guard: None,
            attempt: None,
            attempts: 0,
        };
        let Some(key) = key else {
            submitted.attempt = Some(self.first_attempt(req, None));
            return submitted;
        };
        let hash = request_hash(req);
        let joined = {
            let mut map = self
                .shared
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match map.get(key) {
                Some(running) if running.request_hash != hash => {
                    submitted.attempt = Some(Attempt::Done(Err(EngineError::IdempotencyConflict(
                        key.to_string(),
                    ))));
                    return submitted;
                }
                Some(running) => Some(Arc::clone(running)),
                None => {
                    let call = Arc::new(Call {
                        request_hash: hash.clone(),
                        outcome: Mutex::new(None),
                        done: Condvar::new(),
                    });
                    map.insert(key.to_string(), Arc::clone(&call));
                    submitted.guard = Some(InFlightGuard {
                        map: &self.shared.in_flight,
                        key: key.to_string(),
                        call,
                    });
                    None
                }
            }
        };
        if let Some(running) = joined {
            submitted.attempt = Some(Attempt::Joined(running));
            return submitted;
        }
        submitted.attempt = Some(self.first_attempt(req, Some((key, &hash))));
        submitted.key = Some((key, hash));
        submitted
    }

    /// Locks the state, recovering it from a panic, and reloads it from the
    /// store when a commit did not land. Returns the epoch decisions on it
    /// belong to.
    pub(super) fn fresh_state(&self) -> Result<(MutexGuard<'_, EngineState>, u64), EngineError> {
        let health = &self.shared.health;
        let mut st = match self.shared.state.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                // A panic while the lock was held may have left the state
                // half-applied: reload it.
                self.shared.state.clear_poison();
                health.mark_stale();
                poisoned.into_inner()
            }
        };
        let mut epoch = health.epoch();
        if health.take_stale() {
            self.shared
                .committer
                .drain(&self.shared.store, &self.shared.health);
            match self.resync() {
                Ok(fresh) => {
                    *st = fresh;
                    self.shared.in_step.store(true, Ordering::SeqCst);
                    // No commit is in flight and the lock is held: no
                    // failure can move the epoch now.
                    epoch = health.epoch();
                }
                Err(e) => {
                    health.restore_stale();
                    return Err(e);
                }
            }
        }
        Ok((st, epoch))
    }

    /// A call's first attempt: decided at once (optimistic), or queued to
    /// be decided under the store's write lock.
    fn first_attempt(&self, req: &Request, key: Option<(&str, &str)>) -> Attempt {
        match self.shared.options.concurrency {
            Concurrency::Locked => Attempt::Locked(self.locked_enqueue(req, key)),
            _ => self.attempt(req, key),
        }
    }

    /// One attempt: answer a stored key, or decide, apply and queue.
    fn attempt(&self, req: &Request, key: Option<(&str, &str)>) -> Attempt {
        let first = match self.try_attempt(req, key) {
            Ok(a) => a,
            Err(e) => Attempt::Done(Err(e)),
        };
        match first {
            Attempt::Done(Err(e)) if stale_may_explain(&e) && self.store_moved() => {
                // Another engine (process) stored events this one has not
                // seen, and the refusal may come from not seeing them (an
                // order it placed, stock it added): catch up and decide
                // once more. A refusal stores nothing, so the key is free.
                self.shared.health.mark_stale();
                match self.try_attempt(req, key) {
                    Ok(a) => a,
                    Err(e) => Attempt::Done(Err(e)),
                }
            }
            other => other,
        }
    }

    /// Whether the store holds events this engine has not applied: its head
    /// is beyond every event the state counts (those read from the store
    /// and this engine's own, durable or queued). With commits of this
    /// engine still queued this can miss another engine's events; it never
    /// reports a move that did not happen. A store that cannot answer
    /// counts as not moved (the refusal stands).
    fn store_moved(&self) -> bool {
        let position = {
            let st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
            st.durable.position
        };
        self.shared.store.head().is_ok_and(|head| head > position)
    }

    fn try_attempt(
        &self,
        req: &Request,
        key: Option<(&str, &str)>,
    ) -> Result<Attempt, EngineError> {
        let shared = &self.shared;
        let now = self.clock.now();
        let (mut st, epoch) = self.fresh_state()?;
        match self.decide_on(&mut st, req, key, now)? {
            Decided::Answer(answer) => Ok(Attempt::Done(answer)),
            Decided::Commit(commit, response) => {
                // Where its events land among other engines' is known only
                // once stored: the state is no longer an exact log prefix.
                shared.in_step.store(false, Ordering::SeqCst);
                let ticket = Ticket::new();
                shared.committer.enqueue(Queued {
                    commit,
                    ticket: Arc::clone(&ticket),
                    epoch,
                });
                Ok(Attempt::Queued { response, ticket })
            }
        }
    }

    /// One attempt decided and stored under the store's write lock
    /// (`Store::commit_exclusive`), after catching up with every event
    /// stored so far: no other writer can move what it read, so it does not
    /// lose an optimistic race. `None`: refused all the same (a guard), try
    /// again.
    fn exclusive_attempt(
        &self,
        req: &Request,
        key: Option<(&str, &str)>,
    ) -> Option<Result<Response, EngineError>> {
        let shared = &self.shared;
        let (mut st, _) = match self.fresh_state() {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        // Nothing of this engine in flight: the lock below is the only one.
        shared.committer.drain(&shared.store, &shared.health);
        let now = self.clock.now();
        let mut decided: Option<Result<Decided, EngineError>> = None;
        let mut with_commit = false;
        let stored = shared.store.commit_exclusive(&mut || {
            // A panic must not unwind through the store, which holds its
            // writer lock (a poisoned writer fails every later write).
            let d = catch_unwind(AssertUnwindSafe(|| {
                self.resync().and_then(|fresh| {
                    *st = fresh;
                    self.decide_on(&mut st, req, key, now)
                })
            }))
            .unwrap_or_else(|_| {
                shared.health.mark_stale();
                Err(EngineError::Internal(
                    "deciding under the store's lock panicked; nothing was stored".into(),
                ))
            });
            match d {
                Ok(Decided::Commit(commit, response)) => {
                    decided = Some(Ok(Decided::Answer(Ok(response))));
                    with_commit = true;
                    vec![commit]
                }
                other => {
                    decided = Some(other);
                    Vec::new()
                }
            }
        });
        match (stored, decided) {
            (Err(e), _) => {
                shared.health.mark_stale();
                Some(Err(e.into()))
            }
            (Ok(_), None) => {
                shared.health.mark_stale();
                Some(Err(EngineError::Internal(
                    "the store did not run the decision".into(),
                )))
            }
            (Ok(_), Some(Err(e))) => Some(Err(e)),
            (Ok(out), Some(Ok(Decided::Answer(answer)))) => match out.as_slice() {
                [] if !with_commit => Some(answer),
                [CommitOutcome::Committed { .. }] if with_commit => {
                    shared.health.appended.bump();
                    Some(answer)
                }
                [] => {
                    // The store answered nothing for a commit: what it
                    // stored is unknown.
                    shared.health.mark_stale();
                    Some(Err(EngineError::Internal(
                        "the store did not answer the commit".into(),
                    )))
                }
                _ => {
                    shared.health.mark_stale();
                    None
                }
            },
            (Ok(_), Some(Ok(Decided::Commit(..)))) => None,
        }
    }

    /// Decides `req` on `st`: the answer of a stored key, a refusal, or the
    /// commit to store (its effects applied to `st`, its idempotency record
    /// added) with the answer to give once it is durable.
    pub(super) fn decide_on(
        &self,
        st: &mut EngineState,
        req: &Request,
        key: Option<(&str, &str)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Decided, EngineError> {
        let shared = &self.shared;
        if let Some((k, h)) = key {
            let known = match st.idempotency.get(k) {
                Some((rh, resp)) => Some((rh.clone(), resp.clone())),
                None => shared
                    .store
                    .idempotency(k)?
                    .map(|r| (r.request_hash, r.response)),
            };
            if let Some((rh, resp)) = known {
                if rh != h {
                    return Err(EngineError::IdempotencyConflict(k.to_string()));
                }
                let answer = serde_json::from_str(&resp).map_err(|e| {
                    StoreError::Corrupt(format!("idempotency record {k}: {e}")).into()
                });
                return Ok(Decided::Answer(answer));
            }
        }
        let review = shared
            .review
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        let planned = catch_unwind(AssertUnwindSafe(|| plan(st, req, now, &review)));
        let mut planned = match planned {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                shared.health.mark_stale();
                return Err(EngineError::Internal(format!(
                    "deciding `{}` panicked; nothing was stored",
                    req.name()
                )));
            }
        };
        if planned.commit.events.is_empty() && key.is_none() {
            return Ok(Decided::Answer(Ok(planned.response)));
        }
        if let Some((k, h)) = key {
            let resp = match serde_json::to_string(&planned.response) {
                Ok(r) => r,
                Err(e) => {
                    // The state already holds the effects: reload it.
                    shared.health.mark_stale();
                    return Err(EngineError::Internal(format!(
                        "cannot serialize response: {e}"
                    )));
                }
            };
            st.idempotency
                .insert(k.to_string(), (h.to_string(), resp.clone()));
            planned.commit.idempotency = Some(IdempotencyRecord {
                key: k.to_string(),
                request_hash: h.to_string(),
                response: resp,
            });
        }
        Ok(Decided::Commit(planned.commit, planned.response))
    }

    /// The state of the store's log: the kept base caught up with the
    /// events stored since the last resync (the whole log the first time).
    pub(super) fn resync(&self) -> Result<EngineState, EngineError> {
        let mut base = self.shared.base.lock().unwrap_or_else(|p| p.into_inner());
        match base.as_mut() {
            Some(b) => {
                if let Err(e) = open::catch_up(&self.shared.store, b) {
                    *base = None;
                    return Err(e);
                }
                Ok(b.clone())
            }
            None => {
                let b = open::rebuild_with(&self.shared.store, self.shared.options.open)?;
                *base = Some(b.clone());
                Ok(b)
            }
        }
    }
}

/// Refusals a state that lags behind another engine's commits may explain:
/// something that engine created or changed (an order, a customer, stock,
/// points, a coupon's uses, what was paid). Successes need no such care: a
/// decision on a stale state conflicts when it is stored and is decided
/// again.
fn stale_may_explain(e: &EngineError) -> bool {
    use mercato_core::ErrorKind as K;
    matches!(
        e.kind(),
        K::UnknownOrder
            | K::UnknownCustomer
            | K::UnknownSku
            | K::InvalidTransition
            | K::InsufficientStock
            | K::InsufficientPoints
            | K::CouponRejected
            | K::PaymentMismatch
    )
}
