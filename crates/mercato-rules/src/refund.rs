//! Refund helpers: the per-unit split of a line amount (largest remainder,
//! ties to the earlier unit: 20.00 over 3 units is 6.67, 6.67, 6.66) and
//! the `refund_policy: "reprice"` claw-back C = max(0, K − N) of the
//! contract's "Refunds" paragraph.

use mercato_core::CoreError;
use mercato_core::money::Money;
use mercato_core::quote::{Quote, Stage};

use crate::cart::{Cart, CartLine};
use crate::context::PricingContext;
use crate::error::RulesError;
use crate::minor;
use crate::pipeline::price;

/// The sum of the first `first` unit shares when `total` is split over
/// `qty` units by largest remainder (equal weights: the earlier units take
/// the odd minor units). O(1): no per-unit work.
///
/// ```
/// use mercato_core::money::{Currency, Money};
/// use mercato_rules::unit_shares_sum;
/// let net = Money::parse("20.00", Currency::CNY).unwrap();
/// let first = |n| unit_shares_sum(net, 3, n).unwrap().amount().to_string();
/// assert_eq!([first(1), first(2), first(3)], ["6.67", "13.34", "20.00"]);
/// ```
///
/// # Errors
/// `qty` ≤ 0, `first` outside `0..=qty`, or a negative total.
pub fn unit_shares_sum(total: Money, qty: i64, first: i64) -> Result<Money, RulesError> {
    if qty <= 0 || !(0..=qty).contains(&first) {
        return Err(RulesError::Core(CoreError::InvalidQuantity {
            what: String::new(),
            qty: first,
        }));
    }
    let t = total.to_minor()?;
    if t < 0 {
        return Err(RulesError::Core(mercato_core::CoreError::Negative {
            what: "split total",
            value: total.amount(),
        }));
    }
    let (q, f) = (i128::from(qty), i128::from(first));
    let sum = f * (t / q) + f.min(t % q);
    minor::money(sum, total.currency())
}

/// N: the original nets before points of the units still kept, per cart
/// line of `original` (`kept[i]` units of line `i`; returns take units
/// first-first, so the kept units are the last ones). The net and the
/// points deduction are each split over the units by largest remainder.
///
/// # Errors
/// `kept` longer than the quote's lines, or a kept count outside
/// `0..=qty`.
pub fn kept_units_net(original: &Quote, kept: &[i64]) -> Result<Money, RulesError> {
    let c = original.currency;
    let mut n = Money::zero(c);
    if kept.len() > original.lines.len() {
        return Err(RulesError::Core(CoreError::InvalidQuantity {
            what: String::new(),
            qty: i64::try_from(kept.len()).unwrap_or(i64::MAX),
        }));
    }
    for (line, k) in original.lines.iter().zip(kept) {
        if !(0..=line.qty).contains(k) {
            return Err(RulesError::Core(CoreError::InvalidQuantity {
                what: line.sku.clone(),
                qty: *k,
            }));
        }
        let returned = line.qty - k;
        let points = line.adjusted_at(Stage::Points)?;
        for part in [line.net, points] {
            let kept_part = part.checked_sub(unit_shares_sum(part, line.qty, returned)?)?;
            n = n.checked_add(kept_part)?;
        }
    }
    Ok(n)
}

/// The discount a partial return claws back under `refund_policy:
/// "reprice"`: C = max(0, K − N), where K is the goods (stages 1-4, no
/// points) of the kept units priced again with the rules and coupons of
/// the placement (a coupon applies only if it still qualifies) and N is
/// [`kept_units_net`].
///
/// `cart` is the cart as placed (its lines match the quote's cart lines);
/// `kept[i]` is the units of cart line `i` still kept; `ctx` must be the
/// placement-time context: the rules as they were, and usage counters that
/// do not count this order itself (otherwise its own coupons would be
/// `limit_reached`). Gift lines are not part of `kept`: they are re-added
/// by the re-pricing when still earned and are worth 0 either way.
///
/// ```
/// use mercato_core::money::Currency;
/// use mercato_rules::{price, reprice_clawback, Cart, PricingContext, PricingSettings, RuleSet, ShopFacts};
/// let catalog = serde_json::from_str(r#"[{"sku": "a", "price": "60.00"}]"#).unwrap();
/// let promotions = serde_json::from_str(r#"[{"id": "fr", "kind": "full_reduction",
///     "tiers": [{"threshold": "100.00", "off": "20.00"}]}]"#).unwrap();
/// let rules = RuleSet::new(Currency::CNY, PricingSettings::default(), catalog, promotions, vec![]).unwrap();
/// let shop = ShopFacts::new();
/// let ctx = PricingContext::new(&rules, "2026-01-01T00:00:00Z".parse().unwrap(), &shop);
/// let cart = Cart::of(&[("a", 2)]);
/// let placed = price(&cart, &ctx).unwrap(); // 120.00 - 20.00: each unit nets 50.00
/// // Keeping one unit: it now costs 60.00 but was charged 50.00: 10.00 is owed back.
/// let c = reprice_clawback(&cart, &[1], &placed, &ctx).unwrap();
/// assert_eq!(c.amount().to_string(), "10.00");
/// ```
///
/// # Errors
/// As [`kept_units_net`] and [`price`].
pub fn reprice_clawback(
    cart: &Cart,
    kept: &[i64],
    original: &Quote,
    ctx: &PricingContext<'_>,
) -> Result<Money, RulesError> {
    let c = original.currency;
    if kept.len() != cart.lines.len() {
        return Err(RulesError::Core(CoreError::InvalidQuantity {
            what: String::new(),
            qty: i64::try_from(kept.len()).unwrap_or(i64::MAX),
        }));
    }
    let n = kept_units_net(original, kept)?;
    let lines: Vec<CartLine> = cart
        .lines
        .iter()
        .zip(kept)
        .filter(|(_, k)| **k > 0)
        .map(|(l, k)| CartLine {
            sku: l.sku.clone(),
            qty: *k,
        })
        .collect();
    if lines.is_empty() {
        return Ok(Money::zero(c));
    }
    let again = Cart {
        customer: cart.customer.clone(),
        lines,
        coupons: original.coupons.clone(),
        points: 0,
    };
    let k = price(&again, ctx)?.totals.goods;
    let owed = k.checked_sub(n)?;
    Ok(if owed.is_negative() {
        Money::zero(c)
    } else {
        owed
    })
}
