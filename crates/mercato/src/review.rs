//! Risk review at placement (订单审核, 刷单 prevention): a [`ReviewRule`]
//! looks at a priced order and names the reasons to hold it. The contract's
//! `settings.review` rules are built in ([`BuiltinReview`]); applications
//! add their own with [`crate::Engine::add_review_rule`].

use chrono::{DateTime, TimeDelta, Utc};
use mercato_core::{Quote, Shop};

use crate::settings::ReviewSettings;

/// What a review rule sees.
#[derive(Clone, Copy)]
pub struct ReviewInput<'a> {
    /// The priced order.
    pub quote: &'a Quote,
    /// Its customer.
    pub customer: Option<&'a str>,
    /// Its channel.
    pub channel: &'a str,
    /// Placement time.
    pub now: DateTime<Utc>,
    /// The shop before the order (other orders, stock, coupons...).
    pub shop: &'a Shop,
}

/// A rule that may put an order on hold.
pub trait ReviewRule: Send + Sync {
    /// The reasons to hold the order (empty: none).
    fn review(&self, input: &ReviewInput<'_>) -> Vec<String>;
}

/// The built-in review rule: applies the shop's `settings.review`
/// ([`ReviewSettings`]: `max_payable`, `max_qty`, `max_orders`).
#[derive(Debug, Clone, Copy)]
pub struct BuiltinReview<'a>(pub &'a ReviewSettings);

impl ReviewRule for BuiltinReview<'_> {
    fn review(&self, input: &ReviewInput<'_>) -> Vec<String> {
        let mut reasons = Vec::new();
        if let Some(max) = self.0.max_payable
            && input.quote.totals.payable.amount() > max
        {
            reasons.push("max_payable".to_string());
        }
        if let Some(max) = self.0.max_qty
            && input.quote.lines.iter().any(|l| l.qty > max)
        {
            reasons.push("max_qty".to_string());
        }
        if let (Some(m), Some(customer)) = (self.0.max_orders, input.customer) {
            // A window that reaches before (or, negative, after) the range
            // of time (settings from a log written before they were
            // validated) counts every (or no) earlier order.
            let since = TimeDelta::try_minutes(m.minutes)
                .and_then(|w| input.now.checked_sub_signed(w))
                .unwrap_or(if m.minutes > 0 {
                    DateTime::<Utc>::MIN_UTC
                } else {
                    DateTime::<Utc>::MAX_UTC
                });
            let placed = input.shop.live_orders_since(customer, since) as i64 + 1;
            if placed > m.count {
                reasons.push("max_orders".to_string());
            }
        }
        reasons
    }
}
