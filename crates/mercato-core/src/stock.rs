//! The stock ledger: per SKU per location `on_hand`, `reserved`, safety stock,
//! backorder permission and priority; reservations with allocations across
//! locations; channel quotas; low-stock events.
//!
//! Pure state machine: [`StockLedger::decide`] turns a [`StockCommand`] into
//! [`StockEvent`]s or a [`CoreError`] and changes nothing;
//! [`StockLedger::apply`] folds an event into the state and is total.
//!
//! Allocation (contract "stock"): locations are taken by priority, higher
//! first, ties in order of appearance. The first location that can take the
//! whole line takes it; only when none can is the line split, in the same
//! order. What no location has may go to the first location that permits
//! backorders; otherwise the whole reservation is refused and nothing changes.
//!
//! Channel quotas: a quota sets `allotted` units of a SKU aside for one
//! channel. Units of an open quota that are not yet taken are not available
//! to other channels; an order from the quota's channel takes from the quota
//! only. Closing the quota returns what is left to the general pool.
//!
//! Counts are `i64`. An adjustment is refused
//! ([`CoreError::StockOverflow`]) when it would take a location's
//! `on_hand`, or the SKU's `on_hand` summed over its locations, outside
//! `i64`; sums that are only reported (levels, free and available units)
//! are computed in `i128` and saturate at the `i64` bounds, so they never
//! wrap around.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// One SKU's stock at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationStock {
    /// Location id.
    pub location: String,
    /// Units physically held.
    pub on_hand: i64,
    /// Units held for open reservations.
    pub reserved: i64,
    /// Units never sold (safety stock).
    pub safety: i64,
    /// Whether this location may sell below zero.
    pub backorder: bool,
    /// Allocation priority, higher first.
    pub priority: i64,
}

impl LocationStock {
    /// `on_hand − reserved − safety`, which is negative only when on_hand
    /// was adjusted into the safety stock or a backorder was taken
    /// (saturating at the `i64` bounds).
    pub fn free(&self) -> i64 {
        saturate(i128::from(self.on_hand) - i128::from(self.reserved) - i128::from(self.safety))
    }
}

/// Units of a SKU set aside for one channel or campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// The channel that may reserve from it.
    pub channel: String,
    /// Units set aside.
    pub allotted: i64,
    /// Units reserved or sold through it.
    pub taken: i64,
}

impl Quota {
    /// Units still set aside.
    pub fn remaining(&self) -> i64 {
        self.allotted.saturating_sub(self.taken).max(0)
    }
}

/// All stock of one SKU.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuStock {
    /// Locations in order of appearance.
    pub locations: Vec<LocationStock>,
    /// Open channel quotas.
    pub quotas: Vec<Quota>,
    /// Emit [`StockEvent::LowStock`] when available drops below this.
    pub low_stock_threshold: Option<i64>,
}

impl SkuStock {
    fn location_mut(&mut self, location: &str) -> Option<&mut LocationStock> {
        self.locations.iter_mut().find(|l| l.location == location)
    }

    /// Σ on_hand, exact in `i128` (adjustments keep it within `i64`).
    fn on_hand_exact(&self) -> i128 {
        self.locations.iter().map(|l| i128::from(l.on_hand)).sum()
    }

    /// Σ on_hand (saturating at the `i64` bounds; adjustments that would
    /// leave them are refused, so this is exact for a ledger built by
    /// [`StockLedger::decide`]).
    pub fn on_hand(&self) -> i64 {
        saturate(self.on_hand_exact())
    }

    /// Σ reserved (saturating at `i64::MAX`).
    pub fn reserved(&self) -> i64 {
        saturate(self.locations.iter().map(|l| i128::from(l.reserved)).sum())
    }

    /// Units physically free for reservation across locations (a location's
    /// free units count only when positive; saturating at `i64::MAX`).
    pub fn free(&self) -> i64 {
        saturate(self.free_exact())
    }

    fn free_exact(&self) -> i128 {
        self.locations
            .iter()
            .map(|l| i128::from(l.free().max(0)))
            .sum()
    }

    /// Units the general pool (any channel without a quota) may reserve:
    /// free units less what open quotas still hold (never negative).
    pub fn available(&self) -> i64 {
        let held: i128 = self.quotas.iter().map(|q| i128::from(q.remaining())).sum();
        saturate((self.free_exact() - held).max(0))
    }

