//! The inference gateway: `POST /v1/chat/completions` and `POST /v1/embeddings` on the
//! same listener as the Admin API. A workspace API key calls `@provider/model`; the
//! catalog decides whether the call may go (provider state, access, model allow-list),
//! opens the credentials in memory and calls the provider in its own wire protocol.
//!
//! Resolution and refusals follow Portkey's gateway, so its SDKs and OpenAI's work
//! unchanged. What a request resolves is kept while the catalog is unchanged
//! ([`cache`]). The async workers never wait on a network or for a writer: catalog
//! reads and admission run on the blocking pool (a file catalog's version, read in
//! microseconds from a WAL snapshot that writers never hold up, is read in place),
//! upstream calls are async and streams pass through as they arrive.

pub mod admit;
pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod cache;
pub mod chat;
pub mod check;
pub mod error;
pub mod gemini;
pub mod hosts;
pub mod resolve;
pub mod route;
pub mod sigv4;
pub mod sse;
pub mod upstream;
pub mod usage;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::admission;
use crate::api::api_key::ApiKey;
use crate::api::gateway_config::GatewayConfig;
use crate::server::auth::{self, IdentifyError, KeyRefusal, Principal};
use crate::server::log_field as field;
use crate::server::AppState;
use crate::store::Admission;
use error::GatewayError;
use hosts::TrustedHost;
use resolve::Target;
use upstream::{Endpoint, Prepared, Protocol};
use usage::Usage;

/// The paths the gateway serves under `/v1`.
pub const PATHS: &[&str] = &["/v1/chat/completions", "/v1/embeddings"];

/// Inference routes of OpenAI's and Portkey's APIs this gateway does not serve yet; they
/// answer 501 in the gateway's shape rather than the Admin API's 404.
const NOT_YET: &[&str] = &[
    "/completions",
    "/responses",
    "/messages",
    "/images/generations",
    "/audio/speech",
    "/audio/transcriptions",
    "/moderations",
];

/// The scope a key needs to call models.
pub const SCOPE: &str = "completions.write";

/// The largest request body the gateway reads (images travel inline).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// How long an upstream has to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an upstream may stay silent while answering.
const READ_TIMEOUT: Duration = Duration::from_secs(300);

/// The gateway's own state: connection pools for the services' own hosts and for
/// `custom_host` upstreams (whose names resolve through [`hosts::GuardedResolver`]), and
/// the hosts the operator trusts.
pub struct Gateway {
    client: reqwest::Client,
    custom: hosts::CustomClients,
    trusted: Vec<TrustedHost>,
    /// Calls may go through a proxy: `custom_host` names are resolved before each call.
    proxied: bool,
    pub settlements: admit::Settlements,
    resolutions: cache::Resolutions,
}

impl Gateway {
    pub fn new(trusted: Vec<TrustedHost>) -> anyhow::Result<Gateway> {
        let builder = || {
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                // Every attempt is the gateway's to make, and to charge.
                .retry(reqwest::retry::never())
        };
        Ok(Gateway {
            client: builder().build()?,
            custom: hosts::CustomClients::new(
                &trusted,
                &hosts::proxy_hosts(&hosts::proxy_settings()),
                builder,
            )?,
            trusted,
            proxied: hosts::proxied(),
            settlements: admit::Settlements::default(),
            resolutions: cache::Resolutions::default(),
        })
    }
}

/// Whether `path` is served by the gateway rather than the Admin API.
pub fn is_gateway_path(path: &str) -> bool {
    PATHS.contains(&path)
        || path
            .strip_prefix("/v1")
            .is_some_and(|p| NOT_YET.contains(&p))
}

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for path in NOT_YET {
        router = router.route(path, axum::routing::any(not_yet));
    }
    router
        .route("/chat/completions", post(endpoint::<true>))
        .route("/embeddings", post(endpoint::<false>))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The in-process caller (the embedded CLI) names the workspace it calls for.
pub const WORKSPACE_HEADER: &str = "x-catalog-workspace";

async fn not_yet(uri: axum::http::Uri) -> Response {
    // Nested under `/v1`, the handler sees the path without it.
    GatewayError::not_implemented(format!(
        "this gateway does not serve `/v1{}` yet; it serves /v1/chat/completions and /v1/embeddings",
        uri.path()
    ))
    .into_response()
}

/// One inference route; `CHAT` picks chat completions, else embeddings.
async fn endpoint<const CHAT: bool>(
    State(state): State<AppState>,
    owner: Option<Extension<auth::EmbeddedOwner>>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request::new(owner.is_some(), &query, headers, body);
    let endpoint = if CHAT {
        Endpoint::ChatCompletions
    } else {
        Endpoint::Embeddings
    };
    handle(state, request, endpoint).await
}

struct Request {
    embedded: bool,
    query_model: Option<String>,
    headers: HeaderMap,
    body: Bytes,
    trace_id: String,
    started: Instant,
}

