//! `GET /whoami` (an extension): which key is calling, its type, workspace and scopes, so
//! that a client logged in with a workspace key knows its workspace without listing
//! workspaces (which workspace keys may not do).

use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;
use serde::{Deserialize, Serialize};

use crate::server::auth::Principal;
use crate::server::error::ApiResult;
use crate::server::scopes;
use crate::server::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WhoAmI {
    pub object: String,
    /// The key's id; `null` for the embedded owner.
    pub id: Option<String>,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub organisation_id: String,
    pub workspace_id: Option<String>,
    pub workspace_slug: Option<String>,
    pub scopes: Vec<String>,
    pub expires_at: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Json<WhoAmI>> {
    let workspace_slug = match principal.pinned_workspace() {
        Some(id) => state.store.read()?.workspace(id)?.map(|w| w.slug),
        None => None,
    };
    let organisation_id = state.store.organisation_id().to_owned();
    Ok(Json(match principal.key() {
        Some(key) => WhoAmI {
            object: "api-key".to_owned(),
            id: Some(key.id.clone()),
            name: key.name.clone(),
            kind: key.kind.clone().unwrap_or_default(),
            organisation_id,
            workspace_id: principal.pinned_workspace().map(str::to_owned),
            workspace_slug,
            scopes: key.scopes.clone(),
            expires_at: key.expires_at.clone(),
        },
        None => WhoAmI {
            object: "api-key".to_owned(),
            id: None,
            name: "embedded owner".to_owned(),
            kind: "embedded-owner".to_owned(),
            organisation_id,
            workspace_id: None,
            workspace_slug: None,
            scopes: scopes::all_scopes(),
            expires_at: None,
        },
    }))
}
