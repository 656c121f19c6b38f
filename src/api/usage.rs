//! Budget usage state and its reset windows.
//!
//! Semantics: windows reset at 00:00 UTC: weekly on Monday, monthly on the 1st, or every
//! N days counted from the window start. Changing a budget's window (its type,
//! `periodic_reset` or `periodic_reset_days`) starts a fresh window with zero usage;
//! `reset_usage` zeroes the usage and starts a fresh window too.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::limits::{PeriodicReset, UsageLimits};

/// Usage against one budget, returned on reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UsageState {
    #[serde(default)]
    pub current_usage: f64,
    #[serde(default)]
    pub window_started_at: Option<String>,
    #[serde(default)]
    pub next_usage_reset_at: Option<String>,
    #[serde(default)]
    pub last_reset_at: Option<String>,
    /// The budget refused a request in this window (or is spent): the provider shows
    /// `exhausted` until the window rolls or the usage is reset.
    #[serde(skip)]
    #[schemars(skip)]
    pub exhausted: bool,
}

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A time as [`timestamp`] writes it (any RFC 3339 time), in UTC.
pub fn parse(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t.date_naive().and_time(NaiveTime::MIN))
}

/// The first reset strictly after `after` for a window that started at `start`.
pub fn next_reset(
    limits: &UsageLimits,
    start: DateTime<Utc>,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if let Some(explicit) = limits.next_usage_reset_at.as_deref().and_then(parse) {
        if explicit > after {
            return Some(explicit);
        }
    }
    match (limits.periodic_reset, limits.periodic_reset_days) {
        (Some(PeriodicReset::Weekly), _) => {
            let today = midnight(after);
            let days = 7 - i64::from(today.weekday().num_days_from_monday());
            Some(today + Duration::days(days))
        }
        (Some(PeriodicReset::Monthly), _) => {
            let (y, m) = (after.year(), after.month());
            let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()
        }
        (None, Some(days)) if days > 0 => {
            let step = Duration::days(days);
            let mut next = midnight(start) + step;
            while next <= after {
                next += step;
            }
            Some(next)
        }
        _ => None,
    }
}

/// Whether two budgets count over the same window (so usage carries over).
pub fn same_window(a: &UsageLimits, b: &UsageLimits) -> bool {
    a.kind == b.kind
        && a.periodic_reset == b.periodic_reset
        && a.periodic_reset_days == b.periodic_reset_days
}

impl UsageState {
    pub fn fresh(now: DateTime<Utc>) -> UsageState {
        UsageState {
            current_usage: 0.0,
            window_started_at: Some(timestamp(now)),
            next_usage_reset_at: None,
            last_reset_at: None,
            exhausted: false,
        }
    }

    /// Zeroes the usage and starts a new window now.
    pub fn reset(&mut self, now: DateTime<Utc>) {
        self.current_usage = 0.0;
        self.window_started_at = Some(timestamp(now));
        self.last_reset_at = Some(timestamp(now));
        self.exhausted = false;
    }

    /// Rolls the window forward if a reset came due, and fills `next_usage_reset_at`.
    pub fn refresh(&mut self, limits: &UsageLimits, now: DateTime<Utc>) {
        let start = self
            .window_started_at
            .as_deref()
            .and_then(parse)
            .unwrap_or(now);
        if let Some(due) = next_reset(limits, start, start) {
            if due <= now {
                self.current_usage = 0.0;
                self.exhausted = false;
                self.window_started_at = Some(timestamp(due));
                self.last_reset_at = Some(timestamp(due));
            }
        }
        let start = self
            .window_started_at
            .as_deref()
            .and_then(parse)
            .unwrap_or(now);
        self.next_usage_reset_at = next_reset(limits, start, now).map(timestamp);
    }
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// A budget in USD.
    Cost,
    /// A budget or rate limit in tokens.
    Tokens,
    /// A rate limit in requests.
    Requests,
    /// Requests in flight at once.
    Concurrency,
}

/// Which sort of limit it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitType {
    /// A budget over calendar windows (`usage_limits`).
    Budget,
    /// A sliding window (`rate_limits`).
    Rate,
    /// Requests in flight (`concurrency_limit`).
    Concurrency,
}

/// A budget's alert state in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    None,
    /// Usage reached the alert threshold.
    Threshold,
    /// The budget is spent, or refused a request, in this window.
    Exhausted,
}

