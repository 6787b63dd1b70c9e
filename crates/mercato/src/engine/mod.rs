//! [`Engine`]: the pure core and the rules wired to a [`Store`] and a
//! [`Clock`]. One call per business operation.
//!
//! How a call flows ([`Engine::execute`]): a repeated idempotency key joins
//! the call already running under it, or is answered from its record; take
//! the state lock (reloading the state first if a commit failed); run the
//! pure step [`crate::plan::plan`] (decide, derive the read set and guard
//! moves, apply the events, build the answer and read-model rows); queue the
//! commit; release the lock; wait until the commit is durable; answer.
//!
//! The jobs live in submodules: `execute` (calls, idempotency, retries,
//! reloads), `commit` (group commit, staleness and epochs), `open`
//! (checks, rebuild, catch-up, snapshots).

mod campaigns;
mod commit;
mod execute;
mod locked;
mod loyalty;
mod open;

use crate::request::{AdjustStock, ConfigureLocation, HoldOrder, OrderRef, RegisterCustomer};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use mercato_core::order::{LineQty, Order, OrderStatus};
use mercato_core::stock::StockLevel;
use mercato_core::{CoreError, Currency, Money, Quote};
use mercato_rules::{BestCoupons, Cart, CartLine, PricingContext, best_coupons, usable_coupons};
use mercato_store::{Store, snapshot_record};

use crate::clock::Clock;
use crate::decide::quote;
use crate::error::EngineError;
use crate::request::{
    Cancellation, PlaceOrderRequest, PlacedOrder, Request, Response, ReturnRefund, TickReport,
};
use crate::review::ReviewRule;
use crate::settings::Settings;
use crate::state::EngineState;

pub use campaigns::{EndOptions, ItemUpdate, PriceOptions};
use commit::{Committer, Health};
use execute::Call;
pub use execute::Submitted;
pub use loyalty::{ClaimOptions, IssueOptions, PointsReport};
pub use open::{
    OpenOptions, SNAPSHOT_FORMAT, Verify, audit_snapshot, rebuild, rebuild_with, replay_until,
};

/// Tuning knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Most commits stored in one transaction.
    pub max_batch: usize,
    /// Optimistic-concurrency retries before giving up.
    pub max_retries: u32,
    /// Batches a leader writes before handing the lead on.
    pub leader_rounds: u32,
    /// Lost optimistic races after which a call decides under the store's
    /// write lock (`Store::commit_exclusive`), where it cannot lose again;
    /// 0: never. Not used by [`Concurrency::Locked`], where every call
    /// decides under the lock.
    pub exclusive_after: u32,
    /// How a decision is kept safe from other engines writing the same
    /// store: optimistic (the default) or under the store's write lock.
    pub concurrency: Concurrency,
    /// What opening checks, and whether it starts from the snapshot.
    pub open: OpenOptions,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_batch: 1024,
            max_retries: 8,
            leader_rounds: 2,
            exclusive_after: 2,
            concurrency: Concurrency::Optimistic,
            open: OpenOptions::default(),
        }
    }
}

/// How calls are kept safe from other engines (threads of other processes,
/// or other `Engine`s in this one) writing the same store.
///
/// Both keep every guarantee (no oversell, limits and budgets, exactly once
/// with a key, nothing acknowledged before it is durable); they differ in
/// what contention costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Concurrency {
    /// Decide on this engine's state at once, on top of its commits still
    /// in flight, and store the commit only if nothing it read moved in the
    /// meantime; a commit that lost the race is decided again on the
    /// reloaded state (after [`EngineOptions::exclusive_after`] lost races,
    /// under the write lock). Best when engines rarely touch the same
    /// streams: decisions never wait for the store.
    #[default]
    Optimistic,
    /// Queue the call; a batch of queued calls is decided under the store's
    /// write lock, after catching up with every event other engines stored,
    /// and stored in the same transaction. A decision can never lose a race,
    /// so engines sharing a hot SKU take turns on the lock a batch at a
    /// time instead of reloading and deciding again. Costs the lock's wait
    /// and one read of the log per batch; best for several processes on
    /// one PostgreSQL database selling the same things.
    Locked,
}

