//! Which promotions "touch" the cart (and so are explained in `rejected`
//! when they give nothing): some cart line in scope; for `buy_x_get_y` the
//! buy or the get scope; for `bundle` some bundle SKU in the cart;
//! `free_shipping` always.

use crate::pipeline::work::Line;
use crate::promotion::{Promotion, PromotionRule};

/// True when the promotion touches these lines.
pub(crate) fn touches(p: &Promotion, lines: &[Line<'_>]) -> bool {
    match &p.rule {
        PromotionRule::FreeShipping { .. } => true,
        PromotionRule::Bundle { items, .. } => lines
            .iter()
            .any(|l| !l.gift && items.iter().any(|it| it.sku == l.sku)),
        PromotionRule::BuyXGetY { .. } => match p.buy_get_scopes() {
            Some((buy, get)) => lines.iter().any(|l| l.in_scope(buy) || l.in_scope(get)),
            None => false,
        },
        _ => lines.iter().any(|l| l.in_scope(&p.scope)),
    }
}
