//! `compare`: measures, in one run on one machine, the disk's fsync rate,
//! Redis + Lua (no persistence and `appendfsync always`), the raw SQLite
//! floor at several batch sizes, and mercato's flash-sale path on SQLite
//! (FULL and NORMAL, group commit), on PostgreSQL (built with the
//! `postgres` feature and given `--postgres URL`) and in memory; prints a
//! table with the ratios and writes the figures as JSON.
//! `benches/compare.sh` starts and stops Redis and PostgreSQL around it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use clap::Parser;
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::MemoryStore;
use mercato_bench::measure::{
    flash_shop, fsync_rate, mercato_flash, mercato_flash_inflight, raw_sqlite, redis_flash,
};
use mercato_bench::{Figure, Results, ratio};

#[derive(Parser)]
struct Args {
    /// Orders per measurement.
    #[arg(long, default_value_t = 20_000)]
    orders: u64,
    /// Redis URL (`benches/compare.sh` starts one); empty: skip Redis.
    #[arg(long, default_value = "")]
    redis: String,
    /// PostgreSQL URL (`benches/compare.sh` starts a throwaway server);
    /// empty: skip PostgreSQL. The run works in its own schema
    /// `mercato_compare_<pid>` and drops it at the end. Needs the
    /// `postgres` feature.
    #[arg(long, default_value = "")]
    postgres: String,
    /// Concurrent callers to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,2,8,32,64")]
    callers: Vec<u32>,
    /// Threads of the in-flight series (`mercato_*_inflight`): each keeps
    /// `callers / threads` orders (place + pay) submitted before waiting.
    #[arg(long, default_value_t = 2)]
    inflight_threads: u32,
    /// Directory in which to make a new scratch directory of this run
    /// (`mercato-compare-<pid>`) for the databases; only that directory is
    /// written to, and it is removed at the end.
    #[arg(long)]
    dir: PathBuf,
    /// Where to write the JSON results.
    #[arg(long)]
    out: PathBuf,
    /// Free-text machine description for the results.
    #[arg(long, default_value = "")]
    machine: String,
    /// Date for the results (RFC 3339).
    #[arg(long, default_value = "")]
    date: String,
}

