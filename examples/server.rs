//! `server`: mercato as an HTTP service, for programs in any language. The
//! engine runs on the embedded SQLite store (or PostgreSQL with
//! `--store postgres:URL`, built with `--features postgres`); axum on tokio
//! serves JSON in the contract's shapes (amounts as decimal strings).
//!
//! ```text
//! MERCATO_ADMIN_TOKEN=admin-secret MERCATO_SHOP_TOKEN=shop-secret \
//!   cargo run --release --example server -- --db shop.db
//! ```
//!
//! - Every call needs `Authorization: Bearer <token>` (none → 401): the
//!   shop token may quote, place, pay, cancel, complete and read; the admin
//!   token may do everything, including the catalog, promotions, coupons,
//!   stock, customers, shipping, returns and the event feed (shop token
//!   there → 403). `/openapi.json` is public.
//! - Every mutating call needs an `Idempotency-Key` header: a retry with
//!   the same key answers exactly as the first call and stores nothing.
//! - Errors are RFC 9457 `application/problem+json` with the contract's
//!   error code in `code`.
//! - Bodies above 64 KiB are refused (413). A connection must send a whole
//!   request head within 10 s of being opened or of its previous answer,
//!   or it is closed (slow clients, idle keep-alive connections); a request
//!   that is not answered 10 s after its head arrived (body upload and the
//!   engine call together) answers 503 (retry with the same key: a commit
//!   that was running is answered from its record). `GET
//!   /events?after=N&wait=S` long-polls the feed for up to 30 s.
//! - SIGINT or SIGTERM stops accepting connections, lets the calls in
//!   flight finish their commits, then exits.
//!
//! The whole API is in `docs/integration.md` and at `/openapi.json`.

use mercato::{AdjustStock, OrderRef, RegisterCustomer};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use mercato::core::Currency;
use mercato::core::money::parse_amount;
use mercato::core::order::LineQty;
use mercato::rules::{Cart, CartLine, best_coupons_to_contract_json, quote_to_contract_json};
use mercato::store::Store;
use mercato::{Engine, EngineError, ErrorKind, PlaceOrderRequest, Request, Settings, SystemClock};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024;
/// Longest a connection may take to send a request head, counted from
/// its opening or from its previous answer (so also the idle limit of a
/// keep-alive connection); `--header-timeout`.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a request may take from its head to its answer (body upload
/// and engine call) before it answers 503; `--request-timeout`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest long poll of `/events` (its request may take this plus the
/// request timeout).
const MAX_WAIT: Duration = Duration::from_secs(30);

const USAGE: &str = "usage: server [--db PATH | --store postgres:URL [--schema NAME]] [--addr HOST:PORT] [--currency CODE]

Serves the engine over HTTP. Tokens come from the environment:
MERCATO_ADMIN_TOKEN (every call) and MERCATO_SHOP_TOKEN (shop calls); both
are required, at least 16 characters each.

  --db PATH        the SQLite database (default mercato-server.db; opened,
                   or created when missing)
  --store postgres:URL  PostgreSQL instead (build with --features postgres)
  --schema NAME    PostgreSQL schema (default mercato)
  --addr HOST:PORT where to listen (default 127.0.0.1:8080; port 0 picks a
                   free one; the address is printed as `listening on ADDR`)
  --currency CODE  the shop's currency when the store is new (default CNY)
  --header-timeout SECS  a connection that has not sent a whole request head
                   this long after opening or after its previous answer is
                   closed (default 10)
  --request-timeout SECS  a request not answered this long after its head
                   arrived answers 503 `timeout` (default 10; `/events`
                   long polls get 30 more)

Examples:
  MERCATO_ADMIN_TOKEN=admin-secret-123456 MERCATO_SHOP_TOKEN=shop-secret-1234567 \\
    cargo run --release --example server -- --db shop.db
  curl -s -H 'Authorization: Bearer shop-secret-1234567' localhost:8080/stock/tea";

type Shop = Engine<Arc<dyn Store>, SystemClock>;

struct App {
    engine: Shop,
    admin: [u8; 32],
    shop: [u8; 32],
    request_timeout: Duration,
    /// The store is shared with other processes (PostgreSQL): this engine's
    /// state may lag behind theirs until it syncs.
    shared: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Shop,
    Admin,
}

