//! The plain data a [`crate::Store`] stores: events going in and coming out,
//! commits, guards, idempotency records, read-model rows and verification
//! reports.

use serde::{Deserialize, Serialize};

/// An event to append: opaque JSON payload on a named stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Stream id (`order/o1`, `sku/tea`...).
    pub stream: String,
    /// Event type tag, for indexing and humans.
    pub kind: String,
    /// The serialized event.
    pub payload: String,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// Stream id.
    pub stream: String,
    /// Position in its stream, from 1.
    pub stream_version: u64,
    /// Event type tag.
    pub kind: String,
    /// The serialized event.
    pub payload: String,
    /// Hash of the previous event of the log ([`crate::GENESIS`] for the first).
    pub prev_hash: String,
    /// Hash of this event (see [`crate::event_hash`]).
    pub hash: String,
}

/// An idempotency record: the request's fingerprint and the first response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The key the caller sent.
    pub key: String,
    /// Fingerprint of the request.
    pub request_hash: String,
    /// The serialized first response.
    pub response: String,
}

/// The read models the engine keeps queryable in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReadModel {
    /// Per-SKU stock levels.
    Stock,
    /// Per-coupon usage.
    Coupon,
    /// Per-customer points balance.
    Balance,
    /// Per-order status and money.
    Order,
}

impl ReadModel {
    /// Every read model.
    pub const ALL: [ReadModel; 4] = [
        ReadModel::Stock,
        ReadModel::Coupon,
        ReadModel::Balance,
        ReadModel::Order,
    ];

    /// A stable name (table name or key prefix).
    pub fn name(self) -> &'static str {
        match self {
            ReadModel::Stock => "stock",
            ReadModel::Coupon => "coupon",
            ReadModel::Balance => "balance",
            ReadModel::Order => "order",
        }
    }
}

/// One read-model row to upsert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadModelRow {
    /// Which model.
    pub model: ReadModel,
    /// Row key.
    pub key: String,
    /// Row value (JSON).
    pub value: String,
}

/// A counter the store keeps across processes and streams, moved by a
/// commit only while it stays within a maximum: `used + delta <= max`
/// (no maximum: always moved). A counter that was never moved is 0.
///
/// The engine uses guards for limits that no single stream protects, such as
/// a flash-sale promotion's per-customer limit and quota
/// (`promo/<id>/customer/<customer>`, `promo/<id>`): several engines in
/// several processes can then never sell beyond them together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guard {
    /// Counter name.
    pub key: String,
    /// Amount to add (negative: give back).
    pub delta: i64,
    /// Largest value the counter may reach through this move (`None`: no limit).
    pub max: Option<i64>,
}

/// One command's writes: its events, the stream versions it was decided on,
/// the guard counters it moves, its idempotency record and the read-model
/// rows it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// Streams and the version each must still have (optimistic concurrency).
    pub expected: Vec<(String, u64)>,
    /// Events to append, in order.
    pub events: Vec<NewEvent>,
    /// Idempotency record to store with the events.
    pub idempotency: Option<IdempotencyRecord>,
    /// Read-model rows to upsert.
    pub read_models: Vec<ReadModelRow>,
    /// Guard counters to move, in order; if any would pass its maximum,
    /// nothing of the commit is stored ([`CommitOutcome::LimitExceeded`]).
    #[serde(default)]
    pub guards: Vec<Guard>,
}

/// New values of the guard counters a commit moves, in order: `(key, value)`.
pub type GuardMoves<'a> = Vec<(&'a str, i64)>;

impl Commit {
    /// The checks every store makes before storing a commit, in this
    /// order: its idempotency key must be new, every expected stream
    /// version must hold, and no guard may pass its maximum. The lookups
    /// come from the store (seeing the commits before this one in the same
    /// batch). `Ok(Ok(moved))` gives the guard counters' new values to
    /// write, in order (a key moved twice appears twice; the last value
    /// wins); `Ok(Err(outcome))` is the refusal to report.
    pub fn check<E>(
        &self,
        mut existing_key: impl FnMut(&str) -> Result<Option<IdempotencyRecord>, E>,
        mut stream_version: impl FnMut(&str) -> Result<u64, E>,
        mut guard_value: impl FnMut(&str) -> Result<i64, E>,
    ) -> Result<Result<GuardMoves<'_>, CommitOutcome>, E> {
        if let Some(r) = &self.idempotency {
            if let Some(existing) = existing_key(&r.key)? {
                return Ok(Err(CommitOutcome::DuplicateKey { existing }));
            }
        }
        for (stream, expected) in &self.expected {
            let actual = stream_version(stream)?;
            if actual != *expected {
                return Ok(Err(CommitOutcome::Conflict {
                    stream: stream.clone(),
                    expected: *expected,
                    actual,
                }));
            }
        }
        let mut moved: GuardMoves<'_> = Vec::with_capacity(self.guards.len());
        for g in &self.guards {
            let current = match moved.iter().rev().find(|(k, _)| *k == g.key) {
                Some((_, v)) => *v,
                None => guard_value(&g.key)?,
            };
            match g.apply_to(current) {
                Ok(next) => moved.push((&g.key, next)),
                Err(refused) => return Ok(Err(refused)),
            }
        }
        Ok(Ok(moved))
    }
}

/// What happened to one commit of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommitOutcome {
    /// Stored; the events got `first..=last` (empty commit: `first > last`).
    Committed {
        /// Seq of the first event.
        first: u64,
        /// Seq of the last event.
        last: u64,
    },
    /// A stream moved on since the decision: nothing of this commit stored.
    Conflict {
        /// The stream.
        stream: String,
        /// Version the commit expected.
        expected: u64,
        /// Version found.
        actual: u64,
    },
    /// The idempotency key is already stored: nothing of this commit stored.
    DuplicateKey {
        /// The record already there.
        existing: IdempotencyRecord,
    },
    /// A guard counter would pass its maximum: nothing of this commit stored.
    LimitExceeded {
        /// The guard's key.
        key: String,
        /// The counter's value before this guard (including earlier commits
        /// of the batch and earlier guards of this commit).
        current: i64,
        /// The move asked for.
        delta: i64,
        /// The maximum it would pass.
        max: i64,
    },
}

impl Guard {
    /// The outcome of moving a counter that stands at `current`: the new
    /// value, or the [`CommitOutcome::LimitExceeded`] refusal. Every adapter
    /// applies this same rule.
    pub fn apply_to(&self, current: i64) -> Result<i64, CommitOutcome> {
        let next = current.saturating_add(self.delta);
        match self.max {
            Some(max) if next > max => Err(CommitOutcome::LimitExceeded {
                key: self.key.clone(),
                current,
                delta: self.delta,
                max,
            }),
            _ => Ok(next),
        }
    }
}

/// The result of walking the hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Events checked.
    pub events: u64,
    /// The first broken link, if any: the seq and what is wrong.
    pub first_break: Option<(u64, String)>,
}

impl VerifyReport {
    /// True when the whole chain holds.
    pub fn ok(&self) -> bool {
        self.first_break.is_none()
    }
}
