//! Workspace provisioning and AI providers over HTTP, as the contract describes them.

use crate::common::{assert_error, Api, Mode, World};
use serde_json::{json, Value};

fn setup(api: &Api) -> Vec<Value> {
    let workspaces: Vec<Value> = ["eng", "research", "ops"]
        .iter()
        .map(|n| api.post("/admin/workspaces", json!({"name": n})).1)
        .collect();
    let (s, _) = api.post(
        "/integrations",
        json!({"name": "OpenAI prod", "slug": "openai-prod", "ai_provider_id": "openai", "key": "sk-provisioning-0123456789"}),
    );
    assert_eq!(s, 200);
    workspaces
}

fn slug(ws: &Value) -> String {
    ws["slug"].as_str().unwrap().to_owned()
}

fn providers(api: &Api, ws: &Value) -> Vec<Value> {
    let (s, list) = api.get(&format!("/providers?workspace_id={}", slug(ws)));
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["object"], "list");
    list["data"].as_array().unwrap().clone()
}

#[test]
fn provisioning_grants_limits_providers_and_global_access() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let ws = setup(&api);
    let (eng, research, ops) = (&ws[0], &ws[1], &ws[2]);

    // Provision two workspaces (one by UUID, one by slug) with different limits.
    let (s, body) = api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [
            {"id": eng["id"], "enabled": true,
             "usage_limits": [{"type": "cost", "credit_limit": 1000, "alert_threshold": 800, "periodic_reset": "monthly"}],
             "rate_limits": [{"type": "requests", "unit": "rpm", "value": 100}]},
            {"id": slug(research), "enabled": true,
             "usage_limits": [{"type": "tokens", "credit_limit": 5000000, "periodic_reset_days": 30}],
             "rate_limits": [{"type": "tokens", "unit": "rph", "value": 50000}]}
        ]}),
    );
    assert_eq!(s, 200, "{body}");
    let (_, access) = api.get("/integrations/openai-prod/workspaces");
    assert_eq!(access["total"], 2);
    let first = &access["workspaces"][0];
    assert_eq!(first["id"], eng["slug"], "ids come back as slugs");
    assert_eq!(first["enabled"], true);
    assert_eq!(first["usage_limits"][0]["credit_limit"], 1000.0);
    assert_eq!(first["usage"]["current_usage"], 0.0);
    let next = first["usage"]["next_usage_reset_at"].as_str().unwrap();
    assert!(
        next.ends_with("-01T00:00:00.000Z"),
        "monthly resets on the 1st: {next}"
    );
    assert_eq!(access["workspaces"][1]["rate_limits"][0]["unit"], "rph");
    assert_eq!(api.get("/integrations/openai-prod").1["workspace_count"], 2);

    // Granting created the default provider, slug = integration slug.
    let eng_providers = providers(&api, eng);
    assert_eq!(eng_providers.len(), 1);
    assert_eq!(eng_providers[0]["slug"], "openai-prod");
    assert_eq!(eng_providers[0]["integration_id"], "openai-prod");
    assert_eq!(eng_providers[0]["status"], "active");
    assert_eq!(
        eng_providers[0]["note"],
        "Created automatically on integration access grant"
    );
    assert!(providers(&api, ops).is_empty());

    // A stricter provider is fine; a looser one names both numbers.
    let (s, created) = api.post("/providers", json!({"name": "eng batch", "slug": "eng-batch", "integration_id": "openai-prod",
        "workspace_id": slug(eng), "usage_limits": {"type": "cost", "credit_limit": 200}, "rate_limits": [{"type": "requests", "unit": "rpm", "value": 10}],
        "note": "nightly jobs", "expires_at": "2030-01-01T00:00:00Z"}));
    assert_eq!(s, 200, "{created}");
    assert_eq!(created.as_object().unwrap().len(), 2);
    assert_error(
        api.post("/providers", json!({"name": "x", "integration_id": "openai-prod", "workspace_id": slug(eng), "usage_limits": {"type": "cost", "credit_limit": 2000}})),
        400, "AB01", "2000 USD is looser than the 1000 USD",
    );
    assert_error(
        api.post("/providers", json!({"name": "x", "integration_id": "openai-prod", "workspace_id": slug(eng), "rate_limits": {"type": "requests", "unit": "rps", "value": 5}})),
        400, "AB01", "rate_limits[0].unit",
    );
    assert_error(
        api.post("/providers", json!({"name": "x", "integration_id": "openai-prod", "workspace_id": slug(eng), "rate_limits": {"type": "requests", "unit": "rpd", "value": 1000000}})),
        400, "AB01", "1000000 requests/day is looser than the 100 requests/min",
    );
    // Not provisioned to ops: 403.
    assert_error(
        api.post(
            "/providers",
            json!({"name": "x", "integration_id": "openai-prod", "workspace_id": slug(ops)}),
        ),
        403,
        "AB03",
        "not enabled for workspace",
    );
    // Admin keys must name the workspace.
    assert_error(api.get("/providers"), 400, "AB01", "workspace_id");
    // Update: partial, limits checked again, slug immutable.
    let (s, _) = api.put(
        &format!("/providers/eng-batch?workspace_id={}", slug(eng)),
        json!({"note": null, "rate_limits": {"type": "requests", "unit": "rpm", "value": 20}}),
    );
    assert_eq!(s, 200);
    let (_, p) = api.get(&format!("/providers/eng-batch?workspace_id={}", slug(eng)));
    assert!(p["note"].is_null());
    assert_eq!(p["rate_limits"][0]["value"], 20);
    assert_eq!(p["expires_at"], "2030-01-01T00:00:00Z");
    assert_error(
        api.put(
            &format!("/providers/eng-batch?workspace_id={}", slug(eng)),
            json!({"usage_limits": {"type": "cost", "credit_limit": 5000}}),
        ),
        400,
        "AB01",
        "5000 USD",
    );

    // Revoke: providers are disabled, not deleted; re-grant re-enables them.
    api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": slug(eng), "enabled": false}]}),
    );
    let after = providers(&api, eng);
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|p| p["status"] == "disabled"), "{after:?}");
    assert_eq!(
        api.get("/integrations/openai-prod/workspaces").1["workspaces"][0]["enabled"],
        false
    );
    api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": slug(eng), "enabled": true}]}),
    );
    assert!(providers(&api, eng).iter().all(|p| p["status"] == "active"));
    // Items not in the PUT are untouched.
    let (_, access) = api.get("/integrations/openai-prod/workspaces");
    assert_eq!(access["workspaces"][1]["usage_limits"][0]["type"], "tokens");

    // Global access: a workspace created later is provisioned with these limits.
    let (s, _) = api.put("/integrations/openai-prod/workspaces", json!({"workspaces": [], "global_workspace_access": {
        "enabled": true, "usage_limits": [{"type": "cost", "credit_limit": 50}], "rate_limits": [{"type": "requests", "unit": "rpm", "value": 5}]}}));
    assert_eq!(s, 200);
    let (_, late) = api.post("/admin/workspaces", json!({"name": "late"}));
    let (_, access) = api.get("/integrations/openai-prod/workspaces");
    assert_eq!(access["global_workspace_access"]["enabled"], true);
    let late_access = access["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == late["slug"])
        .unwrap()
        .clone();
    assert_eq!(late_access["usage_limits"][0]["credit_limit"], 50.0);
    assert_eq!(providers(&api, &late)[0]["slug"], "openai-prod");
    // Override existing with the SDK's spelling: refused while a provider is looser than
    // the limits it would apply, then applied once that provider is tightened.
    let override_all = || {
        api.put(
            "/integrations/openai-prod/workspaces",
            json!({"workspaces": [], "override_existing_workspaces_access": true}),
        )
    };
    assert_error(override_all(), 409, "AB07", "`@eng-batch`");
    let (s, _) = api.put(
        &format!("/providers/eng-batch?workspace_id={}", slug(eng)),
        json!({"usage_limits": {"type": "cost", "credit_limit": 50}, "rate_limits": [{"type": "requests", "unit": "rpm", "value": 5}]}),
    );
    assert_eq!(s, 200);
    assert_eq!(override_all().0, 200);
    let (_, access) = api.get("/integrations/openai-prod/workspaces");
    let enabled: Vec<&Value> = access["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["enabled"] == true)
        .collect();
    assert!(
        enabled
            .iter()
            .all(|a| a["usage_limits"][0]["credit_limit"] == 50.0),
        "{access}"
    );

    // reset_usage on an access entry starts a fresh window.
    api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": slug(eng), "enabled": true, "reset_usage": true}]}),
    );
    let (_, access) = api.get("/integrations/openai-prod/workspaces");
    assert!(access["workspaces"][0]["usage"]["last_reset_at"].is_string());

    // Deleting: the workspace names its providers; the integration too, until forced.
    // ops was never provisioned: nothing depends on it.
    assert_eq!(
        api.delete(
            &format!("/admin/workspaces/{}", slug(ops)),
            Some(json!({"name": "ops"}))
        )
        .0,
        200
    );
    assert_error(
        api.delete(
            &format!("/admin/workspaces/{}", slug(research)),
            Some(json!({"name": "research"})),
        ),
        409,
        "AB07",
        "AI provider(s) (`openai-prod`)",
    );
    assert_error(
        api.delete("/integrations/openai-prod", None),
        409,
        "AB07",
        "eng-batch",
    );
    let (s, _) = api.delete("/integrations/openai-prod?force_delete=true", None);
    assert_eq!(s, 200);
    assert!(providers(&api, eng).is_empty());
}

