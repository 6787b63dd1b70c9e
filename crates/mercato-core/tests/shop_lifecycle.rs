//! Order lifecycle through the composite `Shop`: every ledger moves with the
//! order, refused commands change nothing, timers are driven by `Tick`.

use chrono::{DateTime, Duration, Utc};
use mercato_core::coupon::CouponStatus;
use mercato_core::order::{LineQty, OrderStatus};
use mercato_core::quote::{Adjustment, Stage};
use mercato_core::shop::{HoldOrder, OrderRef, RegisterCustomer};
use mercato_core::shop::{PlaceOrder, StockCommit};
use mercato_core::stock::AdjustStock;
use mercato_core::stock::StockCommand;
use mercato_core::{Command, Context, CoreError, Currency, Money, Quote, Shop, ShopConfig};

fn cny(s: &str) -> Money {
    Money::parse(s, Currency::CNY).unwrap()
}

fn t0() -> DateTime<Utc> {
    "2026-03-02T09:00:00Z".parse().unwrap()
}

struct World {
    shop: Shop,
    config: ShopConfig,
    now: DateTime<Utc>,
}

impl World {
    fn new(config: ShopConfig) -> Self {
        let mut w = World {
            shop: Shop::new(),
            config,
            now: t0(),
        };
        w.run(Command::RegisterCustomer(RegisterCustomer {
            id: "u1".into(),
            tier: None,
            points: 1000,
        }))
        .unwrap();
        w.run(Command::Stock(StockCommand::Adjust(AdjustStock {
            sku: "kettle".into(),
            location: "main".into(),
            delta: 8,
            reason: "received".into(),
        })))
        .unwrap();
        w
    }

    fn run(&mut self, cmd: Command) -> Result<Vec<mercato_core::Event>, CoreError> {
        let ctx = Context {
            now: self.now,
            config: &self.config,
        };
        let before = self.shop.clone();
        let ev = self.shop.decide(&cmd, &ctx);
        assert_eq!(before, self.shop, "decide must not change the shop");
        let ev = ev?;
        self.shop.apply_all(&ev);
        Ok(ev)
    }

    fn place(&mut self, id: &str, qty: i64, quote: Option<Quote>) -> Result<(), CoreError> {
        let quote = quote.unwrap_or_else(|| {
            Quote::at_list_prices(
                Currency::CNY,
                &[("kettle", qty, cny("129.00"))],
                cny("0.00"),
            )
            .unwrap()
        });
        self.run(Command::Place(Box::new(PlaceOrder {
            id: id.into(),
            customer: Some("u1".into()),
            channel: "web".into(),
            quote: quote.into(),
            hold_reasons: vec![],
        })))
        .map(|_| ())
    }

    fn status(&self, id: &str) -> OrderStatus {
        self.shop.order(id).unwrap().status
    }

    fn level(&self) -> (i64, i64, i64) {
        let l = self.shop.stock().level("kettle");
        (l.on_hand, l.reserved, l.available)
    }
}

/// A quote for 2 kettles with a coupon and 500 points (5.00) deducted.
fn quote_with_coupon_and_points() -> Quote {
    let mut q =
        Quote::at_list_prices(Currency::CNY, &[("kettle", 2, cny("129.00"))], cny("0.00")).unwrap();
    let l = &mut q.lines[0];
    l.adjustments.push(Adjustment {
        source: "SAVE10".into(),
        stage: Stage::Coupon,
        amount: cny("10.00"),
    });
    l.adjustments.push(Adjustment {
        source: "points".into(),
        stage: Stage::Points,
        amount: cny("5.00"),
    });
    l.net = cny("243.00");
    q.coupons = vec!["SAVE10".into()];
    q.points_used = 500;
    q.totals.coupon_discount = cny("10.00");
    q.totals.points_deduction = cny("5.00");
    q.totals.goods = cny("243.00");
    q.totals.payable = cny("243.00");
    q.check().unwrap();
    q
}

