use crate::api::schema::Empty;
use crate::server::extract::Path;
use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;

use super::now;
use crate::api::api_key::{
    ApiKey, CreateApiKey, CreatedApiKey, KeyKind, UpdateApiKey, UpdatedApiKey,
};
use crate::api::limits::{validate_rate_array, RateLimit, UsageLimits};
use crate::api::workspace::WorkspaceDefaults;
use crate::api::ListEnvelope;
use crate::crypto::{hash_api_key, mask, new_api_key};
use crate::server::auth::Principal;
use crate::server::error::{refuse_unimplemented, ApiError, ApiResult};
use crate::server::extract::{Body, Query};
use crate::server::scopes::{self, api_key_scope, Action};
use crate::server::AppState;
use crate::store::{ApiKeyQuery, ApiKeyRecord, StoreRead};

fn check_common(
    scopes: Option<&[String]>,
    usage: Option<&UsageLimits>,
    rate: Option<&Vec<RateLimit>>,
    expires_at: Option<&str>,
) -> ApiResult<()> {
    if let Some(scopes) = scopes {
        if scopes.is_empty() {
            return Err(ApiError::invalid(
                "`scopes` needs at least one scope, e.g. `completions.write`",
            ));
        }
        if let Some(bad) = scopes
            .iter()
            .find(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(ApiError::invalid(format!(
                "`scopes` holds an invalid scope name `{bad}`"
            )));
        }
    }
    if let Some(u) = usage {
        u.validate("usage_limits").map_err(ApiError::invalid)?;
    }
    if let Some(r) = rate {
        validate_rate_array(r, "rate_limits", 1, true).map_err(ApiError::invalid)?;
    }
    if let Some(e) = expires_at {
        parse_time(e)?;
    }
    Ok(())
}

/// Checks that the caller may manage a key of this kind in this workspace.
fn may_manage(principal: &Principal, workspace_id: Option<&str>) -> ApiResult<()> {
    match workspace_id {
        None => principal.require_organisation("organisation API keys"),
        Some(ws) => principal.require_workspace(ws),
    }
}

fn kind_of(key: &ApiKey) -> ApiResult<KeyKind> {
    key.kind
        .as_deref()
        .and_then(KeyKind::parse)
        .ok_or_else(|| ApiError::internal(format!("API key `{}` has no known type", key.id)))
}

/// Finds a key that the caller may `action`: its workspace and its type's scope.
fn reachable(
    state: &AppState,
    principal: &Principal,
    id: &str,
    action: Action,
) -> ApiResult<ApiKey> {
    let key = state
        .store
        .read()?
        .api_key(id)?
        .ok_or_else(|| ApiError::not_found(format!("API key `{id}` not found")))?;
    may_manage(principal, key.workspace_id.as_deref())?;
    principal.require_scope(&api_key_scope(kind_of(&key)?, action))?;
    if matches!(action, Action::Update | Action::Delete) {
        // A key never changes or removes a key more powerful than itself.
        if let Some(scope) = key.scopes.iter().find(|s| !principal.holds(s)) {
            return Err(ApiError::forbidden(format!(
                "this API key cannot change or delete a key that holds the scope `{scope}`, which it does not hold"
            )));
        }
    }
    Ok(key)
}

/// Refuses a change over the network that would leave the organisation without a full
/// admin key (`after` is the key as it would be, `None` once deleted).
fn keep_an_admin(
    db: &mut dyn StoreRead,
    principal: &Principal,
    before: &ApiKey,
    after: Option<&ApiKey>,
) -> ApiResult<()> {
    let now = chrono::Utc::now();
    if matches!(principal, Principal::Owner)
        || !scopes::is_full_admin(before, now)
        || after.is_some_and(|k| scopes::is_full_admin(k, now))
    {
        return Ok(());
    }
    if scopes::full_admin_remains(db, Some(&before.id))? {
        return Ok(());
    }
    Err(ApiError::conflict(
        "this is the organisation's last admin API key with every scope; create another before deleting, narrowing or expiring it",
    ))
}

