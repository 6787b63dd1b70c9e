//! `best_coupons`: the exact best combination of a customer's usable
//! coupons (contract, steps table), found by branch and bound.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use mercato_core::quote::Quote;

use crate::cart::Cart;
use crate::context::PricingContext;
use crate::coupon::Coupon;
use crate::error::RulesError;
use crate::pipeline::work::{Env, Work};
use crate::pipeline::{before_coupons, coupons, finish, finish as finish_stages};

/// The answer of [`best_coupons`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestCoupons {
    /// The chosen codes, in application order.
    pub coupons: Vec<String>,
    /// The cart priced with them.
    pub quote: Quote,
}

/// Every coupon of the rule set this cart's customer may use now: owned by
/// them or public, in its window, within its usage and per-customer limits
/// (in the order the coupons were given).
///
/// # Errors
/// As [`crate::price`] for the cart itself.
pub fn usable_coupons<'r>(
    cart: &Cart,
    ctx: &PricingContext<'r>,
) -> Result<Vec<&'r str>, RulesError> {
    let env = Env::new(ctx, cart)?;
    Ok(ctx
        .rules
        .coupons()
        .iter()
        .filter(|c| coupons::usable(&env, c).is_ok())
        .map(|c| c.code.as_str())
        .collect())
}

/// One candidate coupon.
struct Candidate<'r> {
    coupon: &'r Coupon,
    /// Its discount alone on the cart (an upper bound of what it can give
    /// in any combination).
    alone: i128,
}

/// A combination and its ranking key.
#[derive(Clone)]
struct Choice {
    payable: i128,
    /// Candidate indexes.
    picked: Vec<usize>,
    ends: Vec<(bool, Option<DateTime<Utc>>)>,
    codes: Vec<String>,
}

impl Choice {
    /// Lower payable, then fewer coupons, then earlier window ends (no end
    /// is latest), then codes in lexicographic order.
    fn better_than(&self, other: &Choice) -> bool {
        self.payable
            .cmp(&other.payable)
            .then(self.picked.len().cmp(&other.picked.len()))
            .then_with(|| self.ends.cmp(&other.ends))
            .then_with(|| self.codes.cmp(&other.codes))
            == Ordering::Less
    }
}

/// The subset of `wallet` (codes; unknown, duplicate and unusable ones are
/// skipped) that minimises the payable, every chosen coupon applying and
/// at most `max_coupons_per_group` per group; ties: fewer coupons, then the
/// earliest window ends (no end = latest), then codes in lexicographic
/// order. Chosen coupons are applied threshold-first, then in code order.
/// Pass [`usable_coupons`] as the wallet for "all the customer may use".
///
/// The search is exact. Stages 1-3 are priced once; a coupon that cannot
/// apply alone is dropped (alone it sees the largest subtotal it can ever
/// see); the rest are enumerated group by group (at most
/// `max_coupons_per_group` each) depth-first, best single discounts first,
/// and a branch is cut when even the sum of the remaining coupons' alone
/// discounts could not bring the payable (less the most points could
/// take) below the best found. In the worst case the search visits
/// Π over groups of Σ_{k ≤ max} C(n_group, k) combinations.
///
/// ```
/// use mercato_core::money::Currency;
/// use mercato_rules::{best_coupons, Cart, PricingContext, PricingSettings, RuleSet, ShopFacts};
/// let catalog = serde_json::from_str(r#"[{"sku": "a", "price": "100.00"}]"#).unwrap();
/// let coupons = serde_json::from_str(r#"[
///     {"code": "FIVE", "kind": "amount_off", "amount": "5.00", "group": "g"},
///     {"code": "TEN", "kind": "amount_off", "amount": "10.00", "group": "g"}]"#).unwrap();
/// let rules = RuleSet::new(Currency::CNY, PricingSettings::default(), catalog, vec![], coupons).unwrap();
/// let shop = ShopFacts::new();
/// let ctx = PricingContext::new(&rules, "2026-01-01T00:00:00Z".parse().unwrap(), &shop);
/// let best = best_coupons(&Cart::of(&[("a", 1)]), &["FIVE", "TEN"], &ctx).unwrap();
/// assert_eq!(best.coupons, ["TEN"]);
/// assert_eq!(best.quote.totals.payable.amount().to_string(), "90.00");
/// ```
///
/// # Errors
/// As [`crate::price`].
pub fn best_coupons<S: AsRef<str>>(
    cart: &Cart,
    wallet: &[S],
    ctx: &PricingContext<'_>,
) -> Result<BestCoupons, RulesError> {
    let base = before_coupons(cart, ctx)?;
    let env = base.env;
    let per_group =
        usize::try_from(env.rules.settings().max_coupons_per_group.max(0)).unwrap_or(usize::MAX);

    let mut cands: Vec<Candidate<'_>> = Vec::new();
    if per_group > 0 {
        for code in wallet {
            let code = code.as_ref();
            let Some(c) = env.rules.coupon(code) else {
                continue;
            };
            if cands.iter().any(|x| x.coupon.code == c.code) || coupons::usable(&env, c).is_err() {
                continue;
            }
            if let Ok((_, alone)) = coupons::eval(&base, c, &base.left)? {
                cands.push(Candidate { coupon: c, alone });
            }
        }
    }
    // Group by group name; inside a group, the largest alone discount first.
    cands.sort_by(|a, b| {
        a.coupon
            .group
            .cmp(&b.coupon.group)
            .then(b.alone.cmp(&a.alone))
            .then(a.coupon.code.cmp(&b.coupon.code))
    });
    let search = Search::new(&base, &cands, per_group, cart.points);
    let best = search.run()?;

    let mut chosen: Vec<&Coupon> = best
        .picked
        .iter()
        .filter_map(|i| cands.get(*i))
        .map(|c| c.coupon)
        .collect();
    chosen.sort_by(|a, b| a.code.cmp(&b.code));
    coupons::application_order(&mut chosen, |c| c);
    let codes: Vec<String> = chosen.iter().map(|c| c.code.clone()).collect();
    let quote = crate::pipeline::finish(base.clone(), &codes, cart.points)?;
    Ok(BestCoupons {
        coupons: quote.coupons.clone(),
        quote,
    })
}