    /// Units `channel` may reserve: its quota's remainder when it has an open
    /// quota, else the general pool.
    pub fn available_for(&self, channel: Option<&str>) -> i64 {
        match channel.and_then(|c| self.quotas.iter().find(|q| q.channel == c)) {
            Some(q) => q.remaining().min(self.free()),
            None => self.available(),
        }
    }

    fn backorder_allowed(&self) -> bool {
        self.locations.iter().any(|l| l.backorder)
    }

    /// Location indices by priority, higher first, ties in order of appearance.
    fn by_priority(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.locations.len()).collect();
        idx.sort_by(|a, b| {
            self.locations[*b]
                .priority
                .cmp(&self.locations[*a].priority)
        });
        idx
    }
}

/// Units of one SKU held at one location for a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// The SKU.
    pub sku: String,
    /// The location.
    pub location: String,
    /// Units.
    pub qty: i64,
    /// The quota channel the units came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<String>,
}

/// An open reservation: what is still held (not yet committed or released).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The order (or other owner) id.
    pub id: String,
    /// Units still held, per SKU and location.
    pub held: Vec<Allocation>,
    /// When it lapses unless committed or extended; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why a reservation was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    /// The order was cancelled (or rejected in review).
    Cancelled,
    /// The order was closed unpaid.
    Closed,
    /// The reservation's expiry passed.
    Expired,
}

/// A requested line of a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    /// The SKU.
    pub sku: String,
    /// Units.
    pub qty: i64,
}

/// Creates or reconfigures a location of a SKU (safety stock, backorder permission, priority).
///
/// The same value is the stock command and the engine request
/// (`mercato::Request`), so the operation has one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigureLocation {
    /// SKU.
    pub sku: String,
    /// Location.
    pub location: String,
    /// Safety stock (≥ 0).
    pub safety: i64,
    /// Backorder permission.
    pub backorder: bool,
    /// Priority, higher first.
    pub priority: i64,
}

/// Goods received, counted, damaged...: `delta` added to a location's on_hand.
///
/// The same value is the stock command and the engine request
/// (`mercato::Request`), so the operation has one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustStock {
    /// SKU.
    pub sku: String,
    /// Location (created with defaults when new and `delta` ≥ 0).
    pub location: String,
    /// Units added (negative: removed).
    pub delta: i64,
    /// Why (free text: "received", "count", "damage", "returned"...).
    pub reason: String,
}

/// Sets `qty` units of a SKU aside for a channel.
///
/// The same value is the stock command and the engine request
/// (`mercato::Request`), so the operation has one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenQuota {
    /// SKU.
    pub sku: String,
    /// Channel.
    pub channel: String,
    /// Units.
    pub qty: i64,
}

/// Returns a channel quota's untaken units to the general pool.
///
/// The same value is the stock command and the engine request
/// (`mercato::Request`), so the operation has one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseQuota {
    /// SKU.
    pub sku: String,
    /// Channel.
    pub channel: String,
}

/// Sets or clears the low-stock threshold of a SKU.
///
/// The same value is the stock command and the engine request
/// (`mercato::Request`), so the operation has one shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetLowStockThreshold {
    /// SKU.
    pub sku: String,
    /// Threshold.
    pub threshold: Option<i64>,
}

