use crate::server::extract::Path;
use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::now;
use crate::api::integration::{CreateIntegration, Created, Integration, UpdateIntegration};
use crate::api::limits::{validate_usage_array, UsageLimits};
use crate::api::schema::Empty;
use crate::api::ListEnvelope;
use crate::crypto::{mask, Sealer};
use crate::domain::provider_config;
use crate::domain::slugs::{check_slug, short_suffix, slugify};
use crate::server::auth::Principal;
use crate::server::error::{refuse_unimplemented, ApiError, ApiResult};
use crate::server::extract::{Body, Query};
use crate::server::AppState;
use crate::store::{IntegrationQuery, IntegrationRecord, IntegrationScope, StoreError};

/// What is sealed for an integration: its `key` and the secret configuration fields.
#[derive(Default, Serialize, Deserialize)]
pub struct Secrets {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub configurations: Map<String, Value>,
}

fn seal(state: &AppState, id: &str, secrets: &Secrets) -> ApiResult<Vec<u8>> {
    let plain = serde_json::to_vec(secrets).map_err(|e| ApiError::internal(e.to_string()))?;
    state.vault.seal(&plain, id).map_err(vault_error)
}

pub fn open(state: &AppState, record: &IntegrationRecord) -> ApiResult<Secrets> {
    let plain = state
        .vault
        .open(&record.sealed_secrets, &record.public.id)
        .map_err(vault_error)?;
    serde_json::from_slice(&plain).map_err(|e| ApiError::internal(e.to_string()))
}

fn vault_error(e: anyhow::Error) -> ApiError {
    ApiError::internal(format!("cannot use the master key: {e:#}"))
}

pub const MULTIPLIER_FIELDS: &[&str] = &[
    "default",
    "request_token",
    "response_token",
    "cache_read_input_token",
    "cache_write_input_token",
    "cache_read_audio_input_token",
    "request_audio_token",
    "response_audio_token",
    "reasoning_token",
    "prediction_accepted_token",
    "prediction_rejected_token",
    "request_image_token",
    "response_image_token",
    "request_text_token",
    "response_text_token",
    "cache_read_image_input_token",
    "cache_read_text_input_token",
    "cache_write_text_input_token",
    "cache_write_image_input_token",
];

fn check_pricing_adjustments(value: &Value) -> ApiResult<()> {
    let bad = |what: String| Err(ApiError::invalid(what));
    let Some(obj) = value.as_object() else {
        return bad("`pricing_adjustments` must be an object `{multiplier: {...}}` or null".into());
    };
    for (k, v) in obj {
        if k != "multiplier" {
            return bad(format!(
                "`pricing_adjustments.{k}` is not a pricing adjustment; use `multiplier`"
            ));
        }
        let Some(m) = v.as_object() else {
            return bad("`pricing_adjustments.multiplier` must be an object".into());
        };
        for (field, factor) in m {
            let at = format!("pricing_adjustments.multiplier.{field}");
            let nested = match field.as_str() {
                "image" => Some(("default", factor)),
                "additional_units" => None,
                f if MULTIPLIER_FIELDS.contains(&f) => {
                    check_factor(&at, factor)?;
                    continue;
                }
                _ => return bad(format!("`{at}` is not a known multiplier")),
            };
            let Some(inner) = factor.as_object() else {
                return bad(format!("`{at}` must be an object"));
            };
            for (k, v) in inner {
                if let Some((only, _)) = nested {
                    if k != only {
                        return bad(format!(
                            "`{at}.{k}` is not a known multiplier; use `{only}`"
                        ));
                    }
                }
                check_factor(&format!("{at}.{k}"), v)?;
            }
        }
    }
    Ok(())
}

fn check_factor(at: &str, v: &Value) -> ApiResult<()> {
    match v {
        Value::Null => Ok(()),
        Value::Number(n) if n.as_f64().is_some_and(|f| f >= 0.0) => Ok(()),
        _ => Err(ApiError::invalid(format!(
            "`{at}` must be a number of 0 or more (1 leaves prices unchanged, 0.8 is a 20% discount)"
        ))),
    }
}

/// The integration's own budget (across every workspace): at most one, checked as every
/// budget is.
fn check_budget(usage_limits: &[UsageLimits]) -> ApiResult<()> {
    validate_usage_array(usage_limits, "usage_limits", 1).map_err(ApiError::invalid)
}

/// Loads an integration the caller may reach.
pub fn reachable(
    state: &AppState,
    principal: &Principal,
    slug: &str,
) -> ApiResult<IntegrationRecord> {
    let record = state
        .store
        .read()?
        .integration(slug)?
        .ok_or_else(|| ApiError::not_found(format!("integration `{slug}` not found")))?;
    match &record.public.workspace_id {
        None => principal.require_organisation("organisation integrations")?,
        Some(ws) => principal.require_workspace(ws)?,
    }
    Ok(record)
}

/// Resolves a workspace id or slug to its id, honouring a workspace key's pin.
fn workspace_id(state: &AppState, principal: &Principal, id: &str) -> ApiResult<String> {
    super::workspaces::visible(state, principal, id).map(|ws| ws.id)
}

pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Body(body): Body<CreateIntegration>,
) -> ApiResult<Json<Created>> {
    let mut unimplemented = Vec::new();
    if body.secret_mappings.is_some() {
        unimplemented.push("secret_mappings");
    }
    if body.create_default_provider == Some(true) {
        unimplemented.push("create_default_provider");
    }
    if body.default_provider_slug.is_some() {
        unimplemented.push("default_provider_slug");
    }
    refuse_unimplemented(&unimplemented)?;
    super::organisation::require_workspace_credentials_allowed(
        &mut *state.store.read()?,
        &principal,
    )?;
    let workspace = match (&body.workspace_id, principal.pinned_workspace()) {
        (Some(ws), _) => Some(workspace_id(&state, &principal, ws)?),
        (None, Some(own)) => Some(own.to_owned()),
        (None, None) => None,
    };
    if let Some(slug) = &body.slug {
        check_slug("slug", slug)?;
    }
    if let Some(p) = &body.pricing_adjustments {
        check_pricing_adjustments(p)?;
    }
    if let Some(u) = &body.usage_limits {
        check_budget(u)?;
    }
    let key = body.key.filter(|k| !k.is_empty());
    let config = body.configurations.unwrap_or_default();
    provider_config::validate(&body.ai_provider_id, &config, key.is_some())
        .map_err(ApiError::invalid)?;
    let (public_config, secret_config) = provider_config::split(&body.ai_provider_id, config);

    let id = uuid::Uuid::new_v4().to_string();
    let explicit_slug = body.slug.is_some();
    let mut slug = body.slug.unwrap_or_else(|| {
        let s = slugify(&body.name, 200);
        if s.is_empty() {
            format!("integration-{}", short_suffix())
        } else {
            s
        }
    });
    let secrets = Secrets {
        key: key.clone(),
        configurations: secret_config,
    };
    let at = now();
    let mut record = IntegrationRecord {
        public: Integration {
            id: id.clone(),
            slug: slug.clone(),
            name: body.name,
            ai_provider_id: body.ai_provider_id,
            description: body.description,
            status: Some("active".to_owned()),
            kind: Some(
                if workspace.is_some() {
                    "workspace"
                } else {
                    "organisation"
                }
                .to_owned(),
            ),
            workspace_id: workspace,
            organisation_id: Some(state.store.organisation_id().to_owned()),
            masked_key: key.as_deref().map(mask),
            configurations: Some(public_config),
            pricing_adjustments: body.pricing_adjustments,
            usage_limits: body.usage_limits.filter(|u| !u.is_empty()),
            global_workspace_access_settings: None,
            workspace_count: None,
            allow_all_models: Some(true),
            created_at: Some(at.clone()),
            last_updated_at: Some(at),
            object: "integration".to_owned(),
        },
        sealed_secrets: seal(&state, &id, &secrets)?,
    };
    let mut tx = state.begin()?;
    match tx.insert_integration(&record) {
        Err(StoreError::Conflict(_)) if !explicit_slug => {
            // A slug derived from the name may be taken: keep the name, add a suffix.
            slug = format!("{slug}-{}", short_suffix());
            record.public.slug = slug.clone();
            tx.insert_integration(&record)?;
        }
        other => other?,
    }
    tx.commit()?;
    Ok(Json(Created { id, slug }))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<Integration>>> {
    let mut scope = match query.typed("type")? {
        None | Some("all") => IntegrationScope::All,
        Some("organisation") => IntegrationScope::Organisation,
        Some("workspace") => IntegrationScope::Workspace,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "query parameter `type` must be organisation, workspace or all; got `{other}`"
            )))
        }
    };
    let mut workspace = match query.get("workspace_id") {
        Some(ws) => Some(workspace_id(&state, &principal, ws)?),
        None => None,
    };
    if let Some(own) = principal.pinned_workspace() {
        // A workspace key sees its own workspace's integrations only: none of the
        // organisation's.
        if scope == IntegrationScope::Organisation {
            return Ok(Json(ListEnvelope::new(0, Vec::new())));
        }
        scope = IntegrationScope::Workspace;
        workspace = Some(own.to_owned());
    }
    let (total, records) = state.store.read()?.integrations(&IntegrationQuery {
        scope,
        workspace_id: workspace,
        page: query.page(100)?,
    })?;
    Ok(Json(ListEnvelope::new(
        total,
        records.into_iter().map(|r| r.public).collect(),
    )))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
) -> ApiResult<Json<Integration>> {
    let mut integration = reachable(&state, &principal, &slug)?.public;
    let count = state
        .store
        .read()?
        .accesses(Some(&integration.id), None)?
        .iter()
        .filter(|a| a.access.enabled)
        .count();
    integration.workspace_count = Some(count as u64);
    Ok(Json(integration))
}

pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    Body(body): Body<UpdateIntegration>,
) -> ApiResult<Json<Created>> {
    if body.secret_mappings.is_some() {
        refuse_unimplemented(&["secret_mappings"])?;
    }
    if let Some(p) = body.pricing_adjustments.as_value() {
        check_pricing_adjustments(p)?;
    }
    if let Some(u) = body.usage_limits.as_value() {
        check_budget(u)?;
    }
    let current = reachable(&state, &principal, &slug)?;
    let touches_secrets = body.key.is_some() || body.configurations.is_some();
    if touches_secrets {
        super::organisation::require_workspace_credentials_allowed(
            &mut *state.store.read()?,
            &principal,
        )?;
    }
    // Opened outside the store's write transaction: the vault may consult the keyring.
    let opened = if touches_secrets {
        Some(open(&state, &current)?)
    } else {
        None
    };
    let master: Option<&dyn Sealer> = if touches_secrets {
        state.vault.keys().map_err(vault_error)?;
        Some(&*state.vault)
    } else {
        None
    };
    let mut tx = state.begin()?;
    let mut record = tx
        .integration(&current.public.id)?
        .ok_or_else(|| ApiError::not_found(format!("integration `{slug}` not found")))?;
    // A master-key rotation re-seals secrets without changing them: only a secret that
    // changed since it was opened is a conflict.
    if record.sealed_secrets != current.sealed_secrets {
        if let Some(before) = &opened {
            let now = open(&state, &record)?;
            if serde_json::to_vec(&now).ok() != serde_json::to_vec(before).ok() {
                return Err(ApiError::conflict(
                    "the integration's credentials changed during this update; retry",
                ));
            }
        }
    }
    // A PUT that changes nothing leaves the integration untouched.
    let before = serde_json::to_value(&record.public).ok();
    let mut secrets_changed = false;
    let public = &mut record.public;
    if let Some(name) = body.name {
        public.name = name;
    }
    public.description = body.description.apply(public.description.take());
    public.pricing_adjustments = body
        .pricing_adjustments
        .apply(public.pricing_adjustments.take());
    public.usage_limits = body
        .usage_limits
        .apply(public.usage_limits.take())
        .filter(|u| !u.is_empty());
    if let (Some(mut secrets), Some(master)) = (opened, master) {
        let old_plain = serde_json::to_vec(&secrets).ok();
        let old_public = public.configurations.take().unwrap_or_default();
        let mut full = provider_config::join(&old_public, &secrets.configurations);
        for (k, v) in body.configurations.unwrap_or_default() {
            if v.is_null() {
                full.remove(&k);
            } else {
                full.insert(k, v);
            }
        }
        if let Some(key) = body.key.filter(|k| !k.is_empty()) {
            secrets.key = Some(key);
        }
        provider_config::validate(&public.ai_provider_id, &full, secrets.key.is_some())
            .map_err(ApiError::invalid)?;
        let (public_config, secret_config) = provider_config::split(&public.ai_provider_id, full);
        secrets.configurations = secret_config;
        public.configurations = Some(public_config);
        public.masked_key = secrets.key.as_deref().map(mask);
        let plain = serde_json::to_vec(&secrets).map_err(|e| ApiError::internal(e.to_string()))?;
        if old_plain.as_ref() != Some(&plain) {
            secrets_changed = true;
            record.sealed_secrets = master.seal(&plain, &public.id).map_err(vault_error)?;
        }
    }
    if secrets_changed || serde_json::to_value(&record.public).ok() != before {
        record.public.last_updated_at = Some(now());
        tx.save_integration(&record)?;
        tx.commit()?;
    }
    Ok(Json(Created {
        id: record.public.id.clone(),
        slug: record.public.slug.clone(),
    }))
}

/// Deletes an integration. While AI providers use it the answer is 409 naming them;
/// `?force_delete=true` (an extension) deletes those providers with it.
pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
) -> ApiResult<Json<Empty>> {
    let record = reachable(&state, &principal, &slug)?;
    let force = match query.typed("force_delete")? {
        None => false,
        Some(v) => {
            crate::api::lenient::flex_bool(&Value::String(v.to_owned())).ok_or_else(|| {
                ApiError::invalid(format!(
                    "query parameter `force_delete` must be true or false, got `{v}`"
                ))
            })?
        }
    };
    let id = record.public.id.clone();
    let mut store_tx = state.begin()?;
    let tx = &mut *store_tx;
    let users = tx.providers(None, Some(&id))?;
    if !users.is_empty() && !force {
        let names: Vec<String> = users
            .iter()
            .map(|p| format!("`{}`", p.public.slug))
            .collect();
        return Err(ApiError::conflict(format!(
            "integration `{slug}` is used by {} AI provider(s) ({}); delete them first or pass force_delete=true to delete them with it",
            users.len(),
            names.join(", ")
        ))
        );
    }
    tx.delete_integration(&id)?;
    store_tx.commit()?;
    Ok(Json(Empty {}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pricing_adjustments_are_checked() {
        assert!(check_pricing_adjustments(&json!({"multiplier": {"default": 0.8}})).is_ok());
        assert!(check_pricing_adjustments(&json!({"multiplier": {"default": -1}})).is_err());
        assert!(check_pricing_adjustments(&json!({"multiplier": {"bogus": 1}})).is_err());
        assert!(
            check_pricing_adjustments(&json!({"multiplier": {"image": {"default": 2}}})).is_ok()
        );
    }
}
