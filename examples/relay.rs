//! `relay`: a webhook relay over the event feed. A named consumer reads the
//! integration events after its checkpoint and POSTs each one, in order, to
//! a URL, signed with HMAC-SHA256; it retries a failed delivery with
//! exponential backoff and jitter, and advances its checkpoint (in the
//! store) only after a 2xx — so a restart resumes where it stopped, and an
//! event is delivered again only if the relay stopped between the 2xx and
//! the acknowledgement, with the same delivery id.
//!
//! ```text
//! MERCATO_RELAY_SECRET=whsec-0123456789 \
//!   cargo run --release --example relay -- --db shop.db --url http://127.0.0.1:9000/hooks
//! ```
//!
//! Each POST carries the event's JSON (`{"id", "seq", "type", "data"}`) and
//! the headers `Mercato-Delivery: <id>` (the same on every attempt and
//! after a restart), `Mercato-Event: <type>` and `Mercato-Signature:
//! sha256=<hex HMAC-SHA256 of the body under the secret>`. Plain `http://`
//! only (put a TLS proxy in front for `https://`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use mercato::feed::FeedEvent;
use mercato::sqlite::{SqliteOptions, SqliteStore};
use mercato::{Engine, SystemClock};
use sha2::Sha256;

const USAGE: &str =
    "usage: relay --db PATH --url http://HOST:PORT/PATH [--consumer NAME] [--once] [--seed N]

POSTs every integration event after the consumer's checkpoint to URL,
signed with MERCATO_RELAY_SECRET (at least 16 characters).

  --db PATH        the shop's SQLite database (opened, never created)
  --url URL        where to POST (http:// only)
  --consumer NAME  the consumer whose checkpoint is kept (default relay)
  --once           stop when caught up instead of waiting for more
  --seed N         seed of the backoff jitter (default 1)
  --max-backoff-ms N  longest pause between attempts (default 30000)
  --crash-after N  (tests) abort the process after N deliveries, before
                   acknowledging the last one

Example:
  MERCATO_RELAY_SECRET=whsec-0123456789 cargo run --release --example relay -- \\
    --db shop.db --url http://127.0.0.1:9000/hooks";

struct Args {
    db: PathBuf,
    host: String,
    path: String,
    consumer: String,
    once: bool,
    seed: u64,
    max_backoff: Duration,
    crash_after: Option<u64>,
}

fn args() -> Result<Args, String> {
    let mut db = None;
    let mut url = None;
    let mut a = Args {
        db: PathBuf::new(),
        host: String::new(),
        path: String::new(),
        consumer: "relay".into(),
        once: false,
        seed: 1,
        max_backoff: Duration::from_secs(30),
        crash_after: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "--db" => db = Some(PathBuf::from(value()?)),
            "--url" => url = Some(value()?),
            "--consumer" => a.consumer = value()?,
            "--once" => a.once = true,
            "--seed" => a.seed = number(value()?)?,
            "--max-backoff-ms" => a.max_backoff = Duration::from_millis(number(value()?)?),
            "--crash-after" => a.crash_after = Some(number(value()?)?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    a.db = db.ok_or("--db is required")?;
    let url = url.ok_or("--url is required")?;
    let rest = url
        .strip_prefix("http://")
        .ok_or("--url: only http:// URLs")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if host.is_empty() {
        return Err("--url: no host".into());
    }
    a.host = host.to_string();
    a.path = path.to_string();
    Ok(a)
}

/// xorshift64*: a seeded source for the jitter (no need for a
/// cryptographic one).
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// "Full jitter": a pause drawn uniformly in [0, min(cap, base·2^n)].
    fn backoff(&mut self, attempt: u32, cap: Duration) -> Duration {
        let base = 50u64.saturating_mul(1u64 << attempt.min(20));
        let top = base.min(u64::try_from(cap.as_millis()).unwrap_or(u64::MAX));
        Duration::from_millis(self.next() % (top + 1))
    }
}

fn sign(secret: &[u8], body: &[u8]) -> Result<String, String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|e| e.to_string())?;
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One POST; the status code, or why there is none.
fn post(a: &Args, event: &FeedEvent, body: &[u8], signature: &str) -> Result<u16, String> {
    let mut s = TcpStream::connect(&a.host).map_err(|e| format!("connect {}: {e}", a.host))?;
    let t = Some(Duration::from_secs(10));
    s.set_read_timeout(t).map_err(|e| e.to_string())?;
    s.set_write_timeout(t).map_err(|e| e.to_string())?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Mercato-Delivery: {}\r\nMercato-Event: {}\r\nMercato-Signature: sha256={}\r\n\
         Connection: close\r\n\r\n",
        a.path,
        a.host,
        body.len(),
        event.id,
        event.event.type_name(),
        signature
    );
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body))
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let line = String::from_utf8_lossy(&answer);
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "no HTTP status in the answer".to_string())
}

fn run() -> Result<(), String> {
    let a = args()?;
    let secret = std::env::var("MERCATO_RELAY_SECRET")
        .map_err(|_| "MERCATO_RELAY_SECRET is not set".to_string())?;
    if secret.len() < 16 {
        return Err("MERCATO_RELAY_SECRET must have at least 16 characters".into());
    }
    if !a.db.exists() {
        return Err(format!("{}: no such database", a.db.display()));
    }
    let store = SqliteStore::open(&a.db, SqliteOptions::default()).map_err(|e| e.to_string())?;
    let engine = Engine::open(store, SystemClock).map_err(|e| e.to_string())?;
    let mut jitter = Jitter(a.seed);
    let mut delivered = 0u64;
    loop {
        let wait = if a.once {
            Duration::ZERO
        } else {
            Duration::from_secs(5)
        };
        let page = engine
            .poll(&a.consumer, 100, wait)
            .map_err(|e| e.to_string())?;
        let before = engine
            .consumer_checkpoint(&a.consumer)
            .map_err(|e| e.to_string())?
            .unwrap_or(0);
        if page.next == before {
            if a.once {
                return Ok(());
            }
            continue;
        }
        for (i, event) in page.events.iter().enumerate() {
            let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
            let signature = sign(secret.as_bytes(), &body)?;
            let mut attempt = 0u32;
            loop {
                match post(&a, event, &body, &signature) {
                    Ok(code) if (200..300).contains(&code) => break,
                    Ok(code) => eprintln!("relay: {} answered {code}", event.id),
                    Err(e) => eprintln!("relay: {}: {e}", event.id),
                }
                std::thread::sleep(jitter.backoff(attempt, a.max_backoff));
                attempt = attempt.saturating_add(1);
            }
            delivered += 1;
            if a.crash_after == Some(delivered) {
                // A crash between the 2xx and the acknowledgement.
                std::process::abort();
            }
            // Acknowledge a stored event once all its integration events
            // are delivered.
            let last_of_seq = page.events.get(i + 1).is_none_or(|n| n.seq != event.seq);
            if last_of_seq {
                engine
                    .ack(&a.consumer, event.seq)
                    .map_err(|e| e.to_string())?;
            }
        }
        engine
            .ack(&a.consumer, page.next)
            .map_err(|e| e.to_string())?;
    }
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
