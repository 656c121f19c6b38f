//! Budgets (`usage_limits`) and rate limits, with the contract's validation rules.

use serde::{Deserialize, Serialize};

use super::lenient::opt_flex_f64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BudgetType {
    Cost,
    Tokens,
    /// Requests counted (usage-limit policies only).
    Requests,
}

impl BudgetType {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetType::Cost => "cost",
            BudgetType::Tokens => "tokens",
            BudgetType::Requests => "requests",
        }
    }

    /// The unit amounts of this budget are in, as messages name it.
    pub fn unit(self) -> &'static str {
        match self {
            BudgetType::Cost => "USD",
            BudgetType::Tokens => "tokens",
            BudgetType::Requests => "requests",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PeriodicReset {
    Weekly,
    Monthly,
}

/// A budget: cost in USD or tokens, optionally reset on a schedule, with an alert threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UsageLimits {
    #[serde(rename = "type")]
    pub kind: BudgetType,
    #[schemars(schema_with = "super::schema::flex_number")]
    #[serde(deserialize_with = "required_f64")]
    pub credit_limit: f64,
    #[schemars(schema_with = "super::schema::opt_flex_number")]
    #[serde(
        default,
        deserialize_with = "opt_flex_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub alert_threshold: Option<f64>,
    #[serde(default)]
    pub periodic_reset: Option<PeriodicReset>,
    #[schemars(range(min = 1, max = 365))]
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_flex_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub periodic_reset_days: Option<i64>,
    #[schemars(schema_with = "super::schema::opt_timestamp")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_usage_reset_at: Option<String>,
}

pub(crate) fn required_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    opt_flex_f64(d)?.ok_or_else(|| serde::de::Error::custom("expected a number"))
}

