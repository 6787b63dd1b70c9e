//! Property-testing strategies (for the proptest crate) for every input of mercato, in CNY.
//!
//! Valid by default: every promotion, coupon, catalog and settings value a
//! strategy here produces passes validation (a test in the kit checks it).
//! The `invalid_*` strategies produce definitions that validation must
//! refuse, for error-path tests.
//!
//! Rules are built as contract JSON and deserialized, so they exercise the
//! same serde path as scenario files; the `*_json` strategies give the JSON
//! itself.
//!
//! Naming: orderable SKUs are `s0`, `s1`… (products `p0`…, categories
//! `c0`…`c2`), gift SKUs `g0`…, locations `l0`…`l3`, customers `u0`…,
//! coupons `C0`…, promotions `P0`….

use mercato::core::shop::StockCommit;
use mercato::rules::{CartLine, CatalogItem, Coupon, Promotion};
use mercato::{ReviewSettings, Settings};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use crate::model::{
    AfterSaleKnobs, CustomerSpec, LocationSpec, PRESALE_PROMOTION, QuotaSpec, ShopSetup, Step,
};
use crate::util::{amount, dec};

/// A percent with up to 2 decimals in `lo..=hi` percent, as a string.
fn percent(lo: i64, hi: i64) -> impl Strategy<Value = String> {
    (lo * 100..=hi * 100).prop_map(|p| dec(p).normalize().to_string())
}

/// A positive amount between `lo` and `hi` minor units, as a string.
fn money(lo: i64, hi: i64) -> impl Strategy<Value = String> {
    (lo..=hi).prop_map(amount)
}

/// A catalog of `n` orderable SKUs (`s0`…) with list prices from 1.00 to
/// 500.00, spread over products and categories.
pub fn catalog(n: usize) -> impl Strategy<Value = Vec<CatalogItem>> {
    proptest::collection::vec((100_i64..=50_000, 0_usize..3, any::<bool>()), n).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (price, cat, shared_product))| CatalogItem {
                sku: format!("s{i}"),
                product: if shared_product {
                    format!("p{}", i / 2)
                } else {
                    format!("p{i}")
                },
                category: Some(format!("c{cat}")),
                price: dec(price),
            })
            .collect()
    })
}

/// A scope over SKUs `s0..s{n}`: all, some SKUs, a product, a category, or
/// everything but one SKU.
pub fn scope_json(n: usize) -> impl Strategy<Value = Value> {
    let n = n.max(1);
    prop_oneof![
        Just(json!({"all": true})),
        proptest::collection::vec(0..n, 1..3).prop_map(|v| json!({
            "skus": v.iter().map(|i| format!("s{i}")).collect::<Vec<_>>()
        })),
        (0..n).prop_map(|i| json!({"products": [format!("p{}", i / 2)]})),
        (0_usize..3).prop_map(|c| json!({"categories": [format!("c{c}")]})),
        (0..n).prop_map(|i| json!({"exclude_skus": [format!("s{i}")]})),
    ]
}

/// The kind-specific part of a promotion of any kind, over `n` orderable
/// SKUs and gift SKUs `g0..g{gifts}` (gift promotions only when `gifts > 0`).
pub fn promotion_rule_json(n: usize, gifts: usize) -> BoxedStrategy<Value> {
    let n = n.max(1);
    let mut kinds: Vec<BoxedStrategy<Value>> = vec![
        (
            money(50, 40_000),
            proptest::option::of(select(vec!["gold", "silver"])),
            proptest::option::of(1_i64..5),
            proptest::option::of(1_i64..10)
        )
            .prop_map(|(price, tier, pcl, quota)| {
                json!({"kind": "price", "price": price, "tier": tier,
                       "per_customer_limit": pcl, "quota": quota})
            })
            .boxed(),
        proptest::collection::vec((2_i64..6, percent(1, 50)), 1..3)
            .prop_map(|tiers| {
                let mut t: Vec<_> = tiers;
                t.sort_by_key(|x| x.0);
                t.dedup_by_key(|x| x.0);
                json!({"kind": "ladder", "tiers": t.iter().map(|(q, p)| json!({"min_qty": q, "percent": p})).collect::<Vec<_>>()})
            })
            .boxed(),
        (
            percent(1, 100),
            proptest::option::of(money(100, 10_000)),
            select(vec!["item", "order"])
        )
            .prop_map(|(p, max_off, stage)| {
                json!({"kind": "percent_off", "percent": p, "max_off": max_off, "stage": stage})
            })
            .boxed(),
        (money(1, 5_000), select(vec!["unit", "line", "order"]))
            .prop_map(|(a, per)| json!({"kind": "amount_off", "amount": a, "per": per}))
            .boxed(),
        proptest::collection::vec((1_i64..2_000, 1_i64..100), 1..3)
            .prop_map(|tiers| {
                let mut t: Vec<(i64, i64)> = tiers.into_iter().map(|(th, off)| (th * 100, off * 100)).collect();
                t.sort();
                t.dedup_by_key(|x| x.0);
                json!({"kind": "full_reduction", "tiers": t.iter().map(|(th, off)| json!({"threshold": amount(*th), "off": amount(*off)})).collect::<Vec<_>>()})
            })
            .boxed(),
        (1_i64..500, 1_i64..100, proptest::option::of(1_i64..500))
            .prop_map(|(th, off, cap)| {
                json!({"kind": "full_reduction", "mode": "repeat",
                       "tiers": [{"threshold": amount(th * 100), "off": amount(off * 100)}],
                       "cap": cap.map(|c| amount(c * 100))})
            })
            .boxed(),
        proptest::collection::vec((1_i64..2_000, percent(1, 50)), 1..3)
            .prop_map(|tiers| {
                let mut t = tiers;
                t.sort_by_key(|x| x.0);
                t.dedup_by_key(|x| x.0);
                json!({"kind": "full_discount", "tiers": t.iter().map(|(th, p)| json!({"threshold": amount(th * 100), "percent": p})).collect::<Vec<_>>()})
            })
            .boxed(),
        (2_i64..6, prop_oneof![percent(1, 50).prop_map(|p| json!({"percent": p})), money(100, 2_000).prop_map(|o| json!({"off": o}))])
            .prop_map(|(q, mut tier)| {
                if let Some(m) = tier.as_object_mut() {
                    m.insert("min_qty".into(), json!(q));
                }
                json!({"kind": "quantity_discount", "tiers": [tier]})
            })
            .boxed(),
        (scope_json(n), 1_i64..4, 1_i64..3, percent(1, 100), any::<bool>())
            .prop_map(|(scope, buy, get, p, repeat)| {
                json!({"kind": "buy_x_get_y", "buy": {"scope": scope, "qty": buy},
                       "get": {"qty": get, "percent": p}, "repeat": repeat})
            })
            .boxed(),
        (proptest::sample::subsequence((0..n).collect::<Vec<_>>(), 1..=n.min(3)), 1_i64..3, money(100, 50_000))
            .prop_map(|(skus, qty, price)| {
                json!({"kind": "bundle", "price": price,
                       "items": skus.iter().map(|i| json!({"sku": format!("s{i}"), "qty": qty})).collect::<Vec<_>>()})
            })
            .boxed(),
        proptest::option::of(money(0, 50_000))
            .prop_map(|th| json!({"kind": "free_shipping", "threshold": th}))
            .boxed(),
    ];
    if gifts > 0 {
        kinds.push(
            (money(100, 100_000), 0..gifts, 1_i64..3)
                .prop_map(|(th, g, qty)| {
                    json!({"kind": "gift", "threshold": th, "gift": {"sku": format!("g{g}"), "qty": qty}})
                })
                .boxed(),
        );
    }
    proptest::strategy::Union::new(kinds).boxed()
}

