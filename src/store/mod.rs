//! The catalog's persistence layer.
//!
//! Handlers talk to [`Store`] only; the SQLite implementation lives in [`sqlite`] and is
//! the only code that knows SQL. Another backend (PostgreSQL) implements the same trait.
//! Secrets reach the store already sealed: it never sees a plaintext credential.

pub mod sqlite;

use serde::{Deserialize, Serialize};

use crate::api::api_key::ApiKey;
use crate::api::integration::Integration;
use crate::api::limits::{RateLimit, UsageLimits};
use crate::api::models::IntegrationModel;
use crate::api::provider::Provider;
use crate::api::usage::UsageState;
use crate::api::virtual_key::VirtualKey;
use crate::api::workspace::Workspace;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Paging and filters for workspace lists.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceQuery {
    pub name: Option<String>,
    pub exact_name: Option<String>,
    pub status: Option<Vec<String>>,
    pub page: Page,
}

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub current_page: u64,
    pub page_size: u64,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            current_page: 0,
            page_size: 100,
        }
    }
}

impl Page {
    pub fn offset(&self) -> u64 {
        self.current_page.saturating_mul(self.page_size)
    }
}

/// Which integrations to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IntegrationScope {
    Organisation,
    Workspace,
    #[default]
    All,
}

#[derive(Debug, Clone, Default)]
pub struct IntegrationQuery {
    pub scope: IntegrationScope,
    /// Integrations usable in this workspace (its own, plus organisation-level ones).
    pub workspace_id: Option<String>,
    pub page: Page,
}

/// An integration with its sealed secrets (`key` and secret configuration fields).
#[derive(Debug, Clone)]
pub struct IntegrationRecord {
    pub public: Integration,
    pub sealed_secrets: Vec<u8>,
}

/// An API key with the hash of its secret.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub public: ApiKey,
    pub key_hash: String,
}

#[derive(Debug, Clone, Default)]
pub struct ApiKeyQuery {
    pub workspace_id: Option<String>,
    /// Only keys of these types (`organisation-service`, ...); empty for every type.
    pub types: Vec<String>,
    pub page: Page,
}

/// What still depends on a workspace; deleting it without force is refused while any remain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceDependents {
    pub integrations: Vec<String>,
    pub providers: Vec<String>,
    pub virtual_keys: Vec<String>,
    pub api_keys: Vec<String>,
}

impl WorkspaceDependents {
    pub fn is_empty(&self) -> bool {
        self.integrations.is_empty()
            && self.providers.is_empty()
            && self.virtual_keys.is_empty()
            && self.api_keys.is_empty()
    }
}

/// A legacy virtual key with its sealed credential (`key` and secret settings).
#[derive(Debug, Clone)]
pub struct VirtualKeyRecord {
    pub public: VirtualKey,
    pub sealed_secrets: Vec<u8>,
}

/// A workspace's access to an integration (ids are UUIDs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub integration_id: String,
    pub workspace_id: String,
    pub enabled: bool,
    #[serde(default)]
    pub usage_limits: Option<Vec<UsageLimits>>,
    #[serde(default)]
    pub rate_limits: Option<Vec<RateLimit>>,
    #[serde(default)]
    pub usage: Option<UsageState>,
}

/// A model of an integration, with its sealed model-level headers if it has any.
#[derive(Debug, Clone)]
pub struct ModelRecord {
    pub public: IntegrationModel,
    pub sealed_headers: Option<Vec<u8>>,
}

/// An AI provider; `revoked` is set while its integration's access to the workspace is off.
#[derive(Debug, Clone)]
pub struct ProviderRecord {
    pub public: Provider,
    /// The integration's UUID (the public object carries its slug).
    pub integration_uuid: String,
    pub revoked: bool,
}

