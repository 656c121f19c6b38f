//! `GET /v1/usage` and `catalog usage`: every limit in scope with its live usage, read
//! back exactly after calls through the gateway; and `catalog check` naming the level
//! that would refuse. The fake upstream reports 10 + 20 tokens per call and the model is
//! priced at $1,000 per million tokens, so every call costs exactly $0.03 (30,000,000
//! nano-dollars).

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{world_with_openai, Api, World};
use crate::gateway::{priced_body as body, Gateway};
use crate::scopes::key;

use crate::gateway::PRICED_MODEL as MODEL;
/// One call's cost in nano-dollars.
const CALL_NANO_USD: i64 = 30_000_000;
const CALL_TOKENS: i64 = 30;

/// Dollars as the server computes them from nano-dollars (exact, not a sum of floats).
fn usd(nano: i64) -> f64 {
    nano as f64 / 1e9
}

/// The API key callers use (the only one of workspace `eng` so far).
fn app_key_id(gw: &Gateway, api: &Api) -> String {
    let (_, keys) = api.get(&format!("/api-keys?workspace_id={}", gw.ws));
    keys["data"][0]["id"].as_str().unwrap().to_owned()
}

fn slug_of(gw: &Gateway) -> String {
    gw.w.json(&["workspaces", "get", "eng"])["slug"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Limits at five levels: the API key (10 requests/min), the workspace (300 tokens,
/// alert at 100), the integration's access (100 requests/min), the provider ($1 weekly,
/// 2 in flight).
fn limited(gw: &Gateway) -> Api {
    let api = Api::new(&gw.w);
    let (s, b) = api.put(
        &format!("/admin/workspaces/{}", gw.ws),
        json!({"usage_limits": [{"type": "tokens", "credit_limit": 300, "alert_threshold": 100}]}),
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = api.put(
        &format!("/api-keys/{}", app_key_id(gw, &api)),
        json!({"rate_limits": [{"type": "requests", "unit": "rpm", "value": 10}]}),
    );
    assert_eq!(s, 200, "{b}");
    gw.w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--rate-limit",
        "100/min",
        "--yes",
    ]);
    gw.w.ok(&[
        "providers",
        "update",
        "openai-prod",
        "--workspace",
        "eng",
        "--budget",
        "1",
        "--reset",
        "weekly",
        "--concurrency",
        "2",
    ]);
    api
}

/// The item of `level` and `limit_key` in a report.
fn item<'a>(items: &'a [Value], level: &str, limit_key: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["level"] == level && i["limit_key"] == limit_key)
        .unwrap_or_else(|| panic!("no {level} {limit_key} in {items:#?}"))
}

fn report(api: &Api, query: &str) -> Vec<Value> {
    let (s, body) = api.get(&format!("/usage{query}"));
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["object"], "list");
    let data = body["data"].as_array().unwrap().clone();
    assert_eq!(body["total"], data.len() as u64, "{body}");
    data
}

