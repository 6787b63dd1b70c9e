//! Exchanges (换货, issue 13) through the engine: each flow worked by hand
//! (same SKU, another SKU with money due and with money owed, the clamp at
//! zero, out of stock converted to a refund, unpaid and not-sent-back
//! exchanges closed by the timer, the return, partial cancel and exchange
//! of an exchanged unit), the refusals, idempotency, the feed facts, two
//! engines on one SQLite file, and a property test of the money, unit and
//! stock invariants with exchanges on memory and SQLite (replay, reopen).
//!
//! The shop: shirts of one product (`shirt-m` 100.00, `shirt-l` 120.00,
//! `shirt-s` 90.00, `shirt-kid` 5.00, `shirt-xl` 130.00 with no stock), a
//! hat of another product (30.00); 10 % off every shirt, so a shirt-m
//! costs 90.00. Stock: 3 of each at `east` (priority) and 3 at `west`.

#[path = "support/aftersale_checks.rs"]
mod aftersale_checks;
use aftersale_checks::check_return_locations;
use mercato::core::aftersale::{AfterSaleAction, AfterSaleKind};
use mercato::core::order::{LineQty, Order, ReturnStatus};
use mercato::core::payments::{RefundAllocation, RefundKind};
use mercato::core::shop::StockCommit;
use mercato::core::{Currency, Money};
use mercato::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use mercato::store::{MemoryStore, Store};
use mercato::{
    AfterSaleOptions, Clock, Engine, ErrorKind, ExchangeOptions, LocationOptions, ManualClock,
    Package, PaymentOptions, PlaceOrderRequest, Settings, Shipment,
};
use proptest::prelude::*;

fn cny(s: &str) -> Money {
    Money::parse(s, Currency::CNY).unwrap()
}

fn minor(m: Money) -> i128 {
    m.to_minor().unwrap()
}

const SKUS: [(&str, &str, &str); 6] = [
    ("shirt-m", "shirt", "100.00"),
    ("shirt-l", "shirt", "120.00"),
    ("shirt-s", "shirt", "90.00"),
    ("shirt-kid", "shirt", "5.00"),
    ("shirt-xl", "shirt", "130.00"),
    ("hat", "hat", "30.00"),
];

fn start() -> ManualClock {
    ManualClock::new("2026-03-02T09:00:00Z".parse().unwrap())
}

/// Configures `e` as the module says, `units` of each stocked SKU at each
/// location.
fn stock_up<S: Store + 'static>(e: &Engine<S, ManualClock>, settings: Settings, units: i64) {
    e.configure(Currency::CNY, settings).unwrap();
    for (sku, product, price) in SKUS {
        e.add_catalog_item(
            serde_json::from_value(
                serde_json::json!({"sku": sku, "product": product, "price": price}),
            )
            .unwrap(),
        )
        .unwrap();
        e.configure_location(
            sku,
            "east",
            LocationOptions {
                priority: 10,
                ..LocationOptions::default()
            },
        )
        .unwrap();
        e.configure_location(sku, "west", LocationOptions::default())
            .unwrap();
        if sku != "shirt-xl" {
            e.adjust_stock(sku, "east", units, "opening").unwrap();
            e.adjust_stock(sku, "west", units, "opening").unwrap();
        }
    }
    e.add_promotion(
        serde_json::from_value(serde_json::json!({
            "id": "shirts-10", "kind": "percent_off", "percent": "10",
            "scope": {"products": ["shirt"]}
        }))
        .unwrap(),
    )
    .unwrap();
}

fn settings() -> Settings {
    serde_json::from_value(serde_json::json!({
        "after_sale": {"return_ship_days": 7, "exchange_payment_hours": 24}
    }))
    .unwrap()
}

type E = Engine<MemoryStore, ManualClock>;

fn shop() -> (E, ManualClock) {
    let clock = start();
    let e = Engine::open(MemoryStore::new(), clock.clone()).unwrap();
    stock_up(&e, settings(), 3);
    (e, clock)
}

/// Places `qty` shirt-m as `id`, pays, ships and delivers it.
fn delivered<S: Store + 'static>(e: &Engine<S, ManualClock>, id: &str, qty: i64) {
    e.place_order(PlaceOrderRequest::new(id).line("shirt-m", qty), None)
        .unwrap();
    let payable = e.order(id).unwrap().payable();
    e.pay(id, payable, None).unwrap();
    e.ship(id, None, None).unwrap();
    e.deliver(id, None).unwrap();
}

fn act<S: Store + 'static>(
    e: &Engine<S, ManualClock>,
    order: &str,
    request: &str,
    action: AfterSaleAction,
) -> mercato::AfterSaleAnswer {
    e.after_sale(order, request, action, false, None).unwrap()
}

fn card(amount: &str) -> PaymentOptions {
    PaymentOptions {
        method: "card".into(),
        amount: cny(amount),
        reference: None,
    }
}

/// Ships every unit of exchange line `line` as shipment `id` and delivers
/// it; the order's status stays as it was.
fn ship_line<S: Store + 'static>(e: &Engine<S, ManualClock>, order: &str, id: &str, line: usize) {
    let o = e.order(order).unwrap();
    let qty = o.line_qty(line) - o.shipped[line] - o.cancelled[line];
    let before = o.status;
    let s = Shipment::new(id).package(Package::new("SF", format!("SF-{id}")).unit(line, qty));
    assert_eq!(e.ship_shipment(order, s, None).unwrap().status, before);
    assert_eq!(e.deliver_shipment(order, id, None).unwrap().status, before);
}

/// Files, approves and receives a return of `qty` units of `line`; the
/// refund.
fn return_units<S: Store + 'static>(
    e: &Engine<S, ManualClock>,
    order: &str,
    line: usize,
    qty: i64,
) -> mercato::RefundReceipt {
    let r = e
        .request_after_sale(
            order,
            AfterSaleOptions::new(AfterSaleKind::ReturnRefund, vec![LineQty { line, qty }]),
            None,
        )
        .unwrap();
    act(e, order, &r.request, AfterSaleAction::Approve);
    act(e, order, &r.request, AfterSaleAction::Receive);
    act(e, order, &r.request, AfterSaleAction::Refund)
        .refund
        .unwrap()
}

