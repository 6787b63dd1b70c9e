//! Group commit (leader/follower) and the engine's staleness.
//!
//! Commits are queued in decision order. A waiting caller that finds no
//! write in progress becomes the leader: it takes every queued commit (up
//! to `max_batch`) and stores them in one transaction, so many callers
//! share one fsync, while the others wait for their ticket. A leader hands
//! the lead to the oldest waiting caller after `leader_rounds` batches, so
//! no call waits on others' traffic for long. A lone caller commits on its
//! own thread: no handoff.
//!
//! Decisions are made one after another on the in-memory state, each on top
//! of the ones still in flight. When a commit does not land (a stream moved
//! in another process, the key was taken, a guard's limit was reached,
//! storage failed), the state is ahead of the store: [`Health::mark_stale`]
//! makes the next access reload it, and bumps the *epoch*. Every commit
//! carries the epoch it was decided in; a queued commit of an older epoch
//! was decided on effects that will never be stored, so it is never sent
//! (its caller retries on the reloaded state). Inside one batch the store
//! applies the same rule (`BatchCheck`'s chain rule).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use mercato_store::{Commit, CommitOutcome, Store, StoreError};

use crate::error::EngineError;

/// Whether the in-memory state may be ahead of the store, and the epoch of
/// decisions (bumped whenever it may be).
#[derive(Default)]
pub(super) struct Health {
    stale: AtomicBool,
    epoch: AtomicU64,
    /// Moved after every durable batch: wakes the feed's waiters.
    pub(super) appended: crate::feed::Signal,
}

