//! The webhook relay example (`examples/relay.rs`) against a local
//! receiver that fails the first attempts of every event: no event is
//! lost, they arrive in log order, every signature checks; after a crash
//! between a 2xx and its acknowledgement the restarted relay delivers
//! again only what was not acknowledged, with the same delivery id.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, KeyInit, Mac};
use mercato::core::Currency;
use mercato::sqlite::{SqliteOptions, SqliteStore};
use mercato::{Engine, PlaceOrderRequest, Settings, SystemClock};
use serde_json::Value;
use sha2::Sha256;

const SECRET: &str = "whsec-test-0123456789";

#[path = "support/examples.rs"]
mod examples;
use examples::example;

/// What the receiver saw: every attempt (delivery id, answered status) and
/// the accepted deliveries in arrival order.
#[derive(Default)]
struct Seen {
    attempts: Vec<(String, u16)>,
    accepted: Vec<(String, Value)>,
    bad_signatures: usize,
}

/// A receiver that answers 503 to the first `fail` attempts of each
/// delivery id, then 200.
fn receiver(fail: usize) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut tries: HashMap<String, usize> = HashMap::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut headers = HashMap::new();
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            loop {
                line.clear();
                r.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers["content-length"].parse().unwrap();
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let id = headers["mercato-delivery"].clone();
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(&body);
            let want: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let n = tries.entry(id.clone()).or_insert(0);
            *n += 1;
            let status = if *n <= fail { 503 } else { 200 };
            let mut g = s.lock().unwrap();
            if headers["mercato-signature"] != format!("sha256={want}") {
                g.bad_signatures += 1;
            }
            g.attempts.push((id.clone(), status));
            if status == 200 {
                g.accepted
                    .push((id, serde_json::from_slice(&body).unwrap()));
            }
            drop(g);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (addr, seen)
}

fn relay(db: &std::path::Path, addr: &str, extra: &[&str]) -> std::process::ExitStatus {
    let url = format!("http://{addr}/hooks");
    Command::new(example("relay"))
        .args([
            "--db",
            db.to_str().unwrap(),
            "--url",
            &url,
            "--once",
            "--seed",
            "7",
            "--max-backoff-ms",
            "20",
        ])
        .args(extra)
        .env("MERCATO_RELAY_SECRET", SECRET)
        .stderr(Stdio::null())
        .status()
        .unwrap()
}

fn shop(db: &std::path::Path) -> Engine<SqliteStore, SystemClock> {
    let e = Engine::open(
        SqliteStore::open(db, SqliteOptions::default()).unwrap(),
        SystemClock,
    )
    .unwrap();
    e.configure(Currency::CNY, Settings::default()).unwrap();
    e.add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "12.00"}"#).unwrap())
        .unwrap();
    e.adjust_stock("tea", "main", 10, "received").unwrap();
    e
}

fn sell(e: &Engine<SqliteStore, SystemClock>, id: &str) {
    let p = e
        .place_order(PlaceOrderRequest::new(id).line("tea", 1), Some(id))
        .unwrap();
    e.pay(id, p.quote.totals.payable, None).unwrap();
}

#[test]
fn the_relay_loses_nothing_keeps_order_and_repeats_only_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let engine = shop(&db);
    sell(&engine, "o1");
    sell(&engine, "o2");
    let (addr, seen) = receiver(2);

    // Every event fails twice, then lands: all delivered, in order, once.
    assert!(relay(&db, &addr, &[]).success());
    let feed = engine.feed(0, 10_000).unwrap();
    let ids: Vec<String> = feed.events.iter().map(|e| e.id.clone()).collect();
    {
        let g = seen.lock().unwrap();
        let accepted: Vec<String> = g.accepted.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(accepted, ids, "no loss, no duplicate, log order");
        assert_eq!(
            g.attempts.len(),
            3 * ids.len(),
            "two refused attempts each, same id"
        );
        assert_eq!(g.bad_signatures, 0);
        assert_eq!(g.accepted[0].1["id"], Value::String(ids[0].clone()));
    }
    assert_eq!(
        engine.consumer_checkpoint("relay").unwrap(),
        Some(feed.next)
    );

    // Nothing new: a restart delivers nothing.
    assert!(relay(&db, &addr, &[]).success());
    assert_eq!(seen.lock().unwrap().accepted.len(), ids.len());

    // A crash right after the 2nd delivery's 2xx, before its ack.
    sell(&engine, "o3");
    let before = seen.lock().unwrap().accepted.len();
    let crashed = relay(&db, &addr, &["--crash-after", "2"]);
    assert!(!crashed.success(), "the relay aborted");
    assert!(relay(&db, &addr, &[]).success());
    let all = engine.feed(0, 10_000).unwrap();
    let new_ids: Vec<String> = all.events[ids.len()..]
        .iter()
        .map(|e| e.id.clone())
        .collect();
    let g = seen.lock().unwrap();
    let after: Vec<String> = g.accepted[before..]
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    // The first two were delivered before the crash; what was not
    // acknowledged is delivered again with the same ids, then the rest.
    let mut unique = Vec::new();
    for id in &after {
        if !unique.contains(id) {
            unique.push(id.clone());
        }
    }
    assert_eq!(unique, new_ids, "no loss and log order after the crash");
    assert!(after.len() > new_ids.len(), "a duplicate after the crash");
    assert!(
        after.len() <= new_ids.len() + 2,
        "at most the unacknowledged ones again"
    );
    for id in &after[2..after.len() - (new_ids.len() - 2)] {
        assert!(
            after[..2].contains(id),
            "a repeat carries a delivery id seen before: {id}"
        );
    }
    assert_eq!(engine.consumer_checkpoint("relay").unwrap(), Some(all.next));
}
