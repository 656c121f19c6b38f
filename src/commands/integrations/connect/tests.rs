//! The connect wizard through a scripted prompter, against an embedded catalog.

use clap::Parser;

use super::{ask, render, ConnectArgs};
use crate::cli::Cli;
use crate::commands::integrations::IntegrationsCommand;
use crate::commands::testing::{Harness, PROVIDER_KEY};
use crate::commands::workspaces::provision::compute;
use crate::commands::Command;
use crate::exit::kind_of;
use crate::prompt::ScriptedPrompter;

/// The arguments of `catalog integrations connect ...` (`argv` from `catalog` on).
pub fn connect_args(argv: &[&str]) -> ConnectArgs {
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Integrations(IntegrationsCommand::Connect(args)) => *args,
        other => panic!("not a connect command: {other:?}"),
    }
}

/// Runs the questions of `catalog integrations connect ARGS` and renders the summary.
fn plan_and_render(h: &Harness, p: &ScriptedPrompter, args: &[&str]) -> Vec<String> {
    let mut argv = vec!["integrations", "connect"];
    argv.extend(args);
    let (ctx, command) = h.ctx(p, &argv);
    let Command::Integrations(IntegrationsCommand::Connect(args)) = command else {
        unreachable!()
    };
    let connect = ask(&ctx, ctx.prompter(), *args).unwrap();
    let change = connect
        .plan
        .as_ref()
        .map(|plan| compute(plan, &connect.current_access, false).unwrap());
    let lines = render(&connect, change.as_ref());
    p.finish();
    lines
}

/// The last answers of an organisation integration that provisions nothing now.
fn no_steps_then_apply(p: ScriptedPrompter) -> ScriptedPrompter {
    p.confirm("Provision workspaces now?", false)
        .choose("Models", "skip")
        .confirm("Apply all of this?", true)
}

fn exit_code(result: anyhow::Result<()>) -> u8 {
    kind_of(&result.unwrap_err()).exit_code()
}

#[test]
fn the_wizard_asks_service_name_key_scope_and_models() {
    let h = Harness::new();
    h.ok(&["workspaces", "create", "eng"]);
    let p = ScriptedPrompter::new()
        .enter("Service") // openai, the first
        .text("Name", "Team OpenAI")
        .secret("Provider API key", PROVIDER_KEY)
        .choose("Scope", "workspace eng")
        // A workspace integration skips workspace provisioning.
        .enter("Models") // all models
        .confirm("Apply all of this?", true);
    h.run(&p, &["integrations", "connect", "team-openai"])
        .unwrap();
    // Every service of the registry is offered as "id (Name)", openai first.
    assert!(p.log()[0].contains("[*openai (OpenAI), "), "{:?}", p.log());
    let got = h.read(|c| c.get_integration("team-openai"));
    assert_eq!(got.name, "Team OpenAI");
    assert!(got.workspace_id.is_some());
    assert_eq!(got.allow_all_models, Some(true));
    // The workspace's AI provider was made, as step 2 of a workspace integration.
    let ws = got.workspace_id.unwrap();
    assert_eq!(
        h.read(|c| c.get_provider(&ws, "team-openai"))
            .integration_id,
        "team-openai"
    );
}

#[test]
fn the_summary_masks_the_key_and_lists_every_step() {
    let h = Harness::new();
    h.ok(&["workspaces", "create", "eng"]);
    h.ok(&["workspaces", "create", "research"]);
    let p = ScriptedPrompter::new()
        .enter("Service")
        .enter("Name")
        .secret("Provider API key", PROVIDER_KEY)
        .enter("Scope") // organisation
        .confirm("Provision workspaces now?", true)
        .tick("Workspaces", &["eng ("])
        .text("Budget", "1000")
        .enter("Budget type") // cost
        .choose("Reset", "monthly")
        .text("Alert at", "800")
        .text("Rate limit", "100/min")
        .confirm("Also provision workspaces created later?", true)
        .choose("Models", "type a list")
        .text("Models to enable", "gpt-4o, gpt-4o-mini");
    let lines = plan_and_render(&h, &p, &["openai-prod"]).join("\n");
    assert!(lines.contains("About to create"), "{lines}");
    assert!(!lines.contains(PROVIDER_KEY), "the key is shown: {lines}");
    assert!(lines.contains("+ add     ws-eng-"), "{lines}");
    assert!(lines.contains("1000"), "{lines}");
    assert!(!lines.contains("ws-research-"), "{lines}");
    assert!(lines.contains("workspaces created later"), "{lines}");
    assert!(
        lines.contains("Models: only gpt-4o, gpt-4o-mini enabled"),
        "{lines}"
    );
    // Nothing was written by the questions.
    assert!(h.read(|c| c.list_integrations(None, None)).is_empty());
}

