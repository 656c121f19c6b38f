//! The difference between a catalog file and the live catalog: an ordered plan of
//! operations (dependency order: workspaces, integrations, access, models, providers,
//! configs; deletions last, in reverse), each shown as `+`, `~` (`old → new` per field) or `-`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::file::{
    AccessSpec, Budget, CatalogFile, IntegrationSpec, ModelsSpec, Prices, ProviderSpec, Rate,
    SecretRef,
};
use super::live::{config_label, is_custom, version_key, Live};
use crate::api::configs::{ConfigStatus, CreateConfig, UpdateConfig};
use crate::api::integration::{CreateIntegration, UpdateIntegration};
use crate::api::models::{
    usd_per_mtok_to_cents_per_token, BulkUpdateModels, IntegrationModel, ModelConfigurations,
    ModelUpdate, PayAsYouGo, Price, PricingConfig,
};
use crate::api::patch::Patch;
use crate::api::provider::{CreateProvider, OneOrMany, UpdateProvider};
use crate::api::provisioning::{GlobalWorkspaceAccess, WorkspaceAccessUpdate};
use crate::api::workspace::{CreateWorkspace, DefaultsInput, UpdateWorkspace};
use crate::exit::CliError;
use crate::services;

/// The format of saved plans.
pub const PLAN_FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn sign(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
        }
    }
}

/// One field of a change; values rendered as compact JSON, secrets never shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// One object created, changed or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub action: Action,
    /// `organisation`, `workspace`, `integration`, `access`, `models`, `provider`, `config`.
    pub kind: String,
    pub name: String,
    pub fields: Vec<FieldChange>,
}

/// A secret written with an integration: read from its reference when applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretWrite {
    /// `key`, a secret setting, or `custom_headers` (then `headers` holds every header).
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, SecretRef>,
}

/// One request (or a few) to the Admin API. Workspaces are named; their ids are looked up
/// when the operation runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    OrgSettings {
        allow_workspace_integrations: bool,
    },
    CreateWorkspace {
        body: CreateWorkspace,
    },
    UpdateWorkspace {
        workspace: String,
        body: UpdateWorkspace,
    },
    DeleteWorkspace {
        workspace: String,
    },
    CreateIntegration {
        body: CreateIntegration,
        workspace: Option<String>,
        secrets: Vec<SecretWrite>,
        versions: BTreeMap<String, Option<u64>>,
    },
    UpdateIntegration {
        slug: String,
        body: UpdateIntegration,
        secrets: Vec<SecretWrite>,
        versions: BTreeMap<String, Option<u64>>,
    },
    DeleteIntegration {
        slug: String,
        versions: BTreeMap<String, Option<u64>>,
    },
    /// `id` of each item is the workspace's name.
    Access {
        integration: String,
        items: Vec<WorkspaceAccessUpdate>,
        global: Option<GlobalWorkspaceAccess>,
    },
    Models {
        integration: String,
        body: BulkUpdateModels,
    },
    DeleteModels {
        integration: String,
        slugs: Vec<String>,
    },
    CreateProvider {
        workspace: String,
        body: CreateProvider,
    },
    UpdateProvider {
        workspace: String,
        slug: String,
        body: UpdateProvider,
    },
    DeleteProvider {
        workspace: String,
        slug: String,
    },
    /// `workspace` is the workspace's name; an archived config is archived once created.
    CreateConfig {
        workspace: Option<String>,
        body: CreateConfig,
        status: ConfigStatus,
    },
    /// `label` is `NAME (WORKSPACE)`; a changed `config` becomes a new version.
    UpdateConfig {
        label: String,
        slug: String,
        body: UpdateConfig,
    },
    DeleteConfig {
        label: String,
        slug: String,
    },
}

impl Op {
    /// Dependency order: what others need first, deletions last in reverse.
    fn phase(&self) -> u8 {
        match self {
            Op::OrgSettings { .. } => 0,
            Op::CreateWorkspace { .. } | Op::UpdateWorkspace { .. } => 1,
            Op::CreateIntegration { .. } | Op::UpdateIntegration { .. } => 2,
            Op::Access { items, .. } if items.iter().all(|i| i.enabled) => 3,
            Op::Models { .. } => 4,
            Op::CreateProvider { .. } | Op::UpdateProvider { .. } => 5,
            // A config names `@provider` slugs: after the providers, and gone before them.
            Op::CreateConfig { .. } | Op::UpdateConfig { .. } => 6,
            Op::DeleteConfig { .. } => 7,
            Op::DeleteProvider { .. } => 8,
            Op::DeleteModels { .. } => 9,
            Op::Access { .. } => 10,
            Op::DeleteIntegration { .. } => 11,
            Op::DeleteWorkspace { .. } => 12,
        }
    }
}

/// A plan: what to change, why, and the live state it was computed against.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub format: u32,
    /// The fingerprint of the live catalog the plan was computed against.
    pub fingerprint: String,
    /// Where the catalog file was (secret files are read relative to it).
    pub base_dir: PathBuf,
    pub prune: bool,
    pub changes: Vec<Change>,
    pub ops: Vec<Op>,
    /// Objects in the live catalog that the file does not mention (left alone without `--prune`).
    pub not_in_file: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for ch in &self.changes {
            match ch.action {
                Action::Create => c.create += 1,
                Action::Update => c.update += 1,
                Action::Delete => c.delete += 1,
            }
        }
        c
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The readable diff: one block per object, then the count line (a changed map of
    /// settings shown key by key).
    pub fn render(&self, paint: &dyn Fn(&str, &str) -> String) -> String {
        let mut out = String::new();
        for ch in &self.changes {
            let colour = match ch.action {
                Action::Create => "32",
                Action::Update => "33",
                Action::Delete => "31",
            };
            out.push_str(&paint(
                &format!("{} {} {}", ch.action.sign(), ch.kind, ch.name),
                colour,
            ));
            out.push('\n');
            for f in ch.fields.iter().flat_map(per_key) {
                let line = match (&f.old, &f.new) {
                    (None, Some(n)) => format!("    + {}: {n}", f.field),
                    (Some(o), None) => format!("    - {}: {o}", f.field),
                    (Some(o), Some(n)) => format!("    ~ {}: {o} → {n}", f.field),
                    (None, None) => format!("    ~ {}", f.field),
                };
                out.push_str(&line);
                out.push('\n');
            }
        }
        if !self.not_in_file.is_empty() && !self.prune {
            out.push_str(&format!(
                "{} object(s) of the live catalog are not in the file and are left alone (`--prune` deletes them): {}\n",
                self.not_in_file.len(),
                summarize(&self.not_in_file)
            ));
        }
        let c = self.counts();
        if self.is_empty() && (self.not_in_file.is_empty() || self.prune) {
            out.push_str("No changes: the live catalog matches the file.\n");
        } else if self.is_empty() {
            out.push_str("No changes to what the file declares.\n");
        } else {
            out.push_str(&format!(
                "Plan: {} to create, {} to change, {} to delete.\n",
                c.create, c.update, c.delete
            ));
        }
        out
    }
}

