//! Wire types of the Portkey Admin API, shared by the server and the client.
//!
//! Request types are strict where the contract is (enums, ranges) and lenient where
//! real clients are (unknown fields are ignored). Response types are lenient on read.

pub mod alerts;
pub mod api_key;
pub mod audit;
pub mod configs;
pub mod error;
pub mod gateway_config;
pub mod integration;
pub mod json;
pub mod lenient;
pub mod limits;
pub mod list;
pub mod models;
pub mod patch;
pub mod policies;
pub mod provider;
pub mod provisioning;
pub mod schema;
pub mod text;
pub mod usage;
pub mod virtual_key;
pub mod workspace;

pub use error::ErrorCode;
pub use list::ListEnvelope;
pub use patch::Patch;
