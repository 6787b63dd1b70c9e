//! The JSON that outlives a release stays the same: requests (their
//! fingerprint is stored with every idempotency key: a changed encoding
//! would turn a retry into an `idempotency_conflict`) and responses (stored
//! in idempotency records and answered to retries byte for byte). The
//! strings below were captured from the release before the typed API
//! (issue 15) and must not change.

use mercato::core::Currency;
use mercato::store::{MemoryStore, Store};
use mercato::{Engine, ManualClock, Request, Settings};

fn clock() -> ManualClock {
    ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> T {
    serde_json::from_str(s).unwrap()
}

/// Runs every kind of keyed call and returns (request JSON, stored request
/// hash, stored response JSON) per call.
fn records() -> Vec<(String, String, String)> {
    let e = Engine::open(MemoryStore::new(), clock()).unwrap();
    e.configure(Currency::CNY, Settings::default()).unwrap();
    e.add_catalog_item(json(r#"{"sku": "tea", "price": "12.00"}"#))
        .unwrap();
    let requests: Vec<Request> = vec![
        json(
            r#"{"op": "adjust_stock", "sku": "tea", "location": "main", "delta": 10, "reason": "received"}"#,
        ),
        json(r#"{"op": "register_customer", "id": "u1", "tier": "gold", "points": 100}"#),
        json(
            r#"{"op": "place_order", "id": "o1", "customer": "u1", "lines": [{"sku": "tea", "qty": 2}], "points": 0}"#,
        ),
        json(r#"{"op": "pay", "order": "o1", "amount": "24.00"}"#),
        json(r#"{"op": "ship", "order": "o1"}"#),
        json(r#"{"op": "deliver", "order": "o1"}"#),
        json(
            r#"{"op": "return", "order": "o1", "lines": [{"line": 0, "qty": 1}], "restock": true}"#,
        ),
        json(r#"{"op": "place_order", "id": "o2", "lines": [{"sku": "tea", "qty": 1}]}"#),
        json(r#"{"op": "cancel", "order": "o2"}"#),
        json(r#"{"op": "tick"}"#),
    ];
    let mut out = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let key = format!("k{i}");
        e.execute(r, Some(&key)).unwrap();
        let rec = e.store().idempotency(&key).unwrap().expect("a record");
        out.push((
            serde_json::to_string(r).unwrap(),
            rec.request_hash,
            rec.response,
        ));
    }
    out
}

#[test]
fn requests_and_responses_keep_their_json() {
    let got = records();
    let want: Vec<(&str, &str, &str)> = vec![
        (
            "{\"op\":\"adjust_stock\",\"sku\":\"tea\",\"location\":\"main\",\"delta\":10,\"reason\":\"received\"}",
            "c1af0533955b4093b458381c65031a62ae3b86486a96add9f13b850647cce215",
            "{\"kind\":\"stock\",\"sku\":\"tea\",\"location\":\"main\",\"on_hand\":10}",
        ),
        (
            "{\"op\":\"register_customer\",\"id\":\"u1\",\"tier\":\"gold\",\"points\":100}",
            "28399efaa7588d3c6090ba72597b886025876eab95baeb5e4c1ba56a0397ba06",
            "{\"kind\":\"done\"}",
        ),
        (
            "{\"op\":\"place_order\",\"id\":\"o1\",\"customer\":\"u1\",\"lines\":[{\"sku\":\"tea\",\"qty\":2}],\"coupons\":[],\"points\":0,\"channel\":null}",
            "a6d13d1261508c2a5c22f5cded92111d8e005ff944fab370be984347aff7eb2f",
            "{\"kind\":\"placed\",\"order\":\"o1\",\"status\":\"pending_payment\",\"quote\":{\"currency\":\"CNY\",\"lines\":[{\"line\":0,\"sku\":\"tea\",\"qty\":2,\"unit_price\":\"12.00 CNY\",\"amount\":\"24.00 CNY\",\"adjustments\":[],\"net\":\"24.00 CNY\",\"gift\":false}],\"applied\":[],\"rejected\":[],\"coupons\":[],\"points_used\":0,\"totals\":{\"list\":\"24.00 CNY\",\"unit_discount\":\"0.00 CNY\",\"item_discount\":\"0.00 CNY\",\"order_discount\":\"0.00 CNY\",\"coupon_discount\":\"0.00 CNY\",\"points_deduction\":\"0.00 CNY\",\"goods\":\"24.00 CNY\",\"shipping\":\"0.00 CNY\",\"payable\":\"24.00 CNY\"}},\"reservations\":[{\"sku\":\"tea\",\"location\":\"main\",\"qty\":2}],\"hold_reasons\":[]}",
        ),
        (
            "{\"op\":\"pay\",\"order\":\"o1\",\"amount\":\"24.00\"}",
            "3fdae371a92ab4c2aea54d6eab26138520ba48675796b18f57e5640b31d11625",
            "{\"kind\":\"status\",\"order\":\"o1\",\"status\":\"paid\"}",
        ),
        (
            "{\"op\":\"ship\",\"order\":\"o1\",\"lines\":null}",
            "6faf145b53242444e9ecf1eed7499d8c69d839edb6e9da6f25c9b06112a3e338",
            "{\"kind\":\"status\",\"order\":\"o1\",\"status\":\"shipped\"}",
        ),
        (
            "{\"op\":\"deliver\",\"order\":\"o1\"}",
            "4e144042a1628d1e254c8c67d36a517d9592a3f06fe0c5eb973e34658e5c662e",
            "{\"kind\":\"status\",\"order\":\"o1\",\"status\":\"delivered\"}",
        ),
        (
            "{\"op\":\"return\",\"order\":\"o1\",\"lines\":[{\"line\":0,\"qty\":1}],\"restock\":true}",
            "26bbae4f60cdc318509d71a95d2dbbbea7812edc89629e69500ca785d71e1c51",
            "{\"kind\":\"returned\",\"order\":\"o1\",\"return_id\":\"o1-r1\",\"refund\":\"12.00 CNY\",\"points_returned\":0,\"status\":\"delivered\"}",
        ),
        (
            "{\"op\":\"place_order\",\"id\":\"o2\",\"customer\":null,\"lines\":[{\"sku\":\"tea\",\"qty\":1}],\"coupons\":[],\"points\":0,\"channel\":null}",
            "dbfb53ea6a3ff39512dfb58467bf177730804f905eaf7b7904ef6d0fe51e3d23",
            "{\"kind\":\"placed\",\"order\":\"o2\",\"status\":\"pending_payment\",\"quote\":{\"currency\":\"CNY\",\"lines\":[{\"line\":0,\"sku\":\"tea\",\"qty\":1,\"unit_price\":\"12.00 CNY\",\"amount\":\"12.00 CNY\",\"adjustments\":[],\"net\":\"12.00 CNY\",\"gift\":false}],\"applied\":[],\"rejected\":[],\"coupons\":[],\"points_used\":0,\"totals\":{\"list\":\"12.00 CNY\",\"unit_discount\":\"0.00 CNY\",\"item_discount\":\"0.00 CNY\",\"order_discount\":\"0.00 CNY\",\"coupon_discount\":\"0.00 CNY\",\"points_deduction\":\"0.00 CNY\",\"goods\":\"12.00 CNY\",\"shipping\":\"0.00 CNY\",\"payable\":\"12.00 CNY\"}},\"reservations\":[{\"sku\":\"tea\",\"location\":\"main\",\"qty\":1}],\"hold_reasons\":[]}",
        ),
        (
            "{\"op\":\"cancel\",\"order\":\"o2\"}",
            "e5d9aa2f62977ad4ab0fe0c1b9b288018924698e920b70b8b88f9a9a9a2a333a",
            "{\"kind\":\"cancelled\",\"order\":\"o2\",\"refund\":\"0.00 CNY\"}",
        ),
        (
            "{\"op\":\"tick\"}",
            "7ca512442927dd1b9a63e0569e44eea4ea5b928d9eada9fe36c46f8a0d14e9c0",
            "{\"kind\":\"tick\",\"closed\":[],\"completed\":[]}",
        ),
    ];
    assert_eq!(got.len(), want.len());
    for ((r, h, resp), (wr, wh, wresp)) in got.iter().zip(want) {
        assert_eq!(r, wr);
        assert_eq!(h, wh, "the fingerprint of {r}");
        assert_eq!(resp, wresp, "the answer to {r}");
    }
}

/// The operations whose request is the core command itself (issue 15,
/// "one shape per operation") encode exactly as the field-by-field request
/// variants they replaced: same `op`, same fields in the same order, the
/// same defaults when a field is left out. The strings are the encodings of
/// the earlier variants, whose fields were declared in this order.
#[test]
fn shared_shape_requests_keep_their_json() {
    let cases: Vec<(&str, &str)> = vec![
        (
            r#"{"op": "configure_location", "sku": "tea", "location": "north", "safety": 2, "backorder": false, "priority": 5}"#,
            r#"{"op":"configure_location","sku":"tea","location":"north","safety":2,"backorder":false,"priority":5}"#,
        ),
        (
            r#"{"op": "open_quota", "sku": "tea", "channel": "app", "qty": 3}"#,
            r#"{"op":"open_quota","sku":"tea","channel":"app","qty":3}"#,
        ),
        (
            r#"{"op": "close_quota", "sku": "tea", "channel": "app"}"#,
            r#"{"op":"close_quota","sku":"tea","channel":"app"}"#,
        ),
        (
            r#"{"op": "set_low_stock_threshold", "sku": "tea", "threshold": 4}"#,
            r#"{"op":"set_low_stock_threshold","sku":"tea","threshold":4}"#,
        ),
        (
            r#"{"op": "set_low_stock_threshold", "sku": "tea", "threshold": null}"#,
            r#"{"op":"set_low_stock_threshold","sku":"tea","threshold":null}"#,
        ),
        // Tier and points default when left out, as before.
        (
            r#"{"op": "register_customer", "id": "u2"}"#,
            r#"{"op":"register_customer","id":"u2","tier":null,"points":0}"#,
        ),
        (
            r#"{"op": "earn_points", "customer": "u1", "points": 5, "reason": "review"}"#,
            r#"{"op":"earn_points","customer":"u1","points":5,"reason":"review"}"#,
        ),
        (
            r#"{"op": "hold", "order": "o1", "reasons": ["manual"]}"#,
            r#"{"op":"hold","order":"o1","reasons":["manual"]}"#,
        ),
        (
            r#"{"op": "release", "order": "o1"}"#,
            r#"{"op":"release","order":"o1"}"#,
        ),
        (
            r#"{"op": "reject", "order": "o1"}"#,
            r#"{"op":"reject","order":"o1"}"#,
        ),
        (
            r#"{"op": "complete", "order": "o1"}"#,
            r#"{"op":"complete","order":"o1"}"#,
        ),
        (
            r#"{"op": "set_customer_tags", "id": "u1", "tags": ["vip"]}"#,
            r#"{"op":"set_customer_tags","id":"u1","tags":["vip"]}"#,
        ),
    ];
    for (input, want) in cases {
        let req: Request = json(input);
        assert_eq!(serde_json::to_string(&req).unwrap(), want, "{input}");
    }
}