impl UsageLimits {
    /// Checks the contract's rules; the error names the offending field relative to `at`.
    /// Request-count budgets belong to usage-limit policies only.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        if self.kind == BudgetType::Requests {
            return Err(format!(
                "`{at}.type` `requests` is for usage-limit policies (`/policies/usage-limits`, `catalog policies create --type requests`); a budget here is `cost` or `tokens`"
            ));
        }
        self.validate_policy(at)
    }

    /// [`UsageLimits::validate`], with request-count budgets allowed (policies).
    pub fn validate_policy(&self, at: &str) -> Result<(), String> {
        let unit = self.unit();
        let minimum = match self.kind {
            BudgetType::Cost | BudgetType::Requests => 1.0,
            BudgetType::Tokens => 100.0,
        };
        let maximum = match self.kind {
            BudgetType::Cost => 1e12,
            BudgetType::Tokens | BudgetType::Requests => 1e15,
        };
        if self.credit_limit.is_finite() && self.credit_limit > maximum {
            return Err(format!(
                "`{at}.credit_limit` must be at most {maximum:e} {unit} for a `{}` budget",
                self.kind.as_str()
            ));
        }
        if !self.credit_limit.is_finite() || self.credit_limit < minimum {
            return Err(format!(
                "`{at}.credit_limit` must be at least {minimum} {unit} for a `{}` budget, got {}",
                self.kind.as_str(),
                self.credit_limit
            ));
        }
        if let Some(alert) = self.alert_threshold {
            if !alert.is_finite() || alert < 1.0 || alert >= self.credit_limit {
                return Err(format!(
                    "`{at}.alert_threshold` must be at least 1 and below `{at}.credit_limit` ({}), in {unit}; got {alert}",
                    self.credit_limit
                ));
            }
        }
        if self.periodic_reset.is_some() && self.periodic_reset_days.is_some() {
            return Err(format!(
                "`{at}.periodic_reset` and `{at}.periodic_reset_days` cannot both be set: choose one"
            ));
        }
        if let Some(days) = self.periodic_reset_days {
            if !(1..=365).contains(&days) {
                return Err(format!(
                    "`{at}.periodic_reset_days` must be between 1 and 365, got {days}"
                ));
            }
        }
        if let Some(at_value) = &self.next_usage_reset_at {
            if chrono::DateTime::parse_from_rfc3339(at_value).is_err() {
                return Err(format!(
                    "`{at}.next_usage_reset_at` must be an ISO-8601 timestamp, got `{at_value}`"
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitType {
    Requests,
    Tokens,
}

/// Rate-limit windows. `rps` and `rpw` are only valid on API keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RateUnit {
    Rps,
    Rpm,
    Rph,
    Rpd,
    Rpw,
}

impl RateUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            RateUnit::Rps => "rps",
            RateUnit::Rpm => "rpm",
            RateUnit::Rph => "rph",
            RateUnit::Rpd => "rpd",
            RateUnit::Rpw => "rpw",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RateLimit {
    #[serde(rename = "type")]
    pub kind: RateLimitType,
    pub unit: RateUnit,
    #[schemars(range(min = 0))]
    #[serde(deserialize_with = "super::lenient::flex_i64")]
    pub value: i64,
}

impl std::fmt::Display for RateLimit {
    /// `100 requests/min`, `5000 tokens/hour`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            RateLimitType::Requests => "requests",
            RateLimitType::Tokens => "tokens",
        };
        let per = match self.unit {
            RateUnit::Rps => "s",
            RateUnit::Rpm => "min",
            RateUnit::Rph => "hour",
            RateUnit::Rpd => "day",
            RateUnit::Rpw => "week",
        };
        write!(f, "{} {kind}/{per}", self.value)
    }
}

impl RateLimit {
    pub fn validate(&self, at: &str, allow_key_units: bool) -> Result<(), String> {
        if self.value < 0 {
            return Err(format!(
                "`{at}.value` must be 0 or more (0 disables), got {}",
                self.value
            ));
        }
        if !allow_key_units && matches!(self.unit, RateUnit::Rps | RateUnit::Rpw) {
            return Err(format!(
                "`{at}.unit` `{}` is only valid on API keys; use rpm, rph or rpd",
                self.unit.as_str()
            ));
        }
        Ok(())
    }
}

/// An amount a budget counts: USD for a `cost` budget, tokens for a `tokens` budget.
/// Finite and not negative; built only through [`BudgetAmount::new`], which `FromStr`
/// and `Deserialize` share, so no value held can break the rule.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct BudgetAmount(f64);

impl BudgetAmount {
    pub const ZERO: BudgetAmount = BudgetAmount(0.0);

    pub fn new(value: f64) -> Result<BudgetAmount, String> {
        if !value.is_finite() {
            return Err(format!("an amount must be a finite number, got {value}"));
        }
        if value < 0.0 {
            return Err(format!("an amount must be 0 or more, got {value}"));
        }
        Ok(BudgetAmount(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for BudgetAmount {
    type Error = String;

    fn try_from(value: f64) -> Result<Self, Self::Error> {
        BudgetAmount::new(value)
    }
}

impl From<BudgetAmount> for f64 {
    fn from(amount: BudgetAmount) -> f64 {
        amount.0
    }
}

impl std::str::FromStr for BudgetAmount {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a number; write e.g. 1000 or 2.5"))?;
        BudgetAmount::new(value)
    }
}

impl std::fmt::Display for BudgetAmount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl UsageLimits {
    /// A cost budget of `credit_limit` USD, with no alert and no reset.
    pub fn cost(credit_limit: f64) -> UsageLimits {
        UsageLimits {
            kind: BudgetType::Cost,
            credit_limit,
            alert_threshold: None,
            periodic_reset: None,
            periodic_reset_days: None,
            next_usage_reset_at: None,
        }
    }

    /// The budget's ceiling, when it is one the rules accept (`None` for a stored value
    /// that is not finite or below zero, which no request can set).
    pub fn ceiling(&self) -> Option<BudgetAmount> {
        BudgetAmount::new(self.credit_limit).ok()
    }

    /// The unit the budget counts in, as messages name it.
    pub fn unit(&self) -> &'static str {
        self.kind.unit()
    }
}

/// A rate limit's ceiling normalised to one window (per minute), so limits written per
/// second, hour, day or week compare. Rates of different kinds (requests, tokens) do not
/// compare: `partial_cmp` gives `None` and every comparison is false.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    kind: RateLimitType,
    per_minute: f64,
}

impl Rate {
    pub fn kind(self) -> RateLimitType {
        self.kind
    }

    pub fn per_minute(self) -> f64 {
        self.per_minute
    }
}

impl PartialOrd for Rate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        if self.kind != other.kind {
            return None;
        }
        self.per_minute.partial_cmp(&other.per_minute)
    }
}

impl RateLimit {
    /// The limit as a [`Rate`] per minute.
    pub fn rate(&self) -> Rate {
        let v = self.value as f64;
        let per_minute = match self.unit {
            RateUnit::Rps => v * 60.0,
            RateUnit::Rpm => v,
            RateUnit::Rph => v / 60.0,
            RateUnit::Rpd => v / 1440.0,
            RateUnit::Rpw => v / 10080.0,
        };
        Rate {
            kind: self.kind,
            per_minute,
        }
    }
}

/// A concurrency limit: the most requests an AI provider (or a workspace's access to an
/// integration) may have in flight at once, 1 to [`ConcurrencyLimit::MAX`]. Unlimited is
/// no value at all (`null`), never 0. The field is private: [`ConcurrencyLimit::new`] is
/// the one check, shared by `FromStr` and `Deserialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "u32")]
pub struct ConcurrencyLimit(u32);

impl ConcurrencyLimit {
    /// The largest limit accepted: anything above is a typo.
    pub const MAX: u32 = 1_000_000;

    pub fn new(value: i64) -> Result<ConcurrencyLimit, String> {
        match u32::try_from(value) {
            Ok(v) if (1..=Self::MAX).contains(&v) => Ok(ConcurrencyLimit(v)),
            _ => Err(Self::expected(&value.to_string())),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The message for a value that is not a limit; `got` is the value as written.
    fn expected(got: &str) -> String {
        format!(
            "must be a whole number of requests in flight from 1 to {} (null for no limit), got {got}",
            Self::MAX
        )
    }
}

impl From<ConcurrencyLimit> for u32 {
    fn from(limit: ConcurrencyLimit) -> u32 {
        limit.0
    }
}

impl std::fmt::Display for ConcurrencyLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for ConcurrencyLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Self::expected(&format!("`{s}`")));
        }
        // Digits only: too many of them for an i64 is simply too large.
        ConcurrencyLimit::new(text.parse().unwrap_or(i64::MAX))
            .map_err(|_| Self::expected(&format!("`{s}`")))
    }
}

