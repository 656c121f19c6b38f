//! `/providers`: AI providers, workspace-scoped. Admin keys name the workspace with
//! `workspace_id` (query on GET/PUT/DELETE, body on POST); workspace keys use their own.

use crate::api::schema::Empty;
use crate::server::extract::Path;
use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;
use chrono::{DateTime, Utc};

use super::integrations::check_slug;
use super::{now, short_suffix, slugify};
use crate::api::integration::Created;
use crate::api::limits::{validate_rate_array, RateLimit, UsageLimits};
use crate::api::provider::{CreateProvider, Provider, UpdateProvider};
use crate::api::usage::{carry_over, UsageState};
use crate::api::workspace::Workspace;
use crate::api::ListEnvelope;
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::{Body, Query};
use crate::server::provisioning::{check_fits, status};
use crate::server::AppState;
use crate::store::{IntegrationRecord, ProviderRecord, StoreTx, UsageScope, BUDGET};

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

/// The provider as shown: live status and the budget's current window.
pub fn view(record: &ProviderRecord, now: DateTime<Utc>) -> Provider {
    let mut p = record.public.clone();
    if let (Some(u), Some(limits)) = (p.usage.as_mut(), p.usage_limits.as_ref()) {
        u.refresh(limits, now);
    }
    p.status = Some(status(record, now).to_owned());
    p
}

pub fn check_limits(usage: Option<&UsageLimits>, rates: Option<&Vec<RateLimit>>) -> ApiResult<()> {
    if let Some(u) = usage {
        u.validate("usage_limits").map_err(ApiError::invalid)?;
    }
    if let Some(r) = rates {
        validate_rate_array(r, "rate_limits", 1, false).map_err(ApiError::invalid)?;
    }
    Ok(())
}

pub fn check_expiry(expires_at: Option<&str>) -> ApiResult<()> {
    if let Some(e) = expires_at {
        chrono::DateTime::parse_from_rfc3339(e).map_err(|_| {
            ApiError::invalid(format!(
                "`expires_at` must be an ISO-8601 timestamp such as 2027-01-01T00:00:00Z, got `{e}`"
            ))
        })?;
    }
    Ok(())
}

/// The integration behind a provider, and a check that the workspace may use it with
/// these limits: 403 when it is not provisioned there, 400 when the limits are looser.
fn usable_integration(
    tx: &mut dyn StoreTx,
    reference: &str,
    ws: &Workspace,
    usage: Option<&UsageLimits>,
    rates: Option<&[RateLimit]>,
) -> ApiResult<IntegrationRecord> {
    let integration = tx
        .integration(reference)?
        .ok_or_else(|| ApiError::not_found(format!("integration `{reference}` not found")))?;
    let slug = integration.public.slug.clone();
    match &integration.public.workspace_id {
        Some(own) if own == &ws.id => Ok(integration),
        Some(_) => Err(ApiError::not_found(format!(
            "integration `{reference}` not found"
        ))),
        None => {
            let access = tx
                .access(&integration.public.id, &ws.id)?
                .filter(|a| a.enabled)
                .ok_or_else(|| {
                    ApiError::forbidden(format!(
                        "integration `{slug}` is not enabled for workspace `{}`; provision it first: `catalog workspaces provision {} --integration {slug}`",
                        ws.slug, ws.slug
                    ))
                })?;
            check_fits(usage, rates, &access, &slug, &ws.slug)?;
            Ok(integration)
        }
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
    let at = chrono::Utc::now();
    let mut store_tx = state.store.begin()?;
    let tx = &mut *store_tx;
    let integration = usable_integration(
        tx,
        &body.integration_id,
        &ws,
        body.usage_limits.as_ref(),
        body.rate_limits.as_deref(),
    )?;
    let slug = body.slug.clone().unwrap_or_else(|| {
        let base = slugify(&body.name, 200);
        format!(
            "{}-{}",
            if base.is_empty() { "provider" } else { &base },
            short_suffix()
        )
    });
    let record = ProviderRecord {
        public: Provider {
            id: uuid::Uuid::new_v4().to_string(),
            slug: slug.clone(),
            name: body.name.clone(),
            note: body.note.clone(),
            integration_id: integration.public.slug.clone(),
            workspace_id: Some(ws.id.clone()),
            organisation_id: integration.public.organisation_id.clone(),
            ai_provider_id: Some(integration.public.ai_provider_id.clone()),
            usage_limits: body.usage_limits.clone(),
            rate_limits: body.rate_limits.clone(),
            expires_at: body.expires_at.clone(),
            usage: body.usage_limits.as_ref().map(|_| UsageState::fresh(at)),
            created_at: Some(now()),
            last_updated_at: Some(now()),
            object: "provider".to_owned(),
            ..Default::default()
        },
        integration_uuid: integration.public.id.clone(),
        revoked: false,
    };
    tx.insert_provider(&record)?;
    tx.set_usage(
        &UsageScope::Provider(record.public.id.clone()),
        BUDGET,
        record.public.usage.as_ref(),
    )?;
    store_tx.commit()?;
    Ok(Json(Created {
        id: record.public.id.clone(),
        slug,
    }))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<Provider>>> {
    let ws = workspace(&state, &principal, query.get("workspace_id"))?;
    let page = query.page(50)?;
    let now = chrono::Utc::now();
    let mut tx = state.store.read()?;
    let mut all: Vec<Provider> = tx
        .providers(Some(&ws.id), None)?
        .iter()
        .map(|p| view(p, now))
        .collect();
    // Virtual keys not migrated yet are readable as providers too.
    all.extend(
        tx.virtual_keys(Some(&ws.id))?
            .iter()
            .map(|v| super::virtual_keys::vk_as_provider(v, now)),
    );
    let total = all.len() as u64;
    let data = all
        .into_iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.page_size).unwrap_or(usize::MAX))
        .collect();
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
        Ok(p) => Ok(Json(view(&p, now))),
        Err(e) => {
            // A virtual key not migrated yet is readable as a provider with its slug.
            let vk = state.store.read()?.virtual_key(&ws.id, &slug)?;
            vk.map(|v| Json(super::virtual_keys::vk_as_provider(&v, now)))
                .ok_or(e)
        }
    }
}

