//! The interactive `integrations connect`, driven through a real pseudo-terminal.

use std::process::Command;

use crate::common::{contains, database_bytes, Mode, World, PROVIDER_KEY};
use rexpect::process::wait::WaitStatus;
use rexpect::session::spawn_command;

const DOWN: &str = "\x1b[B";

/// Waits for a prompt, gives the prompt time to switch the terminal to raw mode (which
/// discards input typed earlier), then types `keys`. Enter is `\r`, as a terminal sends it.
fn answer(p: &mut rexpect::session::PtySession, prompt: &str, keys: &str) {
    p.exp_string(prompt)
        .unwrap_or_else(|e| panic!("waiting for {prompt:?}: {e}"));
    std::thread::sleep(std::time::Duration::from_millis(250));
    p.send(keys).unwrap();
    p.flush().unwrap();
}

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
    answer(&mut p, "Service", "\r"); // openai is first
    answer(&mut p, "Name", "Team OpenAI\r");
    answer(&mut p, "Provider API key", &format!("{}\r", PROVIDER_KEY));
    answer(&mut p, "Scope", &[DOWN, "\r"].concat()); // the workspace `eng`
                                                     // A workspace-level integration skips workspace provisioning; step 3 asks about models.
    answer(&mut p, "Models", "\r"); // all models
    p.exp_string("About to create").unwrap();
    p.exp_string("workspace ws-eng-").unwrap();
    answer(&mut p, "Apply all of this?", "y");
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
    answer(&mut p, "Provider API key", &format!("{}\r", PROVIDER_KEY));
    let rest = p.exp_eof().unwrap();
    // Nothing to configure Azure with: the error names the missing flag.
    assert!(rest.contains("--azure-resource-name"), "{rest}");
    assert_eq!(exit_code(p.process().wait().unwrap()), 2);

    let mut p = spawn_command(
        terminal_command(&w, &["integrations", "connect", "azure-prod"]),
        Some(20_000),
    )
    .unwrap();
    answer(&mut p, "Service", &[&DOWN.repeat(2), "\r"].concat()); // azure-openai
    answer(&mut p, "Name", "\r"); // default: the slug
    answer(&mut p, "Azure resource name", "acme\r");
    answer(&mut p, "Azure authentication mode", "\r"); // default
    answer(&mut p, "Deployment name", "gpt4o\r");
    answer(&mut p, "Model of this deployment", "gpt-4o\r");
    answer(&mut p, "API version", "\r");
    answer(&mut p, "Add another deployment?", "n");
    answer(&mut p, "Provider API key", &format!("{}\r", PROVIDER_KEY));
    answer(&mut p, "Scope", "\r"); // organisation
    answer(&mut p, "Provision workspaces now?", "n");
    answer(&mut p, "Models", "\r");
    answer(&mut p, "Apply all of this?", "y");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(p.process().wait().unwrap()), 0);
    let got = w.json(&["integrations", "get", "azure-prod"]);
    assert_eq!(got["configurations"]["azure_resource_name"], "acme");
    assert_eq!(
        got["configurations"]["azure_deployment_config"][0]["azure_api_version"],
        "2024-10-21"
    );
}

