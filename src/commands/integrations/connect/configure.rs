//! Step 1 of the wizard: the provider settings a service needs, asked when flags did not
//! give them, with an existing integration's settings as the defaults.

use serde_json::{Map, Value};

use super::summary::describe_deployments;
use crate::commands::integrations::config_args::Service;
use crate::exit::CliError;
use crate::prompt::Prompter;
use crate::types::AzureDeployment;

/// The wizard's configuration prompts: what flags gave is not asked, and the existing
/// integration's settings are the defaults.
struct Asker<'a> {
    p: &'a dyn Prompter,
    current: &'a Map<String, Value>,
}

impl Asker<'_> {
    fn text_setting(
        &self,
        config: &mut Map<String, Value>,
        field: &str,
        what: &str,
        flag: &str,
        default: Option<&str>,
    ) -> anyhow::Result<()> {
        if !config.contains_key(field) {
            let current = self.current.get(field).and_then(Value::as_str);
            let v = self.p.text(what, flag, current.or(default))?;
            config.insert(field.to_owned(), Value::String(v));
        }
        Ok(())
    }

    fn choice_setting(
        &self,
        config: &mut Map<String, Value>,
        field: &str,
        what: &str,
        flag: &str,
        options: &[&str],
    ) -> anyhow::Result<String> {
        if let Some(v) = config.get(field).and_then(Value::as_str) {
            return Ok(v.to_owned());
        }
        let current = self.current.get(field).and_then(Value::as_str);
        let default = options
            .iter()
            .position(|o| Some(*o) == current)
            .unwrap_or(0);
        let items: Vec<String> = options.iter().map(|s| (*s).to_owned()).collect();
        let chosen = options[self.p.select(what, flag, &items, default)?].to_owned();
        config.insert(field.to_owned(), Value::String(chosen.clone()));
        Ok(chosen)
    }

    /// Whether a secret setting is stored already (read back as `masked_<field>`).
    fn stored(&self, field: &str) -> bool {
        self.current.contains_key(&format!("masked_{field}"))
    }
}

/// Asks for the settings a service requires that flags did not give.
pub fn ask_configuration(
    p: &dyn Prompter,
    service: Service,
    config: &mut Map<String, Value>,
    current: &Map<String, Value>,
) -> anyhow::Result<()> {
    let a = Asker { p, current };
    match service {
        Service::AzureOpenai => {
            a.text_setting(
                config,
                "azure_resource_name",
                "Azure resource name",
                "--azure-resource-name",
                None,
            )?;
            let mode = a.choice_setting(
                config,
                "azure_auth_mode",
                "Azure authentication mode",
                "--azure-auth-mode",
                &["default", "entra", "entraFederated", "managed", "workload"],
            )?;
            match mode.as_str() {
                "entra" | "entraFederated" => {
                    a.text_setting(
                        config,
                        "azure_entra_tenant_id",
                        "Entra tenant id",
                        "--azure-entra-tenant-id",
                        None,
                    )?;
                    a.text_setting(
                        config,
                        "azure_entra_client_id",
                        "Entra client id",
                        "--azure-entra-client-id",
                        None,
                    )?;
                }
                "workload" => {
                    a.text_setting(
                        config,
                        "azure_workload_tenant_id",
                        "workload tenant id",
                        "--azure-workload-tenant-id",
                        None,
                    )?;
                    a.text_setting(
                        config,
                        "azure_workload_client_id",
                        "workload client id",
                        "--azure-workload-client-id",
                        None,
                    )?;
                }
                _ => {}
            }
            let keep = !config.contains_key("azure_deployment_config")
                && current.contains_key("azure_deployment_config")
                && p.confirm(
                    &format!(
                        "Keep the current deployments ({})?",
                        describe_deployments(&current["azure_deployment_config"])
                    ),
                    true,
                )?;
            if !keep && !config.contains_key("azure_deployment_config") {
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
                    crate::commands::integrations::config_args::deployments_json(&deployments),
                );
            }
        }
        Service::Bedrock => {
            let kind = a.choice_setting(
                config,
                "aws_auth_type",
                "AWS authentication",
                "--aws-auth-type",
                &["accessKey", "assumedRole", "apiKey"],
            )?;
            a.text_setting(
                config,
                "aws_region",
                "AWS region",
                "--aws-region",
                Some("us-east-1"),
            )?;
            match kind.as_str() {
                "accessKey"
                    if !config.contains_key("aws_access_key_id")
                        && !a.stored("aws_access_key_id") =>
                {
                    let id = p.secret(
                        "AWS access key id",
                        "--aws-access-key-id-env VAR or --aws-access-key-id-file PATH",
                    )?;
                    config.insert("aws_access_key_id".into(), Value::String(id));
                }
                "assumedRole" => a.text_setting(
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
            let kind = a.choice_setting(
                config,
                "vertex_auth_type",
                "Vertex AI authentication",
                "--vertex-auth-type",
                &["serviceAccount", "basic"],
            )?;
            a.text_setting(
                config,
                "vertex_region",
                "Vertex AI region",
                "--vertex-region",
                Some("us-central1"),
            )?;
            if kind == "basic" {
                a.text_setting(
                    config,
                    "vertex_project_id",
                    "Google Cloud project id",
                    "--vertex-project-id",
                    None,
                )?;
            } else if !config.contains_key("vertex_service_account_json")
                && !a.stored("vertex_service_account_json")
            {
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
            if !config.contains_key("custom_host") {
                let url = p.parsed(
                    "base URL of the service (e.g. http://10.0.0.5:8000/v1)",
                    "--custom-host",
                    current.get("custom_host").and_then(Value::as_str),
                    crate::types::parse_http_url,
                )?;
                config.insert("custom_host".into(), Value::String(url));
            }
        }
        Service::Openai
        | Service::Anthropic
        | Service::Google
        | Service::MistralAi
        | Service::Groq => {}
    }
    Ok(())
}
