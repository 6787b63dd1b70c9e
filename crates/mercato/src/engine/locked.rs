//! Deciding under the store's write lock ([`Concurrency::Locked`]).
//!
//! Calls queue their requests instead of deciding at once. A waiting caller
//! that finds no batch running leads: it takes the queued requests (up to
//! `max_batch`, oldest first) and, inside [`Store::commit_exclusive`] (the
//! store's write lock: PostgreSQL's chain-head row, SQLite's `BEGIN
//! IMMEDIATE`, the memory store's writer mutex), catches the state up with
//! every event stored by other engines, decides the requests in queue
//! order, and stores their commits in that one transaction. Nothing another
//! engine writes can land between what a decision read and its write, so a
//! commit is never refused for a stream that moved: processes selling one
//! hot SKU take turns on the lock, each with a whole batch, instead of
//! deciding on stale copies and losing the race again and again.
//!
//! The state stays an exact prefix of the log (*in step*) while every batch
//! lands where it was decided; catching up then applies only the events
//! other engines stored since, instead of copying the state from the resync
//! base (which costs the whole state, per conflict, in optimistic mode).
//!
//! Failures keep the engine's rules: a batch whose transaction fails is
//! answered with the failure (nothing of it is stored) and the state is
//! reloaded before it is read again; a commit the store refuses anyway (a
//! guard) is decided again, with every decision after it in the batch.
//!
//! [`Concurrency::Locked`]: super::Concurrency::Locked
//! [`Store::commit_exclusive`]: mercato_store::Store::commit_exclusive

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use mercato_store::{Commit, CommitOutcome, Store, StoreError};

use super::Engine;
use super::execute::Decided;
use super::open;
use crate::clock::Clock;
use crate::error::EngineError;
use crate::request::{Request, Response};

/// Requests waiting to be decided under the lock.
#[derive(Default)]
pub(super) struct LockedQueue {
    inner: Mutex<Inner>,
    cv: Condvar,
}

#[derive(Default)]
struct Inner {
    pending: VecDeque<Arc<Pending>>,
    /// A caller is deciding and storing a batch.
    leading: bool,
}

impl LockedQueue {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One queued call. Its answer is set, and read, under the queue's lock.
pub(crate) struct Pending {
    request: Request,
    /// Idempotency key and request hash.
    key: Option<(String, String)>,
    /// Batches that decided it and had to decide it again.
    attempts: AtomicU32,
    answer: Mutex<Option<Result<Response, EngineError>>>,
}

impl Pending {
    fn take(&self) -> Option<Result<Response, EngineError>> {
        self.answer.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn set(&self, answer: Result<Response, EngineError>) {
        let mut g = self.answer.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            *g = Some(answer);
        }
    }
}

/// What a batch made of one of its calls.
enum Verdict {
    /// The call's answer.
    Answer(Result<Response, EngineError>),
    /// Decided on effects that were not stored: decide it again.
    Again,
}

/// What deciding one call inside the lock gave.
enum Slot {
    /// Answered without a commit (a refusal, a stored key, a query).
    Answer(Result<Response, EngineError>),
    /// A commit in the batch, and the answer once it is stored.
    Commit(Response),
}

/// Clears `leading` (and answers the batch, if any) when dropped armed: a
/// leader that unwinds, or a barrier that ends, never leaves the other
/// callers waiting. Armed only while the queue's lock is not held.
struct LeadGuard<'a> {
    queue: &'a LockedQueue,
    batch: Vec<Arc<Pending>>,
    armed: bool,
}

