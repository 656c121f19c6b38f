//! The audit trail's rules: what a request did, as one record built from the objects its
//! transaction wrote (each as stored before and after), with secrets reduced to "changed".
//!
//! The store tracks the writes of a transaction that carries an [`AuditContext`] and, on
//! commit, appends the [`record`] of them in the same transaction: a change and its record
//! land together or not at all.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::api::audit::{AuditActor, AuditRecord, FieldChange, ObjectChange};

/// The request a write transaction is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    pub actor: AuditActor,
    /// `POST`, `PUT`, `DELETE`.
    pub method: String,
    /// The request's path (`/v1/integrations/azure-prod`).
    pub path: String,
    /// The route it matched, under `/v1` (`/integrations/{slug}`).
    pub route: String,
    pub request_id: String,
}

/// One object a transaction wrote: its stored document before and after (`None` when it
/// did not exist), and whether its sealed secrets changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub resource_type: &'static str,
    pub resource_id: String,
    pub slug: Option<String>,
    pub workspace_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub secret_changed: bool,
}

/// Fields that only record when an object was written: the record has its own time.
const TIMESTAMPS: &[&str] = &["created_at", "last_updated_at", "updated_at"];

/// Whether a field holds a secret or a mask of one: only the fact of a change is recorded.
fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "key"
        || name.starts_with("masked_")
        || name.ends_with("_key") && name != "virtual_key"
        || name.contains("secret")
        || name.contains("password")
        || name == "custom_headers"
}

/// The objects records are about.
pub const RESOURCE_TYPES: &[&str] = &[
    "workspace",
    "integration",
    "provider",
    "virtual_key",
    "api_key",
    "config",
    "organisation_setting",
    "policy",
    "audit_log",
];

/// What a record says was done.
pub const ACTIONS: &[&str] = &[
    "create",
    "update",
    "delete",
    "provision_workspaces",
    "provision_models",
    "remove_models",
    "migrate",
    "reset",
    "prune",
];

/// The object a route is about and what a request to it does.
pub fn describe(method: &str, route: &str) -> (&'static str, &'static str) {
    let path = route.trim_start_matches("/admin");
    let resource = match path.split('/').nth(1).unwrap_or("") {
        "workspaces" => "workspace",
        "integrations" => "integration",
        "providers" => "provider",
        "virtual-keys" => "virtual_key",
        "api-keys" => "api_key",
        "configs" => "config",
        "organisation" => "organisation_setting",
        "policies" => "policy",
        "audit-logs" => "audit_log",
        _ => "other",
    };
    let action = match (method, path.rsplit('/').next().unwrap_or("")) {
        ("PUT", "workspaces") if path.ends_with("}/workspaces") => "provision_workspaces",
        ("PUT", "models") => "provision_models",
        ("DELETE", "models") => "remove_models",
        ("POST", "migrate") => "migrate",
        ("PUT", "reset") => "reset",
        ("POST", _) => "create",
        ("PUT" | "PATCH", _) => "update",
        ("DELETE", _) => "delete",
        _ => "other",
    };
    (resource, action)
}

/// The record of a request's writes; `None` when it wrote nothing (a change to the same
/// values, a delete of nothing).
pub fn record(ctx: &AuditContext, changes: &[Change], at: DateTime<Utc>) -> Option<AuditRecord> {
    let changes: Vec<ObjectChange> = changes.iter().filter_map(object_change).collect();
    if changes.is_empty() {
        return None;
    }
    let (resource_type, action) = describe(&ctx.method, &ctx.route);
    // The object the route names; else one of its parts (an integration's access or
    // model, named by the integration's id); else the first object that is not a counter.
    let primary = changes
        .iter()
        .find(|c| c.resource_type == resource_type)
        .or_else(|| {
            changes
                .iter()
                .find(|c| c.resource_type.starts_with(&format!("{resource_type}_")))
        })
        .or_else(|| changes.iter().find(|c| c.resource_type != "usage"))
        .or_else(|| changes.first());
    Some(AuditRecord {
        id: 0,
        object: "audit-log".to_owned(),
        created_at: timestamp(at),
        actor: ctx.actor.clone(),
        action: action.to_owned(),
        method: ctx.method.clone(),
        path: ctx.path.clone(),
        request_id: ctx.request_id.clone(),
        resource_type: resource_type.to_owned(),
        resource_id: primary.map(|c| c.resource_id.clone()),
        resource_slug: primary
            .filter(|c| c.resource_type == resource_type)
            .and_then(|c| c.slug.clone())
            .or_else(|| route_param(&ctx.route, &ctx.path)),
        workspace_id: primary.and_then(|c| c.workspace_id.clone()),
        changes,
    })
}

/// The value of the route's `{slug}` or `{id}` in `path` (`azure-prod` for
/// `/integrations/{slug}/models` and `/v1/integrations/azure-prod/models`).
fn route_param(route: &str, path: &str) -> Option<String> {
    let path = path.strip_prefix("/v1").unwrap_or(path);
    route
        .split('/')
        .zip(path.split('/'))
        .find(|(r, _)| *r == "{slug}" || *r == "{id}")
        .map(|(_, p)| p.to_owned())
}

