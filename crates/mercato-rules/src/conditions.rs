//! [`Conditions`]: the customer segments a promotion or coupon is limited
//! to (issue 12): customer tiers, sales channels, new customers, customer
//! tags. A cart that fails them gets `not_eligible` (the same reason for a
//! promotion and for a requested coupon).

use serde::{Deserialize, Serialize};

use crate::context::ShopView;

/// Who may use a promotion or coupon. Every list that is not empty must
/// match, and `new_customer` must hold when set; an empty `Conditions`
/// admits every cart.
///
/// - `tiers`: the customer's tier is one of these.
/// - `channels`: the cart's sales channel is one of these (a cart priced
///   with no channel fails it).
/// - `new_customer`: the customer has no earlier live order (placed and
///   neither cancelled nor closed).
/// - `tags`: the customer has at least one of these tags.
///
/// Anonymous carts fail every condition but `channels`.
///
/// ```
/// use mercato_rules::Conditions;
/// let c: Conditions = serde_json::from_str(r#"{"tiers": ["gold"], "new_customer": true}"#).unwrap();
/// assert_eq!(c.tiers, ["gold"]);
/// assert!(serde_json::from_str::<Conditions>(r#"{"tier": ["gold"]}"#).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Customer tiers admitted (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<String>,
    /// Sales channels admitted (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Only customers with no earlier live order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_customer: bool,
    /// Customer tags, any of which admits (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// The facts conditions are checked against.
pub(crate) struct Segment<'a> {
    pub customer: Option<&'a str>,
    pub tier: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub shop: &'a dyn ShopView,
}

impl Conditions {
    /// Checks the definition: no empty name in a list.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        for (field, list) in [
            ("tiers", &self.tiers),
            ("channels", &self.channels),
            ("tags", &self.tags),
        ] {
            if list.iter().any(String::is_empty) {
                return Some(field);
            }
        }
        None
    }

    /// True when the conditions ask about the customer.
    fn needs_customer(&self) -> bool {
        !self.tiers.is_empty() || self.new_customer || !self.tags.is_empty()
    }

    /// Whether the segment meets every condition.
    pub(crate) fn met(&self, s: &Segment<'_>) -> bool {
        if !self.channels.is_empty()
            && !s
                .channel
                .is_some_and(|c| self.channels.iter().any(|x| x == c))
        {
            return false;
        }
        if !self.needs_customer() {
            return true;
        }
        let Some(customer) = s.customer else {
            return false;
        };
        if !self.tiers.is_empty() && !s.tier.is_some_and(|t| self.tiers.iter().any(|x| x == t)) {
            return false;
        }
        if self.new_customer && s.shop.live_orders(customer) > 0 {
            return false;
        }
        if !self.tags.is_empty() {
            let tags = s.shop.customer_tags(customer);
            if !self.tags.iter().any(|t| tags.contains(t)) {
                return false;
            }
        }
        true
    }
}
