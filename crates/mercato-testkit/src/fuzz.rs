//! The fuzz targets' logic as plain functions (feature `fuzzing`): the
//! cargo-fuzz targets in `fuzz/` call them, and a normal `cargo test`
//! replays the committed corpus and crash artifacts through them on the
//! stable toolchain. Each function panics when it finds a bug (that is how
//! a fuzzer notices) and returns quietly on any input the code refuses.

use arbitrary::{Arbitrary, Unstructured};
use mercato::core::apportion::apportion_minor;
use mercato::core::{Currency, Money, Quote};
use mercato::rules::{
    Cart, CartLine, CatalogItem, Coupon, PricingContext, PricingSettings, Promotion, RuleSet,
    ShopFacts, price,
};
use mercato::scenario::Scenario;
use mercato::store::MemoryStore;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rust_decimal::Decimal;

use crate::model::Step;
use crate::runner::ModelRunner;
use crate::strategies::shop_setup;

/// Most steps a fuzz input runs (keeps every execution fast).
const MAX_STEPS: usize = 64;

/// Target `scenario`: bytes as a scenario file; parse, and when it parses,
/// run it on a fresh in-memory engine (at most 64 steps). Finds panics in the
/// parser, the runner and everything under them.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut sc) = Scenario::parse(text) else {
        return;
    };
    sc.steps.truncate(MAX_STEPS);
    if let Ok(outcomes) = mercato::scenario::run(&sc, MemoryStore::new()) {
        for o in outcomes {
            assert!(
                o.result.is_object(),
                "step {} result is not an object",
                o.index
            );
            if let Some(expect) = &o.expect {
                let _ = mercato::scenario::matches(expect, &o.result);
            }
        }
    }
}

/// Input of the `rules` target: rule definitions as contract JSON.
#[derive(serde::Deserialize)]
struct RulesInput {
    #[serde(default)]
    settings: Option<PricingSettings>,
    #[serde(default)]
    catalog: Vec<CatalogItem>,
    #[serde(default)]
    promotions: Vec<serde_json::Value>,
    #[serde(default)]
    coupons: Vec<serde_json::Value>,
    #[serde(default)]
    carts: Vec<CartInput>,
}

#[derive(serde::Deserialize)]
struct CartInput {
    #[serde(default)]
    customer: Option<String>,
    lines: Vec<CartLine>,
    #[serde(default)]
    coupons: Vec<String>,
    #[serde(default)]
    points: i64,
}

/// Target `rules`: bytes as JSON `{settings, catalog, promotions, coupons,
/// carts}`; deserialize each definition, validate it, build a rule set of
/// the valid ones, and price every cart. A definition that deserializes and
/// validates must be accepted by the rule set; every quote must add up
/// (Σ nets = goods, goods + shipping = payable, no negative net, the
/// quote's own consistency check).
pub fn rules(data: &[u8]) {
    let Ok(input) = serde_json::from_slice::<RulesInput>(data) else {
        return;
    };
    let c = Currency::CNY;
    let settings = input.settings.unwrap_or_default();
    if settings.validate(c).is_err() {
        return;
    }
    let mut catalog: Vec<CatalogItem> = Vec::new();
    for item in input.catalog.into_iter().take(16) {
        if item.validate(c).is_ok() && !catalog.iter().any(|x| x.sku == item.sku) {
            catalog.push(item);
        }
    }
    let Ok(mut rules) = RuleSet::new(c, settings, catalog, vec![], vec![]) else {
        return;
    };
    for v in input.promotions.into_iter().take(16) {
        if let Ok(p) = serde_json::from_value::<Promotion>(v) {
            let valid = p.validate(c).is_ok();
            let added = rules.add_promotion(p).is_ok();
            assert!(!added || valid, "an invalid promotion was accepted");
        }
    }
    for v in input.coupons.into_iter().take(16) {
        if let Ok(cp) = serde_json::from_value::<Coupon>(v) {
            let valid = cp.validate(c).is_ok();
            let added = rules.add_coupon(cp).is_ok();
            assert!(!added || valid, "an invalid coupon was accepted");
        }
    }
    let shop = ShopFacts::new()
        .with_customer("u1", Some("gold"), 1_000)
        .with_customer("u2", None, 0);
    let shop = rules
        .catalog()
        .iter()
        .fold(shop, |s, item| s.with_stock(&item.sku, 5));
    let now = crate::util::epoch();
    let ctx = PricingContext::new(&rules, now, &shop);
    for cart in input.carts.into_iter().take(4) {
        let cart = Cart {
            customer: cart.customer,
            lines: cart.lines.into_iter().take(8).collect(),
            coupons: cart.coupons,
            points: cart.points,
        };
        if let Ok(q) = price(&cart, &ctx) {
            assert_quote_adds_up(&q);
        }
    }
}

/// Panics when a quote does not add up.
fn assert_quote_adds_up(q: &Quote) {
    let sum = Money::sum(q.currency, q.lines.iter().map(|l| &l.net));
    assert_eq!(sum.ok(), Some(q.totals.goods), "Σ nets ≠ goods");
    assert_eq!(
        q.totals.goods.checked_add(q.totals.shipping).ok(),
        Some(q.totals.payable),
        "goods + shipping ≠ payable"
    );
    for l in &q.lines {
        assert!(!l.net.is_negative(), "negative net on line {}", l.line);
    }
    assert!(!q.totals.payable.is_negative(), "negative payable");
    if let Err(e) = q.check() {
        panic!("quote check: {e}");
    }
}