/// The whole wizard: credentials, workspace provisioning with limits, a model allow-list.
#[test]
fn connect_wizard_runs_all_three_steps() {
    let w = World::new(Mode::Embedded);
    w.ok(&["workspaces", "create", "eng"]);
    w.ok(&["workspaces", "create", "research"]);
    let mut p = spawn_command(
        terminal_command(&w, &["integrations", "connect", "openai-prod"]),
        Some(20_000),
    )
    .unwrap();
    answer(&mut p, "Service", "\r");
    answer(&mut p, "Name", "\r");
    answer(&mut p, "Provider API key", &format!("{}\r", PROVIDER_KEY));
    answer(&mut p, "Scope", "\r"); // organisation
    answer(&mut p, "Provision workspaces now?", "y");
    answer(&mut p, "Workspaces", &[" ", "\r"].concat()); // tick eng
    answer(&mut p, "Budget", "1000\r");
    answer(&mut p, "Budget type", "\r"); // cost
    answer(&mut p, "Reset", &[&DOWN.repeat(2), "\r"].concat()); // monthly
    answer(&mut p, "Alert at", "800\r");
    answer(&mut p, "Rate limit", "100/min\r");
    answer(&mut p, "Also provision workspaces created later?", "y");
    answer(&mut p, "Models", &[DOWN, "\r"].concat()); // choose from the registry
    answer(&mut p, "Search models", "gpt-4o\r");
    answer(&mut p, "Models to enable", " \r"); // gpt-4o, the exact match, comes first
                                               // The registry offers its models; a typed list is the other way.
    p.exp_string("About to create").unwrap();
    p.exp_string("only gpt-4o enabled").unwrap();
    answer(&mut p, "Apply all of this?", "n");
    p.exp_eof().unwrap();

    let mut p = spawn_command(
        terminal_command(&w, &["integrations", "connect", "openai-prod"]),
        Some(20_000),
    )
    .unwrap();
    answer(&mut p, "Service", "\r");
    answer(&mut p, "Name", "\r");
    answer(&mut p, "Provider API key", &format!("{PROVIDER_KEY}\r"));
    answer(&mut p, "Scope", "\r");
    answer(&mut p, "Provision workspaces now?", "y");
    answer(&mut p, "Workspaces", " \r");
    answer(&mut p, "Budget", "1000\r");
    answer(&mut p, "Budget type", "\r");
    answer(&mut p, "Reset", &[&DOWN.repeat(2), "\r"].concat());
    answer(&mut p, "Alert at", "800\r");
    answer(&mut p, "Rate limit", "100/min\r");
    answer(&mut p, "Also provision workspaces created later?", "y");
    answer(&mut p, "Models", &[&DOWN.repeat(2), "\r"].concat()); // type a list
    answer(&mut p, "Models to enable", "gpt-4o, gpt-4o-mini\r");
    p.exp_string("About to create").unwrap();
    p.exp_string("+ add     ws-eng-").unwrap();
    p.exp_string("workspaces created later").unwrap();
    p.exp_string("only gpt-4o, gpt-4o-mini enabled").unwrap();
    answer(&mut p, "Apply all of this?", "y");
    let rest = p.exp_eof().unwrap();
    assert!(
        rest.contains("step 2: provisioned 1 workspace(s) and workspaces created later"),
        "{rest}"
    );
    assert!(
        rest.contains("step 3: only gpt-4o, gpt-4o-mini enabled"),
        "{rest}"
    );
    assert_eq!(exit_code(p.process().wait().unwrap()), 0);

    let access = w.json(&["integrations", "workspaces", "openai-prod"]);
    assert_eq!(access["total"], 1);
    assert_eq!(
        access["workspaces"][0]["usage_limits"][0]["credit_limit"],
        1000.0
    );
    assert_eq!(
        access["workspaces"][0]["usage_limits"][0]["periodic_reset"],
        "monthly"
    );
    assert_eq!(
        access["workspaces"][0]["usage_limits"][0]["alert_threshold"],
        800.0
    );
    assert_eq!(access["global_workspace_access"]["enabled"], true);
    assert_eq!(
        w.json(&["integrations", "get", "openai-prod"])["allow_all_models"],
        false
    );
    // The models as an independent client reads them.
    let server = crate::common::Server::start(w.home.path(), &w.db());
    let res: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/integrations/openai-prod/models", server.url))
        .header("x-portkey-api-key", crate::common::ADMIN_KEY)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let models: Vec<&str> = res["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["gpt-4o", "gpt-4o-mini"]);
    assert_eq!(res["allow_all_models"], false);
}

#[test]
fn provision_prompts_for_what_is_missing() {
    let w = World::new(Mode::Embedded);
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
    w.ok(&[
        "workspaces",
        "provision",
        "ops",
        "--integration",
        "openai-prod",
    ]);
    let mut p = spawn_command(
        terminal_command(&w, &["workspaces", "provision", "--budget", "1000"]),
        Some(20_000),
    )
    .unwrap();
    answer(&mut p, "Integration", "\r");
    // eng is unticked, research unticked, ops pre-ticked: tick eng, untick ops.
    answer(
        &mut p,
        "Workspaces",
        &[" ", &DOWN.repeat(2), " ", "\r"].concat(),
    );
    answer(&mut p, "Budget type", "\r");
    answer(&mut p, "Reset", &[DOWN, "\r"].concat()); // weekly
    answer(&mut p, "Alert at", "\r");
    answer(&mut p, "Rate limit", "\r");
    answer(&mut p, "Also provision workspaces created later?", "n");
    p.exp_string("+ add     ws-eng-").unwrap();
    p.exp_string("- revoke  ws-ops-").unwrap();
    answer(&mut p, "Apply these changes?", "n");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(p.process().wait().unwrap()), 130);
    // "No" wrote nothing.
    let access = w.json(&["integrations", "workspaces", "openai-prod"]);
    assert_eq!(access["total"], 1);
    assert_eq!(access["workspaces"][0]["enabled"], true);

    // The same answers, confirmed.
    let mut p = spawn_command(
        terminal_command(
            &w,
            &[
                "workspaces",
                "provision",
                "--budget",
                "1000",
                "--reset",
                "weekly",
                "--rate-limit",
                "50/min",
            ],
        ),
        Some(20_000),
    )
    .unwrap();
    answer(&mut p, "Integration", "\r");
    answer(&mut p, "Workspaces", &[" ", "\r"].concat());
    answer(&mut p, "Budget type", "\r");
    answer(&mut p, "Alert at", "\r");
    answer(&mut p, "Also provision workspaces created later?", "n");
    answer(&mut p, "Apply these changes?", "y");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(p.process().wait().unwrap()), 0);
    let access = w.json(&["integrations", "workspaces", "openai-prod"]);
    assert_eq!(access["total"], 2);
    let eng = access["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "eng")
        .unwrap()
        .clone();
    assert_eq!(eng["usage_limits"][0]["periodic_reset"], "weekly");
    assert_eq!(eng["rate_limits"][0]["value"], 50);
}

