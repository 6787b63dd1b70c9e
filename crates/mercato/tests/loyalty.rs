//! Coupon templates and claims (领券), and points earning and expiry
//! (issue 12), through the typed `Engine` API: template coupons priced
//! like coupons, revoke and extend, the customer's wallet by status, caps
//! exact under concurrency (threads on one engine, two engines on one
//! SQLite file), points credited at a lifecycle point, clawed back pro
//! rata on refunds (with a shortfall once spent), expired by the tick, and
//! a replay that rebuilds the same state.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mercato::core::order::LineQty;
use mercato::core::{Currency, Money};
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{MemoryStore, Store};
use mercato::{
    ClaimOptions, CouponStatus, CouponTemplate, Engine, IssueOptions, ManualClock,
    PlaceOrderRequest, Settings, template_customer_guard_key, template_guard_key,
};

const T0: &str = "2026-11-11T10:00:00Z";

fn t0() -> DateTime<Utc> {
    T0.parse().unwrap()
}

fn clock() -> ManualClock {
    ManualClock::new(t0())
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> T {
    serde_json::from_str(s).unwrap()
}

/// Tea at 12.00, 1000 in stock, customers alice, bob (gold) and carol.
fn shop<S: Store + 'static>(e: &Engine<S, ManualClock>, settings: Settings) {
    e.configure(Currency::CNY, settings).unwrap();
    e.add_catalog_item(json(r#"{"sku": "tea", "price": "12.00"}"#))
        .unwrap();
    e.adjust_stock("tea", "main", 1000, "received").unwrap();
    e.register_customer("alice", None, 0).unwrap();
    e.register_customer("bob", Some("gold"), 0).unwrap();
    e.register_customer("carol", None, 0).unwrap();
}

fn template(s: &str) -> CouponTemplate {
    json(s)
}

/// 10.00 off from 30.00, three out at once, two per customer, seven days.
const NEW10: &str = r#"{"id": "NEW10",
    "coupon": {"kind": "amount_off", "amount": "10.00", "threshold": "30.00"},
    "total_cap": 3, "per_customer_cap": 2, "validity": {"relative": {"days": 7}}}"#;

fn status<S: Store + 'static>(e: &Engine<S, ManualClock>, who: &str, code: &str) -> CouponStatus {
    e.customer(who)
        .unwrap()
        .wallet
        .into_iter()
        .find(|w| w.code == code)
        .unwrap_or_else(|| panic!("{who} has no {code}"))
        .status
}

fn teas(id: &str, who: &str, qty: i64) -> PlaceOrderRequest {
    PlaceOrderRequest::new(id).customer(who).line("tea", qty)
}