/// A promotion of any kind (valid), as contract JSON, with id `P{id}`.
pub fn promotion_json(id: usize, n: usize, gifts: usize) -> impl Strategy<Value = Value> {
    (
        promotion_rule_json(n, gifts),
        scope_json(n),
        -2_i64..3,
        proptest::bool::weighted(0.2),
        proptest::option::weighted(
            0.2,
            prop_oneof![
                (1_i64..100_000).prop_map(|a| json!({"amount": amount(a)})),
                (0_i64..5).prop_map(|u| json!({"uses": u})),
            ],
        ),
        proptest::option::weighted(0.1, (0_i64..3, 1_i64..72)),
    )
        .prop_map(
            move |(mut rule, scope, priority, exclusive, budget, window)| {
                if let Some(m) = rule.as_object_mut() {
                    m.insert("id".into(), json!(format!("P{id}")));
                    if !m.contains_key("scope") {
                        m.insert("scope".into(), scope);
                    }
                    m.insert("priority".into(), json!(priority));
                    m.insert("exclusive".into(), json!(exclusive));
                    if let Some(b) = budget {
                        m.insert("budget".into(), b);
                    }
                    if let Some((from_h, len_h)) = window {
                        let from = crate::util::epoch() + chrono::Duration::hours(from_h);
                        let to = from + chrono::Duration::hours(len_h);
                        m.insert(
                            "window".into(),
                            json!({"from": from.to_rfc3339(), "to": to.to_rfc3339()}),
                        );
                    }
                }
                rule
            },
        )
}

/// A valid promotion of any kind.
pub fn promotion(id: usize, n: usize, gifts: usize) -> impl Strategy<Value = Promotion> {
    promotion_json(id, n, gifts).prop_filter_map("deserializes", |v| serde_json::from_value(v).ok())
}

/// Promotions `P0…` of every kind over `n` SKUs and `gifts` gift SKUs.
pub fn promotions(n: usize, gifts: usize, max: usize) -> impl Strategy<Value = Vec<Promotion>> {
    (0..=max).prop_flat_map(move |k| (0..k).map(|i| promotion(i, n, gifts)).collect::<Vec<_>>())
}

/// A promotion JSON that validation must refuse (bad percent, negative or
/// over-precise amount, repeat with two tiers, empty bundle, empty id,
/// empty window, or a stage that does not fit the kind).
pub fn invalid_promotion_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        (101_i64..1_000)
            .prop_map(|p| json!({"id": "bad", "kind": "percent_off", "percent": p.to_string()})),
        (1_i64..1_000).prop_map(
            |p| json!({"id": "bad", "kind": "price", "price": format!("-{}", amount(p))})
        ),
        (1_i64..1_000).prop_map(
            |p| json!({"id": "bad", "kind": "price", "price": format!("{}1", amount(p))})
        ),
        Just(
            json!({"id": "bad", "kind": "full_reduction", "mode": "repeat",
                    "tiers": [{"threshold": "10.00", "off": "1.00"}, {"threshold": "20.00", "off": "2.00"}]})
        ),
        Just(json!({"id": "bad", "kind": "bundle", "items": [], "price": "1.00"})),
        Just(json!({"id": "", "kind": "amount_off", "amount": "1.00"})),
        Just(json!({"id": "bad", "kind": "amount_off", "amount": "1.00",
                    "window": {"from": "2026-11-11T10:00:00Z", "to": "2026-11-11T09:00:00Z"}})),
        Just(
            json!({"id": "bad", "kind": "ladder", "stage": "order", "tiers": [{"min_qty": 2, "percent": "10"}]})
        ),
    ]
}

/// A coupon of either kind (valid), as contract JSON, with code `C{id}`,
/// owned by one of `customers` customers or public.
pub fn coupon_json(id: usize, n: usize, customers: usize) -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            money(1, 5_000).prop_map(|a| json!({"kind": "amount_off", "amount": a})),
            (percent(1, 100), proptest::option::of(money(100, 5_000)))
                .prop_map(|(p, m)| json!({"kind": "percent_off", "percent": p, "max_off": m})),
        ],
        proptest::option::of(money(100, 100_000)),
        scope_json(n),
        select(vec!["default", "platform", "shop"]),
        proptest::option::of(0..customers.max(1)),
        proptest::option::of(0_i64..4),
        proptest::option::of(0_i64..3),
    )
        .prop_map(
            move |(mut kind, threshold, scope, group, owner, usage, per_customer)| {
                if let Some(m) = kind.as_object_mut() {
                    m.insert("code".into(), json!(format!("C{id}")));
                    m.insert("threshold".into(), json!(threshold));
                    m.insert("scope".into(), scope);
                    m.insert("group".into(), json!(group));
                    m.insert(
                        "owner".into(),
                        json!(owner.filter(|_| customers > 0).map(|o| format!("u{o}"))),
                    );
                    m.insert("usage_limit".into(), json!(usage));
                    if let Some(p) = per_customer {
                        m.insert("per_customer_limit".into(), json!(p));
                    }
                }
                kind
            },
        )
}

