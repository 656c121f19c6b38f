//! The catalog's persistence layer.
//!
//! Handlers talk to [`Store`] only; [`sql`] implements it over SQL, once for every
//! engine, and [`sqlite`] supplies SQLite's connections and schema.
//! Secrets reach the store already sealed: it never sees a plaintext credential.

pub mod ledger;
pub mod owner;
pub mod postgres;
pub mod redis;
pub mod sql;
pub mod sqlite;

use serde::{Deserialize, Serialize};

use crate::api::api_key::ApiKey;
use crate::api::audit::AuditRecord;
use crate::api::configs::{Config, ConfigVersion};
use crate::api::integration::Integration;
use crate::api::models::IntegrationModel;
use crate::api::provider::Provider;
use crate::api::provisioning::WorkspaceAccess;
use crate::api::usage::UsageState;
use crate::api::virtual_key::VirtualKey;
use crate::api::workspace::Workspace;
use crate::domain::audit::AuditContext;
use crate::domain::policies::Policy;
pub use ledger::{
    Admission, Alert, AlertDelivery, AlertEvent, AlertKind, CounterState, Gauge, HoldEntry,
    Refusal, Unit,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database cannot be reached (a PostgreSQL server down or restarting): carried in
/// [`StoreError::Internal`], answered 503 with `Retry-After`, never taken for a bug.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

impl StoreError {
    /// Whether the database could not be reached (see [`Unavailable`]).
    pub fn unavailable(&self) -> Option<&Unavailable> {
        match self {
            StoreError::Internal(e) => e.downcast_ref::<Unavailable>(),
            _ => None,
        }
    }
}

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

    /// This page of `items`, for lists assembled in memory.
    pub fn slice<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .skip(usize::try_from(self.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(self.page_size).unwrap_or(usize::MAX))
            .collect()
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
    /// Saved gateway configs, by slug.
    pub configs: Vec<String>,
}

impl WorkspaceDependents {
    pub fn is_empty(&self) -> bool {
        self.integrations.is_empty()
            && self.providers.is_empty()
            && self.virtual_keys.is_empty()
            && self.api_keys.is_empty()
            && self.configs.is_empty()
    }
}

/// Which saved gateway configs to list.
#[derive(Debug, Clone, Default)]
pub struct ConfigQuery {
    /// One workspace's configs; every workspace's when `None`.
    pub workspace_id: Option<String>,
    pub page: Page,
}

/// Which alerts to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub kind: Option<AlertKind>,
    /// Only alerts every webhook acknowledged (`true`), or the others (`false`).
    pub delivered: Option<bool>,
    /// Only alerts raised at or after this time.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub page: Page,
}

/// Which audit records to list, newest first. Every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Records at or after this time.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Records before this time.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// The actor: an API key's id or name, `embedded` or `system`.
    pub actor: Option<String>,
    pub resource_type: Option<String>,
    /// The object's id or slug.
    pub resource: Option<String>,
    /// Records touching this workspace (its id).
    pub workspace_id: Option<String>,
    pub action: Option<String>,
    pub page: Page,
}

/// Which policies to list, in creation order.
#[derive(Debug, Clone, Default)]
pub struct PolicyQuery {
    /// `usage` or `rate`.
    pub kind: Option<&'static str>,
    /// Only this workspace's own policies (its id).
    pub workspace_id: Option<String>,
    /// `active` or `archived`; every status when `None`.
    pub status: Option<String>,
    pub page: Page,
}

/// A webhook alerts go to, as the store knows it: never its URL, which may hold a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertWebhook {
    /// A hash of the URL.
    pub id: String,
    /// `scheme://host[:port]`.
    pub origin: String,
}

/// What the alert outbox holds for a delivery task, cheaply checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertOutbox {
    /// Alerts no delivery task has picked up yet.
    pub unseen: bool,
    /// When the next attempt at a delivery to the given webhooks is due (it may be past).
    pub next_due: Option<chrono::DateTime<chrono::Utc>>,
}

