//! Model provisioning and `GET /v1/models` over HTTP.

use crate::common::{assert_error, contains, database_bytes, Api, Mode, World};
use serde_json::{json, Value};

fn ids(api: &Api, ws: &str) -> Vec<String> {
    let (s, list) = api.get(&format!("/models?workspace_id={ws}"));
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["object"], "list");
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

fn model(api: &Api, ws: &str, id: &str) -> Value {
    let (_, list) = api.get(&format!("/models?workspace_id={ws}"));
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} missing"))
}

#[test]
fn allow_lists_custom_models_prices_and_the_workspace_list() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let (_, eng) = api.post("/admin/workspaces", json!({"name": "eng"}));
    let (_, ops) = api.post("/admin/workspaces", json!({"name": "ops"}));
    let eng = eng["slug"].as_str().unwrap().to_owned();
    let ops = ops["slug"].as_str().unwrap().to_owned();
    api.post("/integrations", json!({"name": "OpenAI", "slug": "openai-prod", "ai_provider_id": "openai", "key": "sk-models-0123456789abc"}));
    api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": eng, "enabled": true}]}),
    );

    // Allow-all: every registry model of the service, with limits and prices.
    let all = ids(&api, &eng);
    assert!(
        all.len() > 50 && all.contains(&"@openai-prod/gpt-4o".to_owned()),
        "{}",
        all.len()
    );
    let gpt4o = model(&api, &eng, "@openai-prod/gpt-4o");
    assert_eq!(gpt4o["slug"], "gpt-4o");
    assert_eq!(gpt4o["object"], "model");
    assert_eq!(gpt4o["max_input_tokens"], 128000);
    assert_eq!(gpt4o["pricing"]["input_per_mtok"], 2.5);
    assert_eq!(gpt4o["pricing"]["source"], "registry");
    // Not provisioned: nothing.
    assert!(ids(&api, &ops).is_empty());
    assert_error(api.get("/models"), 400, "AB01", "workspace_id");

    // Switch to an allow-list; booleans arrive loosely typed.
    let (s, _) = api.put("/integrations/openai-prod/models", json!({"allow_all_models": "false", "models": [
        {"slug": "gpt-4o", "enabled": 1}, {"slug": "gpt-4o-mini", "enabled": "true"}, {"slug": "gpt-4", "enabled": false}]}));
    assert_eq!(s, 200);
    assert_eq!(
        ids(&api, &eng),
        ["@openai-prod/gpt-4o", "@openai-prod/gpt-4o-mini"]
    );
    let (_, listed) = api.get("/integrations/openai-prod/models");
    assert_eq!(listed["allow_all_models"], false);
    assert_eq!(listed["total"], 3);

    // A fine-tuned model with its own host, headers (sealed) and prices in cents per token.
    let secret_header = "Bearer model-header-secret-123456";
    let (s, body) = api.put("/integrations/openai-prod/models", json!({"models": [{
        "slug": "ft:gpt-4o:acme", "enabled": true, "is_finetune": "true", "base_model_slug": "gpt-4o",
        "configurations": {"custom_host": "https://ft.internal/v1", "custom_headers": {"authorization": secret_header}},
        "pricing_config": {"type": "static", "pay_as_you_go": {"request_token": {"price": 0.000375}, "response_token": {"price": 0.0015}}}}]}));
    assert_eq!(s, 200, "{body}");
    let ft = model(&api, &eng, "@openai-prod/ft:gpt-4o:acme");
    assert_eq!(ft["is_finetune"], true);
    assert_eq!(ft["pricing"]["input_per_mtok"], 3.75);
    assert_eq!(ft["pricing"]["output_per_mtok"], 15.0);
    assert_eq!(ft["pricing"]["source"], "override");
    assert_eq!(
        ft["max_input_tokens"], 128000,
        "limits come from the base model"
    );
    let (_, listed) = api.get("/integrations/openai-prod/models");
    let row = listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["slug"] == "ft:gpt-4o:acme")
        .unwrap()
        .clone();
    assert!(
        row["configurations"]["masked_custom_headers"]["authorization"]
            .as_str()
            .unwrap()
            .contains("*****")
    );
    assert!(!listed.to_string().contains(secret_header));
    assert!(!contains(&database_bytes(&w.db()), secret_header));

    // A price override and the integration's multiplier change the effective price.
    api.put("/integrations/openai-prod/models", json!({"models": [{"slug": "gpt-4o", "enabled": true,
        "pricing_config": {"type": "static", "pay_as_you_go": {"request_token": {"price": 0.0002}, "response_token": {"price": 0.0008}}}}]}));
    assert_eq!(
        model(&api, &eng, "@openai-prod/gpt-4o")["pricing"]["input_per_mtok"],
        2.0
    );
    api.put(
        "/integrations/openai-prod",
        json!({"pricing_adjustments": {"multiplier": {"default": 0.8}}}),
    );
    let priced = model(&api, &eng, "@openai-prod/gpt-4o");
    assert_eq!(priced["pricing"]["input_per_mtok"], 1.6);
    assert_eq!(priced["pricing"]["output_per_mtok"], 6.4);
    assert_eq!(priced["pricing"]["multiplier"], 0.8);
    // `null` removes the override.
    api.put(
        "/integrations/openai-prod/models",
        json!({"models": [{"slug": "gpt-4o", "enabled": true, "pricing_config": null}]}),
    );
    assert_eq!(
        model(&api, &eng, "@openai-prod/gpt-4o")["pricing"]["input_per_mtok"],
        2.0
    );

    // DELETE: a built-in model is disabled, a custom one removed.
    let (s, _) = api.delete(
        "/integrations/openai-prod/models?slugs=gpt-4o,ft:gpt-4o:acme",
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(ids(&api, &eng), ["@openai-prod/gpt-4o-mini"]);
    let (_, listed) = api.get("/integrations/openai-prod/models");
    let slugs: Vec<&str> = listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    assert!(
        slugs.contains(&"gpt-4o") && !slugs.contains(&"ft:gpt-4o:acme"),
        "{slugs:?}"
    );

    // Validation names the field.
    assert_error(
        api.put(
            "/integrations/openai-prod/models",
            json!({"models": [{"slug": "x", "enabled": true, "is_finetune": true}]}),
        ),
        400,
        "AB01",
        "models[0].base_model_slug",
    );
    assert_error(api.put("/integrations/openai-prod/models", json!({"models": [{"slug": "x", "enabled": true, "configurations": {"custom_host": "ftp://x"}}]})), 400, "AB01", "models[0].configurations.custom_host");
    assert_error(api.put("/integrations/openai-prod/models", json!({"models": [{"slug": "x", "enabled": true, "pricing_config": {"type": "static", "pay_as_you_go": {"request_token": {"price": -1}}}}]})), 400, "AB01", "request_token.price");
    assert_error(
        api.put(
            "/integrations/openai-prod/models",
            json!({"models": [{"slug": "x"}]}),
        ),
        400,
        "AB01",
        "enabled",
    );
    assert_error(
        api.delete("/integrations/openai-prod/models", None),
        400,
        "AB01",
        "slugs",
    );

    // Revoked access: its models disappear from the workspace.
    api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": eng, "enabled": false}]}),
    );
    assert!(ids(&api, &eng).is_empty());
}
