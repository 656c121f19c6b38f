//! Usage-limit and rate-limit policies (`/policies/usage-limits`, `/policies/rate-limits`):
//! budgets and rate limits for the requests that match `conditions`, one counter per
//! distinct value of `group_by` ("$50 a month per end user").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::limits::{BudgetType, PeriodicReset, RateLimitType, RateUnit};
use super::patch::Patch;

/// A request attribute a policy matches or groups by.
pub const POLICY_KEYS: &[&str] = &["api_key", "workspace_id", "provider", "model", "config"];

/// `{key, value}`: requests whose `key` is `value` (`*`: any request that has one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PolicyCondition {
    /// `api_key`, `workspace_id`, `provider`, `model`, `config` or `metadata.<key>`.
    pub key: String,
    pub value: String,
}

/// `{key}`: one counter per distinct value of `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PolicyGroupBy {
    pub key: String,
}

/// A usage-limit policy as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UsageLimitPolicy {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub conditions: Vec<PolicyCondition>,
    #[serde(default)]
    pub group_by: Vec<PolicyGroupBy>,
    /// `cost` (USD), `tokens` or `requests`.
    #[serde(rename = "type", default = "cost")]
    pub kind: BudgetType,
    #[serde(default)]
    pub credit_limit: f64,
    #[serde(default)]
    pub alert_threshold: Option<f64>,
    #[serde(default)]
    pub periodic_reset: Option<PeriodicReset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periodic_reset_days: Option<i64>,
    /// `active`, or `archived` once deleted (no longer enforced).
    #[serde(default = "active")]
    pub status: String,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub organisation_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub last_updated_at: Option<String>,
    /// With `include_usage=true`: each value key's usage in its current window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_key_usage_map: Option<BTreeMap<String, EntityUsage>>,
    #[serde(default = "usage_object")]
    pub object: String,
}

/// A rate-limit policy as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RateLimitPolicy {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub conditions: Vec<PolicyCondition>,
    #[serde(default)]
    pub group_by: Vec<PolicyGroupBy>,
    /// `requests` or `tokens`.
    #[serde(rename = "type")]
    pub kind: RateLimitType,
    /// `rpm`, `rph`, `rpd` or `rpw`.
    pub unit: RateUnit,
    pub value: i64,
    #[serde(default = "active")]
    pub status: String,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub organisation_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub last_updated_at: Option<String>,
    #[serde(default = "rate_object")]
    pub object: String,
}

fn active() -> String {
    "active".to_owned()
}

fn cost() -> BudgetType {
    BudgetType::Cost
}

fn usage_object() -> String {
    "usage-limits-policy".to_owned()
}

fn rate_object() -> String {
    "rate-limits-policy".to_owned()
}

/// One value key's counter: `GET /policies/usage-limits/{id}/entities`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PolicyEntity {
    /// Stable for the value key: the id `.../entities/{id}/reset` takes.
    pub id: String,
    /// The group's values: `metadata.user_id=alice`, `model=gpt-5-pro&workspace_id=...`.
    pub value_key: String,
    /// In the policy's unit, in the current window (a rate policy: its sliding window).
    pub current_usage: f64,
    /// `active`, or `exhausted` while the counter is spent.
    pub status: String,
    #[serde(default)]
    pub window_started_at: Option<String>,
    #[serde(default)]
    pub next_usage_reset_at: Option<String>,
    #[serde(default = "entity_object")]
    pub object: String,
}

fn entity_object() -> String {
    "policy-entity".to_owned()
}

/// A value key's usage in `value_key_usage_map`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EntityUsage {
    pub current_usage: f64,
    pub status: String,
}

