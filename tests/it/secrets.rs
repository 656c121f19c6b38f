//! Secrets never in argv, never echoed: custom services' keys, credential headers, the
//! AWS access key id and `--config-env` values.

use crate::common::{Mode, World, PROVIDER_KEY};

const HEADER_SECRET: &str = "hdr-SECRET-77aa88bb99cc00dd";
const AWS_ID: &str = "AKIASECRETACCESSKEYID";
const PROJECT: &str = "proj-SECRET-0011223344556677";

fn world() -> World {
    let mut w = World::new(Mode::Embedded);
    w.extra_env
        .push(("HEADER_SECRET".into(), HEADER_SECRET.into()));
    w.extra_env.push(("AWS_ID".into(), AWS_ID.into()));
    w.extra_env.push(("PROJECT".into(), PROJECT.into()));
    w
}

/// Whether any output other than the created integration itself showed the value.
fn dry_run_leaks(w: &World) -> bool {
    w.everything_seen()
        .lines()
        .any(|l| l.contains(PROJECT) && !l.contains("\"openai_project\": \""))
}

fn assert_never_shown(w: &World) {
    let seen = w.everything_seen();
    for secret in [PROVIDER_KEY, HEADER_SECRET, AWS_ID, PROJECT] {
        assert!(!seen.contains(secret), "{secret} was shown:\n{seen}");
    }
}

#[test]
fn a_custom_service_takes_its_key_from_the_environment() {
    let w = world();
    let i = w.json(&[
        "integrations",
        "connect",
        "local-llm",
        "--service",
        "custom",
        "--custom-host",
        "http://10.0.0.5:8000",
        "--key-env",
        "PROVIDER_KEY",
        "--skip-models",
    ]);
    assert!(
        i["masked_key"].as_str().is_some_and(|k| !k.is_empty()),
        "{i}"
    );
    // Or in a header the user names.
    let i = w.json(&[
        "integrations",
        "connect",
        "local-llm-2",
        "--service",
        "custom",
        "--custom-host",
        "http://10.0.0.5:8000",
        "--key-env",
        "HEADER_SECRET",
        "--key-header",
        "X-Api-Key",
        "--skip-models",
    ]);
    assert!(
        i["configurations"]["masked_custom_headers"]["X-Api-Key"].is_string(),
        "{i}"
    );
    assert_never_shown(&w);
}

#[test]
fn credential_headers_are_refused_in_argv_and_read_from_env_or_file() {
    let w = world();
    let out = w.fails(
        &[
            "integrations",
            "connect",
            "local-llm",
            "--service",
            "custom",
            "--custom-host",
            "http://10.0.0.5:8000",
            "--header",
            "Authorization=Bearer abc",
        ],
        2,
        "is a credential and cannot be passed in argv",
    );
    assert!(
        out.stderr.contains("--header-env Authorization=VAR"),
        "{out:?}"
    );
    for name in ["X-Api-Key", "x-auth-token", "Client-Secret"] {
        w.fails(
            &[
                "integrations",
                "connect",
                "local-llm",
                "--service",
                "custom",
                "--custom-host",
                "http://10.0.0.5:8000",
                "--header",
                &format!("{name}=v"),
            ],
            2,
            "credential",
        );
    }
    let key_file = w.home.path().join("header.txt");
    std::fs::write(&key_file, format!("{HEADER_SECRET}\n")).unwrap();
    let header_file = format!("X-Other-Key={}", key_file.display());
    let out = w.ok(&[
        "integrations",
        "connect",
        "local-llm",
        "--service",
        "custom",
        "--custom-host",
        "http://10.0.0.5:8000",
        "--header",
        "X-Team=ml",
        "--header-env",
        "Authorization=HEADER_SECRET",
        "--header-file",
        &header_file,
        "--skip-models",
        "-o",
        "json",
    ]);
    let i = out.json();
    let headers = &i["configurations"]["masked_custom_headers"];
    assert!(
        headers["Authorization"].is_string() && headers["X-Other-Key"].is_string(),
        "{i}"
    );
    assert_never_shown(&w);
}

#[test]
fn the_aws_access_key_id_comes_from_the_environment() {
    let w = world();
    w.fails(
        &[
            "integrations",
            "connect",
            "bedrock-prod",
            "--service",
            "bedrock",
            "--aws-access-key-id",
            AWS_ID,
        ],
        2,
        "--aws-access-key-id",
    );
    let args = [
        "integrations",
        "connect",
        "bedrock-prod",
        "--service",
        "bedrock",
        "--aws-auth-type",
        "accessKey",
        "--aws-region",
        "us-east-1",
        "--aws-access-key-id-env",
        "AWS_ID",
        "--key-env",
        "PROVIDER_KEY",
        "--skip-models",
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = w.ok(&dry);
    assert!(out.stdout.contains("aws_access_key_id"), "{out:?}");
    let out = w.ok(&args);
    assert!(out.stderr.contains("aws_access_key_id"), "{out:?}");
    // The dry run, the summary and the integration read back: the id never appears.
    w.ok(&["integrations", "get", "bedrock-prod"]);
    assert_never_shown(&w);
}

#[test]
fn config_env_values_are_masked_in_summaries_and_dry_runs() {
    let w = world();
    let args = [
        "integrations",
        "connect",
        "openai-prod",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
        "--config-env",
        "openai_project=PROJECT",
        "--skip-models",
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = w.ok(&dry);
    assert!(out.stdout.contains("openai_project"), "{out:?}");
    assert!(out.stderr.contains("openai_project"), "{out:?}");
    // The summary of a real run (stderr) masks it too.
    let mut quiet = args.to_vec();
    quiet.extend(["-o", "json"]);
    let run = w.ok(&quiet);
    assert!(run.stderr.contains("openai_project"), "{run:?}");
    assert!(!run.stderr.contains(PROJECT), "{run:?}");
    let out = w.ok(&[
        "integrations",
        "update",
        "openai-prod",
        "--config-env",
        "openai_project=PROJECT",
        "--dry-run",
    ]);
    assert!(out.stdout.contains("openai_project"), "{out:?}");
    assert!(
        !out.stdout.contains(PROJECT) && !dry_run_leaks(&w),
        "{out:?}"
    );
}

#[test]
fn model_headers_follow_the_same_rule() {
    let w = world();
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
    w.fails(
        &[
            "models",
            "add",
            "@openai-prod",
            "my-model",
            "--header",
            "X-Api-Key=abc",
        ],
        2,
        "credential",
    );
    w.ok(&[
        "models",
        "add",
        "@openai-prod",
        "my-model",
        "--header-env",
        "X-Api-Key=HEADER_SECRET",
    ]);
    assert_never_shown(&w);
}