#[test]
fn all_three_steps_are_applied_after_yes() {
    let h = Harness::new();
    h.ok(&["workspaces", "create", "eng"]);
    let p = ScriptedPrompter::new()
        .enter("Service")
        .enter("Name")
        .secret("Provider API key", PROVIDER_KEY)
        .enter("Scope")
        .enter("Provision workspaces now?") // yes by default
        .tick("Workspaces", &["eng ("])
        .text("Budget", "1000")
        .enter("Budget type")
        .choose("Reset", "monthly")
        .text("Alert at", "800")
        .text("Rate limit", "100/min")
        .confirm("Also provision workspaces created later?", true)
        .choose("Models", "choose from the")
        .text("Search models", "gpt-4o")
        .tick("Models to enable", &["gpt-4o"])
        .confirm("Apply all of this?", true);
    h.run(&p, &["integrations", "connect", "openai-prod"])
        .unwrap();
    let access = h.read(|c| c.workspace_access("openai-prod"));
    assert_eq!(access.workspaces.len(), 1);
    let budget = &access.workspaces[0].access.usage_limits.as_ref().unwrap()[0];
    assert_eq!(budget.credit_limit, 1000.0);
    assert_eq!(budget.alert_threshold, Some(800.0));
    assert!(access.global_workspace_access.unwrap().enabled);
    let models = h.read(|c| c.models("openai-prod"));
    assert_eq!(models.allow_all_models, Some(false));
    let enabled: Vec<&str> = models
        .models
        .iter()
        .filter(|m| m.enabled == Some(true))
        .map(|m| m.slug.as_str())
        .collect();
    assert_eq!(enabled, ["gpt-4o"]);
}

#[test]
fn no_at_the_confirmation_or_ctrl_c_writes_nothing_and_exits_130() {
    let h = Harness::new();
    let p = ScriptedPrompter::new()
        .enter("Service")
        .enter("Name")
        .secret("Provider API key", PROVIDER_KEY)
        .enter("Scope")
        .confirm("Provision workspaces now?", false)
        .enter("Models")
        .confirm("Apply all of this?", false);
    let result = h.run(&p, &["integrations", "connect", "declined"]);
    assert!(format!("{:#}", result.as_ref().unwrap_err()).contains("nothing was created"));
    assert_eq!(exit_code(result), 130);

    let p = ScriptedPrompter::new()
        .enter("Service")
        .enter("Name")
        .interrupt("Provider API key");
    assert_eq!(
        exit_code(h.run(&p, &["integrations", "connect", "declined"])),
        130
    );
    assert!(h.read(|c| c.list_integrations(None, None)).is_empty());
}

#[test]
fn azure_asks_for_its_configuration() {
    let h = Harness::new();
    let p = ScriptedPrompter::new()
        .choose("Service", "azure-openai")
        .enter("Name") // the slug
        .text("Azure resource name", "acme")
        .choose("Azure authentication mode", "entra")
        .text("Deployment name", "gpt4o")
        .text("Model of this deployment", "gpt-4o")
        .enter("API version")
        .confirm("Add another deployment?", true)
        .text("Deployment name", "mini")
        .text("Model of this deployment", "gpt-4o-mini")
        .text("API version", "2024-06-01")
        .enter("Alias for this deployment") // the model
        .enter("Add another deployment?") // no
        // The settings of the chosen authentication mode come after the service's own.
        .text("Entra tenant id", "tenant-1")
        .text("Entra client id", "client-1")
        .secret("Entra client secret", "entra-secret-1")
        .enter("Scope");
    let p = no_steps_then_apply(p);
    h.run(&p, &["integrations", "connect", "azure-prod"])
        .unwrap();
    let got = h.read(|c| c.get_integration("azure-prod"));
    let config = got.configurations.unwrap();
    assert_eq!(config["azure_resource_name"], "acme");
    assert_eq!(config["azure_entra_tenant_id"], "tenant-1");
    let deployments = config["azure_deployment_config"].as_array().unwrap();
    assert_eq!(deployments[0]["azure_api_version"], "2024-10-21");
    assert_eq!(deployments[0]["is_default"], true);
    assert_eq!(deployments[1]["alias"], "gpt-4o-mini");
    // The secret is stored, never read back.
    assert_ne!(
        config.get("azure_entra_client_secret"),
        Some(&serde_json::json!("entra-secret-1"))
    );
}

