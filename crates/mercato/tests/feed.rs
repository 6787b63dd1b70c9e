//! The event feed: the pinned JSON of every integration event type, a whole
//! order's life told through the feed, consumers (at least once, acks that
//! never move back, checkpoints in the store), waits woken by commits, and
//! the feed across two processes on PostgreSQL (`LISTEN/NOTIFY`).

use mercato::SetLowStockThreshold;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mercato::core::coupon::{ClaimVia, CouponEvent};
use mercato::core::event::CustomerEvent;
use mercato::core::order::{LineQty, OrderEvent};
use mercato::core::payments::PaymentRecord;
use mercato::core::points::PointsEvent;
use mercato::core::stock::{Allocation, ReleaseReason, StockEvent};
use mercato::core::{Currency, Event, Money, Quote};
use mercato::feed::{FeedEvent, IntegrationEvent, TYPES, integration_events};
use mercato::store::{MemoryStore, Store};
use mercato::{
    Engine, ErrorKind, LogEvent, ManualClock, PlaceOrderRequest, Request, ReturnOptions, Settings,
};

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

fn cny(s: &str) -> Money {
    Money::parse(s, Currency::CNY).unwrap()
}

fn alloc(sku: &str, location: &str, qty: i64) -> Allocation {
    Allocation {
        sku: sku.into(),
        location: location.into(),
        qty,
        quota: None,
    }
}

