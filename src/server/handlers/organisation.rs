//! `/organisation/settings` (an extension of the contract): organisation-wide switches.
//! `allow_workspace_integrations` (default true) says whether workspace admins (workspace
//! API keys) may create integrations of their own. `secret_versions` records, by
//! `INTEGRATION/FIELD`, the version of each secret reference `catalog apply` last wrote:
//! stored secrets cannot be read back, so a changed version is how a rotation is declared.

use crate::server::json::Json;
use axum::extract::State;
use axum::Extension;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::server::auth::Principal;
use crate::server::error::ApiResult;
use crate::server::extract::Body;
use crate::server::AppState;
use crate::store::StoreRead;

const META_ALLOW: &str = "allow_workspace_integrations";
const META_VERSIONS: &str = "secret_versions";

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrganisationSettings {
    pub allow_workspace_integrations: bool,
    /// Extension: the secret versions `catalog apply` recorded, by `INTEGRATION/FIELD`.
    #[serde(default)]
    pub secret_versions: BTreeMap<String, u64>,
    #[serde(default = "object")]
    pub object: String,
}

fn object() -> String {
    "organisation-settings".to_owned()
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct UpdateSettings {
    #[schemars(schema_with = "crate::api::schema::opt_flex_bool")]
    #[serde(default, deserialize_with = "crate::api::lenient::opt_flex_bool")]
    pub allow_workspace_integrations: Option<bool>,
    /// Entries to record; `null` forgets one, entries left out stay.
    #[serde(default)]
    pub secret_versions: Option<BTreeMap<String, Option<u64>>>,
}

pub fn allow_workspace_integrations(db: &mut dyn StoreRead) -> ApiResult<bool> {
    Ok(db.meta(META_ALLOW)?.as_deref() != Some("false"))
}

/// Workspace keys may store credentials (a workspace integration, a legacy virtual key)
/// only while the organisation allows it.
pub fn require_workspace_credentials_allowed(
    db: &mut dyn StoreRead,
    principal: &Principal,
) -> ApiResult<()> {
    if principal.pinned_workspace().is_some() && !allow_workspace_integrations(db)? {
        return Err(crate::server::error::ApiError::forbidden(
            "this organisation does not let workspace admins store provider credentials (organisation setting `allow_workspace_integrations`)",
        ));
    }
    Ok(())
}

fn secret_versions(db: &mut dyn StoreRead) -> ApiResult<BTreeMap<String, u64>> {
    Ok(db
        .meta(META_VERSIONS)?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

pub async fn get(State(state): State<AppState>) -> ApiResult<Json<OrganisationSettings>> {
    let mut db = state.store.read()?;
    Ok(Json(OrganisationSettings {
        allow_workspace_integrations: allow_workspace_integrations(&mut *db)?,
        secret_versions: secret_versions(&mut *db)?,
        object: object(),
    }))
}

pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Body(body): Body<UpdateSettings>,
) -> ApiResult<Json<OrganisationSettings>> {
    principal.require_organisation("organisation settings")?;
    // One change, one transaction (and one audit record), whatever fields it sets.
    let mut tx = state.begin()?;
    if let Some(allow) = body.allow_workspace_integrations {
        tx.set_meta(META_ALLOW, if allow { "true" } else { "false" })?;
    }
    if let Some(changes) = body.secret_versions {
        let mut versions = secret_versions(&mut *tx)?;
        for (k, v) in changes {
            match v {
                Some(v) => versions.insert(k, v),
                None => versions.remove(&k),
            };
        }
        let text = serde_json::to_string(&versions)
            .map_err(|e| crate::server::error::ApiError::internal(e.to_string()))?;
        tx.set_meta(META_VERSIONS, &text)?;
    }
    tx.commit()?;
    get(State(state)).await
}
