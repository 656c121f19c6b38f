//! `GET /v1/models`: every model a workspace may call, as `@provider/model`, with token
//! limits and effective prices (extensions of the contract's shape).

use std::collections::HashMap;

use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;
use serde_json::Value;

use super::integration_models::is_custom;
use crate::api::models::{
    cents_per_token_to_usd_per_mtok, CatalogModel, EffectivePricing, IntegrationModel,
};
use crate::api::ListEnvelope;
use crate::domain::status::Status;
use crate::registry::{Builtin, ModelKind, ModelSpec, Registry};
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::Query;
use crate::server::AppState;
use crate::store::IntegrationRecord;

/// The integration's multiplier for one kind of token (`default` when unset).
fn multiplier(integration: &IntegrationRecord, field: &str) -> Option<f64> {
    let m = integration
        .public
        .pricing_adjustments
        .as_ref()?
        .get("multiplier")?;
    m.get(field)
        .and_then(Value::as_f64)
        .or_else(|| m.get("default").and_then(Value::as_f64))
}

fn price(base: Option<f64>, factor: Option<f64>) -> Option<f64> {
    base.map(|b| ((b * factor.unwrap_or(1.0)) * 1e6).round() / 1e6)
}

pub fn pricing(
    integration: &IntegrationRecord,
    row: Option<&IntegrationModel>,
    spec: Option<&ModelSpec>,
) -> EffectivePricing {
    let over = row
        .and_then(|r| r.pricing_config.as_ref())
        .map(|p| &p.pay_as_you_go);
    let pick = |o: Option<f64>, r: Option<f64>| o.or(r);
    let (input, output, cache, source) = match over {
        Some(p) => (
            pick(
                p.request_token
                    .map(|x| cents_per_token_to_usd_per_mtok(x.price)),
                spec.and_then(|s| s.input_per_mtok),
            ),
            pick(
                p.response_token
                    .map(|x| cents_per_token_to_usd_per_mtok(x.price)),
                spec.and_then(|s| s.output_per_mtok),
            ),
            pick(
                p.cache_read_input_token
                    .map(|x| cents_per_token_to_usd_per_mtok(x.price)),
                spec.and_then(|s| s.cache_read_per_mtok),
            ),
            "override",
        ),
        None => match spec {
            Some(s) => (
                s.input_per_mtok,
                s.output_per_mtok,
                s.cache_read_per_mtok,
                "registry",
            ),
            None => (None, None, None, "none"),
        },
    };
    let (mi, mo, mc) = (
        multiplier(integration, "request_token"),
        multiplier(integration, "response_token"),
        multiplier(integration, "cache_read_input_token"),
    );
    EffectivePricing {
        input_per_mtok: price(input, mi),
        output_per_mtok: price(output, mo),
        cache_read_per_mtok: price(cache, mc),
        source: source.to_owned(),
        multiplier: mi.filter(|m| (*m - 1.0).abs() > f64::EPSILON),
    }
}

fn kind_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Chat => "chat",
        ModelKind::Embedding => "embedding",
        ModelKind::Image => "image",
    }
}

/// Whether a model may be called: its row says so, else whether the integration allows
/// every model. (Listing also needs the registry to know a model; calling does not.)
pub fn model_enabled(allow_all: bool, row: Option<&IntegrationModel>) -> bool {
    row.and_then(|r| r.enabled).unwrap_or(allow_all)
}