/// An RFC 9457 problem: `{type, title, status, detail, code}`.
struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl Problem {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": format!("https://mercato.invalid/problems/{}", self.code),
            "title": self.code.replace('_', " "),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        let mut r = (self.status, body.to_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// The HTTP status of each contract error code.
fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidInput
        | ErrorKind::InvalidRule
        | ErrorKind::EmptyCart
        | ErrorKind::InvalidQuantity => StatusCode::BAD_REQUEST,
        ErrorKind::UnknownOrder | ErrorKind::UnknownCustomer | ErrorKind::UnknownSku => {
            StatusCode::NOT_FOUND
        }
        ErrorKind::DuplicateOrderName
        | ErrorKind::IdempotencyConflict
        | ErrorKind::InvalidTransition
        | ErrorKind::InsufficientStock
        | ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::CouponRejected | ErrorKind::PaymentMismatch | ErrorKind::InsufficientPoints => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ErrorKind::StorageError | ErrorKind::ShutDown => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Problem {
        let kind = e.kind();
        Problem::new(status_of(kind), kind.code(), e.to_string())
    }
}

type Answer = Result<Response, Problem>;

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares digests without an early exit.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorize(app: &App, headers: &HeaderMap, scope: Scope) -> Result<(), Problem> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a bearer token is required",
            )
        })?;
    let d = digest(token.trim());
    let granted = if same(&d, &app.admin) {
        Some(Scope::Admin)
    } else if same(&d, &app.shop) {
        Some(Scope::Shop)
    } else {
        None
    };
    match (granted, scope) {
        (None, _) => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown token",
        )),
        (Some(Scope::Shop), Scope::Admin) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this call needs the admin token",
        )),
        _ => Ok(()),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() || key.len() > 200 {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "every mutating call needs an Idempotency-Key header (1 to 200 characters)",
        ));
    }
    Ok(key.to_string())
}

/// The JSON body, or a problem: too large (413), not JSON or not of the
/// expected shape (400 `invalid_input`).
fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, Problem> {
    let bytes = body.map_err(|r| {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "invalid_input"
        };
        Problem::new(status, code, r.body_text())
    })?;
    let bytes = if bytes.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        bytes
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid_input", e.to_string()))
}

/// Runs a mutating engine call on the blocking pool (the request's
/// deadline, [`deadline`], bounds the wait; a commit already running
/// finishes). On a shared store the engine itself decides a refusal again
/// when other processes stored events it had not seen.
async fn call<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&Shop) -> Result<T, EngineError> + Send + 'static,
) -> Result<T, Problem> {
    blocking(app, move |app| f(&app.engine)).await
}

/// Runs a reading engine call on the blocking pool; on a shared store,
/// after catching up with the other processes' commits, so a read through
/// one server sees what was stored through another.
async fn read<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&Shop) -> Result<T, EngineError> + Send + 'static,
) -> Result<T, Problem> {
    blocking(app, move |app| {
        if app.shared {
            app.engine.sync()?;
        }
        f(&app.engine)
    })
    .await
}

async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> Result<T, EngineError> + Send + 'static,
) -> Result<T, Problem> {
    let app = Arc::clone(app);
    match tokio::task::spawn_blocking(move || f(&app)).await {
        Ok(r) => r.map_err(Problem::from),
        Err(e) => Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            e.to_string(),
        )),
    }
}

/// Answers 503 `timeout` when a request (reading its body, the engine
/// call, writing nothing yet) takes longer than the request timeout; a long
/// poll of `/events` gets [`MAX_WAIT`] more.
async fn deadline(State(app): St, req: axum::extract::Request, next: Next) -> Response {
    let limit = if req.uri().path() == "/events" {
        app.request_timeout.saturating_add(MAX_WAIT)
    } else {
        app.request_timeout
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long; retry it with the same Idempotency-Key",
        )
        .into_response(),
    }
}

fn ok(v: Value) -> Answer {
    Ok(Json(v).into_response())
}

fn response_json(r: &mercato::Response) -> Value {
    use mercato::Response as R;
    match r {
        R::Placed(p) => json!({
            "order": p.order,
            "status": p.status.as_str(),
            "quote": quote_to_contract_json(&p.quote),
            "reservations": p.reservations.iter()
                .map(|r| json!({"sku": r.sku, "location": r.location, "qty": r.qty}))
                .collect::<Vec<_>>(),
            "hold_reasons": p.hold_reasons,
        }),
        R::Status { status, .. } => json!({"status": status.as_str()}),
        R::Cancelled(c) => json!({"status": "cancelled", "refund": c.refund.amount().to_string()}),
        R::Returned(r) => json!({
            "return_id": r.return_id,
            "refund": r.refund.amount().to_string(),
            "points_returned": r.points_returned,
            "status": r.status.as_str(),
        }),
        R::Stock { on_hand, .. } => json!({"on_hand": on_hand}),
        R::Tick(t) => json!({"closed": t.closed, "completed": t.completed}),
        _ => json!({}),
    }
}