fn level<S: Store + 'static>(e: &Engine<S, ManualClock>, sku: &str) -> (i64, i64) {
    let l = e.stock(sku).unwrap();
    (l.on_hand, l.reserved)
}

/// Same SKU: 3 shirt-m at 90.00 each after 10 % off (270.00); one is
/// exchanged for another shirt-m: no money moves, the replacement costs
/// what the unit did (90.00), and returning it later refunds 90.00.
#[test]
fn same_sku_exchange_moves_no_money_and_returns_at_the_units_net() {
    let (e, _) = shop();
    delivered(&e, "o1", 3);
    assert_eq!(e.order("o1").unwrap().paid, cny("270.00"));
    let x = e
        .request_exchange(
            "o1",
            ExchangeOptions::new()
                .item(0, 1, "shirt-m")
                .reason("defective"),
            None,
        )
        .unwrap();
    assert_eq!(
        (x.request.as_str(), x.status),
        ("o1-r1", ReturnStatus::Requested)
    );
    // Sold 3 from east (6 − 3 on hand); the replacement is held at east.
    assert_eq!(level(&e, "shirt-m"), (3, 0));
    let a = act(&e, "o1", "o1-r1", AfterSaleAction::Approve);
    let view = a.exchange.unwrap();
    assert_eq!(a.status, ReturnStatus::Approved);
    assert_eq!(view.due, Some(cny("0.00")));
    assert_eq!(view.reservation.as_deref(), Some("o1-r1/exchange"));
    assert_eq!(level(&e, "shirt-m"), (3, 1));
    let r = act(&e, "o1", "o1-r1", AfterSaleAction::Receive);
    assert_eq!(r.status, ReturnStatus::Exchanged);
    assert!(r.refund.is_none(), "no money moves");
    assert_eq!(r.exchange.unwrap().lines, vec![1]);
    // The returned unit is back at east: 3 + 1 on hand, 1 held.
    assert_eq!(level(&e, "shirt-m"), (4, 1));
    let o = e.order("o1").unwrap();
    let b = o.line(1).unwrap();
    assert_eq!((b.sku, b.qty, b.net), ("shirt-m", 1, cny("90.00")));
    assert_eq!(o.exchanged[0], 1);
    assert_eq!(o.refunded, cny("0.00"));
    ship_line(&e, "o1", "x1", 1);
    // Shipped from the reservation: 4 − 1 on hand, nothing held.
    assert_eq!(level(&e, "shirt-m"), (3, 0));
    // The exchanged unit is returned: its own net.
    assert_eq!(return_units(&e, "o1", 1, 1).amount, cny("90.00"));
    // The two other units of line 0: 180.00; every unit is back.
    let last = return_units(&e, "o1", 0, 2);
    assert_eq!(last.amount, cny("180.00"));
    let o = e.order("o1").unwrap();
    assert_eq!(o.status.as_str(), "returned");
    assert_eq!(o.refunded, o.paid);
}

/// Another SKU with money due: shirt-m (90.00 net) for shirt-l (list
/// 120.00 vs 100.00): 20.00 to pay, in two parts (5.00 + 15.00; 20.00 more
/// is refused); the replacement costs 90.00 + 20.00 = 110.00 and returning
/// it refunds 110.00 — most recent payment first: 15.00, 5.00, then 90.00
/// from the order's payment.
#[test]
fn money_due_is_paid_through_the_ledger_and_the_replacement_carries_it() {
    let (e, clock) = shop();
    delivered(&e, "o1", 2);
    e.request_exchange("o1", ExchangeOptions::new().item(0, 1, "shirt-l"), None)
        .unwrap();
    let a = act(&e, "o1", "o1-r1", AfterSaleAction::Approve);
    assert_eq!(a.status, ReturnStatus::PendingPayment);
    let view = a.exchange.unwrap();
    assert_eq!(view.due, Some(cny("20.00")));
    assert_eq!(
        view.pay_by,
        Some(clock.now() + chrono::Duration::hours(24)),
        "exchange_payment_hours after approval"
    );
    assert_eq!(e.next_deadline().unwrap(), view.pay_by);
    assert_eq!(level(&e, "shirt-l"), (6, 1));
    // Receiving before the money is refused.
    let err = e
        .after_sale("o1", "o1-r1", AfterSaleAction::Receive, false, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTransition);
    let p = e
        .pay_exchange("o1", "o1-r1", card("5.00"), Some("xp-1"))
        .unwrap();
    assert_eq!(p.status, ReturnStatus::PendingPayment);
    assert_eq!(p.exchange.as_ref().unwrap().paid, cny("5.00"));
    // The same key answers the same answer, and pays once.
    assert_eq!(
        e.pay_exchange("o1", "o1-r1", card("5.00"), Some("xp-1"))
            .unwrap(),
        p
    );
    let err = e
        .pay_exchange("o1", "o1-r1", card("20.00"), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PaymentMismatch, "{err}");
    let p = e.pay_exchange("o1", "o1-r1", card("15.00"), None).unwrap();
    assert_eq!(p.status, ReturnStatus::Approved);
    assert_eq!(p.exchange.unwrap().payments, vec!["o1-p2", "o1-p3"]);
    let o = e.order("o1").unwrap();
    assert_eq!((o.paid, o.payable()), (cny("200.00"), cny("180.00")));
    assert_eq!(o.payments[1].exchange.as_deref(), Some("o1-r1"));
    let r = act(&e, "o1", "o1-r1", AfterSaleAction::Receive);
    assert!(r.refund.is_none());
    let o = e.order("o1").unwrap();
    assert_eq!(o.line_count(), 2, "one new line");
    let line = o.line(1).unwrap();
    assert_eq!((line.sku, line.net), ("shirt-l", cny("110.00")));
    ship_line(&e, "o1", "x1", 1);
    assert_eq!(level(&e, "shirt-l"), (5, 0));
    let back = return_units(&e, "o1", 1, 1);
    assert_eq!(back.amount, cny("110.00"));
    let alloc: Vec<(&str, Money)> = back
        .allocations
        .iter()
        .map(|s| (s.payment.as_str(), s.amount))
        .collect();
    assert_eq!(
        alloc,
        vec![
            ("o1-p3", cny("15.00")),
            ("o1-p2", cny("5.00")),
            ("o1-p1", cny("90.00"))
        ]
    );
    // Restocked where it left (east: 5 + 1).
    assert_eq!(level(&e, "shirt-l"), (6, 0));
    assert_eq!(return_units(&e, "o1", 0, 1).amount, cny("90.00"));
    let o = e.order("o1").unwrap();
    assert_eq!(o.status.as_str(), "returned");
    assert_eq!((o.refunded, o.paid), (cny("200.00"), cny("200.00")));
    // What the points claw-back reads: the goods paid (180.00), not the
    // 20.00 the exchange put in.
    assert_eq!(o.refunded_goods().unwrap(), cny("180.00"));
}

