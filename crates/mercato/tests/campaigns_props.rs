//! Issue 12's money invariant, property-tested: a price change (now or
//! scheduled), a promotion replaced by a new version, paused or ended never
//! changes the money of an order placed before it, nor its refunds; and
//! replaying the log rebuilds the identical state, versions included.

use mercato::core::Currency;
use mercato::core::order::LineQty;
use mercato::store::MemoryStore;
use mercato::{
    Clock, EndOptions, Engine, ManualClock, PlaceOrderRequest, PriceOptions, RefundPolicy,
    ReturnOptions, Settings,
};
use proptest::prelude::*;

type E = Engine<MemoryStore, ManualClock>;

/// A change made after the orders were placed.
#[derive(Debug, Clone)]
enum Change {
    Price {
        cents: i64,
        later: bool,
    },
    Replace {
        off_cents: i64,
        threshold_cents: i64,
    },
    Pause,
    End,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (1_i64..5_000, any::<bool>()).prop_map(|(cents, later)| Change::Price { cents, later }),
        (1_i64..3_000, 0_i64..6_000).prop_map(|(off_cents, threshold_cents)| Change::Replace {
            off_cents,
            threshold_cents
        }),
        Just(Change::Pause),
        Just(Change::End),
    ]
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn shop(policy: RefundPolicy) -> (E, ManualClock) {
    let clock = ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap());
    let e = Engine::open(MemoryStore::new(), clock.clone()).unwrap();
    let settings = Settings {
        refund_policy: policy,
        ..Settings::default()
    };
    e.configure(Currency::CNY, settings).unwrap();
    e.add_catalog_item(serde_json::from_str(r#"{"sku": "a", "price": "12.00"}"#).unwrap())
        .unwrap();
    e.add_catalog_item(serde_json::from_str(r#"{"sku": "b", "price": "7.30"}"#).unwrap())
        .unwrap();
    e.adjust_stock("a", "main", 1000, "received").unwrap();
    e.adjust_stock("b", "main", 1000, "received").unwrap();
    e.register_customer("u1", Some("gold"), 0).unwrap();
    e.add_promotion(
        serde_json::from_str(
            r#"{"id": "fr", "kind": "full_reduction", "tiers": [{"threshold": "30.00", "off": "6.00"}], "budget": {"uses": 100}}"#,
        )
        .unwrap(),
    )
    .unwrap();
    e.add_promotion(
        serde_json::from_str(
            r#"{"id": "ten", "kind": "percent_off", "percent": "10", "scope": {"skus": ["b"]}, "conditions": {"new_customer": true}}"#,
        )
        .unwrap(),
    )
    .unwrap();
    (e, clock)
}

fn apply(e: &E, clock: &ManualClock, c: &Change) {
    // A refused change (pausing twice, touching an ended promotion) changes
    // nothing: that is fine for the property.
    let _ = match c {
        Change::Price { cents, later } => {
            let from = later.then(|| clock.now() + chrono::TimeDelta::minutes(1));
            e.change_price("a", money(*cents).as_str(), PriceOptions { from })
        }
        Change::Replace {
            off_cents,
            threshold_cents,
        } => e.replace_promotion(
            serde_json::from_str(&format!(
                r#"{{"id": "fr", "kind": "full_reduction", "tiers": [{{"threshold": "{}", "off": "{}"}}], "budget": {{"uses": 100}}}}"#,
                money(*threshold_cents),
                money(*off_cents)
            ))
            .unwrap(),
        ),
        Change::Pause => e.pause_promotion("fr"),
        Change::End => e.end_promotion("fr", EndOptions::default()),
    };
}

/// Places a paid, delivered order and a pending one, makes the changes
/// (or not), then returns some units: the payables and the refunds.
fn run(
    policy: RefundPolicy,
    qa: i64,
    qb: i64,
    back: i64,
    changes: &[Change],
) -> (Vec<String>, String, E) {
    let (e, clock) = shop(policy);
    let req = |id: &str| {
        PlaceOrderRequest::new(id)
            .line("a", qa)
            .line("b", qb)
            .customer("u1")
    };
    let p = e.place_order(req("o1"), None).unwrap();
    e.pay("o1", p.quote.totals.payable, None).unwrap();
    e.ship("o1", None, None).unwrap();
    e.deliver("o1", None).unwrap();
    e.place_order(req("o2"), None).unwrap();
    for c in changes {
        apply(&e, &clock, c);
        clock.advance(chrono::TimeDelta::minutes(2));
    }
    let o1 = e.order("o1").unwrap();
    let o2 = e.order("o2").unwrap();
    let payables = vec![
        o1.payable().amount().to_string(),
        o2.payable().amount().to_string(),
        serde_json::to_string(&o1.quote).unwrap(),
        serde_json::to_string(&o2.quote).unwrap(),
    ];
    let lines = vec![
        LineQty {
            line: 0,
            qty: back.min(qa),
        },
        LineQty { line: 1, qty: 1 },
    ];
    let refund = e
        .return_items("o1", lines, ReturnOptions::default(), None)
        .unwrap()
        .refund
        .amount()
        .to_string();
    (payables, refund, e)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn changes_never_move_placed_money_and_replay_rebuilds(
        qa in 1_i64..6,
        qb in 1_i64..4,
        back in 1_i64..6,
        reprice in any::<bool>(),
        changes in proptest::collection::vec(change(), 1..6),
    ) {
        let policy = if reprice { RefundPolicy::Reprice } else { RefundPolicy::ProRata };
        let (before, refund_before, _) = run(policy, qa, qb, back, &[]);
        let (after, refund_after, e) = run(policy, qa, qb, back, &changes);
        prop_assert_eq!(before, after);
        prop_assert_eq!(refund_before, refund_after);
        let live = e.read(|s| s.durable.clone()).unwrap();
        let again = mercato::rebuild(e.store()).unwrap();
        prop_assert_eq!(&again.durable, &live);
        let (versions, state) = e.read(|s| {
            let r = s.rules.as_ref().unwrap();
            (r.promotion_state("fr"), r.price_at("a", e.clock().now()))
        }).unwrap();
        let rules = again.rules.as_ref().unwrap();
        prop_assert_eq!(rules.promotion_state("fr"), versions);
        prop_assert_eq!(rules.price_at("a", e.clock().now()), state);
    }
}
