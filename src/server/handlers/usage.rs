//! `GET /usage` (an extension): every limit in a scope with its live usage.

use axum::extract::State;
use axum::Extension;

use crate::api::usage::UsageItem;
use crate::api::ListEnvelope;
use crate::domain::usage_report::{self, Selection, Viewer};
use crate::server::auth::Principal;
use crate::server::error::ApiResult;
use crate::server::extract::Query;
use crate::server::json::Json;
use crate::server::AppState;

/// The paging parameters; without any, the whole report is one page.
const PAGING: &[&str] = &["current_page", "currentPage", "page_size", "pageSize"];

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<UsageItem>>> {
    let page = query.page(100)?;
    let paged = PAGING.iter().any(|p| query.0.contains_key(*p));
    let viewer = match &principal {
        Principal::Workspace { key, workspace_id } => Viewer::WorkspaceKey {
            workspace_id: workspace_id.clone(),
            api_key_id: key.id.clone(),
        },
        Principal::Owner | Principal::Organisation(_) => Viewer::Organisation,
    };
    let selection = Selection {
        workspace: query.get("workspace_id").map(str::to_owned),
        integration: query.get("integration").map(str::to_owned),
        provider: query.get("provider").map(str::to_owned),
    };
    let items = usage_report::report(
        &mut *state.store.read()?,
        &selection,
        &viewer,
        chrono::Utc::now(),
    )?;
    let total = items.len() as u64;
    let data = if paged { page.slice(items) } else { items };
    Ok(Json(ListEnvelope::new(total, data)))
}