/// The operations available inside one write transaction, for changes that span
/// integrations, workspace access and providers.
pub trait StoreTx {
    fn integration(&mut self, slug_or_id: &str) -> StoreResult<Option<IntegrationRecord>>;
    fn all_integrations(&mut self) -> StoreResult<Vec<IntegrationRecord>>;
    fn save_integration(&mut self, record: &IntegrationRecord) -> StoreResult<()>;
    fn insert_integration(&mut self, record: &IntegrationRecord) -> StoreResult<()>;
    fn delete_integration(&mut self, id: &str) -> StoreResult<()>;
    fn workspace(&mut self, id_or_slug: &str) -> StoreResult<Option<Workspace>>;
    fn insert_workspace(&mut self, workspace: &Workspace) -> StoreResult<()>;
    fn access(
        &mut self,
        integration_id: &str,
        workspace_id: &str,
    ) -> StoreResult<Option<AccessRecord>>;
    fn accesses(
        &mut self,
        integration_id: Option<&str>,
        workspace_id: Option<&str>,
    ) -> StoreResult<Vec<AccessRecord>>;
    fn save_access(&mut self, access: &AccessRecord) -> StoreResult<()>;
    fn provider(
        &mut self,
        workspace_id: &str,
        slug_or_id: &str,
    ) -> StoreResult<Option<ProviderRecord>>;
    fn providers(
        &mut self,
        workspace_id: Option<&str>,
        integration_id: Option<&str>,
    ) -> StoreResult<Vec<ProviderRecord>>;
    /// Inserts a provider; a slug already used in the workspace is a conflict.
    fn insert_provider(&mut self, record: &ProviderRecord) -> StoreResult<()>;
    fn save_provider(&mut self, record: &ProviderRecord) -> StoreResult<()>;
    fn delete_provider(&mut self, id: &str) -> StoreResult<()>;
    fn models(&mut self, integration_id: &str) -> StoreResult<Vec<ModelRecord>>;
    /// Inserts or replaces a model of an integration, by slug.
    fn save_model(&mut self, integration_id: &str, model: &ModelRecord) -> StoreResult<()>;
    fn delete_model(&mut self, integration_id: &str, slug: &str) -> StoreResult<()>;
    fn virtual_key(
        &mut self,
        workspace_id: &str,
        slug_or_id: &str,
    ) -> StoreResult<Option<VirtualKeyRecord>>;
    fn virtual_keys(&mut self, workspace_id: Option<&str>) -> StoreResult<Vec<VirtualKeyRecord>>;
    /// Inserts a virtual key; a slug used by a key or provider of the workspace is a conflict.
    fn insert_virtual_key(&mut self, record: &VirtualKeyRecord) -> StoreResult<()>;
    fn save_virtual_key(&mut self, record: &VirtualKeyRecord) -> StoreResult<()>;
    fn delete_virtual_key(&mut self, id: &str) -> StoreResult<()>;
    fn meta(&mut self, key: &str) -> StoreResult<Option<String>>;
    fn set_meta(&mut self, key: &str, value: &str) -> StoreResult<()>;
}

pub type TxFn<'a, T> = dyn FnMut(&mut dyn StoreTx) -> StoreResult<T> + 'a;

pub type Mutation<'a, T> = Box<dyn FnOnce(&mut T) -> StoreResult<()> + Send + 'a>;

/// Everything the server persists. Updates take a mutation that runs inside the
/// store's write transaction, so concurrent writers never lose each other's changes.
pub trait Store: Send + Sync {
    fn organisation_id(&self) -> &str;
    /// Runs `f` in one write transaction: all of its changes land, or none.
    fn transaction(&self, f: &mut TxFn<'_, ()>) -> StoreResult<()>;
    fn meta(&self, key: &str) -> StoreResult<Option<String>>;
    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;

    fn list_workspaces(&self, query: &WorkspaceQuery) -> StoreResult<(u64, Vec<Workspace>)>;
    fn get_workspace(&self, id_or_slug: &str) -> StoreResult<Option<Workspace>>;
    fn update_workspace(
        &self,
        id_or_slug: &str,
        mutate: Mutation<'_, Workspace>,
    ) -> StoreResult<Workspace>;
    fn workspace_dependents(&self, id: &str) -> StoreResult<WorkspaceDependents>;
    /// Deletes a workspace; with `cascade`, its integrations and API keys go with it.
    fn delete_workspace(&self, id: &str, cascade: bool) -> StoreResult<()>;

    fn create_integration(&self, record: &IntegrationRecord) -> StoreResult<()>;
    fn list_integrations(
        &self,
        query: &IntegrationQuery,
    ) -> StoreResult<(u64, Vec<IntegrationRecord>)>;
    fn get_integration(&self, slug_or_id: &str) -> StoreResult<Option<IntegrationRecord>>;
    fn update_integration(
        &self,
        slug_or_id: &str,
        mutate: Mutation<'_, IntegrationRecord>,
    ) -> StoreResult<IntegrationRecord>;
    fn delete_integration(&self, slug_or_id: &str) -> StoreResult<()>;

    fn count_api_keys(&self) -> StoreResult<u64>;
    fn create_api_key(&self, record: &ApiKeyRecord) -> StoreResult<()>;
    fn list_api_keys(&self, query: &ApiKeyQuery) -> StoreResult<(u64, Vec<ApiKey>)>;
    fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKey>>;
    fn find_api_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>>;
    fn update_api_key(&self, id: &str, mutate: Mutation<'_, ApiKey>) -> StoreResult<ApiKey>;
    fn delete_api_key(&self, id: &str) -> StoreResult<()>;
}
