//! A deterministic simulation of several engines over one store, in the
//! spirit of TigerBeetle's VOPR and FoundationDB's simulator: from a seed,
//! a random interleaving of commands across the engines, with commits that
//! fail (before writing, or after — the ambiguous case), engines that crash
//! and reopen, retried idempotency keys, timers and snapshots. After every
//! step the store's truth is rebuilt and checked:
//!
//! 1. **no oversell**: per SKU and location, reservations never pass the
//!    units (and every state invariant of [`crate::check_state`]);
//! 2. **limits hold**: promotion budgets (uses and amount), flash-sale
//!    per-customer limits and quotas, coupon usage limits;
//! 3. **guards agree**: the store's guard counters equal what live orders
//!    hold;
//! 4. **acknowledged means stored**: every call that returned `Ok` is in the
//!    store (its order, its payment, its idempotency record with the same
//!    answer), and a retried key answers exactly as the first time;
//! 5. **engines converge**: every few steps (and after every crash), each
//!    engine, synchronised, holds exactly the state rebuilt from the store,
//!    stream versions included; the stored stream versions agree too;
//! 6. **the chain verifies**.
//!
//! Everything runs on one thread, so a seed replays the same run: a
//! failure prints the seed and the command that reproduces it.

use mercato::{AdjustStock, OrderRef};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use mercato::core::Currency;
use mercato::core::order::OrderStatus;
use mercato::rules::CartLine;
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{MemoryStore, Store};
use mercato::{
    Engine, EngineError, EngineState, ManualClock, PlaceOrderRequest, Request, Response, Settings,
};
use proptest::prelude::{Rng, RngCore};
use proptest::test_runner::{RngAlgorithm, TestRng};

use crate::faults::{Fault, FaultyStore};

/// Where the engines' shared store lives.
#[derive(Debug, Clone)]
pub enum SimBackend {
    /// One [`MemoryStore`] shared by all engines.
    Memory,
    /// One SQLite file; every engine opens its own connections to it.
    Sqlite(PathBuf),
}

/// One simulation run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The seed: the same seed replays the same run.
    pub seed: u64,
    /// Steps (one command or event each).
    pub steps: usize,
    /// Engines sharing the store.
    pub engines: usize,
    /// Chance per step, in thousandths, that the step's commit fails.
    pub fault_per_mille: u32,
    /// Chance per step, in thousandths, that an engine crashes and reopens.
    pub crash_per_mille: u32,
    /// The store.
    pub backend: SimBackend,
}

impl SimConfig {
    /// A run on the memory store with the default rates.
    pub fn new(seed: u64, steps: usize) -> Self {
        SimConfig {
            seed,
            steps,
            engines: 3,
            fault_per_mille: 80,
            crash_per_mille: 15,
            backend: SimBackend::Memory,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimReport {
    /// Steps run.
    pub steps: usize,
    /// Calls made on engines.
    pub calls: u64,
    /// Calls answered `Ok`.
    pub acknowledged: u64,
    /// Calls refused with a business error (stock, state, limits...).
    pub refused: u64,
    /// Calls failed by an injected storage fault.
    pub storage_errors: u64,
    /// Faults injected before writing.
    pub faults_before: u64,
    /// Faults injected after writing (stored, but reported failed).
    pub faults_after: u64,
    /// Crashes (an engine dropped and reopened).
    pub crashes: u64,
    /// Repeated idempotency keys answered from the first call.
    pub key_replays: u64,
    /// Invariant checks made (one per step, plus engine comparisons).
    pub checks: u64,
    /// Engine-versus-store comparisons made.
    pub convergence_checks: u64,
}

/// A broken invariant, with what is needed to replay it.
#[derive(Debug, Clone)]
pub struct SimFailure {
    /// The run's seed.
    pub seed: u64,
    /// The step at which the check failed.
    pub step: usize,
    /// What is wrong.
    pub message: String,
    /// The last steps before the failure.
    pub history: Vec<String>,
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "simulation seed {} failed at step {}: {}",
            self.seed, self.step, self.message
        )?;
        writeln!(f, "last steps:")?;
        for h in &self.history {
            writeln!(f, "  {h}")?;
        }
        write!(
            f,
            "reproduce: MERCATO_SIM_SEED={} MERCATO_SIM_STEPS={} cargo test -p mercato-testkit --test simulation -- --nocapture one_seed",
            self.seed,
            self.step + 1
        )
    }
}

type SimStore = Arc<FaultyStore<Arc<dyn Store>>>;
type SimEngine = Engine<SimStore, ManualClock>;

const SKUS: [&str; 4] = ["a", "b", "c", "d"];
const CUSTOMERS: [&str; 4] = ["u0", "u1", "u2", "u3"];
const FLASH_LIMIT: i64 = 1;
const FLASH_QUOTA: i64 = 4;
const BUDGET_USES: i64 = 3;
const BUDGET_AMOUNT_MINOR: i64 = 3_000;
const COUPON_LIMIT: i64 = 3;

/// An acknowledged call and what it promised.
struct Ack {
    key: Option<String>,
    request: Request,
    response: Response,
}

struct Sim {
    config: SimConfig,
    rng: TestRng,
    clock: ManualClock,
    memory: Option<Arc<MemoryStore>>,
    engines: Vec<SimEngine>,
    acks: Vec<Ack>,
    /// Keyed calls made (acknowledged or not), for replays.
    keyed: Vec<(String, Request)>,
    orders: Vec<String>,
    report: SimReport,
    history: Vec<String>,
    next_id: u64,
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_str(s).map_err(|e| e.to_string())
}

impl Sim {
    fn open_store(&self) -> Result<SimStore, String> {
        let inner: Arc<dyn Store> = match (&self.config.backend, &self.memory) {
            (SimBackend::Memory, Some(m)) => Arc::clone(m) as Arc<dyn Store>,
            (SimBackend::Sqlite(path), _) => Arc::new(
                SqliteStore::open(path, SqliteOptions::default().synchronous(Synchronous::Off))
                    .map_err(|e| e.to_string())?,
            ),
            (SimBackend::Memory, None) => return Err("no memory store".into()),
        };
        Ok(Arc::new(FaultyStore::new(inner)))
    }

