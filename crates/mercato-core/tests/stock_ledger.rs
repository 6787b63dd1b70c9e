//! Stock ledger: allocation by priority, splits, backorders, safety stock,
//! channel quotas, low-stock events, expiry; and the ledger invariants under
//! random command sequences (proptest).

// The purity lints (clippy.toml) are for the library: this test
// reads its environment (`MERCATO_PROPTEST_CASES`).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use mercato_core::stock::{
    AdjustStock, CloseQuota, ConfigureLocation, OpenQuota, SetLowStockThreshold,
};
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use mercato_core::CoreError;
use mercato_core::stock::{
    Allocation, ReleaseReason, StockCommand, StockEvent, StockLedger, StockLine,
};
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    "2026-03-02T09:00:00Z".parse().unwrap()
}

fn run(l: &mut StockLedger, c: StockCommand) -> Result<Vec<StockEvent>, CoreError> {
    let ev = l.decide(&c)?;
    for e in &ev {
        l.apply(e);
    }
    Ok(ev)
}

fn setup(locs: &[(&str, i64, i64, bool, i64)]) -> StockLedger {
    let mut l = StockLedger::new();
    for (loc, on_hand, safety, backorder, priority) in locs {
        run(
            &mut l,
            StockCommand::Configure(ConfigureLocation {
                sku: "a".into(),
                location: (*loc).into(),
                safety: *safety,
                backorder: *backorder,
                priority: *priority,
            }),
        )
        .unwrap();
        if *on_hand > 0 {
            run(
                &mut l,
                StockCommand::Adjust(AdjustStock {
                    sku: "a".into(),
                    location: (*loc).into(),
                    delta: *on_hand,
                    reason: "received".into(),
                }),
            )
            .unwrap();
        }
    }
    l
}

fn reserve(id: &str, qty: i64, channel: Option<&str>) -> StockCommand {
    StockCommand::Reserve {
        id: id.into(),
        lines: vec![StockLine {
            sku: "a".into(),
            qty,
        }],
        channel: channel.map(str::to_string),
        expires_at: None,
    }
}

