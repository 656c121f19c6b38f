//! `catalog integrations connect SLUG`: the first step of the connect wizard (service,
//! credentials, provider configuration, name, scope), by prompts or entirely by flags.

use clap::Args;
use serde_json::{Map, Value};

use super::config_args::{needs_secret, secret_field, ConfigArgs, Service};
use crate::api::integration::CreateIntegration;
use crate::commands::Ctx;
use crate::crypto::mask;
use crate::exit::{hint_on, CliError, ErrorKind};
use crate::prompt::{missing, Prompter};
use crate::secret_input::KeyArgs;
use crate::types::{AzureDeployment, Slug};

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Slug for the new integration (immutable; developers call `@SLUG/model`)
    pub slug: Slug,

    /// Provider service
    #[arg(long, value_enum)]
    pub service: Option<Service>,

    /// Display name (default: the slug)
    #[arg(long)]
    pub name: Option<String>,

    /// Description
    #[arg(long)]
    pub description: Option<String>,

    #[command(flatten)]
    pub key: KeyArgs,

    #[command(flatten)]
    pub config: ConfigArgs,
}

pub fn run(ctx: &Ctx, args: ConnectArgs) -> anyhow::Result<()> {
    let prompter = ctx.prompter();
    let settings = &ctx.settings;
    let wizard = args.service.is_none() && prompter.can();
    let service = match args.service {
        Some(s) => s,
        None => {
            let names: Vec<String> = Service::all().iter().map(|s| s.id().to_owned()).collect();
            Service::all()[prompter.select("service", "--service", &names, 0)?]
        }
    };
    let name = match args.name {
        Some(n) => n,
        None if wizard => prompter.text("name", "--name", Some(&args.slug.0))?,
        None => args.slug.0.clone(),
    };
    let mut config = args.config.collect(settings)?;
    if wizard {
        ask_configuration(&prompter, service, &mut config)?;
    }
    let mut key = None;
    if needs_secret(service.id(), &config) {
        let secret = match args.key.read(settings)? {
            Some(s) => s,
            None if prompter.can() => prompter.secret(
                secret_label(service.id(), &config),
                "--key-env VAR, --key-stdin or --key-file PATH",
            )?,
            None => {
                return Err(missing(
                    secret_label(service.id(), &config),
                    "--key-env VAR`, `--key-stdin` or `--key-file PATH",
                ))
            }
        };
        match secret_field(service.id(), &config) {
            Some(field) => {
                config.insert(field.to_owned(), Value::String(secret));
            }
            None => key = Some(secret),
        }
    } else if args.key.given() {
        return Err(CliError::usage(format!(
            "`{}` with this configuration takes no provider key",
            service.id()
        ))
        .into());
    }
    let client = ctx.client()?;
    let workspace = match ctx.workspace()? {
        Some(ws) => Some(ws),
        None if wizard => {
            let workspaces = client.list_workspaces(None)?;
            let mut choices = vec!["organisation (provision it to workspaces later)".to_owned()];
            choices.extend(
                workspaces
                    .iter()
                    .map(|w| format!("workspace {} ({})", w.name, w.slug)),
            );
            let i = prompter.select("scope", "--workspace", &choices, 0)?;
            (i > 0).then(|| workspaces[i - 1].clone())
        }
        None => None,
    };
    let body = CreateIntegration {
        name,
        ai_provider_id: service.id().to_owned(),
        slug: Some(args.slug.0.clone()),
        key,
        description: args.description,
        workspace_id: workspace.as_ref().map(|w| w.id.clone()),
        configurations: (!config.is_empty()).then_some(config),
        ..Default::default()
    };
    if wizard {
        show_summary(ctx, &body, workspace.as_ref().map(|w| w.slug.as_str()));
        if !settings.yes && !prompter.confirm("Create this integration?", true)? {
            return Err(
                CliError::new(ErrorKind::Cancelled, "cancelled; nothing was created").into(),
            );
        }
    }
    let created = client.create_integration(&body).map_err(|e| {
        hint_on(
            e,
            ErrorKind::Conflict,
            format!(
                "choose another slug, or change it with `catalog integrations update {}`",
                args.slug
            ),
        )
    })?;
    ctx.printer().status(format!(
        "connected integration `{}` ({})",
        created.slug, created.ai_provider_id
    ));
    ctx.printer().one(&created)
}

fn secret_label(service: &str, config: &Map<String, Value>) -> &'static str {
    match secret_field(service, config) {
        Some("aws_secret_access_key") => "AWS secret access key",
        Some("azure_entra_client_secret") => "Entra client secret",
        _ => "provider API key",
    }
}

fn text_setting(
    p: &Prompter<'_>,
    config: &mut Map<String, Value>,
    field: &str,
    what: &str,
    flag: &str,
    default: Option<&str>,
) -> anyhow::Result<()> {
    if !config.contains_key(field) {
        let v = p.text(what, flag, default)?;
        config.insert(field.to_owned(), Value::String(v));
    }
    Ok(())
}

fn choice_setting(
    p: &Prompter<'_>,
    config: &mut Map<String, Value>,
    field: &str,
    what: &str,
    flag: &str,
    options: &[&str],
) -> anyhow::Result<String> {
    if let Some(v) = config.get(field).and_then(Value::as_str) {
        return Ok(v.to_owned());
    }
    let items: Vec<String> = options.iter().map(|s| (*s).to_owned()).collect();
    let chosen = options[p.select(what, flag, &items, 0)?].to_owned();
    config.insert(field.to_owned(), Value::String(chosen.clone()));
    Ok(chosen)
}