impl Health {
    /// The state may hold effects the store will never have: reload it
    /// before it is read again, and never send commits decided before now.
    /// (Stale is set before the epoch moves: a decision that read the new
    /// epoch also sees the stale flag.)
    pub(super) fn mark_stale(&self) {
        self.stale.store(true, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Takes the stale flag (the caller reloads the state).
    pub(super) fn take_stale(&self) -> bool {
        self.stale.swap(false, Ordering::SeqCst)
    }

    /// Puts the stale flag back after a reload failed.
    pub(super) fn restore_stale(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    /// The current epoch.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }
}

/// What became of a queued commit.
pub(super) enum Outcome {
    /// Stored and durable.
    Durable,
    /// Not stored: decide again on the reloaded state.
    Retry,
    /// Storage failed: nothing of the call is stored.
    Failed(EngineError),
    /// The caller takes over as group-commit leader.
    Lead,
}

#[derive(Default)]
struct TicketState {
    outcome: Option<Outcome>,
    /// Someone is waiting on this ticket (it may be handed the lead).
    waiting: bool,
}

/// Where a caller waits for its commit's outcome.
pub(super) struct Ticket {
    state: Mutex<TicketState>,
    cv: Condvar,
}

impl Ticket {
    pub(super) fn new() -> Arc<Ticket> {
        Arc::new(Ticket {
            state: Mutex::new(TicketState::default()),
            cv: Condvar::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TicketState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish(&self, o: Outcome) {
        self.lock().outcome = Some(o);
        self.cv.notify_all();
    }

    fn is_waited(&self) -> bool {
        self.lock().waiting
    }
}

/// A commit waiting to be stored.
pub(super) struct Queued {
    pub commit: Commit,
    pub ticket: Arc<Ticket>,
    /// The epoch the commit was decided in.
    pub epoch: u64,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Queued>,
    /// A caller is writing batches.
    leader: bool,
}

/// The commit queue and its leader protocol.
///
/// Queuing a commit never makes anyone write: the leader is always a caller
/// that waits — for its own ticket ([`Committer::wait_for`]) or for the
/// queue to drain ([`Committer::drain`]) — and finds no leader. So a thread
/// may submit several commits before waiting for any (they share a batch),
/// and nobody waits on a leader that is not running. A leader writes
/// batches until the queue is empty; after `leader_rounds` batches it hands
/// the lead to the oldest queued caller that is waiting, if there is one.
pub(super) struct Committer {
    queue: Mutex<Queue>,
    idle: Condvar,
    max_batch: usize,
    leader_rounds: u32,
}

impl Committer {
    pub(super) fn new(max_batch: usize, leader_rounds: u32) -> Self {
        Committer {
            queue: Mutex::new(Queue::default()),
            idle: Condvar::new(),
            max_batch: max_batch.max(1),
            leader_rounds: leader_rounds.max(1),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a commit.
    pub(super) fn enqueue(&self, q: Queued) {
        self.queue().items.push_back(q);
    }

    /// Waits for `ticket`'s outcome, writing batches whenever there is no
    /// leader (or the lead is handed over). Never returns `Outcome::Lead`.
    pub(super) fn wait_for<S: Store>(
        &self,
        store: &S,
        health: &Health,
        ticket: &Ticket,
    ) -> Outcome {
        ticket.lock().waiting = true;
        loop {
            {
                let mut t = ticket.lock();
                match t.outcome.take() {
                    Some(Outcome::Lead) => {
                        drop(t);
                        self.lead(store, health);
                        continue;
                    }
                    Some(o) => return o,
                    None => {}
                }
            }
            let claimed = {
                let mut q = self.queue();
                if q.leader {
                    false
                } else {
                    q.leader = true;
                    true
                }
            };
            if claimed {
                self.lead(store, health);
                continue;
            }
            let mut t = ticket.lock();
            while t.outcome.is_none() {
                t = ticket.cv.wait(t).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// Writes batches as the leader (the caller has claimed the lead),
    /// then steps down or hands the lead on.
    fn lead<S: Store>(&self, store: &S, health: &Health) {
        let mut rounds = 0;
        loop {
            let batch: Vec<Queued> = {
                let mut q = self.queue();
                if q.items.is_empty() {
                    q.leader = false;
                    self.idle.notify_all();
                    return;
                }
                if rounds >= self.leader_rounds {
                    // Hand over to a caller that is waiting; with none
                    // waiting (commits submitted, not yet waited for),
                    // keep writing.
                    if let Some(next) = q.items.iter().find(|i| i.ticket.is_waited()) {
                        next.ticket.finish(Outcome::Lead);
                        return;
                    }
                }
                let n = q.items.len().min(self.max_batch);
                q.items.drain(..n).collect()
            };
            rounds += 1;
            write_batch(store, health, batch);
        }
    }

    /// Returns once every queued commit is stored (or refused) and no
    /// leader is writing, writing batches itself when nobody leads.
    pub(super) fn drain<S: Store>(&self, store: &S, health: &Health) {
        loop {
            let mut q = self.queue();
            if q.items.is_empty() && !q.leader {
                return;
            }
            if !q.leader {
                q.leader = true;
                drop(q);
                self.lead(store, health);
                continue;
            }
            drop(self.idle.wait(q).unwrap_or_else(|p| p.into_inner()));
        }
    }
}

/// Stores one batch in one transaction and answers its callers. Commits
/// decided in an older epoch are not sent. A panic inside the store is a
/// failed write, not a lost leader.
fn write_batch<S: Store>(store: &S, health: &Health, batch: Vec<Queued>) {
    let epoch = health.epoch();
    let (current, old): (Vec<Queued>, Vec<Queued>) =
        batch.into_iter().partition(|q| q.epoch == epoch);
    for q in old {
        q.ticket.finish(Outcome::Retry);
    }
    if current.is_empty() {
        return;
    }
    let (commits, tickets): (Vec<Commit>, Vec<Arc<Ticket>>) =
        current.into_iter().map(|q| (q.commit, q.ticket)).unzip();
    let result = catch_unwind(AssertUnwindSafe(|| store.commit_batch(&commits)))
        .unwrap_or_else(|_| Err(StoreError::Backend("the store panicked".into())));
    match result {
        Ok(outcomes) if outcomes.len() == tickets.len() => {
            health.appended.bump();
            for (ticket, outcome) in tickets.iter().zip(outcomes) {
                match outcome {
                    CommitOutcome::Committed { .. } => ticket.finish(Outcome::Durable),
                    _ => {
                        health.mark_stale();
                        ticket.finish(Outcome::Retry);
                    }
                }
            }
        }
        Ok(outcomes) => {
            health.mark_stale();
            let e = EngineError::Store(StoreError::Backend(format!(
                "the store answered {} outcomes for {} commits",
                outcomes.len(),
                tickets.len()
            )));
            for ticket in tickets {
                ticket.finish(Outcome::Failed(e.clone()));
            }
        }
        Err(e) => {
            health.mark_stale();
            let e = EngineError::Store(e);
            for ticket in tickets {
                ticket.finish(Outcome::Failed(e.clone()));
            }
        }
    }
}
