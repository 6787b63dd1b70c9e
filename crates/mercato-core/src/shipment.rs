//! Shipments (issue 13): an order ships in one or more shipments, each
//! with packages (carrier, tracking number, the units in each) and the
//! stock location every unit left from; each shipment is delivered on its
//! own, and the order is delivered when every shipped unit is delivered
//! and nothing is left to ship.
//!
//! The v1 `ship` command is one shipment without packages (id
//! `<order>-s<n>`); the v1 `deliver` delivers every shipment not yet
//! delivered. A `shipped.v1` event of a log written before shipments had
//! ids becomes such a shipment on replay, its locations read from the
//! order's allocations the way returns read them then.
//!
//! Where a unit left from: with stock committed on shipment, the units the
//! commit takes from the reservation (first-first per SKU, in the order the
//! reservation holds them, [`crate::stock::StockLedger::commit_split`]);
//! with stock committed on payment, the order's allocations in order, the
//! first units of a line first (a partial cancel gives back the last ones).
//! A returned unit is restocked at the location recorded for it
//! ([`Order::return_allocations`]): the `n`-th returned unit of a line is
//! the `n`-th shipped one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::event::Event;
use crate::order::{LineQty, Order, OrderAction, OrderEvent, OrderStatus, at};
use crate::shop::{Context, Shop, StockCommit};
use crate::stock::{Allocation, StockCommand, StockLine};

/// One package of a shipment: a carrier's parcel with its tracking number
/// and the units in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// The carrier (`SF`, `JD`, `UPS`...).
    pub carrier: String,
    /// The carrier's tracking number.
    pub tracking: String,
    /// The units in the package, per order line.
    pub lines: Vec<LineQty>,
}

impl Package {
    /// A package of `carrier` with tracking number `tracking`, no units yet.
    ///
    /// ```
    /// use mercato_core::shipment::Package;
    /// let p = Package::new("SF", "SF1001").unit(0, 2).unit(1, 1);
    /// assert_eq!(p.lines.len(), 2);
    /// ```
    pub fn new(carrier: impl Into<String>, tracking: impl Into<String>) -> Self {
        Package {
            carrier: carrier.into(),
            tracking: tracking.into(),
            lines: Vec::new(),
        }
    }

    /// Adds `qty` units of order line `line`.
    pub fn unit(mut self, line: usize, qty: i64) -> Self {
        self.lines.push(LineQty { line, qty });
        self
    }
}

/// A shipment to send: its id (the caller's, unique within the order) and
/// its packages ([`Command::ShipShipment`](crate::Command::ShipShipment)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// Shipment id, unique within the order.
    pub id: String,
    /// Its packages (at least one, each with at least one unit).
    pub packages: Vec<Package>,
}

impl Shipment {
    /// A shipment `id` without packages yet.
    ///
    /// ```
    /// use mercato_core::shipment::{Package, Shipment};
    /// let s = Shipment::new("s1").package(Package::new("SF", "SF1001").unit(0, 1));
    /// assert_eq!(s.lines(), vec![mercato_core::order::LineQty { line: 0, qty: 1 }]);
    /// ```
    pub fn new(id: impl Into<String>) -> Self {
        Shipment {
            id: id.into(),
            packages: Vec::new(),
        }
    }

    /// Adds a package.
    pub fn package(mut self, package: Package) -> Self {
        self.packages.push(package);
        self
    }

    /// The units of every package, merged per line in order of first
    /// appearance (quantities saturate; they are checked before use).
    pub fn lines(&self) -> Vec<LineQty> {
        merge_lines(self.packages.iter().flat_map(|p| p.lines.iter()))
    }
}

/// Merges units per line, in order of first appearance.
fn merge_lines<'a>(lines: impl Iterator<Item = &'a LineQty>) -> Vec<LineQty> {
    let mut out: Vec<LineQty> = Vec::new();
    for lq in lines {
        match out.iter_mut().find(|x| x.line == lq.line) {
            Some(x) => x.qty = x.qty.saturating_add(lq.qty),
            None => out.push(*lq),
        }
    }
    out
}

/// Units of one order line that left from one stock location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitSource {
    /// Order line.
    pub line: usize,
    /// The stock location the units left from.
    pub location: String,
    /// Units.
    pub qty: i64,
}

/// A shipment of an order, as the events built it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRecord {
    /// Shipment id (`<order>-s<n>` for the v1 `ship`).
    pub id: String,
    /// Its packages (none for the v1 `ship`).
    #[serde(default)]
    pub packages: Vec<Package>,
    /// Its units per line.
    pub lines: Vec<LineQty>,
    /// Where its units left from, per line, in the order they left.
    #[serde(default)]
    pub sources: Vec<UnitSource>,
    /// When it was shipped (`None` in logs written before shipments).
    #[serde(default)]
    pub shipped_at: Option<DateTime<Utc>>,
    /// When it was delivered, once it is.
    #[serde(default)]
    pub delivered_at: Option<DateTime<Utc>>,
}

