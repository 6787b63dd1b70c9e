//! The model of staged after-sale requests, refund-only, partial cancel,
//! shipments and the money every unit refund moves (its goods part, its
//! shipping share, the return shipping the customer bears, the cap at what
//! the payments still hold, the points given back, and how it is allocated
//! over the payments), from `docs/order-lifecycle.md` ("After-sale
//! requests", "Refunds", "Payments ledger", "Shipments").

use mercato::core::aftersale::{AfterSaleAction, AfterSaleKind, ShippingRefund};
use mercato::core::order::{OrderStatus, ReturnStatus};
use mercato::core::payments::RefundAllocation;
use mercato::core::shop::StockCommit;
use mercato::{Package, Request};

use super::{
    Expected, ExpectedOutcome, ModelOrder, ModelPayment, ModelRequest, ReferenceModel, Step,
    line_qtys, order_id, pick, unit_share,
};

/// What refunding some units is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UnitRefund {
    /// Money back in all (minor units).
    pub amount: i64,
    /// Its shipping part.
    pub shipping: i64,
    /// Points given back.
    pub points: i64,
}

/// The reason codes a [`Step::RequestAfterSale`] picks from.
const REASONS: [&str; 4] = ["damaged", "wrong_item", "not_as_described", "changed_mind"];

/// The action a [`Step::AfterSale`] names.
fn action_of(action: u8) -> AfterSaleAction {
    match action % 6 {
        0 => AfterSaleAction::Approve,
        1 => AfterSaleAction::Reject,
        2 => AfterSaleAction::Withdraw,
        3 => AfterSaleAction::Receive,
        4 => AfterSaleAction::Refund,
        _ => AfterSaleAction::Close,
    }
}

/// The carrier a [`Step::ShipShipment`] names (empty: refused).
fn carrier_of(carrier: u8) -> &'static str {
    match carrier % 8 {
        7 => "",
        c => ["SF", "JD", "YTO"][usize::from(c % 3)],
    }
}

/// The after-sale table of `docs/order-lifecycle.md`, written out: which
/// caller action a request of `kind` in `status` takes (`close` is the
/// timer's only, never a caller's).
fn allowed(status: ReturnStatus, kind: AfterSaleKind, action: AfterSaleAction) -> bool {
    use AfterSaleAction as A;
    use AfterSaleKind as K;
    use ReturnStatus as S;
    matches!(
        (status, kind, action),
        (S::Requested, _, A::Approve | A::Reject | A::Withdraw)
            | (S::Approved, K::ReturnRefund, A::Receive)
            | (S::Approved, K::RefundOnly, A::Refund)
            | (S::Received, K::ReturnRefund, A::Refund)
    )
}

/// Splits `amount` over the payments by what each still holds: the most
/// recent first, or in proportion (largest remainder; ties to the larger
/// weight, then the earlier payment). One share per payment.
fn allocate(payments: &[ModelPayment], amount: i64, policy: RefundAllocation) -> Vec<i64> {
    let left: Vec<i64> = payments
        .iter()
        .map(|p| (p.amount - p.refunded).max(0))
        .collect();
    let mut out = vec![0_i64; payments.len()];
    match policy {
        RefundAllocation::MostRecentFirst => {
            let mut need = amount;
            for (i, l) in left.iter().enumerate().rev() {
                let t = need.min(*l);
                out[i] = t;
                need -= t;
            }
        }
        RefundAllocation::Proportional => {
            let total: i128 = left.iter().map(|l| i128::from(*l)).sum();
            if total <= 0 {
                return out;
            }
            let mut rems: Vec<(i128, i64, usize)> = Vec::new();
            let mut given = 0_i64;
            for (i, l) in left.iter().enumerate() {
                let prod = i128::from(amount) * i128::from(*l);
                out[i] = i64::try_from(prod / total).unwrap_or(0);
                given += out[i];
                rems.push((prod % total, *l, i));
            }
            rems.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
            let extra = usize::try_from(amount - given).unwrap_or(0);
            for (_, _, i) in rems.into_iter().take(extra) {
                out[i] += 1;
            }
        }
    }
    out
}

/// Adds `sign × qty` of each entry to the per-line counter `v`.
fn add(v: &mut [i64], entries: &[(usize, i64)], sign: i64) {
    for (i, q) in entries {
        if let Some(x) = v.get_mut(*i) {
            *x += sign * q;
        }
    }
}

