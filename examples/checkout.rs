//! `checkout`: the README's main command. A small demo shop on the embedded
//! SQLite store: a 满减 promotion, a coupon, points and free shipping above a
//! threshold. It places, pays, ships and delivers an order, takes back part
//! of it, and prints a receipt per step and the final stock.
//!
//! ```text
//! cargo run --release --example checkout [-- --db PATH [--fresh]]
//! ```
//! A reader that stops early (`… | head -3`) ends the demo quietly.
//! Every run sets its shop up from scratch on a new database: by default a
//! new file with a unique name in the system's temporary directory (kept
//! afterwards, for `audit`), so the command works run after run. With
//! `--db PATH`, an existing PATH is refused — never opened, never replaced
//! — unless `--fresh` is given, which replaces it (and is refused while
//! another program has it open).

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mercato::core::money::parse_amount;
use mercato::core::order::LineQty;
use mercato::core::{Currency, Quote};
use mercato::rules::{CatalogItem, Coupon, PricingSettings, Promotion, ShippingSettings};
use mercato::sqlite::{SqliteOptions, SqliteStore};
use mercato::store::{Store, StoreError};
use mercato::{
    Engine, EngineError, LocationOptions, PlaceOrderRequest, ReturnOptions, Settings, SystemClock,
};

#[macro_use]
#[path = "support/out.rs"]
mod out;

const USAGE: &str = "usage: checkout [--db PATH [--fresh]]

Runs the demo shop (a 满减 promotion, a coupon, points, free shipping) on a
new SQLite database and prints a receipt per step.

  --db PATH  where to create the database (default: a new file with a
             unique name in the system's temporary directory). An existing
             PATH is refused: the demo starts from an empty shop and never
             runs on top of a database or replaces one without --fresh.
  --fresh    replace an existing PATH (its data is lost); refused while
             another program has the database open.

Examples:
  cargo run --release --example checkout
  cargo run --release --example checkout -- --db /tmp/demo.db --fresh";

/// Why the demo stopped: the engine refused something, or stdout is gone.
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

fn print_quote(title: &str, q: &Quote) -> io::Result<()> {
    outln!("\n== {title}")?;
    outln!(
        "  {:<16} {:>3} {:>9} {:>9}   adjustments",
        "sku",
        "qty",
        "amount",
        "net"
    )?;
    for l in &q.lines {
        let adj: Vec<String> = l
            .adjustments
            .iter()
            .map(|a| match a.stage.as_str() {
                s if s == a.source => format!("{s} -{}", a.amount.amount()),
                s => format!("{s} {} -{}", a.source, a.amount.amount()),
            })
            .collect();
        outln!(
            "  {:<16} {:>3} {:>9} {:>9}   {}",
            l.sku,
            l.qty,
            l.amount.amount(),
            l.net.amount(),
            adj.join(", ")
        )?;
    }
    let t = &q.totals;
    outln!(
        "  list {}  promotions -{}  coupons -{}  points -{} ({} pts)  goods {}  shipping {}  PAYABLE {} {}",
        t.list.amount(),
        t.unit_discount.amount() + t.item_discount.amount() + t.order_discount.amount(),
        t.coupon_discount.amount(),
        t.points_deduction.amount(),
        q.points_used,
        t.goods.amount(),
        t.shipping.amount(),
        t.payable.amount(),
        q.currency
    )?;
    for r in &q.rejected {
        let hint = r
            .missing
            .map(|m| format!(" (add {} more)", m.amount()))
            .unwrap_or_default();
        outln!("  not applied: {} — {}{hint}", r.source, r.reason.as_str())?;
    }
    Ok(())
}

/// A new file name in the system's temporary directory, unique to this run.
fn temporary_db() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!(
        "mercato-checkout-{}-{nanos}.db",
        std::process::id()
    ))
}

/// Opens the demo's database: always a new one (see the module docs).
fn new_store(db: &Path, fresh: bool) -> Result<SqliteStore, String> {
    let opened = if fresh {
        SqliteStore::create_fresh(db, SqliteOptions::default())
    } else {
        SqliteStore::create_new(db, SqliteOptions::default())
    };
    opened.map_err(|e| match e {
        StoreError::Exists { what } => format!(
            "{what} exists: the demo sets its shop up from scratch, so it does not run on an \
             existing database. Pass --fresh to replace it (its data is lost), or choose another --db."
        ),
        StoreError::InUse { what } => {
            format!("{what} is open in another program: close it before replacing it")
        }
        other => other.to_string(),
    })
}

