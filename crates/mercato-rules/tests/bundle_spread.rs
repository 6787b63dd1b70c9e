//! Property test of a bundle's spread (issue 17): on random carts where
//! earlier item-stage promotions (`buy_x_get_y`, another bundle, percent and
//! amount discounts) have left line amounts that are not whole per unit,
//! each line's share of the bundle's saving is the contract's formula,
//! worked here with exact fractions, independently of the pipeline:
//!
//! * the set value is Σ over the giving lines of `left × given ÷ qty`
//!   (units taken from lines in line order), exactly;
//! * the saving is `value − sets × price`, rounded once with the setting;
//! * each share is the floor of `saving × its amount ÷ value`, and the minor
//!   units left go to the largest remainders (ties: larger amount given,
//!   then the earlier line); Σ shares = the saving.
//!
//! Cases: env `MERCATO_PROPTEST_CASES`, default 512, in CNY and JPY and in
//! both rounding modes.

// The purity lints (clippy.toml) are for the library: this test
// reads its environment (`MERCATO_PROPTEST_CASES`).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::cmp::Ordering;

use mercato_core::money::{Currency, Money};
use mercato_core::quote::Quote;
use mercato_rules::{Cart, CartLine, PricingContext, RuleSet, ShopFacts, price};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn cases() -> u32 {
    std::env::var("MERCATO_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

const SKUS: [&str; 4] = ["a", "b", "c", "d"];

/// A non-negative fraction in lowest terms (small numbers only: the test
/// keeps every amount far inside `i128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Frac {
    num: i128,
    den: i128,
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

impl Frac {
    fn new(num: i128, den: i128) -> Frac {
        let g = gcd(num, den).max(1);
        Frac {
            num: num / g,
            den: den / g,
        }
    }
    fn int(n: i128) -> Frac {
        Frac::new(n, 1)
    }
    fn add(self, o: Frac) -> Frac {
        Frac::new(self.num * o.den + o.num * self.den, self.den * o.den)
    }
    fn sub(self, o: Frac) -> Frac {
        Frac::new(self.num * o.den - o.num * self.den, self.den * o.den)
    }
    fn mul(self, o: Frac) -> Frac {
        Frac::new(self.num * o.num, self.den * o.den)
    }
    fn div(self, o: Frac) -> Frac {
        Frac::new(self.num * o.den, self.den * o.num)
    }
    fn floor(self) -> i128 {
        self.num.div_euclid(self.den)
    }
    fn fract(self) -> Frac {
        self.sub(Frac::int(self.floor()))
    }
    fn cmp(self, o: Frac) -> Ordering {
        (self.num * o.den).cmp(&(o.num * self.den))
    }
}

/// `x` rounded to a whole number: half up, or half to even.
fn round(x: Frac, half_even: bool) -> i128 {
    let f = x.floor();
    match x.fract().cmp(Frac::new(1, 2)) {
        Ordering::Less => f,
        Ordering::Greater => f + 1,
        Ordering::Equal if half_even && f % 2 == 0 => f,
        Ordering::Equal => f + 1,
    }
}

#[derive(Clone, Debug)]
struct Case {
    currency: Currency,
    half_even: bool,
    /// List unit prices of a, b, c, d in minor units.
    prices: Vec<i64>,
    /// Earlier item-stage promotions (without id and priority).
    earlier: Vec<Value>,
    /// The bundle under test: (SKU index, units per set), and the price as
    /// a percentage of one set's list value.
    items: Vec<(usize, i64)>,
    price_pct: i64,
    /// Cart lines: (SKU index, qty).
    lines: Vec<(usize, i64)>,
}

fn amount(minor: i64, currency: Currency) -> String {
    Decimal::new(minor, currency.minor_units()).to_string()
}

fn skus(idx: &[usize]) -> Vec<&'static str> {
    let mut v: Vec<&str> = idx.iter().map(|i| SKUS[*i % SKUS.len()]).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn scope() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(json!({"all": true})),
        3 => proptest::collection::vec(0_usize..4, 1..3).prop_map(|s| json!({"skus": skus(&s)})),
    ]
}

fn percent() -> impl Strategy<Value = String> {
    prop_oneof![
        (1_i64..=100).prop_map(|p| p.to_string()),
        (1_i64..=1_000_000).prop_map(|p| Decimal::new(p, 4).to_string()),
    ]
}