/// Units per line of `lines` merged in order of first appearance.
fn merge(lines: impl Iterator<Item = (usize, i64)>) -> Vec<(usize, i64)> {
    let mut out: Vec<(usize, i64)> = Vec::new();
    for (l, q) in lines {
        match out.iter_mut().find(|x| x.0 == l) {
            Some(x) => x.1 = x.1.saturating_add(q),
            None => out.push((l, q)),
        }
    }
    out
}

fn entries(lines: &[(u8, i64)]) -> Vec<(usize, i64)> {
    lines.iter().map(|(l, q)| (usize::from(*l), *q)).collect()
}

impl ReferenceModel {
    /// The engine request of an after-sale, partial cancel or shipment
    /// step.
    pub(super) fn after_sale_request(&self, step: &Step) -> Option<Request> {
        Some(match step {
            Step::RequestAfterSale {
                order,
                refund_only,
                lines,
                reason,
                fee,
            } => Request::RequestAfterSale {
                order: order_id(*order),
                kind: if *refund_only {
                    AfterSaleKind::RefundOnly
                } else {
                    AfterSaleKind::ReturnRefund
                },
                lines: line_qtys(lines),
                reason_code: Some(REASONS[usize::from(reason % 4)].to_string()),
                note: None,
                return_shipping_fee: fee.map(|f| crate::util::dec(i64::from(f))),
            },
            Step::AfterSale {
                order,
                request,
                action,
                damaged,
            } => Request::AfterSale {
                order: order_id(*order),
                request: self.request_id(*order, *request),
                action: action_of(*action),
                damaged: *damaged,
            },
            Step::CancelUnits { order, .. } => Request::CancelUnits {
                order: order_id(*order),
                lines: line_qtys(&self.cancel_lines(step)),
            },
            Step::ShipShipment {
                order,
                shipment,
                packages,
                carrier,
            } => Request::ShipShipment {
                order: order_id(*order),
                shipment: format!("s{}", shipment % 4),
                packages: packages
                    .iter()
                    .enumerate()
                    .map(|(k, units)| Package {
                        carrier: carrier_of(*carrier).to_string(),
                        tracking: format!("T{order}-{shipment}-{k}"),
                        lines: line_qtys(units),
                    })
                    .collect(),
            },
            Step::DeliverShipment { order, shipment } => Request::DeliverShipment {
                order: order_id(*order),
                shipment: self.shipment_id(*order, *shipment),
            },
            _ => return None,
        })
    }

