//! `/integrations/{slug}/models`: which models an integration exposes. `allow_all_models`
//! (the default) enables every model of the service; off, only the models enabled here.
//! Custom and fine-tuned models carry their own host, headers (sealed) and prices.

use crate::server::extract::Path;
use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;
use serde_json::{Map, Value};

use super::integrations::reachable;
use crate::api::models::{
    BulkUpdateModels, IntegrationModel, ModelAccessList, ModelConfigurations, PricingConfig,
};
use crate::api::schema::Empty;
use crate::crypto::{mask, Sealer};
use crate::domain::slugs::check_slug;
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::{Body, Query};
use crate::server::AppState;
use crate::store::ModelRecord;

pub fn is_custom(m: &IntegrationModel) -> bool {
    m.is_custom == Some(true) || m.is_finetune == Some(true)
}

fn check_price(at: &str, price: Option<&crate::api::models::Price>) -> ApiResult<()> {
    match price {
        Some(p) if !p.price.is_finite() || p.price < 0.0 => Err(ApiError::invalid(format!(
            "`{at}.price` must be 0 or more (USD cents per token), got {}",
            p.price
        ))),
        _ => Ok(()),
    }
}

fn check_pricing(at: &str, p: &PricingConfig) -> ApiResult<()> {
    if p.kind != "static" {
        return Err(ApiError::invalid(format!(
            "`{at}.type` must be `static`, got `{}`",
            p.kind
        )));
    }
    check_price(
        &format!("{at}.pay_as_you_go.request_token"),
        p.pay_as_you_go.request_token.as_ref(),
    )?;
    check_price(
        &format!("{at}.pay_as_you_go.response_token"),
        p.pay_as_you_go.response_token.as_ref(),
    )?;
    check_price(
        &format!("{at}.pay_as_you_go.cache_read_input_token"),
        p.pay_as_you_go.cache_read_input_token.as_ref(),
    )
}

fn check_configurations(at: &str, c: &ModelConfigurations) -> ApiResult<()> {
    if let Some(host) = &c.custom_host {
        match reqwest::Url::parse(host) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            _ => {
                return Err(ApiError::invalid(format!(
                    "`{at}.custom_host` must be an http(s) URL such as https://llm.internal/v1"
                )))
            }
        }
    }
    for (k, v) in c.custom_headers.iter().flatten() {
        crate::domain::provider_config::check_header(&format!("{at}.custom_headers"), k, v)
            .map_err(ApiError::invalid)?;
    }
    Ok(())
}

fn validate(body: &BulkUpdateModels) -> ApiResult<()> {
    for (i, m) in body.models.iter().enumerate() {
        let at = format!("models[{i}]");
        if let Some(problem) = crate::api::text::name_problem(&m.slug) {
            return Err(ApiError::invalid(format!("`{at}.slug` {problem}")));
        }
        if m.is_finetune == Some(true) && m.base_model_slug.as_deref().unwrap_or("").is_empty() {
            return Err(ApiError::invalid(format!(
                "`{at}.base_model_slug` is required for a fine-tuned model: name the model it was tuned from"
            )));
        }
        if let Some(c) = &m.configurations {
            check_configurations(&format!("{at}.configurations"), c)?;
        }
        if let Some(p) = m.pricing_config.as_value() {
            check_pricing(&format!("{at}.pricing_config"), p)?;
        }
        if let Some(slug) = &m.base_model_slug {
            if slug.trim().is_empty() {
                return Err(ApiError::invalid(format!(
                    "`{at}.base_model_slug` must not be empty"
                )));
            }
        }
    }
    Ok(())
}

pub(crate) fn headers_context(integration_id: &str, slug: &str) -> String {
    format!("{integration_id}/models/{slug}")
}

/// Seals model-level headers; what is stored in the document is only their masked form.
fn seal_headers(
    key: &dyn Sealer,
    integration_id: &str,
    slug: &str,
    headers: &Map<String, Value>,
) -> ApiResult<Vec<u8>> {
    let plain = serde_json::to_vec(headers).map_err(|e| ApiError::internal(e.to_string()))?;
    key.seal(&plain, &headers_context(integration_id, slug))
        .map_err(|e| ApiError::internal(format!("cannot use the master key: {e:#}")))
}

/// A model's custom headers, opened (in memory only) for a call upstream.
pub fn open_headers(
    key: &dyn Sealer,
    integration_id: &str,
    slug: &str,
    sealed: &[u8],
) -> anyhow::Result<Map<String, Value>> {
    let plain = key.open(sealed, &headers_context(integration_id, slug))?;
    Ok(serde_json::from_slice(&plain)?)
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
) -> ApiResult<Json<ModelAccessList>> {
    let integration = reachable(&state, &principal, &slug)?.public;
    let models: Vec<_> = state
        .store
        .read()?
        .models(&integration.id)?
        .into_iter()
        .map(|m| m.public)
        .collect();
    Ok(Json(ModelAccessList {
        total: models.len() as u64,
        allow_all_models: Some(integration.allow_all_models.unwrap_or(true)),
        models,
        object: "list".to_owned(),
    }))
}

pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    Body(body): Body<BulkUpdateModels>,
) -> ApiResult<Json<Empty>> {
    validate(&body)?;
    let id = reachable(&state, &principal, &slug)?.public.id;
    let needs_key = body.models.iter().any(|m| {
        m.configurations
            .as_ref()
            .is_some_and(|c| c.custom_headers.is_some())
    });
    if needs_key {
        super::organisation::require_workspace_credentials_allowed(
            &mut *state.store.read()?,
            &principal,
        )?;
    }
    let key: Option<&dyn Sealer> = if needs_key {
        Some(super::virtual_keys::master(&state)?)
    } else {
        None
    };
    let mut store_tx = state.begin()?;
    let tx = &mut *store_tx;
    let mut integration = tx
        .integration(&id)?
        .ok_or_else(|| ApiError::not_found(format!("integration `{slug}` not found")))?;
    let existing = tx.models(&id)?;
    for m in &body.models {
        let mut record = existing
            .iter()
            .find(|r| r.public.slug == m.slug)
            .cloned()
            .unwrap_or_else(|| ModelRecord {
                public: IntegrationModel {
                    slug: m.slug.clone(),
                    name: Some(m.slug.clone()),
                    is_custom: Some(false),
                    is_finetune: Some(false),
                    ..Default::default()
                },
                sealed_headers: None,
            });
        let p = &mut record.public;
        p.enabled = Some(m.enabled);
        if let Some(v) = m.is_custom {
            p.is_custom = Some(v);
        }
        if let Some(v) = m.is_finetune {
            p.is_finetune = Some(v);
        }
        if let Some(base) = &m.base_model_slug {
            p.base_model_slug = Some(base.clone());
        }
        if let Some(c) = &m.configurations {
            let mut public = ModelConfigurations {
                custom_host: c.custom_host.clone(),
                ..Default::default()
            };
            record.sealed_headers = match (&c.custom_headers, &key) {
                (Some(h), Some(key)) => {
                    let key: &dyn Sealer = *key;
                    public.masked_custom_headers = Some(
                        h.iter()
                            .map(|(k, v)| {
                                (k.clone(), Value::String(mask(v.as_str().unwrap_or(""))))
                            })
                            .collect(),
                    );
                    Some(seal_headers(key, &id, &m.slug, h)?)
                }
                _ => None,
            };
            p.configurations = Some(public);
        }
        p.pricing_config = m.pricing_config.clone().apply(p.pricing_config.take());
        tx.save_model(&id, &record)?;
    }
    if let Some(all) = body
        .allow_all_models
        .filter(|all| integration.public.allow_all_models != Some(*all))
    {
        integration.public.allow_all_models = Some(all);
        integration.public.last_updated_at = Some(super::now());
        tx.save_integration(&integration)?;
    }
    store_tx.commit()?;
    Ok(Json(Empty {}))
}

/// `DELETE ?slugs=a,b`: custom models are removed; built-in models are disabled.
pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
) -> ApiResult<Json<Empty>> {
    let slugs: Vec<String> = query
        .get("slugs")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if slugs.is_empty() {
        return Err(ApiError::invalid("query parameter `slugs` must name at least one model, e.g. ?slugs=gpt-4o,ft:gpt-4o:acme"));
    }
    for s in &slugs {
        check_slug("slugs", &s.replace([':', '.', '/', '@'], "-"))?;
    }
    let id = reachable(&state, &principal, &slug)?.public.id;
    let mut store_tx = state.begin()?;
    let tx = &mut *store_tx;
    let existing = tx.models(&id)?;
    for s in &slugs {
        match existing.iter().find(|r| &r.public.slug == s) {
            Some(r) if is_custom(&r.public) => tx.delete_model(&id, s)?,
            Some(r) => {
                let mut r = r.clone();
                r.public.enabled = Some(false);
                tx.save_model(&id, &r)?;
            }
            None => tx.save_model(
                &id,
                &ModelRecord {
                    public: IntegrationModel {
                        slug: s.clone(),
                        name: Some(s.clone()),
                        enabled: Some(false),
                        is_custom: Some(false),
                        is_finetune: Some(false),
                        ..Default::default()
                    },
                    sealed_headers: None,
                },
            )?,
        }
    }
    store_tx.commit()?;
    Ok(Json(Empty {}))
}
