//! Workspace provisioning: granting and revoking an integration's access to workspaces,
//! the default AI provider a grant creates, global access for workspaces created later,
//! and the rule that a provider's limits fit inside its integration's access.
//! Everything here runs inside one store transaction.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::error::{DomainError, DomainResult};
use super::limits::{check_fits, counted, first, ProviderLimits};
use super::slugs::{check_slug, ensure_free_in_workspace, Claimant};
use crate::api::limits::{
    validate_rate_array, validate_usage_array, ConcurrencyLimit, RateLimit, UsageLimits,
};
use crate::api::provider::Provider;
use crate::api::provisioning::{
    BulkUpdateWorkspaces, GlobalWorkspaceAccess, IntegrationWorkspace, WorkspaceAccess,
};
use crate::api::usage::{carry_over, timestamp, UsageState};
use crate::api::workspace::Workspace;
use crate::store::{
    AccessRecord, IntegrationRecord, ProviderRecord, StoreRead, StoreTx, UsageScope, BUDGET,
};

pub const AUTO_NOTE: &str = "Created automatically on integration access grant";

/// What a grant sets.
pub struct Grant {
    pub usage_limits: Option<Vec<UsageLimits>>,
    pub rate_limits: Option<Vec<RateLimit>>,
    pub concurrency_limit: Option<ConcurrencyLimit>,
    pub create_default_provider: bool,
    pub default_provider_slug: Option<String>,
}

/// Enables `integration` for `workspace` (or updates an enabled grant's limits), creates
/// the default provider on a new grant, and re-enables providers a revoke disabled.
pub fn grant(
    tx: &mut dyn StoreTx,
    integration: &IntegrationRecord,
    workspace: &Workspace,
    grant: Grant,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let integ = &integration.public;
    let existing = tx.access(&integ.id, &workspace.id)?;
    let was_enabled = existing.as_ref().is_some_and(|a| a.access.enabled);
    let old_budget = existing
        .as_ref()
        .and_then(|a| first(&a.access.usage_limits));
    let usage = carry_over(
        old_budget,
        first(&grant.usage_limits),
        existing.as_ref().and_then(|a| a.usage.clone()),
        now,
    );
    let access = AccessRecord {
        integration_id: integ.id.clone(),
        workspace_id: workspace.id.clone(),
        access: WorkspaceAccess {
            enabled: true,
            usage_limits: grant.usage_limits,
            rate_limits: grant.rate_limits,
            concurrency_limit: grant.concurrency_limit,
        },
        usage,
    };
    tx.set_usage(
        &UsageScope::Access {
            integration_id: integ.id.clone(),
            workspace_id: workspace.id.clone(),
        },
        BUDGET,
        counted(first(&access.access.usage_limits), access.usage.as_ref()),
    )?;
    let providers = tx.providers(Some(&workspace.id), Some(&integ.id))?;
    // Every provider built on this access must fit inside its new limits.
    for p in &providers {
        check_fits(
            ProviderLimits::of(&p.public),
            &access.access,
            &integ.slug,
            &workspace.slug,
        )
        .map_err(|e| {
            DomainError::conflict(format!(
                "AI provider `@{}` in workspace `{}` has limits looser than this access would allow ({e}); tighten it first (`catalog providers update {} --workspace {}`) or delete it",
                p.public.slug, workspace.slug, p.public.slug, workspace.slug
            ))
        })?;
    }
    tx.save_access(&access)?;
    for mut p in providers {
        if p.revoked {
            p.revoked = false;
            tx.save_provider(&p)?;
        }
    }
    if was_enabled || !grant.create_default_provider {
        return Ok(());
    }
    let slug = grant
        .default_provider_slug
        .unwrap_or_else(|| integ.slug.clone());
    match tx.provider(&workspace.id, &slug)? {
        Some(p) if p.integration_uuid == integ.id => Ok(()),
        Some(_) => Err(DomainError::conflict(format!(
            "workspace `{}` already has an AI provider `{slug}` from another integration; set `default_provider_slug` or `create_default_provider: false`",
            workspace.slug
        ))),
        None => {
            ensure_free_in_workspace(tx, &workspace.id, &slug, Claimant::Provider)?;
            let at = timestamp(now);
            tx.insert_provider(&ProviderRecord {
                public: Provider {
                    id: uuid::Uuid::new_v4().to_string(),
                    slug,
                    name: integ.name.clone(),
                    note: Some(AUTO_NOTE.to_owned()),
                    integration_id: integ.slug.clone(),
                    workspace_id: Some(workspace.id.clone()),
                    organisation_id: integ.organisation_id.clone(),
                    ai_provider_id: Some(integ.ai_provider_id.clone()),
                    created_at: Some(at.clone()),
                    last_updated_at: Some(at),
                    object: "provider".to_owned(),
                    ..Default::default()
                },
                integration_uuid: integ.id.clone(),
                revoked: false,
            })?;
            Ok(())
        }
    }
}

