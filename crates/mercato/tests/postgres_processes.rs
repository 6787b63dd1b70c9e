//! Several processes, one PostgreSQL database: three child processes each
//! run the full engine on the same schema and sell one flash-sale SKU
//! (single-unit place + pay orders by many customers, a price promotion
//! with a per-customer limit and a quota) until it is sold out. Demand
//! exceeds stock. Afterwards: sold == stock exactly, no customer holds more
//! flash-priced units than the limit, the quota holds, every acknowledged
//! order is in the log as acknowledged, the hash chain verifies, and the
//! state rebuilt from the log agrees with the stored read models and the
//! guard counters.
//!
//! The children are this same test binary started with `MERCATO_PG_CHILD`.
//! The server is `MERCATO_PG_URL` or a private throwaway cluster; without
//! PostgreSQL the test skips, saying so loudly (and fails with
//! `MERCATO_REQUIRE_PG=1`).

use std::collections::{BTreeMap, HashMap};

#[path = "support/children.rs"]
mod children;
use children::run_children;

use mercato::core::Currency;
use mercato::core::order::OrderStatus;
use mercato::rules::CartLine;
use mercato::store::{ReadModel, Store};
use mercato::{Engine, EngineError, PlaceOrderRequest, Settings, SystemClock};
use mercato_postgres::testing::TestCluster;
use mercato_postgres::{PgOptions, PgStore};

const STOCK: i64 = 300;
const CUSTOMERS: usize = 60;
const LIMIT: i64 = 2;
const QUOTA: i64 = 100;
const CHILDREN: usize = 3;
const THREADS: usize = 2;
const FLASH: &str = "999.00";
const LIST: &str = "1999.00";

fn open(url: &str, schema: &str) -> Engine<PgStore, SystemClock> {
    let store = PgStore::open(url, PgOptions::default().schema(schema)).unwrap();
    Engine::open(store, SystemClock).unwrap()
}

fn setup(e: &Engine<PgStore, SystemClock>) {
    e.configure(Currency::CNY, Settings::default()).unwrap();
    e.add_catalog_item(serde_json::from_str(r#"{"sku": "phone", "price": "1999.00"}"#).unwrap())
        .unwrap();
    e.add_promotion(
        serde_json::from_str(&format!(
            r#"{{"id": "flash", "kind": "price", "price": "{FLASH}", "per_customer_limit": {LIMIT},
                 "quota": {QUOTA}, "scope": {{"skus": ["phone"]}}}}"#
        ))
        .unwrap(),
    )
    .unwrap();
    e.adjust_stock("phone", "main", STOCK, "flash sale stock")
        .unwrap();
    for c in 0..CUSTOMERS {
        e.register_customer(&format!("c{c}"), None, 0).unwrap();
    }
}

/// Retries a call that lost too many optimistic races in a row.
fn retrying<T>(mut f: impl FnMut() -> Result<T, EngineError>) -> Result<T, EngineError> {
    loop {
        match f() {
            Err(EngineError::TooManyConflicts(_)) => continue,
            other => return other,
        }
    }
}

