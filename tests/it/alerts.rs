//! Budget alerts delivered by `catalog serve`: a provider budget of $2 with an alert
//! threshold of $1, spent by calls of $0.30 each until the gateway refuses, raises one
//! `threshold` and one `limit` alert; each reaches every webhook exactly once (2xx
//! acknowledged), also when a webhook answers 503 for a while or is not listening at
//! first, across a restart, and `GET /v1/alerts` lists them with their deliveries.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{Api, Server};
use crate::gateway::{chat_body, Gateway};

/// How long any wait lasts before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);
/// Quick retries, so that a webhook that recovers is retried within the test's patience.
const BACKOFF: &str = "100ms..500ms";

/// Polls `ready` every 50 ms until it returns something, or fails after [`DEADLINE`].
fn wait_for<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = ready() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One request a webhook received, with the status it answered.
#[derive(Debug, Clone)]
struct Received {
    status: u16,
    /// Header names in lowercase.
    headers: Vec<(String, String)>,
    body: Value,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn acknowledged(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A webhook receiver on a loopback port: records every request and answers 204, or
/// 503 while it is `down`.
#[derive(Clone)]
struct Receiver {
    port: u16,
    down: Arc<AtomicBool>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start() -> Receiver {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    fn on(listener: TcpListener) -> Receiver {
        let receiver = Receiver {
            port: listener.local_addr().unwrap().port(),
            down: Arc::new(AtomicBool::new(false)),
            received: Arc::new(Mutex::new(Vec::new())),
        };
        let r = receiver.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let r = r.clone();
                std::thread::spawn(move || r.answer(stream));
            }
        });
        receiver
    }

