//! The audit log: one record per change made through the Admin API, in the change's own
//! transaction, with secrets only as "changed"; append-only, pruned only by retention.

use std::collections::BTreeSet;

use crate::common::{assert_error, both, contains, Api, Mode, Server, World};
use serde_json::{json, Value};

/// The newest record and how many there are.
fn newest(api: &Api) -> (u64, Value) {
    let (s, page) = api.get("/audit-logs?page_size=1");
    assert_eq!(s, 200, "{page}");
    (page["total"].as_u64().unwrap(), page["data"][0].clone())
}

fn field<'a>(record: &'a Value, resource_type: &str, name: &str) -> Option<&'a Value> {
    record["changes"]
        .as_array()?
        .iter()
        .filter(|c| c["resource_type"] == resource_type)
        .flat_map(|c| c["fields"].as_array().unwrap())
        .find(|f| f["field"] == name)
}

/// A change through the API: what it must answer, and the record it must leave.
struct Step<'a> {
    api: &'a Api,
    routes: BTreeSet<(String, String)>,
}

impl Step<'_> {
    /// Sends the request and checks that exactly one record describes it.
    fn change(
        &mut self,
        method: &str,
        route: &str,
        path: &str,
        body: Option<Value>,
        action: &str,
        resource_type: &str,
    ) -> (Value, Value) {
        let (before, _) = newest(self.api);
        let (s, answer) = self.api.call(
            method.parse().unwrap(),
            path,
            body.map(|b| b.to_string()).as_deref(),
        );
        assert!(s < 300, "{method} {path}: {s} {answer}");
        let (after, record) = newest(self.api);
        assert_eq!(after, before + 1, "{method} {path} must write one record");
        assert_eq!(record["method"], method);
        assert_eq!(
            record["path"],
            format!("/v1{}", path.split('?').next().unwrap())
        );
        assert_eq!(record["action"], action, "{record}");
        assert_eq!(record["resource_type"], resource_type, "{record}");
        assert_eq!(record["actor"]["type"], "api_key");
        assert_eq!(record["actor"]["name"], "bootstrap admin");
        assert!(!record["request_id"].as_str().unwrap().is_empty());
        self.routes.insert((method.to_owned(), route.to_owned()));
        (answer, record)
    }

    /// Sends a request that must change nothing and write no record.
    fn no_record(&self, method: &str, path: &str, body: Option<Value>) -> u16 {
        let (before, _) = newest(self.api);
        let (s, _) = self.api.call(
            method.parse().unwrap(),
            path,
            body.map(|b| b.to_string()).as_deref(),
        );
        assert_eq!(newest(self.api).0, before, "{method} {path} wrote a record");
        s
    }
}

const KEY_A: &str = "sk-audit-FIRSTSECRET-0123456789";
const KEY_B: &str = "sk-audit-SECONDSECRET-9876543210";
const VK_KEY: &str = "sk-audit-LEGACYSECRET-5555555555";
const HEADER_SECRET: &str = "hdr-audit-HEADERSECRET-77777";

