//! Turns the working state into a [`Quote`]: minor units back to
//! money, adjustments of 0.00 left out, explanations in contract order
//! (`rejected`: touching promotions in the order given, then requested
//! coupons in request order), totals summed from the lines.

use mercato_core::PricedWith;
use mercato_core::quote::{
    Adjustment, Applied, PromotionUse, Quote, QuoteLine, Rejected, Stage, Totals,
};

use crate::error::RulesError;
use crate::minor::money;
use crate::pipeline::work::{Rejection, Status, Work};

fn qty(v: i128) -> Result<i64, RulesError> {
    i64::try_from(v).map_err(|_| RulesError::Overflow("quantity"))
}

fn rejected(source: &str, r: &Rejection, work: &Work<'_>) -> Result<Rejected, RulesError> {
    Ok(Rejected {
        source: source.to_string(),
        reason: r.reason,
        missing: r.missing.map(|m| money(m, work.env.currency)).transpose()?,
        missing_qty: r.missing_qty.map(qty).transpose()?,
    })
}

/// Builds the quote.
pub(crate) fn quote(work: &Work<'_>) -> Result<Quote, RulesError> {
    let c = work.env.currency;
    let n = work.lines.len();
    let mut lines = Vec::with_capacity(n);
    let mut stage_sums = [0_i128; 5];
    let (mut list, mut goods) = (0_i128, 0_i128);
    // Each line's adjustments, in the order they were taken.
    let mut counts = vec![0_usize; n];
    for a in work.adjustments.iter().filter(|a| a.amount != 0) {
        if let Some(k) = counts.get_mut(a.line as usize) {
            *k += 1;
        }
    }
    let mut per_line: Vec<Vec<Adjustment>> =
        counts.iter().map(|k| Vec::with_capacity(*k)).collect();
    for a in work.adjustments.iter().filter(|a| a.amount != 0) {
        if let Some(s) = stage_sums.get_mut(a.stage as usize) {
            *s += a.amount;
        }
        if let Some(v) = per_line.get_mut(a.line as usize) {
            v.push(Adjustment {
                source: a.source.to_string(),
                stage: a.stage,
                amount: money(a.amount, c)?,
            });
        }
    }
    for ((i, line), adjustments) in work.lines.iter().enumerate().zip(per_line) {
        let net = work.left.get(i).copied().unwrap_or(line.amount);
        let uses = work
            .uses
            .get(i)
            .map(|u| {
                u.iter()
                    .map(|(source, units)| {
                        Ok(PromotionUse {
                            source: (*source).to_string(),
                            units: qty(*units)?,
                        })
                    })
                    .collect::<Result<Vec<_>, RulesError>>()
            })
            .transpose()?
            .unwrap_or_default();
        list += line.amount;
        goods += net;
        lines.push(QuoteLine {
            line: i,
            sku: line.sku.to_string(),
            qty: qty(line.qty)?,
            unit_price: money(line.unit, c)?,
            amount: money(line.amount, c)?,
            adjustments,
            net: money(net, c)?,
            gift: line.gift,
            uses,
        });
    }
    let applied = work
        .applied
        .iter()
        .filter(|(_, a)| *a != 0)
        .map(|(s, a)| {
            Ok(Applied {
                source: (*s).to_string(),
                amount: money(*a, c)?,
            })
        })
        .collect::<Result<Vec<_>, RulesError>>()?;
    let mut rejections = Vec::new();
    for ((p, status), touches) in work
        .env
        .rules
        .promotions()
        .iter()
        .zip(&work.status)
        .zip(&work.touches)
    {
        if let (true, Status::Rejected(r)) = (touches, status) {
            rejections.push(rejected(&p.id, r, work)?);
        }
    }
    for (code, r) in &work.coupon_rejections {
        rejections.push(rejected(code, r, work)?);
    }
    let m = |v: i128| money(v, c);
    let totals = Totals {
        list: m(list)?,
        unit_discount: m(stage_sums[Stage::Unit as usize])?,
        item_discount: m(stage_sums[Stage::Item as usize])?,
        order_discount: m(stage_sums[Stage::Order as usize])?,
        coupon_discount: m(stage_sums[Stage::Coupon as usize])?,
        points_deduction: m(stage_sums[Stage::Points as usize])?,
        goods: m(goods)?,
        shipping: m(work.shipping)?,
        payable: m(goods + work.shipping)?,
    };
    let priced_with = priced_with(work, &applied);
    Ok(Quote {
        currency: c,
        lines,
        applied,
        rejected: rejections,
        coupons: work.coupons.iter().map(|s| (*s).to_string()).collect(),
        points_used: work.points_used,
        totals,
        priced_with,
    })
}

/// The facts a refund must price with again: the versions of applied
/// promotions that were replaced, and the segment when any rule has
/// conditions. `None` when neither applies (quotes keep their old shape).
fn priced_with(work: &Work<'_>, applied: &[mercato_core::Applied]) -> Option<PricedWith> {
    let env = &work.env;
    let versions: std::collections::BTreeMap<String, u32> = applied
        .iter()
        .filter(|a| !work.coupons.contains(&a.source.as_str()))
        .filter_map(|a| {
            let v = env.rules.promotion_state(&a.source).version;
            (v > 1).then(|| (a.source.clone(), v))
        })
        .collect();
    let segment = env.rules.has_conditions();
    if versions.is_empty() && !segment {
        return None;
    }
    let mut out = PricedWith {
        versions,
        ..PricedWith::default()
    };
    if segment {
        out.channel = env.channel.map(str::to_string);
        if let Some(c) = env.customer {
            out.tier = c.tier.map(str::to_string);
            out.tags = env.shop.customer_tags(c.id);
            out.new_customer = Some(env.shop.live_orders(c.id) == 0);
        }
    }
    Some(out)
}
