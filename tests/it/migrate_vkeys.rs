//! `catalog migrate-vkeys` on a seeded legacy organisation, on both transports.

use std::collections::BTreeMap;

use crate::common::{both, contains, database_bytes, Api, Mode, Server, World};
use serde_json::{json, Value};

const KEY_SHARED: &str = "sk-legacy-SHARED-1111111111111111";
const KEYS: &[&str] = &[
    KEY_SHARED,
    "sk-ant-legacy-EXPIRED-222222222222",
    "azure-legacy-KEY-33333333333333333",
    "gsk-legacy-GROQ-4444444444444444",
    "mistral-legacy-KEY-555555555555555",
    "sk-legacy-OPS-66666666666666666666",
];

/// A `catalog serve` on the world's database, to seed and inspect it over HTTP.
fn http(w: &World) -> (Option<Server>, Api) {
    match &w.server {
        Some(_) => (None, Api::new(w)),
        None => {
            w.ok(&["workspaces", "list"]); // creates the embedded database and its key
            let server = Server::start(w.home.path(), &w.db());
            let api = Api {
                http: reqwest::blocking::Client::new(),
                base: server.url.clone(),
            };
            (Some(server), api)
        }
    }
}

/// 3 workspaces, 7 virtual keys: two share one credential across two workspaces, one
/// has expired, one is Azure with two deployments; some have usage so far.
fn seed(w: &World, api: &Api) -> BTreeMap<String, String> {
    let mut ws = BTreeMap::new();
    for name in ["eng", "research", "ops"] {
        let (_, body) = api.post("/admin/workspaces", json!({"name": name}));
        ws.insert(name.to_owned(), body["slug"].as_str().unwrap().to_owned());
    }
    let vk = |body: Value| {
        let (s, res) = api.post("/virtual-keys", body);
        assert_eq!(s, 200, "{res}");
        assert_eq!(res["success"], true);
        res["data"]["slug"].as_str().unwrap().to_owned()
    };
    vk(
        json!({"name": "OpenAI shared", "slug": "openai-shared", "provider": "openai", "key": KEY_SHARED, "workspace_id": ws["eng"],
        "note": "shared team key", "usage_limits": {"type": "cost", "credit_limit": 100, "periodic_reset": "monthly"},
        "rate_limits": [{"type": "requests", "unit": "rpm", "value": 60}]}),
    );
    vk(
        json!({"name": "OpenAI shared (research)", "slug": "openai-shared-r", "provider": "openai", "key": KEY_SHARED, "workspace_id": ws["research"],
        "usage_limits": {"type": "tokens", "credit_limit": 1000000}}),
    );
    vk(
        json!({"name": "Anthropic", "slug": "anthropic-eng", "provider": "anthropic", "key": KEYS[1], "workspace_id": ws["eng"], "expires_at": "2024-01-01T00:00:00Z"}),
    );
    vk(
        json!({"name": "Azure", "slug": "azure-research", "provider": "azure-openai", "key": KEYS[2], "workspace_id": ws["research"],
        "resourceName": "acme-openai", "deploymentConfig": [
            {"deploymentName": "gpt4o", "apiVersion": "2024-10-21", "alias": "gpt-4o", "is_default": true},
            {"deploymentName": "mini", "apiVersion": "2024-10-21", "alias": "gpt-4o-mini"}]}),
    );
    vk(
        json!({"name": "Groq", "slug": "groq-ops", "provider": "groq", "key": KEYS[3], "workspace_id": ws["ops"], "rate_limits": [{"type": "tokens", "unit": "rph", "value": 90000}]}),
    );
    vk(
        json!({"name": "Mistral", "slug": "mistral-ops", "provider": "mistral-ai", "key": KEYS[4], "workspace_id": ws["ops"]}),
    );
    vk(
        json!({"name": "OpenAI ops", "slug": "openai-ops", "provider": "openai", "key": KEYS[5], "workspace_id": ws["ops"], "note": "ops only"}),
    );
    // Usage so far, as the gateway would have counted it.
    let conn = rusqlite::Connection::open(w.db()).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    conn.execute(
        "INSERT INTO counters(scope, limit_key, scale, used)
         SELECT 'virtual_key/' || id, 'budget', 1000000000, 42500000000 FROM virtual_keys WHERE slug IN ('openai-shared', 'openai-shared-r')
         ON CONFLICT(scope, limit_key) DO UPDATE SET used = excluded.used",
        [],
    )
    .unwrap();
    ws
}