fn issue_coupon(w: &mut World) {
    w.run(Command::IssueCoupon {
        code: "SAVE10".into(),
        owner: Some("u1".into()),
        usage_limit: None,
        per_customer_limit: 1,
        valid_until: None,
    })
    .unwrap();
}

#[test]
fn place_pay_ship_deliver_auto_complete() {
    let mut w = World::new(ShopConfig::default());
    w.place("o1", 2, None).unwrap();
    assert_eq!(w.status("o1"), OrderStatus::PendingPayment);
    assert_eq!(w.level(), (8, 2, 6));
    assert!(matches!(
        w.run(Command::Pay {
            order: "o1".into(),
            amount: cny("250.00")
        }),
        Err(CoreError::PaymentMismatch { .. })
    ));
    w.run(Command::Pay {
        order: "o1".into(),
        amount: cny("258.00"),
    })
    .unwrap();
    assert_eq!(w.level(), (6, 0, 6), "payment commits the reservation");
    w.run(Command::Ship {
        order: "o1".into(),
        lines: None,
    })
    .unwrap();
    assert_eq!(w.status("o1"), OrderStatus::Shipped);
    w.run(Command::Deliver { order: "o1".into() }).unwrap();
    w.now += Duration::days(7) - Duration::seconds(1);
    w.run(Command::Tick).unwrap();
    assert_eq!(w.status("o1"), OrderStatus::Delivered);
    w.now += Duration::seconds(1);
    w.run(Command::Tick).unwrap();
    assert_eq!(w.status("o1"), OrderStatus::Completed);
}

#[test]
fn unpaid_order_closes_and_gives_back_stock_coupon_and_points() {
    let mut w = World::new(ShopConfig::default());
    issue_coupon(&mut w);
    w.place("o1", 2, Some(quote_with_coupon_and_points()))
        .unwrap();
    assert_eq!(w.shop.points().balance("u1"), 500);
    let c = w.shop.coupons().get("SAVE10").unwrap();
    assert_eq!(c.status(Some("u1"), w.now), CouponStatus::Locked);
    // The same coupon cannot be locked by a second order meanwhile.
    assert!(
        w.place("o2", 2, Some(quote_with_coupon_and_points()))
            .is_err()
    );
    assert_eq!(w.level(), (8, 2, 6));
    w.now += Duration::minutes(29);
    w.run(Command::Tick).unwrap();
    assert_eq!(w.status("o1"), OrderStatus::PendingPayment);
    w.now += Duration::minutes(1);
    w.run(Command::Tick).unwrap();
    assert_eq!(w.status("o1"), OrderStatus::Closed);
    assert_eq!(w.level(), (8, 0, 8));
    assert_eq!(w.shop.points().balance("u1"), 1000);
    let c = w.shop.coupons().get("SAVE10").unwrap();
    assert_eq!(c.status(Some("u1"), w.now), CouponStatus::Available);
    assert!(
        w.run(Command::Pay {
            order: "o1".into(),
            amount: cny("243.00")
        })
        .is_err(),
        "late payment is refused"
    );
}

#[test]
fn cancelling_a_paid_order_refunds_and_restocks() {
    let mut w = World::new(ShopConfig::default());
    issue_coupon(&mut w);
    w.place("o1", 2, Some(quote_with_coupon_and_points()))
        .unwrap();
    w.run(Command::Pay {
        order: "o1".into(),
        amount: cny("243.00"),
    })
    .unwrap();
    assert_eq!(w.level(), (6, 0, 6));
    let ev = w
        .run(Command::Cancel(OrderRef { order: "o1".into() }))
        .unwrap();
    assert!(ev.iter().any(|e| matches!(e,
        mercato_core::Event::Order(mercato_core::order::OrderEvent::Cancelled { refund, .. }) if *refund == cny("243.00"))));
    assert_eq!(w.level(), (8, 0, 8));
    assert_eq!(w.shop.points().balance("u1"), 1000);
    assert_eq!(
        w.shop
            .coupons()
            .get("SAVE10")
            .unwrap()
            .status(Some("u1"), w.now),
        CouponStatus::Available
    );
    assert!(
        w.run(Command::Cancel(OrderRef { order: "o1".into() }))
            .is_err()
    );
}

