//! `mercato`: the scenario runner of the contract.
//!
//! ```text
//! cargo run --release --example mercato -- check FILE... [--store memory|sqlite:PATH|postgres:URL [--schema NAME]] [--fresh]
//! cargo run --release --example mercato -- run FILE [--store memory|sqlite:PATH|postgres:URL [--schema NAME]] [--fresh]
//! ```
//! `check` prints one line per failing step and `N passed, M failed`
//! (exit 0 only when nothing failed; 2 when a file cannot be read or set
//! up). `run` prints each step's result as one JSON line.
//!
//! A scenario starts from an empty shop, so each file runs on a new
//! database, and an existing one is refused (never opened, never replaced)
//! unless `--fresh` is given; `--fresh` replaces it, and is refused while
//! another program has it open.
//!
//! With `--store sqlite:PATH`, each file runs on its own SQLite database:
//! PATH itself for one file, `PATH.N` for the N-th of several.
//!
//! With `--store postgres:URL` (e.g.
//! `postgres:postgresql://postgres@127.0.0.1:5432/shop`), each file runs in
//! its own PostgreSQL schema of that database: NAME (`--schema`, default
//! `mercato_scenario`) for one file, `NAME_N` for the N-th of several. The
//! user needs CREATE on the database. SQLite needs the crate's `sqlite`
//! feature (on by default), PostgreSQL its `postgres` feature
//! (`cargo run --release --features postgres --example mercato -- …`); the
//! memory store is always there.
//!
//! A reader that stops early (`… | head -1`) ends the run quietly.

// A build with neither store (memory only) leaves the database code unused.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(dead_code, unused_imports, unused_variables)
)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
#[cfg(feature = "postgres")]
use mercato::postgres::{PgOptions, PgStore};
use mercato::scenario::{self, Scenario, ScenarioError, StepOutcome};
#[cfg(feature = "sqlite")]
use mercato::sqlite::{SqliteOptions, SqliteStore};
use mercato::store::{MemoryStore, StoreError};

#[macro_use]
#[path = "support/out.rs"]
mod out;

