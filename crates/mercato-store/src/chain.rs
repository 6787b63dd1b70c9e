//! The tamper-evident hash chain: every stored event carries the hash of
//! the previous event and its own hash over (previous hash, seq, stream,
//! stream version, kind, payload, further streams).
//!
//! Two modes ([`Chain`]):
//!
//! - **SHA-256** (the default): detects any change, deletion or reordering
//!   by someone who does not recompute the hashes after it. Anyone who can
//!   write the database can re-chain a forged suffix, though.
//! - **HMAC-SHA256** with a [`ChainKey`] that the application holds and the
//!   database never sees: nobody without the key can produce a valid link,
//!   so a re-chained suffix is detected too — already by the O(1) check of
//!   the last event when a store is opened ([`check_tail`]).
//!
//! [`verify_store`] walks a whole log and reports the first event whose
//! links do not hold, a gap in the sequence, or a log shorter than its
//! recorded head. Snapshots are sealed with the same chain ([`Chain::seal`])
//! and checked against the event they claim to follow ([`check_snapshot`]).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::types::{ChainTail, SnapshotRecord, StoredEvent, VerifyReport};
use crate::{Store, StoreError};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A secret key for the keyed (HMAC-SHA256) chain. The application keeps
/// it (a secrets manager, a file outside the database's backups...); it is
/// never stored. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct ChainKey(Vec<u8>);

impl ChainKey {
    /// Fewest key bytes accepted.
    pub const MIN_LEN: usize = 16;

    /// A key from raw bytes; at least [`ChainKey::MIN_LEN`] of them.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<ChainKey, StoreError> {
        let bytes = bytes.into();
        if bytes.len() < Self::MIN_LEN {
            return Err(StoreError::ChainKey(format!(
                "a chain key needs at least {} bytes, got {}",
                Self::MIN_LEN,
                bytes.len()
            )));
        }
        Ok(ChainKey(bytes))
    }

    /// A key from its hex form (what `audit --chain-key-file` reads).
    pub fn from_hex(hex: &str) -> Result<ChainKey, StoreError> {
        let hex = hex.trim();
        if !hex.len().is_multiple_of(2) {
            return Err(StoreError::ChainKey(
                "a hex key has an even number of digits".into(),
            ));
        }
        let mut bytes = Vec::with_capacity(hex.len() / 2);
        for pair in hex.as_bytes().chunks(2) {
            let digit = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            };
            match (digit(pair[0]), pair.get(1).and_then(|c| digit(*c))) {
                (Some(h), Some(l)) => bytes.push(h << 4 | l),
                _ => {
                    return Err(StoreError::ChainKey(
                        "a hex key holds only the digits 0-9 and a-f".into(),
                    ));
                }
            }
        }
        ChainKey::new(bytes)
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainKey({} bytes)", self.0.len())
    }
}

/// How a store links its events and seals its snapshots.
///
/// ```
/// use mercato_store::{Chain, ChainKey, GENESIS};
///
/// let plain = Chain::sha256();
/// let keyed = Chain::hmac(ChainKey::new(*b"0123456789abcdef").unwrap());
/// let a = plain.link(GENESIS, 1, "order/o1", 1, &[], "placed", "{}");
/// let b = keyed.link(GENESIS, 1, "order/o1", 1, &[], "placed", "{}");
/// assert_ne!(a, b, "without the key nobody can compute a keyed link");
/// assert_eq!(a.len(), 64);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Chain {
    /// Plain SHA-256 links.
    #[default]
    Sha256,
    /// HMAC-SHA256 links under the application's key.
    Hmac(ChainKey),
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// Where a hash input goes: a plain digest or a keyed MAC.
enum Hasher {
    Plain(Sha256),
    Keyed(Hmac<Sha256>),
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Plain(h) => Digest::update(h, bytes),
            Hasher::Keyed(h) => Mac::update(h, bytes),
        }
    }

    fn finish(self) -> String {
        match self {
            Hasher::Plain(h) => hex(&h.finalize()),
            Hasher::Keyed(h) => hex(&h.finalize().into_bytes()),
        }
    }
}

impl Chain {
    /// The plain SHA-256 chain.
    pub fn sha256() -> Chain {
        Chain::Sha256
    }

    /// The keyed chain.
    pub fn hmac(key: ChainKey) -> Chain {
        Chain::Hmac(key)
    }

    fn hasher(&self) -> Hasher {
        match self {
            Chain::Sha256 => Hasher::Plain(Sha256::new()),
            Chain::Hmac(key) => match Hmac::<Sha256>::new_from_slice(&key.0) {
                Ok(mac) => Hasher::Keyed(mac),
                // HMAC takes keys of any length; keep a total function anyway.
                Err(_) => Hasher::Plain(Sha256::new()),
            },
        }
    }

