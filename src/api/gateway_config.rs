//! Gateway configs: the routing document the gateway reads from `x-portkey-config` (inline
//! JSON, or the id or slug of a saved config) and the `/configs` Admin API stores.
//!
//! A config is a tree of nodes. The root and every entry of `targets` have the same
//! shape: a node either routes itself (`provider` or `virtual_key`, with its
//! `override_params`, `retry`, `request_timeout`, ...) or spreads the request over its
//! `targets` by `strategy.mode` (`single`, `loadbalance` by `weight`, `fallback` on
//! `on_status_codes`, `conditional` by `strategy.conditions`).
//!
//! [`GatewayConfig::parse`] checks a JSON value the way Portkey's gateway does, and more
//! strictly where a mistake would otherwise go unnoticed: every error names the JSON path
//! of the bad field (`targets[1].weight`) and how to fix it. Portkey's gateway ignores
//! keys it does not know; so does this model, except that a key close to a known one
//! (`wieght`) is refused as a typo, naming the key it resembles. Unknown keys are kept in
//! [`GatewayConfig::extra`].

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The most retries Portkey's gateway makes (`retry.attempts`).
pub const MAX_RETRY_ATTEMPTS: u64 = 5;

/// One node of a config: the root or a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayConfig {
    /// How `targets` share the requests; absent for a node that routes itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// The nodes this one routes to, in order (fallback order, or by weight).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<GatewayConfig>,
    /// `@provider-slug` (a Model Catalog provider) or a service name (`openai`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// A legacy virtual key's slug (no `@`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_key: Option<String>,
    /// A provider key given inline (never in a saved config: see [`credential_fields`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Request parameters to set on the request (`model`, `max_tokens`, ...).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub override_params: Map<String, Value>,
    /// The node's share in a `loadbalance` parent; 1 when left out, 0 to send nothing.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub weight: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Milliseconds before the request to this node is abandoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<u64>,
    /// Statuses of this node that make a `fallback` parent try the next target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_status_codes: Vec<u16>,
    /// The upstream base URL, for self-hosted or proxied services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<Cache>,
    /// The target's name, which `conditional` strategies route to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Request headers passed on to the upstream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward_headers: Vec<String>,
    /// Every other key, kept as given (guardrails, hooks, service-specific settings).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn one() -> f64 {
    1.0
}

fn is_one(w: &f64) -> bool {
    *w == 1.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Strategy {
    pub mode: StrategyMode,
    /// For `fallback`: the statuses that move on to the next target (any error if empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_status_codes: Vec<u16>,
    /// For `conditional`: the first condition whose query matches picks its target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// For `conditional`: the target when no condition matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyMode {
    Single,
    Loadbalance,
    Fallback,
    Conditional,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// A metadata query (`{"metadata.user_plan": {"$eq": "paid"}}`).
    pub query: Map<String, Value>,
    /// The `name` of the target to use.
    pub then: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retry {
    /// Retries after the first attempt, 0 to 5.
    pub attempts: u8,
    /// The statuses retried (Portkey's default set when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_status_codes: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_retry_after_headers: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cache {
    pub mode: CacheMode,
    /// Seconds a cached response is served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheMode {
    Simple,
    Semantic,
}

/// Why a config was refused: the JSON path of the bad field, what is wrong, the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `targets[1].weight`; empty for the config as a whole.
    pub path: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "the config {}; {}", self.problem, self.fix)
        } else {
            write!(f, "`{}` {}; {}", self.path, self.problem, self.fix)
        }
    }
}

impl std::error::Error for ConfigError {}

/// The keys of a node that this model knows or Portkey's gateway documents.
pub const NODE_KEYS: &[&str] = &[
    "strategy",
    "targets",
    "provider",
    "virtual_key",
    "api_key",
    "override_params",
    "weight",
    "retry",
    "request_timeout",
    "on_status_codes",
    "custom_host",
    "cache",
    "name",
    "forward_headers",
    "input_guardrails",
    "output_guardrails",
    "before_request_hooks",
    "after_request_hooks",
    "default_input_guardrails",
    "default_output_guardrails",
    "metadata",
    "fetch_integrated_models",
    "strict_open_ai_compliance",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_region",
    "aws_role_arn",
    "vertex_project_id",
    "vertex_region",
    "vertex_service_account_json",
    "openai_project",
    "openai_organization",
    "azure_model_name",
    "azure_resource_name",
    "azure_deployment_id",
    "azure_api_version",
];