/// A valid coupon.
pub fn coupon(id: usize, n: usize, customers: usize) -> impl Strategy<Value = Coupon> {
    coupon_json(id, n, customers)
        .prop_filter_map("deserializes", |v| serde_json::from_value(v).ok())
}

/// A coupon wallet: coupons `C0…` over `n` SKUs for `customers` customers.
pub fn coupons(n: usize, customers: usize, max: usize) -> impl Strategy<Value = Vec<Coupon>> {
    (0..=max).prop_flat_map(move |k| (0..k).map(|i| coupon(i, n, customers)).collect::<Vec<_>>())
}

/// A coupon JSON that validation must refuse.
pub fn invalid_coupon_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"code": "BAD", "kind": "amount_off"})),
        Just(json!({"code": "BAD", "kind": "percent_off"})),
        (101_i64..1_000)
            .prop_map(|p| json!({"code": "BAD", "kind": "percent_off", "percent": p.to_string()})),
        (1_i64..100).prop_map(
            |u| json!({"code": "BAD", "kind": "amount_off", "amount": "1.00", "usage_limit": -u})
        ),
        Just(json!({"code": "", "kind": "amount_off", "amount": "1.00"})),
        Just(json!({"code": "BAD", "kind": "amount_off", "amount": "1.001"})),
    ]
}

/// Customers `u0…` with an optional tier and 0–5,000 points.
pub fn customers(max: usize) -> impl Strategy<Value = Vec<CustomerSpec>> {
    proptest::collection::vec(
        (
            proptest::option::of(select(vec!["gold", "silver"])),
            0_i64..5_000,
        ),
        0..=max,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (tier, points))| CustomerSpec {
                id: format!("u{i}"),
                tier: tier.map(str::to_string),
                points,
            })
            .collect()
    })
}

/// Valid settings: every knob of the contract.
pub fn settings() -> impl Strategy<Value = Settings> {
    (
        select(vec!["half_up", "half_even"]),
        select(vec!["best_for_customer", "priority"]),
        1_i64..3,
        (1_i64..200, 0_i64..=100),
        (0_i64..2_000, proptest::option::of(0_i64..50_000)),
        (1_i64..120, select(vec!["payment", "shipment"])),
        (select(vec!["pro_rata", "reprice"]), 0_i64..10),
        proptest::option::weighted(
            0.3,
            (
                proptest::option::of(10_000_i64..200_000),
                proptest::option::of(1_i64..10),
            ),
        ),
    )
        .prop_filter_map(
            "deserializes",
            |(rounding, selection, per_group, (per_unit, max_pct), (fee, free), (timeout, commit), (refund, days), review)| {
                let v = json!({
                    "rounding": rounding, "selection": selection,
                    "max_coupons_per_group": per_group,
                    "points": {"per_unit": per_unit, "max_percent": max_pct.to_string()},
                    "shipping": {"fee": amount(fee), "free_threshold": free.map(amount)},
                    "payment_timeout_minutes": timeout, "stock_commit": commit,
                    "refund_policy": refund, "auto_complete_days": days,
                    "review": review.map(|(p, q)| json!({"max_payable": p.map(amount), "max_qty": q})),
                });
                serde_json::from_value(v).ok()
            },
        )
}

/// A cart over `n` SKUs: 1–4 lines of 1–5 units (a SKU may repeat).
pub fn cart_lines(n: usize) -> impl Strategy<Value = Vec<CartLine>> {
    proptest::collection::vec((0..n.max(1), 1_i64..=5), 1..=4).prop_map(|v| {
        v.into_iter()
            .map(|(i, qty)| CartLine {
                sku: format!("s{i}"),
                qty,
            })
            .collect()
    })
}