impl ShipmentRecord {
    /// Whether it was delivered.
    pub fn is_delivered(&self) -> bool {
        self.delivered_at.is_some()
    }
}

/// The per-line locations of `allocations` taken for `lines` (one entry of
/// `parts` per entry of `lines`), merged per (line, location).
pub(crate) fn sources_of(lines: &[LineQty], parts: &[Vec<Allocation>]) -> Vec<UnitSource> {
    let mut out: Vec<UnitSource> = Vec::new();
    for (lq, part) in lines.iter().zip(parts) {
        for a in part {
            match out
                .iter_mut()
                .find(|s| s.line == lq.line && s.location == a.location)
            {
                Some(s) => s.qty = s.qty.saturating_add(a.qty),
                None => out.push(UnitSource {
                    line: lq.line,
                    location: a.location.clone(),
                    qty: a.qty,
                }),
            }
        }
    }
    out
}

impl Order {
    /// The shipment id the v1 `ship` gives its next shipment: the first
    /// `<order>-s<n>` not taken, from `n` = shipments + 1.
    pub fn next_shipment_id(&self) -> String {
        let mut n = self.shipments.len() + 1;
        loop {
            let id = format!("{}-s{n}", self.id);
            if !self.shipments.iter().any(|s| s.id == id) {
                return id;
            }
            n += 1;
        }
    }

    /// A shipment of this order.
    pub fn shipment(&self, id: &str) -> Option<&ShipmentRecord> {
        self.shipments.iter().find(|s| s.id == id)
    }

    /// Where the next `lines` shipped units leave from when the stock was
    /// committed for the whole order (at payment): the order's allocations
    /// in order, after the units shipped so far.
    pub fn committed_sources(&self, lines: &[LineQty]) -> Vec<UnitSource> {
        let mut taken = self.shipped.clone();
        let parts: Vec<Vec<Allocation>> = lines
            .iter()
            .map(|lq| {
                let part = self.allocations_for(std::slice::from_ref(lq), &taken);
                if let Some(t) = taken.get_mut(lq.line) {
                    *t += lq.qty;
                }
                part
            })
            .collect();
        sources_of(lines, &parts)
    }

    /// Whether the shipments record a location for every shipped unit of
    /// `line` (false for an order from a snapshot written before
    /// shipments).
    fn sources_cover(&self, line: usize) -> bool {
        let recorded: i64 = self
            .shipments
            .iter()
            .flat_map(|s| &s.sources)
            .filter(|s| s.line == line)
            .map(|s| s.qty)
            .sum();
        recorded == at(&self.shipped, line)
    }

    /// Where returned units `lines` go back to, given `already` units of
    /// each line returned before: the `n`-th returned unit of a line is the
    /// `n`-th shipped one, restocked at the location it left from (the
    /// order's allocations where the shipments do not record it).
    pub fn return_allocations(&self, lines: &[LineQty], already: &[i64]) -> Vec<Allocation> {
        let mut out: Vec<Allocation> = Vec::new();
        let mut taken: Vec<i64> = already.to_vec();
        let n = self.line_count();
        if taken.len() < n {
            taken.resize(n, 0);
        }
        for lq in lines {
            let Some(line) = self.line(lq.line) else {
                continue;
            };
            let from = at(&taken, lq.line);
            let part: Vec<Allocation> = if self.sources_cover(lq.line) {
                let mut skip = from;
                let mut need = lq.qty;
                let mut part = Vec::new();
                for s in self
                    .shipments
                    .iter()
                    .flat_map(|s| &s.sources)
                    .filter(|s| s.line == lq.line)
                {
                    let avail = s.qty - skip.min(s.qty);
                    skip -= skip.min(s.qty);
                    let t = avail.min(need);
                    if t > 0 {
                        need -= t;
                        part.push(Allocation {
                            sku: line.sku.to_string(),
                            location: s.location.clone(),
                            qty: t,
                            quota: None,
                        });
                    }
                }
                part
            } else {
                // A returned unit does not reopen its channel quota.
                self.allocations_for(std::slice::from_ref(lq), &taken)
                    .into_iter()
                    .map(|a| Allocation { quota: None, ..a })
                    .collect()
            };
            if let Some(t) = taken.get_mut(lq.line) {
                *t += lq.qty;
            }
            for a in part {
                match out
                    .iter_mut()
                    .find(|x| x.sku == a.sku && x.location == a.location)
                {
                    Some(x) => x.qty += a.qty,
                    None => out.push(a),
                }
            }
        }
        out
    }

