//! Governance holes: settings that must hold on every path, limits that must always fit,
//! names that must display as what they are, and errors that never repeat a secret.

use crate::common::{assert_error, Api, Mode, World};
use reqwest::blocking::Client;
use serde_json::{json, Value};

fn as_key(api: &Api, key: &str, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let res = Client::new()
        .request(method, format!("{}{path}", api.base))
        .header("x-portkey-api-key", key)
        .json(&body)
        .send()
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().unwrap_or(Value::Null))
}

fn workspace(api: &Api, name: &str) -> String {
    let (s, ws) = api.post("/admin/workspaces", json!({ "name": name }));
    assert_eq!(s, 200, "{ws}");
    ws["slug"].as_str().unwrap().to_owned()
}

#[test]
fn workspace_keys_store_no_credentials_when_the_organisation_says_so() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let ws = workspace(&api, "eng");
    let (_, key) = api.post(
        "/api-keys/workspace/service",
        json!({"name": "wk", "workspace_id": ws, "scopes": ["virtual_keys.create", "virtual_keys.list", "virtual_keys.update", "workspace_integrations.create", "workspace_integrations.update"]}),
    );
    let key = key["key"].as_str().unwrap().to_owned();
    let vk = |name: &str| {
        as_key(
            &api,
            &key,
            reqwest::Method::POST,
            "/virtual-keys",
            json!({"name": name, "slug": name, "provider": "openai", "key": "sk-legacy-0123456789"}),
        )
    };
    assert_eq!(vk("allowed").0, 200);
    api.put(
        "/organisation/settings",
        json!({"allow_workspace_integrations": false}),
    );
    assert_error(vk("refused"), 403, "AB03", "allow_workspace_integrations");
    assert_error(
        as_key(
            &api,
            &key,
            reqwest::Method::POST,
            "/integrations",
            json!({"name": "mine", "ai_provider_id": "groq", "key": "gsk-0123456789abcdef"}),
        ),
        403,
        "AB03",
        "allow_workspace_integrations",
    );
    let (_, list) = api.get(&format!("/virtual-keys?workspace_id={ws}"));
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    // Nor by changing credentials already stored: a virtual key's key, a workspace
    // integration's key or configuration, a custom model's headers.
    let put = |path: &str, body: Value| as_key(&api, &key, reqwest::Method::PUT, path, body);
    assert_error(
        put(
            "/virtual-keys/allowed",
            json!({"key": "sk-new-credential-0123"}),
        ),
        403,
        "AB03",
        "allow_workspace_integrations",
    );
    api.put(
        "/organisation/settings",
        json!({"allow_workspace_integrations": true}),
    );
    let (_, own) = as_key(
        &api,
        &key,
        reqwest::Method::POST,
        "/integrations",
        json!({"name": "own", "ai_provider_id": "openai", "key": "sk-own-0123456789"}),
    );
    let own = own["slug"].as_str().unwrap().to_owned();
    api.put(
        "/organisation/settings",
        json!({"allow_workspace_integrations": false}),
    );
    for (path, body) in [
        (
            format!("/integrations/{own}"),
            json!({"key": "sk-new-credential-0123"}),
        ),
        (
            format!("/integrations/{own}"),
            json!({"configurations": {"openai_organization": "org-x"}}),
        ),
        (
            format!("/integrations/{own}/models"),
            json!({"models": [{"slug": "my-model", "enabled": true, "custom": true,
                "configurations": {"custom_host": "https://llm.internal/v1", "custom_headers": {"authorization": "Bearer x"}}}]}),
        ),
    ] {
        assert_error(
            put(&path, body),
            403,
            "AB03",
            "allow_workspace_integrations",
        );
    }
}

