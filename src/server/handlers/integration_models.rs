//! `/integrations/{slug}/models`: which models an integration exposes. This server
//! stores `allow_all_models` and per-model `enabled`; custom and fine-tuned models and
//! pricing overrides are refused as not implemented yet.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::integrations::reachable;
use crate::api::models::{BulkUpdateModels, IntegrationModel, ModelAccessList};
use crate::server::auth::Principal;
use crate::server::error::{refuse_unimplemented, ApiError, ApiResult};
use crate::server::extract::Body;
use crate::server::AppState;

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
) -> ApiResult<Json<ModelAccessList>> {
    let integration = reachable(&state, &principal, &slug)?.public;
    let mut models = Vec::new();
    state.store.transaction(&mut |tx| {
        models = tx.models(&integration.id)?;
        Ok(())
    })?;
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
) -> ApiResult<Json<Value>> {
    principal.require_organisation("model provisioning")?;
    let mut unimplemented = Vec::new();
    for m in &body.models {
        for (field, present) in [
            ("models[].is_custom", m.is_custom.is_some()),
            ("models[].is_finetune", m.is_finetune.is_some()),
            ("models[].base_model_slug", m.base_model_slug.is_some()),
            ("models[].configurations", m.configurations.is_some()),
            ("models[].pricing_config", m.pricing_config.is_some()),
        ] {
            if present && !unimplemented.contains(&field) {
                unimplemented.push(field);
            }
        }
    }
    refuse_unimplemented(&unimplemented)?;
    for (i, m) in body.models.iter().enumerate() {
        if m.slug.trim().is_empty() {
            return Err(ApiError::invalid(format!(
                "`models[{i}].slug` must not be empty"
            )));
        }
    }
    let id = reachable(&state, &principal, &slug)?.public.id;
    state.store.transaction(&mut |tx| {
        let mut integration = tx
            .integration(&id)?
            .ok_or_else(|| ApiError::not_found(format!("integration `{slug}` not found")))?;
        for m in &body.models {
            tx.save_model(
                &id,
                &IntegrationModel {
                    slug: m.slug.clone(),
                    name: Some(m.slug.clone()),
                    enabled: Some(m.enabled),
                    is_custom: Some(false),
                    is_finetune: Some(false),
                    base_model_slug: None,
                },
            )?;
        }
        if let Some(all) = body.allow_all_models {
            integration.public.allow_all_models = Some(all);
            integration.public.last_updated_at = Some(super::now());
            tx.save_integration(&integration)?;
        }
        Ok(())
    })?;
    Ok(Json(json!({})))
}