/// An earlier promotion; amounts are in minor units of either currency.
fn earlier() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (scope(), 1_i64..4, scope(), 1_i64..3, percent(), any::<bool>()).prop_map(
            |(bs, bq, gs, gq, p, repeat)| json!({"kind": "buy_x_get_y",
                "buy": {"scope": bs, "qty": bq}, "get": {"scope": gs, "qty": gq, "percent": p},
                "repeat": repeat})
        ),
        2 => (proptest::collection::vec((0_usize..4, 1_i64..3), 1..3), 30_i64..100)
            .prop_map(|(items, pct)| json!({"kind": "bundle", "items": items, "price_pct": pct})),
        1 => (scope(), percent()).prop_map(|(s, p)| json!({"kind": "percent_off", "scope": s, "percent": p})),
        1 => (scope(), 1_i64..500, prop_oneof![Just("unit"), Just("line")])
            .prop_map(|(s, a, per)| json!({"kind": "amount_off", "scope": s, "amount_minor": a, "per": per})),
    ]
}

/// Carts hold one line per bundle item (its units per set plus 0 to 7,
/// often not a whole number of sets) and up to 3 more random lines, in a
/// random order, so that most carts give at least one set.
fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(1_i64..100_000, 4),
        proptest::collection::vec(earlier(), 1..4),
        proptest::collection::vec((0_usize..4, 1_i64..4), 1..4),
        1_i64..100,
        proptest::collection::vec(0_i64..8, 3),
        proptest::collection::vec((0_usize..4, 1_i64..9), 0..4),
    )
        .prop_flat_map(
            |(jpy, half_even, prices, earlier, items, price_pct, extra, more)| {
                let mut lines: Vec<(usize, i64)> = items
                    .iter()
                    .zip(&extra)
                    .map(|((i, q), x)| (*i, q + x))
                    .collect();
                lines.extend(more);
                Just(lines).prop_shuffle().prop_map(move |lines| Case {
                    currency: if jpy { Currency::JPY } else { Currency::CNY },
                    half_even,
                    prices: prices.clone(),
                    earlier: earlier.clone(),
                    items: items.clone(),
                    price_pct,
                    lines,
                })
            },
        )
}

/// Bundle items with distinct SKUs (the first of each kept).
fn distinct(items: &[(usize, i64)]) -> Vec<(&'static str, i64)> {
    let mut out: Vec<(&str, i64)> = Vec::new();
    for (i, q) in items {
        let sku = SKUS[*i % SKUS.len()];
        if !out.iter().any(|(s, _)| *s == sku) {
            out.push((sku, *q));
        }
    }
    out
}

/// A bundle's price: `pct` % of one set's list value, at least one minor unit.
fn bundle_price(items: &[(&str, i64)], pct: i64, c: &Case) -> i64 {
    let list: i64 = items
        .iter()
        .map(|(s, q)| {
            let k = SKUS.iter().position(|x| x == s).unwrap_or(0);
            c.prices[k] * q
        })
        .sum();
    (list * pct / 100).max(1)
}

fn bundle_json(id: &str, items: &[(&str, i64)], price: i64, prio: i64, c: &Case) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(s, q)| json!({"sku": s, "qty": q}))
        .collect();
    json!({"id": id, "kind": "bundle", "priority": prio, "items": items,
           "price": amount(price, c.currency)})
}

/// The rule set: the earlier promotions at priorities 10, 9, …, the bundle
/// under test (`set`) last at priority 0.
fn rules(c: &Case) -> RuleSet {
    let catalog: Vec<Value> = SKUS
        .iter()
        .zip(&c.prices)
        .map(|(s, p)| json!({"sku": s, "price": amount(*p, c.currency)}))
        .collect();
    let mut promotions: Vec<Value> = Vec::new();
    for (n, e) in c.earlier.iter().enumerate() {
        let id = format!("e{n}");
        let prio = 10 - n as i64;
        let p = match e["kind"].as_str() {
            Some("bundle") => {
                let items: Vec<(usize, i64)> =
                    serde_json::from_value(e["items"].clone()).unwrap_or_default();
                let items = distinct(&items);
                let pct = e["price_pct"].as_i64().unwrap_or(50);
                bundle_json(&id, &items, bundle_price(&items, pct, c), prio, c)
            }
            Some("amount_off") => {
                let a = e["amount_minor"].as_i64().unwrap_or(1);
                json!({"id": id, "kind": "amount_off", "priority": prio, "scope": e["scope"],
                       "per": e["per"], "amount": amount(a, c.currency)})
            }
            _ => {
                let mut p = e.clone();
                p["id"] = json!(id);
                p["priority"] = json!(prio);
                p
            }
        };
        promotions.push(p);
    }
    let items = distinct(&c.items);
    promotions.push(bundle_json(
        "set",
        &items,
        bundle_price(&items, c.price_pct, c),
        0,
        c,
    ));
    let settings = json!({"rounding": if c.half_even { "half_even" } else { "half_up" }});
    RuleSet::new(
        c.currency,
        serde_json::from_value(settings).unwrap(),
        serde_json::from_value(json!(catalog)).unwrap(),
        serde_json::from_value(json!(promotions)).unwrap(),
        vec![],
    )
    .unwrap()
}

