//! The engine's shipment calls (issue 13): [`Engine::ship_shipment`] sends
//! one shipment with its packages (carrier, tracking number, units),
//! [`Engine::deliver_shipment`] delivers one. The v1 [`Engine::ship`] and
//! [`Engine::deliver`] keep working: a v1 ship is one shipment without
//! packages (`<order>-s<n>`), a v1 deliver delivers every shipment not yet
//! delivered.
//!
//! Each call is one request decided by the core `Shop` (decide → events →
//! apply), so replay rebuilds the identical shipments and a repeated
//! idempotency key answers the first answer.

use chrono::{DateTime, Utc};
use mercato_core::Command;
use mercato_core::order::OrderStatus;
use mercato_core::shipment::Shipment;
use mercato_store::Store;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::log::LogEvent;
use crate::request::{Request, Response};
use crate::state::EngineState;

/// The answer to a shipment call: the shipment, whether it is delivered,
/// and the order's status after the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentAnswer {
    /// Order.
    pub order: String,
    /// Shipment id.
    pub shipment: String,
    /// When the shipment was delivered, once it is.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The order's status (`delivered` once every shipment is delivered
    /// and nothing is left to ship).
    pub status: OrderStatus,
}

/// Decides a shipment request.
pub(crate) fn decide(
    st: &EngineState,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Vec<LogEvent>, EngineError> {
    let cmd = match req {
        Request::ShipShipment {
            order,
            shipment,
            packages,
        } => Command::ShipShipment {
            order: order.clone(),
            shipment: Shipment {
                id: shipment.clone(),
                packages: packages.clone(),
            },
        },
        Request::DeliverShipment { order, shipment } => Command::DeliverShipment {
            order: order.clone(),
            shipment: shipment.clone(),
        },
        _ => return Err(EngineError::Internal("not a shipment request".into())),
    };
    crate::decide::shop_decide(st, &cmd, now)
}

/// The answer to a shipment request, read from the state after its events.
pub(crate) fn respond(st: &EngineState, req: &Request) -> Option<Response> {
    let (order, shipment) = match req {
        Request::ShipShipment {
            order, shipment, ..
        }
        | Request::DeliverShipment { order, shipment } => (order, shipment),
        _ => return None,
    };
    let o = st.shop().order(order)?;
    let s = o.shipment(shipment)?;
    Some(Response::Shipment(ShipmentAnswer {
        order: order.clone(),
        shipment: shipment.clone(),
        delivered_at: s.delivered_at,
        status: o.status,
    }))
}

impl<S: Store + 'static, C: Clock> Engine<S, C> {
    fn shipment_call(
        &self,
        req: Request,
        key: Option<&str>,
    ) -> Result<ShipmentAnswer, EngineError> {
        match self.execute(&req, key)? {
            Response::Shipment(a) => Ok(a),
            other => Err(EngineError::Internal(format!(
                "unexpected response {other:?}"
            ))),
        }
    }

    /// Ships one shipment: its packages' units (not more than are left to
    /// ship), each package with its carrier and tracking number. The units
    /// leave from the locations their stock was held or sold at, recorded
    /// with the shipment so that a returned unit is restocked where it
    /// left. Refused with a typed error: an unknown order, a shipment id
    /// the order has ([`CoreError::DuplicateShipment`]), no package
    /// ([`CoreError::EmptyShipment`]), a package without units
    /// ([`CoreError::EmptyPackage`]), more units than are left
    /// ([`CoreError::UnitsNotShippable`]), an order that cannot ship.
    ///
    /// [`CoreError::DuplicateShipment`]: mercato_core::CoreError::DuplicateShipment
    /// [`CoreError::EmptyShipment`]: mercato_core::CoreError::EmptyShipment
    /// [`CoreError::EmptyPackage`]: mercato_core::CoreError::EmptyPackage
    /// [`CoreError::UnitsNotShippable`]: mercato_core::CoreError::UnitsNotShippable
    ///
    /// ```
    /// # use mercato::{Engine, ManualClock, Settings, PlaceOrderRequest};
    /// # use mercato::core::{Currency, Money};
    /// # use mercato::store::MemoryStore;
    /// use mercato::{Package, Shipment};
    /// # let engine = Engine::open(MemoryStore::new(), ManualClock::new("2026-11-11T10:00:00Z".parse().unwrap())).unwrap();
    /// # engine.configure(Currency::CNY, Settings::default()).unwrap();
    /// # engine.add_catalog_item(serde_json::from_str(r#"{"sku": "tea", "price": "100.00"}"#).unwrap()).unwrap();
    /// # engine.adjust_stock("tea", "main", 10, "received").unwrap();
    /// engine.place_order(PlaceOrderRequest::new("o1").line("tea", 3), None).unwrap();
    /// engine.pay("o1", Money::parse("300.00", Currency::CNY).unwrap(), None).unwrap();
    /// let s1 = Shipment::new("s1").package(Package::new("SF", "SF1001").unit(0, 2));
    /// assert_eq!(engine.ship_shipment("o1", s1, None).unwrap().status.as_str(), "partially_shipped");
    /// let s2 = Shipment::new("s2").package(Package::new("JD", "JD77").unit(0, 1));
    /// assert_eq!(engine.ship_shipment("o1", s2, None).unwrap().status.as_str(), "shipped");
    /// engine.deliver_shipment("o1", "s1", None).unwrap();
    /// assert_eq!(engine.deliver_shipment("o1", "s2", None).unwrap().status.as_str(), "delivered");
    /// ```
    pub fn ship_shipment(
        &self,
        order: &str,
        shipment: Shipment,
        key: Option<&str>,
    ) -> Result<ShipmentAnswer, EngineError> {
        self.shipment_call(
            Request::ShipShipment {
                order: order.to_string(),
                shipment: shipment.id,
                packages: shipment.packages,
            },
            key,
        )
    }

    /// Delivers one shipment; the order is `delivered` with its last one
    /// when nothing is left to ship. Refused with a typed error: an
    /// unknown shipment ([`CoreError::UnknownShipment`]), one delivered
    /// before ([`CoreError::ShipmentAlreadyDelivered`]).
    ///
    /// [`CoreError::UnknownShipment`]: mercato_core::CoreError::UnknownShipment
    /// [`CoreError::ShipmentAlreadyDelivered`]: mercato_core::CoreError::ShipmentAlreadyDelivered
    pub fn deliver_shipment(
        &self,
        order: &str,
        shipment: &str,
        key: Option<&str>,
    ) -> Result<ShipmentAnswer, EngineError> {
        self.shipment_call(
            Request::DeliverShipment {
                order: order.to_string(),
                shipment: shipment.to_string(),
            },
            key,
        )
    }
}
