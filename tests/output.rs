//! Output as the README promises: plain lines when piped, prose on stderr, `-q` quiet,
//! tables readable at 80 columns, model commands printing only what changed.

mod common;

use common::{Mode, World};

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