#[test]
fn partial_shipment_commits_per_unit_when_stock_commits_on_shipment() {
    let mut w = World::new(ShopConfig {
        stock_commit: StockCommit::Shipment,
        ..ShopConfig::default()
    });
    w.place("o1", 3, None).unwrap();
    w.run(Command::Pay {
        order: "o1".into(),
        amount: cny("387.00"),
    })
    .unwrap();
    assert_eq!(w.level(), (8, 3, 5), "nothing committed on payment");
    w.now += Duration::hours(2);
    w.run(Command::Tick).unwrap();
    assert_eq!(
        w.level(),
        (8, 3, 5),
        "a paid order's reservation does not expire"
    );
    w.run(Command::Ship {
        order: "o1".into(),
        lines: Some(vec![LineQty { line: 0, qty: 1 }]),
    })
    .unwrap();
    assert_eq!(w.status("o1"), OrderStatus::PartiallyShipped);
    assert_eq!(w.level(), (7, 2, 5));
    assert!(
        w.run(Command::Cancel(OrderRef { order: "o1".into() }))
            .is_err(),
        "no cancel after shipment"
    );
    assert!(
        w.run(Command::Ship {
            order: "o1".into(),
            lines: Some(vec![LineQty { line: 0, qty: 3 }])
        })
        .is_err()
    );
    assert!(
        w.run(Command::Ship {
            order: "o1".into(),
            lines: Some(vec![LineQty { line: 1, qty: 1 }])
        })
        .is_err()
    );
    w.run(Command::Ship {
        order: "o1".into(),
        lines: None,
    })
    .unwrap();
    assert_eq!(w.status("o1"), OrderStatus::Shipped);
    assert_eq!(w.level(), (5, 0, 5));
}

#[test]
fn returns_refund_unit_nets_first_first_and_return_points() {
    let mut w = World::new(ShopConfig::default());
    issue_coupon(&mut w);
    // 2 kettles net 243.00 after a 5.00 points deduction (500 points):
    // unit nets 121.50 / 121.50, unit points 2.50 / 2.50.
    w.place("o1", 2, Some(quote_with_coupon_and_points()))
        .unwrap();
    w.run(Command::Pay {
        order: "o1".into(),
        amount: cny("243.00"),
    })
    .unwrap();
    assert!(
        w.run(Command::Return {
            order: "o1".into(),
            return_id: "r0".into(),
            lines: vec![LineQty { line: 0, qty: 1 }],
            restock: true,
            owed_back: cny("0.00"),
        })
        .is_err(),
        "no return before delivery"
    );
    w.run(Command::Ship {
        order: "o1".into(),
        lines: None,
    })
    .unwrap();
    w.run(Command::Deliver { order: "o1".into() }).unwrap();
    let zero = cny("0.00");
    w.run(Command::Return {
        order: "o1".into(),
        return_id: "r1".into(),
        lines: vec![LineQty { line: 0, qty: 1 }],
        restock: true,
        owed_back: zero,
    })
    .unwrap();
    let o = w.shop.order("o1").unwrap();
    assert_eq!(o.refunded, cny("121.50"));
    assert_eq!(o.points_returned, 250, "floor(500 × 2.50 / 5.00)");
    assert_eq!(o.status, OrderStatus::Delivered);
    assert_eq!(w.level(), (7, 0, 7), "restocked at its location");
    w.run(Command::Return {
        order: "o1".into(),
        return_id: "r2".into(),
        lines: vec![LineQty { line: 0, qty: 1 }],
        restock: false,
        owed_back: zero,
    })
    .unwrap();
    let o = w.shop.order("o1").unwrap();
    assert_eq!(
        o.refunded,
        cny("243.00"),
        "every unit back refunds exactly what was paid"
    );
    assert_eq!(o.points_returned, 500);
    assert_eq!(o.status, OrderStatus::Returned);
    assert_eq!(w.shop.points().balance("u1"), 1000);
    assert!(
        w.run(Command::Return {
            order: "o1".into(),
            return_id: "r3".into(),
            lines: vec![LineQty { line: 0, qty: 1 }],
            restock: false,
            owed_back: zero,
        })
        .is_err()
    );
}