/// A stock layout for SKUs `skus`: 1–3 locations each (priorities, safety
/// stock, sometimes backorder), 0–12 units per location.
pub fn stock_layout(skus: Vec<String>) -> impl Strategy<Value = Vec<LocationSpec>> {
    let per_sku: Vec<_> = skus
        .into_iter()
        .map(|sku| {
            proptest::collection::vec(
                (
                    0_i64..=12,
                    0_i64..=2,
                    proptest::bool::weighted(0.1),
                    -1_i64..=2,
                ),
                1..=3,
            )
            .prop_map(move |locs| {
                locs.into_iter()
                    .enumerate()
                    .map(|(i, (on_hand, safety, backorder, priority))| LocationSpec {
                        sku: sku.clone(),
                        location: format!("l{i}"),
                        on_hand,
                        safety: safety.min(on_hand),
                        backorder,
                        priority,
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    per_sku.prop_map(|v| v.into_iter().flatten().collect())
}

/// A promotion for the model world: discounts bounded so that every cart
/// keeps goods above 0.00 (so fixed-amount coupons always apply), gifts
/// from gift SKUs only, no budgets or windows.
fn model_promotion_json(id: usize, n: usize, gifts: usize) -> BoxedStrategy<Value> {
    let mut kinds: Vec<BoxedStrategy<Value>> = vec![
        percent(1, 50)
            .prop_map(|p| json!({"kind": "percent_off", "percent": p}))
            .boxed(),
        proptest::collection::vec((2_i64..5, percent(1, 30)), 1..2)
            .prop_map(|t| json!({"kind": "ladder", "tiers": t.iter().map(|(q, p)| json!({"min_qty": q, "percent": p})).collect::<Vec<_>>()}))
            .boxed(),
        (10_i64..500, 1_i64..50)
            .prop_map(|(th, pct)| json!({"kind": "full_reduction",
                "tiers": [{"threshold": amount(th * 100), "off": amount(th * pct)}]}))
            .boxed(),
        (100_i64..10_000).prop_map(|th| json!({"kind": "free_shipping", "threshold": amount(th)})).boxed(),
    ];
    if gifts > 0 {
        kinds.push(
            (100_i64..60_000, 0..gifts, 1_i64..3)
                .prop_map(|(th, g, qty)| {
                    json!({"kind": "gift", "threshold": amount(th),
                    "gift": {"sku": format!("g{g}"), "qty": qty}})
                })
                .boxed(),
        );
    }
    (
        proptest::strategy::Union::new(kinds),
        scope_json(n),
        -1_i64..2,
    )
        .prop_map(move |(mut v, scope, priority)| {
            if let Some(m) = v.as_object_mut() {
                m.insert("id".into(), json!(format!("P{id}")));
                m.insert("scope".into(), scope);
                m.insert("priority".into(), json!(priority));
            }
            v
        })
        .boxed()
}

/// A whole shop for engine-vs-model runs: 2–4 orderable SKUs priced
/// 10.00–500.00, 0–1 gift SKUs, several locations per SKU, sometimes an
/// `app` channel quota, 1–3 customers with points, 0–3 bounded promotions
/// and 0–3 fixed-amount coupons (owned or public, limits, two groups), and
/// settings the model covers (either `stock_commit`, review by quantity or
/// payable, shipping fee, `pro_rata` refunds, the after-sale windows and
/// timers, every shipping refund policy and refund allocation).
pub fn shop_setup() -> impl Strategy<Value = ShopSetup> {
    (2_usize..=4, 0_usize..=1, 1_usize..=3)
        .prop_flat_map(|(n, gifts, ncust)| {
            let prices = proptest::collection::vec(1_000_i64..=50_000, n + gifts);
            let skus: Vec<String> = (0..n)
                .map(|i| format!("s{i}"))
                .chain((0..gifts).map(|g| format!("g{g}")))
                .collect();
            let promos = (0_usize..=3).prop_flat_map(move |k| {
                (0..k)
                    .map(|i| model_promotion_json(i, n, gifts))
                    .collect::<Vec<_>>()
            });
            let coupons = proptest::collection::vec(
                (
                    1_i64..=500,
                    proptest::option::weighted(0.4, 0..ncust),
                    proptest::option::of(1_i64..3),
                    prop_oneof![Just(None), Just(Some(1_i64)), Just(Some(2))],
                    select(vec!["a", "b"]),
                ),
                0..=3,
            );
            (
                Just((n, gifts, ncust)),
                prices,
                stock_layout(skus),
                proptest::option::weighted(0.3, (0..n, 1_i64..4)),
                proptest::collection::vec(0_i64..3_000, ncust),
                promos,
                coupons,
                (
                    any::<bool>(),
                    0_i64..1_500,
                    proptest::option::weighted(
                        0.3,
                        (
                            proptest::option::of(2_i64..5),
                            proptest::option::of(20_000_i64..90_000),
                        ),
                    ),
                    select(vec![10_i64, 30, 60]),
                ),
                after_sale_knobs(),
            )
        })
        .prop_map(
            |(
                (n, gifts, _),
                prices,
                locations,
                quota,
                points,
                promos,
                coupons,
                (commit, fee, review, timeout),
                after_sale,
            )| {
                let catalog = (0..n + gifts)
                    .map(|i| {
                        let sku = if i < n {
                            format!("s{i}")
                        } else {
                            format!("g{}", i - n)
                        };
                        CatalogItem {
                            product: if i < n {
                                format!("p{}", i / 2)
                            } else {
                                sku.clone()
                            },
                            sku,
                            category: Some(format!("c{}", i % 3)),
                            price: dec(prices[i]),
                        }
                    })
                    .collect();
                let quotas = quota
                    .and_then(|(i, qty)| {
                        let sku = format!("s{i}");
                        let free: i64 = locations
                            .iter()
                            .filter(|l| l.sku == sku)
                            .map(|l| (l.on_hand - l.safety).max(0))
                            .sum();
                        (free >= qty).then_some(QuotaSpec {
                            sku,
                            channel: "app".into(),
                            qty,
                        })
                    })
                    .into_iter()
                    .collect();
                let customers = points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| CustomerSpec {
                        id: format!("u{i}"),
                        tier: (i == 0).then(|| "gold".to_string()),
                        points: *p,
                    })
                    .collect();
                let promotions = promos
                    .into_iter()
                    .filter_map(|v| serde_json::from_value(v).ok())
                    .collect();
                let coupons = coupons
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, (a, owner, usage, pcl, group))| {
                        serde_json::from_value(json!({
                            "code": format!("C{i}"), "kind": "amount_off", "amount": amount(a),
                            "owner": owner.map(|o| format!("u{o}")), "usage_limit": usage,
                            "per_customer_limit": pcl, "group": group,
                        }))
                        .ok()
                    })
                    .collect();
                let mut settings = Settings {
                    stock_commit: if commit {
                        StockCommit::Payment
                    } else {
                        StockCommit::Shipment
                    },
                    payment_timeout_minutes: timeout,
                    review: review.map(|(q, p)| ReviewSettings {
                        max_qty: q,
                        max_payable: p.map(dec),
                        max_orders: None,
                    }),
                    pricing: {
                        let mut p = mercato::rules::PricingSettings::default();
                        p.shipping.fee = dec(fee);
                        p
                    },
                    ..Settings::default()
                };
                settings.after_sale.request_window_days = after_sale.request_window_days;
                settings.after_sale.auto_approve_hours = after_sale.auto_approve_hours;
                settings.after_sale.return_ship_days = after_sale.return_ship_days;
                settings.after_sale.shipping_refund = after_sale.shipping_policy();
                settings.after_sale.refund_allocation = after_sale.allocation();
                ShopSetup {
                    settings,
                    catalog,
                    locations,
                    quotas,
                    customers,
                    promotions,
                    coupons,
                }
            },
        )
}

/// Order slots used by [`steps`]: `o0`…`o4`.
pub const ORDER_SLOTS: u8 = 5;

fn slot() -> impl Strategy<Value = u8> {
    0..ORDER_SLOTS
}

fn place() -> impl Strategy<Value = Step> {
    (
        slot(),
        proptest::option::weighted(0.7, 0_u8..3),
        prop_oneof![
            // Mostly `s0` and `s1` (every shop has them), sometimes `s2`,
            // `s3` (or one past the end: an unknown SKU).
            20 => proptest::collection::vec((prop_oneof![5 => 0_u8..2, 1 => 2_u8..4], 1_i64..=4), 1..=3),
            1 => Just(vec![]),
            1 => proptest::collection::vec((0_u8..5, -1_i64..=4), 1..=2),
        ],
        prop_oneof![2 => Just(vec![]), 1 => proptest::collection::vec(0_u8..4, 1..=2)],
        prop_oneof![3 => Just(0_i64), 1 => 0_i64..3_000],
        0_u8..2,
    )
        .prop_map(
            |(order, customer, lines, coupons, points, channel)| Step::Place {
                order,
                customer,
                lines,
                coupons,
                points,
                channel,
            },
        )
}

fn line_qtys() -> impl Strategy<Value = Vec<(u8, i64)>> {
    prop_oneof![
        10 => proptest::collection::vec((0_u8..3, 1_i64..=3), 1..=2),
        1 => proptest::collection::vec((0_u8..6, -1_i64..=5), 0..=2),
    ]
}

/// One command of a sequence: place (sometimes invalid), pay (sometimes the
/// wrong amount), part payments, goodwill, cancel, hold, release, reject,
/// ship (all or part, v1 or as a shipment with packages), deliver (v1 or
/// per shipment), complete, return (part, with or without restock), staged
/// after-sale requests and their moves, partial cancel, tick with time
/// jumps (a minute to 8 days), adjust stock (sometimes a new location or
/// an unknown SKU), `update_settings`.
pub fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => place(),
        8 => (slot(), proptest::bool::weighted(0.9)).prop_map(|(order, exact)| Step::Pay { order, exact }),
        3 => (slot(), select(vec![0_u8, 1, 30, 50, 99, 100, 101]), 0_u8..2).prop_map(|(order, percent, method)| Step::PayPart { order, percent, method }),
        2 => (slot(), select(vec![0_u8, 10, 50, 100, 101])).prop_map(|(order, percent)| Step::Goodwill { order, percent }),
        1 => slot().prop_map(|order| Step::Hold { order }),
        1 => slot().prop_map(|order| Step::Release { order }),
        1 => slot().prop_map(|order| Step::Reject { order }),
        2 => slot().prop_map(|order| Step::Cancel { order }),
        5 => (slot(), proptest::option::weighted(0.5, line_qtys())).prop_map(|(order, lines)| Step::Ship { order, lines }),
        4 => slot().prop_map(|order| Step::Deliver { order }),
        1 => slot().prop_map(|order| Step::Complete { order }),
        4 => (slot(), line_qtys(), any::<bool>()).prop_map(|(order, lines, restock)| Step::Return { order, lines, restock }),
        2 => select(vec![1_u32, 5, 29, 31, 61, 60 * 24, 60 * 24 * 8]).prop_map(|minutes| Step::Tick { minutes }),
        2 => (0_u8..6, 0_u8..4, -6_i64..=8).prop_map(|(sku, location, delta)| Step::Adjust { sku, location, delta }),
        1 => settings_step(),
        4 => request_after_sale(),
        6 => after_sale_action(),
        3 => (slot(), line_qtys(), proptest::bool::weighted(0.2)).prop_map(|(order, lines, rest)| Step::CancelUnits { order, lines, rest }),
        4 => ship_shipment(),
        4 => (slot(), 0_u8..4).prop_map(|(order, shipment)| Step::DeliverShipment { order, shipment }),
    ]
}

/// A staged after-sale request: `return_refund` or `refund_only`, some
/// units (sometimes invalid ones), a reason, sometimes return shipping the
/// customer bears (0.00–10.00).
pub fn request_after_sale() -> impl Strategy<Value = Step> {
    (
        slot(),
        any::<bool>(),
        line_qtys(),
        0_u8..4,
        proptest::option::weighted(0.3, 0_u16..=1_000),
    )
        .prop_map(
            |(order, refund_only, lines, reason, fee)| Step::RequestAfterSale {
                order,
                refund_only,
                lines,
                reason,
                fee,
            },
        )
}

/// A move of an after-sale request: mostly the order's latest request,
/// every action (approve, reject, withdraw, receive, refund, and `close`,
/// which a caller may never do), receipts sometimes damaged.
pub fn after_sale_action() -> impl Strategy<Value = Step> {
    (
        slot(),
        prop_oneof![4 => Just(0_u8), 1 => 1_u8..=4],
        prop_oneof![
            4 => Just(0_u8),
            1 => Just(1_u8),
            1 => Just(2_u8),
            3 => Just(3_u8),
            4 => Just(4_u8),
            1 => Just(5_u8),
        ],
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(order, request, action, damaged)| Step::AfterSale {
            order,
            request,
            action,
            damaged,
        })
}

/// A shipment `s0`…`s3` (a repeated id is a duplicate) of 1–2 packages of
/// some units, rarely no package, an empty package or an empty carrier.
pub fn ship_shipment() -> impl Strategy<Value = Step> {
    (
        slot(),
        0_u8..4,
        prop_oneof![
            12 => proptest::collection::vec(proptest::collection::vec((0_u8..3, 1_i64..=2), 1..=2), 1..=2),
            1 => proptest::collection::vec(line_qtys(), 0..=2),
        ],
        prop_oneof![12 => 0_u8..3, 1 => Just(7_u8)],
    )
        .prop_map(|(order, shipment, packages, carrier)| Step::ShipShipment {
            order,
            shipment,
            packages,
            carrier,
        })
}

/// `after_sale` settings: windows and timers inside their ranges (or
/// unset), every shipping refund policy and refund allocation.
pub fn after_sale_knobs() -> impl Strategy<Value = AfterSaleKnobs> {
    (
        proptest::option::weighted(0.5, select(vec![0_i64, 1, 7, 15])),
        proptest::option::weighted(0.5, select(vec![0_i64, 1, 24, 48])),
        proptest::option::weighted(0.5, select(vec![0_i64, 1, 7])),
        0_u8..3,
        0_u8..2,
    )
        .prop_map(
            |(
                request_window_days,
                auto_approve_hours,
                return_ship_days,
                shipping_refund,
                refund_allocation,
            )| {
                AfterSaleKnobs {
                    request_window_days,
                    auto_approve_hours,
                    return_ship_days,
                    shipping_refund,
                    refund_allocation,
                }
            },
        )
}

/// An `update_settings` step: timers at, inside and beyond their ranges
/// (down to `i64::MIN`, up to `i64::MAX`), sometimes with an out-of-range
/// `review.max_orders`, sometimes new `after_sale` settings (now and then
/// out of range).
pub fn settings_step() -> impl Strategy<Value = Step> {
    let hostile = [
        i64::MIN,
        -200_000_000_000_000,
        -1,
        200_000_000_000_000,
        i64::MAX,
    ];
    let timeout = select([&[1, 10, 30, 43_200, 0, 43_201][..], &hostile[..]].concat());
    let days = select([&[0, 1, 7, 3_650, 3_651][..], &hostile[..]].concat());
    let bad_pair = prop_oneof![
        select(hostile.to_vec()).prop_map(|v| (v, 60)),
        select(hostile.to_vec()).prop_map(|v| (3, v)),
        Just((0, 60)),
        Just((3, 525_601)),
    ];
    let bad_after_sale = (
        select([&[3_651, 8_761][..], &hostile[..]].concat()),
        0_usize..3,
        after_sale_knobs(),
    )
        .prop_map(|(v, which, mut k)| {
            match which {
                0 => k.request_window_days = Some(v),
                1 => k.auto_approve_hours = Some(v),
                _ => k.return_ship_days = Some(v),
            }
            k
        });
    let after_sale = proptest::option::weighted(
        0.5,
        prop_oneof![6 => after_sale_knobs(), 1 => bad_after_sale],
    );
    (
        timeout,
        days,
        proptest::option::weighted(0.3, bad_pair),
        after_sale,
    )
        .prop_map(
            |(payment_timeout_minutes, auto_complete_days, max_orders, after_sale)| {
                Step::Settings {
                    payment_timeout_minutes,
                    auto_complete_days,
                    max_orders,
                    after_sale,
                }
            },
        )
}

/// The life of one order in a row: place, pay, ship part then the rest,
/// deliver, return part (with or without restock), maybe return more.
pub fn lifecycle() -> impl Strategy<Value = Vec<Step>> {
    (
        place(),
        any::<bool>(),
        line_qtys(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(place, partial, back, restock, more)| {
            let Step::Place { order, .. } = place else {
                return vec![place];
            };
            let mut v = vec![place, Step::Pay { order, exact: true }];
            if partial {
                v.push(Step::Ship {
                    order,
                    lines: Some(vec![(0, 1)]),
                });
            }
            v.push(Step::Ship { order, lines: None });
            v.push(Step::Deliver { order });
            v.push(Step::Return {
                order,
                lines: back,
                restock,
            });
            if more {
                v.push(Step::Return {
                    order,
                    lines: vec![(0, 1), (1, 1)],
                    restock: !restock,
                });
            }
            v
        })
}

/// The after-sale life of one order: place, pay (in parts, through two
/// methods, or at once), maybe cancel a unit, ship in one or two shipments
/// with packages, deliver each, then a staged request (`return_refund` or
/// `refund_only`) approved by hand or by the timer (or rejected or
/// withdrawn and asked again), received (sometimes damaged, sometimes
/// never sent back: the timer closes it) and refunded, and sometimes a
/// second request or a goodwill refund.
pub fn after_sale_lifecycle() -> impl Strategy<Value = Vec<Step>> {
    (
        place(),
        any::<bool>(),
        proptest::bool::weighted(0.3),
        any::<bool>(),
        (
            any::<bool>(),
            line_qtys(),
            proptest::option::weighted(0.3, 0_u16..=1_000),
        ),
        (
            prop_oneof![3 => Just(0_u8), 2 => Just(9_u8), 1 => Just(1_u8), 1 => Just(2_u8)],
            proptest::bool::weighted(0.2),
            any::<bool>(),
        ),
        (
            proptest::bool::weighted(0.3),
            proptest::bool::weighted(0.15),
        ),
    )
        .prop_map(
            |(
                place,
                split_pay,
                cancel_one,
                two_shipments,
                (refund_only, lines, fee),
                (decision, damaged, again),
                (goodwill, never_sent),
            )| {
                let Step::Place { order, .. } = place else {
                    return vec![place];
                };
                let mut v = vec![place];
                if split_pay {
                    v.push(Step::PayPart {
                        order,
                        percent: 50,
                        method: 0,
                    });
                    v.push(Step::PayPart {
                        order,
                        percent: 100,
                        method: 1,
                    });
                } else {
                    v.push(Step::Pay { order, exact: true });
                }
                if cancel_one {
                    v.push(Step::CancelUnits {
                        order,
                        lines: vec![(0, 1)],
                        rest: false,
                    });
                }
                let pkg = |units: Vec<(u8, i64)>| vec![units];
                if two_shipments && cancel_one {
                    // One unit shipped and delivered, the rest cancelled:
                    // the order is delivered by the cancel.
                    v.push(Step::ShipShipment {
                        order,
                        shipment: 0,
                        packages: pkg(vec![(0, 1)]),
                        carrier: 0,
                    });
                    v.push(Step::DeliverShipment { order, shipment: 0 });
                    v.push(Step::CancelUnits {
                        order,
                        lines: Vec::new(),
                        rest: true,
                    });
                } else if two_shipments {
                    v.push(Step::ShipShipment {
                        order,
                        shipment: 0,
                        packages: pkg(vec![(0, 1)]),
                        carrier: 0,
                    });
                    v.push(Step::Ship { order, lines: None });
                    v.push(Step::DeliverShipment { order, shipment: 1 });
                    v.push(Step::DeliverShipment { order, shipment: 0 });
                } else {
                    v.push(Step::ShipShipment {
                        order,
                        shipment: 1,
                        packages: vec![vec![(0, 1)], vec![(1, 1)]],
                        carrier: 1,
                    });
                    v.push(Step::Ship { order, lines: None });
                    v.push(Step::Deliver { order });
                }
                let request = Step::RequestAfterSale {
                    order,
                    refund_only,
                    lines,
                    reason: 0,
                    fee,
                };
                v.push(request.clone());
                match decision {
                    // Approved by the timer (when `auto_approve_hours` is set).
                    9 => v.push(Step::Tick {
                        minutes: 60 * 24 * 2 + 1,
                    }),
                    // Rejected or withdrawn, then asked again and approved.
                    1 | 2 => {
                        v.push(Step::AfterSale {
                            order,
                            request: 0,
                            action: decision,
                            damaged: false,
                        });
                        v.push(request);
                        v.push(Step::AfterSale {
                            order,
                            request: 0,
                            action: 0,
                            damaged: false,
                        });
                    }
                    _ => v.push(Step::AfterSale {
                        order,
                        request: 0,
                        action: 0,
                        damaged: false,
                    }),
                }
                if !refund_only && never_sent {
                    // The goods never come back: the timer closes the
                    // return (when `return_ship_days` is set).
                    v.push(Step::Tick {
                        minutes: 60 * 24 * 8,
                    });
                }
                if !refund_only {
                    v.push(Step::AfterSale {
                        order,
                        request: 0,
                        action: 3,
                        damaged,
                    });
                }
                v.push(Step::AfterSale {
                    order,
                    request: 0,
                    action: 4,
                    damaged: false,
                });
                if again {
                    v.push(Step::RequestAfterSale {
                        order,
                        refund_only: !refund_only,
                        lines: vec![(0, 1), (1, 1)],
                        reason: 1,
                        fee: None,
                    });
                    v.push(Step::AfterSale {
                        order,
                        request: 0,
                        action: 0,
                        damaged: false,
                    });
                    v.push(Step::AfterSale {
                        order,
                        request: 0,
                        action: 3,
                        damaged: false,
                    });
                    v.push(Step::AfterSale {
                        order,
                        request: 0,
                        action: 4,
                        damaged: false,
                    });
                }
                if goodwill {
                    v.push(Step::Goodwill { order, percent: 50 });
                }
                v
            },
        )
}

/// A command sequence of `len` steps: single random [`step`]s mixed with
/// whole [`lifecycle`]s and [`after_sale_lifecycle`]s, so that late states
/// (delivered, returned, requests received and refunded) are reached
/// often.
pub fn steps(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            12 => step().prop_map(|s| vec![s]),
            2 => lifecycle(),
            2 => after_sale_lifecycle(),
        ],
        len,
    )
    .prop_map(|chunks| {
        let n = chunks.len();
        chunks.into_iter().flatten().take(n).collect()
    })
}