/// Turns access off; providers built on it are disabled, not deleted.
pub fn revoke(tx: &mut dyn StoreTx, integration_id: &str, workspace_id: &str) -> DomainResult<()> {
    if let Some(mut access) = tx.access(integration_id, workspace_id)? {
        access.access.enabled = false;
        tx.save_access(&access)?;
    }
    for mut p in tx.providers(Some(workspace_id), Some(integration_id))? {
        if !p.revoked {
            p.revoked = true;
            tx.save_provider(&p)?;
        }
    }
    Ok(())
}

/// Provisions a new workspace with every organisation integration whose global access is on.
pub fn provision_new_workspace(
    tx: &mut dyn StoreTx,
    workspace: &Workspace,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    for integration in tx.all_integrations()? {
        if integration.public.workspace_id.is_some() {
            continue;
        }
        let Some(global) = integration
            .public
            .global_workspace_access_settings
            .clone()
            .filter(|g| g.enabled)
        else {
            continue;
        };
        grant(
            tx,
            &integration,
            workspace,
            Grant {
                usage_limits: global.usage_limits,
                rate_limits: global.rate_limits,
                concurrency_limit: global.concurrency_limit,
                create_default_provider: true,
                default_provider_slug: None,
            },
            now,
        )?;
    }
    Ok(())
}

/// Validates a `global_workspace_access` object.
pub fn check_global(global: &GlobalWorkspaceAccess) -> DomainResult<()> {
    if let Some(u) = &global.usage_limits {
        validate_usage_array(u, "global_workspace_access.usage_limits", 1)
            .map_err(DomainError::Invalid)?;
    }
    if let Some(r) = &global.rate_limits {
        validate_rate_array(r, "global_workspace_access.rate_limits", 1, false)
            .map_err(DomainError::Invalid)?;
    }
    Ok(())
}

/// Every workspace's access to an integration (by UUID), as listed: the budget's usage
/// in its current window.
pub fn access_list(
    tx: &mut dyn StoreRead,
    integration_id: &str,
    now: DateTime<Utc>,
) -> DomainResult<Vec<IntegrationWorkspace>> {
    let mut items = Vec::new();
    for record in tx.accesses(Some(integration_id), None)? {
        let Some(ws) = tx.workspace(&record.workspace_id)? else {
            continue;
        };
        let mut usage = record.usage;
        if let (Some(u), Some(limits)) = (usage.as_mut(), first(&record.access.usage_limits)) {
            u.refresh(limits, now);
        }
        items.push(IntegrationWorkspace {
            id: ws.slug,
            access: record.access,
            name: Some(ws.name),
            workspace_id: Some(ws.id),
            usage,
        });
    }
    Ok(items)
}

