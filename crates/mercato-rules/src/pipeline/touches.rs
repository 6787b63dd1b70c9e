//! Which promotions "touch" the cart (and so are explained in `rejected`
//! when they give nothing): some cart line in scope; for `buy_x_get_y` the
//! buy or the get scope; for `bundle` some bundle SKU in the cart;
//! `free_shipping` always.

use crate::promotion::{Promotion, PromotionRule};
use crate::scope_index::{Members, PromoScopes};

/// True when the promotion touches the cart, given the cart lines of each
/// compiled scope (`members`).
pub(crate) fn touches(p: &Promotion, scopes: &PromoScopes, members: &Members) -> bool {
    let any = |s: usize| members.any(s);
    match &p.rule {
        PromotionRule::FreeShipping { .. } => true,
        PromotionRule::Bundle { .. } => scopes.bundle.iter().any(|s| any(*s)),
        PromotionRule::BuyXGetY { .. } => any(scopes.buy) || any(scopes.get),
        _ => any(scopes.main),
    }
}
