//! Two extensions of the limits the Admin API stores: an integration's own budget across
//! every workspace (`usage_limits` on the integration), and concurrency limits (the most
//! requests in flight) on AI providers and on workspace access. Over HTTP against
//! `catalog serve`, and through the real `catalog` binary.

use crate::common::{assert_error, world_with_openai, Api, Mode, World};
use serde_json::{json, Value};

/// Workspace `eng` (its slug returned) and integration `openai-prod`, served.
fn served() -> (World, Api, String) {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let (s, ws) = api.post("/admin/workspaces", json!({"name": "eng"}));
    assert_eq!(s, 200, "{ws}");
    let (s, created) = api.post(
        "/integrations",
        json!({"name": "OpenAI prod", "slug": "openai-prod", "ai_provider_id": "openai", "key": "sk-limits-0123456789"}),
    );
    assert_eq!(s, 200, "{created}");
    let eng = ws["slug"].as_str().unwrap().to_owned();
    (w, api, eng)
}

fn access_of(api: &Api, eng: &str) -> Value {
    let (s, list) = api.get("/integrations/openai-prod/workspaces");
    assert_eq!(s, 200, "{list}");
    list["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == eng)
        .unwrap_or_else(|| panic!("no access for {eng}: {list}"))
        .clone()
}

#[test]
fn an_integration_budget_is_set_on_create_kept_replaced_and_removed_on_update() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let budget = json!([{"type": "cost", "credit_limit": 10000, "alert_threshold": 8000, "periodic_reset": "monthly"}]);
    let (s, created) = api.post(
        "/integrations",
        json!({"name": "Azure prod", "slug": "azure-prod", "ai_provider_id": "openai", "key": "sk-limits-0123456789", "usage_limits": budget}),
    );
    assert_eq!(s, 200, "{created}");
    let (_, got) = api.get("/integrations/azure-prod");
    let stored = &got["usage_limits"][0];
    assert_eq!(stored["type"], "cost");
    assert_eq!(stored["credit_limit"], 10000);
    assert_eq!(stored["alert_threshold"], 8000);
    assert_eq!(stored["periodic_reset"], "monthly");
    assert_eq!(got["usage_limits"].as_array().unwrap().len(), 1);
    let listed = api.get("/integrations").1;
    assert_eq!(listed["data"][0]["usage_limits"][0]["credit_limit"], 10000);

    // Left out: kept.
    assert_eq!(
        api.put("/integrations/azure-prod", json!({"name": "Azure"}))
            .0,
        200
    );
    assert_eq!(
        api.get("/integrations/azure-prod").1["usage_limits"][0]["credit_limit"],
        10000
    );
    // Given: replaced as a whole.
    let (s, body) = api.put(
        "/integrations/azure-prod",
        json!({"usage_limits": [{"type": "tokens", "credit_limit": 5000000, "periodic_reset_days": 30}]}),
    );
    assert_eq!(s, 200, "{body}");
    let got = api.get("/integrations/azure-prod").1;
    assert_eq!(got["usage_limits"][0]["type"], "tokens");
    assert_eq!(got["usage_limits"][0]["periodic_reset_days"], 30);
    assert!(got["usage_limits"][0].get("alert_threshold").is_none());
    // `null` removes it; so does an empty list.
    assert_eq!(
        api.put("/integrations/azure-prod", json!({"usage_limits": null}))
            .0,
        200
    );
    assert!(api.get("/integrations/azure-prod").1["usage_limits"].is_null());
    api.put("/integrations/azure-prod", json!({"usage_limits": budget}));
    assert_eq!(
        api.put("/integrations/azure-prod", json!({"usage_limits": []}))
            .0,
        200
    );
    assert!(api.get("/integrations/azure-prod").1["usage_limits"].is_null());
    // An integration without one says so.
    let (_, plain) = api.post(
        "/integrations",
        json!({"name": "plain", "slug": "plain", "ai_provider_id": "openai", "key": "sk-limits-0123456789"}),
    );
    assert_eq!(plain["slug"], "plain");
    assert!(api.get("/integrations/plain").1["usage_limits"].is_null());
}

