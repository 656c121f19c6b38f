//! Step 1 of the wizard: the provider settings a service needs (as the service registry
//! says), asked when flags did not give them, with an existing integration's settings as
//! the defaults.

use serde_json::{Map, Value};

use super::summary::describe_deployments;
use crate::commands::integrations::config_args::{deployments_json, flag_for};
use crate::exit::CliError;
use crate::prompt::Prompter;
use crate::services::{Field, Kind, Secret, Service};
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

/// Asks for the settings a service requires that flags did not give: the service's
/// own, then those of the authentication mode chosen among them. The provider secret
/// itself is asked later, with the key.
pub fn ask_configuration(
    p: &dyn Prompter,
    service: &Service,
    config: &mut Map<String, Value>,
    current: &Map<String, Value>,
) -> anyhow::Result<()> {
    let a = Asker { p, current };
    for name in service.requires {
        a.ask(service, config, name)?;
    }
    let by_mode: Vec<&str> = service
        .needs(config)
        .map(|n| n.fields.to_vec())
        .unwrap_or_default();
    for name in by_mode {
        a.ask(service, config, name)?;
    }
    Ok(())
}

impl Asker<'_> {
    /// Asks for the setting `name` as its kind needs, unless flags gave it.
    fn ask(
        &self,
        service: &Service,
        config: &mut Map<String, Value>,
        name: &str,
    ) -> anyhow::Result<()> {
        let Some(field) = service.field(name) else {
            return Ok(());
        };
        let Field {
            label, suggested, ..
        } = *field;
        let flag = flag_for(name);
        match field.kind {
            Kind::Enum(options) => {
                self.choice_setting(config, name, label, &flag, options)?;
            }
            Kind::Text | Kind::Label => self.text_setting(config, name, label, &flag, suggested)?,
            Kind::Url if !config.contains_key(name) => {
                let url = self.p.parsed(
                    label,
                    &flag,
                    self.current.get(name).and_then(Value::as_str),
                    crate::types::parse_http_url,
                )?;
                config.insert(name.to_owned(), Value::String(url));
            }
            // The provider secret is asked with the key, after the settings.
            Kind::Secret if service.secret(config) == Secret::Field(field.name) => {}
            Kind::Secret if !config.contains_key(name) && !self.stored(name) => {
                let value = self.p.secret(label, &flag)?;
                config.insert(name.to_owned(), Value::String(value));
            }
            Kind::SecretObject if !config.contains_key(name) && !self.stored(name) => {
                let path = self.p.text(&format!("{label} file"), &flag, None)?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?;
                let json: Value = serde_json::from_str(&text)
                    .map_err(|e| CliError::usage(format!("{path} is not JSON: {e}")))?;
                config.insert(name.to_owned(), json);
            }
            Kind::Deployments => self.deployments(config, name, &flag)?,
            _ => {}
        }
        Ok(())
    }

    /// Azure deployments: keep the current ones, or add one or more.
    fn deployments(
        &self,
        config: &mut Map<String, Value>,
        name: &str,
        flag: &str,
    ) -> anyhow::Result<()> {
        let p = self.p;
        if config.contains_key(name) {
            return Ok(());
        }
        if let Some(current) = self.current.get(name) {
            let question = format!(
                "Keep the current deployments ({})?",
                describe_deployments(current)
            );
            if p.confirm(&question, true)? {
                return Ok(());
            }
        }
        let mut deployments = Vec::new();
        loop {
            let first = deployments.is_empty();
            let name = p.text("deployment name", flag, None)?;
            let model = p.text("model of this deployment (e.g. gpt-4o)", flag, None)?;
            let api_version = p.text("API version", flag, Some("2024-10-21"))?;
            let alias = if first {
                None
            } else {
                Some(p.text("alias for this deployment", flag, Some(&model))?)
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
        config.insert(name.to_owned(), deployments_json(&deployments));
        Ok(())
    }
}
