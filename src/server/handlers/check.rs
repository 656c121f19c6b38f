//! `GET /check` (an extension): whether a workspace can call a model, and why not.

use axum::extract::State;
use axum::Extension;

use crate::gateway::check::{explain, Explanation};
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::Query;
use crate::server::json::Json;
use crate::server::AppState;

pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<Explanation>> {
    let model = query.typed("model")?.ok_or_else(|| {
        ApiError::invalid("query parameter `model` is required: `@PROVIDER/MODEL`")
    })?;
    let ws = match (query.get("workspace_id"), principal.pinned_workspace()) {
        (Some(id), _) | (None, Some(id)) => super::workspaces::visible(&state, &principal, id)?,
        (None, None) => {
            return Err(ApiError::invalid(
                "`workspace_id` is required with an organisation API key: name the workspace that would call",
            ))
        }
    };
    let key = match query.get("api_key_id") {
        Some(id) => Some(
            state
                .store
                .read()?
                .api_key(id)?
                .ok_or_else(|| ApiError::not_found(format!("API key `{id}` not found")))?,
        ),
        None => None,
    };
    match explain(&state, &ws.id, model, key.as_ref()).await {
        Ok(explanation) => Ok(Json(explanation)),
        Err(e) => Err(ApiError {
            status: Some(e.status),
            retry_after: Some(1),
            ..ApiError::internal(e.message)
        }),
    }
}