/// The branch-and-bound search.
struct Search<'w, 'a> {
    base: &'w Work<'a>,
    cands: &'w [Candidate<'a>],
    per_group: usize,
    points: i64,
    base_goods: i128,
    /// `bound[j]`: the most the candidates `j..` can add (alone discounts,
    /// at most `per_group` per group).
    bound: Vec<i128>,
}

impl<'w, 'a> Search<'w, 'a> {
    fn new(base: &'w Work<'a>, cands: &'w [Candidate<'a>], per_group: usize, points: i64) -> Self {
        let n = cands.len();
        let mut bound = vec![0_i128; n + 1];
        for j in (0..n).rev() {
            // Candidates j.. of j's group (sorted by alone, descending) give at
            // most their first `per_group`; later groups are in bound[end].
            let group = cands.get(j).map(|c| c.coupon.group.as_str());
            let end = (j..n)
                .find(|k| cands.get(*k).map(|c| c.coupon.group.as_str()) != group)
                .unwrap_or(n);
            let own: i128 = cands
                .get(j..end)
                .unwrap_or(&[])
                .iter()
                .take(per_group)
                .map(|c| c.alone)
                .sum();
            let later = bound.get(end).copied().unwrap_or(0);
            if let Some(b) = bound.get_mut(j) {
                *b = own + later;
            }
        }
        Search {
            base,
            cands,
            per_group,
            points,
            base_goods: base.goods(),
            bound,
        }
    }

    /// Goods less the most points could take: a lower bound of the payable
    /// for these goods, non-decreasing in the goods.
    fn floor_payable(&self, goods: i128) -> Result<i128, RulesError> {
        let goods = goods.max(0);
        let (deduction, _) = finish::points_deduction(&self.base.env, goods, self.points)?;
        Ok(goods - deduction)
    }

    /// The payable with the candidates `picked`, or `None` when one of them
    /// does not apply.
    fn evaluate(&self, picked: &[usize]) -> Result<Option<Choice>, RulesError> {
        let mut chosen: Vec<&Coupon> = picked
            .iter()
            .filter_map(|i| self.cands.get(*i))
            .map(|c| c.coupon)
            .collect();
        chosen.sort_by(|a, b| a.code.cmp(&b.code));
        coupons::application_order(&mut chosen, |c| c);
        let mut left = self.base.left.clone();
        let results = coupons::simulate(self.base, &mut left, &chosen)?;
        if results.iter().any(Result::is_err) {
            return Ok(None);
        }
        let goods: i128 = left.iter().sum();
        let (deduction, _) = finish::points_deduction(&self.base.env, goods, self.points)?;
        let (fee, _) = finish_stages::shipping_plan(&self.base.env, goods);
        let mut ends: Vec<(bool, Option<DateTime<Utc>>)> = chosen
            .iter()
            .map(|c| {
                let end = c.window.and_then(|w| w.to);
                (end.is_none(), end)
            })
            .collect();
        ends.sort();
        let mut codes: Vec<String> = chosen.iter().map(|c| c.code.clone()).collect();
        codes.sort();
        Ok(Some(Choice {
            payable: goods - deduction + fee,
            picked: picked.to_vec(),
            ends,
            codes,
        }))
    }

    fn run(&self) -> Result<Choice, RulesError> {
        let mut best = self.evaluate(&[])?.unwrap_or(Choice {
            payable: i128::MAX,
            picked: Vec::new(),
            ends: Vec::new(),
            codes: Vec::new(),
        });
        let mut picked = Vec::new();
        self.dfs(0, &mut picked, 0, &mut best)?;
        Ok(best)
    }

    fn group_of(&self, j: usize) -> Option<&str> {
        self.cands.get(j).map(|c| c.coupon.group.as_str())
    }

    fn dfs(
        &self,
        j: usize,
        picked: &mut Vec<usize>,
        alone_sum: i128,
        best: &mut Choice,
    ) -> Result<(), RulesError> {
        let Some(cand) = self.cands.get(j) else {
            return Ok(());
        };
        let reach = self.base_goods - alone_sum - self.bound.get(j).copied().unwrap_or(0);
        if self.floor_payable(reach)? > best.payable {
            return Ok(());
        }
        let group = self.group_of(j);
        let in_group = picked
            .iter()
            .filter(|i| self.group_of(**i) == group)
            .count();
        if in_group < self.per_group {
            picked.push(j);
            if let Some(choice) = self.evaluate(picked)?
                && choice.better_than(best)
            {
                *best = choice;
            }
            self.dfs(j + 1, picked, alone_sum + cand.alone, best)?;
            picked.pop();
        }
        self.dfs(j + 1, picked, alone_sum, best)
    }
}
