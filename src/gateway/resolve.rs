//! From a request to the upstream it goes to: which AI provider the caller named (in
//! Portkey's order), and everything the catalog says about calling it — the provider's
//! state, its integration and access, the credentials (opened in memory only), and
//! whether the model is enabled.

use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde_json::{Map, Value};

use super::error::GatewayError;
use crate::admission::Level;
use crate::api::models::EffectivePricing;
use crate::domain::legacy;
use crate::domain::status::Status;
use crate::registry::Registry;
use crate::server::handlers::{catalog_models, integration_models, integrations, virtual_keys};
use crate::server::AppState;
use crate::store::{ProviderRecord, StoreRead, VirtualKeyRecord};

/// One step of a resolution, as `catalog check` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Step {
    pub step: String,
    pub ok: bool,
    pub detail: String,
}

/// The steps a resolution passed, and the one it is at (which failed, if it stops).
#[derive(Debug, Default)]
pub struct Steps {
    pub passed: Vec<Step>,
    current: &'static str,
}

impl Steps {
    /// Starts step `name`.
    pub fn at(&mut self, name: &'static str) {
        self.current = name;
    }

    /// The current step passed.
    pub fn pass(&mut self, detail: impl Into<String>) {
        self.passed.push(Step {
            step: self.current.to_owned(),
            ok: true,
            detail: detail.into(),
        });
    }

    /// Every step, the failed one last.
    pub fn failed(mut self, error: &GatewayError) -> Vec<Step> {
        self.passed.push(Step {
            step: self.current.to_owned(),
            ok: false,
            detail: error.message.clone(),
        });
        self.passed
    }
}

/// The provider a request names and the model it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub slug: String,
    /// The bare model (any `@slug/` prefix removed); `None` when the request has none.
    pub model: Option<String>,
}