#[test]
fn providers_always_fit_their_access_even_while_it_is_revoked() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let ws = workspace(&api, "eng");
    api.post(
        "/integrations",
        json!({"name": "openai-prod", "ai_provider_id": "openai", "key": "sk-fit-0123456789"}),
    );
    let grant = |rpm: u64| {
        api.put(
            "/integrations/openai-prod/workspaces",
            json!({"workspaces": [{"id": ws, "enabled": true,
                "rate_limits": [{"type": "requests", "unit": "rpm", "value": rpm}]}]}),
        )
    };
    assert_eq!(grant(1000).0, 200);
    let (s, p) = api.post(
        "/providers",
        json!({"name": "batch", "slug": "batch", "integration_id": "openai-prod", "workspace_id": ws,
               "rate_limits": [{"type": "requests", "unit": "rpm", "value": 500}]}),
    );
    assert_eq!(s, 200, "{p}");
    // Revoked: the provider is disabled, and still cannot be loosened past the access.
    let (s, _) = api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": ws, "enabled": false}]}),
    );
    assert_eq!(s, 200);
    assert_error(
        api.put(
            &format!("/providers/batch?workspace_id={ws}"),
            json!({"rate_limits": [{"type": "requests", "unit": "rpm", "value": 100000}]}),
        ),
        400,
        "AB01",
        "looser",
    );
    // Re-granting (or tightening) below a provider's limits names the provider.
    assert_error(grant(5), 409, "AB07", "`@batch`");
    let (_, access) = api.get("/integrations/openai-prod/workspaces");
    assert_eq!(access["workspaces"][0]["enabled"], false, "nothing changed");
    let (s, _) = api.put(
        &format!("/providers/batch?workspace_id={ws}"),
        json!({"rate_limits": [{"type": "requests", "unit": "rpm", "value": 5}]}),
    );
    assert_eq!(s, 200);
    assert_eq!(grant(5).0, 200);
    let (_, p) = api.get(&format!("/providers/batch?workspace_id={ws}"));
    assert_eq!(p["rate_limits"][0]["value"], 5);
    // Revoking and re-granting without limits keeps the limits the access had.
    for enabled in [false, true] {
        let (s, _) = api.put(
            "/integrations/openai-prod/workspaces",
            json!({"workspaces": [{"id": ws, "enabled": enabled}]}),
        );
        assert_eq!(s, 200);
    }
    let (_, access) = api.get("/integrations/openai-prod/workspaces");
    assert_eq!(access["workspaces"][0]["enabled"], true);
    assert_eq!(
        access["workspaces"][0]["rate_limits"][0]["value"], 5,
        "{access}"
    );
}

#[test]
fn names_and_descriptions_are_bounded_and_printable() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let cases = [
        (json!({"name": "x".repeat(256)}), "`name`", "at most 255"),
        (json!({"name": "inv\u{202E}gpj.exe"}), "`name`", "U+202E"),
        (json!({"name": "two\nlines"}), "`name`", "U+000A"),
        (json!({"name": "nul\u{0}"}), "`name`", "U+0000"),
        (
            json!({"name": "ok", "description": "d".repeat(1_900_000)}),
            "`description`",
            "at most 1024",
        ),
        (json!({"name": "   "}), "`name`", "empty"),
    ];
    for (body, field, needle) in cases {
        let (s, e) = api.post("/admin/workspaces", body);
        assert_eq!(s, 400, "{e}");
        let m = e["data"]["message"].as_str().unwrap();
        assert!(m.contains(field) && m.contains(needle), "{m}");
    }
    // Elsewhere too: integrations, providers, keys.
    assert_error(
        api.post(
            "/integrations",
            json!({"name": "a\u{2066}b", "ai_provider_id": "openai", "key": "sk-0123456789abcdef"}),
        ),
        400,
        "AB01",
        "`name`",
    );
    assert_error(
        api.post(
            "/api-keys/organisation/service",
            json!({"name": "k", "description": "bad\u{202E}", "scopes": ["workspaces.read"]}),
        ),
        400,
        "AB01",
        "`description`",
    );
    assert_eq!(api.get("/admin/workspaces").1["total"], 0);
    assert_eq!(
        api.post("/admin/workspaces", json!({"name": "Équipe données 🚀"}))
            .0,
        200
    );
}

