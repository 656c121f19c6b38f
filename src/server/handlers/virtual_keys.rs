//! `/virtual-keys`: the legacy shape. Unmigrated keys live in their own table with their
//! own sealed credential; every AI provider is listable here too (as after the hosted
//! catalog's migration), and every unmigrated key is readable as a provider.
//! Extensions: `GET /virtual-keys/migration-plan` and `POST /virtual-keys/migrate`.

use std::collections::{BTreeMap, HashSet};

use crate::server::extract::Path;
use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::integrations::check_slug;
use super::providers::{apply_update, check_expiry, check_limits, view};
use super::{now, short_suffix, slugify};
use crate::api::integration::Integration;
use crate::api::provider::{OneOrMany, Provider, UpdateProvider};
use crate::api::schema::Empty;
use crate::api::usage::{carry_over, UsageState};
use crate::api::virtual_key::{
    CreateVirtualKey, LegacyAnswer, MigrateGroup, MigratedGroup, MigrationPlan, PlannedGroup,
    PlannedKey, Unmigratable, UpdateVirtualKey, VirtualKey,
};
use crate::api::workspace::Workspace;
use crate::api::ListEnvelope;
use crate::crypto::{mask, MasterKey};
use crate::server::auth::Principal;
use crate::server::error::{refuse_unimplemented, ApiError, ApiResult};
use crate::server::extract::{Body, Query};
use crate::server::legacy::{fingerprint, integration_config, VkSecrets};
use crate::server::provisioning::{self, Grant};
use crate::server::{provider_config, AppState};
use crate::store::{
    IntegrationRecord, ProviderRecord, StoreRead, UsageScope, VirtualKeyRecord, BUDGET,
};

pub fn master(state: &AppState) -> ApiResult<MasterKey> {
    state
        .vault
        .key()
        .cloned()
        .map_err(|e| ApiError::internal(format!("cannot use the master key: {e:#}")))
}

pub fn open(key: &MasterKey, record: &VirtualKeyRecord) -> ApiResult<VkSecrets> {
    let plain = key
        .open(&record.sealed_secrets, &record.public.id)
        .map_err(|e| {
            ApiError::internal(format!("cannot open a virtual key's credential: {e:#}"))
        })?;
    serde_json::from_slice(&plain).map_err(|e| ApiError::internal(e.to_string()))
}

fn seal(key: &MasterKey, id: &str, secrets: &VkSecrets) -> ApiResult<Vec<u8>> {
    let plain = serde_json::to_vec(secrets).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(key.seal(&plain, id))
}

/// The status of an unmigrated key: `expired`, `exhausted` or `active`.
pub fn vk_status(v: &VirtualKey, now: DateTime<Utc>) -> &'static str {
    let expired = v
        .expires_at
        .as_deref()
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .is_some_and(|e| e < now);
    let exhausted = matches!((&v.usage_limits, &v.usage), (Some(l), Some(u)) if u.current_usage >= l.credit_limit);
    if expired {
        "expired"
    } else if exhausted {
        "exhausted"
    } else {
        "active"
    }
}

fn vk_view(record: &VirtualKeyRecord, now: DateTime<Utc>) -> VirtualKey {
    let mut v = record.public.clone();
    if let (Some(u), Some(l)) = (v.usage.as_mut(), v.usage_limits.as_ref()) {
        u.refresh(l, now);
    }
    v.status = Some(vk_status(&v, now).to_owned());
    v
}

/// An AI provider in the virtual-key shape.
pub fn provider_as_vk(p: &Provider) -> VirtualKey {
    VirtualKey {
        id: p.id.clone(),
        slug: p.slug.clone(),
        name: p.name.clone(),
        note: p.note.clone(),
        provider: p.ai_provider_id.clone(),
        workspace_id: p.workspace_id.clone(),
        integration_id: Some(p.integration_id.clone()),
        status: p.status.clone(),
        masked_api_key: None,
        model_config: None,
        usage_limits: p.usage_limits.clone(),
        rate_limits: p.rate_limits.clone(),
        expires_at: p.expires_at.clone(),
        usage: p.usage.clone(),
        created_at: p.created_at.clone(),
        object: "virtual-key".to_owned(),
    }
}

/// An unmigrated virtual key in the provider shape (no integration yet).
pub fn vk_as_provider(record: &VirtualKeyRecord, now: DateTime<Utc>) -> Provider {
    let v = vk_view(record, now);
    Provider {
        id: v.id,
        slug: v.slug,
        name: v.name,
        note: v.note,
        integration_id: String::new(),
        workspace_id: v.workspace_id,
        organisation_id: None,
        status: v.status,
        ai_provider_id: v.provider,
        usage_limits: v.usage_limits,
        rate_limits: v.rate_limits,
        expires_at: v.expires_at,
        last_reset_at: None,
        usage: v.usage,
        created_at: v.created_at,
        last_updated_at: None,
        object: "provider".to_owned(),
    }
}

