//! The inference gateway over HTTP: a real `catalog serve` calls the fake upstream
//! (trusted with CATALOG_TRUSTED_CUSTOM_HOSTS), and each test checks what the caller got
//! and what the upstream received — the credential, the bare model, the translated body —
//! and that the caller's workspace key never travels upstream.

use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::common::{Mode, Server, World, ADMIN_KEY, PROVIDER_KEY, ROTATED_KEY};
use crate::upstream::{ErrorReply, RecordedRequest, Service, Upstream};

/// The prompt of every call; it must never reach a log line.
pub(crate) const PROMPT: &str = "Describe the lighthouse-of-Quillhaven in one line";

/// What the fake answers with its default knobs (9 words of its text).
pub(crate) const REPLY: &str = "The quick brown fox jumps over the lazy dog.";

/// How long any call may take before the test fails instead of hanging.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A served catalog with workspace `eng`, the integration `openai-prod` pointing at the
/// fake and provisioned to `eng`, and a workspace key holding `completions.write`.
pub(crate) struct Gateway {
    pub(crate) up: Upstream,
    pub(crate) w: World,
    /// The workspace's id.
    pub(crate) ws: String,
    /// The workspace API key callers send.
    pub(crate) key: String,
    pub(crate) http: Client,
}

/// One answer of the gateway, read whole.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a 200 and returns the body.
    pub(crate) fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.text);
        self.json()
    }

    /// Asserts a refusal in Portkey's shape: the status, `error.type`, and a message
    /// containing `needle`; returns the body.
    pub(crate) fn refused(&self, status: u16, kind: &str, needle: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert_eq!(body["status"], "failure", "{body}");
        assert_eq!(body["error"]["type"], kind, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        body
    }

    /// The stream's events, parsed.
    pub(crate) fn sse(&self) -> Sse {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.header("content-type"), Some("text/event-stream"));
        Sse::parse(&self.text)
    }
}

/// A server-sent event stream as the caller reads it.
#[derive(Debug)]
pub(crate) struct Sse {
    /// Every `data:` payload but `[DONE]`, parsed.
    pub(crate) chunks: Vec<Value>,
    /// Whether the stream ended with `data: [DONE]` (and nothing after it).
    pub(crate) done: bool,
}

impl Sse {
    pub(crate) fn parse(body: &str) -> Sse {
        let mut chunks = Vec::new();
        let mut done = false;
        for block in body.split("\n\n").filter(|b| !b.trim().is_empty()) {
            assert!(!done, "an event after [DONE]: {body}");
            let data: Vec<&str> = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            assert!(!data.is_empty(), "an event without data: {block:?}");
            let data = data.join("\n");
            if data == "[DONE]" {
                done = true;
            } else {
                chunks.push(
                    serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("event is not JSON ({e}): {data}")),
                );
            }
        }
        Sse { chunks, done }
    }

    /// The reply's text: every chunk's `choices[0].delta.content`, in order.
    pub(crate) fn text(&self) -> String {
        self.chunks
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
            })
            .collect()
    }

    /// The chunks that carry `usage`.
    pub(crate) fn usage(&self) -> Vec<&Value> {
        self.chunks
            .iter()
            .filter(|c| c.get("usage").is_some_and(|u| !u.is_null()))
            .map(|c| &c["usage"])
            .collect()
    }

    pub(crate) fn finish_reasons(&self) -> Vec<&str> {
        self.chunks
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/finish_reason")
                    .and_then(Value::as_str)
            })
            .collect()
    }
}

pub(crate) fn chat_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": PROMPT}]})
}

pub(crate) fn stream_body(model: &str, include_usage: bool) -> Value {
    let mut body = chat_body(model);
    body["stream"] = json!(true);
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// Creates workspace `eng` and connects `openai-prod` to the fake; returns the
/// workspace's id. Works on either transport.
pub(crate) fn seed(w: &World, up: &Upstream) -> String {
    let ws = w.json(&["workspaces", "create", "eng"]);
    connect(w, up, "openai-prod", "openai", "/v1", &[]);
    ws["id"].as_str().unwrap().to_owned()
}

/// Connects integration `slug` of `service` to the fake at `prefix` with PROVIDER_KEY (or
/// the key `--key-env` in `extra` names) and provisions it to `eng`.
pub(crate) fn connect(
    w: &World,
    up: &Upstream,
    slug: &str,
    service: &str,
    prefix: &str,
    extra: &[&str],
) {
    let host = up.base_url(prefix);
    let mut args = vec![
        "integrations",
        "connect",
        slug,
        "--service",
        service,
        "--custom-host",
        &host,
        "--skip-models",
    ];
    if !extra.contains(&"--key-env") {
        args.extend(["--key-env", "PROVIDER_KEY"]);
    }
    args.extend(extra);
    w.ok(&args);
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        slug,
        "--yes",
    ]);
}

/// The model a governed catalog prices at $1,000 per million tokens.
pub(crate) const PRICED_MODEL: &str = "@openai-prod/gpt-4o-mini";

/// A chat body for [`PRICED_MODEL`] that asks for at most 20 tokens.
pub(crate) fn priced_body() -> Value {
    let mut b = chat_body(PRICED_MODEL);
    b["max_tokens"] = serde_json::json!(20);
    b
}

impl Gateway {
    /// A served catalog whose fake reports 10 prompt and 20 completion tokens for every
    /// call, with [`PRICED_MODEL`] at $1,000 per million tokens: a call costs exactly $0.03.
    pub(crate) fn governed() -> Gateway {
        let gw = Gateway::start();
        gw.price_the_model();
        gw
    }

    /// The fake reports 10 prompt and 20 completion tokens; the model costs $1,000 per
    /// million tokens either way.
    fn price_the_model(&self) {
        let gw = self;
        gw.up.set(|k| {
            k.prompt_tokens = Some(10);
            k.completion_tokens = Some(20);
        });
        gw.w.ok(&[
            "models",
            "price",
            PRICED_MODEL,
            "--input-price",
            "1000",
            "--output-price",
            "1000",
        ]);
    }

    /// Sets limits on the provider `openai-prod` of `eng` (`--budget 1`, `--rate-limit ...`).
    pub(crate) fn limit_provider(&self, flags: &[&str]) {
        let mut args = vec!["providers", "update", "openai-prod", "--workspace", "eng"];
        args.extend(flags);
        self.w.ok(&args);
    }

    /// Points the integration `openai-prod` at `url`.
    pub(crate) fn set_custom_host(&self, url: &str) {
        self.w.ok(&[
            "integrations",
            "update",
            "openai-prod",
            "--custom-host",
            url,
        ]);
    }

    /// A served catalog that trusts the fake.
    pub(crate) fn start() -> Gateway {
        Self::start_with(true, &[])
    }

    /// A served catalog that trusts the fake or not, with more server environment.
    pub(crate) fn start_with(trusted: bool, extra_env: &[(&str, &str)]) -> Gateway {
        Self::start_on(Upstream::start_blocking(), trusted, extra_env)
    }

    pub(crate) fn start_on(up: Upstream, trusted: bool, extra_env: &[(&str, &str)]) -> Gateway {
        Self::start_storage(up, trusted, extra_env, None)
    }

    /// A governed catalog (as [`Gateway::governed`]) served by a replica on the
    /// PostgreSQL database at `url`.
    /// A governed gateway on the PostgreSQL database at `url`, with these variables
    /// (`CATALOG_REDIS_URL`, ...).
    pub(crate) fn governed_on_postgres(url: &str, env: &[(&str, &str)]) -> Gateway {
        let gw = Self::start_storage(Upstream::start_blocking(), true, env, Some(url));
        gw.price_the_model();
        gw
    }