impl Request {
    fn new(embedded: bool, query: &[(String, String)], headers: HeaderMap, body: Bytes) -> Self {
        let trace_id = headers
            .get("x-portkey-trace-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        Request {
            embedded,
            query_model: query
                .iter()
                .find(|(k, _)| k == "model")
                .map(|(_, v)| v.clone()),
            headers,
            body,
            trace_id,
            started: Instant::now(),
        }
    }
}

/// What every log line of a request shares.
#[derive(Clone)]
struct LogBase {
    trace_id: String,
    workspace: String,
    started: Instant,
    /// The in-process caller (the embedded CLI) has no server log: nothing is written.
    silent: bool,
}

/// One line per inference request: never a body, never a credential.
#[derive(Clone)]
struct LogLine {
    base: LogBase,
    provider: String,
    model: String,
    status: u16,
    upstream: Option<Duration>,
    usage: Option<Usage>,
    outcome: &'static str,
}

impl LogLine {
    /// Writes the line once the answer is on its way: in a task of its own, which runs
    /// after the connection's task has written the answer.
    fn write_soon(self) {
        if !self.base.silent {
            tokio::spawn(async move { self.write() });
        }
    }

    fn write(&self) {
        if self.base.silent {
            return;
        }
        let ms = |d: Duration| format!("{:.1}ms", d.as_secs_f64() * 1000.0);
        let tokens = self.usage.map_or_else(
            || "-".to_owned(),
            |u| format!("{}+{}", u.prompt_tokens, u.completion_tokens),
        );
        crate::server::log_line(&format!(
            "{} gateway trace={} workspace={} provider={} model={} status={} upstream={} total={} tokens={} {}",
            crate::server::handlers::now(),
            field(&self.base.trace_id),
            field(&self.base.workspace),
            field(&self.provider),
            field(&self.model),
            self.status,
            self.upstream.map_or_else(|| "-".to_owned(), ms),
            ms(self.base.started.elapsed()),
            tokens,
            self.outcome,
        ));
    }
}

/// Writes the line when a stream ends, however it ends (a client that goes away drops it).
struct StreamLog(LogLine);

impl Drop for StreamLog {
    fn drop(&mut self) {
        self.0.write();
    }
}

/// The line of a request not answered yet. A caller that goes away first drops the
/// request's future, and with it this: the line is written then, with nginx's status 499
/// (client closed request) and the outcome `client_disconnected`.
struct Unanswered {
    line: LogLine,
    answered: bool,
}

impl Unanswered {
    /// The request is answered: its line is the answer's to write.
    fn answered(mut self) -> LogLine {
        self.answered = true;
        self.line.clone()
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if !self.answered {
            self.line.status = 499;
            self.line.outcome = "client_disconnected";
            self.line.write();
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, GatewayError> + Send + 'static,
) -> Result<T, GatewayError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|_| {
        Err(GatewayError::internal(
            "a catalog read stopped unexpectedly",
        ))
    })
}

/// The catalog's version now: what the gateway keeps from older versions is forgotten.
async fn sync(state: &AppState) -> Result<(), GatewayError> {
    let version = if state.store.local() {
        state.store.catalog_version()?
    } else {
        let s = state.clone();
        blocking(move || Ok(s.store.catalog_version()?)).await?
    };
    state.gateway.resolutions.at(&version);
    Ok(())
}

fn key_refused(e: IdentifyError) -> GatewayError {
    match e {
        IdentifyError::Refused(KeyRefusal::Expired) => {
            GatewayError::unauthorized("01", KeyRefusal::Expired.message())
        }
        IdentifyError::Refused(r) => GatewayError::unauthorized("03", r.message()),
        IdentifyError::Store(e) => e.into(),
    }
}

/// The stored API key the request presents.
async fn presented_key(state: &AppState, request: &Request) -> Result<Arc<ApiKey>, GatewayError> {
    let presented = auth::presented_key(&request.headers)
        .filter(|k| !k.is_empty())
        .ok_or(IdentifyError::Refused(KeyRefusal::Missing))
        .map_err(key_refused)?;
    let hash = crate::crypto::hash_api_key(&presented);
    if let Some(key) = state.gateway.resolutions.key(&hash) {
        return Ok(key);
    }
    let s = state.clone();
    blocking(move || {
        let mut read = s.store.read()?;
        let version = read.catalog_version()?;
        let key = read
            .api_key_by_hash(&hash)?
            .ok_or(IdentifyError::Refused(KeyRefusal::Invalid))
            .map_err(key_refused)?;
        let key = Arc::new(key);
        s.gateway.resolutions.keep_key(&version, hash, key.clone());
        Ok(key)
    })
    .await
}

