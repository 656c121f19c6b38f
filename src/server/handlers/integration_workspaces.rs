//! `/integrations/{slug}/workspaces`: which workspaces may use an integration, with what
//! limits. The rules live in [`crate::domain::provisioning`].

use crate::api::schema::Empty;
use crate::server::extract::Path;
use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;

use super::integrations::reachable;
use crate::api::provisioning::{BulkUpdateWorkspaces, WorkspaceAccessList};
use crate::domain::provisioning::{access_list, check_bulk_update, update_access};
use crate::server::auth::Principal;
use crate::server::error::ApiResult;
use crate::server::extract::Body;
use crate::server::AppState;

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
) -> ApiResult<Json<WorkspaceAccessList>> {
    let integration = reachable(&state, &principal, &slug)?;
    let items = access_list(
        &mut *state.store.read()?,
        &integration.public.id,
        chrono::Utc::now(),
    )?;
    Ok(Json(WorkspaceAccessList {
        total: items.len() as u64,
        workspaces: items,
        global_workspace_access: integration.public.global_workspace_access_settings,
        object: "list".to_owned(),
    }))
}

pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    Body(body): Body<BulkUpdateWorkspaces>,
) -> ApiResult<Json<Empty>> {
    principal.require_organisation("workspace provisioning")?;
    check_bulk_update(&body)?;
    let id = reachable(&state, &principal, &slug)?.public.id;
    let mut tx = state.begin()?;
    update_access(&mut *tx, &id, &slug, &body, chrono::Utc::now())?;
    tx.commit()?;
    Ok(Json(Empty {}))
}
