//! The pipeline's working state: the priced lines in minor units, what is
//! left of each line after the stages so far, the adjustments, and the
//! explanations gathered on the way.

use chrono::{DateTime, Utc};
use mercato_core::CoreError;
use mercato_core::money::{Currency, Rounding};
use mercato_core::quote::{RejectReason, Stage};

use crate::cart::Cart;
use crate::catalog::CatalogItem;
use crate::context::{CustomerView, PricingContext, ShopView};
use crate::error::RulesError;
use crate::minor::{self, MAX_QTY};
use crate::promotion::{Budget, Promotion};
use crate::ruleset::RuleSet;
use crate::scope::in_window;
use crate::scope_index::{Compiled, ItemKeys, Members, PromoScopes};

/// What every stage reads.
#[derive(Clone, Copy)]
pub(crate) struct Env<'a> {
    pub rules: &'a RuleSet,
    pub shop: &'a dyn ShopView,
    pub now: DateTime<Utc>,
    pub currency: Currency,
    pub rounding: Rounding,
    pub customer: Option<CustomerView<'a>>,
    /// The sales channel, if the caller gave one.
    pub channel: Option<&'a str>,
}

impl<'a> Env<'a> {
    /// Resolves the cart's customer. Malformed input comes first in the
    /// contract's order of codes: negative points are refused before the
    /// customer is looked up or the cart checked.
    pub fn new(ctx: &PricingContext<'a>, cart: &Cart) -> Result<Env<'a>, RulesError> {
        if cart.points < 0 {
            return Err(RulesError::InvalidPoints(cart.points));
        }
        let customer = match &cart.customer {
            None => None,
            Some(id) => Some(
                ctx.shop
                    .customer(id)
                    .ok_or_else(|| RulesError::Core(CoreError::UnknownCustomer(id.clone())))?,
            ),
        };
        Ok(Env {
            rules: ctx.rules,
            shop: ctx.shop,
            now: ctx.now,
            currency: ctx.rules.currency(),
            rounding: ctx.rules.settings().rounding,
            customer,
            channel: ctx.channel,
        })
    }

    /// The list unit price of a catalog item in force at `now`.
    pub fn list_price(&self, item: &CatalogItem) -> rust_decimal::Decimal {
        self.rules
            .scheduled_price(&item.sku, self.now)
            .unwrap_or(item.price)
    }

    /// Whether the cart's segment meets `conditions` (none: yes).
    pub fn eligible(&self, conditions: Option<&crate::conditions::Conditions>) -> bool {
        conditions.is_none_or(|c| {
            c.met(&crate::conditions::Segment {
                customer: self.customer_id(),
                tier: self.customer.and_then(|c| c.tier),
                channel: self.channel,
                shop: self.shop,
            })
        })
    }

    pub fn customer_id(&self) -> Option<&'a str> {
        self.customer.map(|c| c.id)
    }

    /// Amount in minor units of a validated rule amount.
    pub fn minor(&self, d: rust_decimal::Decimal) -> i128 {
        minor::to_minor(d, self.currency)
    }

    /// The checks every promotion kind shares, in the contract's order:
    /// outside the window, then (a budget with nothing left). Returns the
    /// budget amount left (`None`: no amount cap).
    pub fn precheck(&self, p: &Promotion) -> Result<Option<i128>, Rejection> {
        // An ended or paused promotion is not running: as outside its window.
        if !in_window(p.window.as_ref(), self.now)
            || !self.rules.promotion_state(&p.id).running(self.now)
        {
            return Err(Rejection::new(RejectReason::OutsideWindow));
        }
        if !self.eligible(p.conditions.as_ref()) {
            return Err(Rejection::new(RejectReason::NotEligible));
        }
        self.budget_left(p)
    }

