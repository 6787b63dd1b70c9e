//! `mercato`: the scenario runner of the contract.
//!
//! ```text
//! cargo run --release --example mercato -- check FILE... [--store memory|sqlite:PATH|postgres:URL]
//! cargo run --release --example mercato -- run FILE [--store memory|sqlite:PATH|postgres:URL]
//! ```
//! `check` prints one line per failing step and `N passed, M failed`
//! (exit 0 only when nothing failed; 2 when a file cannot be read or set
//! up). `run` prints each step's result as one JSON line.
//!
//! With `--store sqlite:PATH`, each file runs on a fresh SQLite database:
//! PATH itself for one file, `PATH.N` for the N-th of several; an existing
//! database at that path is replaced.
//!
//! With `--store postgres:URL` (e.g.
//! `postgres:postgresql://postgres@127.0.0.1:5432/shop`), each file runs on a
//! fresh PostgreSQL schema of that database: `mercato_scenario` for one
//! file, `mercato_scenario_N` for the N-th of several; an existing schema of
//! that name is dropped first. The user needs CREATE on the database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mercato::postgres::{PgOptions, PgStore};
use mercato::scenario::{self, Scenario, ScenarioError, StepOutcome};
use mercato::sqlite::{SqliteOptions, SqliteStore};
use mercato::store::MemoryStore;

#[derive(Parser)]
#[command(
    name = "mercato",
    about = "Runs mercato scenario files (docs/scenario-format.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// Where to run: `memory` (default), `sqlite:PATH` or `postgres:URL`.
    #[arg(long, global = true, default_value = "memory")]
    store: String,
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
    Sqlite(PathBuf),
    Postgres(String),
}

fn parse_store(s: &str) -> Result<StoreSpec, String> {
    if s == "memory" {
        Ok(StoreSpec::Memory)
    } else if let Some(p) = s.strip_prefix("sqlite:") {
        if p.is_empty() {
            Err("--store sqlite:PATH needs a path".into())
        } else {
            Ok(StoreSpec::Sqlite(PathBuf::from(p)))
        }
    } else if let Some(u) = s.strip_prefix("postgres:") {
        if u.is_empty() {
            Err("--store postgres:URL needs a URL".into())
        } else if u.starts_with("//") {
            // `postgres://…` given whole.
            Ok(StoreSpec::Postgres(s.to_string()))
        } else {
            Ok(StoreSpec::Postgres(u.to_string()))
        }
    } else {
        Err(format!(
            "unknown store `{s}` (use memory, sqlite:PATH or postgres:URL)"
        ))
    }
}

fn fresh_db(path: &Path) -> Result<SqliteStore, String> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| format!("cannot replace {}: {e}", p.display()))?;
        }
    }
    SqliteStore::open(path, SqliteOptions::default()).map_err(|e| e.to_string())
}

fn run_file(
    file: &Path,
    store: &StoreSpec,
    n: usize,
    many: bool,
) -> Result<Vec<StepOutcome>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read: {e}"))?;
    let sc = Scenario::parse(&text).map_err(|e| e.to_string())?;
    let r: Result<_, ScenarioError> = match store {
        StoreSpec::Memory => scenario::run(&sc, MemoryStore::new()),
        StoreSpec::Sqlite(p) => {
            let path = if many {
                PathBuf::from(format!("{}.{n}", p.display()))
            } else {
                p.clone()
            };
            scenario::run(&sc, fresh_db(&path)?)
        }
        StoreSpec::Postgres(url) => {
            let schema = if many {
                format!("mercato_scenario_{n}")
            } else {
                "mercato_scenario".to_string()
            };
            let store = PgStore::open_fresh(url, PgOptions::default().schema(schema))
                .map_err(|e| e.to_string())?;
            scenario::run(&sc, store)
        }
    };
    r.map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let store = match parse_store(&cli.store) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Cmd::Run { file } => match run_file(&file, &store, 0, false) {
            Ok(steps) => {
                for s in steps {
                    println!("{}", s.result);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                ExitCode::from(2)
            }
        },
        Cmd::Check { files } => {
            let (mut passed, mut failed, mut broken) = (0_usize, 0_usize, false);
            let many = files.len() > 1;
            for (n, file) in files.iter().enumerate() {
                match run_file(file, &store, n, many) {
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
                                    println!(
                                        "{}: step {} ({}): {}: expected {}, got {}",
                                        file.display(),
                                        s.index,
                                        s.action,
                                        d.path,
                                        d.expected,
                                        d.actual
                                    );
                                }
                            }
                        }
                    }
                }
            }
            println!("{passed} passed, {failed} failed");
            if broken {
                ExitCode::from(2)
            } else if failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
