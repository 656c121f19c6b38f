//! Budgets, rate limits and concurrency limits enforced by the gateway: the request that
//! would cross a limit is refused and the one before it admitted, at every level; under
//! concurrency nothing is over-admitted; a crash loses no settled charge and forgets no
//! hold. The fake upstream reports known usage (10 prompt + 20 completion tokens), and
//! the model is priced at $1,000 per million tokens, so every call costs exactly $0.03.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{Api, Server};
use crate::gateway::{chat_body, priced_body as body, Gateway};

/// What one call costs: 30 tokens at $1,000 per million.
const CALL_USD: f64 = 0.03;
const CALL_TOKENS: u64 = 30;

/// Calls until the gateway refuses (at most `max` calls); returns the calls admitted and
/// the refusal.
fn until_refused(gw: &Gateway, max: usize) -> (usize, crate::gateway::Answer) {
    for n in 0..max {
        let a = gw.chat(&body());
        if a.status != 200 {
            return (n, a);
        }
    }
    panic!("{max} calls and no refusal");
}

/// Holds still open in the catalog's database.
fn open_holds(db: &std::path::Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT count(*) FROM holds", [], |r| r.get(0))
        .unwrap()
}

fn provider(gw: &Gateway) -> Value {
    gw.w.json(&["providers", "get", "openai-prod", "--workspace", "eng"])
}

/// A budget of $1 at a level: the calls admitted cost at most $1, and the one refused
/// would have crossed it (it could cost up to its hold, well under $0.10).
fn assert_budget_bites(gw: &Gateway, kind: &str, needle: &str) {
    let (admitted, refusal) = until_refused(gw, 200);
    let body = refusal.refused(412, kind, needle);
    assert_eq!(body["error"]["code"], "04", "{body}");
    let spent = admitted as f64 * CALL_USD;
    assert!(spent <= 1.0 + 1e-9, "{admitted} calls spent ${spent}");
    assert!(spent > 0.9, "refused with ${spent} of $1 spent: {body}");
    assert_eq!(
        gw.up.request_count(),
        admitted,
        "only admitted calls went upstream"
    );
}

#[test]
fn a_provider_budget_admits_up_to_its_limit_and_reports_exact_usage() {
    let gw = Gateway::governed();
    gw.limit_provider(&["--budget", "1"]);
    assert_budget_bites(
        &gw,
        "virtual_key_exhaust_error",
        "AI provider `@openai-prod`",
    );
    let p = provider(&gw);
    let used = p["usage"]["current_usage"].as_f64().unwrap();
    let expected = gw.up.request_count() as f64 * CALL_USD;
    assert!((used - expected).abs() < 1e-12, "{used} vs {expected}: {p}");
    assert_eq!(p["status"], "exhausted", "{p}");
    // Resetting the usage lets calls through again, at once.
    gw.limit_provider(&["--reset-usage"]);
    assert_eq!(provider(&gw)["status"], "active");
    gw.chat(&body()).ok();
    // Raising the budget mid-window takes effect on the next call too.
    let (_, refusal) = until_refused(&gw, 200);
    refusal.refused(412, "virtual_key_exhaust_error", "left");
    gw.limit_provider(&["--budget", "2"]);
    gw.chat(&body()).ok();
}

#[test]
fn an_access_budget_is_the_integration_exhaust_error() {
    let gw = Gateway::governed();
    gw.w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--budget",
        "1",
        "--yes",
    ]);
    assert_budget_bites(&gw, "integration_exhaust_error", "openai-prod");
}

