//! Workspace provisioning of an integration (`/integrations/{slug}/workspaces`).

use serde::{Deserialize, Serialize};

use super::lenient::opt_flex_bool;
use super::limits::{ConcurrencyLimit, RateLimit, UsageLimits};
use super::patch::Patch;
use super::usage::UsageState;

/// What a workspace's access to an integration grants: on or off, and the budget, rate
/// limit and concurrency limit its providers must fit in. Defined once: the stored record
/// (`store::AccessRecord`) and the wire item ([`IntegrationWorkspace`]) both flatten it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkspaceAccess {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, serialize_with = "super::json::empty_as_null")]
    pub usage_limits: Option<Vec<UsageLimits>>,
    #[serde(default, serialize_with = "super::json::empty_as_null")]
    pub rate_limits: Option<Vec<RateLimit>>,
    /// Extension: the most requests in flight at once in this workspace; `null` is no limit.
    #[serde(default)]
    pub concurrency_limit: Option<ConcurrencyLimit>,
}

/// One workspace's access to an integration, as returned. `id` is the workspace slug.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IntegrationWorkspace {
    pub id: String,
    #[serde(flatten)]
    pub access: WorkspaceAccess,
    /// Extension: the workspace's display name and id.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Extension: usage against the budget, its window and next reset.
    #[serde(default)]
    pub usage: Option<UsageState>,
}

/// `global_workspace_access`: provision workspaces created later automatically.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GlobalWorkspaceAccess {
    #[schemars(schema_with = "super::schema::flex_bool")]
    #[serde(deserialize_with = "required_bool")]
    pub enabled: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::json::empty_as_null"
    )]
    pub usage_limits: Option<Vec<UsageLimits>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::json::empty_as_null"
    )]
    pub rate_limits: Option<Vec<RateLimit>>,
    /// Extension: the concurrency limit workspaces created later get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_limit: Option<ConcurrencyLimit>,
}

fn required_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    opt_flex_bool(d)?.ok_or_else(|| serde::de::Error::custom("expected a boolean"))
}

/// `GET /integrations/{slug}/workspaces`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkspaceAccessList {
    #[serde(default)]
    pub total: u64,
    #[serde(default, alias = "data")]
    pub workspaces: Vec<IntegrationWorkspace>,
    #[serde(default, alias = "global_workspace_access_settings")]
    pub global_workspace_access: Option<GlobalWorkspaceAccess>,
    #[serde(default = "list_object")]
    pub object: String,
}

fn list_object() -> String {
    "list".to_owned()
}

/// One item of the bulk PUT.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkspaceAccessUpdate {
    pub id: String,
    #[schemars(schema_with = "super::schema::flex_bool")]
    #[serde(deserialize_with = "required_bool")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub usage_limits: Patch<Vec<UsageLimits>>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub rate_limits: Patch<Vec<RateLimit>>,
    /// Extension: the most requests in flight at once; `null` removes the limit.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub concurrency_limit: Patch<ConcurrencyLimit>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(
        default,
        deserialize_with = "opt_flex_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub reset_usage: Option<bool>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(
        default,
        deserialize_with = "opt_flex_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_default_provider: Option<bool>,
    #[schemars(schema_with = "super::schema::opt_slug")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_provider_slug: Option<String>,
}

/// `PUT /integrations/{slug}/workspaces`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BulkUpdateWorkspaces {
    #[serde(default)]
    pub workspaces: Vec<WorkspaceAccessUpdate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_workspace_access: Option<GlobalWorkspaceAccess>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(
        default,
        deserialize_with = "opt_flex_bool",
        alias = "override_existing_workspaces_access",
        skip_serializing_if = "Option::is_none"
    )]
    pub override_existing_workspace_access: Option<bool>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(
        default,
        deserialize_with = "opt_flex_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_default_provider: Option<bool>,
    #[schemars(schema_with = "super::schema::opt_slug")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_provider_slug: Option<String>,
}
