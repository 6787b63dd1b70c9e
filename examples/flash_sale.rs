//! `flash_sale`: N buyers on T threads race for K units of one SKU sold at a
//! flash price with a per-customer limit of L units, each buyer placing and
//! paying single-unit orders until they hold L units or stock runs out.
//! Prints sold, rejected, orders/s and latency percentiles, then verifies:
//! sold == min(K, N × L), no customer above L flash-priced units, on_hand
//! consistent, nothing oversold, and (on SQLite and PostgreSQL) the hash
//! chain.
//!
//! ```text
//! cargo run --release --example flash_sale -- --units 100000 --buyers 20000 --threads 8 --limit 5 --store sqlite:flash.db [--fresh] [--json]
//! cargo run --release --features postgres --example flash_sale -- --store postgres:postgresql://postgres@127.0.0.1:5432/shop --processes 4 --threads 2 [--fresh]
//! cargo run --release --example flash_sale -- --threads 2 --inflight 32 --store sqlite:flash.db   # 64 calls in flight on 2 threads
//! ```
//! The sale sets its shop up from scratch, so it runs on a new database: an
//! existing SQLite file or PostgreSQL schema is refused (never opened, never
//! replaced) unless `--fresh` is given, which replaces it — and is refused
//! while another program has it open.
//!
//! With `--store postgres:URL` the sale runs in the schema `--schema NAME`
//! (default `mercato_flash_sale`) of that database; `--processes N` sets
//! the shop up once, then starts N copies of this program (each one
//! engine, `--threads` callers, every N-th buyer) against the same schema,
//! and verifies and reports the whole sale once all have finished.
//! PostgreSQL needs the crate's `postgres` feature
//! (`cargo run --release --features postgres --example flash_sale -- …`).

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use mercato::core::Currency;
#[cfg(feature = "postgres")]
use mercato::postgres::{PgOptions, PgStore};
use mercato::rules::{Cart, CartLine, CatalogItem, Promotion};
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{MemoryStore, Store, StoreError};
use mercato::{
    Concurrency, Engine, EngineError, EngineOptions, PlaceOrderRequest, Request, Settings,
    SystemClock,
};
use rust_decimal::Decimal;

#[macro_use]
#[path = "support/out.rs"]
mod out;

const EXAMPLES: &str = "Examples:
  cargo run --release --example flash_sale -- --units 100000 --buyers 20000 --threads 8 --limit 5 --store sqlite:/tmp/flash.db
  cargo run --release --example flash_sale -- --store memory --json
  cargo run --release --features postgres --example flash_sale -- \\
      --store postgres:postgresql://postgres@127.0.0.1:5432/shop --processes 4 --threads 2 --fresh

PostgreSQL needs the `postgres` feature (`--features postgres`).";