fn summarize(items: &[String]) -> String {
    if items.len() <= 10 {
        items.join(", ")
    } else {
        format!("{}, and {} more", items[..10].join(", "), items.len() - 10)
    }
}

fn show<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn secret_shown(r: &SecretRef) -> String {
    match r.version {
        Some(v) => format!("(secret from {}, version {v})", r.describe()),
        None => format!("(secret from {})", r.describe()),
    }
}

/// Field-by-field differences of two JSON objects (`None`: the object does not exist).
fn field_changes(old: Option<&Value>, new: Option<&Value>, skip: &[&str]) -> Vec<FieldChange> {
    let empty = Map::new();
    let o = old.and_then(Value::as_object).unwrap_or(&empty);
    let n = new.and_then(Value::as_object).unwrap_or(&empty);
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    let mut out = Vec::new();
    // Keep the order of the newer object where there is one.
    let mut ordered: Vec<&String> = n.keys().filter(|k| keys.contains(k)).collect();
    ordered.extend(o.keys().filter(|k| !n.contains_key(*k)));
    for k in ordered {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let (a, b) = (o.get(k), n.get(k));
        if !same(a, b) {
            out.push(FieldChange {
                field: k.clone(),
                old: a.map(show),
                new: b.map(show),
            });
        }
    }
    out
}

/// How many changed paths a config body shows before it is shown whole instead.
const MAX_BODY_PATHS: usize = 8;

