//! Legacy virtual keys: creating and changing unmigrated keys (whose settings must be
//! able to become an integration), and the two shapes one object can be read in (a key
//! as a provider, a provider as a key). Their migration is [`super::vk_migration`].

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::error::{DomainError, DomainResult};
use super::legacy::{integration_config, VkSecrets};
use super::limits::counted;
use super::provider_config;
use super::providers::{self, check_expiry, check_limits};
use super::slugs::{self, check_slug, ensure_free_in_workspace, Claimant};
use crate::api::provider::{OneOrMany, Provider, UpdateProvider};
use crate::api::usage::{carry_over, timestamp, UsageState};
use crate::api::virtual_key::{CreateVirtualKey, UpdateVirtualKey, VirtualKey};
use crate::api::workspace::Workspace;
use crate::crypto::{mask, Sealer};
use crate::store::{StoreTx, UsageScope, VirtualKeyRecord, BUDGET};

/// The credential sealed in a virtual key.
pub fn open(master: &dyn Sealer, record: &VirtualKeyRecord) -> DomainResult<VkSecrets> {
    let plain = master
        .open(&record.sealed_secrets, &record.public.id)
        .map_err(|e| e.context("cannot open a virtual key's credential"))?;
    serde_json::from_slice(&plain).map_err(|e| {
        DomainError::Internal(anyhow::Error::new(e).context("a virtual key's credential"))
    })
}

fn seal(master: &dyn Sealer, id: &str, secrets: &VkSecrets) -> DomainResult<Vec<u8>> {
    let plain = serde_json::to_vec(secrets).map_err(anyhow::Error::new)?;
    Ok(master.seal(&plain, id)?)
}

/// An AI provider in the virtual-key shape.
pub fn as_virtual_key(p: &Provider) -> VirtualKey {
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

/// An unmigrated virtual key (as shown) in the provider shape: no integration yet.
pub fn as_provider(v: VirtualKey) -> Provider {
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
        concurrency_limit: None,
        expires_at: v.expires_at,
        last_reset_at: None,
        usage: v.usage,
        created_at: v.created_at,
        last_updated_at: None,
        object: "provider".to_owned(),
    }
}

/// Checks a legacy key's settings, naming the legacy fields: they must be able to become
/// an integration when the key is migrated.
fn check_legacy(provider: &str, has_key: bool, model_config: &Value) -> DomainResult<()> {
    if provider == "azure-openai" {
        if model_config
            .get("resourceName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            return Err(DomainError::invalid(
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
            return Err(DomainError::invalid(
                "`deploymentConfig` (or `deploymentName` and `apiVersion`) is required for an azure-openai virtual key",
            ));
        }
    }
    let config = integration_config(provider, Some(model_config));
    provider_config::validate(provider, &config, has_key).map_err(|m| {
        DomainError::invalid(format!(
            "this virtual key could not work as an integration: {m}"
        ))
    })
}

/// The legacy `model_config` a create request's settings make.
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

fn given_key(key: Option<&String>) -> Option<String> {
    key.filter(|k| !k.is_empty()).cloned()
}

/// Checks a create request on its own: a known service, a well-formed slug, limits and
/// expiry, and settings that could become an integration.
pub fn check_create(body: &CreateVirtualKey) -> DomainResult<()> {
    if let Err(e) = crate::services::lookup(&body.provider) {
        return Err(DomainError::invalid(format!("`provider`: {e}")));
    }
    if let Some(s) = &body.slug {
        check_slug("slug", s)?;
    }
    check_limits(body.usage_limits.as_ref(), body.rate_limits.as_ref())?;
    check_expiry(body.expires_at.as_deref())?;
    check_legacy(
        &body.provider,
        given_key(body.key.as_ref()).is_some(),
        &model_config(body),
    )
}

/// Creates an unmigrated virtual key in `ws`, its credential sealed with `master`.
pub fn create(
    tx: &mut dyn StoreTx,
    master: &dyn Sealer,
    ws: &Workspace,
    body: &CreateVirtualKey,
    now: DateTime<Utc>,
) -> DomainResult<VirtualKeyRecord> {
    check_create(body)?;
    let key = given_key(body.key.as_ref());
    let id = uuid::Uuid::new_v4().to_string();
    let slug = body
        .slug
        .clone()
        .unwrap_or_else(|| slugs::from_name(&body.name, "vk"));
    ensure_free_in_workspace(tx, &ws.id, &slug, Claimant::VirtualKey)?;
    let record = VirtualKeyRecord {
        public: VirtualKey {
            id: id.clone(),
            slug,
            name: body.name.clone(),
            note: body.note.clone(),
            provider: Some(body.provider.clone()),
            workspace_id: Some(ws.id.clone()),
            integration_id: None,
            status: None,
            masked_api_key: key.as_deref().map(mask),
            model_config: Some(model_config(body)),
            usage_limits: body.usage_limits.clone(),
            rate_limits: body.rate_limits.clone(),
            expires_at: body.expires_at.clone(),
            usage: body.usage_limits.as_ref().map(|_| UsageState::fresh(now)),
            created_at: Some(timestamp(now)),
            object: "virtual-key".to_owned(),
        },
        sealed_secrets: seal(master, &id, &VkSecrets { key })?,
    };
    tx.insert_virtual_key(&record)?;
    tx.set_usage(
        &UsageScope::VirtualKey(record.public.id.clone()),
        BUDGET,
        counted(
            record.public.usage_limits.as_ref(),
            record.public.usage.as_ref(),
        ),
    )?;
    Ok(record)
}

/// Changes the key `id` of workspace `ws` (named `slug` in messages): an unmigrated key
/// in place, or the AI provider it became (whose credential belongs to its integration).
/// `master` is needed when the request sets a new `key`.
pub fn update(
    tx: &mut dyn StoreTx,
    master: Option<&dyn Sealer>,
    ws: &Workspace,
    id: &str,
    slug: &str,
    body: &UpdateVirtualKey,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    if let Some(mut record) = tx.virtual_key(&ws.id, id)? {
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
        v.usage = carry_over(old.as_ref(), v.usage_limits.as_ref(), v.usage.take(), now);
        v.rate_limits = body.rate_limits.clone().apply(v.rate_limits.take());
        if let (Some(key), Some(master)) = (&body.key, master) {
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
            counted(
                record.public.usage_limits.as_ref(),
                record.public.usage.as_ref(),
            ),
        )?;
        return Ok(());
    }
    let mut record = tx
        .provider(&ws.id, id)?
        .ok_or_else(|| DomainError::not_found("virtual key", slug))?;
    if body.key.is_some() || body.deployment_config.is_some() {
        return Err(DomainError::invalid(format!(
            "virtual key `{slug}` is now an AI provider of integration `{}`; change its credential there (`catalog integrations rotate-key {}`)",
            record.public.integration_id, record.public.integration_id
        )));
    }
    let update = UpdateProvider {
        name: body.name.clone(),
        note: body.note.clone(),
        usage_limits: body.usage_limits.clone(),
        rate_limits: body.rate_limits.clone().map(OneOrMany::Many),
        ..Default::default()
    };
    providers::update(tx, &mut record, ws, &update, now)
}
