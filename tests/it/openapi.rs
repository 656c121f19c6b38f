//! `GET /v1/openapi.json`: an OpenAPI 3.1 document of every route, served without a key.
//! A route the router answers but the document lacks (or the reverse) fails here.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{Mode, World};
use catalog::server::routes;
use serde_json::Value;

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH"];

fn document(base: &str) -> Value {
    let res = reqwest::blocking::get(format!("{base}/v1/openapi.json")).unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    res.json().unwrap()
}

/// The document's operations: path (under the server root) to its methods.
fn operations(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .map(|m| m.to_ascii_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

fn root(w: &World) -> String {
    let url = &w.server.as_ref().unwrap().url;
    url.trim_end_matches('/').trim_end_matches("/v1").to_owned()
}

/// Every `$ref` in `value` names a schema of `components`.
fn check_refs(value: &Value, schemas: &serde_json::Map<String, Value>, at: &str) {
    match value {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                let name = r
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("{at}: `$ref` {r} is not a component"));
                assert!(schemas.contains_key(name), "{at}: `$ref` {r} is dangling");
            }
            for (k, v) in map {
                check_refs(v, schemas, &format!("{at}/{k}"));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(v, schemas, at)),
        _ => {}
    }
}

#[test]
fn the_document_lists_every_route_of_the_table_with_its_schemas() {
    let w = World::new(Mode::Served);
    let doc = document(&root(&w));
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["portkeyApiKey"]["name"], "x-portkey-api-key");
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    check_refs(&doc, schemas, "#");

    let ops = operations(&doc);
    let table = routes::all();
    for route in &table {
        let path = format!("/v1{}", route.path);
        let op = &doc["paths"][&path][route.method.to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{} {path} is missing from the document",
            route.method
        );
        assert_eq!(op["summary"], route.summary, "{path}");
        let success = &op["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(
            success.get("$ref").is_some() || success.get("type").is_some(),
            "{} {path}: the success response needs a precise schema, got {success}",
            route.method
        );
        for status in ["400", "401", "403", "404"] {
            assert!(
                op["responses"][status].is_object(),
                "{} {path} does not document {status}",
                route.method
            );
        }
        if matches!(route.method, "POST" | "PUT") {
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            assert!(
                body.get("$ref").is_some(),
                "{} {path}: no request body schema",
                route.method
            );
        }
        for q in route.query {
            assert!(
                op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == q.name && p["in"] == "query"),
                "{path}: query parameter {} is not documented",
                q.name
            );
        }
    }
    // Nothing but the table and the document itself.
    let documented: usize = ops.values().map(BTreeSet::len).sum();
    assert_eq!(documented, table.len() + 1, "{ops:?}");
    assert!(ops["/v1/openapi.json"].contains("GET"));
    assert_eq!(
        doc["paths"]["/v1/openapi.json"]["get"]["security"],
        serde_json::json!([])
    );
}