/// The changes of a config body, by JSON path (`config.targets[1].weight`), or the whole
/// body old → new when many paths change.
fn body_changes(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<FieldChange> {
    fn walk(at: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<FieldChange>) {
        match (old, new) {
            (Some(Value::Object(o)), Some(Value::Object(n))) => {
                for (k, v) in n {
                    walk(&format!("{at}.{k}"), o.get(k), Some(v), out);
                }
                for (k, v) in o.iter().filter(|(k, _)| !n.contains_key(*k)) {
                    walk(&format!("{at}.{k}"), Some(v), None, out);
                }
            }
            (Some(Value::Array(o)), Some(Value::Array(n))) if o.len() == n.len() => {
                for (i, (a, b)) in o.iter().zip(n).enumerate() {
                    walk(&format!("{at}[{i}]"), Some(a), Some(b), out);
                }
            }
            (a, b) if a != b => out.push(FieldChange {
                field: at.to_owned(),
                old: a.map(show),
                new: b.map(show),
            }),
            _ => {}
        }
    }
    let (o, n) = (Value::Object(old.clone()), Value::Object(new.clone()));
    let mut out = Vec::new();
    walk("config", Some(&o), Some(&n), &mut out);
    if out.len() > MAX_BODY_PATHS {
        return vec![FieldChange {
            field: "config".into(),
            old: Some(show(&o)),
            new: Some(show(&n)),
        }];
    }
    out
}

fn budgets(b: &[Budget]) -> Vec<crate::api::limits::UsageLimits> {
    b.iter().map(Budget::to_api).collect()
}

fn rates(r: &[Rate]) -> Vec<crate::api::limits::RateLimit> {
    r.iter().map(Rate::to_api).collect()
}

fn patch_vec<T>(v: Vec<T>) -> Patch<Vec<T>> {
    if v.is_empty() {
        Patch::Null
    } else {
        Patch::Value(v)
    }
}

fn usage_error(message: String, hint: &str) -> anyhow::Error {
    CliError::usage(message).with_hint(hint.to_owned()).into()
}

/// What the plan compares of an integration (its secrets apart).
fn integration_view(g: &IntegrationSpec, compare_config: bool) -> Value {
    let config: Map<String, Value> = if compare_config {
        public_config(g)
    } else {
        Map::new()
    };
    let mut v = json!({
        "name": g.name.clone().unwrap_or_else(|| g.slug.clone()),
        "service": g.service,
        "workspace": g.workspace,
        "description": g.description,
        "configuration": config,
        "price_multiplier": g.price_multiplier,
        "usage_limits": g.usage_limits,
    });
    if let Some(m) = v.as_object_mut() {
        m.retain(|_, x| !x.is_null() && x != &json!({}) && x != &json!([]));
    }
    v
}

/// The settings of an integration that are not secrets.
fn public_config(g: &IntegrationSpec) -> Map<String, Value> {
    let service = services::find(&g.service);
    g.configuration
        .iter()
        .filter(|(k, _)| !services::is_secret(service, k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Every secret reference of an integration: (target, version key, reference).
fn secret_refs(g: &IntegrationSpec) -> Vec<(String, SecretRef)> {
    let service = services::find(&g.service);
    let mut out = Vec::new();
    if let Some(k) = &g.key {
        out.push(("key".to_owned(), k.clone()));
    }
    for (k, v) in &g.configuration {
        match services::classify(service, k).map(|f| f.kind) {
            Some(services::Kind::Headers) => {
                for (h, r) in v.as_object().into_iter().flatten() {
                    if let Ok(r) = SecretRef::from_value(r) {
                        out.push((format!("custom_headers.{h}"), r));
                    }
                }
            }
            Some(kind) if kind.is_secret() => {
                if let Ok(r) = SecretRef::from_value(v) {
                    out.push((k.clone(), r));
                }
            }
            _ => {}
        }
    }
    out
}

/// The secret writes for `targets` (header targets are written together; with
/// `headers_removed`, the file's headers are written even if none changed, so that the
/// ones it no longer has go).
fn secret_writes(
    g: &IntegrationSpec,
    targets: &BTreeSet<String>,
    headers_removed: bool,
) -> Vec<SecretWrite> {
    let mut out = Vec::new();
    let mut headers = BTreeMap::new();
    let mut any_header = headers_removed;
    for (t, r) in secret_refs(g) {
        if let Some(h) = t.strip_prefix("custom_headers.") {
            headers.insert(h.to_owned(), r);
            any_header |= targets.contains(&t);
        } else if targets.contains(&t) {
            out.push(SecretWrite {
                field: t,
                source: Some(r),
                headers: BTreeMap::new(),
            });
        }
    }
    if any_header {
        out.push(SecretWrite {
            field: "custom_headers".to_owned(),
            source: None,
            headers,
        });
    }
    out
}

fn access_update(name: &str, a: Option<&AccessSpec>) -> WorkspaceAccessUpdate {
    match a {
        Some(a) => WorkspaceAccessUpdate {
            id: name.to_owned(),
            enabled: true,
            usage_limits: patch_vec(budgets(&a.usage_limits)),
            rate_limits: patch_vec(rates(&a.rate_limits)),
            concurrency_limit: a.concurrency_limit.map_or(Patch::Null, Patch::Value),
            ..Default::default()
        },
        None => WorkspaceAccessUpdate {
            id: name.to_owned(),
            enabled: false,
            ..Default::default()
        },
    }
}

fn global_access(a: Option<&AccessSpec>) -> GlobalWorkspaceAccess {
    match a {
        Some(a) => GlobalWorkspaceAccess {
            enabled: true,
            usage_limits: Some(budgets(&a.usage_limits)),
            rate_limits: Some(rates(&a.rate_limits)),
            concurrency_limit: a.concurrency_limit,
        },
        None => GlobalWorkspaceAccess::default(),
    }
}

/// A model record as the file wants it.
#[derive(Debug, Clone, PartialEq)]
struct ModelState {
    enabled: bool,
    custom: bool,
    finetune: bool,
    base: Option<String>,
    host: Option<String>,
    prices: Option<Prices>,
}

impl ModelState {
    fn of(m: &IntegrationModel) -> ModelState {
        let spec = super::live::models_spec(true, &BTreeMap::from([(m.slug.clone(), m.clone())]));
        ModelState {
            enabled: m.enabled.unwrap_or(true),
            custom: is_custom(m),
            finetune: m.is_finetune == Some(true),
            base: if is_custom(m) {
                m.base_model_slug.clone()
            } else {
                None
            },
            host: m
                .configurations
                .as_ref()
                .and_then(|c| c.custom_host.clone()),
            prices: spec
                .prices
                .into_values()
                .next()
                .or_else(|| spec.custom.into_iter().next().and_then(|c| c.prices)),
        }
    }

    fn describe(&self) -> String {
        let mut s = if self.enabled {
            "enabled".to_owned()
        } else {
            "disabled".to_owned()
        };
        if self.finetune {
            s.push_str(&format!(
                ", fine-tuned from {}",
                self.base.as_deref().unwrap_or("?")
            ));
        } else if self.custom {
            s.push_str(", custom");
            if let Some(b) = &self.base {
                s.push_str(&format!(" (base {b})"));
            }
        }
        if let Some(h) = &self.host {
            s.push_str(&format!(", host {h}"));
        }
        if let Some(p) = &self.prices {
            s.push_str(&format!(", prices {}", show(p)));
        }
        s
    }

    fn update(&self, slug: &str, had_price: bool) -> ModelUpdate {
        ModelUpdate {
            slug: slug.to_owned(),
            enabled: self.enabled,
            is_custom: self.custom.then_some(!self.finetune),
            is_finetune: self.custom.then_some(self.finetune),
            base_model_slug: self.base.clone(),
            configurations: self.host.clone().map(|h| ModelConfigurations {
                custom_host: Some(h),
                ..Default::default()
            }),
            pricing_config: match &self.prices {
                Some(p) => Patch::Value(pricing(p)),
                None if had_price => Patch::Null,
                None => Patch::Absent,
            },
        }
    }
}

fn pricing(p: &Prices) -> PricingConfig {
    let cents = |x: Option<f64>| {
        x.map(|usd| Price {
            price: usd_per_mtok_to_cents_per_token(usd),
        })
    };
    PricingConfig {
        kind: "static".to_owned(),
        pay_as_you_go: PayAsYouGo {
            request_token: cents(p.input),
            response_token: cents(p.output),
            cache_read_input_token: cents(p.cache_read),
        },
    }
}

fn desired_models(m: &ModelsSpec) -> BTreeMap<String, ModelState> {
    let plain = |enabled| ModelState {
        enabled,
        custom: false,
        finetune: false,
        base: None,
        host: None,
        prices: None,
    };
    let mut out = BTreeMap::new();
    for s in &m.allow {
        out.insert(s.clone(), plain(true));
    }
    for s in &m.deny {
        out.insert(s.clone(), plain(false));
    }
    for (s, p) in &m.prices {
        out.entry(s.clone()).or_insert_with(|| plain(true)).prices = Some(p.clone());
    }
    for c in &m.custom {
        out.insert(
            c.slug.clone(),
            ModelState {
                enabled: c.enabled,
                custom: true,
                finetune: c.finetune,
                base: c.base.clone(),
                host: c.custom_host.clone(),
                prices: c.prices.clone(),
            },
        );
    }
    out
}

/// Prices compare to a millionth of a dollar per 1M tokens (the API keeps cents per token).
fn same_state(a: &ModelState, b: &ModelState) -> bool {
    let round = |p: &Option<Prices>| {
        p.as_ref()
            .map(|p| [p.input, p.output, p.cache_read].map(|x| x.map(|v| (v * 1e6).round() as i64)))
    };
    a.enabled == b.enabled
        && a.custom == b.custom
        && a.finetune == b.finetune
        && a.base == b.base
        && a.host == b.host
        && round(&a.prices) == round(&b.prices)
}

/// Whether two values are the same, numbers within a part in 10¹² of each other (a
/// decimal with more digits than a float keeps can come back from the server one unit in
/// the last place off, and would otherwise show as a change forever).
fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(Some(x), Some(y)))
        }
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            x.len() == y.len() && x.iter().all(|(k, v)| same(Some(v), y.get(k)))
        }
        _ => a == b,
    }
}