/// Checks a legacy key's settings, naming the legacy fields.
fn check_legacy(provider: &str, has_key: bool, model_config: &Value) -> ApiResult<()> {
    if provider == "azure-openai" {
        if model_config
            .get("resourceName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            return Err(ApiError::invalid(
                "`resourceName` is required for an azure-openai virtual key",
            ));
        }
        let has_deployments = model_config
            .get("deploymentConfig")
            .and_then(Value::as_array)
            .is_some_and(|d| !d.is_empty())
            || (model_config.get("deploymentName").is_some()
                && model_config.get("apiVersion").is_some());
        if !has_deployments {
            return Err(ApiError::invalid(
                "`deploymentConfig` (or `deploymentName` and `apiVersion`) is required for an azure-openai virtual key",
            ));
        }
    }
    let config = integration_config(provider, Some(model_config));
    provider_config::validate(provider, &config, has_key).map_err(|m| {
        ApiError::invalid(format!(
            "this virtual key could not work as an integration: {m}"
        ))
    })
}

fn model_config(body: &CreateVirtualKey) -> Value {
    let mut mc = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            mc.insert(k.to_owned(), v);
        }
    };
    put(
        "resourceName",
        body.resource_name.clone().map(Value::String),
    );
    put("apiVersion", body.api_version.clone().map(Value::String));
    put(
        "deploymentName",
        body.deployment_name.clone().map(Value::String),
    );
    put(
        "deploymentConfig",
        body.deployment_config.as_ref().map(|d| json!(d)),
    );
    Value::Object(mc)
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
    if let Err(e) = crate::services::lookup(&body.provider) {
        return Err(ApiError::invalid(format!("`provider`: {e}")));
    }
    if let Some(s) = &body.slug {
        check_slug("slug", s)?;
    }
    check_limits(body.usage_limits.as_ref(), body.rate_limits.as_ref())?;
    check_expiry(body.expires_at.as_deref())?;
    let key = body.key.clone().filter(|k| !k.is_empty());
    let mc = model_config(&body);
    check_legacy(&body.provider, key.is_some(), &mc)?;
    let ws =
        scope_workspace(&state, &principal, body.workspace_id.as_deref())?.ok_or_else(|| {
            ApiError::invalid("`workspace_id` is required with an organisation API key")
        })?;
    let master = master(&state)?;
    let id = uuid::Uuid::new_v4().to_string();
    let slug = body.slug.clone().unwrap_or_else(|| {
        let base = slugify(&body.name, 200);
        format!(
            "{}-{}",
            if base.is_empty() { "vk" } else { &base },
            short_suffix()
        )
    });
    let at = Utc::now();
    let record = VirtualKeyRecord {
        public: VirtualKey {
            id: id.clone(),
            slug: slug.clone(),
            name: body.name.clone(),
            note: body.note.clone(),
            provider: Some(body.provider.clone()),
            workspace_id: Some(ws.id.clone()),
            integration_id: None,
            status: None,
            masked_api_key: key.as_deref().map(mask),
            model_config: Some(mc),
            usage_limits: body.usage_limits.clone(),
            rate_limits: body.rate_limits.clone(),
            expires_at: body.expires_at.clone(),
            usage: body.usage_limits.as_ref().map(|_| UsageState::fresh(at)),
            created_at: Some(now()),
            object: "virtual-key".to_owned(),
        },
        sealed_secrets: seal(&master, &id, &VkSecrets { key })?,
    };
    let mut tx = state.store.begin()?;
    tx.insert_virtual_key(&record)?;
    tx.set_usage(
        &UsageScope::VirtualKey(record.public.id.clone()),
        BUDGET,
        record.public.usage.as_ref(),
    )?;
    tx.commit()?;
    Ok(Json(LegacyAnswer::new(slug)))
}

