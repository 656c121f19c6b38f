//! The catalog server: the Portkey Admin API under `/v1`, over a [`Store`].
//!
//! The same router serves two ways: over HTTP (`catalog serve`) and in-process for the
//! embedded CLI, which calls it with [`tower::ServiceExt::oneshot`] and no socket.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod json;
pub mod ledger;
pub mod listen;
pub mod openapi;
pub mod replicas;
pub mod rotation;
pub mod routes;
pub mod scopes;
pub mod vault;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::api::api_key::KeyKind;
use crate::api::ErrorCode;
use crate::store::postgres::PgStore;
use crate::store::redis::RedisCounters;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use error::ApiError;
use vault::Vault;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    pub gateway: Arc<crate::gateway::Gateway>,
}

/// Where the catalog is kept.
#[derive(Debug, Clone)]
pub enum Database {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL.
    Postgres(String),
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => f.write_str(&crate::store::postgres::redact(url)),
        }
    }
}

/// How a server is opened: the database and, for servers, an explicit master key.
pub struct ServerConfig {
    pub database: Database,
    /// Redis for the admission counters replicas share (with PostgreSQL).
    pub redis_url: Option<String>,
    /// The root certificates of a `rediss://` Redis no public root signed (PEM).
    pub redis_ca_file: Option<std::path::PathBuf>,
    pub master_key: Option<String>,
    /// Where `master_key` came from, for messages (default: `CATALOG_MASTER_KEY`).
    pub master_key_from: Option<String>,
    /// During a master-key rotation, the key being replaced (`CATALOG_MASTER_KEY_PREVIOUS`).
    pub master_key_previous: Option<String>,
    /// Upstream hosts the gateway may call although they are private addresses.
    pub trusted_custom_hosts: Vec<crate::gateway::hosts::TrustedHost>,
}

impl AppState {
    /// A write transaction for the request being served: a change through the Admin API
    /// is recorded in the audit log by the transaction that makes it.
    pub fn begin(&self) -> crate::store::StoreResult<Box<dyn crate::store::StoreTx + '_>> {
        let mut tx = self.store.begin()?;
        if let Some(context) = audit::current() {
            tx.audit(context);
        }
        Ok(tx)
    }

    pub fn open(config: &ServerConfig) -> anyhow::Result<AppState> {
        let store: Arc<dyn Store> = match &config.database {
            Database::Sqlite(path) => Arc::new(SqliteStore::open(path)?),
            Database::Postgres(url) => {
                let store = PgStore::open(url)?;
                match &config.redis_url {
                    Some(redis) => {
                        let counters = RedisCounters::connect(
                            redis,
                            config.redis_ca_file.as_deref(),
                            &store.redis_namespace()?,
                        )?;
                        Arc::new(store.with_shared_counters(counters)?)
                    }
                    None => {
                        let since = chrono::Utc::now()
                            - chrono::Duration::from_std(crate::store::postgres::DEAD_AFTER)
                                .unwrap_or_default();
                        if let Err(why) = store.claim_database_counters(since)? {
                            return Err(crate::exit::fail(
                                crate::exit::ErrorKind::Usage,
                                why,
                                Some("start every replica with the same --redis-url (or CATALOG_REDIS_URL)"),
                            ));
                        }
                        Arc::new(store)
                    }
                }
            }
        };
        // Holds a crashed process left open are settled at their full amounts: a request
        // that may have run is never forgiven.
        store
            .recover_holds(&|o| store.alive(o))
            .map_err(|e| anyhow::anyhow!("cannot settle the holds left open: {e}"))?;
        let vault = Vault::new(
            store.clone(),
            config.master_key.clone(),
            config.master_key_previous.clone(),
            // On PostgreSQL the key is always given (CATALOG_MASTER_KEY or a key file):
            // there is no file beside the database.
            match &config.database {
                Database::Sqlite(path) => path,
                Database::Postgres(_) => Path::new("catalog-on-postgres"),
            },
        );
        let vault = Arc::new(match (&config.database, &config.master_key_from) {
            (Database::Postgres(_), from) => vault.given_only(
                from.clone()
                    .unwrap_or_else(|| crate::env_vars::CATALOG_MASTER_KEY.to_owned()),
            ),
            (Database::Sqlite(_), _) => vault,
        });
        let gateway = Arc::new(crate::gateway::Gateway::new(
            config.trusted_custom_hosts.clone(),
        )?);
        Ok(AppState {
            store,
            vault,
            gateway,
        })
    }
}

/// A read of the Admin API counts every request the gateway answered before it: usage
/// is settled after the answer is sent, so a read waits for settlements in flight, then
/// for the admission journal to be in the tables it reads (a flush that another thread
/// has begun included). It runs on the blocking pool, holding no transaction yet, so the
/// flush it waits for never waits for it.
async fn settled_reads(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == axum::http::Method::GET {
        state.gateway.settlements.quiesce().await;
        // A flush that fails leaves the journal for the next one (the periodic flush
        // says so in the log); the read then shows the tables as they are.
        let _ = state.store.flush_ledger();
    }
    next.run(request).await
}