/// A change of one map into another (both JSON objects) as the changes of its keys
/// (`configuration.azure_resource_name`); any other change as it is.
fn per_key(f: &FieldChange) -> Vec<FieldChange> {
    let object = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .filter(Value::is_object)
    };
    match (object(&f.old), object(&f.new)) {
        (Some(o), Some(n)) => field_changes(Some(&o), Some(&n), &[])
            .into_iter()
            .map(|c| FieldChange {
                field: format!("{}.{}", f.field, c.field),
                ..c
            })
            .collect(),
        _ => vec![f.clone()],
    }
}

/// Computes the plan that makes `live` match `file`.
/// A file never governs API keys, so pruning a workspace must not delete its keys with
/// it: a workspace that has some (or whose keys cannot be listed) is refused.
fn refuse_taking_api_keys(live: &Live, workspace: &str) -> anyhow::Result<()> {
    let id = live
        .workspaces
        .get(workspace)
        .map(|w| w.id.as_str())
        .unwrap_or("");
    let keys = match &live.api_keys {
        None => {
            return Err(crate::exit::CliError::usage(format!(
                "`--prune` would delete workspace `{workspace}`, and this API key cannot list API keys to tell whether the workspace has some"
            ))
            .with_hint("plan with a key that holds the API-key list scopes, or keep the workspace in the file")
            .into())
        }
        Some(all) => all.get(id).cloned().unwrap_or_default(),
    };
    if keys.is_empty() {
        return Ok(());
    }
    Err(crate::exit::CliError::usage(format!(
        "`--prune` would delete workspace `{workspace}` and with it its API keys ({}), which a catalog file never governs",
        keys.join(", ")
    ))
    .with_hint("delete those keys first with `catalog api-keys delete ID`, or keep the workspace in the file")
    .into())
}

