//! [`EngineState`]: everything the engine holds in memory — the core
//! [`Shop`], the configuration log and the [`RuleSet`] built from it, the
//! stream versions for optimistic concurrency and the idempotency records —
//! how a [`LogEvent`] moves it, and the store guards a command's events
//! move (limits that must hold across processes). Rebuilding it from the log (or a
//! snapshot plus the log after it) gives the identical state.

use std::collections::HashMap;

use mercato_core::coupon::CouponStatus;
use mercato_core::order::{Order, OrderEvent};
use mercato_core::{Currency, Money, Shop};
use mercato_rules::{Budget, BudgetSpent, CustomerView, PromotionRule, RuleSet, ShopView};
use mercato_store::{Guard, ReadModel, ReadModelRow};
use serde::{Deserialize, Serialize};

use crate::error::EngineError;
use crate::log::{ConfigEvent, LogEvent};
use crate::settings::Settings;

/// The persistent part of the state (what a snapshot holds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durable {
    /// The core state machine.
    pub shop: Shop,
    /// Every configuration change, in order.
    pub config_log: Vec<ConfigEvent>,
    /// Per order: how many configuration changes had happened when it was
    /// placed (the rules it was priced with are `config_log[..n]`).
    pub order_rules: HashMap<String, usize>,
    /// Current version of every stream.
    pub streams: HashMap<String, u64>,
    /// Seq of the last event applied.
    pub position: u64,
}

/// The engine's in-memory state.
#[derive(Debug, Clone, Default)]
pub struct EngineState {
    /// Persistent part.
    pub durable: Durable,
    /// Currency, once configured.
    pub currency: Option<Currency>,
    /// Current settings.
    pub settings: Settings,
    /// Current rules, once configured.
    pub rules: Option<RuleSet>,
    /// Idempotency records this engine knows: key → (request hash, response).
    pub idempotency: HashMap<String, (String, String)>,
    /// Coupon templates, in definition order.
    pub templates: Vec<crate::loyalty::CouponTemplate>,
}

/// Rebuilds the rules of a configuration log prefix.
pub(crate) fn rules_of(log: &[ConfigEvent]) -> (Option<Currency>, Settings, Option<RuleSet>) {
    let mut st = EngineState::default();
    for e in log {
        st.apply_config(e);
    }
    (st.currency, st.settings, st.rules)
}

impl EngineState {
    /// A state restored from a snapshot's durable part.
    pub fn from_durable(durable: Durable) -> Self {
        let (currency, settings, rules) = rules_of(&durable.config_log);
        let templates = crate::loyalty::templates_of(&durable.config_log)
            .into_iter()
            .cloned()
            .collect();
        EngineState {
            durable,
            currency,
            settings,
            rules,
            idempotency: HashMap::new(),
            templates,
        }
    }

    /// The shop.
    pub fn shop(&self) -> &Shop {
        &self.durable.shop
    }

    /// The rules, or `NotConfigured`.
    pub fn rules(&self) -> Result<&RuleSet, EngineError> {
        self.rules.as_ref().ok_or(EngineError::NotConfigured)
    }

    /// The version of a stream as this state has it (0: no event).
    pub fn version(&self, stream: &str) -> u64 {
        self.durable.streams.get(stream).copied().unwrap_or(0)
    }