/// Asks for the settings a service requires that flags did not give.
fn ask_configuration(
    p: &Prompter<'_>,
    service: Service,
    config: &mut Map<String, Value>,
) -> anyhow::Result<()> {
    match service {
        Service::AzureOpenai => {
            text_setting(
                p,
                config,
                "azure_resource_name",
                "Azure resource name",
                "--azure-resource-name",
                None,
            )?;
            let mode = choice_setting(
                p,
                config,
                "azure_auth_mode",
                "Azure authentication mode",
                "--azure-auth-mode",
                &["default", "entra", "entraFederated", "managed", "workload"],
            )?;
            match mode.as_str() {
                "entra" | "entraFederated" => {
                    text_setting(
                        p,
                        config,
                        "azure_entra_tenant_id",
                        "Entra tenant id",
                        "--azure-entra-tenant-id",
                        None,
                    )?;
                    text_setting(
                        p,
                        config,
                        "azure_entra_client_id",
                        "Entra client id",
                        "--azure-entra-client-id",
                        None,
                    )?;
                }
                "workload" => {
                    text_setting(
                        p,
                        config,
                        "azure_workload_tenant_id",
                        "workload tenant id",
                        "--azure-workload-tenant-id",
                        None,
                    )?;
                    text_setting(
                        p,
                        config,
                        "azure_workload_client_id",
                        "workload client id",
                        "--azure-workload-client-id",
                        None,
                    )?;
                }
                _ => {}
            }
            if !config.contains_key("azure_deployment_config") {
                let mut deployments = Vec::new();
                loop {
                    let first = deployments.is_empty();
                    let name = p.text("deployment name", "--azure-deployment", None)?;
                    let model = p.text(
                        "model of this deployment (e.g. gpt-4o)",
                        "--azure-deployment",
                        None,
                    )?;
                    let api_version =
                        p.text("API version", "--azure-deployment", Some("2024-10-21"))?;
                    let alias = if first {
                        None
                    } else {
                        Some(p.text(
                            "alias for this deployment",
                            "--azure-deployment",
                            Some(&model),
                        )?)
                    };
                    deployments.push(AzureDeployment {
                        name,
                        model,
                        api_version,
                        alias,
                        is_default: first,
                    });
                    if !p.confirm("Add another deployment?", false)? {
                        break;
                    }
                }
                config.insert(
                    "azure_deployment_config".into(),
                    super::config_args::deployments_json(&deployments),
                );
            }
        }
        Service::Bedrock => {
            let kind = choice_setting(
                p,
                config,
                "aws_auth_type",
                "AWS authentication",
                "--aws-auth-type",
                &["accessKey", "assumedRole", "apiKey"],
            )?;
            text_setting(
                p,
                config,
                "aws_region",
                "AWS region",
                "--aws-region",
                Some("us-east-1"),
            )?;
            match kind.as_str() {
                "accessKey" => text_setting(
                    p,
                    config,
                    "aws_access_key_id",
                    "AWS access key id",
                    "--aws-access-key-id",
                    None,
                )?,
                "assumedRole" => text_setting(
                    p,
                    config,
                    "aws_role_arn",
                    "IAM role ARN",
                    "--aws-role-arn",
                    None,
                )?,
                _ => {}
            }
        }
        Service::VertexAi => {
            let kind = choice_setting(
                p,
                config,
                "vertex_auth_type",
                "Vertex AI authentication",
                "--vertex-auth-type",
                &["serviceAccount", "basic"],
            )?;
            text_setting(
                p,
                config,
                "vertex_region",
                "Vertex AI region",
                "--vertex-region",
                Some("us-central1"),
            )?;
            if kind == "basic" {
                text_setting(
                    p,
                    config,
                    "vertex_project_id",
                    "Google Cloud project id",
                    "--vertex-project-id",
                    None,
                )?;
            } else if !config.contains_key("vertex_service_account_json") {
                let path = p.text(
                    "service account JSON file",
                    "--vertex-service-account-file",
                    None,
                )?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?;
                let json: Value = serde_json::from_str(&text)
                    .map_err(|e| CliError::usage(format!("{path} is not JSON: {e}")))?;
                config.insert("vertex_service_account_json".into(), json);
            }
        }
        Service::Custom => {
            text_setting(
                p,
                config,
                "custom_host",
                "base URL of the service",
                "--custom-host",
                None,
            )?;
        }
        Service::Openai
        | Service::Anthropic
        | Service::Google
        | Service::MistralAi
        | Service::Groq => {}
    }
    Ok(())
}

/// The summary shown before anything is written; secrets appear masked.
fn show_summary(ctx: &Ctx, body: &CreateIntegration, workspace: Option<&str>) {
    let printer = ctx.printer();
    printer.notice("\nAbout to create:");
    printer.notice(format!(
        "  slug      {}",
        body.slug.as_deref().unwrap_or("-")
    ));
    printer.notice(format!("  name      {}", body.name));
    printer.notice(format!("  service   {}", body.ai_provider_id));
    printer.notice(format!(
        "  scope     {}",
        workspace.map_or("organisation".to_owned(), |w| format!("workspace {w}"))
    ));
    if let Some(k) = &body.key {
        printer.notice(format!("  key       {}", mask(k)));
    }
    let secret = secret_field(
        &body.ai_provider_id,
        body.configurations.as_ref().unwrap_or(&Map::new()),
    );
    for (k, v) in body.configurations.iter().flatten() {
        let shown = if Some(k.as_str()) == secret {
            mask(v.as_str().unwrap_or(""))
        } else if k == "vertex_service_account_json" || k == "custom_headers" {
            "(set)".to_owned()
        } else {
            v.to_string()
        };
        printer.notice(format!("  {k} {shown}"));
    }
    printer.notice("");
}
