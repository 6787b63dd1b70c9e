//! The tamper-evident hash chain: every stored event carries the SHA-256 of
//! the previous event and its own hash over (previous hash, seq, stream,
//! stream version, kind, payload). [`verify_store`] walks a log and reports
//! the first event whose links do not hold, a gap in the sequence, or a log
//! shorter than its recorded head.

use sha2::{Digest, Sha256};

use crate::types::{StoredEvent, VerifyReport};
use crate::{Store, StoreError};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an event, as lower-case hex.
pub fn event_hash(
    prev_hash: &str,
    seq: u64,
    stream: &str,
    stream_version: u64,
    kind: &str,
    payload: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(stream.as_bytes());
    h.update(b"\n");
    h.update(stream_version.to_string().as_bytes());
    h.update(b"\n");
    h.update(kind.as_bytes());
    h.update(b"\n");
    h.update(payload.as_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// Checks one event against the previous hash; `Err` says what is wrong.
pub fn check_link(prev_hash: &str, expected_seq: u64, e: &StoredEvent) -> Result<(), String> {
    if e.seq != expected_seq {
        return Err(format!(
            "expected event {expected_seq}, found {} (an event is missing)",
            e.seq
        ));
    }
    if e.prev_hash != prev_hash {
        return Err("prev_hash does not match the previous event's hash".into());
    }
    let h = event_hash(
        &e.prev_hash,
        e.seq,
        &e.stream,
        e.stream_version,
        &e.kind,
        &e.payload,
    );
    if h != e.hash {
        return Err("content does not match its hash (the event was changed)".into());
    }
    Ok(())
}

/// Walks every event of `store` in pages.
pub fn verify_store<S: Store + ?Sized>(store: &S) -> Result<VerifyReport, StoreError> {
    let mut prev = GENESIS.to_string();
    let mut next = 1_u64;
    let mut count = 0_u64;
    loop {
        let page = store.read_from(next - 1, 10_000)?;
        if page.is_empty() {
            break;
        }
        for e in page {
            if let Err(why) = check_link(&prev, next, &e) {
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