/// The workspace the caller calls for, and its API key (none for the embedded CLI).
async fn caller_workspace(
    state: &AppState,
    request: &Request,
) -> Result<(String, Option<ApiKey>), GatewayError> {
    if request.embedded {
        return request
            .headers
            .get(WORKSPACE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|w| (w.to_owned(), None))
            .ok_or_else(|| GatewayError::invalid("name the workspace to call for"));
    }
    let key = presented_key(state, request).await?;
    let principal = auth::judge(ApiKey::clone(&key)).map_err(key_refused)?;
    match principal {
        Principal::Workspace { key, workspace_id } => {
            if !key.scopes.iter().any(|s| s == SCOPE) {
                return Err(GatewayError::forbidden(format!(
                    "Forbidden! this API key lacks the `{SCOPE}` scope that calling models needs; an admin can create a key that holds it with `catalog api-keys create --workspace WS --scope {SCOPE}`"
                )));
            }
            Ok((workspace_id, Some(key)))
        }
        _ => Err(GatewayError::forbidden(
            "an organisation API key cannot call models: use a workspace API key (`catalog api-keys create --workspace WS --scope completions.write`)",
        )),
    }
}

async fn handle(state: AppState, request: Request, endpoint: Endpoint) -> Response {
    let mut pending = Unanswered {
        line: LogLine {
            base: LogBase {
                trace_id: request.trace_id.clone(),
                workspace: String::new(),
                started: request.started,
                silent: request.embedded,
            },
            provider: String::new(),
            model: String::new(),
            status: 0,
            upstream: None,
            usage: None,
            outcome: "",
        },
        answered: false,
    };
    let routed = run(&state, &request, endpoint, &mut pending.line).await;
    let mut log = pending.answered();
    let (outcome, route) = match routed {
        Ok(routed) => (routed.outcome, Some((routed.retries, routed.path))),
        Err(e) => (Err(e), None),
    };
    let mut response = match outcome {
        Ok(Answer::Whole(response, meta)) => {
            log.provider = meta.provider;
            log.model = meta.model;
            log.upstream = meta.upstream;
            log.usage = meta.usage;
            log.status = response.status().as_u16();
            log.outcome = if response.status().is_success() {
                "ok"
            } else {
                "upstream_error"
            };
            log.write_soon();
            response
        }
        Ok(Answer::Stream(response)) => response,
        Err(e) => {
            log.status = e.status.as_u16();
            log.outcome = e.kind;
            log.write_soon();
            e.into_response()
        }
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request.trace_id) {
        headers.insert("x-portkey-trace-id", v);
    }
    if let Some((retries, path)) = route.filter(|(_, path)| !path.is_empty()) {
        headers.insert("x-portkey-retry-attempt-count", HeaderValue::from(retries));
        if let Ok(v) = HeaderValue::from_str(&path) {
            headers.insert("x-portkey-last-used-option-index", v);
        }
    }
    response
}

/// What a complete answer says for the log line.
pub struct Meta {
    provider: String,
    model: String,
    upstream: Option<Duration>,
    usage: Option<Usage>,
}

pub enum Answer {
    /// A complete answer.
    Whole(Response, Meta),
    /// A stream; its log line is written when it ends.
    Stream(Response),
}

/// The config a request names in `x-portkey-config`: JSON, or a saved config's slug or id
/// visible to the workspace.
async fn request_config(
    state: &AppState,
    headers: &HeaderMap,
    workspace: &str,
) -> Result<Option<(GatewayConfig, Option<(String, String)>)>, GatewayError> {
    let Some(raw) = headers.get("x-portkey-config") else {
        return Ok(None);
    };
    let raw = raw
        .to_str()
        .map_err(|_| {
            GatewayError::invalid("`x-portkey-config` must be text: JSON or a saved config's slug")
        })?
        .trim()
        .to_owned();
    let (text, saved) = if raw.starts_with('{') {
        (raw, None)
    } else {
        let (s, ws, slug) = (state.clone(), workspace.to_owned(), raw.clone());
        blocking(move || {
            let config = s.store.read()?.config(&slug)?;
            match config {
                Some(c) if c.workspace_id.as_deref().is_none_or(|w| w == ws) => {
                    if c.status != "active" {
                        return Err(GatewayError::invalid(format!(
                            "saved config `{}` is {}; an admin can make it active again with `catalog configs update {} --status active`",
                            c.slug, c.status, c.slug
                        )));
                    }
                    Ok((c.config, Some((c.id, c.slug))))
                }
                _ => Err(GatewayError::invalid(format!(
                    "`x-portkey-config` names no saved config of this workspace: `{slug}`; `catalog configs list` shows them"
                ))),
            }
        })
        .await?
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        GatewayError::invalid(format!(
            "Invalid config passed: `x-portkey-config` is not JSON ({e})"
        ))
    })?;
    GatewayConfig::parse(&value)
        .map(|c| Some((c, saved)))
        .map_err(|e| GatewayError::invalid(format!("Invalid config passed: {e}")))
}

