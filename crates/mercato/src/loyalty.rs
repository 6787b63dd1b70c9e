//! Coupon templates and claims (领券), and points earning, as the engine
//! wires them: the template definition (configuration), the requests that
//! issue, claim, revoke and extend template coupons (core coupon-ledger
//! events on each coupon's own stream — never configuration events), the
//! guard counters that keep a template's caps exact across processes, and
//! the pricing of a template coupon (its template's discount with the
//! coupon's own owner and window).
//!
//! **What protects each limit** (the read-set rule, `docs/guarantees.md`):
//! - a template's total cap: the guard counter `template/<id>/issued`
//!   (+1 per coupon out, −1 per revocation, `max` = the cap);
//! - its per-customer cap: the guard counter
//!   `template/<id>/customer/<customer>` (same moves, `max` = the cap);
//! - a code's uniqueness (caller-given or derived): the event's home stream
//!   `coupon/<code>`, whose expected version is 0 when it is created;
//! - revoke and extend: the coupon's stream (the decision reads the coupon
//!   and the event belongs to it), so a revocation and a placement that
//!   locks the coupon conflict;
//! - points credits, claw-backs and expiries: the customer's stream
//!   (`customer/<id>`), which every placement spending points reads too.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use mercato_core::coupon::{
    ClaimVia, CouponClaim, CouponEvent, CouponStatus, IssuedCoupon, TemplateLimits, Validity,
};
use mercato_core::{Command, Event};
use mercato_rules::{Coupon, RuleSet, Window};
use mercato_store::Guard;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::EngineError;
use crate::log::{ConfigEvent, LogEvent};
use crate::request::{IssuedCode, Request};
use crate::state::EngineState;

/// A coupon template: what its coupons are worth (a coupon definition:
/// kind, amount or percent with cap, threshold, scope, group), how many may
/// be out in all and per customer, and how long each is valid.
///
/// JSON: `{"id": "NEW10", "coupon": {"kind": "amount_off", "amount":
/// "10.00", "threshold": "99.00"}, "total_cap": 100, "per_customer_cap": 1,
/// "validity": {"relative": {"days": 7}}}`. The coupon's `code` defaults to
/// the template id; its `owner`, `window` and `usage_limit` are set per
/// coupon (owner: the customer; window: the validity; one use) and may not
/// be given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CouponTemplate {
    /// Template id (derived codes are `<id>-<customer>-<n>`).
    pub id: String,
    /// The discount of every coupon of the template.
    pub coupon: Coupon,
    /// Coupons that may be out at once over all customers (revoked ones do
    /// not count); `None`: no cap.
    pub total_cap: Option<i64>,
    /// Coupons one customer may hold (claimed or issued; used and expired
    /// ones count, revoked ones do not); `None`: no cap. Default 1.
    pub per_customer_cap: Option<i64>,
    /// Validity of each coupon.
    pub validity: Validity,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateWire {
    id: String,
    coupon: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    total_cap: Option<i64>,
    #[serde(default = "one")]
    per_customer_cap: Option<i64>,
    validity: Validity,
}

fn one() -> Option<i64> {
    Some(1)
}

impl<'de> Deserialize<'de> for CouponTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut w = TemplateWire::deserialize(d)?;
        w.coupon
            .entry("code")
            .or_insert_with(|| serde_json::Value::String(w.id.clone()));
        let coupon: Coupon = serde_json::from_value(serde_json::Value::Object(w.coupon))
            .map_err(|e| serde::de::Error::custom(format!("coupon: {e}")))?;
        Ok(CouponTemplate {
            id: w.id,
            coupon,
            total_cap: w.total_cap,
            per_customer_cap: w.per_customer_cap,
            validity: w.validity,
        })
    }
}

impl CouponTemplate {
    /// The caps and validity the coupon ledger enforces.
    pub fn limits(&self) -> TemplateLimits {
        TemplateLimits {
            id: self.id.clone(),
            total_cap: self.total_cap,
            per_customer_cap: self.per_customer_cap,
            validity: self.validity,
        }
    }

    /// The coupon definition of one of its coupons.
    pub fn coupon_for(&self, issued: &IssuedCoupon) -> Coupon {
        Coupon {
            code: issued.code.clone(),
            owner: issued.owner.clone(),
            window: Some(Window {
                from: issued.valid_from,
                to: issued.valid_until,
            }),
            usage_limit: Some(1),
            per_customer_limit: Some(1),
            ..self.coupon.clone()
        }
    }

    /// Checks the template against the rules: a valid coupon definition
    /// without owner, window or usage limit, caps of at least 1, a usable
    /// validity.
    pub fn validate(&self, rules: &RuleSet) -> Result<(), EngineError> {
        if self.id.is_empty() {
            return Err(EngineError::InvalidInput("a template id is empty".into()));
        }
        if self.coupon.owner.is_some() || self.coupon.window.is_some() {
            return Err(EngineError::InvalidInput(format!(
                "template `{}`: the coupon's owner and window are set per coupon",
                self.id
            )));
        }
        if self.coupon.usage_limit.is_some() {
            return Err(EngineError::InvalidInput(format!(
                "template `{}`: each coupon has one use (no usage_limit)",
                self.id
            )));
        }
        self.limits().validate()?;
        self.coupon.validate(rules.currency())?;
        Ok(())
    }
}