#[test]
fn every_change_through_the_admin_api_writes_one_record_with_its_diff() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let mut step = Step {
        api: &api,
        routes: BTreeSet::new(),
    };
    let (ws, r) = step.change(
        "POST",
        "/admin/workspaces",
        "/admin/workspaces",
        Some(json!({"name": "eng"})),
        "create",
        "workspace",
    );
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    let ws_slug = ws["slug"].as_str().unwrap().to_owned();
    assert_eq!(r["resource_id"], ws_id.as_str());
    assert_eq!(r["workspace_id"], ws_id.as_str());
    assert_eq!(field(&r, "workspace", "name").unwrap()["after"], "eng");
    let (_, r) = step.change("PUT", "/admin/workspaces/{id}", &format!("/admin/workspaces/{ws_id}"),
        Some(json!({"description": "the eng team", "usage_limits": [{"type": "cost", "credit_limit": 500}]})), "update", "workspace");
    let d = field(&r, "workspace", "description").unwrap();
    assert_eq!(
        (d["before"].clone(), d["after"].clone()),
        (Value::Null, json!("the eng team"))
    );
    assert_eq!(
        field(&r, "workspace", "usage_limits").unwrap()["after"][0]["credit_limit"],
        500
    );
    assert_eq!(
        r["changes"][0]["fields"].as_array().unwrap().len(),
        2,
        "{r}"
    );

    let (_, r) = step.change("POST", "/integrations", "/integrations",
        Some(json!({"name": "OpenAI", "slug": "openai-prod", "ai_provider_id": "openai", "key": KEY_A})), "create", "integration");
    assert_eq!(r["resource_slug"], "openai-prod");
    let (_, r) = step.change(
        "PUT",
        "/integrations/{slug}",
        "/integrations/openai-prod",
        Some(json!({"key": KEY_B, "name": "OpenAI prod"})),
        "update",
        "integration",
    );
    assert_eq!(
        field(&r, "integration", "name").unwrap()["before"],
        "OpenAI"
    );
    let secret = field(&r, "integration", "masked_key").unwrap();
    assert_eq!(secret["secret"], true);
    assert!(secret["before"].is_null() && secret["after"].is_null());
    let (_, r) = step.change("PUT", "/integrations/{slug}/workspaces", "/integrations/openai-prod/workspaces",
        Some(json!({"workspaces": [{"id": ws_slug, "enabled": true, "usage_limits": [{"type": "cost", "credit_limit": 100}]}]})),
        "provision_workspaces", "integration");
    assert_eq!(r["resource_slug"], "openai-prod");
    assert!(
        r["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["resource_type"] == "integration_workspace"
                && c["workspace_id"] == ws_id.as_str()),
        "{r}"
    );
    let (_, r) = step.change("PUT", "/integrations/{slug}/models", "/integrations/openai-prod/models",
        Some(json!({"models": [{"slug": "my-tuned", "enabled": true, "is_custom": true, "base_model_slug": "gpt-4o",
            "custom_headers": {"x-team-secret": HEADER_SECRET}}]})), "provision_models", "integration");
    assert!(
        r["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["resource_type"] == "integration_model" && c["slug"] == "my-tuned"),
        "{r}"
    );
    step.change(
        "DELETE",
        "/integrations/{slug}/models",
        "/integrations/openai-prod/models?slugs=my-tuned",
        None,
        "remove_models",
        "integration",
    );

    let (_, r) = step.change("POST", "/providers", "/providers",
        Some(json!({"name": "batch", "slug": "batch", "integration_id": "openai-prod", "workspace_id": ws_slug})), "create", "provider");
    assert_eq!(r["resource_slug"], "batch");
    assert_eq!(r["workspace_id"], ws_id.as_str());
    step.change(
        "PUT",
        "/providers/{slug}",
        &format!("/providers/batch?workspace_id={ws_slug}"),
        Some(json!({"note": "nightly"})),
        "update",
        "provider",
    );
    step.change(
        "DELETE",
        "/providers/{slug}",
        &format!("/providers/batch?workspace_id={ws_slug}"),
        None,
        "delete",
        "provider",
    );

    step.change(
        "PUT",
        "/organisation/settings",
        "/organisation/settings",
        Some(json!({"allow_workspace_integrations": false})),
        "update",
        "organisation_setting",
    );

    step.change("POST", "/virtual-keys", "/virtual-keys",
        Some(json!({"name": "legacy", "slug": "legacy", "provider": "openai", "key": VK_KEY, "workspace_id": ws_slug})), "create", "virtual_key");
    step.change(
        "PUT",
        "/virtual-keys/{slug}",
        &format!("/virtual-keys/legacy?workspace_id={ws_slug}"),
        Some(json!({"note": "old"})),
        "update",
        "virtual_key",
    );
    let (_, plan) = api.get("/virtual-keys/migration-plan");
    let group = plan["groups"][0]["group"].as_str().unwrap().to_owned();
    step.change(
        "POST",
        "/virtual-keys/migrate",
        "/virtual-keys/migrate",
        Some(json!({"group": group})),
        "migrate",
        "virtual_key",
    );
    step.change("POST", "/virtual-keys", "/virtual-keys",
        Some(json!({"name": "gone", "slug": "gone", "provider": "openai", "key": VK_KEY, "workspace_id": ws_slug})), "create", "virtual_key");
    step.change(
        "DELETE",
        "/virtual-keys/{slug}",
        &format!("/virtual-keys/gone?workspace_id={ws_slug}"),
        None,
        "delete",
        "virtual_key",
    );

    let (key, r) = step.change(
        "POST",
        "/api-keys/{type}/{sub_type}",
        "/api-keys/workspace/service",
        Some(json!({"name": "ci", "workspace_id": ws_slug, "scopes": ["completions.write"]})),
        "create",
        "api_key",
    );
    let key_id = key["id"].as_str().unwrap().to_owned();
    let key_secret = key["key"].as_str().unwrap().to_owned();
    assert_eq!(field(&r, "api_key", "key").unwrap()["secret"], true, "{r}");
    step.change(
        "PUT",
        "/api-keys/{id}",
        &format!("/api-keys/{key_id}"),
        Some(json!({"name": "ci bot"})),
        "update",
        "api_key",
    );
    step.change(
        "DELETE",
        "/api-keys/{id}",
        &format!("/api-keys/{key_id}"),
        None,
        "delete",
        "api_key",
    );

    let config = json!({"retry": {"attempts": 2}});
    let (created, _) = step.change(
        "POST",
        "/configs",
        "/configs",
        Some(json!({"name": "retry", "config": config, "workspace_id": ws_slug})),
        "create",
        "config",
    );
    let config_slug = created["slug"].as_str().unwrap().to_owned();
    step.change(
        "PUT",
        "/configs/{slug}",
        &format!("/configs/{config_slug}?workspace_id={ws_slug}"),
        Some(json!({"config": {"retry": {"attempts": 3}}})),
        "update",
        "config",
    );
    step.change(
        "DELETE",
        "/configs/{slug}",
        &format!("/configs/{config_slug}?workspace_id={ws_slug}"),
        None,
        "delete",
        "config",
    );

    let (policy, r) = step.change(
        "POST",
        "/policies/usage-limits",
        "/policies/usage-limits",
        Some(json!({"name": "per-user", "type": "cost", "credit_limit": 50, "group_by": [{"key": "metadata.user_id"}]})),
        "create",
        "policy",
    );
    let policy_id = policy["id"].as_str().unwrap().to_owned();
    assert_eq!(field(&r, "policy", "credit_limit").unwrap()["after"], 50);
    let (_, r) = step.change(
        "PUT",
        "/policies/usage-limits/{id}",
        &format!("/policies/usage-limits/{policy_id}"),
        Some(json!({"credit_limit": 80})),
        "update",
        "policy",
    );
    let limit = field(&r, "policy", "credit_limit").unwrap();
    assert_eq!(
        (limit["before"].clone(), limit["after"].clone()),
        (json!(50), json!(80))
    );
    step.change(
        "DELETE",
        "/policies/usage-limits/{id}",
        &format!("/policies/usage-limits/{policy_id}"),
        None,
        "delete",
        "policy",
    );
    let (rate, _) = step.change(
        "POST",
        "/policies/rate-limits",
        "/policies/rate-limits",
        Some(json!({"type": "requests", "unit": "rpm", "value": 10})),
        "create",
        "policy",
    );
    let rate_id = rate["id"].as_str().unwrap().to_owned();
    step.change(
        "PUT",
        "/policies/rate-limits/{id}",
        &format!("/policies/rate-limits/{rate_id}"),
        Some(json!({"value": 20})),
        "update",
        "policy",
    );
    step.change(
        "DELETE",
        "/policies/rate-limits/{id}",
        &format!("/policies/rate-limits/{rate_id}"),
        None,
        "delete",
        "policy",
    );
    // Resetting a value key needs usage, which needs the gateway: `policies.rs` checks
    // that route's record.
    step.routes.insert((
        "PUT".to_owned(),
        "/policies/usage-limits/{id}/entities/{entity_id}/reset".to_owned(),
    ));

    // Refused, failed and no-op requests leave no record.
    assert_eq!(
        step.no_record("POST", "/admin/workspaces", Some(json!({}))),
        400
    );
    assert_eq!(
        step.no_record(
            "PUT",
            "/integrations/openai-prod",
            Some(json!({"name": "OpenAI prod"}))
        ),
        200
    );
    assert_eq!(
        step.no_record("DELETE", "/admin/workspaces/nope", None),
        404
    );
    assert_eq!(
        step.no_record(
            "POST",
            "/providers",
            Some(json!({"name": "x", "integration_id": "openai-prod",
        "workspace_id": ws_slug, "usage_limits": {"type": "cost", "credit_limit": 2000}}))
        ),
        400
    );

    step.change(
        "DELETE",
        "/integrations/{slug}",
        "/integrations/openai-prod?force_delete=true",
        None,
        "delete",
        "integration",
    );
    let (_, r) = step.change(
        "DELETE",
        "/admin/workspaces/{id}",
        &format!("/admin/workspaces/{ws_id}"),
        Some(json!({"force_delete": true})),
        "delete",
        "workspace",
    );
    assert_eq!(r["changes"][0]["change"], "deleted");
    assert_eq!(field(&r, "workspace", "name").unwrap()["before"], "eng");

    // Every route that changes something was exercised.
    let changing: BTreeSet<(String, String)> = catalog::server::routes::all()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let missed: Vec<_> = changing.difference(&step.routes).collect();
    assert!(
        missed.is_empty(),
        "routes without an audit check: {missed:?}"
    );

    // The record of a deleted object outlives it, and no secret or mask is in any record.
    let (_, all) = api.get("/audit-logs?page_size=1000");
    let text = all.to_string();
    let masks: Vec<String> = [KEY_A, KEY_B, VK_KEY, HEADER_SECRET, key_secret.as_str()]
        .iter()
        .map(|k| catalog::crypto::mask(k))
        .collect();
    for secret in [KEY_A, KEY_B, VK_KEY, HEADER_SECRET, key_secret.as_str()] {
        assert!(!text.contains(secret), "a secret is in the audit log");
    }
    for mask in &masks {
        assert!(
            !text.contains(mask.as_str()),
            "a mask ({mask}) is in the audit log"
        );
    }
    let conn = rusqlite::Connection::open(w.db()).unwrap();
    let docs: Vec<String> = conn
        .prepare("SELECT doc FROM audit_log")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let stored = docs.join("\n");
    for secret in [KEY_A, KEY_B, VK_KEY, HEADER_SECRET, key_secret.as_str()] {
        assert!(
            !contains(stored.as_bytes(), secret),
            "a secret is stored in the audit log"
        );
    }
    for mask in &masks {
        assert!(
            !stored.contains(mask.as_str()),
            "a mask is stored in the audit log"
        );
    }
    assert!(!w.everything_seen().contains(KEY_B));
}

