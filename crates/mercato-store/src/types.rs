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

/// A page of stored events as a replay reads them, held in one reusable
/// buffer: every row's streams and payload are copied into one string, so
/// refilling a page that was used before ([`crate::Store::read_replay_page`])
/// allocates nothing once its buffers are big enough. A rebuild reads a
/// million events in pages; one `String` per payload and per stream name
/// cost more in the allocator than reading them.
///
/// Rows are added with [`ReplayPage::push_also`] (each further stream of the
/// next row, if any) then [`ReplayPage::push_row`], and read back with
/// [`ReplayPage::iter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayPage {
    /// Every stream name and payload of the page, one after the other.
    text: String,
    /// Byte spans in `text` of the rows' further streams, row after row.
    also: Vec<(usize, usize)>,
    rows: Vec<RowSpans>,
}

/// Where one row of a [`ReplayPage`] lies in the page's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RowSpans {
    seq: u64,
    /// Byte span of the home stream in `text`.
    stream: (usize, usize),
    /// Index span of the row's further streams in `also`.
    also: (usize, usize),
    /// Byte span of the payload in `text`.
    payload: (usize, usize),
}

impl ReplayPage {
    /// An empty page.
    pub fn new() -> ReplayPage {
        ReplayPage::default()
    }

    /// Removes every row, keeping the buffers' capacity.
    pub fn clear(&mut self) {
        self.text.clear();
        self.also.clear();
        self.rows.clear();
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the page holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn push_text(&mut self, s: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(s);
        (start, self.text.len())
    }

    /// Adds a further stream to the row that the next
    /// [`ReplayPage::push_row`] finishes.
    pub fn push_also(&mut self, stream: &str) {
        let span = self.push_text(stream);
        self.also.push(span);
    }

    /// Adds the further streams of the next row from a serialized sequence
    /// of strings (a store that keeps `also` as a JSON array hands a
    /// `serde_json::Deserializer` over it): no string is allocated. On an
    /// error the page may hold some of them; clear it.
    pub fn push_also_from<'de, D: serde::Deserializer<'de>>(
        &mut self,
        deserializer: D,
    ) -> Result<(), D::Error> {
        deserializer.deserialize_seq(AlsoSeq(self))
    }

    /// Finishes a row: its position, home stream and payload, with the
    /// further streams pushed since the previous row.
    pub fn push_row(&mut self, seq: u64, stream: &str, payload: &str) {
        let also_start = self.rows.last().map_or(0, |r| r.also.1);
        let also = (also_start, self.also.len());
        let stream = self.push_text(stream);
        let payload = self.push_text(payload);
        self.rows.push(RowSpans {
            seq,
            stream,
            also,
            payload,
        });
    }

    /// Adds a row holding `entry`.
    pub fn push_entry(&mut self, entry: &ReplayEntry) {
        for a in &entry.also {
            self.push_also(a);
        }
        self.push_row(entry.seq, &entry.stream, &entry.payload);
    }

    /// The rows, in the order they were pushed.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ReplayRow<'_>> + '_ {
        self.rows
            .iter()
            .map(|&spans| ReplayRow { page: self, spans })
    }

    /// The rows as owned entries (what [`crate::Store::read_payloads`]
    /// returns for the same events).
    pub fn to_entries(&self) -> Vec<ReplayEntry> {
        self.iter().map(|r| r.to_entry()).collect()
    }

    fn slice(&self, (start, end): (usize, usize)) -> &str {
        // Spans are taken from pushed strings, so they always fall on
        // character boundaries.
        self.text.get(start..end).unwrap_or_default()
    }
}

/// One row of a [`ReplayPage`], borrowed from the page.
#[derive(Debug, Clone, Copy)]
pub struct ReplayRow<'a> {
    page: &'a ReplayPage,
    spans: RowSpans,
}

impl<'a> ReplayRow<'a> {
    /// Position in the log.
    pub fn seq(&self) -> u64 {
        self.spans.seq
    }

    /// Home stream.
    pub fn stream(&self) -> &'a str {
        self.page.slice(self.spans.stream)
    }

    /// Further streams, in stored order.
    pub fn also(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let page = self.page;
        page.also
            .get(self.spans.also.0..self.spans.also.1)
            .unwrap_or_default()
            .iter()
            .map(move |&span| page.slice(span))
    }

    /// The home stream, then the further streams.
    pub fn streams(&self) -> impl Iterator<Item = &'a str> + 'a {
        std::iter::once(self.stream()).chain(self.also())
    }

    /// The serialized event.
    pub fn payload(&self) -> &'a str {
        self.page.slice(self.spans.payload)
    }

    /// This row as an owned entry.
    pub fn to_entry(&self) -> ReplayEntry {
        ReplayEntry {
            seq: self.seq(),
            stream: self.stream().to_owned(),
            also: self.also().map(str::to_owned).collect(),
            payload: self.payload().to_owned(),
        }
    }
}

/// Deserializes a sequence of strings into a page's pending further streams.
struct AlsoSeq<'p>(&'p mut ReplayPage);

impl<'de> serde::de::Visitor<'de> for AlsoSeq<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence of stream names")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(AlsoName(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// Deserializes one stream name into a page's pending further streams.
struct AlsoName<'p>(&'p mut ReplayPage);

impl<'de> serde::de::DeserializeSeed<'de> for AlsoName<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for AlsoName<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a stream name")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_also(v);
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, stream: &str, also: &[&str], payload: &str) -> ReplayEntry {
        ReplayEntry {
            seq,
            stream: stream.into(),
            also: also.iter().map(|s| s.to_string()).collect(),
            payload: payload.into(),
        }
    }

    #[test]
    fn a_page_gives_back_what_was_pushed() {
        let entries = [
            entry(7, "order/o1", &["sku/a", "sku/b"], r#"{"a":1}"#),
            entry(8, "order/o1", &[], ""),
            entry(9, "sku/é", &["x"], "ü"),
        ];
        let mut page = ReplayPage::new();
        for e in &entries {
            page.push_entry(e);
        }
        assert_eq!(page.len(), 3);
        assert_eq!(page.to_entries(), entries);
        let second = page.iter().nth(1).unwrap();
        assert_eq!(
            second.also().len(),
            0,
            "no stream of row 1 leaks into row 2"
        );
        page.clear();
        assert!(page.is_empty());
        page.push_entry(&entries[2]);
        assert_eq!(page.to_entries(), entries[2..]);
    }

    #[test]
    fn further_streams_from_a_deserializer() {
        use serde::de::value::{Error, SeqDeserializer};
        let mut page = ReplayPage::new();
        let names = SeqDeserializer::<_, Error>::new(["sku/a", "sku/\"b\""].into_iter());
        page.push_also_from(names).unwrap();
        page.push_row(1, "order/o1", "{}");
        assert_eq!(
            page.to_entries(),
            [entry(1, "order/o1", &["sku/a", "sku/\"b\""], "{}")]
        );
    }
}
