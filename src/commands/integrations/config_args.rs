//! Provider configuration flags shared by `connect` and `update`.

use std::path::PathBuf;

use std::ffi::OsStr;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::error::{ContextKind, ContextValue};
use clap::Args;
use serde_json::{json, Map, Value};

use crate::exit::{fail, ErrorKind};
use crate::secret_input::{from_env, from_file, HeaderArgs};
use crate::services::{self, Kind, Secret, Service};
use crate::settings::Settings;
use crate::types::{AzureDeployment, KeyValue};

/// `--service`: an id from the service registry. An unknown id is refused at parse time
/// with the valid ids and the closest one, as the server refuses it.
#[derive(Debug, Clone, Copy)]
pub struct ServiceParser;

impl TypedValueParser for ServiceParser {
    type Value = &'static Service;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let text = value.to_string_lossy();
        services::lookup(&text).map_err(|unknown| {
            let mut err = clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd);
            let arg = arg.map_or_else(|| "--service".to_owned(), ToString::to_string);
            err.insert(ContextKind::InvalidArg, ContextValue::String(arg));
            err.insert(
                ContextKind::InvalidValue,
                ContextValue::String(text.into_owned()),
            );
            err.insert(
                ContextKind::ValidValue,
                ContextValue::Strings(services::ids().map(str::to_owned).collect()),
            );
            if let Some(close) = unknown.suggestion() {
                err.insert(
                    ContextKind::SuggestedValue,
                    ContextValue::String(close.to_owned()),
                );
            }
            err
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(services::ids().map(PossibleValue::new)))
    }
}

/// The values the registry allows for the enum-like setting `field`, as a clap parser.
fn choices(field: &str) -> PossibleValuesParser {
    match services::field_anywhere(field).map(|f| f.kind) {
        Some(Kind::Enum(values)) => PossibleValuesParser::new(values.iter().copied()),
        _ => panic!("`{field}` is not an enum-like setting of the service registry"),
    }
}

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Provider configuration")]
pub struct ConfigArgs {
    /// OpenAI organization id
    #[arg(long)]
    pub openai_organization: Option<String>,
    /// OpenAI project id
    #[arg(long)]
    pub openai_project: Option<String>,
    /// Azure OpenAI resource name
    #[arg(long)]
    pub azure_resource_name: Option<String>,
    /// Azure authentication mode
    #[arg(long, value_parser = choices("azure_auth_mode"))]
    pub azure_auth_mode: Option<String>,
    /// Azure deployment: name=NAME,model=MODEL,api-version=VERSION[,alias=ALIAS][,default] (repeatable)
    #[arg(long = "azure-deployment", value_name = "SPEC")]
    pub azure_deployments: Vec<AzureDeployment>,
    /// Entra tenant id (azure auth mode entra/entraFederated)
    #[arg(long)]
    pub azure_entra_tenant_id: Option<String>,
    /// Entra client id (azure auth mode entra/entraFederated); the client secret is the key
    #[arg(long)]
    pub azure_entra_client_id: Option<String>,
    /// Managed identity client id (azure auth mode managed)
    #[arg(long)]
    pub azure_managed_client_id: Option<String>,
    /// Workload identity tenant id (azure auth mode workload)
    #[arg(long)]
    pub azure_workload_tenant_id: Option<String>,
    /// Workload identity client id (azure auth mode workload)
    #[arg(long)]
    pub azure_workload_client_id: Option<String>,
    /// Bedrock authentication type; with accessKey the secret access key is the key
    #[arg(long, value_parser = choices("aws_auth_type"))]
    pub aws_auth_type: Option<String>,
    /// AWS region, e.g. us-east-1
    #[arg(long)]
    pub aws_region: Option<String>,
    /// AWS access key id (auth type accessKey), read from this environment variable
    #[arg(long, value_name = "VAR", conflicts_with = "aws_access_key_id_file")]
    pub aws_access_key_id_env: Option<String>,
    /// AWS access key id (auth type accessKey), read from this file
    #[arg(long, value_name = "PATH")]
    pub aws_access_key_id_file: Option<PathBuf>,
    /// IAM role ARN to assume (auth type assumedRole)
    #[arg(long)]
    pub aws_role_arn: Option<String>,
    /// External id for the assumed role
    #[arg(long)]
    pub aws_external_id: Option<String>,
    /// Vertex AI authentication type
    #[arg(long, value_parser = choices("vertex_auth_type"))]
    pub vertex_auth_type: Option<String>,
    /// Vertex AI region, e.g. us-central1
    #[arg(long)]
    pub vertex_region: Option<String>,
    /// Google Cloud project id (auth type basic or workload)
    #[arg(long)]
    pub vertex_project_id: Option<String>,
    /// Service account JSON file (auth type serviceAccount)
    #[arg(long, value_name = "PATH")]
    pub vertex_service_account_file: Option<PathBuf>,
    /// Base URL of a custom or self-hosted service (http or https)
    #[arg(long, value_name = "URL", value_parser = crate::types::parse_http_url)]
    pub custom_host: Option<String>,
    #[command(flatten)]
    pub headers: HeaderArgs,
    /// Custom service: send the key (--key-env/--key-stdin/--key-file) in this header
    /// instead of `Authorization: Bearer`
    #[arg(long, value_name = "NAME")]
    pub key_header: Option<String>,
    /// Any other configuration setting, KEY=VALUE (repeatable; not for secrets)
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<KeyValue>,
    /// A secret configuration setting read from an environment variable, KEY=VAR (repeatable)
    #[arg(long = "config-env", value_name = "KEY=VAR")]
    pub config_env: Vec<KeyValue>,
}