async fn run(
    state: &AppState,
    request: &Request,
    endpoint: Endpoint,
    log: &mut LogLine,
) -> Result<route::Routed, GatewayError> {
    sync(state).await?;
    let (workspace, key) = caller_workspace(state, request).await?;
    log.base.workspace = workspace.clone();
    let body: Map<String, Value> = serde_json::from_slice(&request.body).map_err(|e| {
        GatewayError::invalid(format!("the request body must be a JSON object: {e}"))
    })?;
    let body_model = body.get("model").and_then(Value::as_str).map(str::to_owned);
    let named = resolve::named(
        &request.headers,
        body_model.as_deref(),
        request.query_model.as_deref(),
    )?;
    if let Some(n) = &named {
        log.provider = n.slug.clone();
        log.model = n.model.clone().unwrap_or_default();
    }
    let metadata = crate::domain::policies::parse_metadata(
        request
            .headers
            .get("x-portkey-metadata")
            .map(|v| {
                v.to_str().map_err(|_| {
                    GatewayError::invalid(
                        "`x-portkey-metadata` must be text: a JSON object of strings",
                    )
                })
            })
            .transpose()?,
    )
    .map_err(GatewayError::invalid)?;
    let (config, saved_config) = match request_config(state, &request.headers, &workspace).await? {
        Some((c, saved)) => (Some(c), saved),
        None => (None, None),
    };
    if let Some(config) = &config {
        refuse_unknown_slugs(state, &workspace, route::named_slugs(config)).await?;
    }
    let header_timeout = request_timeout(&request.headers)?;
    let base = log.base.clone();
    let call = |leaf: route::Leaf| {
        let caller = Caller {
            workspace: workspace.clone(),
            key: key.clone(),
            metadata: metadata.clone(),
            config: saved_config.clone(),
        };
        let (body, base) = (body.clone(), base.clone());
        async move {
            let timeout = header_timeout.or(leaf.params.request_timeout.map(Duration::from_millis));
            attempt(state, endpoint, caller, body, leaf, timeout, base).await
        }
    };
    let Some(config) = config else {
        let named = named.ok_or_else(|| {
            GatewayError::invalid(
                "name the model to call as `model: \"@PROVIDER/MODEL\"` (or send the header `x-portkey-provider: @PROVIDER`); `GET /v1/models` lists what this key can call",
            )
        })?;
        let leaf = route::Leaf {
            named,
            params: route::Inherited::default(),
            path: String::new(),
        };
        let outcome = call(leaf).await;
        // No config: no route headers either.
        return Ok(route::Routed {
            outcome,
            retries: 0,
            path: String::new(),
        });
    };
    let router = route::Router {
        request: named.as_ref(),
        body_model: body_model.as_deref(),
        asked: crate::domain::conditions::Request {
            metadata: &metadata,
            params: &body,
        },
        call,
    };
    Ok(router
        .run(&config, route::Inherited::default(), "config".to_owned())
        .await)
}

/// Portkey's check before routing: every provider a config names must exist.
async fn refuse_unknown_slugs(
    state: &AppState,
    workspace: &str,
    slugs: Vec<String>,
) -> Result<(), GatewayError> {
    let (s, ws) = (state.clone(), workspace.to_owned());
    blocking(move || {
        let mut read = s.store.read()?;
        let mut unknown = Vec::new();
        for slug in slugs {
            if read.provider(&ws, &slug)?.is_none() && read.virtual_key(&ws, &slug)?.is_none() {
                unknown.push(slug);
            }
        }
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(GatewayError::unknown_keys(
                &unknown,
                "The config names AI providers this workspace does not have; `GET /v1/models` lists the ones it has",
            ))
        }
    })
    .await
}

/// Who calls: the workspace, and the API key (none for the embedded CLI).
struct Caller {
    workspace: String,
    key: Option<ApiKey>,
    /// `x-portkey-metadata`.
    metadata: std::collections::BTreeMap<String, String>,
    /// The saved config the request named: its id and slug.
    config: Option<(String, String)>,
}

/// One attempt at one leaf: resolve its provider, check it, hold what it may cost at
/// every level, call it.
async fn attempt(
    state: &AppState,
    endpoint: Endpoint,
    caller: Caller,
    mut body: Map<String, Value>,
    leaf: route::Leaf,
    timeout: Option<Duration>,
    base: LogBase,
) -> Result<Answer, GatewayError> {
    body.extend(leaf.params.override_params);
    let (target, scope) = resolved(state, &caller.workspace, leaf.named.clone()).await?;
    let levels = admit::levels(
        &scope,
        caller.key.as_ref(),
        &target,
        &caller.metadata,
        caller.config.clone(),
    );
    let demand = admission::demand::of_request(
        &body,
        matches!(endpoint, Endpoint::ChatCompletions),
        target.max_output_tokens,
        target.max_input_tokens,
    );
    let prices = admission::price::Prices::of(target.pricing.as_ref());
    let ask = admit::ask(&levels, demand, prices, &target.model)?;
    let hold_id = uuid::Uuid::new_v4().to_string();
    let first = if ask.entries.is_empty() {
        Admission::Admitted
    } else {
        admit::admit(state, &hold_id, &ask.entries).await?
    };
    if let Some(host) = &leaf.params.custom_host {
        // The caller's config must not send the provider's stored credentials elsewhere.
        let own = target
            .custom_host
            .as_deref()
            .map(|h| h.trim_end_matches('/'));
        if own != Some(host.trim_end_matches('/')) {
            return Err(GatewayError::new(
                StatusCode::FORBIDDEN,
                "custom_host_not_allowed_error",
                format!(
                    "`custom_host` `{host}` in the config would send AI provider `@{}`'s credentials to a host its integration does not name; an admin sets where a provider is called on its integration: `catalog integrations update {} --custom-host URL`",
                    target.slug,
                    target.integration.as_deref().unwrap_or(&target.slug)
                ),
            )
            .exception());
        }
    }
    if let Some(host) = &target.custom_host {
        let trusted = &state.gateway.trusted;
        let verdict = target
            .host_verdict
            .get_or_init(|| hosts::verdict(host, trusted, &target.slug));
        verdict.clone()?;
        if state.gateway.proxied {
            hosts::check_resolving(host, trusted, &target.slug).await?;
        }
    }
    let held = admit::hold(state, hold_id, ask, first).await?;
    let prepared = upstream::prepare(&target, endpoint, body)?;
    call(state, &target, prepared, timeout, base, held).await
}

