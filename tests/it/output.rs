//! Output as the README promises: plain lines when piped, prose on stderr, `-q` quiet,
//! tables readable at 80 columns, model commands printing only what changed.

use crate::common::{Mode, World};

#[test]
fn piped_objects_are_key_tab_value_lines_and_prose_goes_to_stderr() {
    let w = World::new(Mode::Embedded);
    let out = w.ok(&[
        "workspaces",
        "create",
        "eng",
        "--description",
        "Engineering",
    ]);
    assert!(
        !out.stdout.contains('│') && !out.stdout.contains('┌'),
        "{out:?}"
    );
    assert!(out.stdout.lines().any(|l| l == "name\teng"), "{out:?}");
    assert!(
        out.stdout.lines().any(|l| l == "description\tEngineering"),
        "{out:?}"
    );
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
    let out = w.ok(&["integrations", "get", "openai-prod"]);
    assert!(
        out.stdout.lines().any(|l| l == "slug\topenai-prod"),
        "{out:?}"
    );
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
    ]);
    let out = w.ok(&["integrations", "workspaces", "openai-prod"]);
    assert!(!out.stdout.contains("workspaces created later"), "{out:?}");
    assert!(out.stderr.contains("workspaces created later"), "{out:?}");
}

#[test]
fn quiet_silences_the_summary() {
    let w = World::new(Mode::Embedded);
    w.ok(&["workspaces", "create", "eng"]);
    let out = w.ok(&[
        "-q",
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
    assert!(!out.stderr.contains("About to create"), "{out:?}");
    assert!(!out.stderr.contains("Workspaces:"), "{out:?}");
    let out = w.ok(&[
        "-q",
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--budget",
        "10",
    ]);
    assert!(out.stderr.is_empty(), "{out:?}");
}

fn garden_world() -> World {
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
        "--all-models",
    ]);
    w
}

#[test]
fn the_model_garden_shows_models_only_and_hides_the_deprecated() {
    let w = garden_world();
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["models", "list", "--workspace", "eng"];
        all.extend_from_slice(args);
        w.json(&all)
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = ids(&[]);
    assert!(all.contains(&"@openai-prod/gpt-4o".to_owned()));
    for not_a_model in [
        "@openai-prod/high/1024-x-1024/gpt-image-1",
        "@openai-prod/container",
    ] {
        assert!(!all.contains(&not_a_model.to_owned()), "{not_a_model}");
    }
    // computer-use-preview was deprecated on 2026-07-23.
    assert!(!all.contains(&"@openai-prod/computer-use-preview".to_owned()));
    let with = ids(&["--include-deprecated"]);
    assert!(with.contains(&"@openai-prod/computer-use-preview".to_owned()));
    let table = w.ok(&[
        "models",
        "list",
        "--workspace",
        "eng",
        "--include-deprecated",
        "--search",
        "computer-use-preview",
    ]);
    assert!(
        table.stdout.contains("deprecated since 2026-07-23"),
        "{table:?}"
    );
    assert_eq!(ids(&["--limit", "3"]).len(), 3);
    // The integration view hides and marks them the same way.
    let rows = |extra: &[&str]| {
        let mut args = vec![
            "models",
            "list",
            "--integration",
            "openai-prod",
            "--search",
            "computer-use-preview",
        ];
        args.extend_from_slice(extra);
        w.json(&args)
    };
    assert!(rows(&[]).as_array().unwrap().is_empty());
    let shown = rows(&["--include-deprecated"]);
    assert!(
        shown[0]["why"]
            .as_str()
            .unwrap()
            .contains("deprecated since 2026-07-23"),
        "{shown}"
    );
}

