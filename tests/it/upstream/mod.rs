//! A fake upstream LLM provider for tests and benchmarks: one loopback listener that speaks
//! the wire formats of OpenAI (and OpenAI-compatible services), Azure OpenAI, Anthropic,
//! Bedrock Converse and Google Gemini on the paths the real services use, records every
//! request it receives, and misbehaves on demand.
//!
//! Used by the integration tests (`tests/it/main.rs` declares it) and by the benchmark's
//! server (`examples/fake_upstream.rs` includes this same file).
//!
//! ```ignore
//! let up = Upstream::start_blocking();          // own runtime thread; fits blocking tests
//! let base = up.base_url("/v1");                // -> http://127.0.0.1:PORT/v1
//! up.set(|k| k.chunks = 3);                    // default knobs
//! up.fail_next(429, Some(2));                   // next request: 429 + retry-after: 2
//! // ... drive the gateway ...
//! let r = up.last_request();
//! assert_eq!(r.bearer(), Some("sk-provider"));
//! assert_eq!(r.json.as_ref().unwrap()["model"], "gpt-4o-mini");
//! ```
//!
//! Paths (method POST):
//! - `…/chat/completions`, `…/embeddings` (any prefix, e.g. `/v1`, `/openai/v1`): OpenAI;
//!   `Authorization: Bearer KEY` (on `/openai/…` an `api-key` header also works).
//! - `/openai/deployments/{deployment}/chat/completions|embeddings?api-version=…`: Azure.
//! - `…/v1/messages`: Anthropic (`x-api-key`, `anthropic-version`, `max_tokens` required).
//! - `/model/{modelId}/converse`, `/model/{modelId}/converse-stream`: Bedrock (SigV4 header
//!   shape checked, stream in `application/vnd.amazon.eventstream` frames).
//! - `/v1beta/models/{model}:generateContent`, `:streamGenerateContent` (`?alt=sse` for SSE,
//!   otherwise a streamed JSON array), also under `/v1/models/`: Gemini.
//!
//! Knobs are set on the fake ([`Knobs`], per path prefix with [`Upstream::on_path`]) and
//! some through the model name, `+`-separated tokens anywhere in it (`slow-500`,
//! `gpt-4o-mini+cut-2`): `slow-MS` latency, `ttfb-MS`, `delay-MS` between chunks,
//! `chunks-N`, `cut-N`, `error-N` (in-band stream error after N chunks), `fail-STATUS`,
//! `nousage`, `tool` (call the first tool the request offers).
//!
//! Content: the reply is `chunks` words of [`Knobs::text`] (cycled), one word per stream
//! chunk; completion tokens = chunks emitted (capped by the request's max tokens, then the
//! finish reason is the service's "length"); prompt tokens = Σ ceil(chars/4) over the
//! input's strings + 3 per message, unless [`Knobs::prompt_tokens`] /
//! [`Knobs::completion_tokens`] fix them.

mod anthropic;
mod azure;
mod bedrock;
pub mod eventstream;
mod gemini;
mod openai;