fn run(store: SqliteStore) -> Result<(), Failure> {
    let db = store.path().to_path_buf();
    outln!("mercato checkout demo — database: {} (new)", db.display())?;
    let engine = Engine::open(store, SystemClock)?;

    // Free shipping from 99.00, else 8.00; points and the rest as default
    // (100 points = 1.00, at most 50 % of the goods).
    let settings = Settings {
        pricing: PricingSettings {
            shipping: ShippingSettings {
                fee: parse_amount("8.00").map_err(EngineError::from)?,
                free_threshold: Some(parse_amount("99.00").map_err(EngineError::from)?),
            },
            ..PricingSettings::default()
        },
        ..Settings::default()
    };
    engine.configure(Currency::CNY, settings)?;
    engine.add_catalog_item(
        CatalogItem::new("longjing-250g", "45.00")
            .map_err(EngineError::from)?
            .product("longjing")
            .category("tea"),
    )?;
    engine.add_catalog_item(
        CatalogItem::new("mooncake-box", "25.00")
            .map_err(EngineError::from)?
            .category("snacks"),
    )?;
    engine.add_catalog_item(
        CatalogItem::new("celadon-mug", "39.00")
            .map_err(EngineError::from)?
            .category("ware"),
    )?;
    engine.add_promotion(
        Promotion::full_reduction("spend200-save30")
            .tier("200.00", "30.00")
            .build()
            .map_err(EngineError::from)?,
    )?;
    engine.register_customer("alice", Some("gold"), 2_000)?;
    engine.add_coupon(
        Coupon::amount_off("WELCOME10", "10.00")
            .threshold("99.00")
            .owner("alice")
            .build()
            .map_err(EngineError::from)?,
    )?;
    engine.configure_location(
        "longjing-250g",
        "hangzhou",
        LocationOptions {
            priority: 1,
            ..LocationOptions::default()
        },
    )?;
    engine.adjust_stock("longjing-250g", "hangzhou", 20, "received")?;
    engine.adjust_stock("longjing-250g", "shanghai", 50, "received")?;
    engine.adjust_stock("mooncake-box", "shanghai", 40, "received")?;
    engine.adjust_stock("celadon-mug", "shanghai", 12, "received")?;

    let mut order = PlaceOrderRequest::new("order-1001")
        .line("longjing-250g", 3)
        .line("mooncake-box", 2)
        .line("celadon-mug", 1)
        .customer("alice")
        .points(500)
        .channel("app");
    let best = engine.best_coupons(Some("alice"), &order.lines, 0)?;
    outln!("\nbest coupons for alice's cart: {:?}", best.coupons)?;

    for code in &best.coupons {
        order = order.coupon(code);
    }
    let placed = engine.place_order(order, Some("alice-checkout-1"))?;
    print_quote(
        &format!("placed {} — {}", placed.order, placed.status),
        &placed.quote,
    )?;
    for r in &placed.reservations {
        outln!("  reserved {} × {} at {}", r.qty, r.sku, r.location)?;
    }
    let payable = placed.quote.totals.payable;
    outln!(
        "\n== pay {payable}: {}",
        engine.pay("order-1001", payable, Some("alice-pay-1"))?
    )?;
    outln!(
        "== pay again with the same key (a client retry): {}",
        engine.pay("order-1001", payable, Some("alice-pay-1"))?
    )?;
    outln!("== ship: {}", engine.ship("order-1001", None, None)?)?;
    outln!("== deliver: {}", engine.deliver("order-1001", None)?)?;

    let returned = engine.return_items(
        "order-1001",
        vec![LineQty { line: 0, qty: 1 }],
        ReturnOptions { restock: true },
        None,
    )?;
    outln!(
        "\n== return 1 × longjing-250g: refund {}, {} points back, order {}",
        returned.refund,
        returned.points_returned,
        returned.status
    )?;
    let alice = engine.customer("alice")?;
    outln!(
        "   alice now has {} points; coupons {:?}",
        alice.points,
        alice.coupons
    )?;

    outln!("\n== final stock")?;
    for sku in ["longjing-250g", "mooncake-box", "celadon-mug"] {
        let l = engine.stock(sku)?;
        outln!(
            "  {sku:<16} on_hand {:>3}  reserved {:>3}  available {:>3}",
            l.on_hand,
            l.reserved,
            l.available
        )?;
    }
    let report = engine.store().verify().map_err(EngineError::from)?;
    outln!(
        "\naudit: {} events, hash chain {}",
        report.events,
        if report.ok() { "OK" } else { "BROKEN" }
    )?;
    outln!(
        "the database stays at {0}: cargo run --release --example audit -- sqlite:{0}",
        db.display()
    )?;
    Ok(())
}

fn main() -> ExitCode {
    out::exit(main_io())
}

/// The demo; a write to stdout that fails (a reader that went away) ends
/// it.
fn main_io() -> io::Result<ExitCode> {
    let mut db = None;
    let mut fresh = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--db" => match args.next() {
                Some(p) => db = Some(PathBuf::from(p)),
                None => {
                    eprintln!("{USAGE}");
                    return Ok(ExitCode::from(2));
                }
            },
            "--fresh" => fresh = true,
            "-h" | "--help" => {
                outln!("{USAGE}")?;
                return Ok(ExitCode::SUCCESS);
            }
            _ => {
                eprintln!("{USAGE}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let db = db.unwrap_or_else(temporary_db);
    let store = match new_store(&db, fresh) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    match run(store) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Failure::Output(e)) => Err(e),
        Err(Failure::Engine(e)) => {
            eprintln!("error [{}]: {e}", e.code());
            Ok(ExitCode::FAILURE)
        }
    }
}