/// Target `engine_commands`: the first 32 bytes seed a generated shop
/// ([`shop_setup`]); the rest decode with `arbitrary` into up to 64
/// [`Step`]s (quantities clamped to small values, time jumps to 30 days,
/// `update_settings` timers and `after_sale` windows left as any `i64`),
/// which run on an in-memory engine against the reference model, with
/// every invariant after every step and replay + hash chain at the end.
pub fn engine_commands(data: &[u8]) {
    if data.len() < 32 {
        return;
    }
    let mut seed = [0_u8; 32];
    seed.copy_from_slice(&data[..32]);
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let Ok(tree) = shop_setup().new_tree(&mut runner) else {
        return;
    };
    let setup = tree.current();
    let mut u = Unstructured::new(&data[32..]);
    let Ok(raw) = Vec::<Step>::arbitrary(&mut u) else {
        return;
    };
    let mut r = match ModelRunner::new(MemoryStore::new(), &setup) {
        Ok(r) => r,
        Err(e) => panic!("setup refused: {e}"),
    };
    for s in raw.into_iter().take(MAX_STEPS).map(clamp) {
        if let Err(d) = r.step(&s) {
            panic!("{d}");
        }
    }
    if let Err(d) = r.finish() {
        panic!("{d}");
    }
}

fn small(q: i64) -> i64 {
    q.rem_euclid(13) - 3
}

fn small_lines(v: Vec<(u8, i64)>) -> Vec<(u8, i64)> {
    v.into_iter().take(4).map(|(l, q)| (l, small(q))).collect()
}

/// Keeps decoded steps in the range the model is exact for.
fn clamp(s: Step) -> Step {
    match s {
        Step::Place {
            order,
            customer,
            lines,
            coupons,
            points,
            channel,
        } => Step::Place {
            order: order % 12,
            customer,
            lines: small_lines(lines),
            coupons: coupons.into_iter().take(3).collect(),
            points: points.rem_euclid(5_000),
            channel: channel % 2,
        },
        Step::Ship { order, lines } => Step::Ship {
            order: order % 12,
            lines: lines.map(small_lines),
        },
        Step::Return {
            order,
            lines,
            restock,
        } => Step::Return {
            order: order % 12,
            lines: small_lines(lines),
            restock,
        },
        Step::Tick { minutes } => Step::Tick {
            minutes: minutes % (60 * 24 * 30),
        },
        Step::Adjust {
            sku,
            location,
            delta,
        } => Step::Adjust {
            sku,
            location,
            delta: small(delta),
        },
        // Timers are taken as decoded (any i64: the engine must refuse
        // what is out of range); a `max_orders` pair only when out of range
        // (the model leaves an in-range one out of the request anyway).
        Step::Settings {
            payment_timeout_minutes,
            auto_complete_days,
            max_orders,
            after_sale,
        } => Step::Settings {
            payment_timeout_minutes,
            auto_complete_days,
            max_orders: max_orders.filter(|(c, m)| !crate::model::max_orders_in_range(*c, *m)),
            after_sale,
        },
        Step::RequestAfterSale {
            order,
            refund_only,
            lines,
            reason,
            fee,
        } => Step::RequestAfterSale {
            order: order % 12,
            refund_only,
            lines: small_lines(lines),
            reason,
            fee,
        },
        Step::AfterSale {
            order,
            request,
            action,
            damaged,
        } => Step::AfterSale {
            order: order % 12,
            request: request % 8,
            action,
            damaged,
        },
        Step::CancelUnits { order, lines, rest } => Step::CancelUnits {
            order: order % 12,
            lines: small_lines(lines),
            rest,
        },
        Step::ShipShipment {
            order,
            shipment,
            packages,
            carrier,
        } => Step::ShipShipment {
            order: order % 12,
            shipment,
            packages: packages.into_iter().take(3).map(small_lines).collect(),
            carrier,
        },
        Step::DeliverShipment { order, shipment } => Step::DeliverShipment {
            order: order % 12,
            shipment,
        },
        Step::PresaleDeposit {
            order,
            customer,
            lines,
            exact,
        } => Step::PresaleDeposit {
            order: order % 12,
            customer,
            lines: small_lines(lines),
            exact,
        },
        other => other,
    }
}

/// Target `apportion`: a total and weights decoded with `arbitrary`; the
/// shares of [`mercato::apportion()`] must add up to the total, be within one
/// minor unit of the exact share, and agree with `apportion_minor`.
pub fn apportion(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (Ok(total), Ok(weights)) = (u.arbitrary::<u32>(), u.arbitrary::<Vec<u32>>()) else {
        return;
    };
    let total = i64::from(total);
    let weights: Vec<i64> = weights.into_iter().take(64).map(i64::from).collect();
    let dec: Vec<Decimal> = weights.iter().map(|w| Decimal::from(*w)).collect();
    let money = Money::from_minor(total, Currency::CNY);
    let a = mercato::apportion(money, &dec);
    let b = apportion_minor(total, &weights);
    match (a, b) {
        (Ok(a), Ok(b)) => {
            let a: Vec<i64> = a.iter().map(crate::util::minor).collect();
            assert_eq!(a, b, "apportion and apportion_minor disagree");
            assert_eq!(a.iter().sum::<i64>(), total, "shares do not add up");
            let sum_w: i128 = weights.iter().map(|w| i128::from(*w)).sum();
            if sum_w > 0 {
                for (s, w) in a.iter().zip(&weights) {
                    let exact_floor = i128::from(total) * i128::from(*w) / sum_w;
                    let s = i128::from(*s);
                    assert!(
                        s == exact_floor || s == exact_floor + 1,
                        "share {s} not within one unit of {exact_floor}"
                    );
                }
            }
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("apportion {a:?} vs apportion_minor {b:?}"),
    }
}
