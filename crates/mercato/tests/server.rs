//! The HTTP service example (`examples/server.rs`) started on 127.0.0.1 on
//! a free port and driven over real HTTP: setup by the admin, place, pay,
//! an idempotent retry with the same key, a key reused for another body,
//! no token, a wrong token, the shop token on an admin call, a malformed
//! body, an oversized body, a missing key, the event feed's long poll, the
//! OpenAPI document, and a graceful shutdown on SIGTERM after which the
//! database holds every acknowledged commit.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "support/examples.rs"]
mod examples;
#[path = "support/server.rs"]
mod server;
use examples::example;
use server::{ADMIN, SHOP, Server, bearer, call, http, start};

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

/// Reads one HTTP/1.1 answer with a `Content-Length` from a kept-alive
/// connection: (status, body).
fn read_answer(s: &mut std::net::TcpStream) -> (u16, String) {
    use std::io::Read;
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "the answer's head");
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).to_string())
}

/// How long after `since` the server closed `s` (read end of stream or a
/// reset), reading and dropping whatever it sent; `None` when it was still
/// open after 20 s.
fn closed_after(s: &mut std::net::TcpStream, since: Instant) -> Option<Duration> {
    use std::io::Read;
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(since.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(_) => return Some(since.elapsed()),
        }
    }
}

/// Whether the server still holds `s` open (nothing to read yet, no end).
fn still_open(s: &std::net::TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1];
    let open = matches!(
        std::io::Read::read(&mut &*s, &mut buf),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    );
    s.set_nonblocking(false).unwrap();
    open
}

/// Slow clients over real HTTP, with a 3 s header timeout and a 2 s request
/// timeout: 20 slow-loris connections (a partial request head, then
/// nothing) and one that trickles a byte every 400 ms are all closed
/// between 3 s and 3 s + 3 s after they connected (hyper's timer runs from
/// the start of the head and is not reset by bytes), while a normal client
/// on a new connection is served at once and the slow ones are still
/// waiting; an idle keep-alive connection is closed within the same limit
/// after its answer; a body that stops half-way answers 503 `timeout`
/// after about 2 s. The server still serves afterwards.
#[test]
fn slow_clients_are_cut_off_and_block_no_one() {
    use std::io::Write;
    use std::net::TcpStream;
    const HEADER: Duration = Duration::from_secs(3);
    const SLACK: Duration = Duration::from_secs(3);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("slow.db");
    let server = server::start_with(&[
        "--db",
        db.to_str().unwrap(),
        "--header-timeout",
        "3",
        "--request-timeout",
        "2",
    ]);
    let a = server.addr.as_str();
    let (s, _) = call(
        a,
        "POST",
        "/admin/catalog",
        ADMIN,
        Some("cat-tea"),
        json!({"sku": "tea", "price": "12.00"}),
    );
    assert_eq!(s, 200);

    // Slow-loris: a partial head, then silence.
    let mut loris: Vec<(TcpStream, Instant)> = (0..20)
        .map(|_| {
            let t = Instant::now();
            let mut c = TcpStream::connect(a).unwrap();
            c.write_all(b"POST /orders HTTP/1.1\r\nHost: x\r\nAuthoriz")
                .unwrap();
            (c, t)
        })
        .collect();
    // A trickle: one byte of a valid head every 400 ms, never finishing in time.
    let addr = a.to_string();
    let trickle = std::thread::spawn(move || {
        let t = Instant::now();
        let mut c = TcpStream::connect(&addr).unwrap();
        let head =
            b"GET /stock/tea HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        for b in head {
            if c.write_all(&[*b]).is_err() {
                break; // cut off: good
            }
            std::thread::sleep(Duration::from_millis(400));
        }
        closed_after(&mut c, t)
    });

    // Others are served at once, while the slow ones still wait.
    let t = Instant::now();
    let (s, st) = call(a, "GET", "/stock/tea", SHOP, None, Value::Null);
    assert_eq!(s, 200, "{st}");
    assert!(
        t.elapsed() < HEADER,
        "a normal call waited {:?}",
        t.elapsed()
    );
    assert!(
        loris.iter().all(|(c, _)| still_open(c)),
        "the slow connections were still open while the normal call was served"
    );

    // An idle keep-alive connection after one answer.
    let mut idle = TcpStream::connect(a).unwrap();
    let auth = bearer(SHOP);
    write!(
        idle,
        "GET /stock/tea HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n"
    )
    .unwrap();
    let (s, _) = read_answer(&mut idle);
    assert_eq!(s, 200);
    let answered = Instant::now();

    // A body that stops half-way: 503 after the request timeout.
    let mut half = TcpStream::connect(a).unwrap();
    write!(
        half,
        "POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nIdempotency-Key: half-1\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"id\": \"o1\""
    )
    .unwrap();
    let t = Instant::now();
    half.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (s, body) = read_answer(&mut half);
    let waited = t.elapsed();
    assert_eq!(s, 503, "{body}");
    assert!(body.contains("\"code\":\"timeout\""), "{body}");
    assert!(
        waited >= Duration::from_millis(1_900) && waited < Duration::from_secs(2) + SLACK,
        "the half body was answered after {waited:?}"
    );

    for (c, t) in &mut loris {
        let after = closed_after(c, *t).expect("a slow-loris connection was never closed");
        assert!(
            after >= HEADER - Duration::from_millis(100) && after < HEADER + SLACK,
            "a slow-loris connection closed after {after:?}"
        );
    }
    let after = trickle
        .join()
        .unwrap()
        .expect("the trickling connection was never closed");
    assert!(
        after < HEADER + SLACK,
        "the trickling connection closed after {after:?}"
    );
    let after = closed_after(&mut idle, answered).expect("the idle connection was never closed");
    assert!(
        after < HEADER + SLACK,
        "the idle connection closed after {after:?}"
    );

    // Nothing was stored by the half request, and the server still serves.
    let (s, p) = call(a, "GET", "/orders/o1", SHOP, None, Value::Null);
    assert_eq!((s, p["code"].as_str()), (404, Some("unknown_order")));
}
