//! The declarative catalog file: one YAML (or JSON) document describing the organisation's
//! catalog. Workspaces are named, never referred to by id; secrets are references to an
//! environment variable or a file, never values. Every type refuses unknown fields.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::api::configs::ConfigStatus;
use crate::api::limits::{
    BudgetType, ConcurrencyLimit, PeriodicReset, RateLimit, RateLimitType, RateUnit, UsageLimits,
};

/// A text field written empty (`description: ""`) is the field left out: the catalog
/// stores no empty description or note, so an empty one would never match.
fn blank_as_absent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|t| !t.trim().is_empty()))
}

/// The whole catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "catalog file",
    description = "The organisation's model catalog, as `catalog plan` and `catalog apply` read it and `catalog export` writes it"
)]
pub struct CatalogFile {
    /// Organisation-wide settings (left alone when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<OrganisationSpec>,
    /// Workspaces, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<WorkspaceSpec>,
    /// Integrations (stored provider credentials), by slug.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<IntegrationSpec>,
    /// AI providers beyond the one provisioning creates (which is named after its integration).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderSpec>,
    /// Saved gateway configs, by workspace and name (their slugs are generated).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<ConfigSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationSpec {
    /// Whether workspace admins may connect integrations of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_workspace_integrations: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceSpec {
    /// The workspace's name: how the rest of the file refers to it.
    pub name: String,
    #[serde(
        default,
        deserialize_with = "blank_as_absent",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// `defaults.metadata`: string keys and values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// At most one budget.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage_limits: Vec<Budget>,
    /// At most one rate limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<Rate>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSpec {
    /// Immutable: a new slug is a new integration.
    pub slug: String,
    /// Defaults to the slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The service (`ai_provider_id`), e.g. `openai`, `azure-openai`. Immutable.
    pub service: String,
    /// A workspace-scoped integration names its workspace; absent: the organisation's. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(
        default,
        deserialize_with = "blank_as_absent",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// The provider key, as `{env: VAR}` or `{file: PATH}` (with `version: N` to rotate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<SecretRef>,
    /// The service's settings. Secret settings (and every `custom_headers` value) are
    /// references `{env: VAR}` or `{file: PATH}`, never values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub configuration: BTreeMap<String, Value>,
    /// `pricing_adjustments.multiplier.default`: 0.8 is a 20% discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_multiplier: Option<f64>,
    /// The integration's own budget across every workspace (an extension; at most one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage_limits: Vec<Budget>,
    /// The workspaces it is provisioned to, by workspace name, with their limits.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workspaces: BTreeMap<String, AccessSpec>,
    /// Workspaces created later get access with these limits (`global_workspace_access`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_workspaces: Option<AccessSpec>,
    /// Model access; left alone when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<ModelsSpec>,
}

/// A workspace's access to an integration (or what workspaces created later get).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage_limits: Vec<Budget>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<Rate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_limit: Option<ConcurrencyLimit>,
}

/// Which models an integration exposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelsSpec {
    /// true (the default): every model of the service; false: only `allow` and custom models.
    #[serde(default = "yes")]
    pub allow_all: bool,
    /// Built-in models enabled explicitly (the allow-list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Built-in models disabled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// Price overrides of built-in models, USD per 1M tokens.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, Prices>,
    /// Custom and fine-tuned models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom: Vec<CustomModel>,
}