#[test]
fn templates_claims_revoke_extend_and_the_wallet() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e, Settings::default());
    e.add_coupon_template(template(NEW10)).unwrap();
    assert_eq!(
        e.add_coupon_template(template(NEW10)).unwrap_err().code(),
        "invalid_input",
        "a template id is defined once"
    );
    let claim = |who: &str| e.claim_coupon("NEW10", who, ClaimOptions::default());

    let a1 = claim("alice").unwrap();
    assert_eq!(a1.code, "NEW10-alice-1");
    assert_eq!(a1.valid_from, Some(t0()));
    assert_eq!(a1.valid_until, Some(t0() + Duration::days(7)));
    assert_eq!(claim("alice").unwrap().code, "NEW10-alice-2");
    // Per-customer cap 2.
    assert_eq!(claim("alice").unwrap_err().code(), "coupon_rejected");
    assert_eq!(claim("bob").unwrap().code, "NEW10-bob-1");
    // Total cap 3.
    assert_eq!(claim("carol").unwrap_err().code(), "coupon_rejected");
    assert_eq!(claim("nobody").unwrap_err().code(), "unknown_customer");
    assert_eq!(
        e.claim_coupon("NOPE", "alice", ClaimOptions::default())
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    assert_eq!(e.store().guard(&template_guard_key("NEW10")).unwrap(), 3);
    assert_eq!(
        e.store()
            .guard(&template_customer_guard_key("NEW10", "alice"))
            .unwrap(),
        2
    );

    // Revoking frees a place under both caps.
    e.revoke_coupon("NEW10-alice-2", None).unwrap();
    assert_eq!(status(&e, "alice", "NEW10-alice-2"), CouponStatus::Revoked);
    assert_eq!(e.store().guard(&template_guard_key("NEW10")).unwrap(), 2);
    assert_eq!(claim("carol").unwrap().code, "NEW10-carol-1");
    assert_eq!(
        e.revoke_coupon("NEW10-alice-2", None).unwrap_err().code(),
        "coupon_rejected",
        "revoked twice"
    );

    // A template coupon prices like a coupon: 3 × 12.00 = 36.00 ≥ 30.00,
    // less 10.00 = 26.00.
    let placed = e
        .place_order(teas("o1", "alice", 3).coupon("NEW10-alice-1"), None)
        .unwrap();
    assert_eq!(placed.quote.totals.payable.amount().to_string(), "26.00");
    assert_eq!(status(&e, "alice", "NEW10-alice-1"), CouponStatus::Locked);
    assert_eq!(
        e.revoke_coupon("NEW10-alice-1", None).unwrap_err().code(),
        "coupon_rejected",
        "a coupon in use is not revoked"
    );
    // A revoked code is not found; someone else's is not theirs.
    let err = e
        .place_order(teas("o2", "alice", 3).coupon("NEW10-alice-2"), None)
        .unwrap_err();
    assert_eq!(err.code(), "coupon_rejected");
    assert!(err.to_string().contains("not_found"), "{err}");
    let err = e
        .place_order(teas("o2", "alice", 3).coupon("NEW10-bob-1"), None)
        .unwrap_err();
    assert!(err.to_string().contains("not_owner"), "{err}");
    e.pay("o1", placed.quote.totals.payable, None).unwrap();
    assert_eq!(status(&e, "alice", "NEW10-alice-1"), CouponStatus::Redeemed);
    // best_coupons sees the customer's template coupons: carol's.
    let best = e
        .best_coupons(Some("carol"), &[mercato::rules::CartLine::new("tea", 3)], 0)
        .unwrap();
    assert_eq!(best.coupons, ["NEW10-carol-1"]);

    // Eight days later bob's coupon has expired; extended, it is back.
    e.clock().advance(Duration::days(8));
    assert_eq!(status(&e, "bob", "NEW10-bob-1"), CouponStatus::Expired);
    let err = e
        .place_order(teas("o3", "bob", 3).coupon("NEW10-bob-1"), None)
        .unwrap_err();
    assert!(err.to_string().contains("outside_window"), "{err}");
    assert_eq!(
        e.extend_coupon("NEW10-bob-1", t0() + Duration::days(5), None)
            .unwrap_err()
            .code(),
        "invalid_input",
        "an extension never shortens"
    );
    e.extend_coupon("NEW10-bob-1", t0() + Duration::days(30), None)
        .unwrap();
    assert_eq!(status(&e, "bob", "NEW10-bob-1"), CouponStatus::Available);
    let w = e.customer("bob").unwrap().wallet;
    assert_eq!(w[0].valid_until, Some(t0() + Duration::days(30)));
    let placed = e
        .place_order(teas("o3", "bob", 3).coupon("NEW10-bob-1"), None)
        .unwrap();
    assert_eq!(placed.quote.totals.payable.amount().to_string(), "26.00");
    // carol's coupon (claimed at T0) has expired too: best_coupons, which
    // sees the customer's template coupons, finds none usable.
    let best = e
        .best_coupons(Some("carol"), &[mercato::rules::CartLine::new("tea", 3)], 0)
        .unwrap();
    assert!(best.coupons.is_empty());

    // The wallet lists every coupon with its status, as strings too.
    let alice = e.customer("alice").unwrap();
    assert_eq!(
        alice.coupons,
        [
            ("NEW10-alice-1".to_string(), "redeemed".to_string()),
            ("NEW10-alice-2".to_string(), "revoked".to_string())
        ]
    );

    // Replay rebuilds the same state; the guard counters are what the
    // state says they should be.
    let rebuilt = mercato::rebuild(e.store()).unwrap();
    let durable = e.read(|s| s.durable.clone()).unwrap();
    assert_eq!(rebuilt.durable, durable);
    for (k, v) in e.read(|s| s.expected_guards()).unwrap() {
        assert_eq!(e.store().guard(&k).unwrap(), v, "{k}");
    }
}