/// The router's own behaviour agrees with the document: every documented operation is
/// routed (not the unknown-route 404, not 405), and every other method on a documented
/// path is 405 with an `Allow` header that lists exactly the documented methods.
#[test]
fn the_router_answers_exactly_the_documented_operations() {
    let w = World::new(Mode::Served);
    let base = root(&w);
    let doc = document(&base);
    let http = reqwest::blocking::Client::new();
    for (path, methods) in operations(&doc) {
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "probe" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS {
            let res = http
                .request(method.parse().unwrap(), format!("{base}{concrete}"))
                .header("x-portkey-api-key", crate::common::ADMIN_KEY)
                .send()
                .unwrap();
            let status = res.status().as_u16();
            let allow = res
                .headers()
                .get("allow")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = res.json().unwrap_or(Value::Null);
            if methods.contains(*method) {
                assert_ne!(status, 405, "{method} {path} is documented but not routed");
                assert!(
                    status < 500,
                    "{method} {concrete} answered {status}: {body}"
                );
                assert!(
                    !(status == 404
                        && body["data"]["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("no such route"))),
                    "{method} {path} is documented but the router does not know it"
                );
            } else {
                assert_eq!(
                    status, 405,
                    "{method} {path} is routed but not documented: {body}"
                );
                let allowed: BTreeSet<String> = allow
                    .unwrap_or_default()
                    .split(',')
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty() && m != "HEAD")
                    .collect();
                assert_eq!(
                    &allowed, &methods,
                    "{path}: Allow differs from the document"
                );
            }
        }
    }
}

/// Found by schemathesis: serde reads a struct from a JSON array, so `PUT` with
/// `[null, null]` (or `{"defaults": [null, null]}`) updated a workspace. Objects only.
#[test]
fn a_body_that_is_not_an_object_is_refused() {
    let w = World::new(Mode::Served);
    let api = crate::common::Api::new(&w);
    let (s, ws) = api.post("/admin/workspaces", serde_json::json!({"name": "eng"}));
    assert_eq!(s, 200, "{ws}");
    let id = ws["id"].as_str().unwrap();
    for body in ["[null, null]", "[\"x\"]", "null", "3", "\"name\""] {
        let got = api.call(
            reqwest::Method::PUT,
            &format!("/admin/workspaces/{id}"),
            Some(body),
        );
        crate::common::assert_error(got, 400, "AB01", "JSON object");
        let got = api.call(reqwest::Method::PUT, "/organisation/settings", Some(body));
        crate::common::assert_error(got, 400, "AB01", "JSON object");
    }
    // Nor anywhere inside: serde would read `[null, null]` as the fields of `defaults`.
    for (body, field) in [
        (r#"{"defaults": [null, null]}"#, "`defaults`"),
        (r#"{"usage_limits": [["cost", 100]]}"#, "`usage_limits[0]`"),
        (
            r#"{"rate_limits": [["requests", "rpm", 5]]}"#,
            "`rate_limits[0]`",
        ),
    ] {
        let got = api.call(
            reqwest::Method::PUT,
            &format!("/admin/workspaces/{id}"),
            Some(body),
        );
        crate::common::assert_error(got, 400, "AB01", field);
    }
    let (s, again) = api.get(&format!("/admin/workspaces/{id}"));
    assert_eq!((s, &again["name"]), (200, &serde_json::json!("eng")));
    assert_eq!(again["defaults"]["metadata"], Value::Null);
}

/// Found by schemathesis: JSON Schema counts `30.0` as an integer, and the document says
/// `periodic_reset_days` and rate-limit values are integers, but the server refused them.
#[test]
fn whole_numbers_written_as_floats_are_integers() {
    let w = World::new(Mode::Served);
    let api = crate::common::Api::new(&w);
    let (s, ws) = api.post(
        "/admin/workspaces",
        serde_json::json!({
            "name": "eng",
            "usage_limits": [{"type": "cost", "credit_limit": 100, "periodic_reset_days": 30.0}],
            "rate_limits": [{"type": "requests", "unit": "rpm", "value": 100.0}],
        }),
    );
    assert_eq!(s, 200, "{ws}");
    assert_eq!(ws["usage_limits"][0]["periodic_reset_days"], 30);
    assert_eq!(ws["rate_limits"][0]["value"], 100);
    let got = api.post(
        "/admin/workspaces",
        serde_json::json!({"name": "x", "rate_limits": [{"type": "requests", "unit": "rpm", "value": 1.5}]}),
    );
    crate::common::assert_error(got, 400, "AB01", "rate_limits[0].value");
}

/// Found while writing the document: `?force_delete=abc` was read as false and the integration was
/// deleted; a value that is not a boolean is 400 and nothing is deleted.
#[test]
fn force_delete_must_be_a_boolean() {
    let w = World::new(Mode::Served);
    let api = crate::common::Api::new(&w);
    let (s, created) = api.post(
        "/integrations",
        serde_json::json!({"name": "oa", "slug": "oa", "ai_provider_id": "openai", "key": crate::common::PROVIDER_KEY}),
    );
    assert_eq!(s, 200, "{created}");
    crate::common::assert_error(
        api.delete("/integrations/oa?force_delete=abc", None),
        400,
        "AB01",
        "force_delete",
    );
    crate::common::assert_error(
        api.delete("/integrations/oa?force_delete=", None),
        400,
        "AB01",
        "has no value",
    );
    assert_eq!(api.get("/integrations/oa").0, 200);
    assert_eq!(api.delete("/integrations/oa?force_delete=no", None).0, 200);
    assert_eq!(api.get("/integrations/oa").0, 404);
}

/// Routes come from the table only: no `.route(` or `.nest(` elsewhere in the server
/// (besides `/v1` itself and the document's own route), so none can bypass the document.
#[test]
fn no_route_is_added_outside_the_table() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![dir];
    let mut found = Vec::new();
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            // The gateway's inference routes are not Admin API routes (`catalog::gateway::PATHS`).
            if path.extension().is_none_or(|e| e != "rs")
                || path.ends_with("server/routes.rs")
                || path.ends_with("gateway/mod.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                if [".route(", ".nest(", ".route_service(", ".nest_service("]
                    .iter()
                    .any(|m| line.contains(m))
                {
                    found.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found
            .iter()
            .any(|l| l.contains(".route(openapi::DOCUMENT_PATH")),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|l| l.contains(".nest(\"/v1\", v1)")),
        "{found:#?}"
    );
}

/// Found by schemathesis: `?current_page=` (no value) was read as no parameter, so the
/// document had to allow an empty string where it says integer, and a fuzzer's object
/// (sent as nothing) looked accepted. A number, boolean or choice needs a value.
#[test]
fn a_typed_query_parameter_needs_a_value() {
    let w = World::new(Mode::Served);
    let api = crate::common::Api::new(&w);
    for path in [
        "/admin/workspaces?current_page=",
        "/admin/workspaces?page_size=",
        "/integrations?type=",
        "/api-keys?pageSize=",
    ] {
        crate::common::assert_error(api.get(path), 400, "AB01", "has no value");
    }
    assert_eq!(api.get("/admin/workspaces?name=&page_size=5").0, 200);
}
