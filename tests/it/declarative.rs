//! The declarative catalog: `catalog export`, `plan`, `apply` and `schema`, against the
//! embedded catalog and `catalog serve`.

use std::path::PathBuf;

use serde_json::Value;

use crate::common::{both, Mode, World, PROVIDER_KEY, ROTATED_KEY};

fn write(w: &World, name: &str, text: &str) -> PathBuf {
    let path = w.home.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn p(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
}

/// A catalog built with the imperative commands: every kind of object the file holds.
pub(crate) fn build_imperatively(w: &World) {
    w.ok(&[
        "workspaces",
        "create",
        "eng",
        "--description",
        "Engineering",
        "--metadata",
        "team=ml",
    ]);
    w.ok(&["workspaces", "create", "research"]);
    w.ok(&[
        "integrations",
        "connect",
        "openai-prod",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
        "--skip-models",
        "--config",
        "openai_project=proj-1",
    ]);
    w.ok(&[
        "integrations",
        "update",
        "openai-prod",
        "--price-multiplier",
        "0.8",
        "--budget",
        "10000",
        "--reset",
        "monthly",
    ]);
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
        "--concurrency",
        "16",
    ]);
    w.ok(&[
        "workspaces",
        "provision",
        "research",
        "--integration",
        "openai-prod",
        "--budget",
        "500",
    ]);
    w.ok(&[
        "workspaces",
        "provision",
        "--integration",
        "openai-prod",
        "--new-workspaces",
        "--budget",
        "50",
        "--rate-limit",
        "5/min",
    ]);
    w.ok(&[
        "models",
        "allow",
        "@openai-prod",
        "--only",
        "gpt-4o,gpt-4o-mini",
    ]);
    w.ok(&["models", "deny", "@openai-prod", "gpt-4o-mini"]);
    w.ok(&[
        "models",
        "add",
        "@openai-prod",
        "ft:gpt-4o:acme",
        "--finetune",
        "--base",
        "gpt-4o",
        "--input-price",
        "3.75",
        "--output-price",
        "15",
    ]);
    w.ok(&[
        "models",
        "price",
        "@openai-prod/gpt-4o",
        "--input-price",
        "2",
        "--output-price",
        "8",
    ]);
    // The default provider provisioning created, with limits and an expiry of its own.
    w.ok(&[
        "providers",
        "update",
        "openai-prod",
        "--workspace",
        "eng",
        "--budget",
        "50",
        "--rate-limit",
        "30/min",
        "--expires",
        "2031-01-01",
    ]);
    w.ok(&[
        "providers",
        "create",
        "eng-batch",
        "--integration",
        "openai-prod",
        "--workspace",
        "eng",
        "--expires",
        "2030-06-30",
        "--budget",
        "200",
        "--rate-limit",
        "10/min",
        "--concurrency",
        "4",
    ]);
    let gw = write(
        w,
        "fallback.json",
        r#"{"strategy": {"mode": "fallback", "on_status_codes": [429]}, "targets": [{"provider": "@eng-batch", "override_params": {"model": "gpt-4o"}}, {"provider": "@openai-prod", "weight": 0.5}], "retry": {"attempts": 2}}"#,
    );
    w.ok(&[
        "configs",
        "create",
        "--name",
        "Fallback chain",
        "--file",
        p(&gw),
        "--workspace",
        "eng",
    ]);
    let old = write(w, "old.json", r#"{"provider": "@openai-prod"}"#);
    let slug = w.json(&[
        "configs",
        "create",
        "--name",
        "Old route",
        "--file",
        p(&old),
        "--workspace",
        "research",
    ])["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    w.ok(&["configs", "update", &slug, "--status", "archived"]);
}

#[test]
fn export_apply_export_round_trips_on_both_transports() {
    both(|w| {
        build_imperatively(w);
        let a = w.home.path().join("a.yaml");
        w.ok(&["export", "--out", p(&a)]);
        let first = std::fs::read_to_string(&a).unwrap();
        assert!(first.contains("env: OPENAI_PROD_KEY"), "{first}");
        assert!(!first.contains(PROVIDER_KEY), "the export holds a secret");
        for needle in [
            "name: eng",
            "ft:gpt-4o:acme",
            "eng-batch",
            "new_workspaces",
            "price_multiplier: 0.8",
            "openai_project: proj-1",
            "configs:",
            "name: Fallback chain",
            "'@eng-batch'",
            "name: Old route",
            "status: archived",
            "- slug: openai-prod\n  workspace: eng",
            "expires_at: 2031-01-01T00:00:00",
            "expires_at: 2030-06-30T00:00:00",
        ] {
            assert!(first.contains(needle), "{needle}: {first}");
        }

        let mut empty = World::new(w.mode);
        empty
            .extra_env
            .push(("OPENAI_PROD_KEY".into(), ROTATED_KEY.into()));
        let plan = empty.ok(&["plan", "-f", p(&a)]);
        assert!(plan.stdout.contains("+ workspace eng"), "{plan:?}");
        assert!(
            plan.stdout.contains("+ provider eng/@eng-batch"),
            "{plan:?}"
        );
        assert!(
            plan.stdout
                .contains("key: (secret from env OPENAI_PROD_KEY)"),
            "{plan:?}"
        );
        assert!(
            plan.stdout.contains("+ config Fallback chain (eng)")
                && plan.stdout.contains("+ config Old route (research)")
                && plan.stdout.contains("+ status: archived"),
            "{plan:?}"
        );
        let report = empty.json(&["apply", "-f", p(&a), "--yes"]);
        assert_eq!(report["result"], "applied", "{report}");
        assert!(report["done"].as_array().unwrap().len() >= 5, "{report}");
        let b = empty.home.path().join("b.yaml");
        empty.ok(&["export", "--out", p(&b)]);
        assert_eq!(first, std::fs::read_to_string(&b).unwrap());

        let again = empty.ok(&["apply", "-f", p(&a), "--yes"]);
        assert!(again.stderr.contains("No changes"), "{again:?}");
        let again = empty.json(&["apply", "-f", p(&a), "--yes"]);
        assert_eq!(again["result"], "unchanged");
        let key = empty.json(&["integrations", "get", "openai-prod"]);
        assert_eq!(key["masked_key"], catalog::crypto::mask(ROTATED_KEY));
        for world in [w, &empty] {
            let seen = world.everything_seen();
            assert!(
                !seen.contains(PROVIDER_KEY) && !seen.contains(ROTATED_KEY),
                "a secret was shown"
            );
        }
    });
}

const V1: &str = "\
workspaces:
  - name: eng
    description: Engineering
    usage_limits: [{type: cost, credit_limit: 1000}]
  - name: research
integrations:
  - slug: openai-prod
    service: openai
    key: {env: PROVIDER_KEY, version: 1}
    workspaces:
      eng: {usage_limits: [{type: cost, credit_limit: 500}], rate_limits: [{type: requests, unit: rpm, value: 100}]}
    models:
      allow_all: false
      allow: [gpt-4o]
providers:
  - slug: eng-batch
    workspace: eng
    integration: openai-prod
    usage_limits: {type: cost, credit_limit: 100}
";

#[test]
fn every_kind_of_change_is_planned_applied_and_then_a_no_op() {
    let w = World::new(Mode::Embedded);
    let f = write(&w, "catalog.yaml", V1);
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    let v2 = V1
        .replace("description: Engineering", "description: Engineering team")
        .replace("credit_limit: 1000}", "credit_limit: 2000}")
        .replace("value: 100}", "value: 50}")
        .replace(
            "allow: [gpt-4o]",
            "allow: [gpt-4o, gpt-4.1]\n      prices: {gpt-4o: {input: 2, output: 8}}",
        )
        .replace(
            "credit_limit: 100}\n",
            "credit_limit: 150}\n    note: batch jobs\n",
        )
        .replace(
            "  - name: research\n",
            "  - name: research\n  - name: ml\n    metadata: {team: ml}\n",
        )
        .replace(
            "    workspaces:\n      eng:",
            "    description: OpenAI\n    workspaces:\n      ml: {}\n      eng:",
        );
    std::fs::write(&f, &v2).unwrap();
    let plan = w.ok(&["plan", "-f", p(&f)]).stdout;
    for needle in [
        "~ workspace eng",
        "~ description: \"Engineering\" → \"Engineering team\"",
        "+ workspace ml",
        "~ integration openai-prod",
        "+ access openai-prod → ml",
        "~ access openai-prod → eng",
        "~ models openai-prod",
        "+ gpt-4.1: enabled",
        "~ provider eng/@eng-batch",
        "+ note: \"batch jobs\"",
    ] {
        assert!(plan.contains(needle), "{needle}:\n{plan}");
    }
    assert!(
        plan.contains("Plan: 2 to create, 5 to change, 0 to delete."),
        "{plan}"
    );
    let json = w.json(&["plan", "-f", p(&f)]);
    assert_eq!(json["counts"]["create"], 2);
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    let after = w.ok(&["plan", "-f", p(&f), "--exit-code"]);
    assert!(after.stdout.contains("No changes"), "{after:?}");
    let ws = w.json(&["workspaces", "get", "eng"]);
    assert_eq!(ws["description"], "Engineering team");
    let providers = w.json(&["providers", "list", "--workspace", "eng"]);
    let batch = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["slug"] == "eng-batch")
        .unwrap();
    assert_eq!(batch["usage_limits"]["credit_limit"], 150);
}

