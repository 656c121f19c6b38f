//! Migrating legacy virtual keys: keys holding the same credential (by keyed
//! fingerprint) form a group that becomes one integration, provisioned to each of their
//! workspaces, and each key becomes an AI provider with the same id, slug, limits,
//! expiry, note and usage. Planning is read-only; applying migrates one group in one
//! transaction.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::error::{DomainError, DomainResult};
use super::legacy::{fingerprint, integration_config};
use super::provider_config;
use super::provisioning::{self, Grant};
use super::slugs::free_integration_slug;
use super::virtual_keys::open;
use crate::api::integration::Integration;
use crate::api::provider::Provider;
use crate::api::usage::timestamp;
use crate::api::virtual_key::{
    MigrateGroup, MigratedGroup, MigrationPlan, PlannedGroup, PlannedKey, Unmigratable,
};
use crate::api::workspace::Workspace;
use crate::crypto::{mask, Sealer};
use crate::store::{
    IntegrationRecord, ProviderRecord, StoreRead, StoreTx, UsageScope, VirtualKeyRecord, BUDGET,
};

/// The migration plan, over every workspace or narrowed to workspace `ws` (an id).
pub fn plan(
    tx: &mut dyn StoreRead,
    master: &dyn Sealer,
    ws: Option<&str>,
) -> DomainResult<MigrationPlan> {
    Ok(narrowed_plan(tx, master, ws)?.0)
}

/// Migrates one group in one transaction: the integration (created once, reused after),
/// access for each workspace, and every key turned into a provider with the same id,
/// slug, limits, expiry, note and usage. `organisation_id` owns a new integration.
pub fn migrate(
    tx: &mut dyn StoreTx,
    master: &dyn Sealer,
    organisation_id: &str,
    ws: Option<&str>,
    body: &MigrateGroup,
    now: DateTime<Utc>,
) -> DomainResult<MigratedGroup> {
    let (plan, examined) = narrowed_plan(tx, master, ws)?;
    let group = plan
        .groups
        .iter()
        .find(|g| g.group == body.group)
        .ok_or_else(|| {
            DomainError::NotFound(format!(
                "no virtual keys left in group `{}`; it may be migrated already",
                body.group
            ))
        })?;
    if let Some(shown) = body.integration.as_deref() {
        if shown != group.integration {
            return Err(DomainError::conflict(format!(
                "the plan changed since it was shown: this group now becomes integration `{}`, not `{shown}`; plan again",
                group.integration
            )));
        }
    }
    let members: Vec<&Examined> = examined
        .iter()
        .filter(|e| matches!(&e.outcome, Ok(c) if c.fingerprint == body.group))
        .collect();
    let Credential { key, config, .. } =
        members[0].outcome.clone().map_err(DomainError::Invalid)?;
    let at = timestamp(now);
    let (integration, created) = match tx.integration(&group.integration)? {
        Some(existing) if group.integration_exists => (existing, false),
        _ => {
            let id = uuid::Uuid::new_v4().to_string();
            let (public_config, secret_config) =
                provider_config::split(&group.service, config.clone());
            let secrets = json!({"key": key, "configurations": secret_config});
            let plain = serde_json::to_vec(&secrets).map_err(anyhow::Error::new)?;
            let slugs: Vec<&str> = members
                .iter()
                .map(|m| m.record.public.slug.as_str())
                .collect();
            let record = IntegrationRecord {
                public: Integration {
                    id: id.clone(),
                    slug: group.integration.clone(),
                    name: migrated_name(&group.service, &slugs),
                    ai_provider_id: group.service.clone(),
                    description: Some("Created by `catalog migrate-vkeys`".to_owned()),
                    status: Some("active".to_owned()),
                    kind: Some("organisation".to_owned()),
                    organisation_id: Some(organisation_id.to_owned()),
                    masked_key: key.as_deref().map(mask),
                    configurations: Some(public_config),
                    allow_all_models: Some(true),
                    created_at: Some(at.clone()),
                    last_updated_at: Some(at.clone()),
                    object: "integration".to_owned(),
                    ..Default::default()
                },
                sealed_secrets: master.seal(&plain, &id)?,
            };
            tx.insert_integration(&record)?;
            tx.set_meta(&format!("{FP_META}{}", body.group), &id)?;
            (record, true)
        }
    };
    let mut workspaces: Vec<&Workspace> = Vec::new();
    for m in &members {
        if workspaces.iter().any(|w| w.id == m.workspace.id) {
            continue;
        }
        if !tx
            .access(&integration.public.id, &m.workspace.id)?
            .is_some_and(|a| a.access.enabled)
        {
            provisioning::grant(
                tx,
                &integration,
                &m.workspace,
                Grant {
                    usage_limits: None,
                    rate_limits: None,
                    concurrency_limit: None,
                    create_default_provider: false,
                    default_provider_slug: None,
                },
                now,
            )?;
        }
        workspaces.push(&m.workspace);
    }
    let mut providers = Vec::new();
    for m in &members {
        let v = &m.record.public;
        tx.delete_virtual_key(&v.id)?;
        tx.insert_provider(&ProviderRecord {
            public: Provider {
                id: v.id.clone(),
                slug: v.slug.clone(),
                name: v.name.clone(),
                note: v.note.clone(),
                integration_id: integration.public.slug.clone(),
                workspace_id: v.workspace_id.clone(),
                organisation_id: integration.public.organisation_id.clone(),
                status: None,
                ai_provider_id: v.provider.clone(),
                usage_limits: v.usage_limits.clone(),
                rate_limits: v.rate_limits.clone(),
                concurrency_limit: None,
                expires_at: v.expires_at.clone(),
                last_reset_at: v.usage.as_ref().and_then(|u| u.last_reset_at.clone()),
                usage: v.usage.clone(),
                created_at: v.created_at.clone(),
                last_updated_at: Some(at.clone()),
                object: "provider".to_owned(),
            },
            integration_uuid: integration.public.id.clone(),
            revoked: false,
        })?;
        // The key's usage so far moves to the provider that replaces it.
        tx.set_usage(
            &UsageScope::Provider(v.id.clone()),
            BUDGET,
            super::limits::counted(v.usage_limits.as_ref(), v.usage.as_ref()),
        )?;
        providers.push(v.slug.clone());
    }
    Ok(MigratedGroup {
        integration: integration.public.slug.clone(),
        integration_created: created,
        providers,
        workspaces: workspaces.into_iter().map(|w| w.slug.clone()).collect(),
    })
}

