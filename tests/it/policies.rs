//! Usage-limit and rate-limit policies enforced by the gateway: conditions pick the
//! requests, `group_by` gives each value its own counter, and a policy joins the same
//! atomic admission as every other level. Every call of the fake costs exactly $0.03
//! (30 tokens at $1,000 per million).

use std::sync::{Arc, Barrier};
use std::thread;

use serde_json::{json, Value};

use crate::common::{assert_error, Api};
use crate::gateway::{chat_body, priced_body as body, Answer, Gateway};

use crate::gateway::PRICED_MODEL as MODEL;
const CALL_USD: f64 = 0.03;

fn as_user(gw: &Gateway, metadata: &Value) -> Answer {
    gw.chat_with(&[("x-portkey-metadata", &metadata.to_string())], &body())
}

fn create(api: &Api, kind: &str, policy: Value) -> String {
    let (s, created) = api.post(&format!("/policies/{kind}"), policy);
    assert_eq!(s, 200, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// Calls `call` until it is refused (at most `max` times): the calls admitted, the refusal.
fn until_refused(max: usize, call: impl Fn() -> Answer) -> (usize, Answer) {
    for n in 0..max {
        let a = call();
        if a.status != 200 {
            return (n, a);
        }
    }
    panic!("{max} calls and no refusal");
}

fn entities(api: &Api, kind: &str, id: &str) -> Vec<Value> {
    let (s, page) = api.get(&format!("/policies/{kind}/{id}/entities"));
    assert_eq!(s, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

#[test]
fn a_per_user_budget_counts_each_user_apart_and_resets_one() {
    let gw = Gateway::governed();
    let api = Api::new(&gw.w);
    let id = create(
        &api,
        "usage-limits",
        json!({"name": "per-user", "type": "cost", "credit_limit": 1,
        "periodic_reset": "monthly", "conditions": [], "group_by": [{"key": "metadata.user_id"}]}),
    );
    let alice = json!({"user_id": "alice-0001"});
    let (admitted, refusal) = until_refused(100, || as_user(&gw, &alice));
    let body = refusal.refused(
        412,
        "usage_limits_policy_exhaust_error",
        "policy per-user (metadata.user_id=al********001)",
    );
    assert_eq!(body["error"]["code"], "06", "{body}");
    assert!(
        !refusal.text.contains("alice-0001"),
        "the value key is masked: {}",
        refusal.text
    );
    let spent = admitted as f64 * CALL_USD;
    assert!(
        spent <= 1.0 + 1e-9 && spent > 0.9,
        "{admitted} calls: ${spent}"
    );
    // The spent budget raised its alert, as every level's does.
    let (_, alerts) = api.get("/alerts?kind=limit");
    let alert = &alerts["data"][0];
    assert_eq!(alert["level"], "policy", "{alerts}");
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("Policy `per-user (metadata.user_id=al********001)`"),
        "{alerts}"
    );
    // Another user has a budget of their own.
    as_user(&gw, &json!({"user_id": "bob-0002"})).ok();
    // `catalog usage` shows the busiest value keys; `catalog check` counts policies in.
    let usage = gw.w.json(&["usage", "--workspace", "eng"]);
    let item = usage
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "per-user (metadata.user_id=alice-0001)")
        .unwrap_or_else(|| panic!("{usage}"));
    assert_eq!(
        (item["level"].as_str(), item["status"].as_str()),
        (Some("policy"), Some("exhausted"))
    );
    // (A typical request may cost $2: more than the whole $1 of a user's budget.)
    let out =
        gw.w.run(&["check", MODEL, "--workspace", "eng", "-o", "json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let check = out.json();
    // A workspace key's usage report leaves out the organisation's policies: their value
    // keys come from every workspace.
    let reader = gw.workspace_key("reader", &["analytics.view"]);
    let res = gw
        .http
        .get(gw.url("/usage"))
        .header("x-portkey-api-key", &reader)
        .send()
        .unwrap();
    let seen: Value = res.json().unwrap();
    assert!(!seen.to_string().contains("alice-0001"), "{seen}");
    assert!(
        check["limits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["level"] == "policy"),
        "{check}"
    );
    let list = entities(&api, "usage-limits", &id);
    assert_eq!(list.len(), 2, "{list:?}");
    let a = list
        .iter()
        .find(|e| e["value_key"] == "metadata.user_id=alice-0001")
        .unwrap();
    assert_eq!(a["status"], "exhausted");
    assert!(
        (a["current_usage"].as_f64().unwrap() - spent).abs() < 1e-9,
        "{a}"
    );
    let b = list
        .iter()
        .find(|e| e["value_key"] == "metadata.user_id=bob-0002")
        .unwrap();
    assert_eq!(b["status"], "active");
    // include_usage shows the same; status filters.
    let (_, p) = api.get(&format!("/policies/usage-limits/{id}?include_usage=true"));
    assert_eq!(
        p["value_key_usage_map"]["metadata.user_id=alice-0001"]["status"], "exhausted",
        "{p}"
    );
    let (_, exhausted) = api.get(&format!(
        "/policies/usage-limits/{id}/entities?status=exhausted"
    ));
    assert_eq!(exhausted["total"], 1);
    // Resetting alice lets her through again; bob's usage is untouched.
    let (s, reset) = api.put(
        &format!(
            "/policies/usage-limits/{id}/entities/{}/reset",
            a["id"].as_str().unwrap()
        ),
        json!({}),
    );
    assert_eq!(s, 200, "{reset}");
    assert_eq!(reset["current_usage"], 0);
    let (_, records) = api.get("/audit-logs?action=reset");
    assert_eq!(records["total"], 1, "{records}");
    let change = &records["data"][0]["changes"][0];
    assert_eq!(change["resource_type"], "usage", "{records}");
    assert_eq!(change["fields"][0]["field"], "current_usage", "{records}");
    assert_eq!(change["fields"][0]["after"], 0, "{records}");
    as_user(&gw, &alice).ok();
    let b_after = entities(&api, "usage-limits", &id)
        .into_iter()
        .find(|e| e["value_key"] == b["value_key"])
        .unwrap();
    assert_eq!(b_after["current_usage"], b["current_usage"]);
    assert_error(
        api.put(
            &format!("/policies/usage-limits/{id}/entities/nope/reset"),
            json!({}),
        ),
        404,
        "AB08",
        "entities",
    );
    // Archived, it stops applying at once.
    let (_, _) = until_refused(100, || as_user(&gw, &alice));
    let (s, _) = api.delete(&format!("/policies/usage-limits/{id}"), None);
    assert_eq!(s, 200);
    as_user(&gw, &alice).ok();
    let (_, active) = api.get("/policies/usage-limits");
    assert_eq!(active["total"], 0);
    let (_, archived) = api.get("/policies/usage-limits?status=archived");
    assert_eq!(archived["data"][0]["status"], "archived");
}

#[test]
fn a_per_model_request_budget_spans_workspaces() {
    let gw = Gateway::governed();
    let api = Api::new(&gw.w);
    gw.w.ok(&["workspaces", "create", "research"]);
    gw.w.ok(&[
        "workspaces",
        "provision",
        "research",
        "--integration",
        "openai-prod",
        "--yes",
    ]);
    let research = gw.w.json(&[
        "api-keys",
        "create",
        "r",
        "--type",
        "workspace",
        "--workspace",
        "research",
        "--scope",
        "completions.write",
    ]);
    let research_key = research["key"].as_str().unwrap().to_owned();
    create(
        &api,
        "usage-limits",
        json!({"name": "mini-cap", "type": "requests", "credit_limit": 3,
        "conditions": [{"key": "model", "value": "gpt-4o-mini"}], "group_by": [{"key": "model"}]}),
    );
    let from_research = || {
        gw.send(
            gw.anonymous("/chat/completions").bearer_auth(&research_key),
            &body(),
        )
    };
    gw.chat(&body()).ok();
    from_research().ok();
    gw.chat(&body()).ok();
    from_research().refused(412, "usage_limits_policy_exhaust_error", "mini-cap");
    gw.chat(&body())
        .refused(412, "usage_limits_policy_exhaust_error", "3 requests");
    // Another model is not limited by it.
    gw.chat(&{
        let mut b = chat_body("@openai-prod/gpt-4o");
        b["max_tokens"] = json!(20);
        b
    })
    .ok();
}

#[test]
fn a_rate_policy_per_tenant_and_each_condition_key() {
    let gw = Gateway::governed();
    let api = Api::new(&gw.w);
    let id = create(
        &api,
        "rate-limits",
        json!({"name": "per-tenant", "type": "requests", "unit": "rpm", "value": 2,
        "conditions": [{"key": "metadata.tenant_id", "value": "*"}], "group_by": [{"key": "metadata.tenant_id"}]}),
    );
    let acme = json!({"tenant_id": "acme"});
    as_user(&gw, &acme).ok();
    as_user(&gw, &acme).ok();
    let refusal = as_user(&gw, &acme);
    refusal.refused(429, "rate_limits_policy_exhaust_error", "per-tenant");
    assert!(refusal.header("retry-after").is_some());
    as_user(&gw, &json!({"tenant_id": "globex"})).ok();
    // Without a tenant the condition does not hold: not limited.
    for _ in 0..3 {
        gw.chat(&body()).ok();
    }
    assert_eq!(entities(&api, "rate-limits", &id).len(), 2);
    api.delete(&format!("/policies/rate-limits/{id}"), None);

    // Each condition key selects requests: a policy of one request per condition.
    let key_id =
        gw.w.json(&["api-keys", "list", "--workspace", "eng"])
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == "app")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let config = gw.save_config("plain", &json!({"retry": {"attempts": 1}}));
    type Case<'a> = (&'a str, String, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        ("api_key", key_id, vec![]),
        ("workspace_id", gw.ws.clone(), vec![]),
        ("provider", "@openai-prod".to_owned(), vec![]),
        ("model", "GPT-4o-mini".to_owned(), vec![]),
        (
            "config",
            config.clone(),
            vec![("x-portkey-config", config.clone())],
        ),
        (
            "metadata.env",
            "prod".to_owned(),
            vec![("x-portkey-metadata", json!({"env": "prod"}).to_string())],
        ),
    ];
    for (key, value, headers) in cases {
        let id = create(
            &api,
            "usage-limits",
            json!({"name": format!("one-{key}"), "type": "requests", "credit_limit": 1,
            "conditions": [{"key": key, "value": value}], "group_by": [{"key": key}]}),
        );
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        gw.chat_with(&headers, &body()).ok();
        gw.chat_with(&headers, &body()).refused(
            412,
            "usage_limits_policy_exhaust_error",
            &format!("one-{key}"),
        );
        if !headers.is_empty() {
            // The same request without what the condition looks at passes.
            gw.chat(&body()).ok();
        }
        api.delete(&format!("/policies/usage-limits/{id}"), None);
    }
}

#[test]
fn admin_set_metadata_wins_over_what_the_request_sends() {
    let gw = Gateway::governed();
    let api = Api::new(&gw.w);
    let (s, ws) = api.put(
        &format!("/admin/workspaces/{}", gw.ws),
        json!({"defaults": {"metadata": {"team": "search", "env": "prod"}}}),
    );
    assert_eq!(s, 200, "{ws}");
    let (_, keys) = api.get(&format!("/api-keys?workspace_id={}", gw.ws));
    let key_id = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "app")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, k) = api.put(
        &format!("/api-keys/{key_id}"),
        json!({"defaults": {"metadata": {"env": "staging", "tier": "gold"}}}),
    );
    assert_eq!(s, 200, "{k}");
    let (_, k) = api.get(&format!("/api-keys/{key_id}"));
    assert_eq!(k["defaults"]["metadata"]["tier"], "gold", "{k}");
    let id = create(
        &api,
        "usage-limits",
        json!({"name": "by-team", "type": "requests", "credit_limit": 100,
        "group_by": [{"key": "metadata.team"}, {"key": "metadata.env"}, {"key": "metadata.tier"}, {"key": "metadata.user"}]}),
    );
    // The workspace's metadata over the key's over the request's: a caller cannot
    // escape a budget by sending another team or tier.
    as_user(&gw, &json!({"team": "ads", "tier": "free", "user": "u1"})).ok();
    gw.chat(&body()).ok();
    let keys: Vec<String> = entities(&api, "usage-limits", &id)
        .iter()
        .map(|e| e["value_key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        keys,
        [
            "metadata.team=search&metadata.env=prod&metadata.tier=gold&metadata.user=",
            "metadata.team=search&metadata.env=prod&metadata.tier=gold&metadata.user=u1"
        ],
        "{keys:?}"
    );
    // A value is at most 128 characters, as Portkey's.
    gw.chat_with(
        &[(
            "x-portkey-metadata",
            &json!({"user": "x".repeat(129)}).to_string(),
        )],
        &body(),
    )
    .refused(400, "invalid_request_error", "128");
    // Bad metadata is the caller's error.
    gw.chat_with(&[("x-portkey-metadata", "not json")], &body())
        .refused(400, "invalid_request_error", "x-portkey-metadata");
}

#[test]
fn concurrent_calls_never_overspend_a_policy_counter() {
    let gw = Arc::new(Gateway::governed());
    gw.up
        .set(|k| k.latency = std::time::Duration::from_millis(20));
    let api = Api::new(&gw.w);
    let id = create(
        &api,
        "usage-limits",
        json!({"name": "cap", "type": "cost", "credit_limit": 1,
        "group_by": [{"key": "metadata.user_id"}]}),
    );
    let barrier = Arc::new(Barrier::new(100));
    let statuses: Vec<u16> = (0..100)
        .map(|_| {
            let (gw, barrier) = (gw.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                as_user(&gw, &json!({"user_id": "same-user"})).status
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 412),
        "{statuses:?}"
    );
    assert_eq!(gw.up.request_count(), admitted);
    // Settlement runs after the answer; a read waits for it.
    let used = entities(&api, "usage-limits", &id)[0]["current_usage"]
        .as_f64()
        .unwrap();
    assert!(
        (used - admitted as f64 * CALL_USD).abs() < 1e-9,
        "{used} for {admitted}"
    );
    assert!(used <= 1.0 && used > 0.9, "{used}");
}

#[test]
fn policies_are_validated_and_scoped() {
    let gw = Gateway::start();
    let api = Api::new(&gw.w);
    let bad = |kind: &str, body: Value, needle: &str| {
        assert_error(
            api.post(&format!("/policies/{kind}"), body),
            400,
            "AB01",
            needle,
        )
    };
    bad(
        "usage-limits",
        json!({"type": "cost", "credit_limit": 10, "conditions": [{"key": "prompt", "value": "x"}]}),
        "conditions[0].key",
    );
    bad(
        "usage-limits",
        json!({"type": "cost", "credit_limit": 0.5}),
        "credit_limit",
    );
    bad(
        "usage-limits",
        json!({"type": "requests", "credit_limit": 2.5}),
        "whole number",
    );
    bad(
        "usage-limits",
        json!({"type": "cost", "credit_limit": 10, "alert_threshold": 20}),
        "alert_threshold",
    );
    bad(
        "usage-limits",
        json!({"type": "cost", "credit_limit": 10, "group_by": [{"key": "model"}, {"key": "model"}]}),
        "twice",
    );
    bad(
        "usage-limits",
        json!({"type": "cost", "credit_limit": 10, "conditions": [{"key": "workspace_id", "value": "nope"}]}),
        "names no workspace",
    );
    bad(
        "rate-limits",
        json!({"type": "requests", "unit": "rps", "value": 5}),
        "rpm",
    );
    bad(
        "rate-limits",
        json!({"type": "requests", "unit": "rpm", "value": 0}),
        "at least 1",
    );
    bad(
        "rate-limits",
        json!({"type": "requests", "unit": "rpm", "value": 5, "target": "mcp_tools"}),
        "target",
    );
    // Request-count budgets belong to policies only.
    assert_error(
        api.put(
            "/providers/openai-prod?workspace_id=eng",
            json!({"usage_limits": {"type": "requests", "credit_limit": 5}}),
        ),
        400,
        "AB01",
        "policies",
    );
    // A workspace key manages its own workspace's policies, never the organisation's.
    let admin = gw.workspace_key(
        "policy-admin",
        &[
            "policies.create",
            "policies.read",
            "policies.list",
            "policies.update",
            "policies.delete",
        ],
    );
    let as_ws = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = gw
            .http
            .request(method, gw.url(path))
            .header("x-portkey-api-key", &admin);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().unwrap();
        let s = res.status().as_u16();
        (s, res.json::<Value>().unwrap_or(Value::Null))
    };
    let (s, own) = as_ws(
        reqwest::Method::POST,
        "/policies/rate-limits",
        Some(json!({"type": "requests", "unit": "rpm", "value": 5})),
    );
    assert_eq!(s, 200, "{own}");
    let own_id = own["id"].as_str().unwrap();
    let (_, got) = api.get(&format!("/policies/rate-limits/{own_id}"));
    assert_eq!(got["workspace_id"], gw.ws.as_str(), "{got}");
    let org = create(
        &api,
        "rate-limits",
        json!({"type": "requests", "unit": "rpm", "value": 5}),
    );
    assert_eq!(
        as_ws(
            reqwest::Method::GET,
            &format!("/policies/rate-limits/{org}"),
            None
        )
        .0,
        404
    );
    let (_, listed) = as_ws(reqwest::Method::GET, "/policies/rate-limits", None);
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(
        as_ws(
            reqwest::Method::DELETE,
            &format!("/policies/rate-limits/{org}"),
            None
        )
        .0,
        404
    );
    // Names are checked, and one name is one policy in a scope.
    bad(
        "rate-limits",
        json!({"name": "evil\nname", "type": "requests", "unit": "rpm", "value": 5}),
        "name",
    );
    bad(
        "rate-limits",
        json!({"name": "", "type": "requests", "unit": "rpm", "value": 5}),
        "name",
    );
    create(
        &api,
        "usage-limits",
        json!({"name": "cap", "type": "cost", "credit_limit": 10}),
    );
    assert_error(
        api.post(
            "/policies/usage-limits",
            json!({"name": "cap", "type": "cost", "credit_limit": 20}),
        ),
        409,
        "AB07",
        "cap",
    );
    // What a policy counts and where are fixed: a change is a new policy.
    let (_, cap) = api.get("/policies/usage-limits");
    let cap_id = cap["data"][0]["id"].as_str().unwrap().to_owned();
    for field in [
        json!({"group_by": [{"key": "model"}]}),
        json!({"type": "tokens"}),
        json!({"workspace_id": "x"}),
    ] {
        let name = field.as_object().unwrap().keys().next().unwrap().clone();
        assert_error(
            api.put(&format!("/policies/usage-limits/{cap_id}"), field),
            400,
            "AB01",
            &format!("`{name}`"),
        );
    }
    // An API key condition names the key by id or by name.
    let (s, by_name) = api.post(
        "/policies/usage-limits",
        json!({"name": "by-key-name", "type": "requests", "credit_limit": 5,
        "conditions": [{"key": "api_key", "value": "policy-admin"}]}),
    );
    assert_eq!(s, 200, "{by_name}");
    let (_, got) = api.get(&format!(
        "/policies/usage-limits/{}",
        by_name["id"].as_str().unwrap()
    ));
    assert_ne!(
        got["conditions"][0]["value"], "policy-admin",
        "stored by id: {got}"
    );
    bad(
        "usage-limits",
        json!({"name": "nobody", "type": "requests", "credit_limit": 5, "conditions": [{"key": "api_key", "value": "nobody"}]}),
        "names no API key",
    );
    // The usage kind's routes do not show a rate policy.
    assert_error(
        api.get(&format!("/policies/usage-limits/{org}")),
        404,
        "AB08",
        "not found",
    );
    // Every change is in the audit log.
    let (_, audit) = api.get("/audit-logs?resource_type=policy");
    assert!(audit["total"].as_u64().unwrap() >= 2, "{audit}");
}

#[test]
fn the_cli_creates_the_three_examples_and_refuses_bad_input() {
    crate::common::both(|w| {
        w.ok(&["workspaces", "create", "eng"]);
        w.ok(&[
            "policies",
            "create",
            "per-user",
            "--type",
            "cost",
            "--limit",
            "50",
            "--reset",
            "monthly",
            "--group-by",
            "metadata.user_id",
        ]);
        w.ok(&[
            "policies",
            "create",
            "gpt5-cap",
            "--type",
            "cost",
            "--limit",
            "200",
            "--reset",
            "weekly",
            "--when",
            "model=gpt-5-pro",
            "--group-by",
            "model",
        ]);
        w.ok(&[
            "policies",
            "create",
            "per-tenant",
            "--rate",
            "100/min",
            "--group-by",
            "metadata.tenant_id",
            "--workspace",
            "eng",
        ]);
        let all = w.json(&["policies", "list"]);
        assert_eq!(all.as_array().unwrap().len(), 3, "{all}");
        let cap = w.json(&["policies", "get", "gpt5-cap"]);
        assert_eq!(
            cap["conditions"][0],
            json!({"key": "model", "value": "gpt-5-pro"})
        );
        assert_eq!(cap["periodic_reset"], "weekly");
        let tenant = w.json(&["policies", "get", "per-tenant"]);
        assert_eq!(
            (tenant["unit"].clone(), tenant["value"].clone()),
            (json!("rpm"), json!(100))
        );
        assert!(tenant["workspace_id"].is_string(), "{tenant}");
        let table = w.ok(&["policies", "list"]).stdout;
        assert!(
            table.contains("$200 / week") && table.contains("100 requests/min"),
            "{table}"
        );
        let updated = w.json(&[
            "policies", "update", "per-user", "--limit", "60", "--alert", "40",
        ]);
        assert_eq!(
            (
                updated["credit_limit"].clone(),
                updated["alert_threshold"].clone()
            ),
            (json!(60), json!(40))
        );
        // The usage report shows each policy in scope.
        let usage = w.json(&["usage"]);
        let names: Vec<&str> = usage
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["level"] == "policy")
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"per-user (nothing counted yet)"),
            "{names:?}"
        );
        assert_eq!(w.json(&["policies", "entities", "per-user"]), json!([]));
        w.ok(&["policies", "delete", "per-user", "--yes"]);
        assert_eq!(w.json(&["policies", "list"]).as_array().unwrap().len(), 2);
        assert_eq!(
            w.json(&["policies", "list", "--archived"])
                .as_array()
                .unwrap()
                .len(),
            3
        );

        w.fails(&["policies", "create", "x"], 2, "--limit AMOUNT");
        w.fails(
            &[
                "policies", "create", "x", "--rate", "5/min", "--reset", "monthly",
            ],
            2,
            "--reset",
        );
        w.fails(
            &["policies", "create", "x", "--rate", "5/min", "--alert", "3"],
            2,
            "--alert",
        );
        w.ok(&[
            "policies",
            "create",
            "in-eng",
            "--limit",
            "5",
            "--when",
            "workspace_id=eng",
        ]);
        let audited = w.json(&["audit", "--object", "policies/in-eng"]);
        assert_eq!(audited.as_array().unwrap().len(), 1, "{audited}");
        w.fails(
            &["policies", "create", "x", "--limit", "5", "--rate", "5/min"],
            2,
            "--rate",
        );
        w.fails(
            &[
                "policies",
                "create",
                "x",
                "--limit",
                "5",
                "--group-by",
                "prompt",
            ],
            2,
            "metadata.<key>",
        );
        w.fails(&["policies", "create", "x", "--rate", "5/s"], 2, "rpm");
        w.fails(
            &["policies", "create", "x", "--rate", "5/fortnight"],
            2,
            "week",
        );
        w.fails(
            &["policies", "create", "x", "--limit", "5", "--when", "model"],
            2,
            "--when",
        );
        w.fails(&["policies", "get", "nope"], 4, "no policy is named `nope`");
        w.fails(
            &["policies", "update", "gpt5-cap", "--rate", "5/min"],
            2,
            "--limit",
        );
        w.fails(&["policies", "update", "gpt5-cap"], 2, "nothing to change");
        w.fails(
            &["policies", "reset", "per-tenant", "x"],
            2,
            "rate-limit policy",
        );
        w.fails(
            &["policies", "reset", "gpt5-cap", "model=nope"],
            4,
            "entities",
        );
    });
}
