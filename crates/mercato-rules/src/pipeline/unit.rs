//! Stage 1, unit prices: each line's unit price is the lowest of its list
//! price and every `price`/`ladder` promotion it qualifies for (ties:
//! higher priority, then order of appearance). Limited `price` promotions
//! (`per_customer_limit`, `quota`) price only the units still available to
//! this customer and in the quota, consumed by lines in line order; the
//! rest of the line stays at list price. The saving is a `unit`-stage
//! adjustment; `unit_price` stays the list price.

use mercato_core::quote::{RejectReason, Stage};

use crate::error::RulesError;
use crate::minor;
use crate::pipeline::work::{Rejection, Status, Work};
use crate::promotion::{Promotion, PromotionRule};

/// Per-promotion state while lines are priced.
struct UnitState<'a, 'm> {
    index: usize,
    promotion: &'a Promotion,
    /// The cart lines in its scope, ascending.
    members: &'m [u32],
    /// How many of `members` lie before the line being priced.
    cursor: usize,
    /// A line-independent reason it cannot apply at all.
    blocked: Option<Rejection>,
    budget_left: Option<i128>,
    customer_left: Option<i128>,
    quota_left: Option<i128>,
    /// Ladder: units of each product among its in-scope lines, by product.
    product_qty: Vec<(u32, i128)>,
    /// `price`: the price in minor units.
    price: i128,
    /// The most telling reason seen on a line.
    line_reason: Option<Rejection>,
    lost: bool,
    total: i128,
}

impl UnitState<'_, '_> {
    fn note(&mut self, r: Rejection) {
        if self
            .line_reason
            .as_ref()
            .is_none_or(|old| r.rank() < old.rank())
        {
            self.line_reason = Some(r);
        }
    }

    fn limited(&self) -> bool {
        matches!(
            self.promotion.rule,
            PromotionRule::Price {
                per_customer_limit: Some(_),
                ..
            } | PromotionRule::Price { quota: Some(_), .. }
        )
    }
}

/// A candidate unit price for one line: the saving and the limited units.
struct Candidate {
    saving: i128,
    units: i128,
}

/// Runs stage 1 on `work`.
pub(crate) fn run(work: &mut Work<'_>) -> Result<(), RulesError> {
    let env = work.env;
    let promotions = env.rules.promotions();
    let members = std::mem::take(&mut work.members);
    let mut states: Vec<UnitState<'_, '_>> = Vec::with_capacity(env.rules.plan().unit.len());
    for &index in &env.rules.plan().unit {
        let Some(p) = promotions.get(index) else {
            continue;
        };
        let lines = work
            .scopes_of(index)
            .map_or(&[][..], |s| members.lines(s.main));
        states.push(prepare(work, index, p, lines));
    }
    let r = price_lines(work, states);
    work.members = members;
    r
}

/// Prices every line with the prepared states and records the verdicts.
fn price_lines<'a>(
    work: &mut Work<'a>,
    mut states: Vec<UnitState<'a, '_>>,
) -> Result<(), RulesError> {
    if states.is_empty() {
        return Ok(());
    }
    let mut order_applied: Vec<usize> = Vec::new();
    let mut contenders: Vec<usize> = Vec::new();
    for i in 0..work.lines.len() {
        let Some(line) = work.lines.get(i).cloned() else {
            continue;
        };
        let mut best: Option<(usize, Candidate)> = None;
        contenders.clear();
        let li = u32::try_from(i).unwrap_or(u32::MAX);
        for (k, st) in states.iter_mut().enumerate() {
            // Members ascend and lines are priced in order: advance the cursor.
            while st.members.get(st.cursor).is_some_and(|m| *m < li) {
                st.cursor += 1;
            }
            let in_scope = !line.gift && st.members.get(st.cursor) == Some(&li);
            if st.blocked.is_some() || !in_scope {
                continue;
            }
            match candidate(work, st, &line)? {
                Err(r) => st.note(r),
                Ok(c) => {
                    contenders.push(k);
                    if best.as_ref().is_none_or(|(_, b)| c.saving > b.saving) {
                        best = Some((k, c));
                    }
                }
            }
        }
        let Some((winner, c)) = best else { continue };
        for &k in &contenders {
            if k != winner
                && let Some(st) = states.get_mut(k)
            {
                st.lost = true;
            }
        }
        let Some(st) = states.get_mut(winner) else {
            continue;
        };
        let source = st.promotion.id.as_str();
        st.total += c.saving;
        if let Some(b) = st.budget_left.as_mut() {
            *b -= c.saving;
        }
        if st.limited() {
            for left in [st.customer_left.as_mut(), st.quota_left.as_mut()]
                .into_iter()
                .flatten()
            {
                *left -= c.units;
            }
            if let Some(u) = work.uses.get_mut(i) {
                u.push((source, c.units));
            }
        }
        if !order_applied.contains(&winner) {
            order_applied.push(winner);
        }
        work.take_line(i, source, Stage::Unit, c.saving);
    }
    for k in order_applied {
        if let Some(st) = states.get(k) {
            work.applied.push((st.promotion.id.as_str(), st.total));
        }
    }
    for st in states {
        let status = if st.total > 0 {
            Status::Applied
        } else if let Some(r) = st.blocked {
            Status::Rejected(r)
        } else if st.lost {
            Status::Rejected(Rejection::new(RejectReason::NotBest))
        } else {
            Status::Rejected(
                st.line_reason
                    .unwrap_or_else(|| Rejection::new(RejectReason::NoDiscount)),
            )
        };
        if let Some(s) = work.status.get_mut(st.index) {
            *s = status;
        }
    }
    Ok(())
}

