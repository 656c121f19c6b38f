//! AI providers: which integration a workspace may build one on, creating one, and
//! changing one so that its limits still fit its integration's access.

use chrono::{DateTime, Utc};

use super::error::{DomainError, DomainResult};
use super::limits::{check_fits, counted, ProviderLimits};
use super::slugs::{self, ensure_free_in_workspace, Claimant};
use crate::api::limits::{validate_rate_array, RateLimit, UsageLimits};
use crate::api::provider::{CreateProvider, Provider, UpdateProvider};
use crate::api::usage::{carry_over, timestamp, UsageState};
use crate::api::workspace::Workspace;
use crate::store::{IntegrationRecord, ProviderRecord, StoreTx, UsageScope, BUDGET};

/// Checks a budget and a rate-limit list as a provider or virtual key carries them.
pub fn check_limits(
    usage: Option<&UsageLimits>,
    rates: Option<&Vec<RateLimit>>,
) -> DomainResult<()> {
    if let Some(u) = usage {
        u.validate("usage_limits").map_err(DomainError::Invalid)?;
    }
    if let Some(r) = rates {
        validate_rate_array(r, "rate_limits", 1, false).map_err(DomainError::Invalid)?;
    }
    Ok(())
}

/// Checks an `expires_at` as a provider or virtual key carries it.
pub fn check_expiry(expires_at: Option<&str>) -> DomainResult<()> {
    if let Some(e) = expires_at {
        DateTime::parse_from_rfc3339(e).map_err(|_| {
            DomainError::invalid(format!(
                "`expires_at` must be an ISO-8601 timestamp such as 2027-01-01T00:00:00Z, got `{e}`"
            ))
        })?;
    }
    Ok(())
}

/// The integration behind a provider, and a check that the workspace may use it with
/// these limits: forbidden when it is not provisioned there, invalid when the limits are
/// looser than its access.
pub fn usable_integration(
    tx: &mut dyn StoreTx,
    reference: &str,
    ws: &Workspace,
    limits: ProviderLimits<'_>,
) -> DomainResult<IntegrationRecord> {
    let integration = tx
        .integration(reference)?
        .ok_or_else(|| DomainError::not_found("integration", reference))?;
    let slug = integration.public.slug.clone();
    match &integration.public.workspace_id {
        Some(own) if own == &ws.id => Ok(integration),
        Some(_) => Err(DomainError::not_found("integration", reference)),
        None => {
            let access = tx
                .access(&integration.public.id, &ws.id)?
                .filter(|a| a.access.enabled)
                .ok_or_else(|| {
                    DomainError::forbidden(format!(
                        "integration `{slug}` is not enabled for workspace `{}`; provision it first: `catalog workspaces provision {} --integration {slug}`",
                        ws.slug, ws.slug
                    ))
                })?;
            check_fits(limits, &access.access, &slug, &ws.slug)?;
            Ok(integration)
        }
    }
}

/// Creates an AI provider in `ws` on an integration the workspace may use.
pub fn create(
    tx: &mut dyn StoreTx,
    ws: &Workspace,
    body: &CreateProvider,
    now: DateTime<Utc>,
) -> DomainResult<ProviderRecord> {
    let integration = usable_integration(
        tx,
        &body.integration_id,
        ws,
        ProviderLimits {
            usage: body.usage_limits.as_ref(),
            rates: body.rate_limits.as_deref(),
            concurrency: body.concurrency_limit,
        },
    )?;
    let slug = body
        .slug
        .clone()
        .unwrap_or_else(|| slugs::from_name(&body.name, "provider"));
    ensure_free_in_workspace(tx, &ws.id, &slug, Claimant::Provider)?;
    let at = timestamp(now);
    let record = ProviderRecord {
        public: Provider {
            id: uuid::Uuid::new_v4().to_string(),
            slug,
            name: body.name.clone(),
            note: body.note.clone(),
            integration_id: integration.public.slug.clone(),
            workspace_id: Some(ws.id.clone()),
            organisation_id: integration.public.organisation_id.clone(),
            ai_provider_id: Some(integration.public.ai_provider_id.clone()),
            usage_limits: body.usage_limits.clone(),
            rate_limits: body.rate_limits.clone(),
            concurrency_limit: body.concurrency_limit,
            expires_at: body.expires_at.clone(),
            usage: body.usage_limits.as_ref().map(|_| UsageState::fresh(now)),
            created_at: Some(at.clone()),
            last_updated_at: Some(at),
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
        counted(
            record.public.usage_limits.as_ref(),
            record.public.usage.as_ref(),
        ),
    )?;
    Ok(record)
}

/// Applies a partial update to a provider and saves it; its limits must still fit
/// inside its integration's access. Shared by `/providers` and `/virtual-keys`.
pub fn update(
    tx: &mut dyn StoreTx,
    record: &mut ProviderRecord,
    ws: &Workspace,
    body: &UpdateProvider,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let rates = body.rate_limits.clone().map(|r| r.into_vec());
    let p = &mut record.public;
    let old_budget = p.usage_limits.clone();
    let usage_limits = body.usage_limits.clone().apply(p.usage_limits.take());
    let rate_limits = rates.apply(p.rate_limits.take());
    let concurrency_limit = body.concurrency_limit.clone().apply(p.concurrency_limit);
    let limits = ProviderLimits {
        usage: usage_limits.as_ref(),
        rates: rate_limits.as_deref(),
        concurrency: concurrency_limit,
    };
    if record.revoked {
        // Revoked access keeps its limits; a provider must fit them for when it returns.
        if let Some(access) = tx.access(&record.integration_uuid, &ws.id)? {
            check_fits(
                limits,
                &access.access,
                &record.public.integration_id,
                &ws.slug,
            )?;
        }
    } else {
        usable_integration(tx, &record.integration_uuid, ws, limits)?;
    }
    let at = timestamp(now);
    let p = &mut record.public;
    p.usage = carry_over(
        old_budget.as_ref(),
        usage_limits.as_ref(),
        p.usage.take(),
        now,
    );
    p.usage_limits = usage_limits;
    p.rate_limits = rate_limits;
    p.concurrency_limit = concurrency_limit;
    if let Some(name) = &body.name {
        p.name = name.clone();
    }
    p.note = body.note.clone().apply(p.note.take());
    p.expires_at = body.expires_at.clone().apply(p.expires_at.take());
    if body.reset_usage == Some(true) {
        if let Some(u) = p.usage.as_mut() {
            u.reset(now);
        }
        p.last_reset_at = Some(at.clone());
    }
    p.last_updated_at = Some(at);
    tx.set_usage(
        &UsageScope::Provider(p.id.clone()),
        BUDGET,
        counted(p.usage_limits.as_ref(), p.usage.as_ref()),
    )?;
    tx.save_provider(record)?;
    Ok(())
}
