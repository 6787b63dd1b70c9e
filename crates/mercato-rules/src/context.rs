//! What pricing needs besides the cart: the [`RuleSet`], the time `now`,
//! and a [`ShopView`] — the live facts the caller supplies (customers,
//! usage counters of limited promotions and coupons, spent campaign
//! budgets, available stock). [`PricingContext`] is three borrows and a
//! timestamp, so it costs nothing to build per call. [`ShopFacts`] is a
//! plain-data [`ShopView`] for tests, scenarios and refund re-pricing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ruleset::RuleSet;

/// A customer as pricing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerView<'a> {
    /// The id.
    pub id: &'a str,
    /// The tier (member prices), if any.
    pub tier: Option<&'a str>,
    /// Spendable points balance.
    pub points: i64,
}

/// What a promotion's campaign budget has already given on live orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetSpent {
    /// Total discount given (in currency units).
    pub amount: Decimal,
    /// Live orders it applied to.
    pub orders: i64,
}

/// The live facts pricing reads, supplied by the caller (the engine answers
/// them from its orders and stock; limits count live orders — pending, on
/// hold, paid, shipped, delivered, completed, returned — and a coupon
/// locked by a pending order counts as used).
///
/// Every counter defaults to 0, so an implementation only overrides what it
/// tracks.
pub trait ShopView {
    /// The customer with this id, or `None` when the shop does not know it.
    fn customer(&self, id: &str) -> Option<CustomerView<'_>>;
    /// Units this customer already bought at a limited `price` promotion.
    fn units_bought(&self, _promotion: &str, _customer: &str) -> i64 {
        0
    }
    /// Units all customers bought at a `price` promotion (its quota).
    fn units_sold(&self, _promotion: &str) -> i64 {
        0
    }
    /// Live uses of a coupon by everyone.
    fn coupon_uses(&self, _code: &str) -> i64 {
        0
    }
    /// Live uses of a coupon by this customer.
    fn coupon_uses_by(&self, _code: &str, _customer: &str) -> i64 {
        0
    }
    /// What a promotion's budget has given so far.
    fn budget_spent(&self, _promotion: &str) -> BudgetSpent {
        BudgetSpent::default()
    }
    /// Units of a SKU available to reserve (gift stock checks); 0 for a SKU
    /// with no stock entry.
    fn available(&self, _sku: &str) -> i64 {
        0
    }
    /// The customer's tags (segments that conditions read), sorted.
    fn customer_tags(&self, _customer: &str) -> Vec<String> {
        Vec::new()
    }
    /// The customer's live orders (placed, neither cancelled nor closed):
    /// the `new_customer` condition holds when there are none.
    fn live_orders(&self, _customer: &str) -> i64 {
        0
    }
}

/// Everything one call to [`crate::price`] reads besides the cart.
///
/// ```
/// use mercato_core::money::Currency;
/// use mercato_rules::{PricingContext, PricingSettings, RuleSet, ShopFacts};
/// let rules = RuleSet::new(Currency::CNY, PricingSettings::default(), vec![], vec![], vec![]).unwrap();
/// let shop = ShopFacts::new().with_customer("u1", Some("gold"), 1000);
/// let ctx = PricingContext::new(&rules, "2026-03-02T09:00:00Z".parse().unwrap(), &shop);
/// assert_eq!(ctx.rules.currency(), Currency::CNY);
/// ```
#[derive(Clone, Copy)]
pub struct PricingContext<'a> {
    /// Catalog, promotions, coupons and settings.
    pub rules: &'a RuleSet,
    /// The engine's current time (windows are checked against it).
    pub now: DateTime<Utc>,
    /// Customers, usage counters, budgets and stock.
    pub shop: &'a dyn ShopView,
    /// The sales channel (for `channels` conditions); `None`: no channel
    /// (set it with [`PricingContext::with_channel`]).
    pub channel: Option<&'a str>,
}

impl<'a> PricingContext<'a> {
    /// Bundles the borrows.
    pub fn new(rules: &'a RuleSet, now: DateTime<Utc>, shop: &'a dyn ShopView) -> Self {
        PricingContext {
            rules,
            now,
            shop,
            channel: None,
        }
    }

    /// The same context for a cart sold through `channel`.
    #[must_use]
    pub fn with_channel(mut self, channel: Option<&'a str>) -> Self {
        self.channel = channel;
        self
    }
}

/// What pricing knows of a customer, owned, in the contract's shape
/// (`{"id", "tier", "points"}`): the setup of a scenario file, the records
/// of a [`ShopFacts`]. (A [`CustomerView`] is the same facts borrowed from
/// a live shop.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerFacts {
    /// The id.
    pub id: String,
    /// The tier, if any.
    #[serde(default)]
    pub tier: Option<String>,
    /// Points balance (default 0).
    #[serde(default)]
    pub points: i64,
}