#[test]
fn an_integration_budget_is_checked_like_every_budget() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let create = |slug: &str, usage_limits: Value| {
        api.post(
            "/integrations",
            json!({"name": slug, "slug": slug, "ai_provider_id": "openai", "key": "sk-limits-0123456789", "usage_limits": usage_limits}),
        )
    };
    let bad = [
        (
            json!([{"type": "cost", "credit_limit": 0}]),
            "`usage_limits[0].credit_limit` must be at least 1 USD",
        ),
        (
            json!([{"type": "tokens", "credit_limit": 50}]),
            "`usage_limits[0].credit_limit` must be at least 100 tokens",
        ),
        (
            json!([{"type": "cost", "credit_limit": 100, "alert_threshold": 100}]),
            "`usage_limits[0].alert_threshold`",
        ),
        (
            json!([{"type": "cost", "credit_limit": 100, "periodic_reset": "weekly", "periodic_reset_days": 7}]),
            "`usage_limits[0].periodic_reset` and `usage_limits[0].periodic_reset_days`",
        ),
        (
            json!([{"type": "cost", "credit_limit": 100, "periodic_reset_days": 400}]),
            "`usage_limits[0].periodic_reset_days` must be between 1 and 365",
        ),
        (
            json!([{"type": "cost", "credit_limit": 100}, {"type": "tokens", "credit_limit": 1000}]),
            "`usage_limits` holds at most 1 item(s), got 2",
        ),
        (
            json!([{"type": "dollars", "credit_limit": 100}]),
            "usage_limits[0].type",
        ),
    ];
    for (usage_limits, needle) in &bad {
        assert_error(create("refused", usage_limits.clone()), 400, "AB01", needle);
    }
    assert_eq!(
        api.get("/integrations/refused").0,
        404,
        "nothing was created"
    );

    let (s, body) = create(
        "azure-prod",
        json!([{"type": "cost", "credit_limit": 10000}]),
    );
    assert_eq!(s, 200, "{body}");
    for (usage_limits, needle) in &bad {
        assert_error(
            api.put(
                "/integrations/azure-prod",
                json!({"usage_limits": usage_limits}),
            ),
            400,
            "AB01",
            needle,
        );
    }
    let got = api.get("/integrations/azure-prod").1;
    assert_eq!(
        got["usage_limits"],
        json!([{"type": "cost", "credit_limit": 10000, "periodic_reset": null}]),
        "a refused update changed nothing"
    );
}