/// The line-independent checks and counters of one promotion.
fn prepare<'a, 'm>(
    work: &Work<'a>,
    index: usize,
    p: &'a Promotion,
    members: &'m [u32],
) -> UnitState<'a, 'm> {
    let env = work.env;
    let mut st = UnitState {
        index,
        promotion: p,
        members,
        cursor: 0,
        blocked: None,
        budget_left: None,
        customer_left: None,
        quota_left: None,
        product_qty: Vec::new(),
        price: 0,
        line_reason: None,
        lost: false,
        total: 0,
    };
    if let Err(r) = env.precheck(p).map(|b| st.budget_left = b) {
        // Outside the window comes before everything; a spent budget comes
        // after eligibility, so look at eligibility first.
        if r.reason == RejectReason::OutsideWindow {
            st.blocked = Some(r);
            return st;
        }
        st.blocked = Some(eligibility(work, p).err().unwrap_or(r));
        return st;
    }
    if let Err(r) = eligibility(work, p) {
        st.blocked = Some(r);
        return st;
    }
    match &p.rule {
        PromotionRule::Price {
            price,
            per_customer_limit,
            quota,
            ..
        } => {
            st.price = env.minor(*price);
            if let (Some(limit), Some(c)) = (per_customer_limit, env.customer) {
                let bought = env.shop.units_bought(&p.id, c.id).max(0);
                st.customer_left = Some((i128::from(*limit) - i128::from(bought)).max(0));
            }
            if let Some(q) = quota {
                let sold = env.shop.units_sold(&p.id).max(0);
                st.quota_left = Some((i128::from(*q) - i128::from(sold)).max(0));
            }
        }
        PromotionRule::Ladder { .. } => {
            let mut units: Vec<(u32, i128)> = members
                .iter()
                .filter_map(|i| work.lines.get(*i as usize))
                .map(|l| (l.keys.product, l.qty))
                .collect();
            units.sort_unstable_by_key(|(product, _)| *product);
            for (product, qty) in units {
                match st.product_qty.last_mut() {
                    Some((last, sum)) if *last == product => *sum += qty,
                    _ => st.product_qty.push((product, qty)),
                }
            }
        }
        _ => {}
    }
    st
}

/// `not_eligible`: a member price for another tier, or a per-customer
/// limited price for an anonymous cart (its limit cannot be counted).
fn eligibility(work: &Work<'_>, p: &Promotion) -> Result<(), Rejection> {
    if let PromotionRule::Price {
        tier,
        per_customer_limit,
        ..
    } = &p.rule
    {
        let customer = work.env.customer;
        if let Some(t) = tier
            && customer.and_then(|c| c.tier) != Some(t.as_str())
        {
            return Err(Rejection::new(RejectReason::NotEligible));
        }
        if per_customer_limit.is_some() && customer.is_none() {
            return Err(Rejection::new(RejectReason::NotEligible));
        }
    }
    Ok(())
}

/// The saving one promotion offers one line, or why it offers none.
fn candidate(
    work: &Work<'_>,
    st: &UnitState<'_, '_>,
    line: &crate::pipeline::work::Line<'_>,
) -> Result<Result<Candidate, Rejection>, RulesError> {
    let env = work.env;
    let (saving, units) = match &st.promotion.rule {
        PromotionRule::Price { .. } => {
            let mut units = line.qty;
            for left in [st.customer_left, st.quota_left].into_iter().flatten() {
                units = units.min(left);
            }
            if units <= 0 {
                return Ok(Err(Rejection::new(RejectReason::LimitReached)));
            }
            let per_unit = line.unit - st.price;
            if per_unit <= 0 {
                return Ok(Err(Rejection::new(RejectReason::NoDiscount)));
            }
            (per_unit * units, units)
        }
        PromotionRule::Ladder { tiers } => {
            let have = st
                .product_qty
                .binary_search_by_key(&line.keys.product, |(product, _)| *product)
                .ok()
                .and_then(|k| st.product_qty.get(k))
                .map_or(0, |(_, q)| *q);
            let Some(tier) = tiers.iter().rev().find(|t| i128::from(t.min_qty) <= have) else {
                let need = tiers.first().map_or(1, |t| i128::from(t.min_qty));
                return Ok(Err(Rejection::missing_qty(need - have)));
            };
            let per_unit =
                minor::percent_of(line.unit, minor::pct_units(tier.percent), env.rounding)?;
            if per_unit <= 0 {
                return Ok(Err(Rejection::new(RejectReason::NoDiscount)));
            }
            (per_unit * line.qty, 0)
        }
        _ => return Ok(Err(Rejection::new(RejectReason::NoDiscount))),
    };
    let saving = match st.budget_left {
        Some(b) if b <= 0 => return Ok(Err(Rejection::new(RejectReason::BudgetExhausted))),
        Some(b) => saving.min(b),
        None => saving,
    };
    Ok(Ok(Candidate { saving, units }))
}