    fn start_storage(
        up: Upstream,
        trusted: bool,
        extra_env: &[(&str, &str)],
        postgres: Option<&str>,
    ) -> Gateway {
        let home = tempfile::tempdir().unwrap();
        let host = up.host_port();
        let mut env = extra_env.to_vec();
        if trusted {
            env.push(("CATALOG_TRUSTED_CUSTOM_HOSTS", host.as_str()));
        }
        let server = match postgres {
            Some(url) => Server::start_on_postgres(home.path(), url, &env),
            None => Server::start_with(home.path(), &home.path().join("server/catalog.db"), &env),
        };
        let w = World {
            home,
            mode: Mode::Served,
            server: Some(server),
            seen: Mutex::new(String::new()),
            extra_env: vec![
                ("PROVIDER_KEY".into(), PROVIDER_KEY.into()),
                ("ROTATED_KEY".into(), ROTATED_KEY.into()),
            ],
        };
        let ws = seed(&w, &up);
        let mut gw = Gateway {
            up,
            w,
            ws,
            key: String::new(),
            http: Client::builder().timeout(CLIENT_TIMEOUT).build().unwrap(),
        };
        gw.key = gw.workspace_key("app", &["completions.write"]);
        gw
    }

    pub(crate) fn connect(&self, slug: &str, service: &str, prefix: &str, extra: &[&str]) {
        connect(&self.w, &self.up, slug, service, prefix, extra);
    }

    pub(crate) fn workspace_key(&self, name: &str, scopes: &[&str]) -> String {
        let mut args = vec!["api-keys", "create", name, "--type", "workspace"];
        args.extend(["--workspace", "eng"]);
        for s in scopes {
            args.extend(["--scope", s]);
        }
        let created = self.w.json(&args);
        created["key"].as_str().unwrap().to_owned()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.w.server.as_ref().unwrap().url)
    }

    /// A POST to the gateway without credentials.
    pub(crate) fn anonymous(&self, path: &str) -> RequestBuilder {
        self.http.post(self.url(path))
    }

    /// A POST to the gateway with the workspace key as `Authorization: Bearer`.
    pub(crate) fn post(&self, path: &str) -> RequestBuilder {
        self.anonymous(path).bearer_auth(&self.key)
    }

    pub(crate) fn send(&self, request: RequestBuilder, body: &Value) -> Answer {
        let res = request.json(body).send().expect("the gateway answers");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().expect("the whole answer arrives in time");
        Answer {
            status,
            headers,
            text,
        }
    }

    pub(crate) fn chat(&self, body: &Value) -> Answer {
        self.send(self.post("/chat/completions"), body)
    }

    /// A chat completion with these extra headers.
    pub(crate) fn chat_with(&self, headers: &[(&str, &str)], body: &Value) -> Answer {
        let mut request = self.post("/chat/completions");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        self.send(request, body)
    }

    /// Saves `config` in `eng` as a gateway config; returns its slug.
    pub(crate) fn save_config(&self, name: &str, config: &Value) -> String {
        let file = self.w.home.path().join(format!("{name}.json"));
        std::fs::write(&file, config.to_string()).unwrap();
        let created = self.w.json(&[
            "configs",
            "create",
            "--name",
            name,
            "--file",
            file.to_str().unwrap(),
            "--workspace",
            "eng",
        ]);
        created["slug"].as_str().unwrap().to_owned()
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.up.requests()
    }

    /// Neither the caller's key nor the admin key ever reached the upstream.
    pub(crate) fn assert_clean_upstream(&self) {
        for r in self.requests() {
            for secret in [self.key.as_str(), ADMIN_KEY] {
                assert!(!r.contains(secret), "a caller's key went upstream: {r:?}");
            }
            for (name, _) in &r.headers {
                assert!(
                    !name.starts_with("x-portkey"),
                    "{name} went upstream: {r:?}"
                );
            }
        }
    }

    pub(crate) fn log(&self) -> String {
        self.w.server.as_ref().unwrap().log()
    }

    /// The gateway's log lines of one trace, once `ready` holds for them (streams write
    /// theirs when they end).
    pub(crate) fn trace_lines(
        &self,
        trace: &str,
        ready: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let needle = format!(" gateway trace={trace} ");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines: Vec<String> = self
                .log()
                .lines()
                .filter(|l| l.contains(&needle))
                .map(str::to_owned)
                .collect();
            if ready(&lines) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "no fitting log line for trace {trace}: {lines:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Asserts an OpenAI chat request as the fake received it: the credential, the bare model.
pub(crate) fn assert_openai_call(r: &RecordedRequest, key: &str, model: &str) {
    assert_eq!(r.service, Service::OpenAi, "{r:?}");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.bearer(), Some(key), "{r:?}");
    assert_eq!(r.model.as_deref(), Some(model), "{r:?}");
    let json = r.json.as_ref().unwrap();
    assert_eq!(json["messages"][0]["content"], PROMPT);
}

// 1. Resolution ---------------------------------------------------------------------------

#[test]
fn every_way_of_naming_the_provider_reaches_it_with_its_credential() {
    let gw = Gateway::start();
    let bare = chat_body("gpt-4o-mini");
    let cases: Vec<(&str, Answer)> = vec![
        (
            "model prefix",
            gw.chat(&chat_body("@openai-prod/gpt-4o-mini")),
        ),
        (
            "x-portkey-provider",
            gw.chat_with(&[("x-portkey-provider", "@openai-prod")], &bare),
        ),
        (
            "x-portkey-virtual-key",
            gw.chat_with(&[("x-portkey-virtual-key", "openai-prod")], &bare),
        ),
        (
            "?model=",
            gw.send(
                gw.post("/chat/completions?model=@openai-prod/gpt-4o-mini"),
                &json!({"messages": [{"role": "user", "content": PROMPT}]}),
            ),
        ),
        (
            "x-portkey-api-key",
            gw.send(
                gw.anonymous("/chat/completions")
                    .header("x-portkey-api-key", &gw.key),
                &chat_body("@openai-prod/gpt-4o-mini"),
            ),
        ),
    ];
    let requests = gw.requests();
    assert_eq!(requests.len(), cases.len());
    for ((how, answer), r) in cases.iter().zip(&requests) {
        let body = answer.ok();
        assert_eq!(body["object"], "chat.completion", "{how}: {body}");
        assert_eq!(body["choices"][0]["message"]["content"], REPLY, "{how}");
        assert_eq!(answer.header("x-portkey-provider"), Some("openai"), "{how}");
        assert_eq!(
            answer.header("x-catalog-integration"),
            Some("openai-prod"),
            "{how}"
        );
        assert!(answer.header("x-portkey-trace-id").is_some(), "{how}");
        // No config, no route headers.
        assert_eq!(answer.header("x-portkey-last-used-option-index"), None);
        assert_openai_call(r, PROVIDER_KEY, "gpt-4o-mini");
    }
    gw.assert_clean_upstream();
}