/// A presale deposit under [`PRESALE_PROMOTION`]: an order slot, a
/// customer (sometimes unknown), 1–2 lines of the SKUs at orderable
/// indices `skus` (sometimes any SKU, or an invalid quantity), the deposit
/// offered (sometimes one minor unit more).
pub fn presale_deposit(skus: Vec<u8>) -> impl Strategy<Value = Step> {
    let skus = if skus.is_empty() { vec![0] } else { skus };
    (
        slot(),
        prop_oneof![8 => 0_u8..3, 1 => Just(9_u8)],
        prop_oneof![
            12 => proptest::collection::vec((select(skus), 1_i64..=2), 1..=2),
            1 => proptest::collection::vec((0_u8..5, -1_i64..=3), 0..=2),
        ],
        proptest::bool::weighted(0.9),
    )
        .prop_map(|(order, customer, lines, exact)| Step::PresaleDeposit {
            order,
            customer,
            lines,
            exact,
        })
}

/// A presale promotion [`PRESALE_PROMOTION`] over some of `n` orderable
/// SKUs, priced from the list prices' range: price 10.00–500.00, deposit
/// `X` up to a quarter of it, deduction `Y` from `X` to half the price; a
/// deposit window from an hour before the generated shops' start time
/// lasting 2–24 hours; a balance window opening 0–12 hours after it and
/// lasting 1–24 hours; either policy for an unpaid balance; sometimes a
/// per-customer limit.
pub fn presale_promotion(n: usize) -> impl Strategy<Value = Promotion> {
    let n = n.max(1);
    (
        proptest::sample::subsequence((0..n).collect::<Vec<_>>(), 1..=n.min(2)),
        1_000_i64..=50_000,
        (1_i64..=25, 0_i64..=100),
        (select(vec![2_i64, 6, 24]), select(vec![0_i64, 1, 12]), select(vec![1_i64, 6, 24])),
        any::<bool>(),
        proptest::option::weighted(0.3, 1_i64..=4),
    )
        .prop_filter_map(
            "a valid presale",
            |(skus, price, (dep_pct, ded_pct), (dep_h, gap_h, bal_h), refund, limit)| {
                let deposit = (price * dep_pct / 100).max(1);
                let deduction = deposit + (price / 2 - deposit).max(0) * ded_pct / 100;
                let t = |h: i64| (crate::util::epoch() + chrono::Duration::hours(h)).to_rfc3339();
                let v = json!({
                    "id": PRESALE_PROMOTION, "kind": "presale",
                    "price": amount(price), "deposit": amount(deposit), "deduction": amount(deduction),
                    "deposit_window": {"from": t(-1), "to": t(dep_h)},
                    "balance_window": {"from": t(dep_h + gap_h), "to": t(dep_h + gap_h + bal_h)},
                    "on_unpaid_balance": if refund { "refund" } else { "forfeit" },
                    "per_customer_limit": limit,
                    "scope": {"skus": skus.iter().map(|i| format!("s{i}")).collect::<Vec<_>>()},
                });
                serde_json::from_value(v).ok()
            },
        )
}

