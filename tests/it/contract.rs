//! The HTTP contract of `catalog serve`, checked with a plain HTTP client as an
//! independent Admin API client would see it.

use crate::common::{assert_error, Api, Mode, World, ADMIN_KEY};
use reqwest::blocking::Client;
use serde_json::{json, Value};

#[test]
fn envelopes_paging_and_auth() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    for i in 0..5 {
        let (s, ws) = api.post("/admin/workspaces", json!({"name": format!("team {i}"), "defaults": {"metadata": {"env": "prod"}}, "usage_limits": [{"type": "cost", "credit_limit": 100, "alert_threshold": 80, "periodic_reset": "monthly"}], "rate_limits": [{"type": "requests", "unit": "rpm", "value": 60}]}));
        assert_eq!(s, 200, "{ws}");
        assert_eq!(ws["defaults"]["metadata"]["env"], "prod");
        assert_eq!(ws["usage_limits"][0]["credit_limit"], 100.0);
    }
    let (s, page) = api.get("/admin/workspaces?current_page=1&page_size=2");
    assert_eq!(s, 200);
    assert_eq!(page["object"], "list");
    assert_eq!(page["total"], 5);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["data"][0]["name"], "team 2");
    // The SDK's camelCase paging.
    let (_, page) = api.get("/admin/workspaces?currentPage=2&pageSize=2");
    assert_eq!(page["data"][0]["name"], "team 4");
    // Filters.
    let (_, exact) = api.get("/admin/workspaces?exact_name=team%203");
    assert_eq!(exact["total"], 1);
    let (_, partial) = api.get("/admin/workspaces?name=team");
    assert_eq!(partial["total"], 5);
    assert_error(
        api.get("/admin/workspaces?page_size=abc"),
        400,
        "AB01",
        "page_size",
    );

    // Bearer auth works too; no key and a bad key are 401 AB05.
    let res = Client::new()
        .get(format!("{}/admin/workspaces", api.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let res = Client::new()
        .get(format!("{}/admin/workspaces", api.base))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let body: Value = res.json().unwrap();
    assert_eq!(body["data"]["errorCode"], "AB05");
    assert_error(api.get("/no/such/route"), 404, "AB08", "route");

    // Request log: one line per request with method, path, status and duration; no bodies.
    let log = w.server.as_ref().unwrap().log();
    assert!(
        log.lines()
            .any(|l| l.contains("POST /v1/admin/workspaces 200") && l.ends_with("ms")),
        "{log}"
    );
    assert!(!log.contains("prod"), "bodies must not be logged: {log}");
}

#[test]
fn validation_names_the_field() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let bad = |body: &str| api.call(reqwest::Method::POST, "/admin/workspaces", Some(body));
    assert_error(bad("{not json"), 400, "AB01", "not valid JSON");
    assert_error(bad(r#"{"description": "x"}"#), 400, "AB01", "name");
    assert_error(
        bad(r#"{"name": "a", "usage_limits": [{"type": "dollars", "credit_limit": 5}]}"#),
        400,
        "AB01",
        "usage_limits[0].type",
    );
    assert_error(
        bad(r#"{"name": "a", "usage_limits": [{"type": "cost", "credit_limit": 0}]}"#),
        400,
        "AB01",
        "usage_limits[0].credit_limit",
    );
    assert_error(
        bad(
            r#"{"name": "a", "usage_limits": [{"type": "cost", "credit_limit": 10, "alert_threshold": 10}]}"#,
        ),
        400,
        "AB01",
        "alert_threshold",
    );
    assert_error(
        bad(
            r#"{"name": "a", "rate_limits": [{"type": "requests", "unit": "fortnightly", "value": 1}]}"#,
        ),
        400,
        "AB01",
        "rate_limits[0].unit",
    );
    // A contract field that is not implemented is refused, not dropped.
    assert_error(
        bad(r#"{"name": "a", "users": ["u1"]}"#),
        400,
        "AB01",
        "`users` is part of the Admin API but this server does not implement it",
    );
    // An unknown field is ignored.
    let (s, _) = bad(r#"{"name": "fine", "some_extension": 1}"#);
    assert_eq!(s, 200);

    let integ = |body: Value| api.post("/integrations", body);
    assert_error(
        integ(
            json!({"name": "x", "ai_provider_id": "openai", "key": "k-1234567890123", "slug": "bad slug"}),
        ),
        400,
        "AB01",
        "slug",
    );
    assert_error(
        integ(json!({"name": "x", "ai_provider_id": "nope", "key": "k"})),
        400,
        "AB01",
        "ai_provider_id",
    );
    assert_error(
        integ(json!({"name": "x", "ai_provider_id": "openai"})),
        400,
        "AB01",
        "`key` is required",
    );
    assert_error(
        integ(
            json!({"name": "x", "ai_provider_id": "bedrock", "configurations": {"aws_auth_type": "accessKey", "aws_region": "us-east-1"}}),
        ),
        400,
        "AB01",
        "configurations.aws_access_key_id",
    );
    assert_error(
        integ(
            json!({"name": "x", "ai_provider_id": "vertex-ai", "configurations": {"vertex_auth_type": "magic", "vertex_region": "us-central1"}}),
        ),
        400,
        "AB01",
        "vertex_auth_type",
    );
    assert_error(
        integ(json!({"name": "x", "ai_provider_id": "openai", "key": "k", "secret_mappings": []})),
        400,
        "AB01",
        "secret_mappings",
    );
    assert_error(
        integ(
            json!({"name": "x", "ai_provider_id": "openai", "key": "k", "pricing_adjustments": {"multiplier": {"default": -1}}}),
        ),
        400,
        "AB01",
        "pricing_adjustments.multiplier.default",
    );
    assert_error(
        api.post(
            "/api-keys/organisation/service",
            json!({"name": "k", "scopes": []}),
        ),
        400,
        "AB01",
        "scopes",
    );
    assert_error(
        api.post(
            "/api-keys/organisation/user",
            json!({"name": "k", "scopes": ["a.b"]}),
        ),
        400,
        "AB01",
        "organisation/user",
    );
    assert_error(
        api.post(
            "/api-keys/workspace/service",
            json!({"name": "k", "scopes": ["a.b"]}),
        ),
        400,
        "AB01",
        "workspace_id",
    );
}

#[test]
fn integrations_create_read_update_delete() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let (s, created) = api.post(
        "/integrations",
        json!({"name": "Bedrock", "ai_provider_id": "bedrock", "configurations": {
            "aws_auth_type": "accessKey", "aws_region": "us-east-1",
            "aws_access_key_id": "AKIAEXAMPLEKEYID1", "aws_secret_access_key": "bedrock-secret-value-xyz"}}),
    );
    assert_eq!(s, 200, "{created}");
    assert_eq!(
        created.as_object().unwrap().len(),
        2,
        "create answers {{id, slug}}: {created}"
    );
    assert_eq!(created["slug"], "bedrock");
    let (_, got) = api.get("/integrations/bedrock");
    let conf = &got["configurations"];
    assert_eq!(conf["aws_region"], "us-east-1");
    assert!(conf.get("aws_secret_access_key").is_none());
    assert!(conf["masked_aws_secret_access_key"]
        .as_str()
        .unwrap()
        .contains("*****"));
    assert!(!got.to_string().contains("bedrock-secret-value-xyz"));

    // Partial update: only the region changes, the secret stays sealed and valid.
    let (s, _) = api.put(
        "/integrations/bedrock",
        json!({"configurations": {"aws_region": "eu-west-1"}}),
    );
    assert_eq!(s, 200);
    let (_, got) = api.get("/integrations/bedrock");
    assert_eq!(got["configurations"]["aws_region"], "eu-west-1");
    assert_eq!(
        got["configurations"]["masked_aws_secret_access_key"],
        conf["masked_aws_secret_access_key"]
    );
    // `null` clears a nullable field.
    api.put("/integrations/bedrock", json!({"description": "d"}));
    api.put("/integrations/bedrock", json!({"description": null}));
    assert!(api.get("/integrations/bedrock").1["description"].is_null());
    // Slugs derived from names avoid collisions.
    let (_, again) = api.post("/integrations", json!({"name": "Bedrock", "ai_provider_id": "bedrock", "configurations": {"aws_auth_type": "assumedRole", "aws_region": "us-east-1", "aws_role_arn": "arn:aws:iam::123:role/x"}}));
    assert!(
        again["slug"].as_str().unwrap().starts_with("bedrock-"),
        "{again}"
    );
    // An explicit duplicate slug is 409 AB07.
    assert_error(
        api.post(
            "/integrations",
            json!({"name": "x", "slug": "bedrock", "ai_provider_id": "openai", "key": "k"}),
        ),
        409,
        "AB07",
        "bedrock",
    );
    // List by type.
    let (_, ws) = api.post("/admin/workspaces", json!({"name": "eng"}));
    let (s, _) = api.post("/integrations", json!({"name": "team", "ai_provider_id": "groq", "key": "gsk-0123456789abc", "workspace_id": ws["slug"]}));
    assert_eq!(s, 200);
    assert_eq!(api.get("/integrations?type=organisation").1["total"], 2);
    assert_eq!(api.get("/integrations?type=workspace").1["total"], 1);
    assert_eq!(api.get("/integrations?type=all").1["total"], 3);
    assert_error(api.get("/integrations?type=galaxy"), 400, "AB01", "type");
    // Workspace delete: 409 AB07 naming the dependent, then cascade with force_delete.
    let path = format!("/admin/workspaces/{}", ws["id"].as_str().unwrap());
    assert_error(
        api.delete(&path, Some(json!({"name": "eng"}))),
        409,
        "AB07",
        "`team`",
    );
    // The Python SDK sends workspace_id in the body: ignored.
    let (s, _) = api.delete(
        &path,
        Some(json!({"name": "eng", "force_delete": true, "workspace_id": ws["id"]})),
    );
    assert_eq!(s, 200);
    assert_eq!(api.get("/integrations?type=workspace").1["total"], 0);
    assert_error(api.get(&path), 404, "AB08", "not found");
    let (s, _) = api.delete("/integrations/bedrock", None);
    assert_eq!(s, 200);
    assert_error(api.get("/integrations/bedrock"), 404, "AB08", "bedrock");
}

#[test]
fn api_keys_are_shown_once_and_stored_hashed() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let (_, ws) = api.post("/admin/workspaces", json!({"name": "eng"}));
    let (s, created) = api.post(
        "/api-keys/workspace/service",
        json!({"name": "ci", "scopes": ["completions.write", "models.list"], "workspace_id": ws["slug"],
               "rate_limits": [{"type": "requests", "unit": "rps", "value": 5}], "usage_limits": {"type": "cost", "credit_limit": 50}}),
    );
    assert_eq!(s, 200, "{created}");
    assert_eq!(created["object"], "api-key");
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, got) = api.get(&format!("/api-keys/{id}"));
    assert_eq!(got["type"], "workspace-service");
    assert_eq!(got["workspace_id"], ws["id"]);
    assert_ne!(got["key"].as_str().unwrap(), key);
    assert_eq!(got["scopes"], json!(["completions.write", "models.list"]));
    assert!(
        !crate::common::contains(&crate::common::database_bytes(&w.db()), &key),
        "the key is stored only as a hash"
    );

    let (s, _) = api.put(
        &format!("/api-keys/{id}"),
        json!({"name": "ci-2", "scopes": ["models.list"], "usage_limits": null}),
    );
    assert_eq!(s, 200);
    let (_, got) = api.get(&format!("/api-keys/{id}"));
    assert_eq!(got["name"], "ci-2");
    assert_eq!(got["scopes"], json!(["models.list"]));
    assert!(got["usage_limits"].is_null());
    assert_eq!(got["rate_limits"][0]["unit"], "rps");
    assert_error(
        api.put(
            &format!("/api-keys/{id}"),
            json!({"alert_emails": ["a@b.c"]}),
        ),
        400,
        "AB01",
        "alert_emails",
    );

    // The new key authenticates, and only within its workspace.
    let as_key = |path: &str| {
        Client::new()
            .get(format!("{}{path}", api.base))
            .header("x-portkey-api-key", &key)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // It holds `models.list` only: the models it may call, nothing else.
    assert_eq!(as_key("/models"), 200);
    assert_eq!(as_key("/admin/workspaces"), 403);
    assert_eq!(
        as_key(&format!(
            "/admin/workspaces/{}",
            ws["slug"].as_str().unwrap()
        )),
        403
    );
    assert_eq!(as_key("/api-keys?workspace_id=x"), 403);
    let (_, all) = api.get("/api-keys");
    let admin_id = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["type"] == "organisation-service")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(as_key(&format!("/api-keys/{admin_id}")), 403);
    // The last admin key cannot be deleted over the network.
    assert_error(
        api.delete(&format!("/api-keys/{admin_id}"), None),
        409,
        "AB07",
        "last admin",
    );
    let (s, _) = api.delete(&format!("/api-keys/{id}"), None);
    assert_eq!(s, 200);
    assert_eq!(as_key("/admin/workspaces"), 401);
}