#[test]
fn names_that_disagree_or_name_nothing_are_400_and_nothing_goes_upstream() {
    let gw = Gateway::start();
    gw.chat_with(
        &[("x-portkey-provider", "@openai-prod")],
        &chat_body("@other/gpt-4o"),
    )
    .refused(400, "invalid_request_error", "two AI providers");
    gw.chat_with(
        &[("x-portkey-virtual-key", "openai-prod")],
        &chat_body("@other/gpt-4o"),
    )
    .refused(400, "invalid_request_error", "two AI providers");
    let unknown = gw
        .chat(&chat_body("@nope/gpt-4o"))
        .refused(400, "invalid_request_error", "");
    assert!(
        unknown["message"]
            .as_str()
            .unwrap()
            .starts_with("Following keys are not valid: nope"),
        "{unknown}"
    );
    gw.chat_with(&[("x-portkey-virtual-key", "nope")], &chat_body("gpt-4o"))
        .refused(
            400,
            "invalid_request_error",
            "Following keys are not valid: nope",
        );
    gw.chat(&chat_body("gpt-4o"))
        .refused(400, "invalid_request_error", "@PROVIDER/MODEL");
    assert_eq!(gw.up.request_count(), 0);
}

#[test]
fn only_a_workspace_key_with_completions_write_may_call() {
    let gw = Gateway::start();
    let body = chat_body("@openai-prod/gpt-4o-mini");
    let with_key = |key: &str| gw.send(gw.anonymous("/chat/completions").bearer_auth(key), &body);

    let wrong = with_key("pk-not-a-key-of-this-catalog-0000");
    assert_eq!(
        wrong.refused(401, "authentication_error", "")["error"]["code"],
        "03"
    );
    let missing = gw.send(gw.anonymous("/chat/completions"), &body);
    assert_eq!(
        missing.refused(401, "authentication_error", "")["error"]["code"],
        "03"
    );

    with_key(ADMIN_KEY).refused(403, "permission_error", "use a workspace API key");
    let reader = gw.workspace_key("reader", &["models.list"]);
    with_key(&reader).refused(403, "permission_error", "completions.write");
    assert_eq!(gw.up.request_count(), 0);
    with_key(&gw.key).ok();
}

// 2. Governance ---------------------------------------------------------------------------

#[test]
fn a_model_off_the_allow_list_is_412_and_never_sent() {
    let gw = Gateway::start();
    gw.w.ok(&["models", "allow", "@openai-prod", "--only", "gpt-4o"]);
    let body = gw.chat(&chat_body("@openai-prod/gpt-4o-mini")).refused(
        412,
        "model_not_allowed_error",
        "gpt-4o-mini",
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("catalog models"),
        "names the fix: {body}"
    );
    assert_eq!(gw.up.request_count(), 0);
    gw.chat(&chat_body("@openai-prod/gpt-4o")).ok();
    assert_openai_call(&gw.up.last_request(), PROVIDER_KEY, "gpt-4o");
}

#[test]
fn a_denied_model_stays_denied_in_any_case_and_odd_names_are_400() {
    let gw = Gateway::start();
    gw.w.ok(&["models", "deny", "@openai-prod", "gpt-4o-mini"]);
    for model in ["gpt-4o-mini", "GPT-4o-mini"] {
        gw.chat(&chat_body(&format!("@openai-prod/{model}")))
            .refused(412, "model_not_allowed_error", model);
    }
    for model in [" gpt-4o-mini", "gpt-4o-mini ", &"a".repeat(300)] {
        gw.chat(&chat_body(&format!("@openai-prod/{model}")))
            .refused(400, "invalid_request_error", "`model`");
    }
    assert_eq!(gw.up.request_count(), 0);
    let answer = gw.send(gw.post("/responses"), &chat_body("@openai-prod/gpt-4o"));
    answer.refused(501, "not_implemented_error", "/v1/responses");
}

#[test]
fn revoked_access_is_412_and_an_expired_provider_401_code_01() {
    let gw = Gateway::start();
    gw.connect("openai-b", "openai", "/v1", &[]);
    gw.chat(&chat_body("@openai-b/gpt-4o-mini")).ok();
    gw.up.clear_requests();

    gw.w.ok(&[
        "workspaces",
        "revoke",
        "eng",
        "--integration",
        "openai-b",
        "--yes",
    ]);
    let body = gw.chat(&chat_body("@openai-b/gpt-4o-mini")).refused(
        412,
        "provider_disabled_error",
        "@openai-b",
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));

    // The Admin API takes an expiry in the past (the CLI's `--expires` does not).
    let api = crate::common::Api::new(&gw.w);
    let (status, res) = api.put(
        &format!("/providers/openai-prod?workspace_id={}", gw.ws),
        json!({"expires_at": "2024-01-01T00:00:00Z"}),
    );
    assert_eq!(status, 200, "{res}");
    let body = gw.chat(&chat_body("@openai-prod/gpt-4o-mini")).refused(
        401,
        "virtual_key_expired_error",
        "expired",
    );
    assert_eq!(body["error"]["code"], "01", "{body}");
    assert_eq!(gw.up.request_count(), 0);
}

// 4. Legacy virtual keys --------------------------------------------------------------------

#[test]
fn legacy_and_migrated_virtual_keys_resolve_by_their_slug() {
    let gw = Gateway::start();
    let api = crate::common::Api::new(&gw.w);
    const LEGACY_KEY: &str = "sk-legacy-GATEWAY-7777777777777777";
    for (slug, extra) in [
        ("legacy-oai", json!({})),
        ("legacy-old", json!({"expires_at": "2024-01-01T00:00:00Z"})),
    ] {
        let mut body = json!({"name": slug, "slug": slug, "provider": "openai",
            "key": LEGACY_KEY, "workspace_id": gw.ws});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, res) = api.post("/virtual-keys", body);
        assert_eq!(status, 200, "{res}");
    }
    // A legacy key has no custom host: it would call OpenAI itself, so the check says
    // how it resolves, without calling anything.
    let check =
        gw.w.json(&["check", "@legacy-oai/gpt-4o-mini", "--workspace", "eng"]);
    assert_eq!(check["admitted"], true, "{check}");
    assert_eq!(check["steps"][0]["step"], "provider");
    assert!(
        check["steps"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("virtual key `legacy-oai`"),
        "{check}"
    );
    // A call refused after resolution shows it found the key (not 400 unknown-slug).
    let body = gw
        .chat_with(
            &[("x-portkey-virtual-key", "legacy-old")],
            &chat_body("gpt-4o-mini"),
        )
        .refused(401, "virtual_key_expired_error", "legacy-old");
    assert_eq!(body["error"]["code"], "01");
    assert_eq!(gw.up.request_count(), 0);

    // Migrated, the key is an AI provider of the same slug; pointed at the fake, it calls
    // with the legacy key's credential.
    gw.w.ok(&["migrate-vkeys", "--yes"]);
    let (status, provider) = api.get(&format!("/providers/legacy-oai?workspace_id={}", gw.ws));
    assert_eq!(status, 200, "{provider}");
    let integration = provider["integration_id"].as_str().unwrap().to_owned();
    assert!(!integration.is_empty(), "{provider}");
    let host = gw.up.base_url("/v1");
    gw.w.ok(&[
        "integrations",
        "update",
        &integration,
        "--custom-host",
        &host,
    ]);
    let answer = gw.chat_with(
        &[("x-portkey-virtual-key", "legacy-oai")],
        &chat_body("gpt-4o-mini"),
    );
    answer.ok();
    assert_eq!(
        answer.header("x-catalog-integration"),
        Some(integration.as_str())
    );
    assert_openai_call(&gw.up.last_request(), LEGACY_KEY, "gpt-4o-mini");
    gw.chat(&chat_body("@legacy-oai/gpt-4o-mini")).ok();
    gw.assert_clean_upstream();
}