/// Every virtual key in scope: unmigrated keys, then AI providers in the legacy shape.
fn all_keys(state: &AppState, ws: Option<&Workspace>) -> ApiResult<Vec<VirtualKey>> {
    let now = Utc::now();
    let mut out = Vec::new();
    let mut db = state.store.read()?;
    let ws_id = ws.map(|w| w.id.as_str());
    out.extend(db.virtual_keys(ws_id)?.iter().map(|v| vk_view(v, now)));
    out.extend(
        db.providers(ws_id, None)?
            .iter()
            .map(|p| provider_as_vk(&view(p, now))),
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
    check_limits(body.usage_limits.as_value(), body.rate_limits.as_value())?;
    let target = one(&state, &principal, &slug, &query)?;
    let ws_id = target.workspace_id.clone().unwrap_or_default();
    let ws = super::workspaces::visible(&state, &principal, &ws_id)?;
    if body.key.is_some() {
        super::organisation::require_workspace_credentials_allowed(
            &mut *state.store.read()?,
            &principal,
        )?;
    }
    let master = if body.key.is_some() {
        Some(master(&state)?)
    } else {
        None
    };
    let at = Utc::now();
    let mut store_tx = state.store.begin()?;
    let tx = &mut *store_tx;
    if let Some(mut record) = tx.virtual_key(&ws.id, &target.id)? {
        let v = &mut record.public;
        if let Some(name) = &body.name {
            v.name = name.clone();
        }
        v.note = body.note.clone().apply(v.note.take());
        if let Some(d) = &body.deployment_config {
            let mut mc = v.model_config.take().unwrap_or_else(|| json!({}));
            mc["deploymentConfig"] = json!(d);
            v.model_config = Some(mc);
        }
        let old = v.usage_limits.clone();
        v.usage_limits = body.usage_limits.clone().apply(v.usage_limits.take());
        v.usage = carry_over(old.as_ref(), v.usage_limits.as_ref(), v.usage.take(), at);
        v.rate_limits = body.rate_limits.clone().apply(v.rate_limits.take());
        if let (Some(key), Some(master)) = (&body.key, &master) {
            v.masked_api_key = Some(mask(key));
            record.sealed_secrets = seal(
                master,
                &record.public.id,
                &VkSecrets {
                    key: Some(key.clone()),
                },
            )?;
        }
        let provider = record.public.provider.clone().unwrap_or_default();
        let mc = record
            .public
            .model_config
            .clone()
            .unwrap_or_else(|| json!({}));
        check_legacy(&provider, record.public.masked_api_key.is_some(), &mc)?;
        tx.save_virtual_key(&record)?;
        tx.set_usage(
            &UsageScope::VirtualKey(record.public.id.clone()),
            BUDGET,
            record.public.usage.as_ref(),
        )?;
        store_tx.commit()?;
        return Ok(Json(LegacyAnswer::new(target.slug)));
    }
    let mut record = tx
        .provider(&ws.id, &target.id)?
        .ok_or_else(|| ApiError::not_found(format!("virtual key `{slug}` not found")))?;
    if body.key.is_some() || body.deployment_config.is_some() {
        return Err(ApiError::invalid(format!(
            "virtual key `{slug}` is now an AI provider of integration `{}`; change its credential there (`catalog integrations rotate-key {}`)",
            record.public.integration_id, record.public.integration_id
        ))
        );
    }
    let update = UpdateProvider {
        name: body.name.clone(),
        note: body.note.clone(),
        usage_limits: body.usage_limits.clone(),
        rate_limits: body.rate_limits.clone().map(OneOrMany::Many),
        ..Default::default()
    };
    apply_update(tx, &mut record, &ws, &update, at)?;
    tx.save_provider(&record)?;
    store_tx.commit()?;
    Ok(Json(LegacyAnswer::new(target.slug)))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
) -> ApiResult<Json<Empty>> {
    let target = one(&state, &principal, &slug, &query)?;
    let mut store_tx = state.store.begin()?;
    let tx = &mut *store_tx;
    tx.delete_virtual_key(&target.id)?;
    tx.delete_provider(&target.id)?;
    store_tx.commit()?;
    Ok(Json(Empty {}))
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
    master: &MasterKey,
    ws: Option<&str>,
) -> ApiResult<Vec<Examined>> {
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
                fingerprint: fingerprint(master, &service, secrets.key.as_deref(), &config),
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
) -> ApiResult<(String, Option<IntegrationRecord>)> {
    if let Some(id) = tx.meta(&format!("{FP_META}{fp}"))? {
        if let Some(existing) = tx.integration(&id)? {
            taken.insert(existing.public.slug.clone());
            return Ok((existing.public.slug.clone(), Some(existing)));
        }
    }
    let base = format!("{service}-{first_key}");
    let mut slug = base.clone();
    let mut n = 2;
    while taken.contains(&slug) || tx.integration(&slug)?.is_some() {
        slug = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(slug.clone());
    Ok((slug, None))
}

/// The migration plan. Names are decided over every workspace's keys, then the plan is
/// narrowed to `ws`: a one-workspace run names each group exactly as a full run would, so
/// a later run never renames what an earlier one created, and the plan shown is the one
/// applied.
fn plan(
    tx: &mut dyn StoreRead,
    master: &MasterKey,
    ws: Option<&str>,
) -> ApiResult<(MigrationPlan, Vec<Examined>)> {
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
    master: &MasterKey,
) -> ApiResult<(MigrationPlan, Vec<Examined>)> {
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

pub async fn migration_plan(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<MigrationPlan>> {
    principal.require_organisation("virtual key migration")?;
    let ws = scope_workspace(&state, &principal, query.get("workspace_id"))?;
    let master = master(&state)?;
    let mut db = state.store.read()?;
    Ok(Json(
        plan(&mut *db, &master, ws.as_ref().map(|w| w.id.as_str()))?.0,
    ))
}

/// Migrates one group in one transaction: the integration (created once, reused after),
/// access for each workspace, and every key turned into a provider with the same id, slug,
/// limits, expiry, note and usage.
pub async fn migrate(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Body(body): Body<MigrateGroup>,
) -> ApiResult<Json<MigratedGroup>> {
    principal.require_organisation("virtual key migration")?;
    let ws = scope_workspace(&state, &principal, body.workspace_id.as_deref())?;
    let master = master(&state)?;
    let now = Utc::now();
    let mut store_tx = state.store.begin()?;
    let tx = &mut *store_tx;
    let (plan, examined) = plan(tx, &master, ws.as_ref().map(|w| w.id.as_str()))?;
    let group = plan
        .groups
        .iter()
        .find(|g| g.group == body.group)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no virtual keys left in group `{}`; it may be migrated already",
                body.group
            ))
        })?;
    if let Some(shown) = body.integration.as_deref() {
        if shown != group.integration {
            return Err(ApiError::conflict(format!(
                "the plan changed since it was shown: this group now becomes integration `{}`, not `{shown}`; plan again",
                group.integration
            )));
        }
    }
    let members: Vec<&Examined> = examined
        .iter()
        .filter(|e| matches!(&e.outcome, Ok(c) if c.fingerprint == body.group))
        .collect();
    let Credential { key, config, .. } = members[0].outcome.clone().map_err(ApiError::invalid)?;
    let (integration, created) = match tx.integration(&group.integration)? {
        Some(existing) if group.integration_exists => (existing, false),
        _ => {
            let id = uuid::Uuid::new_v4().to_string();
            let (public_config, secret_config) =
                provider_config::split(&group.service, config.clone());
            let secrets = json!({"key": key, "configurations": secret_config});
            let plain =
                serde_json::to_vec(&secrets).map_err(|e| ApiError::internal(e.to_string()))?;
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
                    organisation_id: Some(tx_org(&state)),
                    masked_key: key.as_deref().map(mask),
                    configurations: Some(public_config),
                    allow_all_models: Some(true),
                    created_at: Some(now_str()),
                    last_updated_at: Some(now_str()),
                    object: "integration".to_owned(),
                    ..Default::default()
                },
                sealed_secrets: master.seal(&plain, &id),
            };
            tx.insert_integration(&record)?;
            tx.set_meta(&format!("{FP_META}{}", body.group), &id)?;
            (record, true)
        }
    };
    let mut workspaces = Vec::new();
    for m in &members {
        if !workspaces
            .iter()
            .any(|w: &Workspace| w.id == m.workspace.id)
        {
            if !tx
                .access(&integration.public.id, &m.workspace.id)?
                .is_some_and(|a| a.enabled)
            {
                provisioning::grant(
                    tx,
                    &integration,
                    &m.workspace,
                    Grant {
                        usage_limits: None,
                        rate_limits: None,
                        create_default_provider: false,
                        default_provider_slug: None,
                    },
                    now,
                )?;
            }
            workspaces.push(m.workspace.clone());
        }
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
                expires_at: v.expires_at.clone(),
                last_reset_at: v.usage.as_ref().and_then(|u| u.last_reset_at.clone()),
                usage: v.usage.clone(),
                created_at: v.created_at.clone(),
                last_updated_at: Some(now_str()),
                object: "provider".to_owned(),
            },
            integration_uuid: integration.public.id.clone(),
            revoked: false,
        })?;
        // The key's usage so far moves to the provider that replaces it.
        tx.set_usage(
            &UsageScope::Provider(v.id.clone()),
            BUDGET,
            v.usage.as_ref(),
        )?;
        providers.push(v.slug.clone());
    }
    store_tx.commit()?;
    Ok(Json(MigratedGroup {
        integration: integration.public.slug.clone(),
        integration_created: created,
        providers,
        workspaces: workspaces.into_iter().map(|w| w.slug).collect(),
    }))
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

fn now_str() -> String {
    now()
}

fn tx_org(state: &AppState) -> String {
    state.store.organisation_id().to_owned()
}