/// A mutating call: admin or shop scope, an idempotency key, the request.
async fn mutate(app: &Arc<App>, headers: &HeaderMap, scope: Scope, req: Request) -> Answer {
    authorize(app, headers, scope)?;
    let key = idempotency_key(headers)?;
    let r = call(app, move |e| e.execute(&req, Some(&key))).await?;
    ok(response_json(&r))
}

type Body = Result<Bytes, BytesRejection>;
type St = State<Arc<App>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuoteBody {
    #[serde(default)]
    customer: Option<String>,
    lines: Vec<CartLine>,
    #[serde(default)]
    coupons: Vec<String>,
    #[serde(default)]
    points: i64,
}

async fn quote(State(app): St, headers: HeaderMap, body: Body) -> Answer {
    authorize(&app, &headers, Scope::Shop)?;
    let b: QuoteBody = parse(body)?;
    let cart = Cart {
        customer: b.customer,
        lines: b.lines,
        coupons: b.coupons,
        points: b.points,
    };
    let q = read(&app, move |e| e.quote(&cart)).await?;
    ok(quote_to_contract_json(&q))
}

async fn best_coupons(State(app): St, headers: HeaderMap, body: Body) -> Answer {
    authorize(&app, &headers, Scope::Shop)?;
    let b: QuoteBody = parse(body)?;
    let best = read(&app, move |e| {
        e.best_coupons(b.customer.as_deref(), &b.lines, b.points)
    })
    .await?;
    ok(best_coupons_to_contract_json(&best))
}

