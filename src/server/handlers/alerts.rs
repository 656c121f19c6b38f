//! `/alerts` (an extension): the budget alerts settlement raised, newest first, with how
//! their delivery to webhooks stands. Organisation keys only: alerts name budgets of
//! every workspace.

use axum::extract::State;
use axum::Extension;
use serde_json::Value;

use crate::api::alerts::{Alert, AlertKind};
use crate::api::ListEnvelope;
use crate::domain::alerts::described;
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::Query;
use crate::server::json::Json;
use crate::server::AppState;
use crate::store::AlertQuery;

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<Alert>>> {
    principal.require_organisation("the organisation's alerts")?;
    let kind = query
        .typed("kind")?
        .map(|k| {
            k.parse::<AlertKind>()
                .map_err(|e| ApiError::invalid(format!("query parameter `kind`: {e}")))
        })
        .transpose()?;
    let delivered = query
        .typed("delivered")?
        .map(|v| {
            crate::api::lenient::flex_bool(&Value::String(v.to_owned())).ok_or_else(|| {
                ApiError::invalid(format!(
                    "query parameter `delivered` must be true or false, got `{v}`"
                ))
            })
        })
        .transpose()?;
    let since = query.time("since")?;
    let q = AlertQuery {
        kind,
        delivered,
        since,
        page: query.page(100)?,
    };
    let (total, data) = state.store.read()?.alerts(&q)?;
    let data = data
        .into_iter()
        .map(|a| Alert {
            event: described(a.event),
            ..a
        })
        .collect();
    Ok(Json(ListEnvelope::new(total, data)))
}