impl Default for ModelsSpec {
    fn default() -> Self {
        ModelsSpec {
            allow_all: true,
            allow: Vec::new(),
            deny: Vec::new(),
            prices: BTreeMap::new(),
            custom: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Prices in USD per 1M tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
}

impl Prices {
    /// What is wrong with a price, if one is negative or not a number.
    pub fn bad_price(&self) -> Option<String> {
        [
            ("input", self.input),
            ("output", self.output),
            ("cache_read", self.cache_read),
        ]
        .into_iter()
        .find_map(|(name, v)| {
            v.filter(|p| !p.is_finite() || *p < 0.0)
                .map(|p| format!("the `{name}` price must be 0 or more, got {p}"))
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomModel {
    pub slug: String,
    /// A fine-tuned model (needs `base`); otherwise a custom one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub finetune: bool,
    /// The model it is compatible with or was tuned from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_host: Option<String>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    pub slug: String,
    /// The workspace's name.
    pub workspace: String,
    /// The integration's slug.
    pub integration: String,
    /// Defaults to the slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "blank_as_absent",
        skip_serializing_if = "Option::is_none"
    )]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limits: Option<Budget>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<Rate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_limit: Option<ConcurrencyLimit>,
    /// When the provider stops working (RFC 3339, e.g. "2027-01-31T00:00:00Z").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl ProviderSpec {
    /// Whether this is the provider provisioning creates for its integration in its
    /// workspace (its slug is the integration's): it exists whenever the access does, and
    /// the file lists it only for what it adds (limits, expiry, a note, a name).
    pub fn is_default(&self) -> bool {
        self.slug == self.integration
    }

    /// The default provider as provisioning creates it, adding nothing.
    pub fn plain_default(workspace: &str, integration: &str) -> ProviderSpec {
        ProviderSpec {
            slug: integration.to_owned(),
            workspace: workspace.to_owned(),
            integration: integration.to_owned(),
            name: None,
            note: None,
            usage_limits: None,
            rate_limits: Vec::new(),
            concurrency_limit: None,
            expires_at: None,
        }
    }
}

/// A saved gateway config. A config is known by its workspace and name: its slug
/// (`pc-...`) is generated when it is created, so a new name is a new config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigSpec {
    pub name: String,
    /// The workspace's name; absent: an organisation-level config (which the Admin API
    /// may list, but creates only in a workspace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// The gateway config, as `catalog configs create --file` takes it: `provider`
    /// (`@slug`), or `strategy` over `targets`, with `retry`, `override_params`, ...
    /// Credentials are refused: route to an AI provider instead.
    pub config: Map<String, Value>,
    /// `archived` keeps the config but the gateway stops using it.
    #[serde(default = "active", skip_serializing_if = "is_active")]
    pub status: ConfigStatus,
}

fn active() -> ConfigStatus {
    ConfigStatus::Active
}

fn is_active(s: &ConfigStatus) -> bool {
    *s == ConfigStatus::Active
}

/// A budget, as the Admin API's `usage_limits` item (checked by its rules when read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, try_from = "BudgetFields")]
pub struct Budget {
    #[serde(rename = "type")]
    pub kind: BudgetType,
    pub credit_limit: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periodic_reset: Option<PeriodicReset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periodic_reset_days: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct BudgetFields {
    #[serde(rename = "type")]
    kind: BudgetType,
    credit_limit: f64,
    #[serde(default)]
    alert_threshold: Option<f64>,
    #[serde(default)]
    periodic_reset: Option<PeriodicReset>,
    #[serde(default)]
    periodic_reset_days: Option<i64>,
}

impl TryFrom<BudgetFields> for Budget {
    type Error = String;

    fn try_from(f: BudgetFields) -> Result<Budget, String> {
        let b = Budget {
            kind: f.kind,
            credit_limit: f.credit_limit,
            alert_threshold: f.alert_threshold,
            periodic_reset: f.periodic_reset,
            periodic_reset_days: f.periodic_reset_days,
        };
        b.to_api()
            .validate("budget")
            .map_err(|e| e.replace("`budget.", "`"))?;
        Ok(b)
    }
}

impl Budget {
    pub fn to_api(&self) -> UsageLimits {
        UsageLimits {
            kind: self.kind,
            credit_limit: self.credit_limit,
            alert_threshold: self.alert_threshold,
            periodic_reset: self.periodic_reset,
            periodic_reset_days: self.periodic_reset_days,
            next_usage_reset_at: None,
        }
    }

    pub fn from_api(u: &UsageLimits) -> Budget {
        Budget {
            kind: u.kind,
            credit_limit: u.credit_limit,
            alert_threshold: u.alert_threshold,
            periodic_reset: u.periodic_reset,
            periodic_reset_days: u.periodic_reset_days,
        }
    }
}

/// A rate limit, as the Admin API's `rate_limits` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, try_from = "RateFields")]
pub struct Rate {
    #[serde(rename = "type")]
    pub kind: RateLimitType,
    /// `rpm`, `rph` or `rpd`.
    pub unit: RateUnit,
    pub value: i64,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RateFields {
    #[serde(rename = "type")]
    kind: RateLimitType,
    unit: RateUnit,
    value: i64,
}

impl TryFrom<RateFields> for Rate {
    type Error = String;

    fn try_from(f: RateFields) -> Result<Rate, String> {
        let r = Rate {
            kind: f.kind,
            unit: f.unit,
            value: f.value,
        };
        r.to_api()
            .validate("rate", false)
            .map_err(|e| e.replace("`rate.", "`"))?;
        Ok(r)
    }
}

impl Rate {
    pub fn to_api(&self) -> RateLimit {
        RateLimit {
            kind: self.kind,
            unit: self.unit,
            value: self.value,
        }
    }

    pub fn from_api(r: &RateLimit) -> Rate {
        Rate {
            kind: r.kind,
            unit: r.unit,
            value: r.value,
        }
    }
}

/// Where a secret is read from when the file is applied: `{env: VAR}` or `{file: PATH}`
/// (relative to the catalog file). `version` rotates the stored secret when it changes:
/// stored secrets cannot be read back to compare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SecretRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretRefFields {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    file: Option<PathBuf>,
    #[serde(default, deserialize_with = "version_number")]
    version: Option<u64>,
}

/// A secret's version: a whole number. Anything else is refused without repeating it,
/// since it sits beside a secret and may be one.
fn version_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(_) => Err(serde::de::Error::custom(
            "`version` must be a whole number such as 2 (the value given is not repeated)",
        )),
    }
}

/// Whether `name` can name an environment variable in a shell: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub const INLINE_SECRET: &str =
    "an inline secret is refused: write `{env: VAR}` or `{file: PATH}` instead, and keep the value out of the file";

impl SecretRef {
    /// Reads a reference from any value, refusing a plain value without repeating it.
    pub fn from_value(value: &Value) -> Result<SecretRef, String> {
        match value {
            Value::Object(map) if map.contains_key("env") || map.contains_key("file") => {
                let fields: SecretRefFields =
                    serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
                SecretRef::checked(fields)
            }
            Value::Object(_) => Err(
                "a secret reference needs `env: VAR` or `file: PATH` (and optionally `version: N`)"
                    .to_owned(),
            ),
            _ => Err(INLINE_SECRET.to_owned()),
        }
    }

    fn checked(f: SecretRefFields) -> Result<SecretRef, String> {
        match (&f.env, &f.file) {
            (Some(_), Some(_)) => Err("a secret reference takes `env` or `file`, not both".into()),
            (None, None) => Err("a secret reference needs `env: VAR` or `file: PATH`".into()),
            (Some(v), None) if !is_variable_name(v) => Err(
                "`env` must name an environment variable: letters, digits and `_`, not starting with a digit, such as OPENAI_KEY (the value given is not repeated: it may be a secret pasted in by mistake)"
                    .into(),
            ),
            _ => Ok(SecretRef {
                env: f.env,
                file: f.file,
                version: f.version,
            }),
        }
    }

    /// A reference to the environment variable `var`.
    pub fn env(var: impl Into<String>) -> SecretRef {
        SecretRef {
            env: Some(var.into()),
            file: None,
            version: None,
        }
    }

    /// `env AZURE_KEY` or `file secrets/azure.key`, for messages.
    pub fn describe(&self) -> String {
        match (&self.env, &self.file) {
            (Some(v), _) => format!("env {v}"),
            (_, Some(p)) => format!("file {}", p.display()),
            _ => "nothing".to_owned(),
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SecretRef, D::Error> {
        let value = Value::deserialize(d)?;
        SecretRef::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// The JSON Schema of the file (`catalog schema`).
pub fn json_schema() -> Value {
    let schema = schemars::schema_for!(CatalogFile);
    serde_json::to_value(schema).unwrap_or(Value::Null)
}