const STRATEGY_KEYS: &[&str] = &["mode", "on_status_codes", "conditions", "default"];
const RETRY_KEYS: &[&str] = &["attempts", "on_status_codes", "use_retry_after_headers"];
const CACHE_KEYS: &[&str] = &["mode", "max_age"];
const CONDITION_KEYS: &[&str] = &["query", "then"];

/// Keys that carry a credential: a saved config must not hold one (the catalog keeps
/// credentials in integrations, sealed; a saved config is readable by every key with
/// `configs.read`).
pub const CREDENTIAL_KEYS: &[&str] = &[
    "api_key",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "vertex_service_account_json",
];

impl GatewayConfig {
    /// Checks a config and reads it into the model.
    /// Whole numbers written as floats (`3.0`) are read as integers, as the gateway's
    /// JavaScript reads them.
    pub fn parse(value: &Value) -> Result<GatewayConfig, ConfigError> {
        check_node(value, "")?;
        let mut value = value.clone();
        integers(&mut value);
        serde_json::from_value(value).map_err(|e| ConfigError {
            path: String::new(),
            problem: format!("cannot be read: {e}"),
            fix: "check it against the config reference".to_owned(),
        })
    }

    /// This node and every node below it, depth first.
    pub fn nodes(&self) -> Vec<&GatewayConfig> {
        let mut out = vec![self];
        for t in &self.targets {
            out.extend(t.nodes());
        }
        out
    }
}

/// A whole number of 0 or more, also when written as a float (`3.0`).
fn whole(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 9_007_199_254_740_992.0)
            .map(|f| f as u64)
    })
}

/// Rewrites whole floats as integers, everywhere in a value.
fn integers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(i) = whole(v) {
                *v = Value::from(i);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integers),
        Value::Object(map) => map.values_mut().for_each(integers),
        _ => {}
    }
}

/// What to do instead of saving a credential in a config.
pub const CREDENTIAL_FIX: &str = "connect the key as an integration (`catalog integrations connect`) and route to its AI provider with \"provider\": \"@slug\"";

/// Why a saved config's body is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum SavedConfigError {
    /// The gateway could not read it.
    Invalid(ConfigError),
    /// It holds a credential at this JSON path (`targets[0].api_key`).
    Credential(String),
    /// It is not a JSON object.
    NotAnObject,
}

impl fmt::Display for SavedConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SavedConfigError::Invalid(e) => e.fmt(f),
            SavedConfigError::Credential(path) => write!(
                f,
                "`{path}` holds a credential, which a saved config must not"
            ),
            SavedConfigError::NotAnObject => f.write_str("the config must be a JSON object"),
        }
    }
}

impl std::error::Error for SavedConfigError {}

/// The one check of a saved config's body, as the gateway reads it and without
/// credentials: behind `catalog configs create|update`, the catalog file's `configs:` and
/// `POST`/`PUT /configs`.
pub fn check_saved(value: &Value) -> Result<(), SavedConfigError> {
    GatewayConfig::parse(value).map_err(SavedConfigError::Invalid)?;
    if let Some(first) = credential_fields(value).into_iter().next() {
        return Err(SavedConfigError::Credential(first));
    }
    if !value.is_object() {
        return Err(SavedConfigError::NotAnObject);
    }
    Ok(())
}

/// The paths of credential fields anywhere in a config (`targets[0].api_key`).
pub fn credential_fields(value: &Value) -> Vec<String> {
    fn walk(value: &Value, at: &str, out: &mut Vec<String>) {
        let Some(obj) = value.as_object() else {
            return;
        };
        for key in CREDENTIAL_KEYS {
            if obj.contains_key(*key) {
                out.push(join(at, key));
            }
        }
        if let Some(Value::Array(targets)) = obj.get("targets") {
            for (i, t) in targets.iter().enumerate() {
                walk(t, &format!("{}[{i}]", join(at, "targets")), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

fn err(path: String, problem: impl Into<String>, fix: impl Into<String>) -> ConfigError {
    ConfigError {
        path,
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// The JSON type of a value, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn object<'a>(
    v: &'a Value,
    at: &str,
    example: &str,
) -> Result<&'a Map<String, Value>, ConfigError> {
    v.as_object().ok_or_else(|| {
        err(
            at.to_owned(),
            format!("must be an object, not {}", kind(v)),
            format!("write it as {example}"),
        )
    })
}

fn string<'a>(v: &'a Value, at: &str, example: &str) -> Result<&'a str, ConfigError> {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(err(
            at.to_owned(),
            "is empty",
            format!("give a value such as {example}"),
        )),
        None => Err(err(
            at.to_owned(),
            format!("must be a string, not {}", kind(v)),
            format!("write it as {example}"),
        )),
    }
}