    /// The units a [`Step::CancelUnits`] names: its lines, or with `rest`
    /// every unit not shipped or cancelled yet.
    pub(super) fn cancel_lines(&self, step: &Step) -> Vec<(u8, i64)> {
        match step {
            Step::CancelUnits {
                lines, rest: false, ..
            } => lines.clone(),
            Step::CancelUnits { order, .. } => self
                .orders
                .get(&order_id(*order))
                .map(|o| {
                    (0..o.lines.len())
                        .map(|i| (i, o.lines[i].qty - o.shipped[i] - o.cancelled[i]))
                        .filter(|(_, q)| *q > 0)
                        .map(|(i, q)| (u8::try_from(i).unwrap_or(u8::MAX), q))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Request `<order>-r<n>`; 0: the order's latest.
    fn request_id(&self, order: u8, n: u8) -> String {
        let id = order_id(order);
        if n == 0 {
            let latest = self
                .orders
                .get(&id)
                .and_then(|o| o.requests.last())
                .map(|r| r.id.clone());
            return latest.unwrap_or_else(|| format!("{id}-r1"));
        }
        format!("{id}-r{n}")
    }

    /// The order's shipment of index `n` (modulo its shipments plus one;
    /// one past the end: an unknown id).
    fn shipment_id(&self, order: u8, n: u8) -> String {
        let ids: Vec<String> = self
            .orders
            .get(&order_id(order))
            .map(|o| o.shipments.iter().map(|s| s.id.clone()).collect())
            .unwrap_or_default();
        pick(&ids, n).unwrap_or_else(|| "zz-none".into())
    }

    /// What refunding `entries` (line, qty) of `o` is worth: the units'
    /// shares of their lines' nets, taken first-first after the units
    /// refunded before; the shipping share under the policy when
    /// `with_shipping` (returns and partial cancels); less the return
    /// shipping `fee`; capped at what the payments still hold. Points: the
    /// units' share of the points deduction (`floor(points_used × share ÷
    /// total deduction)`), the refund of the last unit all that is left.
    pub(super) fn unit_refund(
        &self,
        o: &ModelOrder,
        entries: &[(usize, i64)],
        with_shipping: bool,
        fee: i64,
    ) -> UnitRefund {
        let mut taken = o.refunded_units.clone();
        let mut goods = 0_i64;
        let mut pts_part = 0_i64;
        for (i, k) in entries {
            let l = &o.lines[*i];
            goods += unit_share(l.net, l.qty, taken[*i], *k);
            pts_part += unit_share(l.points, l.qty, taken[*i], *k);
            taken[*i] += k;
        }
        let completes = o.lines.iter().zip(&taken).all(|(l, t)| *t >= l.qty);
        let remaining = o.points_used - o.points_returned;
        let points = if completes {
            remaining.max(0)
        } else if o.points_total_deduction == 0 {
            0
        } else {
            (o.points_used * pts_part / o.points_total_deduction)
                .min(remaining)
                .max(0)
        };
        let policy = self.settings.after_sale.shipping_refund;
        let left = (o.shipping - o.shipping_refunded).max(0);
        let shipping = if !with_shipping || o.shipping == 0 || policy == ShippingRefund::Never {
            0
        } else if completes {
            left
        } else if policy == ShippingRefund::OnFullReturn {
            0
        } else {
            // Pro rata: ⌊shipping × net refunded so far ÷ Σ nets⌋, less
            // what went back before.
            let net_after: i64 = o
                .lines
                .iter()
                .zip(&taken)
                .map(|(l, t)| unit_share(l.net, l.qty, 0, (*t).clamp(0, l.qty)))
                .sum();
            let net_all: i64 = o.lines.iter().map(|l| l.net).sum();
            if net_all <= 0 {
                0
            } else {
                let due = i128::from(o.shipping) * i128::from(net_after) / i128::from(net_all);
                (i64::try_from(due).unwrap_or(i64::MAX) - o.shipping_refunded)
                    .max(0)
                    .min(left)
            }
        };
        let amount = (goods + shipping - fee)
            .max(0)
            .min((o.paid - o.refunded).max(0));
        UnitRefund {
            amount,
            shipping: shipping.min(amount),
            points,
        }
    }

    /// Books a refund of `amount` (of which `shipping`) on `o`: allocated
    /// over the payments by the current policy.
    pub(super) fn book_refund(&self, o: &mut ModelOrder, amount: i64, shipping: i64) {
        if amount > 0 {
            let shares = allocate(
                &o.payments,
                amount,
                self.settings.after_sale.refund_allocation,
            );
            for (p, s) in o.payments.iter_mut().zip(shares) {
                p.refunded += s;
            }
        }
        o.refunded += amount;
        o.shipping_refunded += shipping;
    }

    /// Books a unit refund: its money, its units, its points.
    pub(super) fn book_unit_refund(
        &mut self,
        o: &mut ModelOrder,
        entries: &[(usize, i64)],
        r: &UnitRefund,
    ) {
        self.book_refund(o, r.amount, r.shipping);
        add(&mut o.refunded_units, entries, 1);
        o.points_returned += r.points;
        if let Some(c) = &o.customer {
            *self.points.entry(c.clone()).or_insert(0) += r.points;
        }
    }

    /// `request_after_sale`: units shipped and not returned, in an open
    /// request or refunded while kept; a `return_refund` once delivered, a
    /// `refund_only` from payment on; within `request_window_days` of
    /// delivery.
    pub(super) fn request_after_sale(
        &mut self,
        id: &str,
        refund_only: bool,
        lines: &[(u8, i64)],
        fee: i64,
    ) -> ExpectedOutcome {
        let Some(mut o) = self.orders.get(id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        if lines.iter().any(|(_, q)| *q <= 0) {
            return ExpectedOutcome::Err("invalid_quantity");
        }
        let status_ok = if refund_only {
            matches!(
                o.status,
                OrderStatus::Paid
                    | OrderStatus::PartiallyShipped
                    | OrderStatus::Shipped
                    | OrderStatus::Delivered
                    | OrderStatus::Completed
            )
        } else {
            matches!(o.status, OrderStatus::Delivered | OrderStatus::Completed)
        };
        if !status_ok {
            return ExpectedOutcome::Err("invalid_transition");
        }
        let left: Vec<i64> = (0..o.lines.len())
            .map(|i| o.shipped[i] - o.returned[i] - o.returning[i] - o.kept_refunded[i])
            .collect();
        if let Err(code) = Self::units(&o, lines, |i| left[i]) {
            return ExpectedOutcome::Err(code);
        }
        let window = self.settings.after_sale.request_window_days;
        if let (Some(d), Some(days)) = (o.delivered_at, window)
            && self.now > d + chrono::Duration::days(days)
        {
            return ExpectedOutcome::Err("invalid_transition");
        }
        let e = entries(lines);
        add(&mut o.returning, &e, 1);
        o.requests.push(ModelRequest {
            id: format!("{id}-r{}", o.requests.len() + 1),
            kind: if refund_only {
                AfterSaleKind::RefundOnly
            } else {
                AfterSaleKind::ReturnRefund
            },
            lines: e,
            status: ReturnStatus::Requested,
            requested_at: Some(self.now),
            approved_at: None,
            fee,
        });
        let status = o.status;
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::Ok(Expected {
            status: Some(status),
            request: Some(ReturnStatus::Requested),
            ..Expected::default()
        })
    }

    /// `after_sale`: approve, reject, withdraw, receive (restocked where the
    /// units left from unless damaged), refund.
    pub(super) fn move_request(&mut self, step: &Step) -> ExpectedOutcome {
        let Step::AfterSale {
            order,
            request,
            action,
            damaged,
        } = step
        else {
            return ExpectedOutcome::Inconsistent("not an after-sale action".into());
        };
        let id = order_id(*order);
        let rid = self.request_id(*order, *request);
        let Some(mut o) = self.orders.get(&id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        let Some(ri) = o.requests.iter().position(|r| r.id == rid) else {
            return ExpectedOutcome::Err("invalid_transition");
        };
        let action = action_of(*action);
        let r = o.requests[ri].clone();
        if !allowed(r.status, r.kind, action) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        let mut refund = None;
        let status = match action {
            AfterSaleAction::Approve => {
                o.requests[ri].approved_at = Some(self.now);
                ReturnStatus::Approved
            }
            AfterSaleAction::Reject | AfterSaleAction::Withdraw => {
                add(&mut o.returning, &r.lines, -1);
                if action == AfterSaleAction::Reject {
                    ReturnStatus::Rejected
                } else {
                    ReturnStatus::Withdrawn
                }
            }
            AfterSaleAction::Receive => {
                if !damaged {
                    self.restock_returned(&o, &r.lines);
                }
                add(&mut o.returning, &r.lines, -1);
                add(&mut o.returned, &r.lines, 1);
                ReturnStatus::Received
            }
            AfterSaleAction::Refund | AfterSaleAction::Close => {
                let ret = r.kind == AfterSaleKind::ReturnRefund;
                let u = self.unit_refund(&o, &r.lines, ret, r.fee);
                self.book_unit_refund(&mut o, &r.lines, &u);
                if !ret {
                    // The customer keeps the goods.
                    add(&mut o.returning, &r.lines, -1);
                    add(&mut o.kept_refunded, &r.lines, 1);
                }
                if matches!(o.status, OrderStatus::Delivered | OrderStatus::Completed)
                    && o.all_refunded()
                {
                    o.status = OrderStatus::Returned;
                }
                refund = Some(u);
                ReturnStatus::Refunded
            }
            // Exchanges are outside the model (the generator never asks).
            AfterSaleAction::Convert | AfterSaleAction::Pay => {
                return ExpectedOutcome::Inconsistent("exchange actions are not modelled".into());
            }
        };
        o.requests[ri].status = status;
        let order_status = o.status;
        self.orders.insert(id, o);
        ExpectedOutcome::Ok(Expected {
            status: Some(order_status),
            refund: refund.map(|u| u.amount),
            shipping: refund.map(|u| u.shipping),
            points_returned: refund.map(|u| u.points),
            request: Some(status),
            ..Expected::default()
        })
    }

    /// `cancel_units`: units neither shipped nor cancelled, never every
    /// unit; held units are released where they were held (their quota
    /// unit back), units sold at payment go back to the shelf (the last
    /// units of each line first); their nets are refunded with the
    /// shipping share.
    pub(super) fn cancel_units(&mut self, id: &str, lines: &[(u8, i64)]) -> ExpectedOutcome {
        let Some(mut o) = self.orders.get(id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        if lines.iter().any(|(_, q)| *q <= 0) {
            return ExpectedOutcome::Err("invalid_quantity");
        }
        let left: Vec<i64> = (0..o.lines.len())
            .map(|i| o.lines[i].qty - o.shipped[i] - o.cancelled[i])
            .collect();
        let want = match Self::units(&o, lines, |i| left[i]) {
            Ok(w) => w,
            Err(code) => return ExpectedOutcome::Err(code),
        };
        if !matches!(o.status, OrderStatus::Paid | OrderStatus::PartiallyShipped) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        if (0..o.lines.len()).all(|i| o.cancelled[i] + want[i] >= o.lines[i].qty) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        let e = entries(lines);
        let refund = self.unit_refund(&o, &e, true, 0);
        if !o.held.is_empty() {
            for (i, q) in &e {
                let sku = o.lines[*i].sku.clone();
                let mut need = *q;
                let mut back = Vec::new();
                for h in o.held.iter_mut().filter(|h| h.sku == sku) {
                    let t = need.min(h.qty);
                    if t > 0 {
                        h.qty -= t;
                        need -= t;
                        back.push(super::ModelAlloc {
                            qty: t,
                            ..h.clone()
                        });
                    }
                }
                for a in back {
                    if let Some(l) = self.loc_mut(&a.sku, &a.location) {
                        l.reserved -= a.qty;
                    }
                    self.quota_back(&a);
                }
            }
            o.held.retain(|h| h.qty > 0);
        } else if o.committed || self.settings.stock_commit == StockCommit::Payment {
            // Sold at payment: the last units of each line not cancelled
            // before go back, with their quota units.
            let mut taken: Vec<i64> = (0..o.lines.len())
                .map(|i| o.lines[i].qty - o.cancelled[i] - want[i])
                .collect();
            for (i, q) in &e {
                let sku = o.lines[*i].sku.clone();
                let from = usize::try_from(taken[*i]).unwrap_or(usize::MAX);
                let k = usize::try_from(*q).unwrap_or(0);
                for (loc, quota) in o.unit_slots(*i).into_iter().skip(from).take(k) {
                    self.unit_back(&sku, &loc, quota.as_deref());
                }
                taken[*i] += q;
            }
        }
        add(&mut o.cancelled, &e, 1);
        if o.shipped.iter().any(|s| *s > 0) && o.all_shipped_or_cancelled() {
            o.status = OrderStatus::Shipped;
            // Every shipment delivered and nothing left to ship: delivered.
            if !o.shipments.is_empty() && o.shipments.iter().all(|s| s.delivered) {
                o.status = OrderStatus::Delivered;
                o.delivered_at = Some(self.now);
            }
        }
        self.book_unit_refund(&mut o, &e, &refund);
        let status = o.status;
        self.orders.insert(id.to_string(), o);
        ExpectedOutcome::Ok(Expected {
            status: Some(status),
            refund: Some(refund.amount),
            shipping: Some(refund.shipping),
            points_returned: Some(refund.points),
            ..Expected::default()
        })
    }

    /// `ship_shipment`: packages with a carrier, a tracking number and
    /// units each; a new id; no more units than are left to ship.
    pub(super) fn ship_shipment(&mut self, step: &Step) -> ExpectedOutcome {
        let Step::ShipShipment {
            order,
            shipment,
            packages,
            carrier,
        } = step
        else {
            return ExpectedOutcome::Inconsistent("not a shipment".into());
        };
        let id = order_id(*order);
        let Some(o) = self.orders.get(&id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        if packages.is_empty() {
            return ExpectedOutcome::Err("invalid_quantity");
        }
        for p in packages {
            if p.is_empty() || p.iter().any(|(_, q)| *q <= 0) {
                return ExpectedOutcome::Err("invalid_quantity");
            }
            if carrier_of(*carrier).is_empty() {
                return ExpectedOutcome::Err("invalid_transition");
            }
        }
        if !matches!(o.status, OrderStatus::Paid | OrderStatus::PartiallyShipped) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        let sid = format!("s{}", shipment % 4);
        if o.shipments.iter().any(|s| s.id == sid) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        let merged = merge(
            packages
                .iter()
                .flatten()
                .map(|(l, q)| (usize::from(*l), *q)),
        );
        for (i, q) in &merged {
            let left = o
                .lines
                .get(*i)
                .map_or(0, |l| l.qty - o.shipped[*i] - o.cancelled[*i]);
            if *q > left {
                return ExpectedOutcome::Err("invalid_transition");
            }
        }
        self.ship_units(&id, o, sid, &merged)
    }

    /// `deliver_shipment`: a shipment not yet delivered, of an order
    /// partially shipped or shipped; the order is delivered with the last
    /// one when nothing is left to ship.
    pub(super) fn deliver_shipment(&mut self, step: &Step) -> ExpectedOutcome {
        let Step::DeliverShipment { order, shipment } = step else {
            return ExpectedOutcome::Inconsistent("not a delivery".into());
        };
        let id = order_id(*order);
        let sid = self.shipment_id(*order, *shipment);
        let Some(mut o) = self.orders.get(&id).cloned() else {
            return ExpectedOutcome::Err("unknown_order");
        };
        let Some(si) = o.shipments.iter().position(|s| s.id == sid) else {
            return ExpectedOutcome::Err("invalid_transition");
        };
        if o.shipments[si].delivered {
            return ExpectedOutcome::Err("invalid_transition");
        }
        if !matches!(
            o.status,
            OrderStatus::PartiallyShipped | OrderStatus::Shipped
        ) {
            return ExpectedOutcome::Err("invalid_transition");
        }
        o.shipments[si].delivered = true;
        if o.shipments.iter().all(|s| s.delivered) && o.all_shipped_or_cancelled() {
            o.status = OrderStatus::Delivered;
            o.delivered_at = Some(self.now);
        }
        let status = o.status;
        self.orders.insert(id, o);
        ExpectedOutcome::status(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pays(v: &[(i64, i64)]) -> Vec<ModelPayment> {
        v.iter()
            .map(|(a, r)| ModelPayment {
                amount: *a,
                refunded: *r,
            })
            .collect()
    }

    #[test]
    fn most_recent_first_takes_the_last_payment_first() {
        // p1 60.00, p2 40.00: 50.00 back = 40.00 from p2, 10.00 from p1.
        let p = pays(&[(6000, 0), (4000, 0)]);
        assert_eq!(
            allocate(&p, 5000, RefundAllocation::MostRecentFirst),
            [1000, 4000]
        );
        // p2 already gave back 30.00: 20.00 = 10.00 from p2, 10.00 from p1.
        let p = pays(&[(6000, 0), (4000, 3000)]);
        assert_eq!(
            allocate(&p, 2000, RefundAllocation::MostRecentFirst),
            [1000, 1000]
        );
    }

    #[test]
    fn proportional_splits_by_largest_remainder() {
        // 0.10 over three payments holding 1.00 each: 0.04, 0.03, 0.03
        // (equal remainders 1/3: the earlier payment takes the odd cent).
        let p = pays(&[(100, 0), (100, 0), (100, 0)]);
        assert_eq!(allocate(&p, 10, RefundAllocation::Proportional), [4, 3, 3]);
        // 50.00 over 60.00 / 40.00: 30.00 / 20.00 exactly.
        let p = pays(&[(6000, 0), (4000, 0)]);
        assert_eq!(
            allocate(&p, 5000, RefundAllocation::Proportional),
            [3000, 2000]
        );
        // 0.01 over 0.01 / 0.02 held: remainders 1/3 and 2/3: the second.
        let p = pays(&[(1, 0), (5, 3)]);
        assert_eq!(allocate(&p, 1, RefundAllocation::Proportional), [0, 1]);
    }

    #[test]
    fn merged_lines_keep_first_appearance() {
        assert_eq!(
            merge([(1, 2), (0, 1), (1, 1)].into_iter()),
            [(1, 3), (0, 1)]
        );
    }
}