/// A migratable key's fingerprint, key and integration configuration.
#[derive(Clone)]
struct Credential {
    fingerprint: String,
    key: Option<String>,
    config: Map<String, Value>,
}

/// A key examined for migration: its credential, or why it cannot be migrated.
struct Examined {
    record: VirtualKeyRecord,
    workspace: Workspace,
    outcome: Result<Credential, String>,
}

fn examine(
    tx: &mut dyn StoreRead,
    master: &dyn Sealer,
    ws: Option<&str>,
) -> DomainResult<Vec<Examined>> {
    let mut out = Vec::new();
    for record in tx.virtual_keys(ws)? {
        let Some(workspace) = tx.workspace(record.public.workspace_id.as_deref().unwrap_or(""))?
        else {
            continue;
        };
        let service = record.public.provider.clone().unwrap_or_default();
        let secrets = open(master, &record)?;
        let config = integration_config(&service, record.public.model_config.as_ref());
        let outcome = match provider_config::validate(&service, &config, secrets.key.is_some()) {
            Ok(()) => Ok(Credential {
                fingerprint: fingerprint(master, &service, secrets.key.as_deref(), &config)?,
                key: secrets.key,
                config,
            }),
            Err(reason) => Err(format!(
                "its settings do not make a valid `{service}` integration: {reason}"
            )),
        };
        out.push(Examined {
            record,
            workspace,
            outcome,
        });
    }
    Ok(out)
}

const FP_META: &str = "vk_fingerprint:";

/// The integration a group becomes: one an earlier run created, or a new slug free both
/// in the store and among the names this plan already gave (`taken`).
fn group_integration(
    tx: &mut dyn StoreRead,
    fp: &str,
    service: &str,
    first_key: &str,
    taken: &mut HashSet<String>,
) -> DomainResult<(String, Option<IntegrationRecord>)> {
    if let Some(id) = tx.meta(&format!("{FP_META}{fp}"))? {
        if let Some(existing) = tx.integration(&id)? {
            taken.insert(existing.public.slug.clone());
            return Ok((existing.public.slug.clone(), Some(existing)));
        }
    }
    let slug = free_integration_slug(tx, &format!("{service}-{first_key}"), taken)?;
    Ok((slug, None))
}