#[test]
fn drift_from_an_imperative_command_shows_in_the_next_plan() {
    both(|w| {
        let f = write(w, "catalog.yaml", V1);
        w.ok(&["apply", "-f", p(&f), "--yes"]);
        let clean = w.run(&["plan", "-f", p(&f), "--exit-code"]);
        assert_eq!(clean.code, 0, "{clean:?}");
        w.ok(&[
            "workspaces",
            "update",
            "eng",
            "--description",
            "changed by hand",
        ]);
        w.ok(&["models", "allow", "@openai-prod", "gpt-4.1"]);
        let drift = w.run(&["plan", "-f", p(&f), "--exit-code"]);
        assert_eq!(drift.code, 10, "{drift:?}");
        assert!(
            drift
                .stdout
                .contains("~ description: \"changed by hand\" → \"Engineering\""),
            "{drift:?}"
        );
        assert!(
            drift.stdout.contains("gpt-4.1: enabled → disabled"),
            "{drift:?}"
        );
        assert!(drift.stderr.is_empty(), "{drift:?}");
        // Access granted by hand is drift too, though the file leaves it alone.
        w.ok(&["apply", "-f", p(&f), "--yes"]);
        w.ok(&[
            "workspaces",
            "provision",
            "research",
            "--integration",
            "openai-prod",
        ]);
        let drift = w.run(&["plan", "-f", p(&f), "--exit-code"]);
        assert_eq!(drift.code, 10, "{drift:?}");
        assert!(
            drift.stdout.contains("access openai-prod → research")
                && drift
                    .stdout
                    .contains("No changes to what the file declares."),
            "{drift:?}"
        );
        assert!(!drift.stdout.contains("matches the file"), "{drift:?}");
    });
}

#[test]
fn prune_deletes_only_what_it_lists_and_asks() {
    let w = World::new(Mode::Embedded);
    let f = write(&w, "catalog.yaml", V1);
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    w.ok(&["workspaces", "create", "scratch"]);
    w.ok(&[
        "providers",
        "create",
        "extra",
        "--integration",
        "openai-prod",
        "--workspace",
        "eng",
    ]);
    let plan = w.ok(&["plan", "-f", p(&f)]).stdout;
    assert!(
        plan.contains("not in the file and are left alone"),
        "{plan}"
    );
    assert!(
        plan.contains("workspace scratch") && plan.contains("No changes"),
        "{plan}"
    );
    let pruning = w.ok(&["plan", "-f", p(&f), "--prune"]).stdout;
    assert!(
        pruning.contains("- workspace scratch") && pruning.contains("- provider eng/@extra"),
        "{pruning}"
    );
    w.fails(&["apply", "-f", p(&f), "--prune"], 2, "--yes");
    assert!(w
        .ok(&["workspaces", "get", "scratch"])
        .stdout
        .contains("scratch"));
    w.ok(&["apply", "-f", p(&f), "--prune", "--yes"]);
    w.fails(&["workspaces", "get", "scratch"], 4, "not found");
    assert!(w
        .ok(&["plan", "-f", p(&f), "--prune"])
        .stdout
        .contains("No changes"));
}

