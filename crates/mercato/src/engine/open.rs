//! Opening a store: the checks that refuse a damaged or tampered log, the
//! rebuild of the state from the latest snapshot and the events after it,
//! and snapshots.
//!
//! What opening checks ([`OpenOptions`]):
//!
//! - always, in O(1): the log ends exactly at its recorded chain head and
//!   the last event's hash recomputes (`check_tail`): a truncated log, an
//!   appended or changed last event, a wrong chain key, and — with the
//!   keyed chain — any re-chained suffix are refused before anything is
//!   read;
//! - a snapshot is used only if its seal and its place in the chain check
//!   (`check_snapshot`); a snapshot in a format this build cannot read is
//!   skipped (the log is replayed instead), never taken for corrupt;
//! - the replay itself refuses a gap in the sequence, and a log that ends
//!   before its recorded head;
//! - with [`Verify::Full`], every link of the chain first (`Store::verify`).

use mercato_store::{ReplayPage, SnapshotRecord, Store, StoreError, check_snapshot, check_tail};
use serde::{Deserialize, Serialize};

use crate::error::EngineError;
use crate::log::LogEvent;
use crate::state::{Durable, EngineState};

/// How much of the log opening checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verify {
    /// The O(1) checks: the chain head, the last event, the snapshot's seal.
    #[default]
    Tail,
    /// Also every link of the chain before replaying (one hash per event).
    Full,
}

/// How an engine opens its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// Checks made before the state is rebuilt.
    pub verify: Verify,
    /// Start from the stored snapshot when there is one (default); `false`
    /// replays the whole log.
    pub use_snapshot: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            verify: Verify::Tail,
            use_snapshot: true,
        }
    }
}

impl OpenOptions {
    /// These options with `verify`.
    pub fn verify(mut self, verify: Verify) -> Self {
        self.verify = verify;
        self
    }

    /// These options with `use_snapshot`.
    pub fn use_snapshot(mut self, use_snapshot: bool) -> Self {
        self.use_snapshot = use_snapshot;
        self
    }
}

/// The snapshot format this build writes (3: orders carry the payments
/// ledger and refund records; 4: orders carry their shipments; each
/// rebuilt from the log: an older snapshot is skipped and the log
/// replayed).
pub const SNAPSHOT_FORMAT: u32 = 4;

/// A snapshot's state as stored: the format, then the durable state.
#[derive(Serialize, Deserialize)]
struct SnapshotState {
    format: u32,
    durable: Durable,
}

/// Rebuilds the engine state from a store with the default checks (what
/// opening an engine does; audits use it on its own).
pub fn rebuild<S: Store + ?Sized>(store: &S) -> Result<EngineState, EngineError> {
    rebuild_with(store, OpenOptions::default())
}

/// Rebuilds the engine state from a store: checks, the latest usable
/// snapshot, then every event after it.
pub fn rebuild_with<S: Store + ?Sized>(
    store: &S,
    options: OpenOptions,
) -> Result<EngineState, EngineError> {
    let (head, _) = check_tail(store)?;
    if options.verify == Verify::Full {
        let report = store.verify()?;
        if let Some((seq, reason)) = report.first_break {
            return Err(StoreError::Tampered { seq, reason }.into());
        }
    }
    let mut st = EngineState::default();
    if options.use_snapshot
        && let Some(snap) = store.load_snapshot()?
        && let Some(from) = restore(store, &snap)?
    {
        st = from;
    }
    catch_up(store, &mut st)?;
    if st.durable.position < head {
        return Err(StoreError::Tampered {
            seq: st.durable.position + 1,
            reason: format!(
                "the log ends at event {} but its recorded head is event {head}",
                st.durable.position
            ),
        }
        .into());
    }
    Ok(st)
}

/// The state a checked snapshot holds, or `None` for a snapshot in a format
/// this build cannot read (the caller replays the log instead).
fn restore<S: Store + ?Sized>(
    store: &S,
    snap: &SnapshotRecord,
) -> Result<Option<EngineState>, EngineError> {
    check_snapshot(store, snap)?;
    let Ok(state) = serde_json::from_str::<SnapshotState>(&snap.state) else {
        tracing::warn!(
            seq = snap.seq,
            "snapshot in an unknown format: replaying the log"
        );
        return Ok(None);
    };
    if state.format != SNAPSHOT_FORMAT {
        tracing::warn!(
            seq = snap.seq,
            format = state.format,
            "snapshot in another format: replaying the log"
        );
        return Ok(None);
    }
    if state.durable.position != snap.seq {
        return Err(StoreError::SnapshotRejected {
            seq: snap.seq,
            reason: format!(
                "its state stands at event {}, not at the event it is sealed to",
                state.durable.position
            ),
        }
        .into());
    }
    Ok(Some(EngineState::from_durable(state.durable)))
}

/// Checks the stored snapshot against the log (what an audit does; opening
/// checks only the seal): the state it holds must be exactly the state a
/// replay of the log up to its event gives. With the plain SHA-256 chain a
/// database writer can re-seal a forged snapshot; this comparison finds it.
/// Returns the event the snapshot stands at (`None`: no snapshot, or one in
/// a format this build does not read).
pub fn audit_snapshot<S: Store + ?Sized>(store: &S) -> Result<Option<u64>, EngineError> {
    let Some(snap) = store.load_snapshot()? else {
        return Ok(None);
    };
    let Some(from_snapshot) = restore(store, &snap)? else {
        return Ok(None);
    };
    let replayed = replay_until(store, snap.seq)?;
    if replayed.durable != from_snapshot.durable {
        return Err(StoreError::SnapshotRejected {
            seq: snap.seq,
            reason: "its state differs from a replay of the log up to it (forged or corrupt)"
                .into(),
        }
        .into());
    }
    Ok(Some(snap.seq))
}