impl ConfigArgs {
    /// The settings whose values came from the environment or files: shown masked even
    /// where the service registry does not call them secret.
    pub fn secret_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.config_env.iter().map(|kv| kv.key.clone()).collect();
        keys.extend(self.headers.secret_names());
        keys.extend(self.key_header.iter().cloned());
        keys
    }
}

impl ConfigArgs {
    /// The configuration given by flags, as the API's `configurations` object. A secret
    /// setting of `service` (any service's when it is not known) is refused in `--config`.
    pub fn collect(
        &self,
        settings: &Settings,
        service: Option<&Service>,
    ) -> anyhow::Result<Map<String, Value>> {
        let mut out = Map::new();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                out.insert(k.to_owned(), Value::String(v.to_owned()));
            }
        };
        put("openai_organization", self.openai_organization.as_deref());
        put("openai_project", self.openai_project.as_deref());
        put("azure_resource_name", self.azure_resource_name.as_deref());
        put("azure_auth_mode", self.azure_auth_mode.as_deref());
        put(
            "azure_entra_tenant_id",
            self.azure_entra_tenant_id.as_deref(),
        );
        put(
            "azure_entra_client_id",
            self.azure_entra_client_id.as_deref(),
        );
        put(
            "azure_managed_client_id",
            self.azure_managed_client_id.as_deref(),
        );
        put(
            "azure_workload_tenant_id",
            self.azure_workload_tenant_id.as_deref(),
        );
        put(
            "azure_workload_client_id",
            self.azure_workload_client_id.as_deref(),
        );
        put("aws_auth_type", self.aws_auth_type.as_deref());
        put("aws_region", self.aws_region.as_deref());
        if let Some(var) = &self.aws_access_key_id_env {
            let id = from_env(settings, var, "--aws-access-key-id-env")?;
            put("aws_access_key_id", Some(&id));
        }
        if let Some(path) = &self.aws_access_key_id_file {
            let id = from_file(path, "--aws-access-key-id-file")?;
            put("aws_access_key_id", Some(&id));
        }
        put("aws_role_arn", self.aws_role_arn.as_deref());
        put("aws_external_id", self.aws_external_id.as_deref());
        put("vertex_auth_type", self.vertex_auth_type.as_deref());
        put("vertex_region", self.vertex_region.as_deref());
        put("vertex_project_id", self.vertex_project_id.as_deref());
        put("custom_host", self.custom_host.as_deref());
        if !self.azure_deployments.is_empty() {
            out.insert(
                "azure_deployment_config".into(),
                deployments_json(&self.azure_deployments),
            );
        }
        let headers = self.headers.collect(settings)?;
        if !headers.is_empty() {
            out.insert("custom_headers".into(), Value::Object(headers));
        }
        if let Some(path) = &self.vertex_service_account_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                fail(
                    ErrorKind::Usage,
                    format!(
                        "cannot read `--vertex-service-account-file` {}: {e}",
                        path.display()
                    ),
                    None,
                )
            })?;
            let json: Value = serde_json::from_str(&text).map_err(|e| {
                fail(
                    ErrorKind::Usage,
                    format!(
                        "`--vertex-service-account-file` {} is not JSON: {e}",
                        path.display()
                    ),
                    None,
                )
            })?;
            out.insert("vertex_service_account_json".into(), json);
        }
        for kv in &self.config {
            if services::is_secret(service, &kv.key) {
                return Err(fail(
                    ErrorKind::Usage,
                    format!(
                        "`{}` is a secret and cannot be passed with `--config`",
                        kv.key
                    ),
                    Some(&format!(
                        "use `--config-env {}=VAR` or `--key-env VAR`",
                        kv.key
                    )),
                ));
            }
            out.insert(kv.key.clone(), parse_scalar(&kv.value));
        }
        for kv in &self.config_env {
            let value = settings.env.named(&kv.value).ok_or_else(|| {
                fail(
                    ErrorKind::Usage,
                    format!(
                        "the environment variable `{}` given to `--config-env {}` is not set",
                        kv.value, kv.key
                    ),
                    None,
                )
            })?;
            out.insert(kv.key.clone(), Value::String(value.to_owned()));
        }
        Ok(out)
    }
}