/// What may be asked of the stock ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StockCommand {
    /// Creates or reconfigures a location of a SKU.
    Configure(ConfigureLocation),
    /// Goods received, counted, damaged...: `delta` added to on_hand.
    Adjust(AdjustStock),
    /// Holds stock for an order, all lines or nothing.
    Reserve {
        /// Reservation (order) id.
        id: String,
        /// Lines.
        lines: Vec<StockLine>,
        /// Sales channel: takes from that channel's quota when it has one.
        channel: Option<String>,
        /// Expiry.
        expires_at: Option<DateTime<Utc>>,
    },
    /// Sets or clears a reservation's expiry.
    Extend {
        /// Reservation id.
        id: String,
        /// New expiry.
        expires_at: Option<DateTime<Utc>>,
    },
    /// Turns held units into sold ones (on_hand and reserved both drop).
    Commit {
        /// Reservation id.
        id: String,
        /// What to commit; `None`: everything still held.
        lines: Option<Vec<StockLine>>,
    },
    /// Gives back everything still held.
    Release {
        /// Reservation id.
        id: String,
        /// Why.
        reason: ReleaseReason,
    },
    /// Releases every reservation whose expiry is ≤ `now`.
    ExpireDue {
        /// The time.
        now: DateTime<Utc>,
    },
    /// Puts units back at the locations they were sold from (a cancelled
    /// paid order, a returned parcel).
    Restock {
        /// Order id, for the record.
        id: String,
        /// Units per location.
        allocations: Vec<Allocation>,
        /// Why.
        reason: String,
    },
    /// Sets `qty` units aside for `channel`.
    OpenQuota(OpenQuota),
    /// Returns a quota's untaken units to the general pool.
    CloseQuota(CloseQuota),
    /// Sets or clears the low-stock threshold of a SKU.
    SetLowStockThreshold(SetLowStockThreshold),
}

/// What happened to stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
#[non_exhaustive]
pub enum StockEvent {
    /// A location was created or reconfigured.
    #[serde(rename = "configured.v1")]
    Configured {
        /// SKU.
        sku: String,
        /// Location.
        location: String,
        /// Safety stock.
        safety: i64,
        /// Backorder permission.
        backorder: bool,
        /// Priority.
        priority: i64,
    },
    /// on_hand changed by `delta`.
    #[serde(rename = "adjusted.v1")]
    Adjusted {
        /// SKU.
        sku: String,
        /// Location.
        location: String,
        /// Change.
        delta: i64,
        /// Why.
        reason: String,
    },
    /// Stock was reserved.
    #[serde(rename = "reserved.v1")]
    Reserved {
        /// Reservation id.
        id: String,
        /// Where the units are held.
        allocations: Vec<Allocation>,
        /// Expiry.
        expires_at: Option<DateTime<Utc>>,
    },
    /// A reservation's expiry changed.
    #[serde(rename = "extended.v1")]
    Extended {
        /// Reservation id.
        id: String,
        /// New expiry.
        expires_at: Option<DateTime<Utc>>,
    },
    /// Held units were sold.
    #[serde(rename = "committed.v1")]
    Committed {
        /// Reservation id.
        id: String,
        /// The units committed.
        allocations: Vec<Allocation>,
    },
    /// A reservation ended, giving back what it still held.
    #[serde(rename = "released.v1")]
    Released {
        /// Reservation id.
        id: String,
        /// Why.
        reason: ReleaseReason,
        /// The units given back.
        allocations: Vec<Allocation>,
    },
    /// Sold units came back to their locations.
    #[serde(rename = "restocked.v1")]
    Restocked {
        /// Order id.
        id: String,
        /// Units per location.
        allocations: Vec<Allocation>,
        /// Why.
        reason: String,
    },
    /// A quota was opened.
    #[serde(rename = "quota_opened.v1")]
    QuotaOpened {
        /// SKU.
        sku: String,
        /// Channel.
        channel: String,
        /// Units.
        qty: i64,
    },
    /// A quota was closed; `returned` units went back to the general pool.
    #[serde(rename = "quota_closed.v1")]
    QuotaClosed {
        /// SKU.
        sku: String,
        /// Channel.
        channel: String,
        /// Units returned to the general pool.
        returned: i64,
    },
    /// The low-stock threshold changed.
    #[serde(rename = "threshold_set.v1")]
    ThresholdSet {
        /// SKU.
        sku: String,
        /// Threshold.
        threshold: Option<i64>,
    },
    /// Available stock dropped below the threshold.
    #[serde(rename = "low_stock.v1")]
    LowStock {
        /// SKU.
        sku: String,
        /// Available after the change.
        available: i64,
        /// The threshold.
        threshold: i64,
    },
}