/// Everything a migration must get right, normalised for comparison between runs.
fn state(api: &Api, ws: &BTreeMap<String, String>) -> Value {
    let mut providers = BTreeMap::new();
    for slug in ws.values() {
        let (_, list) = api.get(&format!("/providers?workspace_id={slug}"));
        for p in list["data"].as_array().unwrap() {
            let integration = p["integration_id"].as_str().unwrap().to_owned();
            let (_, i) = api.get(&format!("/integrations/{integration}"));
            providers.insert(
                p["slug"].as_str().unwrap().to_owned(),
                json!({"workspace": slug, "service": i["ai_provider_id"], "integration_masked_key": i["masked_key"],
                    "name": p["name"], "note": p["note"], "status": p["status"], "usage_limits": p["usage_limits"],
                    "rate_limits": p["rate_limits"], "expires_at": p["expires_at"], "current_usage": p["usage"]["current_usage"],
                    "integration": integration}),
            );
        }
    }
    let (_, integrations) = api.get("/integrations");
    json!({"providers": providers, "integrations": integrations["total"]})
}

#[test]
fn plan_apply_rerun_and_compatibility() {
    both(|w| {
        let (_server, api) = http(w);
        let ws = seed(w, &api);

        // Legacy keys read as providers before any migration.
        let (s, p) = api.get(&format!(
            "/providers/openai-shared?workspace_id={}",
            ws["eng"]
        ));
        assert_eq!(s, 200, "{p}");
        assert_eq!(p["integration_id"], "");

        // The plan: 6 integrations for 7 keys; the shared credential becomes one, in two workspaces.
        let plan = w.json(&["migrate-vkeys", "--dry-run"]);
        let groups = plan["plan"]["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 6, "{plan}");
        let shared = groups
            .iter()
            .find(|g| g["keys"].as_array().unwrap().len() == 2)
            .unwrap();
        assert_eq!(shared["service"], "openai");
        assert_eq!(shared["integration"], "openai-openai-shared");
        assert_eq!(shared["workspaces"], json!([ws["eng"], ws["research"]]));
        let shared_keys: Vec<&str> = shared["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["slug"].as_str().unwrap())
            .collect();
        assert_eq!(shared_keys, ["openai-shared", "openai-shared-r"]);
        assert_eq!(shared["keys"][0]["rate_limits"][0]["value"], 60);
        assert!(plan["plan"]["unmigratable"].as_array().unwrap().is_empty());
        assert_eq!(plan["dry_run"], true);
        let table = w.ok(&["migrate-vkeys", "--dry-run", "-o", "table"]);
        assert!(
            table.stdout.contains("@azure-research") && table.stdout.contains("(new)"),
            "{table:?}"
        );
        assert!(
            table
                .stderr
                .contains("integration to create: `openai-openai-shared`"),
            "{table:?}"
        );
        // Nothing was written by the dry run.
        assert_eq!(api.get("/integrations").1["total"], 0);

        // Without a terminal, applying needs --yes.
        w.fails(&["migrate-vkeys"], 2, "--yes");
        let applied = w.json(&["migrate-vkeys", "--yes"]);
        assert_eq!(applied["migrated"].as_array().unwrap().len(), 6);

        // Object by object.
        let after = state(&api, &ws);
        let p = &after["providers"];
        assert_eq!(after["integrations"], 6);
        assert_eq!(p.as_object().unwrap().len(), 7);
        assert_eq!(
            p["openai-shared"]["integration"],
            p["openai-shared-r"]["integration"]
        );
        assert_eq!(p["openai-shared"]["note"], "shared team key");
        assert_eq!(p["openai-shared"]["usage_limits"]["credit_limit"], 100.0);
        assert_eq!(
            p["openai-shared"]["usage_limits"]["periodic_reset"],
            "monthly"
        );
        assert_eq!(p["openai-shared"]["rate_limits"][0]["value"], 60);
        assert_eq!(
            p["openai-shared"]["current_usage"], 42.5,
            "usage so far is kept"
        );
        assert_eq!(p["openai-shared-r"]["usage_limits"]["type"], "tokens");
        assert_eq!(p["anthropic-eng"]["status"], "expired");
        assert_eq!(p["anthropic-eng"]["expires_at"], "2024-01-01T00:00:00Z");
        assert_eq!(p["groq-ops"]["rate_limits"][0]["unit"], "rph");
        assert_eq!(p["openai-ops"]["note"], "ops only");
        assert_ne!(
            p["openai-ops"]["integration"], p["openai-shared"]["integration"],
            "another credential"
        );
        let azure = p["azure-research"]["integration"].as_str().unwrap();
        let (_, integration) = api.get(&format!("/integrations/{azure}"));
        let deployments = integration["configurations"]["azure_deployment_config"]
            .as_array()
            .unwrap();
        assert_eq!(deployments.len(), 2);
        assert_eq!(deployments[1]["alias"], "gpt-4o-mini");
        assert_eq!(
            integration["configurations"]["azure_resource_name"],
            "acme-openai"
        );
        // Each integration is provisioned to the workspaces that had its keys.
        let (_, access) = api.get("/integrations/openai-openai-shared/workspaces");
        let granted: Vec<&str> = access["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(granted, [ws["eng"].as_str(), ws["research"].as_str()]);

        // The old slugs still resolve, as providers and as virtual keys, with the same limits and usage.
        let (_, vk) = api.get(&format!(
            "/virtual-keys/openai-shared?workspace_id={}",
            ws["eng"]
        ));
        assert_eq!(vk["object"], "virtual-key");
        assert_eq!(vk["integration_id"], "openai-openai-shared");
        assert_eq!(vk["usage_limits"]["credit_limit"], 100.0);
        assert_eq!(vk["usage"]["current_usage"], 42.5);
        let (_, all) = api.get("/virtual-keys?current_page=0&page_size=50");
        assert_eq!(all["total"], 7);
        assert!(all["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| !k["integration_id"].as_str().unwrap_or("").is_empty()));
        let providers = w.json(&["providers", "list", "--workspace", "eng"]);
        assert_eq!(providers.as_array().unwrap().len(), 2);

        // Run again: nothing to do, exit 0.
        let again = w.ok(&["migrate-vkeys", "--yes"]);
        assert!(
            again
                .stderr
                .contains("nothing to migrate: 7 virtual key(s) are already AI providers"),
            "{again:?}"
        );
        assert_eq!(state(&api, &ws), after);

        // No secret anywhere.
        let seen = w.everything_seen();
        let bytes = database_bytes(&w.db());
        for key in KEYS {
            assert!(!seen.contains(key), "a provider key leaked into output");
            assert!(
                !contains(&bytes, key),
                "a provider key is in the database file"
            );
        }
    });
}

#[test]
fn an_interrupted_migration_resumes_to_the_same_end_state() {
    // Uninterrupted.
    let a = World::new(Mode::Served);
    let api_a = Api::new(&a);
    let ws_a = seed(&a, &api_a);
    a.ok(&["migrate-vkeys", "--yes"]);
    let end_a = state(&api_a, &ws_a);

    // Interrupted after the first group (each group lands in one transaction), then resumed.
    let b = World::new(Mode::Served);
    let api_b = Api::new(&b);
    let ws_b = seed(&b, &api_b);
    let plan = b.json(&["migrate-vkeys", "--dry-run"]);
    let first = plan["plan"]["groups"][0]["group"].as_str().unwrap();
    let (s, done) = api_b.post("/virtual-keys/migrate", json!({"group": first}));
    assert_eq!(s, 200, "{done}");
    let (_, resumed_plan) = api_b.get("/virtual-keys/migration-plan");
    assert_eq!(resumed_plan["groups"].as_array().unwrap().len(), 5);
    let out = b.ok(&["migrate-vkeys", "--yes"]);
    assert!(out.stderr.contains("migrated"), "{out:?}");
    let end_b = state(&api_b, &ws_b);

    // Equal but for the workspaces' generated slugs.
    let normalise = |v: &Value, ws: &BTreeMap<String, String>| {
        let mut text = v.to_string();
        for (name, slug) in ws {
            text = text.replace(slug.as_str(), name);
        }
        text
    };
    assert_eq!(normalise(&end_a, &ws_a), normalise(&end_b, &ws_b));
}

#[test]
fn config_files_are_rewritten_with_a_diff() {
    let w = World::new(Mode::Embedded);
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for name in ["gateway_config", "root_virtual_key"] {
        let file = w.home.path().join(format!("{name}.json"));
        let original = std::fs::read_to_string(golden.join(format!("{name}.json"))).unwrap();
        std::fs::write(&file, &original).unwrap();
        let path = file.to_str().unwrap();
        // A dry run shows the diff and leaves the file alone.
        let dry = w.ok(&["migrate-vkeys", "--rewrite-configs", path, "--dry-run"]);
        assert!(
            dry.stdout.contains("-")
                && dry.stdout.contains("+")
                && dry.stdout.contains("\"provider\": \"@"),
            "{dry:?}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
        w.fails(&["migrate-vkeys", "--rewrite-configs", path], 2, "--yes");
        w.ok(&["migrate-vkeys", "--rewrite-configs", path, "--yes"]);
        let expected =
            std::fs::read_to_string(golden.join(format!("{name}.expected.json"))).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), expected, "{name}");
        // Already rewritten: nothing to do.
        let again = w.ok(&["migrate-vkeys", "--rewrite-configs", path, "--yes"]);
        assert!(
            again.stderr.contains("no `virtual_key` to rewrite"),
            "{again:?}"
        );
    }
    let bad = w.home.path().join("bad.json");
    std::fs::write(&bad, r#"{"virtual_key": "a", "provider": "@b"}"#).unwrap();
    w.fails(
        &[
            "migrate-vkeys",
            "--rewrite-configs",
            bad.to_str().unwrap(),
            "--yes",
        ],
        2,
        "both `virtual_key` and `provider`",
    );
}

#[test]
fn legacy_api_validation() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let (_, ws) = api.post("/admin/workspaces", json!({"name": "eng"}));
    let ws = ws["slug"].as_str().unwrap();
    let bad = |body: Value, needle: &str| {
        crate::common::assert_error(api.post("/virtual-keys", body), 400, "AB01", needle)
    };
    bad(
        json!({"name": "x", "provider": "nope", "key": "k", "workspace_id": ws}),
        "provider",
    );
    bad(
        json!({"name": "x", "provider": "azure-openai", "key": "k", "workspace_id": ws}),
        "resourceName",
    );
    bad(
        json!({"name": "x", "provider": "azure-openai", "key": "k", "resourceName": "r", "workspace_id": ws}),
        "deploymentConfig",
    );
    bad(
        json!({"name": "x", "provider": "openai", "workspace_id": ws}),
        "`key` is required",
    );
    bad(
        json!({"name": "x", "provider": "openai", "key": "k"}),
        "workspace_id",
    );
    // Slugs are one namespace with providers.
    api.post("/virtual-keys", json!({"name": "x", "slug": "taken", "provider": "openai", "key": "k-0123456789abc", "workspace_id": ws}));
    crate::common::assert_error(
        api.post("/virtual-keys", json!({"name": "y", "slug": "taken", "provider": "groq", "key": "k-0123456789abc", "workspace_id": ws})),
        409, "AB07", "taken",
    );
    // Update and delete in the legacy shape.
    let (s, _) = api.put(
        &format!("/virtual-keys/taken?workspace_id={ws}"),
        json!({"note": "n", "usage_limits": {"type": "cost", "credit_limit": 5}}),
    );
    assert_eq!(s, 200);
    let (_, got) = api.get("/virtual-keys/taken");
    assert_eq!(got["note"], "n");
    assert_eq!(got["usage_limits"]["credit_limit"], 5.0);
    assert!(got["masked_api_key"].as_str().unwrap().contains("*****"));
    let (s, _) = api.delete("/virtual-keys/taken", None);
    assert_eq!(s, 200);
    crate::common::assert_error(api.get("/virtual-keys/taken"), 404, "AB08", "taken");
}

#[test]
fn configs_with_comments_change_only_their_references_and_keep_a_backup() {
    let w = World::new(Mode::Embedded);
    w.ok(&["workspaces", "create", "eng"]);
    w.ok(&[
        "integrations",
        "connect",
        "openai-prod",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
        "--provision",
        "eng",
        "--skip-models",
    ]);
    let file = w.home.path().join("config.json");
    let original = "{\n  // Portkey's examples carry comments\n  \"strategy\": {\"mode\": \"fallback\", \"on_status_codes\": [429, 500]},\n  \"targets\": [\n    {\"virtual_key\": \"openai-prod\"}, /* the main one */\n    {\"virtual_key\": \"opanai-typo\"}\n  ]\n}\n";
    std::fs::write(&file, original).unwrap();
    let path = file.to_str().unwrap();
    let dry = w.ok(&["migrate-vkeys", "--rewrite-configs", path, "--dry-run"]);
    let changed: Vec<&str> = dry
        .stdout
        .lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .collect();
    assert_eq!(
        changed.len(),
        4,
        "only the two reference lines change: {dry:?}"
    );
    assert!(
        dry.stderr.contains("`opanai-typo` names no provider"),
        "{dry:?}"
    );
    assert!(
        !dry.stderr.contains("`openai-prod` names no provider"),
        "{dry:?}"
    );
    w.ok(&["migrate-vkeys", "--rewrite-configs", path, "--yes"]);
    let rewritten = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        rewritten,
        original
            .replace(
                "\"virtual_key\": \"openai-prod\"",
                "\"provider\": \"@openai-prod\""
            )
            .replace(
                "\"virtual_key\": \"opanai-typo\"",
                "\"provider\": \"@opanai-typo\""
            )
    );
    let backup = w.home.path().join("config.json.bak");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), original);
    // --no-backup keeps none.
    let other = w.home.path().join("other.json");
    std::fs::write(&other, "{\"virtual_key\": \"openai-prod\"}").unwrap();
    w.ok(&[
        "migrate-vkeys",
        "--rewrite-configs",
        other.to_str().unwrap(),
        "--yes",
        "--no-backup",
    ]);
    assert!(!w.home.path().join("other.json.bak").exists());
}

/// The integration each virtual key's group becomes, by key slug.
fn names(plan_or_report: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for g in plan_or_report["groups"].as_array().into_iter().flatten() {
        for k in g["keys"].as_array().unwrap() {
            out.insert(
                k["slug"].as_str().unwrap().to_owned(),
                g["integration"].as_str().unwrap().to_owned(),
            );
        }
    }
    out
}

#[test]
fn the_plan_names_are_the_applied_names_whatever_the_scope() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let mut ws = BTreeMap::new();
    for name in ["eng", "research"] {
        let (_, body) = api.post("/admin/workspaces", json!({"name": name}));
        ws.insert(name, body["slug"].as_str().unwrap().to_owned());
    }
    // `openai-team` is taken, so the first group becomes `openai-team-2`: the name the
    // second group would take on its own.
    w.ok(&[
        "integrations",
        "connect",
        "openai-team",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
        "--skip-models",
    ]);
    for (slug, key, workspace) in [("team", KEYS[1], "eng"), ("team-2", KEYS[2], "research")] {
        let (s, res) = api.post(
            "/virtual-keys",
            json!({"name": slug, "slug": slug, "provider": "openai", "key": key, "workspace_id": ws[workspace]}),
        );
        assert_eq!(s, 200, "{res}");
    }
    let planned = names(&w.json(&["migrate-vkeys", "--dry-run"])["plan"]);
    assert_eq!(planned["team"], "openai-team-2", "{planned:?}");
    assert_eq!(planned["team-2"], "openai-team-2-2", "{planned:?}");
    // A one-workspace run first names its group as the full plan does.
    let research = w.json(&["migrate-vkeys", "--workspace", "research", "--dry-run"]);
    assert_eq!(
        names(&research["plan"]),
        BTreeMap::from([("team-2".to_owned(), "openai-team-2-2".to_owned())])
    );
    w.ok(&["migrate-vkeys", "--workspace", "research", "--yes"]);
    w.ok(&["migrate-vkeys", "--yes"]);
    for (key, integration) in &planned {
        let workspace = if key == "team" {
            &ws["eng"]
        } else {
            &ws["research"]
        };
        let (_, p) = api.get(&format!("/providers/{key}?workspace_id={workspace}"));
        assert_eq!(&p["integration_id"], integration, "{key}: {p}");
    }
}
