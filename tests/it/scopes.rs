//! API-key scopes are enforced on every route, and no key can grant more than it holds.

use crate::common::{assert_error, Api, Mode, World};
use reqwest::blocking::Client;
use serde_json::{json, Value};

/// Calls the served catalog with another key.
pub struct As<'a> {
    pub api: &'a Api,
    pub key: String,
}

impl As<'_> {
    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = Client::new()
            .request(method, format!("{}{path}", self.api.base))
            .header("x-portkey-api-key", &self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().unwrap();
        let status = res.status().as_u16();
        let value = res.json().unwrap_or(Value::Null);
        crate::common::assert_wire_numbers(&value, path);
        (status, value)
    }
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None)
    }
    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body))
    }
    pub fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body))
    }
    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None)
    }
}

/// Creates an API key with the admin key; the key to call with, and its id.
pub fn key<'a>(api: &'a Api, path: &str, body: Value) -> (As<'a>, String) {
    let (s, created) = api.post(path, body);
    assert_eq!(s, 200, "{created}");
    (
        As {
            api,
            key: created["key"].as_str().unwrap().to_owned(),
        },
        created["id"].as_str().unwrap().to_owned(),
    )
}

fn setup() -> (World, Api, String) {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let (s, ws) = api.post("/admin/workspaces", json!({"name": "eng"}));
    assert_eq!(s, 200);
    let ws = ws["slug"].as_str().unwrap().to_owned();
    let (s, body) = api.post(
        "/integrations",
        json!({"name": "openai-prod", "ai_provider_id": "openai", "key": "sk-scopes-0123456789"}),
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": ws, "enabled": true}]}),
    );
    assert_eq!(s, 200, "{body}");
    (w, api, ws)
}

#[test]
fn a_completions_only_workspace_key_can_do_nothing_else() {
    let (_w, api, ws) = setup();
    let (k, own_id) = key(
        &api,
        "/api-keys/workspace/service",
        json!({"name": "app", "scopes": ["completions.write"], "workspace_id": ws}),
    );
    assert_eq!(k.get("/models").0, 200);
    assert_error(
        k.post(
            "/api-keys/workspace/service",
            json!({"name": "mint", "scopes": ["completions.write"]}),
        ),
        403,
        "AB03",
        "workspace_service_api_keys.create",
    );
    assert_error(
        k.put(
            &format!("/api-keys/{own_id}"),
            json!({"scopes": ["completions.write", "providers.delete"]}),
        ),
        403,
        "AB03",
        "workspace_service_api_keys.update",
    );
    assert_error(
        k.put(&format!("/api-keys/{own_id}"), json!({"expires_at": null})),
        403,
        "AB03",
        "workspace_service_api_keys.update",
    );
    assert_error(
        k.post(
            "/integrations",
            json!({"name": "mine", "ai_provider_id": "groq", "key": "gsk-0123456789abcdef"}),
        ),
        403,
        "AB03",
        "workspace_integrations.create",
    );
    assert_error(
        k.delete("/providers/openai-prod"),
        403,
        "AB03",
        "providers.delete",
    );
    // The contract: workspace keys may not list workspaces, whatever they hold.
    assert_error(k.get("/admin/workspaces"), 403, "AB03", "workspace");
    // The provider is still there.
    assert_eq!(
        api.get(&format!("/providers/openai-prod?workspace_id={ws}"))
            .0,
        200
    );
}

#[test]
fn an_organisation_key_with_one_scope_cannot_escalate() {
    let (_w, api, ws) = setup();
    let (k, _) = key(
        &api,
        "/api-keys/organisation/service",
        json!({"name": "reader", "scopes": ["workspaces.read"]}),
    );
    assert_eq!(k.get(&format!("/admin/workspaces/{ws}")).0, 200);
    assert_error(k.get("/admin/workspaces"), 403, "AB03", "workspaces.list");
    assert_error(
        k.post(
            "/api-keys/organisation/service",
            json!({"name": "root", "scopes": ["workspaces.read"]}),
        ),
        403,
        "AB03",
        "organisation_service_api_keys.create",
    );
    assert_error(
        k.call(
            reqwest::Method::DELETE,
            &format!("/admin/workspaces/{ws}"),
            Some(json!({"force_delete": true})),
        ),
        403,
        "AB03",
        "workspaces.delete",
    );
    assert_eq!(
        api.get(&format!("/admin/workspaces/{ws}")).0,
        200,
        "still there"
    );
}