    /// Folds one logged event in, with the streams it belongs to (as
    /// stored, or as about to be stored): their versions move by one. Total:
    /// a config event that no longer validates is kept in the log but
    /// changes nothing.
    pub fn apply<'s>(&mut self, e: &LogEvent, streams: impl IntoIterator<Item = &'s str>) {
        for s in streams {
            match self.durable.streams.get_mut(s) {
                Some(v) => *v += 1,
                None => {
                    self.durable.streams.insert(s.to_string(), 1);
                }
            }
        }
        match e {
            LogEvent::Core(ev) => {
                if let mercato_core::Event::Order(mercato_core::order::OrderEvent::Placed {
                    id,
                    ..
                }) = ev
                {
                    self.durable
                        .order_rules
                        .insert(id.clone(), self.durable.config_log.len());
                }
                self.durable.shop.apply(ev);
            }
            LogEvent::Config(c) => {
                self.apply_config(c);
                self.durable.config_log.push((**c).clone());
            }
        }
        self.durable.position += 1;
    }

    fn apply_config(&mut self, c: &ConfigEvent) {
        match c {
            ConfigEvent::Configured { currency, settings } => {
                self.currency = Some(*currency);
                self.settings = settings.clone();
                self.rules =
                    RuleSet::restore(*currency, settings.pricing.clone(), vec![], vec![], vec![])
                        .ok();
            }
            ConfigEvent::SettingsChanged { settings } => {
                self.settings = settings.clone();
                // Keeps the catalog and campaign changes (issue 12).
                // (A refused change leaves the rules as they were.)
                if let Some(r) = &mut self.rules {
                    let _ = r.set_settings(settings.pricing.clone());
                }
            }
            ConfigEvent::CatalogItemAdded { item } => {
                if let Some(r) = &mut self.rules {
                    let _ = r.restore_item(item.clone());
                }
            }
            ConfigEvent::PromotionAdded { promotion } => {
                if let Some(r) = &mut self.rules {
                    let _ = r.restore_promotion(promotion.clone());
                }
            }
            ConfigEvent::CouponAdded { coupon } => {
                if let Some(r) = &mut self.rules {
                    let _ = r.restore_coupon(coupon.clone());
                }
            }
            ConfigEvent::CouponTemplateAdded { template } => {
                self.templates.retain(|t| t.id != template.id);
                self.templates.push(template.clone());
            }
            other => {
                if let Some(r) = &mut self.rules {
                    crate::campaigns::apply_config(r, other);
                }
            }
        }
    }

    /// The read-model rows that `events` touched, from the state after them
    /// (each touched row computed once, however many events touched it).
    pub fn read_model_rows(&self, events: &[LogEvent]) -> Vec<ReadModelRow> {
        use mercato_core::Event;
        fn touch<'a>(touched: &mut Vec<(ReadModel, &'a str)>, model: ReadModel, key: &'a str) {
            if !touched.iter().any(|(m, k)| *m == model && *k == key) {
                touched.push((model, key));
            }
        }
        let mut touched: Vec<(ReadModel, &str)> = Vec::new();
        for e in events {
            let LogEvent::Core(e) = e else { continue };
            match e {
                Event::Stock(s) => {
                    for sku in s.skus() {
                        touch(&mut touched, ReadModel::Stock, sku);
                    }
                }
                Event::Coupon(c) => touch(&mut touched, ReadModel::Coupon, c.code()),
                Event::Points(p) => touch(&mut touched, ReadModel::Balance, p.customer()),
                Event::Order(o) => touch(&mut touched, ReadModel::Order, o.order_id()),
                _ => {}
            }
        }
        let shop = self.shop();
        touched
            .into_iter()
            .filter_map(|(model, key)| {
                let value = match model {
                    ReadModel::Stock => stock_row(&shop.stock().level(key)),
                    ReadModel::Coupon => coupon_row(shop.coupons().get(key)?),
                    ReadModel::Balance => balance_row(&shop.points().account(key)),
                    ReadModel::Order => order_row(shop.order(key)?),
                };
                Some(ReadModelRow {
                    model,
                    key: key.to_string(),
                    value,
                })
            })
            .collect()
    }

    /// Every read-model row as the state says it should be (for audits).
    pub fn all_read_model_rows(&self) -> Vec<ReadModelRow> {
        let shop = self.shop();
        let mut rows = Vec::new();
        for (sku, _) in shop.stock().skus() {
            let l = shop.stock().level(sku);
            rows.push(ReadModelRow {
                model: ReadModel::Stock,
                key: sku.clone(),
                value: stock_row(&l),
            });
        }
        for c in shop.coupons().iter() {
            rows.push(ReadModelRow {
                model: ReadModel::Coupon,
                key: c.code.clone(),
                value: coupon_row(c),
            });
        }
        for (id, a) in shop.points().iter() {
            rows.push(ReadModelRow {
                model: ReadModel::Balance,
                key: id.clone(),
                value: balance_row(a),
            });
        }
        for o in shop.orders() {
            rows.push(ReadModelRow {
                model: ReadModel::Order,
                key: o.id.clone(),
                value: order_row(o),
            });
        }
        rows
    }

    /// Status of each coupon owned by `customer`, in definition order.
    pub fn customer_coupons(
        &self,
        customer: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<(String, CouponStatus)> {
        let Some(rules) = &self.rules else {
            return Vec::new();
        };
        rules
            .coupons()
            .iter()
            .filter(|c| c.owner.as_deref() == Some(customer))
            .filter_map(|c| {
                self.shop()
                    .coupons()
                    .get(&c.code)
                    .map(|ic| (c.code.clone(), ic.status(Some(customer), now)))
            })
            .collect()
    }
}

/// The guard key of a limited promotion's units: per customer
/// (`promo/<id>/customer/<customer>`) or over all customers (`promo/<id>`).
pub fn promo_guard_key(promotion: &str, customer: Option<&str>) -> String {
    match customer {
        Some(c) => format!("promo/{promotion}/customer/{c}"),
        None => format!("promo/{promotion}"),
    }
}

/// The guard keys of a promotion's budget: live orders it applied to
/// (`budget/<id>/uses`) and the discount it gave them in minor units
/// (`budget/<id>/amount`).
pub fn budget_guard_keys(promotion: &str) -> (String, String) {
    (
        format!("budget/{promotion}/uses"),
        format!("budget/{promotion}/amount"),
    )
}