/// Money owed, and an exchanged unit exchanged again (A → B → C):
/// shirt-m (90.00) for shirt-s (list 90.00 vs 100.00: −10.00) costs
/// 80.00, and 10.00 is refunded at receipt (kind `exchange`); that
/// shirt-s for a shirt-kid (5.00 vs 90.00: −85.00) would cost
/// 80.00 − 85.00 < 0: it is free, 80.00 is refunded and the 5.00 beyond is
/// the shop's. The chain gave back 10.00 + 80.00 = 90.00, the unit's net;
/// returning the free shirt refunds 0.00.
#[test]
fn money_owed_is_refunded_at_receipt_and_an_exchanged_unit_exchanges_again() {
    let (e, _) = shop();
    delivered(&e, "o1", 1);
    e.request_exchange("o1", ExchangeOptions::new().item(0, 1, "shirt-s"), None)
        .unwrap();
    let a = act(&e, "o1", "o1-r1", AfterSaleAction::Approve);
    assert_eq!(a.status, ReturnStatus::Approved);
    assert_eq!(a.exchange.unwrap().due, Some(cny("0.00")));
    let r = act(&e, "o1", "o1-r1", AfterSaleAction::Receive);
    assert_eq!(r.status, ReturnStatus::Exchanged);
    let refund = r.refund.unwrap();
    assert_eq!(
        (refund.kind, refund.amount),
        (RefundKind::Exchange, cny("10.00"))
    );
    let o = e.order("o1").unwrap();
    assert_eq!(o.line(1).unwrap().net, cny("80.00"));
    // The order is not returned: its unit lives on as line 1.
    assert_eq!(o.status.as_str(), "delivered");
    ship_line(&e, "o1", "x1", 1);
    e.request_exchange("o1", ExchangeOptions::new().item(1, 1, "shirt-kid"), None)
        .unwrap();
    act(&e, "o1", "o1-r2", AfterSaleAction::Approve);
    let r = act(&e, "o1", "o1-r2", AfterSaleAction::Receive);
    assert_eq!(r.refund.unwrap().amount, cny("80.00"));
    let o = e.order("o1").unwrap();
    let c = o.line(2).unwrap();
    assert_eq!((c.sku, c.net), ("shirt-kid", cny("0.00")));
    assert_eq!(o.root_line(2), 0);
    assert_eq!(o.refunded, cny("90.00"));
    ship_line(&e, "o1", "x2", 2);
    assert_eq!(return_units(&e, "o1", 2, 1).amount, cny("0.00"));
    let o = e.order("o1").unwrap();
    assert_eq!(o.status.as_str(), "returned");
    assert_eq!(o.refunded, cny("90.00"));
    // The first request's units were exchanged away, never refunded.
    assert_eq!((o.refunded_units[0], o.exchanged[0]), (0, 1));
}

/// Out of stock at approval: shirt-xl has no stock; the approval is
/// refused with `insufficient_stock` and nothing changes; the request is
/// converted to an approved `return_refund` and refunds the unit's 90.00.
#[test]
fn out_of_stock_at_approval_converts_to_a_refund() {
    let (e, _) = shop();
    delivered(&e, "o1", 1);
    e.request_exchange("o1", ExchangeOptions::new().item(0, 1, "shirt-xl"), None)
        .unwrap();
    let err = e
        .after_sale("o1", "o1-r1", AfterSaleAction::Approve, false, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientStock);
    assert!(
        matches!(
            err,
            mercato::EngineError::Core(mercato::core::CoreError::ExchangeOutOfStock { .. })
        ),
        "{err:?}"
    );
    assert_eq!(
        e.order("o1").unwrap().returns[0].status,
        ReturnStatus::Requested
    );
    let c = e.convert_exchange("o1", "o1-r1", None).unwrap();
    assert_eq!(c.status, ReturnStatus::Approved);
    assert!(c.exchange.is_none());
    let o = e.order("o1").unwrap();
    assert_eq!(o.returns[0].kind, AfterSaleKind::ReturnRefund);
    act(&e, "o1", "o1-r1", AfterSaleAction::Receive);
    let r = act(&e, "o1", "o1-r1", AfterSaleAction::Refund);
    assert_eq!(r.refund.unwrap().amount, cny("90.00"));
    assert_eq!(r.order_status.as_str(), "returned");
}

/// Unpaid by the deadline: 5.00 of the 20.00 paid; 24 hours after approval
/// `tick` closes the exchange, releases the held shirt-l and refunds the
/// 5.00 (kind `exchange_payment`); the unit may be requested again.
#[test]
fn an_unpaid_exchange_closes_at_its_deadline() {
    let (e, clock) = shop();
    delivered(&e, "o1", 1);
    e.request_exchange("o1", ExchangeOptions::new().item(0, 1, "shirt-l"), None)
        .unwrap();
    act(&e, "o1", "o1-r1", AfterSaleAction::Approve);
    e.pay_exchange("o1", "o1-r1", card("5.00"), None).unwrap();
    clock.set(clock.now() + chrono::Duration::hours(23));
    e.tick().unwrap();
    assert_eq!(level(&e, "shirt-l"), (6, 1), "not yet");
    clock.set(clock.now() + chrono::Duration::hours(1));
    e.tick().unwrap();
    assert_eq!(level(&e, "shirt-l"), (6, 0));
    let o = e.order("o1").unwrap();
    assert_eq!(o.returns[0].status, ReturnStatus::Closed);
    let r = o.refunds.last().unwrap();
    assert_eq!(
        (r.kind, r.amount, r.id.as_str()),
        (RefundKind::ExchangePayment, cny("5.00"), "o1-r1")
    );
    assert_eq!(r.allocations[0].payment, "o1-p2");
    assert_eq!((o.paid, o.refunded), (cny("95.00"), cny("5.00")));
    // Its payment came and went: no goods refunded.
    assert_eq!(o.refunded_goods().unwrap(), cny("0.00"));
    // A payment after the deadline is refused, and the unit is free again.
    let err = e
        .pay_exchange("o1", "o1-r1", card("15.00"), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTransition);
    assert_eq!(return_units(&e, "o1", 0, 1).amount, cny("90.00"));
    assert_eq!(e.order("o1").unwrap().refunded, e.order("o1").unwrap().paid);
}