const EXAMPLES: &str = "Examples:
  cargo run --release --example mercato -- check scenarios/*.json
  cargo run --release --example mercato -- check --store sqlite:/tmp/s.db scenarios/*.json
  cargo run --release --features postgres --example mercato -- \\
      check --store postgres:postgresql://postgres@127.0.0.1:5432/shop scenarios/*.json
  cargo run --release --example mercato -- run scenarios/p09_order_lifecycle.json | head -3

`check` exits with 0 when every expectation holds, 1 when one does not, and
2 when a file cannot be read or set up.";

#[derive(Parser)]
#[command(
    name = "mercato",
    about = "Runs mercato scenario files (docs/scenario-format.md)",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// Where to run: `memory` (default), `sqlite:PATH` (`PATH.N` for the
    /// N-th of several files) or `postgres:URL`. Each file needs a new
    /// database: an existing one is refused unless --fresh.
    #[arg(long, global = true, default_value = "memory")]
    store: String,
    /// PostgreSQL schema for `--store postgres:URL` (`NAME_N` for the N-th
    /// of several files).
    #[arg(long, global = true, default_value = "mercato_scenario")]
    schema: String,
    /// Replace an existing database (SQLite file or PostgreSQL schema) and
    /// its data; refused while another program has it open.
    #[arg(long, global = true)]
    fresh: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs each file and compares every step with its `expect`.
    Check {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Runs one file and prints each step's result as a JSON line.
    Run {
        /// Scenario file.
        file: PathBuf,
    },
}

enum StoreSpec {
    Memory,
    #[cfg(feature = "sqlite")]
    Sqlite(PathBuf),
    #[cfg(feature = "postgres")]
    Postgres(String),
}

/// What to say when a store was left out of this build.
#[cfg(not(all(feature = "sqlite", feature = "postgres")))]
fn not_built(store: &str, feature: &str) -> String {
    format!(
        "--store {store}: this binary was built without the `{feature}` feature; \
         build it with `--features {feature}`"
    )
}

fn parse_store(s: &str) -> Result<StoreSpec, String> {
    if s == "memory" {
        Ok(StoreSpec::Memory)
    } else if let Some(p) = s.strip_prefix("sqlite:") {
        if p.is_empty() {
            Err("--store sqlite:PATH needs a path".into())
        } else {
            #[cfg(feature = "sqlite")]
            return Ok(StoreSpec::Sqlite(PathBuf::from(p)));
            #[cfg(not(feature = "sqlite"))]
            return Err(not_built("sqlite:PATH", "sqlite"));
        }
    } else if let Some(u) = s.strip_prefix("postgres:") {
        if u.is_empty() {
            return Err("--store postgres:URL needs a URL".into());
        }
        #[cfg(feature = "postgres")]
        return Ok(StoreSpec::Postgres(if u.starts_with("//") {
            // `postgres://…` given whole.
            s.to_string()
        } else {
            u.to_string()
        }));
        #[cfg(not(feature = "postgres"))]
        return Err(not_built("postgres:URL", "postgres"));
    } else {
        Err(format!(
            "unknown store `{s}` (use memory, sqlite:PATH or postgres:URL)"
        ))
    }
}

/// What to tell the user when the new database cannot be had.
fn explain(e: StoreError) -> String {
    match e {
        StoreError::Exists { what } => format!(
            "{what} exists: a scenario starts from an empty shop, so it does not run on an \
             existing database. Pass --fresh to replace it (its data is lost)."
        ),
        StoreError::InUse { what } => {
            format!("{what} is open in another program: close it before replacing it")
        }
        other => other.to_string(),
    }
}

/// How the runner opens each file's database.
struct Target<'a> {
    store: &'a StoreSpec,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    schema: &'a str,
    fresh: bool,
}

fn run_file(
    file: &Path,
    target: &Target<'_>,
    n: usize,
    many: bool,
) -> Result<Vec<StepOutcome>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read: {e}"))?;
    let sc = Scenario::parse(&text).map_err(|e| e.to_string())?;
    let r: Result<_, ScenarioError> = match target.store {
        StoreSpec::Memory => scenario::run(&sc, MemoryStore::new()),
        #[cfg(feature = "sqlite")]
        StoreSpec::Sqlite(p) => {
            let path = if many {
                PathBuf::from(format!("{}.{n}", p.display()))
            } else {
                p.clone()
            };
            let store = if target.fresh {
                SqliteStore::create_fresh(&path, SqliteOptions::default())
            } else {
                SqliteStore::create_new(&path, SqliteOptions::default())
            };
            scenario::run(&sc, store.map_err(explain)?)
        }
        #[cfg(feature = "postgres")]
        StoreSpec::Postgres(url) => {
            let schema = if many {
                format!("{}_{n}", target.schema)
            } else {
                target.schema.to_string()
            };
            let options = PgOptions::default().schema(schema);
            let store = if target.fresh {
                PgStore::open_fresh(url, options)
            } else {
                PgStore::create_new(url, options)
            };
            scenario::run(&sc, store.map_err(explain)?)
        }
    };
    r.map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    out::exit(run(Cli::parse()))
}

/// Runs the command; a write to stdout that fails (a reader that went away)
/// ends it.
fn run(cli: Cli) -> std::io::Result<ExitCode> {
    let store = match parse_store(&cli.store) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let target = Target {
        store: &store,
        schema: &cli.schema,
        fresh: cli.fresh,
    };
    match cli.command {
        Cmd::Run { file } => match run_file(&file, &target, 0, false) {
            Ok(steps) => {
                for s in steps {
                    outln!("{}", s.result)?;
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                Ok(ExitCode::from(2))
            }
        },
        Cmd::Check { files } => {
            let (mut passed, mut failed, mut broken) = (0_usize, 0_usize, false);
            let many = files.len() > 1;
            for (n, file) in files.iter().enumerate() {
                match run_file(file, &target, n, many) {
                    Err(e) => {
                        eprintln!("{}: {e}", file.display());
                        broken = true;
                    }
                    Ok(steps) => {
                        for s in steps {
                            let Some(expect) = &s.expect else {
                                passed += 1;
                                continue;
                            };
                            let diffs = scenario::matches(expect, &s.result);
                            if diffs.is_empty() {
                                passed += 1;
                            } else {
                                failed += 1;
                                for d in diffs {
                                    outln!(
                                        "{}: step {} ({}): {}: expected {}, got {}",
                                        file.display(),
                                        s.index,
                                        s.action,
                                        d.path,
                                        d.expected,
                                        d.actual
                                    )?;
                                }
                            }
                        }
                    }
                }
            }
            outln!("{passed} passed, {failed} failed")?;
            Ok(if broken {
                ExitCode::from(2)
            } else if failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