#[test]
fn issuing_in_one_command_is_all_or_nothing() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e, Settings::default());
    e.add_coupon_template(template(
        r#"{"id": "VIP", "coupon": {"kind": "percent_off", "percent": "10", "max_off": "5.00"},
            "per_customer_cap": 2, "total_cap": 5,
            "validity": {"absolute": {"to": "2027-01-01T00:00:00Z"}}}"#,
    ))
    .unwrap();
    let issue = |who: &[&str], codes: &[&str]| {
        e.issue_coupons(
            "VIP",
            who.iter().map(|s| s.to_string()).collect(),
            IssueOptions {
                codes: codes.iter().map(|s| s.to_string()).collect(),
                key: None,
            },
        )
    };
    let got = issue(&["alice", "bob", "alice"], &[]).unwrap();
    let codes: Vec<&str> = got.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["VIP-alice-1", "VIP-bob-1", "VIP-alice-2"]);
    assert_eq!(got[0].valid_from, None);
    // alice would hold three: refused, and nothing of it is stored.
    assert_eq!(
        issue(&["bob", "alice"], &[]).unwrap_err().code(),
        "coupon_rejected"
    );
    assert_eq!(e.customer("bob").unwrap().wallet.len(), 1);
    assert_eq!(
        issue(&["bob"], &["VIP-alice-1"]).unwrap_err().code(),
        "invalid_rule",
        "a code is issued once"
    );
    assert_eq!(
        issue(&["bob", "carol"], &["X1"]).unwrap_err().code(),
        "invalid_input"
    );
    let got = issue(&["bob", "carol"], &["X1", "X2"]).unwrap();
    assert_eq!(got[1].code, "X2");
    // Total cap 5 reached.
    assert_eq!(
        issue(&["carol"], &[]).unwrap_err().code(),
        "coupon_rejected"
    );
    // 10% of 36.00 = 3.60 (under the 5.00 cap).
    let q = e
        .place_order(teas("o1", "carol", 3).coupon("X2"), None)
        .unwrap();
    assert_eq!(q.quote.totals.payable.amount().to_string(), "32.40");
}

/// `threads` threads each claim `tries` times (claim `i` of thread `t` for
/// customer `c<(t · tries + i) mod 10>`: the customers take turns)
/// on the engines given (round robin); every engine sees the same
/// template. Returns the codes claimed.
fn claim_race<S: Store + 'static>(
    engines: &[Arc<Engine<S, ManualClock>>],
    threads: usize,
    tries: usize,
) -> Vec<String> {
    let mut handles = Vec::new();
    for t in 0..threads {
        let e = Arc::clone(&engines[t % engines.len()]);
        handles.push(std::thread::spawn(move || {
            let mut got = Vec::new();
            for i in 0..tries {
                let who = format!("c{}", (t * tries + i) % 10);
                match e.claim_coupon("RUSH", &who, ClaimOptions::default()) {
                    Ok(c) => got.push(c.code),
                    Err(err) => assert_eq!(err.code(), "coupon_rejected", "{err}"),
                }
            }
            got
        }));
    }
    let mut all: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    all
}

fn rush_shop<S: Store + 'static>(e: &Engine<S, ManualClock>, cap: i64) {
    e.configure(Currency::CNY, Settings::default()).unwrap();
    for c in 0..10 {
        e.register_customer(&format!("c{c}"), None, 0).unwrap();
    }
    e.add_coupon_template(template(&format!(
        r#"{{"id": "RUSH", "coupon": {{"kind": "amount_off", "amount": "5.00"}},
            "total_cap": {cap}, "per_customer_cap": 3, "validity": {{"relative": {{"days": 1}}}}}}"#
    )))
    .unwrap();
}

/// Exactly `expected` coupons, distinct, at most 3 per customer, in the
/// ledger of every engine and in the store's guard counter.
fn check_race<S: Store + 'static>(
    engines: &[Arc<Engine<S, ManualClock>>],
    codes: &[String],
    expected: usize,
) {
    assert_eq!(codes.len(), expected, "{codes:?}");
    let mut dedup = codes.to_vec();
    dedup.dedup();
    assert_eq!(dedup.len(), codes.len(), "codes are distinct");
    for e in engines {
        e.sync().unwrap();
        let count = e
            .read(|s| s.shop().coupons().template_count("RUSH").cloned())
            .unwrap()
            .unwrap();
        assert_eq!(count.issued as usize, expected);
        for (c, n) in &count.by_customer {
            assert!(*n <= 3, "{c} holds {n}");
        }
        let per_customer: usize = (0..10)
            .map(|c| e.customer(&format!("c{c}")).unwrap().wallet.len())
            .sum();
        assert_eq!(per_customer, expected);
    }
    let store = engines[0].store();
    assert_eq!(
        store.guard(&template_guard_key("RUSH")).unwrap() as usize,
        expected
    );
}