    /// The hash of an event, as lower-case hex. `also` (the further streams
    /// the event belongs to) is covered only when it is not empty, so the
    /// links of events stored before it existed stay valid.
    #[allow(clippy::too_many_arguments)]
    pub fn link(
        &self,
        prev_hash: &str,
        seq: u64,
        stream: &str,
        stream_version: u64,
        also: &[String],
        kind: &str,
        payload: &str,
    ) -> String {
        let mut h = self.hasher();
        h.update(prev_hash.as_bytes());
        h.update(b"\n");
        let mut digits = itoa::Buffer::new();
        h.update(digits.format(seq).as_bytes());
        h.update(b"\n");
        h.update(stream.as_bytes());
        h.update(b"\n");
        h.update(digits.format(stream_version).as_bytes());
        h.update(b"\n");
        h.update(kind.as_bytes());
        h.update(b"\n");
        h.update(payload.as_bytes());
        for s in also {
            // Length-prefixed: no stream name can fake a boundary.
            h.update(b"\nalso:");
            h.update(digits.format(s.len()).as_bytes());
            h.update(b":");
            h.update(s.as_bytes());
        }
        h.finish()
    }

    /// The hash of a stored event, recomputed from its fields.
    pub fn link_of(&self, e: &StoredEvent) -> String {
        self.link(
            &e.prev_hash,
            e.seq,
            &e.stream,
            e.stream_version,
            &e.also,
            &e.kind,
            &e.payload,
        )
    }

    /// The seal of a snapshot: binds the state to the event it follows.
    /// With SHA-256 it detects a damaged snapshot, and one moved to another
    /// place in the log; with HMAC also one forged by a database writer.
    pub fn seal(&self, seq: u64, chain_hash: &str, state: &str) -> String {
        let mut h = self.hasher();
        h.update(b"mercato snapshot v1\n");
        h.update(seq.to_string().as_bytes());
        h.update(b"\n");
        h.update(chain_hash.as_bytes());
        h.update(b"\n");
        h.update(state.as_bytes());
        h.finish()
    }

    /// What a store records to recognise its chain when it is opened again
    /// (`sha256`, or `hmac-sha256:` and a check value of the key that does
    /// not reveal it): opening with another mode or key is refused.
    pub fn fingerprint(&self) -> String {
        match self {
            Chain::Sha256 => "sha256".to_string(),
            Chain::Hmac(_) => {
                let mut h = self.hasher();
                h.update(b"mercato chain key check v1");
                let check = h.finish();
                format!("hmac-sha256:{}", check.get(..32).unwrap_or(&check))
            }
        }
    }

    /// Refuses a recorded fingerprint that is not this chain's.
    pub fn check_fingerprint(&self, recorded: &str) -> Result<(), StoreError> {
        if recorded == self.fingerprint() {
            return Ok(());
        }
        let what = match (self, recorded.starts_with("hmac-sha256:")) {
            (Chain::Sha256, true) => {
                "the log is chained with a key (HMAC-SHA256): open it with that key"
            }
            (Chain::Hmac(_), false) => {
                "the log is chained without a key (SHA-256); a key was given"
            }
            (Chain::Hmac(_), true) => "the chain key is not the one this log was written with",
            (Chain::Sha256, false) => "the log records an unknown chain mode",
        };
        Err(StoreError::ChainKey(format!(
            "{what} (recorded `{recorded}`)"
        )))
    }
}

/// The hash of an event in the plain SHA-256 chain (an event without
/// further streams), as lower-case hex.
pub fn event_hash(
    prev_hash: &str,
    seq: u64,
    stream: &str,
    stream_version: u64,
    kind: &str,
    payload: &str,
) -> String {
    Chain::Sha256.link(prev_hash, seq, stream, stream_version, &[], kind, payload)
}

/// Checks one event against the previous hash; `Err` says what is wrong.
pub fn check_link(
    chain: &Chain,
    prev_hash: &str,
    expected_seq: u64,
    e: &StoredEvent,
) -> Result<(), String> {
    if e.seq != expected_seq {
        return Err(format!(
            "expected event {expected_seq}, found {} (an event is missing)",
            e.seq
        ));
    }
    if e.prev_hash != prev_hash {
        return Err("prev_hash does not match the previous event's hash".into());
    }
    if chain.link_of(e) != e.hash {
        return Err("content does not match its hash (the event was changed)".into());
    }
    Ok(())
}

