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

impl CartLine {
    /// `qty` units of `sku`.
    pub fn new(sku: impl Into<String>, qty: i64) -> CartLine {
        CartLine {
            sku: sku.into(),
            qty,
        }
    }
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
    /// An empty, anonymous cart; add to it with the methods below.
    ///
    /// ```
    /// use mercato_rules::Cart;
    /// let cart = Cart::new().line("tea", 3).line("cup", 1).customer("alice").coupon("WELCOME10").points(500);
    /// assert_eq!(cart, serde_json::from_str(r#"{"customer": "alice",
    ///     "lines": [{"sku": "tea", "qty": 3}, {"sku": "cup", "qty": 1}],
    ///     "coupons": ["WELCOME10"], "points": 500}"#).unwrap());
    /// ```
    pub fn new() -> Cart {
        Cart::default()
    }

    /// Adds a line of `qty` units of `sku` (after the others).
    #[must_use]
    pub fn line(mut self, sku: impl Into<String>, qty: i64) -> Cart {
        self.lines.push(CartLine::new(sku, qty));
        self
    }

    /// The customer (default: anonymous).
    #[must_use]
    pub fn customer(mut self, customer: impl Into<String>) -> Cart {
        self.customer = Some(customer.into());
        self
    }

    /// Requests a coupon (after the others, in request order).
    #[must_use]
    pub fn coupon(mut self, code: impl Into<String>) -> Cart {
        self.coupons.push(code.into());
        self
    }

    /// Points to spend (default 0).
    #[must_use]
    pub fn points(mut self, points: i64) -> Cart {
        self.points = points;
        self
    }

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
