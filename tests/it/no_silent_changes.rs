//! Nothing changes that the user did not ask to change: flags not given keep their
//! current value, "no" turns things off, and re-runs that change nothing say so.

use crate::common::{world_with_openai, Mode, World};
use serde_json::Value;

fn access(w: &World, slug: &str) -> Value {
    w.json(&["integrations", "workspaces", slug])
}

fn budget_of<'a>(access: &'a Value, name: &str) -> &'a Value {
    let entry = access["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} has no access: {access}"));
    &entry["usage_limits"][0]
}

#[test]
fn a_new_budget_amount_keeps_reset_alert_and_rate() {
    let w = world_with_openai();
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--budget",
        "1000",
        "--reset",
        "monthly",
        "--alert",
        "800",
        "--rate-limit",
        "100/min",
    ]);
    let plan = w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--budget",
        "1200",
        "--dry-run",
    ]);
    assert!(
        plan.stderr.contains("budget 1000 USD → 1200 USD")
            && plan.stderr.contains("reset monthly,")
            && plan.stderr.contains("alert 800,"),
        "{plan:?}"
    );
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--budget",
        "1200",
    ]);
    let a = access(&w, "openai-prod");
    let b = budget_of(&a, "eng");
    assert_eq!(b["credit_limit"].as_f64(), Some(1200.0), "{a}");
    assert_eq!(b["periodic_reset"], "monthly", "{a}");
    assert_eq!(b["alert_threshold"].as_f64(), Some(800.0), "{a}");

    // --all with a budget changes only the amount, everywhere.
    w.ok(&[
        "workspaces",
        "provision",
        "--all",
        "--integration",
        "openai-prod",
        "--budget",
        "5000",
    ]);
    let a = access(&w, "openai-prod");
    let b = budget_of(&a, "eng");
    assert_eq!(b["credit_limit"].as_f64(), Some(5000.0), "{a}");
    assert_eq!(b["periodic_reset"], "monthly", "{a}");
    assert_eq!(b["alert_threshold"].as_f64(), Some(800.0), "{a}");
    let eng = a["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "eng")
        .unwrap();
    assert_eq!(eng["rate_limits"][0]["value"].as_i64(), Some(100), "{a}");

    // An alert alone changes the alert; an alert above the budget names the flag.
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--alert",
        "900",
    ]);
    let a = access(&w, "openai-prod");
    assert_eq!(
        budget_of(&a, "eng")["alert_threshold"].as_f64(),
        Some(900.0)
    );
    assert_eq!(budget_of(&a, "eng")["credit_limit"].as_f64(), Some(5000.0));
    w.fails(
        &[
            "workspaces",
            "provision",
            "eng",
            "--integration",
            "openai-prod",
            "--alert",
            "9000",
        ],
        2,
        "--alert 9000 must be below the budget",
    );
}

#[test]
fn provider_updates_keep_the_budget_fields_not_given() {
    let w = world_with_openai();
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
    ]);
    w.ok(&[
        "providers",
        "create",
        "eng-batch",
        "--integration",
        "openai-prod",
        "--workspace",
        "eng",
        "--budget",
        "200",
        "--reset",
        "weekly",
        "--alert",
        "150",
    ]);
    let p = w.json(&[
        "providers",
        "update",
        "@eng-batch",
        "--workspace",
        "eng",
        "--budget",
        "300",
    ]);
    assert_eq!(
        p["usage_limits"]["credit_limit"].as_f64(),
        Some(300.0),
        "{p}"
    );
    assert_eq!(p["usage_limits"]["periodic_reset"], "weekly", "{p}");
    assert_eq!(
        p["usage_limits"]["alert_threshold"].as_f64(),
        Some(150.0),
        "{p}"
    );
}