/// A [`shop_setup`] with a presale promotion ([`presale_promotion`]).
pub fn presale_shop_setup() -> impl Strategy<Value = ShopSetup> {
    shop_setup().prop_flat_map(|setup| {
        let n = setup.orderable().len();
        (Just(setup), presale_promotion(n)).prop_map(|(mut setup, p)| {
            setup.promotions.push(p);
            setup
        })
    })
}

/// A step of a presale phase: deposits, balances (`pay`, or a part of 50,
/// 100 or 101 % of what is due), cancels, holds, and any other [`step`]
/// but a tick.
fn presale_phase_step(deposits: u32, skus: Vec<u8>) -> impl Strategy<Value = Step> {
    prop_oneof![
        deposits => presale_deposit(skus),
        4 => (slot(), proptest::bool::weighted(0.9)).prop_map(|(order, exact)| Step::Pay { order, exact }),
        3 => (slot(), select(vec![50_u8, 100, 101]), 0_u8..2)
            .prop_map(|(order, percent, method)| Step::PayPart { order, percent, method }),
        1 => slot().prop_map(|order| Step::Cancel { order }),
        1 => slot().prop_map(|order| Step::Hold { order }),
        6 => step().prop_filter("no tick", |s| !matches!(s, Step::Tick { .. })),
    ]
}