async fn place(State(app): St, headers: HeaderMap, body: Body) -> Answer {
    authorize(&app, &headers, Scope::Shop)?;
    let req: PlaceOrderRequest = parse(body)?;
    mutate(&app, &headers, Scope::Shop, Request::PlaceOrder(req)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayBody {
    amount: String,
}

async fn pay(State(app): St, Path(order): Path<String>, headers: HeaderMap, body: Body) -> Answer {
    authorize(&app, &headers, Scope::Shop)?;
    let b: PayBody = parse(body)?;
    let amount = parse_amount(&b.amount).map_err(EngineError::from)?;
    mutate(&app, &headers, Scope::Shop, Request::Pay { order, amount }).await
}

async fn cancel(State(app): St, Path(order): Path<String>, headers: HeaderMap) -> Answer {
    mutate(
        &app,
        &headers,
        Scope::Shop,
        Request::Cancel(OrderRef { order }),
    )
    .await
}

async fn complete(State(app): St, Path(order): Path<String>, headers: HeaderMap) -> Answer {
    mutate(
        &app,
        &headers,
        Scope::Shop,
        Request::Complete(OrderRef { order }),
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShipBody {
    #[serde(default)]
    lines: Option<Vec<LineQty>>,
}

async fn ship(State(app): St, Path(order): Path<String>, headers: HeaderMap, body: Body) -> Answer {
    authorize(&app, &headers, Scope::Admin)?;
    let b: ShipBody = parse(body)?;
    let req = Request::Ship {
        order,
        lines: b.lines,
    };
    mutate(&app, &headers, Scope::Admin, req).await
}

async fn deliver(State(app): St, Path(order): Path<String>, headers: HeaderMap) -> Answer {
    mutate(&app, &headers, Scope::Admin, Request::Deliver { order }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReturnBody {
    lines: Vec<LineQty>,
    #[serde(default)]
    restock: bool,
}

async fn return_items(
    State(app): St,
    Path(order): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    authorize(&app, &headers, Scope::Admin)?;
    let b: ReturnBody = parse(body)?;
    let req = Request::Return {
        order,
        lines: b.lines,
        restock: b.restock,
    };
    mutate(&app, &headers, Scope::Admin, req).await
}

async fn order(State(app): St, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    authorize(&app, &headers, Scope::Shop)?;
    let o = read(&app, move |e| e.order(&id)).await?;
    ok(json!({"order": o.id, "status": o.status.as_str()}))
}

async fn stock(State(app): St, Path(sku): Path<String>, headers: HeaderMap) -> Answer {
    authorize(&app, &headers, Scope::Shop)?;
    let s = read(&app, move |e| e.stock(&sku)).await?;
    ok(json!({"on_hand": s.on_hand, "reserved": s.reserved, "available": s.available}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustBody {
    location: String,
    delta: i64,
    reason: String,
}

async fn adjust(State(app): St, Path(sku): Path<String>, headers: HeaderMap, body: Body) -> Answer {
    authorize(&app, &headers, Scope::Admin)?;
    let b: AdjustBody = parse(body)?;
    let req = Request::AdjustStock(AdjustStock {
        sku,
        location: b.location,
        delta: b.delta,
        reason: b.reason,
    });
    mutate(&app, &headers, Scope::Admin, req).await
}

async fn customer(State(app): St, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    authorize(&app, &headers, Scope::Shop)?;
    let w = read(&app, move |e| e.customer(&id)).await?;
    let coupons: Vec<Value> = w
        .coupons
        .iter()
        .map(|(code, status)| json!({"code": code, "status": status}))
        .collect();
    ok(json!({"points": w.points, "coupons": coupons}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerBody {
    id: String,
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    points: i64,
}

async fn register(State(app): St, headers: HeaderMap, body: Body) -> Answer {
    authorize(&app, &headers, Scope::Admin)?;
    let b: CustomerBody = parse(body)?;
    let req = Request::RegisterCustomer(RegisterCustomer {
        id: b.id,
        tier: b.tier,
        points: b.points,
    });
    mutate(&app, &headers, Scope::Admin, req).await
}

async fn add_catalog(State(app): St, headers: HeaderMap, body: Body) -> Answer {
    authorize(&app, &headers, Scope::Admin)?;
    let item = parse(body)?;
    mutate(
        &app,
        &headers,
        Scope::Admin,
        Request::AddCatalogItem { item },
    )
    .await
}

async fn add_promotion(State(app): St, headers: HeaderMap, body: Body) -> Answer {
    authorize(&app, &headers, Scope::Admin)?;
    let promotion = parse(body)?;
    mutate(
        &app,
        &headers,
        Scope::Admin,
        Request::AddPromotion { promotion },
    )
    .await
}

async fn add_coupon(State(app): St, headers: HeaderMap, body: Body) -> Answer {
    authorize(&app, &headers, Scope::Admin)?;
    let coupon = parse(body)?;
    mutate(&app, &headers, Scope::Admin, Request::AddCoupon { coupon }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    #[serde(default)]
    after: u64,
    /// Seconds to wait when there is nothing new (0 to 30).
    #[serde(default)]
    wait: u64,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

async fn events(
    State(app): St,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    authorize(&app, &headers, Scope::Admin)?;
    let Query(q) =
        query.map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid_input", e.body_text()))?;
    let wait = Duration::from_secs(q.wait).min(MAX_WAIT);
    let app2 = Arc::clone(&app);
    let task = tokio::task::spawn_blocking(move || app2.engine.feed_wait(q.after, q.limit, wait));
    let page = task
        .await
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(Problem::from)?;
    ok(serde_json::to_value(&page).unwrap_or_default())
}

async fn openapi() -> Response {
    let mut r = include_str!("server_openapi.json").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/quote", post(quote))
        .route("/best-coupons", post(best_coupons))
        .route("/orders", post(place))
        .route("/orders/{id}", get(order))
        .route("/orders/{id}/pay", post(pay))
        .route("/orders/{id}/cancel", post(cancel))
        .route("/orders/{id}/ship", post(ship))
        .route("/orders/{id}/deliver", post(deliver))
        .route("/orders/{id}/complete", post(complete))
        .route("/orders/{id}/returns", post(return_items))
        .route("/stock/{sku}", get(stock))
        .route("/stock/{sku}/adjust", post(adjust))
        .route("/customers", post(register))
        .route("/customers/{id}", get(customer))
        .route("/admin/catalog", post(add_catalog))
        .route("/admin/promotions", post(add_promotion))
        .route("/admin/coupons", post(add_coupon))
        .route("/events", get(events))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), deadline))
        .with_state(app)
}

struct Args {
    db: PathBuf,
    postgres: Option<String>,
    schema: String,
    addr: SocketAddr,
    currency: Currency,
    header_timeout: Duration,
    request_timeout: Duration,
}

/// A positive number of seconds (fractions allowed) for a timeout flag.
fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "{flag} {v}: a number of seconds above 0 (at most 86400)"
        )),
    }
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        db: PathBuf::from("mercato-server.db"),
        postgres: None,
        schema: "mercato".into(),
        addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        currency: Currency::CNY,
        header_timeout: HEADER_TIMEOUT,
        request_timeout: REQUEST_TIMEOUT,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => a.db = PathBuf::from(value()?),
            "--store" => {
                let v = value()?;
                match v.strip_prefix("postgres:") {
                    Some(url) => a.postgres = Some(url.to_string()),
                    None => return Err(format!("--store {v}: only postgres:URL")),
                }
            }
            "--schema" => a.schema = value()?,
            "--addr" => {
                let v = value()?;
                a.addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?;
            }
            "--currency" => {
                let v = value()?;
                a.currency = serde_json::from_value(Value::String(v.clone()))
                    .map_err(|e| format!("--currency {v}: {e}"))?;
            }
            "--header-timeout" => a.header_timeout = seconds(&flag, &value()?)?,
            "--request-timeout" => a.request_timeout = seconds(&flag, &value()?)?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn token(var: &str) -> Result<[u8; 32], String> {
    match std::env::var(var) {
        Ok(t) if t.trim().len() >= 16 => Ok(digest(t.trim())),
        Ok(_) => Err(format!("{var} must have at least 16 characters")),
        Err(_) => Err(format!("{var} is not set")),
    }
}

fn open_store(a: &Args) -> Result<Arc<dyn Store>, String> {
    if let Some(url) = &a.postgres {
        #[cfg(feature = "postgres")]
        {
            use mercato::postgres::{PgOptions, PgStore};
            let s = PgStore::open(url, PgOptions::default().schema(a.schema.clone()))
                .map_err(|e| e.to_string())?;
            return Ok(Arc::new(s));
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _ = (url, &a.schema);
            return Err("PostgreSQL needs a build with --features postgres".into());
        }
    }
    let s = mercato::sqlite::SqliteStore::open(&a.db, mercato::sqlite::SqliteOptions::default())
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(s))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Accepts connections until SIGINT or SIGTERM, each served by hyper's
/// HTTP/1 connection with a header-read timeout (`axum::serve` sets no
/// timer, so it would have none), then waits for every connection to
/// finish its request in flight.
async fn serve(listener: tokio::net::TcpListener, router: Router, header_timeout: Duration) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let service = TowerToHyperService::new(router);
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Answers are small and written whole: no reason to
                    // wait for the client's ACK before the next one.
                    let _ = stream.set_nodelay(true);
                    let conn = http.serve_connection(TokioIo::new(stream), service.clone());
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        // A client that goes away or times out is not our error.
                        let _ = conn.await;
                    });
                }
                // Out of file descriptors and the like: wait, then go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            },
            () = &mut stop => break,
        }
    }
    drop(listener);
    // Idle connections close now; busy ones after their answer.
    graceful.shutdown().await;
}

fn run() -> Result<(), String> {
    let a = args()?;
    let admin = token("MERCATO_ADMIN_TOKEN")?;
    let shop = token("MERCATO_SHOP_TOKEN")?;
    if same(&admin, &shop) {
        return Err("the admin and shop tokens must differ".into());
    }
    let engine = Engine::open(open_store(&a)?, SystemClock).map_err(|e| e.to_string())?;
    if engine
        .read(|s| s.currency)
        .map_err(|e| e.to_string())?
        .is_none()
    {
        engine
            .configure(a.currency, Settings::default())
            .map_err(|e| e.to_string())?;
    }
    let app = Arc::new(App {
        engine,
        admin,
        shop,
        request_timeout: a.request_timeout,
        shared: a.postgres.is_some(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let routes = router(Arc::clone(&app));
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", a.addr))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let _ = writeln!(std::io::stdout(), "listening on {local}");
        serve(listener, routes, a.header_timeout).await;
        Ok::<(), String>(())
    });
    // Waits for engine calls still running on the blocking pool.
    drop(rt);
    // The engine is closed here, outside the runtime: the PostgreSQL
    // client blocks on its own runtime when its connections close.
    drop(app);
    served?;
    // Every call has finished: its commit is durable or failed.
    let _ = writeln!(std::io::stdout(), "stopped");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_empty() => {
            // A reader that stops early (`| head`) is not an error.
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
