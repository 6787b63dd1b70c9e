//! # mercato-bench
//!
//! Tooling behind `benches/compare.sh`: the measurements that put mercato
//! side by side with what users run today for hot paths — a Redis + Lua
//! script, a plain SQL conditional `UPDATE`, the disk's fsync rate — and the
//! chart of the results. Throughputs are integers (operations per second)
//! computed from elapsed microseconds; no floating point anywhere.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod measure;

use serde::{Deserialize, Serialize};

/// One measured figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figure {
    /// What was measured (`redis_lua_no_persistence`, `mercato_sqlite_full`...).
    pub system: String,
    /// Concurrent callers (clients, threads) or batch size for the raw floor.
    pub callers: u32,
    /// Operations (orders) completed.
    pub ops: u64,
    /// Elapsed microseconds.
    pub micros: u64,
    /// Operations per second.
    pub ops_per_s: u64,
}

impl Figure {
    /// Builds a figure from a count and an elapsed time.
    pub fn new(system: &str, callers: u32, ops: u64, elapsed: std::time::Duration) -> Figure {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let ops_per_s =
            u64::try_from(u128::from(ops) * 1_000_000 / u128::from(micros)).unwrap_or(u64::MAX);
        Figure {
            system: system.to_string(),
            callers,
            ops,
            micros,
            ops_per_s,
        }
    }
}

/// Everything one run of the comparison measured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Results {
    /// When (RFC 3339, UTC).
    pub date: String,
    /// Machine description.
    pub machine: String,
    /// The figures.
    pub figures: Vec<Figure>,
}

impl Results {
    /// The figure of `system` at `callers`, if measured.
    pub fn get(&self, system: &str, callers: u32) -> Option<&Figure> {
        self.figures
            .iter()
            .find(|f| f.system == system && f.callers == callers)
    }
}

/// `a / b` as a percentage with one decimal, as text (`"153.2%"`).
pub fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        return "n/a".to_string();
    }
    let permille = u128::from(a) * 1000 / u128::from(b);
    format!("{}.{}%", permille / 10, permille % 10)
}