/// The presale promotion's windows as minutes after the generated shops'
/// start time: (balance opens, balance deadline).
fn balance_minutes(setup: &ShopSetup) -> Option<(i64, i64)> {
    let p = setup
        .promotions
        .iter()
        .find(|p| p.id == PRESALE_PROMOTION)?;
    let mercato::rules::PromotionRule::Presale { balance_window, .. } = &p.rule else {
        return None;
    };
    let at = |t: chrono::DateTime<chrono::Utc>| (t - crate::util::epoch()).num_minutes();
    Some((at(balance_window.from), at(balance_window.to)))
}

/// The rest of a paid order's life: shipped (at once, or a unit in a
/// shipment with a package first, or after a partial cancel), delivered,
/// then a staged request approved, received when goods come back, and
/// refunded.
pub fn order_tail() -> impl Strategy<Value = Vec<Step>> {
    (
        slot(),
        0_u8..3,
        any::<bool>(),
        line_qtys(),
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(order, how, refund_only, lines, damaged)| {
            let mut v = Vec::new();
            match how {
                0 => v.push(Step::CancelUnits {
                    order,
                    lines: vec![(0, 1)],
                    rest: false,
                }),
                1 => v.push(Step::ShipShipment {
                    order,
                    shipment: 2,
                    packages: vec![vec![(0, 1)]],
                    carrier: 2,
                }),
                _ => {}
            }
            v.push(Step::Ship { order, lines: None });
            v.push(Step::Deliver { order });
            v.push(Step::RequestAfterSale {
                order,
                refund_only,
                lines,
                reason: 3,
                fee: None,
            });
            let act = |action| Step::AfterSale {
                order,
                request: 0,
                action,
                damaged,
            };
            v.push(act(0));
            if !refund_only {
                v.push(act(3));
            }
            v.push(act(4));
            v
        })
}