/// Applies a partial update to a provider inside a transaction; its limits must still
/// fit inside its integration's access. Shared by `/providers` and `/virtual-keys`.
pub fn apply_update(
    tx: &mut dyn StoreTx,
    record: &mut ProviderRecord,
    ws: &Workspace,
    body: &UpdateProvider,
    at: DateTime<Utc>,
) -> ApiResult<()> {
    let rates = body.rate_limits.clone().map(|r| r.into_vec());
    let p = &mut record.public;
    let old_budget = p.usage_limits.clone();
    let usage_limits = body.usage_limits.clone().apply(p.usage_limits.take());
    let rate_limits = rates.apply(p.rate_limits.take());
    if record.revoked {
        // Revoked access keeps its limits; a provider must fit them for when it returns.
        if let Some(access) = tx.access(&record.integration_uuid, &ws.id)? {
            check_fits(
                usage_limits.as_ref(),
                rate_limits.as_deref(),
                &access,
                &record.public.integration_id,
                &ws.slug,
            )?;
        }
    } else {
        usable_integration(
            tx,
            &record.integration_uuid,
            ws,
            usage_limits.as_ref(),
            rate_limits.as_deref(),
        )?;
    }
    let p = &mut record.public;
    p.usage = carry_over(
        old_budget.as_ref(),
        usage_limits.as_ref(),
        p.usage.take(),
        at,
    );
    p.usage_limits = usage_limits;
    p.rate_limits = rate_limits;
    if let Some(name) = &body.name {
        p.name = name.clone();
    }
    p.note = body.note.clone().apply(p.note.take());
    p.expires_at = body.expires_at.clone().apply(p.expires_at.take());
    if body.reset_usage == Some(true) {
        if let Some(u) = p.usage.as_mut() {
            u.reset(at);
        }
        p.last_reset_at = Some(now());
    }
    p.last_updated_at = Some(now());
    tx.set_usage(
        &UsageScope::Provider(p.id.clone()),
        BUDGET,
        p.usage.as_ref(),
    )?;
    Ok(())
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
    let at = chrono::Utc::now();
    let mut store_tx = state.store.begin()?;
    let tx = &mut *store_tx;
    let mut record = tx.provider(&ws.id, &slug)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "AI provider `{slug}` not found in workspace `{}`",
            ws.slug
        ))
    })?;
    apply_update(tx, &mut record, &ws, &body, at)?;
    tx.save_provider(&record)?;
    store_tx.commit()?;
    Ok(Json(Created {
        id: record.public.id.clone(),
        slug: record.public.slug.clone(),
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
    let mut tx = state.store.begin()?;
    tx.delete_provider(&record.public.id)?;
    tx.commit()?;
    Ok(Json(Empty {}))
}