/// `named` resolved for a caller of `workspace`, and the workspace's scope: as kept while
/// the catalog is unchanged, else read now (and kept).
async fn resolved(
    state: &AppState,
    workspace: &str,
    named: resolve::Named,
) -> Result<(Arc<Target>, Arc<admit::Scope>), GatewayError> {
    let resolutions = &state.gateway.resolutions;
    let kept = named.model.as_deref().and_then(|model| {
        let target = resolutions.target(workspace, &named.slug, model, chrono::Utc::now())?;
        Some((target, resolutions.scope(workspace)?))
    });
    if let Some(kept) = kept {
        return Ok(kept);
    }
    let (s, ws) = (state.clone(), workspace.to_owned());
    blocking(move || {
        let mut read = s.store.read()?;
        let version = read.catalog_version()?;
        let target = resolve::target(&s, &mut *read, &ws, &named, &mut resolve::Steps::default())?;
        let target = Arc::new(target);
        let scope = Arc::new(admit::Scope::read(&mut *read, &ws)?);
        let resolutions = &s.gateway.resolutions;
        let model = target.model.clone();
        resolutions.keep_target(&version, (&ws, &named.slug, &model), target.clone());
        resolutions.keep_scope(&version, &ws, scope.clone());
        Ok((target, scope))
    })
    .await
}

/// `x-portkey-request-timeout` in milliseconds.
fn request_timeout(headers: &HeaderMap) -> Result<Option<Duration>, GatewayError> {
    let Some(v) = headers.get("x-portkey-request-timeout") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(|ms| Some(Duration::from_millis(ms)))
        .ok_or_else(|| {
            GatewayError::invalid(
                "`x-portkey-request-timeout` must be a whole number of milliseconds above 0",
            )
        })
}

fn timed_out(timeout: Duration) -> GatewayError {
    GatewayError::new(
        StatusCode::REQUEST_TIMEOUT,
        "timeout_error",
        format!(
            "Request exceeded the timeout sent in the request: {}ms",
            timeout.as_millis()
        ),
    )
}

fn unreachable(target: &Target, e: &reqwest::Error) -> GatewayError {
    let why = if e.is_timeout() {
        "did not answer in time"
    } else if e.is_connect() {
        "could not be reached"
    } else {
        "failed while answering"
    };
    GatewayError::upstream(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "the upstream of AI provider `@{}` ({}) {why}",
            target.slug, target.service
        ),
    )
}

/// Upstream headers worth passing on to the caller.
static PASSED_HEADERS: [HeaderName; 10] = [
    HeaderName::from_static("retry-after"),
    HeaderName::from_static("retry-after-ms"),
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("openai-processing-ms"),
    HeaderName::from_static("x-ratelimit-limit-requests"),
    HeaderName::from_static("x-ratelimit-limit-tokens"),
    HeaderName::from_static("x-ratelimit-remaining-requests"),
    HeaderName::from_static("x-ratelimit-remaining-tokens"),
    HeaderName::from_static("x-ratelimit-reset-requests"),
    HeaderName::from_static("x-ratelimit-reset-tokens"),
];