    /// The budget amount left, or `budget_exhausted`.
    pub fn budget_left(&self, p: &Promotion) -> Result<Option<i128>, Rejection> {
        match p.budget {
            None => Ok(None),
            Some(Budget::Uses(uses)) => {
                if self.shop.budget_spent(&p.id).orders >= uses {
                    Err(Rejection::new(RejectReason::BudgetExhausted))
                } else {
                    Ok(None)
                }
            }
            Some(Budget::Amount(total)) => {
                let spent = self.shop.budget_spent(&p.id).amount;
                let left = total.checked_sub(spent).unwrap_or_default();
                // Spent amounts come from quotes, so they are whole minor units;
                // anything finer is rounded down (never gives more than the budget).
                let left = mercato_core::money::Money::round(left, self.currency, Rounding::Down);
                let left = left.to_minor().unwrap_or(0);
                if left <= 0 {
                    Err(Rejection::new(RejectReason::BudgetExhausted))
                } else {
                    Ok(Some(left))
                }
            }
        }
    }
}

/// One priced line, in minor units.
#[derive(Clone)]
pub(crate) struct Line<'a> {
    pub sku: &'a str,
    pub item: &'a CatalogItem,
    pub qty: i128,
    /// List unit price.
    pub unit: i128,
    /// `unit × qty`.
    pub amount: i128,
    pub gift: bool,
    /// The item's interned names.
    pub keys: ItemKeys,
}

impl Line<'_> {
    /// In scope: a cart line (never a gift line) that the scope names.
    pub fn in_scope(&self, scope: &Compiled) -> bool {
        !self.gift && scope.contains(self.keys)
    }
}

/// Discounts on some lines: (line index, amount), lines ascending.
pub(crate) type Sparse = Vec<(u32, i128)>;

/// Why a promotion or coupon gave nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub reason: RejectReason,
    pub missing: Option<i128>,
    pub missing_qty: Option<i128>,
}

impl Rejection {
    pub fn new(reason: RejectReason) -> Rejection {
        Rejection {
            reason,
            missing: None,
            missing_qty: None,
        }
    }

    pub fn missing(amount: i128) -> Rejection {
        Rejection {
            reason: RejectReason::ThresholdNotMet,
            missing: Some(amount.max(0)),
            missing_qty: None,
        }
    }

    pub fn missing_qty(qty: i128) -> Rejection {
        Rejection {
            reason: RejectReason::ThresholdNotMet,
            missing: None,
            missing_qty: Some(qty.max(1)),
        }
    }

    /// Position in the contract's "first of" list (lower wins).
    pub fn rank(&self) -> u8 {
        match self.reason {
            RejectReason::OutsideWindow => 0,
            RejectReason::NotEligible => 1,
            RejectReason::BudgetExhausted => 2,
            RejectReason::LimitReached => 3,
            RejectReason::ThresholdNotMet => 4,
            RejectReason::OutOfStock => 5,
            RejectReason::NoDiscount => 6,
            RejectReason::ExclusiveLost => 7,
            _ => 8,
        }
    }
}

/// One discount on one line.
#[derive(Clone)]
pub(crate) struct Adj<'a> {
    /// The line's index.
    pub line: u32,
    pub source: &'a str,
    pub stage: Stage,
    pub amount: i128,
}

/// What became of a promotion.
#[derive(Clone)]
pub(crate) enum Status {
    /// No verdict (not evaluated: e.g. a stage that never ran).
    Pending,
    Applied,
    Rejected(Rejection),
}