#[test]
fn records_are_append_only_and_retention_prunes_only_old_ones() {
    let w = World::new(Mode::Served);
    w.ok(&["workspaces", "create", "eng"]);
    let db = w.db();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let err = conn
        .execute("UPDATE audit_log SET action = 'forged'", [])
        .unwrap_err()
        .to_string();
    assert!(err.contains("append-only"), "{err}");
    let err = conn
        .execute("DELETE FROM audit_log", [])
        .unwrap_err()
        .to_string();
    assert!(err.contains("retention"), "{err}");
    // A record from two years ago, as an old catalog would hold it.
    conn.execute(
        "INSERT INTO audit_log(created_at, actor_type, action, resource_type, workspaces, objects, request_id, doc)
         SELECT '2024-01-01T00:00:00.000000Z', actor_type, action, resource_type, workspaces, objects, request_id,
                json_set(doc, '$.created_at', '2024-01-01T00:00:00.000000Z')
         FROM audit_log LIMIT 1",
        [],
    )
    .unwrap();
    drop(conn);
    let server = w.server.as_ref().unwrap();
    let home = w.home.path();
    // Too short a retention is refused before anything starts.
    let out = w.run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        db.to_str().unwrap(),
        "--audit-retention",
        "10m",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("--audit-retention") && out.stderr.contains("1h"),
        "{out:?}"
    );
    let second = Server::start_with(home, &server.db, &[("CATALOG_AUDIT_RETENTION", "365d")]);
    let api = Api {
        http: reqwest::blocking::Client::new(),
        base: second.url.clone(),
    };
    let mut pruned = Value::Null;
    for _ in 0..100 {
        let (_, page) = api.get("/audit-logs?action=prune");
        if page["total"] == 1 {
            pruned = page["data"][0].clone();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(pruned["actor"]["type"], "system", "{}", second.log());
    assert_eq!(
        field(&pruned, "audit_log", "deleted_records").unwrap()["after"],
        1
    );
    let (_, old) = api.get("/audit-logs?end_time=2025-01-01T00:00:00Z");
    assert_eq!(old["total"], 0, "{old}");
    let (_, kept) = api.get("/audit-logs?resource_type=workspace");
    assert_eq!(kept["total"], 1, "the recent record is kept: {kept}");
    assert!(
        second.log().contains("audit retention: deleted 1 record"),
        "{}",
        second.log()
    );
}

#[test]
fn workspace_keys_see_their_workspace_only_and_need_the_scope() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let eng = api.post("/admin/workspaces", json!({"name": "eng"})).1;
    let ops = api.post("/admin/workspaces", json!({"name": "ops"})).1;
    let (eng_slug, ops_slug) = (eng["slug"].as_str().unwrap(), ops["slug"].as_str().unwrap());
    api.post(
        "/integrations",
        json!({"name": "o", "slug": "o", "ai_provider_id": "openai", "key": KEY_A}),
    );
    // One request touching both workspaces: each sees only its own part of it.
    api.put("/integrations/o/workspaces", json!({"workspaces": [{"id": eng_slug, "enabled": true}, {"id": ops_slug, "enabled": true}]}));
    let key = |scopes: Value| {
        let (s, k) = api.post(
            "/api-keys/workspace/service",
            json!({"name": "auditor", "workspace_id": eng_slug, "scopes": scopes}),
        );
        assert_eq!(s, 200, "{k}");
        k["key"].as_str().unwrap().to_owned()
    };
    let as_key = |secret: &str, path: &str| {
        let res = reqwest::blocking::Client::new()
            .get(format!("{}{path}", api.base))
            .header("x-portkey-api-key", secret)
            .send()
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json::<Value>().unwrap())
    };
    let auditor = key(json!(["audit_logs.list"]));
    let (s, page) = as_key(&auditor, "/audit-logs?page_size=100");
    assert_eq!(s, 200, "{page}");
    let records = page["data"].as_array().unwrap();
    assert!(!records.is_empty());
    for r in records {
        for c in r["changes"].as_array().unwrap() {
            assert_eq!(
                c["workspace_id"], eng["id"],
                "a workspace key saw another workspace's change: {r}"
            );
        }
    }
    assert!(records
        .iter()
        .any(|r| r["action"] == "provision_workspaces"));
    assert!(!records.iter().any(|r| r["resource_slug"] == ops_slug));
    assert_error(
        as_key(&auditor, &format!("/audit-logs?workspace_id={ops_slug}")),
        403,
        "AB03",
        "another workspace",
    );
    let (_, all) = api.get("/audit-logs?resource_type=workspace&action=create");
    let ops_record = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource_slug"] == ops_slug)
        .unwrap()["id"]
        .clone();
    assert_eq!(
        as_key(&auditor, &format!("/audit-logs/{ops_record}")).0,
        404
    );
    assert_eq!(api.get(&format!("/audit-logs/{ops_record}")).0, 200);
    let lacking = key(json!(["completions.write"]));
    assert_error(
        as_key(&lacking, "/audit-logs"),
        403,
        "AB03",
        "audit_logs.list",
    );
    // Filters are checked.
    assert_error(
        api.get("/audit-logs?resource_type=widget"),
        400,
        "AB01",
        "resource_type",
    );
    assert_error(
        api.get("/audit-logs?start_time=yesterday"),
        400,
        "AB01",
        "start_time",
    );
    assert_error(api.get("/audit-logs?actorr=x"), 400, "AB01", "actorr");
    let (_, by_actor) = api.get(&format!(
        "/audit-logs?actor={}",
        urlencode("bootstrap admin")
    ));
    assert_eq!(by_actor["total"], all_count(&api));
}