/// The models one provider exposes, given its integration and that integration's model rows.
pub fn provider_models(
    provider: &str,
    integration: &IntegrationRecord,
    rows: &[IntegrationModel],
    registry: &Builtin,
) -> Vec<CatalogModel> {
    let service = integration.public.ai_provider_id.as_str();
    let by_slug: HashMap<&str, &IntegrationModel> =
        rows.iter().map(|r| (r.slug.as_str(), r)).collect();
    let entry = |slug: &str, row: Option<&IntegrationModel>, spec: Option<&ModelSpec>| {
        let limits = spec.or_else(|| {
            row.and_then(|r| r.base_model_slug.as_deref())
                .and_then(|b| registry.find(service, b))
        });
        CatalogModel {
            id: format!("@{provider}/{slug}"),
            slug: slug.to_owned(),
            canonical_slug: slug.to_owned(),
            object: "model".to_owned(),
            provider: provider.to_owned(),
            ai_service: service.to_owned(),
            integration: integration.public.slug.clone(),
            kind: limits.map(|s| kind_name(s.kind).to_owned()),
            max_input_tokens: limits.and_then(|s| s.max_input_tokens),
            max_output_tokens: limits.and_then(|s| s.max_output_tokens),
            pricing: Some(pricing(integration, row, spec.or(limits))),
            is_custom: row.is_some_and(|r| r.is_custom == Some(true)),
            is_finetune: row.is_some_and(|r| r.is_finetune == Some(true)),
            deprecation_date: spec.and_then(|s| s.deprecation_date.clone()),
        }
    };
    let mut out = Vec::new();
    if integration.public.allow_all_models.unwrap_or(true) {
        for spec in registry.models(service) {
            let row = by_slug.get(spec.slug.as_str()).copied();
            if model_enabled(true, row) {
                out.push(entry(&spec.slug, row, Some(spec)));
            }
        }
        for row in rows.iter().filter(|r| r.enabled == Some(true)) {
            if registry.find(service, &row.slug).is_none() {
                out.push(entry(&row.slug, Some(row), None));
            }
        }
    } else {
        for row in rows.iter().filter(|r| model_enabled(false, Some(r))) {
            let spec = (!is_custom(row))
                .then(|| registry.find(service, &row.slug))
                .flatten();
            out.push(entry(&row.slug, Some(row), spec));
        }
    }
    out
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<CatalogModel>>> {
    let ws = match (query.get("workspace_id"), principal.pinned_workspace()) {
        (Some(id), _) => super::workspaces::visible(&state, &principal, id)?,
        (None, Some(own)) => super::workspaces::visible(&state, &principal, own)?,
        (None, None) => {
            return Err(ApiError::invalid(
                "`workspace_id` is required with an organisation API key: name the workspace whose models to list",
            ))
        }
    };
    let registry = Registry::builtin();
    let now = chrono::Utc::now();
    let only_provider = query
        .get("provider")
        .map(|p| p.trim_start_matches('@').to_owned());
    let mut all = Vec::new();
    let mut store_tx = state.store.read()?;
    let tx = &mut *store_tx;
    all.clear();
    let mut integrations: HashMap<String, (IntegrationRecord, Vec<IntegrationModel>)> =
        HashMap::new();
    for p in tx.providers(Some(&ws.id), None)? {
        if !Status::of_provider(&p, now).usable() {
            continue;
        }
        if only_provider.as_deref().is_some_and(|o| o != p.public.slug) {
            continue;
        }
        if !integrations.contains_key(&p.integration_uuid) {
            let Some(integration) = tx.integration(&p.integration_uuid)? else {
                continue;
            };
            let rows = tx
                .models(&p.integration_uuid)?
                .into_iter()
                .map(|m| m.public)
                .collect();
            integrations.insert(p.integration_uuid.clone(), (integration, rows));
        }
        let (integration, rows) = &integrations[&p.integration_uuid];
        all.extend(provider_models(&p.public.slug, integration, rows, registry));
    }
    if let Some(service) = query.get("ai_service") {
        all.retain(|m| m.ai_service == service);
    }
    match query.typed("sort")?.unwrap_or("provider") {
        "name" => all.sort_by(|a, b| a.slug.cmp(&b.slug).then(a.provider.cmp(&b.provider))),
        "ai_service" => all.sort_by(|a, b| a.ai_service.cmp(&b.ai_service).then(a.id.cmp(&b.id))),
        "provider" => all.sort_by(|a, b| a.id.cmp(&b.id)),
        other => {
            return Err(ApiError::invalid(format!(
                "query parameter `sort` must be name, provider or ai_service; got `{other}`"
            )))
        }
    }
    match query.typed("order")?.unwrap_or("asc") {
        "asc" => {}
        "desc" => all.reverse(),
        other => {
            return Err(ApiError::invalid(format!(
                "query parameter `order` must be asc or desc; got `{other}`"
            )))
        }
    }
    let number = |name: &str| -> ApiResult<Option<usize>> {
        query
            .typed(name)?
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::invalid(format!(
                        "query parameter `{name}` must be a whole number, got `{v}`"
                    ))
                })
            })
            .transpose()
    };
    let total = all.len() as u64;
    let offset = number("offset")?.unwrap_or(0);
    let limit = number("limit")?.unwrap_or(usize::MAX);
    let data = all.into_iter().skip(offset).take(limit).collect();
    Ok(Json(ListEnvelope::new(total, data)))
}
