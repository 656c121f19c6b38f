//! `/audit-logs` (an extension): the changes made through the Admin API, newest first.
//! Organisation keys see every record; a workspace key sees the records that touch its
//! workspace, with only the changes made in it.

use axum::extract::State;
use axum::Extension;

use crate::api::audit::AuditRecord;
use crate::api::ListEnvelope;
use crate::domain::audit::{ACTIONS, RESOURCE_TYPES};
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::{Path, Query};
use crate::server::json::Json;
use crate::server::AppState;
use crate::store::AuditQuery;

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<AuditRecord>>> {
    let workspace_id = match query.get("workspace_id") {
        Some(ws) => Some(super::workspaces::visible(&state, &principal, ws)?.id),
        None => principal.pinned_workspace().map(str::to_owned),
    };
    let q = AuditQuery {
        since: query.time("start_time")?,
        until: query.time("end_time")?,
        actor: query.get("actor").map(str::to_owned),
        resource_type: query
            .one_of("resource_type", RESOURCE_TYPES)?
            .map(str::to_owned),
        resource: query.get("resource_id").map(str::to_owned),
        workspace_id,
        action: query.one_of("action", ACTIONS)?.map(str::to_owned),
        page: query.page(100)?,
    };
    let (total, data) = state.store.read()?.audit_records(&q)?;
    let data = data
        .into_iter()
        .map(|r| visible_part(&principal, r))
        .collect();
    Ok(Json(ListEnvelope::new(total, data)))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<AuditRecord>> {
    let missing = || ApiError::not_found(format!("audit record `{id}` not found"));
    let number: i64 = id.parse().map_err(|_| missing())?;
    let record = state
        .store
        .read()?
        .audit_record(number)?
        .ok_or_else(missing)?;
    if let Some(own) = principal.pinned_workspace() {
        if !record.workspaces().contains(&own) {
            return Err(missing());
        }
    }
    Ok(Json(visible_part(&principal, record)))
}

/// The record as the caller may see it: a workspace key, only the changes in its workspace.
fn visible_part(principal: &Principal, mut record: AuditRecord) -> AuditRecord {
    if let Some(own) = principal.pinned_workspace() {
        record
            .changes
            .retain(|c| c.workspace_id.as_deref() == Some(own));
    }
    record
}
