//! Workspaces (`/admin/workspaces`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::limits::{RateLimit, UsageLimits};
use super::patch::Patch;

/// A workspace as the API returns it. Every field but the ids is optional on read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Workspace {
    pub id: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub organisation_id: Option<String>,
    #[serde(default)]
    pub defaults: Option<WorkspaceDefaults>,
    #[serde(default, serialize_with = "super::json::empty_as_null")]
    pub usage_limits: Option<Vec<UsageLimits>>,
    #[serde(default, serialize_with = "super::json::empty_as_null")]
    pub rate_limits: Option<Vec<RateLimit>>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub last_updated_at: Option<String>,
    #[serde(default = "workspace_object")]
    pub object: String,
}

fn workspace_object() -> String {
    "workspace".to_owned()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkspaceDefaults {
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `POST /admin/workspaces`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateWorkspace {
    #[schemars(schema_with = "super::schema::name")]
    #[serde(deserialize_with = "super::text::name")]
    pub name: String,
    #[schemars(schema_with = "super::schema::opt_description")]
    #[serde(
        deserialize_with = "super::text::opt_description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<DefaultsInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limits: Option<Vec<UsageLimits>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<Vec<RateLimit>>,
    /// Contract field this server does not implement (workspace membership).
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Value>,
}

/// `defaults` in create and update bodies.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DefaultsInput {
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub metadata: Patch<BTreeMap<String, String>>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_guardrails: Option<Value>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_guardrails: Option<Value>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_api_key_config: Option<Value>,
}

impl DefaultsInput {
    pub fn unimplemented_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.input_guardrails.is_some() {
            out.push("defaults.input_guardrails");
        }
        if self.output_guardrails.is_some() {
            out.push("defaults.output_guardrails");
        }
        if self.user_api_key_config.is_some() {
            out.push("defaults.user_api_key_config");
        }
        out
    }
}

/// `PUT /admin/workspaces/{id}`: omitted fields stay, `null` clears.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateWorkspace {
    #[schemars(schema_with = "super::schema::opt_name")]
    #[serde(
        deserialize_with = "super::text::opt_name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[schemars(schema_with = "super::schema::opt_description")]
    #[serde(
        deserialize_with = "super::text::patch_description",
        default,
        skip_serializing_if = "Patch::is_absent"
    )]
    pub description: Patch<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<DefaultsInput>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub usage_limits: Patch<Vec<UsageLimits>>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub rate_limits: Patch<Vec<RateLimit>>,
}

/// `DELETE /admin/workspaces/{id}` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeleteWorkspace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(default, deserialize_with = "super::lenient::opt_flex_bool")]
    pub force_delete: Option<bool>,
}