#[test]
fn workspaces_created_later_can_be_turned_off() {
    let w = world_with_openai();
    w.ok(&[
        "workspaces",
        "provision",
        "--integration",
        "openai-prod",
        "--new-workspaces",
        "--budget",
        "50",
    ]);
    let a = access(&w, "openai-prod");
    assert_eq!(a["global_workspace_access"]["enabled"], true, "{a}");
    let out = w.ok(&[
        "workspaces",
        "provision",
        "--integration",
        "openai-prod",
        "--no-new-workspaces",
    ]);
    assert!(out.stderr.contains("no longer provisioned"), "{out:?}");
    let a = access(&w, "openai-prod");
    assert_eq!(a["global_workspace_access"]["enabled"], false, "{a}");
    w.ok(&["workspaces", "create", "later"]);
    let a = access(&w, "openai-prod");
    assert!(
        !a["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "later" && x["enabled"] == true),
        "{a}"
    );
}

fn deployments(w: &World) -> Vec<(String, bool)> {
    let i = w.json(&["integrations", "get", "azure-prod"]);
    i["configurations"]["azure_deployment_config"]
        .as_array()
        .unwrap_or_else(|| panic!("{i}"))
        .iter()
        .map(|d| {
            (
                d["alias"]
                    .as_str()
                    .or(d["azure_model_slug"].as_str())
                    .unwrap()
                    .to_owned(),
                d["is_default"] == true,
            )
        })
        .collect()
}

#[test]
fn azure_deployments_are_added_replaced_and_removed_one_by_one() {
    let w = World::new(Mode::Embedded);
    w.ok(&[
        "integrations",
        "connect",
        "azure-prod",
        "--service",
        "azure-openai",
        "--key-env",
        "PROVIDER_KEY",
        "--azure-resource-name",
        "acme",
        "--azure-auth-mode",
        "default",
        "--azure-deployment",
        "name=gpt4o,model=gpt-4o,api-version=2024-10-21",
        "--skip-models",
    ]);
    let dry = w.ok(&[
        "integrations",
        "update",
        "azure-prod",
        "--azure-deployment",
        "name=mini,model=gpt-4o-mini,api-version=2024-10-21",
        "--dry-run",
    ]);
    assert!(
        dry.stdout.contains("gpt4o") && dry.stdout.contains("mini"),
        "{dry:?}"
    );
    assert_eq!(deployments(&w), vec![("gpt-4o".to_owned(), true)]);
    w.ok(&[
        "integrations",
        "update",
        "azure-prod",
        "--azure-deployment",
        "name=mini,model=gpt-4o-mini,api-version=2024-10-21",
    ]);
    assert_eq!(
        deployments(&w),
        vec![
            ("gpt-4o".to_owned(), true),
            ("gpt-4o-mini".to_owned(), false)
        ]
    );
    w.ok(&[
        "integrations",
        "update",
        "azure-prod",
        "--remove-azure-deployment",
        "gpt-4o",
    ]);
    assert_eq!(deployments(&w), vec![("gpt-4o-mini".to_owned(), true)]);
    w.fails(
        &[
            "integrations",
            "update",
            "azure-prod",
            "--remove-azure-deployment",
            "nope",
        ],
        4,
        "gpt-4o-mini",
    );
}

#[test]
fn a_mistyped_model_is_not_priced_into_existence() {
    let w = world_with_openai();
    let out = w.fails(
        &[
            "models",
            "price",
            "@openai-prod/gpt-4oo",
            "--input-price",
            "2",
        ],
        2,
        "`gpt-4oo` is not a known `openai` model",
    );
    assert!(out.stderr.contains("gpt-4o"), "{out:?}");
    let models = w.json(&["models", "list", "--integration", "openai-prod"]);
    assert!(
        !models.to_string().contains("gpt-4oo"),
        "a phantom model appeared: {models}"
    );
    // --custom insists; a model already on the integration needs no --custom.
    w.ok(&[
        "models",
        "price",
        "@openai-prod/my-model",
        "--input-price",
        "2",
        "--custom",
    ]);
    w.ok(&[
        "models",
        "price",
        "@openai-prod/my-model",
        "--input-price",
        "3",
    ]);
}

#[test]
fn a_built_in_model_cannot_be_added_as_custom_and_remove_keeps_prices() {
    let w = world_with_openai();
    w.fails(
        &["models", "add", "@openai-prod", "gpt-4o"],
        2,
        "`gpt-4o` is a built-in `openai` model, not a custom one",
    );
    w.ok(&[
        "models",
        "price",
        "@openai-prod/gpt-4o",
        "--input-price",
        "2",
        "--output-price",
        "8",
    ]);
    let out = w.ok(&["models", "remove", "@openai-prod", "gpt-4o", "--yes"]);
    assert!(out.stderr.contains("its price override is kept"), "{out:?}");
    let rows = w.json(&["models", "list", "--integration", "openai-prod"]);
    let gpt4o = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["slug"] == "gpt-4o")
        .unwrap();
    assert_eq!(gpt4o["enabled"], false, "{gpt4o}");
    assert_eq!(gpt4o["price_override"], true, "{gpt4o}");
    assert_eq!(gpt4o["input_per_mtok"].as_f64(), Some(2.0), "{gpt4o}");
    w.fails(
        &["models", "remove", "@openai-prod", "gpt-4oo", "--yes"],
        4,
        "`gpt-4oo` is not a model of `openai-prod`",
    );
}

