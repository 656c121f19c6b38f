//! The catalog's rules, apart from any transport: what may depend on what, how names
//! are shared, how limits fit. The Admin API (and next the gateway) call into it; it
//! reads and writes through the store's transactions and knows nothing of HTTP.

pub mod dependents;
pub mod error;
pub mod legacy;
pub mod limits;
pub mod providers;
pub mod provisioning;
pub mod slugs;
pub mod status;
pub mod virtual_keys;
pub mod vk_migration;

pub use error::{DomainError, DomainResult};

#[cfg(test)]
mod tests;