/// Checks a bulk access update before anything is read: each workspace named once, limits
/// and slugs well formed.
pub fn check_bulk_update(body: &BulkUpdateWorkspaces) -> DomainResult<()> {
    let mut seen = HashSet::new();
    for (i, item) in body.workspaces.iter().enumerate() {
        let at = format!("workspaces[{i}]");
        if item.id.trim().is_empty() {
            return Err(DomainError::invalid(format!(
                "`{at}.id` must name a workspace (id or slug)"
            )));
        }
        if !seen.insert(item.id.as_str()) {
            return Err(DomainError::invalid(format!(
                "`{at}.id` `{}` appears twice",
                item.id
            )));
        }
        if let Some(u) = item.usage_limits.as_value() {
            validate_usage_array(u, &format!("{at}.usage_limits"), 1)
                .map_err(DomainError::Invalid)?;
        }
        if let Some(r) = item.rate_limits.as_value() {
            validate_rate_array(r, &format!("{at}.rate_limits"), 1, false)
                .map_err(DomainError::Invalid)?;
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

/// Applies a bulk access update to integration `id` (named `slug` in messages): grants,
/// revokes, usage resets, global settings, and their override of existing access.
pub fn update_access(
    tx: &mut dyn StoreTx,
    id: &str,
    slug: &str,
    body: &BulkUpdateWorkspaces,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let mut integration = tx
        .integration(id)?
        .ok_or_else(|| DomainError::not_found("integration", slug))?;
    for item in &body.workspaces {
        let ws = tx
            .workspace(&item.id)?
            .ok_or_else(|| DomainError::not_found("workspace", &item.id))?;
        if let Some(own) = &integration.public.workspace_id {
            if own != &ws.id {
                return Err(DomainError::invalid(format!(
                    "integration `{slug}` belongs to another workspace and cannot be provisioned to `{}`",
                    ws.slug
                )));
            }
        }
        if !item.enabled {
            revoke(tx, id, &ws.id)?;
            continue;
        }
        // Limits left out keep their stored values, also when revoked access is re-granted.
        let base = tx.access(id, &ws.id)?.map(|a| a.access).unwrap_or_default();
        let (usage_base, rate_base, concurrency_base) =
            (base.usage_limits, base.rate_limits, base.concurrency_limit);
        grant(
            tx,
            &integration,
            &ws,
            Grant {
                usage_limits: item.usage_limits.clone().apply(usage_base),
                rate_limits: item.rate_limits.clone().apply(rate_base),
                concurrency_limit: item.concurrency_limit.clone().apply(concurrency_base),
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
            if let Some(access) = tx.access(id, &ws.id)? {
                let mut usage = access.usage.unwrap_or_else(|| UsageState::fresh(now));
                usage.reset(now);
                let scope = UsageScope::Access {
                    integration_id: id.to_owned(),
                    workspace_id: ws.id.clone(),
                };
                let limits = first(&access.access.usage_limits);
                tx.set_usage(&scope, BUDGET, counted(limits, Some(&usage)))?;
            }
        }
    }
    if let Some(global) = body
        .global_workspace_access
        .as_ref()
        .filter(|g| integration.public.global_workspace_access_settings.as_ref() != Some(*g))
    {
        integration.public.global_workspace_access_settings = Some(global.clone());
        integration.public.last_updated_at = Some(timestamp(now));
        tx.save_integration(&integration)?;
    }
    if body.override_existing_workspace_access == Some(true) {
        let global = integration
            .public
            .global_workspace_access_settings
            .clone()
            .ok_or_else(|| {
                DomainError::invalid("`override_existing_workspace_access` needs `global_workspace_access` settings to apply")
            })?;
        for access in tx.accesses(Some(id), None)? {
            if !access.access.enabled {
                continue;
            }
            let Some(ws) = tx.workspace(&access.workspace_id)? else {
                continue;
            };
            grant(
                tx,
                &integration,
                &ws,
                Grant {
                    usage_limits: global.usage_limits.clone(),
                    rate_limits: global.rate_limits.clone(),
                    concurrency_limit: global.concurrency_limit,
                    create_default_provider: false,
                    default_provider_slug: None,
                },
                now,
            )?;
        }
    }
    Ok(())
}