#[test]
fn workspace_and_api_key_budgets_bite_at_their_level() {
    let gw = Gateway::governed();
    let api = Api::new(&gw.w);
    let (status, body) = api.put(
        &format!("/admin/workspaces/{}", gw.ws),
        json!({"usage_limits": [{"type": "cost", "credit_limit": 1}]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_budget_bites(
        &gw,
        "workspace_exhaust_error",
        "Workspace Usage Limit Exceeded",
    );

    let gw = Gateway::governed();
    let api = Api::new(&gw.w);
    let (_, keys) = api.get(&format!("/api-keys?workspace_id={}", gw.ws));
    let id = keys["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = api.put(
        &format!("/api-keys/{id}"),
        json!({"usage_limits": {"type": "cost", "credit_limit": 1}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_budget_bites(&gw, "api_key_exhaust_error", "API Key Usage Limit Exceeded");
}

#[test]
fn token_budgets_request_rates_and_token_rates() {
    let gw = Gateway::governed();
    // 300 tokens: calls of 30 tokens are admitted while a whole hold still fits.
    gw.limit_provider(&["--budget", "300", "--budget-type", "tokens"]);
    let (admitted, refusal) = until_refused(&gw, 50);
    refusal.refused(412, "virtual_key_exhaust_error", "tokens");
    assert!(
        admitted as u64 * CALL_TOKENS <= 300 && admitted >= 3,
        "{admitted}"
    );

    // Three requests a minute on the API key: the fourth is told when to come back.
    let gw = Gateway::governed();
    let api = Api::new(&gw.w);
    let (_, keys) = api.get(&format!("/api-keys?workspace_id={}", gw.ws));
    let id = keys["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = api.put(
        &format!("/api-keys/{id}"),
        json!({"rate_limits": [{"type": "requests", "unit": "rpm", "value": 3}]}),
    );
    assert_eq!(status, 200, "{body}");
    let (admitted, refusal) = until_refused(&gw, 10);
    assert_eq!(admitted, 3);
    let body = refusal.refused(429, "rate_limit_error", "3 requests/min");
    assert_eq!(body["error"]["code"], "05");
    let wait: u64 = refusal.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=62).contains(&wait), "Retry-After {wait}");

    // 200 tokens a minute on the provider: each call holds its bound, then counts 30.
    let gw = Gateway::governed();
    gw.limit_provider(&["--rate-limit", "200tokens/min"]);
    let (admitted, refusal) = until_refused(&gw, 20);
    let body = refusal.refused(429, "virtual_key_rate_limit_error", "tokens");
    assert!(refusal.header("retry-after").is_some());
    // Refused only when the calls before it (settled: 30 tokens each) and its own bound
    // do not fit, never because an earlier call's bound was still held.
    let message = body["error"]["message"].as_str().unwrap();
    let bound: u64 = message
        .split("up to ")
        .nth(1)
        .and_then(|m| m.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no bound in {message}"));
    let used = admitted as u64 * CALL_TOKENS;
    assert!(
        used <= 200 && used + bound > 200,
        "{admitted} calls, bound {bound}: {message}"
    );
}

#[test]
fn a_cost_budget_refuses_a_model_without_a_price() {
    let gw = Gateway::start();
    gw.w.ok(&["models", "add", "openai-prod", "house-model"]);
    gw.limit_provider(&["--budget", "5"]);
    gw.chat(&chat_body("@openai-prod/house-model")).refused(
        412,
        "virtual_key_exhaust_error",
        "catalog models price",
    );
    assert_eq!(gw.up.request_count(), 0);
}

/// 200 callers at once against $1: admitted spend never passes it, and the budget is
/// used to within one call's hold (callers wait for holds in flight instead of being
/// refused while the money is still there).
#[test]
fn two_hundred_concurrent_calls_never_overspend_a_budget() {
    let gw = Arc::new(Gateway::governed());
    gw.up.set(|k| k.latency = Duration::from_millis(20));
    gw.limit_provider(&["--budget", "1"]);
    let answers: Vec<u16> = at_once(&gw, 200).iter().map(|(s, _)| *s).collect();
    let admitted = answers.iter().filter(|s| **s == 200).count();
    assert!(
        answers.iter().all(|s| *s == 200 || *s == 412),
        "only admissions and budget refusals: {answers:?}"
    );
    assert_eq!(gw.up.request_count(), admitted);
    let used = provider(&gw)["usage"]["current_usage"].as_f64().unwrap();
    assert!((used - admitted as f64 * CALL_USD).abs() < 1e-9, "{used}");
    assert!(used <= 1.0, "overspent: ${used}");
    assert!(used > 0.9, "refused with ${used} of $1 spent");
}

/// `n` callers make one call each, all released at once; their statuses and bodies.
fn at_once(gw: &Arc<Gateway>, n: usize) -> Vec<(u16, String)> {
    let barrier = Arc::new(Barrier::new(n));
    (0..n)
        .map(|_| {
            let (gw, barrier) = (gw.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                let a = gw.chat(&body());
                (a.status, a.text)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect()
}

/// The upstream never sees more calls at once than the concurrency limit allows.
fn max_overlap(gw: &Gateway) -> usize {
    let spans: Vec<(std::time::SystemTime, std::time::SystemTime)> = gw
        .up
        .requests()
        .iter()
        .map(|r| (r.at, r.at + r.elapsed))
        .collect();
    spans
        .iter()
        .map(|(start, _)| {
            spans
                .iter()
                .filter(|(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn concurrent_calls_never_pass_a_token_rate_limit() {
    let gw = Arc::new(Gateway::governed());
    gw.up.set(|k| k.latency = Duration::from_millis(20));
    gw.limit_provider(&["--rate-limit", "3000tokens/min"]);
    let answers: Vec<u16> = at_once(&gw, 100).iter().map(|(s, _)| *s).collect();
    let admitted = answers.iter().filter(|s| **s == 200).count();
    assert!(
        answers.iter().all(|s| *s == 200 || *s == 429),
        "{answers:?}"
    );
    assert!(admitted as u64 * CALL_TOKENS <= 3000, "{admitted}");
    assert!(admitted > 0 && admitted < 100, "{admitted}");
}

#[test]
fn a_stream_settles_with_the_usage_the_upstream_reports() {
    let gw = Gateway::governed();
    gw.limit_provider(&["--budget", "5"]);
    // The caller did not ask for usage: the gateway asks upstream and keeps it.
    let mut b = body();
    b["stream"] = json!(true);
    let sse = gw.chat(&b).sse();
    assert!(sse.done && sse.usage().is_empty(), "{sse:?}");
    let used = provider(&gw)["usage"]["current_usage"].as_f64().unwrap();
    assert!((used - CALL_USD).abs() < 1e-12, "{used}");
    // A stream cut short is charged what it consumed: more than nothing, less than the
    // hold (the input, and what was streamed).
    gw.up.set(|k| k.cut_after = Some(2));
    let _ = gw.chat(&b);
    let after = wait_for_usage(&gw, used);
    assert!(after > used && after < used + 0.1, "{used} -> {after}");
}

/// The provider's usage once it moves from `before` (settlement of a stream that was cut
/// happens as its connection closes).
fn wait_for_usage(gw: &Gateway, before: f64) -> f64 {
    for _ in 0..100 {
        let now = provider(gw)["usage"]["current_usage"].as_f64().unwrap();
        if (now - before).abs() > 1e-12 {
            return now;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("the usage stayed at {before}");
}

#[test]
fn kill_9_loses_no_settled_charge_and_forgets_no_hold() {
    let mut gw = Gateway::governed();
    gw.up.set(|k| k.latency = Duration::from_millis(400));
    gw.limit_provider(&["--budget", "100"]);
    // Settled calls first, then calls in flight when the server dies.
    for _ in 0..3 {
        gw.chat(&body()).ok();
    }
    let (url, key) = (gw.url("/chat/completions"), gw.key.clone());
    let flying: Vec<_> = (0..4)
        .map(|_| {
            let (url, key) = (url.clone(), key.clone());
            thread::spawn(move || {
                let _ = reqwest::blocking::Client::new()
                    .post(url)
                    .bearer_auth(key)
                    .json(&body())
                    .send();
            })
        })
        .collect();
    gw.up.wait_for_requests(7, Duration::from_secs(10));
    let server = gw.w.server.take().unwrap();
    let db = gw.w.home.path().join("server/catalog.db");
    server.kill9();
    for t in flying {
        let _ = t.join();
    }
    // Restarted on the same file: the 3 settled calls are there, and the 4 calls that
    // were in flight are charged their whole hold (more than a call costs).
    let host = gw.up.host_port();
    gw.w.server = Some(Server::start_with(
        gw.w.home.path(),
        &db,
        &[("CATALOG_TRUSTED_CUSTOM_HOSTS", host.as_str())],
    ));
    let used = provider(&gw)["usage"]["current_usage"].as_f64().unwrap();
    assert!(
        used > 7.0 * CALL_USD && used < 3.0 * CALL_USD + 4.0 * 0.1,
        "${used}"
    );
    assert_eq!(open_holds(&db), 0, "every hold was settled on restart");
}

#[test]
fn an_integration_budget_counts_every_workspace() {
    let gw = Gateway::governed();
    gw.w.ok(&["integrations", "update", "openai-prod", "--budget", "1"]);
    assert_budget_bites(&gw, "integration_exhaust_error", "across every workspace");
}

#[test]
fn a_concurrency_limit_caps_requests_in_flight() {
    let gw = Arc::new(Gateway::governed());
    gw.up.set(|k| k.latency = Duration::from_millis(200));
    gw.limit_provider(&["--concurrency", "3"]);
    let answers = at_once(&gw, 20);
    let admitted = answers.iter().filter(|(s, _)| *s == 200).count();
    for (status, text) in &answers {
        assert!(
            *status == 200 || (*status == 429 && text.contains("concurrency_limit_error")),
            "{status} {text}"
        );
    }
    assert!(admitted >= 3, "{admitted}");
    assert!(max_overlap(&gw) <= 3, "{} at once", max_overlap(&gw));
    // Every slot is free again once the calls end.
    for _ in 0..3 {
        gw.chat(&body()).ok();
    }
}

/// A change the embedded CLI writes to the same database while `catalog serve` runs
/// applies to the server's next request.
#[test]
fn an_embedded_cli_reset_applies_to_the_servers_next_call() {
    let gw = Gateway::governed();
    gw.limit_provider(&["--budget", "1"]);
    let (_, refusal) = until_refused(&gw, 200);
    refusal.refused(412, "virtual_key_exhaust_error", "left");
    embedded(
        &gw,
        &[
            "providers",
            "update",
            "openai-prod",
            "--workspace",
            "eng",
            "--reset-usage",
        ],
    );
    gw.chat(&body()).ok();
}

/// Runs the CLI on the embedded catalog: the server's database file, written by another
/// process while the server runs. Returns its stdout.
fn embedded(gw: &Gateway, args: &[&str]) -> String {
    let db = gw.w.db();
    let mut cmd = gw.w.command(args);
    cmd.env_remove("CATALOG_BASE_URL")
        .env_remove("CATALOG_API_KEY")
        .env("CATALOG_HOME", db.parent().unwrap());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the gateway resolved and keeps (the provider, its access, the caller's key) is
/// read again once another process has written to the catalog: a revocation and a key
/// deletion by the embedded CLI apply to the server's next call.
#[test]
fn an_embedded_cli_revocation_applies_to_the_servers_next_call() {
    let gw = Gateway::governed();
    gw.chat(&body()).ok();
    gw.chat(&body()).ok();
    let embedded = |args: &[&str]| embedded(&gw, args);
    embedded(&[
        "workspaces",
        "revoke",
        "eng",
        "--integration",
        "openai-prod",
        "--yes",
    ]);
    gw.chat(&body())
        .refused(412, "provider_disabled_error", "revoked");
    embedded(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--yes",
    ]);
    gw.chat(&body()).ok();
    let keys: serde_json::Value = serde_json::from_str(&embedded(&[
        "api-keys",
        "list",
        "--workspace",
        "eng",
        "-o",
        "json",
    ]))
    .unwrap();
    for key in keys.as_array().unwrap() {
        embedded(&["api-keys", "delete", key["id"].as_str().unwrap(), "--yes"]);
    }
    gw.chat(&body())
        .refused(401, "authentication_error", "invalid API key");
}

/// Revoking the access while calls are running: the calls after it are refused, and
/// nothing stays held.
#[test]
fn revocation_mid_load_stops_the_next_calls() {
    let gw = Arc::new(Gateway::governed());
    gw.up.set(|k| k.latency = Duration::from_millis(30));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let gw = gw.clone();
            thread::spawn(move || {
                let mut statuses = Vec::new();
                for _ in 0..30 {
                    statuses.push(gw.chat(&body()).status);
                }
                statuses
            })
        })
        .collect();
    gw.up.wait_for_requests(8, Duration::from_secs(10));
    gw.w.ok(&[
        "workspaces",
        "revoke",
        "eng",
        "--integration",
        "openai-prod",
        "--yes",
    ]);
    let statuses: Vec<u16> = workers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    // Each worker's calls: some admitted, then refused for good once revoked.
    assert!(
        statuses.contains(&200) && statuses.contains(&412),
        "{statuses:?}"
    );
    let sent = gw.up.request_count();
    gw.chat(&body())
        .refused(412, "provider_disabled_error", "revoked");
    assert_eq!(gw.up.request_count(), sent);
    // A read waits for the settlements still in flight.
    Api::new(&gw.w).get("/admin/workspaces");
    assert_eq!(open_holds(&gw.w.db()), 0);
}

/// A caller that hangs up mid-stream is charged what was consumed (its input, and the
/// output streamed so far), never more than was held, and the hold does not linger.
#[test]
fn a_caller_that_hangs_up_mid_stream_is_charged_what_was_consumed() {
    use std::io::Read;
    let gw = Gateway::governed();
    gw.up.set(|k| {
        k.chunks = 30;
        k.chunk_delay = Duration::from_millis(200);
    });
    gw.limit_provider(&["--budget", "5"]);
    let mut b = body();
    b["stream"] = json!(true);
    let mut res = gw.post("/chat/completions").json(&b).send().unwrap();
    assert_eq!(res.status(), 200);
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(2).any(|w| w == b"\n\n") {
        let n = res.read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended before its first event");
        got.extend_from_slice(&buf[..n]);
    }
    drop(res);
    let used = wait_for_usage(&gw, 0.0);
    // At $1,000 per million tokens: the input alone is a few cents, the hold under $0.10.
    assert!(used > 0.0 && used < 0.1, "${used}");
    assert_eq!(open_holds(&gw.w.db()), 0);
}

/// Each attempt of a retried request holds and settles on its own.
#[test]
fn retries_are_admitted_and_counted_per_attempt() {
    let gw = Gateway::governed();
    gw.limit_provider(&["--rate-limit", "3/min"]);
    gw.up.fail_next(500, None);
    let config = json!({"retry": {"attempts": 2}, "provider": "@openai-prod"});
    gw.chat_with(&[("x-portkey-config", &config.to_string())], &body())
        .ok();
    assert_eq!(gw.up.request_count(), 2);
    // Two of the three requests this minute are spent: one more fits, then none.
    gw.chat(&body()).ok();
    gw.chat(&body())
        .refused(429, "virtual_key_rate_limit_error", "3 requests/min");
}
