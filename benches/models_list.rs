//! `catalog models list` (the Model Garden) over a workspace with 20 integrations of 200
//! models each, embedded and over loopback. Prints figures; asserts nothing.

mod common;

use common::{call, command, report, serve, time, ADMIN_KEY};
use reqwest::Method;
use serde_json::json;

const INTEGRATIONS: usize = 20;
const MODELS: usize = 200;

fn main() {
    let home = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(home.path());
    let http = reqwest::blocking::Client::new();
    let ws: serde_json::Value = http
        .post(format!("{url}/admin/workspaces"))
        .header("x-portkey-api-key", ADMIN_KEY)
        .json(&json!({"name": "eng"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let ws_slug = ws["slug"].as_str().unwrap().to_owned();
    for i in 0..INTEGRATIONS {
        let slug = format!("openai-{i:02}");
        call(
            &http,
            Method::POST,
            &format!("{url}/integrations"),
            json!({"name": slug, "slug": slug, "ai_provider_id": "openai", "key": "sk-bench-0123456789abcdef"}),
        );
        let models: Vec<_> = (0..MODELS)
            .map(|m| json!({"slug": format!("model-{m:03}"), "enabled": true, "is_custom": true,
                "pricing_config": {"type": "static", "pay_as_you_go": {"request_token": {"price": 0.00025}, "response_token": {"price": 0.001}}}}))
            .collect();
        call(
            &http,
            Method::PUT,
            &format!("{url}/integrations/{slug}/models"),
            json!({"allow_all_models": false, "models": models}),
        );
        call(
            &http,
            Method::PUT,
            &format!("{url}/integrations/{slug}/workspaces"),
            json!({"workspaces": [{"id": ws_slug, "enabled": true}]}),
        );
    }
    println!("seeded {INTEGRATIONS} integrations x {MODELS} models, provisioned to one workspace");
    report(
        "catalog models list -o json (embedded, 4,000 models)",
        time(15, || {
            let mut c = command(home.path());
            c.args(["models", "list", "--workspace", "eng", "-o", "json"]);
            c
        }),
    );
    report(
        "catalog models list -o json (loopback serve, 4,000 models)",
        time(15, || {
            let mut c = command(home.path());
            c.args(["models", "list", "--workspace", "eng", "-o", "json"])
                .env("CATALOG_BASE_URL", &url)
                .env("CATALOG_API_KEY", ADMIN_KEY);
            c
        }),
    );
    let _ = server.kill();
    let _ = server.wait();
}