/// Makes the run's own scratch directory in `--dir` (refusing one that
/// is already there), runs the measurements in it and removes it.
fn run(a: &Args) -> Result<Results, String> {
    let scratch = a
        .dir
        .join(format!("mercato-compare-{}", std::process::id()));
    std::fs::create_dir(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let r = measure_in(a, &scratch);
    // Everything in it was created by this run.
    let cleaned = std::fs::remove_dir_all(&scratch);
    let r = r?;
    cleaned.map_err(|e| format!("{}: {e}", scratch.display()))?;
    Ok(r)
}

fn measure_in(a: &Args, dir: &std::path::Path) -> Result<Results, String> {
    let e = |x: &dyn std::fmt::Display| x.to_string();
    let mut r = Results {
        date: a.date.clone(),
        machine: a.machine.clone(),
        figures: Vec::new(),
    };
    eprintln!("fsync rate…");
    r.figures
        .push(fsync_rate(dir, Duration::from_secs(3)).map_err(|x| e(&x))?);
    if !a.redis.is_empty() {
        let client = redis::Client::open(a.redis.as_str()).map_err(|x| e(&x))?;
        let mut c = client.get_connection().map_err(|x| e(&x))?;
        for (name, aof) in [
            ("redis_lua_no_persistence", "no"),
            ("redis_lua_aof_always", "yes"),
        ] {
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("appendonly")
                .arg(aof)
                .query::<()>(&mut c)
                .map_err(|x| e(&x))?;
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("appendfsync")
                .arg("always")
                .query::<()>(&mut c)
                .map_err(|x| e(&x))?;
            for &n in &a.callers {
                eprintln!("{name} × {n}…");
                r.figures
                    .push(redis_flash(&a.redis, n, a.orders, name).map_err(|x| e(&x))?);
            }
        }
    }
    for &b in &a.callers {
        eprintln!("raw sqlite batch {b}…");
        r.figures
            .push(raw_sqlite(&dir.join(format!("raw-{b}.db")), b, a.orders)?);
    }
    let next = Arc::new(AtomicU64::new(0));
    for (sync, name) in [
        (Synchronous::Full, "mercato_sqlite_full"),
        (Synchronous::Normal, "mercato_sqlite_normal"),
    ] {
        let path = dir.join(format!("{name}.db"));
        let store = SqliteStore::create_new(&path, SqliteOptions::default().synchronous(sync))
            .map_err(|x| e(&x))?;
        let units = i64::try_from(a.orders * 4 * a.callers.len() as u64).unwrap_or(i64::MAX);
        let engine = Arc::new(flash_shop(store, units).map_err(|x| e(&x))?);
        for &n in &a.callers {
            eprintln!("{name} × {n}…");
            r.figures
                .push(mercato_flash(&engine, n, a.orders, name, &next).map_err(|x| e(&x))?);
        }
        // The same orders with many in flight per thread (`Engine::submit`).
        let inflight_name = format!("{name}_inflight");
        for &n in &a.callers {
            let threads = a.inflight_threads.clamp(1, n.max(1));
            let per_thread = (n / threads).max(1);
            eprintln!("{inflight_name} × {n} ({threads} threads × {per_thread} orders in flight)…");
            r.figures.push(
                mercato_flash_inflight(
                    &engine,
                    threads,
                    per_thread,
                    a.orders,
                    &inflight_name,
                    &next,
                )
                .map_err(|x| e(&x))?,
            );
        }
    }
    if !a.postgres.is_empty() {
        postgres_series(a, &mut r, &next)?;
    }
    let units = i64::try_from(a.orders * 2).unwrap_or(i64::MAX);
    let engine = Arc::new(flash_shop(MemoryStore::new(), units).map_err(|x| e(&x))?);
    eprintln!("mercato memory × 1…");
    r.figures
        .push(mercato_flash(&engine, 1, a.orders, "mercato_memory", &next).map_err(|x| e(&x))?);
    Ok(r)
}

/// The PostgreSQL series: the same flash sale, callers as threads
/// (`mercato_postgres`) and as orders in flight on few threads
/// (`mercato_postgres_inflight`), in a schema of this run, dropped after.
#[cfg(feature = "postgres")]
fn postgres_series(a: &Args, r: &mut Results, next: &Arc<AtomicU64>) -> Result<(), String> {
    use mercato::postgres::{PgOptions, PgStore};
    let e = |x: &dyn std::fmt::Display| x.to_string();
    let schema = format!("mercato_compare_{}", std::process::id());
    let store = PgStore::create_new(&a.postgres, PgOptions::default().schema(schema.clone()))
        .map_err(|x| e(&x))?;
    let units = i64::try_from(a.orders * 4 * a.callers.len() as u64).unwrap_or(i64::MAX);
    let measured = (|| {
        let engine = Arc::new(flash_shop(store, units).map_err(|x| e(&x))?);
        for &n in &a.callers {
            eprintln!("mercato_postgres × {n}…");
            r.figures.push(
                mercato_flash(&engine, n, a.orders, "mercato_postgres", next).map_err(|x| e(&x))?,
            );
        }
        for &n in &a.callers {
            let threads = a.inflight_threads.clamp(1, n.max(1));
            let per_thread = (n / threads).max(1);
            eprintln!(
                "mercato_postgres_inflight × {n} ({threads} threads × {per_thread} in flight)…"
            );
            r.figures.push(
                mercato_flash_inflight(
                    &engine,
                    threads,
                    per_thread,
                    a.orders,
                    "mercato_postgres_inflight",
                    next,
                )
                .map_err(|x| e(&x))?,
            );
        }
        Ok::<(), String>(())
    })();
    // Only this run's schema is dropped.
    let dropped = PgStore::open(&a.postgres, PgOptions::default())
        .and_then(|s| s.execute_raw(&format!("DROP SCHEMA {schema} CASCADE")))
        .map_err(|x| e(&x));
    measured?;
    dropped
}

#[cfg(not(feature = "postgres"))]
fn postgres_series(_: &Args, _: &mut Results, _: &Arc<AtomicU64>) -> Result<(), String> {
    Err("--postgres needs the `postgres` feature: cargo build --release -p mercato-bench --features postgres".into())
}

fn print(r: &Results) {
    println!(
        "{:<28} {:>8} {:>10} {:>12}",
        "system", "callers", "orders", "orders/s"
    );
    for f in &r.figures {
        println!(
            "{:<28} {:>8} {:>10} {:>12}",
            f.system, f.callers, f.ops, f.ops_per_s
        );
    }
    let get = |s: &str, c: u32| r.get(s, c).map(|f: &Figure| f.ops_per_s);
    println!();
    // The table: 8 and 64 callers, Redis without persistence
    // against mercato durable (callers as threads, and as orders in flight
    // on few threads) and in memory.
    println!(
        "{:>7} {:>12} {:>12} {:>7} {:>12} {:>7} {:>12} {:>7} {:>12} {:>7} {:>12}",
        "callers",
        "redis_nopers",
        "sqlite_full",
        "ratio",
        "full_inflight",
        "ratio",
        "postgres",
        "ratio",
        "pg_inflight",
        "ratio",
        "memory(1)"
    );
    let memory = get("mercato_memory", 1);
    for c in [8_u32, 64] {
        let redis = get("redis_lua_no_persistence", c);
        let full = get("mercato_sqlite_full", c);
        let inflight = get("mercato_sqlite_full_inflight", c);
        let pg = get("mercato_postgres", c);
        let pg_inflight = get("mercato_postgres_inflight", c);
        let show = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let rat = |m: Option<u64>| match (m, redis) {
            (Some(m), Some(r)) => ratio(m, r),
            _ => "-".to_string(),
        };
        println!(
            "{:>7} {:>12} {:>12} {:>7} {:>12} {:>7} {:>12} {:>7} {:>12} {:>7} {:>12}",
            c,
            show(redis),
            show(full),
            rat(full),
            show(inflight),
            rat(inflight),
            show(pg),
            rat(pg),
            show(pg_inflight),
            rat(pg_inflight),
            show(memory)
        );
    }
    println!();
    if let (Some(m), Some(redis)) = (
        get("mercato_sqlite_full", 8),
        get("redis_lua_no_persistence", 8),
    ) {
        println!(
            "mercato SQLite FULL / Redis+Lua no persistence (8 callers): {}",
            ratio(m, redis)
        );
    }
    if let (Some(m), Some(redis)) = (
        get("mercato_sqlite_full", 8),
        get("redis_lua_aof_always", 8),
    ) {
        println!(
            "mercato SQLite FULL / Redis+Lua appendfsync always (8 callers): {}",
            ratio(m, redis)
        );
    }
    for c in [1_u32, 8, 32] {
        if let (Some(m), Some(raw)) = (
            get("mercato_sqlite_full", c),
            get("raw_sqlite_full_batch", c),
        ) {
            println!(
                "mercato SQLite FULL ({c} callers) / raw SQLite floor (batch {c}): {}",
                ratio(m, raw)
            );
        }
    }
    if let (Some(m), Some(f)) = (get("mercato_sqlite_full", 1), get("disk_fsync", 1)) {
        println!(
            "mercato SQLite FULL, 1 caller / disk fsync rate: {} (each place+pay is two commits)",
            ratio(m, f)
        );
    }
}

fn main() -> ExitCode {
    let a = Args::parse();
    match run(&a) {
        Ok(r) => {
            print(&r);
            match serde_json::to_string_pretty(&r).map(|j| std::fs::write(&a.out, j)) {
                Ok(Ok(())) => ExitCode::SUCCESS,
                _ => {
                    eprintln!("cannot write {}", a.out.display());
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("compare failed: {e}");
            ExitCode::FAILURE
        }
    }
}
