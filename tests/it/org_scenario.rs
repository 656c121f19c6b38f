//! The foundation scenario, run on the embedded catalog and against `catalog serve`.

use crate::common::{
    both, contains, database_bytes, Mode, Server, World, ADMIN_KEY, PROVIDER_KEY, ROTATED_KEY,
};

const AZURE: &[&str] = &[
    "integrations",
    "connect",
    "azure-prod",
    "--service",
    "azure-openai",
    "--name",
    "Azure production",
    "--key-env",
    "PROVIDER_KEY",
    "--azure-resource-name",
    "acme-openai",
    "--azure-auth-mode",
    "default",
    "--azure-deployment",
    "name=gpt4o,model=gpt-4o,api-version=2024-10-21,default",
    "--azure-deployment",
    "name=mini,model=gpt-4o-mini,api-version=2024-10-21,alias=mini",
];

#[test]
fn workspaces_integrations_and_keys_end_to_end() {
    both(|w| {
        // Three workspaces.
        for name in ["eng", "research", "ops"] {
            let ws = w.json(&[
                "workspaces",
                "create",
                name,
                "--description",
                &format!("{name} team"),
            ]);
            assert_eq!(ws["name"], name);
            assert_eq!(ws["object"], "workspace");
            let slug = ws["slug"].as_str().unwrap();
            assert!(
                slug.starts_with(&format!("ws-{name}-"))
                    && slug.len() == format!("ws-{name}-").len() + 6,
                "{slug}"
            );
            assert_eq!(ws["id"].as_str().unwrap().len(), 36);
        }
        let list = w.json(&["workspaces", "list"]);
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["eng", "research", "ops"]);

        // Table and YAML renderings of the same data.
        let table = w.ok(&["workspaces", "list", "-o", "table"]).stdout;
        assert!(
            table.contains("NAME") && table.contains("research team"),
            "{table}"
        );
        let yaml: serde_yaml::Value = serde_yaml::from_str(
            &w.ok(&["workspaces", "get", "research", "-o", "yaml"])
                .stdout,
        )
        .unwrap();
        assert_eq!(yaml["description"].as_str(), Some("research team"));

        // Get by name, slug and id agree.
        let by_name = w.json(&["workspaces", "get", "eng"]);
        let by_slug = w.json(&["workspaces", "get", by_name["slug"].as_str().unwrap()]);
        let by_id = w.json(&["workspaces", "get", by_name["id"].as_str().unwrap()]);
        assert_eq!(by_name["id"], by_slug["id"]);
        assert_eq!(by_name["id"], by_id["id"]);

        // Connect an Azure OpenAI integration from an env var, without prompts.
        let created = w.json(AZURE);
        assert_eq!(created["slug"], "azure-prod");
        assert_eq!(created["ai_provider_id"], "azure-openai");
        assert_eq!(created["type"], "organisation");
        let masked = created["masked_key"].as_str().unwrap();
        assert!(
            masked.contains("*****") && !masked.contains("PROVIDERKEY"),
            "{masked}"
        );
        let deployments = created["configurations"]["azure_deployment_config"]
            .as_array()
            .unwrap();
        assert_eq!(deployments.len(), 2);
        assert_eq!(deployments[1]["alias"], "mini");

        let got = w.json(&["integrations", "get", "azure-prod"]);
        assert_eq!(got["name"], "Azure production");
        assert_eq!(got["configurations"]["azure_resource_name"], "acme-openai");
        let listed = w.json(&["integrations", "list"]);
        assert_eq!(listed.as_array().unwrap().len(), 1);
        let yaml = w.ok(&["integrations", "list", "-o", "yaml"]).stdout;
        assert!(yaml.contains("slug: azure-prod"), "{yaml}");
        let table = w
            .ok(&["integrations", "get", "azure-prod", "-o", "table"])
            .stdout;
        assert!(
            table.contains("azure-openai") && table.contains(masked),
            "{table}"
        );

        // Update keeps what was not named; the slug stays.
        let updated = w.json(&[
            "integrations",
            "update",
            "azure-prod",
            "--name",
            "Azure (prod)",
            "--azure-resource-name",
            "acme-openai-2",
        ]);
        assert_eq!(updated["name"], "Azure (prod)");
        assert_eq!(
            updated["configurations"]["azure_resource_name"],
            "acme-openai-2"
        );
        assert_eq!(
            updated["configurations"]["azure_deployment_config"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(updated["masked_key"].as_str().unwrap(), masked);

        // Rotate the key: the mask changes, the key itself never shows.
        let rotated = w.json(&[
            "integrations",
            "rotate-key",
            "azure-prod",
            "--key-env",
            "ROTATED_KEY",
        ]);
        assert_ne!(rotated["masked_key"].as_str().unwrap(), masked);

        // Delete without --yes is refused when nobody can confirm; with --yes it goes.
        w.fails(&["integrations", "delete", "azure-prod"], 2, "--yes");
        assert_eq!(
            w.json(&["integrations", "list"]).as_array().unwrap().len(),
            1
        );
        w.ok(&["integrations", "delete", "azure-prod", "--yes"]);
        w.fails(&["integrations", "get", "azure-prod"], 4, "not found");

        // A workspace with a workspace-level integration cannot be deleted until forced.
        let scoped = w.json(&[
            "integrations",
            "connect",
            "eng-openai",
            "--service",
            "openai",
            "--key-env",
            "PROVIDER_KEY",
            "--workspace",
            "eng",
        ]);
        assert_eq!(scoped["type"], "workspace");
        let blocked = w.fails(&["workspaces", "delete", "eng", "--yes"], 5, "eng-openai");
        assert!(blocked.stderr.contains("--force"), "{blocked:?}");
        assert_eq!(
            w.json(&["integrations", "list", "--type", "workspace"])
                .as_array()
                .unwrap()
                .len(),
            1
        );
        w.ok(&["workspaces", "delete", "eng", "--force", "--yes"]);
        w.fails(&["workspaces", "get", "eng"], 4, "not found");
        assert_eq!(
            w.json(&["integrations", "list"]).as_array().unwrap().len(),
            0
        );

        // Updates to a workspace: omitted stays, cleared goes.
        let ws = w.json(&[
            "workspaces",
            "update",
            "research",
            "--metadata",
            "team=ml",
            "--name",
            "research-lab",
        ]);
        assert_eq!(ws["name"], "research-lab");
        assert_eq!(ws["description"], "research team");
        assert_eq!(ws["defaults"]["metadata"]["team"], "ml");
        let ws = w.json(&[
            "workspaces",
            "update",
            "research-lab",
            "--clear-description",
        ]);
        assert!(ws["description"].is_null());
        assert_eq!(ws["defaults"]["metadata"]["team"], "ml");

        workspace_key_is_refused_on_org_resources(w);

        // The provider keys never appear anywhere.
        let seen = w.everything_seen();
        for secret in [PROVIDER_KEY, ROTATED_KEY] {
            assert!(!seen.contains(secret), "a provider key leaked into output");
            assert!(
                !contains(&database_bytes(&w.db()), secret),
                "a provider key is in the database file"
            );
        }
    });
}

/// A workspace key reaches its own workspace only, and none of the organisation's resources.
fn workspace_key_is_refused_on_org_resources(w: &World) {
    let key_file = w.home.path().join("ops.key");
    let created = w.json(&[
        "api-keys",
        "create",
        "ops-ci",
        "--workspace",
        "ops",
        "--scope",
        "completions.write",
        "--scope",
        "workspace_integrations.list",
        "--scope",
        "workspace_integrations.read",
        "--scope",
        "workspaces.read",
        "--scope",
        "workspace_service_api_keys.create",
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    assert!(
        created.get("key").is_none(),
        "the key went to the file, not stdout"
    );
    let key = std::fs::read_to_string(&key_file)
        .unwrap()
        .trim()
        .to_owned();
    let keys = w.json(&["api-keys", "list", "--workspace", "ops"]);
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["scopes"][0], "completions.write");
    assert!(keys[0]["key"].as_str().unwrap().contains("*****"));

    // Over HTTP: the served catalog, or a `catalog serve` on the embedded database file.
    let own_server;
    let url = match &w.server {
        Some(s) => s.url.clone(),
        None => {
            own_server = Server::start(w.home.path(), &w.db());
            own_server.url.clone()
        }
    };
    let as_workspace = |args: &[&str]| {
        let mut cmd = w.command(args);
        cmd.env("CATALOG_BASE_URL", &url)
            .env("CATALOG_API_KEY", &key);
        w.run_cmd(cmd)
    };
    let out = as_workspace(&[
        "integrations",
        "list",
        "--type",
        "organisation",
        "-o",
        "json",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.json(),
        serde_json::json!([]),
        "no organisation integrations for a workspace key"
    );
    let out = as_workspace(&["workspaces", "create", "rogue"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("workspaces.create"), "{out:?}");
    w.ok(&[
        "integrations",
        "connect",
        "org-openai",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
    ]);
    let out = as_workspace(&["integrations", "get", "org-openai"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("organisation integrations"), "{out:?}");
    let out = as_workspace(&["integrations", "list", "-o", "json"]);
    assert_eq!(
        out.json().as_array().unwrap().len(),
        0,
        "org integrations are not listed to a workspace key"
    );
    // Another workspace is invisible to it.
    let out = as_workspace(&["workspaces", "get", "research-lab"]);
    assert!(out.code == 3 || out.code == 4, "{out:?}");
    let out = as_workspace(&[
        "api-keys",
        "create",
        "root",
        "--type",
        "organisation",
        "--scope",
        "workspaces.list",
    ]);
    assert_eq!(out.code, 3, "{out:?}");
    // The list of workspaces is the organisation's; a workspace key reads its own only.
    let out = as_workspace(&["workspaces", "list", "-o", "json"]);
    assert_eq!(out.code, 3, "{out:?}");
    if w.mode == Mode::Served {
        // The admin key still reaches everything.
        let mut cmd = w.command(&["workspaces", "list", "-o", "json"]);
        cmd.env("CATALOG_API_KEY", ADMIN_KEY);
        assert_eq!(w.run_cmd(cmd).json().as_array().unwrap().len(), 2);
    }
}

#[test]
fn failures_have_exit_codes_and_name_the_problem() {
    both(|w| {
        w.ok(&["workspaces", "create", "eng"]);
        // Malformed slug: rejected at parse time.
        let out = w.fails(
            &[
                "integrations",
                "connect",
                "bad slug!",
                "--service",
                "openai",
                "--key-env",
                "PROVIDER_KEY",
            ],
            2,
            "slug",
        );
        assert!(out.stderr.contains("--help"), "{out:?}");
        // Duplicate slug.
        w.ok(&[
            "integrations",
            "connect",
            "openai-prod",
            "--service",
            "openai",
            "--key-env",
            "PROVIDER_KEY",
        ]);
        // The same slug for another service is a conflict; the same command again converges.
        w.fails(
            &[
                "integrations",
                "connect",
                "openai-prod",
                "--service",
                "groq",
                "--key-env",
                "PROVIDER_KEY",
            ],
            5,
            "already exists for `openai`",
        );
        let again = w.ok(&[
            "integrations",
            "connect",
            "openai-prod",
            "--service",
            "openai",
            "--key-env",
            "PROVIDER_KEY",
            "--name",
            "renamed",
        ]);
        assert!(
            again.stderr.contains("updated integration `openai-prod`"),
            "{again:?}"
        );
        assert_eq!(
            w.json(&["integrations", "get", "openai-prod"])["name"],
            "renamed"
        );
        // Unknown workspace.
        w.fails(
            &["workspaces", "get", "nope"],
            4,
            "workspace `nope` not found",
        );
        w.fails(
            &[
                "integrations",
                "connect",
                "x1",
                "--service",
                "openai",
                "--key-env",
                "PROVIDER_KEY",
                "--workspace",
                "nope",
            ],
            4,
            "nope",
        );
        // A secret in argv is refused with a hint.
        let out = w.fails(
            &[
                "integrations",
                "connect",
                "x2",
                "--service",
                "openai",
                "--key",
                "sk-in-argv-123456",
            ],
            2,
            "command-line value",
        );
        assert!(out.stderr.contains("--key-env"), "{out:?}");
        // Missing key without a terminal names the flags.
        w.fails(
            &["integrations", "connect", "x3", "--service", "openai"],
            2,
            "--key-env",
        );
        // The server validates provider configuration and names the field.
        w.fails(
            &[
                "integrations",
                "connect",
                "x4",
                "--service",
                "azure-openai",
                "--key-env",
                "PROVIDER_KEY",
                "--azure-resource-name",
                "r",
                "--azure-auth-mode",
                "default",
            ],
            2,
            // The flag the user types, not the API field it fills.
            "`--azure-deployment`",
        );
        w.fails(
            &[
                "integrations",
                "connect",
                "x5",
                "--service",
                "custom",
                "--custom-host",
                "ftp://files",
            ],
            2,
            "'--custom-host <URL>': invalid URL",
        );
        // Nothing half-written.
        assert_eq!(
            w.json(&["integrations", "list"]).as_array().unwrap().len(),
            1
        );
        // A misspelt profile never falls back to the embedded catalog.
        if w.mode == Mode::Embedded {
            w.fails(
                &["--profile", "typo", "workspaces", "list"],
                2,
                "profile `typo` does not exist",
            );
        }
        // JSON errors are one object on stderr.
        let out = w.fails(&["workspaces", "get", "nope", "-o", "json"], 4, "\"code\"");
        let err: serde_json::Value = serde_json::from_str(out.stderr.trim()).unwrap();
        assert_eq!(err["code"], "not_found");
        assert_eq!(err["exit_code"], 4);
        assert!(out.stdout.is_empty());
    });
}

#[test]
fn wrong_key_and_unreachable_server() {
    let w = World::new(Mode::Served);
    let mut cmd = w.command(&["workspaces", "list"]);
    cmd.env("CATALOG_API_KEY", "not-a-real-key-000000");
    let out = w.run_cmd(cmd);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("invalid API key"), "{out:?}");

    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = w.command(&["workspaces", "list"]);
    cmd.env("CATALOG_BASE_URL", format!("http://127.0.0.1:{port}"));
    let out = w.run_cmd(cmd);
    assert_eq!(out.code, 6, "{out:?}");
    assert!(
        out.stderr.contains("unreachable") && out.stderr.contains("hint:"),
        "{out:?}"
    );

    // A base URL with no key at all.
    let mut cmd = w.command(&["workspaces", "list"]);
    cmd.env_remove("CATALOG_API_KEY");
    let out = w.run_cmd(cmd);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("CATALOG_API_KEY"), "{out:?}");
}