pub use bedrock::SigV4;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// How the fake answers; the defaults answer at once, correctly, with usage.
#[derive(Clone, Debug)]
pub struct Knobs {
    /// Delay before the response head (for every answer, errors included).
    pub latency: Duration,
    /// Streams: delay after the head before the first event.
    pub ttfb: Duration,
    /// Streams: delay between two content chunks.
    pub chunk_delay: Duration,
    /// Content pieces (words) in the reply; one stream chunk each.
    pub chunks: usize,
    /// The words the reply is made of (cycled to `chunks` words).
    pub text: String,
    /// Leave usage out (JSON and streams).
    pub omit_usage: bool,
    /// Streams: close the connection after this many content chunks, before any final
    /// event (`[DONE]`, `message_stop`, `messageStop`, the finish chunk).
    pub cut_after: Option<usize>,
    /// Streams: after this many content chunks send the service's in-band error event
    /// (OpenAI `data: {"error":…}`, Anthropic `event: error` `overloaded_error`, Bedrock a
    /// `modelStreamErrorException` frame, Gemini `data: {"error":…}`) and end the stream.
    pub error_after: Option<usize>,
    /// Answer with a tool call instead of text.
    pub tool_call: Option<ToolCall>,
    /// Fixed prompt tokens instead of the estimate.
    pub prompt_tokens: Option<u64>,
    /// Fixed completion tokens instead of the number of chunks.
    pub completion_tokens: Option<u64>,
    /// Length of embedding vectors.
    pub embedding_dims: usize,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            latency: Duration::ZERO,
            ttfb: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            chunks: 9,
            text: "The quick brown fox jumps over the lazy dog.".to_owned(),
            omit_usage: false,
            cut_after: None,
            error_after: None,
            tool_call: None,
            prompt_tokens: None,
            completion_tokens: None,
            embedding_dims: 8,
        }
    }
}

/// A tool call to answer with.
#[derive(Clone, Debug)]
pub struct ToolCall {
    /// `None`: the first tool the request offers (or `tool` if it offers none).
    pub name: Option<String>,
    pub arguments: Value,
}

/// An error answer queued with [`Upstream::fail_next`] and friends.
#[derive(Clone, Debug)]
pub struct ErrorReply {
    pub status: u16,
    /// `retry-after` header value.
    pub retry_after: Option<String>,
    /// Body; `None`: the service's own error shape for this status.
    pub body: Option<Value>,
    /// Only requests whose path starts with this take it.
    pub path_prefix: Option<String>,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
}

impl ErrorReply {
    pub fn new(status: u16) -> Self {
        ErrorReply {
            status,
            retry_after: None,
            body: None,
            path_prefix: None,
            headers: Vec::new(),
        }
    }
}

/// Credentials the fake insists on; `None` accepts any non-empty one.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub openai: Option<String>,
    pub azure: Option<String>,
    pub anthropic: Option<String>,
    pub google: Option<String>,
    pub aws_access_key_id: Option<String>,
    pub aws_region: Option<String>,
}

/// Everything that decides the fake's answers.
#[derive(Clone, Debug)]
pub struct Behaviour {
    pub default: Knobs,
    /// `(path prefix, knobs)`: the first matching entry replaces `default`.
    pub per_path: Vec<(String, Knobs)>,
    /// Error answers for the next requests, in order.
    pub errors: VecDeque<ErrorReply>,
    pub credentials: Credentials,
    /// Azure `(deployment, model)`; empty: every deployment exists, named as its model.
    pub azure_deployments: Vec<(String, String)>,
    /// Keep a record of requests (the benchmark turns this off).
    pub record: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            default: Knobs::default(),
            per_path: Vec::new(),
            errors: VecDeque::new(),
            credentials: Credentials::default(),
            azure_deployments: Vec::new(),
            record: true,
        }
    }
}

/// Which service a request was addressed to, by its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    OpenAi,
    Azure,
    Anthropic,
    Bedrock,
    Gemini,
    Unknown,
}

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The raw (still percent-encoded) path.
    pub path: String,
    pub query: Option<String>,
    /// Names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body parsed, when it is JSON.
    pub json: Option<Value>,
    pub at: SystemTime,
    /// Since the fake started.
    pub elapsed: Duration,
    pub service: Service,
    /// The model as this service sees it: body `model`, Azure deployment, Bedrock
    /// `modelId` (decoded), Gemini path model.
    pub model: Option<String>,
}