#[test]
fn reprice_holds_back_then_gives_back_on_the_last_return() {
    let mut w = World::new(ShopConfig::default());
    w.place("o1", 3, None).unwrap();
    w.run(Command::Pay {
        order: "o1".into(),
        amount: cny("387.00"),
    })
    .unwrap();
    w.run(Command::Ship {
        order: "o1".into(),
        lines: None,
    })
    .unwrap();
    w.run(Command::Deliver { order: "o1".into() }).unwrap();
    let ret = |id: &str, owed: &str| Command::Return {
        order: "o1".into(),
        return_id: id.into(),
        lines: vec![LineQty { line: 0, qty: 1 }],
        restock: true,
        owed_back: cny(owed),
    };
    // First return: the kept units owe 30.00 back: refund 129.00 − 30.00.
    w.run(ret("r1", "30.00")).unwrap();
    assert_eq!(w.shop.order("o1").unwrap().refunded, cny("99.00"));
    assert_eq!(w.shop.order("o1").unwrap().held_back, cny("30.00"));
    // Second return: still 30.00 owed, already held: full unit refund.
    w.run(ret("r2", "30.00")).unwrap();
    assert_eq!(w.shop.order("o1").unwrap().refunded, cny("228.00"));
    // Last return gives back everything held.
    w.run(ret("r3", "30.00")).unwrap();
    let o = w.shop.order("o1").unwrap();
    assert_eq!(o.refunded, cny("387.00"));
    assert_eq!(o.held_back, cny("0.00"));
}

#[test]
fn hold_release_and_reject() {
    let mut w = World::new(ShopConfig::default());
    let q =
        Quote::at_list_prices(Currency::CNY, &[("kettle", 1, cny("129.00"))], cny("0.00")).unwrap();
    w.run(Command::Place(Box::new(PlaceOrder {
        id: "o1".into(),
        customer: Some("u1".into()),
        channel: "app".into(),
        quote: q.clone().into(),
        hold_reasons: vec!["max_qty".into()],
    })))
    .unwrap();
    assert_eq!(w.status("o1"), OrderStatus::OnHold);
    assert!(
        w.run(Command::Pay {
            order: "o1".into(),
            amount: cny("129.00")
        })
        .is_err()
    );
    w.now += Duration::hours(5);
    w.run(Command::Tick).unwrap();
    assert_eq!(
        w.status("o1"),
        OrderStatus::OnHold,
        "a held order keeps its reservation"
    );
    assert_eq!(w.level(), (8, 1, 7));
    w.run(Command::Release(OrderRef { order: "o1".into() }))
        .unwrap();
    assert_eq!(w.status("o1"), OrderStatus::PendingPayment);
    let dl = w.shop.order("o1").unwrap().deadline.unwrap();
    assert_eq!(
        dl,
        w.now + Duration::minutes(30),
        "deadline counts from the release"
    );
    w.run(Command::Hold(HoldOrder {
        order: "o1".into(),
        reasons: vec!["manual".into()],
    }))
    .unwrap();
    w.run(Command::Reject(OrderRef { order: "o1".into() }))
        .unwrap();
    assert_eq!(w.status("o1"), OrderStatus::Cancelled);
    assert_eq!(w.level(), (8, 0, 8));
}

#[test]
fn zero_payable_is_paid_on_placement() {
    let mut w = World::new(ShopConfig::default());
    let mut q =
        Quote::at_list_prices(Currency::CNY, &[("kettle", 1, cny("129.00"))], cny("0.00")).unwrap();
    q.lines[0].adjustments.push(Adjustment {
        source: "free".into(),
        stage: Stage::Order,
        amount: cny("129.00"),
    });
    q.lines[0].net = cny("0.00");
    q.totals.order_discount = cny("129.00");
    q.totals.goods = cny("0.00");
    q.totals.payable = cny("0.00");
    w.place("o1", 1, Some(q)).unwrap();
    assert_eq!(w.status("o1"), OrderStatus::Paid);
    assert_eq!(w.level(), (7, 0, 7));
}