/// `POST /policies/usage-limits`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateUsagePolicy {
    #[schemars(schema_with = "super::schema::opt_name")]
    #[serde(default, deserialize_with = "super::text::opt_name")]
    pub name: Option<String>,
    #[serde(default)]
    pub conditions: Vec<PolicyCondition>,
    #[serde(default)]
    pub group_by: Vec<PolicyGroupBy>,
    #[serde(rename = "type")]
    pub kind: BudgetType,
    #[schemars(schema_with = "super::schema::flex_number")]
    #[serde(deserialize_with = "super::limits::required_f64")]
    pub credit_limit: f64,
    #[schemars(schema_with = "super::schema::opt_flex_number")]
    #[serde(default, deserialize_with = "super::lenient::opt_flex_f64")]
    pub alert_threshold: Option<f64>,
    #[serde(default)]
    pub periodic_reset: Option<PeriodicReset>,
    #[serde(default, deserialize_with = "super::lenient::opt_flex_i64")]
    pub periodic_reset_days: Option<i64>,
    /// A workspace (id or slug) the policy is limited to; organisation-wide when absent.
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub organisation_id: Option<String>,
}

/// What an update may not change: a different policy is a new one. Given, each is
/// refused by name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FixedPolicyFields {
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<serde_json::Value>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<serde_json::Value>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<serde_json::Value>,
}

impl FixedPolicyFields {
    /// Each field by its wire name, and whether the request gave it.
    pub fn given(&self) -> [(&'static str, bool); 3] {
        [
            ("group_by", self.group_by.is_some()),
            ("type", self.kind.is_some()),
            ("workspace_id", self.workspace_id.is_some()),
        ]
    }
}

/// `PUT /policies/usage-limits/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateUsagePolicy {
    #[schemars(schema_with = "super::schema::opt_name")]
    #[serde(default, deserialize_with = "super::text::opt_name")]
    pub name: Option<String>,
    #[serde(default)]
    pub conditions: Option<Vec<PolicyCondition>>,
    #[schemars(schema_with = "super::schema::opt_flex_number")]
    #[serde(default, deserialize_with = "super::lenient::opt_flex_f64")]
    pub credit_limit: Option<f64>,
    #[schemars(with = "Option<f64>")]
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub alert_threshold: Patch<f64>,
    /// `null` makes the budget cumulative.
    #[schemars(with = "Option<PeriodicReset>")]
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub periodic_reset: Patch<PeriodicReset>,
    #[schemars(with = "Option<i64>")]
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub periodic_reset_days: Patch<i64>,
    /// Starts the usage of this value key over (as `.../entities/{id}/reset`).
    #[serde(default)]
    pub reset_usage_for_value: Option<String>,
    /// `active` or `archived`.
    #[serde(default)]
    pub status: Option<String>,
    /// Fixed once created: refused (a different policy is a new one).
    #[serde(flatten)]
    pub fixed: FixedPolicyFields,
}

/// `POST /policies/rate-limits`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateRatePolicy {
    #[schemars(schema_with = "super::schema::opt_name")]
    #[serde(default, deserialize_with = "super::text::opt_name")]
    pub name: Option<String>,
    #[serde(default)]
    pub conditions: Vec<PolicyCondition>,
    #[serde(default)]
    pub group_by: Vec<PolicyGroupBy>,
    #[serde(rename = "type")]
    pub kind: RateLimitType,
    pub unit: RateUnit,
    #[serde(deserialize_with = "super::lenient::flex_i64")]
    pub value: i64,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub organisation_id: Option<String>,
    /// `llm` (the default; `mcp_tools` is not served here).
    #[serde(default)]
    pub target: Option<String>,
}

/// `PUT /policies/rate-limits/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateRatePolicy {
    #[schemars(schema_with = "super::schema::opt_name")]
    #[serde(default, deserialize_with = "super::text::opt_name")]
    pub name: Option<String>,
    #[serde(default)]
    pub conditions: Option<Vec<PolicyCondition>>,
    #[serde(default)]
    pub unit: Option<RateUnit>,
    #[serde(default, deserialize_with = "super::lenient::opt_flex_i64")]
    pub value: Option<i64>,
    #[serde(default)]
    pub status: Option<String>,
    /// Fixed once created: refused (a different policy is a new one).
    #[serde(flatten)]
    pub fixed: FixedPolicyFields,
}

/// What creating a policy answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreatedPolicy {
    pub id: String,
    pub object: String,
}

/// `PUT /policies/usage-limits/{id}/entities/{entityId}/reset`: no fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResetEntity {}
