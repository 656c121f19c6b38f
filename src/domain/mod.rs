//! The catalog's rules, apart from any transport: what may depend on what, how names
//! are shared, how limits fit. The Admin API (and next the gateway) call into it; it
//! reads and writes through the store's transactions and knows nothing of HTTP.
//!
//! - [`slugs`]: what a slug may be, the slugs the catalog makes up, and the namespaces
//!   (providers and virtual keys share one per workspace).
//! - [`limits`]: a provider's limits must fit inside its integration's access.
//! - [`provisioning`]: granting and revoking access, default providers, global access.
//! - [`providers`]: creating and changing AI providers.
//! - [`status`]: the status a provider or virtual key shows, and how it is shown.
//! - [`dependents`]: what stops a workspace from being deleted.
//! - [`usage_report`]: every limit in a scope with its live usage.
//! - [`alerts`]: budget alerts in words.
//! - [`virtual_keys`], [`legacy`], [`vk_migration`]: legacy keys and their migration.
//!
//! Every rule fails with one [`DomainError`]; each surface maps it once, one way.

pub mod alerts;
pub mod audit;
pub mod conditions;
pub mod dependents;
pub mod error;
pub mod legacy;
pub mod limits;
pub mod policies;
pub mod provider_config;
pub mod providers;
pub mod provisioning;
pub mod slugs;
pub mod status;
pub mod usage_report;
pub mod virtual_keys;
pub mod vk_migration;

pub use error::{DomainError, DomainResult};

#[cfg(test)]
mod tests;