#[test]
fn concurrency_limits_round_trip_on_access_and_providers() {
    let (_w, api, eng) = served();
    let (s, body) = api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": eng, "enabled": true, "concurrency_limit": 8}]}),
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(access_of(&api, &eng)["concurrency_limit"], 8);

    // Providers: set on create, returned on reads, kept, changed and removed on update.
    let (s, body) = api.post(
        "/providers",
        json!({"name": "batch", "slug": "batch", "integration_id": "openai-prod", "workspace_id": eng, "concurrency_limit": 4}),
    );
    assert_eq!(s, 200, "{body}");
    let path = format!("/providers/batch?workspace_id={eng}");
    assert_eq!(api.get(&path).1["concurrency_limit"], 4);
    let listed = api.get(&format!("/providers?workspace_id={eng}")).1;
    let batch = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["slug"] == "batch")
        .unwrap()
        .clone();
    assert_eq!(batch["concurrency_limit"], 4);
    // The default provider provisioning created has none.
    assert!(api
        .get(&format!("/providers/openai-prod?workspace_id={eng}"))
        .1["concurrency_limit"]
        .is_null());
    assert_eq!(api.put(&path, json!({"note": "nightly"})).0, 200);
    assert_eq!(api.get(&path).1["concurrency_limit"], 4);
    // Loosely typed clients send numbers as strings.
    assert_eq!(api.put(&path, json!({"concurrency_limit": "6"})).0, 200);
    assert_eq!(api.get(&path).1["concurrency_limit"], 6);
    assert_eq!(api.put(&path, json!({"concurrency_limit": null})).0, 200);
    assert!(api.get(&path).1["concurrency_limit"].is_null());
    assert_eq!(api.put(&path, json!({"concurrency_limit": 8})).0, 200);

    // Access: kept when left out, removed with null.
    let (s, body) = api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": eng, "enabled": true, "rate_limits": [{"type": "requests", "unit": "rpm", "value": 100}]}]}),
    );
    assert_eq!(s, 200, "{body}");
    let access = access_of(&api, &eng);
    assert_eq!(access["concurrency_limit"], 8);
    assert_eq!(access["rate_limits"][0]["value"], 100);
    api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": eng, "enabled": true, "concurrency_limit": null}]}),
    );
    assert!(access_of(&api, &eng)["concurrency_limit"].is_null());
    // Without a limit on the access, any provider limit fits.
    assert_eq!(api.put(&path, json!({"concurrency_limit": 500})).0, 200);

    // Workspaces created later get the global access's concurrency limit.
    let (s, body) = api.put(
        "/integrations/openai-prod/workspaces",
        json!({"global_workspace_access": {"enabled": true, "concurrency_limit": 3}}),
    );
    assert_eq!(s, 200, "{body}");
    let list = api.get("/integrations/openai-prod/workspaces").1;
    assert_eq!(list["global_workspace_access"]["concurrency_limit"], 3);
    let (_, later) = api.post("/admin/workspaces", json!({"name": "later"}));
    let later = later["slug"].as_str().unwrap().to_owned();
    assert_eq!(access_of(&api, &later)["concurrency_limit"], 3);
}

#[test]
fn a_provider_may_not_allow_more_requests_in_flight_than_its_access() {
    let (_w, api, eng) = served();
    api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": eng, "enabled": true, "concurrency_limit": 8}]}),
    );
    let looser = format!(
        "`concurrency_limit` 16 is looser than the 8 requests in flight integration `openai-prod` allows workspace `{eng}`; use at most 8"
    );
    assert_error(
        api.post(
            "/providers",
            json!({"name": "x", "slug": "x", "integration_id": "openai-prod", "workspace_id": eng, "concurrency_limit": 16}),
        ),
        400,
        "AB01",
        &looser,
    );
    assert_eq!(api.get(&format!("/providers/x?workspace_id={eng}")).0, 404);
    // Equal fits; looser on update is refused and changes nothing.
    let (s, body) = api.post(
        "/providers",
        json!({"name": "x", "slug": "x", "integration_id": "openai-prod", "workspace_id": eng, "concurrency_limit": 8}),
    );
    assert_eq!(s, 200, "{body}");
    let path = format!("/providers/x?workspace_id={eng}");
    assert_error(
        api.put(&path, json!({"concurrency_limit": 16})),
        400,
        "AB01",
        &looser,
    );
    assert_eq!(api.get(&path).1["concurrency_limit"], 8);
    // The access may not shrink below a provider's limit: it names the provider.
    let got = api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": eng, "enabled": true, "concurrency_limit": 2}]}),
    );
    assert_error(got, 409, "AB07", "AI provider `@x`");
    assert_eq!(access_of(&api, &eng)["concurrency_limit"], 8);
    // While access is revoked the provider must still fit it for when it returns.
    api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": eng, "enabled": false}]}),
    );
    assert_error(
        api.put(&path, json!({"concurrency_limit": 16})),
        400,
        "AB01",
        "looser than the 8 requests in flight",
    );
}

