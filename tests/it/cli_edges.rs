//! Names, numbers and errors: bad input is refused naming the flag and the accepted
//! form, with the documented exit code; conflicts and missing things say so.

use crate::common::{world_with_openai, Mode, World};

#[test]
fn creating_an_existing_workspace_is_a_conflict_unless_asked_to_reuse_it() {
    let w = World::new(Mode::Embedded);
    let first = w.json(&["workspaces", "create", "eng"]);
    let out = w.fails(&["workspaces", "create", "eng"], 5, "already exists");
    assert!(out.stderr.contains("--if-not-exists"), "{out:?}");
    let again = w.json(&["workspaces", "create", "eng", "--if-not-exists"]);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(w.json(&["workspaces", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn numbers_are_refused_naming_the_flag_and_the_form() {
    let w = world_with_openai();
    let provision = |extra: &[&str], needle: &str| {
        let mut args = vec![
            "workspaces",
            "provision",
            "eng",
            "--integration",
            "openai-prod",
        ];
        args.extend_from_slice(extra);
        let out = w.fails(&args, 2, needle);
        assert!(!out.stderr.contains("-- -"), "clap's tip leaked: {out:?}");
    };
    provision(
        &["--budget", "-5"],
        "'--budget <AMOUNT>': must be a positive number",
    );
    provision(
        &["--budget", "NaN"],
        "'--budget <AMOUNT>': `NaN` is not a finite number",
    );
    provision(&["--budget", "inf"], "not a finite number");
    provision(&["--budget", "1e309"], "not a finite number");
    provision(&["--budget", "2e12"], "is more than 1e12");
    provision(&["--budget", "100", "--alert", "-1"], "'--alert <AMOUNT>'");
    provision(
        &["--rate-limit", "99999999999999999999/min"],
        "'--rate-limit <RATE>': `99999999999999999999/min` is too large",
    );
    provision(&["--rate-limit", "1.5/min"], "not a whole number");
    w.fails(
        &[
            "integrations",
            "update",
            "openai-prod",
            "--price-multiplier",
            "500",
        ],
        2,
        "'--price-multiplier <FACTOR>': must be above 0 and at most 100",
    );
    w.fails(
        &[
            "integrations",
            "update",
            "openai-prod",
            "--price-multiplier",
            "-1",
        ],
        2,
        "must be above 0",
    );
}

#[test]
fn rate_limit_zero_removes_the_rate_limit() {
    let w = world_with_openai();
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--rate-limit",
        "100/min",
    ]);
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--rate-limit",
        "0",
    ]);
    let a = w.json(&["integrations", "workspaces", "openai-prod"]);
    let rates = &a["workspaces"][0]["rate_limits"];
    assert!(
        rates.is_null() || rates.as_array().is_some_and(|r| r.is_empty()),
        "{a}"
    );
}

#[test]
fn refused_requests_name_flags_not_api_fields() {
    let w = world_with_openai();
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--budget",
        "100",
    ]);
    let out = w.fails(
        &[
            "providers",
            "create",
            "big",
            "--integration",
            "openai-prod",
            "--workspace",
            "eng",
            "--budget",
            "200",
        ],
        2,
        "`--budget`",
    );
    assert!(!out.stderr.contains("usage_limits"), "{out:?}");
}