#[test]
fn model_changes_print_only_what_changed() {
    let w = world_with_openai();
    let out = w.ok(&["models", "deny", "@openai-prod", "gpt-4o-mini"]);
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    assert!(out.stdout.starts_with("gpt-4o-mini\tno"), "{out:?}");
    let out = w.ok(&[
        "models",
        "price",
        "@openai-prod/gpt-4o",
        "--input-price",
        "2",
    ]);
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
}

#[test]
fn prices_are_checked_naming_their_flag() {
    let w = world_with_openai();
    w.fails(
        &["models", "price", "@openai-prod/gpt-4o", "--input-price=-1"],
        2,
        "--input-price",
    );
    w.fails(
        &[
            "models",
            "price",
            "@openai-prod/gpt-4o",
            "--output-price",
            "-1",
        ],
        2,
        "must be 0 or more",
    );
    w.fails(
        &[
            "models",
            "price",
            "@openai-prod/gpt-4o",
            "--input-price",
            "2000000",
        ],
        2,
        "more than 1000000",
    );
    w.fails(
        &[
            "models",
            "price",
            "@openai-prod/gpt-4o",
            "--input-price",
            "NaN",
        ],
        2,
        "not a finite number",
    );
}

#[test]
fn connect_prints_the_final_state_and_a_rerun_changes_nothing() {
    crate::common::both(|w| {
        w.ok(&["workspaces", "create", "eng"]);
        let args = [
            "integrations",
            "connect",
            "openai-prod",
            "--service",
            "openai",
            "--key-env",
            "PROVIDER_KEY",
            "--provision",
            "eng",
            "--budget",
            "100",
            "--models",
            "gpt-4o,gpt-4o-mini",
        ];
        let first = w.json(&args);
        assert_eq!(first["workspace_count"].as_u64(), Some(1), "{first}");
        assert_eq!(first["allow_all_models"], false, "{first}");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let mut again = args.to_vec();
        again.extend(["-o", "json"]);
        let out = w.ok(&again);
        let second = out.json();
        assert!(out.stderr.contains("step 1: unchanged"), "{out:?}");
        assert!(out.stderr.contains("step 3: unchanged"), "{out:?}");
        assert_eq!(
            first["last_updated_at"], second["last_updated_at"],
            "{out:?}"
        );
        // Another allow-list replaces the first one.
        let mut narrower = args[..args.len() - 1].to_vec();
        narrower.extend(["gpt-4o", "-o", "json"]);
        let third = w.ok(&narrower);
        assert!(
            third.stderr.contains("step 3: only gpt-4o enabled"),
            "{third:?}"
        );
        let models = w.json(&["models", "list", "--integration", "openai-prod"]);
        let enabled: Vec<&str> = models
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["enabled"] == true)
            .map(|m| m["slug"].as_str().unwrap())
            .collect();
        assert_eq!(enabled, vec!["gpt-4o"], "{models}");
    });
}