fn urlencode(s: &str) -> String {
    s.replace(' ', "%20")
}

fn all_count(api: &Api) -> Value {
    api.get("/audit-logs").1["total"].clone()
}

#[test]
fn the_cli_lists_filters_and_shows_changes() {
    both(|w| {
        w.ok(&["workspaces", "create", "eng"]);
        w.ok(&[
            "integrations",
            "connect",
            "azure-prod",
            "--service",
            "openai",
            "--key-env",
            "PROVIDER_KEY",
            "--skip-models",
        ]);
        w.ok(&["integrations", "update", "azure-prod", "--budget", "100"]);
        let all = w.json(&["audit"]);
        let records = all.as_array().unwrap();
        assert_eq!(records.len(), 3, "{all}");
        let actor = if w.mode == Mode::Served {
            "api_key"
        } else {
            "embedded"
        };
        assert!(records.iter().all(|r| r["actor"]["type"] == actor), "{all}");
        let newest = &records[0];
        assert_eq!(newest["action"], "update");
        let id = newest["id"].to_string();

        let table = w
            .ok(&["audit", "--object", "integrations/azure-prod"])
            .stdout;
        assert_eq!(table.lines().count(), 2, "{table}");
        assert!(table.contains("usage_limits"), "{table}");
        let shown = w.ok(&["audit", "show", &id]).stdout;
        assert!(
            shown.contains("integration azure-prod (updated)"),
            "{shown}"
        );
        assert!(shown.contains("~ usage_limits: (none) → [{"), "{shown}");
        assert!(shown.contains("PUT /v1/integrations/azure-prod"), "{shown}");
        let created = w
            .ok(&["audit", "show", &records[1]["id"].to_string()])
            .stdout;
        assert!(created.contains("masked_key: (secret) set"), "{created}");
        assert!(
            !created.contains("sk-") && !created.contains("*****"),
            "{created}"
        );
        assert_eq!(
            w.json(&["audit", "--object", "workspaces/eng"])
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            w.json(&["audit", "--since", "1h", "--action", "create"])
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            w.json(&["audit", "--until", "2020-01-01"])
                .as_array()
                .unwrap()
                .len(),
            0
        );
        assert_eq!(
            w.json(&["audit", "--limit", "1"]).as_array().unwrap().len(),
            1
        );
        let actor_name = if w.mode == Mode::Served {
            "bootstrap admin"
        } else {
            "embedded"
        };
        assert_eq!(
            w.json(&["audit", "--actor", actor_name])
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            w.json(&["audit", "--actor", "someone"])
                .as_array()
                .unwrap()
                .len(),
            0
        );

        w.fails(&["audit", "show", "999"], 4, "audit record `999` not found");
        w.fails(
            &["audit", "--object", "widgets/x"],
            2,
            "integrations/azure-prod",
        );
        w.fails(&["audit", "--since", "yesterday"], 2, "7d");
        w.fails(&["audit", "--limit", "0"], 2, "--limit");
        w.fails(&["audit", "--action", "rename"], 2, "--action");
        w.fails(&["audit", "show", "x"], 2, "ID");
        assert!(!w.everything_seen().contains(crate::common::PROVIDER_KEY));
    });
}

