//! Legacy virtual keys (`/virtual-keys`) and the migration extension endpoints.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient::opt_flex_bool;
use super::limits::{RateLimit, UsageLimits};
use super::patch::Patch;
use super::usage::UsageState;

/// An Azure deployment in the legacy camelCase shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LegacyDeployment {
    #[serde(rename = "deploymentName")]
    pub deployment_name: String,
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(
        default,
        deserialize_with = "opt_flex_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_default: Option<bool>,
}

/// A virtual key as the API returns it. Migrated keys (AI providers) carry `integration_id`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VirtualKey {
    #[serde(default)]
    pub id: String,
    pub slug: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub note: Option<String>,
    /// The service (`ai_provider_id`), e.g. `openai`.
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub integration_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub masked_api_key: Option<String>,
    /// Provider settings: Azure's `resourceName`, `deploymentConfig`, ...
    #[serde(default)]
    pub model_config: Option<Value>,
    #[serde(default)]
    pub usage_limits: Option<UsageLimits>,
    #[serde(default, serialize_with = "super::json::empty_as_null")]
    pub rate_limits: Option<Vec<RateLimit>>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub usage: Option<UsageState>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default = "vk_object")]
    pub object: String,
}

fn vk_object() -> String {
    "virtual-key".to_owned()
}

/// `POST /virtual-keys`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateVirtualKey {
    #[schemars(schema_with = "super::schema::name")]
    #[serde(deserialize_with = "super::text::name")]
    pub name: String,
    #[schemars(schema_with = "super::schema::service")]
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Extension: the slug to use (default: from the name).
    #[schemars(schema_with = "super::schema::opt_slug")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[schemars(schema_with = "super::schema::opt_description")]
    #[serde(
        deserialize_with = "super::text::opt_description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    #[serde(
        default,
        rename = "apiVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    #[serde(
        default,
        rename = "resourceName",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_name: Option<String>,
    #[serde(
        default,
        rename = "deploymentName",
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_name: Option<String>,
    #[serde(
        default,
        rename = "deploymentConfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_config: Option<Vec<LegacyDeployment>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limits: Option<UsageLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<Vec<RateLimit>>,
    #[schemars(schema_with = "super::schema::opt_timestamp")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_mappings: Option<Value>,
}

/// `PUT /virtual-keys/{slug}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateVirtualKey {
    #[schemars(schema_with = "super::schema::opt_name")]
    #[serde(
        deserialize_with = "super::text::opt_name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[schemars(schema_with = "super::schema::opt_description")]
    #[serde(
        deserialize_with = "super::text::patch_description",
        default,
        skip_serializing_if = "Patch::is_absent"
    )]
    pub note: Patch<String>,
    #[serde(
        default,
        rename = "deploymentConfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_config: Option<Vec<LegacyDeployment>>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub usage_limits: Patch<UsageLimits>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub rate_limits: Patch<Vec<RateLimit>>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_mappings: Option<Value>,
}

/// One key in a migration plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannedKey {
    pub slug: String,
    pub workspace: String,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub usage_limits: Option<UsageLimits>,
    #[serde(default, serialize_with = "super::json::empty_as_null")]
    pub rate_limits: Option<Vec<RateLimit>>,
}

/// Keys that hold the same credential, and the integration they become (or reuse).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannedGroup {
    /// A keyed hash of the credential: equal for equal credentials, not reversible.
    pub group: String,
    pub service: String,
    pub integration: String,
    /// True when an earlier migration already created the integration.
    pub integration_exists: bool,
    pub workspaces: Vec<String>,
    pub keys: Vec<PlannedKey>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Unmigratable {
    pub slug: String,
    pub workspace: String,
    pub reason: String,
}

/// `GET /virtual-keys/migration-plan` (an extension).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MigrationPlan {
    pub groups: Vec<PlannedGroup>,
    pub unmigratable: Vec<Unmigratable>,
    /// Virtual keys already backed by an integration (AI providers).
    pub already_migrated: u64,
}

/// `POST /virtual-keys/migrate` (an extension): migrate one group, atomically.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MigrateGroup {
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// The integration the plan shown named for this group; when the group would now
    /// become another, the migration is refused (409) instead of doing what was not shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MigratedGroup {
    pub integration: String,
    pub integration_created: bool,
    pub providers: Vec<String>,
    pub workspaces: Vec<String>,
}

/// The legacy create and update response: `{success: true, data: {slug}}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LegacyAnswer {
    pub success: bool,
    pub data: LegacySlug,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LegacySlug {
    pub slug: String,
}

impl LegacyAnswer {
    pub fn new(slug: String) -> Self {
        LegacyAnswer {
            success: true,
            data: LegacySlug { slug },
        }
    }
}