#[test]
fn a_saved_plan_is_applied_exactly_or_refused_after_the_live_catalog_changed() {
    both(|w| {
        let f = write(w, "catalog.yaml", V1);
        let plan = w.home.path().join("plan.json");
        w.ok(&["plan", "-f", p(&f), "--out", p(&plan)]);
        assert!(!std::fs::read_to_string(&plan)
            .unwrap()
            .contains(PROVIDER_KEY));
        w.ok(&["workspaces", "create", "interloper"]);
        let refused = w.fails(&["apply", p(&plan), "--yes"], 5, "changed since the plan");
        assert!(
            refused.stderr.contains("catalog plan -f FILE --out"),
            "{refused:?}"
        );
        w.fails(&["workspaces", "get", "eng"], 4, "not found");
        w.ok(&["plan", "-f", p(&f), "--out", p(&plan)]);
        w.ok(&["apply", p(&plan), "--yes"]);
        assert!(w.ok(&["plan", "-f", p(&f)]).stdout.contains("No changes"));
        // The same plan again: the catalog it was computed against is gone.
        w.fails(&["apply", p(&plan), "--yes"], 5, "changed since the plan");
    });
}

#[test]
fn bad_files_are_refused_with_file_line_and_column_before_anything_is_written() {
    let w = World::new(Mode::Embedded);
    let f = write(
        &w,
        "catalog.yaml",
        "workspaces:\n  - name: eng\n    descripton: x\n",
    );
    let out = w.fails(&["plan", "-f", p(&f)], 2, "catalog.yaml:3:5");
    assert!(
        out.stderr.contains("did you mean `description`?"),
        "{out:?}"
    );
    let f = write(&w, "inline.yaml", "workspaces:\n  - name: eng\nintegrations:\n  - slug: a\n    service: openai\n    key: sk-inline-secret-123\n");
    let out = w.fails(&["apply", "-f", p(&f), "--yes"], 2, "inline secret");
    assert!(out.stderr.contains("inline.yaml:6:5"), "{out:?}");
    assert!(!w.everything_seen().contains("sk-inline-secret-123"));
    // Something declared twice is pointed at where it is declared again.
    let f = write(
        &w,
        "twice.yaml",
        "workspaces:\n  - name: eng\n  - name: eng\n",
    );
    w.fails(
        &["plan", "-f", p(&f)],
        2,
        "twice.yaml:3:5: `workspaces[1].name`",
    );
    // A typo in an Azure deployment is refused at its line, with the name it meant.
    let f = write(&w, "azure.yaml", "integrations:\n  - slug: az\n    service: azure-openai\n    key: {env: PROVIDER_KEY}\n    configuration:\n      azure_auth_mode: default\n      azure_resource_name: acme\n      azure_deployment_config:\n        - azure_deployment_name: gpt4o\n          azure_model_slug: gpt-4o\n          azure_api_version: 2024-10-21\n          is_defualt: true\n");
    let out = w.fails(&["plan", "-f", p(&f)], 2, "azure.yaml:12:11");
    assert!(out.stderr.contains("did you mean `is_default`?"), "{out:?}");
    // A secret pasted where the variable's name goes is refused, and not repeated.
    let f = write(
        &w,
        "pasted.yaml",
        "integrations:\n  - slug: a\n    service: openai\n    key: {env: sk-pasted-secret-456}\n",
    );
    let out = w.fails(
        &["plan", "-f", p(&f)],
        2,
        "must name an environment variable",
    );
    assert!(out.stderr.contains("pasted.yaml:4:5"), "{out:?}");
    assert!(!w.everything_seen().contains("sk-pasted-secret-456"));
    // A secret that cannot be read fails a dry run as it would fail the apply, and the
    // apply before it writes anything.
    let f = write(&w, "unset.yaml", "workspaces:\n  - name: early\nintegrations:\n  - slug: a\n    service: openai\n    key: {env: NOPE_UNSET}\n");
    w.fails(
        &["apply", "-f", p(&f), "--dry-run"],
        2,
        "`NOPE_UNSET`, which is not set",
    );
    w.fails(
        &["apply", "-f", p(&f), "--yes"],
        2,
        "`NOPE_UNSET`, which is not set",
    );
    assert!(
        w.run(&["workspaces", "get", "early"]).code == 4,
        "a workspace was written"
    );
    // A custom model's price goes with it, and it is not allow-listed.
    let custom = V1.replace(
        "      allow: [gpt-4o]\n",
        "      allow: [gpt-4o, mine]\n      custom: [{slug: mine}]\n",
    );
    let f = write(&w, "custom.yaml", &custom);
    let out = w.fails(&["plan", "-f", p(&f)], 2, "`mine` is a custom model");
    assert!(out.stderr.contains("custom.yaml:14:23"), "{out:?}");
    let f = write(
        &w,
        "custom-price.yaml",
        &custom.replace(
            "allow: [gpt-4o, mine]",
            "allow: [gpt-4o]\n      prices: {mine: {input: 1, output: 2}}",
        ),
    );
    w.fails(&["plan", "-f", p(&f)], 2, "give its price under `custom`");
    // A typo in an allow-list or a price override, even inside `[...]`.
    let f = write(
        &w,
        "typo.yaml",
        &V1.replace("allow: [gpt-4o]", "allow: [gpt-4o, gpt-4o-mnii]"),
    );
    let out = w.fails(
        &["apply", "-f", p(&f), "--yes"],
        2,
        "`gpt-4o-mnii` is not a known `openai` model",
    );
    assert!(out.stderr.contains("typo.yaml:14:23"), "{out:?}");
    assert!(out.stderr.contains("did you mean `gpt-4o-mini`"), "{out:?}");
    w.fails(&["workspaces", "get", "eng"], 4, "not found");
    let f = write(&w, "budget.yaml", "workspaces:\n  - name: eng\n    usage_limits:\n      - type: cost\n        credit_limit: 100\n        alert_threshold: 150\n");
    w.fails(&["plan", "-f", p(&f)], 2, "alert_threshold");
    let f = write(
        &w,
        "missing.yaml",
        &V1.replace("PROVIDER_KEY", "NOT_SET_ANYWHERE"),
    );
    let out = w.fails(&["apply", "-f", p(&f), "--yes"], 2, "NOT_SET_ANYWHERE");
    assert!(
        out.stderr.contains("integrations.openai-prod.key"),
        "{out:?}"
    );
    w.fails(&["workspaces", "get", "eng"], 4, "not found");
    let schema: Value = serde_json::from_str(&w.ok(&["schema"]).stdout).unwrap();
    assert!(schema["properties"]["integrations"].is_object(), "{schema}");
    assert!(schema["properties"]["configs"].is_object(), "{schema}");
    let schema_text = schema.to_string();
    assert!(
        schema_text.contains("archived") && schema_text.contains("ConfigSpec"),
        "{schema}"
    );
}

