//! Claim caps across real processes (issue 12): three child processes, two
//! threads each, run full engines on one SQLite file and claim coupons of a
//! template with a total cap of 25 and a per-customer cap of 3 for ten
//! customers; demand (3 × 2 × 20 = 120 claims) exceeds the cap. Afterwards:
//! exactly 25 coupons were acknowledged, distinct, none for a customer
//! beyond 3, and the log, a rebuild and the store's guard counters say the
//! same.
//!
//! The children are this same test binary started with
//! `MERCATO_CLAIM_CHILD`.

use std::collections::{BTreeMap, BTreeSet};

#[path = "support/children.rs"]
mod children;
use children::run_children;

use mercato::core::Currency;
use mercato::sqlite::{SqliteOptions, SqliteStore};
use mercato::store::Store;
use mercato::{
    ClaimOptions, CouponTemplate, Engine, EngineError, Settings, SystemClock,
    template_customer_guard_key, template_guard_key,
};

const CAP: i64 = 25;
const PER_CUSTOMER: i64 = 3;
const CUSTOMERS: usize = 10;
const CHILDREN: usize = 3;
const THREADS: usize = 2;
const TRIES: usize = 20;

fn setup(e: &Engine<SqliteStore, SystemClock>) {
    e.configure(Currency::CNY, Settings::default()).unwrap();
    for c in 0..CUSTOMERS {
        e.register_customer(&format!("c{c}"), None, 0).unwrap();
    }
    let t: CouponTemplate = serde_json::from_str(&format!(
        r#"{{"id": "RUSH", "coupon": {{"kind": "amount_off", "amount": "5.00"}},
            "total_cap": {CAP}, "per_customer_cap": {PER_CUSTOMER},
            "validity": {{"relative": {{"days": 1}}}}}}"#
    ))
    .unwrap();
    e.add_coupon_template(t).unwrap();
}

fn child(engine: Engine<SqliteStore, SystemClock>, k: usize) {
    let engine = std::sync::Arc::new(engine);
    println!("@@ ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let engine = std::sync::Arc::clone(&engine);
            std::thread::spawn(move || {
                let mut lines = Vec::new();
                for i in 0..TRIES {
                    // Every process and thread claims for every customer in
                    // turn, so per-customer caps are contended too.
                    let who = format!("c{}", (k * 7 + t * 3 + i) % CUSTOMERS);
                    let claimed = loop {
                        match engine.claim_coupon("RUSH", &who, ClaimOptions::default()) {
                            Err(EngineError::TooManyConflicts(_)) => continue,
                            other => break other,
                        }
                    };
                    match claimed {
                        Ok(c) => lines.push(format!("@@ claimed {} {}", c.code, c.customer)),
                        Err(e) if e.code() == "coupon_rejected" => {}
                        Err(e) => panic!("claim for {who}: {e}"),
                    }
                }
                lines
            })
        })
        .collect();
    for h in handles {
        for line in h.join().expect("child thread") {
            println!("{line}");
        }
    }
    println!("@@ done");
}

#[test]
fn claim_child() {
    // Does nothing unless started by the test below.
    let (Ok(path), Ok(k)) = (
        std::env::var("MERCATO_CLAIM_DB"),
        std::env::var("MERCATO_CLAIM_CHILD"),
    ) else {
        return;
    };
    let store = SqliteStore::open(path, SqliteOptions::default()).unwrap();
    child(
        Engine::open(store, SystemClock).unwrap(),
        k.parse().unwrap(),
    );
}

#[test]
fn claim_caps_hold_across_processes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    setup(
        &Engine::open(
            SqliteStore::open(&path, SqliteOptions::default()).unwrap(),
            SystemClock,
        )
        .unwrap(),
    );
    let path_text = path.display().to_string();
    let mut codes = BTreeSet::new();
    let mut per_customer: BTreeMap<String, i64> = BTreeMap::new();
    let lines = run_children("claim_child", CHILDREN, |k| {
        vec![
            ("MERCATO_CLAIM_CHILD".into(), k.to_string()),
            ("MERCATO_CLAIM_DB".into(), path_text.clone()),
        ]
    });
    for line in lines.iter().flatten() {
        if let ["claimed", code, who] = line.split_whitespace().collect::<Vec<_>>().as_slice() {
            assert!(codes.insert(code.to_string()), "{code} given twice");
            *per_customer.entry(who.to_string()).or_default() += 1;
        }
    }
    // Demand (120 claims, 30 per-customer places) exceeds the cap of 25:
    // exactly the cap was acknowledged, no customer beyond 3.
    assert_eq!(codes.len() as i64, CAP);
    assert!(
        per_customer.values().all(|n| *n <= PER_CUSTOMER),
        "{per_customer:?}"
    );
    // The store agrees: its counters, and a rebuild of the log.
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(store.guard(&template_guard_key("RUSH")).unwrap(), CAP);
    for (who, n) in &per_customer {
        assert_eq!(
            store
                .guard(&template_customer_guard_key("RUSH", who))
                .unwrap(),
            *n
        );
    }
    let engine = Engine::open(store, SystemClock).unwrap();
    let mut in_log = BTreeSet::new();
    for c in 0..CUSTOMERS {
        for w in engine.customer(&format!("c{c}")).unwrap().wallet {
            in_log.insert(w.code);
        }
    }
    assert_eq!(
        in_log, codes,
        "the log holds exactly the acknowledged coupons"
    );
    assert!(engine.store().verify().unwrap().ok());
}