#[test]
fn provisioning_validation_and_conflicts() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let ws = setup(&api);
    let put = |body: Value| api.put("/integrations/openai-prod/workspaces", body);
    let one = |extra: Value| {
        let mut item = json!({"id": slug(&ws[0]), "enabled": true});
        item.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        put(json!({"workspaces": [item]}))
    };
    assert_error(
        one(json!({"usage_limits": [{"type": "cost", "credit_limit": 0}]})),
        400,
        "AB01",
        "workspaces[0].usage_limits[0].credit_limit",
    );
    assert_error(
        one(
            json!({"usage_limits": [{"type": "cost", "credit_limit": 100, "alert_threshold": 100}]}),
        ),
        400,
        "AB01",
        "alert_threshold",
    );
    assert_error(
        one(
            json!({"usage_limits": [{"type": "cost", "credit_limit": 100, "periodic_reset": "weekly", "periodic_reset_days": 7}]}),
        ),
        400,
        "AB01",
        "cannot both be set",
    );
    assert_error(
        one(json!({"usage_limits": [{"type": "tokens", "credit_limit": 99}]})),
        400,
        "AB01",
        "at least 100 tokens",
    );
    assert_error(
        one(json!({"rate_limits": [{"type": "requests", "unit": "fortnight", "value": 100}]})),
        400,
        "AB01",
        "rate_limits[0].unit",
    );
    assert_error(
        one(
            json!({"usage_limits": [{"type": "cost", "credit_limit": 10}, {"type": "cost", "credit_limit": 20}]}),
        ),
        400,
        "AB01",
        "at most 1",
    );
    assert_error(
        put(json!({"workspaces": [{"id": "ws-nope-000000", "enabled": true}]})),
        404,
        "AB08",
        "ws-nope-000000",
    );
    assert_error(
        put(json!({"workspaces": [{"id": slug(&ws[0])}]})),
        400,
        "AB01",
        "enabled",
    );
    // Nothing was half-applied.
    assert_eq!(
        api.get("/integrations/openai-prod/workspaces").1["total"],
        0
    );

    // A default provider slug that is taken in the workspace: 409 naming it.
    api.post("/integrations", json!({"name": "other", "slug": "other", "ai_provider_id": "groq", "key": "gsk-0123456789abcdef"}));
    let (s, _) = api.put("/integrations/other/workspaces", json!({"workspaces": [{"id": slug(&ws[1]), "enabled": true, "default_provider_slug": "shared"}]}));
    assert_eq!(s, 200);
    assert_error(
        put(
            json!({"workspaces": [{"id": slug(&ws[1]), "enabled": true, "default_provider_slug": "shared"}]}),
        ),
        409,
        "AB07",
        "`shared`",
    );
    // A per-item override avoids the clash.
    let (s, _) = put(
        json!({"workspaces": [{"id": slug(&ws[1]), "enabled": true, "default_provider_slug": "openai-research"}]}),
    );
    assert_eq!(s, 200);
    let (_, list) = api.get(&format!("/providers?workspace_id={}", slug(&ws[1])));
    let slugs: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["shared", "openai-research"]);

    // The same PUT twice changes nothing the second time.
    let body = json!({"workspaces": [{"id": slug(&ws[2]), "enabled": true, "usage_limits": [{"type": "cost", "credit_limit": 10}]}]});
    put(body.clone());
    let before = api.get("/integrations/openai-prod/workspaces").1;
    put(body);
    assert_eq!(api.get("/integrations/openai-prod/workspaces").1, before);
    assert_eq!(
        api.get(&format!("/providers?workspace_id={}", slug(&ws[2])))
            .1["total"],
        1
    );

    // Organisation setting: workspace admins may not create integrations when it is off.
    let (_, settings) = api.get("/organisation/settings");
    assert_eq!(settings["allow_workspace_integrations"], true);
    let (_, key) = api.post(
        "/api-keys/workspace/service",
        json!({"name": "wk", "scopes": ["providers.list", "workspace_integrations.create"], "workspace_id": slug(&ws[0])}),
    );
    let as_ws = |body: Value| {
        let res = api
            .http
            .post(format!("{}/integrations", api.base))
            .header("x-portkey-api-key", key["key"].as_str().unwrap())
            .json(&body)
            .send()
            .unwrap();
        res.status().as_u16()
    };
    assert_eq!(
        as_ws(json!({"name": "mine", "ai_provider_id": "groq", "key": "gsk-0123456789abcdef"})),
        200
    );
    let (_, settings) = api.put(
        "/organisation/settings",
        json!({"allow_workspace_integrations": false}),
    );
    assert_eq!(settings["allow_workspace_integrations"], false);
    assert_eq!(
        as_ws(json!({"name": "mine2", "ai_provider_id": "groq", "key": "gsk-0123456789abcdef"})),
        403
    );
    // Workspace-level integrations are visible to org admins.
    assert_eq!(
        api.get("/integrations?type=workspace").1["data"][0]["slug"],
        "mine"
    );
}