/// A customer's wallet: spendable points and the coupons they own
/// ([`Engine::customer`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CustomerWallet {
    /// Spendable points.
    pub points: i64,
    /// Owned coupons in definition order with their status
    /// (`available`, `locked`, `redeemed`, `expired`, `revoked`), then
    /// the template coupons in code order.
    pub coupons: Vec<(String, String)>,
    /// The same coupons, typed, with their validity.
    pub wallet: Vec<crate::loyalty::WalletCoupon>,
}

struct Shared<S> {
    store: S,
    state: Mutex<EngineState>,
    committer: Committer,
    health: Health,
    /// The state as of the last resync, holding only stored events (an
    /// exact prefix of the log); a resync catches it up with the events
    /// stored since and copies it, instead of replaying the whole log.
    base: Mutex<Option<EngineState>>,
    /// `state` holds exactly the log up to its position (no commit of this
    /// engine decided since it was last reloaded or caught up, other than
    /// locked batches stored where they were decided): a catch-up may then
    /// apply the new events to it instead of copying `base`. Changed only
    /// with the state lock held.
    in_step: AtomicBool,
    /// Calls waiting to be decided under the store's write lock
    /// ([`Concurrency::Locked`]).
    locked: locked::LockedQueue,
    review: RwLock<Vec<Arc<dyn ReviewRule>>>,
    /// Calls running under an idempotency key in this engine.
    in_flight: Mutex<HashMap<String, Arc<Call>>>,
    options: EngineOptions,
}

/// The embeddable order engine.
///
/// `Engine` is `Send + Sync` and cheap to clone (clones share one engine):
/// call it from as many threads as you like; their commits share batches.
///
/// ```
/// use mercato::{Engine, ManualClock, Settings, PlaceOrderRequest};
/// use mercato::core::Currency;
/// use mercato::rules::CartLine;
/// use mercato::store::MemoryStore;
///
/// let clock = ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap());
/// let engine = Engine::open(MemoryStore::new(), clock).unwrap();
/// engine.configure(Currency::CNY, Settings::default()).unwrap();
/// engine.add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "12.00"}"#).unwrap()).unwrap();
/// engine.adjust_stock("tea", "main", 10, "received").unwrap();
/// let placed = engine.place_order(PlaceOrderRequest {
///     id: "o1".into(), customer: None, coupons: vec![], points: 0, channel: None,
///     lines: vec![CartLine { sku: "tea".into(), qty: 3 }],
/// }, Some("checkout-1")).unwrap();
/// assert_eq!(placed.quote.totals.payable.amount().to_string(), "36.00");
/// assert_eq!(engine.pay("o1", placed.quote.totals.payable, None).unwrap(), "paid");
/// assert_eq!(engine.stock("tea").unwrap().on_hand, 7);
/// ```
pub struct Engine<S: Store + 'static, C: Clock> {
    shared: Arc<Shared<S>>,
    clock: C,
}

