//! `/integrations/{slug}/workspaces`: which workspaces may use an integration, with what limits.

use std::collections::HashSet;

use crate::api::schema::Empty;
use crate::server::extract::Path;
use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;

use super::integrations::{check_slug, reachable};
use crate::api::limits::{validate_rate_array, validate_usage_array};
use crate::api::provisioning::{BulkUpdateWorkspaces, IntegrationWorkspace, WorkspaceAccessList};
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::Body;
use crate::server::provisioning::{self, check_global, first, Grant};
use crate::server::AppState;

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
) -> ApiResult<Json<WorkspaceAccessList>> {
    let integration = reachable(&state, &principal, &slug)?;
    let now = chrono::Utc::now();
    let mut items = Vec::new();
    let mut store_tx = state.store.read()?;
    let tx = &mut *store_tx;
    items.clear();
    for access in tx.accesses(Some(&integration.public.id), None)? {
        let Some(ws) = tx.workspace(&access.workspace_id)? else {
            continue;
        };
        let mut usage = access.usage.clone();
        if let (Some(u), Some(limits)) = (usage.as_mut(), first(&access.usage_limits)) {
            u.refresh(limits, now);
        }
        items.push(IntegrationWorkspace {
            id: ws.slug,
            enabled: access.enabled,
            usage_limits: access.usage_limits,
            rate_limits: access.rate_limits,
            name: Some(ws.name),
            workspace_id: Some(ws.id),
            usage,
        });
    }
    Ok(Json(WorkspaceAccessList {
        total: items.len() as u64,
        workspaces: items,
        global_workspace_access: integration.public.global_workspace_access_settings,
        object: "list".to_owned(),
    }))
}

fn validate(body: &BulkUpdateWorkspaces) -> ApiResult<()> {
    let mut seen = HashSet::new();
    for (i, item) in body.workspaces.iter().enumerate() {
        let at = format!("workspaces[{i}]");
        if item.id.trim().is_empty() {
            return Err(ApiError::invalid(format!(
                "`{at}.id` must name a workspace (id or slug)"
            )));
        }
        if !seen.insert(item.id.as_str()) {
            return Err(ApiError::invalid(format!(
                "`{at}.id` `{}` appears twice",
                item.id
            )));
        }
        if let Some(u) = item.usage_limits.as_value() {
            validate_usage_array(u, &format!("{at}.usage_limits"), 1).map_err(ApiError::invalid)?;
        }
        if let Some(r) = item.rate_limits.as_value() {
            validate_rate_array(r, &format!("{at}.rate_limits"), 1, false)
                .map_err(ApiError::invalid)?;
        }
        if let Some(s) = &item.default_provider_slug {
            check_slug(&format!("{at}.default_provider_slug"), s)?;
        }
    }
    if let Some(s) = &body.default_provider_slug {
        check_slug("default_provider_slug", s)?;
    }
    if let Some(g) = &body.global_workspace_access {
        check_global(g)?;
    }
    Ok(())
}

pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    Body(body): Body<BulkUpdateWorkspaces>,
) -> ApiResult<Json<Empty>> {
    principal.require_organisation("workspace provisioning")?;
    validate(&body)?;
    let id = reachable(&state, &principal, &slug)?.public.id;
    let now = chrono::Utc::now();
    let mut store_tx = state.store.begin()?;
    let tx = &mut *store_tx;
    let mut integration = tx
        .integration(&id)?
        .ok_or_else(|| ApiError::not_found(format!("integration `{slug}` not found")))?;
    for item in &body.workspaces {
        let ws = tx
            .workspace(&item.id)?
            .ok_or_else(|| ApiError::not_found(format!("workspace `{}` not found", item.id)))?;
        if let Some(own) = &integration.public.workspace_id {
            if own != &ws.id {
                return Err(ApiError::invalid(format!(
                    "integration `{slug}` belongs to another workspace and cannot be provisioned to `{}`",
                    ws.slug
                ))
                );
            }
        }
        if !item.enabled {
            provisioning::revoke(tx, &id, &ws.id)?;
            continue;
        }
        // Limits left out keep their stored values, also when revoked access is re-granted.
        let current = tx.access(&id, &ws.id)?;
        let (usage_base, rate_base) = match current {
            Some(a) => (a.usage_limits, a.rate_limits),
            None => (None, None),
        };
        provisioning::grant(
            tx,
            &integration,
            &ws,
            Grant {
                usage_limits: item.usage_limits.clone().apply(usage_base),
                rate_limits: item.rate_limits.clone().apply(rate_base),
                create_default_provider: item
                    .create_default_provider
                    .or(body.create_default_provider)
                    .unwrap_or(true),
                default_provider_slug: item
                    .default_provider_slug
                    .clone()
                    .or_else(|| body.default_provider_slug.clone()),
            },
            now,
        )?;
        if item.reset_usage == Some(true) {
            if let Some(access) = tx.access(&id, &ws.id)? {
                let mut usage = access
                    .usage
                    .unwrap_or_else(|| crate::api::usage::UsageState::fresh(now));
                usage.reset(now);
                let scope = crate::store::UsageScope::Access {
                    integration_id: id.clone(),
                    workspace_id: ws.id.clone(),
                };
                tx.set_usage(&scope, crate::store::BUDGET, Some(&usage))?;
            }
        }
    }
    if let Some(global) = body
        .global_workspace_access
        .as_ref()
        .filter(|g| integration.public.global_workspace_access_settings.as_ref() != Some(*g))
    {
        integration.public.global_workspace_access_settings = Some(global.clone());
        integration.public.last_updated_at = Some(super::now());
        tx.save_integration(&integration)?;
    }
    if body.override_existing_workspace_access == Some(true) {
        let global = integration
            .public
            .global_workspace_access_settings
            .clone()
            .ok_or_else(|| {
                ApiError::invalid("`override_existing_workspace_access` needs `global_workspace_access` settings to apply")
            })?;
        for access in tx.accesses(Some(&id), None)? {
            if !access.enabled {
                continue;
            }
            let Some(ws) = tx.workspace(&access.workspace_id)? else {
                continue;
            };
            provisioning::grant(
                tx,
                &integration,
                &ws,
                Grant {
                    usage_limits: global.usage_limits.clone(),
                    rate_limits: global.rate_limits.clone(),
                    create_default_provider: false,
                    default_provider_slug: None,
                },
                now,
            )?;
        }
    }
    store_tx.commit()?;
    Ok(Json(Empty {}))
}