impl Drop for LeadGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut g = self.queue.lock();
        for p in &self.batch {
            p.set(Err(EngineError::Internal(
                "the batch deciding this call panicked; nothing of it was stored".into(),
            )));
        }
        g.leading = false;
        drop(g);
        self.queue.cv.notify_all();
    }
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    /// Queues a call to be decided under the store's write lock.
    pub(super) fn locked_enqueue(&self, req: &Request, key: Option<(&str, &str)>) -> Arc<Pending> {
        let p = Arc::new(Pending {
            request: req.clone(),
            key: key.map(|(k, h)| (k.to_string(), h.to_string())),
            attempts: AtomicU32::new(0),
            answer: Mutex::new(None),
        });
        self.shared.locked.lock().pending.push_back(Arc::clone(&p));
        p
    }

    /// Runs `f` between batches: no batch is being decided or written while
    /// it runs (under [`super::Concurrency::Locked`]; otherwise it just runs
    /// `f`). `Engine::sync` and `Engine::snapshot` use it: they replace the
    /// state and write to the store, which a batch must not see half-done
    /// (and a snapshot taking the store's writer while a batch holds it
    /// and waits for the state would deadlock).
    pub(super) fn between_batches<T>(&self, f: impl FnOnce() -> T) -> T {
        if self.shared.options.concurrency != super::Concurrency::Locked {
            return f();
        }
        let queue = &self.shared.locked;
        let mut g = queue.lock();
        while g.leading {
            g = queue.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        g.leading = true;
        drop(g);
        let _barrier = LeadGuard {
            queue,
            batch: Vec::new(),
            armed: true,
        };
        f()
    }

    /// Waits for a queued call's answer, leading batches while no one else
    /// does.
    pub(super) fn locked_wait(&self, p: &Arc<Pending>) -> Result<Response, EngineError> {
        let queue = &self.shared.locked;
        let max_batch = self.shared.options.max_batch.max(1);
        let max_retries = self.shared.options.max_retries;
        let mut g = queue.lock();
        loop {
            if let Some(answer) = p.take() {
                return answer;
            }
            if g.leading {
                g = queue.cv.wait(g).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            g.leading = true;
            let n = g.pending.len().min(max_batch);
            let batch: Vec<Arc<Pending>> = g.pending.drain(..n).collect();
            drop(g);
            let mut lead = LeadGuard {
                queue,
                batch,
                armed: true,
            };
            // A panic (in the store, or deciding) is a failed batch, not a
            // lost leader: nothing of it is known to be stored.
            let verdicts = match catch_unwind(AssertUnwindSafe(|| self.locked_batch(&lead.batch))) {
                Ok(v) => v,
                Err(_) => {
                    self.shared.in_step.store(false, Ordering::SeqCst);
                    self.shared.health.mark_stale();
                    let e: EngineError = StoreError::Backend(
                        "the store panicked; the batch's outcome is unknown".into(),
                    )
                    .into();
                    lead.batch
                        .iter()
                        .map(|_| Verdict::Answer(Err(e.clone())))
                        .collect()
                }
            };
            lead.armed = false;
            let batch = std::mem::take(&mut lead.batch);
            g = queue.lock();
            let mut again = Vec::new();
            for (call, verdict) in batch.iter().zip(verdicts) {
                match verdict {
                    Verdict::Answer(a) => call.set(a),
                    Verdict::Again => {
                        let tried = call
                            .attempts
                            .fetch_add(1, Ordering::SeqCst)
                            .saturating_add(1);
                        if tried > max_retries {
                            call.set(Err(EngineError::TooManyConflicts(max_retries)));
                        } else {
                            again.push(Arc::clone(call));
                        }
                    }
                }
            }
            // Decided again first, in their order.
            for call in again.into_iter().rev() {
                g.pending.push_front(call);
            }
            g.leading = false;
            queue.cv.notify_all();
        }
    }

    /// Decides and stores one batch under the store's write lock; one
    /// verdict per call, in order.
    fn locked_batch(&self, batch: &[Arc<Pending>]) -> Vec<Verdict> {
        let shared = &self.shared;
        let fail_all = |e: EngineError| -> Vec<Verdict> {
            batch
                .iter()
                .map(|_| Verdict::Answer(Err(e.clone())))
                .collect()
        };
        let stale = || {
            shared.in_step.store(false, Ordering::SeqCst);
            shared.health.mark_stale();
        };
        // Before taking the store's lock: reload a stale state, and catch up
        // with what other engines stored so far, so that under the lock only
        // the events of the last moments remain to apply (a long catch-up
        // would hold every writer of every process). Nothing else of this
        // engine is in flight: no optimistic commit is ever queued in this
        // mode, so draining costs nothing and never writes.
        match self.fresh_state() {
            Ok((mut st, _)) => {
                if shared.in_step.load(Ordering::SeqCst)
                    && let Err(e) = open::catch_up(&shared.store, &mut st)
                {
                    stale();
                    return fail_all(e);
                }
            }
            Err(e) => return fail_all(e),
        }
        shared.committer.drain(&shared.store, &shared.health);
        let mut slots: Vec<Option<Slot>> = (0..batch.len()).map(|_| None).collect();
        let mut caught_up: Result<(), EngineError> = Ok(());
        let mut start = 0u64;
        let mut ran = false;
        let mut decided = 0usize;
        let stored = shared.store.commit_exclusive(&mut || {
            if std::mem::replace(&mut ran, true) {
                // Deciding twice would apply the batch twice: a store
                // that asks again gets nothing (and the batch is retried).
                return Vec::new();
            }
            // A panic here must not unwind through the store, which holds
            // its writer lock (a poisoned writer fails every later write):
            // it fails the batch instead.
            let inside = catch_unwind(AssertUnwindSafe(|| {
                self.decide_locked(batch, &mut slots, &mut start)
            }));
            match inside {
                Ok(Ok(commits)) => {
                    decided = commits.len();
                    commits
                }
                Ok(Err(e)) => {
                    caught_up = Err(e);
                    Vec::new()
                }
                Err(_) => {
                    caught_up = Err(EngineError::Internal(
                        "deciding a locked batch panicked; nothing of it was stored".into(),
                    ));
                    Vec::new()
                }
            }
        });
        if let Err(e) = caught_up {
            stale();
            return fail_all(e);
        }
        let outcomes = match stored {
            Ok(o) if o.len() == decided => o,
            Ok(o) => {
                // A store that does not answer every commit: what it stored
                // is unknown, so every commit of the batch fails.
                stale();
                return failed_batch(
                    slots,
                    EngineError::Internal(format!(
                        "the store answered {} of {decided} commits",
                        o.len()
                    )),
                );
            }
            Err(e) => {
                // Nothing of the batch is stored, and the state holds its
                // effects: reload it.
                stale();
                return failed_batch(slots, e.into());
            }
        };
        let mut outcomes = outcomes.into_iter();
        let mut broken = false;
        let mut drifted = false;
        let mut stored_any = false;
        let mut next = start.saturating_add(1);
        let verdicts = slots
            .into_iter()
            .map(|slot| match slot {
                None => {
                    broken = true;
                    Verdict::Again
                }
                Some(Slot::Commit(response)) => match outcomes.next() {
                    Some(CommitOutcome::Committed { first, last }) => {
                        // Stored, whatever happened before it: its answer.
                        stored_any = true;
                        drifted |= broken || first != next;
                        next = last.saturating_add(1);
                        Verdict::Answer(Ok(response))
                    }
                    _ => {
                        broken = true;
                        Verdict::Again
                    }
                },
                Some(Slot::Answer(_)) if broken => Verdict::Again,
                Some(Slot::Answer(a)) => Verdict::Answer(a),
            })
            .collect();
        if stored_any {
            shared.health.appended.bump();
        }
        if broken || drifted {
            // The state holds effects the store refused, or positions that
            // are not the log's: reload it.
            stale();
        } else {
            shared.in_step.store(true, Ordering::SeqCst);
        }
        verdicts
    }

    /// Inside the store's write lock: catches the state up with every
    /// stored event, then decides the batch in order, filling `slots`, and
    /// returns the commits to store. The state lock is held while deciding
    /// only, not while the store writes: reads never wait for the store
    /// (until the batch is durable they see its effects, as they see
    /// commits in flight in optimistic mode; a failure marks the state
    /// stale before any call hears of it). Stops at the first call whose
    /// decision marked the state stale (a failure after its effects were
    /// applied): the calls after it stay undecided and are decided again.
    fn decide_locked(
        &self,
        batch: &[Arc<Pending>],
        slots: &mut [Option<Slot>],
        start: &mut u64,
    ) -> Result<Vec<Commit>, EngineError> {
        let shared = &self.shared;
        let (mut st, _) = self.fresh_state()?;
        if shared.in_step.load(Ordering::SeqCst) {
            open::catch_up(&shared.store, &mut st)?;
        } else {
            *st = self.resync()?;
            shared.in_step.store(true, Ordering::SeqCst);
        }
        *start = st.durable.position;
        // Read once the lock is held and the log caught up: no batch stored
        // after this one can carry an earlier time.
        let now = self.clock.now();
        let mut commits = Vec::new();
        for (slot, call) in slots.iter_mut().zip(batch) {
            let epoch = shared.health.epoch();
            let key = call.key.as_ref().map(|(k, h)| (k.as_str(), h.as_str()));
            *slot = Some(match self.decide_on(&mut st, &call.request, key, now) {
                Ok(Decided::Commit(c, response)) => {
                    commits.push(c);
                    Slot::Commit(response)
                }
                Ok(Decided::Answer(a)) => Slot::Answer(a),
                Err(e) => Slot::Answer(Err(e)),
            });
            if shared.health.epoch() != epoch {
                break;
            }
        }
        Ok(commits)
    }
}

/// The verdicts of a batch whose transaction failed: answers decided before
/// its first commit stand (they read nothing of it); every commit, and
/// everything decided after one, gets the failure.
fn failed_batch(slots: Vec<Option<Slot>>, e: EngineError) -> Vec<Verdict> {
    let mut after_commit = false;
    slots
        .into_iter()
        .map(|slot| match slot {
            Some(Slot::Answer(a)) if !after_commit => Verdict::Answer(a),
            Some(Slot::Commit(_)) => {
                after_commit = true;
                Verdict::Answer(Err(e.clone()))
            }
            _ => Verdict::Answer(Err(e.clone())),
        })
        .collect()
}