pub fn deployments_json(items: &[AzureDeployment]) -> Value {
    // One deployment is the default: the one marked, else the first.
    let none_marked = !items.iter().any(|d| d.is_default);
    let only_one = items.len() == 1;
    Value::Array(
        items
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let is_default = d.is_default || only_one || (none_marked && i == 0);
                let mut v = json!({
                    "azure_deployment_name": d.name,
                    "azure_model_slug": d.model,
                    "azure_api_version": d.api_version,
                    "is_default": is_default,
                });
                // A deployment that is not the default is called by its alias: the
                // model, unless one was given.
                if let Some(alias) = d
                    .alias
                    .clone()
                    .or_else(|| (!is_default).then(|| d.model.clone()))
                {
                    v["alias"] = Value::String(alias);
                }
                v
            })
            .collect(),
    )
}

/// The name callers use for a deployment: its alias, else its model.
fn deployment_key(d: &AzureDeployment) -> &str {
    d.alias.as_deref().unwrap_or(&d.model)
}

/// Reads stored `azure_deployment_config` entries back.
fn deployments_from_json(value: Option<&Value>) -> Vec<AzureDeployment> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|v| AzureDeployment {
                    name: text(v, "azure_deployment_name"),
                    model: text(v, "azure_model_slug"),
                    api_version: text(v, "azure_api_version"),
                    alias: v.get("alias").and_then(Value::as_str).map(str::to_owned),
                    is_default: v.get("is_default").and_then(Value::as_bool) == Some(true),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The deployment list after adding or replacing `add` (by alias, else model) and
/// removing `remove` (alias, model or deployment name) from `current`.
pub fn merge_deployments(
    current: Option<&Value>,
    add: &[AzureDeployment],
    remove: &[String],
) -> Result<Value, crate::exit::CliError> {
    let mut list = deployments_from_json(current);
    for r in remove {
        let at = list
            .iter()
            .position(|d| deployment_key(d) == r || d.name == *r)
            .ok_or_else(|| {
                let known: Vec<&str> = list.iter().map(deployment_key).collect();
                crate::exit::CliError::new(
                    ErrorKind::NotFound,
                    format!("`--remove-azure-deployment {r}`: no deployment has that alias"),
                )
                .with_hint(format!("the deployments are: {}", known.join(", ")))
            })?;
        list.remove(at);
    }
    for d in add {
        if d.is_default {
            list.iter_mut().for_each(|x| x.is_default = false);
        }
        match list
            .iter_mut()
            .find(|x| deployment_key(x) == deployment_key(d))
        {
            Some(x) => *x = d.clone(),
            None => list.push(d.clone()),
        }
    }
    if list.is_empty() {
        return Err(crate::exit::CliError::usage(
            "an Azure integration needs at least one deployment; add one before removing the last",
        ));
    }
    if !list.iter().any(|d| d.is_default) {
        list[0].is_default = true;
    }
    Ok(deployments_json(&list))
}

/// `true`/`false` and numbers become JSON values; everything else stays a string.
fn parse_scalar(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => text
            .parse::<serde_json::Number>()
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(text.to_owned())),
    }
}

