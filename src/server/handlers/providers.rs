//! `/providers`: AI providers, workspace-scoped. Admin keys name the workspace with
//! `workspace_id` (query on GET/PUT/DELETE, body on POST); workspace keys use their own.

use crate::api::schema::Empty;
use crate::server::extract::Path;
use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;

use crate::api::integration::Created;
use crate::api::provider::{CreateProvider, Provider, UpdateProvider};
use crate::api::workspace::Workspace;
use crate::api::ListEnvelope;
use crate::domain::providers::{self, check_expiry, check_limits};
use crate::domain::slugs::check_slug;
use crate::domain::status::{provider_view, virtual_key_view};
use crate::domain::virtual_keys::as_provider;
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::{Body, Query};
use crate::server::AppState;
use crate::store::ProviderRecord;

/// The workspace a provider request acts in.
pub fn workspace(
    state: &AppState,
    principal: &Principal,
    given: Option<&str>,
) -> ApiResult<Workspace> {
    match (given, principal.pinned_workspace()) {
        (Some(id), _) => super::workspaces::visible(state, principal, id),
        (None, Some(own)) => super::workspaces::visible(state, principal, own),
        (None, None) => Err(ApiError::invalid(
            "`workspace_id` is required with an organisation API key: name the provider's workspace",
        )),
    }
}

pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Body(body): Body<CreateProvider>,
) -> ApiResult<Json<Created>> {
    if let Some(s) = &body.slug {
        check_slug("slug", s)?;
    }
    check_limits(body.usage_limits.as_ref(), body.rate_limits.as_ref())?;
    check_expiry(body.expires_at.as_deref())?;
    let ws = workspace(&state, &principal, body.workspace_id.as_deref())?;
    let mut tx = state.begin()?;
    let record = providers::create(&mut *tx, &ws, &body, chrono::Utc::now())?;
    tx.commit()?;
    Ok(Json(Created {
        id: record.public.id,
        slug: record.public.slug,
    }))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<Provider>>> {
    // An extension: every workspace's providers at once, for organisation keys (one
    // request where a tool reading the whole catalog would make one per workspace).
    let every = match query.typed("all_workspaces")? {
        None => false,
        Some(v) => crate::api::lenient::flex_bool(&serde_json::Value::String(v.to_owned()))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "query parameter `all_workspaces` must be true or false, got `{v}`"
                ))
            })?,
    };
    let ws = if every {
        principal.require_organisation("every workspace's AI providers")?;
        if query.get("workspace_id").is_some() {
            return Err(ApiError::invalid(
                "`all_workspaces=true` lists every workspace's providers: leave out `workspace_id`",
            ));
        }
        None
    } else {
        Some(workspace(&state, &principal, query.get("workspace_id"))?.id)
    };
    let page = query.page(50)?;
    let now = chrono::Utc::now();
    let mut tx = state.store.read()?;
    // Providers page in the store; virtual keys not migrated yet (readable as providers
    // too, after them) are few.
    let (providers, mut data) = {
        let (total, records) = tx.providers_page(ws.as_deref(), &page)?;
        let views: Vec<Provider> = records.iter().map(|p| provider_view(p, now)).collect();
        (total, views)
    };
    let keys: Vec<Provider> = tx
        .virtual_keys(ws.as_deref())?
        .iter()
        .map(|v| as_provider(virtual_key_view(v, now)))
        .collect();
    let total = providers + keys.len() as u64;
    let first_key = page.offset().saturating_sub(providers);
    let room = page.page_size.saturating_sub(data.len() as u64);
    data.extend(
        keys.into_iter()
            .skip(usize::try_from(first_key).unwrap_or(usize::MAX))
            .take(usize::try_from(room).unwrap_or(usize::MAX)),
    );
    Ok(Json(ListEnvelope::new(total, data)))
}

fn find(state: &AppState, ws: &Workspace, slug: &str) -> ApiResult<ProviderRecord> {
    state.store.read()?.provider(&ws.id, slug)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "AI provider `{slug}` not found in workspace `{}`",
            ws.slug
        ))
    })
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
) -> ApiResult<Json<Provider>> {
    let ws = workspace(&state, &principal, query.get("workspace_id"))?;
    let now = chrono::Utc::now();
    match find(&state, &ws, &slug) {
        Ok(p) => Ok(Json(provider_view(&p, now))),
        Err(e) => {
            // A virtual key not migrated yet is readable as a provider with its slug.
            let vk = state.store.read()?.virtual_key(&ws.id, &slug)?;
            vk.map(|v| Json(as_provider(virtual_key_view(&v, now))))
                .ok_or(e)
        }
    }
}

pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
    Body(body): Body<UpdateProvider>,
) -> ApiResult<Json<Created>> {
    let rates = body.rate_limits.clone().map(|r| r.into_vec());
    check_limits(body.usage_limits.as_value(), rates.as_value())?;
    check_expiry(body.expires_at.as_value().map(String::as_str))?;
    let given = query.get("workspace_id").or(body.workspace_id.as_deref());
    let ws = workspace(&state, &principal, given)?;
    let mut tx = state.begin()?;
    let mut record = tx.provider(&ws.id, &slug)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "AI provider `{slug}` not found in workspace `{}`",
            ws.slug
        ))
    })?;
    providers::update(&mut *tx, &mut record, &ws, &body, chrono::Utc::now())?;
    tx.commit()?;
    Ok(Json(Created {
        id: record.public.id,
        slug: record.public.slug,
    }))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
) -> ApiResult<Json<Empty>> {
    let ws = workspace(&state, &principal, query.get("workspace_id"))?;
    let record = find(&state, &ws, &slug)?;
    let mut tx = state.begin()?;
    tx.delete_provider(&record.public.id)?;
    tx.commit()?;
    Ok(Json(Empty {}))
}
