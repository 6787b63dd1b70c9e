//! Catalog entries as the contract writes them: a SKU, the product it
//! belongs to, an optional category and a list price.

use mercato_core::money::{Currency, amount_str};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::RulesError;
use crate::minor::{self, Admit};

/// One sellable SKU.
///
/// `product` groups SKUs (ladder prices count across them) and defaults to
/// the SKU itself.
///
/// ```
/// use mercato_rules::CatalogItem;
/// let item: CatalogItem =
///     serde_json::from_str(r#"{"sku": "mi8-64", "category": "phones", "price": "2699.00"}"#).unwrap();
/// assert_eq!(item.product, "mi8-64");
/// assert!(serde_json::from_str::<CatalogItem>(r#"{"sku": "a", "price": 1.5}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogItem {
    /// The SKU code.
    pub sku: String,
    /// The product the SKU belongs to.
    pub product: String,
    /// The category, if any.
    pub category: Option<String>,
    /// List unit price.
    #[serde(with = "amount_str")]
    pub price: Decimal,
}

#[derive(Deserialize)]
struct RawCatalogItem {
    sku: String,
    #[serde(default)]
    product: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(with = "amount_str")]
    price: Decimal,
}

impl<'de> Deserialize<'de> for CatalogItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawCatalogItem::deserialize(d)?;
        Ok(CatalogItem {
            product: raw.product.unwrap_or_else(|| raw.sku.clone()),
            sku: raw.sku,
            category: raw.category,
            price: raw.price,
        })
    }
}

impl CatalogItem {
    /// Checks the price: not negative, written with no more decimals than
    /// the currency has (`"12.000"` is not a CNY price), not above
    /// [`crate::MAX_AMOUNT_MINOR`] minor units.
    ///
    /// # Errors
    /// [`RulesError::InvalidCatalogItem`].
    pub fn validate(&self, currency: Currency) -> Result<(), RulesError> {
        self.check(Some(currency), Admit::Input)
    }

    /// The checks of [`CatalogItem::validate`]; with no `currency`
    /// ([`CatalogItem::new`]) the price is checked for its sign only.
    pub(crate) fn check(&self, currency: Option<Currency>, admit: Admit) -> Result<(), RulesError> {
        if self.sku.is_empty() {
            return Err(RulesError::InvalidCatalogItem {
                sku: self.sku.clone(),
                problem: "empty SKU".into(),
            });
        }
        minor::check_amount_in(self.price, currency, admit).map_err(|r| {
            RulesError::InvalidCatalogItem {
                sku: self.sku.clone(),
                problem: format!("price {}", r.into_problem()),
            }
        })
    }
}