#[test]
fn refused_commands_change_nothing() {
    let mut w = World::new(ShopConfig::default());
    let before = w.shop.clone();
    assert!(matches!(
        w.place("o1", 9, None),
        Err(CoreError::InsufficientStock {
            wanted: 9,
            available: 8,
            ..
        })
    ));
    assert!(matches!(
        w.run(Command::Pay {
            order: "nope".into(),
            amount: cny("1.00")
        }),
        Err(CoreError::UnknownOrder(_))
    ));
    let bad =
        Quote::at_list_prices(Currency::CNY, &[("kettle", 1, cny("129.00"))], cny("0.00")).unwrap();
    let mut bad2 = bad.clone();
    bad2.totals.payable = cny("1.00");
    assert!(matches!(
        w.run(Command::Place(Box::new(PlaceOrder {
            id: "o1".into(),
            customer: None,
            channel: "web".into(),
            quote: bad2.into(),
            hold_reasons: vec![]
        }))),
        Err(CoreError::InconsistentPricing(_))
    ));
    assert!(matches!(
        w.run(Command::Place(Box::new(PlaceOrder {
            id: "o1".into(),
            customer: Some("ghost".into()),
            channel: "web".into(),
            quote: bad.clone().into(),
            hold_reasons: vec![]
        }))),
        Err(CoreError::UnknownCustomer(_))
    ));
    let unstocked = Quote::at_list_prices(
        Currency::CNY,
        &[("kettle", 1, cny("129.00")), ("nothing", 1, cny("1.00"))],
        cny("0.00"),
    )
    .unwrap();
    assert!(matches!(
        w.run(Command::Place(Box::new(PlaceOrder {
            id: "o1".into(),
            customer: None,
            channel: "web".into(),
            quote: unstocked.into(),
            hold_reasons: vec![]
        }))),
        Err(CoreError::InsufficientStock { .. })
    ));
    assert_eq!(before, w.shop);
    w.place("o1", 1, None).unwrap();
    assert!(matches!(
        w.place("o1", 1, None),
        Err(CoreError::DuplicateOrder(_))
    ));
}

