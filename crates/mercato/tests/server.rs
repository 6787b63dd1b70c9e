//! The HTTP service example (`examples/server.rs`) started on 127.0.0.1 on
//! a free port and driven over real HTTP: setup by the admin, place, pay,
//! an idempotent retry with the same key, a key reused for another body,
//! no token, a wrong token, the shop token on an admin call, a malformed
//! body, an oversized body, a missing key, the event feed's long poll, the
//! OpenAPI document, and a graceful shutdown on SIGTERM after which the
//! database holds every acknowledged commit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ADMIN: &str = "admin-token-0123456789";
const SHOP: &str = "shop-token-0123456789";

#[path = "support/examples.rs"]
mod examples;
use examples::example;

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &std::path::Path) -> Server {
    let mut child = Command::new(example("server"))
        .args(["--db", db.to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .env("MERCATO_ADMIN_TOKEN", ADMIN)
        .env("MERCATO_SHOP_TOKEN", SHOP)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Server { child, addr }
}

/// One HTTP/1.1 exchange on a new connection: (status, content type, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // The server may answer (413) before reading a large body.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, ctype, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let auth = bearer(token);
    let mut h = vec![("Authorization", auth.as_str())];
    if let Some(k) = key {
        h.push(("Idempotency-Key", k));
    }
    let b = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (status, _, text) = http(addr, method, path, &h, &b);
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn the_server_over_real_http() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let mut server = start(&db);
    let a = server.addr.clone();
    let a = a.as_str();

    // Admin setup.
    let (s, _) = call(
        a,
        "POST",
        "/admin/catalog",
        ADMIN,
        Some("cat-tea"),
        json!({"sku": "tea", "price": "12.00"}),
    );
    assert_eq!(s, 200);
    let (s, v) = call(
        a,
        "POST",
        "/stock/tea/adjust",
        ADMIN,
        Some("stock-1"),
        json!({"location": "main", "delta": 10, "reason": "received"}),
    );
    assert_eq!((s, v["on_hand"].as_i64()), (200, Some(10)));
    let (s, _) = call(
        a,
        "POST",
        "/customers",
        ADMIN,
        Some("cust-u1"),
        json!({"id": "u1", "points": 0}),
    );
    assert_eq!(s, 200);

    // Quote, place (3 × 12.00 = 36.00), an idempotent retry.
    let cart = json!({"customer": "u1", "lines": [{"sku": "tea", "qty": 3}]});
    let (s, q) = call(a, "POST", "/quote", SHOP, None, cart.clone());
    assert_eq!(s, 200, "{q}");
    let order = json!({"id": "o1", "customer": "u1", "lines": [{"sku": "tea", "qty": 3}]});
    let (s, placed) = call(a, "POST", "/orders", SHOP, Some("place-o1"), order.clone());
    assert_eq!(s, 200, "{placed}");
    assert_eq!(placed["status"], "pending_payment");
    let payable = placed["quote"]["totals"]["payable"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(payable, "36.00");
    let (s, again) = call(a, "POST", "/orders", SHOP, Some("place-o1"), order.clone());
    assert_eq!((s, &again), (200, &placed), "the same key answers the same");
    let (_, st) = call(a, "GET", "/stock/tea", SHOP, None, Value::Null);
    assert_eq!(st["reserved"], 3, "the retry reserved nothing more");
    // The same key for another body: a conflict, nothing stored.
    let other = json!({"id": "o2", "lines": [{"sku": "tea", "qty": 1}]});
    let (s, p) = call(a, "POST", "/orders", SHOP, Some("place-o1"), other);
    assert_eq!((s, p["code"].as_str()), (409, Some("idempotency_conflict")));

    // Pay, and retry the payment.
    let (s, paid) = call(
        a,
        "POST",
        "/orders/o1/pay",
        SHOP,
        Some("pay-o1"),
        json!({"amount": payable}),
    );
    assert_eq!((s, paid["status"].as_str()), (200, Some("paid")), "{paid}");
    let (s, paid2) = call(
        a,
        "POST",
        "/orders/o1/pay",
        SHOP,
        Some("pay-o1"),
        json!({"amount": payable}),
    );
    assert_eq!((s, &paid2), (200, &paid));
    // A second payment under a new key is a contract error.
    let (s, p) = call(
        a,
        "POST",
        "/orders/o1/pay",
        SHOP,
        Some("pay-o1-b"),
        json!({"amount": payable}),
    );
    assert_eq!(
        (s, p["code"].as_str()),
        (409, Some("invalid_transition")),
        "{p}"
    );

    // Tokens: none → 401, unknown → 401, shop on an admin call → 403.
    let (s, ct, body) = http(a, "GET", "/stock/tea", &[], b"");
    assert_eq!(s, 401);
    assert_eq!(ct, "application/problem+json");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (p["status"].as_u64(), p["code"].as_str()),
        (Some(401), Some("unauthorized"))
    );
    let (s, _) = call(
        a,
        "GET",
        "/stock/tea",
        "wrong-token-0123456789",
        None,
        Value::Null,
    );
    assert_eq!(s, 401);
    let (s, p) = call(
        a,
        "POST",
        "/orders/o1/ship",
        SHOP,
        Some("ship-o1"),
        json!({}),
    );
    assert_eq!((s, p["code"].as_str()), (403, Some("forbidden")));

    // Malformed and oversized bodies, a missing key, a bad amount.
    let auth = bearer(SHOP);
    let h = [
        ("Authorization", auth.as_str()),
        ("Idempotency-Key", "bad-1"),
    ];
    let (s, ct, body) = http(a, "POST", "/orders", &h, b"{\"id\": \"o3\", \"lines\": [");
    assert_eq!((s, ct.as_str()), (400, "application/problem+json"));
    assert!(body.contains("\"code\":\"invalid_input\""), "{body}");
    let big = format!(
        "{{\"id\": \"o4\", \"pad\": \"{}\"}}",
        "x".repeat(100 * 1024)
    );
    let (s, ct, _) = http(a, "POST", "/orders", &h, big.as_bytes());
    assert_eq!((s, ct.as_str()), (413, "application/problem+json"));
    let (s, p) = call(a, "POST", "/orders", SHOP, None, order);
    assert_eq!((s, p["code"].as_str()), (400, Some("invalid_input")));
    let (s, p) = call(
        a,
        "POST",
        "/orders/o1/pay",
        SHOP,
        Some("pay-float"),
        json!({"amount": 36.0}),
    );
    assert_eq!((s, p["code"].as_str()), (400, Some("invalid_input")));
    let (s, p) = call(a, "GET", "/orders/nope", SHOP, None, Value::Null);
    assert_eq!((s, p["code"].as_str()), (404, Some("unknown_order")));

    // The feed: everything so far, then a long poll woken by a commit.
    let (s, page) = call(a, "GET", "/events?after=0", ADMIN, None, Value::Null);
    assert_eq!(s, 200, "{page}");
    let types: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(
        types.contains(&"order.placed.v1") && types.contains(&"order.paid.v1"),
        "{types:?}"
    );
    let next = page["next"].as_u64().unwrap();
    let (s, _) = call(a, "GET", "/events?after=0", SHOP, None, Value::Null);
    assert_eq!(s, 403, "the feed is an admin call");
    let (s, _) = call(a, "GET", "/events?after=x", ADMIN, None, Value::Null);
    assert_eq!(s, 400);
    let addr = a.to_string();
    let poll = std::thread::spawn(move || {
        let t = Instant::now();
        let r = call(
            &addr,
            "GET",
            &format!("/events?after={next}&wait=20"),
            ADMIN,
            None,
            Value::Null,
        );
        (r, t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    let (s, _) = call(
        a,
        "POST",
        "/orders/o1/ship",
        ADMIN,
        Some("ship-o1"),
        json!({}),
    );
    assert_eq!(s, 200);
    let ((s, page), waited) = poll.join().unwrap();
    assert_eq!(s, 200);
    assert!(
        waited < Duration::from_secs(10),
        "woken by the commit: {waited:?}"
    );
    assert_eq!(page["events"][0]["type"], "order.shipped.v1", "{page}");

    // The OpenAPI document names every route.
    let (s, ct, body) = http(a, "GET", "/openapi.json", &[], b"");
    assert_eq!((s, ct.as_str()), (200, "application/json"));
    let spec: Value = serde_json::from_str(&body).unwrap();
    for p in [
        "/quote",
        "/best-coupons",
        "/orders",
        "/orders/{id}/pay",
        "/orders/{id}/cancel",
        "/orders/{id}/ship",
        "/orders/{id}/deliver",
        "/orders/{id}/returns",
        "/stock/{sku}",
        "/customers/{id}",
        "/admin/catalog",
        "/admin/promotions",
        "/admin/coupons",
        "/events",
    ] {
        assert!(
            spec["paths"][p].is_object(),
            "{p} missing from /openapi.json"
        );
    }

    // Graceful shutdown: SIGTERM, status 0, everything acknowledged stored.
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
    let store = mercato::sqlite::SqliteStore::open_read_only(
        &db,
        mercato::sqlite::SqliteOptions::default(),
    )
    .unwrap();
    let engine = mercato::Engine::open(store, mercato::SystemClock).unwrap();
    assert_eq!(engine.order("o1").unwrap().status.as_str(), "shipped");
    assert!(engine.store_verify_ok());
}

trait VerifyOk {
    fn store_verify_ok(&self) -> bool;
}

impl<S: mercato::store::Store, C: mercato::Clock> VerifyOk for mercato::Engine<S, C> {
    fn store_verify_ok(&self) -> bool {
        self.store().verify().map(|r| r.ok()).unwrap_or(false)
    }
}

/// The curl examples of `docs/integration.md`, run as written (the
/// address replaced) against a server started with the tokens the page
/// uses: every call succeeds and the order is placed and paid.
#[test]
fn the_curl_examples_of_the_docs_run() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("SKIPPED: no curl on this machine");
        return;
    }
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/integration.md"
    ))
    .unwrap();
    let block = doc
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("A='Authorization"))
        .expect("the curl block");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("docs.db");
    let mut child = Command::new(example("server"))
        .args(["--db", db.to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .env("MERCATO_ADMIN_TOKEN", "admin-secret-123456")
        .env("MERCATO_SHOP_TOKEN", "shop-secret-1234567")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let server = Server { child, addr };
    let script = block
        .replace("localhost:8080", &server.addr)
        .replace("curl -s ", "curl -s -w '\\n' ");
    let out = Command::new("bash")
        .args(["-e", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert_eq!(answers.len(), block.matches("curl ").count());
    assert!(
        answers.iter().all(|a| a.get("code").is_none()),
        "{answers:?}"
    );
    // 3 × 12.00 = 36.00, paid.
    assert_eq!(answers[2]["quote"]["totals"]["payable"], "36.00");
    assert_eq!(answers[3]["status"], "paid");
    assert!(answers[4]["events"].as_array().unwrap().len() >= 3);
}