#[test]
fn no_at_confirmation_writes_nothing() {
    let w = World::new(Mode::Embedded);
    let mut p = spawn_command(
        terminal_command(&w, &["integrations", "connect", "declined"]),
        Some(20_000),
    )
    .unwrap();
    answer(&mut p, "Service", "\r");
    answer(&mut p, "Name", "\r");
    answer(&mut p, "Provider API key", &format!("{}\r", PROVIDER_KEY));
    answer(&mut p, "Scope", "\r");
    answer(&mut p, "Provision workspaces now?", "n");
    answer(&mut p, "Models", "\r");
    answer(&mut p, "Apply all of this?", "n");
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

#[test]
fn provision_prompts_start_from_the_current_state_and_no_turns_later_workspaces_off() {
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
    ]);
    w.ok(&[
        "workspaces",
        "provision",
        "eng",
        "--integration",
        "openai-prod",
        "--new-workspaces",
        "--budget",
        "1000",
        "--reset",
        "monthly",
        "--alert",
        "800",
    ]);
    let mut p = spawn_command(
        terminal_command(
            &w,
            &["workspaces", "provision", "--integration", "openai-prod"],
        ),
        Some(20_000),
    )
    .unwrap();
    answer(&mut p, "Workspaces", "\r"); // eng stays ticked
    answer(&mut p, "Budget (empty to keep the current one)", "1200\r");
    answer(&mut p, "Budget type", "\r");
    // The current reset is the default: Enter keeps monthly.
    answer(&mut p, "Reset", "\r");
    // A bad answer is refused at its prompt and asked again.
    answer(&mut p, "Alert at (empty to keep the current one)", "5000\r");
    p.exp_string("below the budget").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(250));
    p.send("900\r").unwrap();
    p.flush().unwrap();
    answer(&mut p, "Rate limit", "abc\r");
    p.exp_string("does not start with a number").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(250));
    p.send("\r").unwrap();
    p.flush().unwrap();
    // Workspaces created later are provisioned now: "no" turns that off.
    answer(&mut p, "Also provision workspaces created later?", "n");
    p.exp_string("no longer provisioned").unwrap();
    answer(&mut p, "Apply these changes?", "y");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(p.process().wait().unwrap()), 0);
    let access = w.json(&["integrations", "workspaces", "openai-prod"]);
    assert_eq!(
        access["global_workspace_access"]["enabled"], false,
        "{access}"
    );
    let budget = &access["workspaces"][0]["usage_limits"][0];
    assert_eq!(budget["credit_limit"].as_f64(), Some(1200.0), "{access}");
    assert_eq!(budget["periodic_reset"], "monthly", "{access}");
    assert_eq!(budget["alert_threshold"].as_f64(), Some(900.0), "{access}");
}

#[test]
fn a_connect_rerun_keeps_the_key_checks_typed_models_and_defaults_to_no_on_revoke() {
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
        "--budget",
        "1000",
    ]);
    let mut p = spawn_command(
        terminal_command(&w, &["integrations", "connect", "openai-prod"]),
        Some(20_000),
    )
    .unwrap();
    // The service is the existing one's: no service prompt, and the key may stay.
    answer(&mut p, "Name", "\r");
    answer(&mut p, "Keep the stored key", "y");
    answer(&mut p, "Provision workspaces now?", "y");
    answer(&mut p, "Workspaces", " \r"); // untick eng: a revoke
    answer(&mut p, "Budget (empty for none)", "\r");
    answer(&mut p, "Rate limit", "\r");
    answer(&mut p, "Also provision workspaces created later?", "\r");
    answer(&mut p, "Models", &[&DOWN.repeat(2), "\r"].concat()); // type a list
    answer(&mut p, "Models to enable", "gpt-4o-mnii\r");
    p.exp_string("is not a known `openai` model").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(250));
    p.send("gpt-4o-mini\r").unwrap();
    p.flush().unwrap();
    p.exp_string("- revoke  ws-eng-").unwrap();
    // Revoking is not the default: Enter cancels.
    answer(&mut p, "Apply all of this?", "\r");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(p.process().wait().unwrap()), 130);
    let access = w.json(&["integrations", "workspaces", "openai-prod"]);
    assert_eq!(access["workspaces"][0]["enabled"], true, "{access}");
}