#[test]
fn a_change_and_its_record_land_together() {
    // The record is written by the change's own transaction: two concurrent writers
    // each get exactly one record, in the order their changes committed.
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let ws = api.post("/admin/workspaces", json!({"name": "eng"})).1;
    let id = ws["id"].as_str().unwrap().to_owned();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (api, id) = (&api, &id);
            s.spawn(move || {
                for i in 0..10 {
                    let (st, body) = api.put(
                        &format!("/admin/workspaces/{id}"),
                        json!({"description": format!("{t}-{i}")}),
                    );
                    assert_eq!(st, 200, "{body}");
                }
            });
        }
    });
    let (_, page) = api.get("/audit-logs?resource_type=workspace&action=update&page_size=100");
    let records = page["data"].as_array().unwrap();
    assert_eq!(records.len(), 40);
    // Newest first, each record's "before" is the "after" of the one before it.
    for pair in records.windows(2) {
        let (newer, older) = (&pair[0], &pair[1]);
        assert_eq!(
            field(newer, "workspace", "description").unwrap()["before"],
            field(older, "workspace", "description").unwrap()["after"],
        );
    }
    let (_, current) = api.get(&format!("/admin/workspaces/{id}"));
    assert_eq!(
        current["description"],
        field(&records[0], "workspace", "description").unwrap()["after"]
    );
}