#[test]
fn every_workspaces_providers_in_one_listing_is_an_organisation_extension() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let ws = setup(&api);
    let (s, _) = api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": slug(&ws[0]), "enabled": true}, {"id": slug(&ws[1]), "enabled": true}]}),
    );
    assert_eq!(s, 200);
    let (s, all) = api.get("/providers?all_workspaces=true");
    assert_eq!(s, 200, "{all}");
    let mut seen: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["workspace_id"].as_str().unwrap())
        .collect();
    seen.sort_unstable();
    let mut expected = vec![ws[0]["id"].as_str().unwrap(), ws[1]["id"].as_str().unwrap()];
    expected.sort_unstable();
    assert_eq!(seen, expected, "{all}");
    assert_error(
        api.get(&format!(
            "/providers?all_workspaces=true&workspace_id={}",
            slug(&ws[0])
        )),
        400,
        "AB01",
        "leave out `workspace_id`",
    );
    assert_error(
        api.get("/providers?all_workspaces=maybe"),
        400,
        "AB01",
        "true or false",
    );
    let (_, key) = api.post(
        "/api-keys/workspace/service",
        json!({"name": "k", "workspace_id": slug(&ws[0]), "scopes": ["providers.list"]}),
    );
    let res = reqwest::blocking::Client::new()
        .get(format!("{}/providers?all_workspaces=true", api.base))
        .header("x-portkey-api-key", key["key"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
}

#[test]
fn provider_pages_run_on_into_unmigrated_virtual_keys() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let ws = setup(&api);
    let eng = slug(&ws[0]);
    api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": eng, "enabled": true}]}),
    );
    for n in ["a", "b"] {
        let (s, b) = api.post(
            "/providers",
            json!({"name": n, "slug": n, "integration_id": "openai-prod", "workspace_id": eng}),
        );
        assert_eq!(s, 200, "{b}");
    }
    for n in ["legacy-1", "legacy-2"] {
        let (s, b) = api.post("/virtual-keys", json!({"name": n, "slug": n, "provider": "openai", "key": "k-0123456789abc", "workspace_id": eng}));
        assert_eq!(s, 200, "{b}");
    }
    let mut seen = Vec::new();
    for page in 0..3 {
        let (s, list) = api.get(&format!(
            "/providers?workspace_id={eng}&page_size=2&current_page={page}"
        ));
        assert_eq!(s, 200, "{list}");
        assert_eq!(list["total"], 5, "{list}");
        for p in list["data"].as_array().unwrap() {
            seen.push(p["slug"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(seen, ["openai-prod", "a", "b", "legacy-1", "legacy-2"]);
}