/// A delivery attempt that is due: the alert, the webhook, the attempts made before.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub alert: AlertEvent,
    pub webhook: String,
    pub attempts: i64,
}

/// How a delivery attempt went.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryAttempt {
    /// The webhook acknowledged it (a 2xx).
    Delivered,
    /// It did not; the next attempt is due at `retry_at`.
    Failed {
        error: String,
        retry_at: chrono::DateTime<chrono::Utc>,
    },
}

/// A legacy virtual key with its sealed credential (`key` and secret settings).
#[derive(Debug, Clone)]
pub struct VirtualKeyRecord {
    pub public: VirtualKey,
    pub sealed_secrets: Vec<u8>,
}

/// The row that owns a sealed value (see [`crate::crypto`] for the sealed format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealedOwner {
    /// An integration's `key` and secret configuration fields.
    Integration(String),
    /// A custom model's headers.
    ModelHeaders {
        integration_id: String,
        slug: String,
    },
    /// A legacy virtual key's credential.
    VirtualKey(String),
}

/// A sealed value and its owner, as master-key rotation reads and replaces them.
#[derive(Debug, Clone)]
pub struct SealedValue {
    pub owner: SealedOwner,
    pub sealed: Vec<u8>,
}

/// A workspace's access to an integration (ids are UUIDs), with the terms the wire
/// shows ([`WorkspaceAccess`]) and its budget's usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub integration_id: String,
    pub workspace_id: String,
    #[serde(flatten)]
    pub access: WorkspaceAccess,
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

/// What a usage counter counts for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UsageScope {
    /// A workspace's access to an integration.
    Access {
        integration_id: String,
        workspace_id: String,
    },
    Provider(String),
    VirtualKey(String),
    ApiKey(String),
    Workspace(String),
    /// An integration across every workspace.
    Integration(String),
    /// A policy's counter for one value key of its group.
    Policy {
        policy_id: String,
        value_key: String,
    },
}

impl UsageScope {
    /// The counter's key: `access/<integration>/<workspace>`, `provider/<id>`, ...
    pub fn key(&self) -> String {
        // Joined by hand: every hold makes one per level, and `format!` costs more.
        let (kind, id, more) = match self {
            UsageScope::Access {
                integration_id,
                workspace_id,
            } => ("access", integration_id, Some(workspace_id)),
            UsageScope::Provider(id) => ("provider", id, None),
            UsageScope::VirtualKey(id) => ("virtual_key", id, None),
            UsageScope::ApiKey(id) => ("api_key", id, None),
            UsageScope::Workspace(id) => ("workspace", id, None),
            UsageScope::Integration(id) => ("integration", id, None),
            UsageScope::Policy {
                policy_id,
                value_key,
            } => ("policy", policy_id, Some(value_key)),
        };
        let len = kind.len() + 1 + id.len() + more.map_or(0, |m| m.len() + 1);
        let mut key = String::with_capacity(len);
        key.push_str(kind);
        key.push('/');
        key.push_str(id);
        if let Some(m) = more {
            key.push('/');
            key.push_str(m);
        }
        key
    }

    /// The scope of a counter key.
    pub fn parse(key: &str) -> Option<UsageScope> {
        let (kind, rest) = key.split_once('/')?;
        let id = rest.to_owned();
        Some(match kind {
            "access" => {
                let (i, w) = rest.split_once('/')?;
                UsageScope::Access {
                    integration_id: i.to_owned(),
                    workspace_id: w.to_owned(),
                }
            }
            "provider" => UsageScope::Provider(id),
            "virtual_key" => UsageScope::VirtualKey(id),
            "api_key" => UsageScope::ApiKey(id),
            "workspace" => UsageScope::Workspace(id),
            "integration" => UsageScope::Integration(id),
            "policy" => {
                let (p, v) = rest.split_once('/')?;
                UsageScope::Policy {
                    policy_id: p.to_owned(),
                    value_key: v.to_owned(),
                }
            }
            _ => return None,
        })
    }
}

impl Serialize for UsageScope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