fn answer_headers(target: &Target, upstream: &reqwest::header::HeaderMap) -> HeaderMap {
    let mut h = HeaderMap::new();
    for name in &PASSED_HEADERS {
        if let Some(v) = upstream.get(name) {
            h.insert(name.clone(), v.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(&target.service) {
        h.insert("x-portkey-provider", v);
    }
    if let Some(v) = target
        .integration
        .as_deref()
        .and_then(|i| HeaderValue::from_str(i).ok())
    {
        h.insert("x-catalog-integration", v);
    }
    h
}

async fn call(
    state: &AppState,
    target: &Target,
    prepared: Prepared,
    timeout: Option<Duration>,
    base: LogBase,
    held: admit::Held,
) -> Result<Answer, GatewayError> {
    let sent = Instant::now();
    let body = serde_json::to_vec(&prepared.body)
        .map_err(|e| GatewayError::internal(format!("the request body cannot be written: {e}")))?;
    let mut headers = prepared.headers;
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let url = target.url(&prepared.url).map_err(|e| {
        GatewayError::upstream(
            StatusCode::BAD_GATEWAY,
            format!(
                "the upstream URL of AI provider `@{}` ({}) is not a URL ({e}); an admin sets where it is called with `catalog integrations update {} --custom-host URL`",
                target.slug,
                target.service,
                target.integration.as_deref().unwrap_or(&target.slug)
            ),
        )
    })?;
    if let Some(signer) = &prepared.sign {
        for (name, value) in signer.sign("POST", &url, &body, &sigv4::amz_date_now()) {
            let mut v = HeaderValue::from_str(&value).map_err(|_| {
                GatewayError::internal(format!(
                    "the stored AWS credentials cannot be sent in the `{name}` header"
                ))
            })?;
            v.set_sensitive(true);
            headers.insert(name, v);
        }
    }
    let client = match target.custom_host {
        Some(_) => state.gateway.custom.for_url(&url),
        None => &state.gateway.client,
    };
    let send = client.post(url).headers(headers).body(body).send();
    let upstream = match timeout {
        Some(t) => tokio::time::timeout(t, send)
            .await
            .map_err(|_| timed_out(t))?,
        None => send.await,
    };
    let upstream = match upstream {
        Ok(u) => u,
        Err(e) => {
            let refused = target
                .custom_host
                .as_deref()
                .and_then(|host| hosts::refused_at_connect(&e, host, &target.slug));
            return Err(match refused {
                // Refused before anything left the gateway: nothing counts.
                Some(Ok(refusal)) => {
                    held.release();
                    refusal
                }
                // Nothing reached a model that answered: only the request itself counts.
                Some(Err(unresolved)) => {
                    held.settle(None);
                    unresolved
                }
                None => {
                    held.settle(None);
                    unreachable(target, &e)
                }
            });
        }
    };
    let status =
        StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = answer_headers(target, upstream.headers());
    let aws_error_type = upstream
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let created = chrono::Utc::now().timestamp();
    if status.is_success() && prepared.stream {
        let log = StreamLog(LogLine {
            base,
            provider: target.slug.clone(),
            model: target.model.clone(),
            status: status.as_u16(),
            upstream: Some(sent.elapsed()),
            usage: None,
            outcome: "",
        });
        let body = stream_body(
            upstream,
            prepared.protocol,
            prepared.caller_wants_usage,
            created,
            log,
            target,
            held,
        );
        let mut response = Response::new(body);
        *response.headers_mut() = headers;
        response.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("text/event-stream"),
        );
        response
            .headers_mut()
            .insert("cache-control", HeaderValue::from_static("no-cache"));
        return Ok(Answer::Stream(response));
    }
    let read = async { upstream.bytes().await };
    let bytes = match timeout {
        Some(t) => tokio::time::timeout(t.saturating_sub(sent.elapsed()), read)
            .await
            .map_err(|_| timed_out(t))?,
        None => read.await,
    }
    .map_err(|e| unreachable(target, &e))?;
    let upstream_time = sent.elapsed();
    if matches!(prepared.protocol, Protocol::OpenAi | Protocol::Azure) {
        // The answer passes through as the upstream wrote it; only its usage is read.
        let usage = if status.is_success() {
            openai_usage(&bytes).ok_or_else(|| not_json(target))?
        } else {
            None
        };
        return Ok(whole(
            status,
            headers,
            bytes,
            usage,
            held,
            target,
            upstream_time,
        ));
    }
    let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
    let (body, usage) = match (prepared.protocol, status.is_success(), parsed) {
        (Protocol::Anthropic, true, Some(message)) => {
            let (body, usage) = anthropic::response(&message, created);
            (Bytes::from(body.to_string()), Some(usage))
        }
        (Protocol::Anthropic, false, Some(error)) => {
            (Bytes::from(anthropic::error(&error).to_string()), None)
        }
        (Protocol::Gemini, true, Some(answer)) if prepared.embeddings => {
            let (body, usage) = gemini::embed_response(&answer, &prepared.body, &target.model);
            (Bytes::from(body.to_string()), usage)
        }
        (Protocol::Gemini, true, Some(answer)) => {
            let (body, usage) = gemini::response(&answer, &target.model, created);
            (Bytes::from(body.to_string()), usage)
        }
        (Protocol::Gemini, false, Some(error)) => {
            (Bytes::from(gemini::error(&error).to_string()), None)
        }
        (Protocol::Bedrock, true, Some(answer)) if prepared.embeddings => {
            let (body, usage) = bedrock::embed_response(&answer, &prepared.body, &target.model);
            (Bytes::from(body.to_string()), usage)
        }
        (Protocol::Bedrock, true, Some(answer)) => {
            let (body, usage) = bedrock::response(&answer, &target.model, created);
            (Bytes::from(body.to_string()), usage)
        }
        (Protocol::Bedrock, false, Some(error)) => (
            Bytes::from(bedrock::error(&error, aws_error_type.as_deref()).to_string()),
            None,
        ),
        (Protocol::OpenAi | Protocol::Azure, _, _) => unreachable!("answered above"),
        (_, true, None) => return Err(not_json(target)),
        (_, false, None) => (bytes, None),
    };
    Ok(whole(
        status,
        headers,
        body,
        usage,
        held,
        target,
        upstream_time,
    ))
}

fn not_json(target: &Target) -> GatewayError {
    GatewayError::upstream(
        StatusCode::BAD_GATEWAY,
        format!(
            "the upstream of AI provider `@{}` answered with something that is not JSON",
            target.slug
        ),
    )
}

/// The `usage` of an OpenAI answer: `None` when the body is not JSON, `Some(None)` when
/// it is but reports no usage. The rest of the answer is checked, not kept.
fn openai_usage(bytes: &[u8]) -> Option<Option<Usage>> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        usage: Option<Value>,
    }
    match serde_json::from_slice::<Answer>(bytes) {
        Ok(a) => Some(a.usage.as_ref().and_then(Usage::from_openai)),
        // JSON that is not an object carries no usage.
        Err(_) => serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
            .ok()
            .map(|_| None),
    }
}

