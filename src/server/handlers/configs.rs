//! `/configs`: saved gateway configs, each in one workspace, with every version kept.
//!
//! Admin keys name the workspace with `workspace_id` (body on POST, query elsewhere) when
//! creating; config slugs are unique across the organisation, so reading, updating and
//! deleting need only the slug or id. A workspace key sees its own workspace's configs
//! only: another workspace's config is "not found", never "forbidden", so that its
//! existence does not leak. `DELETE` removes a config and its versions for good (set
//! `status: archived` with `PUT` to keep it but stop the gateway using it).

use axum::extract::State;
use axum::Extension;
use serde_json::{Map, Value};

use super::now;
use crate::api::configs::{Config, ConfigCreated, ConfigVersion, CreateConfig, UpdateConfig};
use crate::api::gateway_config::{check_saved, SavedConfigError, CREDENTIAL_FIX};
use crate::api::schema::Empty;
use crate::api::workspace::Workspace;
use crate::api::ListEnvelope;
use crate::domain::slugs::{short_suffix, slugify};
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::{Body, Path, Query};
use crate::server::json::Json;
use crate::server::AppState;
use crate::store::{ConfigQuery, StoreError, StoreTx};

/// Attempts at a fresh slug before giving up (six random hex digits rarely collide).
const SLUG_ATTEMPTS: usize = 5;

/// Checks a config as the gateway will read it, and refuses credentials in it.
pub fn check_config(config: &Map<String, Value>) -> ApiResult<Value> {
    let value = Value::Object(config.clone());
    match check_saved(&value) {
        Ok(()) => Ok(value),
        Err(e @ SavedConfigError::Credential(_)) => Err(ApiError::invalid(format!(
            "`config` is invalid: {e}; {CREDENTIAL_FIX}"
        ))),
        Err(e) => Err(ApiError::invalid(format!("`config` is invalid: {e}"))),
    }
}

/// The workspace named by `given`, else a workspace key's own; `None` for an
/// organisation key that names none.
fn named_workspace(
    state: &AppState,
    principal: &Principal,
    given: Option<&str>,
) -> ApiResult<Option<Workspace>> {
    match given.or(principal.pinned_workspace()) {
        Some(id) => super::workspaces::visible(state, principal, id).map(Some),
        None => Ok(None),
    }
}

fn not_found(slug: &str) -> ApiError {
    ApiError::not_found(format!(
        "config `{slug}` not found; list them with `catalog configs list`"
    ))
}

/// A config the caller may see, in the workspace it named if it named one.
fn visible(
    principal: &Principal,
    ws: Option<&Workspace>,
    slug: &str,
    found: Option<Config>,
) -> ApiResult<Config> {
    let config = found.ok_or_else(|| not_found(slug))?;
    let owner = config.workspace_id.as_deref();
    let pinned_elsewhere = principal
        .pinned_workspace()
        .is_some_and(|p| Some(p) != owner);
    let named_elsewhere = ws.is_some_and(|w| Some(w.id.as_str()) != owner);
    if pinned_elsewhere || named_elsewhere {
        return Err(not_found(slug));
    }
    Ok(config)
}

/// `pc-` with up to six letters of the name and six random hex digits.
fn new_slug(name: &str) -> String {
    let base = slugify(name, 6).replace('-', "");
    let base = if base.is_empty() {
        "config".to_owned()
    } else {
        base
    };
    format!("pc-{}-{}", &base[..base.len().min(6)], short_suffix())
}

fn new_version(config_id: &str, number: u32, config: &Value) -> ConfigVersion {
    ConfigVersion {
        id: uuid::Uuid::new_v4().to_string(),
        config_id: config_id.to_owned(),
        version: number,
        config: config.to_string(),
        created_at: Some(now()),
        object: "config-version".to_owned(),
    }
}

/// Makes `config` its workspace's only default.
fn clear_other_defaults(tx: &mut dyn StoreTx, config: &Config) -> ApiResult<()> {
    let (_, others) = tx.configs(&ConfigQuery {
        workspace_id: config.workspace_id.clone(),
        page: crate::store::Page {
            current_page: 0,
            page_size: u64::MAX / 2,
        },
    })?;
    for mut other in others {
        if other.id != config.id && other.is_default == 1 {
            other.is_default = 0;
            other.last_updated_at = Some(now());
            tx.save_config(&other)?;
        }
    }
    Ok(())
}

pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Body(body): Body<CreateConfig>,
) -> ApiResult<Json<ConfigCreated>> {
    let value = check_config(&body.config)?;
    let ws =
        named_workspace(&state, &principal, body.workspace_id.as_deref())?.ok_or_else(|| {
            ApiError::invalid(
            "`workspace_id` is required with an organisation API key: name the config's workspace",
        )
        })?;
    let id = uuid::Uuid::new_v4().to_string();
    let first = new_version(&id, 1, &value);
    let mut config = Config {
        id: id.clone(),
        slug: String::new(),
        name: body.name.clone(),
        workspace_id: Some(ws.id.clone()),
        organisation_id: Some(state.store.organisation_id().to_owned()),
        status: "active".to_owned(),
        is_default: u8::from(body.is_default.is_some_and(|f| f.0)),
        version_id: first.id.clone(),
        config: first.config.clone(),
        format: "json".to_owned(),
        kind: "ORG_CONFIG".to_owned(),
        created_at: Some(now()),
        last_updated_at: Some(now()),
        object: "config".to_owned(),
    };
    let mut store_tx = state.begin()?;
    let tx = &mut *store_tx;
    let mut attempt = 0;
    loop {
        config.slug = new_slug(&body.name);
        match tx.insert_config(&config, &first) {
            Ok(()) => break,
            Err(StoreError::Conflict(_)) if attempt + 1 < SLUG_ATTEMPTS => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
    if config.is_default == 1 {
        clear_other_defaults(tx, &config)?;
    }
    store_tx.commit()?;
    Ok(Json(ConfigCreated {
        id,
        slug: config.slug,
        version_id: first.id,
    }))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<Config>>> {
    let ws = named_workspace(&state, &principal, query.get("workspace_id"))?;
    let page = query.page(100)?;
    let (total, data) = state.store.read()?.configs(&ConfigQuery {
        workspace_id: ws.map(|w| w.id),
        page,
    })?;
    Ok(Json(ListEnvelope::new(total, data)))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
) -> ApiResult<Json<Config>> {
    let ws = named_workspace(&state, &principal, query.get("workspace_id"))?;
    let found = state.store.read()?.config(&slug)?;
    visible(&principal, ws.as_ref(), &slug, found).map(Json)
}

/// Answers with the whole updated config: its `version_id` is the new version's when
/// `config` changed (clients that read only `version_id` find it at the top level).
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
    Body(body): Body<UpdateConfig>,
) -> ApiResult<Json<Config>> {
    let value = body.config.as_ref().map(check_config).transpose()?;
    let ws = named_workspace(&state, &principal, query.get("workspace_id"))?;
    let mut store_tx = state.begin()?;
    let tx = &mut *store_tx;
    let found = tx.config(&slug)?;
    let mut config = visible(&principal, ws.as_ref(), &slug, found)?;
    if let Some(name) = &body.name {
        config.name = name.clone();
    }
    if let Some(status) = body.status {
        config.status = status.as_str().to_owned();
    }
    if let Some(flag) = body.is_default {
        config.is_default = u8::from(flag.0);
    }
    if let Some(value) = value {
        let current: Option<Value> = serde_json::from_str(&config.config).ok();
        if current.as_ref() != Some(&value) {
            let number =
                u32::try_from(tx.config_versions(&config.id)?.len()).unwrap_or(u32::MAX - 1) + 1;
            let version = new_version(&config.id, number, &value);
            tx.insert_config_version(&version)?;
            config.version_id = version.id;
            config.config = version.config;
        }
    }
    config.last_updated_at = Some(now());
    tx.save_config(&config)?;
    if config.is_default == 1 {
        clear_other_defaults(tx, &config)?;
    }
    store_tx.commit()?;
    Ok(Json(config))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
) -> ApiResult<Json<Empty>> {
    let ws = named_workspace(&state, &principal, query.get("workspace_id"))?;
    let mut tx = state.begin()?;
    let found = tx.config(&slug)?;
    let config = visible(&principal, ws.as_ref(), &slug, found)?;
    tx.delete_config(&config.id)?;
    tx.commit()?;
    Ok(Json(Empty {}))
}

pub async fn versions(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(slug): Path<String>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<ConfigVersion>>> {
    let ws = named_workspace(&state, &principal, query.get("workspace_id"))?;
    let page = query.page(100)?;
    let mut db = state.store.read()?;
    let found = db.config(&slug)?;
    let config = visible(&principal, ws.as_ref(), &slug, found)?;
    let all = db.config_versions(&config.id)?;
    let total = all.len() as u64;
    Ok(Json(ListEnvelope::new(total, page.slice(all))))
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_look_like_portkeys() {
        let s = super::new_slug("Fallback to Anthropic");
        assert!(s.starts_with("pc-fallba-"), "{s}");
        assert_eq!(s.len(), "pc-fallba-".len() + 6);
        assert!(super::new_slug("🚀").starts_with("pc-config-"));
    }
}
