//! The live catalog read through the Admin API client into the file's shape, so that
//! `export` writes it, `plan` compares the two, and a fingerprint pins it. Runtime state
//! (usage, windows, alerts, API keys) is never read into it.

use crate::domain::provisioning::AUTO_NOTE;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::file::{
    AccessSpec, Budget, CatalogFile, ConfigSpec, CustomModel, IntegrationSpec, ModelsSpec,
    OrganisationSpec, Prices, ProviderSpec, Rate, SecretRef, WorkspaceSpec,
};
use crate::api::configs::{Config, ConfigStatus};
use crate::api::integration::Integration;
use crate::api::models::{cents_per_token_to_usd_per_mtok, IntegrationModel, PricingConfig};
use crate::api::workspace::Workspace;
use crate::client::{is_missing, Client};
use crate::services;

/// The live catalog: the file it amounts to, and what applying needs to reach it.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub file: CatalogFile,
    /// Workspaces by name.
    pub workspaces: BTreeMap<String, Workspace>,
    /// Integrations by slug, as read.
    pub integrations: BTreeMap<String, Integration>,
    /// Each integration's explicit model records, by slug.
    pub models: BTreeMap<String, BTreeMap<String, IntegrationModel>>,
    /// Whether the server keeps organisation settings (an extension of this catalog's
    /// server; Portkey's hosted API has none).
    pub org_settings: bool,
    /// The secret versions recorded by earlier applies (`None`: the server cannot record them).
    pub secret_versions: Option<BTreeMap<String, u64>>,
    /// Workspace names that are ambiguous (two workspaces share the name): left alone.
    pub duplicate_names: Vec<String>,
    /// Saved configs by workspace name (`None`: the organisation's) and name, as read.
    pub configs: BTreeMap<(Option<String>, String), Config>,
    /// Configs that share their name in a workspace (`NAME (WORKSPACE)`): left alone.
    pub duplicate_configs: Vec<String>,
    /// The names of each workspace's API keys, by workspace id (`None`: the key in use
    /// may not list them). A file never governs API keys; pruning must not take them.
    pub api_keys: Option<BTreeMap<String, Vec<String>>>,
    /// The default providers as provisioning made them (not in the file's view):
    /// (workspace name, integration slug).
    pub plain_defaults: Vec<(String, String)>,
}

/// How messages name a config: `Fallback chain (eng)`.
pub fn config_label(workspace: Option<&str>, name: &str) -> String {
    format!("{name} ({})", workspace.unwrap_or("organisation"))
}

/// The key a secret's version is recorded under: `SLUG/key`, `SLUG/FIELD`,
/// `SLUG/custom_headers.NAME`.
pub fn version_key(integration: &str, target: &str) -> String {
    format!("{integration}/{target}")
}

/// The environment variable an exported secret reference names: `AZURE_PROD_KEY`.
pub fn env_name(integration: &str, target: &str) -> String {
    let raw = format!("{integration}_{target}");
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Gives every integration's secret references variables of their own: two slugs that
/// read alike in capitals (`team-oa`, `team_oa`) would otherwise both name
/// `TEAM_OA_KEY`, and applying the export would give both one credential.
fn unique_env_names(file: &mut CatalogFile) -> anyhow::Result<()> {
    fn walk(v: &mut Value, claim: &mut dyn FnMut(&mut String)) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(name)) = map.get_mut("env") {
                    claim(name);
                }
                for child in map.values_mut() {
                    walk(child, claim);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, claim)),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(&*file)?;
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    let mut renamed = false;
    if let Some(integrations) = value.get_mut("integrations").and_then(Value::as_array_mut) {
        for (i, g) in integrations.iter_mut().enumerate() {
            let mut mine: BTreeMap<String, String> = BTreeMap::new();
            walk(g, &mut |name: &mut String| {
                if let Some(new) = mine.get(name.as_str()) {
                    *name = new.clone();
                    return;
                }
                let original = name.clone();
                let mut candidate = original.clone();
                let mut n = 2;
                while owner.get(&candidate).is_some_and(|o| *o != i) {
                    candidate = format!("{original}_{n}");
                    n += 1;
                }
                owner.insert(candidate.clone(), i);
                if candidate != original {
                    renamed = true;
                }
                mine.insert(original, candidate.clone());
                *name = candidate;
            });
        }
    }
    if renamed {
        *file = serde_json::from_value(value)?;
    }
    Ok(())
}

fn secret_ref(
    versions: &Option<BTreeMap<String, u64>>,
    integration: &str,
    target: &str,
    env_target: &str,
) -> SecretRef {
    SecretRef {
        version: versions
            .as_ref()
            .and_then(|v| v.get(&version_key(integration, target)).copied()),
        ..SecretRef::env(env_name(integration, env_target))
    }
}

