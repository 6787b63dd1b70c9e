//! Stage 4, coupons: the requested codes are checked (`not_found`,
//! `duplicate`, `outside_window`, `not_owner`, `limit_reached`), then
//! applied one after another — those with a threshold first, then the
//! others, each kind in request order — each on the scoped subtotal left
//! by the coupons before it. A coupon that does not apply takes no group
//! slot; when more coupons of one group apply than
//! `max_coupons_per_group`, the later ones in request order are dropped
//! (`group_limit`) and the rest is applied again without them.

use std::collections::HashMap;

use mercato_core::quote::{RejectReason, Stage};

use crate::coupon::{Coupon, CouponKind};
use crate::error::RulesError;
use crate::minor;
use crate::pipeline::work::{Env, Rejection, Work};
use crate::scope::in_window;

/// Per-line shares and their total.
pub(crate) type Shares = (Vec<i128>, i128);

/// The checks that do not depend on the cart: window, owner, limits.
pub(crate) fn usable(env: &Env<'_>, c: &Coupon) -> Result<(), Rejection> {
    if !in_window(c.window.as_ref(), env.now) {
        return Err(Rejection::new(RejectReason::OutsideWindow));
    }
    if let Some(owner) = &c.owner
        && env.customer_id() != Some(owner.as_str())
    {
        return Err(Rejection::new(RejectReason::NotOwner));
    }
    if !env.eligible(c.conditions.as_ref()) {
        return Err(Rejection::new(RejectReason::NotEligible));
    }
    if c.usage_limit
        .is_some_and(|limit| env.shop.coupon_uses(&c.code) >= limit)
    {
        return Err(Rejection::new(RejectReason::LimitReached));
    }
    if let (Some(limit), Some(id)) = (c.per_customer_limit, env.customer_id())
        && env.shop.coupon_uses_by(&c.code, id) >= limit
    {
        return Err(Rejection::new(RejectReason::LimitReached));
    }
    Ok(())
}

/// One coupon on the amounts `left`.
pub(crate) fn eval(
    work: &Work<'_>,
    c: &Coupon,
    left: &[i128],
) -> Result<Result<Shares, Rejection>, RulesError> {
    let env = work.env;
    let mut any = false;
    let compiled = env.rules.coupon_scope(&c.code);
    let weights: Vec<i128> = work
        .lines
        .iter()
        .zip(left)
        .map(|(line, l)| {
            let inside = match compiled {
                Some(scope) => line.in_scope(scope),
                None => !line.gift && c.scope.contains(line.item),
            };
            any |= inside;
            if inside { *l } else { 0 }
        })
        .collect();
    if !any {
        return Ok(Err(Rejection::new(RejectReason::OutOfScope)));
    }
    let sub: i128 = weights.iter().sum();
    if let Some(t) = c.threshold.map(|t| env.minor(t))
        && sub < t
    {
        return Ok(Err(Rejection::missing(t - sub)));
    }
    let d = match c.kind {
        CouponKind::AmountOff => c.amount.map_or(0, |a| env.minor(a)),
        CouponKind::PercentOff => {
            let pct = c.percent.map_or(0, minor::pct_units);
            let d = minor::percent_of(sub, pct, env.rounding)?;
            c.max_off.map_or(d, |m| d.min(env.minor(m)))
        }
    }
    .min(sub);
    if d <= 0 {
        return Ok(Err(Rejection::new(RejectReason::NoDiscount)));
    }
    let shares = minor::apportion_int(d, &weights, env.currency)?;
    Ok(Ok((shares, d)))
}

/// Applies `coupons` (already in application order) one after another on
/// `left`, which is updated; one result per coupon.
pub(crate) fn simulate(
    work: &Work<'_>,
    left: &mut [i128],
    coupons: &[&Coupon],
) -> Result<Vec<Result<Shares, Rejection>>, RulesError> {
    let mut out = Vec::with_capacity(coupons.len());
    for c in coupons {
        let r = eval(work, c, left)?;
        if let Ok((shares, _)) = &r {
            for (l, s) in left.iter_mut().zip(shares) {
                *l -= *s;
            }
        }
        out.push(r);
    }
    Ok(out)
}

/// Sorts coupons into application order: threshold coupons first, then
/// the others, each keeping the given order.
pub(crate) fn application_order<T>(items: &mut [T], coupon: impl Fn(&T) -> &Coupon) {
    items.sort_by_key(|t| !coupon(t).has_threshold());
}

/// Runs stage 4 for the requested codes.
pub(crate) fn run<'a>(work: &mut Work<'a>, requested: &'a [String]) -> Result<(), RulesError> {
    if requested.is_empty() {
        return Ok(());
    }
    let env = work.env;
    let per_group = env.rules.settings().max_coupons_per_group;
    // Request index → verdict (None: still a candidate).
    let mut verdict: Vec<Option<Rejection>> = vec![None; requested.len()];
    let mut candidates: Vec<(usize, &'a Coupon)> = Vec::new();
    for (r, code) in requested.iter().enumerate() {
        let v = match env.rules.coupon(code) {
            None => Some(Rejection::new(RejectReason::NotFound)),
            Some(_) if requested.iter().take(r).any(|c| c == code) => {
                Some(Rejection::new(RejectReason::Duplicate))
            }
            Some(c) => match usable(&env, c) {
                Err(rej) => Some(rej),
                Ok(()) => {
                    candidates.push((r, c));
                    None
                }
            },
        };
        if let Some(slot) = verdict.get_mut(r) {
            *slot = v;
        }
    }
    application_order(&mut candidates, |(_, c)| c);

    let mut dropped: Vec<usize> = Vec::new();
    let (active, results) = loop {
        let active: Vec<(usize, &'a Coupon)> = candidates
            .iter()
            .filter(|(r, _)| !dropped.contains(r))
            .copied()
            .collect();
        let coupons: Vec<&Coupon> = active.iter().map(|(_, c)| *c).collect();
        let mut left = work.left.clone();
        let results = simulate(work, &mut left, &coupons)?;
        // Group slots go in request order to the coupons that apply.
        let mut applying: Vec<(usize, &Coupon)> = active
            .iter()
            .zip(&results)
            .filter(|(_, res)| res.is_ok())
            .map(|((r, c), _)| (*r, *c))
            .collect();
        applying.sort_by_key(|(r, _)| *r);
        let mut used: HashMap<&str, i64> = HashMap::new();
        let mut newly = Vec::new();
        for (r, c) in applying {
            let n = used.entry(c.group.as_str()).or_insert(0);
            if *n >= per_group {
                newly.push(r);
            } else {
                *n += 1;
            }
        }
        if newly.is_empty() {
            break (active, results);
        }
        dropped.extend(newly);
    };
    for r in &dropped {
        if let Some(slot) = verdict.get_mut(*r) {
            *slot = Some(Rejection::new(RejectReason::GroupLimit));
        }
    }
    for ((r, c), res) in active.into_iter().zip(results) {
        match res {
            Ok((shares, total)) => {
                work.take(c.code.as_str(), Stage::Coupon, &shares);
                work.applied.push((c.code.as_str(), total));
                work.coupons.push(c.code.as_str());
            }
            Err(rej) => {
                if let Some(slot) = verdict.get_mut(r) {
                    *slot = Some(rej);
                }
            }
        }
    }
    for (code, v) in requested.iter().zip(verdict) {
        if let Some(rej) = v {
            work.coupon_rejections.push((code.as_str(), rej));
        }
    }
    Ok(())
}