/// Adds the guard moves of `o`: `sign` 1 when it becomes live (checked
/// against the limits the rules set now), -1 when it stops being live
/// (given back, no limit). Moves on one key are merged.
///
/// The moves depend on the order's quote alone — every promotion use and
/// every promotion that gave a discount moves its counters, whether or not
/// its rule has a limit today — so the counters always equal what live
/// orders hold (a limit added later, or a new version of the promotion,
/// counts every order before it), and a give-back undoes exactly what the
/// order took.
fn order_guards(rules: &RuleSet, o: &Order, sign: i64, out: &mut Vec<Guard>) {
    let mut push = |key: String, units: i64, max: Option<i64>| {
        let delta = sign.saturating_mul(units);
        let max = if sign > 0 { max } else { None };
        if let Some(g) = out.iter_mut().find(|g| g.key == key) {
            g.delta = g.delta.saturating_add(delta);
            g.max = match (g.max, max) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        } else {
            out.push(Guard { key, delta, max });
        }
    };
    let rule = |id: &str| rules.promotions().iter().find(|p| p.id == id);
    for line in &o.quote.lines {
        for u in &line.uses {
            let (limit, quota) = match rule(&u.source).map(|p| &p.rule) {
                Some(PromotionRule::Price {
                    per_customer_limit,
                    quota,
                    ..
                }) => (*per_customer_limit, *quota),
                Some(PromotionRule::Presale {
                    per_customer_limit, ..
                }) => (*per_customer_limit, None),
                _ => (None, None),
            };
            if let Some(c) = o.customer.as_deref() {
                push(promo_guard_key(&u.source, Some(c)), u.units, limit);
            }
            push(promo_guard_key(&u.source, None), u.units, quota);
        }
    }
    let currency = o.quote.currency;
    for a in &o.quote.applied {
        if o.quote.coupons.contains(&a.source) {
            continue; // coupon limits live in the coupon's stream
        }
        let budget = rule(&a.source).and_then(|p| p.budget);
        let (uses_key, amount_key) = budget_guard_keys(&a.source);
        let max_uses = match budget {
            Some(Budget::Uses(n)) => Some(n),
            _ => None,
        };
        let max_amount = match budget {
            Some(Budget::Amount(total)) => Some(minor_units(total, currency)),
            _ => None,
        };
        push(uses_key, 1, max_uses);
        push(
            amount_key,
            minor_units(a.amount.amount(), currency),
            max_amount,
        );
    }
}

/// An amount in minor units, saturating (budgets and discounts are far
/// below the bounds; saturation keeps the function total).
fn minor_units(amount: rust_decimal::Decimal, currency: Currency) -> i64 {
    let minor = Money::round(amount, currency, mercato_core::Rounding::Down);
    match minor.to_minor() {
        Ok(m) => i64::try_from(m).unwrap_or(if m < 0 { i64::MIN } else { i64::MAX }),
        Err(_) => i64::MAX,
    }
}

impl EngineState {
    /// The live orders that `events` touch (call before applying them; hand
    /// the result to [`EngineState::guards_for`]).
    pub fn live_orders_touched(&self, events: &[LogEvent]) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for e in events {
            if let LogEvent::Core(mercato_core::Event::Order(oe)) = e {
                let id = oe.order_id();
                let live = self.shop().order(id).is_some_and(|o| o.status.is_live());
                if live && !ids.iter().any(|x| x == id) {
                    ids.push(id.to_string());
                }
            }
        }
        ids
    }

    /// What every guard counter should hold: the sum of the moves of every
    /// live order (audits compare it with the store's counters).
    pub fn expected_guards(&self) -> std::collections::BTreeMap<String, i64> {
        let mut out = std::collections::BTreeMap::new();
        let Some(rules) = &self.rules else {
            return out;
        };
        for o in self.shop().orders().filter(|o| o.status.is_live()) {
            let mut moves = Vec::new();
            order_guards(rules, o, 1, &mut moves);
            for g in moves {
                let v = out.entry(g.key).or_insert(0_i64);
                *v = v.saturating_add(g.delta);
            }
        }
        crate::loyalty::expected_claim_guards(self, &mut out);
        out
    }

    /// The guard moves of `events`, read from the state after them: a
    /// placed order takes its promotion units (against each promotion's
    /// `per_customer_limit` and `quota`) and its promotions' budget uses
    /// and amounts (against their `budget`); an order of `was_live` that is
    /// no longer live (cancelled, rejected, closed) gives them back.
    pub fn guards_for(&self, events: &[LogEvent], was_live: &[String]) -> Vec<Guard> {
        let mut out = Vec::new();
        crate::loyalty::claim_guards(self, events, &mut out);
        let Some(rules) = &self.rules else {
            return out;
        };
        for e in events {
            if let LogEvent::Core(mercato_core::Event::Order(OrderEvent::Placed { id, .. })) = e
                && let Some(o) = self.shop().order(id)
                && o.status.is_live()
            {
                order_guards(rules, o, 1, &mut out);
            }
        }
        for id in was_live {
            if let Some(o) = self.shop().order(id)
                && !o.status.is_live()
            {
                order_guards(rules, o, -1, &mut out);
            }
        }
        out
    }
}

