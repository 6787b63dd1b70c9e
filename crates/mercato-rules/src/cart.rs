//! The input of pricing: a [`Cart`] of [`CartLine`]s, the coupons asked
//! for and the points to spend — the contract's `price` step body.

use serde::{Deserialize, Serialize};

/// One requested line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// The SKU.
    pub sku: String,
    /// Units (≥ 1).
    pub qty: i64,
}

/// What the customer asks to buy.
///
/// ```
/// use mercato_rules::Cart;
/// let cart: Cart = serde_json::from_str(
///     r#"{"customer": "u1", "lines": [{"sku": "a", "qty": 2}], "coupons": ["SAVE10"], "points": 500}"#).unwrap();
/// assert_eq!(cart.lines[0].qty, 2);
/// let anonymous: Cart = serde_json::from_str(r#"{"lines": [{"sku": "a", "qty": 1}]}"#).unwrap();
/// assert!(anonymous.customer.is_none() && anonymous.coupons.is_empty() && anonymous.points == 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    /// The customer id; `None`: anonymous.
    #[serde(default)]
    pub customer: Option<String>,
    /// The lines, in order.
    pub lines: Vec<CartLine>,
    /// Coupon codes, in request order.
    #[serde(default)]
    pub coupons: Vec<String>,
    /// Points to spend.
    #[serde(default)]
    pub points: i64,
}

impl Cart {
    /// A cart of `(sku, qty)` lines with no customer, coupons or points.
    pub fn of(lines: &[(&str, i64)]) -> Cart {
        Cart {
            lines: lines
                .iter()
                .map(|(sku, qty)| CartLine {
                    sku: (*sku).to_string(),
                    qty: *qty,
                })
                .collect(),
            ..Cart::default()
        }
    }
}