fn prices_of(p: &PricingConfig) -> Prices {
    let usd =
        |x: &Option<crate::api::models::Price>| x.map(|p| cents_per_token_to_usd_per_mtok(p.price));
    Prices {
        input: usd(&p.pay_as_you_go.request_token),
        output: usd(&p.pay_as_you_go.response_token),
        cache_read: usd(&p.pay_as_you_go.cache_read_input_token),
    }
}

pub fn is_custom(m: &IntegrationModel) -> bool {
    m.is_custom == Some(true) || m.is_finetune == Some(true)
}

/// A model list in the file's shape.
pub fn models_spec(allow_all: bool, records: &BTreeMap<String, IntegrationModel>) -> ModelsSpec {
    let mut spec = ModelsSpec {
        allow_all,
        ..ModelsSpec::default()
    };
    for m in records.values() {
        let enabled = m.enabled.unwrap_or(true);
        let prices = m.pricing_config.as_ref().map(prices_of);
        if is_custom(m) {
            spec.custom.push(CustomModel {
                slug: m.slug.clone(),
                finetune: m.is_finetune == Some(true),
                base: m.base_model_slug.clone(),
                custom_host: m
                    .configurations
                    .as_ref()
                    .and_then(|c| c.custom_host.clone()),
                enabled,
                prices,
            });
            continue;
        }
        if enabled {
            spec.allow.push(m.slug.clone());
        } else {
            spec.deny.push(m.slug.clone());
        }
        if let Some(p) = prices {
            spec.prices.insert(m.slug.clone(), p);
        }
    }
    spec
}

/// How refusals name an API key: `` `name` (id) ``, the id being what `catalog api-keys
/// delete` takes.
pub fn key_label(key: &crate::api::api_key::ApiKey) -> String {
    format!("`{}` ({})", key.name, key.id)
}