impl<'de> Deserialize<'de> for UsageScope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = String::deserialize(d)?;
        UsageScope::parse(&key)
            .ok_or_else(|| serde::de::Error::custom(format!("not a counter scope: `{key}`")))
    }
}

/// The budget counter of a scope (its usage in the current window).
pub const BUDGET: &str = "budget";

/// The `meta` setting every admin write changes (to a value never used before): a
/// process that keeps what it read of the catalog compares it before using that again.
pub const CATALOG_VERSION: &str = "catalog_version";

/// Everything that can be read, in a read snapshot or inside a write transaction.
pub trait StoreRead {
    fn meta(&mut self, key: &str) -> StoreResult<Option<String>>;
    /// The catalog's version this snapshot sees (see [`Store::catalog_version`]).
    fn catalog_version(&mut self) -> StoreResult<String> {
        Ok(self.meta(CATALOG_VERSION)?.unwrap_or_default())
    }

    /// How many sealed values (integrations, model headers, virtual keys) each master key
    /// sealed, by the key's fingerprint (its id in hex); values in the format that names
    /// no key count under `None`.
    fn sealed_counts(&mut self) -> StoreResult<Vec<(Option<String>, u64)>>;
    /// Up to `limit` sealed values that are not sealed under the key with this fingerprint.
    fn sealed_not_under(
        &mut self,
        fingerprint: &str,
        limit: usize,
    ) -> StoreResult<Vec<SealedValue>>;

    fn workspaces(&mut self, query: &WorkspaceQuery) -> StoreResult<(u64, Vec<Workspace>)>;
    fn workspace(&mut self, id_or_slug: &str) -> StoreResult<Option<Workspace>>;
    fn workspace_dependents(&mut self, id: &str) -> StoreResult<WorkspaceDependents>;

    fn integrations(
        &mut self,
        query: &IntegrationQuery,
    ) -> StoreResult<(u64, Vec<IntegrationRecord>)>;
    fn integration(&mut self, slug_or_id: &str) -> StoreResult<Option<IntegrationRecord>>;
    fn all_integrations(&mut self) -> StoreResult<Vec<IntegrationRecord>>;

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

    /// One page of a workspace's providers (every workspace's with `None`), in creation
    /// order, and how many there are.
    fn providers_page(
        &mut self,
        workspace_id: Option<&str>,
        page: &Page,
    ) -> StoreResult<(u64, Vec<ProviderRecord>)>;

    fn models(&mut self, integration_id: &str) -> StoreResult<Vec<ModelRecord>>;

    fn virtual_key(
        &mut self,
        workspace_id: &str,
        slug_or_id: &str,
    ) -> StoreResult<Option<VirtualKeyRecord>>;
    fn virtual_keys(&mut self, workspace_id: Option<&str>) -> StoreResult<Vec<VirtualKeyRecord>>;

    fn count_api_keys(&mut self) -> StoreResult<u64>;
    fn api_keys(&mut self, query: &ApiKeyQuery) -> StoreResult<(u64, Vec<ApiKey>)>;
    fn api_key(&mut self, id: &str) -> StoreResult<Option<ApiKey>>;
    fn api_key_by_hash(&mut self, hash: &str) -> StoreResult<Option<ApiKey>>;

    /// Saved gateway configs, in creation order.
    fn configs(&mut self, query: &ConfigQuery) -> StoreResult<(u64, Vec<Config>)>;
    /// A saved gateway config by slug or id, in any workspace.
    fn config(&mut self, slug_or_id: &str) -> StoreResult<Option<Config>>;
    /// A config's versions, newest first.
    fn config_versions(&mut self, config_id: &str) -> StoreResult<Vec<ConfigVersion>>;