    /// Reads one request and answers it; the connection is closed after.
    fn answer(&self, mut stream: TcpStream) {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let status = if self.down.load(Ordering::SeqCst) {
            503
        } else {
            204
        };
        self.received.lock().unwrap().push(Received {
            status,
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        let reason = if status == 204 {
            "No Content"
        } else {
            "Service Unavailable"
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn acknowledged(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(Received::acknowledged)
            .collect()
    }

    /// Waits until `n` alerts were acknowledged; returns them.
    fn wait_acknowledged(&self, n: usize) -> Vec<Received> {
        wait_for(&format!("{n} acknowledged alerts"), || {
            let got = self.acknowledged();
            (got.len() >= n).then_some(got)
        })
    }
}

/// A served catalog whose alerts go to `webhooks`, with the model priced at $10,000 per
/// million tokens and the fake reporting 30 tokens per call: $0.30 a call. AI provider
/// `@openai-prod` has a budget of $2 and alerts at $1.
fn governed(webhooks: &[String]) -> Gateway {
    let hooks = webhooks.join(",");
    let gw = Gateway::start_with(
        true,
        &[
            ("CATALOG_ALERT_WEBHOOKS", hooks.as_str()),
            ("CATALOG_ALERT_BACKOFF", BACKOFF),
        ],
    );
    gw.up.set(|k| {
        k.prompt_tokens = Some(10);
        k.completion_tokens = Some(20);
    });
    gw.w.ok(&[
        "models",
        "price",
        "@openai-prod/gpt-4o-mini",
        "--input-price",
        "10000",
        "--output-price",
        "10000",
    ]);
    gw.w.ok(&[
        "providers",
        "update",
        "openai-prod",
        "--workspace",
        "eng",
        "--budget",
        "2",
        "--alert",
        "1",
    ]);
    gw
}

/// Calls the provider until its budget refuses; returns how many calls went through.
fn spend_the_budget(gw: &Gateway) -> usize {
    let mut body = chat_body("@openai-prod/gpt-4o-mini");
    body["max_tokens"] = json!(20);
    for n in 0..20 {
        let answer = gw.chat(&body);
        if answer.status != 200 {
            answer.refused(
                412,
                "virtual_key_exhaust_error",
                "AI provider `@openai-prod`",
            );
            return n;
        }
    }
    panic!("20 calls and the $2 budget never refused");
}

/// `GET /v1/alerts` with `query`, as the admin.
fn alerts(gw: &Gateway, query: &str) -> Value {
    let (status, body) = Api::new(&gw.w).get(&format!("/alerts{query}"));
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until `GET /v1/alerts` lists two alerts for which `ready` holds.
fn wait_listed(gw: &Gateway, what: &str, ready: impl Fn(&Value) -> bool) -> Vec<Value> {
    wait_for(what, || {
        let data = alerts(gw, "")["data"].as_array().unwrap().clone();
        (data.len() == 2 && data.iter().all(&ready)).then_some(data)
    })
}

fn kinds(received: &[Received]) -> Vec<String> {
    let mut kinds: Vec<String> = received
        .iter()
        .map(|r| r.body["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    kinds
}

fn ids(received: &[Received]) -> Vec<i64> {
    let mut ids: Vec<i64> = received
        .iter()
        .map(|r| r.body["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// The attempts on the delivery to the webhook at `origin`.
fn attempts_to(alert: &Value, origin: &str) -> i64 {
    alert["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["origin"] == origin)
        .map_or(0, |d| d["attempts"].as_i64().unwrap())
}

#[test]
fn a_budget_alerts_once_at_its_threshold_and_once_at_its_limit() {
    let hook = Receiver::start();
    // The URL carries credentials and a token: they reach the webhook, never the log.
    let url = format!(
        "http://hook-user:hook-SECRET@127.0.0.1:{}/hooks/catalog?token=SECRET-TOKEN",
        hook.port
    );
    let gw = governed(std::slice::from_ref(&url));
    let calls = spend_the_budget(&gw);
    assert!((4..=6).contains(&calls), "{calls} calls of $0.30 in $2");

    let got = hook.wait_acknowledged(2);
    assert_eq!(kinds(&got), ["limit", "threshold"], "{got:#?}");
    for r in &got {
        let b = &r.body;
        assert_eq!(
            r.header(catalog::server::alerts::ID_HEADER),
            Some(b["id"].to_string().as_str()),
            "the id is also the idempotency header: {r:?}"
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(
            r.header("authorization")
                .is_some_and(|a| a.starts_with("Basic ")),
            "the URL's credentials are used: {r:?}"
        );
        assert_eq!(b["object"], "alert");
        assert_eq!(b["level"], "provider");
        assert_eq!(b["name"], "@openai-prod");
        assert_eq!(b["unit"], "cost");
        assert_eq!(b["credit_limit"], 2);
        assert_eq!(b["alert_threshold"], 1);
        assert!(b["scope"].as_str().unwrap().starts_with("provider/"), "{b}");
        assert!(b["window_started_at"].is_string() && b["created_at"].is_string());
        let (used, message) = (b["used"].as_f64().unwrap(), b["message"].as_str().unwrap());
        if b["kind"] == "threshold" {
            assert!(
                (1.0..1.3).contains(&used),
                "crossed at its first call over: {b}"
            );
            assert!(
                message.starts_with("AI provider `@openai-prod` used $1.2 of its $2 budget")
                    && message.ends_with("(alert threshold $1)"),
                "{message}"
            );
        } else {
            assert!((1.2..=2.0).contains(&used), "{b}");
            assert!(
                message.starts_with("AI provider `@openai-prod` ")
                    && message.contains(" $2 budget ")
                    && message.contains(&format!("(${used} used)")),
                "{message}"
            );
        }
    }

    // The list: newest first, delivered, with the one webhook's delivery.
    let listed = wait_listed(&gw, "both alerts delivered", |a| a["delivered"] == true);
    assert_eq!(listed[0]["kind"], "limit");
    assert_eq!(listed[1]["kind"], "threshold");
    assert_eq!(ids(&got), {
        let mut ids: Vec<i64> = listed.iter().map(|a| a["id"].as_i64().unwrap()).collect();
        ids.sort_unstable();
        ids
    });
    for a in &listed {
        let deliveries = a["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 1, "{a}");
        assert_eq!(
            deliveries[0]["origin"],
            format!("http://127.0.0.1:{}", hook.port)
        );
        assert_eq!(deliveries[0]["attempts"], 1);
        assert!(a["message"].as_str().unwrap().contains("@openai-prod"));
        assert!(!a.to_string().contains("SECRET"), "{a}");
    }
    // Delivered, each exactly once: nothing more was sent.
    assert_eq!(hook.received().len(), 2, "{:#?}", hook.received());

    let listed = alerts(&gw, "?kind=threshold");
    assert_eq!(
        (listed["object"].as_str(), listed["total"].as_u64()),
        (Some("list"), Some(1))
    );
    assert_eq!(alerts(&gw, "?delivered=false")["total"], 0);
    assert_eq!(
        alerts(&gw, "?delivered=true&page_size=1")["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(alerts(&gw, "?since=2999-01-01T00:00:00Z")["total"], 0);
    let (status, body) = Api::new(&gw.w).get("/alerts?kind=warning");
    assert_eq!(status, 400, "{body}");
    // Organisation-wide data: a workspace key holding the scope still may not read it.
    let workspace_key = gw.workspace_key("watcher", &["alerts.list"]);
    let refused = gw
        .http
        .get(gw.url("/alerts"))
        .header("x-portkey-api-key", workspace_key)
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);

    // The CLI shows the same two.
    let cli = gw.w.json(&["alerts", "list"]);
    assert_eq!(cli.as_array().unwrap().len(), 2, "{cli}");
    assert!(cli
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["delivered"] == true));
    let table = gw.w.ok(&["alerts", "list", "--kind", "threshold"]).stdout;
    assert!(
        table.contains("@openai-prod") && table.contains("/ $2"),
        "{table}"
    );
    assert!(!table.contains("limit\t"), "{table}");

    // One log line per alert, and never the webhook's secrets.
    let log = gw.log();
    for id in ids(&got) {
        let lines = log
            .lines()
            .filter(|l| l.contains(&format!(" alert id={id} kind=")))
            .count();
        assert_eq!(lines, 1, "alert {id}:\n{log}");
    }
    assert!(log.contains(&format!(
        "budget alerts go to http://127.0.0.1:{}",
        hook.port
    )));
    for secret in ["SECRET", "hook-user", "/hooks/catalog"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[test]
fn a_webhook_that_fails_for_a_while_gets_each_alert_once_and_a_healthy_one_no_twice() {
    let (healthy, failing) = (Receiver::start(), Receiver::start());
    failing.down.store(true, Ordering::SeqCst);
    let gw = governed(&[
        format!("http://127.0.0.1:{}/ok", healthy.port),
        format!("http://127.0.0.1:{}/down", failing.port),
    ]);
    spend_the_budget(&gw);
    let failing_origin = format!("http://127.0.0.1:{}", failing.port);
    wait_listed(&gw, "three failed attempts at each alert", |a| {
        attempts_to(a, &failing_origin) >= 3
    });
    failing.down.store(false, Ordering::SeqCst);

    let got = failing.wait_acknowledged(2);
    assert_eq!(kinds(&got), ["limit", "threshold"]);
    let listed = wait_listed(&gw, "both alerts delivered", |a| a["delivered"] == true);
    let refused = failing.received().len() - 2;
    assert!(refused >= 6, "503s: {refused}");
    // Every attempt carried the same alert: same ids, refused or acknowledged.
    let mut all_ids = ids(&failing.received());
    all_ids.dedup();
    assert_eq!(all_ids, ids(&got));
    for a in &listed {
        assert!(attempts_to(a, &failing_origin) >= 4, "{a}");
    }
    // The healthy webhook received each alert once, while the other was down.
    assert_eq!(healthy.received().len(), 2, "{:#?}", healthy.received());
    assert_eq!(ids(&healthy.received()), ids(&got));

    // One line when a delivery keeps failing, not one per retry.
    let log = gw.log();
    for id in ids(&got) {
        let failing_lines = log
            .lines()
            .filter(|l| l.contains(&format!(" alert id={id} webhook=")))
            .filter(|l| l.contains("delivery keeps failing (HTTP 503"))
            .count();
        assert_eq!(failing_lines, 1, "alert {id}:\n{log}");
        assert!(
            log.lines()
                .any(|l| l.contains(&format!(" alert id={id} webhook="))
                    && l.contains("delivered after")),
            "alert {id}:\n{log}"
        );
    }
}

#[test]
fn a_webhook_not_listening_at_first_gets_each_alert_once_even_across_a_restart() {
    // A port nobody listens on yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut gw = governed(std::slice::from_ref(&url));
    spend_the_budget(&gw);
    let listed = wait_listed(&gw, "a failed attempt at each alert", |a| {
        a["deliveries"][0]["last_error"] == "connection failed"
    });
    assert!(listed.iter().all(|a| a["delivered"] == false));

    // The server stops with both alerts undelivered; the webhook comes up; the server
    // starts again on the same database and delivers them.
    let server = gw.w.server.take().unwrap();
    let db = server.db.clone();
    server.stop();
    let hook = Receiver::on(TcpListener::bind(("127.0.0.1", port)).unwrap());
    gw.w.server = Some(Server::start_with(
        gw.w.home.path(),
        &db,
        &[
            ("CATALOG_ALERT_WEBHOOKS", url.as_str()),
            ("CATALOG_ALERT_BACKOFF", BACKOFF),
        ],
    ));
    let got = hook.wait_acknowledged(2);
    assert_eq!(kinds(&got), ["limit", "threshold"]);
    let delivered = wait_listed(&gw, "both alerts delivered", |a| a["delivered"] == true);
    assert_eq!(hook.received().len(), 2, "{:#?}", hook.received());
    let listed_ids = |list: &[Value]| {
        let mut ids: Vec<i64> = list.iter().map(|a| a["id"].as_i64().unwrap()).collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(
        listed_ids(&listed),
        ids(&got),
        "the same alerts, not new ones"
    );
    assert_eq!(listed_ids(&delivered), ids(&got));
    // The restarted server had already seen them: it logs no second line per alert.
    let log = gw.log();
    assert!(!log.contains(" kind=threshold "), "{log}");
}

/// Runs `catalog serve` with `args` and `env`, which must fail at once; returns stderr.
pub(crate) fn serve_refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let w = crate::common::World::new(crate::common::Mode::Embedded);
    let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut cmd = w.command(&all);
    cmd.envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let status = wait_for("`catalog serve` to refuse its arguments", || {
        child.try_wait().unwrap()
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn a_bad_webhook_url_is_refused_at_start_naming_the_flag() {
    let stderr = serve_refused(
        &["--alert-webhook", "ftp://ops:pw-SECRET@hooks.example.com/x"],
        &[],
    );
    assert!(stderr.contains("--alert-webhook"), "{stderr}");
    assert!(stderr.contains("http or https"), "{stderr}");
    assert!(!stderr.contains("SECRET"), "{stderr}");

    let stderr = serve_refused(
        &[],
        &[(
            "CATALOG_ALERT_WEBHOOKS",
            "https://hooks.example.com/a,hooks.example.com/b",
        )],
    );
    assert!(stderr.contains("--alert-webhook"), "{stderr}");
    assert!(stderr.contains("not a URL"), "{stderr}");

    let stderr = serve_refused(&["--alert-backoff", "5m..1s"], &[]);
    assert!(stderr.contains("--alert-backoff"), "{stderr}");
}