/// A whole number (also written `8.0`), or a string of digits as the contract's loosely
/// typed clients send; anything else names what was sent.
impl<'de> Deserialize<'de> for ConcurrencyLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let limit = match &value {
            serde_json::Value::String(s) => s.parse(),
            other => match super::lenient::whole_i64(other) {
                Some(n) => ConcurrencyLimit::new(n),
                None => Err(Self::expected(&other.to_string())),
            },
        };
        limit.map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for ConcurrencyLimit {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ConcurrencyLimit".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        super::schema::concurrency_limit(generator)
    }
}

/// Validates an array of budgets that may hold at most `max` items.
pub fn validate_usage_array(items: &[UsageLimits], field: &str, max: usize) -> Result<(), String> {
    if items.len() > max {
        return Err(format!(
            "`{field}` holds at most {max} item(s), got {}",
            items.len()
        ));
    }
    for (i, item) in items.iter().enumerate() {
        item.validate(&format!("{field}[{i}]"))?;
    }
    Ok(())
}

/// Validates an array of rate limits that may hold at most `max` items.
pub fn validate_rate_array(
    items: &[RateLimit],
    field: &str,
    max: usize,
    allow_key_units: bool,
) -> Result<(), String> {
    if items.len() > max {
        return Err(format!(
            "`{field}` holds at most {max} item(s), got {}",
            items.len()
        ));
    }
    for (i, item) in items.iter().enumerate() {
        item.validate(&format!("{field}[{i}]"), allow_key_units)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(kind: BudgetType, limit: f64) -> UsageLimits {
        UsageLimits {
            kind,
            ..UsageLimits::cost(limit)
        }
    }

    #[test]
    fn budget_minimums_depend_on_type() {
        assert!(budget(BudgetType::Cost, 0.0).validate("b").is_err());
        assert!(budget(BudgetType::Cost, 1.0).validate("b").is_ok());
        let err = budget(BudgetType::Tokens, 99.0).validate("b").unwrap_err();
        assert!(
            err.contains("`b.credit_limit`") && err.contains("100"),
            "{err}"
        );
    }

    #[test]
    fn alert_must_be_below_limit() {
        let mut b = budget(BudgetType::Cost, 100.0);
        b.alert_threshold = Some(100.0);
        assert!(b.validate("b").unwrap_err().contains("alert_threshold"));
        b.alert_threshold = Some(80.0);
        assert!(b.validate("b").is_ok());
    }

    #[test]
    fn both_reset_kinds_are_refused() {
        let mut b = budget(BudgetType::Cost, 100.0);
        b.periodic_reset = Some(PeriodicReset::Weekly);
        b.periodic_reset_days = Some(30);
        assert!(b.validate("b").unwrap_err().contains("periodic_reset_days"));
    }

    #[test]
    fn credit_limit_accepts_floats_and_strings() {
        let b: UsageLimits =
            serde_json::from_str(r#"{"type":"cost","credit_limit":"10.0"}"#).unwrap();
        assert_eq!(b.credit_limit, 10.0);
    }

    #[test]
    fn budget_amounts_are_finite_and_not_negative() {
        assert_eq!("2.5".parse::<BudgetAmount>().unwrap().get(), 2.5);
        assert_eq!(BudgetAmount::new(0.0).unwrap(), BudgetAmount::ZERO);
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(BudgetAmount::new(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<BudgetAmount>("-3").is_err());
        let ok: BudgetAmount = serde_json::from_str("12.5").unwrap();
        assert_eq!(serde_json::to_string(&ok).unwrap(), "12.5");
    }

    #[test]
    fn rates_compare_per_minute_within_a_kind() {
        let rate = |kind, unit, value| RateLimit { kind, unit, value }.rate();
        let hourly = rate(RateLimitType::Requests, RateUnit::Rph, 12000);
        let per_minute = rate(RateLimitType::Requests, RateUnit::Rpm, 100);
        assert!(hourly > per_minute);
        assert_eq!(
            rate(RateLimitType::Requests, RateUnit::Rps, 1).per_minute(),
            60.0
        );
        let tokens = rate(RateLimitType::Tokens, RateUnit::Rpm, 1_000_000);
        assert_eq!(tokens.partial_cmp(&per_minute), None);
    }

    #[test]
    fn concurrency_limits_are_whole_numbers_from_one() {
        let read = |json: &str| serde_json::from_str::<ConcurrencyLimit>(json);
        assert_eq!(read("8").unwrap().get(), 8);
        assert_eq!(read("8.0").unwrap().get(), 8);
        assert_eq!(read(r#""8""#).unwrap().get(), 8);
        for bad in [
            "0", "-1", "1.5", r#""x""#, r#""""#, "true", "1000001", "1e300",
        ] {
            let err = read(bad).unwrap_err().to_string();
            assert!(err.contains("from 1 to 1000000"), "{bad}: {err}");
        }
        assert!(read("-1").unwrap_err().to_string().contains("got -1"));
        assert!(read(r#""x""#).unwrap_err().to_string().contains("got `x`"));
        assert_eq!("16".parse::<ConcurrencyLimit>().unwrap().get(), 16);
        assert!("0".parse::<ConcurrencyLimit>().is_err());
        assert!("99999999999999999999999"
            .parse::<ConcurrencyLimit>()
            .is_err());
        let limit = ConcurrencyLimit::new(4).unwrap();
        assert_eq!(serde_json::to_string(&limit).unwrap(), "4");
    }

    #[test]
    fn key_only_units_are_refused_elsewhere() {
        let r = RateLimit {
            kind: RateLimitType::Requests,
            unit: RateUnit::Rps,
            value: 1,
        };
        assert!(r.validate("r", false).is_err());
        assert!(r.validate("r", true).is_ok());
    }
}