#[test]
fn usage_reports_every_level_exactly_after_calls() {
    let gw = Gateway::governed();
    let api = limited(&gw);
    for _ in 0..4 {
        gw.chat(&body()).ok();
    }
    let calls = 4;
    let items = report(&api, &format!("?workspace_id={}", gw.ws));
    let levels: Vec<(&str, &str)> = items
        .iter()
        .map(|i| {
            (
                i["level"].as_str().unwrap(),
                i["limit_key"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            ("api_key", "rate/requests/rpm"),
            ("workspace", "budget"),
            ("workspace_access", "rate/requests/rpm"),
            ("provider", "budget"),
            ("provider", "concurrency"),
        ],
        "in admission's order, only the limits set"
    );

    // The provider's budget: used is the calls' exact cost, the window is live.
    let p = item(&items, "provider", "budget");
    assert_eq!(p["name"], "@openai-prod");
    assert_eq!(p["kind"], "cost");
    assert_eq!(p["unit"], "usd");
    assert_eq!(p["limit"], 1);
    assert_eq!(p["used"].as_f64(), Some(usd(calls * CALL_NANO_USD)), "{p}");
    assert_eq!(p["held"], 0);
    assert_eq!(
        p["remaining"].as_f64(),
        Some(usd(1_000_000_000 - calls * CALL_NANO_USD))
    );
    assert_eq!(p["percent"].as_f64(), Some(12.0));
    assert_eq!(p["alert"], "none");
    assert_eq!(p["status"], "ok");
    assert!(p["window_started_at"].is_string(), "{p}");
    let next = chrono::DateTime::parse_from_rfc3339(p["next_reset_at"].as_str().unwrap()).unwrap();
    assert_eq!(next.format("%a %H:%M").to_string(), "Mon 00:00", "{p}");
    assert_eq!(p["workspace_id"], gw.ws.as_str());

    // The workspace's token budget: 120 tokens used crossed its alert at 100.
    let w = item(&items, "workspace", "budget");
    assert_eq!(w["kind"], "tokens");
    assert_eq!(
        w["used"].as_i64(),
        Some(calls * CALL_TOKENS),
        "integers stay integers: {w}"
    );
    assert_eq!(w["limit"].as_i64(), Some(300));
    assert_eq!(w["remaining"].as_i64(), Some(300 - calls * CALL_TOKENS));
    assert_eq!(w["percent"].as_f64(), Some(40.0));
    assert_eq!(w["alert_threshold"].as_i64(), Some(100));
    assert_eq!(w["alert"], "threshold", "{w}");
    assert!(
        w["alert_raised_at"].is_string(),
        "the alerts table has it: {w}"
    );
    assert!(
        w["next_reset_at"].is_null(),
        "a budget without a reset: {w}"
    );

    // Rate limits count the calls in their sliding window.
    for (level, limit) in [("api_key", 10), ("workspace_access", 100)] {
        let r = item(&items, level, "rate/requests/rpm");
        assert_eq!(r["used"].as_i64(), Some(calls), "{r}");
        assert_eq!(r["limit"].as_i64(), Some(limit));
        assert_eq!(r["remaining"].as_i64(), Some(limit - calls));
        assert_eq!(r["period"], "minute");
        assert_eq!(r["period_seconds"], 60);
        assert_eq!(r["type"], "rate");
    }
    assert_eq!(item(&items, "api_key", "rate/requests/rpm")["name"], "app");
    assert_eq!(
        item(&items, "workspace_access", "rate/requests/rpm")["name"],
        format!("openai-prod/{}", slug_of(&gw))
    );
    // Nothing in flight now.
    let c = item(&items, "provider", "concurrency");
    assert_eq!(
        (c["used"].as_i64(), c["limit"].as_i64()),
        (Some(0), Some(2))
    );

    // The CLI prints the same data with -o json, on the served catalog.
    let cli = gw.w.json(&["usage", "--workspace", "eng"]);
    let cli = cli.as_array().unwrap();
    assert_eq!(cli.len(), items.len());
    for (a, b) in cli.iter().zip(&items) {
        assert_eq!(
            (&a["level"], &a["limit_key"], &a["used"]),
            (&b["level"], &b["limit_key"], &b["used"])
        );
    }

    // Piped: tab-separated rows, a plain `#` bar.
    let piped = gw.w.ok(&["usage", "--workspace", "eng"]);
    let line = piped
        .stdout
        .lines()
        .find(|l| l.starts_with("provider\t@openai-prod\tbudget\t"))
        .unwrap_or_else(|| panic!("{piped:?}"));
    let cells: Vec<&str> = line.split('\t').collect();
    assert_eq!(
        cells[..7],
        [
            "provider",
            "@openai-prod",
            "budget",
            "$0.12 / $1",
            "#.........",
            "12%",
            "-"
        ],
        "{line}"
    );
    assert!(
        cells[7].starts_with("resets in ") && cells[7].ends_with(" 00:00 UTC)"),
        "{line}"
    );
    assert!(piped.stdout.contains("workspace\t") && piped.stdout.contains("threshold"));
    assert!(piped.stdout.contains("rolling 1 min"), "{piped:?}");

    // A table at 80 columns: no line wider, names never broken; the level and the alert
    // state kept (the bar goes first, the percentage says as much).
    let mut cmd =
        gw.w.command(&["usage", "--workspace", "eng", "-o", "table"]);
    cmd.env("COLUMNS", "80");
    let table = gw.w.run_cmd(cmd);
    assert_eq!(table.code, 0, "{table:?}");
    for line in table.stdout.lines() {
        assert!(
            line.chars().count() <= 80,
            "wider than 80:\n{}",
            table.stdout
        );
    }
    for whole in [
        "@openai-prod",
        "threshold",
        "12%",
        "40%",
        "LEVEL",
        "ALERT",
        "RESETS",
    ] {
        assert!(
            table.stdout.lines().any(|l| l.contains(whole)),
            "`{whole}` missing or broken:\n{}",
            table.stdout
        );
    }
    // Wide enough, every column but the limit's kind, with the bar; Unicode blocks where
    // colour is on.
    let mut cmd =
        gw.w.command(&["usage", "--workspace", "eng", "-o", "table"]);
    cmd.env("COLUMNS", "100");
    let hundred = gw.w.run_cmd(cmd);
    assert!(hundred.stdout.contains("#........."), "{}", hundred.stdout);
    let mut cmd = gw.w.command(&[
        "usage",
        "--workspace",
        "eng",
        "-o",
        "table",
        "--color",
        "always",
    ]);
    cmd.env("COLUMNS", "160");
    let wide = gw.w.run_cmd(cmd);
    for header in [
        "LEVEL", "NAME", "LIMIT", "USED", "USE", "%", "ALERT", "RESETS",
    ] {
        assert!(wide.stdout.contains(header), "{header}:\n{}", wide.stdout);
    }
    assert!(
        wide.stdout.contains("█▎░░░░░░░░"),
        "12% in eighths:\n{}",
        wide.stdout
    );

    // --watch redraws a terminal only.
    gw.w.fails(&["usage", "--watch"], 2, "stdout is not one");
    gw.w.fails(&["usage", "--watch", "-o", "json"], 2, "-o json");

    // One integration: its access and the providers built on it, no key or workspace.
    let items = report(&api, "?integration=openai-prod");
    assert!(items
        .iter()
        .all(|i| i["level"] == "workspace_access" || i["level"] == "provider"));
    assert_eq!(items.len(), 3, "{items:#?}");
    // One provider: the levels a call through it counts at.
    let items = report(
        &api,
        &format!("?workspace_id={}&provider=@openai-prod", gw.ws),
    );
    let levels: Vec<&str> = items.iter().map(|i| i["level"].as_str().unwrap()).collect();
    assert_eq!(
        levels,
        ["workspace", "workspace_access", "provider", "provider"]
    );
    // Paging, when asked for.
    let (_, page) = api.get(&format!(
        "/usage?workspace_id={}&page_size=2&current_page=1",
        gw.ws
    ));
    assert_eq!(page["total"], 5);
    assert_eq!(page["data"][0]["level"], "workspace_access", "{page}");
}

#[test]
fn requests_in_flight_show_as_held() {
    let gw = Gateway::governed();
    let api = limited(&gw);
    gw.up.set(|k| k.latency = Duration::from_millis(1500));
    let (url, key) = (gw.url("/chat/completions"), gw.key.clone());
    let flying = thread::spawn(move || {
        reqwest::blocking::Client::new()
            .post(url)
            .bearer_auth(key)
            .json(&body())
            .send()
            .unwrap()
            .status()
            .as_u16()
    });
    let query = format!("?workspace_id={}", gw.ws);
    let deadline = Instant::now() + Duration::from_secs(10);
    let items = loop {
        let items = report(&api, &query);
        if item(&items, "provider", "concurrency")["used"] == 1 {
            break items;
        }
        assert!(Instant::now() < deadline, "the call never showed in flight");
        thread::sleep(Duration::from_millis(20));
    };
    let budget = item(&items, "provider", "budget");
    assert_eq!(budget["used"], 0, "{budget}");
    let held = budget["held"].as_f64().unwrap();
    assert!(
        held > usd(CALL_NANO_USD),
        "the hold bounds the call: {budget}"
    );
    assert_eq!(
        budget["remaining"].as_f64(),
        Some(usd(1_000_000_000 - (held * 1e9).round() as i64))
    );
    assert_eq!(item(&items, "provider", "concurrency")["remaining"], 1);
    assert_eq!(flying.join().unwrap(), 200);
    let items = report(&api, &query);
    let budget = item(&items, "provider", "budget");
    assert_eq!(
        (budget["used"].as_f64(), budget["held"].as_i64()),
        (Some(usd(CALL_NANO_USD)), Some(0))
    );
    assert_eq!(item(&items, "provider", "concurrency")["used"], 0);
}

#[test]
fn a_workspace_key_sees_its_workspace_and_its_own_key_only() {
    let gw = Gateway::governed();
    let api = limited(&gw);
    gw.w.ok(&["workspaces", "create", "research"]);
    gw.w.ok(&[
        "workspaces",
        "provision",
        "research",
        "--integration",
        "openai-prod",
        "--budget",
        "5",
        "--yes",
    ]);
    gw.w.ok(&["integrations", "update", "openai-prod", "--budget", "100"]);
    let (viewer, viewer_id) = key(
        &api,
        "/api-keys/workspace/service",
        json!({"name": "dashboard", "workspace_id": gw.ws, "scopes": ["analytics.view"],
               "rate_limits": [{"type": "requests", "unit": "rpm", "value": 5}]}),
    );
    // The organisation sees every workspace and the integration's own budget.
    let all = report(&api, "");
    assert!(all.iter().any(|i| i["level"] == "integration"), "{all:#?}");
    assert!(all.iter().any(|i| i["name"]
        .as_str()
        .unwrap()
        .starts_with("openai-prod/ws-research")));
    assert_eq!(
        all.iter().filter(|i| i["level"] == "api_key").count(),
        2,
        "both keys with limits"
    );

    let (s, mine) = viewer.get("/usage");
    assert_eq!(s, 200, "{mine}");
    let mine = mine["data"].as_array().unwrap();
    assert!(!mine.is_empty());
    for i in mine {
        assert_ne!(
            i["level"], "integration",
            "organisation budgets stay hidden: {i}"
        );
        if let Some(ws) = i["workspace_id"].as_str() {
            assert_eq!(ws, gw.ws, "{i}");
        }
    }
    let keys: Vec<&Value> = mine.iter().filter(|i| i["level"] == "api_key").collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["id"], viewer_id.as_str());
    assert!(!mine
        .iter()
        .any(|i| i["name"].as_str().unwrap().contains("research")));
    // Another workspace is refused; without the scope, so is the report.
    let research = gw.w.json(&["workspaces", "get", "research"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, body) = viewer.get(&format!("/usage?workspace_id={research}"));
    assert_eq!(
        (s, &body["data"]["errorCode"]),
        (403, &json!("AB03")),
        "{body}"
    );
    let (caller, _) = key(
        &api,
        "/api-keys/workspace/service",
        json!({"name": "caller", "workspace_id": gw.ws, "scopes": ["completions.write"]}),
    );
    let (s, body) = caller.get("/usage");
    assert_eq!(s, 403, "{body}");
    assert!(body["data"]["message"]
        .as_str()
        .unwrap()
        .contains("analytics.view"));
}

#[test]
fn the_embedded_catalog_reports_too_and_unknown_names_are_not_found() {
    let w: World = world_with_openai();
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--budget",
        "50",
        "--reset",
        "monthly",
        "--rate-limit",
        "5000tokens/hour",
        "--yes",
    ]);
    let items = w.json(&["usage", "--workspace", "eng"]);
    let items = items.as_array().unwrap();
    let budget = item(items, "workspace_access", "budget");
    assert_eq!(
        (budget["used"].as_i64(), budget["limit"].as_i64()),
        (Some(0), Some(50))
    );
    let next =
        chrono::DateTime::parse_from_rfc3339(budget["next_reset_at"].as_str().unwrap()).unwrap();
    assert_eq!(next.format("%d %H:%M").to_string(), "01 00:00");
    let rate = item(items, "workspace_access", "rate/tokens/rph");
    assert_eq!(
        (rate["kind"].as_str(), rate["period"].as_str()),
        (Some("tokens"), Some("hour"))
    );
    let out = w.ok(&["usage"]);
    assert!(out.stdout.contains("rolling 1 hour"), "{out:?}");

    let e = w.fails(
        &["usage", "--integration", "nope"],
        4,
        "integration `nope` not found",
    );
    assert!(e.stderr.contains("catalog integrations list"), "{e:?}");
    let e = w.fails(
        &["usage", "--workspace", "eng", "--provider", "@nope"],
        4,
        "AI provider `@nope` not found",
    );
    assert!(
        e.stderr.contains("catalog providers list --workspace"),
        "{e:?}"
    );
    w.fails(
        &["usage", "--workspace", "nope"],
        4,
        "workspace `nope` not found",
    );
    w.fails(
        &["usage", "--provider", "@openai-prod"],
        2,
        "--provider needs --workspace",
    );
    w.fails(&["usage", "--watch", "0"], 2, "--watch");
}

