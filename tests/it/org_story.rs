//! The provisioning story, through the CLI, on the embedded catalog and on `catalog serve`:
//! one integration connected once, provisioned to workspaces with different budgets and
//! rates, global access for workspaces created later, stricter and looser providers,
//! revoke and re-grant, usage resets, dry runs and idempotent re-runs.

use crate::common::{both, World};
use serde_json::Value;

fn access_of<'a>(access: &'a Value, ws_slug: &str) -> &'a Value {
    access["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == ws_slug)
        .unwrap_or_else(|| panic!("{ws_slug} has no access: {access}"))
}

fn slug_of(w: &World, name: &str) -> String {
    w.json(&["workspaces", "get", name])["slug"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn org_story() {
    both(|w| {
        for n in ["eng", "research", "ops"] {
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
        ]);

        // Provisioned to two workspaces with different budgets and rates.
        let report = w.json(&[
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
        assert_eq!(report["added"].as_array().unwrap().len(), 1);
        let research = w.json(&[
            "workspaces",
            "provision",
            "research",
            "--integration",
            "openai-prod",
            "--budget",
            "5000000",
            "--budget-type",
            "tokens",
            "--reset",
            "30d",
            "--rate-limit",
            "5000tokens/hour",
        ]);
        let access = &research["access"];
        let eng = access_of(access, &slug_of(w, "eng"));
        assert_eq!(eng["usage_limits"][0]["credit_limit"], 1000.0);
        assert_eq!(eng["usage_limits"][0]["alert_threshold"], 800.0);
        assert_eq!(eng["usage_limits"][0]["periodic_reset"], "monthly");
        assert_eq!(eng["rate_limits"][0]["unit"], "rpm");
        let res = access_of(access, &slug_of(w, "research"));
        assert_eq!(res["usage_limits"][0]["type"], "tokens");
        assert_eq!(res["usage_limits"][0]["periodic_reset_days"], 30);
        assert_eq!(res["rate_limits"][0]["type"], "tokens");

        // Running the same provisioning again changes nothing, and says so.
        let again = w.run(&[
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
            "-o",
            "json",
        ]);
        assert_eq!(again.code, 0, "{again:?}");
        assert!(again.stderr.contains("nothing to change"), "{again:?}");
        assert_eq!(again.json()["unchanged"].as_array().unwrap().len(), 1);

        // The table view: who has access, limits, usage, next reset in UTC and local time.
        let shown = w.ok(&["integrations", "workspaces", "openai-prod", "-o", "table"]);
        let table = shown.stdout;
        assert!(
            table.contains("0 / 1000 USD")
                && table.contains("monthly")
                && table.contains("100 requests/min"),
            "{table}"
        );
        assert!(
            table.contains("-01 00:00") && table.contains("(in "),
            "{table}"
        );
        // Prose, not a row: on stderr.
        assert!(
            shown
                .stderr
                .contains("workspaces created later: not provisioned"),
            "{}",
            shown.stderr
        );

        // A dry run shows the request and writes nothing.
        let dry = w.ok(&[
            "workspaces",
            "provision",
            "ops",
            "--integration",
            "openai-prod",
            "--budget",
            "10",
            "--dry-run",
        ]);
        assert!(
            dry.stdout
                .contains("PUT /v1/integrations/openai-prod/workspaces"),
            "{dry:?}"
        );
        assert!(dry.stderr.contains("nothing was written"));
        let access = w.json(&["integrations", "workspaces", "openai-prod"]);
        assert_eq!(access["total"], 2);

        // Global access: a 4th workspace created later is provisioned automatically.
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
        w.ok(&["workspaces", "create", "late"]);
        let access = w.json(&["integrations", "workspaces", "openai-prod"]);
        assert_eq!(access["global_workspace_access"]["enabled"], true);
        let late = access_of(&access, &slug_of(w, "late"));
        assert_eq!(late["usage_limits"][0]["credit_limit"], 50.0);
        let late_providers = w.json(&["providers", "list", "--workspace", "late"]);
        assert_eq!(late_providers[0]["slug"], "openai-prod");

        // Providers: the default one exists; a stricter one is fine; a looser one is refused naming both numbers.
        let providers = w.json(&["providers", "list", "--workspace", "eng"]);
        assert_eq!(providers[0]["slug"], "openai-prod");
        let strict = w.json(&[
            "providers",
            "create",
            "eng-batch",
            "--integration",
            "openai-prod",
            "--workspace",
            "eng",
            "--budget",
            "200",
            "--rate-limit",
            "10/min",
            "--note",
            "nightly",
            "--expires",
            "2030-01-01T00:00:00Z",
        ]);
        assert_eq!(strict["usage_limits"]["credit_limit"], 200.0);
        assert_eq!(strict["status"], "active");
        let loose = w.fails(
            &[
                "providers",
                "create",
                "eng-wide",
                "--integration",
                "openai-prod",
                "--workspace",
                "eng",
                "--budget",
                "2000",
            ],
            2,
            "2000 USD is looser than the 1000 USD",
        );
        assert!(loose.stderr.contains("eng"), "{loose:?}");
        w.fails(
            &[
                "providers",
                "create",
                "eng-fast",
                "--integration",
                "openai-prod",
                "--workspace",
                "eng",
                "--rate-limit",
                "1000/min",
            ],
            2,
            "1000 requests/min is looser than the 100 requests/min",
        );
        // No access in ops: exit 3.
        w.fails(
            &[
                "providers",
                "create",
                "ops-x",
                "--integration",
                "openai-prod",
                "--workspace",
                "ops",
            ],
            3,
            "has no access to integration `openai-prod`",
        );
        let table = w
            .ok(&["providers", "list", "--workspace", "eng", "-o", "table"])
            .stdout;
        assert!(
            table.contains("@eng-batch")
                && table.contains("0 / 200 USD")
                && table.contains("10 requests/min"),
            "{table}"
        );

        // Revoke, then re-grant.
        w.fails(
            &[
                "workspaces",
                "revoke",
                "eng",
                "--integration",
                "openai-prod",
            ],
            2,
            "--yes",
        );
        w.ok(&[
            "workspaces",
            "revoke",
            "eng",
            "--integration",
            "openai-prod",
            "--yes",
        ]);
        let after = w.json(&["providers", "list", "--workspace", "eng"]);
        assert_eq!(after.as_array().unwrap().len(), 2, "providers are kept");
        assert!(
            after
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["status"] == "disabled"),
            "{after}"
        );
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
            "--rate-limit",
            "100/min",
        ]);
        let after = w.json(&["providers", "list", "--workspace", "eng"]);
        assert!(
            after
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["status"] == "active"),
            "{after}"
        );
        assert_eq!(
            after[1]["usage_limits"]["credit_limit"], 200.0,
            "limits survive a revoke"
        );

        // reset_usage, on access and on a provider.
        let report = w.json(&[
            "workspaces",
            "provision",
            "eng",
            "--integration",
            "openai-prod",
            "--reset-usage",
        ]);
        assert_eq!(report["changed"].as_array().unwrap().len(), 1);
        assert!(
            access_of(&report["access"], &slug_of(w, "eng"))["usage"]["last_reset_at"].is_string()
        );
        let p = w.json(&[
            "providers",
            "update",
            "@eng-batch",
            "--workspace",
            "eng",
            "--reset-usage",
        ]);
        assert!(p["usage"]["last_reset_at"].is_string());
        assert!(p["last_reset_at"].is_string());

        // Deleting the integration is refused while providers use it, then forced.
        w.fails(
            &["integrations", "delete", "openai-prod", "--yes"],
            5,
            "eng-batch",
        );
        w.ok(&["integrations", "delete", "openai-prod", "--yes", "--force"]);
        assert_eq!(
            w.json(&["providers", "list", "--workspace", "eng"])
                .as_array()
                .unwrap()
                .len(),
            0
        );
    });
}