/// Why the sale stopped: the engine refused something, or stdout is gone.
enum Failure {
    Engine(EngineError),
    Output(io::Error),
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        Failure::Engine(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

#[derive(Parser, Clone)]
#[command(about = "Flash-sale race on one SKU", after_help = EXAMPLES)]
struct Args {
    /// Units for sale.
    #[arg(long, default_value_t = 10_000)]
    units: i64,
    /// Buyers.
    #[arg(long, default_value_t = 4_000)]
    buyers: usize,
    /// Threads.
    #[arg(long, default_value_t = 8)]
    threads: usize,
    /// Flash-priced units per buyer.
    #[arg(long, default_value_t = 3)]
    limit: i64,
    /// `memory`, `sqlite:PATH` or `postgres:URL`. The sale needs a new
    /// database: an existing SQLite file or schema is refused unless --fresh.
    #[arg(long, default_value = "sqlite:flash-sale.db")]
    store: String,
    /// Replace an existing database (SQLite file or PostgreSQL schema) and
    /// its data; refused while another program has it open.
    #[arg(long)]
    fresh: bool,
    /// PostgreSQL schema (postgres only).
    #[arg(long, default_value = "mercato_flash_sale")]
    schema: String,
    /// SQLite synchronous mode: full or normal.
    #[arg(long, default_value = "full")]
    sync: String,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
    /// Processes sharing the PostgreSQL database (postgres only).
    #[arg(long, default_value_t = 1)]
    processes: usize,
    /// Orders each thread keeps in flight (`Engine::submit`, then wait):
    /// with K > 1 a thread submits K places, each followed at once by its
    /// pay, then waits for all 2K answers, so threads × K orders share
    /// batches without a thread each.
    #[arg(long, default_value_t = 1)]
    inflight: usize,
    /// Decide under the store's write lock (`Concurrency::Locked`): each
    /// batch is decided after catching up with the other processes'
    /// events, so a hot SKU shared by processes is never decided twice.
    #[arg(long)]
    locked: bool,
    /// Internal: run as worker K of `--processes` on an existing schema.
    #[arg(long, hide = true)]
    worker: Option<usize>,
}

struct Outcome {
    sold: i64,
    rejected: u64,
    latencies_us: Vec<u64>,
}

fn setup<S: Store + 'static>(engine: &Engine<S, SystemClock>, a: &Args) -> Result<(), EngineError> {
    engine.configure(Currency::CNY, Settings::default())?;
    engine.add_catalog_item(CatalogItem::new("phone", "1999.00")?)?;
    engine.add_promotion(
        Promotion::price("flash", "999.00")
            .per_customer_limit(a.limit)
            .skus(["phone"])
            .build()?,
    )?;
    engine.adjust_stock("phone", "main", a.units, "flash sale stock")?;
    for b in 0..a.buyers {
        engine.register_customer(&format!("buyer{b}"), None, 0)?;
    }
    Ok(())
}

fn retry_conflicts<T>(mut f: impl FnMut() -> Result<T, EngineError>) -> Result<T, EngineError> {
    loop {
        match f() {
            Err(EngineError::TooManyConflicts(_)) => continue,
            other => return other,
        }
    }
}

fn race<S: Store + 'static>(
    engine: Arc<Engine<S, SystemClock>>,
    a: &Args,
    bar: &ProgressBar,
) -> Outcome {
    // The flash price a buyer under the limit is quoted (this process's
    // first buyer, before it buys: other processes never buy for it),
    // paid with each place in `--inflight` rounds.
    let first = a.worker.unwrap_or(0) * a.threads.max(1);
    let price = engine
        .quote(&Cart {
            customer: Some(format!("buyer{first}")),
            lines: vec![CartLine {
                sku: "phone".into(),
                qty: 1,
            }],
            coupons: vec![],
            points: 0,
        })
        .map(|q| q.totals.payable.amount())
        .unwrap_or_default();
    let mut handles = Vec::new();
    for t in 0..a.threads.max(1) {
        let engine = Arc::clone(&engine);
        let a = a.clone();
        let bar = bar.clone();
        handles.push(std::thread::spawn(move || {
            let mut out = Outcome {
                sold: 0,
                rejected: 0,
                latencies_us: Vec::new(),
            };
            let procs = a.processes.max(1);
            let stride = a.threads.max(1) * procs;
            let mut buyer = a.worker.unwrap_or(0) * a.threads.max(1) + t;
            if a.inflight > 1 {
                let mut attempts = Vec::new();
                while buyer < a.buyers {
                    attempts.extend((0..a.limit).map(|n| (buyer, n)));
                    buyer += stride;
                }
                for round in attempts.chunks(a.inflight) {
                    in_flight(&engine, round, price, &mut out);
                    bar.inc(round.len() as u64);
                }
                return out;
            }
            while buyer < a.buyers {
                for n in 0..a.limit {
                    let start = Instant::now();
                    let id = format!("b{buyer}-{n}");
                    // `conflict` (other processes kept winning the races
                    // on the SKU's stream): nothing was stored, try again.
                    let placed = retry_conflicts(|| {
                        engine.place_order(
                            PlaceOrderRequest::new(id.as_str())
                                .line("phone", 1)
                                .customer(format!("buyer{buyer}"))
                                .channel("flash"),
                            None,
                        )
                    });
                    let ok = match placed {
                        Ok(p) => retry_conflicts(|| engine.pay(&id, p.quote.totals.payable, None))
                            .is_ok(),
                        Err(_) => false,
                    };
                    out.latencies_us.push(start.elapsed().as_micros() as u64);
                    if ok {
                        out.sold += 1;
                    } else {
                        out.rejected += 1;
                    }
                    bar.inc(1);
                }
                buyer += stride;
            }
            out
        }));
    }
    let mut total = Outcome {
        sold: 0,
        rejected: 0,
        latencies_us: Vec::new(),
    };
    for h in handles {
        if let Ok(o) = h.join() {
            total.sold += o.sold;
            total.rejected += o.rejected;
            total.latencies_us.extend(o.latencies_us);
        }
    }
    total
}