#[test]
fn integration_models_combine_with_search_and_marks_are_explained() {
    let w = garden_world();
    let rows = w.json(&[
        "models",
        "list",
        "--integration",
        "openai-prod",
        "--search",
        "gpt-4o-mini",
    ]);
    let slugs: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert!(
        !slugs.is_empty() && slugs.iter().all(|s| s.contains("gpt-4o-mini")),
        "{slugs:?}"
    );
    w.ok(&[
        "models",
        "price",
        "@openai-prod/gpt-4o",
        "--input-price",
        "2",
    ]);
    let out = w.ok(&["models", "list", "--workspace", "eng", "--search", "gpt-4o"]);
    assert!(out.stdout.contains("2*"), "{out:?}");
    assert!(out.stderr.contains("* a price override"), "{out:?}");
}

#[test]
fn tables_fit_80_columns_without_breaking_identifiers() {
    let w = World::new(Mode::Embedded);
    w.ok(&[
        "workspaces",
        "create",
        "eng-platform-team",
        "--description",
        "The engineering platform team that runs shared infrastructure for everyone else",
    ]);
    w.ok(&[
        "integrations",
        "connect",
        "openai-prod",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
        "--provision",
        "eng-platform-team",
        "--budget",
        "1000",
        "--reset",
        "monthly",
        "--rate-limit",
        "100/min",
        "--all-models",
    ]);
    let slug = w.json(&["workspaces", "get", "eng-platform-team"])["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let tables: [(&[&str], &[&str]); 4] = [
        (
            &["workspaces", "list"],
            &[&slug, "The engineering platform"],
        ),
        (
            &["integrations", "workspaces", "openai-prod"],
            &[&slug, "requests/min"],
        ),
        (
            &[
                "models",
                "list",
                "--workspace",
                "eng-platform-team",
                "--search",
                "gpt-4o-mini",
            ],
            &["@openai-prod/gpt-4o-mini"],
        ),
        (
            &["providers", "list", "--workspace", "eng-platform-team"],
            &["@openai-prod"],
        ),
    ];
    for (args, whole) in tables {
        let mut all = args.to_vec();
        all.extend(["-o", "table"]);
        let mut cmd = w.command(&all);
        cmd.env("COLUMNS", "80");
        let out = w.run_cmd(cmd);
        assert_eq!(out.code, 0, "{out:?}");
        for line in out.stdout.lines() {
            assert!(line.chars().count() <= 80, "wider than 80:\n{}", out.stdout);
        }
        for text in whole {
            assert!(
                out.stdout.lines().any(|l| l.contains(text)),
                "`{text}` is broken across lines:\n{}",
                out.stdout
            );
        }
    }
    // Long free text is cut with an ellipsis in lists, shown whole in the detail view.
    let mut cmd = w.command(&["workspaces", "list", "-o", "table"]);
    cmd.env("COLUMNS", "80");
    let out = w.run_cmd(cmd);
    assert!(
        out.stdout.contains('…') && !out.stdout.contains("everyone else"),
        "{out:?}"
    );
}

#[test]
fn completion_scripts_complete_slugs_dynamically() {
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
        "--skip-models",
    ]);
    let script = w.ok(&["completion", "bash"]);
    assert!(script.stdout.contains("CATALOG_COMPLETE"), "{script:?}");
    let complete = |line: &[&str]| {
        let mut args = vec!["--", "catalog"];
        args.extend_from_slice(line);
        let mut cmd = w.command(&args);
        cmd.env("CATALOG_COMPLETE", "fish");
        let out = w.run_cmd(cmd);
        assert_eq!(out.code, 0, "{out:?}");
        out.stdout
    };
    let slug = w.json(&["workspaces", "get", "eng"])["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(complete(&["workspaces", "get", "ws-"]).contains(&format!("{slug}\teng")));
    assert!(complete(&["providers", "list", "--workspace", ""]).contains(&slug));
    assert!(complete(&["integrations", "get", "op"]).contains("openai-prod\topenai"));
    assert!(complete(&["models", "allow", "@"]).contains("@openai-prod"));
    // The static script is still there for packagers.
    let fixed = w.ok(&["completion", "bash", "--static"]);
    assert!(!fixed.stdout.contains("CATALOG_COMPLETE"), "{fixed:?}");
}