#[test]
fn a_key_grants_only_what_it_holds_and_never_outlives_itself() {
    let (_w, api, ws) = setup();
    let (minter, minter_id) = key(
        &api,
        "/api-keys/workspace/service",
        json!({"name": "minter", "workspace_id": ws, "expires_at": "2030-01-01T00:00:00Z",
               "scopes": ["completions.write", "workspace_service_api_keys.create", "workspace_service_api_keys.update"]}),
    );
    let (s, body) = minter.post(
        "/api-keys/workspace/service",
        json!({"name": "child", "scopes": ["completions.write"], "expires_at": "2029-01-01T00:00:00Z"}),
    );
    assert_eq!(s, 200, "{body}");
    let child = body["id"].as_str().unwrap().to_owned();
    assert_error(
        minter.post(
            "/api-keys/workspace/service",
            json!({"name": "child2", "scopes": ["providers.delete"], "expires_at": "2029-01-01T00:00:00Z"}),
        ),
        403,
        "AB03",
        "cannot grant the scope `providers.delete`",
    );
    // No expiry, or a later one, would outlive the minting key.
    assert_error(
        minter.post(
            "/api-keys/workspace/service",
            json!({"name": "child3", "scopes": ["completions.write"]}),
        ),
        403,
        "AB03",
        "expires at 2030-01-01",
    );
    // Nor can it extend its own expiry, drop it, or widen its own scopes.
    for body in [
        json!({"expires_at": "2031-01-01T00:00:00Z"}),
        json!({"expires_at": null}),
        json!({"scopes": ["completions.write", "workspace_service_api_keys.create", "workspace_service_api_keys.update", "workspace_service_api_keys.delete"]}),
    ] {
        let (s, got) = minter.put(&format!("/api-keys/{minter_id}"), body.clone());
        assert_eq!(s, 403, "{body} -> {got}");
    }
    // Shortening is fine.
    let (s, _) = minter.put(
        &format!("/api-keys/{child}"),
        json!({"expires_at": "2028-01-01T00:00:00Z"}),
    );
    assert_eq!(s, 200);
    let (_, got) = api.get(&format!("/api-keys/{minter_id}"));
    assert_eq!(got["expires_at"], "2030-01-01T00:00:00Z");
    assert_eq!(got["scopes"].as_array().unwrap().len(), 3);
    // A misspelt scope is named, with the closest real one.
    assert_error(
        api.post(
            "/api-keys/organisation/service",
            json!({"name": "typo", "scopes": ["workspace.list"]}),
        ),
        400,
        "AB01",
        "did you mean `workspaces.list`",
    );
}

