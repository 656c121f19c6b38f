//! The interactive `integrations connect`, driven through a real pseudo-terminal.

mod common;

use std::process::Command;

use common::{contains, database_bytes, Mode, World, PROVIDER_KEY};
use rexpect::process::wait::WaitStatus;
use rexpect::session::spawn_command;

const DOWN: &str = "\x1b[B";

/// The same environment as the harness, minus CATALOG_NO_INPUT, on a terminal.
fn terminal_command(w: &World, args: &[&str]) -> Command {
    let mut cmd = w.command(args);
    cmd.env_remove("CATALOG_NO_INPUT")
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::inherit());
    cmd
}

fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        other => panic!("catalog did not exit normally: {other:?}"),
    }
}

#[test]
fn connect_wizard_answers_every_prompt() {
    let w = World::new(Mode::Embedded);
    w.ok(&["workspaces", "create", "eng"]);
    let mut p = spawn_command(
        terminal_command(&w, &["integrations", "connect", "team-openai"]),
        Some(20_000),
    )
    .unwrap();
    p.exp_string("Service").unwrap();
    p.send_line("").unwrap(); // openai is first
    p.exp_string("Name").unwrap();
    p.send_line("Team OpenAI").unwrap();
    p.exp_string("Provider API key").unwrap();
    p.send_line(PROVIDER_KEY).unwrap();
    p.exp_string("Scope").unwrap();
    p.send(DOWN).unwrap(); // the workspace `eng`
    p.send_line("").unwrap();
    p.exp_string("About to create").unwrap();
    p.exp_string("workspace ws-eng-").unwrap();
    p.exp_string("Create this integration?").unwrap();
    p.send_line("y").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(
        rest.contains("connected integration `team-openai`"),
        "{rest}"
    );
    assert!(!rest.contains(PROVIDER_KEY), "the key was echoed: {rest}");
    assert_eq!(exit_code(p.process().wait().unwrap()), 0);

    let got = w.json(&["integrations", "get", "team-openai"]);
    assert_eq!(got["name"], "Team OpenAI");
    assert_eq!(got["type"], "workspace");
    assert!(!contains(&database_bytes(&w.db()), PROVIDER_KEY));
}

#[test]
fn azure_wizard_asks_for_its_configuration() {
    let w = World::new(Mode::Embedded);
    let mut p = spawn_command(
        terminal_command(
            &w,
            &[
                "integrations",
                "connect",
                "azure-prod",
                "--service",
                "azure-openai",
                "--name",
                "Azure",
            ],
        ),
        Some(20_000),
    )
    .unwrap();
    // With --service given, only what is missing is asked; no wizard summary.
    p.exp_string("Provider API key").unwrap();
    p.send_line(PROVIDER_KEY).unwrap();
    let rest = p.exp_eof().unwrap();
    // Nothing to configure Azure with: the server names the missing field.
    assert!(rest.contains("azure_resource_name"), "{rest}");
    assert_eq!(exit_code(p.process().wait().unwrap()), 2);

    let mut p = spawn_command(
        terminal_command(&w, &["integrations", "connect", "azure-prod"]),
        Some(20_000),
    )
    .unwrap();
    p.exp_string("Service").unwrap();
    p.send(&DOWN.repeat(2)).unwrap(); // azure-openai
    p.send_line("").unwrap();
    p.exp_string("Name").unwrap();
    p.send_line("").unwrap(); // default: the slug
    p.exp_string("Azure resource name").unwrap();
    p.send_line("acme").unwrap();
    p.exp_string("Azure authentication mode").unwrap();
    p.send_line("").unwrap(); // default
    p.exp_string("Deployment name").unwrap();
    p.send_line("gpt4o").unwrap();
    p.exp_string("Model of this deployment").unwrap();
    p.send_line("gpt-4o").unwrap();
    p.exp_string("API version").unwrap();
    p.send_line("").unwrap();
    p.exp_string("Add another deployment?").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("Provider API key").unwrap();
    p.send_line(PROVIDER_KEY).unwrap();
    p.exp_string("Scope").unwrap();
    p.send_line("").unwrap(); // organisation
    p.exp_string("Create this integration?").unwrap();
    p.send_line("y").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(p.process().wait().unwrap()), 0);
    let got = w.json(&["integrations", "get", "azure-prod"]);
    assert_eq!(got["configurations"]["azure_resource_name"], "acme");
    assert_eq!(
        got["configurations"]["azure_deployment_config"][0]["azure_api_version"],
        "2024-10-21"
    );
}

#[test]
fn no_at_confirmation_writes_nothing() {
    let w = World::new(Mode::Embedded);
    let mut p = spawn_command(
        terminal_command(&w, &["integrations", "connect", "declined"]),
        Some(20_000),
    )
    .unwrap();
    p.exp_string("Service").unwrap();
    p.send_line("").unwrap();
    p.exp_string("Name").unwrap();
    p.send_line("").unwrap();
    p.exp_string("Provider API key").unwrap();
    p.send_line(PROVIDER_KEY).unwrap();
    p.exp_string("Scope").unwrap();
    p.send_line("").unwrap();
    p.exp_string("Create this integration?").unwrap();
    p.send_line("n").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("nothing was created"), "{rest}");
    assert_eq!(exit_code(p.process().wait().unwrap()), 130);
    assert_eq!(
        w.json(&["integrations", "list"]).as_array().unwrap().len(),
        0
    );
}

#[test]
fn without_a_terminal_missing_values_name_their_flags() {
    let w = World::new(Mode::Embedded);
    w.fails(&["integrations", "connect", "x"], 2, "--service");
    w.fails(
        &["integrations", "connect", "x", "--service", "openai"],
        2,
        "--key-env VAR",
    );
    // CI set, even on a terminal-less run with CATALOG_NO_INPUT unset.
    let mut cmd = w.command(&["integrations", "connect", "x"]);
    cmd.env_remove("CATALOG_NO_INPUT").env("CI", "true");
    let out = w.run_cmd(cmd);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--service"), "{out:?}");
}