#[test]
fn a_new_secret_version_rotates_the_stored_secret() {
    both(|w| {
        let f = write(w, "catalog.yaml", V1);
        w.ok(&["apply", "-f", p(&f), "--yes"]);
        let masked =
            |w: &World| w.json(&["integrations", "get", "openai-prod"])["masked_key"].clone();
        assert_eq!(masked(w), catalog::crypto::mask(PROVIDER_KEY));
        // The same version with another value in the variable: nothing to do.
        std::fs::write(&f, V1.replace("env: PROVIDER_KEY", "env: ROTATED_KEY")).unwrap();
        assert!(w.ok(&["plan", "-f", p(&f)]).stdout.contains("No changes"));
        std::fs::write(
            &f,
            V1.replace(
                "env: PROVIDER_KEY, version: 1",
                "env: ROTATED_KEY, version: 2",
            ),
        )
        .unwrap();
        let plan = w.ok(&["plan", "-f", p(&f)]).stdout;
        assert!(
            plan.contains("~ key: (secret, version 1) → (secret from env ROTATED_KEY, version 2)"),
            "{plan}"
        );
        w.ok(&["apply", "-f", p(&f), "--yes"]);
        assert_eq!(masked(w), catalog::crypto::mask(ROTATED_KEY));
        assert!(w.ok(&["plan", "-f", p(&f)]).stdout.contains("No changes"));
        let exported = w.ok(&["export"]).stdout;
        assert!(exported.contains("version: 2"), "{exported}");
        let seen = w.everything_seen();
        assert!(!seen.contains(PROVIDER_KEY) && !seen.contains(ROTATED_KEY));
    });
}

#[test]
fn an_interrupted_apply_is_finished_by_applying_again() {
    // A failure midway: the provider asks for more than its access allows.
    let w = World::new(Mode::Served);
    let bad = V1.replace(
        "usage_limits: {type: cost, credit_limit: 100}",
        "usage_limits: {type: cost, credit_limit: 900}",
    );
    let f = write(&w, "catalog.yaml", &bad);
    let out = w.run(&["apply", "-f", p(&f), "--yes"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("while applying step"), "{out:?}");
    assert!(
        out.stderr
            .contains("run the same `catalog apply -f FILE` again"),
        "{out:?}"
    );
    w.ok(&["workspaces", "get", "eng"]);
    std::fs::write(&f, V1).unwrap();
    let plan = w.ok(&["plan", "-f", p(&f)]).stdout;
    assert!(plan.contains("Plan: 1 to create, 0 to change"), "{plan}");
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    assert!(w.ok(&["plan", "-f", p(&f)]).stdout.contains("No changes"));

    // A kill -9 at some point of a longer apply: applying again converges.
    let many: String = (0..40).map(|i| format!("  - name: team-{i}\n")).collect();
    let big = V1.replace(
        "  - name: research\n",
        &format!("  - name: research\n{many}"),
    );
    std::fs::write(&f, &big).unwrap();
    let mut child = w.command(&["apply", "-f", p(&f), "--yes"]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    // A request the killed apply had sent still lands on the server: applying again is
    // planned against the catalog once that has settled, as a person re-running it would.
    let count = || {
        w.json(&["workspaces", "list"])
            .as_array()
            .map_or(0, Vec::len)
    };
    let mut last = count();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let now = count();
        if now == last {
            break;
        }
        last = now;
    }
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    assert!(w.ok(&["plan", "-f", p(&f)]).stdout.contains("No changes"));
}

/// V1 with saved configs in both workspaces.
fn with_configs() -> String {
    format!(
        "{V1}\
configs:
  - name: Fallback chain
    workspace: eng
    config:
      strategy: {{mode: fallback}}
      targets:
        - provider: '@eng-batch'
          override_params: {{model: gpt-4o}}
        - provider: '@openai-prod'
      retry: {{attempts: 2}}
  - name: Research default
    workspace: research
    config: {{provider: '@openai-prod'}}
"
    )
}

fn config_of(w: &World, workspace: &str, name: &str) -> Option<Value> {
    w.json(&["configs", "list", "--workspace", workspace])
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
}

fn body(c: &Value) -> Value {
    serde_json::from_str(c["config"].as_str().unwrap()).unwrap()
}

#[test]
fn configs_are_created_changed_and_pruned_then_a_no_op() {
    let w = World::new(Mode::Embedded);
    let text = with_configs();
    let f = write(&w, "catalog.yaml", &text);
    let plan = w.ok(&["plan", "-f", p(&f)]).stdout;
    assert!(plan.contains("+ config Fallback chain (eng)"), "{plan}");
    assert!(
        plan.contains(
            "+ config Research default (research)\n    + config: {\"provider\":\"@openai-prod\"}"
        ),
        "{plan}"
    );
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    let fallback = config_of(&w, "eng", "Fallback chain").expect("created");
    assert_eq!(body(&fallback)["targets"][0]["provider"], "@eng-batch");
    let slug = fallback["slug"].as_str().unwrap().to_owned();
    assert!(w.ok(&["plan", "-f", p(&f)]).stdout.contains("No changes"));

    // A changed body (a new version) and a status; a config left out of the file.
    let v2 = text
        .replace("retry: {attempts: 2}", "retry: {attempts: 3}")
        .replace(
            "        - provider: '@openai-prod'\n",
            "        - provider: '@openai-prod'\n          request_timeout: 10000\n",
        )
        .replace(
            "    config: {provider: '@openai-prod'}\n",
            "    config: {provider: '@openai-prod'}\n    status: archived\n",
        );
    let v2 = format!("{v2}  - name: Cheap\n    workspace: eng\n    config: {{provider: '@openai-prod', override_params: {{model: gpt-4o-mini}}}}\n");
    std::fs::write(&f, &v2).unwrap();
    let plan = w.ok(&["plan", "-f", p(&f)]).stdout;
    for needle in [
        "~ config Fallback chain (eng)",
        "    ~ config.retry.attempts: 2 → 3",
        "    + config.targets[1].request_timeout: 10000",
        "    + version: the changed body is saved as a new version",
        "~ config Research default (research)",
        "    ~ status: active → archived",
        "+ config Cheap (eng)",
        "Plan: 1 to create, 2 to change, 0 to delete.",
    ] {
        assert!(plan.contains(needle), "{needle}:\n{plan}");
    }
    let json = w.json(&["plan", "-f", p(&f)]);
    let change = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "config" && c["action"] == "update")
        .unwrap()
        .clone();
    assert_eq!(change["name"], "Fallback chain (eng)");
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    let versions = w.json(&["configs", "versions", &slug]);
    assert_eq!(versions.as_array().unwrap().len(), 2, "{versions}");
    let fallback = config_of(&w, "eng", "Fallback chain").unwrap();
    assert_eq!(fallback["slug"], slug.as_str(), "updated in place");
    assert_eq!(body(&fallback)["retry"]["attempts"], 3);
    assert_eq!(
        config_of(&w, "research", "Research default").unwrap()["status"],
        "archived"
    );
    assert!(w
        .ok(&["plan", "-f", p(&f), "--exit-code"])
        .stdout
        .contains("No changes"));

    // Removed from the file: left alone, then deleted with --prune.
    std::fs::write(
        &f,
        text.replace("retry: {attempts: 2}", "retry: {attempts: 3}"),
    )
    .unwrap();
    let plan = w.ok(&["plan", "-f", p(&f)]).stdout;
    assert!(
        plan.contains("config Cheap (eng)") && plan.contains("left alone"),
        "{plan}"
    );
    assert!(!plan.contains("- config Cheap"), "{plan}");
    let pruning = w.ok(&["plan", "-f", p(&f), "--prune"]).stdout;
    assert!(pruning.contains("- config Cheap (eng)"), "{pruning}");
    w.ok(&["apply", "-f", p(&f), "--prune", "--yes"]);
    assert!(config_of(&w, "eng", "Cheap").is_none());
    assert!(w
        .ok(&["plan", "-f", p(&f), "--prune"])
        .stdout
        .contains("No changes"));
}

