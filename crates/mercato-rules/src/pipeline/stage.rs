//! Stages 2 and 3 (item and order promotions) and the contract's Stacking:
//! non-exclusive promotions stack in priority order, each on the amounts
//! left by the ones before; each eligible exclusive promotion is tried
//! alone on the stage's starting amounts; `selection` decides between
//! them; the losers that would have applied are `exclusive_lost`.

use mercato_core::quote::{RejectReason, Stage};

use crate::catalog::CatalogItem;
use crate::error::RulesError;
use crate::minor;
use crate::pipeline::work::{Adj, Line, Rejection, Sparse, Status, Work};
use crate::pipeline::{item, order};
use crate::promotion::{Promotion, PromotionStage};
use crate::settings::Selection;

/// A gift line a `gift` promotion adds.
#[derive(Clone)]
pub(crate) struct GiftGrant<'a> {
    pub item: &'a CatalogItem,
    pub keys: crate::scope_index::ItemKeys,
    pub qty: i128,
}

/// What a promotion gives when it applies.
#[derive(Clone)]
pub(crate) struct Gain<'a> {
    /// Discount per line (line index, amount; lines ascending).
    pub shares: Sparse,
    /// Σ shares, or the gift's amount.
    pub total: i128,
    /// The gift line, for `gift`.
    pub gift: Option<GiftGrant<'a>>,
}

impl Gain<'_> {
    /// The saving when promotions are compared (a gift is worth 0).
    pub fn worth(&self) -> i128 {
        if self.gift.is_some() { 0 } else { self.total }
    }
}

/// The result of trying a promotion.
#[derive(Clone)]
pub(crate) enum Eval<'a> {
    Gave(Gain<'a>),
    Failed(Rejection),
}

impl<'a> Eval<'a> {
    /// A gain from per-line shares; nothing at all is `no_discount`.
    pub fn from_shares(shares: Sparse) -> Eval<'a> {
        let total = shares.iter().map(|(_, s)| *s).sum();
        if total > 0 {
            Eval::Gave(Gain {
                shares,
                total,
                gift: None,
            })
        } else {
            Eval::Failed(Rejection::new(RejectReason::NoDiscount))
        }
    }

    pub fn fail(reason: RejectReason) -> Eval<'a> {
        Eval::Failed(Rejection::new(reason))
    }

    fn eligible(&self) -> bool {
        matches!(self, Eval::Gave(g) if g.total > 0)
    }
}

/// Gift units already handed out in one run of a stage (SKU, units).
pub(crate) type GiftLedger<'a> = Vec<(&'a str, i128)>;

/// Tries one promotion on `left`: shared checks, the kind's own
/// computation, then the campaign budget cap.
fn evaluate<'a>(
    work: &Work<'a>,
    pi: usize,
    p: &'a Promotion,
    left: &[i128],
    gifts: &GiftLedger<'a>,
) -> Result<Eval<'a>, RulesError> {
    let budget = match work.env.precheck(p) {
        Ok(b) => b,
        Err(r) => return Ok(Eval::Failed(r)),
    };
    let e = match p.stage() {
        PromotionStage::Item => item::eval(work, pi, p, left)?,
        PromotionStage::Order => order::eval(work, pi, p, left, gifts)?,
        PromotionStage::Unit | PromotionStage::Shipping => Eval::fail(RejectReason::NoDiscount),
    };
    match (e, budget) {
        (Eval::Gave(g), Some(b)) if g.total > b => {
            if g.gift.is_some() {
                return Ok(Eval::fail(RejectReason::BudgetExhausted));
            }
            // Capped at what remains, spread in proportion to the uncapped shares.
            let shares = minor::apportion_sparse(b, &g.shares, work.left.len(), work.env.currency)?;
            Ok(Eval::from_shares(shares))
        }
        (e, _) => Ok(e),
    }
}