// 5-8. Configs: fallback, loadbalance, retries, timeouts ---------------------------------

const CLAUDE: &str = "claude-3-5-haiku-20241022";

/// Queues a 500 for the next OpenAI chat request only.
fn fail_next_openai_call(up: &Upstream, status: u16) {
    let mut e = ErrorReply::new(status);
    e.path_prefix = Some("/v1/chat/completions".into());
    up.fail_next_with(e);
}

fn assert_anthropic_call(r: &RecordedRequest, model: &str) {
    assert_eq!(r.service, Service::Anthropic, "{r:?}");
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some(PROVIDER_KEY));
    assert!(r.header("anthropic-version").is_some(), "{r:?}");
    assert_eq!(r.header("authorization"), None);
    let json = r.json.as_ref().unwrap();
    assert_eq!(json["model"], model);
    assert_eq!(
        json["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": PROMPT}]}])
    );
    assert!(json["max_tokens"].as_u64().is_some_and(|n| n > 0), "{json}");
    assert!(json.get("stream_options").is_none(), "{json}");
}

#[test]
fn a_saved_fallback_config_moves_from_a_failing_target_to_anthropic() {
    let gw = Gateway::start();
    gw.connect("claude", "anthropic", "/v1", &[]);
    let slug = gw.save_config(
        "fb",
        &json!({
            "strategy": {"mode": "fallback"},
            "targets": [
                {"provider": "@openai-prod", "override_params": {"model": "gpt-4o-mini"}},
                {"provider": "@claude", "override_params": {"model": CLAUDE}}
            ]
        }),
    );
    let body = json!({"messages": [{"role": "user", "content": PROMPT}]});
    let through_config = || gw.chat_with(&[("x-portkey-config", &slug)], &body);

    // The first target answers 500: the second answers.
    fail_next_openai_call(&gw.up, 500);
    let answer = through_config();
    let reply = answer.ok();
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["choices"][0]["message"]["content"], REPLY);
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    assert!(reply["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        answer.header("x-portkey-last-used-option-index"),
        Some("config.targets[1]")
    );
    assert_eq!(answer.header("x-portkey-provider"), Some("anthropic"));
    assert_eq!(answer.header("x-portkey-retry-attempt-count"), Some("0"));
    let requests = gw.requests();
    assert_eq!(requests.len(), 2);
    assert_openai_call(&requests[0], PROVIDER_KEY, "gpt-4o-mini");
    assert_anthropic_call(&requests[1], CLAUDE);

    // Healthy, the first target answers.
    let answer = through_config();
    answer.ok();
    assert_eq!(
        answer.header("x-portkey-last-used-option-index"),
        Some("config.targets[0]")
    );
    assert_eq!(answer.header("x-portkey-provider"), Some("openai"));

    // A governance refusal of the first target is its answer: the route moves on, and
    // the refused call is never sent.
    gw.w.ok(&["models", "allow", "@openai-prod", "--only", "gpt-4o"]);
    gw.up.clear_requests();
    let answer = through_config();
    answer.ok();
    assert_eq!(
        answer.header("x-portkey-last-used-option-index"),
        Some("config.targets[1]")
    );
    let requests = gw.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_anthropic_call(&requests[0], CLAUDE);
    gw.assert_clean_upstream();
}

#[test]
fn a_fallback_stops_at_a_status_it_is_not_told_to_move_on_for() {
    let gw = Gateway::start();
    gw.connect("claude", "anthropic", "/v1", &[]);
    let config = json!({
        "strategy": {"mode": "fallback", "on_status_codes": [429]},
        "targets": [{"provider": "@openai-prod"}, {"provider": "@claude", "override_params": {"model": CLAUDE}}]
    })
    .to_string();
    let body = chat_body("gpt-4o-mini");
    fail_next_openai_call(&gw.up, 500);
    let answer = gw.chat_with(&[("x-portkey-config", &config)], &body);
    assert_eq!(answer.status, 500, "{}", answer.text);
    assert_eq!(
        answer.header("x-portkey-last-used-option-index"),
        Some("config.targets[0]")
    );
    fail_next_openai_call(&gw.up, 429);
    let answer = gw.chat_with(&[("x-portkey-config", &config)], &body);
    answer.ok();
    assert_eq!(answer.header("x-portkey-provider"), Some("anthropic"));
    assert_eq!(gw.up.request_count(), 3);
}

#[test]
fn loadbalance_splits_by_weight() {
    let gw = Gateway::start();
    gw.connect("openai-alt", "openai", "/v1", &["--key-env", "ROTATED_KEY"]);
    let config = json!({
        "strategy": {"mode": "loadbalance"},
        "targets": [{"provider": "@openai-prod", "weight": 1}, {"provider": "@openai-alt", "weight": 3}]
    })
    .to_string();
    let body = chat_body("gpt-4o-mini");
    const N: usize = 200;
    let mut heavy = 0;
    for _ in 0..N {
        let answer = gw.chat_with(&[("x-portkey-config", &config)], &body);
        answer.ok();
        let used = gw.up.last_request();
        // The header names the target whose credential went upstream.
        match answer.header("x-portkey-last-used-option-index") {
            Some("config.targets[0]") => assert_eq!(used.bearer(), Some(PROVIDER_KEY)),
            Some("config.targets[1]") => {
                assert_eq!(used.bearer(), Some(ROTATED_KEY));
                heavy += 1;
            }
            other => panic!("unexpected option index {other:?}"),
        }
    }
    assert_eq!(gw.up.request_count(), N);
    // Binomial(200, 0.75): mean 150, sd 6.1; ±30 is almost five sd.
    assert!(
        (120..=180).contains(&heavy),
        "weight 3 of 4 got {heavy} of {N}"
    );
}

#[test]
fn conditional_routing_picks_the_target_by_metadata_and_params() {
    let gw = Gateway::start();
    gw.connect("openai-alt", "openai", "/v1", &["--key-env", "ROTATED_KEY"]);
    let config = json!({
        "strategy": {
            "mode": "conditional",
            "conditions": [
                {"query": {"metadata.plan": {"$eq": "paid"}}, "then": "premium"},
                {"query": {"$and": [{"params.temperature": {"$gt": 0.7}}, {"metadata.region": {"$regex": "^eu-"}}]}, "then": "premium"}
            ],
            "default": "standard"
        },
        "targets": [
            {"name": "standard", "provider": "@openai-prod"},
            {"name": "premium", "provider": "@openai-alt"}
        ]
    });
    let slug = gw.save_config("Plans", &config);
    let body = chat_body("gpt-4o-mini");
    let route = |metadata: &str, body: &Value| {
        let answer = gw.chat_with(
            &[
                ("x-portkey-config", slug.as_str()),
                ("x-portkey-metadata", metadata),
            ],
            body,
        );
        answer.ok();
        (
            answer
                .header("x-portkey-last-used-option-index")
                .map(str::to_owned),
            gw.up.last_request().bearer().map(str::to_owned),
        )
    };
    let premium = (
        Some("config.targets[1]".to_owned()),
        Some(ROTATED_KEY.to_owned()),
    );
    let standard = (
        Some("config.targets[0]".to_owned()),
        Some(PROVIDER_KEY.to_owned()),
    );
    assert_eq!(route(r#"{"plan": "paid"}"#, &body), premium);
    assert_eq!(route(r#"{"plan": "free"}"#, &body), standard);
    let mut warm = body.clone();
    warm["temperature"] = json!(0.9);
    assert_eq!(route(r#"{"region": "eu-west"}"#, &warm), premium);
    assert_eq!(route(r#"{"region": "us-east"}"#, &warm), standard);
    // No default and no match: refused, naming what to do; nothing goes upstream.
    let sent = gw.up.request_count();
    let strict = json!({
        "strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.plan": "paid"}, "then": "premium"}]},
        "targets": [{"name": "premium", "provider": "@openai-alt"}]
    })
    .to_string();
    gw.chat_with(&[("x-portkey-config", strict.as_str())], &body)
        .refused(400, "invalid_request_error", "no condition");
    assert_eq!(gw.up.request_count(), sent);
    // A query the gateway cannot read is refused before anything is called.
    let bad = json!({
        "strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.plan": {"$like": "p%"}}, "then": "premium"}], "default": "premium"},
        "targets": [{"name": "premium", "provider": "@openai-alt"}]
    })
    .to_string();
    gw.chat_with(&[("x-portkey-config", bad.as_str())], &body)
        .refused(400, "invalid_request_error", "`$like` is not a comparison");
    let twins = json!({
        "strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.plan": "paid"}, "then": "premium"}], "default": "premium"},
        "targets": [{"name": "premium", "provider": "@openai-alt"}, {"name": "premium", "provider": "@openai-prod"}]
    })
    .to_string();
    gw.chat_with(&[("x-portkey-config", twins.as_str())], &body)
        .refused(
            400,
            "invalid_request_error",
            "two targets are named `premium`",
        );
    assert_eq!(gw.up.request_count(), sent);
}

