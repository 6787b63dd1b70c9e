//! The HTTP service example (`examples/server.rs`) on PostgreSQL, over real
//! HTTP: two server processes started with `--store postgres:URL` on the
//! same schema. A long poll of `GET /events` on the second is woken by an
//! order placed through the first (PostgreSQL `LISTEN/NOTIFY` across
//! processes); an idempotent retry of that place through the second answers
//! exactly as the first call and reserves nothing more; the order is paid
//! through the second and the payment retried through the first; both see
//! the same order and stock; both stop cleanly on SIGTERM, and the log
//! verifies.
//!
//! PostgreSQL is `MERCATO_PG_URL` or a private throwaway cluster; without
//! it the test skips, saying so loudly (and fails with
//! `MERCATO_REQUIRE_PG=1`). The server reaches PostgreSQL only when built
//! with the `postgres` feature, so this test needs it too
//! (`cargo test -p mercato --features postgres --test server_postgres`);
//! without it, it skips loudly the same way.

use std::process::Command;
use std::time::{Duration, Instant};

use mercato_postgres::testing::{TestCluster, required};
use serde_json::{Value, json};

#[path = "support/examples.rs"]
mod examples;
#[path = "support/server.rs"]
mod server;
use examples::example;
use server::{ADMIN, SHOP, call, start_with};

/// The feed's head as seen through one server: pages until nothing is new.
fn head(addr: &str) -> u64 {
    let mut after = 0;
    loop {
        let (s, page) = call(
            addr,
            "GET",
            &format!("/events?after={after}&limit=1000"),
            ADMIN,
            None,
            Value::Null,
        );
        assert_eq!(s, 200, "{page}");
        let next = page["next"].as_u64().unwrap();
        if next == after {
            return after;
        }
        after = next;
    }
}

fn stop(mut server: server::Server) {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn two_servers_on_one_postgres_database() {
    if !cfg!(feature = "postgres") {
        assert!(
            !required(),
            "MERCATO_REQUIRE_PG=1, but this test was built without the `postgres` feature, so the \
             server cannot reach PostgreSQL: run `cargo test -p mercato --features postgres`"
        );
        eprintln!(
            "\n*** server_postgres SKIPPED: built without the `postgres` feature \
             (cargo test -p mercato --features postgres --test server_postgres) ***\n"
        );
        return;
    }
    let Some(cluster) = TestCluster::shared_or_skip() else {
        return;
    };
    let schema = cluster.fresh_schema_name();
    let store = format!("postgres:{}", cluster.url());
    let args = ["--store", store.as_str(), "--schema", schema.as_str()];
    // The first configures the new schema's shop before it listens; the
    // second then opens a configured one.
    let one = start_with(&args);
    let two = start_with(&args);
    let (a, b) = (one.addr.clone(), two.addr.clone());

    let (s, _) = call(
        &a,
        "POST",
        "/admin/catalog",
        ADMIN,
        Some("cat-tea"),
        json!({"sku": "tea", "price": "12.00"}),
    );
    assert_eq!(s, 200);
    let (s, v) = call(
        &a,
        "POST",
        "/stock/tea/adjust",
        ADMIN,
        Some("stock-1"),
        json!({"location": "main", "delta": 10, "reason": "received"}),
    );
    assert_eq!((s, v["on_hand"].as_i64()), (200, Some(10)));

    // A long poll on the second server, woken by a place on the first.
    let after = head(&b);
    let b2 = b.clone();
    let poll = std::thread::spawn(move || {
        let t = Instant::now();
        let r = call(
            &b2,
            "GET",
            &format!("/events?after={after}&wait=25"),
            ADMIN,
            None,
            Value::Null,
        );
        (r, t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(500));
    let order = json!({"id": "o1", "lines": [{"sku": "tea", "qty": 3}]});
    let (s, placed) = call(&a, "POST", "/orders", SHOP, Some("place-o1"), order.clone());
    assert_eq!(s, 200, "{placed}");
    // 3 × 12.00 = 36.00
    assert_eq!(placed["quote"]["totals"]["payable"], "36.00");
    let ((s, page), waited) = poll.join().unwrap();
    assert_eq!(s, 200, "{page}");
    let types: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(types.contains(&"order.placed.v1"), "{types:?}");
    // Woken by the notification, not by the end of the 25 s wait (nor by
    // the 250 ms polling that only SQLite uses).
    assert!(
        waited < Duration::from_secs(15),
        "the long poll on the other process waited {waited:?}"
    );

    // The same key and body through the other process: the same answer.
    let (s, again) = call(&b, "POST", "/orders", SHOP, Some("place-o1"), order);
    assert_eq!((s, &again), (200, &placed));
    let (s, p) = call(
        &b,
        "POST",
        "/orders",
        SHOP,
        Some("place-o1"),
        json!({"id": "o2", "lines": [{"sku": "tea", "qty": 1}]}),
    );
    assert_eq!((s, p["code"].as_str()), (409, Some("idempotency_conflict")));

    // Pay through the second, retry through the first.
    let pay = json!({"amount": "36.00"});
    let (s, paid) = call(
        &b,
        "POST",
        "/orders/o1/pay",
        SHOP,
        Some("pay-o1"),
        pay.clone(),
    );
    assert_eq!((s, paid["status"].as_str()), (200, Some("paid")), "{paid}");
    let (s, paid2) = call(&a, "POST", "/orders/o1/pay", SHOP, Some("pay-o1"), pay);
    assert_eq!((s, &paid2), (200, &paid));

    // Both processes see one paid order and 10 − 3 = 7 units on hand.
    for addr in [&a, &b] {
        let (s, o) = call(addr, "GET", "/orders/o1", SHOP, None, Value::Null);
        assert_eq!(
            (s, o["status"].as_str()),
            (200, Some("paid")),
            "{addr} (first: {a}): {o}"
        );
        let (s, st) = call(addr, "GET", "/stock/tea", SHOP, None, Value::Null);
        assert_eq!(s, 200);
        assert_eq!(
            (st["on_hand"].as_i64(), st["reserved"].as_i64()),
            (Some(7), Some(0)),
            "{st}"
        );
    }

    stop(one);
    stop(two);
    let store = mercato_postgres::PgStore::open(
        cluster.url(),
        mercato_postgres::PgOptions::default().schema(schema),
    )
    .unwrap();
    let engine = mercato::Engine::open(store, mercato::SystemClock).unwrap();
    assert_eq!(engine.order("o1").unwrap().status.as_str(), "paid");
    let report = mercato::store::Store::verify(engine.store()).unwrap();
    assert!(report.ok());
}