    /// Validates the units of a new shipment: every package has a carrier,
    /// a tracking number and units; every quantity is positive; no line
    /// gets more units than are left to ship.
    pub fn check_shipment(&self, shipment: &Shipment) -> Result<(), CoreError> {
        let (order, sid) = (self.id.clone(), shipment.id.clone());
        if shipment.id.trim().is_empty() {
            return Err(CoreError::InvalidOrderRequest {
                order,
                problem: "a shipment needs an id".into(),
            });
        }
        if shipment.packages.is_empty() {
            return Err(CoreError::EmptyShipment {
                order,
                shipment: sid,
            });
        }
        for (i, p) in shipment.packages.iter().enumerate() {
            if p.lines.is_empty() {
                return Err(CoreError::EmptyPackage {
                    order,
                    shipment: sid,
                    package: i,
                });
            }
            Order::check_quantities(&p.lines, "shipment")?;
            if p.carrier.trim().is_empty() || p.tracking.trim().is_empty() {
                return Err(CoreError::InvalidOrderRequest {
                    order,
                    problem: format!(
                        "package {i} of shipment `{sid}` needs a carrier and a tracking number"
                    ),
                });
            }
        }
        self.check_exchange_lines(&shipment.lines(), OrderAction::Ship)?;
        if self.shipment(&shipment.id).is_some() {
            return Err(CoreError::DuplicateShipment {
                order,
                shipment: sid,
            });
        }
        for lq in shipment.lines() {
            let left = self.line(lq.line).map_or(0, |l| {
                l.qty - at(&self.shipped, lq.line) - at(&self.cancelled, lq.line)
            });
            if lq.qty > left {
                return Err(CoreError::UnitsNotShippable {
                    order,
                    line: lq.line,
                    wanted: lq.qty,
                    left: left.max(0),
                });
            }
        }
        Ok(())
    }

    /// Whether every shipment is delivered and nothing is left to ship:
    /// the order is delivered.
    pub fn all_delivered(&self) -> bool {
        !self.shipments.is_empty()
            && self.shipments.iter().all(ShipmentRecord::is_delivered)
            && self.all_shipped_or_cancelled()
    }

    /// Folds a `shipped.v1` event into the shipments (before the shipped
    /// counters move): its shipment, or for a log written before shipments
    /// one named `<order>-s<n>` with its locations read from the
    /// allocations.
    pub(crate) fn record_shipment(
        &mut self,
        shipment: Option<&String>,
        packages: &[Package],
        lines: &[LineQty],
        sources: &[UnitSource],
        at: Option<DateTime<Utc>>,
    ) {
        let sources = if sources.is_empty() {
            self.committed_sources(lines)
        } else {
            sources.to_vec()
        };
        let id = shipment.cloned().unwrap_or_else(|| self.next_shipment_id());
        self.shipments.push(ShipmentRecord {
            id,
            packages: packages.to_vec(),
            lines: lines.to_vec(),
            sources,
            shipped_at: at,
            delivered_at: None,
        });
    }
}

impl Shop {
    /// The `shipped.v1` event (and the stock commit when stock commits on
    /// shipment) of shipping `lines` of `o` as shipment `shipment` with
    /// `packages`. `lines` must have been checked.
    pub(crate) fn shipment_events(
        &self,
        o: &Order,
        shipment: String,
        packages: Vec<Package>,
        lines: &[LineQty],
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        if lines.iter().any(|lq| o.is_exchange_line(lq.line)) {
            return self.exchange_shipment_events(o, shipment, packages, lines, ctx);
        }
        let id = &o.id;
        let mut stock = Vec::new();
        let sources = if ctx.config.stock_commit == StockCommit::Shipment
            && self.stock().reservation(id).is_some()
        {
            let stock_lines: Vec<StockLine> = lines
                .iter()
                .map(|lq| StockLine {
                    sku: o.quote.lines[lq.line].sku.clone(),
                    qty: lq.qty,
                })
                .collect();
            let parts = self.stock().commit_split(id, &stock_lines)?;
            let committed = self.stock().decide(&StockCommand::Commit {
                id: id.clone(),
                lines: Some(stock_lines),
            })?;
            stock.extend(committed.into_iter().map(Event::Stock));
            let all_shipped = o.quote.lines.iter().zip(&o.shipped).all(|(l, s)| {
                s + at(&o.cancelled, l.line)
                    + lines
                        .iter()
                        .filter(|x| x.line == l.line)
                        .map(|x| x.qty)
                        .sum::<i64>()
                    >= l.qty
            });
            if all_shipped {
                stock.push(Event::Order(OrderEvent::StockCommitted { id: id.clone() }));
            }
            sources_of(lines, &parts)
        } else {
            o.committed_sources(lines)
        };
        let mut ev = vec![Event::Order(OrderEvent::Shipped {
            id: id.clone(),
            lines: lines.to_vec(),
            shipment: Some(shipment),
            packages,
            sources,
            at: Some(ctx.now),
        })];
        ev.extend(stock);
        Ok(ev)
    }