/// One round of `--inflight`: for each (buyer, n) of `round` the place is
/// submitted and, right behind it, the pay of the quoted flash price
/// (`price`), both decided at once (the pay on top of the place, which is
/// still in flight) so that the two commits share a batch; then every
/// answer is waited for. A place that was refused makes its pay fail too
/// (unknown order): counted once. A call that lost too many optimistic
/// races (other processes) is retried with the blocking call.
fn in_flight<S: Store + 'static>(
    engine: &Engine<S, SystemClock>,
    round: &[(usize, i64)],
    price: Decimal,
    out: &mut Outcome,
) {
    let start = Instant::now();
    let calls: Vec<(Request, Request)> = round
        .iter()
        .map(|(buyer, n)| {
            let id = format!("b{buyer}-{n}");
            (
                Request::PlaceOrder(
                    PlaceOrderRequest::new(id.as_str())
                        .line("phone", 1)
                        .customer(format!("buyer{buyer}"))
                        .channel("flash"),
                ),
                Request::Pay {
                    order: id,
                    amount: price,
                },
            )
        })
        .collect();
    let submitted: Vec<_> = calls
        .iter()
        .map(|(place, pay)| (engine.submit(place, None), engine.submit(pay, None)))
        .collect();
    let answer = |p: mercato::Submitted<'_, '_, S, SystemClock>, req: &Request| match p.wait() {
        Err(EngineError::TooManyConflicts(_)) => retry_conflicts(|| engine.execute(req, None)),
        other => other,
    };
    for ((place, pay), (place_req, pay_req)) in submitted.into_iter().zip(&calls) {
        let placed = answer(place, place_req);
        let paid = answer(pay, pay_req);
        if placed.is_ok() && paid.is_ok() {
            out.sold += 1;
        } else {
            out.rejected += 1;
        }
    }
    // Every attempt of the round waited for the whole round.
    let took = start.elapsed().as_micros() as u64;
    out.latencies_us
        .extend(std::iter::repeat_n(took, round.len()));
}

fn verify<S: Store + 'static>(
    engine: &Engine<S, SystemClock>,
    a: &Args,
    sold: i64,
) -> Result<Vec<String>, EngineError> {
    let mut problems = Vec::new();
    let sold = if a.processes > 1 {
        // Other processes sold too: count from the store's log.
        engine.read(|st| {
            st.shop()
                .orders()
                .filter(|o| o.status == mercato::core::order::OrderStatus::Paid)
                .count() as i64
        })?
    } else {
        sold
    };
    let expected = a.units.min(a.buyers as i64 * a.limit);
    if sold != expected {
        problems.push(format!("sold {sold}, expected {expected}"));
    }
    let level = engine.stock("phone")?;
    if level.on_hand != a.units - sold || level.reserved != 0 || level.on_hand < 0 {
        problems.push(format!(
            "stock inconsistent: {level:?} after selling {sold} of {}",
            a.units
        ));
    }
    let over = engine.read(|st| {
        (0..a.buyers)
            .filter(|b| st.shop().promotion_units("flash", &format!("buyer{b}")) > a.limit)
            .count()
    })?;
    if over > 0 {
        problems.push(format!("{over} buyers above their limit"));
    }
    let report = engine.store().verify()?;
    if !report.ok() {
        problems.push(format!("hash chain broken: {:?}", report.first_break));
    }
    Ok(problems)
}

fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() - 1) * p / 100]
}

