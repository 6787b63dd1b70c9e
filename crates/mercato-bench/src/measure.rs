//! The measurements: the disk's fsync rate, Redis + Lua (`EVALSHA`), the raw
//! SQLite floor (conditional `UPDATE` + `INSERT` per order, batched), and
//! mercato's flash-sale path (place + pay) on SQLite and in memory.
//!
//! The measurements write only files they create themselves (a file that
//! is already there is an error, never overwritten) and remove only those.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mercato::core::Currency;
use mercato::rules::CartLine;
use mercato::store::Store;
use mercato::{Engine, EngineError, PlaceOrderRequest, Request, Settings, SystemClock};

use crate::Figure;

/// The disk's fsync rate: 512-byte append + `fsync`, for `duration`, on a
/// new file `fsync.probe` in `dir` (an existing one is an error), removed
/// afterwards.
pub fn fsync_rate(dir: &std::path::Path, duration: Duration) -> std::io::Result<Figure> {
    use std::io::Write;
    let path = dir.join("fsync.probe");
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)?;
    let buf = [7_u8; 512];
    let start = Instant::now();
    let mut n = 0_u64;
    while start.elapsed() < duration {
        f.write_all(&buf)?;
        f.sync_all()?;
        n += 1;
    }
    let fig = Figure::new("disk_fsync", 1, n, start.elapsed());
    drop(f);
    // Ours: created above with `create_new`.
    std::fs::remove_file(&path)?;
    Ok(fig)
}

/// The flash-sale step in Lua: take one unit when stock is left and the
/// customer is under the limit.
pub const LUA_FLASH: &str = r"
local stock = tonumber(redis.call('GET', KEYS[1]) or '0')
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if stock >= 1 and mine < tonumber(ARGV[2]) then
  redis.call('DECRBY', KEYS[1], 1)
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  return 1
end
return 0
";

/// Redis + Lua: `clients` connections race `ops` EVALSHA calls in total
/// against one stock key (stock large enough that every call succeeds).
pub fn redis_flash(url: &str, clients: u32, ops: u64, system: &str) -> redis::RedisResult<Figure> {
    let client = redis::Client::open(url)?;
    {
        let mut c = client.get_connection()?;
        redis::cmd("SET")
            .arg("flash:stock")
            .arg(ops * 2)
            .query::<()>(&mut c)?;
        redis::cmd("DEL").arg("flash:bought").query::<()>(&mut c)?;
    }
    let script = redis::Script::new(LUA_FLASH);
    let per = (ops / u64::from(clients)).max(1);
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..clients {
        let client = client.clone();
        let script = script.clone();
        handles.push(std::thread::spawn(move || -> redis::RedisResult<u64> {
            let mut c = client.get_connection()?;
            let mut ok = 0;
            for i in 0..per {
                let r: i64 = script
                    .key("flash:stock")
                    .key("flash:bought")
                    .arg(format!("c{t}-{i}"))
                    .arg(5)
                    .invoke(&mut c)?;
                ok += u64::from(r == 1);
            }
            Ok(ok)
        }));
    }
    let mut done = 0;
    for h in handles {
        done += h.join().map_err(|_| {
            redis::RedisError::from((redis::ErrorKind::Io, "client thread panicked"))
        })??;
    }
    Ok(Figure::new(system, clients, done, start.elapsed()))
}

/// The raw SQLite floor: per order a conditional stock `UPDATE` and an
/// order `INSERT`, `batch` orders per `BEGIN IMMEDIATE` transaction, on a
/// database with `synchronous=FULL` (WAL). The database is created new at
/// `path` (an existing file is an error) and removed afterwards.
pub fn raw_sqlite(path: &std::path::Path, batch: u32, ops: u64) -> Result<Figure, String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| err(&e))?;
    let fig = raw_sqlite_on(path, batch, ops).map_err(|e| err(&e))?;
    // Ours: the file was created above, its `-wal`/`-shm` by SQLite for it.
    for suffix in ["", "-wal", "-shm"] {
        match std::fs::remove_file(format!("{}{suffix}", path.display())) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(&e)),
        }
    }
    Ok(fig)
}

fn raw_sqlite_on(path: &std::path::Path, batch: u32, ops: u64) -> rusqlite::Result<Figure> {
    let mut c = rusqlite::Connection::open(path)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.execute_batch(
        "CREATE TABLE stock (sku TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0));
         CREATE TABLE orders (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, customer TEXT NOT NULL, amount TEXT NOT NULL);",
    )?;
    c.execute(
        "INSERT INTO stock VALUES ('phone', ?1)",
        [i64::try_from(ops * 2).unwrap_or(i64::MAX)],
    )?;
    let start = Instant::now();
    let mut done = 0_u64;
    while done < ops {
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut upd =
                tx.prepare_cached("UPDATE stock SET n = n - 1 WHERE sku = 'phone' AND n >= 1")?;
            let mut ins = tx.prepare_cached(
                "INSERT INTO orders (sku, customer, amount) VALUES ('phone', ?1, '999.00')",
            )?;
            for _ in 0..batch {
                if upd.execute([])? == 1 {
                    ins.execute([format!("c{done}")])?;
                }
                done += 1;
            }
        }
        tx.commit()?;
    }
    Ok(Figure::new(
        "raw_sqlite_full_batch",
        batch,
        done,
        start.elapsed(),
    ))
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, EngineError> {
    serde_json::from_str(s).map_err(|e| EngineError::InvalidInput(e.to_string()))
}