/// `@slug/model` split on the first `/`; Workers AI (`@cf/`) and Hugging Face (`@hf/`)
/// model names are models, not providers.
fn at_model(model: &str) -> Option<Result<(String, String), GatewayError>> {
    let rest = model.strip_prefix('@')?;
    if model.starts_with("@cf/") || model.starts_with("@hf/") {
        return None;
    }
    Some(match rest.split_once('/') {
        Some((slug, m)) if !slug.is_empty() && !m.is_empty() => Ok((slug.to_owned(), m.to_owned())),
        _ => Err(GatewayError::invalid(format!(
            "`model` `{model}` must be `@PROVIDER/MODEL`, e.g. `@openai-prod/gpt-4o`"
        ))),
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The provider named by `x-portkey-provider: @slug`, else `x-portkey-virtual-key`, else
/// `model: "@slug/model"`, else `?model=`. A header and a model prefix that name
/// different providers are refused rather than guessed between.
pub fn named(
    headers: &HeaderMap,
    body_model: Option<&str>,
    query_model: Option<&str>,
) -> Result<Option<Named>, GatewayError> {
    let from_header = match header(headers, "x-portkey-provider") {
        Some(p) => match p.strip_prefix('@') {
            Some(rest) => Some(rest.split('/').next().unwrap_or(rest).to_owned()),
            None => {
                return Err(GatewayError::invalid(format!(
                    "`x-portkey-provider: {p}` names a service, not an AI provider of the catalog: send `@PROVIDER` (an AI provider's slug; `GET /v1/models` lists them), or put it in the model as `@PROVIDER/MODEL`"
                )))
            }
        },
        None => header(headers, "x-portkey-virtual-key").map(str::to_owned),
    };
    let model = body_model.or(query_model);
    let prefixed = model.and_then(at_model).transpose()?;
    let bare = match (&prefixed, model) {
        (Some((_, m)), _) => Some(m.clone()),
        (None, m) => m.map(str::to_owned),
    };
    let named = match (from_header, prefixed) {
        (Some(h), Some((m, _))) if h != m => {
            return Err(GatewayError::invalid(format!(
            "the request names two AI providers: `{h}` in a header and `@{m}` in `model`; name one"
        )))
        }
        (Some(slug), _) | (None, Some((slug, _))) => Named { slug, model: bare },
        (None, None) => return Ok(None),
    };
    check_named(&named)?;
    Ok(Some(named))
}

/// The longest model name the gateway passes on.
const MAX_MODEL: usize = 256;

/// A slug and a model a catalog could hold: not empty, not padded, no control
/// characters, bounded (they end up in messages and log lines).
fn check_named(named: &Named) -> Result<(), GatewayError> {
    let bad = |s: &str, max: usize| {
        s.is_empty() || s.len() > max || s.trim() != s || s.chars().any(char::is_control)
    };
    if bad(&named.slug, 255) {
        return Err(GatewayError::invalid(
            "the AI provider's slug must be 1 to 255 characters without spaces around it: `@PROVIDER/MODEL`",
        ));
    }
    if named.model.as_deref().is_some_and(|m| bad(m, MAX_MODEL)) {
        return Err(GatewayError::invalid(format!(
            "`model` must be 1 to {MAX_MODEL} characters without spaces around it or control characters"
        )));
    }
    Ok(())
}

/// Everything needed to call one model upstream. Holds opened credentials: never logged,
/// never serialized.
pub struct Target {
    /// The AI provider's (or legacy virtual key's) slug.
    pub slug: String,
    /// The service (`openai`, `anthropic`, ...).
    pub service: String,
    /// The integration's slug; `None` for a legacy virtual key not yet migrated.
    pub integration: Option<String>,
    pub workspace_id: String,
    /// The model as the caller named it (bare).
    pub model: String,
    /// The integration's configuration with its secret fields opened.
    pub config: Map<String, Value>,
    pub key: Option<String>,
    /// `custom_host` of the model, else of the integration.
    pub custom_host: Option<String>,
    /// Headers sent with every call: the integration's, then the model's.
    pub custom_headers: Vec<(String, String)>,
    pub pricing: Option<EffectivePricing>,
    /// The model's most output tokens, from the registry.
    pub max_output_tokens: Option<u64>,
    /// The model's most input tokens, from the registry.
    pub max_input_tokens: Option<u64>,
    /// The limits of the integration, its access for the workspace and the provider (or
    /// virtual key).
    pub levels: Vec<Level>,
    /// When the provider (or virtual key) expires: this resolution holds until then.
    pub expires: Option<chrono::DateTime<Utc>>,
    /// What the trust rules, which are fixed while the server runs, say of `custom_host`
    /// (see [`super::hosts::verdict`]), once asked: kept with the resolution.
    pub host_verdict: std::sync::OnceLock<Result<(), super::error::GatewayError>>,
    /// The upstream URLs called so far, parsed: they are fixed while the resolution is.
    pub urls: std::sync::Mutex<Vec<(String, reqwest::Url)>>,
}

/// The most parsed URLs a resolution keeps (its endpoints, streamed or not).
const MOST_URLS: usize = 8;

impl Target {
    /// `url` parsed, as kept with this resolution.
    pub fn url(&self, url: &str) -> Result<reqwest::Url, String> {
        let mut kept = self.urls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, parsed)) = kept.iter().find(|(u, _)| u == url) {
            return Ok(parsed.clone());
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        if kept.len() < MOST_URLS {
            kept.push((url.to_owned(), parsed.clone()));
        }
        Ok(parsed)
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("slug", &self.slug)
            .field("service", &self.service)
            .field("integration", &self.integration)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

fn string_headers(map: Option<&Value>) -> Vec<(String, String)> {
    map.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn opened<T>(what: &str, r: Result<T, impl std::fmt::Display>) -> Result<T, GatewayError> {
    r.map_err(|e| GatewayError::internal(format!("cannot open the {what}: {e}")))
}

/// A workspace's slug for messages (its id if it is gone).
fn workspace_slug(read: &mut dyn StoreRead, id: &str) -> Result<String, GatewayError> {
    Ok(read
        .workspace(id)?
        .map_or_else(|| id.to_owned(), |w| w.slug))
}

/// Resolves `named` for a caller of workspace `workspace_id`.
pub fn target(
    state: &AppState,
    read: &mut dyn StoreRead,
    workspace_id: &str,
    named: &Named,
    steps: &mut Steps,
) -> Result<Target, GatewayError> {
    steps.at("provider");
    let model = named.model.clone().ok_or_else(|| {
        GatewayError::invalid(format!(
            "the request names AI provider `@{}` but no model: send `model`",
            named.slug
        ))
    })?;
    if let Some(provider) = read.provider(workspace_id, &named.slug)? {
        steps.pass(format!(
            "AI provider `@{}` of integration `{}`",
            provider.public.slug, provider.public.integration_id
        ));
        return provider_target(state, read, provider, model, steps);
    }
    if let Some(vk) = read.virtual_key(workspace_id, &named.slug)? {
        steps.pass(format!(
            "virtual key `{}` ({})",
            vk.public.slug,
            vk.public.provider.as_deref().unwrap_or("?")
        ));
        return virtual_key_target(state, vk, model, steps);
    }
    let workspace = workspace_slug(read, workspace_id)?;
    Err(GatewayError::unknown_keys(
        std::slice::from_ref(&named.slug),
        &format!("Workspace `{workspace}` has no AI provider or virtual key with this slug; `GET /v1/models` lists the models this key can call"),
    ))
}

fn provider_target(
    state: &AppState,
    read: &mut dyn StoreRead,
    provider: ProviderRecord,
    model: String,
    steps: &mut Steps,
) -> Result<Target, GatewayError> {
    steps.at("provider state");
    let p = &provider.public;
    let workspace_id = p.workspace_id.clone().unwrap_or_default();
    let status = Status::of_provider(&provider, Utc::now());
    // The workspace's slug is only read for a refusal's message.
    let workspace = match status {
        Status::Active | Status::Exhausted => String::new(),
        _ => workspace_slug(read, &workspace_id)?,
    };
    match status {
        Status::Disabled => {
            return Err(GatewayError::governance(
                "provider_disabled_error",
                format!(
                    "AI provider `@{}` is disabled: integration `{}`'s access to workspace `{workspace}` was revoked; an organisation admin can grant it again with `catalog workspaces provision`",
                    p.slug, p.integration_id
                ),
            ))
        }
        Status::Expired => {
            return Err(GatewayError::new(
                StatusCode::UNAUTHORIZED,
                "virtual_key_expired_error",
                format!(
                    "AI provider `@{}` expired at {}; an admin can extend it with `catalog providers update {} --workspace {workspace} --expires DATE`",
                    p.slug,
                    p.expires_at.as_deref().unwrap_or("?"),
                    p.slug
                ),
            )
            .code("01"))
        }
        state => steps.pass(format!("`@{}` is {state}", p.slug)),
    }
    steps.at("integration");
    let Some(integration) = read.integration(&provider.integration_uuid)? else {
        let workspace = workspace_slug(read, &workspace_id)?;
        return Err(GatewayError::governance(
            "integration_not_found_error",
            format!(
                "AI provider `@{}`'s integration no longer exists; an admin can connect one and provision it to workspace `{workspace}`",
                p.slug
            ),
        ));
    };
    steps.pass(format!(
        "integration `{}` ({}), enabled for the workspace",
        integration.public.slug, integration.public.ai_provider_id
    ));
    let rows = read.models(&integration.public.id)?;
    let service = integration.public.ai_provider_id.clone();
    steps.at("credentials");
    let secrets = opened(
        "integration's credentials",
        integrations::open(state, &integration).map_err(|e| e.message),
    )?;
    let mut config = integration
        .public
        .configurations
        .clone()
        .unwrap_or_default();
    config.extend(secrets.configurations);
    steps.pass(if secrets.key.is_some() {
        "the integration's key opens"
    } else {
        "the integration stores no key"
    });
    steps.at("model allowed");
    let allow_all = integration.public.allow_all_models.unwrap_or(true);
    let registry = Registry::builtin();
    // Azure: a deployment alias stands for the deployment's model.
    let model_slug = super::azure::deployment(&config, &model)
        .map(|d| d.model_slug.unwrap_or_else(|| model.clone()))
        .unwrap_or_else(|| model.clone());
    // Model ids are matched regardless of case: a model denied as `gpt-4o-mini` is not
    // reachable as `GPT-4o-mini` on an upstream that ignores case.
    let row = rows.iter().find(|r| {
        r.public.slug.eq_ignore_ascii_case(&model)
            || r.public.slug.eq_ignore_ascii_case(&model_slug)
    });
    if !catalog_models::model_enabled(allow_all, row.map(|r| &r.public)) {
        return Err(GatewayError::governance(
            "model_not_allowed_error",
            format!(
                "Model {model} is not allowed for this integration: integration `{}` does not enable it for AI provider `@{}`; an admin can enable it with `catalog models allow @{} {model}`",
                integration.public.slug, p.slug, integration.public.slug
            ),
        ));
    }
    steps.pass(match row {
        Some(r) if integration_models::is_custom(&r.public) => format!(
            "`{model}` is a custom model of `{}`",
            integration.public.slug
        ),
        Some(_) => format!("`{model}` is enabled on `{}`", integration.public.slug),
        None => format!("`{}` allows every model", integration.public.slug),
    });
    let spec = row
        .filter(|r| integration_models::is_custom(&r.public))
        .and_then(|r| r.public.base_model_slug.as_deref())
        .or(Some(model_slug.as_str()))
        .and_then(|m| registry.find(&service, m));
    let mut custom_headers = string_headers(config.get("custom_headers"));
    let mut custom_host = config
        .get("custom_host")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(r) = row {
        if let Some(host) = r
            .public
            .configurations
            .as_ref()
            .and_then(|c| c.custom_host.clone())
        {
            custom_host = Some(host);
        }
        if let Some(sealed) = &r.sealed_headers {
            let headers = opened(
                "model's custom headers",
                integration_models::open_headers(
                    &*state.vault,
                    &integration.public.id,
                    &r.public.slug,
                    sealed,
                ),
            )?;
            custom_headers.extend(string_headers(Some(&Value::Object(headers))));
        }
    }
    let access = read
        .access(&integration.public.id, &workspace_id)?
        .map(|a| a.access)
        .unwrap_or_default();
    let levels = vec![
        Level::of_integration(&integration.public),
        Level::of_access(&integration.public, &workspace_id, &access),
        Level::of_provider(p),
    ];
    Ok(Target {
        host_verdict: Default::default(),
        urls: Default::default(),
        expires: crate::domain::status::expiry(p.expires_at.as_deref()),
        slug: p.slug.clone(),
        service,
        integration: Some(integration.public.slug.clone()),
        levels,
        max_input_tokens: spec.and_then(|s| s.max_input_tokens),
        workspace_id,
        pricing: Some(catalog_models::pricing(
            &integration,
            row.map(|r| &r.public),
            spec,
        )),
        max_output_tokens: spec.and_then(|s| s.max_output_tokens),
        model,
        config,
        key: secrets.key,
        custom_host,
        custom_headers,
    })
}

fn virtual_key_target(
    state: &AppState,
    vk: VirtualKeyRecord,
    model: String,
    steps: &mut Steps,
) -> Result<Target, GatewayError> {
    steps.at("provider state");
    let v = &vk.public;
    match Status::of_virtual_key(v, Utc::now()) {
        Status::Expired => {
            return Err(GatewayError::new(
                StatusCode::UNAUTHORIZED,
                "virtual_key_expired_error",
                format!(
                    "virtual key `{}` expired at {}; an admin can migrate it to an AI provider with `catalog migrate-vkeys`",
                    v.slug,
                    v.expires_at.as_deref().unwrap_or("?")
                ),
            )
            .code("01"))
        }
        state => steps.pass(format!("virtual key `{}` is {state}", v.slug)),
    }
    steps.at("credentials");
    let service = v.provider.clone().unwrap_or_default();
    let master = opened(
        "master key",
        virtual_keys::master(state).map_err(|e| e.message),
    )?;
    let secrets = opened(
        "virtual key's credential",
        crate::domain::virtual_keys::open(master, &vk).map_err(|e| e.to_string()),
    )?;
    steps.pass("the virtual key's credential opens");
    let config = legacy::integration_config(&service, v.model_config.as_ref());
    let spec = Registry::builtin().find(&service, &model);
    let levels = vec![Level::of_virtual_key(v)];
    Ok(Target {
        host_verdict: Default::default(),
        urls: Default::default(),
        expires: crate::domain::status::expiry(v.expires_at.as_deref()),
        slug: v.slug.clone(),
        integration: None,
        levels,
        max_input_tokens: spec.and_then(|s| s.max_input_tokens),
        workspace_id: v.workspace_id.clone().unwrap_or_default(),
        custom_host: config
            .get("custom_host")
            .and_then(Value::as_str)
            .map(str::to_owned),
        custom_headers: string_headers(config.get("custom_headers")),
        pricing: None,
        max_output_tokens: spec.and_then(|s| s.max_output_tokens),
        service,
        model,
        config,
        key: secrets.key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn n(slug: &str, model: &str) -> Option<Named> {
        Some(Named {
            slug: slug.into(),
            model: Some(model.into()),
        })
    }

    #[test]
    fn resolution_follows_portkeys_order() {
        let none = HeaderMap::new();
        assert_eq!(
            named(&none, Some("@together/meta-llama/x"), None).unwrap(),
            n("together", "meta-llama/x")
        );
        assert_eq!(named(&none, None, Some("@p/m")).unwrap(), n("p", "m"));
        assert_eq!(named(&none, Some("@cf/meta/x"), None).unwrap(), None);
        let h = headers(&[("x-portkey-provider", "@a"), ("x-portkey-virtual-key", "b")]);
        assert_eq!(named(&h, Some("gpt-4o"), None).unwrap(), n("a", "gpt-4o"));
        let h = headers(&[("x-portkey-virtual-key", "b")]);
        assert_eq!(
            named(&h, Some("@b/gpt-4o"), None).unwrap(),
            n("b", "gpt-4o")
        );
        let e = named(&h, Some("@c/gpt-4o"), None).unwrap_err();
        assert!(e.message.contains("two AI providers"), "{}", e.message);
        let h = headers(&[("x-portkey-provider", "openai")]);
        assert!(named(&h, Some("gpt-4o"), None).is_err());
        assert!(named(&none, Some("@p"), None).is_err());
        assert!(named(&none, Some("@p/ gpt-4o"), None).is_err());
        assert!(named(&none, Some(&format!("@p/{}", "a".repeat(300))), None).is_err());
        let empty = headers(&[("x-portkey-provider", "@")]);
        assert!(named(&empty, Some("gpt-4o"), None).is_err());
    }
}