#[test]
fn retries_wait_as_retry_after_says() {
    let gw = Gateway::start();
    let body = chat_body("gpt-4o-mini");
    let config = |honour: bool| {
        json!({"provider": "@openai-prod",
            "retry": {"attempts": 2, "use_retry_after_headers": honour}})
        .to_string()
    };
    let gap = |requests: &[RecordedRequest]| requests[1].elapsed - requests[0].elapsed;

    gw.up.fail_next(429, Some(1));
    let answer = gw.chat_with(&[("x-portkey-config", &config(true))], &body);
    answer.ok();
    assert_eq!(answer.header("x-portkey-retry-attempt-count"), Some("1"));
    let requests = gw.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        gap(&requests) >= Duration::from_millis(950),
        "retried after {:?}, not after the 1 s retry-after",
        gap(&requests)
    );

    // Without `use_retry_after_headers` the gateway backs off on its own, briefly.
    gw.up.clear_requests();
    gw.up.fail_next(429, Some(1));
    let answer = gw.chat_with(&[("x-portkey-config", &config(false))], &body);
    answer.ok();
    assert_eq!(answer.header("x-portkey-retry-attempt-count"), Some("1"));
    assert!(gap(&gw.requests()) < Duration::from_millis(900));

    // Out of attempts, the last answer stands.
    gw.up.clear_requests();
    gw.up.fail_next_n(3, 503, None);
    let answer = gw.chat_with(&[("x-portkey-config", &config(false))], &body);
    assert_eq!(answer.status, 503, "{}", answer.text);
    assert_eq!(answer.header("x-portkey-retry-attempt-count"), Some("2"));
    assert_eq!(gw.up.request_count(), 3);
}

#[test]
fn a_slow_upstream_times_out_with_408() {
    let gw = Gateway::start();
    let slow = "gpt-4o-mini+slow-2000";
    let timed = |headers: &[(&str, &str)], body: &Value| {
        let started = Instant::now();
        let answer = gw.chat_with(headers, body);
        answer.refused(408, "timeout_error", "300ms");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
    };
    let config = json!({"provider": "@openai-prod", "request_timeout": 300}).to_string();
    timed(&[("x-portkey-config", &config)], &chat_body(slow));
    timed(
        &[("x-portkey-request-timeout", "300")],
        &chat_body(&format!("@openai-prod/{slow}")),
    );
    // A fast answer within the same timeout passes.
    gw.chat_with(
        &[("x-portkey-request-timeout", "300")],
        &chat_body("@openai-prod/gpt-4o-mini"),
    )
    .ok();
    // A timeout is a target's answer: a fallback moves on.
    gw.connect("claude", "anthropic", "/v1", &[]);
    let fallback = json!({
        "strategy": {"mode": "fallback"}, "request_timeout": 300,
        "targets": [{"provider": "@openai-prod", "override_params": {"model": slow}},
                    {"provider": "@claude", "override_params": {"model": CLAUDE}}]
    })
    .to_string();
    let answer = gw.chat_with(&[("x-portkey-config", &fallback)], &chat_body("x"));
    answer.ok();
    assert_eq!(answer.header("x-portkey-provider"), Some("anthropic"));
}

// 9. Streaming ----------------------------------------------------------------------------

/// Streams `model` twice, without and with `stream_options.include_usage`: the text
/// arrives whole and in order, ends with `[DONE]`, and usage only when asked.
fn assert_streams(gw: &Gateway, model: &str) -> (Sse, Sse) {
    let plain = gw.chat(&stream_body(model, false)).sse();
    assert!(plain.done, "{plain:?}");
    assert_eq!(plain.text(), REPLY);
    assert!(
        plain.usage().is_empty(),
        "usage nobody asked for: {plain:?}"
    );
    assert_eq!(plain.finish_reasons(), ["stop"], "{plain:?}");
    // Azure's first chunk carries only `prompt_filter_results`, as Azure sends it.
    for c in plain.chunks.iter().filter(|c| c["choices"] != json!([])) {
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
    }
    let counted = gw.chat(&stream_body(model, true)).sse();
    assert!(counted.done);
    assert_eq!(counted.text(), REPLY);
    let usage = counted.usage();
    assert_eq!(usage.len(), 1, "{counted:?}");
    assert_eq!(usage[0]["completion_tokens"], 9, "{counted:?}");
    assert!(usage[0]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        counted.chunks.last().unwrap()["usage"],
        *usage[0],
        "the usage chunk comes last"
    );
    (plain, counted)
}

#[test]
fn openai_streams_pass_through_with_usage_injected_and_dropped() {
    let gw = Gateway::start();
    assert_streams(&gw, "@openai-prod/gpt-4o-mini");
    for r in gw.requests() {
        assert_openai_call(&r, PROVIDER_KEY, "gpt-4o-mini");
        let json = r.json.unwrap();
        assert_eq!(json["stream"], true);
        assert_eq!(json["stream_options"]["include_usage"], true, "{json}");
    }
    gw.assert_clean_upstream();
}

#[test]
fn anthropic_streams_become_chat_completion_chunks() {
    let gw = Gateway::start();
    gw.connect("claude", "anthropic", "/v1", &[]);
    let (plain, _) = assert_streams(&gw, &format!("@claude/{CLAUDE}"));
    assert_eq!(plain.chunks[0]["choices"][0]["delta"]["role"], "assistant");
    for r in gw.requests() {
        assert_anthropic_call(&r, CLAUDE);
        assert_eq!(r.json.unwrap()["stream"], true);
    }
    gw.assert_clean_upstream();
}

fn connect_azure(gw: &Gateway) {
    gw.connect(
        "azure-prod",
        "azure-openai",
        "/openai",
        &[
            "--azure-resource-name",
            "acme",
            "--azure-auth-mode",
            "default",
            "--azure-deployment",
            "name=chat4o,model=gpt-4o,api-version=2024-10-21",
            "--azure-deployment",
            "name=emb,model=text-embedding-3-small,api-version=2024-06-01",
        ],
    );
}