/// Reads the live catalog.
pub fn read(client: &Client) -> anyhow::Result<Live> {
    let api_keys = client.list_api_keys(None).ok().map(|keys| {
        let mut by_workspace: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for k in keys {
            if let Some(ws) = k.workspace_id.clone() {
                by_workspace.entry(ws).or_default().push(key_label(&k));
            }
        }
        by_workspace
    });
    let mut live = Live {
        api_keys,
        ..Live::default()
    };
    match client.org_settings() {
        Ok(s) => {
            live.org_settings = true;
            live.secret_versions = Some(s.secret_versions.clone().unwrap_or_default());
            live.file.organisation = Some(OrganisationSpec {
                allow_workspace_integrations: s.allow_workspace_integrations,
            });
        }
        Err(e) if is_missing(&e) => {}
        Err(e) => return Err(e),
    }
    let mut by_slug: BTreeMap<String, String> = BTreeMap::new();
    let mut by_id: BTreeMap<String, String> = BTreeMap::new();
    for ws in client.list_workspaces(None)? {
        if ws.status.as_deref() == Some("archived") {
            continue;
        }
        if live.workspaces.contains_key(&ws.name) {
            live.duplicate_names.push(ws.name.clone());
            continue;
        }
        by_slug.insert(ws.slug.clone(), ws.name.clone());
        by_id.insert(ws.id.clone(), ws.name.clone());
        live.file.workspaces.push(WorkspaceSpec {
            name: ws.name.clone(),
            description: ws.description.clone().filter(|d| !d.is_empty()),
            metadata: ws
                .defaults
                .as_ref()
                .and_then(|d| d.metadata.clone())
                .unwrap_or_default(),
            usage_limits: ws
                .usage_limits
                .iter()
                .flatten()
                .map(Budget::from_api)
                .collect(),
            rate_limits: ws
                .rate_limits
                .iter()
                .flatten()
                .map(Rate::from_api)
                .collect(),
        });
        live.workspaces.insert(ws.name.clone(), ws);
    }
    for name in &live.duplicate_names {
        live.workspaces.remove(name);
        live.file.workspaces.retain(|w| &w.name != name);
    }
    let ws_name = |id_or_slug: &str| {
        by_slug
            .get(id_or_slug)
            .or_else(|| by_id.get(id_or_slug))
            .cloned()
    };
    for listed in client.list_integrations(None, None)? {
        if listed.status.as_deref() == Some("archived") {
            continue;
        }
        let g = if listed.configurations.is_some() {
            listed
        } else {
            client.get_integration(&listed.slug)?
        };
        let slug = g.slug.clone();
        let service = services::find(&g.ai_provider_id);
        let mut configuration = BTreeMap::new();
        for (k, v) in g.configurations.iter().flatten() {
            if let Some(field) = k.strip_prefix("masked_") {
                if field == "custom_headers" {
                    let names: std::collections::BTreeSet<&String> = v
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(h, _)| h)
                        .collect();
                    let headers: Map<String, Value> = names
                        .into_iter()
                        .map(|h| {
                            let target = format!("custom_headers.{h}");
                            let r = secret_ref(
                                &live.secret_versions,
                                &slug,
                                &target,
                                &format!("header_{h}"),
                            );
                            (h.clone(), r.to_value())
                        })
                        .collect();
                    configuration.insert(field.to_owned(), Value::Object(headers));
                } else {
                    let r = secret_ref(&live.secret_versions, &slug, field, field);
                    configuration.insert(field.to_owned(), r.to_value());
                }
            } else if !services::is_secret(service, k) {
                configuration.insert(k.clone(), v.clone());
            }
        }
        let access = client.workspace_access(&slug)?;
        let mut workspaces = BTreeMap::new();
        for item in access.workspaces.iter().filter(|a| a.access.enabled) {
            let Some(name) =
                ws_name(&item.id).or_else(|| item.workspace_id.as_deref().and_then(ws_name))
            else {
                continue;
            };
            workspaces.insert(
                name,
                access_spec(
                    &item.access.usage_limits,
                    &item.access.rate_limits,
                    item.access.concurrency_limit,
                ),
            );
        }
        let global = access
            .global_workspace_access
            .clone()
            .or_else(|| g.global_workspace_access_settings.clone())
            .filter(|gl| gl.enabled)
            .map(|gl| access_spec(&gl.usage_limits, &gl.rate_limits, gl.concurrency_limit));
        let models = client.models(&slug)?;
        let records: BTreeMap<String, IntegrationModel> = models
            .models
            .into_iter()
            .map(|m| (m.slug.clone(), m))
            .collect();
        let allow_all = models
            .allow_all_models
            .or(g.allow_all_models)
            .unwrap_or(true);
        let spec = IntegrationSpec {
            slug: slug.clone(),
            name: Some(g.name.clone()).filter(|n| !n.is_empty() && n != &slug),
            service: g.ai_provider_id.clone(),
            workspace: g.workspace_id.as_deref().and_then(ws_name),
            description: g.description.clone().filter(|d| !d.is_empty()),
            key: g
                .masked_key
                .as_ref()
                .filter(|k| !k.is_empty())
                .map(|_| secret_ref(&live.secret_versions, &slug, "key", "key")),
            configuration,
            price_multiplier: g
                .pricing_adjustments
                .as_ref()
                .and_then(|p| p.pointer("/multiplier/default"))
                .and_then(Value::as_f64),
            usage_limits: g
                .usage_limits
                .iter()
                .flatten()
                .map(Budget::from_api)
                .collect(),
            workspaces,
            new_workspaces: global,
            models: Some(models_spec(allow_all, &records)),
        };
        live.models.insert(slug.clone(), records);
        live.file.integrations.push(spec);
        live.integrations.insert(slug, g);
    }
    let slugs: Vec<String> = live.integrations.keys().cloned().collect();
    // One listing of every workspace's providers where the server offers it, else one
    // per workspace.
    let mut by_workspace: BTreeMap<String, Vec<crate::api::provider::Provider>> = BTreeMap::new();
    match client.list_every_provider()? {
        Some(all) => {
            for p in all {
                let ws = p.workspace_id.clone().unwrap_or_default();
                by_workspace.entry(ws).or_default().push(p);
            }
        }
        None => {
            for ws in live.workspaces.values() {
                by_workspace.insert(ws.id.clone(), client.list_providers(&ws.id)?);
            }
        }
    }
    for (name, ws) in &live.workspaces {
        for p in by_workspace.remove(&ws.id).unwrap_or_default() {
            if p.integration_id.is_empty() || !slugs.contains(&p.integration_id) {
                continue;
            }
            // A provider whose integration is no longer provisioned to its workspace is
            // revoked: a file cannot declare it (plan refuses one), so it is not exported
            // and shows among the objects the file leaves alone.
            let provisioned = live
                .file
                .integrations
                .iter()
                .find(|g| g.slug == p.integration_id)
                .is_some_and(|g| g.workspaces.contains_key(name));
            if !provisioned {
                continue;
            }
            // The default provider's name and note are its integration's name and the
            // note provisioning gives it: only what differs is the file's.
            let default = p.slug == p.integration_id;
            let default_name = if default {
                live.integrations
                    .get(&p.integration_id)
                    .map(|g| g.name.clone())
                    .unwrap_or_default()
            } else {
                p.slug.clone()
            };
            let spec = ProviderSpec {
                name: Some(p.name.clone()).filter(|n| !n.is_empty() && *n != default_name),
                slug: p.slug,
                workspace: name.clone(),
                integration: p.integration_id,
                note: p
                    .note
                    .filter(|n| !(n.is_empty() || default && n == AUTO_NOTE)),
                usage_limits: p.usage_limits.as_ref().map(Budget::from_api),
                rate_limits: p.rate_limits.iter().flatten().map(Rate::from_api).collect(),
                concurrency_limit: p.concurrency_limit,
                expires_at: p.expires_at.filter(|e| !e.is_empty()),
            };
            if default && spec == ProviderSpec::plain_default(&spec.workspace, &spec.integration) {
                live.plain_defaults.push((spec.workspace, spec.integration));
                continue;
            }
            live.file.providers.push(spec);
        }
    }
    // Saved configs, known by workspace and name: configs sharing both are left out.
    let mut configs: BTreeMap<(Option<String>, String), Vec<Config>> = BTreeMap::new();
    for listed in client.list_configs(None)? {
        let workspace = match listed.workspace_id.as_deref().filter(|w| !w.is_empty()) {
            None => None,
            // A workspace left out (archived, or sharing its name) takes its configs along.
            Some(id) => match ws_name(id) {
                Some(name) => Some(name),
                None => continue,
            },
        };
        let c = if listed.config.is_empty() {
            client.get_config(&listed.slug)?
        } else {
            listed
        };
        configs
            .entry((workspace, c.name.clone()))
            .or_default()
            .push(c);
    }
    for ((workspace, name), mut found) in configs {
        if found.len() > 1 {
            live.duplicate_configs
                .push(config_label(workspace.as_deref(), &name));
            continue;
        }
        let c = found.remove(0);
        let config = match serde_json::from_str::<Value>(&c.config) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        live.file.configs.push(ConfigSpec {
            name: name.clone(),
            workspace: workspace.clone(),
            config,
            status: if c.status == "archived" {
                ConfigStatus::Archived
            } else {
                ConfigStatus::Active
            },
        });
        live.configs.insert((workspace, name), c);
    }
    sort(&mut live.file);
    unique_env_names(&mut live.file)?;
    Ok(live)
}

