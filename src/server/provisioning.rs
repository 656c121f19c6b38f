//! Workspace provisioning: granting and revoking an integration's access to workspaces,
//! the default AI provider a grant creates, global access for workspaces created later,
//! and the rule that a provider's limits fit inside its integration's access.
//! Everything here runs inside one store transaction.

use chrono::{DateTime, Utc};

use super::error::{ApiError, ApiResult};
use crate::api::limits::{RateLimit, RateUnit, UsageLimits};
use crate::api::provider::Provider;
use crate::api::provisioning::GlobalWorkspaceAccess;
use crate::api::usage::{carry_over, timestamp, UsageState};
use crate::api::workspace::Workspace;
use crate::store::{AccessRecord, IntegrationRecord, ProviderRecord, StoreTx, UsageScope, BUDGET};

pub const AUTO_NOTE: &str = "Created automatically on integration access grant";

/// What a grant sets.
pub struct Grant {
    pub usage_limits: Option<Vec<UsageLimits>>,
    pub rate_limits: Option<Vec<RateLimit>>,
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
) -> ApiResult<()> {
    let integ = &integration.public;
    let existing = tx.access(&integ.id, &workspace.id)?;
    let was_enabled = existing.as_ref().is_some_and(|a| a.enabled);
    let old_budget = existing.as_ref().and_then(|a| first(&a.usage_limits));
    let usage = carry_over(
        old_budget,
        first(&grant.usage_limits),
        existing.as_ref().and_then(|a| a.usage.clone()),
        now,
    );
    let access = AccessRecord {
        integration_id: integ.id.clone(),
        workspace_id: workspace.id.clone(),
        enabled: true,
        usage_limits: grant.usage_limits,
        rate_limits: grant.rate_limits,
        usage,
    };
    tx.set_usage(
        &UsageScope::Access {
            integration_id: integ.id.clone(),
            workspace_id: workspace.id.clone(),
        },
        BUDGET,
        access.usage.as_ref(),
    )?;
    let providers = tx.providers(Some(&workspace.id), Some(&integ.id))?;
    // Every provider built on this access must fit inside its new limits.
    for p in &providers {
        check_fits(
            p.public.usage_limits.as_ref(),
            p.public.rate_limits.as_deref(),
            &access,
            &integ.slug,
            &workspace.slug,
        )
        .map_err(|e| {
            ApiError::conflict(format!(
                "AI provider `@{}` in workspace `{}` has limits looser than this access would allow ({}); tighten it first (`catalog providers update {} --workspace {}`) or delete it",
                p.public.slug, workspace.slug, e.message, p.public.slug, workspace.slug
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
        Some(_) => Err(ApiError::conflict(format!(
            "workspace `{}` already has an AI provider `{slug}` from another integration; set `default_provider_slug` or `create_default_provider: false`",
            workspace.slug
        ))),
        None => {
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
pub fn revoke(tx: &mut dyn StoreTx, integration_id: &str, workspace_id: &str) -> ApiResult<()> {
    if let Some(mut access) = tx.access(integration_id, workspace_id)? {
        access.enabled = false;
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
) -> ApiResult<()> {
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
                create_default_provider: true,
                default_provider_slug: None,
            },
            now,
        )?;
    }
    Ok(())
}

/// Validates a `global_workspace_access` object.
pub fn check_global(global: &GlobalWorkspaceAccess) -> ApiResult<()> {
    use crate::api::limits::{validate_rate_array, validate_usage_array};
    if let Some(u) = &global.usage_limits {
        validate_usage_array(u, "global_workspace_access.usage_limits", 1)
            .map_err(ApiError::invalid)?;
    }
    if let Some(r) = &global.rate_limits {
        validate_rate_array(r, "global_workspace_access.rate_limits", 1, false)
            .map_err(ApiError::invalid)?;
    }
    Ok(())
}

pub fn first<T>(items: &Option<Vec<T>>) -> Option<&T> {
    items.as_ref().and_then(|v| v.first())
}

fn per_minute(r: &RateLimit) -> f64 {
    let v = r.value as f64;
    match r.unit {
        RateUnit::Rps => v * 60.0,
        RateUnit::Rpm => v,
        RateUnit::Rph => v / 60.0,
        RateUnit::Rpd => v / 1440.0,
        RateUnit::Rpw => v / 10080.0,
    }
}

/// A provider's limits must be at least as strict as its integration's access allows.
pub fn check_fits(
    usage: Option<&UsageLimits>,
    rates: Option<&[RateLimit]>,
    access: &AccessRecord,
    integration: &str,
    workspace: &str,
) -> ApiResult<()> {
    if let (Some(mine), Some(allowed)) = (usage, first(&access.usage_limits)) {
        let unit = match allowed.kind {
            crate::api::limits::BudgetType::Cost => "USD",
            crate::api::limits::BudgetType::Tokens => "tokens",
        };
        if mine.kind != allowed.kind {
            return Err(ApiError::invalid(format!(
                "`usage_limits.type` must be `{}` like the budget integration `{integration}` gives workspace `{workspace}`",
                serde_json::to_value(allowed.kind).unwrap_or_default().as_str().unwrap_or("")
            )));
        }
        if mine.credit_limit > allowed.credit_limit {
            return Err(ApiError::invalid(format!(
                "`usage_limits.credit_limit` {} {unit} is looser than the {} {unit} integration `{integration}` allows workspace `{workspace}`; use at most {}",
                mine.credit_limit, allowed.credit_limit, allowed.credit_limit
            )));
        }
    }
    if let (Some(mine), Some(allowed)) = (
        rates.and_then(<[RateLimit]>::first),
        first(&access.rate_limits),
    ) {
        if mine.kind == allowed.kind && per_minute(mine) > per_minute(allowed) {
            return Err(ApiError::invalid(format!(
                "`rate_limits[0]` {} is looser than the {} integration `{integration}` allows workspace `{workspace}`",
                mine, allowed
            )));
        }
    }
    Ok(())
}

/// The status a provider shows: `disabled` when its access is revoked, `expired`,
/// `exhausted` when its budget is used up, else `active`.
pub fn status(p: &ProviderRecord, now: DateTime<Utc>) -> &'static str {
    if p.revoked {
        return "disabled";
    }
    let expired = p
        .public
        .expires_at
        .as_deref()
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .is_some_and(|e| e < now);
    if expired {
        return "expired";
    }
    let exhausted = match (&p.public.usage_limits, &p.public.usage) {
        (Some(limit), Some(UsageState { current_usage, .. })) => {
            *current_usage >= limit.credit_limit
        }
        _ => false,
    };
    if exhausted {
        "exhausted"
    } else {
        "active"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::limits::{BudgetType, RateLimitType};

    fn access(budget: f64, rpm: i64) -> AccessRecord {
        AccessRecord {
            usage_limits: Some(vec![UsageLimits {
                kind: BudgetType::Cost,
                credit_limit: budget,
                alert_threshold: None,
                periodic_reset: None,
                periodic_reset_days: None,
                next_usage_reset_at: None,
            }]),
            rate_limits: Some(vec![RateLimit {
                kind: RateLimitType::Requests,
                unit: RateUnit::Rpm,
                value: rpm,
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn looser_limits_name_both_numbers() {
        let a = access(1000.0, 100);
        let mut budget = first(&a.usage_limits).unwrap().clone();
        budget.credit_limit = 2000.0;
        let err = check_fits(Some(&budget), None, &a, "openai-prod", "ws-eng").unwrap_err();
        assert!(
            err.message.contains("2000") && err.message.contains("1000"),
            "{}",
            err.message
        );
        budget.credit_limit = 500.0;
        assert!(check_fits(Some(&budget), None, &a, "i", "w").is_ok());
        let hourly = RateLimit {
            kind: RateLimitType::Requests,
            unit: RateUnit::Rph,
            value: 12000,
        };
        let err = check_fits(None, Some(&[hourly]), &a, "i", "w").unwrap_err();
        assert!(
            err.message.contains("12000 requests/hour") && err.message.contains("100 requests/min"),
            "{}",
            err.message
        );
        let fine = RateLimit {
            kind: RateLimitType::Requests,
            unit: RateUnit::Rph,
            value: 600,
        };
        assert!(check_fits(None, Some(&[fine]), &a, "i", "w").is_ok());
    }
}