impl StockEvent {
    /// The reservation this event belongs to, if any.
    pub fn reservation(&self) -> Option<&str> {
        match self {
            StockEvent::Reserved { id, .. }
            | StockEvent::Extended { id, .. }
            | StockEvent::Committed { id, .. }
            | StockEvent::Released { id, .. }
            | StockEvent::Restocked { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The SKUs this event touches (for stream keys and low-stock checks).
    pub fn skus(&self) -> Vec<&str> {
        match self {
            StockEvent::Configured { sku, .. }
            | StockEvent::Adjusted { sku, .. }
            | StockEvent::QuotaOpened { sku, .. }
            | StockEvent::QuotaClosed { sku, .. }
            | StockEvent::ThresholdSet { sku, .. }
            | StockEvent::LowStock { sku, .. } => vec![sku.as_str()],
            StockEvent::Reserved { allocations, .. }
            | StockEvent::Committed { allocations, .. }
            | StockEvent::Released { allocations, .. }
            | StockEvent::Restocked { allocations, .. } => {
                let mut v: Vec<&str> = allocations.iter().map(|a| a.sku.as_str()).collect();
                v.sort_unstable();
                v.dedup();
                v
            }
            StockEvent::Extended { .. } => Vec::new(),
        }
    }
}

/// Per-SKU totals, as the contract's `stock` step reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    /// Σ on_hand over locations.
    pub on_hand: i64,
    /// Σ reserved over locations.
    pub reserved: i64,
    /// Units the general pool may still reserve.
    pub available: i64,
}

/// The whole stock ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLedger {
    skus: BTreeMap<String, SkuStock>,
    reservations: BTreeMap<String, Reservation>,
}

/// An exact `i128` count brought back into `i64`, saturating at its bounds.
fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

fn qty_ok(what: &str, qty: i64) -> Result<(), CoreError> {
    if qty <= 0 {
        Err(CoreError::InvalidQuantity {
            what: what.to_string(),
            qty,
        })
    } else {
        Ok(())
    }
}

impl StockLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// One SKU's stock, if the ledger knows it.
    pub fn sku(&self, sku: &str) -> Option<&SkuStock> {
        self.skus.get(sku)
    }

    /// All SKUs.
    pub fn skus(&self) -> impl Iterator<Item = (&String, &SkuStock)> {
        self.skus.iter()
    }

    /// Totals of one SKU (zeros for an unknown SKU).
    pub fn level(&self, sku: &str) -> StockLevel {
        self.skus.get(sku).map_or(
            StockLevel {
                on_hand: 0,
                reserved: 0,
                available: 0,
            },
            |s| StockLevel {
                on_hand: s.on_hand(),
                reserved: s.reserved(),
                available: s.available(),
            },
        )
    }

    /// An open reservation.
    pub fn reservation(&self, id: &str) -> Option<&Reservation> {
        self.reservations.get(id)
    }

    /// All open reservations.
    pub fn reservations(&self) -> impl Iterator<Item = &Reservation> {
        self.reservations.values()
    }