#[test]
fn errors_never_repeat_a_value_that_may_be_secret() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let secret = "4815162342-secret";
    let bodies = [
        json!({"name": "a", "ai_provider_id": "openai", "key": 4815162342u64}),
        json!({"name": "a", "ai_provider_id": "openai", "key": ["4815162342-secret"]}),
        json!({"name": "b", "ai_provider_id": "bedrock", "configurations": {
            "aws_auth_type": "accessKey", "aws_region": "us-east-1",
            "aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": 4815162342u64}}),
        json!({"name": "c", "ai_provider_id": "azure-openai", "key": "k-0123456789abc", "configurations": {
            "azure_auth_mode": "4815162342-secret", "azure_resource_name": "r"}}),
        json!({"name": "d", "ai_provider_id": "custom", "configurations": {
            "custom_host": "4815162342-secret"}}),
        json!({"name": "e", "ai_provider_id": "custom", "configurations": {
            "custom_host": "https://llm.internal/v1", "custom_headers": {"x-api-key": 4815162342u64}}}),
    ];
    for body in bodies {
        let (s, e) = api.post("/integrations", body.clone());
        assert_eq!(s, 400, "{body} -> {e}");
        let m = e["data"]["message"].as_str().unwrap();
        assert!(!m.contains("4815162342"), "{m}");
        assert!(!m.contains(secret));
    }
    assert!(!w.everything_seen().contains("4815162342"));
}

#[test]
fn bodies_headers_and_numbers_at_the_edges() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    // Data after the JSON value is refused, not ignored.
    assert_error(
        api.call(
            reqwest::Method::POST,
            "/admin/workspaces",
            Some(r#"{"name": "tg"} GARBAGE"#),
        ),
        400,
        "AB01",
        "after its JSON value",
    );
    assert_error(
        api.call(
            reqwest::Method::POST,
            "/admin/workspaces",
            Some(r#"{"name": "x"} {}"#),
        ),
        400,
        "AB01",
        "after its JSON value",
    );
    // Invisible separators are not names.
    for bad in ["a\u{2028}b", "a\u{FEFF}b", "a\u{200B}b"] {
        assert_error(
            api.post("/admin/workspaces", json!({ "name": bad })),
            400,
            "AB01",
            "`name`",
        );
    }
    // Budgets have a ceiling that every client decodes exactly.
    assert_error(
        api.post(
            "/admin/workspaces",
            json!({"name": "big", "usage_limits": [{"type": "cost", "credit_limit": 1e20}]}),
        ),
        400,
        "AB01",
        "at most",
    );
    // Header values that would inject headers of their own are refused, without echo.
    let (s, e) = api.post(
        "/integrations",
        json!({"name": "c", "ai_provider_id": "custom", "configurations": {
            "custom_host": "https://llm.internal/v1",
            "custom_headers": {"x-api-key": "secret-value\r\nx-injected: 1"}}}),
    );
    assert_eq!(s, 400, "{e}");
    let m = e["data"]["message"].as_str().unwrap();
    assert!(
        m.contains("line breaks") && !m.contains("secret-value"),
        "{m}"
    );
    assert_error(
        api.post(
            "/integrations",
            json!({"name": "c", "ai_provider_id": "custom", "configurations": {
                "custom_host": "https://llm.internal/v1", "custom_headers": {"bad name": "v"}}}),
        ),
        400,
        "AB01",
        "header name",
    );
    // Model slugs are names too.
    api.post(
        "/integrations",
        json!({"name": "m", "ai_provider_id": "openai", "key": "sk-models-0123456789"}),
    );
    assert_error(
        api.put(
            "/integrations/m/models",
            json!({"models": [{"slug": "m\u{202E}1", "enabled": true, "is_custom": true}]}),
        ),
        400,
        "AB01",
        "`models[0].slug`",
    );
    // No limits in global access is null too.
    api.post(
        "/integrations",
        json!({"name": "g", "ai_provider_id": "openai", "key": "sk-global-0123456789"}),
    );
    let (s, _) = api.put(
        "/integrations/g/workspaces",
        json!({"workspaces": [], "global_workspace_access": {"enabled": true, "usage_limits": [], "rate_limits": []}}),
    );
    assert_eq!(s, 200);
    let (_, access) = api.get("/integrations/g/workspaces");
    assert!(
        access["global_workspace_access"]["usage_limits"].is_null(),
        "{access}"
    );
}