// Read-model rows: small structs serialized straight to JSON (no
// `serde_json::Value` tree per row). Fields are in alphabetical order, the
// key order the rows have always had.

#[derive(Serialize)]
struct StockRow {
    available: i64,
    on_hand: i64,
    reserved: i64,
}

#[derive(Serialize)]
struct CouponRow {
    live_uses: i64,
}

#[derive(Serialize)]
struct BalanceRow {
    earned: i64,
    points: i64,
    returned: i64,
    spent: i64,
}

#[derive(Serialize)]
struct OrderRow<'a> {
    #[serde(with = "mercato_core::money::amount_str")]
    paid: rust_decimal::Decimal,
    #[serde(with = "mercato_core::money::amount_str")]
    payable: rust_decimal::Decimal,
    #[serde(with = "mercato_core::money::amount_str")]
    refunded: rust_decimal::Decimal,
    status: &'a str,
}

/// A row's JSON; these plain structs always serialize.
fn row_json<T: Serialize>(row: &T) -> String {
    serde_json::to_string(row).unwrap_or_default()
}

fn stock_row(l: &mercato_core::stock::StockLevel) -> String {
    row_json(&StockRow {
        available: l.available,
        on_hand: l.on_hand,
        reserved: l.reserved,
    })
}

fn coupon_row(c: &mercato_core::coupon::IssuedCoupon) -> String {
    row_json(&CouponRow {
        live_uses: c.live_uses(),
    })
}

fn balance_row(a: &mercato_core::points::PointsAccount) -> String {
    row_json(&BalanceRow {
        earned: a.earned,
        points: a.balance(),
        returned: a.returned,
        spent: a.spent,
    })
}

fn order_row(o: &mercato_core::order::Order) -> String {
    row_json(&OrderRow {
        paid: o.paid.amount(),
        payable: o.payable().amount(),
        refunded: o.refunded.amount(),
        status: o.status.as_str(),
    })
}

impl ShopView for EngineState {
    fn customer(&self, id: &str) -> Option<CustomerView<'_>> {
        self.shop().customer(id).map(|c| CustomerView {
            id: &c.id,
            tier: c.tier.as_deref(),
            points: self.shop().points().balance(id),
        })
    }
    fn units_bought(&self, promotion: &str, customer: &str) -> i64 {
        self.shop().promotion_units(promotion, customer)
    }
    fn units_sold(&self, promotion: &str) -> i64 {
        self.shop().promotion_units_total(promotion)
    }
    fn coupon_uses(&self, code: &str) -> i64 {
        self.shop().coupons().get(code).map_or(0, |c| c.live_uses())
    }
    fn coupon_uses_by(&self, code: &str, customer: &str) -> i64 {
        self.shop()
            .coupons()
            .get(code)
            .map_or(0, |c| c.live_uses_by(Some(customer)))
    }
    fn budget_spent(&self, promotion: &str) -> BudgetSpent {
        let b = self.shop().budget_used(promotion);
        BudgetSpent {
            amount: b.amount,
            orders: b.uses,
        }
    }
    fn available(&self, sku: &str) -> i64 {
        self.shop().stock().level(sku).available
    }
    fn customer_tags(&self, customer: &str) -> Vec<String> {
        self.shop()
            .customer(customer)
            .map(|c| c.tags.clone())
            .unwrap_or_default()
    }
    fn live_orders(&self, customer: &str) -> i64 {
        let n = self
            .shop()
            .live_orders_since(customer, chrono::DateTime::<chrono::Utc>::MIN_UTC);
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows keep the exact JSON they had when built through
    /// `serde_json::Value` (sorted keys, amounts as strings), so stored
    /// read models and audits agree across versions.
    #[test]
    fn read_model_rows_keep_their_json() {
        let l = mercato_core::stock::StockLevel {
            on_hand: 7,
            reserved: 2,
            available: 5,
        };
        assert_eq!(
            stock_row(&l),
            serde_json::json!({"on_hand": 7, "reserved": 2, "available": 5}).to_string()
        );
        let a = mercato_core::points::PointsAccount {
            earned: 10,
            spent: 3,
            returned: 1,
            ..Default::default()
        };
        assert_eq!(
            balance_row(&a),
            serde_json::json!({"points": a.balance(), "earned": 10, "spent": 3, "returned": 1})
                .to_string()
        );
    }
}