/// Runs `--processes` copies of this program as workers and waits for
/// them; returns (sold, rejected, latencies) summed over them.
#[cfg(feature = "postgres")]
fn run_workers(a: &Args) -> Result<Outcome, EngineError> {
    let exe = std::env::current_exe().map_err(|e| EngineError::InvalidInput(e.to_string()))?;
    let mut children = Vec::new();
    for k in 0..a.processes {
        let child = std::process::Command::new(&exe)
            .args([
                "--units",
                &a.units.to_string(),
                "--buyers",
                &a.buyers.to_string(),
                "--threads",
                &a.threads.to_string(),
                "--limit",
                &a.limit.to_string(),
                "--inflight",
                &a.inflight.to_string(),
                "--store",
                &a.store,
                "--schema",
                &a.schema,
                "--processes",
                &a.processes.to_string(),
                "--worker",
                &k.to_string(),
            ])
            .args(a.locked.then_some("--locked"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| EngineError::InvalidInput(format!("cannot start a worker: {e}")))?;
        children.push(child);
    }
    let mut total = Outcome {
        sold: 0,
        rejected: 0,
        latencies_us: Vec::new(),
    };
    for c in children {
        let out = c
            .wait_with_output()
            .map_err(|e| EngineError::InvalidInput(e.to_string()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().rev().find(|l| l.starts_with("worker "));
        let Some(line) = line else {
            return Err(EngineError::InvalidInput(format!(
                "a worker failed ({}): {text}",
                out.status
            )));
        };
        let nums: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [sold, rejected, rest @ ..] = nums.as_slice() {
            total.sold += *sold as i64;
            total.rejected += rejected;
            total.latencies_us.extend_from_slice(rest);
        }
    }
    Ok(total)
}

fn go<S: Store + 'static>(store: S, a: &Args, label: &str) -> Result<bool, Failure> {
    let options = EngineOptions {
        concurrency: if a.locked {
            Concurrency::Locked
        } else {
            Concurrency::Optimistic
        },
        ..EngineOptions::default()
    };
    let engine = Arc::new(Engine::with_options(store, SystemClock, options)?);
    if a.worker.is_some() {
        let out = race(Arc::clone(&engine), a, &ProgressBar::hidden());
        let lat: Vec<String> = out.latencies_us.iter().map(u64::to_string).collect();
        outln!("worker {} {} {}", out.sold, out.rejected, lat.join(" "))?;
        return Ok(true);
    }
    setup(&engine, a)?;
    #[cfg(feature = "postgres")]
    if a.processes > 1 {
        let start = Instant::now();
        let mut out = run_workers(a)?;
        let seconds = start.elapsed().as_secs_f64(); // float-ok: elapsed time, not money
        // See the other processes' orders before verifying.
        let engine = Arc::new(Engine::open(
            PgStore::open(
                a.store.strip_prefix("postgres:").unwrap_or(&a.store),
                PgOptions::default().schema(a.schema.clone()),
            )
            .map_err(EngineError::from)?,
            SystemClock,
        )?);
        out.latencies_us.sort_unstable();
        return report(&engine, a, label, out, seconds);
    }
    let attempts = a.buyers as u64 * a.limit.max(0) as u64;
    let bar = if a.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(attempts)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} orders {per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let start = Instant::now();
    let mut out = race(Arc::clone(&engine), a, &bar);
    let seconds = start.elapsed().as_secs_f64(); // float-ok: elapsed time, not money
    bar.finish_and_clear();
    out.latencies_us.sort_unstable();
    report(&engine, a, label, out, seconds)
}

fn report<S: Store + 'static>(
    engine: &Engine<S, SystemClock>,
    a: &Args,
    label: &str,
    out: Outcome,
    seconds: f64, // float-ok: elapsed time, not money
) -> Result<bool, Failure> {
    let (p50, p99) = (
        percentile(&out.latencies_us, 50),
        percentile(&out.latencies_us, 99),
    );
    let problems = verify(engine, a, out.sold)?;
    let rate = out.sold as f64 / seconds.max(1e-9); // float-ok: throughput figure
    outln!(
        "store {label}: sold {} of {} units, rejected {}, {:.2} s, {:.0} orders/s (place+pay), p50 {} µs, p99 {} µs",
        out.sold,
        a.units,
        out.rejected,
        seconds,
        rate,
        p50,
        p99
    )?;
    for p in &problems {
        outln!("PROBLEM: {p}")?;
    }
    if problems.is_empty() {
        outln!(
            "verified: sold == min(units, buyers × limit), nobody above the limit, stock consistent, hash chain OK"
        )?;
    }
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "units": a.units, "buyers": a.buyers, "threads": a.threads, "inflight": a.inflight, "limit": a.limit,
                "processes": a.processes.max(1), "locked": a.locked,
                "sold": out.sold, "rejected": out.rejected, "seconds": seconds,
                "orders_per_s": rate, "p50_us": p50, "p99_us": p99,
                "oversold": out.sold > a.units, "store": label, "ok": problems.is_empty(),
            })
        )?;
    }
    Ok(problems.is_empty())
}