/// A complete answer: its hold settled with what it used.
fn whole(
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    usage: Option<Usage>,
    held: admit::Held,
    target: &Target,
    upstream_time: Duration,
) -> Answer {
    held.settle(usage.map(used));
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    let meta = Meta {
        provider: target.slug.clone(),
        model: target.model.clone(),
        upstream: Some(upstream_time),
        usage,
    };
    Answer::Whole(response, meta)
}

/// What a call used, for settlement.
fn used(u: Usage) -> admission::Used {
    admission::Used {
        input_tokens: u.prompt_tokens,
        cached_tokens: u.cached_tokens,
        output_tokens: u.completion_tokens,
    }
}

/// How one stream's events become the caller's bytes.
enum Translate {
    /// OpenAI's own chunks, passed on; the usage chunk is dropped if the caller did not ask.
    OpenAi {
        caller_wants_usage: bool,
        finished: bool,
        errored: bool,
        usage: Option<Usage>,
    },
    Anthropic(anthropic::StreamTranslator),
    Gemini(gemini::StreamTranslator, bool),
    Bedrock(bedrock::StreamTranslator),
}

/// One unit of an upstream stream: a server-sent event, or an AWS event-stream message.
enum Unit {
    Event(sse::Event),
    Frame(bedrock::Frame),
}

/// Cuts an upstream stream into units, as its protocol frames them.
enum Splitter {
    Sse(sse::Splitter),
    EventStream(bedrock::FrameDecoder),
}

impl Splitter {
    /// Adds `bytes`; returns the units they completed, or why the stream is corrupt.
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<Unit>, String> {
        match self {
            Splitter::Sse(s) => Ok(s.push(bytes).into_iter().map(Unit::Event).collect()),
            Splitter::EventStream(d) => Ok(d.push(bytes)?.into_iter().map(Unit::Frame).collect()),
        }
    }

    fn has_partial(&self) -> bool {
        match self {
            Splitter::Sse(s) => s.has_partial(),
            Splitter::EventStream(d) => d.has_partial(),
        }
    }
}

impl Translate {
    fn unit(&mut self, unit: &Unit) -> Vec<u8> {
        match (self, unit) {
            (Translate::Bedrock(t), Unit::Frame(frame)) => t.frame(frame),
            (t, Unit::Event(event)) => t.event(event),
            (_, Unit::Frame(_)) => Vec::new(),
        }
    }

    fn event(&mut self, event: &sse::Event) -> Vec<u8> {
        match self {
            Translate::Anthropic(t) => t.event(event),
            Translate::Gemini(t, _) => t.event(event),
            Translate::Bedrock(_) => Vec::new(),
            Translate::OpenAi {
                caller_wants_usage,
                finished,
                errored,
                usage,
            } => {
                if event.data == "[DONE]" {
                    *finished = true;
                    return sse::DONE.to_vec();
                }
                if let Ok(chunk) = serde_json::from_str::<Value>(&event.data) {
                    if chunk.get("error").is_some() {
                        *finished = true;
                        *errored = true;
                    }
                    if let Some(u) = chunk.get("usage").and_then(Usage::from_openai) {
                        *usage = Some(u);
                        let only_usage = chunk
                            .get("choices")
                            .is_none_or(|c| c.as_array().is_none_or(Vec::is_empty));
                        if only_usage && !*caller_wants_usage {
                            return Vec::new();
                        }
                    }
                }
                sse::data(&event.data)
            }
        }
    }

    fn finished(&self) -> bool {
        match self {
            Translate::OpenAi { finished, .. } => *finished,
            Translate::Anthropic(t) => t.finished,
            Translate::Gemini(t, finished) => *finished || t.errored,
            Translate::Bedrock(t) => t.finished,
        }
    }

    /// Whether the stream ended with the upstream's error event.
    fn errored(&self) -> bool {
        match self {
            Translate::OpenAi { errored, .. } => *errored,
            Translate::Anthropic(t) => t.errored,
            Translate::Gemini(t, _) => t.errored,
            Translate::Bedrock(t) => t.errored,
        }
    }