    /// Decides a command: the events it produces, or why it is refused.
    /// The ledger is not changed; apply the events to move it.
    pub fn decide(&self, cmd: &StockCommand) -> Result<Vec<StockEvent>, CoreError> {
        let mut events = match cmd {
            StockCommand::Configure(ConfigureLocation {
                sku,
                location,
                safety,
                backorder,
                priority,
            }) => {
                if *safety < 0 {
                    return Err(CoreError::InvalidQuantity {
                        what: format!("safety stock of {sku} at {location}"),
                        qty: *safety,
                    });
                }
                vec![StockEvent::Configured {
                    sku: sku.clone(),
                    location: location.clone(),
                    safety: *safety,
                    backorder: *backorder,
                    priority: *priority,
                }]
            }
            StockCommand::Adjust(AdjustStock {
                sku,
                location,
                delta,
                reason,
            }) => self.decide_adjust(sku, location, *delta, reason)?,
            StockCommand::Reserve {
                id,
                lines,
                channel,
                expires_at,
            } => self.decide_reserve(id, lines, channel.as_deref(), *expires_at)?,
            StockCommand::Extend { id, expires_at } => {
                self.open(id)?;
                vec![StockEvent::Extended {
                    id: id.clone(),
                    expires_at: *expires_at,
                }]
            }
            StockCommand::Commit { id, lines } => self.decide_commit(id, lines.as_deref())?,
            StockCommand::Release { id, reason } => {
                let r = self.open(id)?;
                vec![StockEvent::Released {
                    id: id.clone(),
                    reason: *reason,
                    allocations: r.held.clone(),
                }]
            }
            StockCommand::ExpireDue { now } => self
                .reservations
                .values()
                .filter(|r| r.expires_at.is_some_and(|t| t <= *now))
                .map(|r| StockEvent::Released {
                    id: r.id.clone(),
                    reason: ReleaseReason::Expired,
                    allocations: r.held.clone(),
                })
                .collect(),
            StockCommand::Restock {
                id,
                allocations,
                reason,
            } => {
                for a in allocations {
                    qty_ok(&format!("restock of {}", a.sku), a.qty)?;
                    let s = self
                        .skus
                        .get(&a.sku)
                        .ok_or_else(|| CoreError::UnknownSku(a.sku.clone()))?;
                    if !s.locations.iter().any(|l| l.location == a.location) {
                        return Err(CoreError::UnknownLocation {
                            sku: a.sku.clone(),
                            location: a.location.clone(),
                        });
                    }
                }
                vec![StockEvent::Restocked {
                    id: id.clone(),
                    allocations: allocations.clone(),
                    reason: reason.clone(),
                }]
            }
            StockCommand::OpenQuota(OpenQuota { sku, channel, qty }) => {
                qty_ok(&format!("quota of {sku}"), *qty)?;
                let s = self
                    .skus
                    .get(sku)
                    .ok_or_else(|| CoreError::UnknownSku(sku.clone()))?;
                if s.quotas.iter().any(|q| &q.channel == channel) {
                    return Err(CoreError::Quota {
                        sku: sku.clone(),
                        channel: channel.clone(),
                        problem: "already open",
                    });
                }
                if s.available() < *qty {
                    return Err(CoreError::InsufficientStock {
                        sku: sku.clone(),
                        wanted: *qty,
                        available: s.available(),
                    });
                }
                vec![StockEvent::QuotaOpened {
                    sku: sku.clone(),
                    channel: channel.clone(),
                    qty: *qty,
                }]
            }
            StockCommand::CloseQuota(CloseQuota { sku, channel }) => {
                let q = self
                    .skus
                    .get(sku)
                    .and_then(|s| s.quotas.iter().find(|q| &q.channel == channel))
                    .ok_or_else(|| CoreError::Quota {
                        sku: sku.clone(),
                        channel: channel.clone(),
                        problem: "not open",
                    })?;
                vec![StockEvent::QuotaClosed {
                    sku: sku.clone(),
                    channel: channel.clone(),
                    returned: q.remaining(),
                }]
            }
            StockCommand::SetLowStockThreshold(SetLowStockThreshold { sku, threshold }) => {
                if !self.skus.contains_key(sku) {
                    return Err(CoreError::UnknownSku(sku.clone()));
                }
                if let Some(t) = threshold
                    && *t < 0
                {
                    return Err(CoreError::InvalidQuantity {
                        what: format!("low-stock threshold of {sku}"),
                        qty: *t,
                    });
                }
                vec![StockEvent::ThresholdSet {
                    sku: sku.clone(),
                    threshold: *threshold,
                }]
            }
        };
        let low = self.low_stock_events(&events);
        events.extend(low);
        Ok(events)
    }

    fn open(&self, id: &str) -> Result<&Reservation, CoreError> {
        self.reservations
            .get(id)
            .ok_or_else(|| CoreError::UnknownReservation(id.to_string()))
    }

    fn decide_adjust(
        &self,
        sku: &str,
        location: &str,
        delta: i64,
        reason: &str,
    ) -> Result<Vec<StockEvent>, CoreError> {
        let stock = self.skus.get(sku);
        let loc = stock.and_then(|s| s.locations.iter().find(|l| l.location == location));
        let overflow = || CoreError::StockOverflow {
            sku: sku.to_string(),
            location: location.to_string(),
            delta,
        };
        // The location's count and the SKU's total over its locations must
        // both stay countable in i64.
        let total = stock.map_or(0, SkuStock::on_hand_exact) + i128::from(delta);
        if i64::try_from(total).is_err() {
            return Err(overflow());
        }
        match loc {
            None if delta < 0 => {
                return Err(CoreError::InsufficientStock {
                    sku: sku.to_string(),
                    wanted: delta.saturating_neg(),
                    available: 0,
                });
            }
            Some(l) => {
                let after = l.on_hand.checked_add(delta).ok_or_else(overflow)?;
                if !l.backorder && after < l.reserved {
                    return Err(CoreError::InsufficientStock {
                        sku: sku.to_string(),
                        wanted: delta.saturating_neg(),
                        available: l.on_hand.saturating_sub(l.reserved).max(0),
                    });
                }
            }
            None => {}
        }
        let mut out = Vec::new();
        if loc.is_none() {
            out.push(StockEvent::Configured {
                sku: sku.to_string(),
                location: location.to_string(),
                safety: 0,
                backorder: false,
                priority: 0,
            });
        }
        if delta != 0 {
            out.push(StockEvent::Adjusted {
                sku: sku.to_string(),
                location: location.to_string(),
                delta,
                reason: reason.to_string(),
            });
        }
        Ok(out)
    }