    /// A counter's state; `None` when nothing has been counted.
    fn usage(&mut self, scope: &UsageScope, limit: &str) -> StoreResult<Option<UsageState>>;
    /// Every counter whose scope key starts with one of `prefixes` (all when empty).
    fn counters(&mut self, prefixes: &[String]) -> StoreResult<Vec<CounterState>>;
    /// Rate-limit usage: the units counted in slots from `from_slot` on.
    fn rate_usage(&mut self, scope: &UsageScope, limit: &str, from_slot: i64) -> StoreResult<i64>;
    /// Alerts, newest first, with their deliveries; and how many match.
    fn alerts(&mut self, query: &AlertQuery) -> StoreResult<(u64, Vec<Alert>)>;
    /// Whether alerts wait to be picked up, and when a delivery to `webhooks` is due.
    fn alert_outbox(&mut self, webhooks: &[String]) -> StoreResult<AlertOutbox>;
    /// Policies of a kind; and how many match.
    fn policies(&mut self, query: &PolicyQuery) -> StoreResult<(u64, Vec<Policy>)>;
    fn policy(&mut self, id: &str) -> StoreResult<Option<Policy>>;
    /// The active policies that can apply to a request in `workspace_id`: the
    /// organisation's and the workspace's own.
    fn policies_in_scope(&mut self, workspace_id: &str) -> StoreResult<Vec<Policy>>;
    /// Rate-limit usage of every counter whose scope starts with `prefix`, for `limit`,
    /// in slots from `from_slot` on: `(scope, units)`.
    fn rate_usages(
        &mut self,
        prefix: &str,
        limit: &str,
        from_slot: i64,
    ) -> StoreResult<Vec<(String, i64)>>;
    /// Audit records, newest first; and how many match.
    fn audit_records(&mut self, query: &AuditQuery) -> StoreResult<(u64, Vec<AuditRecord>)>;
    fn audit_record(&mut self, id: i64) -> StoreResult<Option<AuditRecord>>;
}

/// One write transaction: everything in it lands on [`StoreTx::commit`], nothing if it
/// is dropped first. Reads inside it see its own writes.
pub trait StoreTx: StoreRead {
    /// Records the transaction's changes, on commit and in it, as one audit record of the
    /// request `context` describes. Set before the first write.
    fn audit(&mut self, context: AuditContext);

    fn set_meta(&mut self, key: &str, value: &str) -> StoreResult<()>;
    fn delete_meta(&mut self, key: &str) -> StoreResult<()>;
    /// Replaces a sealed value with `sealed` if it is still `value.sealed`; `false` when it
    /// changed or went away meanwhile.
    fn replace_sealed(&mut self, value: &SealedValue, sealed: &[u8]) -> StoreResult<bool>;

    /// Inserts a workspace; a slug already taken is a conflict.
    fn insert_workspace(&mut self, workspace: &Workspace) -> StoreResult<()>;
    fn save_workspace(&mut self, workspace: &Workspace) -> StoreResult<()>;
    /// Deletes a workspace with everything that belongs to it.
    fn delete_workspace(&mut self, id: &str) -> StoreResult<()>;

    /// Inserts an integration; a slug already taken is a conflict.
    fn insert_integration(&mut self, record: &IntegrationRecord) -> StoreResult<()>;
    fn save_integration(&mut self, record: &IntegrationRecord) -> StoreResult<()>;
    /// Deletes an integration with its access, models and providers.
    fn delete_integration(&mut self, id: &str) -> StoreResult<()>;

    fn save_access(&mut self, access: &AccessRecord) -> StoreResult<()>;

    /// Inserts a provider; a slug used by another provider of the workspace is a conflict.
    /// (Providers and virtual keys share a namespace: `domain::slugs` checks it.)
    fn insert_provider(&mut self, record: &ProviderRecord) -> StoreResult<()>;
    fn save_provider(&mut self, record: &ProviderRecord) -> StoreResult<()>;
    fn delete_provider(&mut self, id: &str) -> StoreResult<()>;

    /// Inserts or replaces a model of an integration, by slug.
    fn save_model(&mut self, integration_id: &str, model: &ModelRecord) -> StoreResult<()>;
    fn delete_model(&mut self, integration_id: &str, slug: &str) -> StoreResult<()>;