/// An Azure call: the deployment's URL, its API version, `api-key`, no model in the body.
fn assert_azure_call(r: &RecordedRequest, deployment: &str, endpoint: &str, version: &str) {
    assert_eq!(r.service, Service::Azure, "{r:?}");
    assert_eq!(
        r.path,
        format!("/openai/deployments/{deployment}/{endpoint}")
    );
    assert_eq!(r.query_param("api-version").as_deref(), Some(version));
    assert_eq!(r.header("api-key"), Some(PROVIDER_KEY));
    assert_eq!(r.header("authorization"), None);
    assert!(r.json.as_ref().unwrap().get("model").is_none(), "{r:?}");
}

#[test]
fn azure_streams_from_its_deployment() {
    let gw = Gateway::start();
    connect_azure(&gw);
    let answer = gw.chat(&chat_body("@azure-prod/gpt-4o"));
    assert_eq!(answer.ok()["choices"][0]["message"]["content"], REPLY);
    assert_eq!(answer.header("x-portkey-provider"), Some("azure-openai"));
    assert_streams(&gw, "@azure-prod/gpt-4o");
    for r in gw.requests() {
        assert_azure_call(&r, "chat4o", "chat/completions", "2024-10-21");
        let json = r.json.unwrap();
        assert_eq!(json["messages"][0]["content"], PROMPT);
        if json["stream"] == true {
            assert_eq!(json["stream_options"]["include_usage"], true, "{json}");
        }
    }
    gw.assert_clean_upstream();
}

#[test]
fn gemini_answers_and_streams_translated() {
    let gw = Gateway::start();
    gw.connect("gemini", "google", "/v1beta", &[]);
    let model = "gemini-2.0-flash";
    let answer = gw.chat(&chat_body(&format!("@gemini/{model}")));
    let reply = answer.ok();
    assert_eq!(answer.header("x-portkey-provider"), Some("google"));
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["choices"][0]["message"]["content"], REPLY);
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    assert_eq!(reply["usage"]["completion_tokens"], 9);
    assert_streams(&gw, &format!("@gemini/{model}"));
    let requests = gw.requests();
    assert_eq!(requests.len(), 3);
    for (i, r) in requests.iter().enumerate() {
        assert_eq!(r.service, Service::Gemini, "{r:?}");
        let action = if i == 0 {
            "generateContent"
        } else {
            "streamGenerateContent"
        };
        assert_eq!(r.path, format!("/v1beta/models/{model}:{action}"));
        if i > 0 {
            assert_eq!(r.query_param("alt").as_deref(), Some("sse"));
        }
        assert_eq!(r.header("x-goog-api-key"), Some(PROVIDER_KEY));
        assert_eq!(r.header("authorization"), None);
        let json = r.json.as_ref().unwrap();
        assert_eq!(
            json["contents"],
            json!([{"role": "user", "parts": [{"text": PROMPT}]}])
        );
    }
    gw.assert_clean_upstream();
}

// 10. Streams that end early ---------------------------------------------------------------

#[test]
fn a_caller_that_goes_away_mid_stream_is_logged_and_the_server_serves_on() {
    let gw = Gateway::start();
    let started = Instant::now();
    // 30 chunks 200 ms apart: six seconds if nobody hangs up.
    let mut res = gw
        .post("/chat/completions")
        .header("x-portkey-trace-id", "gone-1")
        .json(&stream_body(
            "@openai-prod/gpt-4o-mini+chunks-30+delay-200",
            false,
        ))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(2).any(|w| w == b"\n\n") {
        let n = res.read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended before its first event");
        got.extend_from_slice(&buf[..n]);
    }
    drop(res);
    let lines = gw.trace_lines("gone-1", |l| !l.is_empty());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].ends_with("client_disconnected"), "{lines:?}");
    assert!(lines[0].contains(" status=200 "), "{lines:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "noticed only after {:?}",
        started.elapsed()
    );
    gw.chat(&chat_body("@openai-prod/gpt-4o-mini")).ok();
}

#[test]
fn a_stream_the_upstream_cuts_ends_with_an_error_event() {
    let gw = Gateway::start();
    gw.connect("claude", "anthropic", "/v1", &[]);
    for (model, trace) in [
        ("@openai-prod/gpt-4o-mini+cut-2", "cut-openai"),
        (&*format!("@claude/{CLAUDE}+cut-2"), "cut-claude"),
    ] {
        let answer = gw.chat_with(&[("x-portkey-trace-id", trace)], &stream_body(model, false));
        let sse = answer.sse();
        assert!(!sse.done, "a cut stream must not look complete: {sse:?}");
        assert_eq!(sse.text(), "The quick ", "{sse:?}");
        let last = sse.chunks.last().unwrap();
        assert_eq!(last["error"]["type"], "upstream_error", "{last}");
        assert!(
            last["error"]["message"]
                .as_str()
                .unwrap()
                .contains("broke off"),
            "{last}"
        );
        let lines = gw.trace_lines(trace, |l| !l.is_empty());
        assert!(lines[0].ends_with("upstream_cut"), "{lines:?}");
    }
}

// 11. Embeddings ---------------------------------------------------------------------------

#[test]
fn embeddings_reach_openai_and_azure() {
    let gw = Gateway::start();
    connect_azure(&gw);
    for (model, service) in [
        ("@openai-prod/text-embedding-3-small", "openai"),
        ("@azure-prod/text-embedding-3-small", "azure-openai"),
    ] {
        let answer = gw.send(
            gw.post("/embeddings"),
            &json!({"model": model, "input": PROMPT}),
        );
        let body = answer.ok();
        assert_eq!(answer.header("x-portkey-provider"), Some(service));
        assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 8);
        assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    }
    let requests = gw.requests();
    assert_eq!(requests[0].path, "/v1/embeddings");
    assert_eq!(requests[0].bearer(), Some(PROVIDER_KEY));
    assert_eq!(requests[0].model.as_deref(), Some("text-embedding-3-small"));
    assert_eq!(requests[0].json.as_ref().unwrap()["input"], PROMPT);
    assert_azure_call(&requests[1], "emb", "embeddings", "2024-06-01");
    assert_eq!(requests[1].json.as_ref().unwrap()["input"], PROMPT);
    gw.assert_clean_upstream();
}

#[test]
fn embeddings_reach_gemini_translated() {
    let gw = Gateway::start();
    gw.connect("gemini", "google", "/v1beta", &[]);
    let answer = gw.send(
        gw.post("/embeddings"),
        &json!({"model": "@gemini/gemini-embedding-001", "input": [PROMPT, "second text"], "dimensions": 4}),
    );
    let body = answer.ok();
    assert_eq!(answer.header("x-portkey-provider"), Some("google"));
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 4);
    let expected = (PROMPT.len() as u64).div_ceil(4) + 3;
    assert_eq!(body["usage"]["prompt_tokens"], expected);
    let sent = gw.up.last_request();
    assert_eq!(
        sent.path,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );
    let requests = &sent.json.as_ref().unwrap()["requests"];
    assert_eq!(requests[0]["content"]["parts"][0]["text"], PROMPT);
    assert_eq!(requests[1]["outputDimensionality"], 4);
    // What Gemini cannot do is refused before anything is sent.
    let before = gw.up.request_count();
    for (input, needle) in [
        (
            json!({"model": "@gemini/gemini-embedding-001", "input": [1, 2, 3]}),
            "text only",
        ),
        (
            json!({"model": "@gemini/gemini-embedding-001", "input": PROMPT, "encoding_format": "base64"}),
            "floats only",
        ),
    ] {
        gw.send(gw.post("/embeddings"), &input)
            .refused(400, "invalid_request_error", needle);
    }
    assert_eq!(gw.up.request_count(), before);
}