fn minor(m: &Money) -> i128 {
    m.to_minor().unwrap()
}

/// What the contract gives the bundle `set`: the saving and each line's
/// share, from the line amounts left before it.
struct Expected {
    saving: i128,
    shares: Vec<i128>,
    /// Some giving line's units are worth a fraction of a minor unit.
    fractional: bool,
}

fn expected(c: &Case, q: &Quote, items: &[(&str, i64)], price: i64) -> Expected {
    let n = q.lines.len();
    // Amount left of each line before `set`: its amount less every other
    // adjustment (`set` comes last, so all of them are applied before it).
    let left: Vec<i128> = q
        .lines
        .iter()
        .map(|l| {
            minor(&l.amount)
                - l.adjustments
                    .iter()
                    .filter(|a| a.source != "set")
                    .map(|a| minor(&a.amount))
                    .sum::<i128>()
        })
        .collect();
    let qty: Vec<i128> = q.lines.iter().map(|l| i128::from(l.qty)).collect();
    let sets = items
        .iter()
        .map(|(s, u)| {
            let have: i128 = q
                .lines
                .iter()
                .filter(|l| l.sku == *s)
                .map(|l| i128::from(l.qty))
                .sum();
            have / i128::from(*u)
        })
        .min()
        .unwrap_or(0);
    let none = Expected {
        saving: 0,
        shares: vec![0; n],
        fractional: false,
    };
    if sets == 0 {
        return none;
    }
    // Units taken from lines in line order.
    let mut worth = vec![Frac::int(0); n];
    let mut fractional = false;
    for (s, u) in items {
        let mut need = sets * i128::from(*u);
        for i in 0..n {
            if need == 0 {
                break;
            }
            if q.lines[i].sku != *s {
                continue;
            }
            let given = qty[i].min(need);
            need -= given;
            worth[i] = Frac::new(left[i] * given, qty[i]);
            fractional |= worth[i].den != 1;
        }
    }
    let value = worth.iter().fold(Frac::int(0), |a, w| a.add(*w));
    let raw = value.sub(Frac::int(i128::from(price) * sets));
    if raw.cmp(Frac::int(0)) != Ordering::Greater {
        return none;
    }
    let saving = round(raw, c.half_even);
    if saving <= 0 {
        return none;
    }
    // Largest remainder over the exact shares.
    let exact: Vec<Frac> = worth
        .iter()
        .map(|w| Frac::int(saving).mul(*w).div(value))
        .collect();
    let mut shares: Vec<i128> = exact.iter().map(|e| e.floor()).collect();
    let rest = saving - shares.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..n).filter(|i| worth[*i].num > 0).collect();
    order.sort_by(|x, y| {
        exact[*y]
            .fract()
            .cmp(exact[*x].fract())
            .then(worth[*y].cmp(worth[*x]))
            .then(x.cmp(y))
    });
    for i in order.iter().take(usize::try_from(rest).unwrap()) {
        shares[*i] += 1;
    }
    Expected {
        saving,
        shares,
        fractional,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        max_global_rejects: 100_000,
        ..ProptestConfig::with_cases(cases())
    })]

    #[test]
    fn a_bundle_spreads_its_saving_by_line_amount_left_per_unit(c in case()) {
        let rules = rules(&c);
        let shop = ShopFacts::new();
        let ctx = PricingContext::new(&rules, "2026-11-11T10:00:00Z".parse().unwrap(), &shop);
        let cart = Cart {
            customer: None,
            lines: c
                .lines
                .iter()
                .map(|(i, q)| CartLine { sku: SKUS[*i].to_string(), qty: *q })
                .collect(),
            coupons: vec![],
            points: 0,
        };
        let q = price(&cart, &ctx).unwrap();
        prop_assert!(q.check().is_ok(), "{:?}", q.check());
        let items = distinct(&c.items);
        let want = expected(&c, &q, &items, bundle_price(&items, c.price_pct, &c));
        // Only carts where an earlier promotion left some giving line with
        // units worth a fraction of a minor unit (the case of issue 17).
        prop_assume!(want.fractional && want.saving > 0);
        let got: Vec<i128> = q
            .lines
            .iter()
            .map(|l| {
                l.adjustments
                    .iter()
                    .filter(|a| a.source == "set")
                    .map(|a| minor(&a.amount))
                    .sum()
            })
            .collect();
        prop_assert_eq!(&got, &want.shares, "left-before-set spread, saving {}", want.saving);
        prop_assert_eq!(got.iter().sum::<i128>(), want.saving);
        let applied = q.applied.iter().find(|a| a.source == "set").map(|a| minor(&a.amount));
        prop_assert_eq!(applied, Some(want.saving));
    }
}
