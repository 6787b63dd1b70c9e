//! Several threads issue random orders (place, pay, cancel) against one
//! engine over SQLite. After joining: every invariant holds (replay and
//! hash chain included), and the result equals a serial run of the same
//! successful commands in log order on a fresh engine (same answers, same
//! shop state).

use mercato::OrderRef;
use std::sync::Arc;

use mercato::core::Event;
use mercato::core::order::OrderEvent;
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{MemoryStore, Store};
use mercato::{Engine, LogEvent, ManualClock, Request, Response};
use mercato_testkit::model::ShopSetup;
use mercato_testkit::strategies::shop_setup;
use mercato_testkit::{check_engine, proptest_cases};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

const THREADS: usize = 4;
const OPS_PER_THREAD: usize = 30;

/// xorshift64*: a tiny deterministic generator per thread.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

fn clock() -> ManualClock {
    ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())
}

/// One thread's random commands; returns the successful (request, response).
fn worker<S: Store + 'static>(
    engine: &Engine<S, ManualClock>,
    setup: &ShopSetup,
    t: usize,
    seed: u64,
) -> Vec<(Request, Response)> {
    let mut rng = Rng(seed | 1);
    let skus = setup.orderable();
    let customers: Vec<String> = setup.customers.iter().map(|c| c.id.clone()).collect();
    let mut mine: Vec<String> = Vec::new();
    let mut ok = Vec::new();
    for k in 0..OPS_PER_THREAD {
        let req = match rng.next(4) {
            0 | 1 => {
                let id = format!("t{t}-{k}");
                mine.push(id.clone());
                let lines = (0..=rng.next(2))
                    .map(|_| mercato::rules::CartLine {
                        // Mostly the first SKU: orders race for it.
                        sku: skus[if rng.next(3) == 0 {
                            rng.next(skus.len() as u64) as usize
                        } else {
                            0
                        }]
                        .clone(),
                        qty: 1 + rng.next(3) as i64,
                    })
                    .collect();
                let customer = (rng.next(2) == 0)
                    .then(|| customers[rng.next(customers.len() as u64) as usize].clone());
                Request::PlaceOrder(mercato::PlaceOrderRequest {
                    id,
                    customer,
                    lines,
                    coupons: vec![],
                    points: 0,
                    channel: None,
                })
            }
            2 if !mine.is_empty() => {
                let id = mine[rng.next(mine.len() as u64) as usize].clone();
                let Ok(o) = engine.order(&id) else { continue };
                Request::Pay {
                    order: id,
                    amount: o.payable().amount(),
                }
            }
            3 if !mine.is_empty() => Request::Cancel(OrderRef {
                order: mine[rng.next(mine.len() as u64) as usize].clone(),
            }),
            _ => continue,
        };
        if let Ok(resp) = engine.execute(&req, None) {
            ok.push((req, resp));
        }
    }
    ok
}

/// Where a successful request's own order event sits in the log.
fn log_position(positions: &[(String, &'static str, u64)], req: &Request) -> u64 {
    let (order, kind) = match req {
        Request::PlaceOrder(p) => (p.id.as_str(), "placed"),
        Request::Pay { order, .. } => (order.as_str(), "paid"),
        Request::Cancel(OrderRef { order }) => (order.as_str(), "cancelled"),
        _ => return u64::MAX,
    };
    positions
        .iter()
        .find(|(o, k, _)| o == order && *k == kind)
        .map_or(u64::MAX, |(_, _, seq)| *seq)
}

fn round(setup: &ShopSetup, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        dir.path().join("shop.db"),
        SqliteOptions::default().synchronous(Synchronous::Off),
    )
    .unwrap();
    let engine = Arc::new(Engine::open(store, clock()).unwrap());
    setup.install(&*engine).unwrap();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let engine = Arc::clone(&engine);
            let setup = setup.clone();
            std::thread::spawn(move || {
                worker(&*engine, &setup, t, seed.wrapping_add(t as u64 * 7919))
            })
        })
        .collect();
    let mut done: Vec<(Request, Response)> = Vec::new();
    for h in handles {
        done.extend(h.join().unwrap());
    }
    let v = check_engine(&*engine);
    assert!(v.is_empty(), "invariants after the threads: {v:?}");

    // The log order of the successful commands.
    let mut positions: Vec<(String, &'static str, u64)> = Vec::new();
    for e in engine.store().read_from(0, usize::MAX).unwrap() {
        let Ok(LogEvent::Core(Event::Order(oe))) = serde_json::from_str::<LogEvent>(&e.payload)
        else {
            continue;
        };
        let kind = match &oe {
            OrderEvent::Placed { .. } => "placed",
            OrderEvent::Paid { .. } => "paid",
            OrderEvent::Cancelled { .. } => "cancelled",
            _ => continue,
        };
        positions.push((oe.order_id().to_string(), kind, e.seq));
    }
    done.sort_by_key(|(req, _)| log_position(&positions, req));
    assert!(
        done.iter()
            .all(|(r, _)| log_position(&positions, r) != u64::MAX)
    );

    // Serially, in that order, on a fresh engine: same answers, same shop.
    let serial = Engine::open(MemoryStore::new(), clock()).unwrap();
    setup.install(&serial).unwrap();
    for (req, resp) in &done {
        let again = serial
            .execute(req, None)
            .unwrap_or_else(|e| panic!("{req:?} failed serially: {e}"));
        assert_eq!(&again, resp, "{req:?} answered differently serially");
    }
    let a = engine.read(|st| st.shop().clone()).unwrap();
    let b = serial.read(|st| st.shop().clone()).unwrap();
    assert!(a == b, "the concurrent shop differs from the serial one");
    assert!(check_engine(&serial).is_empty());
}

#[test]
fn concurrent_orders_equal_a_serial_run() {
    let rounds = proptest_cases(12);
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    for r in 0..rounds {
        let setup = shop_setup().new_tree(&mut runner).unwrap().current();
        round(
            &setup,
            0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(u64::from(r) + 1),
        );
    }
}