/// One limit of one level with its live usage (`GET /v1/usage`, an extension). Amounts
/// are in `unit`: USD for cost budgets, whole tokens or requests otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UsageItem {
    /// `api_key`, `workspace`, `integration` (across every workspace),
    /// `workspace_access` (an integration's access for one workspace), `provider` or
    /// `virtual_key`.
    pub level: String,
    /// Who it is: the workspace's slug, the API key's name, the integration's slug,
    /// `integration/workspace` for an access, `@provider`, the virtual key's slug.
    pub name: String,
    /// The level's own id (`null` for an access: see `integration_id` and `workspace_id`).
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub integration_id: Option<String>,
    /// The counter: `budget` (`budget/N` for a workspace's Nth), `rate/requests/rpm`,
    /// `rate/tokens/rph`, ..., `concurrency`.
    pub limit_key: String,
    #[serde(rename = "type")]
    pub limit_type: LimitType,
    pub kind: LimitKind,
    /// `usd`, `tokens` or `requests`.
    pub unit: String,
    pub limit: f64,
    /// Budgets: settled usage in the current window (0 once a window rolled). Rate
    /// limits: the units counted in the sliding window now. Concurrency: requests in
    /// flight.
    pub used: f64,
    /// Held by requests in flight, not yet settled (budgets and concurrency).
    pub held: f64,
    /// What is left before the limit, holds taken off.
    pub remaining: f64,
    /// `used` as a percentage of `limit`.
    pub percent: f64,
    /// Budgets: when the current window started (`null` before the first use).
    #[serde(default)]
    pub window_started_at: Option<String>,
    /// Budgets: the next reset (`null` for a budget that never resets).
    #[serde(default)]
    pub next_reset_at: Option<String>,
    #[serde(default)]
    pub last_reset_at: Option<String>,
    /// Rate limits: the sliding window, `second`, `minute`, `hour`, `day` or `week`.
    #[serde(default)]
    pub period: Option<String>,
    #[serde(default)]
    pub period_seconds: Option<i64>,
    #[serde(default)]
    pub alert_threshold: Option<f64>,
    pub alert: AlertState,
    /// When the alert of the current state was raised, if one was.
    #[serde(default)]
    pub alert_raised_at: Option<String>,
    /// `ok`; `exhausted` (a budget refuses until it resets); `limited` (a rate or
    /// concurrency limit is at its ceiling now); `disabled` or `expired` (the provider
    /// or access is off, so nothing is called through it).
    pub status: String,
}

/// The usage state after a budget changes from `old` to `new`.
pub fn carry_over(
    old: Option<&UsageLimits>,
    new: Option<&UsageLimits>,
    state: Option<UsageState>,
    now: DateTime<Utc>,
) -> Option<UsageState> {
    let new = new?;
    match (old, state) {
        (Some(old), Some(state)) if same_window(old, new) => Some(state),
        _ => Some(UsageState::fresh(now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::limits::BudgetType;

    fn budget(reset: Option<PeriodicReset>, days: Option<i64>) -> UsageLimits {
        UsageLimits {
            kind: BudgetType::Cost,
            credit_limit: 100.0,
            alert_threshold: None,
            periodic_reset: reset,
            periodic_reset_days: days,
            next_usage_reset_at: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse(s).unwrap()
    }

    #[test]
    fn weekly_resets_on_monday_midnight_utc() {
        // 2026-11-22 is a Sunday.
        let b = budget(Some(PeriodicReset::Weekly), None);
        let now = at("2026-11-22T15:00:00Z");
        assert_eq!(
            next_reset(&b, now, now).unwrap(),
            at("2026-11-23T00:00:00Z")
        );
        let monday = at("2026-11-23T00:00:00Z");
        assert_eq!(
            next_reset(&b, monday, monday).unwrap(),
            at("2026-11-30T00:00:00Z")
        );
    }

    #[test]
    fn monthly_resets_on_the_first() {
        let b = budget(Some(PeriodicReset::Monthly), None);
        let now = at("2026-12-31T23:59:00Z");
        assert_eq!(
            next_reset(&b, now, now).unwrap(),
            at("2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn every_n_days_counts_from_the_window_start() {
        let b = budget(None, Some(30));
        let start = at("2026-11-01T10:00:00Z");
        assert_eq!(
            next_reset(&b, start, at("2026-11-22T00:00:00Z")).unwrap(),
            at("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            next_reset(&b, start, at("2026-12-05T00:00:00Z")).unwrap(),
            at("2026-12-31T00:00:00Z")
        );
        assert!(next_reset(&budget(None, None), start, start).is_none());
    }

    #[test]
    fn refresh_rolls_an_expired_window() {
        let b = budget(Some(PeriodicReset::Weekly), None);
        let mut s = UsageState::fresh(at("2026-11-20T12:00:00Z"));
        s.current_usage = 42.0;
        s.refresh(&b, at("2026-11-24T09:00:00Z"));
        assert_eq!(s.current_usage, 0.0);
        assert_eq!(
            s.window_started_at.as_deref(),
            Some("2026-11-23T00:00:00.000Z")
        );
        assert_eq!(
            s.next_usage_reset_at.as_deref(),
            Some("2026-11-30T00:00:00.000Z")
        );
    }

    #[test]
    fn changing_the_window_starts_fresh() {
        let now = at("2026-11-22T00:00:00Z");
        let mut used = UsageState::fresh(now);
        used.current_usage = 10.0;
        let weekly = budget(Some(PeriodicReset::Weekly), None);
        let mut bigger = weekly.clone();
        bigger.credit_limit = 500.0;
        assert_eq!(
            carry_over(Some(&weekly), Some(&bigger), Some(used.clone()), now)
                .unwrap()
                .current_usage,
            10.0
        );
        let monthly = budget(Some(PeriodicReset::Monthly), None);
        assert_eq!(
            carry_over(Some(&weekly), Some(&monthly), Some(used), now)
                .unwrap()
                .current_usage,
            0.0
        );
    }
}