/// The templates of a configuration log prefix, latest definition of each
/// id.
pub(crate) fn templates_of(log: &[ConfigEvent]) -> Vec<&CouponTemplate> {
    let mut out: Vec<&CouponTemplate> = Vec::new();
    for e in log {
        if let ConfigEvent::CouponTemplateAdded { template } = e {
            out.retain(|t| t.id != template.id);
            out.push(template);
        }
    }
    out
}

/// The coupon definitions of the template coupons among `codes` that the
/// rules do not define, priced with `templates` (revoked coupons are left
/// out: pricing then finds no such code).
fn template_coupons<'t>(
    st: &EngineState,
    templates: impl Fn(&str) -> Option<&'t CouponTemplate>,
    rules: &RuleSet,
    codes: impl Iterator<Item = &'t str>,
) -> Vec<Coupon> {
    let mut out = Vec::new();
    for code in codes {
        if rules.coupon(code).is_some() || out.iter().any(|c: &Coupon| c.code == code) {
            continue;
        }
        let Some(ic) = st.shop().coupons().get(code) else {
            continue;
        };
        if ic.revoked {
            continue;
        }
        if let Some(t) = ic.template.as_deref().and_then(&templates) {
            out.push(t.coupon_for(ic));
        }
    }
    out
}

/// `rules` with the definitions of the template coupons among `codes`
/// added (borrowed unchanged when there are none).
pub(crate) fn rules_with<'r, 't>(
    st: &'t EngineState,
    rules: &'r RuleSet,
    templates: &[&'t CouponTemplate],
    codes: impl Iterator<Item = &'t str>,
) -> Result<Cow<'r, RuleSet>, EngineError> {
    let find = |id: &str| templates.iter().copied().find(|t| t.id == id);
    let extra = template_coupons(st, find, rules, codes);
    if extra.is_empty() {
        return Ok(Cow::Borrowed(rules));
    }
    let mut r = rules.clone();
    for c in extra {
        r.restore_coupon(c)?;
    }
    Ok(Cow::Owned(r))
}

/// The current rules with the template coupons among `codes`.
pub(crate) fn current_rules_with<'a>(
    st: &'a EngineState,
    codes: impl Iterator<Item = &'a str>,
) -> Result<Cow<'a, RuleSet>, EngineError> {
    let rules = st.rules()?;
    let templates: Vec<&CouponTemplate> = st.templates.iter().collect();
    rules_with(st, rules, &templates, codes)
}

/// The codes of `customer`'s template coupons, in code order.
pub(crate) fn template_codes_of<'a>(
    st: &'a EngineState,
    customer: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    st.shop()
        .coupons()
        .iter()
        .filter(move |c| c.template.is_some() && c.owner.as_deref() == Some(customer))
        .map(|c| c.code.as_str())
}

/// One coupon in a customer's wallet ([`crate::CustomerWallet::wallet`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WalletCoupon {
    /// Code.
    pub code: String,
    /// Status now.
    pub status: CouponStatus,
    /// The template it came from (`None`: a coupon of the configuration).
    pub template: Option<String>,
    /// Start of validity (inclusive), if any.
    pub valid_from: Option<DateTime<Utc>>,
    /// End of validity (exclusive), if any.
    pub valid_until: Option<DateTime<Utc>>,
}

/// Every coupon `customer` owns with its status at `now`: the
/// configuration's, in definition order, then the template coupons, in code
/// order.
pub(crate) fn wallet(st: &EngineState, customer: &str, now: DateTime<Utc>) -> Vec<WalletCoupon> {
    let mut out: Vec<WalletCoupon> = Vec::new();
    if let Some(rules) = &st.rules {
        for c in rules
            .coupons()
            .iter()
            .filter(|c| c.owner.as_deref() == Some(customer))
        {
            if let Some(ic) = st.shop().coupons().get(&c.code) {
                out.push(WalletCoupon {
                    code: c.code.clone(),
                    status: ic.status(Some(customer), now),
                    template: None,
                    valid_from: c.window.as_ref().and_then(|w| w.from),
                    valid_until: c.window.as_ref().and_then(|w| w.to),
                });
            }
        }
    }
    for ic in st
        .shop()
        .coupons()
        .iter()
        .filter(|c| c.template.is_some() && c.owner.as_deref() == Some(customer))
    {
        out.push(WalletCoupon {
            code: ic.code.clone(),
            status: ic.status(Some(customer), now),
            template: ic.template.clone(),
            valid_from: ic.valid_from,
            valid_until: ic.valid_until,
        });
    }
    out
}

/// The guard key of a template's coupons out over all customers.
pub fn template_guard_key(template: &str) -> String {
    format!("template/{template}/issued")
}

/// The guard key of a template's coupons one customer holds.
pub fn template_customer_guard_key(template: &str, customer: &str) -> String {
    format!("template/{template}/customer/{customer}")
}