/// An approved exchange whose goods do not come back within
/// `return_ship_days` (7) closes: the replacement is released, what was
/// paid for it goes back.
#[test]
fn an_exchange_whose_goods_do_not_come_back_closes() {
    let (e, clock) = shop();
    delivered(&e, "o1", 1);
    e.request_exchange("o1", ExchangeOptions::new().item(0, 1, "shirt-l"), None)
        .unwrap();
    act(&e, "o1", "o1-r1", AfterSaleAction::Approve);
    clock.set(clock.now() + chrono::Duration::hours(2));
    e.pay_exchange("o1", "o1-r1", card("20.00"), None).unwrap();
    // The ship-back window counts from the payment: not closed a minute
    // before 7 days from it (though 7 days after approval).
    let paid_at = clock.now();
    clock.set(paid_at + chrono::Duration::days(7) - chrono::Duration::minutes(1));
    e.tick().unwrap();
    assert_eq!(
        e.order("o1").unwrap().returns[0].status,
        ReturnStatus::Approved
    );
    clock.set(paid_at + chrono::Duration::days(7));
    e.tick().unwrap();
    let o = e.order("o1").unwrap();
    assert_eq!(o.returns[0].status, ReturnStatus::Closed);
    assert_eq!(o.refunded, cny("20.00"));
    assert_eq!(level(&e, "shirt-l"), (6, 0));
}

/// Refusals, each with its code: a SKU of another product, an unknown
/// SKU, an unsellable one, no units, more units than delivered, before
/// delivery, a second request for units in one; `any_sku` allows the hat.
#[test]
fn exchanges_are_refused_with_typed_errors() {
    let (e, _) = shop();
    e.place_order(PlaceOrderRequest::new("o1").line("shirt-m", 2), None)
        .unwrap();
    e.pay("o1", cny("180.00"), None).unwrap();
    let one = |sku: &str| ExchangeOptions::new().item(0, 1, sku);
    let code = |r: Result<mercato::AfterSaleAnswer, mercato::EngineError>| {
        r.unwrap_err().code().to_string()
    };
    assert_eq!(
        code(e.request_exchange("o1", one("shirt-l"), None)),
        "invalid_transition",
        "not delivered"
    );
    e.ship("o1", None, None).unwrap();
    e.deliver("o1", None).unwrap();
    assert_eq!(
        code(e.request_exchange("o1", one("hat"), None)),
        "invalid_transition"
    );
    assert_eq!(
        code(e.request_exchange("o1", one("sock"), None)),
        "unknown_sku"
    );
    assert_eq!(
        code(e.request_exchange("o1", ExchangeOptions::new().item(0, 0, "shirt-l"), None)),
        "invalid_quantity"
    );
    assert_eq!(
        code(e.request_exchange("o1", ExchangeOptions::new(), None)),
        "invalid_transition"
    );
    assert_eq!(
        code(e.request_exchange("o1", ExchangeOptions::new().item(0, 3, "shirt-l"), None)),
        "invalid_transition"
    );
    assert_eq!(
        code(e.request_exchange("o1", ExchangeOptions::new().item(4, 1, "shirt-l"), None)),
        "invalid_transition"
    );
    e.set_sellable("shirt-s", false).unwrap();
    assert_eq!(
        code(e.request_exchange("o1", one("shirt-s"), None)),
        "not_sellable"
    );
    e.request_exchange("o1", ExchangeOptions::new().item(0, 2, "shirt-l"), None)
        .unwrap();
    assert_eq!(
        code(e.request_exchange("o1", one("shirt-l"), None)),
        "invalid_transition",
        "every unit is in o1-r1"
    );
    // `pay` and `close` are not after-sale calls; `convert` only before approval.
    for a in [AfterSaleAction::Pay, AfterSaleAction::Close] {
        assert_eq!(
            code(e.after_sale("o1", "o1-r1", a, false, None)),
            "invalid_transition"
        );
    }
    e.after_sale("o1", "o1-r1", AfterSaleAction::Withdraw, false, None)
        .unwrap();
    assert_eq!(
        code(e.convert_exchange("o1", "o1-r1", None)),
        "invalid_transition"
    );
    // An exchange request through the generic call is refused.
    assert_eq!(
        code(e.request_after_sale(
            "o1",
            AfterSaleOptions::new(AfterSaleKind::Exchange, vec![LineQty { line: 0, qty: 1 }]),
            None,
        )),
        "invalid_transition"
    );
    // Any SKU, when the settings allow it.
    let mut s = settings();
    s.after_sale.exchange_to = mercato::core::exchange::ExchangeScope::AnySku;
    e.execute(&mercato::Request::UpdateSettings { settings: s }, None)
        .unwrap();
    let x = e.request_exchange("o1", one("hat"), None).unwrap();
    // hat lists 30.00, shirt-m 100.00: −70.00, so a 90.00 shirt becomes a
    // 20.00 hat, 70.00 back at receipt.
    act(&e, "o1", &x.request, AfterSaleAction::Approve);
    let r = act(&e, "o1", &x.request, AfterSaleAction::Receive);
    assert_eq!(r.refund.unwrap().amount, cny("70.00"));
    assert_eq!(e.order("o1").unwrap().line(1).unwrap().net, cny("20.00"));
}

