//! `plot`: renders the comparison JSON as an SVG chart of throughput
//! (orders/s) against concurrent callers for mercato on SQLite FULL (callers
//! as threads, and as orders in flight on two threads) and NORMAL, on
//! PostgreSQL (both ways), for Redis + Lua and the raw SQLite floor.
//!
//! ```text
//! cargo run --release -p mercato-bench --bin plot -- RESULTS.json OUT.svg
//! ```

use std::process::ExitCode;

use mercato_bench::Results;
use plotters::prelude::*;

const SERIES: &[(&str, &str, RGBColor)] = &[
    (
        "mercato_sqlite_full",
        "mercato, SQLite FULL (durable)",
        RGBColor(200, 30, 30),
    ),
    (
        "mercato_sqlite_full_inflight",
        "mercato, SQLite FULL, orders in flight on 2 threads",
        RGBColor(140, 20, 90),
    ),
    (
        "mercato_postgres",
        "mercato, PostgreSQL (durable, one server)",
        RGBColor(30, 150, 60),
    ),
    (
        "mercato_postgres_inflight",
        "mercato, PostgreSQL, orders in flight on 2 threads",
        RGBColor(20, 100, 40),
    ),
    (
        "mercato_sqlite_normal",
        "mercato, SQLite NORMAL",
        RGBColor(240, 140, 40),
    ),
    (
        "redis_lua_no_persistence",
        "Redis+Lua, no persistence",
        RGBColor(30, 90, 200),
    ),
    (
        "redis_lua_aof_always",
        "Redis+Lua, appendfsync always",
        RGBColor(90, 170, 220),
    ),
    (
        "raw_sqlite_full_batch",
        "raw SQLite floor (batch = callers)",
        RGBColor(110, 110, 110),
    ),
];

fn draw(r: &Results, out: &str) -> Result<(), Box<dyn std::error::Error>> {
    let max_x = r
        .figures
        .iter()
        .map(|f| f.callers)
        .max()
        .unwrap_or(1)
        .max(1);
    let max_y = r
        .figures
        .iter()
        .filter(|f| SERIES.iter().any(|s| s.0 == f.system))
        .map(|f| f.ops_per_s)
        .max()
        .unwrap_or(1)
        .max(1);
    let root = SVGBackend::new(out, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("Flash-sale orders/s vs concurrent callers ({})", r.date);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(20)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0_u32..max_x + 1, 0_u64..max_y + max_y / 10)?;
    chart
        .configure_mesh()
        .x_desc("concurrent callers (clients, threads; batch size for the raw floor)")
        .y_desc("orders per second")
        .draw()?;
    for (key, label, color) in SERIES {
        let mut pts: Vec<(u32, u64)> = r
            .figures
            .iter()
            .filter(|f| f.system == *key)
            .map(|f| (f.callers, f.ops_per_s))
            .collect();
        if pts.is_empty() {
            continue;
        }
        pts.sort_unstable();
        let c = *color;
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out] = args.as_slice() else {
        eprintln!("usage: plot RESULTS.json OUT.svg");
        return ExitCode::from(2);
    };
    let r: Results = match std::fs::read_to_string(input).map(|t| serde_json::from_str(&t)) {
        Ok(Ok(r)) => r,
        _ => {
            eprintln!("cannot read {input}");
            return ExitCode::from(2);
        }
    };
    match draw(&r, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot draw {out}: {e}");
            ExitCode::FAILURE
        }
    }
}
