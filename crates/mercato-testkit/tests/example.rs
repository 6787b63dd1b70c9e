// The complete example of docs/testing.md (a test checks they are equal).
use mercato::core::order::OrderStatus;
use mercato::rules::CartLine;
use mercato::store::{MemoryStore, Store};
use mercato::{Engine, EngineError, ManualClock, PlaceOrderRequest};
use mercato_testkit::strategies::{cart_lines, shop_setup, steps};
use mercato_testkit::{ModelRunner, check_engine, proptest_cases};
use proptest::prelude::*;

/// The integrator's code under test: place an order and pay it at once.
fn checkout<S: Store + 'static>(
    engine: &Engine<S, ManualClock>,
    id: &str,
    customer: Option<&str>,
    lines: Vec<CartLine>,
) -> Result<OrderStatus, EngineError> {
    let placed = engine.place_order(
        PlaceOrderRequest {
            id: id.into(),
            customer: customer.map(str::to_string),
            lines,
            coupons: vec![],
            points: 0,
            channel: None,
        },
        Some(id), // idempotency key: a retried checkout is harmless
    )?;
    if placed.status != OrderStatus::PendingPayment {
        return Ok(placed.status);
    }
    engine.pay(id, placed.quote.totals.payable, None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(64)))]

    /// Our checkout on a random shop: every invariant holds afterwards, a
    /// failed checkout changes no stock, and a retried one is a no-op.
    #[test]
    fn checkout_keeps_the_shop_sound(
        setup in shop_setup(),
        carts in proptest::collection::vec(cart_lines(2), 1..10),
    ) {
        let clock = ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap());
        let engine = Engine::open(MemoryStore::new(), clock).unwrap();
        setup.install(&engine).unwrap();
        for (i, lines) in carts.into_iter().enumerate() {
            let id = format!("web-{i}");
            let before = engine.read(|st| st.shop().stock().clone()).unwrap();
            match checkout(&engine, &id, Some("u0"), lines.clone()) {
                Ok(status) => {
                    prop_assert!(status == "paid" || status == "on_hold", "{status}");
                    // Retrying the same checkout changes nothing.
                    let head = engine.store().head().unwrap();
                    let _ = checkout(&engine, &id, Some("u0"), lines);
                    prop_assert_eq!(engine.store().head().unwrap(), head);
                }
                Err(_) => {
                    let after = engine.read(|st| st.shop().stock().clone()).unwrap();
                    prop_assert!(before == after, "a failed checkout moved stock");
                }
            }
            let violations = check_engine(&engine);
            prop_assert!(violations.is_empty(), "{violations:?}");
        }
    }

    /// mercato itself against the kit's reference model, as our suite does.
    #[test]
    fn engine_matches_the_reference_model(setup in shop_setup(), seq in steps(20..=40)) {
        let mut runner = ModelRunner::new(MemoryStore::new(), &setup)
            .map_err(|d| TestCaseError::fail(d.to_string()))?;
        runner.run(&seq).map_err(|d| TestCaseError::fail(d.to_string()))?;
    }
}
