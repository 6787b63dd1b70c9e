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
    /// Scopes of everything (less exclusions).
    universal: Vec<usize>,
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
            match c.mode {
                Mode::Everything => ix.universal.push(s),
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
    pub fn members(&self, lines: impl ExactSizeIterator<Item = ItemKeys>) -> Vec<Vec<u32>> {
        let n = lines.len();
        let mut out: Vec<Vec<u32>> = vec![Vec::new(); self.scopes.len()];
        let mut seen: Vec<u32> = vec![u32::MAX; self.scopes.len()];
        fn named(map: &[Vec<usize>], id: Option<u32>) -> &[usize] {
            id.and_then(|id| map.get(id as usize))
                .map_or(&[], Vec::as_slice)
        }
        for (i, k) in lines.enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let lists = [
                self.universal.as_slice(),
                named(&self.by_sku, Some(k.sku)),
                named(&self.by_product, Some(k.product)),
                named(&self.by_category, k.category),
            ];
            for &s in lists.into_iter().flatten() {
                let (Some(mark), Some(scope), Some(list)) =
                    (seen.get_mut(s), self.scopes.get(s), out.get_mut(s))
                else {
                    continue;
                };
                if *mark == i {
                    continue;
                }
                *mark = i;
                if scope.contains(k) {
                    if list.capacity() == 0 {
                        // Most scopes that take a line take many: size once.
                        list.reserve(n.min(64));
                    }
                    list.push(i);
                }
            }
        }
        out
    }
}