    /// Ships `shipment` of order `order`: its packages' units, not more
    /// than are left to ship.
    pub fn decide_ship_shipment(
        &self,
        order: &str,
        shipment: &Shipment,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self
            .order(order)
            .ok_or_else(|| CoreError::UnknownOrder(order.to_string()))?;
        o.check_shipment(shipment)?;
        let lines = shipment.lines();
        self.shipment_events(
            o,
            shipment.id.clone(),
            shipment.packages.clone(),
            &lines,
            ctx,
        )
    }

    /// Delivers shipment `shipment` of order `order`; the order is
    /// delivered with it when every other shipment is delivered and nothing
    /// is left to ship.
    pub fn decide_deliver_shipment(
        &self,
        order: &str,
        shipment: &str,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, CoreError> {
        let o = self
            .order(order)
            .ok_or_else(|| CoreError::UnknownOrder(order.to_string()))?;
        let s = o
            .shipment(shipment)
            .ok_or_else(|| CoreError::UnknownShipment {
                order: order.to_string(),
                shipment: shipment.to_string(),
            })?;
        if s.is_delivered() {
            return Err(CoreError::ShipmentAlreadyDelivered {
                order: order.to_string(),
                shipment: shipment.to_string(),
            });
        }
        // An exchange's shipment is delivered after the order's own.
        let exchange = s.lines.iter().any(|lq| o.is_exchange_line(lq.line));
        let deliverable = matches!(
            o.status,
            OrderStatus::PartiallyShipped | OrderStatus::Shipped
        ) || (exchange && o.is_delivered_status());
        if !deliverable {
            return Err(CoreError::InvalidTransition {
                order: order.to_string(),
                state: o.status.as_str(),
                command: "deliver_shipment",
            });
        }
        let mut ev = vec![Event::Order(OrderEvent::ShipmentDelivered {
            id: order.to_string(),
            shipment: shipment.to_string(),
            at: ctx.now,
        })];
        let rest_delivered = o
            .shipments
            .iter()
            .all(|x| x.id == shipment || x.is_delivered());
        if rest_delivered && o.all_shipped_or_cancelled() && !o.is_delivered_status() {
            ev.push(Event::Order(OrderEvent::Delivered {
                id: order.to_string(),
                at: ctx.now,
            }));
        }
        Ok(ev)
    }
}

/// The `delivered.v1` event a partial cancel brings when it cancels the
/// last units left to ship of an order whose shipments are all delivered
/// (the order is delivered: every shipped unit is, nothing is left).
pub(crate) fn delivered_by_cancel(o: &Order, lines: &[LineQty], ctx: &Context<'_>) -> Vec<Event> {
    let rest_cancelled = o.quote.lines.iter().enumerate().all(|(i, l)| {
        let k: i64 = lines.iter().filter(|x| x.line == i).map(|x| x.qty).sum();
        at(&o.shipped, i) + at(&o.cancelled, i) + k >= l.qty
    });
    let delivered = !o.shipments.is_empty() && o.shipments.iter().all(ShipmentRecord::is_delivered);
    if rest_cancelled && delivered {
        vec![Event::Order(OrderEvent::Delivered {
            id: o.id.clone(),
            at: ctx.now,
        })]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipment_lines_merge_packages_per_line() {
        let s = Shipment::new("s1")
            .package(Package::new("SF", "1").unit(1, 2).unit(0, 1))
            .package(Package::new("JD", "2").unit(1, 1));
        assert_eq!(
            s.lines(),
            vec![LineQty { line: 1, qty: 3 }, LineQty { line: 0, qty: 1 }]
        );
    }

    #[test]
    fn sources_merge_per_line_and_location() {
        let a = |loc: &str, qty| Allocation {
            sku: "cup".into(),
            location: loc.into(),
            qty,
            quota: None,
        };
        let lines = [LineQty { line: 0, qty: 3 }, LineQty { line: 0, qty: 1 }];
        let parts = vec![vec![a("east", 2), a("west", 1)], vec![a("west", 1)]];
        let got = sources_of(&lines, &parts);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].location.as_str(), got[0].qty), ("east", 2));
        assert_eq!((got[1].location.as_str(), got[1].qty), ("west", 2));
    }
}