pub fn plan(
    file: &CatalogFile,
    base_dir: PathBuf,
    live: &Live,
    prune: bool,
) -> anyhow::Result<Plan> {
    let mut p = Plan {
        format: PLAN_FORMAT,
        fingerprint: super::live::fingerprint(live),
        base_dir,
        prune,
        changes: Vec::new(),
        ops: Vec::new(),
        not_in_file: Vec::new(),
        warnings: Vec::new(),
    };
    let mut staged: Vec<(Change, Vec<Op>)> = Vec::new();

    // Organisation settings.
    if let Some(want) = file
        .organisation
        .as_ref()
        .and_then(|o| o.allow_workspace_integrations)
    {
        let have = live
            .file
            .organisation
            .as_ref()
            .and_then(|o| o.allow_workspace_integrations);
        if !live.org_settings {
            p.warnings.push(
                "this server keeps no organisation settings: `organisation` is not applied".into(),
            );
        } else if have != Some(want) {
            staged.push((
                Change {
                    action: Action::Update,
                    kind: "organisation".into(),
                    name: "settings".into(),
                    fields: vec![FieldChange {
                        field: "allow_workspace_integrations".into(),
                        old: have.map(|h| h.to_string()),
                        new: Some(want.to_string()),
                    }],
                },
                vec![Op::OrgSettings {
                    allow_workspace_integrations: want,
                }],
            ));
        }
    }

    // Workspaces.
    for w in &file.workspaces {
        if live.duplicate_names.contains(&w.name) {
            return Err(usage_error(
                format!("{} live workspaces are named `{}`", 2, w.name),
                "rename one of them (`catalog workspaces update SLUG --name ...`): the file refers to workspaces by name",
            ));
        }
        let new = serde_json::to_value(w)?;
        match live.file.workspaces.iter().find(|l| l.name == w.name) {
            None => {
                staged.push((
                    Change {
                        action: Action::Create,
                        kind: "workspace".into(),
                        name: w.name.clone(),
                        fields: field_changes(None, Some(&new), &["name"]),
                    },
                    vec![Op::CreateWorkspace {
                        body: CreateWorkspace {
                            name: w.name.clone(),
                            description: w.description.clone(),
                            defaults: (!w.metadata.is_empty()).then(|| DefaultsInput {
                                metadata: Patch::Value(w.metadata.clone()),
                                ..Default::default()
                            }),
                            usage_limits: (!w.usage_limits.is_empty())
                                .then(|| budgets(&w.usage_limits)),
                            rate_limits: (!w.rate_limits.is_empty()).then(|| rates(&w.rate_limits)),
                            ..Default::default()
                        },
                    }],
                ));
            }
            Some(l) => {
                let fields = field_changes(Some(&serde_json::to_value(l)?), Some(&new), &["name"]);
                if fields.is_empty() {
                    continue;
                }
                let changed = |f: &str| fields.iter().any(|c| c.field == f);
                let body = UpdateWorkspace {
                    description: if changed("description") {
                        w.description.clone().map_or(Patch::Null, Patch::Value)
                    } else {
                        Patch::Absent
                    },
                    defaults: changed("metadata").then(|| DefaultsInput {
                        metadata: Patch::Value(w.metadata.clone()),
                        ..Default::default()
                    }),
                    usage_limits: if changed("usage_limits") {
                        patch_vec(budgets(&w.usage_limits))
                    } else {
                        Patch::Absent
                    },
                    rate_limits: if changed("rate_limits") {
                        patch_vec(rates(&w.rate_limits))
                    } else {
                        Patch::Absent
                    },
                    ..Default::default()
                };
                staged.push((
                    Change {
                        action: Action::Update,
                        kind: "workspace".into(),
                        name: w.name.clone(),
                        fields,
                    },
                    vec![Op::UpdateWorkspace {
                        workspace: w.name.clone(),
                        body,
                    }],
                ));
            }
        }
    }
    for l in &live.file.workspaces {
        if file.workspaces.iter().any(|w| w.name == l.name) {
            continue;
        }
        if prune {
            refuse_taking_api_keys(live, &l.name)?;
            staged.push((
                Change {
                    action: Action::Delete,
                    kind: "workspace".into(),
                    name: l.name.clone(),
                    fields: vec![],
                },
                vec![Op::DeleteWorkspace {
                    workspace: l.name.clone(),
                }],
            ));
        } else {
            p.not_in_file.push(format!("workspace {}", l.name));
        }
    }

    // Integrations, their access and models.
    let mut version_warning = false;
    for g in &file.integrations {
        let l = live.file.integrations.iter().find(|l| l.slug == g.slug);
        let compare_config = live
            .integrations
            .get(&g.slug)
            .is_none_or(|i| i.configurations.is_some());
        let new_view = integration_view(g, compare_config);
        let live_refs: BTreeMap<String, SecretRef> =
            l.map(secret_refs).unwrap_or_default().into_iter().collect();
        let mut secret_targets = BTreeSet::new();
        let mut secret_fields = Vec::new();
        let mut versions = BTreeMap::new();
        for (t, r) in secret_refs(g) {
            let vk = version_key(&g.slug, &t);
            match live_refs.get(&t) {
                None => {
                    secret_fields.push(FieldChange {
                        field: t.clone(),
                        old: None,
                        new: Some(secret_shown(&r)),
                    });
                    secret_targets.insert(t);
                    if r.version.is_some() {
                        versions.insert(vk, r.version);
                    }
                }
                Some(have) => {
                    let Some(want) = r.version else { continue };
                    if live.secret_versions.is_none() {
                        version_warning = true;
                        continue;
                    }
                    if have.version != Some(want) {
                        secret_fields.push(FieldChange {
                            field: t.clone(),
                            old: Some(match have.version {
                                Some(v) => format!("(secret, version {v})"),
                                None => "(secret, no version)".to_owned(),
                            }),
                            new: Some(secret_shown(&r)),
                        });
                        secret_targets.insert(t);
                        versions.insert(vk, Some(want));
                    }
                }
            }
        }
        // A secret setting or header the file no longer has is removed (headers are
        // written whole; a setting is cleared). The key stays: an integration needs one.
        let file_targets: BTreeSet<String> = secret_refs(g).into_iter().map(|(t, _)| t).collect();
        let mut headers_removed = false;
        let mut removed_settings = Vec::new();
        for t in live_refs.keys() {
            if t == "key" || file_targets.contains(t) {
                continue;
            }
            secret_fields.push(FieldChange {
                field: t.clone(),
                old: Some("(secret)".to_owned()),
                new: None,
            });
            if t.starts_with("custom_headers.") {
                headers_removed = true;
            } else {
                removed_settings.push(t.clone());
            }
        }
        if live.secret_versions.is_none() {
            versions.clear();
        }
        let secrets = secret_writes(g, &secret_targets, headers_removed);
        match l {
            None => {
                let mut fields = field_changes(None, Some(&new_view), &[]);
                fields.extend(secret_fields);
                let body = CreateIntegration {
                    name: g.name.clone().unwrap_or_else(|| g.slug.clone()),
                    ai_provider_id: g.service.clone(),
                    slug: Some(g.slug.clone()),
                    description: g.description.clone(),
                    configurations: Some(public_config(g)).filter(|c| !c.is_empty()),
                    pricing_adjustments: g
                        .price_multiplier
                        .map(|m| json!({"multiplier": {"default": m}})),
                    usage_limits: (!g.usage_limits.is_empty()).then(|| budgets(&g.usage_limits)),
                    ..Default::default()
                };
                staged.push((
                    Change {
                        action: Action::Create,
                        kind: "integration".into(),
                        name: g.slug.clone(),
                        fields,
                    },
                    vec![Op::CreateIntegration {
                        body,
                        workspace: g.workspace.clone(),
                        secrets,
                        versions,
                    }],
                ));
            }
            Some(l) => {
                let old_view = integration_view(l, compare_config);
                for immutable in ["service", "workspace"] {
                    if old_view.get(immutable) != new_view.get(immutable) {
                        return Err(usage_error(
                            format!(
                                "integration `{}`: `{immutable}` cannot change ({} → {})",
                                g.slug,
                                old_view.get(immutable).map_or("none".into(), show),
                                new_view.get(immutable).map_or("none".into(), show)
                            ),
                            "give the integration a new slug (and remove the old one with `--prune`), or keep its current value",
                        ));
                    }
                }
                let mut fields = field_changes(Some(&old_view), Some(&new_view), &[]);
                let changed = |f: &str| fields.iter().any(|c| c.field == f);
                let mut body = UpdateIntegration::default();
                if changed("name") {
                    body.name = Some(g.name.clone().unwrap_or_else(|| g.slug.clone()));
                }
                if changed("description") {
                    body.description = g.description.clone().map_or(Patch::Null, Patch::Value);
                }
                if changed("price_multiplier") {
                    body.pricing_adjustments = g.price_multiplier.map_or(Patch::Null, |m| {
                        Patch::Value(json!({"multiplier": {"default": m}}))
                    });
                }
                if changed("usage_limits") {
                    body.usage_limits = patch_vec(budgets(&g.usage_limits));
                }
                if changed("configuration") {
                    let old = public_config(l);
                    let new = public_config(g);
                    let mut delta = Map::new();
                    for (k, v) in &new {
                        if old.get(k) != Some(v) {
                            delta.insert(k.clone(), v.clone());
                        }
                    }
                    for k in old.keys().filter(|k| !new.contains_key(*k)) {
                        delta.insert(k.clone(), Value::Null);
                    }
                    body.configurations = Some(delta);
                }
                for t in removed_settings {
                    body.configurations
                        .get_or_insert_with(Default::default)
                        .insert(t, Value::Null);
                }
                fields.extend(secret_fields);
                if !fields.is_empty() {
                    staged.push((
                        Change {
                            action: Action::Update,
                            kind: "integration".into(),
                            name: g.slug.clone(),
                            fields,
                        },
                        vec![Op::UpdateIntegration {
                            slug: g.slug.clone(),
                            body,
                            secrets,
                            versions,
                        }],
                    ));
                }
            }
        }

        // Workspace access.
        let live_access = l.map(|l| l.workspaces.clone()).unwrap_or_default();
        let mut items = Vec::new();
        for (ws, a) in &g.workspaces {
            let old = live_access.get(ws);
            if old == Some(a) {
                continue;
            }
            let fields = field_changes(
                old.map(|o| serde_json::to_value(o).unwrap_or_default())
                    .as_ref(),
                Some(&serde_json::to_value(a)?),
                &[],
            );
            if old.is_some() && fields.is_empty() {
                // Different only in a number's last place.
                continue;
            }
            staged.push((
                Change {
                    action: if old.is_some() {
                        Action::Update
                    } else {
                        Action::Create
                    },
                    kind: "access".into(),
                    name: format!("{} → {ws}", g.slug),
                    fields: if fields.is_empty() {
                        vec![FieldChange {
                            field: "enabled".into(),
                            old: None,
                            new: Some("true".into()),
                        }]
                    } else {
                        fields
                    },
                },
                vec![],
            ));
            items.push(access_update(ws, Some(a)));
        }
        let mut revokes = Vec::new();
        // Access that `new_workspaces` gave a workspace the file declares (one created by
        // an apply, after the integration) is the file's own: what it asked for.
        let granted_by_file = |ws: &str| {
            g.new_workspaces.is_some()
                && file.workspaces.iter().any(|w| w.name == ws)
                && live_access.get(ws) == g.new_workspaces.as_ref()
        };
        for ws in live_access
            .keys()
            .filter(|w| !g.workspaces.contains_key(*w) && !granted_by_file(w))
        {
            if prune {
                staged.push((
                    Change {
                        action: Action::Delete,
                        kind: "access".into(),
                        name: format!("{} → {ws}", g.slug),
                        fields: vec![],
                    },
                    vec![],
                ));
                revokes.push(access_update(ws, None));
            } else {
                p.not_in_file.push(format!("access {} → {ws}", g.slug));
            }
        }
        let old_global = l.and_then(|l| l.new_workspaces.clone());
        let global = (old_global != g.new_workspaces).then(|| {
            staged.push((
                Change {
                    action: Action::Update,
                    kind: "access".into(),
                    name: format!("{} → workspaces created later", g.slug),
                    fields: vec![FieldChange {
                        field: "new_workspaces".into(),
                        old: Some(old_global.as_ref().map_or("not provisioned".into(), show)),
                        new: Some(
                            g.new_workspaces
                                .as_ref()
                                .map_or("not provisioned".into(), show),
                        ),
                    }],
                },
                vec![],
            ));
            global_access(g.new_workspaces.as_ref())
        });
        if !items.is_empty() || global.is_some() {
            staged.push((
                placeholder(),
                vec![Op::Access {
                    integration: g.slug.clone(),
                    items,
                    global,
                }],
            ));
        }
        if !revokes.is_empty() {
            staged.push((
                placeholder(),
                vec![Op::Access {
                    integration: g.slug.clone(),
                    items: revokes,
                    global: None,
                }],
            ));
        }

        // Models.
        if let Some(m) = &g.models {
            let records = live.models.get(&g.slug).cloned().unwrap_or_default();
            let live_allow_all = l
                .and_then(|l| l.models.as_ref())
                .is_none_or(|m| m.allow_all);
            let want = desired_models(m);
            let mut fields = Vec::new();
            let mut body = BulkUpdateModels::default();
            if live_allow_all != m.allow_all {
                body.allow_all_models = Some(m.allow_all);
                fields.push(FieldChange {
                    field: "allow_all".into(),
                    old: Some(live_allow_all.to_string()),
                    new: Some(m.allow_all.to_string()),
                });
            }
            for (slug, state) in &want {
                let old = records.get(slug).map(ModelState::of);
                if old.as_ref().is_some_and(|o| same_state(o, state)) {
                    continue;
                }
                let had_price = old.as_ref().is_some_and(|o| o.prices.is_some());
                fields.push(FieldChange {
                    field: slug.clone(),
                    old: old.as_ref().map(ModelState::describe),
                    new: Some(state.describe()),
                });
                body.models.push(state.update(slug, had_price));
            }
            let mut removed = Vec::new();
            for (slug, r) in &records {
                if want.contains_key(slug) {
                    continue;
                }
                let old = ModelState::of(r);
                if old.custom {
                    if prune {
                        removed.push(slug.clone());
                    } else {
                        p.not_in_file.push(format!("model {}/{slug}", g.slug));
                    }
                    continue;
                }
                // A built-in model the file does not list follows `allow_all`.
                if old.enabled != m.allow_all || old.prices.is_some() {
                    let state = ModelState {
                        enabled: m.allow_all,
                        custom: false,
                        finetune: false,
                        base: None,
                        host: None,
                        prices: None,
                    };
                    fields.push(FieldChange {
                        field: slug.clone(),
                        old: Some(old.describe()),
                        new: Some(state.describe()),
                    });
                    body.models.push(state.update(slug, old.prices.is_some()));
                }
            }
            if !fields.is_empty() {
                staged.push((
                    Change {
                        action: if l.is_none() {
                            Action::Create
                        } else {
                            Action::Update
                        },
                        kind: "models".into(),
                        name: g.slug.clone(),
                        fields,
                    },
                    vec![Op::Models {
                        integration: g.slug.clone(),
                        body,
                    }],
                ));
            }
            if !removed.is_empty() {
                staged.push((
                    Change {
                        action: Action::Delete,
                        kind: "models".into(),
                        name: format!("{} ({})", g.slug, removed.join(", ")),
                        fields: vec![],
                    },
                    vec![Op::DeleteModels {
                        integration: g.slug.clone(),
                        slugs: removed,
                    }],
                ));
            }
        }
    }
    if version_warning {
        p.warnings.push("this server cannot record secret versions: a changed `version` is not detected; rotate with `catalog integrations rotate-key`".into());
    }
    for l in &live.file.integrations {
        if file.integrations.iter().any(|g| g.slug == l.slug) {
            continue;
        }
        if prune {
            let versions = secret_refs(l)
                .into_iter()
                .filter(|(_, r)| r.version.is_some())
                .map(|(t, _)| (version_key(&l.slug, &t), None))
                .collect();
            staged.push((
                Change {
                    action: Action::Delete,
                    kind: "integration".into(),
                    name: l.slug.clone(),
                    fields: vec![],
                },
                vec![Op::DeleteIntegration {
                    slug: l.slug.clone(),
                    versions,
                }],
            ));
        } else {
            p.not_in_file.push(format!("integration {}", l.slug));
        }
    }

    // Providers. A default provider (its slug is its integration's) exists whenever its
    // access does: one the file does not list is plain, and one it lists is changed, never
    // created.
    let integration_name = |slug: &str| {
        file.integrations
            .iter()
            .find(|g| g.slug == slug)
            .map(|g| g.name.clone().unwrap_or_else(|| g.slug.clone()))
            .unwrap_or_else(|| slug.to_owned())
    };
    let provider_name = |pr: &ProviderSpec| {
        pr.name.clone().unwrap_or_else(|| {
            if pr.is_default() {
                integration_name(&pr.integration)
            } else {
                pr.slug.clone()
            }
        })
    };
    let provisioned = |workspace: &str, integration: &str| {
        file.integrations.iter().any(|g| {
            g.slug == integration
                && (g.workspaces.contains_key(workspace)
                    || g.workspace.as_deref() == Some(workspace))
        })
    };
    let mut wanted: Vec<ProviderSpec> = file.providers.clone();
    let defaults = live
        .file
        .providers
        .iter()
        .filter(|l| l.is_default())
        .map(|l| (&l.workspace, &l.integration))
        .chain(live.plain_defaults.iter().map(|(w, i)| (w, i)));
    for (workspace, integration) in defaults {
        let listed = wanted
            .iter()
            .any(|p| &p.workspace == workspace && &p.slug == integration);
        if !listed && provisioned(workspace, integration) {
            wanted.push(ProviderSpec::plain_default(workspace, integration));
        }
    }
    for pr in &wanted {
        let name = format!("{}/@{}", pr.workspace, pr.slug);
        let new = serde_json::to_value(pr)?;
        let plain;
        let found = match live
            .file
            .providers
            .iter()
            .find(|l| l.workspace == pr.workspace && l.slug == pr.slug)
        {
            None if pr.is_default() => {
                plain = ProviderSpec::plain_default(&pr.workspace, &pr.integration);
                Some(&plain)
            }
            found => found,
        };
        match found {
            None => {
                staged.push((
                    Change {
                        action: Action::Create,
                        kind: "provider".into(),
                        name,
                        fields: field_changes(None, Some(&new), &["slug", "workspace"]),
                    },
                    vec![Op::CreateProvider {
                        workspace: pr.workspace.clone(),
                        body: CreateProvider {
                            name: provider_name(pr),
                            integration_id: pr.integration.clone(),
                            workspace_id: None,
                            slug: Some(pr.slug.clone()),
                            note: pr.note.clone(),
                            usage_limits: pr.usage_limits.as_ref().map(Budget::to_api),
                            rate_limits: (!pr.rate_limits.is_empty())
                                .then(|| rates(&pr.rate_limits)),
                            concurrency_limit: pr.concurrency_limit,
                            expires_at: pr.expires_at.clone(),
                        },
                    }],
                ));
            }
            Some(l) => {
                if l.integration != pr.integration {
                    return Err(usage_error(
                        format!(
                            "provider `@{}` in `{}`: `integration` cannot change ({} → {})",
                            pr.slug, pr.workspace, l.integration, pr.integration
                        ),
                        "give the provider a new slug (and remove the old one with `--prune`)",
                    ));
                }
                let mut fields = field_changes(
                    Some(&serde_json::to_value(l)?),
                    Some(&new),
                    &["slug", "workspace"],
                );
                // A default provider named after its integration follows a rename of it
                // in the same plan (the next plan would otherwise find the old name).
                let follows = pr.is_default() && pr.name.is_none() && l.name.is_none();
                let live_name = live
                    .integrations
                    .get(&pr.integration)
                    .map(|g| g.name.clone());
                if let (true, Some(old)) = (follows, live_name) {
                    let renamed = provider_name(pr);
                    if old != renamed {
                        fields.push(FieldChange {
                            field: "name".into(),
                            old: Some(show(&Value::String(old))),
                            new: Some(show(&Value::String(renamed))),
                        });
                    }
                }
                if fields.is_empty() {
                    continue;
                }
                let changed = |f: &str| fields.iter().any(|c| c.field == f);
                let body = UpdateProvider {
                    name: changed("name").then(|| provider_name(pr)),
                    note: if changed("note") {
                        pr.note.clone().map_or(Patch::Null, Patch::Value)
                    } else {
                        Patch::Absent
                    },
                    usage_limits: if changed("usage_limits") {
                        pr.usage_limits
                            .as_ref()
                            .map_or(Patch::Null, |b| Patch::Value(b.to_api()))
                    } else {
                        Patch::Absent
                    },
                    rate_limits: if changed("rate_limits") {
                        Patch::Value(OneOrMany::Many(rates(&pr.rate_limits)))
                    } else {
                        Patch::Absent
                    },
                    concurrency_limit: if changed("concurrency_limit") {
                        pr.concurrency_limit.map_or(Patch::Null, Patch::Value)
                    } else {
                        Patch::Absent
                    },
                    expires_at: if changed("expires_at") {
                        pr.expires_at.clone().map_or(Patch::Null, Patch::Value)
                    } else {
                        Patch::Absent
                    },
                    ..Default::default()
                };
                staged.push((
                    Change {
                        action: Action::Update,
                        kind: "provider".into(),
                        name,
                        fields,
                    },
                    vec![Op::UpdateProvider {
                        workspace: pr.workspace.clone(),
                        slug: pr.slug.clone(),
                        body,
                    }],
                ));
            }
        }
    }
    for l in &live.file.providers {
        if wanted
            .iter()
            .any(|p| p.workspace == l.workspace && p.slug == l.slug)
        {
            continue;
        }
        let name = format!("{}/@{}", l.workspace, l.slug);
        // A provider of a workspace or integration being deleted goes with it.
        let goes_anyway = prune
            && (!file.workspaces.iter().any(|w| w.name == l.workspace)
                || !file.integrations.iter().any(|g| g.slug == l.integration));
        if prune {
            staged.push((
                Change {
                    action: Action::Delete,
                    kind: "provider".into(),
                    name,
                    fields: vec![],
                },
                if goes_anyway {
                    vec![]
                } else {
                    vec![Op::DeleteProvider {
                        workspace: l.workspace.clone(),
                        slug: l.slug.clone(),
                    }]
                },
            ));
        } else {
            p.not_in_file.push(format!("provider {name}"));
        }
    }

    // Saved configs, by workspace and name.
    for name in &live.duplicate_configs {
        p.warnings.push(format!(
            "several configs are named `{name}`: they are left alone (the file knows a config by workspace and name)"
        ));
    }
    for c in &file.configs {
        let label = config_label(c.workspace.as_deref(), &c.name);
        if live.duplicate_configs.contains(&label) {
            return Err(usage_error(
                format!("several live configs are named `{label}`"),
                "rename or delete all but one (`catalog configs update SLUG --name ...`): the file knows a config by workspace and name",
            ));
        }
        let key = (c.workspace.clone(), c.name.clone());
        let Some(l) = live
            .file
            .configs
            .iter()
            .find(|l| l.workspace == c.workspace && l.name == c.name)
        else {
            if c.workspace.is_none() {
                return Err(usage_error(
                    format!("config `{}` names no workspace, and the Admin API creates configs in a workspace", c.name),
                    "add `workspace: NAME` to it",
                ));
            }
            let mut fields = vec![FieldChange {
                field: "config".into(),
                old: None,
                new: Some(show(&c.config)),
            }];
            if c.status != ConfigStatus::Active {
                fields.push(FieldChange {
                    field: "status".into(),
                    old: None,
                    new: Some(c.status.as_str().to_owned()),
                });
            }
            staged.push((
                Change {
                    action: Action::Create,
                    kind: "config".into(),
                    name: label,
                    fields,
                },
                vec![Op::CreateConfig {
                    workspace: c.workspace.clone(),
                    body: CreateConfig {
                        name: c.name.clone(),
                        config: c.config.clone(),
                        is_default: None,
                        workspace_id: None,
                    },
                    status: c.status,
                }],
            ));
            continue;
        };
        let mut fields = Vec::new();
        let mut body = UpdateConfig::default();
        if l.config != c.config {
            fields.extend(body_changes(&l.config, &c.config));
            fields.push(FieldChange {
                field: "version".into(),
                old: None,
                new: Some("the changed body is saved as a new version".into()),
            });
            body.config = Some(c.config.clone());
        }
        if l.status != c.status {
            fields.push(FieldChange {
                field: "status".into(),
                old: Some(l.status.as_str().to_owned()),
                new: Some(c.status.as_str().to_owned()),
            });
            body.status = Some(c.status);
        }
        if fields.is_empty() {
            continue;
        }
        let slug = live
            .configs
            .get(&key)
            .map(|c| c.slug.clone())
            .unwrap_or_default();
        staged.push((
            Change {
                action: Action::Update,
                kind: "config".into(),
                name: label.clone(),
                fields,
            },
            vec![Op::UpdateConfig { label, slug, body }],
        ));
    }
    for ((workspace, name), l) in &live.configs {
        if file
            .configs
            .iter()
            .any(|c| &c.workspace == workspace && &c.name == name)
        {
            continue;
        }
        let label = config_label(workspace.as_deref(), name);
        if prune {
            staged.push((
                Change {
                    action: Action::Delete,
                    kind: "config".into(),
                    name: label.clone(),
                    fields: vec![],
                },
                vec![Op::DeleteConfig {
                    label,
                    slug: l.slug.clone(),
                }],
            ));
        } else {
            p.not_in_file.push(format!("config {label}"));
        }
    }

    for (change, ops) in staged {
        if change != placeholder() {
            p.changes.push(change);
        }
        p.ops.extend(ops);
    }
    p.ops.sort_by_key(Op::phase);
    Ok(p)
}

