//! Crash safety: a child process places and pays orders on an SQLite file
//! and reports each acknowledged order; the parent kills it with SIGKILL at
//! a random point, several rounds over the same file, then checks that every
//! acknowledged order is there, no order is half-written, stock adds up and
//! the hash chain verifies. Odd rounds run the engine with
//! `Concurrency::Locked` (batches decided and written under the store's
//! write lock), even rounds optimistically.
//!
//! The child is this same test binary, started with `MERCATO_CRASH_CHILD`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mercato::core::Currency;
use mercato::core::order::OrderStatus;
use mercato::rules::CartLine;
use mercato::sqlite::{SqliteOptions, SqliteStore};
use mercato::store::Store;
use mercato::{Concurrency, Engine, EngineOptions, PlaceOrderRequest, Settings, SystemClock};

const STOCK: i64 = 1_000_000;

fn child(path: &str, round: usize) {
    let options = EngineOptions {
        concurrency: if round % 2 == 1 {
            Concurrency::Locked
        } else {
            Concurrency::Optimistic
        },
        ..EngineOptions::default()
    };
    let engine = Engine::with_options(
        SqliteStore::open(path, SqliteOptions::default()).unwrap(),
        SystemClock,
        options,
    )
    .unwrap();
    if round == 0 {
        engine
            .configure(Currency::CNY, Settings::default())
            .unwrap();
        engine
            .add_catalog_item(serde_json::from_str(r#"{"sku": "a", "price": "3.00"}"#).unwrap())
            .unwrap();
        engine.adjust_stock("a", "main", STOCK, "received").unwrap();
        println!("ready");
    }
    let mut i = 0;
    loop {
        let id = format!("r{round}-{i}");
        let p = engine
            .place_order(
                PlaceOrderRequest {
                    id: id.clone(),
                    customer: None,
                    lines: vec![CartLine {
                        sku: "a".into(),
                        qty: 1 + (i % 3) as i64,
                    }],
                    coupons: vec![],
                    points: 0,
                    channel: None,
                },
                None,
            )
            .unwrap();
        println!("placed {id}");
        if i % 2 == 0 {
            engine.pay(&id, p.quote.totals.payable, None).unwrap();
            println!("paid {id}");
        }
        i += 1;
    }
}

#[test]
fn crash_child() {
    // Does nothing unless started by `killed_writers_lose_nothing_acknowledged`.
    if let (Ok(path), Ok(round)) = (
        std::env::var("MERCATO_CRASH_CHILD"),
        std::env::var("MERCATO_CRASH_ROUND"),
    ) {
        child(&path, round.parse().unwrap());
    }
}

#[test]
fn killed_writers_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let exe = std::env::current_exe().unwrap();
    let mut placed: Vec<String> = Vec::new();
    let mut paid: Vec<String> = Vec::new();
    // Deterministic "random" kill points.
    let delays_ms = [150_u64, 40, 230, 90, 310];
    for (round, delay) in delays_ms.iter().enumerate() {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("MERCATO_CRASH_CHILD", &path)
            .env("MERCATO_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => lines.push(l),
                    Err(_) => break,
                }
            }
            lines
        });
        let start = Instant::now();
        // Let it get going (the first round also sets the shop up), then kill.
        std::thread::sleep(Duration::from_millis(
            *delay + if round == 0 { 300 } else { 100 },
        ));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        for l in lines {
            if let Some(id) = l.strip_prefix("placed ") {
                placed.push(id.to_string());
            } else if let Some(id) = l.strip_prefix("paid ") {
                paid.push(id.to_string());
            }
        }
        assert!(start.elapsed() < Duration::from_secs(60));
    }
    assert!(
        placed.len() > 20,
        "the children acknowledged only {} orders",
        placed.len()
    );
    eprintln!(
        "crash test: {} orders placed, {} paid over {} kills",
        placed.len(),
        paid.len(),
        delays_ms.len()
    );

    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    let report = store.verify().unwrap();
    assert!(
        report.ok(),
        "hash chain after crashes: {:?}",
        report.first_break
    );
    let state = mercato::rebuild(&store).unwrap();
    let shop = state.shop();
    for id in &placed {
        assert!(
            shop.order(id).is_some(),
            "acknowledged order {id} is missing"
        );
    }
    for id in &paid {
        assert_eq!(
            shop.order(id).map(|o| o.status),
            Some(OrderStatus::Paid),
            "acknowledged payment of {id} is missing"
        );
    }
    // No half-written order: every order has its stock held or sold, and the
    // ledger adds up to what was received.
    let mut held = 0;
    let mut sold = 0;
    for o in shop.orders() {
        let units: i64 = o.quote.lines.iter().map(|l| l.qty).sum();
        let allocated: i64 = o.allocations.iter().map(|a| a.qty).sum();
        assert_eq!(units, allocated, "order {} is not fully allocated", o.id);
        match o.status {
            OrderStatus::Paid => sold += units,
            OrderStatus::PendingPayment => {
                held += units;
                assert!(
                    shop.stock().reservation(&o.id).is_some(),
                    "pending order {} holds no stock",
                    o.id
                );
            }
            other => panic!("unexpected status {other:?}"),
        }
    }
    let level = shop.stock().level("a");
    assert_eq!(level.on_hand, STOCK - sold);
    assert_eq!(level.reserved, held);
}
