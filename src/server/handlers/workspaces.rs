use crate::api::schema::Empty;
use crate::server::extract::Path;
use crate::server::json::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;

use super::now;
use crate::api::limits::{validate_rate_array, validate_usage_array, RateLimit, UsageLimits};
use crate::api::workspace::{
    CreateWorkspace, DefaultsInput, DeleteWorkspace, UpdateWorkspace, Workspace, WorkspaceDefaults,
};
use crate::api::ListEnvelope;
use crate::domain::slugs::{short_suffix, slugify};
use crate::domain::{dependents, provisioning};
use crate::server::auth::Principal;
use crate::server::error::{refuse_unimplemented, ApiError, ApiResult};
use crate::server::extract::{Body, Query};
use crate::server::AppState;
use crate::store::WorkspaceQuery;

fn check_limits(usage: Option<&Vec<UsageLimits>>, rate: Option<&Vec<RateLimit>>) -> ApiResult<()> {
    if let Some(u) = usage {
        validate_usage_array(u, "usage_limits", 1).map_err(ApiError::invalid)?;
    }
    if let Some(r) = rate {
        validate_rate_array(r, "rate_limits", 1, false).map_err(ApiError::invalid)?;
    }
    Ok(())
}

fn check_defaults(defaults: Option<&DefaultsInput>) -> ApiResult<()> {
    refuse_unimplemented(
        &defaults
            .map(DefaultsInput::unimplemented_fields)
            .unwrap_or_default(),
    )
}

/// Finds a workspace the caller may see, by id or slug.
pub fn visible(state: &AppState, principal: &Principal, id: &str) -> ApiResult<Workspace> {
    let ws = state
        .store
        .read()?
        .workspace(id)?
        .ok_or_else(|| ApiError::not_found(format!("workspace `{id}` not found")))?;
    principal.require_workspace(&ws.id)?;
    Ok(ws)
}

pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Body(body): Body<CreateWorkspace>,
) -> ApiResult<Json<Workspace>> {
    principal.require_organisation("workspace management")?;
    if body.users.is_some() {
        refuse_unimplemented(&["users"])?;
    }
    check_defaults(body.defaults.as_ref())?;
    check_limits(body.usage_limits.as_ref(), body.rate_limits.as_ref())?;
    let mut base = slugify(&body.name, 40);
    if base.is_empty() {
        base = "workspace".to_owned();
    }
    let at = now();
    let ws = Workspace {
        id: uuid::Uuid::new_v4().to_string(),
        slug: format!("ws-{base}-{}", short_suffix()),
        name: body.name,
        description: body.description,
        icon: body.icon.filter(|i| !i.is_empty()),
        status: Some("active".to_owned()),
        organisation_id: Some(state.store.organisation_id().to_owned()),
        defaults: Some(WorkspaceDefaults {
            metadata: body.defaults.and_then(|d| d.metadata.apply(None)),
        }),
        usage_limits: body.usage_limits,
        rate_limits: body.rate_limits,
        created_at: Some(at.clone()),
        last_updated_at: Some(at),
        object: "workspace".to_owned(),
    };
    // The workspace and the access that global settings give it land together.
    let now = chrono::Utc::now();
    let mut tx = state.begin()?;
    tx.insert_workspace(&ws)?;
    provisioning::provision_new_workspace(&mut *tx, &ws, now)?;
    tx.commit()?;
    Ok(Json(ws))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<Workspace>>> {
    principal.require_organisation("the list of workspaces (`GET /whoami` names the key's own)")?;
    let q = WorkspaceQuery {
        name: query.get("name").map(str::to_owned),
        exact_name: query.get("exact_name").map(str::to_owned),
        status: query
            .get("status")
            .map(|s| s.split(',').map(|p| p.trim().to_owned()).collect()),
        page: query.page(100)?,
    };
    let (total, data) = state.store.read()?.workspaces(&q)?;
    Ok(Json(ListEnvelope::new(total, data)))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Workspace>> {
    visible(&state, &principal, &id).map(Json)
}

pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Body(body): Body<UpdateWorkspace>,
) -> ApiResult<Json<Workspace>> {
    principal.require_organisation("workspace management")?;
    check_defaults(body.defaults.as_ref())?;
    check_limits(body.usage_limits.as_value(), body.rate_limits.as_value())?;
    let mut tx = state.begin()?;
    let mut ws = tx
        .workspace(&id)?
        .ok_or_else(|| ApiError::not_found(format!("workspace `{id}` not found")))?;
    if let Some(name) = body.name {
        ws.name = name;
    }
    ws.description = body.description.apply(ws.description.take());
    if let Some(icon) = body.icon {
        ws.icon = (!icon.is_empty()).then_some(icon);
    }
    if let Some(defaults) = body.defaults {
        let current = ws.defaults.take().unwrap_or_default();
        ws.defaults = Some(WorkspaceDefaults {
            metadata: defaults.metadata.apply(current.metadata),
        });
    }
    ws.usage_limits = body.usage_limits.apply(ws.usage_limits.take());
    ws.rate_limits = body.rate_limits.apply(ws.rate_limits.take());
    ws.last_updated_at = Some(now());
    tx.save_workspace(&ws)?;
    tx.commit()?;
    Ok(Json(ws))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Body(body): Body<DeleteWorkspace>,
) -> ApiResult<(StatusCode, Json<Empty>)> {
    principal.require_organisation("workspace management")?;
    let ws = visible(&state, &principal, &id)?;
    if let Some(name) = &body.name {
        if name != &ws.name && Some(name) != Some(&ws.slug) {
            return Err(ApiError::invalid(format!(
                "`name` `{name}` does not match the workspace's name `{}`",
                ws.name
            )));
        }
    }
    let mut tx = state.begin()?;
    dependents::delete_workspace(&mut *tx, &ws.id, body.force_delete.unwrap_or(false))?;
    tx.commit()?;
    Ok((StatusCode::OK, Json(Empty {})))
}