#[test]
fn provisioning_validation_names_the_field() {
    both(|w| {
        w.ok(&["workspaces", "create", "eng"]);
        w.ok(&[
            "integrations",
            "connect",
            "openai-prod",
            "--service",
            "openai",
            "--key-env",
            "PROVIDER_KEY",
        ]);
        let provision = |extra: &[&str]| {
            let mut args = vec![
                "workspaces",
                "provision",
                "eng",
                "--integration",
                "openai-prod",
            ];
            args.extend_from_slice(extra);
            args.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        let run = |extra: &[&str], code: i32, needle: &str| {
            let args = provision(extra);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            w.fails(&refs, code, needle);
        };
        // Errors name the flags the user typed, not the API's fields.
        run(
            &["--budget", "0"],
            2,
            "'--budget <AMOUNT>': must be a positive number",
        );
        run(
            &["--budget", "100", "--alert", "100"],
            2,
            "--alert 100 must be below the budget",
        );
        run(
            &["--budget", "99", "--budget-type", "tokens"],
            2,
            "at least 100 tokens",
        );
        run(&["--rate-limit", "100/fortnight"], 2, "fortnight");
        run(&["--reset", "weekly"], 2, "pass --budget too");
        run(&["--budget", "100", "--reset", "400d"], 2, "400d");
        w.fails(
            &[
                "workspaces",
                "provision",
                "nope",
                "--integration",
                "openai-prod",
            ],
            4,
            "workspace `nope` not found",
        );
        w.fails(
            &["workspaces", "provision", "eng", "--integration", "nope"],
            4,
            "nope",
        );
        w.fails(
            &["workspaces", "provision", "--integration", "openai-prod"],
            2,
            "--all",
        );
        w.fails(&["workspaces", "provision", "eng"], 2, "--integration");
        w.fails(&["providers", "list"], 2, "--workspace");
        // `--reset` takes one kind, so the CLI never sends both (the API refusal is a contract test).
        w.ok(&[
            "workspaces",
            "provision",
            "eng",
            "--integration",
            "openai-prod",
            "--budget",
            "100",
            "--reset",
            "weekly",
        ]);
        assert!(
            w.json(&["integrations", "workspaces", "openai-prod"])["workspaces"][0]["usage_limits"]
                [0]["periodic_reset_days"]
                .is_null()
        );

        // A default provider slug that is taken: 409 naming the slug, exit 5.
        w.ok(&["workspaces", "create", "ml"]);
        w.ok(&[
            "integrations",
            "connect",
            "groq-team",
            "--service",
            "groq",
            "--key-env",
            "PROVIDER_KEY",
        ]);
        w.ok(&[
            "workspaces",
            "provision",
            "ml",
            "--integration",
            "groq-team",
            "--provider-slug",
            "openai-prod",
        ]);
        w.fails(
            &[
                "workspaces",
                "provision",
                "ml",
                "--integration",
                "openai-prod",
            ],
            5,
            "`openai-prod`",
        );
        w.ok(&[
            "workspaces",
            "provision",
            "ml",
            "--integration",
            "openai-prod",
            "--provider-slug",
            "openai-ml",
        ]);
        let slugs: Vec<String> = w
            .json(&["providers", "list", "--workspace", "ml"])
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["slug"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(slugs, ["openai-prod", "openai-ml"]);
    });
}

#[test]
fn connect_runs_all_steps_by_flags_and_converges() {
    both(|w| {
        w.ok(&["workspaces", "create", "eng"]);
        w.ok(&["workspaces", "create", "ml"]);
        let steps = [
            "integrations",
            "connect",
            "claude",
            "--service",
            "anthropic",
            "--key-env",
            "PROVIDER_KEY",
            "--provision",
            "eng",
            "--provision",
            "ml",
            "--budget",
            "300",
            "--reset",
            "weekly",
            "--rate-limit",
            "20/min",
            "--models",
            "claude-sonnet-4-5,claude-haiku-4-5",
        ];
        // Dry run: the three requests, the key masked, nothing written.
        let mut dry = steps.to_vec();
        dry.extend(["--dry-run", "-o", "json"]);
        let planned = w.ok(&dry).json();
        let planned = planned.as_array().unwrap();
        assert_eq!(planned.len(), 3, "{planned:?}");
        assert_eq!(planned[0]["method"], "POST");
        assert!(planned[0]["body"]["key"]
            .as_str()
            .unwrap()
            .contains("*****"));
        assert_eq!(planned[1]["path"], "/v1/integrations/claude/workspaces");
        assert_eq!(planned[2]["body"]["allow_all_models"], false);
        w.fails(&["integrations", "get", "claude"], 4, "not found");

        // A provider slug already taken in `ml` by another integration makes step 2 fail
        // after step 1 saved the integration; the message says so.
        w.ok(&[
            "integrations",
            "connect",
            "other",
            "--service",
            "groq",
            "--key-env",
            "PROVIDER_KEY",
        ]);
        w.ok(&[
            "workspaces",
            "provision",
            "ml",
            "--integration",
            "other",
            "--provider-slug",
            "claude",
        ]);
        let failed = w.fails(
            &steps,
            5,
            "step 2 (workspace provisioning) failed after integration `claude` was saved",
        );
        assert!(
            failed.stderr.contains("run the same command again"),
            "{failed:?}"
        );
        assert_eq!(
            w.json(&["integrations", "workspaces", "claude"])["total"],
            0,
            "the PUT was all-or-nothing"
        );

        // Fix the cause, run the same command again: it converges.
        w.ok(&[
            "providers",
            "delete",
            "claude",
            "--workspace",
            "ml",
            "--yes",
        ]);
        let done = w.ok(&steps);
        assert!(
            // The same settings and key again: step 1 changes nothing.
            done.stderr
                .contains("step 1: unchanged: integration `claude`"),
            "{done:?}"
        );
        assert!(
            done.stderr.contains("step 2: provisioned 2 workspace(s)"),
            "{done:?}"
        );
        assert!(
            done.stderr
                .contains("step 3: only claude-sonnet-4-5, claude-haiku-4-5 enabled"),
            "{done:?}"
        );
        let access = w.json(&["integrations", "workspaces", "claude"]);
        assert_eq!(access["total"], 2);
        assert_eq!(
            access["workspaces"][0]["usage_limits"][0]["periodic_reset"],
            "weekly"
        );
        // And once more: nothing left to do in step 2.
        let again = w.ok(&steps);
        assert!(
            again
                .stderr
                .contains("step 2: workspaces already provisioned as asked"),
            "{again:?}"
        );
        assert!(!w.everything_seen().contains(crate::common::PROVIDER_KEY));
    });
}
