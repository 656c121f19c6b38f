//! One service registry: the CLI and the server accept exactly the same services, an
//! unknown one is refused by both with the same suggestion, and every kind of secret
//! setting is masked wherever it is shown.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::{assert_error, contains, database_bytes, Api, Mode, World, PROVIDER_KEY};

/// Flags that give each service a configuration its server accepts.
fn flags_for(id: &str) -> Vec<&'static str> {
    match id {
        "azure-openai" => vec![
            "--azure-resource-name",
            "acme",
            "--azure-auth-mode",
            "default",
            "--azure-deployment",
            "name=gpt4o,model=gpt-4o,api-version=2024-10-21",
            "--key-env",
            "PROVIDER_KEY",
        ],
        "bedrock" => vec![
            "--aws-auth-type",
            "assumedRole",
            "--aws-region",
            "us-east-1",
            "--aws-role-arn",
            "arn:aws:iam::1:role/x",
        ],
        "vertex-ai" => vec![
            "--vertex-auth-type",
            "workload",
            "--vertex-region",
            "us-central1",
            "--vertex-project-id",
            "p1",
        ],
        "custom" => vec!["--custom-host", "http://127.0.0.1:9/v1"],
        _ => vec!["--key-env", "PROVIDER_KEY"],
    }
}

/// The values `--service` lists in `catalog integrations connect --help`.
fn cli_services(w: &World) -> BTreeSet<String> {
    let help = w.ok(&["integrations", "connect", "--help"]).stdout;
    let start = help.find("--service <SERVICE>").expect("--service in help");
    let list = &help[start..];
    let list = &list[list.find("[possible values: ").unwrap() + 18..];
    let list = &list[..list.find(']').unwrap()];
    list.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Every `enum` in the OpenAPI document that lists services (it names `deepseek`).
fn service_enums(v: &Value, out: &mut Vec<BTreeSet<String>>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(items)) = map.get("enum") {
                if items.iter().any(|i| i == "deepseek") {
                    out.push(
                        items
                            .iter()
                            .filter_map(|i| i.as_str().map(str::to_owned))
                            .collect(),
                    );
                }
            }
            map.values().for_each(|x| service_enums(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| service_enums(x, out)),
        _ => {}
    }
}

#[test]
fn the_cli_and_the_server_accept_exactly_the_same_services() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let registry: BTreeSet<String> = catalog::services::ids().map(str::to_owned).collect();
    assert_eq!(cli_services(&w), registry, "clap's --service values");
    assert!(registry.len() >= 19, "{registry:?}");

    // Every one of them connects through the CLI (clap accepts it, the server stores it) ...
    for id in &registry {
        let slug = format!("svc-{id}");
        let mut args = vec![
            "integrations",
            "connect",
            &slug,
            "--service",
            id,
            "--skip-models",
        ];
        args.extend(flags_for(id));
        let made = w.json(&args);
        assert_eq!(made["ai_provider_id"], id.as_str(), "{made}");
    }
    // ... and the server's own list (its OpenAPI document) is the same set.
    let (_, doc) = api.get("/openapi.json");
    let mut lists = Vec::new();
    service_enums(&doc, &mut lists);
    assert!(!lists.is_empty(), "no service enum in the OpenAPI document");
    for listed in lists {
        assert_eq!(listed, registry, "the OpenAPI document's services");
    }

    // A made-up id is refused by both, with the same suggestion.
    let out = w.fails(
        &[
            "integrations",
            "connect",
            "ds",
            "--service",
            "deepsek",
            "--key-env",
            "PROVIDER_KEY",
        ],
        2,
        "deepsek",
    );
    assert!(
        out.stderr.contains("a similar value exists: 'deepseek'"),
        "{out:?}"
    );
    assert_error(
        api.post(
            "/integrations",
            json!({"name": "ds", "slug": "ds", "ai_provider_id": "deepsek", "key": PROVIDER_KEY}),
        ),
        400,
        "AB01",
        "did you mean `deepseek`?",
    );
    assert_error(
        api.post(
            "/virtual-keys",
            json!({"name": "ds", "provider": "deepsek", "key": PROVIDER_KEY}),
        ),
        400,
        "AB01",
        "did you mean `deepseek`?",
    );
}

#[test]
fn deepseek_connects_end_to_end() {
    crate::common::both(|w| {
        w.ok(&["workspaces", "create", "eng"]);
        let out = w.ok(&[
            "integrations",
            "connect",
            "deepseek-prod",
            "--service",
            "deepseek",
            "--key-env",
            "PROVIDER_KEY",
            "--provision",
            "eng",
            "--models",
            "deepseek-v3.2",
        ]);
        assert!(out.stderr.contains("(deepseek)"), "{out:?}");
        let got = w.json(&["integrations", "get", "deepseek-prod"]);
        assert_eq!(got["ai_provider_id"], "deepseek", "{got}");
        assert!(got["masked_key"]
            .as_str()
            .is_some_and(|k| k.contains("*****")));
        let models = w.json(&[
            "models",
            "list",
            "--provider",
            "@deepseek-prod",
            "--workspace",
            "eng",
        ]);
        let ids: Vec<&str> = models
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["slug"].as_str())
            .collect();
        assert_eq!(ids, ["deepseek-v3.2"], "{models}");
        // A wrong service for the same slug is refused before anything is written.
        w.fails(
            &[
                "integrations",
                "connect",
                "deepseek-prod",
                "--service",
                "groq",
                "--key-env",
                "PROVIDER_KEY",
            ],
            5,
            "already exists for `deepseek`",
        );
        assert!(!w.everything_seen().contains(PROVIDER_KEY));
    });
}

