//! Who is calling: the embedded owner, an organisation key, or a workspace key.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::api::api_key::{ApiKey, KeyKind};
use crate::crypto::hash_api_key;

/// Marks an in-process request from the embedded CLI. It can only be set by code in this
/// process, never by a network peer, and it acts as the organisation owner.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedOwner;

#[derive(Debug, Clone)]
pub enum Principal {
    Owner,
    Organisation(ApiKey),
    Workspace { key: ApiKey, workspace_id: String },
}

impl Principal {
    /// The workspace this caller is pinned to, if any.
    pub fn pinned_workspace(&self) -> Option<&str> {
        match self {
            Principal::Workspace { workspace_id, .. } => Some(workspace_id),
            _ => None,
        }
    }

    /// The scopes this caller holds; `None` for the embedded owner, who holds them all.
    pub fn scopes(&self) -> Option<&[String]> {
        match self {
            Principal::Owner => None,
            Principal::Organisation(key) | Principal::Workspace { key, .. } => Some(&key.scopes),
        }
    }

    /// The caller's own API key, if it used one.
    pub fn key(&self) -> Option<&ApiKey> {
        match self {
            Principal::Owner => None,
            Principal::Organisation(key) | Principal::Workspace { key, .. } => Some(key),
        }
    }

    pub fn holds(&self, scope: &str) -> bool {
        self.scopes()
            .is_none_or(|all| all.iter().any(|s| s == scope))
    }

    /// Refuses a caller without `scope` with 403 AB03 naming it.
    pub fn require_scope(&self, scope: &str) -> ApiResult<()> {
        if self.holds(scope) {
            Ok(())
        } else {
            Err(super::scopes::missing(&format!("`{scope}`")))
        }
    }

    /// Refuses workspace keys on organisation resources.
    pub fn require_organisation(&self, what: &str) -> ApiResult<()> {
        match self {
            Principal::Workspace { .. } => Err(ApiError::forbidden(format!(
                "a workspace API key cannot access {what}; use an organisation admin key"
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses workspace keys on any workspace but their own.
    pub fn require_workspace(&self, workspace_id: &str) -> ApiResult<()> {
        match self.pinned_workspace() {
            Some(own) if own != workspace_id => Err(ApiError::forbidden(
                "this API key is pinned to another workspace",
            )),
            _ => Ok(()),
        }
    }
}

/// The key a request presents: `x-portkey-api-key`, else `Authorization: Bearer`.
pub fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get("x-portkey-api-key")
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.trim().to_owned());
    }
    let auth = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let principal = if request.extensions().get::<EmbeddedOwner>().is_some() {
        Ok(Principal::Owner)
    } else {
        resolve(&state, request.headers())
    };
    match principal {
        Ok(p) => {
            request.extensions_mut().insert(p);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

/// Why a presented key was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    Missing,
    Invalid,
    Expired,
    UnknownType,
}

impl KeyRefusal {
    pub fn message(self) -> &'static str {
        match self {
            KeyRefusal::Missing => "missing API key: send it in the `x-portkey-api-key` header",
            KeyRefusal::Invalid => "invalid API key",
            KeyRefusal::Expired => "this API key has expired",
            KeyRefusal::UnknownType => "this API key has an unknown type",
        }
    }
}

/// The caller a request's key (`x-portkey-api-key`, else `Authorization: Bearer`) names.
pub fn identify(state: &AppState, headers: &HeaderMap) -> Result<Principal, IdentifyError> {
    let key = presented_key(headers)
        .filter(|k| !k.is_empty())
        .ok_or(IdentifyError::Refused(KeyRefusal::Missing))?;
    let record = state
        .store
        .read()?
        .api_key_by_hash(&hash_api_key(&key))?
        .ok_or(IdentifyError::Refused(KeyRefusal::Invalid))?;
    judge(record)
}

/// The caller a stored key makes, now: refused once it has expired.
pub fn judge(record: ApiKey) -> Result<Principal, IdentifyError> {
    if let Some(expires) = record
        .expires_at
        .as_deref()
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
    {
        if expires < chrono::Utc::now() {
            return Err(IdentifyError::Refused(KeyRefusal::Expired));
        }
    }
    let kind = record.kind.as_deref().and_then(KeyKind::parse);
    match (kind, record.workspace_id.clone()) {
        (Some(k), Some(workspace_id)) if k.is_workspace() => Ok(Principal::Workspace {
            key: record,
            workspace_id,
        }),
        (Some(KeyKind::OrganisationService), _) => Ok(Principal::Organisation(record)),
        _ => Err(IdentifyError::Refused(KeyRefusal::UnknownType)),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdentifyError {
    #[error("{}", .0.message())]
    Refused(KeyRefusal),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn resolve(state: &AppState, headers: &HeaderMap) -> ApiResult<Principal> {
    identify(state, headers).map_err(|e| match e {
        IdentifyError::Refused(r) => ApiError::unauthorized(r.message()),
        IdentifyError::Store(e) => e.into(),
    })
}
