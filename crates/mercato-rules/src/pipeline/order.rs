//! Stage 3 kinds: `percent_off` (order stage), `amount_off` per order,
//! `full_reduction` (highest tier or repeat with cap), `full_discount`,
//! `quantity_discount` and `gift`. Each works on the scoped subtotal left
//! by the promotions before it; thresholds compare exact minor units; the
//! discount is spread over the scoped lines by largest remainder.

use mercato_core::quote::RejectReason;

use crate::error::RulesError;
use crate::minor;
use crate::pipeline::stage::{Eval, Gain, GiftGrant, GiftLedger};
use crate::pipeline::work::{Rejection, Sparse, Work};
use crate::promotion::{Promotion, PromotionRule, ReductionMode};

/// The order-stage discount of `p` on the amounts `left`; `gifts` are the
/// gift units already handed out earlier in this run.
pub(crate) fn eval<'a>(
    work: &Work<'a>,
    pi: usize,
    p: &'a Promotion,
    left: &[i128],
    gifts: &GiftLedger<'a>,
) -> Result<Eval<'a>, RulesError> {
    let env = work.env;
    let lines = &work.lines;
    let Some(scopes) = work.scopes_of(pi) else {
        return Ok(Eval::fail(RejectReason::NoDiscount));
    };
    let members = work.lines_in(scopes.main);
    let weights: Sparse = members
        .iter()
        .map(|&i| (i, left.get(i as usize).copied().unwrap_or(0)))
        .collect();
    let sub: i128 = weights.iter().map(|(_, w)| *w).sum();
    let spread = |d: i128| -> Result<Eval<'a>, RulesError> {
        let d = d.min(sub);
        if d <= 0 {
            return Ok(Eval::fail(RejectReason::NoDiscount));
        }
        Ok(Eval::from_shares(minor::apportion_sparse(
            d,
            &weights,
            left.len(),
            env.currency,
        )?))
    };
    let pct = |percent| minor::percent_of(sub, minor::pct_units(percent), env.rounding);
    match &p.rule {
        PromotionRule::PercentOff { percent, max_off } => {
            let mut d = pct(*percent)?;
            if let Some(cap) = max_off {
                d = d.min(env.minor(*cap));
            }
            spread(d)
        }
        PromotionRule::AmountOff { amount, .. } => spread(env.minor(*amount)),
        PromotionRule::FullReduction { tiers, mode, cap } => {
            let d = match mode {
                ReductionMode::HighestTier => {
                    let met = tiers.iter().filter(|t| env.minor(t.threshold) <= sub);
                    match met.map(|t| env.minor(t.off)).max() {
                        Some(off) => off,
                        None => {
                            return Ok(missing(tiers.first().map(|t| env.minor(t.threshold)), sub));
                        }
                    }
                }
                ReductionMode::Repeat => {
                    let Some(t) = tiers.first() else {
                        return Ok(Eval::fail(RejectReason::NoDiscount));
                    };
                    let threshold = env.minor(t.threshold);
                    let times = if threshold > 0 { sub / threshold } else { 0 };
                    if times == 0 {
                        return Ok(missing(Some(threshold), sub));
                    }
                    let d = times.saturating_mul(env.minor(t.off));
                    cap.map_or(d, |c| d.min(env.minor(c)))
                }
            };
            spread(d)
        }
        PromotionRule::FullDiscount { tiers } => {
            match tiers.iter().rev().find(|t| env.minor(t.threshold) <= sub) {
                Some(t) => spread(pct(t.percent)?),
                None => Ok(missing(tiers.first().map(|t| env.minor(t.threshold)), sub)),
            }
        }
        PromotionRule::QuantityDiscount { tiers } => {
            let count: i128 = members
                .iter()
                .filter_map(|i| lines.get(*i as usize))
                .map(|l| l.qty)
                .sum();
            match tiers.iter().rev().find(|t| i128::from(t.min_qty) <= count) {
                Some(t) => match (t.percent, t.off) {
                    (Some(percent), _) => spread(pct(percent)?),
                    (None, Some(off)) => spread(env.minor(off)),
                    (None, None) => Ok(Eval::fail(RejectReason::NoDiscount)),
                },
                None => {
                    let need = tiers.first().map_or(1, |t| i128::from(t.min_qty));
                    Ok(Eval::Failed(Rejection::missing_qty(need - count)))
                }
            }
        }
        PromotionRule::Gift { threshold, gift } => {
            let threshold = env.minor(*threshold);
            if sub < threshold {
                return Ok(missing(Some(threshold), sub));
            }
            let Some((pos, item)) = env.rules.item_at(&gift.sku) else {
                return Ok(Eval::fail(RejectReason::OutOfStock));
            };
            let Some(keys) = env.rules.index().item(pos) else {
                return Ok(Eval::fail(RejectReason::OutOfStock));
            };
            // Lines of the gift SKU (gift lines are only added after the stage).
            let in_cart: i128 = scopes
                .gift
                .map_or(&[][..], |s| work.lines_in(s))
                .iter()
                .filter_map(|i| lines.get(*i as usize))
                .map(|l| l.qty)
                .sum();
            let given: i128 = gifts
                .iter()
                .filter(|(s, _)| *s == gift.sku)
                .map(|(_, q)| *q)
                .sum();
            let qty = i128::from(gift.qty);
            if i128::from(env.shop.available(&gift.sku)) - in_cart - given < qty {
                return Ok(Eval::fail(RejectReason::OutOfStock));
            }
            Ok(Eval::Gave(Gain {
                shares: Vec::new(),
                total: env.minor(env.list_price(item)).saturating_mul(qty),
                gift: Some(GiftGrant { item, keys, qty }),
            }))
        }
        _ => Ok(Eval::fail(RejectReason::NoDiscount)),
    }
}

/// `threshold_not_met` with the exact amount missing.
fn missing<'a>(threshold: Option<i128>, sub: i128) -> Eval<'a> {
    Eval::Failed(Rejection::missing(threshold.unwrap_or(0) - sub))
}