/// A flash-sale shop: one SKU with plenty of stock, a flash price with a
/// per-customer limit.
pub fn flash_shop<S: Store + 'static>(
    store: S,
    units: i64,
) -> Result<Engine<S, SystemClock>, EngineError> {
    let e = Engine::open(store, SystemClock)?;
    e.configure(Currency::CNY, Settings::default())?;
    e.add_catalog_item(json(r#"{"sku": "phone", "price": "1999.00"}"#)?)?;
    e.add_promotion(json(
        r#"{"id": "flash", "kind": "price", "price": "999.00", "per_customer_limit": 5, "scope": {"skus": ["phone"]}}"#,
    )?)?;
    e.adjust_stock("phone", "main", units, "flash stock")?;
    Ok(e)
}

/// mercato's flash-sale path: `callers` threads place and pay `ops`
/// single-unit orders in total, each for a distinct customer.
pub fn mercato_flash<S: Store + 'static>(
    engine: &Arc<Engine<S, SystemClock>>,
    callers: u32,
    ops: u64,
    system: &str,
    next: &Arc<AtomicU64>,
) -> Result<Figure, EngineError> {
    let per = (ops / u64::from(callers)).max(1);
    let first = next.fetch_add(per * u64::from(callers), Ordering::SeqCst);
    for i in 0..per * u64::from(callers) {
        engine.register_customer(&format!("c{}", first + i), None, 0)?;
    }
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..u64::from(callers) {
        let engine = Arc::clone(engine);
        handles.push(std::thread::spawn(move || -> Result<u64, EngineError> {
            let mut ok = 0;
            for i in 0..per {
                let n = first + t * per + i;
                let p = engine.place_order(
                    PlaceOrderRequest {
                        id: format!("o{n}"),
                        customer: Some(format!("c{n}")),
                        lines: vec![CartLine {
                            sku: "phone".into(),
                            qty: 1,
                        }],
                        coupons: vec![],
                        points: 0,
                        channel: Some("flash".into()),
                    },
                    None,
                )?;
                engine.pay(&p.order, p.quote.totals.payable, None)?;
                ok += 1;
            }
            Ok(ok)
        }));
    }
    let mut done = 0;
    for h in handles {
        done += h
            .join()
            .map_err(|_| EngineError::InvalidInput("caller thread panicked".into()))??;
    }
    Ok(Figure::new(system, callers, done, start.elapsed()))
}

/// mercato's flash-sale path with orders in flight: `threads` threads each
/// keep `inflight` orders submitted ([`Engine::submit`]) before waiting —
/// each place followed at once by the pay of the quoted price, decided on
/// top of the place still in flight, so both commits share a batch — then
/// wait for all the answers. `threads × inflight` orders are in flight
/// without a thread each. Reported with `callers = threads × inflight`.
pub fn mercato_flash_inflight<S: Store + 'static>(
    engine: &Arc<Engine<S, SystemClock>>,
    threads: u32,
    inflight: u32,
    ops: u64,
    system: &str,
    next: &Arc<AtomicU64>,
) -> Result<Figure, EngineError> {
    let threads = threads.max(1);
    let callers = threads.saturating_mul(inflight.max(1));
    let inflight = u64::from(inflight.max(1));
    // Whole rounds of `inflight` orders per thread.
    let per = (ops / u64::from(threads) / inflight).max(1) * inflight;
    let first = next.fetch_add(per * u64::from(threads), Ordering::SeqCst);
    for i in 0..per * u64::from(threads) {
        engine.register_customer(&format!("c{}", first + i), None, 0)?;
    }
    let phone = || {
        vec![CartLine {
            sku: "phone".into(),
            qty: 1,
        }]
    };
    // The price every new buyer is quoted.
    let price = engine
        .quote(&mercato::rules::Cart {
            customer: Some(format!("c{first}")),
            lines: phone(),
            coupons: vec![],
            points: 0,
        })?
        .totals
        .payable
        .amount();
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..u64::from(threads) {
        let engine = Arc::clone(engine);
        handles.push(std::thread::spawn(move || -> Result<u64, EngineError> {
            let mut ok = 0;
            let mut round = 0;
            while round < per {
                let calls: Vec<(Request, Request)> = (round..round + inflight)
                    .map(|i| {
                        let n = first + t * per + i;
                        (
                            Request::PlaceOrder(PlaceOrderRequest {
                                id: format!("o{n}"),
                                customer: Some(format!("c{n}")),
                                lines: phone(),
                                coupons: vec![],
                                points: 0,
                                channel: Some("flash".into()),
                            }),
                            Request::Pay {
                                order: format!("o{n}"),
                                amount: price,
                            },
                        )
                    })
                    .collect();
                let pending: Vec<_> = calls
                    .iter()
                    .map(|(place, pay)| (engine.submit(place, None), engine.submit(pay, None)))
                    .collect();
                for (place, pay) in pending {
                    place.wait()?;
                    pay.wait()?;
                    ok += 1;
                }
                round += inflight;
            }
            Ok(ok)
        }));
    }
    let mut done = 0;
    for h in handles {
        done += h
            .join()
            .map_err(|_| EngineError::InvalidInput("caller thread panicked".into()))??;
    }
    Ok(Figure::new(system, callers, done, start.elapsed()))
}