/// Drives an order into each status and checks every command the table
/// refuses there is refused by the shop with `InvalidTransition`.
#[test]
fn every_refused_transition_is_a_typed_error() {
    use mercato_core::order::OrderAction as A;
    let setups: Vec<(OrderStatus, Vec<&str>)> = vec![
        (OrderStatus::PendingPayment, vec![]),
        (OrderStatus::OnHold, vec!["hold"]),
        (OrderStatus::Paid, vec!["pay"]),
        (OrderStatus::Shipped, vec!["pay", "ship"]),
        (OrderStatus::Delivered, vec!["pay", "ship", "deliver"]),
        (
            OrderStatus::Completed,
            vec!["pay", "ship", "deliver", "complete"],
        ),
        (OrderStatus::Cancelled, vec!["cancel"]),
        (OrderStatus::Closed, vec!["close"]),
    ];
    for (status, steps) in setups {
        for action in A::ALL {
            if status.allows(action) || action == A::Close {
                continue;
            }
            let mut w = World::new(ShopConfig::default());
            w.place("o1", 2, None).unwrap();
            for s in &steps {
                let cmd = match *s {
                    "hold" => Command::Hold(HoldOrder {
                        order: "o1".into(),
                        reasons: vec!["x".into()],
                    }),
                    "pay" => Command::Pay {
                        order: "o1".into(),
                        amount: cny("258.00"),
                    },
                    "ship" => Command::Ship {
                        order: "o1".into(),
                        lines: None,
                    },
                    "deliver" => Command::Deliver { order: "o1".into() },
                    "complete" => Command::Complete(OrderRef { order: "o1".into() }),
                    "cancel" => Command::Cancel(OrderRef { order: "o1".into() }),
                    _ => {
                        w.now += Duration::hours(1);
                        Command::Tick
                    }
                };
                w.run(cmd).unwrap();
            }
            assert_eq!(w.status("o1"), status);
            let cmd = match action {
                A::Pay => Command::Pay {
                    order: "o1".into(),
                    amount: cny("258.00"),
                },
                A::Hold => Command::Hold(HoldOrder {
                    order: "o1".into(),
                    reasons: vec![],
                }),
                A::Release => Command::Release(OrderRef { order: "o1".into() }),
                A::Reject => Command::Reject(OrderRef { order: "o1".into() }),
                A::Cancel => Command::Cancel(OrderRef { order: "o1".into() }),
                A::Ship => Command::Ship {
                    order: "o1".into(),
                    lines: None,
                },
                A::Deliver => Command::Deliver { order: "o1".into() },
                A::Complete => Command::Complete(OrderRef { order: "o1".into() }),
                A::Return => Command::Return {
                    order: "o1".into(),
                    return_id: "r".into(),
                    lines: vec![LineQty { line: 0, qty: 1 }],
                    restock: false,
                    owed_back: cny("0.00"),
                },
                A::CancelUnits => Command::CancelUnits {
                    order: "o1".into(),
                    refund_id: "f".into(),
                    lines: vec![LineQty { line: 0, qty: 1 }],
                    owed_back: cny("0.00"),
                },
                A::Refund => Command::Goodwill {
                    order: "o1".into(),
                    refund_id: "f".into(),
                    amount: cny("1.00"),
                },
                A::Close => unreachable!(),
            };
            let err = w.run(cmd).unwrap_err();
            assert!(
                matches!(err, CoreError::InvalidTransition { state, .. } if state == status.as_str()),
                "{} in {}: {err}",
                action.as_str(),
                status.as_str()
            );
        }
    }
}

/// Settings out of any sensible range (a log written before the engine
/// validated them may hold such values): placing, paying, delivering and
/// ticking never panic. An unrepresentable timeout gives no deadline (the
/// order is never closed unpaid); an unrepresentable auto-complete delay
/// never completes; representable negative values act at the next tick.
#[test]
fn extreme_timers_never_panic() {
    let huge = [
        i64::MAX,
        i64::MIN,
        200_000_000_000_000,
        -200_000_000_000_000,
    ];
    for timeout in huge {
        for days in huge {
            let mut w = World::new(ShopConfig {
                payment_timeout_minutes: timeout,
                stock_commit: StockCommit::Payment,
                auto_complete_days: days,
                ..ShopConfig::default()
            });
            w.place("o1", 1, None).unwrap();
            assert_eq!(
                w.shop.order("o1").unwrap().deadline,
                None,
                "timeout {timeout}: no representable deadline"
            );
            w.place("o2", 1, None).unwrap();
            w.run(Command::Pay {
                order: "o2".into(),
                amount: cny("129.00"),
            })
            .unwrap();
            w.run(Command::Ship {
                order: "o2".into(),
                lines: None,
            })
            .unwrap();
            w.run(Command::Deliver { order: "o2".into() }).unwrap();
            w.now += Duration::days(365 * 100);
            w.run(Command::Tick).unwrap();
            assert_eq!(w.status("o1"), OrderStatus::PendingPayment);
            assert_eq!(w.status("o2"), OrderStatus::Delivered);
        }
    }
    // Representable but negative: already due at the next tick.
    let mut w = World::new(ShopConfig {
        payment_timeout_minutes: -5,
        stock_commit: StockCommit::Payment,
        auto_complete_days: -1,
        ..ShopConfig::default()
    });
    w.place("o1", 1, None).unwrap();
    w.run(Command::Tick).unwrap();
    assert_eq!(w.status("o1"), OrderStatus::Closed);
}