fn access_spec(
    usage: &Option<Vec<crate::api::limits::UsageLimits>>,
    rate: &Option<Vec<crate::api::limits::RateLimit>>,
    concurrency: Option<crate::api::limits::ConcurrencyLimit>,
) -> AccessSpec {
    AccessSpec {
        usage_limits: usage.iter().flatten().map(Budget::from_api).collect(),
        rate_limits: rate.iter().flatten().map(Rate::from_api).collect(),
        concurrency_limit: concurrency,
    }
}

/// The order export writes in: by name, slug, then workspace and slug.
pub fn sort(file: &mut CatalogFile) {
    file.workspaces.sort_by(|a, b| a.name.cmp(&b.name));
    file.integrations.sort_by(|a, b| a.slug.cmp(&b.slug));
    for g in &mut file.integrations {
        if let Some(m) = &mut g.models {
            m.allow.sort();
            m.deny.sort();
            m.custom.sort_by(|a, b| a.slug.cmp(&b.slug));
        }
    }
    file.providers
        .sort_by(|a, b| (&a.workspace, &a.slug).cmp(&(&b.workspace, &b.slug)));
    file.configs
        .sort_by(|a, b| (&a.workspace, &a.name).cmp(&(&b.workspace, &b.name)));
}

/// A fingerprint of the live state a plan is computed against: SHA-256 of its
/// canonical JSON (runtime state such as usage is not part of it, nor are configs' versions).
pub fn fingerprint(live: &Live) -> String {
    #[derive(Serialize)]
    struct Pinned<'a> {
        file: &'a CatalogFile,
        ids: BTreeMap<&'a str, &'a str>,
        secret_versions: &'a Option<BTreeMap<String, u64>>,
        /// Configs' slugs, which their operations name.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        configs: BTreeMap<String, &'a str>,
    }
    let pinned = Pinned {
        file: &live.file,
        ids: live
            .workspaces
            .iter()
            .map(|(n, w)| (n.as_str(), w.id.as_str()))
            .collect(),
        secret_versions: &live.secret_versions,
        configs: live
            .configs
            .iter()
            .map(|((w, n), c)| (config_label(w.as_deref(), n), c.slug.as_str()))
            .collect(),
    };
    let bytes = serde_json::to_vec(&pinned).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file as YAML, as `catalog export` writes it.
pub fn to_yaml(file: &CatalogFile) -> anyhow::Result<String> {
    Ok(format!(
        "# catalog file: `catalog plan -f FILE` shows what applying it would change.\n# Secrets are references ({{env: VAR}} or {{file: PATH}}), never values.\n{}",
        serde_yaml::to_string(file)?
    ))
}