const AWS_SECRET: &str = "aws-SECRET-ACCESS-KEY-00112233445566";
const ENTRA_SECRET: &str = "entra-CLIENT-SECRET-778899aabbccdd";
const SA_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----SAKEY0123456789";
const HEADER_SECRET: &str = "hdr-SECRET-a1b2c3d4e5f60718";

/// Each kind of secret setting, given the way the CLI takes it, is masked in the dry run,
/// in the summary of the real run, in what is read back, and sealed in the database.
#[test]
fn every_kind_of_secret_setting_is_masked_everywhere() {
    let mut w = World::new(Mode::Served);
    w.extra_env.push(("AWS_SECRET".into(), AWS_SECRET.into()));
    w.extra_env
        .push(("ENTRA_SECRET".into(), ENTRA_SECRET.into()));
    w.extra_env
        .push(("HEADER_SECRET".into(), HEADER_SECRET.into()));
    let sa = w.home.path().join("sa.json");
    std::fs::write(
        &sa,
        json!({"type": "service_account", "project_id": "p1", "private_key": SA_PRIVATE_KEY})
            .to_string(),
    )
    .unwrap();
    let sa = sa.to_string_lossy().into_owned();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        // A secret string that is the provider secret (given as the key).
        (
            "bedrock",
            vec![
                "--aws-auth-type",
                "accessKey",
                "--aws-region",
                "us-east-1",
                "--aws-access-key-id-env",
                "PROVIDER_KEY",
                "--key-env",
                "AWS_SECRET",
            ],
            "masked_aws_secret_access_key",
        ),
        (
            "azure-openai",
            vec![
                "--azure-resource-name",
                "acme",
                "--azure-auth-mode",
                "entra",
                "--azure-entra-tenant-id",
                "t",
                "--azure-entra-client-id",
                "c",
                "--azure-deployment",
                "name=gpt4o,model=gpt-4o,api-version=2024-10-21",
                "--key-env",
                "ENTRA_SECRET",
            ],
            "masked_azure_entra_client_secret",
        ),
        // A secret object.
        (
            "vertex-ai",
            vec![
                "--vertex-auth-type",
                "serviceAccount",
                "--vertex-region",
                "us-central1",
                "--vertex-service-account-file",
                &sa,
            ],
            "masked_vertex_service_account_json",
        ),
        // Headers.
        (
            "custom",
            vec![
                "--custom-host",
                "http://127.0.0.1:9/v1",
                "--header-env",
                "X-Upstream-Token=HEADER_SECRET",
            ],
            "masked_custom_headers",
        ),
    ];
    for (service, flags, masked_field) in cases {
        let slug = format!("masked-{service}");
        let mut args = vec![
            "integrations",
            "connect",
            &slug,
            "--service",
            service,
            "--skip-models",
        ];
        args.extend(flags);
        let mut dry = args.clone();
        dry.extend(["--dry-run", "-o", "json"]);
        let plan = w.ok(&dry).json();
        let field = masked_field.trim_start_matches("masked_");
        let planned = &plan[0]["body"]["configurations"][field];
        assert!(!planned.is_null(), "{service}: {plan}");
        w.ok(&args);
        let got = w.json(&["integrations", "get", &slug]);
        assert!(
            !got["configurations"][masked_field].is_null(),
            "{service}: {got}"
        );
        assert!(
            got["configurations"].get(field).is_none(),
            "{service}: {got}"
        );
    }
    let seen = w.everything_seen();
    let db = database_bytes(&w.db());
    for secret in [
        AWS_SECRET,
        ENTRA_SECRET,
        "SAKEY0123456789",
        HEADER_SECRET,
        PROVIDER_KEY,
    ] {
        assert!(!seen.contains(secret), "{secret} was shown:\n{seen}");
        assert!(!contains(&db, secret), "{secret} is in the database");
    }
}

#[test]
fn enum_like_settings_take_the_registry_values() {
    let w = World::new(Mode::Embedded);
    // `workload` is a Vertex AI mode the server accepts; the flag accepts it too.
    let mut args = vec![
        "integrations",
        "connect",
        "vertex",
        "--service",
        "vertex-ai",
        "--skip-models",
        "--dry-run",
        "-o",
        "json",
    ];
    args.extend(flags_for("vertex-ai"));
    let plan = w.ok(&args).json();
    assert_eq!(
        plan[0]["body"]["configurations"]["vertex_auth_type"],
        "workload"
    );
    let out = w.fails(
        &[
            "integrations",
            "connect",
            "bedrock",
            "--service",
            "bedrock",
            "--aws-auth-type",
            "accesKey",
        ],
        2,
        "accessKey",
    );
    assert!(out.stderr.contains("assumedRole"), "{out:?}");
    // A secret setting of the service is refused in `--config`, by the registry's word.
    w.fails(
        &[
            "integrations",
            "connect",
            "bedrock",
            "--service",
            "bedrock",
            "--config",
            "aws_secret_access_key=x",
        ],
        2,
        "is a secret",
    );
}