/// The Admin API routes, authenticated, with contract-shaped errors for unknown routes.
pub fn router(state: AppState) -> Router {
    let v1 = routes::v1()
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), settled_reads));
    // The OpenAPI document is public: it describes the API, not the organisation's data.
    let v1 = v1.route(openapi::DOCUMENT_PATH, axum::routing::get(openapi::serve));
    // The gateway authenticates on its own, answering in its own error shapes.
    let v1 = v1.merge(crate::gateway::routes());
    Router::new()
        .nest("/v1", v1)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .fallback(|| async { ApiError::new(ErrorCode::AB08, "no such route in the Admin API") })
        .method_not_allowed_fallback(|| async {
            ApiError::with_status(
                StatusCode::METHOD_NOT_ALLOWED,
                "this method is not allowed on this route; the `Allow` header lists those that are",
            )
        })
        .with_state(state)
}

async fn log_request(request: Request, next: Next) -> Response {
    if crate::gateway::is_gateway_path(request.uri().path()) {
        // The gateway writes its own, richer line.
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    log_line(&format!(
        "{} {method} {path} {} {:.1}ms",
        handlers::now(),
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    ));
    response
}

/// Runs a request's handling on tokio's blocking pool. Admin API handlers call the store,
/// whose SQLite calls block; on the pool they wait there, and the async workers stay free
/// to accept, read and answer every other connection.
async fn off_the_async_workers(request: Request, next: Next) -> Response {
    if crate::gateway::is_gateway_path(request.uri().path()) {
        // The gateway is async all the way; it moves its own catalog reads off the workers.
        return next.run(request).await;
    }
    let runtime = tokio::runtime::Handle::current();
    match tokio::task::spawn_blocking(move || runtime.block_on(next.run(request))).await {
        Ok(response) => response,
        Err(_) => ApiError::internal("the request's handler stopped unexpectedly").into_response(),
    }
}

/// One line of the server's log on stderr, in one write: lines of concurrent requests
/// never interleave, and a line costs one system call.
pub fn log_line(line: &str) {
    let mut whole = String::with_capacity(line.len() + 1);
    whole.push_str(line);
    whole.push('\n');
    let _ = std::io::stderr().lock().write_all(whole.as_bytes());
}

/// A field of the log line as it is written: `-` when empty, whitespace and control
/// characters escaped (`\u{a}`), so that a caller's model name or trace id can neither
/// end the line and forge another nor add fields to it.
pub fn log_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_empty() {
        return "-".into();
    }
    let unsafe_char = |c: char| c.is_whitespace() || c.is_control();
    if !s.chars().any(unsafe_char) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// On first start over an empty database, creates the organisation admin key
/// (or installs `bootstrap_key`) and returns it so that it can be shown once.
pub fn bootstrap(state: &AppState, bootstrap_key: Option<&str>) -> anyhow::Result<Option<String>> {
    let secret = match bootstrap_key {
        Some(k) if k.trim().len() < 16 => {
            anyhow::bail!("CATALOG_BOOTSTRAP_ADMIN_KEY must be at least 16 characters")
        }
        Some(k) => k.trim().to_owned(),
        None => crate::crypto::new_api_key(),
    };
    let mut tx = state.store.begin()?;
    let hash = crate::crypto::hash_api_key(&secret);
    if tx.count_api_keys()? > 0 {
        grant_bootstrap_every_scope(&mut *tx)?;
        // A catalog left without any admin key with every scope (all deleted, narrowed or
        // expired) is recovered by starting the server with CATALOG_BOOTSTRAP_ADMIN_KEY.
        let recover = bootstrap_key.is_some()
            && tx.api_key_by_hash(&hash)?.is_none()
            && !scopes::full_admin_remains(&mut *tx, None)?;
        if !recover {
            tx.commit()?;
            return Ok(None);
        }
    }
    let at = handlers::now();
    let key = crate::api::api_key::ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        key: Some(crate::crypto::mask(&secret)),
        name: "bootstrap admin".to_owned(),
        description: Some("Created on the server's first start".to_owned()),
        kind: Some(KeyKind::OrganisationService.as_str().to_owned()),
        organisation_id: Some(state.store.organisation_id().to_owned()),
        status: Some("active".to_owned()),
        creation_mode: Some("auto".to_owned()),
        scopes: scopes::all_scopes(),
        created_at: Some(at.clone()),
        last_updated_at: Some(at),
        object: "api-key".to_owned(),
        ..Default::default()
    };
    tx.insert_api_key(&crate::store::ApiKeyRecord {
        public: key,
        key_hash: hash,
    })?;
    tx.commit()?;
    Ok(Some(if bootstrap_key.is_some() {
        String::new()
    } else {
        secret
    }))
}

/// The bootstrap admin key holds every scope, including those added by newer versions.
fn grant_bootstrap_every_scope(tx: &mut dyn crate::store::StoreTx) -> anyhow::Result<()> {
    let all = scopes::all_scopes();
    let keys = scopes::organisation_keys(&mut *tx)?;
    for mut key in keys
        .into_iter()
        .filter(|k| k.creation_mode.as_deref() == Some("auto") && k.scopes != all)
    {
        key.scopes = all.clone();
        tx.save_api_key(&key)?;
    }
    Ok(())
}

/// The largest request body the server reads; larger ones are 413.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Serves the API on `listener` until SIGINT or SIGTERM, logging one line per request.
pub async fn serve(
    state: AppState,
    listener: std::net::TcpListener,
    timeouts: listen::Timeouts,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let app = router(state)
        .layer(middleware::from_fn(off_the_async_workers))
        .layer(middleware::from_fn(log_request));
    let listener = tokio::net::TcpListener::from_std(listener)?;
    on_ready(listener.local_addr()?);
    listen::run(listener, app, timeouts, shutdown_signal())
        .await
        .context("the server stopped with an error")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// The default database location for a data directory.
pub fn default_db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("catalog.db")
}
