//! Stages 5 and 6: the points deduction (capped by the balance, rounded
//! down, capped at `max_percent` of the goods payable after coupons,
//! spread over the lines by their amounts after stage 4) and shipping
//! (fee, `free_threshold` and `free_shipping` promotions on the goods
//! payable after stage 4, before points).

use mercato_core::money::Rounding;
use mercato_core::quote::{RejectReason, Stage};

use crate::error::RulesError;
use crate::minor;
use crate::pipeline::work::{Env, Rejection, Status, Work};
use crate::promotion::PromotionRule;

/// Name of the points adjustments' source.
pub(crate) const POINTS_SOURCE: &str = "points";

/// The points deduction for `requested` points on `goods` (after stage 4)
/// and the points it uses. No customer: nothing (points need a customer).
pub(crate) fn points_deduction(
    env: &Env<'_>,
    goods: i128,
    requested: i64,
) -> Result<(i128, i64), RulesError> {
    let Some(customer) = env.customer else {
        return Ok((0, 0));
    };
    let settings = &env.rules.settings().points;
    let points = i128::from(requested.min(customer.points).max(0));
    let per_unit = i128::from(settings.per_unit.max(1));
    let scale = 10_i128.pow(env.currency.minor_units());
    let value = minor::mul_div(points, scale, per_unit, Rounding::Down)?;
    let cap = minor::percent_of(
        goods.max(0),
        minor::pct_units(settings.max_percent),
        Rounding::Down,
    )?;
    let deduction = value.min(cap).max(0);
    // The smallest whole number of points worth the deduction.
    let used = (deduction * per_unit + scale - 1) / scale;
    let used = i64::try_from(used).map_err(|_| RulesError::Overflow("points"))?;
    Ok((deduction, used))
}

/// Stage 5 on `work`.
pub(crate) fn points(work: &mut Work<'_>, requested: i64) -> Result<(), RulesError> {
    if requested <= 0 {
        return Ok(());
    }
    let (deduction, used) = points_deduction(&work.env, work.goods(), requested)?;
    if deduction <= 0 {
        return Ok(());
    }
    let shares = minor::apportion_int(deduction, &work.left, work.env.currency)?;
    work.take(POINTS_SOURCE, Stage::Points, &shares);
    work.points_used = used;
    Ok(())
}

/// Shipping on `goods` (after stage 4): the fee left to pay and each
/// `free_shipping` promotion's verdict (the fee it waived, or why not).
pub(crate) type ShippingVerdicts = Vec<(usize, Result<i128, Rejection>)>;

/// Computes stage 6 without changing anything.
pub(crate) fn shipping_plan(env: &Env<'_>, goods: i128) -> (i128, ShippingVerdicts) {
    let settings = &env.rules.settings().shipping;
    let mut fee = env.minor(settings.fee);
    if settings
        .free_threshold
        .is_some_and(|t| goods >= env.minor(t))
    {
        fee = 0;
    }
    let promotions = env.rules.promotions();
    let mut verdicts = Vec::new();
    for &pi in &env.rules.plan().shipping {
        let Some(p) = promotions.get(pi) else {
            continue;
        };
        let PromotionRule::FreeShipping { threshold } = &p.rule else {
            continue;
        };
        let threshold = threshold.map_or(0, |t| env.minor(t));
        let verdict = match env.precheck(p) {
            Err(r) => Err(r),
            Ok(_) if goods < threshold => Err(Rejection::missing(threshold - goods)),
            Ok(_) if fee == 0 => Err(Rejection::new(RejectReason::NoDiscount)),
            Ok(budget) => Ok(budget.map_or(fee, |b| fee.min(b))),
        };
        if let Ok(waived) = verdict {
            fee -= waived;
        }
        verdicts.push((pi, verdict));
    }
    (fee, verdicts)
}

/// Stage 6 on `work`, given the goods payable after stage 4.
pub(crate) fn shipping(work: &mut Work<'_>, goods: i128) -> Result<(), RulesError> {
    let env = work.env;
    let promotions = env.rules.promotions();
    let (fee, verdicts) = shipping_plan(&env, goods);
    for (pi, verdict) in verdicts {
        let Some(p) = promotions.get(pi) else {
            continue;
        };
        let status = match verdict {
            Ok(waived) => {
                work.applied.push((p.id.as_str(), waived));
                Status::Applied
            }
            Err(r) => Status::Rejected(r),
        };
        if let Some(s) = work.status.get_mut(pi) {
            *s = status;
        }
    }
    work.shipping = fee;
    Ok(())
}