/// Where the provider secret of an integration of `service` goes with this
/// configuration. A service the registry does not know (Portkey knows more) takes `key`.
pub fn secret_of(service: &str, config: &Map<String, Value>) -> Secret {
    services::find(service).map_or(Secret::Key, |s| s.secret(config))
}

/// The flag that gives the setting `field`: the one the client names in errors, else the
/// provider flag of that name, else `--config`/`--config-env`.
pub fn flag_for(field: &str) -> String {
    if let Some(flag) = crate::client::flags::flag_of(field) {
        return flag.to_owned();
    }
    let cmd = ConfigArgs::augment_args(clap::Command::new("config"));
    let long = cmd
        .get_arguments()
        .find(|a| a.get_id() == field)
        .and_then(|a| a.get_long().map(str::to_owned));
    match long {
        Some(long) => format!("--{long}"),
        None if services::is_secret(None, field) => format!("--config-env {field}=VAR"),
        None => format!("--config {field}=VALUE"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_flag_and_enum_flags_take_the_registry_values() {
        assert_eq!(flag_for("azure_resource_name"), "--azure-resource-name");
        assert_eq!(
            flag_for("aws_secret_access_key"),
            "--config-env aws_secret_access_key=VAR"
        );
        assert_eq!(
            flag_for("azure_managed_client_id"),
            "--azure-managed-client-id"
        );
        let cmd = ConfigArgs::augment_args(clap::Command::new("config"));
        for service in services::ALL {
            for field in service.all_fields() {
                let Kind::Enum(allowed) = field.kind else {
                    continue;
                };
                let arg = cmd
                    .get_arguments()
                    .find(|a| a.get_id() == field.name)
                    .unwrap_or_else(|| panic!("no flag for {}", field.name));
                let values: Vec<String> = arg
                    .get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_owned())
                    .collect();
                assert_eq!(values, allowed.to_vec(), "{}", field.name);
            }
        }
    }

    #[test]
    fn the_first_deployment_is_the_default_when_none_is_marked() {
        let d = |spec: &str| spec.parse::<AzureDeployment>().unwrap();
        let json = deployments_json(&[
            d("name=a,model=gpt-4o,api-version=v"),
            d("name=b,model=gpt-4o-mini,api-version=v"),
        ]);
        assert_eq!(json[0]["is_default"], true);
        assert!(json[0].get("alias").is_none());
        assert_eq!(json[1]["is_default"], false);
        assert_eq!(json[1]["alias"], "gpt-4o-mini");
        let json = deployments_json(&[
            d("name=a,model=gpt-4o,api-version=v"),
            d("name=b,model=gpt-4o-mini,api-version=v,default"),
        ]);
        assert_eq!(json[0]["is_default"], false);
        assert_eq!(json[1]["is_default"], true);
    }
}