/// Runs one stage (item or order) with the Stacking rules and commits the
/// result to `work`.
pub(crate) fn run<'a>(work: &mut Work<'a>, plan: &[usize], stage: Stage) -> Result<(), RulesError> {
    if plan.is_empty() {
        return Ok(());
    }
    let env = work.env;
    let promotions = env.rules.promotions();
    let base = work.left.clone();

    let mut left = base.clone();
    let mut gifts: GiftLedger<'a> = Vec::new();
    let mut stack: Vec<(usize, Eval<'a>)> = Vec::new();
    let mut exclusives: Vec<(usize, Eval<'a>)> = Vec::new();
    for &pi in plan {
        let Some(p) = promotions.get(pi) else {
            continue;
        };
        if p.exclusive {
            exclusives.push((pi, evaluate(work, pi, p, &base, &Vec::new())?));
            continue;
        }
        let e = evaluate(work, pi, p, &left, &gifts)?;
        if let Eval::Gave(g) = &e {
            for (i, s) in &g.shares {
                if let Some(l) = left.get_mut(*i as usize) {
                    *l -= *s;
                }
            }
            if let Some(gift) = &g.gift {
                gifts.push((gift.item.sku.as_str(), gift.qty));
            }
        }
        stack.push((pi, e));
    }

    let stack_any = stack.iter().any(|(_, e)| matches!(e, Eval::Gave(_)));
    let stack_worth: i128 = stack
        .iter()
        .map(|(_, e)| match e {
            Eval::Gave(g) => g.worth(),
            Eval::Failed(_) => 0,
        })
        .sum();
    let winner = match env.rules.settings().selection {
        Selection::Priority => exclusives.iter().position(|(_, e)| e.eligible()),
        Selection::BestForCustomer => {
            let mut best: Option<(usize, i128)> = None;
            for (k, (_, e)) in exclusives.iter().enumerate() {
                if let (true, Eval::Gave(g)) = (e.eligible(), e)
                    && best.is_none_or(|(_, w)| g.worth() > w)
                {
                    best = Some((k, g.worth()));
                }
            }
            // Ties go to the stack; an empty stack loses to any eligible exclusive.
            best.filter(|(_, w)| *w > stack_worth || !stack_any)
                .map(|(k, _)| k)
        }
    };

    let lost = |e: &Eval<'_>| match e {
        Eval::Gave(_) => Rejection::new(RejectReason::ExclusiveLost),
        Eval::Failed(r) => r.clone(),
    };
    let mut verdicts: Vec<(usize, Result<Gain<'a>, Rejection>)> = Vec::new();
    match winner {
        Some(w) => {
            for (pi, e) in &stack {
                verdicts.push((*pi, Err(lost(e))));
            }
            for (k, (pi, e)) in exclusives.into_iter().enumerate() {
                match (k == w, e) {
                    (true, Eval::Gave(g)) => verdicts.push((pi, Ok(g))),
                    (_, e) => verdicts.push((pi, Err(lost(&e)))),
                }
            }
        }
        None => {
            for (pi, e) in stack {
                match e {
                    Eval::Gave(g) => verdicts.push((pi, Ok(g))),
                    Eval::Failed(r) => verdicts.push((pi, Err(r))),
                }
            }
            for (pi, e) in &exclusives {
                verdicts.push((*pi, Err(lost(e))));
            }
        }
    }
    for (pi, v) in verdicts {
        let Some(p) = promotions.get(pi) else {
            continue;
        };
        let status = match v {
            Ok(g) => {
                commit(work, p, stage, g);
                Status::Applied
            }
            Err(r) => Status::Rejected(r),
        };
        if let Some(s) = work.status.get_mut(pi) {
            *s = status;
        }
    }
    Ok(())
}

/// Applies a gain: adjustments, the applied entry, and a gift line.
fn commit<'a>(work: &mut Work<'a>, p: &'a Promotion, stage: Stage, g: Gain<'a>) {
    let source = p.id.as_str();
    work.take_sparse(source, stage, &g.shares);
    work.applied.push((source, g.total));
    if let Some(gift) = g.gift {
        let unit = work.env.minor(work.env.list_price(gift.item));
        let amount = unit * gift.qty;
        work.lines.push(Line {
            sku: gift.item.sku.as_str(),
            item: gift.item,
            qty: gift.qty,
            unit,
            amount,
            gift: true,
            keys: gift.keys,
        });
        if amount > 0 {
            work.adjustments.push(Adj {
                line: u32::try_from(work.left.len()).unwrap_or(u32::MAX),
                source,
                stage: Stage::Order,
                amount,
            });
        }
        work.left.push(0);
        work.uses.push(Vec::new());
    }
}
