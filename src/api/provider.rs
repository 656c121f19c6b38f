//! AI providers (`/providers`): an integration made callable in one workspace as `@slug`.

use serde::{Deserialize, Serialize};

use super::lenient::opt_flex_bool;
use super::limits::{ConcurrencyLimit, RateLimit, UsageLimits};
use super::patch::Patch;
use super::usage::UsageState;

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Provider {
    #[serde(default)]
    pub id: String,
    pub slug: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub note: Option<String>,
    /// The integration's slug.
    #[serde(default)]
    pub integration_id: String,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub organisation_id: Option<String>,
    /// `active`, `exhausted`, `expired` or `disabled` (integration access revoked).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub ai_provider_id: Option<String>,
    #[serde(default)]
    pub usage_limits: Option<UsageLimits>,
    #[serde(default, serialize_with = "super::json::empty_as_null")]
    pub rate_limits: Option<Vec<RateLimit>>,
    /// Extension: the most requests in flight at once; `null` is no limit.
    #[serde(default)]
    pub concurrency_limit: Option<ConcurrencyLimit>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub last_reset_at: Option<String>,
    /// Extension: usage against the budget, its window and next reset.
    #[serde(default)]
    pub usage: Option<UsageState>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub last_updated_at: Option<String>,
    #[serde(default = "provider_object")]
    pub object: String,
}

fn provider_object() -> String {
    "provider".to_owned()
}

/// `POST /providers`. `rate_limits` is an array (a single object is accepted too).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateProvider {
    #[schemars(schema_with = "super::schema::name")]
    #[serde(deserialize_with = "super::text::name")]
    pub name: String,
    pub integration_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    #[schemars(schema_with = "super::schema::opt_slug")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[schemars(schema_with = "super::schema::opt_description")]
    #[serde(
        deserialize_with = "super::text::opt_description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limits: Option<UsageLimits>,
    #[schemars(with = "Option<OneOrMany>")]
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub rate_limits: Option<Vec<RateLimit>>,
    /// Extension: the most requests in flight at once; at most the access's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_limit: Option<ConcurrencyLimit>,
    #[schemars(schema_with = "super::schema::opt_timestamp")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// `PUT /providers/{slug}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateProvider {
    #[schemars(schema_with = "super::schema::opt_name")]
    #[serde(
        deserialize_with = "super::text::opt_name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[schemars(schema_with = "super::schema::opt_description")]
    #[serde(
        deserialize_with = "super::text::patch_description",
        default,
        skip_serializing_if = "Patch::is_absent"
    )]
    pub note: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub usage_limits: Patch<UsageLimits>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub rate_limits: Patch<OneOrMany>,
    /// Extension: the most requests in flight at once; `null` removes the limit.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub concurrency_limit: Patch<ConcurrencyLimit>,
    #[schemars(schema_with = "super::schema::opt_timestamp")]
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    pub expires_at: Patch<String>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(
        default,
        deserialize_with = "opt_flex_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub reset_usage: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
}

/// Rate limits as an array, or the single object SPEC shows for provider requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    Many(Vec<RateLimit>),
    One(RateLimit),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<RateLimit> {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(r) => vec![r],
        }
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<RateLimit>>, D::Error> {
    Ok(Option::<OneOrMany>::deserialize(d)?.map(OneOrMany::into_vec))
}
