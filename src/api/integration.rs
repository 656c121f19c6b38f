//! Integrations (`/integrations`): provider credentials stored once.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::limits::UsageLimits;
use super::patch::Patch;

/// An integration as the API returns it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Integration {
    #[serde(default)]
    pub id: String,
    pub slug: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub ai_provider_id: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub organisation_id: Option<String>,
    #[serde(default)]
    pub masked_key: Option<String>,
    /// Public settings; secret fields come back only as `masked_<field>`.
    #[serde(default)]
    pub configurations: Option<Map<String, Value>>,
    #[serde(default)]
    pub pricing_adjustments: Option<Value>,
    /// Extension: one budget for the integration across every workspace (at most one item).
    #[serde(default, serialize_with = "super::json::empty_as_null")]
    pub usage_limits: Option<Vec<UsageLimits>>,
    /// Workspaces created later get this access automatically when enabled.
    #[serde(default, alias = "global_workspace_access")]
    pub global_workspace_access_settings: Option<super::provisioning::GlobalWorkspaceAccess>,
    #[serde(default)]
    pub workspace_count: Option<u64>,
    /// True (the default): every model of the service is enabled; false: an allow-list.
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(default, deserialize_with = "super::lenient::opt_flex_bool")]
    pub allow_all_models: Option<bool>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub last_updated_at: Option<String>,
    #[serde(default = "integration_object")]
    pub object: String,
}

fn integration_object() -> String {
    "integration".to_owned()
}

/// `POST /integrations`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateIntegration {
    #[schemars(schema_with = "super::schema::name")]
    #[serde(deserialize_with = "super::text::name")]
    pub name: String,
    #[schemars(schema_with = "super::schema::service")]
    pub ai_provider_id: String,
    #[schemars(schema_with = "super::schema::opt_slug")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[schemars(schema_with = "super::schema::opt_description")]
    #[serde(
        deserialize_with = "super::text::opt_description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configurations: Option<Map<String, Value>>,
    #[schemars(schema_with = "super::schema::pricing_adjustments")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_adjustments: Option<Value>,
    /// Extension: one budget for the integration across every workspace (at most one item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limits: Option<Vec<UsageLimits>>,
    /// Arrives with AI providers; refused when set to true until then.
    #[schemars(schema_with = "super::schema::unimplemented_switch")]
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_flex_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_default_provider: Option<bool>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_provider_slug: Option<String>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_mappings: Option<Value>,
}

/// `PUT /integrations/{slug}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateIntegration {
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
    pub description: Patch<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configurations: Option<Map<String, Value>>,
    #[schemars(schema_with = "super::schema::pricing_adjustments")]
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub pricing_adjustments: Patch<Value>,
    /// Extension: the integration's budget across every workspace; `null` removes it.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub usage_limits: Patch<Vec<UsageLimits>>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_mappings: Option<Value>,
}

/// The minimal create response of integrations and providers.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Created {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub slug: String,
}