impl<S: Store + 'static, C: Clock + Clone> Clone for Engine<S, C> {
    fn clone(&self) -> Self {
        Engine {
            shared: Arc::clone(&self.shared),
            clock: self.clock.clone(),
        }
    }
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    /// Opens an engine over `store`: checks the log (see [`OpenOptions`]),
    /// then rebuilds the state from the latest snapshot and the events
    /// after it. A damaged or tampered log is refused with
    /// [`mercato_store::StoreError::Tampered`],
    /// [`mercato_store::StoreError::SnapshotRejected`] or
    /// [`mercato_store::StoreError::ChainKey`].
    pub fn open(store: S, clock: C) -> Result<Self, EngineError> {
        Self::with_options(store, clock, EngineOptions::default())
    }

    /// [`Engine::open`] with options.
    pub fn with_options(store: S, clock: C, options: EngineOptions) -> Result<Self, EngineError> {
        let state = rebuild_with(&store, options.open)?;
        let shared = Arc::new(Shared {
            store,
            state: Mutex::new(state),
            committer: Committer::new(options.max_batch, options.leader_rounds),
            health: Health::default(),
            base: Mutex::new(None),
            in_step: AtomicBool::new(true),
            locked: locked::LockedQueue::default(),
            review: RwLock::new(Vec::new()),
            in_flight: Mutex::new(HashMap::new()),
            options,
        });
        Ok(Engine { shared, clock })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.shared.store
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Adds an application review rule, evaluated at every placement after
    /// the built-in `settings.review` rules.
    ///
    /// An application rule may read anything in the shop; the facts it
    /// reads beyond the customer's own (whose stream every placement
    /// checks) are not part of the commit's read set.
    pub fn add_review_rule(&self, rule: Arc<dyn ReviewRule>) {
        let mut g = self
            .shared
            .review
            .write()
            .unwrap_or_else(|p| p.into_inner());
        g.push(rule);
    }

    /// Runs `f` on the current state (for queries and invariant checks).
    ///
    /// The state is this engine's view: it includes commands whose commit
    /// is still in flight (they are durable or gone before their callers
    /// return; a failed one is gone before any read after its failure), and
    /// what other processes stored up to this engine's last
    /// synchronisation ([`Engine::sync`]).
    pub fn read<T>(&self, f: impl FnOnce(&EngineState) -> T) -> Result<T, EngineError> {
        let (st, _) = self.fresh_state()?;
        Ok(f(&st))
    }

    /// Catches up with the store: applies every event stored since this
    /// engine last read the log (by other engines, in this process or
    /// others). Reads then reflect them. Returns the log position.
    pub fn sync(&self) -> Result<u64, EngineError> {
        self.between_batches(|| self.sync_now())
    }

    fn sync_now(&self) -> Result<u64, EngineError> {
        let (mut st, _) = self.fresh_state()?;
        self.shared
            .committer
            .drain(&self.shared.store, &self.shared.health);
        if self.shared.in_step.load(Ordering::SeqCst) {
            // The state is an exact prefix of the log: apply what is new.
            if let Err(e) = open::catch_up(&self.shared.store, &mut st) {
                self.shared.in_step.store(false, Ordering::SeqCst);
                self.shared.health.mark_stale();
                return Err(e);
            }
            return Ok(st.durable.position);
        }
        let fresh = self.resync()?;
        let position = fresh.durable.position;
        *st = fresh;
        self.shared.in_step.store(true, Ordering::SeqCst);
        Ok(position)
    }

    /// Stores a snapshot of the state, so that opening replays only the
    /// events after it; returns the log position it covers. Waits for
    /// queued commits first, and snapshots the log as stored (caught up
    /// with every engine's events), sealed to its place in the chain.
    pub fn snapshot(&self) -> Result<u64, EngineError> {
        self.between_batches(|| self.snapshot_now())
    }

    fn snapshot_now(&self) -> Result<u64, EngineError> {
        let (mut st, _) = self.fresh_state()?;
        self.shared
            .committer
            .drain(&self.shared.store, &self.shared.health);
        let fresh = self.resync()?;
        let json = open::snapshot_json(&fresh)?;
        let position = fresh.durable.position;
        let record = snapshot_record(&self.shared.store, position, json)?;
        self.shared.store.save_snapshot(&record)?;
        *st = fresh;
        self.shared.in_step.store(true, Ordering::SeqCst);
        Ok(position)
    }

    // ----- configuration -------------------------------------------------

    /// Sets the shop's currency and settings (once).
    pub fn configure(&self, currency: Currency, settings: Settings) -> Result<(), EngineError> {
        self.execute(&Request::Configure { currency, settings }, None)
            .map(|_| ())
    }

    /// Adds a catalog item.
    pub fn add_catalog_item(&self, item: mercato_rules::CatalogItem) -> Result<(), EngineError> {
        self.execute(&Request::AddCatalogItem { item }, None)
            .map(|_| ())
    }

    /// Adds a promotion (validated: an invalid one is `invalid_rule`).
    pub fn add_promotion(&self, promotion: mercato_rules::Promotion) -> Result<(), EngineError> {
        self.execute(&Request::AddPromotion { promotion }, None)
            .map(|_| ())
    }

    /// Defines and issues a coupon.
    pub fn add_coupon(&self, coupon: mercato_rules::Coupon) -> Result<(), EngineError> {
        self.execute(&Request::AddCoupon { coupon }, None)
            .map(|_| ())
    }

    /// Registers a customer with opening points.
    pub fn register_customer(
        &self,
        id: &str,
        tier: Option<&str>,
        points: i64,
    ) -> Result<(), EngineError> {
        self.execute(
            &Request::RegisterCustomer(RegisterCustomer {
                id: id.to_string(),
                tier: tier.map(str::to_string),
                points,
            }),
            None,
        )
        .map(|_| ())
    }

    /// Creates or reconfigures a stock location of a SKU.
    ///
    /// ```
    /// # use mercato::{Engine, ManualClock, Settings, LocationOptions};
    /// # use mercato::core::Currency;
    /// # use mercato::store::MemoryStore;
    /// # let engine = Engine::open(MemoryStore::new(), ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())).unwrap();
    /// # engine.configure(Currency::CNY, Settings::default()).unwrap();
    /// # engine.add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "12.00"}"#).unwrap()).unwrap();
    /// engine.configure_location("tea", "east", LocationOptions { safety: 2, priority: 10, ..LocationOptions::default() }).unwrap();
    /// ```
    pub fn configure_location(
        &self,
        sku: &str,
        location: &str,
        options: LocationOptions,
    ) -> Result<(), EngineError> {
        self.execute(
            &Request::ConfigureLocation(ConfigureLocation {
                sku: sku.to_string(),
                location: location.to_string(),
                safety: options.safety,
                backorder: options.backorder,
                priority: options.priority,
            }),
            None,
        )
        .map(|_| ())
    }

    /// Adds (or removes) units at a location; returns on_hand there.
    pub fn adjust_stock(
        &self,
        sku: &str,
        location: &str,
        delta: i64,
        reason: &str,
    ) -> Result<i64, EngineError> {
        match self.execute(
            &Request::AdjustStock(AdjustStock {
                sku: sku.to_string(),
                location: location.to_string(),
                delta,
                reason: reason.to_string(),
            }),
            None,
        )? {
            Response::Stock { on_hand, .. } => Ok(on_hand),
            other => Err(unexpected(other)),
        }
    }

    // ----- orders ----------------------------------------------------------

    /// Prices a cart without placing it.
    pub fn quote(&self, cart: &Cart) -> Result<Quote, EngineError> {
        let now = self.clock.now();
        let (st, _) = self.fresh_state()?;
        quote(&st, &*st, cart, now)
    }

    /// The best combination of the customer's usable coupons for a cart.
    pub fn best_coupons(
        &self,
        customer: Option<&str>,
        lines: &[CartLine],
        points: i64,
    ) -> Result<BestCoupons, EngineError> {
        let now = self.clock.now();
        let (st, _) = self.fresh_state()?;
        let rules = match customer {
            Some(c) => {
                crate::loyalty::current_rules_with(&st, crate::loyalty::template_codes_of(&st, c))?
            }
            None => std::borrow::Cow::Borrowed(st.rules()?),
        };
        let cart = Cart {
            customer: customer.map(str::to_string),
            lines: lines.to_vec(),
            coupons: Vec::new(),
            points,
        };
        let ctx = PricingContext::new(&rules, now, &*st);
        let wallet = usable_coupons(&cart, &ctx)?;
        Ok(best_coupons(&cart, &wallet, &ctx)?)
    }

    /// Prices and places an order: stock reserved, coupons locked, points
    /// spent, in one atomic append.
    pub fn place_order(
        &self,
        req: PlaceOrderRequest,
        key: Option<&str>,
    ) -> Result<PlacedOrder, EngineError> {
        match self.execute(&Request::PlaceOrder(req), key)? {
            Response::Placed(p) => Ok(*p),
            other => Err(unexpected(other)),
        }
    }

    fn status_of(&self, req: Request, key: Option<&str>) -> Result<OrderStatus, EngineError> {
        match self.execute(&req, key)? {
            Response::Status { status, .. } => Ok(status),
            Response::Cancelled(_) => Ok(OrderStatus::Cancelled),
            other => Err(unexpected(other)),
        }
    }

    /// Pays an order; the amount must be its payable, in the shop's
    /// currency. Returns its status (`paid`).
    pub fn pay(
        &self,
        order: &str,
        amount: Money,
        key: Option<&str>,
    ) -> Result<OrderStatus, EngineError> {
        let currency = self.read(|s| s.currency)?;
        if let Some(c) = currency
            && c != amount.currency()
        {
            return Err(CoreError::CurrencyMismatch {
                left: c,
                right: amount.currency(),
            }
            .into());
        }
        self.status_of(
            Request::Pay {
                order: order.to_string(),
                amount: amount.amount(),
            },
            key,
        )
    }

    /// Cancels an order before shipment: its stock, coupons and points come
    /// back, and what was paid is refunded.
    pub fn cancel(&self, order: &str, key: Option<&str>) -> Result<Cancellation, EngineError> {
        match self.execute(
            &Request::Cancel(OrderRef {
                order: order.to_string(),
            }),
            key,
        )? {
            Response::Cancelled(c) => Ok(c),
            other => Err(unexpected(other)),
        }
    }

    /// Holds an order for review.
    pub fn hold(
        &self,
        order: &str,
        reasons: Vec<String>,
        key: Option<&str>,
    ) -> Result<OrderStatus, EngineError> {
        self.status_of(
            Request::Hold(HoldOrder {
                order: order.to_string(),
                reasons,
            }),
            key,
        )
    }

    /// Releases a held order (back to pending payment, or paid).
    pub fn release(&self, order: &str, key: Option<&str>) -> Result<OrderStatus, EngineError> {
        self.status_of(
            Request::Release(OrderRef {
                order: order.to_string(),
            }),
            key,
        )
    }

    /// Rejects a held order (cancels it, giving everything back).
    pub fn reject(&self, order: &str, key: Option<&str>) -> Result<OrderStatus, EngineError> {
        self.status_of(
            Request::Reject(OrderRef {
                order: order.to_string(),
            }),
            key,
        )
    }

    /// Ships units (`None`: everything left). Returns the status.
    pub fn ship(
        &self,
        order: &str,
        lines: Option<Vec<LineQty>>,
        key: Option<&str>,
    ) -> Result<OrderStatus, EngineError> {
        self.status_of(
            Request::Ship {
                order: order.to_string(),
                lines,
            },
            key,
        )
    }

    /// Marks an order delivered.
    pub fn deliver(&self, order: &str, key: Option<&str>) -> Result<OrderStatus, EngineError> {
        self.status_of(
            Request::Deliver {
                order: order.to_string(),
            },
            key,
        )
    }

    /// Confirms receipt.
    pub fn complete(&self, order: &str, key: Option<&str>) -> Result<OrderStatus, EngineError> {
        self.status_of(
            Request::Complete(OrderRef {
                order: order.to_string(),
            }),
            key,
        )
    }

    /// Returns units after delivery and refunds them.
    pub fn return_items(
        &self,
        order: &str,
        lines: Vec<LineQty>,
        options: ReturnOptions,
        key: Option<&str>,
    ) -> Result<ReturnRefund, EngineError> {
        match self.execute(
            &Request::Return {
                order: order.to_string(),
                lines,
                restock: options.restock,
            },
            key,
        )? {
            Response::Returned(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// Runs the timers at the clock's time.
    pub fn tick(&self) -> Result<TickReport, EngineError> {
        match self.execute(&Request::Tick, None)? {
            Response::Tick(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// The earliest time at which [`Engine::tick`] has work (an unpaid
    /// order to close, a delivered order to complete, a reservation to
    /// expire), or `None` when no timer is pending: call `tick` then, the
    /// way a network stack polls its next timeout.
    ///
    /// ```
    /// # use mercato::{Engine, ManualClock, PlaceOrderRequest, Settings};
    /// # use mercato::core::Currency;
    /// # use mercato::rules::CartLine;
    /// # use mercato::store::MemoryStore;
    /// let clock = ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap());
    /// let engine = Engine::open(MemoryStore::new(), clock.clone()).unwrap();
    /// engine.configure(Currency::CNY, Settings::default()).unwrap();
    /// # engine.add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "12.00"}"#).unwrap()).unwrap();
    /// # engine.adjust_stock("tea", "main", 10, "received").unwrap();
    /// assert_eq!(engine.next_deadline().unwrap(), None);
    /// engine.place_order(PlaceOrderRequest {
    ///     id: "o1".into(), customer: None, coupons: vec![], points: 0, channel: None,
    ///     lines: vec![CartLine { sku: "tea".into(), qty: 1 }],
    /// }, None).unwrap();
    /// // Unpaid orders close after 30 minutes by default.
    /// let due = engine.next_deadline().unwrap().unwrap();
    /// assert_eq!(due, "2026-11-11T10:30:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    /// clock.set(due);
    /// assert_eq!(engine.tick().unwrap().closed, ["o1"]);
    /// assert_eq!(engine.next_deadline().unwrap(), None);
    /// ```
    pub fn next_deadline(&self) -> Result<Option<DateTime<Utc>>, EngineError> {
        let (st, _) = self.fresh_state()?;
        let config = st.settings.shop_config();
        let points = st.shop().points().next_expiry();
        Ok(st
            .shop()
            .next_deadline(&config)
            .into_iter()
            .chain(points)
            .min())
    }

    // ----- queries -----------------------------------------------------------

    /// An order.
    pub fn order(&self, id: &str) -> Result<Order, EngineError> {
        self.fresh_state()?
            .0
            .shop()
            .order(id)
            .cloned()
            .ok_or_else(|| mercato_core::CoreError::UnknownOrder(id.to_string()).into())
    }

    /// A SKU's stock summed over locations.
    pub fn stock(&self, sku: &str) -> Result<StockLevel, EngineError> {
        Ok(self.fresh_state()?.0.shop().stock().level(sku))
    }

    /// A customer's wallet: points and coupons.
    pub fn customer(&self, id: &str) -> Result<CustomerWallet, EngineError> {
        let now: DateTime<Utc> = self.clock.now();
        let (st, _) = self.fresh_state()?;
        if st.shop().customer(id).is_none() {
            return Err(mercato_core::CoreError::UnknownCustomer(id.to_string()).into());
        }
        let wallet = crate::loyalty::wallet(&st, id, now);
        Ok(CustomerWallet {
            points: st.shop().points().balance(id),
            coupons: wallet
                .iter()
                .map(|w| (w.code.clone(), w.status.as_str().to_string()))
                .collect(),
            wallet,
        })
    }
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    /// The signal this engine's commit path moves after every durable
    /// batch (the feed's in-process wake-up).
    pub(crate) fn feed_signal(&self) -> &crate::feed::Signal {
        &self.shared.health.appended
    }
}

/// A response of another shape than the call returns: a bug.
fn unexpected(r: Response) -> EngineError {
    EngineError::Internal(format!("unexpected response {r:?}"))
}

/// How a stock location is configured ([`Engine::configure_location`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocationOptions {
    /// Units kept back from sale (default 0).
    pub safety: i64,
    /// Whether the location may sell beyond its units (default no).
    pub backorder: bool,
    /// Higher priorities are allocated first (default 0).
    pub priority: i64,
}

/// How a return is handled ([`Engine::return_items`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReturnOptions {
    /// Put the returned units back into stock at the locations they left
    /// (default no: damaged or not resellable).
    pub restock: bool,
}