    /// Inserts a virtual key; a slug used by another key of the workspace is a conflict.
    fn insert_virtual_key(&mut self, record: &VirtualKeyRecord) -> StoreResult<()>;
    fn save_virtual_key(&mut self, record: &VirtualKeyRecord) -> StoreResult<()>;
    fn delete_virtual_key(&mut self, id: &str) -> StoreResult<()>;

    /// Sets a counter's window and usage (a new window, a reset), counted in `unit`;
    /// `None` removes it. Records' `usage` fields are views: saving a record never writes
    /// its counters.
    fn set_usage(
        &mut self,
        scope: &UsageScope,
        limit: &str,
        state: Option<(&UsageState, Unit)>,
    ) -> StoreResult<()>;

    fn insert_api_key(&mut self, record: &ApiKeyRecord) -> StoreResult<()>;
    fn save_api_key(&mut self, key: &ApiKey) -> StoreResult<()>;
    fn delete_api_key(&mut self, id: &str) -> StoreResult<()>;

    /// Inserts a config with its first version; a slug already taken is a conflict.
    fn insert_config(&mut self, config: &Config, first: &ConfigVersion) -> StoreResult<()>;
    /// Saves a config's name, status, default flag and current version.
    fn save_config(&mut self, config: &Config) -> StoreResult<()>;
    fn insert_config_version(&mut self, version: &ConfigVersion) -> StoreResult<()>;
    /// Deletes a config with its versions.
    fn delete_config(&mut self, id: &str) -> StoreResult<()>;

    fn insert_policy(&mut self, policy: &Policy) -> StoreResult<()>;
    fn save_policy(&mut self, policy: &Policy) -> StoreResult<()>;

    /// Makes every change of the transaction durable, or none of them.
    fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// The catalog's persistence: read snapshots that never wait for writers, and write
/// transactions that are values (`begin`, typed operations, `commit`; drop rolls back).
pub trait Store: Send + Sync {
    fn organisation_id(&self) -> &str;
    /// A consistent snapshot for reading.
    fn read(&self) -> StoreResult<Box<dyn StoreRead + '_>>;
    /// A write transaction; writers take turns, readers never wait for them.
    fn begin(&self) -> StoreResult<Box<dyn StoreTx + '_>>;
    /// The catalog's version ([`CATALOG_VERSION`]): the same value means that no admin
    /// write has landed since, in any process or replica.
    fn catalog_version(&self) -> StoreResult<String>;
    /// Whether reading the catalog stays on this machine (a file, no network), so a
    /// short read may run where waiting is not allowed.
    fn local(&self) -> bool {
        false
    }