#[test]
fn connect_on_a_slug_of_another_service_fails_before_asking_anything() {
    let w = world_with_openai();
    w.fails(
        &[
            "integrations",
            "connect",
            "openai-prod",
            "--service",
            "anthropic",
        ],
        5,
        "already exists for `openai`, not `anthropic`",
    );
}

#[test]
fn the_connect_summary_shows_the_alert() {
    let w = World::new(Mode::Embedded);
    w.ok(&["workspaces", "create", "eng"]);
    let out = w.ok(&[
        "integrations",
        "connect",
        "openai-prod",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
        "--provision",
        "eng",
        "--budget",
        "1000",
        "--alert",
        "800",
        "--dry-run",
    ]);
    assert!(out.stderr.contains("alert 800"), "{out:?}");
}

#[test]
fn a_workspace_integration_gets_its_ai_provider_in_that_workspace() {
    crate::common::both(|w| {
        w.ok(&["workspaces", "create", "eng"]);
        let args = [
            "integrations",
            "connect",
            "eng-groq",
            "--service",
            "groq",
            "--key-env",
            "PROVIDER_KEY",
            "--workspace",
            "eng",
            "--budget",
            "50",
            "--skip-models",
        ];
        let out = w.ok(&args);
        assert!(
            out.stderr.contains("created AI provider `@eng-groq`"),
            "{out:?}"
        );
        let providers = w.json(&["providers", "list", "--workspace", "eng"]);
        let p = providers
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["slug"] == "eng-groq")
            .unwrap_or_else(|| panic!("{providers}"));
        assert_eq!(p["integration_id"], "eng-groq");
        assert_eq!(p["usage_limits"]["credit_limit"].as_f64(), Some(50.0));
        // Running it again creates nothing more.
        let again = w.ok(&args);
        assert!(!again.stderr.contains("created AI provider"), "{again:?}");
        let providers = w.json(&["providers", "list", "--workspace", "eng"]);
        assert_eq!(providers.as_array().unwrap().len(), 1, "{providers}");
    });
}

#[test]
fn provisioning_flags_on_a_workspace_integration_are_refused_not_ignored() {
    let w = World::new(Mode::Embedded);
    w.ok(&["workspaces", "create", "eng"]);
    w.ok(&["workspaces", "create", "research"]);
    w.fails(
        &[
            "integrations",
            "connect",
            "eng-groq",
            "--service",
            "groq",
            "--key-env",
            "PROVIDER_KEY",
            "--workspace",
            "eng",
            "--provision",
            "research",
        ],
        2,
        "a workspace integration serves only its own workspace",
    );
    assert_eq!(
        w.json(&["integrations", "list"]).as_array().unwrap().len(),
        0,
        "nothing was written"
    );
}

#[test]
fn limits_without_workspaces_to_provision_are_refused_not_ignored() {
    let w = World::new(Mode::Embedded);
    for extra in [
        &["--budget", "100"][..],
        &["--skip-provisioning", "--rate-limit", "5/min"],
    ] {
        let mut args = vec![
            "integrations",
            "connect",
            "openai-prod",
            "--service",
            "openai",
            "--key-env",
            "PROVIDER_KEY",
        ];
        args.extend_from_slice(extra);
        w.fails(&args, 2, "--provision WORKSPACE");
    }
    assert_eq!(
        w.json(&["integrations", "list"]).as_array().unwrap().len(),
        0
    );
}

#[test]
fn a_provider_slug_for_a_workspace_that_has_access_is_refused_not_ignored() {
    let w = world_with_openai();
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
    ]);
    w.fails(
        &[
            "workspaces",
            "provision",
            "eng",
            "--integration",
            "openai-prod",
            "--provider-slug",
            "eng-openai",
        ],
        2,
        "already has access",
    );
    // For a workspace provisioned now, it names the provider.
    w.ok(&[
        "workspaces",
        "provision",
        "research",
        "--integration",
        "openai-prod",
        "--provider-slug",
        "research-openai",
    ]);
    let providers = w.json(&["providers", "list", "--workspace", "research"]);
    assert_eq!(providers[0]["slug"], "research-openai", "{providers}");
}