impl RecordedRequest {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The token of `Authorization: Bearer TOKEN`.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer ").or(v.strip_prefix("bearer ")))
    }

    /// A query parameter (percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_param(self.query.as_deref(), name)
    }

    /// The SigV4 `Authorization` header, parsed.
    pub fn sigv4(&self) -> Option<SigV4> {
        SigV4::parse(self.header("authorization")?)
    }

    /// Whether `needle` occurs in the path, query, any header value or the body.
    pub fn contains(&self, needle: &str) -> bool {
        self.path.contains(needle)
            || self.query.as_deref().is_some_and(|q| q.contains(needle))
            || self
                .headers
                .iter()
                .any(|(k, v)| k.contains(needle) || v.contains(needle))
            || self
                .body
                .windows(needle.len().max(1))
                .any(|w| w == needle.as_bytes())
    }

    /// The body's `stream` flag (OpenAI/Anthropic shape) or a streaming path.
    pub fn is_stream(&self) -> bool {
        self.path.ends_with("/converse-stream")
            || self.path.contains(":streamGenerateContent")
            || self
                .json
                .as_ref()
                .and_then(|j| j.get("stream"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
    }
}

pub(crate) struct Shared {
    behaviour: Mutex<Behaviour>,
    log: Mutex<Vec<RecordedRequest>>,
    started: Instant,
    seq: AtomicU64,
}

/// A running fake upstream; stops when dropped.
pub struct Upstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    /// Starts on 127.0.0.1:0 in its own runtime thread (usable from blocking code and
    /// from inside another runtime alike).
    pub fn start_blocking() -> Upstream {
        Self::start_on("127.0.0.1:0".parse().unwrap(), 1, Behaviour::default())
    }

    /// Starts on `addr` with `threads` runtime worker threads (1: a current-thread
    /// runtime) and the given behaviour.
    pub fn start_on(addr: SocketAddr, threads: usize, behaviour: Behaviour) -> Upstream {
        let std_listener = std::net::TcpListener::bind(addr).expect("bind fake upstream");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let shared = Arc::new(Shared::new(behaviour));
        let (tx, rx) = oneshot::channel();
        let state = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-upstream".into())
            .spawn(move || {
                let rt = if threads <= 1 {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                } else {
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(threads)
                        .enable_all()
                        .build()
                }
                .expect("fake upstream runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                    serve(listener, state, rx).await;
                });
            })
            .unwrap();
        Upstream {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Starts on 127.0.0.1:0 as a task of the current tokio runtime.
    pub async fn start() -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::new(Behaviour::default()));
        let (tx, rx) = oneshot::channel();
        tokio::spawn(serve(listener, shared.clone(), rx));
        Upstream {
            addr,
            shared,
            shutdown: Some(tx),
            thread: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, as `--trusted-custom-host` takes it.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT{prefix}`, e.g. `base_url("/v1")` for a `custom_host`.
    pub fn base_url(&self, prefix: &str) -> String {
        format!("http://{}{prefix}", self.addr)
    }

    /// Changes the whole behaviour.
    pub fn behave(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.shared.behaviour.lock().unwrap());
    }

    /// Changes the default knobs.
    pub fn set(&self, f: impl FnOnce(&mut Knobs)) {
        f(&mut self.shared.behaviour.lock().unwrap().default);
    }

    /// Knobs for paths starting with `prefix`: the current defaults changed by `f`.
    pub fn on_path(&self, prefix: &str, f: impl FnOnce(&mut Knobs)) {
        let mut b = self.shared.behaviour.lock().unwrap();
        let mut knobs = b.default.clone();
        f(&mut knobs);
        b.per_path.retain(|(p, _)| p != prefix);
        b.per_path.push((prefix.to_owned(), knobs));
    }

    /// The next request answers `status` (in its service's error shape), with
    /// `retry-after: SECONDS` when given.
    pub fn fail_next(&self, status: u16, retry_after: Option<u64>) {
        self.fail_next_n(1, status, retry_after);
    }

    /// The next `n` requests answer `status`.
    pub fn fail_next_n(&self, n: usize, status: u16, retry_after: Option<u64>) {
        for _ in 0..n {
            let mut e = ErrorReply::new(status);
            e.retry_after = retry_after.map(|s| s.to_string());
            self.fail_next_with(e);
        }
    }

    /// Queues any error answer.
    pub fn fail_next_with(&self, e: ErrorReply) {
        self.shared.behaviour.lock().unwrap().errors.push_back(e);
    }

    /// Insists on these credentials.
    pub fn credentials(&self, f: impl FnOnce(&mut Credentials)) {
        f(&mut self.shared.behaviour.lock().unwrap().credentials);
    }

    /// Declares an Azure deployment (after the first, unknown deployments are 404).
    pub fn azure_deployment(&self, deployment: &str, model: &str) {
        self.shared
            .behaviour
            .lock()
            .unwrap()
            .azure_deployments
            .push((deployment.to_owned(), model.to_owned()));
    }

    /// Every request recorded so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.log.lock().unwrap().len()
    }

    /// The latest request; panics when there is none.
    pub fn last_request(&self) -> RecordedRequest {
        self.shared
            .log
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the fake upstream received no request")
    }

    pub fn clear_requests(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// Waits until at least `n` requests were recorded; returns them (panics on timeout).
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.requests();
            if log.len() >= n {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the fake upstream received {} requests, not {n}, within {timeout:?}",
                log.len()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether any recorded request carries `needle` anywhere (leak checks).
    pub fn saw(&self, needle: &str) -> bool {
        self.requests().iter().any(|r| r.contains(needle))
    }

    /// Stops and waits for the server thread.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

impl Shared {
    fn new(behaviour: Behaviour) -> Shared {
        Shared {
            behaviour: Mutex::new(behaviour),
            log: Mutex::new(Vec::new()),
            started: Instant::now(),
            seq: AtomicU64::new(0),
        }
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: oneshot::Receiver<()>,
) {
    let app = Router::new().fallback(handle).with_state(shared);
    let (drain_tx, drain_rx) = oneshot::channel::<()>();
    let server = async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = drain_rx.await;
            })
            .await;
    };
    tokio::pin!(server);
    tokio::select! {
        _ = &mut server => return,
        _ = shutdown => {}
    }
    // Let answers in flight finish, but never wait on a stalled stream for long.
    let _ = drain_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
}

/// The answer a service module gives.
pub(crate) enum Reply {
    Json {
        status: u16,
        body: Value,
        headers: Vec<(String, String)>,
    },
    Stream(Plan),
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply::Json {
            status,
            body,
            headers: Vec::new(),
        }
    }

    pub(crate) fn with_header(mut self, name: &str, value: &str) -> Reply {
        match &mut self {
            Reply::Json { headers, .. } => headers.push((name.to_owned(), value.to_owned())),
            Reply::Stream(plan) => plan.headers.push((name.to_owned(), value.to_owned())),
        }
        self
    }
}

/// Where a piece of a stream stands: before the content, content, or after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Head,
    Content,
    Tail,
}

/// A stream answer: its pieces are sent with the knobs' delays, cut or error.
pub(crate) struct Plan {
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub pieces: Vec<(Part, Bytes)>,
}

impl Plan {
    pub(crate) fn new(content_type: &'static str) -> Plan {
        Plan {
            content_type,
            headers: Vec::new(),
            pieces: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, part: Part, bytes: impl Into<Bytes>) {
        self.pieces.push((part, bytes.into()));
    }

    /// Keeps the head and the first `k` content pieces, then `error`, then nothing.
    pub(crate) fn error_after(&mut self, k: usize, error: Bytes) {
        let mut content = 0;
        let mut kept = Vec::new();
        for (part, bytes) in self.pieces.drain(..) {
            match part {
                Part::Head => kept.push((part, bytes)),
                Part::Content if content < k => {
                    content += 1;
                    kept.push((part, bytes));
                }
                _ => break,
            }
        }
        kept.push((Part::Tail, error));
        self.pieces = kept;
    }
}

/// What a service module gets to answer a request.
pub(crate) struct Ctx {
    pub path: String,
    pub query: Option<String>,
    pub headers: axum::http::HeaderMap,
    pub json: Option<Value>,
    pub knobs: Knobs,
    pub seq: u64,
    pub credentials: Credentials,
    pub azure_deployments: Vec<(String, String)>,
    pub received: Instant,
}

impl Ctx {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        query_param(self.query.as_deref(), name)
    }

    /// A request id unique within this fake.
    pub(crate) fn id(&self, prefix: &str) -> String {
        format!("{prefix}fake{:08}", self.seq)
    }
}

/// Route: which service and endpoint a path is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    OpenAiChat,
    OpenAiEmbeddings,
    AzureChat(String),
    AzureEmbeddings(String),
    Anthropic,
    Bedrock { model: String, stream: bool },
    BedrockInvoke { model: String },
    Gemini { model: String, stream: bool },
    GeminiEmbed { model: String },
}

impl Endpoint {
    fn service(&self) -> Service {
        match self {
            Endpoint::OpenAiChat | Endpoint::OpenAiEmbeddings => Service::OpenAi,
            Endpoint::AzureChat(_) | Endpoint::AzureEmbeddings(_) => Service::Azure,
            Endpoint::Anthropic => Service::Anthropic,
            Endpoint::Bedrock { .. } | Endpoint::BedrockInvoke { .. } => Service::Bedrock,
            Endpoint::Gemini { .. } | Endpoint::GeminiEmbed { .. } => Service::Gemini,
        }
    }
}

pub(crate) fn route(path: &str) -> Option<Endpoint> {
    if let Some(rest) = path.strip_prefix("/openai/deployments/") {
        let (deployment, tail) = rest.split_once('/')?;
        let deployment = percent_decode(deployment);
        return match tail {
            "chat/completions" => Some(Endpoint::AzureChat(deployment)),
            "embeddings" => Some(Endpoint::AzureEmbeddings(deployment)),
            _ => None,
        };
    }
    if let Some(rest) = path.strip_prefix("/model/") {
        let (model, tail) = rest.rsplit_once('/')?;
        let model = percent_decode(model);
        return match tail {
            "converse" => Some(Endpoint::Bedrock {
                model,
                stream: false,
            }),
            "converse-stream" => Some(Endpoint::Bedrock {
                model,
                stream: true,
            }),
            "invoke" => Some(Endpoint::BedrockInvoke { model }),
            _ => None,
        };
    }
    for prefix in ["/v1beta/models/", "/v1/models/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let (model, action) = rest.rsplit_once(':')?;
            let model = percent_decode(model);
            return match action {
                "generateContent" => Some(Endpoint::Gemini {
                    model,
                    stream: false,
                }),
                "streamGenerateContent" => Some(Endpoint::Gemini {
                    model,
                    stream: true,
                }),
                "batchEmbedContents" => Some(Endpoint::GeminiEmbed { model }),
                _ => None,
            };
        }
    }
    if path.ends_with("/v1/messages") {
        return Some(Endpoint::Anthropic);
    }
    if path.ends_with("/chat/completions") {
        return Some(Endpoint::OpenAiChat);
    }
    if path.ends_with("/embeddings") {
        return Some(Endpoint::OpenAiEmbeddings);
    }
    None
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let received = Instant::now();
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let endpoint = route(&path);
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed) + 1;

    let (mut knobs, queued, credentials, azure_deployments) = {
        let mut b = shared.behaviour.lock().unwrap();
        let knobs = b
            .per_path
            .iter()
            .find(|(p, _)| path.starts_with(p.as_str()))
            .map(|(_, k)| k.clone())
            .unwrap_or_else(|| b.default.clone());
        let queued = if endpoint.is_some() {
            let at = b
                .errors
                .iter()
                .position(|e| e.path_prefix.as_deref().is_none_or(|p| path.starts_with(p)));
            at.and_then(|i| b.errors.remove(i))
        } else {
            None
        };
        if b.record {
            let model = match &endpoint {
                Some(Endpoint::AzureChat(d)) | Some(Endpoint::AzureEmbeddings(d)) => {
                    Some(d.clone())
                }
                Some(Endpoint::Bedrock { model, .. })
                | Some(Endpoint::BedrockInvoke { model })
                | Some(Endpoint::Gemini { model, .. })
                | Some(Endpoint::GeminiEmbed { model }) => Some(model.clone()),
                _ => json
                    .as_ref()
                    .and_then(|j| j.get("model"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            };
            let headers = parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            shared.log.lock().unwrap().push(RecordedRequest {
                method: parts.method.to_string(),
                path: path.clone(),
                query: query.clone(),
                headers,
                body: body.to_vec(),
                json: json.clone(),
                at: SystemTime::now(),
                elapsed: shared.started.elapsed(),
                service: endpoint
                    .as_ref()
                    .map(Endpoint::service)
                    .unwrap_or(Service::Unknown),
                model,
            });
        }
        (
            knobs,
            queued,
            b.credentials.clone(),
            b.azure_deployments.clone(),
        )
    };

    let Some(endpoint) = endpoint else {
        return render(openai::error_body(
            404,
            &format!(
                "Unknown request URL: {} {path}. Please check the URL for typos.",
                parts.method
            ),
            "invalid_request_error",
            Some("unknown_url"),
        ));
    };
    if parts.method != axum::http::Method::POST {
        return render(openai::error_body(
            405,
            &format!("Method {} is not allowed on {path}", parts.method),
            "invalid_request_error",
            None,
        ));
    }

    let model_name = match &endpoint {
        Endpoint::AzureChat(d) | Endpoint::AzureEmbeddings(d) => Some(d.clone()),
        Endpoint::Bedrock { model, .. }
        | Endpoint::BedrockInvoke { model }
        | Endpoint::Gemini { model, .. }
        | Endpoint::GeminiEmbed { model } => Some(model.clone()),
        _ => json
            .as_ref()
            .and_then(|j| j.get("model"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let model_fail = model_name
        .as_deref()
        .and_then(|m| apply_model_tokens(&mut knobs, m));

    if !knobs.latency.is_zero() {
        tokio::time::sleep(knobs.latency).await;
    }

    let ctx = Ctx {
        path,
        query,
        headers: parts.headers,
        json,
        knobs,
        seq,
        credentials,
        azure_deployments,
        received,
    };
    let service = endpoint.service();
    // Authentication first, as the real services do; then injected errors; then the request.
    if let Some(reply) = authenticate(service, &ctx) {
        return render(reply);
    }
    if let Some(e) = queued.or(model_fail.map(ErrorReply::new)) {
        return render(error_reply(service, &e));
    }
    let reply = match endpoint {
        Endpoint::OpenAiChat => openai::chat(&ctx, None),
        Endpoint::OpenAiEmbeddings => openai::embeddings(&ctx, None),
        Endpoint::AzureChat(d) => azure::chat(&ctx, &d),
        Endpoint::AzureEmbeddings(d) => azure::embeddings(&ctx, &d),
        Endpoint::Anthropic => anthropic::messages(&ctx),
        Endpoint::Bedrock { model, stream } => bedrock::converse(&ctx, &model, stream),
        Endpoint::BedrockInvoke { model } => bedrock::invoke(&ctx, &model),
        Endpoint::Gemini { model, stream } => gemini::generate(&ctx, &model, stream),
        Endpoint::GeminiEmbed { model } => gemini::embed(&ctx, &model),
    };
    match reply {
        Reply::Stream(plan) => stream(plan, &ctx.knobs),
        other => render(other),
    }
}

fn authenticate(service: Service, ctx: &Ctx) -> Option<Reply> {
    match service {
        Service::OpenAi => openai::authenticate(ctx),
        Service::Azure => azure::authenticate(ctx),
        Service::Anthropic => anthropic::authenticate(ctx),
        Service::Bedrock => bedrock::authenticate(ctx),
        Service::Gemini => gemini::authenticate(ctx),
        Service::Unknown => None,
    }
}

fn error_reply(service: Service, e: &ErrorReply) -> Reply {
    let mut reply = match &e.body {
        Some(body) => Reply::json(e.status, body.clone()),
        None => match service {
            Service::OpenAi | Service::Unknown => openai::error_for_status(e.status),
            Service::Azure => azure::error_for_status(e.status),
            Service::Anthropic => anthropic::error_for_status(e.status),
            Service::Bedrock => bedrock::error_for_status(e.status),
            Service::Gemini => gemini::error_for_status(e.status),
        },
    };
    if let Some(r) = &e.retry_after {
        reply = reply.with_header("retry-after", r);
    }
    for (k, v) in &e.headers {
        reply = reply.with_header(k, v);
    }
    reply
}

/// Applies `+`-separated model-name tokens; returns a status to fail with.
fn apply_model_tokens(knobs: &mut Knobs, model: &str) -> Option<u16> {
    let mut fail = None;
    for token in model.split(['+', '/']) {
        let num = |prefix: &str| {
            token
                .strip_prefix(prefix)
                .and_then(|n| n.parse::<u64>().ok())
        };
        if let Some(ms) = num("slow-") {
            knobs.latency = Duration::from_millis(ms);
        } else if let Some(ms) = num("ttfb-") {
            knobs.ttfb = Duration::from_millis(ms);
        } else if let Some(ms) = num("delay-") {
            knobs.chunk_delay = Duration::from_millis(ms);
        } else if let Some(n) = num("chunks-") {
            knobs.chunks = n as usize;
        } else if let Some(n) = num("cut-") {
            knobs.cut_after = Some(n as usize);
        } else if let Some(n) = num("error-") {
            knobs.error_after = Some(n as usize);
        } else if let Some(s) = num("fail-") {
            fail = Some(s as u16);
        } else if token == "nousage" {
            knobs.omit_usage = true;
        } else if token == "tool" {
            knobs.tool_call.get_or_insert(ToolCall {
                name: None,
                arguments: serde_json::json!({"location": "Paris"}),
            });
        }
    }
    fail
}

fn render(reply: Reply) -> Response {
    match reply {
        Reply::Json {
            status,
            body,
            headers,
        } => {
            let mut res = Response::new(Body::from(body.to_string()));
            *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            res.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            add_headers(&mut res, &headers);
            res
        }
        Reply::Stream(_) => unreachable!("streams are sent by stream()"),
    }
}

fn add_headers(res: &mut Response, headers: &[(String, String)]) {
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            res.headers_mut().append(k, v);
        }
    }
}

/// Sends a plan's pieces with the knobs' pacing; a cut aborts the connection.
fn stream(plan: Plan, knobs: &Knobs) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let ttfb = knobs.ttfb;
    let delay = knobs.chunk_delay;
    let cut = knobs.cut_after;
    let pieces = plan.pieces;
    tokio::spawn(async move {
        if !ttfb.is_zero() {
            tokio::time::sleep(ttfb).await;
        }
        let mut sent = 0usize;
        for (part, bytes) in pieces {
            if part != Part::Head && cut.is_some_and(|k| sent >= k) {
                // Let the connection flush what was sent before it is torn down.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = tx
                    .send(Err(std::io::Error::other(
                        "stream cut by the fake upstream",
                    )))
                    .await;
                return;
            }
            if part == Part::Content {
                if sent > 0 && !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                sent += 1;
            }
            if tx.send(Ok(bytes)).await.is_err() {
                return;
            }
        }
    });
    let mut res = Response::new(Body::new(ChannelBody { rx }));
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(plan.content_type),
    );
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    add_headers(&mut res, &plan.headers);
    res
}

struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
}

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|o| o.map(|r| r.map(hyper::body::Frame::data)))
    }
}

/// What a reply says, decided once for every service.
pub(crate) struct Gen {
    /// One per content chunk.
    pub pieces: Vec<String>,
    pub text: String,
    /// The reply was cut by the request's max tokens.
    pub truncated: bool,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// `(id, name, arguments JSON, argument pieces)` when answering with a tool call.
    pub tool: Option<(String, String, Value, Vec<String>)>,
}

impl Gen {
    pub(crate) fn new(
        ctx: &Ctx,
        input: &[&Value],
        max_tokens: Option<u64>,
        tools: &[String],
    ) -> Gen {
        let k = &ctx.knobs;
        let mut n = k.chunks;
        let mut truncated = false;
        if let Some(m) = max_tokens {
            if (m as usize) < n {
                n = m as usize;
                truncated = true;
            }
        }
        let prompt_tokens = k.prompt_tokens.unwrap_or_else(|| estimate_tokens(input));
        let tool = k.tool_call.as_ref().map(|t| {
            let name = t
                .name
                .clone()
                .or_else(|| tools.first().cloned())
                .unwrap_or_else(|| "tool".to_owned());
            let args = t.arguments.to_string();
            (
                ctx.id("call_"),
                name,
                t.arguments.clone(),
                split_even(&args, n),
            )
        });
        let words: Vec<&str> = k.text.split_whitespace().collect();
        let pieces: Vec<String> = if tool.is_some() || words.is_empty() {
            Vec::new()
        } else {
            (0..n)
                .map(|i| {
                    let w = words[i % words.len()];
                    if i + 1 < n {
                        format!("{w} ")
                    } else {
                        w.to_owned()
                    }
                })
                .collect()
        };
        let emitted = match &tool {
            Some((_, _, _, p)) => p.len(),
            None => pieces.len(),
        };
        Gen {
            text: pieces.concat(),
            pieces,
            truncated,
            prompt_tokens,
            completion_tokens: k.completion_tokens.unwrap_or(emitted as u64),
            tool,
        }
    }

    pub(crate) fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    /// The content pieces to stream (argument pieces for a tool call).
    pub(crate) fn stream_pieces(&self) -> &[String] {
        match &self.tool {
            Some((_, _, _, p)) => p,
            None => &self.pieces,
        }
    }
}

/// Splits `s` into `n` pieces of nearly equal length (fewer if `s` is shorter).
fn split_even(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let n = n.min(chars.len()).max(1);
    let size = chars.len().div_ceil(n);
    chars
        .chunks(size.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

/// Σ ceil(chars/4) over every string in the inputs, + 3 per element of arrays at the top.
pub(crate) fn estimate_tokens(input: &[&Value]) -> u64 {
    fn walk(v: &Value) -> u64 {
        match v {
            Value::String(s) => (s.chars().count() as u64).div_ceil(4),
            Value::Array(a) => a.iter().map(walk).sum(),
            Value::Object(o) => o.values().map(walk).sum(),
            _ => 0,
        }
    }
    input
        .iter()
        .map(|v| {
            walk(v)
                + match v {
                    Value::Array(a) => 3 * a.len() as u64,
                    _ => 0,
                }
        })
        .sum::<u64>()
        .max(1)
}

/// A deterministic unit vector for a text.
pub(crate) fn embedding_for(text: &str, dims: usize) -> Vec<f32> {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    let mut v: Vec<f32> = (0..dims)
        .map(|i| {
            h ^= i as u64;
            h = h.wrapping_mul(0x100000001b3).rotate_left(17);
            ((h >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    for x in &mut v {
        *x /= norm;
    }
    v
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One SSE event: `event: NAME` (when given) and `data: JSON`.
pub(crate) fn sse(event: Option<&str>, data: &str) -> Bytes {
    match event {
        Some(e) => format!("event: {e}\ndata: {data}\n\n").into(),
        None => format!("data: {data}\n\n").into(),
    }
}

pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(&k.replace('+', " ")) == name).then(|| percent_decode(&v.replace('+', " ")))
    })
}

/// Decodes `%XX` escapes (a `+` stays a `+`, as in paths).
pub(crate) fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