/// The migration plan. Names are decided over every workspace's keys, then the plan is
/// narrowed to `ws`: a one-workspace run names each group exactly as a full run would, so
/// a later run never renames what an earlier one created, and the plan shown is the one
/// applied.
fn narrowed_plan(
    tx: &mut dyn StoreRead,
    master: &dyn Sealer,
    ws: Option<&str>,
) -> DomainResult<(MigrationPlan, Vec<Examined>)> {
    let (plan, examined) = plan_all(tx, master)?;
    let Some(ws) = ws else {
        return Ok((plan, examined));
    };
    let in_ws = |e: &Examined| e.workspace.id == ws;
    let slug_of_ws = examined
        .iter()
        .find(|e| in_ws(e))
        .map(|e| e.workspace.slug.clone());
    let keys_in_ws: HashSet<String> = examined
        .iter()
        .filter(|e| in_ws(e))
        .map(|e| e.record.public.slug.clone())
        .collect();
    let groups = plan
        .groups
        .into_iter()
        .filter_map(|mut g| {
            g.keys.retain(|k| Some(&k.workspace) == slug_of_ws.as_ref());
            g.workspaces.retain(|w| Some(w) == slug_of_ws.as_ref());
            (!g.keys.is_empty()).then_some(g)
        })
        .collect();
    let narrowed = MigrationPlan {
        groups,
        unmigratable: plan
            .unmigratable
            .into_iter()
            .filter(|u| keys_in_ws.contains(&u.slug) && Some(&u.workspace) == slug_of_ws.as_ref())
            .collect(),
        already_migrated: tx.providers(Some(ws), None)?.len() as u64,
    };
    Ok((narrowed, examined.into_iter().filter(in_ws).collect()))
}

fn plan_all(
    tx: &mut dyn StoreRead,
    master: &dyn Sealer,
) -> DomainResult<(MigrationPlan, Vec<Examined>)> {
    let examined = examine(tx, master, None)?;
    let mut taken = HashSet::new();
    let mut groups: BTreeMap<String, PlannedGroup> = BTreeMap::new();
    let mut order = Vec::new();
    let mut unmigratable = Vec::new();
    for e in &examined {
        let v = &e.record.public;
        match &e.outcome {
            Err(reason) => unmigratable.push(Unmigratable {
                slug: v.slug.clone(),
                workspace: e.workspace.slug.clone(),
                reason: reason.clone(),
            }),
            Ok(Credential {
                fingerprint: fp, ..
            }) => {
                if !groups.contains_key(fp) {
                    let service = v.provider.clone().unwrap_or_default();
                    let (integration, existing) =
                        group_integration(tx, fp, &service, &v.slug, &mut taken)?;
                    order.push(fp.clone());
                    groups.insert(
                        fp.clone(),
                        PlannedGroup {
                            group: fp.clone(),
                            service,
                            integration,
                            integration_exists: existing.is_some(),
                            workspaces: Vec::new(),
                            keys: Vec::new(),
                        },
                    );
                }
                let g = groups.get_mut(fp).expect("inserted above");
                if !g.workspaces.contains(&e.workspace.slug) {
                    g.workspaces.push(e.workspace.slug.clone());
                }
                g.keys.push(PlannedKey {
                    slug: v.slug.clone(),
                    workspace: e.workspace.slug.clone(),
                    expires_at: v.expires_at.clone(),
                    usage_limits: v.usage_limits.clone(),
                    rate_limits: v.rate_limits.clone(),
                });
            }
        }
    }
    let already_migrated = tx.providers(None, None)?.len() as u64;
    let plan = MigrationPlan {
        groups: order
            .into_iter()
            .filter_map(|fp| groups.remove(&fp))
            .collect(),
        unmigratable,
        already_migrated,
    };
    Ok((plan, examined))
}

/// The name of an integration made from virtual keys, within the length names may have.
fn migrated_name(service: &str, slugs: &[&str]) -> String {
    let full = format!("{service} (from virtual keys {})", slugs.join(", "));
    if full.chars().count() <= crate::api::text::NAME_MAX {
        return full;
    }
    let cut: String = full.chars().take(crate::api::text::NAME_MAX - 2).collect();
    format!("{cut}…)")
}