#[test]
fn a_concurrency_limit_is_a_whole_number_of_one_or_more() {
    let (_w, api, eng) = served();
    api.put(
        "/integrations/openai-prod/workspaces",
        json!({"workspaces": [{"id": eng, "enabled": true}]}),
    );
    let path = format!("/providers/openai-prod?workspace_id={eng}");
    for bad in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("x"),
        json!(true),
        json!(2_000_000),
    ] {
        let shown = format!("{bad:?}: ");
        let create = api.post(
            "/providers",
            json!({"name": "x", "slug": "x", "integration_id": "openai-prod", "workspace_id": eng, "concurrency_limit": bad}),
        );
        assert_error(create, 400, "AB01", "`concurrency_limit`");
        let update = api.put(&path, json!({"concurrency_limit": bad}));
        assert_eq!(update.0, 400, "{shown}{}", update.1);
        let message = update.1["data"]["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains("`concurrency_limit`") && message.contains("from 1 to 1000000"),
            "{shown}{message}"
        );
        let access = api.put(
            "/integrations/openai-prod/workspaces",
            json!({"workspaces": [{"id": eng, "enabled": true, "concurrency_limit": bad}]}),
        );
        assert_error(access, 400, "AB01", "`workspaces[0].concurrency_limit`");
        let global = api.put(
            "/integrations/openai-prod/workspaces",
            json!({"global_workspace_access": {"enabled": true, "concurrency_limit": bad}}),
        );
        assert_error(
            global,
            400,
            "AB01",
            "`global_workspace_access.concurrency_limit`",
        );
    }
    assert_error(
        api.put(&path, json!({"concurrency_limit": -1})),
        400,
        "AB01",
        "got -1",
    );
    assert_error(
        api.put(&path, json!({"concurrency_limit": "x"})),
        400,
        "AB01",
        "got `x`",
    );
    assert_eq!(api.get(&format!("/providers/x?workspace_id={eng}")).0, 404);
    assert!(api.get(&path).1["concurrency_limit"].is_null());
    assert!(access_of(&api, &eng)["concurrency_limit"].is_null());
}

#[test]
fn the_openapi_document_describes_both_extensions() {
    let w = World::new(Mode::Served);
    let url = &w.server.as_ref().unwrap().url;
    let doc: Value = reqwest::blocking::get(format!("{url}/openapi.json"))
        .unwrap()
        .json()
        .unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    // Each of these types documents `field`, in its response shape and in its request
    // shape where that has a schema of its own (`...Input`).
    let documents = |types: &[&str], field: &str| {
        for name in types {
            let shapes: Vec<&String> = schemas
                .keys()
                .filter(|k| k.as_str() == *name || k.starts_with(&format!("{name}Input")))
                .collect();
            assert!(!shapes.is_empty(), "no schema `{name}`");
            for shape in shapes {
                assert!(
                    schemas[shape]["properties"].get(field).is_some(),
                    "{shape} lacks `{field}`: {}",
                    schemas[shape]
                );
            }
        }
    };
    documents(
        &["Integration", "CreateIntegration", "UpdateIntegration"],
        "usage_limits",
    );
    documents(
        &[
            "Provider",
            "CreateProvider",
            "UpdateProvider",
            "IntegrationWorkspace",
            "WorkspaceAccessUpdate",
            "GlobalWorkspaceAccess",
        ],
        "concurrency_limit",
    );
    let text = doc.to_string();
    assert!(
        text.contains("the most requests in flight"),
        "no description"
    );
}

/// Workspaces `eng` and `research` and the integration `openai-prod` (nothing
/// provisioned), in the embedded catalog or behind `catalog serve`.
fn catalog_with_openai(mode: Mode) -> World {
    if mode == Mode::Embedded {
        return world_with_openai();
    }
    let w = World::new(mode);
    for n in ["eng", "research"] {
        w.ok(&["workspaces", "create", n]);
    }
    w.ok(&[
        "integrations",
        "connect",
        "openai-prod",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
        "--skip-models",
    ]);
    w
}

/// A line of `catalog ... get` when piped: `field<TAB>value`.
fn detail(out: &str, field: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}\t")))
        .unwrap_or_else(|| panic!("no `{field}` line in:\n{out}"))
        .to_owned()
}