#[test]
fn a_provider_in_a_workspace_without_access_says_what_to_run() {
    let w = world_with_openai();
    let out = w.fails(
        &[
            "providers",
            "create",
            "p",
            "--integration",
            "openai-prod",
            "--workspace",
            "research",
        ],
        3,
        "has no access to integration `openai-prod`",
    );
    assert!(
        out.stderr
            .contains("catalog workspaces provision ws-research-")
            && out.stderr.contains("--integration openai-prod"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("may not do that"), "{out:?}");
}

#[test]
fn base_urls_without_an_http_scheme_are_usage_errors() {
    let w = World::new(Mode::Embedded);
    for bad in ["notaurl", "ftp://x", "10.0.0.5:8000"] {
        w.fails(&["--base-url", bad, "workspaces", "list"], 2, "invalid URL");
    }
    w.fails(
        &[
            "integrations",
            "connect",
            "local",
            "--service",
            "custom",
            "--custom-host",
            "10.0.0.5:8000",
        ],
        2,
        "'--custom-host <URL>': invalid URL",
    );
}

#[test]
fn expiries_take_dates_and_refuse_the_past() {
    let w = world_with_openai();
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
    ]);
    let p = w.json(&[
        "providers",
        "create",
        "temp",
        "--integration",
        "openai-prod",
        "--workspace",
        "eng",
        "--expires",
        "2999-01-01",
    ]);
    assert!(
        p["expires_at"]
            .as_str()
            .unwrap()
            .starts_with("2999-01-01T00:00:00"),
        "{p}"
    );
    w.fails(
        &[
            "providers",
            "update",
            "@temp",
            "--workspace",
            "eng",
            "--expires",
            "2020-01-01",
        ],
        2,
        "in the past",
    );
}

#[test]
fn unicode_names_make_readable_slugs_and_control_characters_are_refused() {
    let w = World::new(Mode::Embedded);
    let ws = w.json(&["workspaces", "create", "Équipe données"]);
    assert!(
        ws["slug"]
            .as_str()
            .unwrap()
            .starts_with("ws-equipe-donnees-"),
        "{ws}"
    );
    w.fails(
        &["workspaces", "create", "a\tb"],
        2,
        "must not contain control",
    );
    w.fails(
        &["workspaces", "create", "x\u{1b}[31mred"],
        2,
        "must not contain control",
    );
    assert_eq!(w.json(&["workspaces", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn missing_providers_and_integrations_in_use_are_named() {
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
            "models",
            "list",
            "--workspace",
            "eng",
            "--provider",
            "@missing",
        ],
        4,
        "no AI provider `@missing`",
    );
    // In use: said before any confirmation, naming each provider with its workspace.
    let out = w.fails(&["integrations", "delete", "openai-prod"], 5, "is in use");
    assert!(out.stderr.contains("`@openai-prod` in `ws-eng-"), "{out:?}");
    assert!(!out.stderr.contains("confirmation"), "{out:?}");
}

#[test]
fn a_workspace_named_by_its_name_is_found_by_the_exact_name_lookup() {
    let w = World::new(Mode::Served);
    w.ok(&["workspaces", "create", "alpha"]);
    let before = w.server.as_ref().unwrap().log();
    w.ok(&["workspaces", "get", "alpha"]);
    // The server writes a request's line once the answer is sent: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (lists, log) = loop {
        let log = w.server.as_ref().unwrap().log();
        let lists = log[before.len()..]
            .lines()
            .filter(|l| l.contains("GET /v1/admin/workspaces "))
            .count();
        if lists > 0 || std::time::Instant::now() > deadline {
            break (lists, log);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(lists, 1, "one list request, the exact-name one:\n{log}");
}

#[test]
fn a_resource_name_or_region_that_is_no_host_name_part_is_refused_naming_its_flag() {
    for mode in [Mode::Embedded, Mode::Served] {
        let w = World::new(mode);
        for (service, flag, bad) in [
            (
                "azure-openai",
                "--azure-resource-name",
                "evil.example:8000/#",
            ),
            ("bedrock", "--aws-region", "10.0.0.5/#"),
        ] {
            w.fails(
                &[
                    "integrations",
                    "connect",
                    "x",
                    "--service",
                    service,
                    flag,
                    bad,
                    "--key-env",
                    "PROVIDER_KEY",
                    "--skip-models",
                    "--yes",
                ],
                2,
                &format!("`{flag}` must be letters, digits and hyphens"),
            );
        }
        let listed = w.json(&["integrations", "list"]);
        assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
    }
}