#[test]
fn the_custom_service_wizard_checks_the_base_url_at_its_prompt() {
    let w = World::new(Mode::Embedded);
    let mut p = spawn_command(
        terminal_command(&w, &["integrations", "connect", "local-llm"]),
        Some(20_000),
    )
    .unwrap();
    let custom = catalog::services::ALL
        .iter()
        .position(|s| s.id == "custom")
        .unwrap();
    answer(&mut p, "Service", &[&DOWN.repeat(custom), "\r"].concat());
    answer(&mut p, "Name", "\r");
    answer(&mut p, "Base URL of the service", "10.0.0.5:8000\r");
    p.exp_string("invalid URL").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(250));
    p.send("http://10.0.0.5:8000\r").unwrap();
    p.flush().unwrap();
    answer(&mut p, "Does the service need an API key?", "n");
    answer(&mut p, "Scope", "\r");
    answer(&mut p, "Provision workspaces now?", "n");
    answer(&mut p, "Models", &[&DOWN.repeat(2), "\r"].concat()); // skip
    answer(&mut p, "Apply all of this?", "y");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(p.process().wait().unwrap()), 0);
    let got = w.json(&["integrations", "get", "local-llm"]);
    assert_eq!(got["configurations"]["custom_host"], "http://10.0.0.5:8000");
}

#[test]
fn a_lower_budget_asks_for_an_alert_that_fits() {
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
        "--budget",
        "1000",
        "--alert",
        "800",
    ]);
    let mut p = spawn_command(
        terminal_command(
            &w,
            &[
                "workspaces",
                "provision",
                "--integration",
                "openai-prod",
                "--budget",
                "500",
            ],
        ),
        Some(20_000),
    )
    .unwrap();
    answer(&mut p, "Workspaces", "\r");
    answer(&mut p, "Budget type", "\r");
    answer(&mut p, "Reset", "\r");
    answer(&mut p, "the current 800 is not below the new budget", "\r");
    // Empty is not an answer here; neither is an alert above the budget.
    std::thread::sleep(std::time::Duration::from_millis(250));
    p.send("600\r").unwrap();
    p.flush().unwrap();
    p.exp_string("below the budget").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(250));
    p.send("300\r").unwrap();
    p.flush().unwrap();
    answer(&mut p, "Rate limit", "\r");
    answer(&mut p, "Also provision workspaces created later?", "\r");
    answer(&mut p, "Apply these changes?", "y");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(p.process().wait().unwrap()), 0);
    let access = w.json(&["integrations", "workspaces", "openai-prod"]);
    let budget = &access["workspaces"][0]["usage_limits"][0];
    assert_eq!(budget["credit_limit"].as_f64(), Some(500.0), "{access}");
    assert_eq!(budget["alert_threshold"].as_f64(), Some(300.0), "{access}");
}

#[test]
fn the_wizard_on_an_existing_integration_defaults_to_its_settings() {
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
    let before = w.json(&["integrations", "get", "azure-prod"]);
    let mut p = spawn_command(
        terminal_command(&w, &["integrations", "connect", "azure-prod"]),
        Some(20_000),
    )
    .unwrap();
    p.exp_string("these questions update it").unwrap();
    answer(&mut p, "Name", "\r");
    answer(&mut p, "Azure resource name", "\r"); // default: acme
    answer(&mut p, "Azure authentication mode", "\r"); // default: the current one
    answer(&mut p, "Keep the current deployments (gpt4o", "y");
    answer(&mut p, "Keep the stored key", "y");
    answer(&mut p, "Provision workspaces now?", "n");
    answer(&mut p, "Models", &[&DOWN.repeat(3), "\r"].concat()); // skip
    answer(&mut p, "Apply all of this?", "y");
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("step 1: unchanged"), "{rest}");
    assert_eq!(exit_code(p.process().wait().unwrap()), 0);
    let after = w.json(&["integrations", "get", "azure-prod"]);
    assert_eq!(after["configurations"], before["configurations"]);
    assert_eq!(after["last_updated_at"], before["last_updated_at"]);
}