/// The known key that `key` misspells: the closest by `suggest`, at most two edits away
/// (`x_custom` is someone's own key, not a typo of `custom_host`).
fn typo_of<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    crate::suggest::closest(key, known.iter().copied(), 1)
        .into_iter()
        .find(|near| strsim::damerau_levenshtein(key, near) <= 2)
}

/// Refuses a key of `obj` that is not in `known` but close to a key that is.
fn typos(
    obj: &Map<String, Value>,
    at: &str,
    known: &[&str],
    strict: bool,
) -> Result<(), ConfigError> {
    for key in obj.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        match typo_of(key, known) {
            Some(near) => {
                return Err(err(
                    join(at, key),
                    "is not a config field",
                    format!("did you mean `{near}`?"),
                ))
            }
            None if strict => {
                return Err(err(
                    join(at, key),
                    "is not a config field",
                    format!(
                        "remove it; the fields here are {}",
                        known
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
            None => {}
        }
    }
    Ok(())
}

fn status_codes(v: &Value, at: &str) -> Result<Vec<u16>, ConfigError> {
    let items = v.as_array().ok_or_else(|| {
        err(
            at.to_owned(),
            format!("must be an array of HTTP statuses, not {}", kind(v)),
            "write it as [429, 500, 502]",
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            whole(s)
                .filter(|n| (100..=599).contains(n))
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| {
                    err(
                        format!("{at}[{i}]"),
                        format!("must be an HTTP status from 100 to 599, not {s}"),
                        "use a whole number such as 429 or 503",
                    )
                })
        })
        .collect()
}

fn check_node(value: &Value, at: &str) -> Result<(), ConfigError> {
    let what = if at.is_empty() {
        "the config"
    } else {
        "a target"
    };
    let obj = value.as_object().ok_or_else(|| {
        err(
            at.to_owned(),
            format!("must be a JSON object, not {}", kind(value)),
            format!("write {what} as {{\"provider\": \"@openai-prod\"}}"),
        )
    })?;
    if obj.contains_key("options") {
        return Err(err(
            join(at, "options"),
            "belongs to the first config format, which the gateway no longer reads",
            "rename `options` to `targets` and move `mode` into `strategy`: {\"strategy\": {\"mode\": \"fallback\"}, \"targets\": [...]}",
        ));
    }
    if obj.contains_key("mode") && !obj.contains_key("strategy") {
        return Err(err(
            join(at, "mode"),
            "is not a config field",
            "put it in `strategy`: {\"strategy\": {\"mode\": \"fallback\"}}",
        ));
    }
    typos(obj, at, NODE_KEYS, false)?;

    let mut mode = None;
    if let Some(s) = obj.get("strategy") {
        mode = Some(check_strategy(s, &join(at, "strategy"))?);
    }
    // Targets without a strategy are read as `single`, as Portkey's gateway reads them.
    match (obj.get("targets"), mode) {
        (Some(t), mode) => check_targets(
            t,
            &join(at, "targets"),
            mode.unwrap_or(StrategyMode::Single),
            obj,
        )?,
        (None, Some(_)) => return Err(err(
            join(at, "strategy"),
            "needs `targets` to choose from",
            "add `\"targets\": [{\"provider\": \"@openai-prod\"}, ...]`, or remove the strategy",
        )),
        (None, None) => {}
    }
    if let Some(p) = obj.get("provider") {
        let p = string(p, &join(at, "provider"), "\"@openai-prod\"")?;
        let ok = match p.strip_prefix('@') {
            Some(slug) => valid_slug(slug),
            None => {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            }
        };
        if !ok {
            return Err(err(
                join(at, "provider"),
                format!("`{p}` is neither `@provider-slug` nor a service name"),
                "name a Model Catalog provider as \"@openai-prod\" (the model goes in `override_params.model`), or a service such as \"openai\"",
            ));
        }
        if obj.contains_key("virtual_key") {
            return Err(err(
                join(at, "virtual_key"),
                "cannot be given with `provider`",
                "keep one: `provider: \"@slug\"` replaces `virtual_key: \"slug\"`",
            ));
        }
    }
    if let Some(v) = obj.get("virtual_key") {
        let v = string(v, &join(at, "virtual_key"), "\"openai-shared\"")?;
        if !valid_slug(v) {
            return Err(err(
                join(at, "virtual_key"),
                format!("`{v}` is not a virtual key slug"),
                "give the slug alone, without `@` (or use `provider: \"@slug\"`)",
            ));
        }
    }
    if let Some(o) = obj.get("override_params") {
        object(o, &join(at, "override_params"), "{\"model\": \"gpt-4o\"}")?;
    }
    if let Some(w) = obj.get("weight") {
        match w.as_f64() {
            Some(f) if f >= 0.0 && f.is_finite() => {}
            _ => {
                return Err(err(
                    join(at, "weight"),
                    format!("must be a number of 0 or more, not {w}"),
                    "give a share such as 0.7 (0 sends this target nothing)",
                ))
            }
        }
    }
    if let Some(r) = obj.get("retry") {
        check_retry(r, &join(at, "retry"))?;
    }
    if let Some(t) = obj.get("request_timeout") {
        if whole(t).is_none_or(|n| n == 0) {
            return Err(err(
                join(at, "request_timeout"),
                format!("must be a whole number of milliseconds above 0, not {t}"),
                "give milliseconds such as 10000",
            ));
        }
    }
    if let Some(c) = obj.get("on_status_codes") {
        status_codes(c, &join(at, "on_status_codes"))?;
    }
    if let Some(h) = obj.get("custom_host") {
        let h = string(
            h,
            &join(at, "custom_host"),
            "\"https://llm.internal.example/v1\"",
        )?;
        if !(h.starts_with("https://") || h.starts_with("http://"))
            || h.contains(char::is_whitespace)
        {
            return Err(err(
                join(at, "custom_host"),
                "must be an http(s) URL",
                "give the upstream's base URL, such as \"https://llm.internal.example/v1\"",
            ));
        }
    }
    if let Some(c) = obj.get("cache") {
        check_cache(c, &join(at, "cache"))?;
    }
    if let Some(n) = obj.get("name") {
        string(n, &join(at, "name"), "\"primary\"")?;
    }
    if let Some(h) = obj.get("forward_headers") {
        let path = join(at, "forward_headers");
        let items = h.as_array().ok_or_else(|| {
            err(
                path.clone(),
                format!("must be an array of header names, not {}", kind(h)),
                "write it as [\"x-request-id\"]",
            )
        })?;
        for (i, item) in items.iter().enumerate() {
            string(item, &format!("{path}[{i}]"), "\"x-request-id\"")?;
        }
    }
    Ok(())
}

fn valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_strategy(v: &Value, at: &str) -> Result<StrategyMode, ConfigError> {
    let obj = object(v, at, "{\"mode\": \"fallback\"}")?;
    typos(obj, at, STRATEGY_KEYS, true)?;
    let modes = "`single`, `loadbalance`, `fallback` or `conditional`";
    let mode = match obj.get("mode") {
        None => {
            return Err(err(
                join(at, "mode"),
                "is missing",
                format!("set it to {modes}"),
            ))
        }
        Some(m) => match m.as_str() {
            Some("single") => StrategyMode::Single,
            Some("loadbalance") => StrategyMode::Loadbalance,
            Some("fallback") => StrategyMode::Fallback,
            Some("conditional") => StrategyMode::Conditional,
            _ => {
                return Err(err(
                    join(at, "mode"),
                    format!("must be {modes}, not {m}"),
                    format!("set it to one of {modes}"),
                ))
            }
        },
    };
    if let Some(c) = obj.get("on_status_codes") {
        status_codes(c, &join(at, "on_status_codes"))?;
    }
    if let Some(d) = obj.get("default") {
        string(d, &join(at, "default"), "\"primary\"")?;
    }
    match (obj.get("conditions"), mode) {
        (Some(c), StrategyMode::Conditional) => {
            let path = join(at, "conditions");
            let items = c.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                err(path.clone(), "must be a non-empty array", "write it as [{\"query\": {\"metadata.plan\": {\"$eq\": \"paid\"}}, \"then\": \"primary\"}]")
            })?;
            for (i, item) in items.iter().enumerate() {
                let here = format!("{path}[{i}]");
                let cond = object(item, &here, "{\"query\": {...}, \"then\": \"primary\"}")?;
                typos(cond, &here, CONDITION_KEYS, true)?;
                match cond.get("query") {
                    Some(q) => {
                        let query = object(q, &join(&here, "query"), "{\"metadata.plan\": {\"$eq\": \"paid\"}}")?;
                        crate::domain::conditions::check(query, &join(&here, "query")).map_err(
                            |(path, problem)| {
                                err(path, problem, "see Conditional routing in the README for the fields and operators a query takes")
                            },
                        )?;
                    }
                    None => {
                        return Err(err(join(&here, "query"), "is missing", "add the query that selects this condition"))
                    }
                }
                match cond.get("then") {
                    Some(t) => {
                        string(t, &join(&here, "then"), "\"primary\"")?;
                    }
                    None => return Err(err(join(&here, "then"), "is missing", "name the target to use")),
                }
            }
        }
        (None, StrategyMode::Conditional) => {
            return Err(err(
                join(at, "conditions"),
                "is missing",
                "a conditional strategy needs `conditions`: [{\"query\": {...}, \"then\": \"target-name\"}]",
            ))
        }
        (Some(_), _) => {
            return Err(err(
                join(at, "conditions"),
                "is only read by the `conditional` mode",
                "remove it, or set `mode` to `conditional`",
            ))
        }
        (None, _) => {}
    }
    Ok(mode)
}

fn check_targets(
    v: &Value,
    at: &str,
    mode: StrategyMode,
    parent: &Map<String, Value>,
) -> Result<(), ConfigError> {
    let items = v.as_array().ok_or_else(|| {
        err(
            at.to_owned(),
            format!("must be an array of targets, not {}", kind(v)),
            "write it as [{\"provider\": \"@openai-prod\"}, ...]",
        )
    })?;
    if items.is_empty() {
        return Err(err(
            at.to_owned(),
            "is empty",
            "give at least one target, such as {\"provider\": \"@openai-prod\"}",
        ));
    }
    for (i, t) in items.iter().enumerate() {
        check_node(t, &format!("{at}[{i}]"))?;
    }
    if mode == StrategyMode::Loadbalance
        && items
            .iter()
            .all(|t| t.get("weight").and_then(Value::as_f64) == Some(0.0))
    {
        return Err(err(
            at.to_owned(),
            "all have weight 0, so no target would get a request",
            "give at least one target a weight above 0",
        ));
    }
    if mode == StrategyMode::Conditional {
        let names: Vec<&str> = items
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str))
            .collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(err(
                    at.to_owned(),
                    format!(
                        "two targets are named `{name}`, so a condition could not tell them apart"
                    ),
                    "give each target of a conditional strategy its own `name`",
                ));
            }
        }
        let strategy = parent.get("strategy").and_then(Value::as_object);
        let strategy_at = at.strip_suffix("targets").unwrap_or("").to_owned() + "strategy";
        let mut wanted: Vec<(String, &str)> = Vec::new();
        if let Some(conds) = strategy
            .and_then(|s| s.get("conditions"))
            .and_then(Value::as_array)
        {
            for (i, c) in conds.iter().enumerate() {
                if let Some(t) = c.get("then").and_then(Value::as_str) {
                    wanted.push((format!("{strategy_at}.conditions[{i}].then"), t));
                }
            }
        }
        if let Some(d) = strategy
            .and_then(|s| s.get("default"))
            .and_then(Value::as_str)
        {
            wanted.push((format!("{strategy_at}.default"), d));
        }
        for (path, name) in wanted {
            if !names.contains(&name) {
                let near = crate::suggest::closest(name, names.iter().copied(), 1);
                let fix = match near.first() {
                    Some(n) => format!("did you mean `{n}`?"),
                    None => format!("give one of `{at}` the `name` `{name}`"),
                };
                return Err(err(path, format!("names no target (`{name}`)"), fix));
            }
        }
    }
    Ok(())
}