fn sqlite(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(
        path,
        SqliteOptions::default().synchronous(Synchronous::Normal),
    )
    .unwrap()
}

#[test]
fn claim_caps_are_exact_with_threads_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    // 6 threads × 10 tries = 60 claims, 6 per customer, for a cap of 25
    // (10 customers × 3 = 30 places, so the total cap binds): exactly 25.
    let e = Arc::new(Engine::open(sqlite(&dir.path().join("a.db")), clock()).unwrap());
    rush_shop(&e, 25);
    let codes = claim_race(std::slice::from_ref(&e), 6, 10);
    check_race(std::slice::from_ref(&e), &codes, 25);
    // 4 threads × 5 tries = 20 claims, 2 per customer ((5t + i) mod 10
    // over t < 4, i < 5 hits each residue twice), under a cap of 100 and
    // the per-customer cap of 3: all 20 = min(K·tries, C).
    let e = Arc::new(Engine::open(sqlite(&dir.path().join("b.db")), clock()).unwrap());
    rush_shop(&e, 100);
    let codes = claim_race(std::slice::from_ref(&e), 4, 5);
    check_race(std::slice::from_ref(&e), &codes, 20);
}

#[test]
fn claim_caps_are_exact_across_two_engines_on_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let a = Arc::new(Engine::open(sqlite(&path), clock()).unwrap());
    rush_shop(&a, 25);
    let b = Arc::new(Engine::open(sqlite(&path), clock()).unwrap());
    let engines = [a, b];
    // 6 threads over two engines × 10 tries = 60 claims, cap 25.
    let codes = claim_race(&engines, 6, 10);
    check_race(&engines, &codes, 25);
}

fn earning(credit_at: &str) -> Settings {
    json(&format!(
        r#"{{"points": {{"per_unit": 1, "max_percent": "100"}},
            "points_earning": {{"per_unit": "1", "tiers": [{{"tier": "gold", "per_unit": "2"}}],
                               "credit_at": "{credit_at}", "expire_days": 30}}}}"#
    ))
}

fn conserved<S: Store + 'static>(e: &Engine<S, ManualClock>, who: &str) -> i64 {
    let p = e.points(who).unwrap();
    assert_eq!(
        p.earned - p.spent + p.returned - p.expired - p.clawed,
        p.balance
    );
    assert_eq!(p.lots.iter().map(|l| l.left).sum::<i64>(), p.balance);
    assert!(p.balance >= 0);
    p.balance
}

fn deliver_and_complete<S: Store + 'static>(e: &Engine<S, ManualClock>, order: &str) {
    e.ship(order, None, None).unwrap();
    e.deliver(order, None).unwrap();
    e.complete(order, None).unwrap();
}

