//! HTTP handlers: decode, authorize, call the domain (`crate::domain`), encode.

pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod catalog_models;
pub mod check;
pub mod configs;
pub mod integration_models;
pub mod integration_workspaces;
pub mod integrations;
pub mod organisation;
pub mod policies;
pub mod providers;
pub mod usage;
pub mod virtual_keys;
pub mod whoami;
pub mod workspaces;

/// The API's timestamp format: `2026-05-02T12:31:48.000Z`.
pub fn now() -> String {
    crate::api::usage::timestamp(chrono::Utc::now())
}