// 12. Logs ---------------------------------------------------------------------------------

#[test]
fn each_call_logs_one_line_and_no_secret() {
    let gw = Gateway::start();
    let calls: Vec<(&str, &str, Value, &str)> = vec![
        (
            "log-chat",
            "/chat/completions",
            chat_body("@openai-prod/gpt-4o-mini"),
            "status=200",
        ),
        (
            "log-stream",
            "/chat/completions",
            stream_body("@openai-prod/gpt-4o-mini", false),
            "status=200",
        ),
        (
            "log-emb",
            "/embeddings",
            json!({"model": "@openai-prod/text-embedding-3-small", "input": PROMPT}),
            "status=200",
        ),
        (
            "log-unknown",
            "/chat/completions",
            chat_body("@nope/gpt-4o-mini"),
            "status=400",
        ),
    ];
    for (trace, path, body, _) in &calls {
        gw.send(gw.post(path).header("x-portkey-trace-id", *trace), body);
    }
    for (trace, _, body, status) in &calls {
        let lines = gw.trace_lines(trace, |l| !l.is_empty());
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert!(line.contains(&format!(" workspace={} ", gw.ws)), "{line}");
        assert!(line.contains(&format!(" {status} ")), "{line}");
        let model = body["model"].as_str().unwrap();
        let (provider, model) = model[1..].split_once('/').unwrap();
        assert!(
            line.contains(&format!(" provider={provider} model={model} ")),
            "{line}"
        );
        if *status == "status=200" {
            let tokens = line
                .split(" tokens=")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            let (prompt, completion) = tokens.split_once('+').unwrap();
            assert!(prompt.parse::<u64>().unwrap() > 0, "{line}");
            completion.parse::<u64>().unwrap();
        } else {
            assert!(line.contains(" tokens=- "), "{line}");
        }
    }
    let log = gw.log();
    for secret in [PROVIDER_KEY, gw.key.as_str(), PROMPT] {
        assert!(
            !log.contains(secret),
            "the server log holds {secret:?}:\n{log}"
        );
    }
    assert!(!gw.w.everything_seen().contains(PROVIDER_KEY));
}

// 13. Private hosts ------------------------------------------------------------------------

#[test]
fn an_untrusted_private_custom_host_is_refused() {
    let gw = Gateway::start_with(false, &[]);
    let body = gw.chat(&chat_body("@openai-prod/gpt-4o-mini")).refused(
        403,
        "custom_host_not_allowed_error",
        "--trusted-custom-host",
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&gw.up.host_port()), "{message}");
    gw.w.fails(
        &["check", "@openai-prod/gpt-4o-mini", "--workspace", "eng"],
        1,
        "`upstream`",
    );
    assert_eq!(gw.up.request_count(), 0);
}

/// A name of this machine (its host name, as `/etc/hosts` usually has it) that resolves
/// to private addresses only, with them.
fn private_name() -> Option<(String, Vec<std::net::IpAddr>)> {
    use std::net::ToSocketAddrs;
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_owned();
    let ips: Vec<_> = (name.as_str(), 80)
        .to_socket_addrs()
        .ok()?
        .map(|a| a.ip())
        .collect();
    let private = !ips.is_empty()
        && ips
            .iter()
            .all(|ip| catalog::gateway::hosts::is_private(*ip));
    private.then_some((name, ips))
}

#[test]
fn a_custom_host_name_is_checked_at_the_address_the_gateway_connects_to() {
    let Some((name, ips)) = private_name() else {
        eprintln!("this machine's host name does not resolve to a private address only");
        return;
    };
    // The fake's own address is trusted; the machine's name for it is not.
    let gw = Gateway::start();
    let port = gw.up.addr().port();
    gw.limit_provider(&["--rate-limit", "1/min"]);
    gw.set_custom_host(&format!("http://{name}:{port}/v1"));
    for _ in 0..2 {
        // Not private by its looks: refused as the connection resolves the name.
        let answer = gw.chat(&chat_body("@openai-prod/gpt-4o-mini"));
        let body = answer.refused(
            403,
            "custom_host_not_allowed_error",
            "resolves to a private address",
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("--trusted-custom-host {name}:{port}")),
            "{message}"
        );
    }
    assert_eq!(gw.up.request_count(), 0);
    // Nothing left the gateway for the refusals: the rate limit of one request a minute
    // still has room for one call, and only one.
    gw.set_custom_host(&gw.up.base_url("/v1"));
    gw.chat(&chat_body("@openai-prod/gpt-4o-mini")).ok();
    gw.chat(&chat_body("@openai-prod/gpt-4o-mini")).refused(
        429,
        "virtual_key_rate_limit_error",
        "rate limit",
    );
    // Trusted by name: called (the fake listens on 127.0.0.1 only).
    let up = Upstream::start_blocking();
    let custom = format!("{name}:{}", up.addr().port());
    let gw = Gateway::start_on(up, false, &[("CATALOG_TRUSTED_CUSTOM_HOSTS", &custom)]);
    // A name that does not resolve says so.
    gw.set_custom_host("http://no-such-host.invalid/v1");
    gw.chat(&chat_body("@openai-prod/gpt-4o-mini")).refused(
        502,
        "upstream_error",
        "cannot resolve the `custom_host`",
    );
    gw.set_custom_host(&format!("http://{custom}/v1"));
    let answer = gw.chat(&chat_body("@openai-prod/gpt-4o-mini"));
    if ips.contains(&std::net::IpAddr::from([127, 0, 0, 1])) {
        answer.ok();
        assert_eq!(gw.up.request_count(), 1);
    } else {
        assert_ne!(answer.status, 403, "{}", answer.text);
    }
}

// 14. `catalog models test` and `catalog check` ----------------------------------------------

fn models_test_and_check(w: &World, up: &Upstream) {
    let model = "@openai-prod/gpt-4o-mini";
    for stream in [false, true] {
        let mut args = vec![
            "models",
            "test",
            model,
            "--workspace",
            "eng",
            "--prompt",
            PROMPT,
        ];
        if stream {
            args.push("--stream");
        }
        let out = w.json(&args);
        assert_eq!(out["reply"], REPLY, "{out}");
        assert_eq!(out["provider"], "openai-prod");
        assert_eq!(out["integration"], "openai-prod");
        assert_eq!(out["service"], "openai");
        assert!(out["prompt_tokens"].as_u64().unwrap() > 0, "{out}");
        assert_eq!(out["completion_tokens"], 9);
        assert!(out["cost_usd"].as_f64().unwrap() > 0.0, "{out}");
        let r = up.last_request();
        assert_eq!(r.bearer(), Some(PROVIDER_KEY));
        assert_eq!(r.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(r.is_stream(), stream);
    }
    assert!(!up.saw(ADMIN_KEY));

    let check = w.json(&["check", model, "--workspace", "eng"]);
    assert_eq!(check["admitted"], true, "{check}");
    let steps: Vec<&str> = check["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "provider",
            "provider state",
            "integration",
            "credentials",
            "model allowed",
            "limits",
            "upstream"
        ]
    );
    w.ok(&["check", model, "--workspace", "eng"]);
    w.ok(&["models", "allow", "@openai-prod", "--only", "gpt-4o"]);
    w.fails(
        &["check", model, "--workspace", "eng"],
        1,
        "`model allowed`",
    );
    w.ok(&["check", "@openai-prod/gpt-4o", "--workspace", "eng"]);
    w.fails(&["models", "test", model, "--workspace", "eng"], 1, "412");

    // The key's own step, for a key that may not call models.
    let reader = w.json(&[
        "api-keys",
        "create",
        "reader",
        "--type",
        "workspace",
        "--workspace",
        "eng",
        "--scope",
        "models.list",
    ]);
    let id = reader["id"].as_str().unwrap();
    w.fails(
        &[
            "check",
            "@openai-prod/gpt-4o",
            "--workspace",
            "eng",
            "--api-key-id",
            id,
        ],
        1,
        "`api key`",
    );
}

