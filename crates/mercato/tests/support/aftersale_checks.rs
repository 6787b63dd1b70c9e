//! Checks shared by the after-sale property tests (`aftersale.rs`,
//! `exchange.rs`).

use mercato::core::order::Order;
use mercato::store::Store;
use mercato::{Engine, ManualClock};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Returned units go back only where they left: per order, SKU and
/// location, the units restocked by returns (exchanges' included) never
/// exceed the units its shipments took from there, exchange lines'
/// shipments included (read from the stored log).
pub fn check_return_locations<S: Store + 'static>(
    e: &Engine<S, ManualClock>,
) -> Result<(), TestCaseError> {
    use mercato::core::Event;
    use mercato::core::stock::StockEvent;
    use std::collections::BTreeMap;
    let mut back: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for stored in e.store().read_from(0, usize::MAX).unwrap() {
        let ev: mercato::LogEvent = serde_json::from_str(&stored.payload).unwrap();
        if let mercato::LogEvent::Core(Event::Stock(StockEvent::Restocked {
            id,
            allocations,
            reason,
        })) = ev
            && reason == "returned"
        {
            for a in allocations {
                *back.entry((id.clone(), a.sku, a.location)).or_default() += a.qty;
            }
        }
    }
    let orders: Vec<Order> = e.read(|s| s.shop().orders().cloned().collect()).unwrap();
    for ((order, sku, location), qty) in back {
        let o = orders.iter().find(|o| o.id == order).unwrap();
        let left: i64 = o
            .shipments
            .iter()
            .flat_map(|s| &s.sources)
            .filter(|u| u.location == location && o.line(u.line).unwrap().sku == sku)
            .map(|u| u.qty)
            .sum();
        prop_assert!(
            qty <= left,
            "{order}: {qty} {sku} restocked at {location}, only {left} left from there"
        );
    }
    Ok(())
}
