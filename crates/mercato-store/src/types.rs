//! The plain data a [`crate::Store`] stores: events going in and coming out,
//! commits, guards, idempotency records, read-model rows and verification
//! reports.

use serde::{Deserialize, Serialize};

/// An event to append: opaque JSON payload on a named stream.
///
/// A stream is the unit of optimistic concurrency: its version is the
/// number of stored events that belong to it. An event belongs to its home
/// `stream` and to every stream in `also` (a reservation across several
/// SKUs changes each SKU's stock, so it belongs to each SKU's stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Home stream (`order/o1`, `sku/tea`...): where [`crate::Store::read_stream`]
    /// lists the event.
    pub stream: String,
    /// Event type tag, for indexing and humans.
    pub kind: String,
    /// The serialized event.
    pub payload: String,
    /// Further streams the event belongs to (their versions move too);
    /// usually empty. Stored with the event and covered by its hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

impl NewEvent {
    /// An event on one stream.
    pub fn new(
        stream: impl Into<String>,
        kind: impl Into<String>,
        payload: impl Into<String>,
    ) -> NewEvent {
        NewEvent {
            stream: stream.into(),
            kind: kind.into(),
            payload: payload.into(),
            also: Vec::new(),
        }
    }

    /// Every stream the event belongs to: its home stream, then `also`.
    pub fn streams(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.stream.as_str()).chain(self.also.iter().map(String::as_str))
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// Stream id.
    pub stream: String,
    /// The home stream's version with this event (increasing, from 1; it
    /// skips the versions that events of other home streams gave it
    /// through their `also`).
    pub stream_version: u64,
    /// Event type tag.
    pub kind: String,
    /// The serialized event.
    pub payload: String,
    /// Further streams the event belongs to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// Hash of the previous event of the log ([`crate::GENESIS`] for the first).
    pub prev_hash: String,
    /// Hash of this event (see [`crate::Chain::link`]).
    pub hash: String,
}

/// What a replay reads of one stored event: its position, the streams it
/// belongs to (so that a replay counts stream versions exactly as the
/// store did, whatever version of the code wrote the event) and its
/// payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayEntry {
    /// Position in the log.
    pub seq: u64,
    /// Home stream.
    pub stream: String,
    /// Further streams.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// The serialized event.
    pub payload: String,
}

impl From<StoredEvent> for ReplayEntry {
    fn from(e: StoredEvent) -> ReplayEntry {
        ReplayEntry {
            seq: e.seq,
            stream: e.stream,
            also: e.also,
            payload: e.payload,
        }
    }
}

/// The end of the log read at one instant: the recorded chain head and the
/// stored events from the head on (the head event itself and at most one
/// after it). What [`crate::check_tail`] checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainTail {
    /// The recorded head: last seq (0: empty log).
    pub head_seq: u64,
    /// The recorded head's hash ([`crate::GENESIS`] for an empty log).
    pub head_hash: String,
    /// The events with `seq >= max(head_seq, 1)`, in order, at most two.
    pub events: Vec<StoredEvent>,
}

/// A snapshot of the engine's state as the store keeps it: the state and
/// where in the chain it stands, sealed so that a changed snapshot is
/// refused when it is loaded (see [`crate::Chain::seal`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    /// The last event the state includes (0: none).
    pub seq: u64,
    /// That event's hash ([`crate::GENESIS`] for `seq` 0).
    pub chain_hash: String,
    /// The seal over `seq`, `chain_hash` and `state`.
    pub seal: String,
    /// The serialized state.
    pub state: String,
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
    /// The read set: every stream whose state the decision read, with the
    /// version it read (0: the stream had no event). The commit is stored
    /// only if every one still has that version.
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

/// The checks every store makes on the commits of one batch, in order (one
/// `BatchCheck` per batch; every adapter uses it, so all agree):
///
/// 1. the idempotency key must be new;
/// 2. every expected stream version must hold;
/// 3. no guard may pass its maximum;
/// 4. **a batch is a chain**: its commits were decided one after another,
///    each on the state the ones before it left. A commit that read a
///    stream which an earlier, refused commit of the batch would have
///    written is refused too ([`CommitOutcome::Skipped`]), even when the
///    version numbers happen to match: the version it expected counted an
///    event that was never stored.
///
/// Lookups come from the store and see the commits before this one in the
/// same batch.
#[derive(Debug, Default)]
pub struct BatchCheck {
    /// Streams written by refused commits of this batch.
    refused_writes: Vec<String>,
}

impl BatchCheck {
    /// A check for a new batch.
    pub fn new() -> BatchCheck {
        BatchCheck::default()
    }

    /// Checks `commit`. `Ok(Ok(moved))` gives the guard counters' new
    /// values to write, in order (a key moved twice appears twice; the last
    /// value wins); `Ok(Err(outcome))` is the refusal to report.
    pub fn check<'c, E>(
        &mut self,
        commit: &'c Commit,
        mut existing_key: impl FnMut(&str) -> Result<Option<IdempotencyRecord>, E>,
        mut stream_version: impl FnMut(&str) -> Result<u64, E>,
        mut guard_value: impl FnMut(&str) -> Result<i64, E>,
    ) -> Result<Result<GuardMoves<'c>, CommitOutcome>, E> {
        let refused =
            |commit: &Commit, refused_writes: &mut Vec<String>, outcome: CommitOutcome| {
                for e in &commit.events {
                    for s in e.streams() {
                        if !refused_writes.iter().any(|w| w == s) {
                            refused_writes.push(s.to_string());
                        }
                    }
                }
                Ok(Err(outcome))
            };
        if let Some((stream, _)) = commit
            .expected
            .iter()
            .find(|(s, _)| self.refused_writes.iter().any(|w| w == s))
        {
            let outcome = CommitOutcome::Skipped {
                stream: stream.clone(),
            };
            return refused(commit, &mut self.refused_writes, outcome);
        }
        if let Some(r) = &commit.idempotency
            && let Some(existing) = existing_key(&r.key)?
        {
            let outcome = CommitOutcome::DuplicateKey { existing };
            return refused(commit, &mut self.refused_writes, outcome);
        }
        for (stream, expected) in &commit.expected {
            let actual = stream_version(stream)?;
            if actual != *expected {
                let outcome = CommitOutcome::Conflict {
                    stream: stream.clone(),
                    expected: *expected,
                    actual,
                };
                return refused(commit, &mut self.refused_writes, outcome);
            }
        }
        let mut moved: GuardMoves<'c> = Vec::with_capacity(commit.guards.len());
        for g in &commit.guards {
            let current = match moved.iter().rev().find(|(k, _)| *k == g.key) {
                Some((_, v)) => *v,
                None => guard_value(&g.key)?,
            };
            match g.apply_to(current) {
                Ok(next) => moved.push((&g.key, next)),
                Err(outcome) => return refused(commit, &mut self.refused_writes, outcome),
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
    /// The commit read a stream that an earlier commit of the same batch,
    /// which was refused, would have written: it was decided on a state
    /// that will never exist, so nothing of it is stored (see
    /// [`BatchCheck`]).
    Skipped {
        /// The stream.
        stream: String,
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
    ///
    /// A give-back (negative `delta`) never takes a counter below zero: a
    /// counter counts what live orders hold, which is never negative, so a
    /// give-back beyond it (an order placed before the counter existed)
    /// stops at zero.
    pub fn apply_to(&self, current: i64) -> Result<i64, CommitOutcome> {
        let next = current.saturating_add(self.delta);
        let next = if self.delta < 0 { next.max(0) } else { next };
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