#[test]
fn integrations_update_sets_changes_and_clears_the_integration_budget() {
    for mode in [Mode::Embedded, Mode::Served] {
        let w = catalog_with_openai(mode);
        let get = || w.json(&["integrations", "get", "openai-prod"]);
        assert!(get()["usage_limits"].is_null());
        assert_eq!(
            detail(
                &w.ok(&["integrations", "get", "openai-prod"]).stdout,
                "budget (all workspaces)"
            ),
            "unlimited"
        );
        w.ok(&[
            "integrations",
            "update",
            "openai-prod",
            "--budget",
            "10000",
            "--reset",
            "monthly",
            "--alert",
            "8000",
        ]);
        let budget = &get()["usage_limits"][0];
        assert_eq!(budget["type"], "cost");
        assert_eq!(budget["credit_limit"], 10000);
        assert_eq!(budget["periodic_reset"], "monthly");
        assert_eq!(budget["alert_threshold"], 8000);
        let shown = w.ok(&["integrations", "get", "openai-prod"]).stdout;
        assert_eq!(detail(&shown, "budget (all workspaces)"), "10000 USD");
        assert_eq!(detail(&shown, "resets"), "monthly");

        // Flags change only what they name.
        w.ok(&["integrations", "update", "openai-prod", "--budget", "12000"]);
        let budget = &get()["usage_limits"][0];
        assert_eq!(budget["credit_limit"], 12000);
        assert_eq!(budget["periodic_reset"], "monthly");
        assert_eq!(budget["alert_threshold"], 8000);
        w.ok(&["integrations", "update", "openai-prod", "--reset", "30d"]);
        let budget = &get()["usage_limits"][0];
        assert_eq!(budget["periodic_reset_days"], 30);
        assert!(budget["periodic_reset"].is_null());
        assert_eq!(budget["credit_limit"], 12000);

        // Checked where typed, as every budget is: nothing changes.
        w.fails(
            &["integrations", "update", "openai-prod", "--alert", "20000"],
            2,
            "must be below the budget",
        );
        w.fails(
            &["integrations", "update", "openai-prod", "--budget", "0"],
            2,
            "positive number",
        );
        w.fails(
            &[
                "integrations",
                "update",
                "openai-prod",
                "--budget-type",
                "tokens",
            ],
            2,
            "pass --budget too",
        );
        w.fails(
            &[
                "integrations",
                "update",
                "openai-prod",
                "--clear-budget",
                "--budget",
                "5",
            ],
            2,
            "--budget",
        );
        // Only the budget is an integration's own limit.
        w.fails(
            &[
                "integrations",
                "update",
                "openai-prod",
                "--rate-limit",
                "10/min",
            ],
            2,
            "--rate-limit",
        );
        w.fails(
            &[
                "integrations",
                "update",
                "openai-prod",
                "--concurrency",
                "8",
            ],
            2,
            "--concurrency",
        );
        assert_eq!(get()["usage_limits"][0]["credit_limit"], 12000);

        // The request a dry run shows is the one the API takes.
        let plan = w.ok(&[
            "integrations",
            "update",
            "openai-prod",
            "--budget",
            "500000",
            "--budget-type",
            "tokens",
            "--dry-run",
            "-o",
            "json",
        ]);
        assert!(plan.stdout.contains("\"tokens\""), "{plan:?}");
        assert_eq!(get()["usage_limits"][0]["type"], "cost");

        w.ok(&["integrations", "update", "openai-prod", "--clear-budget"]);
        assert!(get()["usage_limits"].is_null());
        w.fails(
            &["integrations", "update", "openai-prod", "--reset", "weekly"],
            2,
            "pass --budget too",
        );
        // Other updates keep the budget.
        w.ok(&["integrations", "update", "openai-prod", "--budget", "300"]);
        w.ok(&["integrations", "update", "openai-prod", "--name", "OpenAI"]);
        assert_eq!(get()["usage_limits"][0]["credit_limit"], 300);
        assert_eq!(get()["name"], "OpenAI");
    }
}

