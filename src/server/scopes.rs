//! API-key scopes: which exist, and what each route requires.
//!
//! Scope names follow the Admin API (`resource.action`, with `*` standing for create,
//! read, update, delete and list). `*.list` does not grant `*.read`. The embedded owner
//! holds every scope; so does the organisation's bootstrap admin key.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use crate::api::api_key::KeyKind;

/// The five actions of a resource's scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
    List,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Create,
        Action::Read,
        Action::Update,
        Action::Delete,
        Action::List,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::List => "list",
        }
    }
}

/// Resources whose scopes come in the five actions.
const RESOURCES: &[&str] = &[
    "workspaces",
    "organisation_integrations",
    "workspace_integrations",
    "providers",
    "virtual_keys",
    "organisation_service_api_keys",
    "workspace_service_api_keys",
    "workspace_user_api_keys",
    "configs",
    "policies",
    "prompts",
    "guardrails",
    "workspace_users",
    "organisation_users",
    "mcp_servers",
    "organisation_mcp_integrations",
    "workspace_mcp_integrations",
];

/// Single scopes, and the extension scopes of this server.
const OTHER_SCOPES: &[&str] = &[
    "completions.write",
    "models.list",
    "logs.list",
    "logs.view",
    "logs.export",
    "analytics.view",
    "audit_logs.list",
    "prompts.publish",
    "prompts.render",
    "virtual_keys.copy",
    "virtual_keys.duplicate",
    "organisation_settings.update",
    "alerts.list",
];

/// Every scope this server knows, in a stable order.
pub fn all_scopes() -> Vec<String> {
    let mut all: Vec<String> = RESOURCES
        .iter()
        .flat_map(|r| {
            Action::ALL
                .iter()
                .map(move |a| format!("{r}.{}", a.as_str()))
        })
        .collect();
    all.extend(OTHER_SCOPES.iter().map(|s| (*s).to_owned()));
    all
}

/// Whether `scope` is one this server knows.
pub fn is_known(scope: &str) -> bool {
    OTHER_SCOPES.contains(&scope)
        || scope.split_once('.').is_some_and(|(r, a)| {
            RESOURCES.contains(&r) && Action::ALL.iter().any(|x| x.as_str() == a)
        })
}

/// What a route requires of the caller's key.
#[derive(Debug, Clone, Copy)]
pub enum Requirement {
    /// Any valid key.
    Authenticated,
    /// This scope.
    Scope(&'static str),
    /// At least one of these scopes.
    AnyOf(&'static [&'static str]),
    /// Every one of these scopes.
    AllOf(&'static [&'static str]),
    /// `organisation_integrations.<action>` for organisation keys,
    /// `workspace_integrations.<action>` for workspace keys.
    Integrations(Action),
    /// The `<action>` scope of some API-key type; the handler checks the type's own.
    ApiKeys(Action),
}

impl Requirement {
    /// The scopes this requirement names, for documentation.
    pub fn describe(self) -> String {
        match self {
            Requirement::Authenticated => "any valid API key".to_owned(),
            Requirement::Scope(s) => format!("`{s}`"),
            Requirement::AnyOf(all) => quoted(all, " or "),
            Requirement::AllOf(all) => quoted(all, " and "),
            Requirement::Integrations(a) => format!(
                "`organisation_integrations.{0}` (organisation keys) or `workspace_integrations.{0}` (workspace keys)",
                a.as_str()
            ),
            Requirement::ApiKeys(a) => format!(
                "`<type>_api_keys.{}` for the key's type (`organisation_service`, `workspace_service`, `workspace_user`)",
                a.as_str()
            ),
        }
    }

    /// Checks the requirement against a caller.
    pub fn check(self, principal: &Principal) -> ApiResult<()> {
        match self {
            Requirement::Authenticated => Ok(()),
            Requirement::Scope(s) => principal.require_scope(s),
            Requirement::AnyOf(all) => {
                if all.iter().any(|s| principal.holds(s)) {
                    Ok(())
                } else {
                    Err(missing(&quoted(all, " or ")))
                }
            }
            Requirement::AllOf(all) => all.iter().try_for_each(|s| principal.require_scope(s)),
            Requirement::Integrations(a) => {
                let resource = if principal.pinned_workspace().is_some() {
                    "workspace_integrations"
                } else {
                    "organisation_integrations"
                };
                principal.require_scope(&format!("{resource}.{}", a.as_str()))
            }
            Requirement::ApiKeys(a) => {
                let any = KeyKind::ALL
                    .iter()
                    .map(|k| api_key_scope(*k, a))
                    .collect::<Vec<_>>();
                if any.iter().any(|s| principal.holds(s)) {
                    Ok(())
                } else {
                    Err(missing(&format!(
                        "`*_api_keys.{}` (one of {})",
                        a.as_str(),
                        any.iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            }
        }
    }
}

/// An organisation key that holds every scope and has not expired: the organisation
/// always keeps one.
pub fn is_full_admin(
    key: &crate::api::api_key::ApiKey,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    key.kind.as_deref() == Some(KeyKind::OrganisationService.as_str())
        && all_scopes().iter().all(|s| key.scopes.contains(s))
        && key
            .expires_at
            .as_deref()
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
            .is_none_or(|e| e > now)
}

/// Whether an organisation key with every scope remains besides the key `except`.
pub fn full_admin_remains(
    db: &mut dyn crate::store::StoreRead,
    except: Option<&str>,
) -> crate::store::StoreResult<bool> {
    let now = chrono::Utc::now();
    Ok(organisation_keys(db)?
        .iter()
        .any(|k| Some(k.id.as_str()) != except && is_full_admin(k, now)))
}

/// Every organisation key.
pub fn organisation_keys(
    db: &mut dyn crate::store::StoreRead,
) -> crate::store::StoreResult<Vec<crate::api::api_key::ApiKey>> {
    let mut all = Vec::new();
    let mut page = crate::store::Page {
        current_page: 0,
        page_size: 1000,
    };
    loop {
        let (_, keys) = db.api_keys(&crate::store::ApiKeyQuery {
            workspace_id: None,
            types: vec![KeyKind::OrganisationService.as_str().to_owned()],
            page,
        })?;
        let last = (keys.len() as u64) < page.page_size;
        all.extend(keys);
        if last {
            return Ok(all);
        }
        page.current_page += 1;
    }
}

/// The scope that manages API keys of one type.
pub fn api_key_scope(kind: KeyKind, action: Action) -> String {
    let resource = match kind {
        KeyKind::OrganisationService => "organisation_service_api_keys",
        KeyKind::WorkspaceService => "workspace_service_api_keys",
        KeyKind::WorkspaceUser => "workspace_user_api_keys",
    };
    format!("{resource}.{}", action.as_str())
}

fn quoted(all: &[&str], sep: &str) -> String {
    all.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(sep)
}

/// The 403 for a missing scope, naming it.
pub fn missing(scope: &str) -> ApiError {
    ApiError::forbidden(format!(
        "this API key lacks the scope {scope}; use a key that holds it"
    ))
}

/// Middleware of one route: refuses callers without the route's scopes.
pub async fn enforce(requirement: Requirement, request: Request, next: Next) -> Response {
    let checked = match request.extensions().get::<Principal>() {
        Some(p) => requirement.check(p),
        None => Err(ApiError::unauthorized("missing API key")),
    };
    match checked {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_is_known_and_unknown_ones_are_not() {
        for s in all_scopes() {
            assert!(is_known(&s), "{s}");
        }
        assert!(!is_known("workspaces.destroy"));
        assert!(!is_known("everything"));
        assert!(all_scopes().contains(&"completions.write".to_owned()));
    }
}