#[test]
fn models_test_and_check_on_the_embedded_catalog() {
    let up = Upstream::start_blocking();
    let mut w = World::new(Mode::Embedded);
    w.extra_env
        .push(("CATALOG_TRUSTED_CUSTOM_HOSTS".into(), up.host_port()));
    seed(&w, &up);
    models_test_and_check(&w, &up);
}

#[test]
fn models_test_and_check_on_a_served_catalog() {
    let gw = Gateway::start();
    models_test_and_check(&gw.w, &gw.up);
    gw.assert_clean_upstream();
}

#[test]
fn a_stream_may_pause_longer_than_the_idle_timeout() {
    let gw = Gateway::start_with(true, &[("CATALOG_IDLE_TIMEOUT", "1s")]);
    // The connection is busy while the answer is on its way, even when nothing moves.
    let sse = gw
        .chat(&stream_body(
            "@openai-prod/gpt-4o-mini+chunks-2+delay-1500",
            false,
        ))
        .sse();
    assert!(sse.done, "{sse:?}");
    assert_eq!(sse.text(), "The quick");
    gw.chat(&chat_body("@openai-prod/gpt-4o-mini+slow-1500"))
        .ok();
}

#[test]
fn a_caller_that_gives_up_before_the_answer_is_logged() {
    let gw = Gateway::start();
    let impatient = Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(gw.url("/chat/completions"))
        .bearer_auth(&gw.key)
        .header("x-portkey-trace-id", "gave-up")
        .json(&chat_body("@openai-prod/gpt-4o-mini+slow-1500"))
        .send();
    assert!(gave_up.unwrap_err().is_timeout());
    let lines = gw.trace_lines("gave-up", |l| !l.is_empty());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(" provider=openai-prod model=gpt-4o-mini+slow-1500 status=499 "),
        "{lines:?}"
    );
    assert!(lines[0].ends_with(" client_disconnected"), "{lines:?}");
    gw.chat(&chat_body("@openai-prod/gpt-4o-mini")).ok();
}

#[test]
fn an_error_event_mid_stream_is_the_streams_end() {
    let gw = Gateway::start();
    gw.connect("claude", "anthropic", "/v1", &[]);
    gw.connect("gemini", "google", "/v1beta", &[]);
    for (model, trace) in [
        ("@openai-prod/gpt-4o-mini+error-2", "error-openai"),
        (&*format!("@claude/{CLAUDE}+error-2"), "error-claude"),
        ("@gemini/gemini-2.0-flash+error-2", "error-gemini"),
    ] {
        let answer = gw.chat_with(&[("x-portkey-trace-id", trace)], &stream_body(model, true));
        let sse = answer.sse();
        // Nothing after the error: no usage, no [DONE] that would make it look complete.
        assert!(!sse.done, "{model}: {sse:?}");
        assert_eq!(sse.text(), "The quick ", "{model}");
        assert!(sse.usage().is_empty(), "{model}: {sse:?}");
        let last = sse.chunks.last().unwrap();
        assert!(last["error"]["message"].is_string(), "{model}: {last}");
        let lines = gw.trace_lines(trace, |l| !l.is_empty());
        assert!(lines[0].ends_with(" upstream_error"), "{lines:?}");
    }
}

#[test]
fn a_caller_cannot_forge_log_lines() {
    let gw = Gateway::start();
    let forged = "2026-01-01T00:00:00.000Z gateway trace=forged status=200";
    // Control characters in a model or slug are refused; the trace id is escaped.
    gw.chat_with(
        &[("x-portkey-trace-id", "t1 status=999")],
        &chat_body(&format!("@openai-prod/gpt-4o-mini\n{forged}")),
    )
    .refused(400, "invalid_request_error", "`model`");
    gw.chat(&chat_body(&format!("@nope\n{forged}/gpt-4o-mini")))
        .refused(400, "invalid_request_error", "slug");
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = gw.log();
        if log.lines().filter(|l| l.contains(" gateway ")).count() >= 2 || Instant::now() > deadline
        {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(" gateway ")).collect();
    assert_eq!(lines.len(), 2, "{log}");
    for line in &lines {
        assert!(!line.starts_with("2026-01-01"), "a forged line: {log}");
        assert_eq!(line.matches(" status=").count(), 1, "{line}");
    }
    assert!(
        lines[0].contains(" gateway trace=t1\\u{20}status=999 "),
        "{log}"
    );
    assert!(!log.contains(forged), "{log}");
}

#[test]
fn a_config_cannot_send_a_providers_credentials_to_another_host() {
    let elsewhere = Upstream::start_blocking();
    let up = Upstream::start_blocking();
    // Both hosts trusted: only the integration decides where its key goes.
    let trusted = format!("{},{}", up.host_port(), elsewhere.host_port());
    let gw = Gateway::start_on(up, false, &[("CATALOG_TRUSTED_CUSTOM_HOSTS", &trusted)]);
    let own = gw.up.base_url("/v1");
    let body = chat_body("gpt-4o-mini");
    let to = |host: &str| json!({"provider": "@openai-prod", "custom_host": host}).to_string();
    gw.chat_with(
        &[("x-portkey-config", &to(&elsewhere.base_url("/v1")))],
        &body,
    )
    .refused(403, "custom_host_not_allowed_error", "@openai-prod");
    assert_eq!(elsewhere.request_count(), 0);
    assert_eq!(gw.up.request_count(), 0);
    // Naming the integration's own host is no redirection.
    gw.chat_with(&[("x-portkey-config", &to(&format!("{own}/")))], &body)
        .ok();
    assert_openai_call(&gw.up.last_request(), PROVIDER_KEY, "gpt-4o-mini");
}

#[test]
fn a_stream_falls_back_like_a_whole_answer() {
    let gw = Gateway::start();
    gw.connect("claude", "anthropic", "/v1", &[]);
    let config = json!({
        "strategy": {"mode": "fallback"},
        "targets": [{"provider": "@openai-prod", "override_params": {"model": "gpt-4o-mini"}},
                    {"provider": "@claude", "override_params": {"model": CLAUDE}}]
    })
    .to_string();
    fail_next_openai_call(&gw.up, 503);
    let answer = gw.chat_with(&[("x-portkey-config", &config)], &stream_body("x", true));
    assert_eq!(
        answer.header("x-portkey-last-used-option-index"),
        Some("config.targets[1]")
    );
    assert_eq!(answer.header("x-portkey-provider"), Some("anthropic"));
    let sse = answer.sse();
    assert!(sse.done);
    assert_eq!(sse.text(), REPLY);
    assert_eq!(sse.usage().len(), 1);
    let requests = gw.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].is_stream() && requests[1].is_stream());
    assert_anthropic_call(&requests[1], CLAUDE);
}
