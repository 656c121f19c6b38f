//! `/virtual-keys`: the legacy shape. Unmigrated keys live in their own table with their
//! own sealed credential; every AI provider is listable here too (as after the hosted
//! catalog's migration), and every unmigrated key is readable as a provider.
//! Extensions: `GET /virtual-keys/migration-plan` and `POST /virtual-keys/migrate`.
//! The rules live in [`crate::domain::virtual_keys`] and [`crate::domain::vk_migration`].

use crate::server::extract::Path;
use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;
use chrono::Utc;

use crate::api::schema::Empty;
use crate::api::virtual_key::{
    CreateVirtualKey, LegacyAnswer, MigrateGroup, MigratedGroup, MigrationPlan, UpdateVirtualKey,
    VirtualKey,
};
use crate::api::workspace::Workspace;
use crate::api::ListEnvelope;
use crate::domain::status::{provider_view, virtual_key_view};
use crate::domain::virtual_keys::{self, as_virtual_key, check_create};
use crate::domain::vk_migration;
use crate::server::auth::Principal;
use crate::server::error::{refuse_unimplemented, ApiError, ApiResult};
use crate::server::extract::{Body, Query};
use crate::server::vault::Vault;
use crate::server::AppState;

/// The vault, its keys loaded (outside any write transaction: they may be in the keyring).
pub fn master(state: &AppState) -> ApiResult<&Vault> {
    state
        .vault
        .keys()
        .map_err(|e| ApiError::internal(format!("cannot use the master key: {e:#}")))?;
    Ok(&state.vault)
}

fn scope_workspace(
    state: &AppState,
    principal: &Principal,
    given: Option<&str>,
) -> ApiResult<Option<Workspace>> {
    match (given, principal.pinned_workspace()) {
        (Some(id), _) => super::workspaces::visible(state, principal, id).map(Some),
        (None, Some(own)) => super::workspaces::visible(state, principal, own).map(Some),
        (None, None) => Ok(None),
    }
}

pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Body(body): Body<CreateVirtualKey>,
) -> ApiResult<Json<LegacyAnswer>> {
    if body.secret_mappings.is_some() {
        refuse_unimplemented(&["secret_mappings"])?;
    }
    super::organisation::require_workspace_credentials_allowed(
        &mut *state.store.read()?,
        &principal,
    )?;
    check_create(&body)?;
    let ws =
        scope_workspace(&state, &principal, body.workspace_id.as_deref())?.ok_or_else(|| {
            ApiError::invalid("`workspace_id` is required with an organisation API key")
        })?;
    let master = master(&state)?;
    let mut tx = state.begin()?;
    let record = virtual_keys::create(&mut *tx, master, &ws, &body, Utc::now())?;
    tx.commit()?;
    Ok(Json(LegacyAnswer::new(record.public.slug)))
}

/// Every virtual key in scope: unmigrated keys, then AI providers in the legacy shape.
fn all_keys(state: &AppState, ws: Option<&Workspace>) -> ApiResult<Vec<VirtualKey>> {
    let now = Utc::now();
    let mut out = Vec::new();
    let mut db = state.store.read()?;
    let ws_id = ws.map(|w| w.id.as_str());
    out.extend(
        db.virtual_keys(ws_id)?
            .iter()
            .map(|v| virtual_key_view(v, now)),
    );
    out.extend(
        db.providers(ws_id, None)?
            .iter()
            .map(|p| as_virtual_key(&provider_view(p, now))),
    );
    Ok(out)
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<VirtualKey>>> {
    let ws = scope_workspace(&state, &principal, query.get("workspace_id"))?;
    let page = query.page(50)?;
    let all = all_keys(&state, ws.as_ref())?;
    let total = all.len() as u64;
    let data = all
        .into_iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.page_size).unwrap_or(usize::MAX))
        .collect();
    Ok(Json(ListEnvelope::new(total, data)))
}

fn one(
    state: &AppState,
    principal: &Principal,
    slug: &str,
    query: &Query,
) -> ApiResult<VirtualKey> {
    let ws = scope_workspace(state, principal, query.get("workspace_id"))?;
    let mut found: Vec<VirtualKey> = all_keys(state, ws.as_ref())?
        .into_iter()
        .filter(|v| v.slug == slug || v.id == slug)
        .collect();
    match found.len() {
        0 => Err(ApiError::not_found(format!(
            "virtual key `{slug}` not found"
        ))),
        1 => Ok(found.remove(0)),
        _ => Err(ApiError::invalid(format!(
            "`{slug}` names virtual keys in several workspaces; pass workspace_id"
        ))),
    }
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
) -> ApiResult<Json<VirtualKey>> {
    one(&state, &principal, &slug, &query).map(Json)
}

pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
    Body(body): Body<UpdateVirtualKey>,
) -> ApiResult<Json<LegacyAnswer>> {
    if body.secret_mappings.is_some() {
        refuse_unimplemented(&["secret_mappings"])?;
    }
    crate::domain::providers::check_limits(
        body.usage_limits.as_value(),
        body.rate_limits.as_value(),
    )?;
    let target = one(&state, &principal, &slug, &query)?;
    let ws_id = target.workspace_id.clone().unwrap_or_default();
    let ws = super::workspaces::visible(&state, &principal, &ws_id)?;
    let master = if body.key.is_some() {
        super::organisation::require_workspace_credentials_allowed(
            &mut *state.store.read()?,
            &principal,
        )?;
        Some(master(&state)?)
    } else {
        None
    };
    let mut tx = state.begin()?;
    virtual_keys::update(
        &mut *tx,
        master.map(|m| m as &dyn crate::crypto::Sealer),
        &ws,
        &target.id,
        &slug,
        &body,
        Utc::now(),
    )?;
    tx.commit()?;
    Ok(Json(LegacyAnswer::new(target.slug)))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
) -> ApiResult<Json<Empty>> {
    let target = one(&state, &principal, &slug, &query)?;
    let mut tx = state.begin()?;
    tx.delete_virtual_key(&target.id)?;
    tx.delete_provider(&target.id)?;
    tx.commit()?;
    Ok(Json(Empty {}))
}

pub async fn migration_plan(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<MigrationPlan>> {
    principal.require_organisation("virtual key migration")?;
    let ws = scope_workspace(&state, &principal, query.get("workspace_id"))?;
    let master = master(&state)?;
    let plan = vk_migration::plan(
        &mut *state.store.read()?,
        master,
        ws.as_ref().map(|w| w.id.as_str()),
    )?;
    Ok(Json(plan))
}

pub async fn migrate(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Body(body): Body<MigrateGroup>,
) -> ApiResult<Json<MigratedGroup>> {
    principal.require_organisation("virtual key migration")?;
    let ws = scope_workspace(&state, &principal, body.workspace_id.as_deref())?;
    let master = master(&state)?;
    let mut tx = state.begin()?;
    let migrated = vk_migration::migrate(
        &mut *tx,
        master,
        state.store.organisation_id(),
        ws.as_ref().map(|w| w.id.as_str()),
        &body,
        Utc::now(),
    )?;
    tx.commit()?;
    Ok(Json(migrated))
}