/// The orderable indices of the presale promotion's SKUs.
fn presale_skus(setup: &ShopSetup) -> Vec<u8> {
    let scope: Vec<String> = setup
        .promotions
        .iter()
        .find(|p| p.id == PRESALE_PROMOTION)
        .map(|p| p.scope.skus.clone())
        .unwrap_or_default();
    setup
        .orderable()
        .iter()
        .enumerate()
        .filter(|(_, s)| scope.contains(s))
        .filter_map(|(i, _)| u8::try_from(i).ok())
        .collect()
}

fn tick(minutes: i64) -> Step {
    Step::Tick {
        minutes: u32::try_from(minutes.max(1)).unwrap_or(1),
    }
}

/// A presale case: a [`presale_shop_setup`] and a sequence in three
/// phases. In the deposit window (the clock moving by a few minutes at a
/// time): deposits and any other command. Then the clock jumps to the
/// balance window (its first instant, a minute in, or a minute before it
/// opens and then in): balances, wrong parts, cancels (forfeit or refund),
/// holds, anything else. Then to the balance deadline (exactly, or an hour
/// after): the unpaid orders close; then anything, time included, and
/// the rest of some orders' lives ([`order_tail`]: ship, deliver,
/// after-sale on the orders whose balance was paid).
pub fn presale_case() -> impl Strategy<Value = (ShopSetup, Vec<Step>)> {
    presale_shop_setup().prop_flat_map(|setup| {
        let (open, deadline) = balance_minutes(&setup).unwrap_or((0, 0));
        let scope = presale_skus(&setup);
        let deposit_phase = proptest::collection::vec(
            prop_oneof![
                8 => presale_phase_step(6, scope.clone()),
                1 => select(vec![1_u32, 10]).prop_map(|minutes| Step::Tick { minutes }),
            ],
            8..=15,
        );
        (
            Just(setup),
            deposit_phase,
            select(vec![-1_i64, 0, 1]),
            proptest::collection::vec(presale_phase_step(1, scope), 8..=15),
            select(vec![0_i64, 60]),
            proptest::collection::vec(
                prop_oneof![3 => step().prop_map(|s| vec![s]), 2 => order_tail()],
                6..=12,
            )
            .prop_map(|chunks| chunks.into_iter().flatten().take(24).collect::<Vec<_>>()),
        )
            .prop_map(move |(setup, a, open_off, b, late, c)| {
                let elapsed: i64 = a
                    .iter()
                    .map(|s| match s {
                        Step::Tick { minutes } => i64::from(*minutes),
                        _ => 0,
                    })
                    .sum();
                let mut seq = a;
                seq.push(tick(open + open_off - elapsed));
                let mut now = open + open_off;
                let (b1, b2) = b.split_at(b.len() / 3);
                seq.extend_from_slice(b1);
                if open_off < 0 {
                    // A minute before the window: now it opens.
                    seq.push(tick(1));
                    now += 1;
                }
                seq.extend_from_slice(b2);
                seq.push(tick(deadline + late - now));
                seq.extend(c);
                (setup, seq)
            })
    })
}

/// Many orders on one SKU: `k` placements of `s0` by the same or different
/// customers (for oversell tests), each paid right after.
pub fn concurrent_orders_on_one_sku(k: usize) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec((proptest::option::of(0_u8..3), 1_i64..=3), k).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .flat_map(|(i, (customer, qty))| {
                let order = u8::try_from(i % usize::from(ORDER_SLOTS)).unwrap_or(0);
                [
                    Step::Place {
                        order,
                        customer,
                        lines: vec![(0, qty)],
                        coupons: vec![],
                        points: 0,
                        channel: 0,
                    },
                    Step::Pay { order, exact: true },
                ]
            })
            .collect()
    })
}