/// The sale on `--store postgres:URL`; `Err` is the exit status when the
/// schema cannot be had.
#[cfg(feature = "postgres")]
fn on_postgres(url: &str, a: &Args) -> Result<Result<bool, Failure>, ExitCode> {
    let options = PgOptions::default().schema(a.schema.clone());
    let opened = if a.worker.is_some() {
        // The parent created the schema and holds it open.
        PgStore::open(url, options)
    } else if a.fresh {
        PgStore::open_fresh(url, options)
    } else {
        PgStore::create_new(url, options)
    };
    match opened {
        Ok(s) => Ok(go(
            s,
            a,
            &format!("postgres ({} process(es))", a.processes.max(1)),
        )),
        Err(e) => Err(refused(e)),
    }
}

/// Without the `postgres` feature: says how to build it (exit status 2).
#[cfg(not(feature = "postgres"))]
fn on_postgres(_url: &str, _a: &Args) -> Result<Result<bool, Failure>, ExitCode> {
    eprintln!(
        "--store postgres:URL: this binary was built without the `postgres` feature; \
         build it with `--features postgres`"
    );
    Err(ExitCode::from(2))
}

/// Reports why the sale's database cannot be had (exit status 2).
fn refused(e: StoreError) -> ExitCode {
    match e {
        StoreError::Exists { what } => eprintln!(
            "error: {what} exists: the sale sets its shop up from scratch, so it does not run on \
             an existing database. Pass --fresh to replace it (its data is lost), or choose \
             another --store (or --schema)."
        ),
        StoreError::InUse { what } => {
            eprintln!("error: {what} is open in another program: close it before replacing it")
        }
        other => eprintln!("error: {other}"),
    }
    ExitCode::from(2)
}

fn main() -> ExitCode {
    out::exit(sale(Args::parse()))
}

/// The sale; a write to stdout that fails (a reader that went away) ends
/// it.
fn sale(a: Args) -> io::Result<ExitCode> {
    if a.processes > 1 && !a.store.starts_with("postgres:") {
        eprintln!("--processes needs --store postgres:URL (one database shared by processes)");
        return Ok(ExitCode::from(2));
    }
    let result = if a.store == "memory" {
        go(MemoryStore::new(), &a, "memory")
    } else if let Some(p) = a.store.strip_prefix("sqlite:") {
        let path = PathBuf::from(p);
        let options = SqliteOptions::default().synchronous(if a.sync == "normal" {
            Synchronous::Normal
        } else {
            Synchronous::Full
        });
        let opened = if a.fresh {
            SqliteStore::create_fresh(&path, options)
        } else {
            SqliteStore::create_new(&path, options)
        };
        match opened {
            Ok(s) => go(s, &a, &format!("sqlite:{} ({})", path.display(), a.sync)),
            Err(e) => return Ok(refused(e)),
        }
    } else if let Some(url) = a.store.strip_prefix("postgres:") {
        match on_postgres(url, &a) {
            Ok(r) => r,
            Err(code) => return Ok(code),
        }
    } else {
        eprintln!(
            "unknown store `{}` (memory, sqlite:PATH or postgres:URL)",
            a.store
        );
        return Ok(ExitCode::from(2));
    };
    match result {
        Ok(true) => Ok(ExitCode::SUCCESS),
        Ok(false) => Ok(ExitCode::FAILURE),
        Err(Failure::Output(e)) => Err(e),
        Err(Failure::Engine(e)) => {
            eprintln!("error [{}]: {e}", e.code());
            Ok(ExitCode::from(2))
        }
    }
}