#[test]
fn check_names_the_level_that_would_refuse_once_a_budget_is_spent() {
    let gw = Gateway::governed();
    let api = Api::new(&gw.w);
    let (s, b) = api.put(
        &format!("/admin/workspaces/{}", gw.ws),
        json!({"usage_limits": [{"type": "cost", "credit_limit": 3}]}),
    );
    assert_eq!(s, 200, "{b}");
    // A typical request (1,000 + 1,000 tokens) may cost up to $2: it fits in $3.
    let check = gw.w.json(&["check", MODEL, "--workspace", "eng"]);
    assert_eq!(check["admitted"], true, "{check}");
    let limit = &check["limits"][0];
    assert_eq!(
        (limit["level"].as_str(), limit["request"].as_i64()),
        (Some("workspace"), Some(2))
    );
    assert_eq!(
        (limit["remaining"].as_i64(), limit["refuses"].as_bool()),
        (Some(3), Some(false))
    );
    let table = gw.w.ok(&["check", MODEL, "--workspace", "eng"]);
    assert!(
        table.stdout.contains("pass\tlimits\ta typical request"),
        "{table:?}"
    );

    // 40 calls spend $1.20: $1.80 is left, less than a typical request may cost.
    for _ in 0..40 {
        gw.chat(&body()).ok();
    }
    let slug = slug_of(&gw);
    let out = gw.w.fails(
        &["check", MODEL, "--workspace", "eng"],
        1,
        &format!("the workspace `{slug}` would refuse it (budget)"),
    );
    assert!(
        out.stderr.contains("Workspace Usage Limit Exceeded"),
        "{out:?}"
    );
    assert!(out.stdout.contains("FAIL\tlimits\t"), "{out:?}");
    assert!(out.stdout.contains("$1.8 of $3\t$2\tREFUSES"), "{out:?}");
    let out =
        gw.w.run(&["check", MODEL, "--workspace", "eng", "-o", "json"]);
    let check: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(check["admitted"], false);
    let refusing: Vec<&Value> = check["limits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["refuses"] == true)
        .collect();
    assert_eq!(refusing.len(), 1);
    assert_eq!(
        refusing[0]["remaining"].as_f64(),
        Some(usd(3_000_000_000 - 40 * CALL_NANO_USD))
    );

    // The check held nothing and marked nothing: the budget is not exhausted, and a call
    // still goes through.
    let items = report(&api, &format!("?workspace_id={}", gw.ws));
    let w = item(&items, "workspace", "budget");
    assert_eq!(
        (
            w["held"].as_i64(),
            w["alert"].as_str(),
            w["status"].as_str()
        ),
        (Some(0), Some("none"), Some("ok")),
        "{w}"
    );
    assert_eq!(w["used"].as_f64(), Some(usd(40 * CALL_NANO_USD)));
    gw.chat(&body()).ok();
}

#[test]
fn watch_redraws_on_a_terminal() {
    use rexpect::session::spawn_command;
    let w = world_with_openai();
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--budget",
        "50",
        "--yes",
    ]);
    let mut cmd = w.command(&["usage", "--watch", "1"]);
    cmd.env("TERM", "xterm")
        .stdin(std::process::Stdio::inherit());
    let mut session = spawn_command(cmd, Some(20_000)).unwrap();
    for _ in 0..2 {
        session.exp_string("\x1b[2J").unwrap();
        session.exp_string("openai-prod").unwrap();
        session.exp_string("Ctrl-C to stop").unwrap();
    }
    session.send_control('c').unwrap();
}

#[test]
fn every_read_after_an_answer_counts_it() {
    // Answers settle in the admission journal, which the server writes to the tables
    // every 50 ms; a read a few milliseconds after an answer must count it all the same
    // (whether or not a flush is under way when it comes).
    let gw = Gateway::governed();
    let api = Api::new(&gw.w);
    gw.limit_provider(&["--budget", "1"]);
    let client = reqwest::blocking::Client::new();
    let query = format!("?workspace_id={}", gw.ws);
    for n in 1..=30 {
        let status = client
            .post(gw.url("/chat/completions"))
            .bearer_auth(&gw.key)
            .json(&body())
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 200, "call {n}");
        let items = report(&api, &query);
        let budget = item(&items, "provider", "budget");
        assert_eq!(
            budget["used"].as_f64(),
            Some(usd(n * CALL_NANO_USD)),
            "after call {n}: {budget}"
        );
    }
}