/// An exchange line not yet shipped can be cancelled after delivery: its
/// units go back to stock where they were held and its net is refunded.
#[test]
fn unshipped_replacements_can_be_cancelled() {
    let (e, _) = shop();
    delivered(&e, "o1", 1);
    e.request_exchange("o1", ExchangeOptions::new().item(0, 1, "shirt-l"), None)
        .unwrap();
    act(&e, "o1", "o1-r1", AfterSaleAction::Approve);
    e.pay_exchange("o1", "o1-r1", card("20.00"), None).unwrap();
    act(&e, "o1", "o1-r1", AfterSaleAction::Receive);
    assert_eq!(level(&e, "shirt-l"), (6, 1));
    // Line 0 cannot be cancelled (shipped); a shipment mixing line 0 and 1
    // is refused.
    let err = e
        .cancel_units("o1", vec![LineQty { line: 0, qty: 1 }], None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTransition);
    let mixed = Shipment::new("m").package(Package::new("SF", "1").unit(0, 1).unit(1, 1));
    assert_eq!(
        e.ship_shipment("o1", mixed, None).unwrap_err().kind(),
        ErrorKind::InvalidTransition
    );
    let r = e
        .cancel_units("o1", vec![LineQty { line: 1, qty: 1 }], None)
        .unwrap();
    assert_eq!(
        (r.kind, r.amount),
        (RefundKind::PartialCancel, cny("110.00"))
    );
    assert_eq!(level(&e, "shirt-l"), (6, 0));
    let o = e.order("o1").unwrap();
    assert_eq!(o.status.as_str(), "returned");
    assert_eq!(o.refunded, o.paid);
}

/// The feed tells each exchange fact with its own type.
#[test]
fn the_feed_tells_the_exchange_facts() {
    let (e, _) = shop();
    delivered(&e, "o1", 1);
    let from = e.store().head().unwrap();
    e.request_exchange("o1", ExchangeOptions::new().item(0, 1, "shirt-l"), None)
        .unwrap();
    act(&e, "o1", "o1-r1", AfterSaleAction::Approve);
    e.pay_exchange("o1", "o1-r1", card("20.00"), None).unwrap();
    act(&e, "o1", "o1-r1", AfterSaleAction::Receive);
    let page = e.feed(from, 100).unwrap();
    let types: Vec<&str> = page.events.iter().map(|f| f.event.type_name()).collect();
    assert_eq!(
        types,
        [
            "exchange.requested.v1",
            "exchange.approved.v1",
            "stock.changed.v1",
            "payment.captured.v1",
            "exchange.paid.v1",
            "return.received.v1",
            "stock.changed.v1",
            "exchange.completed.v1",
        ]
    );
    let json = serde_json::to_value(&page.events[7].event).unwrap();
    assert_eq!(
        json["data"]["lines"][0],
        serde_json::json!({"line": 1, "sku": "shirt-l", "qty": 1, "net": "110.00", "replaces_line": 0})
    );
    let held = serde_json::to_value(&page.events[2].event).unwrap();
    assert_eq!(held["data"]["order"], "o1-r1/exchange");
}

/// Two engines on one SQLite file: engine B, which has not seen engine A
/// sell the last shirt-l units, approves an exchange to shirt-l. Its
/// commit read the SKU's stock stream at the version it had, so the store
/// refuses it; decided again on the caught-up state, the approval finds
/// nothing left and answers `insufficient_stock`. Stock never goes
/// oversold and a fresh engine agrees.
#[test]
fn an_exchange_approval_cannot_oversell_across_two_engines_on_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let open = || {
        SqliteStore::open(
            &path,
            SqliteOptions::default().synchronous(Synchronous::Normal),
        )
        .unwrap()
    };
    let clock = start();
    let a = Engine::open(open(), clock.clone()).unwrap();
    stock_up(&a, settings(), 3);
    delivered(&a, "o1", 1);
    a.request_exchange("o1", ExchangeOptions::new().item(0, 1, "shirt-l"), None)
        .unwrap();
    let b = Engine::open(open(), clock.clone()).unwrap();
    assert_eq!(b.stock("shirt-l").unwrap().available, 6);
    // A sells every shirt-l; B has not seen it.
    a.place_order(PlaceOrderRequest::new("o2").line("shirt-l", 6), None)
        .unwrap();
    assert_eq!(b.stock("shirt-l").unwrap().available, 6, "B is behind");
    let err = b
        .after_sale("o1", "o1-r1", AfterSaleAction::Approve, false, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InsufficientStock, "{err:?}");
    let fresh = Engine::open(open(), clock).unwrap();
    let l = fresh.stock("shirt-l").unwrap();
    assert_eq!((l.on_hand, l.reserved, l.available), (6, 6, 0));
    assert_eq!(
        fresh.order("o1").unwrap().returns[0].status,
        ReturnStatus::Requested
    );
    // Once o2 is cancelled, B approves.
    a.cancel("o2", None).unwrap();
    let ok = b
        .after_sale("o1", "o1-r1", AfterSaleAction::Approve, false, None)
        .unwrap();
    assert_eq!(ok.status, ReturnStatus::PendingPayment);
    let l = Engine::open(open(), start())
        .unwrap()
        .stock("shirt-l")
        .unwrap();
    assert_eq!((l.on_hand, l.reserved), (6, 1));
}

// ---------------------------------------------------------------------
// The property test.