    /// Holds every entry's amount at once, or nothing: the first entry (in the order
    /// given) that does not fit refuses the whole hold. An admitted hold is durable
    /// before this returns; it stays until [`Store::settle`].
    fn admit(
        &self,
        hold: &str,
        entries: &[HoldEntry],
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Admission>;
    /// What [`Store::admit`] would answer for `entries` at `now`, by the same logic, in
    /// a transaction that is always rolled back: nothing is held, no window rolls, no
    /// exhaustion or alert is recorded (`catalog check`).
    fn probe(
        &self,
        entries: &[HoldEntry],
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Admission>;
    /// Replaces hold `hold`'s amounts with what the request used (`actual`, one per
    /// entry, in units); settling a hold twice (or one never admitted) does nothing.
    fn settle(
        &self,
        hold: &str,
        actual: &[i64],
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()>;
    /// Whether holds and settlements are decided in this process's memory, so that
    /// [`Store::try_admit`] and [`Store::try_settle`] are worth trying.
    fn admits_in_place(&self) -> bool {
        false
    }
    /// Resolves when a step that [`Store::try_admit`] or [`Store::try_settle`] could not
    /// take in place may be tried again because this process let go of what it waited
    /// for; `None` when nothing in this process will say so (another process, or no
    /// decisions in place).
    fn in_place_freed(&self) -> Option<tokio::sync::futures::Notified<'_>> {
        None
    }
    /// [`Store::admit`] when it can be decided at once in this process's memory, without
    /// waiting for a lock or a network (so where waiting is not allowed); `None`, and
    /// nothing done, otherwise.
    fn try_admit(
        &self,
        hold: &str,
        entries: &[HoldEntry],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<StoreResult<Admission>> {
        let _ = (hold, entries, now);
        None
    }
    /// [`Store::settle`] as [`Store::try_admit`] admits.
    fn try_settle(
        &self,
        hold: &str,
        actual: &[i64],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<StoreResult<()>> {
        let _ = (hold, actual, now);
        None
    }
    /// Writes what admission keeps outside the ledger's tables (a journal) to them.
    fn flush_ledger(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Settles, at their full amounts, the holds of owners (see [`owner`]) for which
    /// `alive` says no (a crash left them open); returns how many.
    fn recover_holds(&self, alive: &dyn Fn(&str) -> bool) -> StoreResult<u64>;

    /// Tells the other replicas sharing the catalog that this process is alive: holds of
    /// a replica that stops telling are settled by the others (see [`Store::recover_holds`]).
    fn heartbeat(&self, now: chrono::DateTime<chrono::Utc>) -> StoreResult<()>;
    /// Whether the owner of a hold or a claimed alert delivery may still be running: a
    /// process of this machine (SQLite: every process sharing the file is), or a replica
    /// whose heartbeat is recent (PostgreSQL).
    fn alive(&self, owner: &str) -> bool;

    /// Deletes the audit records older than `cutoff` (retention) and records that it did.
    fn prune_audit(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<u64>;

    /// Remembers the webhooks alerts go to and queues, for each, the alerts of budgets'
    /// current windows (as the ledger last counted them) it has not had yet; returns how
    /// many were queued. Alerts of past windows are not sent to a webhook configured later.
    /// Attempts claimed by owners (see [`owner`]) for which `alive` says no (a crash cut
    /// them short) are due again at once.
    fn configure_alert_webhooks(
        &self,
        webhooks: &[AlertWebhook],
        alive: &dyn Fn(&str) -> bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<u64>;
    /// The alerts no delivery task has picked up yet, oldest first: each is marked seen
    /// and queued for every webhook of `webhooks` (ids), at once and only once.
    fn take_new_alerts(
        &self,
        webhooks: &[String],
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Vec<AlertEvent>>;
    /// Up to `limit` deliveries to `webhooks` that are due at `now`, oldest alert first;
    /// each is claimed by this process until it is recorded or `now + lease`, so that no
    /// one else attempts it meanwhile.
    fn claim_alert_deliveries(
        &self,
        webhooks: &[String],
        now: chrono::DateTime<chrono::Utc>,
        lease: std::time::Duration,
        limit: usize,
    ) -> StoreResult<Vec<DueDelivery>>;
    /// Records an attempt to deliver alert `alert_id` to `webhook`; an alert is delivered
    /// once every webhook it was queued for has it. Returns the attempts made so far.
    fn record_alert_delivery(
        &self,
        alert_id: i64,
        webhook: &str,
        attempt: &DeliveryAttempt,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<i64>;
}

#[cfg(test)]
mod scope_tests {
    use super::UsageScope;

    #[test]
    fn a_scope_key_names_the_scope_and_reads_back_as_it() {
        let scopes = [
            (
                UsageScope::Access {
                    integration_id: "i1".into(),
                    workspace_id: "w1".into(),
                },
                "access/i1/w1",
            ),
            (UsageScope::Provider("p1".into()), "provider/p1"),
            (UsageScope::VirtualKey("v1".into()), "virtual_key/v1"),
            (UsageScope::ApiKey("k1".into()), "api_key/k1"),
            (UsageScope::Workspace("w1".into()), "workspace/w1"),
            (UsageScope::Integration("i1".into()), "integration/i1"),
            (
                UsageScope::Policy {
                    policy_id: "pol".into(),
                    value_key: "user=ann".into(),
                },
                "policy/pol/user=ann",
            ),
        ];
        for (scope, key) in scopes {
            assert_eq!(scope.key(), key);
            assert_eq!(UsageScope::parse(key), Some(scope));
        }
    }
}
