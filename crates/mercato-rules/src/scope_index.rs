//! Scopes compiled for fast matching: every SKU, product and category name
//! of the catalog and of the rules is interned to a number once, when the
//! [`crate::RuleSet`] is built, and each scope becomes sorted number lists.
//! Pricing then finds the lines of every promotion scope in one pass over
//! the cart ([`ScopeIndex::members`]): a line is offered only to the scopes
//! that name its SKU, product or category, or that take everything.

use std::collections::HashMap;

use crate::catalog::CatalogItem;
use crate::coupon::Coupon;
use crate::promotion::{Promotion, PromotionRule};
use crate::scope::Scope;

/// The interned names of one catalog item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ItemKeys {
    pub sku: u32,
    pub product: u32,
    pub category: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Everything,
    Nothing,
    Named,
}

/// A [`Scope`] with interned, sorted names; [`Compiled::contains`] is
/// exactly [`Scope::contains`].
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    mode: Mode,
    skus: Vec<u32>,
    products: Vec<u32>,
    categories: Vec<u32>,
    exclude: Vec<u32>,
}

impl Compiled {
    /// True when the item with these keys is in the scope.
    pub fn contains(&self, k: ItemKeys) -> bool {
        if self.exclude.binary_search(&k.sku).is_ok() {
            return false;
        }
        match self.mode {
            Mode::Everything => true,
            Mode::Nothing => false,
            Mode::Named => {
                self.skus.binary_search(&k.sku).is_ok()
                    || self.products.binary_search(&k.product).is_ok()
                    || k.category
                        .is_some_and(|c| self.categories.binary_search(&c).is_ok())
            }
        }
    }
}

/// The scope numbers of one promotion (indexes into the compiled scopes).
#[derive(Debug, Clone, Default)]
pub(crate) struct PromoScopes {
    /// `scope`.
    pub main: usize,
    /// `buy_x_get_y`: the buy side's scope (else `main`).
    pub buy: usize,
    /// `buy_x_get_y`: the get side's scope (else `main`).
    pub get: usize,
    /// `bundle`: one SKU scope per item.
    pub bundle: Vec<usize>,
    /// `gift`: the gift SKU's scope.
    pub gift: Option<usize>,
}

/// Interned names, compiled scopes and the reverse index name → scopes.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScopeIndex {
    names: HashMap<String, u32>,
    items: Vec<ItemKeys>,
    scopes: Vec<Compiled>,
    promos: Vec<PromoScopes>,
    coupons: Vec<Compiled>,
    /// Scopes of everything with no exclusion: every cart line.
    universal: Vec<usize>,
    /// Scopes of everything less some excluded SKUs.
    universal_less: Vec<usize>,
    /// Per scope: it names more than one kind of name (SKUs, products,
    /// categories), so a line may reach it through two reverse lists.
    multi: Vec<bool>,
    /// Per name number: the scopes naming it as a SKU, product, category.
    by_sku: Vec<Vec<usize>>,
    by_product: Vec<Vec<usize>>,
    by_category: Vec<Vec<usize>>,
}

impl ScopeIndex {
    /// Builds the index of a catalog, its promotions and coupons.
    pub fn build(catalog: &[CatalogItem], promotions: &[Promotion], coupons: &[Coupon]) -> Self {
        let mut ix = ScopeIndex::default();
        ix.items = catalog
            .iter()
            .map(|it| ItemKeys {
                sku: ix.intern(&it.sku),
                product: ix.intern(&it.product),
                category: it.category.as_deref().map(|c| ix.intern(c)),
            })
            .collect();
        for p in promotions {
            let main = ix.add_scope(&p.scope);
            let mut ps = PromoScopes {
                main,
                buy: main,
                get: main,
                ..PromoScopes::default()
            };
            match &p.rule {
                PromotionRule::BuyXGetY { buy, get, .. } => {
                    ps.buy = match &buy.scope {
                        Some(s) => ix.add_scope(s),
                        None => main,
                    };
                    ps.get = match &get.scope {
                        Some(s) => ix.add_scope(s),
                        None => ps.buy,
                    };
                }
                PromotionRule::Bundle { items, .. } => {
                    ps.bundle = items.iter().map(|it| ix.add_sku_scope(&it.sku)).collect();
                }
                PromotionRule::Gift { gift, .. } => {
                    ps.gift = Some(ix.add_sku_scope(&gift.sku));
                }
                _ => {}
            }
            ix.promos.push(ps);
        }
        ix.coupons = coupons.iter().map(|c| ix.compile(&c.scope)).collect();
        let n = ix.names.len();
        let (mut by_sku, mut by_product, mut by_category) = (
            vec![Vec::new(); n],
            vec![Vec::new(); n],
            vec![Vec::new(); n],
        );
        for (s, c) in ix.scopes.iter().enumerate() {
            let kinds = [&c.skus, &c.products, &c.categories]
                .iter()
                .filter(|v| !v.is_empty())
                .count();
            ix.multi.push(c.mode == Mode::Named && kinds > 1);
            match c.mode {
                Mode::Everything if c.exclude.is_empty() => ix.universal.push(s),
                Mode::Everything => ix.universal_less.push(s),
                Mode::Nothing => {}
                Mode::Named => {
                    for (names, map) in [
                        (&c.skus, &mut by_sku),
                        (&c.products, &mut by_product),
                        (&c.categories, &mut by_category),
                    ] {
                        for id in names {
                            if let Some(list) = map.get_mut(*id as usize) {
                                list.push(s);
                            }
                        }
                    }
                }
            }
        }
        ix.by_sku = by_sku;
        ix.by_product = by_product;
        ix.by_category = by_category;
        ix
    }