fn allocations(ev: &[StockEvent]) -> Vec<(String, i64)> {
    ev.iter()
        .find_map(|e| match e {
            StockEvent::Reserved { allocations, .. } => Some(
                allocations
                    .iter()
                    .map(|a| (a.location.clone(), a.qty))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap()
}

#[test]
fn highest_priority_location_that_takes_the_whole_line() {
    // east has priority 5 but only 2; west (1) has 10; main (0) has 10.
    let mut l = setup(&[
        ("main", 10, 0, false, 0),
        ("west", 10, 0, false, 1),
        ("east", 2, 0, false, 5),
    ]);
    assert_eq!(
        allocations(&run(&mut l, reserve("r1", 2, None)).unwrap()),
        [("east".into(), 2)]
    );
    assert_eq!(
        allocations(&run(&mut l, reserve("r2", 3, None)).unwrap()),
        [("west".into(), 3)]
    );
    // Ties in priority: order of appearance.
    let mut l = setup(&[("x", 5, 0, false, 1), ("y", 5, 0, false, 1)]);
    assert_eq!(
        allocations(&run(&mut l, reserve("r", 5, None)).unwrap()),
        [("x".into(), 5)]
    );
}

#[test]
fn split_only_when_no_single_location_can() {
    let mut l = setup(&[("main", 4, 0, false, 0), ("west", 3, 0, false, 1)]);
    assert_eq!(
        allocations(&run(&mut l, reserve("r1", 6, None)).unwrap()),
        [("west".into(), 3), ("main".into(), 3)]
    );
    assert_eq!(l.level("a").reserved, 6);
    assert_eq!(l.level("a").available, 1);
}

#[test]
fn refusal_is_whole_and_names_the_sku() {
    let mut l = setup(&[("main", 3, 1, false, 0)]);
    let before = l.clone();
    let cmd = StockCommand::Reserve {
        id: "r".into(),
        lines: vec![
            StockLine {
                sku: "a".into(),
                qty: 1,
            },
            StockLine {
                sku: "a".into(),
                qty: 2,
            },
        ],
        channel: None,
        expires_at: None,
    };
    // Safety stock 1 leaves 2 available: the second line cannot be had.
    assert_eq!(
        l.decide(&cmd),
        Err(CoreError::InsufficientStock {
            sku: "a".into(),
            wanted: 2,
            available: 1
        })
    );
    assert_eq!(l, before);
    assert!(matches!(
        l.decide(&reserve("r", 0, None)),
        Err(CoreError::InvalidQuantity { .. })
    ));
    assert!(matches!(
        l.decide(&reserve("r", -3, None)),
        Err(CoreError::InvalidQuantity { .. })
    ));
    run(&mut l, reserve("r", 2, None)).unwrap();
    assert!(matches!(
        l.decide(&reserve("r", 1, None)),
        Err(CoreError::DuplicateReservation(_))
    ));
}

#[test]
fn backorder_is_an_explicit_permission() {
    let mut l = setup(&[("main", 2, 0, false, 1), ("dropship", 0, 0, true, 0)]);
    assert_eq!(
        allocations(&run(&mut l, reserve("r1", 5, None)).unwrap()),
        [("main".into(), 2), ("dropship".into(), 3)]
    );
    let d = l
        .sku("a")
        .unwrap()
        .locations
        .iter()
        .find(|x| x.location == "dropship")
        .unwrap()
        .clone();
    assert_eq!((d.on_hand, d.reserved), (0, 3));
}

#[test]
fn adjust_cannot_take_on_hand_below_reserved() {
    let mut l = setup(&[("main", 5, 0, false, 0)]);
    run(&mut l, reserve("r1", 3, None)).unwrap();
    assert!(matches!(
        l.decide(&StockCommand::Adjust(AdjustStock {
            sku: "a".into(),
            location: "main".into(),
            delta: -3,
            reason: "damage".into()
        })),
        Err(CoreError::InsufficientStock { .. })
    ));
    run(
        &mut l,
        StockCommand::Adjust(AdjustStock {
            sku: "a".into(),
            location: "main".into(),
            delta: -2,
            reason: "damage".into(),
        }),
    )
    .unwrap();
    assert_eq!(l.level("a").on_hand, 3);
    assert!(
        l.decide(&StockCommand::Adjust(AdjustStock {
            sku: "a".into(),
            location: "nowhere".into(),
            delta: -1,
            reason: "x".into()
        }))
        .is_err()
    );
}

#[test]
fn commit_release_and_expiry_each_end_a_reservation_once() {
    let mut l = setup(&[("main", 10, 0, false, 0)]);
    run(
        &mut l,
        StockCommand::Reserve {
            id: "r1".into(),
            lines: vec![StockLine {
                sku: "a".into(),
                qty: 3,
            }],
            channel: None,
            expires_at: Some(t0()),
        },
    )
    .unwrap();
    run(&mut l, reserve("r2", 2, None)).unwrap();
    run(
        &mut l,
        StockCommand::Commit {
            id: "r2".into(),
            lines: Some(vec![StockLine {
                sku: "a".into(),
                qty: 1,
            }]),
        },
    )
    .unwrap();
    assert_eq!((l.level("a").on_hand, l.level("a").reserved), (9, 4));
    assert!(
        l.decide(&StockCommand::Commit {
            id: "r2".into(),
            lines: Some(vec![StockLine {
                sku: "a".into(),
                qty: 2
            }])
        })
        .is_err()
    );
    // Expiry at `now` ≥ expires_at releases r1 only.
    let ev = run(
        &mut l,
        StockCommand::ExpireDue {
            now: t0() - Duration::seconds(1),
        },
    )
    .unwrap();
    assert!(ev.is_empty());
    let ev = run(&mut l, StockCommand::ExpireDue { now: t0() }).unwrap();
    assert!(
        matches!(&ev[..], [StockEvent::Released { id, reason: ReleaseReason::Expired, .. }] if id == "r1")
    );
    assert!(
        l.decide(&StockCommand::Release {
            id: "r1".into(),
            reason: ReleaseReason::Cancelled
        })
        .is_err()
    );
    run(
        &mut l,
        StockCommand::Commit {
            id: "r2".into(),
            lines: None,
        },
    )
    .unwrap();
    assert!(l.reservation("r2").is_none());
    assert_eq!(
        (
            l.level("a").on_hand,
            l.level("a").reserved,
            l.level("a").available
        ),
        (8, 0, 8)
    );
}

#[test]
fn channel_quota_is_reserved_for_its_channel_and_returns_on_close() {
    let mut l = setup(&[("main", 10, 0, false, 0)]);
    assert!(
        l.decide(&StockCommand::OpenQuota(OpenQuota {
            sku: "a".into(),
            channel: "flash".into(),
            qty: 11
        }))
        .is_err()
    );
    run(
        &mut l,
        StockCommand::OpenQuota(OpenQuota {
            sku: "a".into(),
            channel: "flash".into(),
            qty: 6,
        }),
    )
    .unwrap();
    assert_eq!(l.level("a").available, 4, "quota units are set aside");
    assert!(l.decide(&reserve("web1", 5, Some("web"))).is_err());
    run(&mut l, reserve("web1", 4, Some("web"))).unwrap();
    assert!(l.decide(&reserve("f1", 7, Some("flash"))).is_err());
    let ev = run(&mut l, reserve("f1", 6, Some("flash"))).unwrap();
    assert!(
        matches!(&ev[0], StockEvent::Reserved { allocations, .. } if allocations[0].quota.as_deref() == Some("flash"))
    );
    assert!(
        l.decide(&reserve("f2", 1, Some("flash"))).is_err(),
        "the quota is used up"
    );
    // A released flash order gives its units back to the quota, not to web.
    run(
        &mut l,
        StockCommand::Release {
            id: "f1".into(),
            reason: ReleaseReason::Closed,
        },
    )
    .unwrap();
    assert_eq!(l.level("a").available, 0);
    assert!(l.decide(&reserve("web2", 1, Some("web"))).is_err());
    let ev = run(
        &mut l,
        StockCommand::CloseQuota(CloseQuota {
            sku: "a".into(),
            channel: "flash".into(),
        }),
    )
    .unwrap();
    assert!(matches!(
        &ev[0],
        StockEvent::QuotaClosed { returned: 6, .. }
    ));
    assert_eq!(l.level("a").available, 6);
    run(&mut l, reserve("web2", 6, Some("flash"))).unwrap();
}

#[test]
fn low_stock_event_when_available_crosses_the_threshold() {
    let mut l = setup(&[("main", 10, 0, false, 0)]);
    run(
        &mut l,
        StockCommand::SetLowStockThreshold(SetLowStockThreshold {
            sku: "a".into(),
            threshold: Some(3),
        }),
    )
    .unwrap();
    let low = |ev: &[StockEvent]| ev.iter().any(|e| matches!(e, StockEvent::LowStock { .. }));
    assert!(
        !low(&run(&mut l, reserve("r1", 7, None)).unwrap()),
        "available 3 is not below 3"
    );
    let ev = run(&mut l, reserve("r2", 1, None)).unwrap();
    assert!(ev.iter().any(|e| matches!(
        e,
        StockEvent::LowStock {
            available: 2,
            threshold: 3,
            ..
        }
    )));
    assert!(
        !low(&run(&mut l, reserve("r3", 1, None)).unwrap()),
        "only on crossing"
    );
}

// ---------------------------------------------------------------------------
// Property tests: invariants under random sequences.

#[derive(Debug, Clone)]
enum Op {
    Adjust(usize, usize, i64),
    Reserve(Vec<(usize, i64)>, bool),
    Commit(usize, Option<i64>),
    Release(usize),
    Expire(i64),
    Restock(usize),
    OpenQuota(usize, i64),
    CloseQuota(usize),
}

const SKUS: [&str; 2] = ["a", "b"];
const LOCS: [&str; 3] = ["l0", "l1", "l2"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..2usize, 0..3usize, -5i64..12).prop_map(|(s, l, d)| Op::Adjust(s, l, d)),
        4 => (proptest::collection::vec((0..2usize, 1i64..8), 1..4), any::<bool>()).prop_map(|(v, f)| Op::Reserve(v, f)),
        2 => (0..20usize, proptest::option::of(1i64..5)).prop_map(|(i, q)| Op::Commit(i, q)),
        2 => (0..20usize).prop_map(Op::Release),
        1 => (0i64..120).prop_map(Op::Expire),
        1 => (0..20usize).prop_map(Op::Restock),
        1 => (0..2usize, 1i64..6).prop_map(|(s, q)| Op::OpenQuota(s, q)),
        1 => (0..2usize).prop_map(Op::CloseQuota),
    ]
}

fn layout() -> impl Strategy<Value = Vec<(i64, i64, bool, i64)>> {
    proptest::collection::vec(
        (0i64..15, 0i64..3, proptest::bool::weighted(0.2), 0i64..3),
        6,
    )
}

fn cases() -> u32 {
    std::env::var("MERCATO_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn stock_invariants_hold_under_random_sequences(layout in layout(), ops in proptest::collection::vec(op(), 1..60)) {
        let mut l = StockLedger::new();
        for (i, (on_hand, safety, backorder, priority)) in layout.iter().enumerate() {
            let (sku, loc) = (SKUS[i / 3], LOCS[i % 3]);
            run(&mut l, StockCommand::Configure(ConfigureLocation { sku: sku.into(), location: loc.into(), safety: *safety, backorder: *backorder, priority: *priority })).unwrap();
            if *on_hand > 0 {
                run(&mut l, StockCommand::Adjust(AdjustStock { sku: sku.into(), location: loc.into(), delta: *on_hand, reason: "received".into() })).unwrap();
            }
        }
        let mut ids: Vec<String> = Vec::new();
        let mut ended: BTreeSet<String> = BTreeSet::new();
        let mut sold: BTreeMap<String, Vec<Allocation>> = BTreeMap::new();
        for (n, op) in ops.into_iter().enumerate() {
            let pick = |i: usize| ids.get(i % ids.len().max(1)).cloned().unwrap_or_default();
            let cmd = match op {
                Op::Adjust(s, loc, d) => StockCommand::Adjust(AdjustStock { sku: SKUS[s].into(), location: LOCS[loc].into(), delta: d, reason: "count".into() }),
                Op::Reserve(lines, flash) => StockCommand::Reserve {
                    id: format!("r{n}"),
                    lines: lines.iter().map(|(s, q)| StockLine { sku: SKUS[*s].into(), qty: *q }).collect(),
                    channel: Some(if flash { "flash" } else { "web" }.into()),
                    expires_at: Some(t0() + Duration::minutes(n as i64)),
                },
                Op::Commit(i, q) => {
                    let id = pick(i);
                    let sku = l.reservation(&id).and_then(|r| r.held.first()).map(|a| a.sku.clone()).unwrap_or_else(|| "a".into());
                    StockCommand::Commit { id, lines: q.map(|q| vec![StockLine { sku, qty: q }]) }
                }
                Op::Release(i) => StockCommand::Release { id: pick(i), reason: ReleaseReason::Cancelled },
                Op::Expire(m) => StockCommand::ExpireDue { now: t0() + Duration::minutes(m) },
                Op::Restock(i) => {
                    let id = pick(i);
                    StockCommand::Restock { id: id.clone(), allocations: sold.get(&id).cloned().unwrap_or_default(), reason: "returned".into() }
                }
                Op::OpenQuota(s, q) => StockCommand::OpenQuota(OpenQuota { sku: SKUS[s].into(), channel: "flash".into(), qty: q }),
                Op::CloseQuota(s) => StockCommand::CloseQuota(CloseQuota { sku: SKUS[s].into(), channel: "flash".into() }),
            };
            let before = l.clone();
            match l.decide(&cmd) {
                Err(_) => { prop_assert_eq!(&before, &l); continue; }
                Ok(ev) => {
                    for e in &ev {
                        match e {
                            StockEvent::Reserved { id, .. } => ids.push(id.clone()),
                            StockEvent::Released { id, .. } => {
                                prop_assert!(ended.insert(id.clone()), "reservation {} ended twice", id);
                            }
                            StockEvent::Committed { id, allocations } => {
                                sold.entry(id.clone()).or_default().extend(allocations.iter().cloned());
                            }
                            StockEvent::Restocked { id, .. } => { sold.remove(id); }
                            _ => {}
                        }
                        l.apply(e);
                    }
                    for e in &ev {
                        if let StockEvent::Committed { id, .. } = e
                            && l.reservation(id).is_none() {
                                prop_assert!(ended.insert(id.clone()), "reservation {} ended twice", id);
                            }
                    }
                }
            }
            // Invariants after every step.
            for (sku, s) in l.skus() {
                for loc in &s.locations {
                    prop_assert!(loc.reserved >= 0);
                    if !loc.backorder {
                        prop_assert!(loc.reserved <= loc.on_hand, "{} at {}: reserved {} > on_hand {}", sku, loc.location, loc.reserved, loc.on_hand);
                    }
                    let held: i64 = l.reservations().flat_map(|r| r.held.iter()).filter(|a| &a.sku == sku && a.location == loc.location).map(|a| a.qty).sum();
                    prop_assert_eq!(held, loc.reserved, "Σ reservations = reserved at {} {}", sku, loc.location);
                }
                for q in &s.quotas {
                    prop_assert!(q.taken >= 0);
                }
                prop_assert!(s.available() >= 0);
            }
            for r in l.reservations() {
                prop_assert!(!ended.contains(&r.id), "an ended reservation is open again");
                prop_assert!(r.held.iter().all(|a| a.qty > 0));
            }
        }
    }
}

fn adjust(sku: &str, location: &str, delta: i64) -> StockCommand {
    StockCommand::Adjust(AdjustStock {
        sku: sku.into(),
        location: location.into(),
        delta,
        reason: "count".into(),
    })
}

/// Issue 11: two locations at `i64::MAX` summed to −2. The adjustment that
/// would take the SKU's total (or a location) beyond `i64` is refused with
/// a typed error and changes nothing; the level never wraps.
#[test]
fn an_adjustment_that_would_overflow_the_total_is_refused() {
    let mut l = StockLedger::new();
    run(&mut l, adjust("a", "east", i64::MAX)).unwrap();
    let before = l.clone();
    for (loc, delta) in [("west", i64::MAX), ("west", 1), ("east", 1)] {
        let e = run(&mut l, adjust("a", loc, delta)).unwrap_err();
        assert!(
            matches!(&e, CoreError::StockOverflow { sku, delta: d, .. } if sku == "a" && *d == delta),
            "{loc} {delta}: {e:?}"
        );
        assert_eq!(l, before, "a refused adjustment changes nothing");
    }
    assert_eq!(l.level("a").on_hand, i64::MAX);
    // Taking some away first makes room elsewhere: MAX - 10 + 10 = MAX.
    run(&mut l, adjust("a", "east", -10)).unwrap();
    run(&mut l, adjust("a", "west", 10)).unwrap();
    let level = l.level("a");
    assert_eq!(level.on_hand, i64::MAX);
    assert_eq!(level.available, i64::MAX);
    // A backorder location cannot go below i64::MIN either.
    let mut b = setup(&[("main", 0, 0, true, 0)]);
    run(&mut b, adjust("a", "main", i64::MIN)).unwrap();
    assert!(matches!(
        run(&mut b, adjust("a", "main", -1)),
        Err(CoreError::StockOverflow { .. })
    ));
}

/// A ledger that already holds huge counts (events from before the check,
/// applied as they are): reported sums saturate instead of wrapping.
#[test]
fn levels_of_a_ledger_with_huge_counts_saturate() {
    let mut l = StockLedger::new();
    for loc in ["east", "west"] {
        for e in [
            StockEvent::Configured {
                sku: "a".into(),
                location: loc.into(),
                safety: 0,
                backorder: false,
                priority: 0,
            },
            StockEvent::Adjusted {
                sku: "a".into(),
                location: loc.into(),
                delta: i64::MAX,
                reason: "old log".into(),
            },
        ] {
            l.apply(&e);
        }
    }
    let level = l.level("a");
    assert_eq!(level.on_hand, i64::MAX, "saturates, never −2");
    assert_eq!(level.available, i64::MAX);
    assert!(level.reserved >= 0);
    // Reserving still works and nothing wraps.
    run(&mut l, reserve("r1", 5, None)).unwrap();
    let level = l.level("a");
    assert_eq!(level.reserved, 5);
    assert_eq!(level.on_hand, i64::MAX);
    // Safety stock of i64::MAX on an empty location: free is negative but
    // exact, and the level stays at zero available.
    let mut s = setup(&[("main", 0, i64::MAX, true, 0)]);
    run(&mut s, adjust("a", "main", -5)).unwrap();
    assert_eq!(s.level("a").available, 0);
    assert_eq!(s.sku("a").unwrap().locations[0].free(), i64::MIN);
}
