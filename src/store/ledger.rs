//! The admission ledger's vocabulary: what a request holds at each level, what admission
//! answers, and the alerts settlement raises. The rules (windows, slots, prices) live in
//! [`crate::admission`]; a store applies them atomically.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::UsageScope;
pub use crate::api::alerts::{Alert, AlertDelivery, AlertEvent, AlertKind};
use crate::api::limits::{BudgetType, UsageLimits};

/// The whole units a counter keeps; `scale` of them make one unit shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Cost, in nano-dollars (10⁻⁹ USD): prices per million tokens with up to three
    /// decimals cost a whole number of them per token.
    NanoUsd,
    Tokens,
    Requests,
}

impl Unit {
    pub fn of_budget(kind: BudgetType) -> Unit {
        match kind {
            BudgetType::Cost => Unit::NanoUsd,
            BudgetType::Tokens => Unit::Tokens,
            BudgetType::Requests => Unit::Requests,
        }
    }

    pub fn scale(self) -> i64 {
        match self {
            Unit::NanoUsd => 1_000_000_000,
            Unit::Tokens | Unit::Requests => 1,
        }
    }

    /// Whole units of an amount shown (`1.5` USD is 1,500,000,000 nano-dollars), rounded
    /// down: a limit never grows by rounding.
    pub fn units(self, shown: f64) -> i64 {
        let units = shown * self.scale() as f64;
        if units.is_finite() {
            units.floor() as i64
        } else {
            i64::MAX
        }
    }

    /// The amount shown for whole units.
    pub fn shown(self, units: i64) -> f64 {
        units as f64 / self.scale() as f64
    }
}

/// What an entry of a hold is checked against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Gauge {
    /// A budget over its calendar windows; `alert` is its alert threshold in units.
    Budget {
        limits: UsageLimits,
        ceiling: i64,
        alert: Option<i64>,
    },
    /// A sliding window of `period_ms`, counted in slots of `slot_ms`.
    Rate {
        period_ms: i64,
        slot_ms: i64,
        ceiling: i64,
    },
    /// Requests in flight.
    Concurrency { ceiling: i64 },
}

/// One level's part of a hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldEntry {
    pub scope: UsageScope,
    /// The counter of the scope: `budget`, `rate/requests/rpm`, `concurrency`, ...
    pub limit: String,
    pub unit: Unit,
    pub gauge: Gauge,
    /// The most this request can count here, in units.
    pub amount: i64,
    /// What the level is, for refusals and alerts: `workspace`, `provider`, ...
    pub level: String,
    /// Who it is, for people: `@openai-prod`, `eng`, ...
    pub name: String,
    /// The rate slot the amount went to (set when held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<i64>,
}

/// Why admission refused, at the first entry (in the order given) that did not fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub index: usize,
    /// Settled usage alone leaves room: requests in flight hold the rest, and the request
    /// may fit once they settle.
    pub held_out: bool,
    /// When a request of this size would be admitted, if anything but time stands in
    /// the way (`None` when it never would, or when in-flight requests decide).
    pub retry_after: Option<Duration>,
    /// Units left before the limit (settled and held usage taken off).
    pub headroom: i64,
}

/// The answer to a hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    Admitted,
    Refused(Refusal),
}

/// A counter as it stands, for usage reports.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterState {
    pub scope: String,
    pub limit: String,
    pub unit_scale: i64,
    pub used: i64,
    pub held: i64,
    pub window_started_at: Option<String>,
    pub last_reset_at: Option<String>,
    pub exhausted: bool,
}
