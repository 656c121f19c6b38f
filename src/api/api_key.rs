//! API keys (`/api-keys/{type}/{sub-type}`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::limits::{RateLimit, UsageLimits};
use super::patch::Patch;

/// An API key as listed or retrieved; `key` is always masked here.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiKey {
    pub id: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub organisation_id: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub creation_mode: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub usage_limits: Option<UsageLimits>,
    #[serde(default, serialize_with = "super::json::empty_as_null")]
    pub rate_limits: Option<Vec<RateLimit>>,
    #[serde(default)]
    pub expires_at: Option<String>,
    /// `metadata` every request with this key carries (under `x-portkey-metadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<super::workspace::WorkspaceDefaults>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub last_updated_at: Option<String>,
    #[serde(default = "api_key_object")]
    pub object: String,
}

/// `defaults` of an API key in create and update bodies: its default metadata.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeyDefaultsInput {
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub metadata: Patch<std::collections::BTreeMap<String, String>>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_id: Option<Value>,
}

fn api_key_object() -> String {
    "api-key".to_owned()
}

/// `POST /api-keys/{type}/{sub-type}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateApiKey {
    #[schemars(schema_with = "super::schema::name")]
    #[serde(deserialize_with = "super::text::name")]
    pub name: String,
    #[schemars(schema_with = "super::schema::scopes")]
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[schemars(schema_with = "super::schema::opt_description")]
    #[serde(
        deserialize_with = "super::text::opt_description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limits: Option<UsageLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<Vec<RateLimit>>,
    #[schemars(schema_with = "super::schema::opt_timestamp")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<KeyDefaultsInput>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_emails: Option<Value>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_policy: Option<Value>,
}

/// `PUT /api-keys/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateApiKey {
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
    #[schemars(schema_with = "super::schema::opt_scopes")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub usage_limits: Patch<UsageLimits>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub rate_limits: Patch<Vec<RateLimit>>,
    #[schemars(schema_with = "super::schema::opt_timestamp")]
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub expires_at: Patch<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<KeyDefaultsInput>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_emails: Option<Value>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_policy: Option<Value>,
    #[schemars(schema_with = "super::schema::unimplemented")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_usage: Option<Value>,
}

/// The create response: the only time the key is shown.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreatedApiKey {
    pub id: String,
    pub key: String,
    #[serde(default = "api_key_object")]
    pub object: String,
}

/// Key type (`organisation`/`workspace`) and sub-type (`service`/`user`) from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    OrganisationService,
    WorkspaceService,
    WorkspaceUser,
}

impl KeyKind {
    pub const ALL: [KeyKind; 3] = [
        KeyKind::OrganisationService,
        KeyKind::WorkspaceService,
        KeyKind::WorkspaceUser,
    ];

    pub fn from_path(kind: &str, sub: &str) -> Option<KeyKind> {
        match (kind, sub) {
            ("organisation", "service") => Some(KeyKind::OrganisationService),
            ("workspace", "service") => Some(KeyKind::WorkspaceService),
            ("workspace", "user") => Some(KeyKind::WorkspaceUser),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::OrganisationService => "organisation-service",
            KeyKind::WorkspaceService => "workspace-service",
            KeyKind::WorkspaceUser => "workspace-user",
        }
    }

    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "organisation-service" => Some(KeyKind::OrganisationService),
            "workspace-service" => Some(KeyKind::WorkspaceService),
            "workspace-user" => Some(KeyKind::WorkspaceUser),
            _ => None,
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            KeyKind::OrganisationService => "organisation/service",
            KeyKind::WorkspaceService => "workspace/service",
            KeyKind::WorkspaceUser => "workspace/user",
        }
    }

    pub fn is_workspace(self) -> bool {
        !matches!(self, KeyKind::OrganisationService)
    }
}

/// The update response: the key's id.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdatedApiKey {
    pub id: String,
}
