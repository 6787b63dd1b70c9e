//! The event feed: the log told to other systems as integration events
//! ([`IntegrationEvent`], a versioned public schema separate from the
//! internal encoding), read after a cursor, with named consumers whose
//! checkpoints live in the store.
//!
//! - **Cursor**: the log's `seq`. [`Engine::feed`] returns the integration
//!   events of the stored events after a cursor and the cursor to go on
//!   from ([`FeedPage::next`]), which moves past internal events that tell
//!   nothing to integrators (configuration) too. Only durable events are
//!   read, in log order; a reader never sees a later `seq` before an
//!   earlier one (every store assigns `seq` under its write lock).
//! - **Consumers**: [`Engine::poll`] reads after a consumer's checkpoint,
//!   [`Engine::ack`] moves it forward atomically in the store and never
//!   back. Delivery is at least once: whatever was read and not yet
//!   acknowledged is read again after a crash, with the same
//!   [`FeedEvent::id`].
//! - **Waiting**: [`Engine::wait_for_events`] blocks until an event after a
//!   cursor is stored or a timeout ends: woken by this engine's commits (a
//!   condition variable fed by the commit path), by any process's commits
//!   on PostgreSQL (`LISTEN/NOTIFY`), and by polling the store's head for
//!   other processes on other stores (every 250 ms).
//! - **Nothing is dropped**: snapshots never remove events from the log
//!   (there is no compaction), so a consumer can always resume from its
//!   checkpoint.

mod schema;

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use mercato_store::{Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::log::LogEvent;

pub use schema::{
    FeedExchangeItem, FeedExchangeLine, FeedLine, FeedLineQty, FeedTotals, IntegrationEvent, TYPES,
    integration_events,
};

/// Most stored events one read of the feed takes.
pub const MAX_PAGE: usize = 10_000;

/// How often a wait re-reads the store's head to see other processes'
/// events when the store cannot wake it ([`Store::wait_for_append`]).
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Longest name of a consumer.
pub const MAX_CONSUMER_NAME: usize = 128;

/// One integration event as delivered: `{"id": "42.0", "seq": 42, "type":
/// "order.paid.v1", "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEvent {
    /// Delivery id, `<seq>.<index>`: the same every time this event is
    /// delivered, so a receiver can drop duplicates.
    pub id: String,
    /// The stored event it comes from (the cursor to acknowledge).
    pub seq: u64,
    /// The event (`type` and `data`).
    #[serde(flatten)]
    pub event: IntegrationEvent,
}

/// What one read of the feed gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPage {
    /// The integration events, in log order.
    pub events: Vec<FeedEvent>,
    /// The cursor after this page: the last stored event read (the cursor
    /// given when nothing was read). Read on from it, or acknowledge it
    /// once every event of the page is handled.
    pub next: u64,
}

/// The signal of this engine's commits: a counter moved after every
/// durable batch, and a condition variable to wait for it to move.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    count: Mutex<u64>,
    cv: Condvar,
}

impl Signal {
    /// Called by the commit path after a batch is durable.
    pub(crate) fn bump(&self) {
        let mut g = self.count.lock().unwrap_or_else(|p| p.into_inner());
        *g = g.wrapping_add(1);
        self.cv.notify_all();
    }

    fn seen(&self) -> u64 {
        *self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `timeout` for the counter to move from `seen`.
    fn wait_from(&self, seen: u64, timeout: Duration) {
        let g = self.count.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .cv
            .wait_timeout_while(g, timeout, |c| *c == seen)
            .unwrap_or_else(|p| p.into_inner());
    }
}

/// Checks a consumer name: 1 to [`MAX_CONSUMER_NAME`] characters of
/// `A-Z a-z 0-9 . _ -`.
pub fn check_consumer_name(name: &str) -> Result<(), EngineError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CONSUMER_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidInput(format!(
            "consumer name {name:?}: 1 to {MAX_CONSUMER_NAME} characters of A-Z a-z 0-9 . _ -"
        )))
    }
}