    /// Adds one catalog item after the index was built. The compiled
    /// scopes stay as they are: every name a scope refers to was interned
    /// when the scope was compiled, so the item's names get the same
    /// numbers the scopes use, and a name no scope knows gets a new number
    /// that no reverse-index list holds (as in a full build).
    pub fn add_item(&mut self, it: &CatalogItem) {
        let keys = ItemKeys {
            sku: self.intern(&it.sku),
            product: self.intern(&it.product),
            category: it.category.as_deref().map(|c| self.intern(c)),
        };
        self.items.push(keys);
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.names.get(name) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.insert(name.to_string(), id);
        id
    }

    fn ids(&mut self, names: &[String]) -> Vec<u32> {
        let mut v: Vec<u32> = names.iter().map(|n| self.intern(n)).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn compile(&mut self, s: &Scope) -> Compiled {
        let names_nothing = s.skus.is_empty() && s.products.is_empty() && s.categories.is_empty();
        let mode = match s.all {
            Some(true) => Mode::Everything,
            Some(false) if names_nothing => Mode::Nothing,
            None if names_nothing => Mode::Everything,
            _ => Mode::Named,
        };
        Compiled {
            mode,
            skus: self.ids(&s.skus),
            products: self.ids(&s.products),
            categories: self.ids(&s.categories),
            exclude: self.ids(&s.exclude_skus),
        }
    }

    fn add_scope(&mut self, s: &Scope) -> usize {
        let c = self.compile(s);
        self.scopes.push(c);
        self.scopes.len() - 1
    }

    /// A scope of one SKU (bundle items, gifts: lines with that SKU).
    fn add_sku_scope(&mut self, sku: &str) -> usize {
        let id = self.intern(sku);
        self.scopes.push(Compiled {
            mode: Mode::Named,
            skus: vec![id],
            products: Vec::new(),
            categories: Vec::new(),
            exclude: Vec::new(),
        });
        self.scopes.len() - 1
    }

    /// The keys of catalog item `i`.
    pub fn item(&self, i: usize) -> Option<ItemKeys> {
        self.items.get(i).copied()
    }

    /// The scope numbers of promotion `i`.
    pub fn promotion(&self, i: usize) -> Option<&PromoScopes> {
        self.promos.get(i)
    }

    /// The compiled scope of coupon `i`.
    pub fn coupon(&self, i: usize) -> Option<&Compiled> {
        self.coupons.get(i)
    }

    /// For every promotion scope, the lines (indexes, ascending) it
    /// contains, for lines with these keys.
    ///
    /// A scope of everything with no exclusion takes every line and is not
    /// listed line by line; any other scope gets the lines that reach it
    /// through the reverse index and are not excluded (a line reaching a
    /// named scope through its SKU, product or category is in it unless
    /// excluded: [`Compiled::contains`] says the same).
    pub fn members(&self, keys: &[ItemKeys]) -> Members {
        let n = keys.len();
        let all: Vec<u32> = (0..n)
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        let mut spans = vec![Span::Listed { start: 0, end: 0 }; self.scopes.len()];
        for &s in &self.universal {
            if let Some(span) = spans.get_mut(s) {
                *span = Span::All;
            }
        }
        // A scope of everything whose excluded SKUs are none of the cart's
        // takes every line too; the others are listed line by line.
        let mut cart_skus: Vec<u32> = keys.iter().map(|k| k.sku).collect();
        cart_skus.sort_unstable();
        let mut less: Vec<usize> = Vec::new();
        for &s in &self.universal_less {
            let excludes_some = self.scopes.get(s).is_none_or(|c| {
                c.exclude.len() > n || c.exclude.iter().any(|x| cart_skus.binary_search(x).is_ok())
            });
            if excludes_some {
                less.push(s);
            } else if let Some(span) = spans.get_mut(s) {
                *span = Span::All;
            }
        }
        // (scope, line) pairs, lines ascending.
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut seen: Vec<u32> = if self.multi.iter().any(|m| *m) {
            vec![u32::MAX; self.scopes.len()]
        } else {
            Vec::new()
        };
        fn named(map: &[Vec<usize>], id: Option<u32>) -> &[usize] {
            id.and_then(|id| map.get(id as usize))
                .map_or(&[], Vec::as_slice)
        }
        for (&i, k) in all.iter().zip(keys) {
            let kept = |s: usize| {
                self.scopes
                    .get(s)
                    .is_some_and(|c| c.exclude.binary_search(&k.sku).is_err())
            };
            for &s in &less {
                if kept(s) {
                    pairs.push((u32::try_from(s).unwrap_or(u32::MAX), i));
                }
            }
            for list in [
                named(&self.by_sku, Some(k.sku)),
                named(&self.by_product, Some(k.product)),
                named(&self.by_category, k.category),
            ] {
                for &s in list {
                    if self.multi.get(s).copied().unwrap_or(false)
                        && let Some(mark) = seen.get_mut(s)
                    {
                        if *mark == i {
                            continue;
                        }
                        *mark = i;
                    }
                    if kept(s) {
                        pairs.push((u32::try_from(s).unwrap_or(u32::MAX), i));
                    }
                }
            }
        }
        // Group the pairs by scope, keeping the lines in order.
        let mut start = vec![0_usize; self.scopes.len() + 1];
        for (s, _) in &pairs {
            if let Some(c) = start.get_mut(*s as usize + 1) {
                *c += 1;
            }
        }
        let mut acc = 0;
        for c in &mut start {
            acc += *c;
            *c = acc;
        }
        let mut flat = vec![0_u32; pairs.len()];
        let mut next = start.clone();
        for (s, i) in pairs {
            if let Some(at) = next.get_mut(s as usize)
                && let Some(slot) = flat.get_mut(*at)
            {
                *slot = i;
                *at += 1;
            }
        }
        for (s, span) in spans.iter_mut().enumerate() {
            if let (Span::Listed { start: a, end: b }, Some(from), Some(to)) =
                (span, start.get(s), next.get(s))
            {
                (*a, *b) = (*from, *to);
            }
        }
        Members { all, spans, flat }
    }
}

/// Where the lines of one scope are.
#[derive(Debug, Clone, Copy)]
enum Span {
    /// Every cart line.
    All,
    /// `flat[start..end]`.
    Listed { start: usize, end: usize },
}

/// The cart lines of every compiled promotion scope (see
/// [`ScopeIndex::members`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Members {
    /// `0..n`, the lines of a scope that takes every line.
    all: Vec<u32>,
    spans: Vec<Span>,
    flat: Vec<u32>,
}