/// A [`ShopView`] held as plain maps: the facts pricing reads (customers,
/// limit counters, coupon uses, budgets, stock), for pricing without an
/// engine (tests, tools, the pricing benches).
///
/// ```
/// use mercato_rules::{ShopFacts, ShopView};
/// let shop = ShopFacts::new().with_customer("u1", None, 50).with_stock("glass", 20);
/// assert_eq!(shop.customer("u1").unwrap().points, 50);
/// assert!(shop.customer("u2").is_none());
/// assert_eq!(shop.available("glass"), 20);
/// assert_eq!(shop.available("other"), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ShopFacts {
    customers: HashMap<String, CustomerFacts>,
    bought: HashMap<String, HashMap<String, i64>>,
    sold: HashMap<String, i64>,
    coupon_uses: HashMap<String, i64>,
    coupon_uses_by: HashMap<String, HashMap<String, i64>>,
    budgets: HashMap<String, BudgetSpent>,
    stock: HashMap<String, i64>,
    tags: HashMap<String, Vec<String>>,
    live: HashMap<String, i64>,
}

impl ShopFacts {
    /// An empty shop: no customers, no usage, no stock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a customer.
    pub fn add_customer(&mut self, customer: CustomerFacts) {
        self.customers.insert(customer.id.clone(), customer);
    }

    /// Builder form of [`ShopFacts::add_customer`].
    pub fn with_customer(mut self, id: &str, tier: Option<&str>, points: i64) -> Self {
        self.add_customer(CustomerFacts {
            id: id.to_string(),
            tier: tier.map(str::to_string),
            points,
        });
        self
    }

    /// Sets the available units of a SKU.
    pub fn with_stock(mut self, sku: &str, available: i64) -> Self {
        self.stock.insert(sku.to_string(), available);
        self
    }

    /// Sets the units a customer already bought at a limited promotion.
    pub fn with_units_bought(mut self, promotion: &str, customer: &str, units: i64) -> Self {
        self.bought
            .entry(promotion.to_string())
            .or_default()
            .insert(customer.to_string(), units);
        self
    }

    /// Sets the units sold at a promotion (its quota).
    pub fn with_units_sold(mut self, promotion: &str, units: i64) -> Self {
        self.sold.insert(promotion.to_string(), units);
        self
    }

    /// Sets a coupon's live uses by everyone.
    pub fn with_coupon_uses(mut self, code: &str, uses: i64) -> Self {
        self.coupon_uses.insert(code.to_string(), uses);
        self
    }

    /// Sets a coupon's live uses by one customer.
    pub fn with_coupon_uses_by(mut self, code: &str, customer: &str, uses: i64) -> Self {
        self.coupon_uses_by
            .entry(code.to_string())
            .or_default()
            .insert(customer.to_string(), uses);
        self
    }

    /// Sets a customer's tags.
    pub fn with_tags(mut self, customer: &str, tags: &[&str]) -> Self {
        let mut t: Vec<String> = tags.iter().map(|s| (*s).to_string()).collect();
        t.sort();
        t.dedup();
        self.tags.insert(customer.to_string(), t);
        self
    }

    /// Sets a customer's live orders (0: a new customer).
    pub fn with_live_orders(mut self, customer: &str, orders: i64) -> Self {
        self.live.insert(customer.to_string(), orders);
        self
    }

    /// Sets what a promotion's budget has given.
    pub fn with_budget_spent(mut self, promotion: &str, spent: BudgetSpent) -> Self {
        self.budgets.insert(promotion.to_string(), spent);
        self
    }
}

impl ShopView for ShopFacts {
    fn customer(&self, id: &str) -> Option<CustomerView<'_>> {
        self.customers.get(id).map(|c| CustomerView {
            id: &c.id,
            tier: c.tier.as_deref(),
            points: c.points,
        })
    }
    fn units_bought(&self, promotion: &str, customer: &str) -> i64 {
        self.bought
            .get(promotion)
            .and_then(|m| m.get(customer))
            .copied()
            .unwrap_or(0)
    }
    fn units_sold(&self, promotion: &str) -> i64 {
        self.sold.get(promotion).copied().unwrap_or(0)
    }
    fn coupon_uses(&self, code: &str) -> i64 {
        self.coupon_uses.get(code).copied().unwrap_or(0)
    }
    fn coupon_uses_by(&self, code: &str, customer: &str) -> i64 {
        self.coupon_uses_by
            .get(code)
            .and_then(|m| m.get(customer))
            .copied()
            .unwrap_or(0)
    }
    fn budget_spent(&self, promotion: &str) -> BudgetSpent {
        self.budgets.get(promotion).copied().unwrap_or_default()
    }
    fn available(&self, sku: &str) -> i64 {
        self.stock.get(sku).copied().unwrap_or(0)
    }
    fn customer_tags(&self, customer: &str) -> Vec<String> {
        self.tags.get(customer).cloned().unwrap_or_default()
    }
    fn live_orders(&self, customer: &str) -> i64 {
        self.live.get(customer).copied().unwrap_or(0)
    }
}
