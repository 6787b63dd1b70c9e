//! The tools never destroy data: the real example binaries, run twice on
//! one database, keep the first run's data (the second run refuses);
//! `--fresh` replaces a database only when no other program has it open;
//! the auditor creates nothing.
//!
//! The binaries are the ones `cargo test` builds (test profile, under
//! `target/…/examples/`). Each test asks cargo for them first (`cargo build
//! --profile test --example NAME --message-format=json`, with the features
//! this test was built with, a no-op when they are up to date) and runs the
//! executable cargo names, so it never runs a stale binary and works when
//! only this test file is selected. The test of the scenario runner on
//! PostgreSQL needs the binary's `postgres` feature: it runs under
//! `--features postgres` (or `--all-features`, as CI does).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mercato::core::order::OrderStatus;
use mercato::sqlite::{SqliteOptions, SqliteStore};
use mercato::store::Store;

#[path = "support/examples.rs"]
mod examples;
use examples::example;

fn run(exe: &Path, args: &[&str]) -> Output {
    Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the example")
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Paid orders in the store, rebuilt from its log.
fn paid_orders<S: Store>(store: &S) -> usize {
    mercato::rebuild(store)
        .unwrap()
        .shop()
        .orders()
        .filter(|o| o.status == OrderStatus::Paid)
        .count()
}

fn sale(store: &str, units: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--units",
        units,
        "--buyers",
        "12",
        "--limit",
        "3",
        "--threads",
        "2",
        "--store",
        store,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn run_sale(exe: &Path, args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(exe, &args)
}

#[test]
fn flash_sale_twice_on_one_file_keeps_the_first_sale() {
    let exe = example("flash_sale");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flash.db");
    let store_arg = format!("sqlite:{}", path.display());

    // 30 units, 12 buyers × 3: all 30 sell.
    let first = run_sale(&exe, &sale(&store_arg, "30", &[]));
    assert!(first.status.success(), "{}", text(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("verified"));
    let (head, chain) = {
        let s = SqliteStore::open_read_only(&path, SqliteOptions::default()).unwrap();
        assert_eq!(paid_orders(&s), 30);
        (s.head().unwrap(), s.chain_head().unwrap())
    };

    // A second sale of 12 units on the same file: refused, nothing touched
    // (before the fix it replaced the file: 12 paid orders, the first
    // sale's 30 gone).
    let second = run_sale(&exe, &sale(&store_arg, "12", &[]));
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("exists") && err.contains("--fresh"), "{err}");
    let s = SqliteStore::open_read_only(&path, SqliteOptions::default()).unwrap();
    assert_eq!(paid_orders(&s), 30, "the first sale's orders are all there");
    assert_eq!(s.head().unwrap(), head);
    assert_eq!(s.chain_head().unwrap(), chain);
    assert!(s.verify().unwrap().ok());
}

#[test]
fn flash_sale_fresh_is_refused_while_another_program_has_the_file() {
    let exe = example("flash_sale");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flash.db");
    let store_arg = format!("sqlite:{}", path.display());
    let first = run_sale(&exe, &sale(&store_arg, "30", &[]));
    assert!(first.status.success(), "{}", text(&first));

    // This process holds the file: `--fresh` in another process is refused.
    let holder = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    let head = holder.head().unwrap();
    let refused = run_sale(&exe, &sale(&store_arg, "12", &["--fresh"]));
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("open in another program"),
        "{}",
        text(&refused)
    );
    assert_eq!(holder.head().unwrap(), head, "the data stays");
    assert_eq!(paid_orders(&holder), 30);
    drop(holder);

    // Nobody holds it: `--fresh` replaces it (12 units, all sold).
    let fresh = run_sale(&exe, &sale(&store_arg, "12", &["--fresh"]));
    assert!(fresh.status.success(), "{}", text(&fresh));
    let s = SqliteStore::open_read_only(&path, SqliteOptions::default()).unwrap();
    assert_eq!(paid_orders(&s), 12);
}

#[test]
fn audit_of_a_missing_file_creates_nothing_and_changes_nothing() {
    let exe = example("audit");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let out = run(&exe, &[&format!("sqlite:{}", missing.display())]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "the audit created {left:?}");

    // On an existing database: OK, and the file is the same afterwards.
    let path = dir.path().join("shop.db");
    let checkout = example("checkout");
    let made = run(&checkout, &["--db", &path.display().to_string()]);
    assert!(made.status.success(), "{}", text(&made));
    let before = std::fs::read(&path).unwrap();
    let out = run(&exe, &[&format!("sqlite:{}", path.display())]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK"));
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // A backup never overwrites a file.
    let precious = dir.path().join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let out = run(
        &exe,
        &[
            &format!("sqlite:{}", path.display()),
            "--backup-to",
            &precious.display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
}

#[test]
fn checkout_runs_again_and_again_and_never_replaces_a_database() {
    let exe = example("checkout");
    // The README command, twice: two new databases in the temp directory.
    let mut made = Vec::new();
    for _ in 0..2 {
        let out = run(&exe, &[]);
        assert!(out.status.success(), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(stdout.contains("hash chain OK"), "{stdout}");
        let first = stdout.lines().next().unwrap_or_default();
        let path = first
            .split("database: ")
            .nth(1)
            .and_then(|r| r.strip_suffix(" (new)"))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no database path in {first:?}"));
        assert!(path.starts_with(std::env::temp_dir()), "{}", path.display());
        made.push(path);
    }
    assert_ne!(made[0], made[1]);
    for p in &made {
        let s = SqliteStore::open_read_only(p, SqliteOptions::default()).unwrap();
        assert_eq!(paid_orders(&s), 0, "the demo's order ends returned");
        assert!(s.head().unwrap() > 0);
    }
    // Remove what the two runs made (and only that).
    for p in &made {
        SqliteStore::remove_database(p).unwrap();
        std::fs::remove_file(SqliteStore::lock_path(p)).unwrap();
    }

    // With --db, an existing file is refused, and replaced only with --fresh.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db").display().to_string();
    assert!(run(&exe, &["--db", &db]).status.success());
    let before = std::fs::read(&db).unwrap();
    let again = run(&exe, &["--db", &db]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--fresh"));
    assert_eq!(std::fs::read(&db).unwrap(), before, "untouched");
    let holder = SqliteStore::open(&db, SqliteOptions::default()).unwrap();
    let busy = run(&exe, &["--db", &db, "--fresh"]);
    assert_eq!(busy.status.code(), Some(2), "{}", text(&busy));
    drop(holder);
    let fresh = run(&exe, &["--db", &db, "--fresh"]);
    assert!(fresh.status.success(), "{}", text(&fresh));
}

const SCENARIO: &str = r#"{"currency": "CNY", "now": "2026-01-01T00:00:00Z",
  "catalog": [{"sku": "a", "price": "10.00"}],
  "steps": [{"price": {"lines": [{"sku": "a", "qty": 2}]}, "expect": {"totals": {"payable": "20.00"}}}]}"#;

#[test]
fn the_scenario_runner_refuses_an_existing_sqlite_database() {
    let exe = example("mercato");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.json");
    std::fs::write(&file, SCENARIO).unwrap();
    let file = file.display().to_string();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let first = run(&exe, &["check", &file, "--store", &store]);
    assert!(first.status.success(), "{}", text(&first));
    let again = run(&exe, &["check", &file, "--store", &store]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--fresh"));
    let fresh = run(&exe, &["check", &file, "--store", &store, "--fresh"]);
    assert!(fresh.status.success(), "{}", text(&fresh));
}

#[cfg(feature = "postgres")]
#[test]
fn the_scenario_runner_refuses_an_existing_postgres_schema() {
    use mercato_postgres::testing::TestCluster;
    use mercato_postgres::{PgOptions, PgStore};
    let exe = example("mercato");
    let Some(cluster) = TestCluster::shared_or_skip() else {
        return;
    };
    let schema = cluster.fresh_schema_name();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.json");
    std::fs::write(&file, SCENARIO).unwrap();
    let file = file.display().to_string();
    let store = format!("postgres:{}", cluster.url());
    let args = ["check", &file, "--store", &store, "--schema", &schema];
    let first = run(&exe, &args);
    assert!(first.status.success(), "{}", text(&first));
    let again = run(&exe, &args);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--fresh"));

    // Another program has the schema open: `--fresh` drops nothing.
    let holder = PgStore::open(cluster.url(), PgOptions::default().schema(&schema)).unwrap();
    let head = holder.head().unwrap();
    assert!(head > 0);
    let fresh_args = [&args[..], &["--fresh"]].concat();
    let busy = run(&exe, &fresh_args);
    assert_eq!(busy.status.code(), Some(2), "{}", text(&busy));
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("open in another program"),
        "{}",
        text(&busy)
    );
    assert_eq!(holder.head().unwrap(), head, "the data stays");
    drop(holder);
    let fresh = run(&exe, &fresh_args);
    assert!(fresh.status.success(), "{}", text(&fresh));
}

/// The example binaries, as the `examples/` folder holds them.
const EXAMPLES: [&str; 6] = [
    "audit",
    "checkout",
    "flash_sale",
    "mercato",
    "relay",
    "server",
];

#[test]
fn every_example_has_help_with_an_example_invocation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "rs").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    found.sort();
    assert_eq!(found, EXAMPLES, "a new example needs its place here");
    for name in EXAMPLES {
        let exe = example(name);
        for flag in ["--help", "-h"] {
            let out = run(&exe, &[flag]);
            assert!(out.status.success(), "{name} {flag}: {}", text(&out));
            let help = String::from_utf8_lossy(&out.stdout);
            assert!(
                help.contains("Example") && help.contains(&format!("--example {name}")),
                "{name} {flag} shows no example invocation:\n{help}"
            );
        }
    }
}

/// Runs `exe args`, reads `lines` lines of its stdout, closes the pipe and
/// waits: the exit status and stderr.
fn read_then_close(exe: &Path, args: &[&str], lines: usize) -> Output {
    use std::io::BufRead;
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    for _ in 0..lines {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the output ended early");
    }
    drop(reader);
    child.wait_with_output().unwrap()
}

fn assert_clean(what: &str, out: &Output) {
    assert!(out.status.success(), "{what}: {}", text(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: {}", text(out));
    assert!(!stderr.contains("Broken pipe"), "{what}: {}", text(out));
}

#[test]
fn the_tools_exit_cleanly_when_their_reader_stops_early() {
    // `mercato run` prints one JSON line a step; 2,000 steps of ~300 bytes
    // are far more than a pipe holds (64 KiB on Linux), so the runner is
    // still writing when the reader closes: its next write fails with
    // BrokenPipe (before the fix: a `println!` panic, status 101).
    let steps: Vec<String> = (1..=2000)
        .map(|q| format!(r#"{{"price": {{"lines": [{{"sku": "a", "qty": {q}}}]}}}}"#))
        .collect();
    let scenario = format!(
        r#"{{"currency": "CNY", "now": "2026-01-01T00:00:00Z",
            "catalog": [{{"sku": "a", "price": "10.00"}}], "steps": [{}]}}"#,
        steps.join(",")
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.json");
    std::fs::write(&file, scenario).unwrap();
    let file = file.display().to_string();
    let exe = example("mercato");
    // `| head -1`, and a reader that reads nothing.
    for lines in [1, 0] {
        let out = read_then_close(&exe, &["run", &file], lines);
        assert_clean(&format!("mercato run, closed after {lines} line(s)"), &out);
    }
    // Every example's help into a reader that is gone.
    for name in EXAMPLES {
        let out = read_then_close(&example(name), &["--help"], 0);
        assert_clean(&format!("{name} --help"), &out);
    }
}