/// The money, unit and stock invariants of one order with exchanges.
fn check_order(o: &Order) -> Result<(), TestCaseError> {
    let c = o.quote.currency;
    let captured = Money::sum(c, o.payments.iter().map(|p| p.amount)).unwrap();
    prop_assert_eq!(captured, o.paid, "Σ payments = paid ({})", &o.id);
    let exchange_paid = Money::sum(
        c,
        o.payments
            .iter()
            .filter(|p| p.exchange.is_some())
            .map(|p| p.amount),
    )
    .unwrap();
    prop_assert!(
        minor(o.paid) - minor(exchange_paid) <= minor(o.payable()),
        "order payments ≤ payable ({})",
        &o.id
    );
    let refunds = Money::sum(c, o.refunds.iter().map(|r| r.amount)).unwrap();
    prop_assert_eq!(refunds, o.refunded, "Σ refunds = refunded ({})", &o.id);
    prop_assert!(o.refunded <= o.paid, "Σ refunds ≤ Σ captured ({})", &o.id);
    prop_assert!(!o.refunded.is_negative());
    for p in &o.payments {
        prop_assert!(p.refunded <= p.amount && !p.refunded.is_negative());
    }
    let per_payment = Money::sum(c, o.payments.iter().map(|p| p.refunded)).unwrap();
    prop_assert_eq!(per_payment, o.refunded, "allocations booked ({})", &o.id);
    for r in &o.refunds {
        let a = Money::sum(c, r.allocations.iter().map(|s| s.amount)).unwrap();
        prop_assert_eq!(a, r.amount, "refund {} allocations add up", &r.id);
    }
    // Units: never more refunded or exchanged than a line has; the lines
    // exchanges added replace exactly the units exchanged away.
    for l in o.lines() {
        let i = l.index;
        let gone = o.refunded_units[i] + o.exchanged.get(i).copied().unwrap_or(0);
        prop_assert!(
            gone <= l.qty,
            "line {} of {}: {} gone of {}",
            i,
            &o.id,
            gone,
            l.qty
        );
        prop_assert!(o.shipped[i] + o.cancelled[i] <= l.qty);
        let replaced: i64 = o
            .exchange_lines
            .iter()
            .filter(|x| x.replaces.line == i)
            .map(|x| x.replaces.qty)
            .sum();
        prop_assert_eq!(replaced, o.exchanged.get(i).copied().unwrap_or(0));
    }
    // Per quote line (a chain of exchanges descends from it): the goods
    // money that went back for its units — unit refunds of the line and
    // its descendants, and the exchange differences refunded for them —
    // never exceeds its net plus what was paid for its exchanges.
    let n = o.quote.lines.len();
    let mut back = vec![0_i128; n];
    let mut paid_in = vec![0_i128; n];
    let root_of_request = |id: &str| -> Option<usize> {
        let r = o.returns.iter().find(|r| r.id == id)?;
        r.lines.first().map(|lq| o.root_line(lq.line))
    };
    for r in &o.refunds {
        match r.kind {
            RefundKind::Return | RefundKind::RefundOnly | RefundKind::PartialCancel => {
                // Every unit of one refund belongs to one root here (the
                // test's requests name one line each).
                if let Some(lq) = r.lines.first() {
                    back[o.root_line(lq.line)] += minor(r.amount) - minor(r.shipping);
                }
            }
            RefundKind::Exchange => {
                if let Some(root) = root_of_request(&r.id) {
                    back[root] += minor(r.amount);
                }
            }
            _ => {}
        }
    }
    for p in &o.payments {
        if let Some(root) = p.exchange.as_deref().and_then(root_of_request) {
            paid_in[root] += minor(p.amount);
        }
    }
    for r in o
        .refunds
        .iter()
        .filter(|r| r.kind == RefundKind::ExchangePayment)
    {
        if let Some(root) = root_of_request(&r.id) {
            paid_in[root] -= minor(r.amount);
        }
    }
    for (i, l) in o.quote.lines.iter().enumerate() {
        prop_assert!(
            back[i] <= minor(l.net) + paid_in[i],
            "line {} of {}: {} back of {} + {} paid",
            i,
            &o.id,
            back[i],
            minor(l.net),
            paid_in[i]
        );
    }
    // An exchange line's net is the replaced units' value plus what was
    // paid for it, less what was refunded for it (never below zero).
    for x in &o.exchange_lines {
        prop_assert!(!x.net.is_negative());
    }
    Ok(())
}

fn check_all<S: Store + 'static>(e: &Engine<S, ManualClock>) -> Result<(), TestCaseError> {
    let orders: Vec<Order> = e.read(|s| s.shop().orders().cloned().collect()).unwrap();
    for o in &orders {
        check_order(o)?;
    }
    // Stock: never negative, never held beyond what is on hand, never
    // restocked beyond what was there; an exchange never holds twice (its
    // reservation holds what its open exchange asks, or the units of its
    // lines not yet shipped or cancelled).
    let (skus, reservations) = e
        .read(|s| {
            let st = s.shop().stock();
            let skus: Vec<_> = SKUS
                .iter()
                .filter_map(|(sku, _, _)| st.sku(sku).map(|k| (sku.to_string(), k.clone())))
                .collect();
            let res: Vec<_> = st.reservations().cloned().collect();
            (skus, res)
        })
        .unwrap();
    for (sku, k) in &skus {
        for l in &k.locations {
            prop_assert!(
                l.reserved >= 0 && l.reserved <= l.on_hand,
                "{}@{}",
                sku,
                &l.location
            );
            prop_assert!(
                l.on_hand <= 3,
                "{}@{} restocked beyond its units",
                sku,
                &l.location
            );
        }
    }
    for res in reservations.iter().filter(|r| r.id.ends_with("/exchange")) {
        let request = res.id.trim_end_matches("/exchange");
        let o = orders
            .iter()
            .find(|o| o.returns.iter().any(|r| r.id == request))
            .unwrap();
        let r = o.returns.iter().find(|r| r.id == request).unwrap();
        let held: i64 = res.held.iter().map(|a| a.qty).sum();
        let want: i64 = match r.status {
            ReturnStatus::Approved | ReturnStatus::PendingPayment => r
                .exchange
                .as_ref()
                .unwrap()
                .items
                .iter()
                .map(|i| i.qty)
                .sum(),
            ReturnStatus::Exchanged => r
                .exchange
                .as_ref()
                .unwrap()
                .lines
                .iter()
                .map(|&i| o.line_qty(i) - o.shipped[i] - o.cancelled[i])
                .sum(),
            s => {
                prop_assert!(false, "{} holds stock in status {}", &res.id, s.as_str());
                0
            }
        };
        prop_assert_eq!(held, want, "{} holds what its exchange asks", &res.id);
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    Place(u8),
    Deliver(usize),
    Exchange(usize, usize, u8),
    Move(usize, usize, u8),
    Pay(usize, usize, u8),
    ShipExchange(usize),
    Return(usize, usize),
    Cancel(usize, usize),
    Tick(u8),
    Goodwill(usize),
    Chain(usize, u8),
}