impl Members {
    /// The cart lines in scope `s`, ascending (none for an unknown scope).
    pub fn lines(&self, s: usize) -> &[u32] {
        match self.spans.get(s) {
            Some(Span::All) => &self.all,
            Some(Span::Listed { start, end }) => self.flat.get(*start..*end).unwrap_or(&[]),
            None => &[],
        }
    }

    /// True when some cart line is in scope `s`.
    pub fn any(&self, s: usize) -> bool {
        !self.lines(s).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// Names from a small pool (some never in the catalog), so scopes
    /// name, exclude and overlap the cart's SKUs, products and categories.
    fn names(prefix: &'static str, pool: u8) -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec(0..pool, 0..4)
            .prop_map(move |v| v.into_iter().map(|k| format!("{prefix}{k}")).collect())
    }

    fn scope() -> impl Strategy<Value = Scope> {
        (
            proptest::option::of(any::<bool>()),
            names("s", 10),
            names("p", 5),
            names("c", 4),
            names("s", 10),
        )
            .prop_map(|(all, skus, products, categories, exclude_skus)| Scope {
                all,
                skus,
                products,
                categories,
                exclude_skus,
            })
    }

    fn catalog() -> Vec<CatalogItem> {
        (0..8)
            .map(|i| {
                let item = json!({"sku": format!("s{i}"), "product": format!("p{}", i / 2),
                    "category": if i % 3 == 0 { None } else { Some(format!("c{}", i % 4)) },
                    "price": "1.00"});
                serde_json::from_value(item).unwrap()
            })
            .collect()
    }

    proptest! {
        /// The reverse-index pass finds exactly the lines `Scope::contains`
        /// (the plain string comparison) accepts, ascending, for every
        /// promotion scope.
        #[test]
        fn members_are_the_lines_scope_contains(
            scopes in proptest::collection::vec(scope(), 1..8),
            cart in proptest::collection::vec(0_usize..8, 0..12),
        ) {
            let catalog = catalog();
            let promotions: Vec<Promotion> = scopes
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    serde_json::from_value(json!({"id": format!("r{k}"), "kind": "percent_off",
                        "percent": "10", "scope": s}))
                    .unwrap()
                })
                .collect();
            let ix = ScopeIndex::build(&catalog, &promotions, &[]);
            let keys: Vec<ItemKeys> = cart.iter().map(|&i| ix.item(i).unwrap()).collect();
            let members = ix.members(&keys);
            for (k, s) in scopes.iter().enumerate() {
                let main = ix.promotion(k).unwrap().main;
                let expected: Vec<u32> = cart
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| s.contains(&catalog[**i]))
                    .map(|(line, _)| line as u32)
                    .collect();
                prop_assert_eq!(members.lines(main), expected.as_slice(), "scope {:?}", s);
                prop_assert_eq!(members.any(main), !expected.is_empty());
            }
        }
    }
}