/// The integration events of stored events, with their delivery ids.
pub fn map_stored(events: &[mercato_store::StoredEvent]) -> Result<Vec<FeedEvent>, EngineError> {
    let mut out = Vec::new();
    for e in events {
        let log: LogEvent = serde_json::from_str(&e.payload).map_err(|err| {
            EngineError::Store(StoreError::Corrupt(format!("event {}: {err}", e.seq)))
        })?;
        for (i, event) in integration_events(&log).into_iter().enumerate() {
            out.push(FeedEvent {
                id: format!("{}.{i}", e.seq),
                seq: e.seq,
                event,
            });
        }
    }
    Ok(out)
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    /// The integration events of the stored events after `after` (at most
    /// `limit` stored events, 1 to [`MAX_PAGE`]) and the cursor to go on
    /// from. Never waits.
    pub fn feed(&self, after: u64, limit: usize) -> Result<FeedPage, EngineError> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(EngineError::InvalidInput(format!(
                "feed page limit {limit}: 1 to {MAX_PAGE}"
            )));
        }
        let stored = self.store().read_from(after, limit)?;
        let next = stored.last().map_or(after, |e| e.seq);
        Ok(FeedPage {
            events: map_stored(&stored)?,
            next,
        })
    }

    /// Waits until the log holds an event after `after`, or `timeout`
    /// ends; returns the log's head (still `<= after` when the time ran
    /// out). Woken by this engine's commits at once, by other processes'
    /// commits at once on PostgreSQL and within [`POLL_INTERVAL`] on other
    /// stores.
    pub fn wait_for_events(&self, after: u64, timeout: Duration) -> Result<u64, EngineError> {
        if let Some(head) = self.store().wait_for_append(after, timeout)? {
            return Ok(head);
        }
        let deadline = Instant::now() + timeout;
        let signal = self.feed_signal();
        loop {
            let seen = signal.seen();
            let head = self.store().head()?;
            let now = Instant::now();
            if head > after || now >= deadline {
                return Ok(head);
            }
            signal.wait_from(seen, (deadline - now).min(POLL_INTERVAL));
        }
    }

    /// The feed after `after`, waiting up to `wait` when there is nothing
    /// yet (a long poll).
    pub fn feed_wait(
        &self,
        after: u64,
        limit: usize,
        wait: Duration,
    ) -> Result<FeedPage, EngineError> {
        let page = self.feed(after, limit)?;
        if page.next > after || wait.is_zero() {
            return Ok(page);
        }
        self.wait_for_events(after, wait)?;
        self.feed(after, limit)
    }

    /// The checkpoint of a consumer (`None`: it never acknowledged).
    pub fn consumer_checkpoint(&self, consumer: &str) -> Result<Option<u64>, EngineError> {
        check_consumer_name(consumer)?;
        Ok(self.store().consumer_checkpoint(consumer)?)
    }

    /// Every consumer with its checkpoint.
    pub fn consumers(&self) -> Result<Vec<(String, u64)>, EngineError> {
        Ok(self.store().consumers()?)
    }

    /// The next page for a consumer: the feed after its checkpoint (0 for
    /// a consumer that never acknowledged), waiting up to `wait` when
    /// there is nothing yet. Reading moves nothing: acknowledge with
    /// [`Engine::ack`] once handled (at least once: unacknowledged events
    /// come again).
    pub fn poll(
        &self,
        consumer: &str,
        limit: usize,
        wait: Duration,
    ) -> Result<FeedPage, EngineError> {
        let after = self.consumer_checkpoint(consumer)?.unwrap_or(0);
        self.feed_wait(after, limit, wait)
    }

    /// Acknowledges every event up to `seq` for a consumer (registering
    /// it): its checkpoint becomes `max(checkpoint, seq)` atomically in the
    /// store, so it never moves back. Returns the checkpoint. A `seq` past
    /// the log's head is `invalid_input` and changes nothing. To start a
    /// new consumer at the present rather than at the beginning,
    /// acknowledge `engine.store().head()`.
    pub fn ack(&self, consumer: &str, seq: u64) -> Result<u64, EngineError> {
        check_consumer_name(consumer)?;
        match self.store().ack_consumer(consumer, seq) {
            Ok(v) => Ok(v),
            Err(e @ StoreError::AckBeyondHead { .. }) => {
                Err(EngineError::InvalidInput(e.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }
}
