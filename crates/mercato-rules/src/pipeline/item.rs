//! Stage 2 kinds: `percent_off` (item stage, per line, `max_off` capping
//! the promotion as a whole), `amount_off` per unit or per line,
//! `buy_x_get_y` and `bundle`. Each sees the line amounts left by the
//! promotions before it.

use std::cmp::Ordering;

use mercato_core::quote::RejectReason;

use crate::error::RulesError;
use crate::minor;
use crate::pipeline::stage::Eval;
use crate::pipeline::work::{Line, Rejection, Sparse, Work};
use crate::promotion::{AmountPer, BundleItem, Promotion, PromotionRule};

/// The item-stage discount of promotion `pi` (`p`) on the amounts `left`.
pub(crate) fn eval<'a>(
    work: &Work<'a>,
    pi: usize,
    p: &'a Promotion,
    left: &[i128],
) -> Result<Eval<'a>, RulesError> {
    let env = work.env;
    let lines = &work.lines;
    let Some(scopes) = work.scopes_of(pi) else {
        return Ok(Eval::fail(RejectReason::NoDiscount));
    };
    let members = work.lines_in(scopes.main);
    let at = |i: u32| left.get(i as usize).copied().unwrap_or(0);
    match &p.rule {
        PromotionRule::PercentOff { percent, max_off } => {
            let pct = minor::pct_units(*percent);
            let mut shares: Sparse = Vec::with_capacity(members.len());
            let mut total = 0_i128;
            for &i in members {
                let l = at(i);
                let s = minor::percent_of(l, pct, env.rounding)?.min(l);
                total += s;
                shares.push((i, s));
            }
            if let Some(cap) = max_off.map(|m| env.minor(m))
                && total > cap
            {
                let weights: Sparse = members.iter().map(|&i| (i, at(i))).collect();
                shares = minor::apportion_sparse(cap, &weights, left.len(), env.currency)?;
            }
            Ok(Eval::from_shares(shares))
        }
        PromotionRule::AmountOff { amount, per } => {
            let a = env.minor(*amount);
            let shares = members
                .iter()
                .map(|&i| {
                    let qty = lines.get(i as usize).map_or(0, |l| l.qty);
                    let off = match per {
                        AmountPer::Unit => a.saturating_mul(qty),
                        AmountPer::Line | AmountPer::Order => a,
                    };
                    (i, off.min(at(i)))
                })
                .collect();
            Ok(Eval::from_shares(shares))
        }
        PromotionRule::BuyXGetY { buy, get, repeat } => {
            let mask = |s: usize| {
                let mut v = vec![false; lines.len()];
                for &i in work.lines_in(s) {
                    if let Some(x) = v.get_mut(i as usize) {
                        *x = true;
                    }
                }
                v
            };
            let in_buy = mask(scopes.buy);
            let in_get = mask(scopes.get);
            let deal = Deal {
                lines,
                left,
                in_buy: &in_buy,
                in_get: &in_get,
                buy_qty: i128::from(buy.qty),
                get_qty: i128::from(get.qty),
                repeat: *repeat,
            };
            let taken = match deal.get_units() {
                Ok(t) => t,
                Err(r) => return Ok(Eval::Failed(r)),
            };
            let pct = minor::pct_units(get.percent);
            let mut shares: Sparse = Vec::new();
            for (i, t) in taken.iter().enumerate() {
                let (Some(l), Some(line)) = (left.get(i), lines.get(i)) else {
                    continue;
                };
                if *t > 0 {
                    let s = minor::percent_of_units(*l, *t, line.qty, pct, env.rounding)?.min(*l);
                    shares.push((u32::try_from(i).unwrap_or(u32::MAX), s));
                }
            }
            Ok(Eval::from_shares(shares))
        }
        PromotionRule::Bundle { items, price } => {
            bundle(work, &scopes.bundle, items, env.minor(*price), left)
        }
        _ => Ok(Eval::fail(RejectReason::NoDiscount)),
    }
}

/// A `buy_x_get_y` on concrete lines.
struct Deal<'l, 'a> {
    lines: &'l [Line<'a>],
    left: &'l [i128],
    in_buy: &'l [bool],
    in_get: &'l [bool],
    buy_qty: i128,
    get_qty: i128,
    repeat: bool,
}

impl Deal<'_, '_> {
    fn qty_where(&self, f: impl Fn(usize) -> bool) -> i128 {
        self.lines
            .iter()
            .enumerate()
            .filter(|(i, _)| f(*i))
            .map(|(_, l)| l.qty)
            .sum()
    }

    fn flag(v: &[bool], i: usize) -> bool {
        v.get(i).copied().unwrap_or(false)
    }

    /// Units of each line taken as get units: the most sets the cart
    /// allows, the cheapest get-scope units (equal value: earlier line
    /// first) discounted, the remaining buy-scope units enough to pay for
    /// them. Works on line counts, never on single units.
    fn get_units(&self) -> Result<Vec<i128>, Rejection> {
        let b = self.qty_where(|i| Self::flag(self.in_buy, i));
        let g = self.qty_where(|i| Self::flag(self.in_get, i));
        let u = self.qty_where(|i| Self::flag(self.in_buy, i) || Self::flag(self.in_get, i));
        // Get-scope lines, cheapest unit value first (left ÷ qty compared exactly).
        let mut order: Vec<usize> = (0..self.lines.len())
            .filter(|i| Self::flag(self.in_get, *i))
            .collect();
        order.sort_by(|x, y| self.unit_value_cmp(*x, *y).then(x.cmp(y)));
        let mut k_max = g / self.get_qty.max(1);
        if !self.repeat {
            k_max = k_max.min(1);
        }
        let (mut lo, mut hi) = (0_i128, k_max);
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2;
            if self.feasible(mid, &order) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        if lo == 0 {
            let need = (self.buy_qty + self.get_qty - u)
                .max(self.get_qty - g)
                .max(self.buy_qty - b);
            return Err(Rejection::missing_qty(need));
        }
        Ok(self.take_cheapest(lo * self.get_qty, &order))
    }