const TARGETS: [&str; 5] = ["shirt-m", "shirt-l", "shirt-s", "shirt-kid", "shirt-xl"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (1u8..4).prop_map(Op::Place),
        2 => (0usize..4).prop_map(Op::Deliver),
        6 => (0usize..4, 0usize..10, 0u8..5).prop_map(|(o, l, t)| Op::Exchange(o, l, t)),
        10 => (0usize..4, 0usize..6, 0u8..10).prop_map(|(o, r, a)| Op::Move(o, r, a)),
        4 => (0usize..4, 0usize..6, 1u8..=100).prop_map(|(o, r, p)| Op::Pay(o, r, p)),
        4 => (0usize..4).prop_map(Op::ShipExchange),
        2 => (0usize..4, 0usize..6).prop_map(|(o, l)| Op::Return(o, l)),
        1 => (0usize..4, 0usize..6).prop_map(|(o, l)| Op::Cancel(o, l)),
        1 => (1u8..60).prop_map(Op::Tick),
        1 => (0usize..4).prop_map(Op::Goodwill),
        2 => (0usize..4, 0u8..5).prop_map(|(o, t)| Op::Chain(o, t)),
    ]
}

/// Runs one op; refusals are fine (typed errors), panics are not.
fn run<S: Store + 'static>(
    e: &Engine<S, ManualClock>,
    clock: &ManualClock,
    placed: &mut Vec<String>,
    op: &Op,
) {
    let name = |i: usize| placed.get(i % placed.len().max(1)).cloned();
    let order = |i: usize| name(i).and_then(|id| e.order(&id).ok());
    match op {
        Op::Place(q) => {
            let id = format!("o{}", placed.len());
            let req = PlaceOrderRequest::new(&id)
                .line("shirt-m", i64::from(*q))
                .line("shirt-s", 1);
            if e.place_order(req, None).is_ok() {
                placed.push(id);
            }
        }
        Op::Deliver(i) => {
            let Some(o) = order(*i) else { return };
            let _ = e.pay(&o.id, o.payable(), None);
            let _ = e.ship(&o.id, None, None);
            let _ = e.deliver(&o.id, None);
        }
        Op::Exchange(i, l, t) => {
            let Some(o) = order(*i) else { return };
            // Lines 5 and up: the last line (an exchange line once there is
            // one).
            let line = if *l >= 5 {
                o.line_count().saturating_sub(1)
            } else {
                l % o.line_count().max(1)
            };
            let sku = TARGETS[usize::from(*t) % TARGETS.len()];
            let _ = e.request_exchange(&o.id, ExchangeOptions::new().item(line, 1, sku), None);
        }
        Op::Move(i, r, a) => {
            let Some(o) = order(*i) else { return };
            // An open request when there is one (any now and then).
            let open: Vec<_> = o.returns.iter().filter(|q| q.is_open()).collect();
            let pick = match open.get(r % open.len().max(1)) {
                Some(q) if *a != 9 => Some(*q),
                _ => o.returns.get(r % o.returns.len().max(1)),
            };
            let Some(req) = pick else {
                return;
            };
            // Mostly the move the request's status wants; now and then one
            // it refuses.
            let action = match (req.status, a) {
                (_, 9) => AfterSaleAction::ALL[r % AfterSaleAction::ALL.len()],
                (ReturnStatus::Requested, 0..=5) => AfterSaleAction::Approve,
                (ReturnStatus::Requested, 6 | 7) => AfterSaleAction::Convert,
                (ReturnStatus::Requested, _) => AfterSaleAction::Withdraw,
                (ReturnStatus::Approved, 8) => AfterSaleAction::Refund,
                (ReturnStatus::Approved, _) => AfterSaleAction::Receive,
                _ => AfterSaleAction::Refund,
            };
            let damaged = a % 3 == 0;
            let _ = e.after_sale(&o.id, &req.id, action, damaged, None);
        }
        Op::Pay(i, r, pct) => {
            let Some(o) = order(*i) else { return };
            // A request waiting for its payment, if any.
            let pending: Vec<_> = o
                .returns
                .iter()
                .filter(|q| q.status == ReturnStatus::PendingPayment)
                .collect();
            let req = match pending.get(r % pending.len().max(1)) {
                Some(q) => *q,
                None => match o.returns.get(r % o.returns.len().max(1)) {
                    Some(q) => q,
                    None => return,
                },
            };
            let Some(x) = &req.exchange else { return };
            let due = x.due.map_or(0, minor) - minor(o.exchange_paid(&req.id).unwrap());
            // All that is left, or a part, or up to 125 % (refused).
            let amount = if *pct > 50 {
                due
            } else {
                (due * i128::from(*pct) / 40).max(1)
            }
            .max(1);
            let _ = e.pay_exchange(
                &o.id,
                &req.id,
                PaymentOptions {
                    method: "wallet".into(),
                    amount: Money::from_minor_i128(amount, Currency::CNY).unwrap(),
                    reference: None,
                },
                None,
            );
        }
        Op::ShipExchange(i) => {
            let Some(o) = order(*i) else { return };
            let left: Vec<LineQty> = o
                .unshipped()
                .into_iter()
                .filter(|lq| o.is_exchange_line(lq.line))
                .collect();
            for (k, lq) in left.into_iter().enumerate() {
                let id = format!("x{}-{k}", o.shipments.len());
                let s = Shipment::new(&id)
                    .package(Package::new("SF", format!("SF{id}")).unit(lq.line, lq.qty));
                if e.ship_shipment(&o.id, s, None).is_ok() {
                    let _ = e.deliver_shipment(&o.id, &id, None);
                }
            }
        }
        Op::Return(i, l) => {
            let Some(o) = order(*i) else { return };
            let line = l % o.line_count().max(1);
            let _ = e.return_items(
                &o.id,
                vec![LineQty { line, qty: 1 }],
                mercato::ReturnOptions { restock: true },
                None,
            );
        }
        Op::Cancel(i, l) => {
            let Some(o) = order(*i) else { return };
            let line = l % o.line_count().max(1);
            let _ = e.cancel_units(&o.id, vec![LineQty { line, qty: 1 }], None);
        }
        Op::Tick(h) => {
            clock.set(clock.now() + chrono::Duration::hours(i64::from(*h)));
            e.tick().unwrap();
        }
        Op::Goodwill(i) => {
            let Some(o) = order(*i) else { return };
            let _ = e.goodwill_refund(&o.id, cny("3.00"), None);
        }
        Op::Chain(i, t) => {
            // The last exchange line with a unit delivered and free is
            // exchanged again, all the way (approve, pay, receive).
            let Some(o) = order(*i) else { return };
            let Some(line) = (0..o.line_count())
                .rev()
                .find(|&l| o.is_exchange_line(l) && o.after_sale_left(l) > 0)
            else {
                return;
            };
            let sku = TARGETS[usize::from(*t) % TARGETS.len()];
            let Ok(x) = e.request_exchange(&o.id, ExchangeOptions::new().item(line, 1, sku), None)
            else {
                return;
            };
            let Ok(a) = e.after_sale(&o.id, &x.request, AfterSaleAction::Approve, false, None)
            else {
                return;
            };
            if let Some(due) = a.exchange.and_then(|v| v.due).filter(|d| d.is_positive()) {
                let _ = e.pay_exchange(
                    &o.id,
                    &x.request,
                    PaymentOptions {
                        method: "wallet".into(),
                        amount: due,
                        reference: None,
                    },
                    None,
                );
            }
            let _ = e.after_sale(&o.id, &x.request, AfterSaleAction::Receive, false, None);
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn exchange_settings(proportional: bool, on_shipment: bool) -> Settings {
    let mut s = settings();
    s.after_sale.refund_allocation = if proportional {
        RefundAllocation::Proportional
    } else {
        RefundAllocation::MostRecentFirst
    };
    s.stock_commit = if on_shipment {
        StockCommit::Shipment
    } else {
        StockCommit::Payment
    };
    s
}

/// How many exchanges reached each status, for the figures.
fn stats(orders: &[Order]) {
    if std::env::var_os("EXCHANGE_STATS").is_some() {
        let ex: Vec<&mercato::core::order::ReturnRecord> = orders
            .iter()
            .flat_map(|o| &o.returns)
            .filter(|r| r.exchange.is_some() || r.kind == AfterSaleKind::Exchange)
            .collect();
        let count = |s: ReturnStatus| ex.iter().filter(|r| r.status == s).count();
        let lines: usize = orders.iter().map(|o| o.exchange_lines.len()).sum();
        let chained = orders
            .iter()
            .flat_map(|o| {
                o.exchange_lines
                    .iter()
                    .filter(|x| o.is_exchange_line(x.replaces.line))
            })
            .count();
        let refunds = orders
            .iter()
            .flat_map(|o| &o.refunds)
            .filter(|r| matches!(r.kind, RefundKind::Exchange | RefundKind::ExchangePayment))
            .count();
        let paid = orders
            .iter()
            .flat_map(|o| &o.payments)
            .filter(|p| p.exchange.is_some())
            .count();
        eprintln!(
            "EXCHANGESTATS orders {} requests {} exchanged {} pending {} approved {} closed {} lines {lines} chained {chained} exchange_refunds {refunds} exchange_payments {paid}",
            orders.len(),
            ex.len(),
            count(ReturnStatus::Exchanged),
            count(ReturnStatus::PendingPayment),
            count(ReturnStatus::Approved),
            count(ReturnStatus::Closed),
        );
    }
}

fn drive<S: Store + 'static>(
    e: &Engine<S, ManualClock>,
    clock: &ManualClock,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let mut placed = Vec::new();
    for op in ops {
        run(e, clock, &mut placed, op);
        check_all(e)?;
    }
    check_return_locations(e)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Random exchanges (every SKU, approvals out of stock, part payments,
    /// deadlines, receipts damaged or not, conversions, chains) among
    /// returns, partial cancels, goodwill refunds and ticks: the money,
    /// unit and stock invariants hold after every step, and a replay of
    /// the log rebuilds the identical orders and stock.
    #[test]
    fn exchanges_keep_the_money_invariants_and_replay_identically(
        ops in proptest::collection::vec(op(), 20..120),
        proportional in any::<bool>(),
        on_shipment in any::<bool>(),
    ) {
        let clock = start();
        let e = Engine::open(MemoryStore::new(), clock.clone()).unwrap();
        stock_up(&e, exchange_settings(proportional, on_shipment), 3);
        drive(&e, &clock, &ops)?;
        let live: Vec<Order> = e.read(|s| s.shop().orders().cloned().collect()).unwrap();
        stats(&live);
        let rebuilt = mercato::rebuild(e.store()).unwrap();
        let replayed: Vec<Order> = rebuilt.shop().orders().cloned().collect();
        prop_assert_eq!(live, replayed);
        let stock_live = e.read(|s| s.shop().stock().clone()).unwrap();
        prop_assert_eq!(&stock_live, rebuilt.shop().stock());
    }
}

proptest! {
    // SQLite: fewer cases (each one a database file).
    #![proptest_config(ProptestConfig::with_cases((cases() / 8).max(4)))]

    /// The same on SQLite; reopening the file rebuilds the identical
    /// orders and stock.
    #[test]
    fn exchanges_on_sqlite_reopen_identically(
        ops in proptest::collection::vec(op(), 20..120),
        on_shipment in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let open = || SqliteStore::open(&path, SqliteOptions::default().synchronous(Synchronous::Off)).unwrap();
        let clock = start();
        let (live, stock_live) = {
            let e = Engine::open(open(), clock.clone()).unwrap();
            stock_up(&e, exchange_settings(true, on_shipment), 3);
            drive(&e, &clock, &ops)?;
            let live: Vec<Order> = e.read(|s| s.shop().orders().cloned().collect()).unwrap();
            let stock = e.read(|s| s.shop().stock().clone()).unwrap();
            (live, stock)
        };
        stats(&live);
        let e = Engine::open(open(), clock).unwrap();
        let again: Vec<Order> = e.read(|s| s.shop().orders().cloned().collect()).unwrap();
        prop_assert_eq!(live, again);
        prop_assert_eq!(stock_live, e.read(|s| s.shop().stock().clone()).unwrap());
    }
}