/// The whole working state.
#[derive(Clone)]
pub(crate) struct Work<'a> {
    pub env: Env<'a>,
    pub lines: Vec<Line<'a>>,
    /// Amount left of each line after the stages so far.
    pub left: Vec<i128>,
    /// Every line's adjustments, in the order they were taken (one list
    /// for the whole cart: most lines get one or two).
    pub adjustments: Vec<Adj<'a>>,
    /// Units priced by limited promotions, per line.
    pub uses: Vec<Vec<(&'a str, i128)>>,
    /// Promotions and coupons that gave something, in pipeline order.
    pub applied: Vec<(&'a str, i128)>,
    /// Per promotion (index into the rule set's promotions).
    pub status: Vec<Status>,
    /// Per promotion: some cart line is in its scope.
    pub touches: Vec<bool>,
    /// Per compiled promotion scope: the cart lines in it, ascending.
    pub members: Members,
    /// Requested coupons that did not apply, in request order.
    pub coupon_rejections: Vec<(&'a str, Rejection)>,
    /// Coupons that applied, in application order.
    pub coupons: Vec<&'a str>,
    pub points_used: i64,
    pub shipping: i128,
}

impl<'a> Work<'a> {
    /// Checks the cart and lays out its lines at list prices.
    pub fn new(env: Env<'a>, cart: &'a Cart) -> Result<Work<'a>, RulesError> {
        if cart.lines.is_empty() {
            return Err(RulesError::Core(CoreError::EmptyCart));
        }
        // The contract's error order: an unknown SKU anywhere in the cart
        // wins over an invalid quantity on an earlier line.
        // One catalog look-up per line: the first pass keeps what it found.
        let found = cart
            .lines
            .iter()
            .map(|l| {
                env.rules
                    .item_at(&l.sku)
                    .ok_or_else(|| RulesError::Core(CoreError::UnknownSku(l.sku.clone())))
            })
            .collect::<Result<Vec<_>, RulesError>>()?;
        let mut lines = Vec::with_capacity(cart.lines.len() + 1);
        for (l, (pos, item)) in cart.lines.iter().zip(found) {
            let keys = env
                .rules
                .index()
                .item(pos)
                .ok_or_else(|| RulesError::Core(CoreError::UnknownSku(l.sku.clone())))?;
            if !(1..=MAX_QTY).contains(&l.qty) {
                return Err(RulesError::Core(CoreError::InvalidQuantity {
                    what: l.sku.clone(),
                    qty: l.qty,
                }));
            }
            let unit = env.minor(env.list_price(item));
            let qty = i128::from(l.qty);
            lines.push(Line {
                sku: &l.sku,
                item,
                qty,
                unit,
                amount: unit * qty,
                gift: false,
                keys,
            });
        }
        // After every SKU is known and every quantity valid.
        if let Some(l) = cart.lines.iter().find(|l| !env.rules.is_sellable(&l.sku)) {
            return Err(RulesError::NotSellable(l.sku.clone()));
        }
        let n = lines.len();
        let promotions = env.rules.promotions();
        let index = env.rules.index();
        let keys: Vec<ItemKeys> = lines.iter().map(|l| l.keys).collect();
        let members = index.members(&keys);
        let touches = promotions
            .iter()
            .enumerate()
            .map(|(pi, p)| {
                index
                    .promotion(pi)
                    .is_some_and(|ps| crate::pipeline::touches::touches(p, ps, &members))
            })
            .collect();
        Ok(Work {
            env,
            left: lines.iter().map(|l| l.amount).collect(),
            adjustments: Vec::with_capacity(2 * n),
            uses: vec![Vec::new(); n],
            lines,
            applied: Vec::new(),
            status: vec![Status::Pending; promotions.len()],
            touches,
            members,
            coupon_rejections: Vec::new(),
            coupons: Vec::new(),
            points_used: 0,
            shipping: 0,
        })
    }

    /// Takes `shares` off the lines as adjustments from `source`.
    pub fn take(&mut self, source: &'a str, stage: Stage, shares: &[i128]) {
        for (i, s) in shares.iter().enumerate() {
            self.take_line(i, source, stage, *s);
        }
    }

    /// Takes sparse `shares` off the lines as adjustments from `source`.
    pub fn take_sparse(&mut self, source: &'a str, stage: Stage, shares: &[(u32, i128)]) {
        for (i, s) in shares {
            self.take_line(*i as usize, source, stage, *s);
        }
    }

    /// The cart lines in compiled promotion scope `s`, ascending.
    pub fn lines_in(&self, s: usize) -> &[u32] {
        self.members.lines(s)
    }

    /// The compiled scopes of promotion `pi`.
    pub fn scopes_of(&self, pi: usize) -> Option<&'a PromoScopes> {
        self.env.rules.index().promotion(pi)
    }

    /// Takes `amount` off line `i` as an adjustment from `source`.
    pub fn take_line(&mut self, i: usize, source: &'a str, stage: Stage, amount: i128) {
        if amount > 0
            && let Some(left) = self.left.get_mut(i)
        {
            *left -= amount;
            self.adjustments.push(Adj {
                line: u32::try_from(i).unwrap_or(u32::MAX),
                source,
                stage,
                amount,
            });
        }
    }

    /// Σ left over all lines.
    pub fn goods(&self) -> i128 {
        self.left.iter().sum()
    }
}