fn check_retry(v: &Value, at: &str) -> Result<(), ConfigError> {
    let obj = object(v, at, "{\"attempts\": 3}")?;
    typos(obj, at, RETRY_KEYS, true)?;
    match obj.get("attempts") {
        None => Err(err(
            join(at, "attempts"),
            "is missing",
            format!("give the number of retries, 0 to {MAX_RETRY_ATTEMPTS}"),
        )),
        Some(a) if whole(a).is_some_and(|n| n <= MAX_RETRY_ATTEMPTS) => Ok(()),
        Some(a) => Err(err(
            join(at, "attempts"),
            format!("must be a whole number from 0 to {MAX_RETRY_ATTEMPTS}, not {a}"),
            format!("the gateway retries at most {MAX_RETRY_ATTEMPTS} times"),
        )),
    }?;
    if let Some(c) = obj.get("on_status_codes") {
        status_codes(c, &join(at, "on_status_codes"))?;
    }
    if let Some(b) = obj.get("use_retry_after_headers") {
        if !b.is_boolean() {
            return Err(err(
                join(at, "use_retry_after_headers"),
                format!("must be true or false, not {b}"),
                "write true or false",
            ));
        }
    }
    Ok(())
}

fn check_cache(v: &Value, at: &str) -> Result<(), ConfigError> {
    let obj = object(v, at, "{\"mode\": \"simple\"}")?;
    typos(obj, at, CACHE_KEYS, true)?;
    match obj.get("mode").and_then(Value::as_str) {
        Some("simple" | "semantic") => {}
        _ => {
            return Err(err(
                join(at, "mode"),
                "must be `simple` or `semantic`",
                "set `mode` to `simple` (exact matches) or `semantic`",
            ))
        }
    }
    if let Some(m) = obj.get("max_age") {
        if whole(m).is_none_or(|n| n == 0) {
            return Err(err(
                join(at, "max_age"),
                format!("must be a whole number of seconds above 0, not {m}"),
                "give seconds such as 3600",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(v: Value) -> ConfigError {
        GatewayConfig::parse(&v).expect_err("refused")
    }

    #[test]
    fn a_nested_fallback_and_loadbalance_config_reads_into_the_model() {
        let text = include_str!("../../tests/golden/gateway_config.json");
        let v: Value = serde_json::from_str(text).unwrap();
        let c = GatewayConfig::parse(&v).unwrap();
        let s = c.strategy.as_ref().unwrap();
        assert_eq!(s.mode, StrategyMode::Fallback);
        assert_eq!(s.on_status_codes, vec![429, 500]);
        assert_eq!(c.targets.len(), 2);
        assert_eq!(c.targets[0].virtual_key.as_deref(), Some("openai-shared"));
        assert_eq!(c.targets[0].override_params["model"], "gpt-4o");
        let inner = &c.targets[1];
        assert_eq!(
            inner.strategy.as_ref().unwrap().mode,
            StrategyMode::Loadbalance
        );
        assert_eq!(inner.targets[0].weight, 0.7);
        assert_eq!(inner.targets[1].provider.as_deref(), Some("@anthropic-eng"));
        assert_eq!(c.cache.as_ref().unwrap().mode, CacheMode::Simple);
        assert_eq!(c.nodes().len(), 5);
        // A target without a weight weighs 1; unknown keys are kept.
        let c = GatewayConfig::parse(&json!({"provider": "openai", "x_custom": 1})).unwrap();
        assert_eq!(c.weight, 1.0);
        assert_eq!(c.extra["x_custom"], 1);
    }

    #[test]
    fn every_refusal_names_the_path_and_the_fix() {
        let e = refused(json!({"strategy": {"mode": "loadbalance"}, "targets": [
            {"provider": "@a", "weight": 1}, {"provider": "@b", "weight": -1}]}));
        assert_eq!(e.path, "targets[1].weight");
        assert!(
            e.to_string()
                .starts_with("`targets[1].weight` must be a number of 0 or more"),
            "{e}"
        );

        let e =
            refused(json!({"strategy": {"mode": "roundrobin"}, "targets": [{"provider": "@a"}]}));
        assert_eq!(e.path, "strategy.mode");
        assert!(e.fix.contains("`loadbalance`"), "{e}");

        let e = refused(json!({"retry": {"attempts": 6}}));
        assert_eq!(e.path, "retry.attempts");
        assert!(refused(json!({"retry": {"attempts": 1.5}})).path == "retry.attempts");
        GatewayConfig::parse(&json!({"retry": {"attempts": 5, "on_status_codes": [429]}})).unwrap();
        // Whole floats are integers, as in the gateway's JavaScript.
        let c =
            GatewayConfig::parse(&json!({"retry": {"attempts": 3.0}, "request_timeout": 1000.0}))
                .unwrap();
        assert_eq!(
            (c.retry.unwrap().attempts, c.request_timeout),
            (3, Some(1000))
        );

        let e = refused(
            json!({"strategy": {"mode": "fallback", "on_status_codes": [429, 99]}, "targets": [{"provider": "@a"}]}),
        );
        assert_eq!(e.path, "strategy.on_status_codes[1]");

        assert_eq!(
            refused(json!({"request_timeout": 0})).path,
            "request_timeout"
        );
        assert_eq!(
            refused(json!({"request_timeout": "10s"})).path,
            "request_timeout"
        );
        assert_eq!(
            refused(json!({"override_params": ["gpt-4o"]})).path,
            "override_params"
        );
        assert_eq!(refused(json!({"provider": 3})).path, "provider");
        assert_eq!(refused(json!({"provider": "@bad slug"})).path, "provider");
        assert_eq!(refused(json!({"virtual_key": ""})).path, "virtual_key");
        assert_eq!(
            refused(json!({"provider": "@a", "virtual_key": "b"})).path,
            "virtual_key"
        );
        assert_eq!(
            refused(
                json!({"strategy": {"mode": "fallback"}, "targets": [{"provider": "@a"}, "b"]})
            )
            .path,
            "targets[1]"
        );
        assert_eq!(
            refused(json!({"strategy": {"mode": "fallback"}})).path,
            "strategy"
        );
        // Targets without a strategy are `single`, as the gateway reads them.
        GatewayConfig::parse(&json!({"targets": [{"provider": "@a"}]})).unwrap();
        assert_eq!(refused(json!([1])).path, "");
    }

    #[test]
    fn typos_are_refused_with_the_closest_name_and_unknown_keys_tolerated() {
        let e = refused(
            json!({"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "@a", "wieght": 2}]}),
        );
        assert_eq!(e.path, "targets[0].wieght");
        assert_eq!(e.fix, "did you mean `weight`?");
        let e = refused(json!({"overide_params": {}}));
        assert_eq!(e.fix, "did you mean `override_params`?");
        let e = refused(json!({"retry": {"attempts": 1, "on_status": [429]}}));
        assert_eq!(e.path, "retry.on_status");
        GatewayConfig::parse(&json!({"provider": "@a", "zzz_team_note": "kept"})).unwrap();
    }

    #[test]
    fn the_first_config_format_is_refused() {
        let e = refused(json!({"mode": "fallback", "options": [{"provider": "openai"}]}));
        assert_eq!(e.path, "options");
        assert!(e.fix.contains("`targets`"), "{e}");
        assert_eq!(refused(json!({"mode": "single"})).path, "mode");
    }

    #[test]
    fn conditional_routing_names_existing_targets() {
        let ok = json!({"strategy": {"mode": "conditional",
            "conditions": [{"query": {"metadata.plan": {"$eq": "paid"}}, "then": "big"}],
            "default": "small"},
            "targets": [{"name": "big", "provider": "@a"}, {"name": "small", "provider": "@b"}]});
        let c = GatewayConfig::parse(&ok).unwrap();
        assert_eq!(c.strategy.unwrap().conditions[0].then, "big");
        let mut bad = ok.clone();
        bad["strategy"]["default"] = json!("smal");
        let e = refused(bad);
        assert_eq!(e.path, "strategy.default");
        assert_eq!(e.fix, "did you mean `small`?");
        let e =
            refused(json!({"strategy": {"mode": "conditional"}, "targets": [{"provider": "@a"}]}));
        assert_eq!(e.path, "strategy.conditions");
    }

    #[test]
    fn credentials_are_found_at_any_depth() {
        let v = json!({"api_key": "x", "strategy": {"mode": "fallback"},
            "targets": [{"provider": "openai"}, {"provider": "openai", "api_key": "y"}]});
        assert_eq!(credential_fields(&v), vec!["api_key", "targets[1].api_key"]);
    }
}