#[test]
fn concurrency_flags_set_show_fit_and_remove_limits() {
    for mode in [Mode::Embedded, Mode::Served] {
        let w = catalog_with_openai(mode);
        w.ok(&[
            "workspaces",
            "provision",
            "eng",
            "--integration",
            "openai-prod",
            "--concurrency",
            "8",
        ]);
        let access = |ws: &str| {
            let list = w.json(&["integrations", "workspaces", "openai-prod"]);
            list["workspaces"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["name"] == ws)
                .cloned()
                .unwrap_or(Value::Null)
        };
        assert_eq!(access("eng")["concurrency_limit"], 8);
        let table = w.ok(&["integrations", "workspaces", "openai-prod"]).stdout;
        assert!(table.contains("8 in flight"), "{table}");
        // Flags change only what they name: a budget keeps the concurrency limit.
        w.ok(&[
            "workspaces",
            "provision",
            "eng",
            "--integration",
            "openai-prod",
            "--budget",
            "1000",
        ]);
        assert_eq!(access("eng")["concurrency_limit"], 8);
        assert_eq!(access("eng")["usage_limits"][0]["credit_limit"], 1000);

        // Providers: within the access's limit, shown where the rate limit is.
        w.ok(&[
            "providers",
            "create",
            "eng-batch",
            "--integration",
            "openai-prod",
            "--workspace",
            "eng",
            "--concurrency",
            "4",
            "--rate-limit",
            "10/min",
        ]);
        let provider = || w.json(&["providers", "get", "@eng-batch", "--workspace", "eng"]);
        assert_eq!(provider()["concurrency_limit"], 4);
        let shown = w
            .ok(&["providers", "get", "eng-batch", "--workspace", "eng"])
            .stdout;
        assert_eq!(detail(&shown, "concurrency"), "4 in flight");
        assert_eq!(detail(&shown, "rate limit"), "10 requests/min");
        let listed = w.ok(&["providers", "list", "--workspace", "eng"]).stdout;
        let row = listed
            .lines()
            .find(|l| l.starts_with("@eng-batch\t"))
            .unwrap_or_else(|| panic!("{listed}"));
        assert!(row.ends_with("\t4 in flight"), "{row}");
        let default_row = listed
            .lines()
            .find(|l| l.starts_with("@openai-prod\t"))
            .unwrap_or_else(|| panic!("{listed}"));
        assert!(default_row.ends_with("\tunlimited"), "{default_row}");

        let looser = w.fails(
            &[
                "providers",
                "create",
                "greedy",
                "--integration",
                "openai-prod",
                "--workspace",
                "eng",
                "--concurrency",
                "16",
            ],
            2,
            "`concurrency_limit` 16 is looser than the 8 requests in flight integration `openai-prod`",
        );
        assert!(looser.stderr.contains("use at most 8"), "{looser:?}");
        w.fails(
            &[
                "providers",
                "update",
                "eng-batch",
                "--workspace",
                "eng",
                "--concurrency",
                "9",
            ],
            2,
            "looser than the 8",
        );

        // Update: other flags keep it; a new value replaces it; 0 and none remove it.
        w.ok(&[
            "providers",
            "update",
            "eng-batch",
            "--workspace",
            "eng",
            "--budget",
            "50",
        ]);
        assert_eq!(provider()["concurrency_limit"], 4);
        assert_eq!(provider()["rate_limits"][0]["value"], 10);
        w.ok(&[
            "providers",
            "update",
            "eng-batch",
            "--workspace",
            "eng",
            "--concurrency",
            "6",
        ]);
        assert_eq!(provider()["concurrency_limit"], 6);
        assert_eq!(provider()["usage_limits"]["credit_limit"], 50);
        assert_eq!(provider()["rate_limits"][0]["value"], 10);
        w.ok(&[
            "providers",
            "update",
            "eng-batch",
            "--workspace",
            "eng",
            "--concurrency",
            "none",
        ]);
        assert!(provider()["concurrency_limit"].is_null());
        assert_eq!(
            detail(
                &w.ok(&["providers", "get", "eng-batch", "--workspace", "eng"])
                    .stdout,
                "concurrency"
            ),
            "unlimited"
        );
        w.ok(&[
            "providers",
            "update",
            "eng-batch",
            "--workspace",
            "eng",
            "--concurrency",
            "5",
        ]);
        w.ok(&[
            "providers",
            "update",
            "eng-batch",
            "--workspace",
            "eng",
            "--concurrency",
            "0",
        ]);
        assert!(provider()["concurrency_limit"].is_null());
        assert_eq!(provider()["rate_limits"][0]["value"], 10);

        // The access may not shrink below a provider's limit.
        w.ok(&[
            "providers",
            "update",
            "eng-batch",
            "--workspace",
            "eng",
            "--concurrency",
            "4",
        ]);
        w.fails(
            &[
                "workspaces",
                "provision",
                "eng",
                "--integration",
                "openai-prod",
                "--concurrency",
                "2",
            ],
            5,
            "AI provider `@eng-batch`",
        );
        assert_eq!(access("eng")["concurrency_limit"], 8);

        // The plan shows the change; `none` removes the access's limit.
        let plan = w.ok(&[
            "workspaces",
            "provision",
            "eng",
            "--integration",
            "openai-prod",
            "--concurrency",
            "none",
            "--dry-run",
        ]);
        assert!(
            plan.stderr.contains("concurrency 8 in flight → unlimited")
                || plan.stdout.contains("concurrency 8 in flight → unlimited"),
            "{plan:?}"
        );
        assert_eq!(
            access("eng")["concurrency_limit"],
            8,
            "a dry run writes nothing"
        );
        w.ok(&[
            "workspaces",
            "provision",
            "eng",
            "--integration",
            "openai-prod",
            "--concurrency",
            "none",
        ]);
        assert!(access("eng")["concurrency_limit"].is_null());
        assert_eq!(access("eng")["usage_limits"][0]["credit_limit"], 1000);

        // Workspaces created later get it too.
        w.ok(&[
            "workspaces",
            "provision",
            "--integration",
            "openai-prod",
            "--new-workspaces",
            "--concurrency",
            "3",
        ]);
        w.ok(&["workspaces", "create", "later"]);
        assert_eq!(access("later")["concurrency_limit"], 3);
        assert!(access("eng")["concurrency_limit"].is_null());
    }
}