fn placeholder() -> Change {
    Change {
        action: Action::Update,
        kind: String::new(),
        name: String::new(),
        fields: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_bodies_show_changed_paths_or_the_whole_body() {
        let map = |v: Value| v.as_object().unwrap().clone();
        let old = map(
            json!({"retry": {"attempts": 2}, "targets": [{"provider": "@a"}], "cache": {"mode": "simple"}}),
        );
        let new = map(
            json!({"retry": {"attempts": 3}, "targets": [{"provider": "@a"}, {"provider": "@b"}]}),
        );
        let lines: Vec<(String, Option<String>, Option<String>)> = body_changes(&old, &new)
            .into_iter()
            .map(|f| (f.field, f.old, f.new))
            .collect();
        assert_eq!(
            lines,
            vec![
                (
                    "config.retry.attempts".into(),
                    Some("2".into()),
                    Some("3".into())
                ),
                (
                    "config.targets".into(),
                    Some(r#"[{"provider":"@a"}]"#.into()),
                    Some(r#"[{"provider":"@a"},{"provider":"@b"}]"#.into())
                ),
                (
                    "config.cache".into(),
                    Some(r#"{"mode":"simple"}"#.into()),
                    None
                ),
            ]
        );
        let many = map(json!((0..10)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect::<Map<String, Value>>()));
        let whole = body_changes(&Map::new(), &many);
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].field, "config");
        assert_eq!(whole[0].old.as_deref(), Some("{}"));
    }

    #[test]
    fn configs_go_after_providers_and_before_them_when_deleted() {
        let create = Op::CreateConfig {
            workspace: Some("a".into()),
            body: CreateConfig::default(),
            status: ConfigStatus::Active,
        };
        let delete = Op::DeleteConfig {
            label: "x (a)".into(),
            slug: "pc-x".into(),
        };
        let provider = Op::CreateProvider {
            workspace: "a".into(),
            body: CreateProvider::default(),
        };
        let gone = Op::DeleteProvider {
            workspace: "a".into(),
            slug: "p".into(),
        };
        assert!(provider.phase() < create.phase());
        assert!(delete.phase() < gone.phase());
    }

    #[test]
    fn operations_run_in_dependency_order() {
        let ops = [
            Op::DeleteWorkspace {
                workspace: "a".into(),
            },
            Op::CreateProvider {
                workspace: "a".into(),
                body: CreateProvider::default(),
            },
            Op::CreateWorkspace {
                body: CreateWorkspace::default(),
            },
        ];
        let mut sorted: Vec<&Op> = ops.iter().collect();
        sorted.sort_by_key(|o| o.phase());
        assert!(matches!(sorted[0], Op::CreateWorkspace { .. }));
        assert!(matches!(sorted[2], Op::DeleteWorkspace { .. }));
    }
}