/// Scopes must exist, and a caller can only grant the scopes it holds itself.
fn check_grantable(principal: &Principal, scopes: &[String]) -> ApiResult<()> {
    if let Some(bad) = scopes.iter().find(|s| !scopes::is_known(s)) {
        let all = scopes::all_scopes();
        let hint = crate::suggest::closest(bad, all.iter().map(String::as_str), 1)
            .first()
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        return Err(ApiError::invalid(format!(
            "`scopes` holds `{bad}`, which is not an API key scope{hint}"
        )));
    }
    if let Some(missing) = scopes.iter().find(|s| !principal.holds(s)) {
        return Err(ApiError::forbidden(format!(
            "this API key cannot grant the scope `{missing}` because it does not hold it"
        )));
    }
    Ok(())
}

/// A key never outlives the key that made or changed it.
fn check_expiry(principal: &Principal, expires_at: Option<&str>) -> ApiResult<()> {
    let Some(own) = principal.key().and_then(|k| k.expires_at.as_deref()) else {
        return Ok(());
    };
    let later = match expires_at {
        None => true,
        Some(e) => parse_time(e)? > parse_time(own)?,
    };
    if later {
        return Err(ApiError::forbidden(format!(
            "this API key expires at {own}; a key it creates or updates must expire no later (set `expires_at`)"
        )));
    }
    Ok(())
}

fn parse_time(text: &str) -> ApiResult<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(text).map_err(|_| {
        ApiError::invalid(format!(
            "`expires_at` must be an ISO-8601 timestamp such as 2027-01-01T00:00:00Z, got `{text}`"
        ))
    })
}

pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((kind, sub)): Path<(String, String)>,
    Body(body): Body<CreateApiKey>,
) -> ApiResult<Json<CreatedApiKey>> {
    let kind = KeyKind::from_path(&kind, &sub).ok_or_else(|| {
        ApiError::invalid(format!(
            "`{kind}/{sub}` is not an API key type; use organisation/service, workspace/service or workspace/user"
        ))
    })?;
    let mut unimplemented = Vec::new();
    for (field, present) in [
        (
            "defaults.config_id",
            body.defaults
                .as_ref()
                .is_some_and(|d| d.config_id.is_some()),
        ),
        ("alert_emails", body.alert_emails.is_some()),
        ("rotation_policy", body.rotation_policy.is_some()),
    ] {
        if present {
            unimplemented.push(field);
        }
    }
    refuse_unimplemented(&unimplemented)?;
    check_common(
        Some(&body.scopes),
        body.usage_limits.as_ref(),
        body.rate_limits.as_ref(),
        body.expires_at.as_deref(),
    )?;
    let workspace = match (kind.is_workspace(), &body.workspace_id) {
        (true, Some(ws)) => Some(super::workspaces::visible(&state, &principal, ws)?.id),
        (true, None) => match principal.pinned_workspace() {
            Some(own) => Some(own.to_owned()),
            None => {
                return Err(ApiError::invalid(
                    "`workspace_id` is required for a workspace API key",
                ))
            }
        },
        (false, Some(_)) => {
            return Err(ApiError::invalid(
                "`workspace_id` does not apply to an organisation API key; create a workspace key instead",
            ))
        }
        (false, None) => None,
    };
    if kind == KeyKind::WorkspaceUser && body.user_id.as_deref().unwrap_or("").is_empty() {
        return Err(ApiError::invalid(
            "`user_id` is required for a workspace user API key",
        ));
    }
    may_manage(&principal, workspace.as_deref())?;
    principal.require_scope(&api_key_scope(kind, Action::Create))?;
    check_grantable(&principal, &body.scopes)?;
    check_expiry(&principal, body.expires_at.as_deref())?;
    let secret = new_api_key();
    let at = now();
    let public = ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        key: Some(mask(&secret)),
        name: body.name,
        description: body.description,
        kind: Some(kind.as_str().to_owned()),
        organisation_id: Some(state.store.organisation_id().to_owned()),
        workspace_id: workspace,
        user_id: body.user_id,
        status: Some("active".to_owned()),
        creation_mode: Some("api".to_owned()),
        scopes: body.scopes,
        usage_limits: body.usage_limits,
        rate_limits: body.rate_limits,
        expires_at: body.expires_at,
        defaults: body
            .defaults
            .and_then(|d| d.metadata.apply(None))
            .map(|metadata| WorkspaceDefaults {
                metadata: Some(metadata),
            }),
        created_at: Some(at.clone()),
        last_updated_at: Some(at),
        object: "api-key".to_owned(),
    };
    let id = public.id.clone();
    let mut tx = state.begin()?;
    tx.insert_api_key(&ApiKeyRecord {
        public,
        key_hash: hash_api_key(&secret),
    })?;
    tx.commit()?;
    Ok(Json(CreatedApiKey {
        id,
        key: secret,
        object: "api-key".to_owned(),
    }))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<ApiKey>>> {
    let workspace = match (query.get("workspace_id"), principal.pinned_workspace()) {
        (Some(ws), Some(_)) => Some(super::workspaces::visible(&state, &principal, ws)?.id),
        (None, Some(own)) => Some(own.to_owned()),
        (Some(ws), None) => Some(super::workspaces::visible(&state, &principal, ws)?.id),
        (None, None) => None,
    };
    let types = KeyKind::ALL
        .into_iter()
        .filter(|k| principal.holds(&api_key_scope(*k, Action::List)))
        .map(|k| k.as_str().to_owned())
        .collect();
    let (total, data) = state.store.read()?.api_keys(&ApiKeyQuery {
        workspace_id: workspace,
        types,
        page: query.page(100)?,
    })?;
    Ok(Json(ListEnvelope::new(total, data)))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKey>> {
    reachable(&state, &principal, &id, Action::Read).map(Json)
}

pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Body(body): Body<UpdateApiKey>,
) -> ApiResult<Json<UpdatedApiKey>> {
    let mut unimplemented = Vec::new();
    for (field, present) in [
        (
            "defaults.config_id",
            body.defaults
                .as_ref()
                .is_some_and(|d| d.config_id.is_some()),
        ),
        ("alert_emails", body.alert_emails.is_some()),
        ("rotation_policy", body.rotation_policy.is_some()),
        ("reset_usage", body.reset_usage.is_some()),
    ] {
        if present {
            unimplemented.push(field);
        }
    }
    refuse_unimplemented(&unimplemented)?;
    check_common(
        body.scopes.as_deref(),
        body.usage_limits.as_value(),
        body.rate_limits.as_value(),
        body.expires_at.as_value().map(String::as_str),
    )?;
    let current = reachable(&state, &principal, &id, Action::Update)?;
    if let Some(scopes) = &body.scopes {
        check_grantable(&principal, scopes)?;
    }
    // Whatever the update, the key must not end up outliving the caller.
    let expires_after = body.expires_at.clone().apply(current.expires_at.clone());
    check_expiry(&principal, expires_after.as_deref())?;
    let mut tx = state.begin()?;
    let mut key = tx
        .api_key(&current.id)?
        .ok_or_else(|| ApiError::not_found(format!("API key `{id}` not found")))?;
    if let Some(name) = body.name {
        key.name = name;
    }
    key.description = body.description.apply(key.description.take());
    if let Some(scopes) = body.scopes {
        key.scopes = scopes;
    }
    key.usage_limits = body.usage_limits.apply(key.usage_limits.take());
    key.rate_limits = body.rate_limits.apply(key.rate_limits.take());
    key.expires_at = body.expires_at.apply(key.expires_at.take());
    if let Some(defaults) = body.defaults {
        let current = key.defaults.take().and_then(|d| d.metadata);
        key.defaults = defaults
            .metadata
            .apply(current)
            .map(|metadata| WorkspaceDefaults {
                metadata: Some(metadata),
            });
    }
    key.last_updated_at = Some(now());
    keep_an_admin(&mut *tx, &principal, &current, Some(&key))?;
    tx.save_api_key(&key)?;
    tx.commit()?;
    Ok(Json(UpdatedApiKey { id: key.id }))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Empty>> {
    let key = reachable(&state, &principal, &id, Action::Delete)?;
    // Over the network, keep the organisation reachable: the embedded owner needs no key.
    let mut tx = state.begin()?;
    keep_an_admin(&mut *tx, &principal, &key, None)?;
    tx.delete_api_key(&key.id)?;
    tx.commit()?;
    Ok(Json(Empty {}))
}