fn child(url: &str, schema: &str, k: usize) {
    let engine = std::sync::Arc::new(open(url, schema));
    // Start together: say ready, wait for the parent's go.
    println!("@@ ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let engine = std::sync::Arc::clone(&engine);
            std::thread::spawn(move || {
                let mut lines = Vec::new();
                for i in 0.. {
                    let id = format!("p{k}-t{t}-{i}");
                    let customer = format!("c{}", (i * 7 + k * 11 + t * 3) % CUSTOMERS);
                    let placed = retrying(|| {
                        engine.place_order(
                            PlaceOrderRequest {
                                id: id.clone(),
                                customer: Some(customer.clone()),
                                lines: vec![CartLine {
                                    sku: "phone".into(),
                                    qty: 1,
                                }],
                                coupons: vec![],
                                points: 0,
                                channel: None,
                            },
                            None,
                        )
                    });
                    let placed = match placed {
                        Ok(p) => p,
                        Err(e) if e.code() == "insufficient_stock" => break,
                        Err(e) => panic!("place {id}: {e}"),
                    };
                    let payable = placed.quote.totals.payable;
                    let amount = payable.amount();
                    let status = retrying(|| engine.pay(&id, payable, None)).unwrap();
                    assert_eq!(status, "paid");
                    lines.push(format!("@@ sold {id} {customer} {amount}"));
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
fn pg_flash_child() {
    // Does nothing unless started by `processes_share_one_truth`.
    if let (Ok(url), Ok(schema), Ok(k)) = (
        std::env::var("MERCATO_PG_CHILD_URL"),
        std::env::var("MERCATO_PG_CHILD_SCHEMA"),
        std::env::var("MERCATO_PG_CHILD"),
    ) {
        child(&url, &schema, k.parse().unwrap());
    }
}

#[test]
fn processes_share_one_truth() {
    let Some(cluster) = TestCluster::shared_or_skip() else {
        return;
    };
    let schema = cluster.fresh_schema_name();
    setup(&open(cluster.url(), &schema));

    let url = cluster.url().to_string();
    let lines = run_children("pg_flash_child", CHILDREN, |k| {
        vec![
            ("MERCATO_PG_CHILD".into(), k.to_string()),
            ("MERCATO_PG_CHILD_URL".into(), url.clone()),
            ("MERCATO_PG_CHILD_SCHEMA".into(), schema.clone()),
        ]
    });
    // Acknowledged sales: order → (customer, payable).
    let mut acked: HashMap<String, (String, String)> = HashMap::new();
    for line in lines.iter().flatten() {
        if let ["sold", id, customer, payable] =
            line.split_whitespace().collect::<Vec<_>>().as_slice()
        {
            acked.insert(id.to_string(), (customer.to_string(), payable.to_string()));
        }
    }

    let store = PgStore::open(cluster.url(), PgOptions::default().schema(&schema)).unwrap();
    let st = mercato::rebuild(&store).unwrap();
    let shop = st.shop();
    // Sold exactly the stock, across all processes.
    assert_eq!(
        acked.len() as i64,
        STOCK,
        "sold == stock; stock in the log: {:?}, live orders {}",
        shop.stock().level("phone"),
        shop.orders().filter(|o| o.status.is_live()).count()
    );
    let per_process: BTreeMap<String, usize> = acked.keys().fold(BTreeMap::new(), |mut m, id| {
        *m.entry(id.split('-').next().unwrap().to_string())
            .or_default() += 1;
        m
    });
    assert_eq!(
        per_process.len(),
        CHILDREN,
        "every process sold: {per_process:?}"
    );

    // No customer above the limit in flash-priced units; quota held.
    let mut flash_by: HashMap<&str, i64> = HashMap::new();
    for (customer, payable) in acked.values() {
        assert!(payable == FLASH || payable == LIST, "price {payable}");
        if payable == FLASH {
            *flash_by.entry(customer).or_default() += 1;
        }
    }
    let flash_total: i64 = flash_by.values().sum();
    assert!(
        flash_by.values().all(|n| *n <= LIMIT),
        "a customer above the limit: {flash_by:?}"
    );
    assert_eq!(
        flash_total, QUOTA,
        "the quota is sold exactly (demand exceeds it)"
    );

    // The log says the same, verifies, and rebuilds to the stored models.
    let report = store.verify().unwrap();
    assert!(report.ok(), "{report:?}");
    let live: Vec<_> = shop.orders().filter(|o| o.status.is_live()).collect();
    assert_eq!(live.len(), acked.len(), "no unacknowledged order is live");
    for o in &live {
        let (customer, payable) = acked.get(&o.id).expect("acknowledged");
        assert_eq!(o.status, OrderStatus::Paid);
        assert_eq!(o.customer.as_deref(), Some(customer.as_str()));
        assert_eq!(&o.payable().amount().to_string(), payable);
    }
    let level = shop.stock().level("phone");
    assert_eq!(level.available, 0);
    assert!(level.on_hand >= 0 && level.reserved >= 0, "{level:?}");
    assert_eq!(shop.promotion_units_total("flash"), QUOTA);
    assert_eq!(store.guard("promo/flash").unwrap(), QUOTA);
    for (c, n) in &flash_by {
        assert_eq!(shop.promotion_units("flash", c), *n);
        assert_eq!(
            store.guard(&format!("promo/flash/customer/{c}")).unwrap(),
            *n
        );
    }
    let mut stored: BTreeMap<(String, String), String> = BTreeMap::new();
    for m in ReadModel::ALL {
        for (k, v) in store.read_models(m).unwrap() {
            stored.insert((m.name().to_string(), k), v);
        }
    }
    let rebuilt: BTreeMap<(String, String), String> = st
        .all_read_model_rows()
        .into_iter()
        .map(|r| ((r.model.name().to_string(), r.key), r.value))
        .collect();
    assert_eq!(stored, rebuilt, "stored read models == rebuilt state");
}