#[test]
fn bad_concurrency_values_are_usage_errors_naming_the_flag() {
    let w = world_with_openai();
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
    ]);
    let commands: [&[&str]; 3] = [
        &[
            "providers",
            "create",
            "p",
            "--integration",
            "openai-prod",
            "--workspace",
            "eng",
        ],
        &["providers", "update", "openai-prod", "--workspace", "eng"],
        &[
            "workspaces",
            "provision",
            "eng",
            "--integration",
            "openai-prod",
        ],
    ];
    for bad in ["-1", "1.5", "x", "8/min"] {
        for command in commands {
            let mut args = command.to_vec();
            args.extend(["--concurrency", bad]);
            let out = w.fails(&args, 2, "requests in flight");
            assert!(out.stderr.contains("--concurrency"), "{out:?}");
        }
    }
    let out = w.fails(
        &[
            "providers",
            "update",
            "openai-prod",
            "--workspace",
            "eng",
            "--concurrency",
            "2000000",
        ],
        2,
        "more than 1000000",
    );
    assert!(out.stderr.contains("--concurrency"), "{out:?}");
    let provider = w.json(&["providers", "get", "openai-prod", "--workspace", "eng"]);
    assert!(provider["concurrency_limit"].is_null());
    assert_eq!(
        w.run(&["providers", "get", "p", "--workspace", "eng"]).code,
        4
    );
}
