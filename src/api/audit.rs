//! The audit log (`GET /audit-logs`): one record per change made through the Admin API,
//! written in the same transaction as the change. Records are never updated or deleted,
//! except by the retention setting of `catalog serve`, which records its own pruning.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditActor {
    /// `api_key` (a request with an API key), `embedded` (the in-process CLI, acting as
    /// the organisation owner) or `system` (the server itself: retention).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    /// The API key's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl AuditActor {
    pub fn embedded() -> AuditActor {
        AuditActor {
            kind: "embedded".to_owned(),
            api_key_id: None,
            name: None,
        }
    }

    pub fn system() -> AuditActor {
        AuditActor {
            kind: "system".to_owned(),
            api_key_id: None,
            name: None,
        }
    }

    /// The actor as people read it: the key's name and id, `embedded` or `system`.
    pub fn label(&self) -> String {
        match (&self.name, &self.api_key_id) {
            (Some(name), Some(id)) => format!("{name} ({id})"),
            (None, Some(id)) => id.clone(),
            _ => self.kind.clone(),
        }
    }
}

/// One field that changed. A secret shows only that it changed: `secret` is true and
/// `before`/`after` are null, whatever the secret was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldChange {
    /// The field's path in the object: `usage_limits`, `configurations.api_version`.
    pub field: String,
    #[serde(default)]
    pub before: Value,
    #[serde(default)]
    pub after: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// One object a change created, changed or deleted, with its fields before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObjectChange {
    /// `workspace`, `integration`, `integration_workspace` (an integration's access for a
    /// workspace), `integration_model`, `provider`, `virtual_key`, `api_key`, `config`,
    /// `organisation_setting`, `usage` (a usage counter, by its scope).
    pub resource_type: String,
    /// The object's id; for an access or a model, its integration's id.
    pub resource_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// `created`, `updated` or `deleted`.
    pub change: String,
    pub fields: Vec<FieldChange>,
}

/// One change made through the Admin API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditRecord {
    /// Increasing: a later change has a larger id.
    pub id: i64,
    #[serde(default = "audit_object")]
    pub object: String,
    /// When the change was committed (RFC 3339, UTC, microseconds).
    pub created_at: String,
    pub actor: AuditActor,
    /// `create`, `update`, `delete`, `provision_workspaces`, `provision_models`,
    /// `remove_models`, `migrate`, `prune`.
    pub action: String,
    /// The request: `PUT`, `/v1/integrations/azure-prod`.
    pub method: String,
    pub path: String,
    /// The request's trace id (`x-portkey-trace-id`, else one made up for it).
    pub request_id: String,
    /// The object the request was about.
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_slug: Option<String>,
    /// The workspace of that object, when it belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    pub changes: Vec<ObjectChange>,
}

fn audit_object() -> String {
    "audit-log".to_owned()
}

impl AuditRecord {
    /// `integration azure-prod`: what the record is about, for people.
    pub fn subject(&self) -> String {
        let name = self
            .resource_slug
            .as_deref()
            .or(self.resource_id.as_deref())
            .unwrap_or("-");
        format!("{} {name}", self.resource_type)
    }

    /// Every object the record names, as `type:id` and `type:slug`.
    pub fn objects(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        let mut add = |kind: &str, key: Option<&str>| {
            if let Some(k) = key.filter(|k| !k.is_empty()) {
                all.push(format!("{kind}:{k}"));
            }
        };
        add(&self.resource_type, self.resource_id.as_deref());
        add(&self.resource_type, self.resource_slug.as_deref());
        for c in &self.changes {
            add(&c.resource_type, Some(&c.resource_id));
            add(&c.resource_type, c.slug.as_deref());
        }
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The workspaces the record's changes touch.
    pub fn workspaces(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .workspace_id
            .iter()
            .map(String::as_str)
            .chain(
                self.changes
                    .iter()
                    .filter_map(|c| c.workspace_id.as_deref()),
            )
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}
