//! The declarative catalog against Portkey's hosted Admin API, as emulated here: a proxy
//! in front of `catalog serve` that answers the way the hosted API does, quirk for quirk,
//! as the reference describes them (`shared/reference/portkey-admin-api.md`):
//! - workspace names come back with the workspace's icon emoji in front (`🏢 eng`),
//!   unless the request asks `name_format=plain`;
//! - creating an integration or an AI provider answers `{id, slug}` only;
//! - updates answer `{}`, deletes `{}` (an AI provider's, `204` with no body);
//! - this catalog's own extensions are not there: `/organisation/settings` is a 404, and
//!   listing AI providers needs a `workspace_id` (`all_workspaces` is a 400).
//!
//! The same file must govern it: export, apply to an empty organisation, export again
//! gives the same file; a second apply changes nothing; drift shows in the next plan.

use std::path::Path;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::common::{Mode, World, ROTATED_KEY};

/// The icon the hosted API puts in front of every workspace's name here.
const ICON: &str = "🏢";

/// The emulation, listening on loopback until dropped.
pub struct Hosted {
    pub url: String,
    _runtime: tokio::runtime::Runtime,
}

impl Hosted {
    /// Answers for the `catalog serve` at `target` (its `/v1` URL).
    pub fn start(target: &str) -> Hosted {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let target = target.trim_end_matches("/v1").to_owned();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(forward)
            .with_state((reqwest::Client::new(), target));
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Hosted {
            url: format!("http://{addr}/v1"),
            _runtime: runtime,
        }
    }
}

async fn forward(
    State((client, target)): State<(reqwest::Client, String)>,
    request: Request,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    if path == "/v1/organisation/settings" {
        return answer(StatusCode::NOT_FOUND, Some(error("Not Found", "AB404")));
    }
    if method == Method::GET && path == "/v1/providers" && query.contains("all_workspaces") {
        return answer(
            StatusCode::BAD_REQUEST,
            Some(error("workspace_id is required", "AB01")),
        );
    }
    let mut upstream = client.request(
        method.clone(),
        format!(
            "{target}{path}{}",
            if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            }
        ),
    );
    for (name, value) in request.headers() {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap();
    let reply = upstream.body(body).send().await.unwrap();
    let status = reply.status();
    let bytes = reply.bytes().await.unwrap();
    if !status.is_success() {
        return Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(bytes))
            .unwrap();
    }
    let value: Option<Value> = serde_json::from_slice(&bytes).ok();
    let (status, value) = quirks(&method, &path, &query, status, value);
    answer(status, value)
}

/// What the hosted API answers where this catalog's server answers `value`.
fn quirks(
    method: &Method,
    path: &str,
    query: &str,
    status: StatusCode,
    value: Option<Value>,
) -> (StatusCode, Option<Value>) {
    let creates_minimally = path == "/v1/integrations" || path == "/v1/providers";
    match *method {
        Method::GET if path.starts_with("/v1/admin/workspaces") => {
            let mut value = value;
            if !query.contains("name_format=plain") {
                if let Some(v) = value.as_mut() {
                    match v.get_mut("data").and_then(Value::as_array_mut) {
                        Some(items) => items.iter_mut().for_each(with_icon),
                        None => with_icon(v),
                    }
                }
            }
            (status, value)
        }
        Method::POST if path == "/v1/admin/workspaces" => {
            let mut value = value;
            if let Some(v) = value.as_mut() {
                with_icon(v);
            }
            (status, value)
        }
        Method::POST if creates_minimally => {
            let v = value.unwrap_or_default();
            (
                status,
                Some(json!({"id": v["id"].clone(), "slug": v["slug"].clone()})),
            )
        }
        Method::PUT => (StatusCode::OK, Some(json!({}))),
        Method::DELETE if path.starts_with("/v1/providers/") => (StatusCode::NO_CONTENT, None),
        Method::DELETE => (StatusCode::OK, Some(json!({}))),
        _ => (status, value),
    }
}