#[test]
fn the_custom_service_asks_again_for_a_bad_base_url() {
    let h = Harness::new();
    let p = ScriptedPrompter::new()
        .choose("Service", "custom")
        .enter("Name")
        .refused("Base URL of the service", "10.0.0.5:8000", "invalid URL")
        .text("Base URL of the service", "http://10.0.0.5:8000")
        .confirm("Does the service need an API key?", false)
        .enter("Scope");
    let p = no_steps_then_apply(p);
    h.run(&p, &["integrations", "connect", "local-llm"])
        .unwrap();
    let got = h.read(|c| c.get_integration("local-llm"));
    assert_eq!(
        got.configurations.unwrap()["custom_host"],
        "http://10.0.0.5:8000"
    );
}

#[test]
fn a_rerun_starts_from_the_current_state_and_defaults_to_no_on_revoke() {
    let h = Harness::new();
    h.ok(&["workspaces", "create", "eng"]);
    h.connect_openai(&["--provision", "eng", "--budget", "1000", "--name", "Prod"]);
    let p = ScriptedPrompter::new()
        // The service is the existing one's: no service prompt, and the key may stay.
        .enter("Name")
        .enter("Keep the stored key")
        .enter("Provision workspaces now?")
        .tick("Workspaces", &[]) // untick eng: a revoke
        .enter("Budget (empty for none)")
        .enter("Rate limit")
        .enter("Also provision workspaces created later?")
        .choose("Models", "type a list")
        .refused(
            "Models to enable",
            "gpt-4o-mnii",
            "is not a known `openai` model",
        )
        .text("Models to enable", "gpt-4o-mini")
        .enter("Apply all of this?");
    let result = h.run(&p, &["integrations", "connect", "openai-prod"]);
    assert_eq!(exit_code(result), 130);
    let log = p.log().join("\n");
    assert!(log.contains("these questions update it"), "{log}");
    assert!(log.contains("`Name` [default Some(\"Prod\")]"), "{log}");
    assert!(log.contains("*eng ("), "eng is pre-ticked: {log}");
    assert!(log.contains("`Apply all of this?` [y/N]"), "{log}");
    let access = h.read(|c| c.workspace_access("openai-prod"));
    assert!(access.workspaces[0].access.enabled);
}

#[test]
fn without_a_terminal_missing_values_name_their_flags() {
    let h = Harness::new();
    let nobody = ScriptedPrompter::not_a_terminal;
    let e = h
        .run(&nobody(), &["integrations", "connect", "x"])
        .unwrap_err();
    assert_eq!(kind_of(&e).exit_code(), 2);
    assert!(e.to_string().contains("`--service`"), "{e}");
    let e = h
        .run(
            &nobody(),
            &["integrations", "connect", "x", "--service", "openai"],
        )
        .unwrap_err();
    assert!(e.to_string().contains("--key-env VAR"), "{e}");
    let e = h
        .run(
            &nobody(),
            &[
                "integrations",
                "connect",
                "x",
                "--service",
                "azure-openai",
                "--key-env",
                "PROVIDER_KEY",
            ],
        )
        .unwrap_err();
    assert!(e.to_string().contains("--azure-resource-name"), "{e}");
    // Flags alone: no question at all.
    h.ok(&[
        "integrations",
        "connect",
        "x",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
    ]);
}

#[test]
fn with_service_given_only_what_is_missing_is_asked() {
    let h = Harness::new();
    let p = ScriptedPrompter::new().secret("Provider API key", PROVIDER_KEY);
    h.run(
        &p,
        &[
            "integrations",
            "connect",
            "openai-prod",
            "--service",
            "openai",
        ],
    )
    .unwrap();
    assert_eq!(
        h.read(|c| c.get_integration("openai-prod")).name,
        "openai-prod"
    );
}