#[test]
fn a_deletion_records_everything_it_takes_with_it() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let ws = api.post("/admin/workspaces", json!({"name": "scratch"})).1;
    let (ws_id, ws_slug) = (ws["id"].as_str().unwrap(), ws["slug"].as_str().unwrap());
    api.post(
        "/integrations",
        json!({"name": "o", "slug": "o", "ai_provider_id": "openai", "key": KEY_A}),
    );
    let (_, r) = {
        api.put("/integrations/o/workspaces", json!({"workspaces": [{"id": ws_slug, "enabled": true, "usage_limits": [{"type": "cost", "credit_limit": 10}]}]}));
        newest(&api)
    };
    assert_eq!(r["resource_id"], api.get("/integrations/o").1["id"], "{r}");
    assert_eq!(r["resource_slug"], "o", "{r}");
    let (_, key) = api.post(
        "/api-keys/workspace/service",
        json!({"name": "doomed", "workspace_id": ws_slug, "scopes": ["completions.write"]}),
    );
    let (_, r) = newest(&api);
    assert_eq!(r["resource_slug"], "doomed", "{r}");
    // The integration goes with its access and the provider provisioning made.
    api.delete("/integrations/o?force_delete=true", None);
    let (_, r) = newest(&api);
    let kinds: BTreeSet<String> = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["resource_type"].as_str().unwrap(),
                c["change"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "integration deleted",
        "provider deleted",
        "integration_workspace deleted",
    ] {
        assert!(kinds.contains(expected), "{expected} missing: {r}");
    }
    // The workspace goes with its API key.
    api.delete(
        &format!("/admin/workspaces/{ws_id}"),
        Some(json!({"force_delete": true})),
    );
    let (_, r) = newest(&api);
    let deleted_key = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["resource_type"] == "api_key");
    assert_eq!(
        deleted_key.map(|c| c["resource_id"].clone()),
        Some(key["id"].clone()),
        "{r}"
    );
    let (_, by_key) = api.get(&format!(
        "/audit-logs?resource_type=api_key&resource_id={}",
        key["id"].as_str().unwrap()
    ));
    assert_eq!(
        by_key["total"], 2,
        "its creation and its deletion: {by_key}"
    );
}