fn with_icon(workspace: &mut Value) {
    if let Some(w) = workspace.as_object_mut() {
        let name = w.get("name").and_then(Value::as_str).unwrap_or_default();
        let named = format!("{ICON} {name}");
        w.insert("name".into(), Value::String(named));
        w.insert("icon".into(), Value::String(ICON.into()));
    }
}

fn error(message: &str, code: &str) -> Value {
    json!({"success": false, "data": {"message": message, "errorCode": code}})
}

fn answer(status: StatusCode, value: Option<Value>) -> Response {
    let builder = Response::builder().status(status);
    match value {
        Some(v) => builder
            .header("content-type", "application/json")
            .body(Body::from(Bytes::from(v.to_string())))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// An empty organisation behind the emulation: a served world whose commands go through
/// it.
fn hosted_world() -> (World, Hosted) {
    let mut w = World::new(Mode::Served);
    let server = w.server.as_mut().unwrap();
    let hosted = Hosted::start(&server.url);
    server.url = hosted.url.clone();
    w.extra_env
        .push(("OPENAI_PROD_KEY".into(), ROTATED_KEY.into()));
    (w, hosted)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn the_emulation_answers_as_the_hosted_api_does() {
    let (w, _hosted) = hosted_world();
    let created = w.json(&["workspaces", "create", "eng"]);
    assert_eq!(created["name"], "eng", "the CLI strips the icon: {created}");
    let raw: Value = reqwest::blocking::Client::new()
        .get(format!(
            "{}/admin/workspaces",
            w.server.as_ref().unwrap().url
        ))
        .header("x-portkey-api-key", crate::common::ADMIN_KEY)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let names: Vec<&str> = raw["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert!(names.contains(&"🏢 eng"), "{raw}");
    let settings = reqwest::blocking::Client::new()
        .get(format!(
            "{}/organisation/settings",
            w.server.as_ref().unwrap().url
        ))
        .header("x-portkey-api-key", crate::common::ADMIN_KEY)
        .send()
        .unwrap();
    assert_eq!(settings.status().as_u16(), 404);
}

#[test]
fn a_hosted_organisation_is_governed_by_the_same_file() {
    // The file: a catalog built with the imperative commands, exported.
    let source = World::new(Mode::Served);
    crate::declarative::build_imperatively(&source);
    let a = source.home.path().join("a.yaml");
    source.ok(&["export", "--out", p(&a)]);

    let (hosted, _h) = hosted_world();
    let plan = hosted.ok(&["plan", "-f", p(&a)]);
    assert!(plan.stdout.contains("+ workspace eng"), "{plan:?}");
    let report = hosted.json(&["apply", "-f", p(&a), "--yes"]);
    assert_eq!(report["result"], "applied", "{report}");
    // Exported from the hosted organisation, applied to another, exported again: the
    // same file.
    let b = hosted.home.path().join("b.yaml");
    hosted.ok(&["export", "--out", p(&b)]);
    let exported = std::fs::read_to_string(&b).unwrap();
    assert!(!exported.contains(ICON), "{exported}");
    let again = hosted.ok(&["apply", "-f", p(&b), "--yes"]);
    assert!(again.stderr.contains("No changes"), "{again:?}");
    let (other, _h2) = hosted_world();
    let report = other.json(&["apply", "-f", p(&b), "--yes"]);
    assert_eq!(report["result"], "applied", "{report}");
    let c = other.home.path().join("c.yaml");
    other.ok(&["export", "--out", p(&c)]);
    assert_eq!(exported, std::fs::read_to_string(&c).unwrap());
    // Drift made by hand shows in the next plan, and the file puts it back.
    other.ok(&[
        "workspaces",
        "update",
        "eng",
        "--description",
        "Changed by hand",
    ]);
    let plan = other.run(&["plan", "-f", p(&b), "--exit-code"]);
    assert_eq!(plan.code, 10, "{plan:?}");
    assert!(plan.stdout.contains("Changed by hand"), "{plan:?}");
    other.ok(&["apply", "-f", p(&b), "--yes"]);
    let plan = other.run(&["plan", "-f", p(&b), "--exit-code"]);
    assert_eq!(plan.code, 0, "{plan:?}");
}