#[test]
fn a_config_holding_a_credential_or_declared_twice_is_refused_before_anything_is_written() {
    let w = World::new(Mode::Embedded);
    let inline = with_configs().replace(
        "        - provider: '@openai-prod'\n",
        "        - provider: openai\n          api_key: sk-inline-config-key-42\n",
    );
    let f = write(&w, "inline.yaml", &inline);
    let line = inline.lines().position(|l| l.contains("api_key:")).unwrap() + 1;
    let out = w.fails(&["apply", "-f", p(&f), "--yes"], 2, "holds a credential");
    assert!(
        out.stderr.contains(&format!(
            "inline.yaml:{line}:11: `configs[0].config.targets[1].api_key`"
        )),
        "{out:?}"
    );
    assert!(out.stderr.contains("AI provider"), "{out:?}");
    assert!(!w.everything_seen().contains("sk-inline-config-key-42"));
    w.fails(&["workspaces", "get", "eng"], 4, "not found");

    // The same body check as `catalog configs create`.
    let bad = with_configs().replace("retry: {attempts: 2}", "retry: {attempts: 9}");
    let f = write(&w, "retry.yaml", &bad);
    w.fails(
        &["plan", "-f", p(&f)],
        2,
        "`configs[0].config.retry.attempts`",
    );

    let twice = format!(
        "{}  - name: Fallback chain\n    workspace: eng\n    config: {{provider: '@openai-prod'}}\n",
        with_configs()
    );
    let line = twice.lines().count() - 2;
    let f = write(&w, "twice.yaml", &twice);
    let out = w.fails(&["plan", "-f", p(&f)], 2, "declared twice");
    assert!(
        out.stderr
            .contains(&format!("twice.yaml:{line}:5: `configs[2].name`")),
        "{out:?}"
    );
    // The same name in another workspace is another config.
    let f = write(
        &w,
        "other.yaml",
        &twice.replace(
            "  - name: Fallback chain\n    workspace: eng\n    config: {provider",
            "  - name: Fallback chain\n    workspace: research\n    config: {provider",
        ),
    );
    w.ok(&["plan", "-f", p(&f)]);
    let f = write(
        &w,
        "nows.yaml",
        &with_configs().replace(
            "workspace: research\n    config",
            "workspace: ops\n    config",
        ),
    );
    w.fails(&["plan", "-f", p(&f)], 2, "names workspace `ops`");

    // Live configs sharing a name in a workspace are left out, with a warning.
    let f = write(&w, "catalog.yaml", &with_configs());
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    let gw = write(&w, "gw.json", r#"{"provider": "@openai-prod"}"#);
    for _ in 0..2 {
        w.ok(&[
            "configs",
            "create",
            "--name",
            "Shared",
            "--file",
            p(&gw),
            "--workspace",
            "eng",
        ]);
    }
    let out = w.ok(&["export"]);
    assert!(
        out.stderr
            .contains("several configs are named `Shared (eng)`"),
        "{out:?}"
    );
    assert!(!out.stdout.contains("Shared"), "{out:?}");
    assert!(out.stdout.contains("Fallback chain"), "{out:?}");
    let pruning = w.ok(&["plan", "-f", p(&f), "--prune"]);
    assert!(!pruning.stdout.contains("Shared"), "{pruning:?}");
}

#[test]
fn a_config_changed_by_hand_shows_in_the_next_plan() {
    both(|w| {
        let f = write(w, "catalog.yaml", &with_configs());
        w.ok(&["apply", "-f", p(&f), "--yes"]);
        let slug = config_of(w, "research", "Research default").unwrap()["slug"]
            .as_str()
            .unwrap()
            .to_owned();
        let gw = write(
            w,
            "gw.json",
            r#"{"provider": "@openai-prod", "cache": {"mode": "simple"}}"#,
        );
        w.ok(&["configs", "update", &slug, "--file", p(&gw)]);
        let drift = w.run(&["plan", "-f", p(&f), "--exit-code"]);
        assert_eq!(drift.code, 10, "{drift:?}");
        assert!(
            drift
                .stdout
                .contains("~ config Research default (research)\n    - config.cache: {\"mode\":\"simple\"}\n    + version: the changed body is saved as a new version"),
            "{drift:?}"
        );
        w.ok(&["apply", "-f", p(&f), "--yes"]);
        assert_eq!(
            body(&config_of(w, "research", "Research default").unwrap()),
            serde_json::json!({"provider": "@openai-prod"})
        );
        assert_eq!(w.run(&["plan", "-f", p(&f), "--exit-code"]).code, 0);
    });
}

#[test]
fn pruning_never_takes_api_keys_and_blank_text_is_left_out() {
    let w = World::new(Mode::Embedded);
    let f = write(&w, "catalog.yaml", V1);
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    // A workspace the file leaves out, holding an API key: pruning refuses to take it.
    w.ok(&["workspaces", "create", "scratch"]);
    w.ok(&[
        "api-keys",
        "create",
        "k1",
        "--type",
        "workspace",
        "--workspace",
        "scratch",
        "--scope",
        "completions.write",
    ]);
    let out = w.fails(&["plan", "-f", p(&f), "--prune"], 2, "its API keys (`k1` (");
    assert!(out.stderr.contains("catalog api-keys delete ID"), "{out:?}");
    w.fails(&["apply", "-f", p(&f), "--prune", "--yes"], 2, "`k1`");
    assert_eq!(
        w.json(&["api-keys", "list", "--workspace", "scratch"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A saved plan made while a workspace had no key: a key made since stops the delete.
    let k1 = w.json(&["api-keys", "list", "--workspace", "scratch"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.ok(&["api-keys", "delete", &k1, "--yes"]);
    w.ok(&["workspaces", "create", "later"]);
    let saved = w.home.path().join("prune.json");
    w.ok(&["plan", "-f", p(&f), "--prune", "--out", p(&saved)]);
    w.ok(&[
        "api-keys",
        "create",
        "k2",
        "--type",
        "workspace",
        "--workspace",
        "later",
        "--scope",
        "completions.write",
    ]);
    let out = w.fails(
        &["apply", p(&saved), "--yes"],
        5,
        "now holds API keys (`k2` (",
    );
    assert!(out.stderr.contains("was not deleted"), "{out:?}");
    assert_eq!(
        w.json(&["api-keys", "list", "--workspace", "later"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An empty description or note is the field left out: a second apply is a no-op.
    let blank = V1
        .replace("description: Engineering", "description: \"\"")
        .replace(
            "    integration: openai-prod\n",
            "    integration: openai-prod\n    note: \"\"\n",
        );
    let f2 = write(&w, "blank.yaml", &blank);
    w.ok(&["apply", "-f", p(&f2), "--yes"]);
    assert!(w.ok(&["plan", "-f", p(&f2)]).stdout.contains("No changes"));
}

#[test]
fn exported_secret_variables_never_collide_and_versions_are_never_echoed() {
    let w = World::new(Mode::Embedded);
    for slug in ["team-oa", "team_oa"] {
        w.ok(&[
            "integrations",
            "connect",
            slug,
            "--service",
            "openai",
            "--key-env",
            "PROVIDER_KEY",
            "--skip-models",
        ]);
    }
    let out = w.home.path().join("export.yaml");
    w.ok(&["export", "--out", p(&out)]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("env: TEAM_OA_KEY") && text.contains("env: TEAM_OA_KEY_2"),
        "{text}"
    );
    // A version that is not a number may be a secret pasted in the wrong place.
    let bad = V1.replace("version: 1", "version: sk-PASTED-0123456789");
    let f = write(&w, "bad.yaml", &bad);
    let refused = w.fails(
        &["plan", "-f", p(&f)],
        2,
        "`version` must be a whole number",
    );
    assert!(!refused.stderr.contains("sk-PASTED"), "{refused:?}");
}

#[test]
fn a_service_s_own_rules_are_checked_before_anything_is_written() {
    let w = World::new(Mode::Embedded);
    let before = w.ok(&["export"]).stdout;
    let no_key = "workspaces:\n  - name: c11ws\nintegrations:\n  - slug: oa\n    service: openai\n";
    let f = write(&w, "nokey.yaml", no_key);
    w.fails(&["apply", "-f", p(&f), "--yes"], 2, "nokey.yaml:4:");
    let azure = "workspaces:\n  - name: c17ws\nintegrations:\n  - slug: az\n    service: azure-openai\n    key: {env: PROVIDER_KEY}\n    configuration:\n      azure_auth_mode: bogus\n      azure_resource_name: acme\n";
    let f = write(&w, "azure.yaml", azure);
    w.fails(&["apply", "-f", p(&f), "--yes"], 2, "azure_auth_mode");
    let slug = "workspaces:\n  - name: w\nintegrations:\n  - slug: oa\n    service: openai\n    key: {env: PROVIDER_KEY}\n    workspaces: {w: {}}\nproviders:\n  - {slug: \"bad slug!\", workspace: w, integration: oa}\n";
    let f = write(&w, "slug.yaml", slug);
    w.fails(&["apply", "-f", p(&f), "--yes"], 2, "is not a slug");
    let price = "workspaces:\n  - name: w\nintegrations:\n  - slug: oa\n    service: openai\n    key: {env: PROVIDER_KEY}\n    models:\n      prices:\n        gpt-4o: {input: -5, output: 1}\n";
    let f = write(&w, "price.yaml", price);
    w.fails(&["apply", "-f", p(&f), "--yes"], 2, "must be 0 or more");
    assert_eq!(w.ok(&["export"]).stdout, before, "nothing was written");
}

#[test]
fn an_export_after_a_revocation_is_a_file_its_own_plan_accepts() {
    let w = World::new(Mode::Embedded);
    let f = write(&w, "catalog.yaml", V1);
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    w.ok(&[
        "workspaces",
        "revoke",
        "eng",
        "--integration",
        "openai-prod",
        "--yes",
    ]);
    let out = w.home.path().join("after.yaml");
    w.ok(&["export", "--out", p(&out)]);
    let plan = w.ok(&["plan", "-f", p(&out)]).stdout;
    assert!(plan.contains("No changes"), "{plan}");
}

#[test]
fn a_saved_plan_moves_with_its_checkout() {
    let w = World::new(Mode::Embedded);
    let one = w.home.path().join("ci1");
    std::fs::create_dir_all(one.join("secrets")).unwrap();
    std::fs::write(one.join("secrets/k"), PROVIDER_KEY).unwrap();
    let file = V1.replace(
        "key: {env: PROVIDER_KEY, version: 1}",
        "key: {file: secrets/k}",
    );
    std::fs::write(one.join("catalog.yaml"), file).unwrap();
    w.ok(&[
        "plan",
        "-f",
        p(&one.join("catalog.yaml")),
        "--out",
        p(&one.join("plan.json")),
    ]);
    let saved = std::fs::read_to_string(one.join("plan.json")).unwrap();
    assert!(
        !saved.contains(p(&one)),
        "the plan names its checkout relatively: {saved}"
    );
    let two = w.home.path().join("ci2");
    std::fs::rename(&one, &two).unwrap();
    w.ok(&["apply", p(&two.join("plan.json")), "--yes"]);
    assert!(w
        .ok(&["plan", "-f", p(&two.join("catalog.yaml"))])
        .stdout
        .contains("No changes"));
}

#[test]
fn access_new_workspaces_gives_is_the_file_s_own_and_prune_leaves_it() {
    let w = World::new(Mode::Embedded);
    let one = "workspaces:\n  - name: a\nintegrations:\n  - slug: oa\n    service: openai\n    key: {env: PROVIDER_KEY}\n    workspaces: {a: {}}\n    new_workspaces: {usage_limits: [{type: cost, credit_limit: 50}]}\n";
    let f = write(&w, "nw.yaml", one);
    w.ok(&["apply", "-f", p(&f), "--yes", "--prune"]);
    let two = one.replace("  - name: a\n", "  - name: a\n  - name: b\n");
    let f2 = write(&w, "nw2.yaml", &two);
    w.ok(&["apply", "-f", p(&f2), "--yes", "--prune"]);
    let again = w.ok(&["plan", "-f", p(&f2), "--prune"]).stdout;
    assert!(
        again.contains("No changes"),
        "the first apply was final: {again}"
    );
    let access = w.ok(&["integrations", "workspaces", "oa"]).stdout;
    assert!(access.contains('b'), "{access}");
}

#[test]
fn a_default_provider_s_own_limits_round_trip_and_leaving_it_out_makes_it_plain() {
    let w = World::new(Mode::Embedded);
    build_imperatively(&w);
    let a = w.home.path().join("a.yaml");
    w.ok(&["export", "--out", p(&a)]);
    let text = std::fs::read_to_string(&a).unwrap();
    // The file without the default provider's entry: its limits and expiry go.
    let start = text
        .find("- slug: openai-prod\n  workspace: eng")
        .expect(&text);
    // The entry ends where the next line starts at the margin.
    let end = text[start..]
        .match_indices('\n')
        .map(|(i, _)| start + i + 1)
        .find(|&i| text[i..].starts_with(|c: char| !c.is_whitespace()))
        .unwrap_or(text.len());
    let without = format!("{}{}", &text[..start], &text[end..]);
    let b = write(&w, "b.yaml", &without);
    let plan = w.ok(&["plan", "-f", p(&b)]);
    assert!(
        plan.stdout.contains("~ provider eng/@openai-prod"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("- provider"), "{}", plan.stdout);
    // In JSON, the values are JSON values, not JSON inside text.
    let json = w.json(&["plan", "-f", p(&b)]);
    let change = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "provider")
        .unwrap();
    let limits = change["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "usage_limits")
        .unwrap();
    assert_eq!(limits["old"]["credit_limit"], 50.0, "{change}");
    assert!(limits["new"].is_null(), "{change}");
    w.ok(&["apply", "-f", p(&b), "--yes"]);
    let provider = w.json(&["providers", "get", "openai-prod", "--workspace", "eng"]);
    assert!(provider["usage_limits"].is_null(), "{provider}");
    assert!(provider["expires_at"].is_null(), "{provider}");
    let again = w.json(&["apply", "-f", p(&b), "--yes"]);
    assert_eq!(again["result"], "unchanged");
    // Back as the first file had it.
    w.ok(&["apply", "-f", p(&a), "--yes"]);
    let c = w.home.path().join("c.yaml");
    w.ok(&["export", "--out", p(&c)]);
    assert_eq!(text, std::fs::read_to_string(&c).unwrap());
    // An expiry that is not a time is refused where it stands.
    let bad = write(
        &w,
        "bad.yaml",
        &text.replacen(
            "expires_at: 2031-01-01T00:00:00Z",
            "expires_at: next year",
            1,
        ),
    );
    let out = w.fails(&["plan", "-f", p(&bad)], 2, "expires_at");
    assert!(
        out.stderr.contains("not a date or timestamp"),
        "{}",
        out.stderr
    );
    // A date is its midnight UTC, as the server keeps it: no change to plan.
    let dated = write(
        &w,
        "dated.yaml",
        &text.replacen(
            "expires_at: 2031-01-01T00:00:00Z",
            "expires_at: 2031-01-01",
            1,
        ),
    );
    assert!(w
        .ok(&["plan", "-f", p(&dated)])
        .stdout
        .contains("No changes"));
}

#[test]
fn a_service_account_setting_round_trips_as_a_reference() {
    let w = World::new(Mode::Embedded);
    let account = r#"{"type":"service_account","project_id":"p","private_key":"-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----\n","client_email":"a@p.iam.gserviceaccount.com"}"#;
    let sa = write(&w, "sa.json", account);
    w.ok(&[
        "integrations",
        "connect",
        "vtx",
        "--service",
        "vertex-ai",
        "--vertex-auth-type",
        "serviceAccount",
        "--vertex-region",
        "us-central1",
        "--vertex-service-account-file",
        p(&sa),
        "--no-input",
    ]);
    let a = w.home.path().join("a.yaml");
    w.ok(&["export", "--out", p(&a)]);
    let first = std::fs::read_to_string(&a).unwrap();
    assert!(
        first.contains("env: VTX_VERTEX_SERVICE_ACCOUNT_JSON"),
        "{first}"
    );
    let mut empty = World::new(Mode::Embedded);
    empty
        .extra_env
        .push(("VTX_VERTEX_SERVICE_ACCOUNT_JSON".into(), "not json".into()));
    empty.fails(&["apply", "-f", p(&a), "--yes"], 2, "must be a JSON object");
    empty.extra_env.pop();
    empty
        .extra_env
        .push(("VTX_VERTEX_SERVICE_ACCOUNT_JSON".into(), account.into()));
    empty.ok(&["apply", "-f", p(&a), "--yes"]);
    let b = empty.home.path().join("b.yaml");
    empty.ok(&["export", "--out", p(&b)]);
    assert_eq!(first, std::fs::read_to_string(&b).unwrap());
    assert!(!empty.everything_seen().contains("PRIVATE KEY"));
}

#[test]
fn renaming_an_integration_renames_its_default_providers_in_the_same_apply() {
    let w = World::new(Mode::Embedded);
    let text = "\
workspaces: [{name: eng}, {name: research}]
integrations:
  - slug: oa
    name: OpenAI Main
    service: openai
    key: {env: PROVIDER_KEY}
    workspaces: {eng: {}, research: {}}
";
    let f = write(&w, "ren.yaml", text);
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    let named = |ws: &str| w.json(&["providers", "get", "oa", "--workspace", ws])["name"].clone();
    assert_eq!(named("eng"), "OpenAI Main");
    for new in [
        text.replace("    name: OpenAI Main\n", ""),
        text.replace("OpenAI Main", "OpenAI Prod"),
    ] {
        let f = write(&w, "ren.yaml", &new);
        let plan = w.ok(&["plan", "-f", p(&f)]);
        assert!(plan.stdout.contains("~ provider eng/@oa"), "{plan:?}");
        w.ok(&["apply", "-f", p(&f), "--yes"]);
        let again = w.run(&["plan", "-f", p(&f), "--exit-code"]);
        assert_eq!(again.code, 0, "the second apply is not a no-op: {again:?}");
    }
    assert_eq!(named("research"), "OpenAI Prod");
}

#[test]
fn a_header_left_out_of_the_file_is_planned_and_removed() {
    both(|w| {
        let with = "\
integrations:
  - slug: oa
    service: openai
    key: {env: PROVIDER_KEY}
    configuration:
      custom_headers: {x-a: {env: PROVIDER_KEY}, x-b: {env: ROTATED_KEY}}
";
        let f = write(w, "h1.yaml", with);
        w.ok(&["apply", "-f", p(&f), "--yes"]);
        let headers = |w: &World| {
            let g = w.json(&["integrations", "get", "oa"]);
            let mut names: Vec<String> = g["configurations"]["masked_custom_headers"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            names.sort();
            names
        };
        assert_eq!(headers(w), ["x-a", "x-b"]);
        // One header replaced by another: the plan shows both, and only the file's stay.
        let f = write(
            w,
            "h2.yaml",
            &with.replace("x-b: {env: ROTATED_KEY}", "x-c: {env: ROTATED_KEY}"),
        );
        let plan = w.ok(&["plan", "-f", p(&f)]);
        assert!(
            plan.stdout.contains("+ custom_headers.x-c")
                && plan.stdout.contains("- custom_headers.x-b"),
            "{plan:?}"
        );
        w.ok(&["apply", "-f", p(&f), "--yes"]);
        assert_eq!(headers(w), ["x-a", "x-c"]);
        // Every header left out: drift until applied, then none.
        let f = write(w, "h3.yaml", &with.replace("    configuration:\n      custom_headers: {x-a: {env: PROVIDER_KEY}, x-b: {env: ROTATED_KEY}}\n", ""));
        assert_eq!(w.run(&["plan", "-f", p(&f), "--exit-code"]).code, 10);
        w.ok(&["apply", "-f", p(&f), "--yes"]);
        assert!(headers(w).is_empty(), "{:?}", headers(w));
        assert_eq!(w.run(&["plan", "-f", p(&f), "--exit-code"]).code, 0);
    });
}

#[test]
fn a_changed_setting_is_shown_key_by_key() {
    let w = World::new(Mode::Embedded);
    let text = "\
integrations:
  - slug: az
    service: azure-openai
    key: {env: PROVIDER_KEY}
    configuration:
      azure_auth_mode: default
      azure_resource_name: acme
      azure_deployment_config:
        - {azure_deployment_name: d1, azure_model_slug: gpt-4o, azure_api_version: 2024-10-21, is_default: true}
";
    let f = write(&w, "az.yaml", text);
    w.ok(&["apply", "-f", p(&f), "--yes"]);
    let f = write(&w, "az2.yaml", &text.replace("name: acme", "name: acme2"));
    let plan = w.ok(&["plan", "-f", p(&f)]);
    assert!(
        plan.stdout
            .contains("~ configuration.azure_resource_name: \"acme\" → \"acme2\""),
        "{plan:?}"
    );
    assert!(!plan.stdout.contains("azure_auth_mode"), "{plan:?}");
}

#[test]
fn numbers_with_more_digits_than_a_float_keeps_converge() {
    both(|w| {
        let f = write(
            w,
            "hp.yaml",
            "workspaces:\n  - name: eng\n    usage_limits: [{type: cost, credit_limit: 1000.123456789123456789}]\nintegrations:\n  - slug: oa\n    service: openai\n    key: {env: PROVIDER_KEY}\n    workspaces:\n      eng: {usage_limits: [{type: cost, credit_limit: 500.987654321987654321}]}\n",
        );
        w.ok(&["apply", "-f", p(&f), "--yes"]);
        let plan = w.run(&["plan", "-f", p(&f), "--exit-code"]);
        assert_eq!(plan.code, 0, "{plan:?}");
    });
}