    /// Opens an engine; small batches (1 to 3 commits) so that a burst
    /// spans several batches and the epoch rule is exercised too.
    fn open_engine(&mut self) -> Result<SimEngine, String> {
        let options = mercato::EngineOptions {
            max_batch: self.rng.random_range(1..=3),
            // Sometimes never, sometimes at once, usually after two lost
            // races: calls decide under the store's write lock.
            exclusive_after: *self.pick(&[0, 1, 2, 2]),
            // One engine in four decides every batch under the lock.
            concurrency: *self.pick(&[
                mercato::Concurrency::Optimistic,
                mercato::Concurrency::Optimistic,
                mercato::Concurrency::Optimistic,
                mercato::Concurrency::Locked,
            ]),
            ..mercato::EngineOptions::default()
        };
        Engine::with_options(self.open_store()?, self.clock.clone(), options)
            .map_err(|e| format!("open: {e}"))
    }

    fn setup(&mut self) -> Result<(), String> {
        let e = self.open_engine()?;
        let run = |r: Result<(), EngineError>| r.map_err(|e| e.to_string());
        run(e.configure(Currency::CNY, Settings::default()))?;
        for (sku, price) in [
            ("a", "10.00"),
            ("b", "25.00"),
            ("c", "40.00"),
            ("d", "99.00"),
        ] {
            run(e.add_catalog_item(json(&format!(r#"{{"sku": "{sku}", "price": "{price}"}}"#))?))?;
        }
        for (sku, loc, n) in [
            ("a", "main", 6),
            ("a", "backup", 4),
            ("b", "main", 8),
            ("c", "main", 5),
            ("d", "main", 3),
        ] {
            e.adjust_stock(sku, loc, n, "received")
                .map_err(|e| e.to_string())?;
        }
        run(e.add_promotion(json(&format!(
            r#"{{"id": "flash", "kind": "price", "price": "8.00", "per_customer_limit": {FLASH_LIMIT},
                "quota": {FLASH_QUOTA}, "scope": {{"skus": ["a"]}}}}"#
        ))?))?;
        run(e.add_promotion(json(&format!(
            r#"{{"id": "few", "kind": "amount_off", "per": "line", "amount": "5.00",
                "budget": {{"uses": {BUDGET_USES}}}, "scope": {{"skus": ["c", "d"]}}}}"#
        ))?))?;
        run(e.add_promotion(json(
            r#"{"id": "m100", "kind": "full_reduction", "tiers": [{"threshold": "100.00", "off": "10.00"}],
                "budget": {"amount": "30.00"}}"#,
        )?))?;
        run(e.add_coupon(json(&format!(
            r#"{{"code": "SAVE5", "kind": "amount_off", "amount": "5.00", "threshold": "30.00",
                "usage_limit": {COUPON_LIMIT}}}"#
        ))?))?;
        for c in CUSTOMERS {
            run(e.register_customer(c, None, 100))?;
        }
        drop(e);
        for _ in 0..self.config.engines.max(1) {
            let e = self.open_engine()?;
            self.engines.push(e);
        }
        Ok(())
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, per_mille: u32) -> bool {
        self.rng.random_range(0..1000) < per_mille
    }

    fn new_order(&mut self) -> Request {
        self.next_id += 1;
        let id = format!("o{}", self.next_id);
        let n = self.rng.random_range(1..=3);
        let lines = (0..n)
            .map(|_| CartLine {
                sku: (*self.pick(&SKUS)).to_string(),
                qty: self.rng.random_range(1..=2),
            })
            .collect();
        let customer = self
            .chance(750)
            .then(|| (*self.pick(&CUSTOMERS)).to_string());
        let coupons = if self.chance(200) {
            vec!["SAVE5".to_string()]
        } else {
            vec![]
        };
        let points = if customer.is_some() && self.chance(150) {
            self.rng.random_range(1..=40)
        } else {
            0
        };
        Request::PlaceOrder(PlaceOrderRequest {
            id,
            customer,
            lines,
            coupons,
            points,
            channel: None,
        })
    }

    /// A command on one of the known orders, as the engine sees it.
    fn order_command(&mut self, engine: usize) -> Option<Request> {
        if self.orders.is_empty() {
            return None;
        }
        let id = self.pick(&self.orders.clone()).clone();
        let o = self.engines[engine].order(&id).ok()?;
        let kind = self.rng.random_range(0..10);
        Some(match (o.status, kind) {
            (OrderStatus::PendingPayment, 0..=6) => Request::Pay {
                order: id,
                amount: o.payable().amount(),
            },
            (OrderStatus::PendingPayment | OrderStatus::Paid, _) if kind >= 8 => {
                Request::Cancel(OrderRef { order: id })
            }
            (OrderStatus::Paid, _) => Request::Ship {
                order: id,
                lines: None,
            },
            (OrderStatus::Shipped, _) => Request::Deliver { order: id },
            (OrderStatus::Delivered, _) if !o.quote.lines.is_empty() => Request::Return {
                order: id,
                lines: vec![mercato::core::order::LineQty { line: 0, qty: 1 }],
                restock: kind % 2 == 0,
            },
            _ => Request::Tick,
        })
    }

    /// A random command for `engine` (a new order, a retried key, a command
    /// on a known order, the timer, a restock), with its idempotency key.
    fn command(&mut self, step: usize, engine: usize) -> (Request, Option<String>) {
        let roll = self.rng.random_range(0..100);
        match roll {
            0..=44 => {
                let r = self.new_order();
                let key = self
                    .chance(500)
                    .then(|| format!("k{step}-{}", self.next_id));
                (r, key)
            }
            45..=56 if !self.keyed.is_empty() => {
                let (k, r) = self.pick(&self.keyed.clone()).clone();
                (r, Some(k))
            }
            57..=86 => match self.order_command(engine) {
                Some(r) => {
                    self.next_id += 1;
                    let key = self
                        .chance(300)
                        .then(|| format!("k{step}-{}", self.next_id));
                    (r, key)
                }
                None => (Request::Tick, None),
            },
            87..=93 => {
                let minutes = self.rng.random_range(0..=40);
                self.clock.advance(chrono::Duration::minutes(minutes));
                (Request::Tick, None)
            }
            _ => (
                Request::AdjustStock(AdjustStock {
                    sku: (*self.pick(&SKUS)).to_string(),
                    location: "main".into(),
                    delta: self.rng.random_range(1..=2),
                    reason: "restock".into(),
                }),
                None,
            ),
        }
    }

    /// Injects a fault into `engine`'s next commit, by chance.
    fn maybe_fault(&mut self, engine: usize) -> Option<Fault> {
        if !self.chance(self.config.fault_per_mille) {
            return None;
        }
        let f = if self.rng.next_u32().is_multiple_of(2) {
            self.report.faults_before += 1;
            Fault::FailBefore
        } else {
            self.report.faults_after += 1;
            Fault::FailAfter
        };
        self.engines[engine].store().inject(f);
        Some(f)
    }

    fn step(&mut self, step: usize) -> Result<(), String> {
        let engine = self.rng.random_range(0..self.engines.len());
        let roll = self.rng.random_range(0..100);
        match roll {
            // A crash: the engine is dropped with whatever it held in memory.
            0..=1 if self.chance(self.config.crash_per_mille * 50) => {
                self.history
                    .push(format!("{step}: engine {engine} crashes"));
                let fresh = self.open_engine()?;
                self.engines[engine] = fresh;
                self.report.crashes += 1;
                self.check_engine(engine)
            }
            2..=5 => {
                self.history.push(format!("{step}: engine {engine} syncs"));
                self.engines[engine]
                    .sync()
                    .map_err(|e| format!("sync: {e}"))?;
                self.check_engine(engine)
            }
            6..=7 => {
                self.history
                    .push(format!("{step}: engine {engine} snapshots"));
                match self.engines[engine].snapshot() {
                    Ok(_) => Ok(()),
                    Err(e) if e.code() == "storage_error" => Ok(()),
                    Err(e) => Err(format!("snapshot: {e}")),
                }
            }
            8..=19 => self.burst(step, engine),
            _ => {
                let (request, key) = self.command(step, engine);
                let fault = self.maybe_fault(engine);
                let result = self.engines[engine].execute(&request, key.as_deref());
                // A fault not consumed (the call stored nothing) must not
                // hit a later call by surprise.
                self.engines[engine].store().clear();
                self.record(step, engine, request, key, fault, result)
            }
        }
    }

    /// Several commands submitted to one engine before any is waited for
    /// (one batch), while another engine commits in between: the batch
    /// meets conflicts, and the chain rule and epochs decide what lands.
    fn burst(&mut self, step: usize, engine: usize) -> Result<(), String> {
        let n = self.rng.random_range(2..=4);
        let commands: Vec<(Request, Option<String>)> =
            (0..n).map(|_| self.command(step, engine)).collect();
        let other = if self.engines.len() > 1 && self.chance(700) {
            let o = (engine + 1 + self.rng.random_range(0..self.engines.len() - 1))
                % self.engines.len();
            Some((o, self.command(step, o)))
        } else {
            None
        };
        let fault = self.maybe_fault(engine);
        self.history.push(format!(
            "{step}: engine {engine} submits {} in one batch{}",
            commands
                .iter()
                .map(|(r, _)| format!("{} {}", r.name(), r.order_id().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", "),
            other
                .as_ref()
                .map(|(o, (r, _))| format!("; meanwhile engine {o} runs {}", r.name()))
                .unwrap_or_default()
        ));
        let (results, other_result) = {
            let e = &self.engines[engine];
            let pending: Vec<_> = commands
                .iter()
                .map(|(r, k)| e.submit(r, k.as_deref()))
                .collect();
            let other_result = other
                .as_ref()
                .map(|(o, (r, k))| self.engines[*o].execute(r, k.as_deref()));
            let results: Vec<_> = pending.into_iter().map(|p| p.wait()).collect();
            (results, other_result)
        };
        self.engines[engine].store().clear();
        if let (Some((o, (r, k))), Some(res)) = (other, other_result) {
            self.record(step, o, r, k, None, res)?;
        }
        for ((r, k), res) in commands.into_iter().zip(results) {
            self.record(step, engine, r, k, fault, res)?;
        }
        Ok(())
    }

    /// Records a call's outcome and checks what it can right away.
    fn record(
        &mut self,
        step: usize,
        engine: usize,
        request: Request,
        key: Option<String>,
        fault: Option<Fault>,
        result: Result<Response, EngineError>,
    ) -> Result<(), String> {
        self.report.calls += 1;
        let summary = format!(
            "{step}: engine {engine} {} {}{} -> {}",
            request.name(),
            request.order_id().unwrap_or(""),
            key.as_ref()
                .map(|k| format!(" key {k}"))
                .unwrap_or_default(),
            match (&result, fault) {
                (Ok(_), _) => "ok".to_string(),
                (Err(e), Some(f)) => format!("{} ({f:?})", e.code()),
                (Err(e), None) => e.code().to_string(),
            }
        );
        self.history.push(summary);
        if let Some(k) = &key
            && !self.keyed.iter().any(|(x, _)| x == k)
        {
            self.keyed.push((k.clone(), request.clone()));
        }
        match result {
            Ok(response) => {
                self.report.acknowledged += 1;
                if let Some(k) = &key
                    && let Some(first) = self.acks.iter().find(|a| a.key.as_deref() == Some(k))
                {
                    if first.response != response {
                        return Err(format!(
                            "key {k} answered {response:?}, first answered {:?}",
                            first.response
                        ));
                    }
                    self.report.key_replays += 1;
                    return Ok(());
                }
                if let Request::PlaceOrder(p) = &request
                    && !self.orders.contains(&p.id)
                {
                    self.orders.push(p.id.clone());
                }
                self.acks.push(Ack {
                    key,
                    request,
                    response,
                });
            }
            Err(e) if e.code() == "storage_error" => {
                self.report.storage_errors += 1;
                if fault.is_none() {
                    return Err(format!("a storage error without a fault: {e}"));
                }
                // The ambiguous failure may have stored the order.
                if let Request::PlaceOrder(p) = &request
                    && !self.orders.contains(&p.id)
                {
                    self.orders.push(p.id.clone());
                }
            }
            Err(e) if e.code() == "internal" || e.code() == "conflict" => {
                return Err(format!("unexpected error: {e}"));
            }
            Err(_) => self.report.refused += 1,
        }
        Ok(())
    }

    /// The store's truth, rebuilt, with every invariant checked.
    fn check_store(&mut self) -> Result<EngineState, String> {
        self.report.checks += 1;
        let store = self.engines[0].store();
        let truth = mercato::rebuild(store).map_err(|e| format!("rebuild: {e}"))?;
        let violations = crate::check_state(&truth);
        if let Some(v) = violations.first() {
            return Err(format!("invariant: {v}"));
        }
        let shop = truth.shop();
        let flash_total = shop.promotion_units_total("flash");
        if flash_total > FLASH_QUOTA {
            return Err(format!("flash quota passed: {flash_total} > {FLASH_QUOTA}"));
        }
        let guard = |k: &str| store.guard(k).map_err(|e| e.to_string());
        if guard("promo/flash")? != flash_total {
            return Err(format!(
                "guard promo/flash {} != live units {flash_total}",
                guard("promo/flash")?
            ));
        }
        for c in CUSTOMERS {
            let n = shop.promotion_units("flash", c);
            if n > FLASH_LIMIT {
                return Err(format!("flash limit passed by {c}: {n}"));
            }
            let g = guard(&format!("promo/flash/customer/{c}"))?;
            if g != n {
                return Err(format!("guard for {c}: {g} != live units {n}"));
            }
        }
        let few = shop.budget_used("few");
        if few.uses > BUDGET_USES {
            return Err(format!("budget uses passed: {}", few.uses));
        }
        if guard("budget/few/uses")? != few.uses {
            return Err("guard budget/few/uses disagrees".into());
        }
        let m100 = shop.budget_used("m100");
        let m100_minor = (m100.amount * rust_decimal::Decimal::from(100))
            .trunc()
            .to_string()
            .parse::<i64>()
            .map_err(|e| e.to_string())?;
        if m100_minor > BUDGET_AMOUNT_MINOR {
            return Err(format!("budget amount passed: {}", m100.amount));
        }
        if guard("budget/m100/amount")? != m100_minor {
            return Err("guard budget/m100/amount disagrees".into());
        }
        if let Some(c) = shop.coupons().get("SAVE5")
            && c.live_uses() > COUPON_LIMIT
        {
            return Err(format!("coupon limit passed: {}", c.live_uses()));
        }
        for s in ["config", "sku/a", "sku/b", "sku/c", "sku/d", "customer/u0"] {
            let stored = store.stream_version(s).map_err(|e| e.to_string())?;
            if stored != truth.version(s) {
                return Err(format!(
                    "stream {s}: store {stored}, replay {}",
                    truth.version(s)
                ));
            }
        }
        // The read models in the store are exactly what the log says.
        for model in mercato::store::ReadModel::ALL {
            let mut stored = store.read_models(model).map_err(|e| e.to_string())?;
            stored.sort();
            let mut expected: Vec<(String, String)> = truth
                .all_read_model_rows()
                .into_iter()
                .filter(|r| r.model == model)
                .map(|r| (r.key, r.value))
                .collect();
            expected.sort();
            if stored != expected {
                let diff = stored
                    .iter()
                    .find(|row| !expected.contains(row))
                    .or_else(|| expected.iter().find(|row| !stored.contains(row)));
                return Err(format!(
                    "read model {}: stored rows differ from the log at {diff:?}",
                    model.name()
                ));
            }
        }
        for a in &self.acks {
            if let Some(k) = &a.key {
                let rec = store
                    .idempotency(k)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("acknowledged key {k} has no record"))?;
                let answered: Response =
                    serde_json::from_str(&rec.response).map_err(|e| e.to_string())?;
                if answered != a.response {
                    return Err(format!("key {k}: record differs from the answer"));
                }
            }
            match &a.request {
                Request::PlaceOrder(p) if shop.order(&p.id).is_none() => {
                    return Err(format!("acknowledged order {} is not in the store", p.id));
                }
                Request::Pay { order, .. } => {
                    let paid = shop.order(order).map(|o| o.paid.is_positive());
                    if paid != Some(true) {
                        return Err(format!("acknowledged payment of {order} is not stored"));
                    }
                }
                _ => {}
            }
        }
        Ok(truth)
    }

    /// Engine `i`, synchronised, holds exactly the store's truth.
    fn check_engine(&mut self, i: usize) -> Result<(), String> {
        let truth = self.check_store()?;
        self.engines[i].sync().map_err(|e| format!("sync: {e}"))?;
        let live = self.engines[i]
            .read(|s| s.durable.clone())
            .map_err(|e| e.to_string())?;
        self.report.convergence_checks += 1;
        if live != truth.durable {
            let diff = if live.shop != truth.durable.shop {
                "shop"
            } else if live.streams != truth.durable.streams {
                "stream versions"
            } else {
                "position or configuration"
            };
            return Err(format!(
                "engine {i} differs from the store after sync ({diff})"
            ));
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), (usize, String)> {
        self.setup().map_err(|e| (0, e))?;
        for step in 0..self.config.steps {
            self.step(step).map_err(|e| (step, e))?;
            self.check_store().map_err(|e| (step, e))?;
            if step % 25 == 24 {
                for i in 0..self.engines.len() {
                    self.check_engine(i).map_err(|e| (step, e))?;
                }
            }
            self.report.steps = step + 1;
            if self.history.len() > 40 {
                let cut = self.history.len() - 40;
                self.history.drain(..cut);
            }
        }
        for i in 0..self.engines.len() {
            self.check_engine(i).map_err(|e| (self.config.steps, e))?;
        }
        let verify = self.engines[0]
            .store()
            .verify()
            .map_err(|e| (self.config.steps, e.to_string()))?;
        if !verify.ok() {
            return Err((self.config.steps, format!("chain: {verify:?}")));
        }
        Ok(())
    }
}