/// The record of retention pruning records older than `cutoff`.
pub fn prune_record(deleted: u64, cutoff: DateTime<Utc>, at: DateTime<Utc>) -> AuditRecord {
    AuditRecord {
        id: 0,
        object: "audit-log".to_owned(),
        created_at: timestamp(at),
        actor: AuditActor::system(),
        action: "prune".to_owned(),
        method: "-".to_owned(),
        path: "-".to_owned(),
        request_id: uuid::Uuid::new_v4().to_string(),
        resource_type: "audit_log".to_owned(),
        resource_id: None,
        resource_slug: None,
        workspace_id: None,
        changes: vec![ObjectChange {
            resource_type: "audit_log".to_owned(),
            resource_id: "retention".to_owned(),
            slug: None,
            workspace_id: None,
            change: "deleted".to_owned(),
            fields: vec![
                FieldChange {
                    field: "deleted_records".to_owned(),
                    before: Value::Null,
                    after: deleted.into(),
                    secret: false,
                },
                FieldChange {
                    field: "older_than".to_owned(),
                    before: Value::Null,
                    after: timestamp(cutoff).into(),
                    secret: false,
                },
            ],
        }],
    }
}

/// The fixed-width UTC time records carry, so that their text sorts as their time.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn object_change(c: &Change) -> Option<ObjectChange> {
    let change = match (&c.before, &c.after) {
        (None, None) => return None,
        (None, Some(_)) => "created",
        (Some(_), None) => "deleted",
        (Some(_), Some(_)) => "updated",
    };
    let mut fields = diff(c.before.as_ref(), c.after.as_ref());
    // A secret the document masks says which field changed; otherwise, the credentials.
    if c.secret_changed && !fields.iter().any(|f| f.secret) {
        fields.push(FieldChange {
            field: "credentials".to_owned(),
            before: Value::Null,
            after: Value::Null,
            secret: true,
        });
    }
    if change == "updated" && fields.is_empty() {
        return None;
    }
    Some(ObjectChange {
        resource_type: c.resource_type.to_owned(),
        resource_id: c.resource_id.clone(),
        slug: c.slug.clone(),
        workspace_id: c.workspace_id.clone(),
        change: change.to_owned(),
        fields,
    })
}

/// The fields that differ between two documents, by dotted path: objects are walked,
/// arrays and scalars compared whole; secrets only say that they changed.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let empty = Map::new();
    walk(
        "",
        before.and_then(Value::as_object).unwrap_or(&empty),
        after.and_then(Value::as_object).unwrap_or(&empty),
        &mut out,
    );
    out
}

fn walk(
    prefix: &str,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    out: &mut Vec<FieldChange>,
) {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        if prefix.is_empty() && (TIMESTAMPS.contains(&name.as_str()) || name == "object") {
            continue;
        }
        let field = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let (b, a) = (
            before.get(name).unwrap_or(&Value::Null),
            after.get(name).unwrap_or(&Value::Null),
        );
        if b == a {
            continue;
        }
        if is_secret(name) {
            out.push(FieldChange {
                field,
                before: Value::Null,
                after: Value::Null,
                secret: true,
            });
            continue;
        }
        match (b, a) {
            (Value::Object(bo), Value::Object(ao)) => walk(&field, bo, ao, out),
            (Value::Object(bo), Value::Null) => walk(&field, bo, &Map::new(), out),
            (Value::Null, Value::Object(ao)) => walk(&field, &Map::new(), ao, out),
            _ => out.push(FieldChange {
                field,
                before: b.clone(),
                after: a.clone(),
                secret: false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_walks_objects_and_hides_secrets() {
        let before = json!({"name": "a", "masked_key": "sk*****abc", "configurations": {"api_version": "1", "masked_api_key": "x"}, "usage_limits": [{"credit_limit": 10}], "last_updated_at": "t1"});
        let after = json!({"name": "b", "masked_key": "sk*****xyz", "configurations": {"api_version": "2", "masked_api_key": "y"}, "usage_limits": [{"credit_limit": 20}], "last_updated_at": "t2"});
        let fields = diff(Some(&before), Some(&after));
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            names,
            [
                "configurations.api_version",
                "configurations.masked_api_key",
                "masked_key",
                "name",
                "usage_limits"
            ]
        );
        for f in &fields {
            if f.field.contains("masked") {
                assert!(f.secret && f.before.is_null() && f.after.is_null());
            }
        }
        let text = serde_json::to_string(&fields).unwrap();
        assert!(!text.contains("sk*****") && !text.contains("\"x\""));
    }

    #[test]
    fn a_change_to_the_same_values_records_nothing() {
        let ctx = AuditContext {
            actor: AuditActor::embedded(),
            method: "PUT".into(),
            path: "/v1/admin/workspaces/w".into(),
            route: "/admin/workspaces/{id}".into(),
            request_id: "r".into(),
        };
        let same = Change {
            resource_type: "workspace",
            resource_id: "w".into(),
            slug: None,
            workspace_id: None,
            before: Some(json!({"name": "a", "last_updated_at": "1"})),
            after: Some(json!({"name": "a", "last_updated_at": "2"})),
            secret_changed: false,
        };
        assert!(record(&ctx, std::slice::from_ref(&same), Utc::now()).is_none());
        let secret = Change {
            secret_changed: true,
            ..same
        };
        let r = record(&ctx, &[secret], Utc::now()).unwrap();
        assert_eq!(r.action, "update");
        assert_eq!(r.changes[0].fields[0].field, "credentials");
    }

    #[test]
    fn routes_name_their_resource_and_action() {
        assert_eq!(
            describe("POST", "/admin/workspaces"),
            ("workspace", "create")
        );
        assert_eq!(
            describe("PUT", "/integrations/{slug}/workspaces"),
            ("integration", "provision_workspaces")
        );
        assert_eq!(
            describe("DELETE", "/integrations/{slug}/models"),
            ("integration", "remove_models")
        );
        assert_eq!(
            describe("POST", "/virtual-keys/migrate"),
            ("virtual_key", "migrate")
        );
        assert_eq!(
            describe("POST", "/api-keys/{type}/{sub_type}"),
            ("api_key", "create")
        );
        assert_eq!(
            describe("PUT", "/admin/workspaces/{id}"),
            ("workspace", "update")
        );
    }
}