/// The state after replaying the log from its start up to event `last`.
pub fn replay_until<S: Store + ?Sized>(store: &S, last: u64) -> Result<EngineState, EngineError> {
    let mut st = EngineState::default();
    let mut page = Decoded::default();
    while st.durable.position < last {
        let want = usize::try_from(last - st.durable.position)
            .unwrap_or(PAGE)
            .min(PAGE);
        store.read_replay_page(st.durable.position, want, &mut page.rows)?;
        if page.rows.is_empty() {
            break;
        }
        let mut after = st.durable.position;
        page.decode(&mut after)?;
        page.apply_to(&mut st);
    }
    Ok(st)
}

/// The serialized snapshot of a state that is exactly a prefix of the log.
pub(super) fn snapshot_json(st: &EngineState) -> Result<String, EngineError> {
    serde_json::to_string(&SnapshotStateRef {
        format: SNAPSHOT_FORMAT,
        durable: &st.durable,
    })
    .map_err(|e| EngineError::Internal(format!("cannot serialize snapshot: {e}")))
}

#[derive(Serialize)]
struct SnapshotStateRef<'a> {
    format: u32,
    durable: &'a Durable,
}

/// Events read from the store per page while catching up.
const PAGE: usize = 10_000;

/// A page of the log: the rows as the store gave them (positions, streams,
/// payloads, in one reused buffer) and their events once decoded, one per
/// row. Pages are reused: refilling one allocates no row buffer again.
#[derive(Default)]
pub(super) struct Decoded {
    rows: ReplayPage,
    events: Vec<LogEvent>,
}

impl Decoded {
    /// The number of decoded events.
    fn len(&self) -> usize {
        self.events.len()
    }

    /// Decodes the rows, which must follow `after` without a gap; moves
    /// `after` to the last one.
    fn decode(&mut self, after: &mut u64) -> Result<(), EngineError> {
        self.events.clear();
        self.events.reserve(self.rows.len());
        for row in self.rows.iter() {
            let seq = row.seq();
            if seq != *after + 1 {
                return Err(StoreError::Tampered {
                    seq: *after + 1,
                    reason: format!(
                        "event {} is missing (event {seq} follows {after})",
                        *after + 1
                    ),
                }
                .into());
            }
            let event: LogEvent = serde_json::from_str(row.payload())
                .map_err(|err| StoreError::Corrupt(format!("event {seq}: {err}")))?;
            self.events.push(event);
            *after = seq;
        }
        Ok(())
    }

    /// Applies the decoded events, in order, with the streams each was
    /// stored in.
    fn apply_to(&self, st: &mut EngineState) {
        for (row, event) in self.rows.iter().zip(&self.events) {
            st.apply(event, row.streams());
        }
    }
}

/// Applies every stored event after `st`'s position, in log order.
///
/// A short tail (one partial page: the usual resync) is read, decoded and
/// applied on this thread. A longer log is read and decoded by two helper
/// threads, page by page in turn (page `k` by helper `k % 2`), while this
/// thread applies the decoded pages in order: decoding is pure and costs
/// more than applying, so on two cores the three overlap. Each helper keeps
/// at most two decoded pages waiting. Applied pages go back to the helper
/// that decoded them, which frees their events there (freeing on the
/// applying thread memory another thread allocated makes the allocator lock
/// that thread's arena, which it is busy allocating in) and reads the next
/// page into their buffers: a page read allocates no row buffer once the
/// pages in flight are big enough (one `String` per payload made glibc
/// consolidate its free lists on every payload of 1 KB or more).
///
/// The helpers stop at the first page shorter than [`PAGE`]. A store may
/// return short pages before the end of its log (`read_replay_page`
/// promises at most `limit` events), so the rest is always read on this
/// thread, page by page, until a page comes back empty.
pub(super) fn catch_up<S: Store + ?Sized>(
    store: &S,
    st: &mut EngineState,
) -> Result<(), EngineError> {
    let mut helpers_done = false;
    let mut page = Decoded::default();
    loop {
        store.read_replay_page(st.durable.position, PAGE, &mut page.rows)?;
        if page.rows.is_empty() {
            return Ok(());
        }
        let full = page.rows.len() == PAGE;
        let mut after = st.durable.position;
        page.decode(&mut after)?;
        page.apply_to(st);
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
                let (back_tx, back_rx) = std::sync::mpsc::channel::<Decoded>();
                scope.spawn(move || {
                    // Pages are contiguous seq ranges (the log has no gaps;
                    // Decoded::decode checks it), so helper k knows its own.
                    let mut page_start = after + k * PAGE as u64;
                    let mut spare: Vec<Decoded> = Vec::new();
                    loop {
                        while let Ok(mut applied) = back_rx.try_recv() {
                            applied.events.clear();
                            spare.push(applied);
                        }
                        let mut page = spare.pop().unwrap_or_default();
                        let read = store
                            .read_replay_page(page_start, PAGE, &mut page.rows)
                            .map_err(EngineError::from)
                            .and_then(|()| {
                                let mut last = page_start;
                                page.decode(&mut last)
                            });
                        let page = match read {
                            Ok(()) if page.rows.is_empty() => return,
                            Ok(()) => Ok(page),
                            Err(e) => Err(e),
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
            let page: Decoded = page?;
            let short = page.len() < PAGE;
            page.apply_to(st);
            // A helper that has stopped hands the page back: dropped here.
            let _ = back.send(page);
            if short {
                return Ok(());
            }
            k = (k + 1) % receivers.len();
        }
    })
}