/// Walks every event of `store` in pages.
pub fn verify_store<S: Store + ?Sized>(store: &S) -> Result<VerifyReport, StoreError> {
    let chain = store.chain();
    let mut prev = GENESIS.to_string();
    let mut next = 1_u64;
    let mut count = 0_u64;
    loop {
        let page = store.read_from(next - 1, 10_000)?;
        if page.is_empty() {
            break;
        }
        for e in page {
            if let Err(why) = check_link(chain, &prev, next, &e) {
                return Ok(VerifyReport {
                    events: count,
                    first_break: Some((next, why)),
                });
            }
            prev = e.hash;
            next += 1;
            count += 1;
        }
    }
    let (head_seq, head_hash) = store.chain_head()?;
    if head_seq != count || (count > 0 && head_hash != prev) {
        return Ok(VerifyReport {
            events: count,
            first_break: Some((
                count + 1,
                format!("log ends at event {count} but its recorded head is event {head_seq}"),
            )),
        });
    }
    Ok(VerifyReport {
        events: count,
        first_break: None,
    })
}

fn tampered(seq: u64, reason: impl Into<String>) -> StoreError {
    StoreError::Tampered {
        seq,
        reason: reason.into(),
    }
}

/// The O(1) check a store gets when it is opened: the log ends exactly at
/// the recorded chain head, and the last event's hash, recomputed with
/// `store.chain()`, is the recorded one. Detects a truncated or extended
/// log, a changed last event, a wrong key and — with the keyed chain — any
/// suffix re-chained without the key. A change further back is found by
/// [`verify_store`] only. Returns the head `(seq, hash)`.
pub fn check_tail<S: Store + ?Sized>(store: &S) -> Result<(u64, String), StoreError> {
    let ChainTail {
        head_seq,
        head_hash,
        events,
    } = store.tail()?;
    let mut it = events.into_iter();
    if head_seq == 0 {
        if let Some(e) = it.next() {
            return Err(tampered(
                e.seq,
                "the recorded chain head is empty but the log holds events",
            ));
        }
        return Ok((0, GENESIS.to_string()));
    }
    let Some(last) = it.next() else {
        return Err(tampered(
            head_seq,
            format!(
                "the recorded chain head is event {head_seq}, which is missing (the log was truncated)"
            ),
        ));
    };
    if last.seq != head_seq {
        return Err(tampered(
            head_seq,
            format!(
                "the recorded chain head is event {head_seq} but the log has event {} there",
                last.seq
            ),
        ));
    }
    if let Some(extra) = it.next() {
        return Err(tampered(
            extra.seq,
            format!(
                "event {} lies beyond the recorded chain head {head_seq}",
                extra.seq
            ),
        ));
    }
    if last.hash != head_hash {
        return Err(tampered(
            head_seq,
            "the last event's hash is not the recorded chain head",
        ));
    }
    if store.chain().link_of(&last) != last.hash {
        return Err(tampered(
            head_seq,
            "the last event does not match its hash (changed, or chained with another key)",
        ));
    }
    Ok((head_seq, head_hash))
}

/// Builds the record of a snapshot of the state as of event `seq`.
pub fn snapshot_record<S: Store + ?Sized>(
    store: &S,
    seq: u64,
    state: String,
) -> Result<SnapshotRecord, StoreError> {
    let chain_hash = event_hash_at(store, seq)?;
    let seal = store.chain().seal(seq, &chain_hash, &state);
    Ok(SnapshotRecord {
        seq,
        chain_hash,
        seal,
        state,
    })
}

fn event_hash_at<S: Store + ?Sized>(store: &S, seq: u64) -> Result<String, StoreError> {
    if seq == 0 {
        return Ok(GENESIS.to_string());
    }
    match store.read_from(seq - 1, 1)?.into_iter().next() {
        Some(e) if e.seq == seq => Ok(e.hash),
        _ => Err(tampered(seq, format!("event {seq} is missing"))),
    }
}

/// Checks a loaded snapshot: its seal is right for its state and position,
/// and the event it claims to follow is in the log with that hash.
pub fn check_snapshot<S: Store + ?Sized>(
    store: &S,
    snapshot: &SnapshotRecord,
) -> Result<(), StoreError> {
    let refused = |reason: String| StoreError::SnapshotRejected {
        seq: snapshot.seq,
        reason,
    };
    let seal = store
        .chain()
        .seal(snapshot.seq, &snapshot.chain_hash, &snapshot.state);
    if seal != snapshot.seal {
        return Err(refused(
            "its seal does not match its state (the snapshot was changed)".into(),
        ));
    }
    let at = event_hash_at(store, snapshot.seq).map_err(|_| {
        refused(format!(
            "it follows event {}, which is not in the log",
            snapshot.seq
        ))
    })?;
    if at != snapshot.chain_hash {
        return Err(refused(format!(
            "it records another hash for event {} than the log holds",
            snapshot.seq
        )));
    }
    Ok(())
}