    fn decide_reserve(
        &self,
        id: &str,
        lines: &[StockLine],
        channel: Option<&str>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<StockEvent>, CoreError> {
        if self.reservations.contains_key(id) {
            return Err(CoreError::DuplicateReservation(id.to_string()));
        }
        // Work on copies of the SKUs involved so several lines of one SKU
        // see each other's allocations.
        let mut work: BTreeMap<&str, SkuStock> = BTreeMap::new();
        let mut allocations: Vec<Allocation> = Vec::new();
        for line in lines {
            qty_ok(&format!("reservation of {}", line.sku), line.qty)?;
            if !work.contains_key(line.sku.as_str()) {
                let s = self
                    .skus
                    .get(&line.sku)
                    .ok_or_else(|| CoreError::UnknownSku(line.sku.clone()))?;
                work.insert(line.sku.as_str(), s.clone());
            }
            let Some(stock) = work.get_mut(line.sku.as_str()) else {
                return Err(CoreError::UnknownSku(line.sku.clone()));
            };
            let got = allocate(&line.sku, stock, line.qty, channel)?;
            for a in &got {
                hold(stock, a);
            }
            for a in got {
                merge(&mut allocations, a)?;
            }
        }
        Ok(vec![StockEvent::Reserved {
            id: id.to_string(),
            allocations,
            expires_at,
        }])
    }

    fn decide_commit(
        &self,
        id: &str,
        lines: Option<&[StockLine]>,
    ) -> Result<Vec<StockEvent>, CoreError> {
        let r = self.open(id)?;
        let Some(lines) = lines else {
            return Ok(vec![StockEvent::Committed {
                id: id.to_string(),
                allocations: r.held.clone(),
            }]);
        };
        let mut taken: Vec<Allocation> = Vec::new();
        for part in self.commit_split(id, lines)? {
            for a in part {
                merge(&mut taken, a)?;
            }
        }
        Ok(vec![StockEvent::Committed {
            id: id.to_string(),
            allocations: taken,
        }])
    }

    /// Where committing `lines` of reservation `id` takes its units, line by
    /// line (one entry per line of `lines`, in order): each line takes the
    /// units still held for its SKU first-first, in the order the
    /// reservation holds them. The `committed.v1` event of
    /// [`StockCommand::Commit`] is these entries merged; a shipment records
    /// them per line so that a returned unit goes back to the location it
    /// left.
    pub fn commit_split(
        &self,
        id: &str,
        lines: &[StockLine],
    ) -> Result<Vec<Vec<Allocation>>, CoreError> {
        let r = self.open(id)?;
        let mut held = r.held.clone();
        let mut out = Vec::with_capacity(lines.len());
        for line in lines {
            qty_ok(&format!("commit of {}", line.sku), line.qty)?;
            let mut need = line.qty;
            let mut part: Vec<Allocation> = Vec::new();
            for h in held.iter_mut().filter(|h| h.sku == line.sku) {
                let t = need.min(h.qty);
                if t > 0 {
                    h.qty -= t;
                    need -= t;
                    merge(
                        &mut part,
                        Allocation {
                            qty: t,
                            ..h.clone()
                        },
                    )?;
                }
            }
            if need > 0 {
                let had = saturate(
                    r.held
                        .iter()
                        .filter(|h| h.sku == line.sku)
                        .map(|h| i128::from(h.qty))
                        .sum(),
                );
                return Err(CoreError::InsufficientStock {
                    sku: line.sku.clone(),
                    wanted: line.qty,
                    available: had,
                });
            }
            out.push(part);
        }
        Ok(out)
    }

    /// Low-stock events for SKUs whose available crosses below their
    /// threshold when `events` are applied.
    fn low_stock_events(&self, events: &[StockEvent]) -> Vec<StockEvent> {
        let mut touched: Vec<&str> = events.iter().flat_map(StockEvent::skus).collect();
        touched.sort_unstable();
        touched.dedup();
        let mut out = Vec::new();
        for sku in touched {
            let Some(before) = self.skus.get(sku) else {
                continue;
            };
            let Some(threshold) = before.low_stock_threshold else {
                continue;
            };
            let mut after = before.clone();
            for e in events {
                apply_to_sku(&mut after, sku, e);
            }
            let (a0, a1) = (before.available(), after.available());
            if a0 >= threshold && a1 < threshold {
                out.push(StockEvent::LowStock {
                    sku: sku.to_string(),
                    available: a1,
                    threshold,
                });
            }
        }
        out
    }

    /// Folds one event into the ledger. Total: an event that refers to
    /// something unknown changes what it can and ignores the rest.
    pub fn apply(&mut self, event: &StockEvent) {
        match event {
            StockEvent::Configured { sku, .. }
            | StockEvent::Adjusted { sku, .. }
            | StockEvent::QuotaOpened { sku, .. }
            | StockEvent::QuotaClosed { sku, .. }
            | StockEvent::ThresholdSet { sku, .. } => {
                let s = self.skus.entry(sku.clone()).or_default();
                apply_to_sku(s, sku, event);
                return;
            }
            StockEvent::LowStock { .. } => return,
            StockEvent::Extended { id, expires_at } => {
                if let Some(r) = self.reservations.get_mut(id) {
                    r.expires_at = *expires_at;
                }
                return;
            }
            _ => {}
        }
        for sku in event.skus() {
            if let Some(s) = self.skus.get_mut(sku) {
                apply_to_sku(s, sku, event);
            }
        }
        match event {
            StockEvent::Reserved {
                id,
                allocations,
                expires_at,
            } => {
                self.reservations.insert(
                    id.clone(),
                    Reservation {
                        id: id.clone(),
                        held: allocations.clone(),
                        expires_at: *expires_at,
                    },
                );
            }
            StockEvent::Committed { id, allocations } => {
                if let Some(r) = self.reservations.get_mut(id) {
                    for a in allocations {
                        let mut need = a.qty;
                        for h in r.held.iter_mut().filter(|h| {
                            h.sku == a.sku && h.location == a.location && h.quota == a.quota
                        }) {
                            let t = need.min(h.qty);
                            h.qty -= t;
                            need -= t;
                        }
                    }
                    r.held.retain(|h| h.qty > 0);
                    if r.held.is_empty() {
                        self.reservations.remove(id);
                    }
                }
            }
            StockEvent::Released { id, .. } => {
                self.reservations.remove(id);
            }
            _ => {}
        }
    }
}

/// Applies the part of `event` that concerns `sku` to that SKU's stock.
fn apply_to_sku(s: &mut SkuStock, sku: &str, event: &StockEvent) {
    match event {
        StockEvent::Configured {
            sku: e_sku,
            location,
            safety,
            backorder,
            priority,
        } if e_sku == sku => match s.location_mut(location) {
            Some(l) => {
                l.safety = *safety;
                l.backorder = *backorder;
                l.priority = *priority;
            }
            None => s.locations.push(LocationStock {
                location: location.clone(),
                on_hand: 0,
                reserved: 0,
                safety: *safety,
                backorder: *backorder,
                priority: *priority,
            }),
        },
        StockEvent::Adjusted {
            sku: e_sku,
            location,
            delta,
            ..
        } if e_sku == sku => {
            if let Some(l) = s.location_mut(location) {
                l.on_hand = l.on_hand.saturating_add(*delta);
            }
        }
        StockEvent::QuotaOpened {
            sku: e_sku,
            channel,
            qty,
        } if e_sku == sku => s.quotas.push(Quota {
            channel: channel.clone(),
            allotted: *qty,
            taken: 0,
        }),
        StockEvent::QuotaClosed {
            sku: e_sku,
            channel,
            ..
        } if e_sku == sku => s.quotas.retain(|q| &q.channel != channel),
        StockEvent::ThresholdSet {
            sku: e_sku,
            threshold,
        } if e_sku == sku => s.low_stock_threshold = *threshold,
        StockEvent::Reserved { allocations, .. } => {
            for a in allocations.iter().filter(|a| a.sku == sku) {
                hold(s, a);
            }
        }
        StockEvent::Committed { allocations, .. } => {
            for a in allocations.iter().filter(|a| a.sku == sku) {
                if let Some(l) = s.location_mut(&a.location) {
                    l.on_hand = l.on_hand.saturating_sub(a.qty);
                    l.reserved = l.reserved.saturating_sub(a.qty);
                }
            }
        }
        StockEvent::Released { allocations, .. } => {
            for a in allocations.iter().filter(|a| a.sku == sku) {
                if let Some(l) = s.location_mut(&a.location) {
                    l.reserved = l.reserved.saturating_sub(a.qty);
                }
                give_back_to_quota(s, a);
            }
        }
        StockEvent::Restocked { allocations, .. } => {
            for a in allocations.iter().filter(|a| a.sku == sku) {
                if let Some(l) = s.location_mut(&a.location) {
                    l.on_hand = l.on_hand.saturating_add(a.qty);
                }
                give_back_to_quota(s, a);
            }
        }
        _ => {}
    }
}

fn give_back_to_quota(s: &mut SkuStock, a: &Allocation) {
    if let Some(c) = &a.quota
        && let Some(q) = s.quotas.iter_mut().find(|q| &q.channel == c)
    {
        q.taken = (q.taken - a.qty).max(0);
    }
}

fn hold(s: &mut SkuStock, a: &Allocation) {
    if let Some(l) = s.location_mut(&a.location) {
        l.reserved = l.reserved.saturating_add(a.qty);
    }
    if let Some(c) = &a.quota
        && let Some(q) = s.quotas.iter_mut().find(|q| &q.channel == c)
    {
        q.taken = q.taken.saturating_add(a.qty);
    }
}

/// Adds `a` to the allocation of the same SKU, location and quota (units
/// of several lines of one SKU), or appends it.
fn merge(into: &mut Vec<Allocation>, a: Allocation) -> Result<(), CoreError> {
    match into
        .iter_mut()
        .find(|x| x.sku == a.sku && x.location == a.location && x.quota == a.quota)
    {
        Some(x) => {
            x.qty = x
                .qty
                .checked_add(a.qty)
                .ok_or(CoreError::Overflow("reservation"))?;
        }
        None => into.push(a),
    }
    Ok(())
}

/// Allocates `qty` units of one SKU: one location for the whole line when
/// possible, else a split by priority, else backorder, else refusal.
fn allocate(
    sku: &str,
    stock: &SkuStock,
    qty: i64,
    channel: Option<&str>,
) -> Result<Vec<Allocation>, CoreError> {
    let quota = channel
        .filter(|c| stock.quotas.iter().any(|q| q.channel == *c))
        .map(str::to_string);
    let pool = stock.available_for(channel);
    let order = stock.by_priority();
    let at = |i: usize, q: i64| Allocation {
        sku: sku.to_string(),
        location: stock.locations[i].location.clone(),
        qty: q,
        quota: quota.clone(),
    };
    if qty <= pool
        && let Some(&i) = order.iter().find(|&&i| stock.locations[i].free() >= qty)
    {
        return Ok(vec![at(i, qty)]);
    }
    // Split, in priority order, never beyond what the pool allows.
    let mut out = Vec::new();
    let mut need = qty;
    let mut budget = pool;
    for &i in &order {
        let t = need.min(stock.locations[i].free().max(0)).min(budget);
        if t > 0 {
            out.push(at(i, t));
            need -= t;
            budget -= t;
        }
    }
    if need > 0
        && quota.is_none()
        && stock.backorder_allowed()
        && let Some(&i) = order.iter().find(|&&i| stock.locations[i].backorder)
    {
        match out
            .iter_mut()
            .find(|a| a.location == stock.locations[i].location)
        {
            Some(a) => a.qty += need,
            None => out.push(at(i, need)),
        }
        need = 0;
    }
    if need > 0 {
        return Err(CoreError::InsufficientStock {
            sku: sku.to_string(),
            wanted: qty,
            available: pool,
        });
    }
    Ok(out)
}