fn push_guard(out: &mut Vec<Guard>, key: String, delta: i64, max: Option<i64>) {
    if let Some(g) = out.iter_mut().find(|g| g.key == key) {
        g.delta = g.delta.saturating_add(delta);
        g.max = match (g.max, max) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    } else {
        out.push(Guard { key, delta, max });
    }
}

/// The guard moves of template coupon events: +1 on both counters per
/// coupon out (checked against the template's caps), −1 per revocation.
pub(crate) fn claim_guards(st: &EngineState, events: &[LogEvent], out: &mut Vec<Guard>) {
    for e in events {
        match e {
            LogEvent::Core(Event::Coupon(CouponEvent::Claimed {
                template, owner, ..
            })) => {
                let t = st.templates.iter().find(|t| &t.id == template);
                push_guard(
                    out,
                    template_guard_key(template),
                    1,
                    t.and_then(|t| t.total_cap),
                );
                push_guard(
                    out,
                    template_customer_guard_key(template, owner),
                    1,
                    t.and_then(|t| t.per_customer_cap),
                );
            }
            LogEvent::Core(Event::Coupon(CouponEvent::Revoked { code })) => {
                if let Some(ic) = st.shop().coupons().get(code)
                    && let (Some(t), Some(owner)) = (&ic.template, &ic.owner)
                {
                    push_guard(out, template_guard_key(t), -1, None);
                    push_guard(out, template_customer_guard_key(t, owner), -1, None);
                }
            }
            _ => {}
        }
    }
}

/// What the template guard counters should hold (audits).
pub(crate) fn expected_claim_guards(
    st: &EngineState,
    out: &mut std::collections::BTreeMap<String, i64>,
) {
    for ic in st.shop().coupons().iter() {
        if let (Some(t), Some(owner), false) = (&ic.template, &ic.owner, ic.revoked) {
            for k in [template_guard_key(t), template_customer_guard_key(t, owner)] {
                let v = out.entry(k).or_insert(0);
                *v = v.saturating_add(1);
            }
        }
    }
}

fn template<'a>(st: &'a EngineState, id: &str) -> Result<&'a CouponTemplate, EngineError> {
    st.templates
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| mercato_core::CoreError::UnknownTemplate(id.to_string()).into())
}

/// The core command of a loyalty request, or `None` for another request.
pub(crate) fn command(st: &EngineState, req: &Request) -> Option<Result<Command, EngineError>> {
    Some(match req {
        Request::IssueCoupons {
            template: id,
            customers,
            codes,
        } => (|| {
            let t = template(st, id)?;
            if !codes.is_empty() && codes.len() != customers.len() {
                return Err(EngineError::InvalidInput(format!(
                    "{} codes for {} customers",
                    codes.len(),
                    customers.len()
                )));
            }
            if codes.iter().any(String::is_empty) {
                return Err(EngineError::InvalidInput("a coupon code is empty".into()));
            }
            let claims = customers
                .iter()
                .enumerate()
                .map(|(i, c)| CouponClaim {
                    customer: c.clone(),
                    code: codes.get(i).cloned(),
                })
                .collect();
            Ok(Command::ClaimCoupons {
                template: t.limits(),
                claims,
                via: ClaimVia::Issue,
            })
        })(),
        Request::ClaimCoupon {
            template: id,
            customer,
        } => template(st, id).map(|t| Command::ClaimCoupons {
            template: t.limits(),
            claims: vec![CouponClaim {
                customer: customer.clone(),
                code: None,
            }],
            via: ClaimVia::Claim,
        }),
        Request::RevokeCoupon { code } => Ok(Command::RevokeCoupon { code: code.clone() }),
        Request::ExtendCoupon { code, valid_until } => Ok(Command::ExtendCoupon {
            code: code.clone(),
            valid_until: *valid_until,
        }),
        _ => return None,
    })
}

/// The configuration event of adding a template.
pub(crate) fn add_template(
    st: &EngineState,
    template: &CouponTemplate,
) -> Result<Vec<LogEvent>, EngineError> {
    let rules = st.rules()?;
    template.validate(rules)?;
    if st.templates.iter().any(|t| t.id == template.id) {
        return Err(EngineError::InvalidInput(format!(
            "template `{}` already exists",
            template.id
        )));
    }
    Ok(vec![LogEvent::Config(Box::new(
        ConfigEvent::CouponTemplateAdded {
            template: template.clone(),
        },
    ))])
}

/// The codes a request's events gave out, in order.
pub(crate) fn issued_codes(events: &[LogEvent]) -> Vec<IssuedCode> {
    events
        .iter()
        .filter_map(|e| match e {
            LogEvent::Core(Event::Coupon(CouponEvent::Claimed {
                code,
                owner,
                valid_from,
                valid_until,
                ..
            })) => Some(IssuedCode {
                code: code.clone(),
                customer: owner.clone(),
                valid_from: *valid_from,
                valid_until: *valid_until,
            }),
            _ => None,
        })
        .collect()
}