/// Every internal event that tells integrators something, with the exact
/// JSON each becomes (envelope of stored event 7, so ids are `7.<i>`).
fn pinned() -> Vec<(Event, Vec<&'static str>)> {
    let quote =
        Quote::at_list_prices(Currency::CNY, &[("tea", 3, cny("12.00"))], cny("0.00")).unwrap();
    vec![
        (
            Event::Customer(CustomerEvent::Registered {
                id: "u1".into(),
                tier: Some("gold".into()),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"customer.registered.v1","data":{"customer":"u1","tier":"gold"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::Placed {
                id: "o1".into(),
                customer: Some("u1".into()),
                channel: "web".into(),
                quote: Arc::new(quote),
                allocations: vec![alloc("tea", "main", 3)],
                at: at("2026-11-11T10:00:00Z"),
                deadline: Some(at("2026-11-11T10:30:00Z")),
            }),
            // 3 × 12.00 = 36.00 at list price, no discount, no shipping.
            vec![
                r#"{"id":"7.0","seq":7,"type":"order.placed.v1","data":{"order":"o1","customer":"u1","channel":"web","currency":"CNY","lines":[{"line":0,"sku":"tea","qty":3,"unit_price":"12.00","net":"36.00","gift":false}],"totals":{"list":"36.00","discount":"0.00","shipping":"0.00","payable":"36.00"},"coupons":[],"points_used":0,"placed_at":"2026-11-11T10:00:00Z","pay_by":"2026-11-11T10:30:00Z"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::Held {
                id: "o1".into(),
                reasons: vec!["large_order".into()],
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"order.held.v1","data":{"order":"o1","reasons":["large_order"]}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::Released {
                id: "o1".into(),
                deadline: None,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"order.released.v1","data":{"order":"o1","pay_by":null}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::Paid {
                id: "o1".into(),
                amount: cny("36.00"),
                at: at("2026-11-11T10:05:00Z"),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"order.paid.v1","data":{"order":"o1","amount":"36.00","currency":"CNY","paid_at":"2026-11-11T10:05:00Z"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::Cancelled {
                id: "o1".into(),
                refund: cny("36.00"),
                rejected: false,
                allocations: Vec::new(),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"order.cancelled.v1","data":{"order":"o1","refund":"36.00","currency":"CNY","rejected":false}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::Closed {
                id: "o1".into(),
                at: at("2026-11-11T10:30:00Z"),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"order.closed.v1","data":{"order":"o1","closed_at":"2026-11-11T10:30:00Z"}}"#,
            ],
        ),
        (
            // A shipment of a log written before shipments had ids: the
            // feed JSON it always had.
            Event::Order(OrderEvent::Shipped {
                id: "o1".into(),
                lines: vec![LineQty { line: 0, qty: 2 }],
                shipment: None,
                packages: Vec::new(),
                sources: Vec::new(),
                at: None,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"order.shipped.v1","data":{"order":"o1","lines":[{"line":0,"qty":2}]}}"#,
            ],
        ),
        (
            // A shipment with two packages: its id, carriers and tracking
            // numbers (where the units left from stays internal: the
            // stock.changed facts tell it).
            Event::Order(OrderEvent::Shipped {
                id: "o1".into(),
                lines: vec![LineQty { line: 0, qty: 3 }],
                shipment: Some("s1".into()),
                packages: vec![
                    mercato::Package::new("SF", "SF1001").unit(0, 2),
                    mercato::Package::new("JD", "JD77").unit(0, 1),
                ],
                sources: vec![mercato::UnitSource {
                    line: 0,
                    location: "main".into(),
                    qty: 3,
                }],
                at: Some(at("2026-11-12T08:00:00Z")),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"order.shipped.v1","data":{"order":"o1","lines":[{"line":0,"qty":3}],"shipment":"s1","packages":[{"carrier":"SF","tracking":"SF1001","lines":[{"line":0,"qty":2}]},{"carrier":"JD","tracking":"JD77","lines":[{"line":0,"qty":1}]}]}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::ShipmentDelivered {
                id: "o1".into(),
                shipment: "s1".into(),
                at: at("2026-11-12T09:00:00Z"),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"shipment.delivered.v1","data":{"order":"o1","shipment":"s1","delivered_at":"2026-11-12T09:00:00Z"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::Delivered {
                id: "o1".into(),
                at: at("2026-11-12T09:00:00Z"),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"order.delivered.v1","data":{"order":"o1","delivered_at":"2026-11-12T09:00:00Z"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::Completed { id: "o1".into() }),
            vec![r#"{"id":"7.0","seq":7,"type":"order.completed.v1","data":{"order":"o1"}}"#],
        ),
        (
            Event::Order(OrderEvent::ReturnRequested {
                id: "o1".into(),
                return_id: "o1-r1".into(),
                lines: vec![LineQty { line: 0, qty: 1 }],
                restock: true,
                kind: Default::default(),
                reason_code: None,
                note: None,
                at: None,
                return_shipping_fee: None,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"return.requested.v1","data":{"order":"o1","return_id":"o1-r1","lines":[{"line":0,"qty":1}],"restock":true}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::ReturnApproved {
                id: "o1".into(),
                return_id: "o1-r1".into(),
                at: None,
                auto: false,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"return.approved.v1","data":{"order":"o1","return_id":"o1-r1"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::ReturnRejected {
                id: "o1".into(),
                return_id: "o1-r1".into(),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"return.rejected.v1","data":{"order":"o1","return_id":"o1-r1"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::ReturnReceived {
                id: "o1".into(),
                return_id: "o1-r1".into(),
                damaged: false,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"return.received.v1","data":{"order":"o1","return_id":"o1-r1"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::Refunded {
                id: "o1".into(),
                return_id: "o1-r1".into(),
                amount: cny("12.00"),
                points_returned: 5,
                held_back: cny("0.00"),
                kind: Default::default(),
                lines: None,
                shipping: None,
                allocations: Vec::new(),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"refund.issued.v1","data":{"order":"o1","return_id":"o1-r1","amount":"12.00","currency":"CNY","points_returned":5}}"#,
            ],
        ),
        (
            Event::Stock(StockEvent::Adjusted {
                sku: "tea".into(),
                location: "main".into(),
                delta: 10,
                reason: "received".into(),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"stock.changed.v1","data":{"sku":"tea","location":"main","on_hand_delta":10,"reserved_delta":0,"reason":"adjusted:received","order":null}}"#,
            ],
        ),
        (
            // One stock.changed.v1 per SKU and location held.
            Event::Stock(StockEvent::Reserved {
                id: "o1".into(),
                allocations: vec![alloc("tea", "main", 2), alloc("tea", "east", 1)],
                expires_at: None,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"stock.changed.v1","data":{"sku":"tea","location":"main","on_hand_delta":0,"reserved_delta":2,"reason":"reserved","order":"o1"}}"#,
                r#"{"id":"7.1","seq":7,"type":"stock.changed.v1","data":{"sku":"tea","location":"east","on_hand_delta":0,"reserved_delta":1,"reason":"reserved","order":"o1"}}"#,
            ],
        ),
        (
            Event::Stock(StockEvent::Committed {
                id: "o1".into(),
                allocations: vec![alloc("tea", "main", 3)],
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"stock.changed.v1","data":{"sku":"tea","location":"main","on_hand_delta":-3,"reserved_delta":-3,"reason":"sold","order":"o1"}}"#,
            ],
        ),
        (
            Event::Stock(StockEvent::Released {
                id: "o1".into(),
                reason: ReleaseReason::Closed,
                allocations: vec![alloc("tea", "main", 3)],
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"stock.changed.v1","data":{"sku":"tea","location":"main","on_hand_delta":0,"reserved_delta":-3,"reason":"released:closed","order":"o1"}}"#,
            ],
        ),
        (
            Event::Stock(StockEvent::Restocked {
                id: "o1".into(),
                allocations: vec![alloc("tea", "main", 1)],
                reason: "return".into(),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"stock.changed.v1","data":{"sku":"tea","location":"main","on_hand_delta":1,"reserved_delta":0,"reason":"restocked:return","order":"o1"}}"#,
            ],
        ),
        (
            Event::Stock(StockEvent::LowStock {
                sku: "tea".into(),
                available: 2,
                threshold: 5,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"stock.low.v1","data":{"sku":"tea","available":2,"threshold":5}}"#,
            ],
        ),
        (
            // Crossing the threshold down to nothing: low and out.
            Event::Stock(StockEvent::LowStock {
                sku: "tea".into(),
                available: 0,
                threshold: 1,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"stock.low.v1","data":{"sku":"tea","available":0,"threshold":1}}"#,
                r#"{"id":"7.1","seq":7,"type":"stock.out.v1","data":{"sku":"tea","available":0}}"#,
            ],
        ),
        (
            Event::Coupon(CouponEvent::Issued {
                code: "SAVE10".into(),
                owner: Some("u1".into()),
                usage_limit: Some(1),
                per_customer_limit: 1,
                valid_until: None,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"coupon.issued.v1","data":{"code":"SAVE10","owner":"u1"}}"#,
            ],
        ),
        (
            Event::Coupon(CouponEvent::Locked {
                code: "SAVE10".into(),
                order: "o1".into(),
                customer: Some("u1".into()),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"coupon.locked.v1","data":{"code":"SAVE10","order":"o1","customer":"u1"}}"#,
            ],
        ),
        (
            Event::Coupon(CouponEvent::Redeemed {
                code: "SAVE10".into(),
                order: "o1".into(),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"coupon.redeemed.v1","data":{"code":"SAVE10","order":"o1"}}"#,
            ],
        ),
        (
            Event::Coupon(CouponEvent::Returned {
                code: "SAVE10".into(),
                order: "o1".into(),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"coupon.released.v1","data":{"code":"SAVE10","order":"o1"}}"#,
            ],
        ),
        (
            Event::Points(PointsEvent::Spent {
                customer: "u1".into(),
                order: "o1".into(),
                points: 100,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"points.changed.v1","data":{"customer":"u1","delta":-100,"reason":"spent","order":"o1"}}"#,
            ],
        ),
        (
            // One part payment of 20.00 by card; the order is not paid yet.
            Event::Order(OrderEvent::PaymentCaptured {
                id: "o1".into(),
                payment: PaymentRecord {
                    id: "o1-p1".into(),
                    method: "card".into(),
                    amount: cny("20.00"),
                    reference: Some("tx-1".into()),
                    key: None,
                    at: at("2026-11-11T10:04:00Z"),
                    refunded: cny("0.00"),
                    exchange: None,
                },
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"payment.captured.v1","data":{"order":"o1","payment":"o1-p1","method":"card","amount":"20.00","currency":"CNY","reference":"tx-1"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::ReturnWithdrawn {
                id: "o1".into(),
                return_id: "o1-r1".into(),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"return.withdrawn.v1","data":{"order":"o1","return_id":"o1-r1"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::ReturnClosed {
                id: "o1".into(),
                return_id: "o1-r1".into(),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"return.closed.v1","data":{"order":"o1","return_id":"o1-r1"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::UnitsCancelled {
                id: "o1".into(),
                lines: vec![LineQty { line: 0, qty: 1 }],
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"order.units_cancelled.v1","data":{"order":"o1","lines":[{"line":0,"qty":1}]}}"#,
            ],
        ),
        (
            Event::Coupon(CouponEvent::Claimed {
                code: "NEW10-u1-1".into(),
                template: "NEW10".into(),
                owner: "u1".into(),
                valid_from: Some(at("2026-11-11T10:00:00Z")),
                valid_until: Some(at("2026-11-18T10:00:00Z")),
                via: ClaimVia::Claim,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"coupon.claimed.v1","data":{"code":"NEW10-u1-1","template":"NEW10","owner":"u1","via":"claim","valid_from":"2026-11-11T10:00:00Z","valid_until":"2026-11-18T10:00:00Z"}}"#,
            ],
        ),
        (
            Event::Coupon(CouponEvent::Revoked {
                code: "NEW10-u1-1".into(),
            }),
            vec![r#"{"id":"7.0","seq":7,"type":"coupon.revoked.v1","data":{"code":"NEW10-u1-1"}}"#],
        ),
        (
            // Points taken back are a negative change.
            Event::Points(PointsEvent::ClawedBack {
                customer: "u1".into(),
                order: "o1".into(),
                points: 12,
                shortfall: 0,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"points.changed.v1","data":{"customer":"u1","delta":-12,"reason":"clawed_back","order":"o1"}}"#,
            ],
        ),
        (
            // A presale deposit of 50.00 per unit counting as 100.00, two units.
            Event::Order(OrderEvent::PresaleDeposited {
                id: "o1".into(),
                terms: mercato::core::presale::PresaleTerms {
                    promotion: "ps".into(),
                    units: 2,
                    deposit_per_unit: cny("50.00"),
                    deduction_per_unit: cny("100.00"),
                    deposit: cny("100.00"),
                    deduction: cny("200.00"),
                    balance_from: at("2026-11-11T00:00:00Z"),
                    balance_until: at("2026-11-12T00:00:00Z"),
                    on_unpaid_balance: mercato::core::presale::UnpaidBalance::Forfeit,
                },
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"presale.deposit_paid.v1","data":{"order":"o1","promotion":"ps","units":2,"deposit":"100.00","deduction":"200.00","currency":"CNY","balance_from":"2026-11-11T00:00:00Z","balance_until":"2026-11-12T00:00:00Z","on_unpaid_balance":"forfeit"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::PresaleBalancePaid {
                id: "o1".into(),
                amount: cny("400.00"),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"presale.balance_paid.v1","data":{"order":"o1","amount":"400.00","currency":"CNY"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::PresaleLapsed {
                id: "o1".into(),
                forfeited: cny("100.00"),
                refunded: cny("0.00"),
                policy: mercato::core::presale::UnpaidBalance::Forfeit,
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"presale.lapsed.v1","data":{"order":"o1","forfeited":"100.00","refunded":"0.00","currency":"CNY","policy":"forfeit"}}"#,
            ],
        ),
        (
            // An exchange of 1 unit of line 0 for a shirt-l.
            Event::Order(OrderEvent::ExchangeRequested {
                id: "o1".into(),
                return_id: "o1-r1".into(),
                items: vec![mercato::core::exchange::ExchangeItem {
                    line: 0,
                    qty: 1,
                    sku: "shirt-l".into(),
                }],
                reason_code: Some("too_small".into()),
                note: None,
                at: at("2026-11-11T10:05:00Z"),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"exchange.requested.v1","data":{"order":"o1","request":"o1-r1","items":[{"line":0,"qty":1,"sku":"shirt-l"}]}}"#,
            ],
        ),
        (
            // Approved with 20.00 to pay by the next day.
            Event::Order(OrderEvent::ExchangeApproved {
                id: "o1".into(),
                return_id: "o1-r1".into(),
                at: at("2026-11-11T10:06:00Z"),
                reservation: "o1-r1/exchange".into(),
                prices: vec![mercato::core::exchange::ExchangePrice {
                    list_from: cny("100.00"),
                    list_to: cny("120.00"),
                    difference: cny("20.00"),
                }],
                due: cny("20.00"),
                pay_by: Some(at("2026-11-12T10:06:00Z")),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"exchange.approved.v1","data":{"order":"o1","request":"o1-r1","reservation":"o1-r1/exchange","due":"20.00","currency":"CNY","pay_by":"2026-11-12T10:06:00Z"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::ExchangePaid {
                id: "o1".into(),
                return_id: "o1-r1".into(),
                at: at("2026-11-11T10:07:00Z"),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"exchange.paid.v1","data":{"order":"o1","request":"o1-r1"}}"#,
            ],
        ),
        (
            // The order had one line: the new one is line 1.
            Event::Order(OrderEvent::Exchanged {
                id: "o1".into(),
                return_id: "o1-r1".into(),
                first_line: 1,
                lines: vec![mercato::core::exchange::ExchangeLine {
                    sku: "shirt-l".into(),
                    qty: 1,
                    net: cny("110.00"),
                    points_deduction: cny("0.00"),
                    unit_price: cny("120.00"),
                    replaces: LineQty { line: 0, qty: 1 },
                    request: "o1-r1".into(),
                    reservation: "o1-r1/exchange".into(),
                }],
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"exchange.completed.v1","data":{"order":"o1","request":"o1-r1","lines":[{"line":1,"sku":"shirt-l","qty":1,"net":"110.00","replaces_line":0}],"currency":"CNY"}}"#,
            ],
        ),
        (
            Event::Order(OrderEvent::ExchangeConverted {
                id: "o1".into(),
                return_id: "o1-r2".into(),
                at: at("2026-11-11T10:08:00Z"),
            }),
            vec![
                r#"{"id":"7.0","seq":7,"type":"exchange.converted.v1","data":{"order":"o1","request":"o1-r2"}}"#,
            ],
        ),
    ]
}

fn feed_json(event: &Event) -> Vec<String> {
    integration_events(&LogEvent::Core(event.clone()))
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            serde_json::to_string(&FeedEvent {
                id: format!("7.{i}"),
                seq: 7,
                event,
            })
            .unwrap()
        })
        .collect()
}

#[test]
fn every_integration_type_has_pinned_json() {
    let mut covered = BTreeSet::new();
    for (event, want) in pinned() {
        let got = feed_json(&event);
        assert_eq!(got, want, "the feed JSON of {event:?}");
        for json in &got {
            // Consumers written in Rust read it back unchanged.
            let back: FeedEvent = serde_json::from_str(json).unwrap();
            assert_eq!(&serde_json::to_string(&back).unwrap(), json);
            covered.insert(back.event.type_name());
        }
    }
    // The earned side of points.changed.v1: the reason is the one given.
    let earned = feed_json(&Event::Points(PointsEvent::Earned {
        customer: "u1".into(),
        points: 50,
        reason: "welcome".into(),
    }));
    assert_eq!(
        earned,
        [
            r#"{"id":"7.0","seq":7,"type":"points.changed.v1","data":{"customer":"u1","delta":50,"reason":"welcome","order":null}}"#
        ]
    );
    assert_eq!(
        covered,
        TYPES.iter().copied().collect::<BTreeSet<_>>(),
        "every type of the schema is pinned"
    );
}

#[test]
fn configuration_and_bookkeeping_tell_integrators_nothing() {
    for e in [
        Event::Order(OrderEvent::StockCommitted { id: "o1".into() }),
        Event::Stock(StockEvent::Extended {
            id: "o1".into(),
            expires_at: None,
        }),
        Event::Stock(StockEvent::ThresholdSet {
            sku: "tea".into(),
            threshold: Some(3),
        }),
    ] {
        assert!(feed_json(&e).is_empty(), "{e:?}");
    }
}

fn shop() -> Engine<MemoryStore, ManualClock> {
    let clock = ManualClock::new(at("2026-11-11T10:00:00Z"));
    let engine = Engine::open(MemoryStore::new(), clock).unwrap();
    engine
        .configure(Currency::CNY, Settings::default())
        .unwrap();
    engine
        .add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "12.00"}"#).unwrap())
        .unwrap();
    engine.adjust_stock("tea", "main", 4, "received").unwrap();
    engine
        .execute(
            &Request::SetLowStockThreshold(SetLowStockThreshold {
                sku: "tea".into(),
                threshold: Some(1),
            }),
            None,
        )
        .unwrap();
    engine.register_customer("u1", None, 0).unwrap();
    engine
}

fn place(engine: &Engine<MemoryStore, ManualClock>, id: &str, qty: i64) -> Money {
    engine
        .place_order(
            PlaceOrderRequest::new(id).customer("u1").line("tea", qty),
            Some(&format!("place-{id}")),
        )
        .unwrap()
        .quote
        .totals
        .payable
}

fn types(page: &[FeedEvent]) -> Vec<&'static str> {
    page.iter().map(|e| e.event.type_name()).collect()
}

#[test]
fn an_orders_life_through_the_feed() {
    let engine = shop();
    let start = engine.store().head().unwrap();
    let payable = place(&engine, "o1", 4);
    engine.pay("o1", payable, Some("pay-o1")).unwrap();
    engine.ship("o1", None, None).unwrap();
    engine.deliver("o1", None).unwrap();
    engine
        .return_items(
            "o1",
            vec![LineQty { line: 0, qty: 1 }],
            ReturnOptions { restock: true },
            None,
        )
        .unwrap();
    let page = engine.feed(start, 1000).unwrap();
    assert_eq!(page.next, engine.store().head().unwrap());
    let t = types(&page.events);
    // Placing 4 of 4 units with a threshold of 1: reserved, and available
    // 4 → 0 crosses it, so low and out of stock.
    for want in [
        "order.placed.v1",
        "stock.low.v1",
        "stock.out.v1",
        "order.paid.v1",
        "order.shipped.v1",
        "order.delivered.v1",
        "return.requested.v1",
        "refund.issued.v1",
    ] {
        assert!(t.contains(&want), "{want} missing from {t:?}");
    }
    let pos = |name: &str| t.iter().position(|x| *x == name).unwrap();
    assert!(pos("order.placed.v1") < pos("order.paid.v1"));
    assert!(pos("order.paid.v1") < pos("order.shipped.v1"));
    assert!(pos("order.shipped.v1") < pos("order.delivered.v1"));
    assert!(pos("order.delivered.v1") < pos("refund.issued.v1"));
    let paid = page
        .events
        .iter()
        .find(|e| e.event.type_name() == "order.paid.v1")
        .unwrap();
    // 4 × 12.00 = 48.00.
    assert!(matches!(&paid.event, IntegrationEvent::OrderPaid { amount, .. } if amount == "48.00"));
    // Stock moves add up: reserved +4, sold −4 on hand and −4 held, the
    // returned unit +1 on hand.
    let (mut on_hand, mut reserved) = (0, 0);
    for e in &page.events {
        if let IntegrationEvent::StockChanged {
            on_hand_delta,
            reserved_delta,
            ..
        } = &e.event
        {
            on_hand += on_hand_delta;
            reserved += reserved_delta;
        }
    }
    assert_eq!((on_hand, reserved), (-4 + 1, 0));
    // Ids are unique; seqs never go back; paging gives the same events.
    let ids: BTreeSet<_> = page.events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), page.events.len());
    assert!(page.events.windows(2).all(|w| w[0].seq <= w[1].seq));
    let mut paged = Vec::new();
    let mut cursor = start;
    loop {
        let p = engine.feed(cursor, 2).unwrap();
        if p.next == cursor {
            break;
        }
        cursor = p.next;
        paged.extend(p.events);
    }
    assert_eq!(paged, page.events);
    // A snapshot drops nothing: the feed from the start is unchanged.
    let before = engine.feed(0, 10_000).unwrap();
    engine.snapshot().unwrap();
    assert_eq!(engine.feed(0, 10_000).unwrap(), before);
}

#[test]
fn consumers_get_everything_at_least_once() {
    let engine = shop();
    let payable = place(&engine, "o1", 1);
    engine.pay("o1", payable, None).unwrap();
    assert_eq!(engine.consumer_checkpoint("wms").unwrap(), None);
    let first = engine.poll("wms", 1000, Duration::ZERO).unwrap();
    assert!(!first.events.is_empty());
    // Not acknowledged (a crash): the same events, the same ids.
    let again = engine.poll("wms", 1000, Duration::ZERO).unwrap();
    assert_eq!(again, first);
    let mid = first.events[first.events.len() / 2].seq;
    assert_eq!(engine.ack("wms", mid).unwrap(), mid);
    let rest = engine.poll("wms", 1000, Duration::ZERO).unwrap();
    assert!(rest.events.iter().all(|e| e.seq > mid));
    assert_eq!(
        rest.events,
        first
            .events
            .iter()
            .filter(|e| e.seq > mid)
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(engine.ack("wms", first.next).unwrap(), first.next);
    // Never backwards.
    assert_eq!(engine.ack("wms", 1).unwrap(), first.next);
    assert_eq!(engine.consumer_checkpoint("wms").unwrap(), Some(first.next));
    // Caught up: an empty page at the same cursor.
    let empty = engine.poll("wms", 1000, Duration::ZERO).unwrap();
    assert!(empty.events.is_empty());
    assert_eq!(empty.next, first.next);
    // Bad input is a typed error and changes nothing.
    let beyond = engine.ack("wms", first.next + 1).unwrap_err();
    assert_eq!(beyond.kind(), ErrorKind::InvalidInput);
    assert_eq!(engine.consumer_checkpoint("wms").unwrap(), Some(first.next));
    for bad in ["", "has space", "ünï", &"x".repeat(129)] {
        assert_eq!(
            engine.ack(bad, 0).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
    assert_eq!(
        engine.feed(0, 0).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        engine.consumers().unwrap(),
        vec![("wms".to_string(), first.next)]
    );
}

#[test]
fn a_wait_wakes_on_a_commit_and_times_out_without_one() {
    let engine = shop();
    let head = engine.store().head().unwrap();
    let t = Instant::now();
    assert_eq!(
        engine
            .wait_for_events(head, Duration::from_millis(200))
            .unwrap(),
        head
    );
    assert!(t.elapsed() >= Duration::from_millis(200));
    let waiter = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            let page = engine.poll("wms-live", 1000, Duration::from_secs(30));
            (page, t.elapsed())
        })
    };
    engine.ack("wms-live", head).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    place(&engine, "o1", 1);
    let (page, waited) = waiter.join().unwrap();
    let page = page.unwrap();
    // The poller may have started before or after the ack; either way it
    // gets the placed order, and well before its 30 s.
    assert!(types(&page.events).contains(&"order.placed.v1"));
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

/// Two engines on one SQLite file (as two processes): the other's commits
/// wake a wait by polling the head.
#[cfg(feature = "sqlite")]
#[test]
fn a_wait_sees_another_engines_commit_on_sqlite() {
    use mercato::sqlite::{SqliteOptions, SqliteStore};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let clock = ManualClock::new(at("2026-11-11T10:00:00Z"));
    let a = Engine::open(
        SqliteStore::open(&path, SqliteOptions::default()).unwrap(),
        clock.clone(),
    )
    .unwrap();
    let b = Engine::open(
        SqliteStore::open(&path, SqliteOptions::default()).unwrap(),
        clock,
    )
    .unwrap();
    a.configure(Currency::CNY, Settings::default()).unwrap();
    let head = a.store().head().unwrap();
    let waiter = std::thread::spawn(move || {
        let t = Instant::now();
        (
            a.wait_for_events(head, Duration::from_secs(30)),
            t.elapsed(),
        )
    });
    std::thread::sleep(Duration::from_millis(100));
    b.sync().unwrap();
    b.register_customer("u9", None, 0).unwrap();
    let (got, waited) = waiter.join().unwrap();
    assert!(got.unwrap() > head);
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(
        b.ack("erp", head + 1).unwrap(),
        head + 1,
        "checkpoints live in the shared file"
    );
}

// ----- two processes on PostgreSQL --------------------------------------

use mercato_postgres::testing::TestCluster;
use mercato_postgres::{PgOptions, PgStore};

fn pg_engine(url: &str, schema: &str) -> Engine<PgStore, mercato::SystemClock> {
    let store = PgStore::open(url, PgOptions::default().schema(schema)).unwrap();
    Engine::open(store, mercato::SystemClock).unwrap()
}

/// The consumer process: polls `wms` (long polls of 20 s), prints each
/// event's type, acknowledges each page, and stops after `order.paid.v1`.
#[test]
fn pg_feed_child() {
    let (Ok(url), Ok(schema)) = (
        std::env::var("MERCATO_FEED_CHILD_URL"),
        std::env::var("MERCATO_FEED_CHILD_SCHEMA"),
    ) else {
        return;
    };
    let engine = pg_engine(&url, &schema);
    let head = engine.store().head().unwrap();
    engine.ack("wms", head).unwrap();
    println!("@@ ready");
    loop {
        let t = Instant::now();
        let page = engine.poll("wms", 100, Duration::from_secs(20)).unwrap();
        let ms = t.elapsed().as_millis();
        for e in &page.events {
            println!("@@ {} {} {ms}", e.event.type_name(), e.id);
        }
        engine.ack("wms", page.next).unwrap();
        if page
            .events
            .iter()
            .any(|e| e.event.type_name() == "order.paid.v1")
        {
            break;
        }
    }
    println!("@@ done");
}

#[test]
fn the_feed_across_two_processes_on_postgres() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let Some(cluster) = TestCluster::shared_or_skip() else {
        return;
    };
    let schema = cluster.fresh_schema_name();
    let engine = pg_engine(cluster.url(), &schema);
    engine
        .configure(Currency::CNY, Settings::default())
        .unwrap();
    engine
        .add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "12.00"}"#).unwrap())
        .unwrap();
    engine.adjust_stock("tea", "main", 10, "received").unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "pg_feed_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MERCATO_FEED_CHILD_URL", cluster.url())
        .env("MERCATO_FEED_CHILD_SCHEMA", &schema)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let ours = |line: &str| line.find("@@ ").map(|at| line[at + 3..].to_string());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("child output").unwrap();
        if ours(&line).as_deref() == Some("ready") {
            break;
        }
    }
    // Let the child start its long poll, then place and pay.
    std::thread::sleep(Duration::from_millis(500));
    let placed = engine
        .place_order(PlaceOrderRequest::new("o1").line("tea", 2), Some("k1"))
        .unwrap();
    engine
        .pay("o1", placed.quote.totals.payable, Some("k2"))
        .unwrap();
    let mut got = Vec::new();
    for line in lines.by_ref() {
        let Some(l) = ours(&line.unwrap()) else {
            continue;
        };
        if l == "done" {
            break;
        }
        got.push(l);
    }
    assert!(child.wait().unwrap().success());
    let types: Vec<&str> = got.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert!(types.contains(&"order.placed.v1"), "{got:?}");
    assert!(types.contains(&"order.paid.v1"), "{got:?}");
    // The first page came through NOTIFY, not the 20 s timeout.
    let first_wait: u128 = got[0].split(' ').nth(2).unwrap().parse().unwrap();
    assert!(first_wait < 10_000, "woken by the timeout? {got:?}");
    // The child's checkpoint is in the store, at the head.
    assert_eq!(
        engine.consumer_checkpoint("wms").unwrap(),
        Some(engine.store().head().unwrap())
    );
}