#[test]
fn on_an_existing_integration_every_answer_defaults_to_its_settings() {
    let h = Harness::new();
    h.ok(&[
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
    let before = h.read(|c| c.get_integration("azure-prod"));
    let p = ScriptedPrompter::new()
        .enter("Name")
        .enter("Azure resource name")
        .enter("Azure authentication mode")
        .enter("Keep the current deployments (gpt4o → gpt-4o")
        .enter("Keep the stored key");
    let p = no_steps_then_apply(p);
    h.run(&p, &["integrations", "connect", "azure-prod"])
        .unwrap();
    let log = p.log().join("\n");
    assert!(log.contains("[default Some(\"acme\")]"), "{log}");
    assert!(log.contains("[*default, entra"), "{log}");
    let after = h.read(|c| c.get_integration("azure-prod"));
    assert_eq!(after.configurations, before.configurations);
    assert_eq!(after.last_updated_at, before.last_updated_at);
}

#[test]
fn the_registry_says_which_secret_is_asked_and_by_what_name() {
    let h = Harness::new();
    // Bedrock with access keys: its own settings by kind (a choice, a text with the
    // registry's suggestion, a hidden setting), then the provider secret under the
    // registry's label; it is a setting, not the integration's key.
    let p = ScriptedPrompter::new()
        .choose("Service", "bedrock")
        .enter("Name")
        .choose("AWS authentication", "accessKey")
        .enter("AWS region")
        .secret("AWS access key id", "AKIAEXAMPLE")
        .secret("AWS secret access key", "aws-secret-1")
        .enter("Scope");
    let p = no_steps_then_apply(p);
    h.run(&p, &["integrations", "connect", "bedrock-prod"])
        .unwrap();
    let log = p.log().join("\n");
    assert!(log.contains("[default Some(\"us-east-1\")]"), "{log}");
    assert!(!log.contains("Provider API key"), "{log}");
    let got = h.read(|c| c.get_integration("bedrock-prod"));
    assert!(got.masked_key.is_none(), "{got:?}");
    let config = got.configurations.unwrap();
    assert_eq!(config["aws_region"], "us-east-1");
    assert!(!serde_json::to_string(&config)
        .unwrap()
        .contains("aws-secret-1"));

    // A mode with no secret refuses a key, before anything is written.
    let e = h
        .run(
            &ScriptedPrompter::not_a_terminal(),
            &[
                "integrations",
                "connect",
                "bedrock-role",
                "--service",
                "bedrock",
                "--aws-auth-type",
                "assumedRole",
                "--aws-region",
                "us-east-1",
                "--aws-role-arn",
                "arn:aws:iam::123456789012:role/catalog",
                "--key-env",
                "PROVIDER_KEY",
                "--skip-models",
            ],
        )
        .unwrap_err();
    assert_eq!(kind_of(&e).exit_code(), 2);
    assert!(e.to_string().contains("takes no provider key"), "{e}");
}

#[test]
fn an_optional_key_goes_in_the_key_header_and_only_custom_takes_one() {
    let h = Harness::new();
    h.ok(&[
        "integrations",
        "connect",
        "local-llm",
        "--service",
        "custom",
        "--custom-host",
        "http://10.0.0.5:8000",
        "--key-env",
        "PROVIDER_KEY",
        "--key-header",
        "x-api-key",
        "--skip-provisioning",
        "--skip-models",
    ]);
    let got = h.read(|c| c.get_integration("local-llm"));
    assert!(got.masked_key.is_none(), "{got:?}");
    // Read back masked, as every secret setting is.
    let headers = &got.configurations.unwrap()["masked_custom_headers"];
    assert!(headers["x-api-key"].is_string(), "{headers}");
    assert!(!headers.to_string().contains(PROVIDER_KEY), "{headers}");
    // A header with no key to send in it, and a header for another service, are refused.
    let custom: &[&str] = &["--service", "custom", "--custom-host", "http://h:1"];
    let openai: &[&str] = &["--service", "openai", "--key-env", "PROVIDER_KEY"];
    for (args, why) in [
        (custom, "the key to send in `--key-header`"),
        (openai, "`--key-header` is for `--service custom`"),
    ] {
        let mut argv = vec!["integrations", "connect", "other", "--key-header", "x"];
        argv.extend(args);
        let e = h
            .run(&ScriptedPrompter::not_a_terminal(), &argv)
            .unwrap_err();
        assert_eq!(kind_of(&e).exit_code(), 2, "{e}");
        assert!(e.to_string().contains(why), "{e}");
    }
    assert_eq!(h.read(|c| c.list_integrations(None, None)).len(), 1);
}