#[test]
fn points_are_earned_clawed_back_spent_oldest_first_and_expired() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e, earning("completed"));
    // o1: 3 × 12.00 = 36.00 paid; nothing earned before completion.
    let p = e.place_order(teas("o1", "alice", 3), None).unwrap();
    e.pay("o1", p.quote.totals.payable, None).unwrap();
    e.ship("o1", None, None).unwrap();
    e.deliver("o1", None).unwrap();
    assert_eq!(conserved(&e, "alice"), 0);
    e.complete("o1", None).unwrap();
    // floor(36.00 × 1) = 36 points, one lot expiring 30 days later.
    assert_eq!(conserved(&e, "alice"), 36);
    let lots = e.points("alice").unwrap().lots;
    assert_eq!(lots[0].expires_at, Some(t0() + Duration::days(30)));
    assert_eq!(e.next_deadline().unwrap(), Some(t0() + Duration::days(30)));

    // One tea back: 12.00 of 36.00 refunded → floor(36 × 12/36) = 12 back.
    let r = e
        .return_items(
            "o1",
            vec![json(r#"{"line": 0, "qty": 1}"#)],
            Default::default(),
            None,
        )
        .unwrap();
    assert_eq!(r.refund.amount().to_string(), "12.00");
    assert_eq!(conserved(&e, "alice"), 24);

    // A day later alice spends 10 points (10.00) on one tea: 2.00 paid,
    // taken from the oldest lot (24 → 14); completing earns floor(2.00)
    // = 2 in a new lot expiring at day 31.
    e.clock().advance(Duration::days(1));
    let p = e
        .place_order(teas("o2", "alice", 1).points(10), None)
        .unwrap();
    assert_eq!(p.quote.totals.payable.amount().to_string(), "2.00");
    e.pay("o2", p.quote.totals.payable, None).unwrap();
    deliver_and_complete(&e, "o2");
    let pts = e.points("alice").unwrap();
    assert_eq!(pts.lots.iter().map(|l| l.left).collect::<Vec<_>>(), [14, 2]);
    assert_eq!(conserved(&e, "alice"), 16);

    // The two other teas of o1 come back: 36.00 refunded in all → 36 due,
    // 12 taken before → 24 due; the balance has 16: 16 taken (o1's own lot
    // first), 8 short.
    e.return_items(
        "o1",
        vec![json(r#"{"line": 0, "qty": 2}"#)],
        Default::default(),
        None,
    )
    .unwrap();
    let pts = e.points("alice").unwrap();
    assert_eq!((pts.balance, pts.clawed, pts.shortfall), (0, 28, 8));
    // earned 36 + 2 − spent 10 − clawed 28 = 0.
    assert_eq!(conserved(&e, "alice"), 0);

    // bob (gold, 2 per unit): 12.00 → 24 points, expiring at day 31.
    let p = e.place_order(teas("o3", "bob", 1), None).unwrap();
    e.pay("o3", p.quote.totals.payable, None).unwrap();
    deliver_and_complete(&e, "o3");
    assert_eq!(conserved(&e, "bob"), 24);
    let due = t0() + Duration::days(31);
    assert_eq!(e.next_deadline().unwrap(), Some(due));
    e.clock().set(due - Duration::seconds(1));
    e.tick().unwrap();
    assert_eq!(conserved(&e, "bob"), 24);
    e.clock().set(due);
    e.tick().unwrap();
    let pts = e.points("bob").unwrap();
    assert_eq!((pts.balance, pts.expired), (0, 24));
    assert_eq!(e.next_deadline().unwrap(), None);

    let rebuilt = mercato::rebuild(e.store()).unwrap();
    assert_eq!(rebuilt.durable, e.read(|s| s.durable.clone()).unwrap());
}

#[test]
fn points_credited_on_payment_come_back_on_cancellation() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e, earning("paid"));
    e.register_customer("dora", None, 100).unwrap();
    // 2 × 12.00 = 24.00 paid: 24 points at once.
    let p = e.place_order(teas("o1", "dora", 2), None).unwrap();
    e.pay("o1", p.quote.totals.payable, None).unwrap();
    assert_eq!(conserved(&e, "dora"), 124);
    // dora spends 110 of her 124 on another order (the opening lot of 100
    // first, then 10 of o1's): 14 left.
    let p2 = e
        .place_order(teas("o2", "dora", 10).points(110), None)
        .unwrap();
    assert_eq!(p2.quote.points_used, 110);
    assert_eq!(conserved(&e, "dora"), 14);
    let lots = e.points("dora").unwrap().lots;
    assert_eq!(lots.iter().map(|l| l.left).collect::<Vec<_>>(), [0, 14]);
    // Cancelling o1 refunds 24.00 = all its goods: 24 due, 14 there.
    let c = e.cancel("o1", None).unwrap();
    assert_eq!(c.refund.amount().to_string(), "24.00");
    let pts = e.points("dora").unwrap();
    assert_eq!((pts.balance, pts.clawed, pts.shortfall), (0, 14, 10));
    // Cancelling o2 (unpaid) gives its 110 points back to their lots
    // (100 to the opening lot, 10 to o1's).
    e.cancel("o2", None).unwrap();
    assert_eq!(conserved(&e, "dora"), 110);
    let lots = e.points("dora").unwrap().lots;
    assert_eq!(lots.iter().map(|l| l.left).collect::<Vec<_>>(), [100, 10]);
}

#[test]
fn earning_settings_are_validated() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    for bad in [
        r#"{"points_earning": {"per_unit": "-1"}}"#,
        r#"{"points_earning": {"per_unit": "1", "expire_days": 0}}"#,
        r#"{"points_earning": {"per_unit": "1", "tiers": [{"tier": "g", "per_unit": "100000"}]}}"#,
    ] {
        let s: Settings = json(bad);
        assert_eq!(
            e.configure(Currency::CNY, s).unwrap_err().code(),
            "invalid_input",
            "{bad}"
        );
    }
    assert!(serde_json::from_str::<Settings>(r#"{"points_earning": {"rate": "1"}}"#).is_err());
    // Default settings keep their JSON (no points_earning key).
    assert!(
        !serde_json::to_string(&Settings::default())
            .unwrap()
            .contains("points_earning")
    );
}

/// Two engines on one SQLite file (two processes in production): engine B
/// spends 30 of u1's 36 points; engine A, which has not seen it, takes
/// o1's 36 points back on a full return. A's commit read u1's stream at
/// the old version: the store refuses it, A decides again on the new
/// balance and takes the 6 left, 30 short — never below zero.
#[test]
fn a_claw_back_decided_on_a_stale_balance_is_decided_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let a = Engine::open(sqlite(&path), clock()).unwrap();
    shop(&a, earning("paid"));
    let p = a.place_order(teas("o1", "alice", 3), None).unwrap();
    a.pay("o1", p.quote.totals.payable, None).unwrap();
    a.ship("o1", None, None).unwrap();
    a.deliver("o1", None).unwrap();
    assert_eq!(conserved(&a, "alice"), 36);
    let b = Engine::open(sqlite(&path), clock()).unwrap();
    let p2 = b
        .place_order(teas("o2", "alice", 3).points(30), None)
        .unwrap();
    assert_eq!(p2.quote.points_used, 30);
    assert_eq!(conserved(&a, "alice"), 36, "A has not seen B's spend");
    a.return_items(
        "o1",
        vec![json(r#"{"line": 0, "qty": 3}"#)],
        Default::default(),
        None,
    )
    .unwrap();
    for e in [&a, &b] {
        e.sync().unwrap();
        let pts = e.points("alice").unwrap();
        // 36 earned − 30 spent − 6 clawed = 0; 36 − 6 = 30 short.
        assert_eq!((pts.balance, pts.clawed, pts.shortfall), (0, 6, 30));
        assert_eq!(conserved(e, "alice"), 0);
    }
}

/// Engine B opened before engine A took the last places: B's own count
/// says there is room, and its claim touches no stream A wrote (another
/// customer, another code). Only the store's guard counter stops it; B then
/// reloads and refuses with the typed error.
#[test]
fn a_stale_engine_cannot_pass_a_template_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let a = Engine::open(sqlite(&path), clock()).unwrap();
    rush_shop(&a, 2);
    let b = Engine::open(sqlite(&path), clock()).unwrap();
    for c in ["c0", "c1"] {
        a.claim_coupon("RUSH", c, ClaimOptions::default()).unwrap();
    }
    let err = b
        .claim_coupon("RUSH", "c2", ClaimOptions::default())
        .unwrap_err();
    assert_eq!(err.code(), "coupon_rejected", "{err}");
    assert_eq!(b.store().guard(&template_guard_key("RUSH")).unwrap(), 2);
    assert!(b.customer("c2").unwrap().wallet.is_empty());
    // A revocation in A frees a place that B takes once it has read it
    // (a stale engine refuses conservatively: its own count is higher).
    a.revoke_coupon("RUSH-c0-1", None).unwrap();
    b.sync().unwrap();
    assert_eq!(
        b.claim_coupon("RUSH", "c2", ClaimOptions::default())
            .unwrap()
            .code,
        "RUSH-c2-1"
    );
}

/// Points follow every refund path of the after-sale flows: a partial
/// cancel takes back the points of the units it refunds, a goodwill refund
/// takes none.
#[test]
fn partial_cancels_claw_back_and_goodwill_does_not() {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    shop(&e, earning("paid"));
    // 5 × 12.00 = 60.00 paid: 60 points (1 per yuan) credited at once.
    let p = e.place_order(teas("o1", "carol", 5), None).unwrap();
    e.pay("o1", p.quote.totals.payable, None).unwrap();
    assert_eq!(conserved(&e, "carol"), 60);
    // Cancelling 2 unshipped units refunds 24.00 of the 60.00 goods:
    // ⌊60 × 24 / 60⌋ = 24 points taken back, 36 left.
    let r = e
        .cancel_units("o1", vec![LineQty { line: 0, qty: 2 }], None)
        .unwrap();
    assert_eq!(r.amount.amount().to_string(), "24.00");
    let pts = e.points("carol").unwrap();
    assert_eq!((pts.balance, pts.clawed), (36, 24));
    // A goodwill refund of 6.00 gives money, not goods: no points move.
    e.goodwill_refund(
        "o1",
        Money::new("6.00".parse().unwrap(), Currency::CNY).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(conserved(&e, "carol"), 36);
    assert_eq!(e.points("carol").unwrap().clawed, 24);
}