    /// What to send when the upstream ends its stream: Gemini's streams end without a
    /// marker, so its end is the normal end; other streams are cut (`None`).
    fn end(&mut self) -> Option<Vec<u8>> {
        match self {
            Translate::Gemini(t, finished) if !*finished && !t.errored => {
                *finished = true;
                Some(t.finish())
            }
            Translate::Bedrock(t) => t.end(),
            _ => None,
        }
    }

    fn usage(&self) -> Option<Usage> {
        match self {
            Translate::OpenAi { usage, .. } => *usage,
            Translate::Anthropic(t) => Some(t.usage()),
            Translate::Gemini(t, _) => t.usage(),
            Translate::Bedrock(t) => t.usage(),
        }
    }
}

struct StreamState {
    upstream: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    /// Settled when the stream ends with the upstream's usage; dropped unsettled when it
    /// is cut or the caller goes away.
    held: Option<admit::Held>,
    splitter: Splitter,
    translate: Translate,
    log: StreamLog,
    slug: String,
    done: bool,
}

impl StreamState {
    fn cut(&mut self, why: &str) -> Bytes {
        self.done = true;
        self.log.0.outcome = "upstream_cut";
        let e = GatewayError::upstream(
            StatusCode::BAD_GATEWAY,
            format!("the upstream of AI provider `@{}` {why}", self.slug),
        );
        Bytes::from(sse::data(
            &serde_json::json!({"error": e.body()["error"]}).to_string(),
        ))
    }
}

fn stream_body(
    upstream: reqwest::Response,
    protocol: Protocol,
    caller_wants_usage: bool,
    created: i64,
    log: StreamLog,
    target: &Target,
    held: admit::Held,
) -> Body {
    let translate = match protocol {
        Protocol::Anthropic => Translate::Anthropic(anthropic::StreamTranslator::new(
            created,
            caller_wants_usage,
        )),
        Protocol::Gemini => Translate::Gemini(
            gemini::StreamTranslator::new(&target.model, created, caller_wants_usage),
            false,
        ),
        Protocol::Bedrock => Translate::Bedrock(bedrock::StreamTranslator::new(
            &target.model,
            created,
            caller_wants_usage,
        )),
        Protocol::OpenAi | Protocol::Azure => Translate::OpenAi {
            caller_wants_usage,
            finished: false,
            errored: false,
            usage: None,
        },
    };
    let mut state = StreamState {
        upstream: upstream.bytes_stream().boxed(),
        held: Some(held),
        splitter: match protocol {
            Protocol::Bedrock => Splitter::EventStream(bedrock::FrameDecoder::default()),
            _ => Splitter::Sse(sse::Splitter::default()),
        },
        translate,
        log,
        slug: target.slug.clone(),
        done: false,
    };
    state.log.0.outcome = "client_disconnected";
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if s.done {
                return None;
            }
            match s.upstream.next().await {
                Some(Ok(bytes)) => {
                    let mut out = Vec::new();
                    match s.splitter.push(&bytes) {
                        Ok(units) => {
                            for unit in &units {
                                out.extend(s.translate.unit(unit));
                            }
                        }
                        Err(why) => {
                            out.extend(s.cut(&why));
                            return Some((Ok(Bytes::from(out)), s));
                        }
                    }
                    s.log.0.usage = s.translate.usage();
                    if let Some(h) = s.held.as_mut() {
                        h.streamed_bytes += out.len() as u64;
                        h.reported = s.translate.usage().map(used);
                    }
                    if s.translate.finished() {
                        s.done = true;
                        s.log.0.outcome = if s.translate.errored() {
                            "upstream_error"
                        } else {
                            "ok"
                        };
                        if let Some(h) = s.held.take() {
                            h.settle(s.translate.usage().map(used));
                        }
                    }
                    if !out.is_empty() {
                        return Some((Ok::<Bytes, std::io::Error>(Bytes::from(out)), s));
                    }
                }
                Some(Err(_)) => {
                    let bytes = s.cut("broke off the stream");
                    return Some((Ok(bytes), s));
                }
                None if s.translate.finished() => return None,
                None if s.splitter.has_partial() => {
                    let bytes = s.cut("ended the stream before it was complete");
                    return Some((Ok(bytes), s));
                }
                None => {
                    if let Some(end) = s.translate.end() {
                        s.done = true;
                        s.log.0.usage = s.translate.usage();
                        s.log.0.outcome = "ok";
                        if let Some(h) = s.held.take() {
                            h.settle(s.translate.usage().map(used));
                        }
                        return Some((Ok(Bytes::from(end)), s));
                    }
                    let bytes = s.cut("ended the stream before it was complete");
                    return Some((Ok(bytes), s));
                }
            }
        }
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_fields_stay_on_one_line_and_in_one_field() {
        assert_eq!(field(""), "-");
        assert_eq!(field("gpt-4o-mini"), "gpt-4o-mini");
        assert_eq!(
            field("m\nx gateway trace=forged\tstatus=200\r"),
            "m\\u{a}x\\u{20}gateway\\u{20}trace=forged\\u{9}status=200\\u{d}"
        );
    }
}