/// Runs one simulation.
pub fn run(config: &SimConfig) -> Result<SimReport, SimFailure> {
    let mut seed = [0_u8; 32];
    seed[..8].copy_from_slice(&config.seed.to_le_bytes());
    let mut sim = Sim {
        config: config.clone(),
        rng: TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
        clock: ManualClock::new(
            "2026-11-11T10:00:00Z"
                .parse()
                .unwrap_or(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH),
        ),
        memory: matches!(config.backend, SimBackend::Memory).then(|| Arc::new(MemoryStore::new())),
        engines: Vec::new(),
        acks: Vec::new(),
        keyed: Vec::new(),
        orders: Vec::new(),
        report: SimReport::default(),
        history: Vec::new(),
        next_id: 0,
    };
    match sim.run() {
        Ok(()) => Ok(sim.report),
        Err((step, message)) => Err(SimFailure {
            seed: config.seed,
            step,
            message,
            history: sim.history,
        }),
    }
}

/// Summary counts of several reports.
pub fn total(reports: &[SimReport]) -> BTreeMap<&'static str, u64> {
    let mut t = BTreeMap::new();
    for r in reports {
        for (k, v) in [
            ("steps", r.steps as u64),
            ("calls", r.calls),
            ("acknowledged", r.acknowledged),
            ("refused", r.refused),
            ("storage_errors", r.storage_errors),
            ("faults_before", r.faults_before),
            ("faults_after", r.faults_after),
            ("crashes", r.crashes),
            ("key_replays", r.key_replays),
            ("checks", r.checks),
            ("convergence_checks", r.convergence_checks),
        ] {
            *t.entry(k).or_insert(0) += v;
        }
    }
    t
}