    fn unit_value_cmp(&self, x: usize, y: usize) -> Ordering {
        let v = |i: usize| {
            (
                self.left.get(i).copied().unwrap_or(0),
                self.lines.get(i).map_or(1, |l| l.qty),
            )
        };
        let ((lx, qx), (ly, qy)) = (v(x), v(y));
        (lx.saturating_mul(qy)).cmp(&ly.saturating_mul(qx))
    }

    fn take_cheapest(&self, mut units: i128, order: &[usize]) -> Vec<i128> {
        let mut taken = vec![0; self.lines.len()];
        for &i in order {
            if units <= 0 {
                break;
            }
            let (Some(t), Some(line)) = (taken.get_mut(i), self.lines.get(i)) else {
                continue;
            };
            *t = line.qty.min(units);
            units -= *t;
        }
        taken
    }

    /// `k` sets fit: after taking the cheapest `k × get` units, enough
    /// buy-scope units remain.
    fn feasible(&self, k: i128, order: &[usize]) -> bool {
        let taken = self.take_cheapest(k * self.get_qty, order);
        if taken.iter().sum::<i128>() < k * self.get_qty {
            return false;
        }
        let buy_left: i128 = self
            .lines
            .iter()
            .enumerate()
            .filter(|(i, _)| Self::flag(self.in_buy, *i))
            .map(|(i, l)| l.qty - taken.get(i).copied().unwrap_or(0))
            .sum();
        buy_left >= k * self.buy_qty
    }
}

/// Complete sets sold at `price`; units taken from lines in line order;
/// the saving spread over the giving lines by largest remainder in
/// proportion to the amounts of the units they gave.
///
/// A unit's amount is its line's amount left ÷ qty (contract, `bundle`), so
/// the units a line gives are worth `left × given ÷ qty`: a fraction of a
/// minor unit when an earlier promotion discounted only some of the line's
/// units. Those amounts are brought over one common denominator and kept
/// exact in integers, for the set value (hence the saving) and for the
/// spread alike; the saving alone is rounded, with `settings.rounding`.
fn bundle<'a>(
    work: &Work<'a>,
    scopes: &[usize],
    items: &[BundleItem],
    price: i128,
    left: &[i128],
) -> Result<Eval<'a>, RulesError> {
    let env = work.env;
    let lines = &work.lines;
    let overflow = || RulesError::Overflow("bundle");
    // The cart lines of each bundle item's SKU, in line order.
    let of = |k: usize| scopes.get(k).map_or(&[][..], |s| work.lines_in(*s));
    let have = |k: usize| -> i128 {
        of(k)
            .iter()
            .filter_map(|i| lines.get(*i as usize))
            .map(|l| l.qty)
            .sum()
    };
    let sets = items
        .iter()
        .enumerate()
        .map(|(k, it)| have(k) / i128::from(it.qty).max(1))
        .min()
        .unwrap_or(0);
    if sets == 0 {
        let short: i128 = items
            .iter()
            .enumerate()
            .map(|(k, it)| (i128::from(it.qty) - have(k)).max(0))
            .sum();
        return Ok(Eval::Failed(Rejection::missing_qty(short)));
    }
    // The giving lines and the amounts of the units they give, as fractions
    // `left × given / qty`. Bundle SKUs are distinct, so a line gives for
    // one item at most.
    let mut giving: Vec<u32> = Vec::new();
    let mut amounts: Vec<(i128, i128)> = Vec::new();
    for (k, it) in items.iter().enumerate() {
        let mut need = sets.checked_mul(i128::from(it.qty)).ok_or_else(overflow)?;
        for &i in of(k) {
            if need <= 0 {
                break;
            }
            let Some(line) = lines.get(i as usize) else {
                continue;
            };
            let given = line.qty.min(need);
            need -= given;
            let l = left.get(i as usize).copied().unwrap_or(0);
            giving.push(i);
            amounts.push((l.checked_mul(given).ok_or_else(overflow)?, line.qty.max(1)));
        }
    }
    // Over the common denominator d: Σ weights = d × set value.
    let (weights, d) = minor::over_common_denominator(&amounts)?;
    let value = weights
        .iter()
        .try_fold(0_i128, |acc, w| acc.checked_add(*w))
        .ok_or_else(overflow)?;
    let price_total = price
        .checked_mul(sets)
        .and_then(|p| p.checked_mul(d))
        .ok_or_else(overflow)?;
    let raw = value.checked_sub(price_total).ok_or_else(overflow)?;
    if raw <= 0 {
        return Ok(Eval::fail(RejectReason::NoDiscount));
    }
    let saving = minor::div_round(raw, d, env.rounding);
    if saving <= 0 {
        return Ok(Eval::fail(RejectReason::NoDiscount));
    }
    // Lines ascending, as the sparse shares must be.
    let mut weighted: Sparse = giving.into_iter().zip(weights).collect();
    weighted.sort_unstable_by_key(|(i, _)| *i);
    let shares = minor::apportion_sparse(saving, &weighted, left.len(), env.currency)?;
    // A share exceeds its line's amount left only when a set priced at 0
    // has a fractional value that rounds up; the line's amount caps it then.
    let shares = shares
        .into_iter()
        .filter(|(_, s)| *s != 0)
        .map(|(i, s)| (i, s.min(left.get(i as usize).copied().unwrap_or(0))))
        .collect();
    Ok(Eval::from_shares(shares))
}