#[test]
fn every_route_refuses_a_key_without_its_scope_and_whoami_describes_keys() {
    let (_w, api, ws) = setup();
    let (k, _) = key(
        &api,
        "/api-keys/organisation/service",
        json!({"name": "logs", "scopes": ["logs.view"]}),
    );
    for route in catalog::server::routes::all() {
        let path = route
            .path
            .replace("{type}", "workspace")
            .replace("{sub_type}", "service")
            .replace(['{', '}'], "");
        let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
        let (status, body) = k.call(method, &path, Some(json!({})));
        if matches!(
            route.requires,
            catalog::server::scopes::Requirement::Authenticated
        ) {
            assert_ne!(status, 403, "{} {}: {body}", route.method, route.path);
        } else {
            assert_eq!(status, 403, "{} {}: {body}", route.method, route.path);
            assert_eq!(body["data"]["errorCode"], "AB03");
            assert!(body["data"]["message"].as_str().unwrap().contains("scope"));
        }
    }
    // The bootstrap admin key holds every scope.
    let (s, me) = api.get("/whoami");
    assert_eq!(s, 200);
    assert_eq!(me["type"], "organisation-service");
    assert_eq!(
        me["scopes"].as_array().unwrap().len(),
        catalog::server::scopes::all_scopes().len()
    );
    assert!(me["workspace_id"].is_null());
    let (wk, wk_id) = key(
        &api,
        "/api-keys/workspace/service",
        json!({"name": "app", "scopes": ["completions.write"], "workspace_id": ws}),
    );
    let (s, me) = wk.get("/whoami");
    assert_eq!(s, 200);
    assert_eq!(me["id"], wk_id);
    assert_eq!(me["type"], "workspace-service");
    assert_eq!(me["workspace_slug"], ws.as_str());
    assert_eq!(me["scopes"], json!(["completions.write"]));
    assert!(
        !me.to_string().contains(&wk.key),
        "the key itself is never echoed"
    );
}

#[test]
fn the_readme_lists_every_route_with_its_scopes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- scopes:start -->\n", "<!-- scopes:end -->");
    let a = readme.find(start).expect("scopes:start marker") + start.len();
    let b = readme.find(end).expect("scopes:end marker");
    let table = catalog::server::routes::scope_table_markdown();
    if std::env::var_os("CATALOG_UPDATE_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..a], &readme[b..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        &readme[a..b],
        table,
        "README's scope table is stale: run CATALOG_UPDATE_README=1 cargo test --test it scopes"
    );
}

#[test]
fn no_key_can_strip_delete_or_expire_a_more_powerful_key_and_an_admin_always_remains() {
    let (_w, api, ws) = setup();
    let (_, all) = api.get("/api-keys");
    let admin_id = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["creation_mode"] == "auto")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (keys_only, _) = key(
        &api,
        "/api-keys/organisation/service",
        json!({"name": "keys-only", "scopes": ["organisation_service_api_keys.delete", "organisation_service_api_keys.update", "organisation_service_api_keys.list"]}),
    );
    assert_error(
        keys_only.delete(&format!("/api-keys/{admin_id}")),
        403,
        "AB03",
        "does not hold",
    );
    for body in [
        json!({"scopes": ["organisation_service_api_keys.update"]}),
        json!({"expires_at": "2021-01-01T00:00:00Z"}),
        json!({"description": "harmless?"}),
    ] {
        let (s, e) = keys_only.put(&format!("/api-keys/{admin_id}"), body.clone());
        assert_eq!(s, 403, "{body} -> {e}");
    }
    // The only full admin cannot narrow or expire itself either.
    assert_error(
        api.put(
            &format!("/api-keys/{admin_id}"),
            json!({"scopes": ["logs.list"]}),
        ),
        409,
        "AB07",
        "last admin",
    );
    assert_error(
        api.put(
            &format!("/api-keys/{admin_id}"),
            json!({"expires_at": "2021-01-01T00:00:00Z"}),
        ),
        409,
        "AB07",
        "last admin",
    );
    assert_eq!(api.get("/whoami").0, 200);
    // Inside a workspace: a key holding only the update scope cannot strip a stronger key.
    let (strong, strong_id) = key(
        &api,
        "/api-keys/workspace/service",
        json!({"name": "strong", "workspace_id": ws, "scopes": ["completions.write", "providers.list", "workspace_service_api_keys.update"]}),
    );
    let (weak, _) = key(
        &api,
        "/api-keys/workspace/service",
        json!({"name": "weak", "workspace_id": ws, "scopes": ["workspace_service_api_keys.update"]}),
    );
    assert_error(
        weak.put(
            &format!("/api-keys/{strong_id}"),
            json!({"scopes": ["workspace_service_api_keys.update"]}),
        ),
        403,
        "AB03",
        "does not hold",
    );
    assert_eq!(
        strong.get("/whoami").1["scopes"].as_array().unwrap().len(),
        3
    );
}
