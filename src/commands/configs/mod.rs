//! `catalog configs ...`: saved gateway configs, which requests name in
//! `x-portkey-config` by slug. A config's body is read from a JSON file (or `-` for stdin)
//! and checked here as the gateway will read it, before anything is sent.

mod create;
mod delete;
mod get;
mod list;
mod update;
mod versions;

use std::io::Read;

use clap::Subcommand;
use serde_json::{Map, Value};

use super::Ctx;
use crate::api::configs::{Config, ConfigVersion};
use crate::api::gateway_config::{check_saved, SavedConfigError, CREDENTIAL_FIX};
use crate::exit::CliError;
use crate::printer::{or_dash, Tabular};

#[derive(Debug, Subcommand)]
pub enum ConfigsCommand {
    /// List saved gateway configs (one workspace's with --workspace)
    List(list::ListArgs),
    /// Show one config with its current body
    Get(get::GetArgs),
    /// Save a gateway config from a JSON file (`-` reads stdin)
    Create(create::CreateArgs),
    /// Rename a config, or replace its body (a new version)
    Update(update::UpdateArgs),
    /// Delete a config and its versions (asks for confirmation, or pass --yes)
    Delete(delete::DeleteArgs),
    /// List a config's versions, newest first
    Versions(versions::VersionsArgs),
}

pub fn run(ctx: &Ctx, cmd: ConfigsCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigsCommand::List(args) => list::run(ctx, args),
        ConfigsCommand::Get(args) => get::run(ctx, args),
        ConfigsCommand::Create(args) => create::run(ctx, args),
        ConfigsCommand::Update(args) => update::run(ctx, args),
        ConfigsCommand::Delete(args) => delete::run(ctx, args),
        ConfigsCommand::Versions(args) => versions::run(ctx, args),
    }
}

/// Reads a config body from `path` (`-` for stdin) and checks it; every error names the
/// file, and the line and column or the JSON path of what is wrong.
pub fn read_config(path: &str) -> anyhow::Result<Map<String, Value>> {
    let (name, text) = if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::usage(format!("cannot read the config from stdin: {e}")))?;
        ("stdin".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::usage(format!("cannot read the config file {path}: {e}"))
                .with_hint("pass `--file PATH` naming a JSON file, or `--file -` to read stdin")
        })?;
        (path.to_owned(), text)
    };
    parse_config(&name, &text).map_err(Into::into)
}

/// Parses and checks a config body read from `name`.
pub fn parse_config(name: &str, text: &str) -> Result<Map<String, Value>, CliError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        CliError::usage(format!(
            "{name} is not valid JSON: line {}, column {}: {}",
            e.line(),
            e.column(),
            syntax_message(&e)
        ))
        .with_hint("a config is one JSON object, such as {\"provider\": \"@openai-prod\"}")
    })?;
    match check_saved(&value) {
        Ok(()) => {}
        Err(e @ SavedConfigError::Credential(_)) => {
            return Err(CliError::usage(format!("{name}: {e}")).with_hint(CREDENTIAL_FIX))
        }
        Err(e) => return Err(CliError::usage(format!("{name}: {e}"))),
    }
    match value {
        Value::Object(map) => Ok(map),
        _ => unreachable!("check_saved refuses what is not an object"),
    }
}

/// serde_json's message without its own " at line L column C" suffix.
fn syntax_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// A config body as one line, for tables.
fn compact(config: &str) -> String {
    serde_json::from_str::<Value>(config)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| config.to_owned())
}

/// A config body indented, for the detail view.
fn pretty(config: &str) -> String {
    serde_json::from_str::<Value>(config)
        .ok()
        .and_then(|v| crate::api::json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| config.to_owned())
}

/// The routing a config does at its root, in a word or two.
fn routing(config: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(config) else {
        return "-".to_owned();
    };
    match value.pointer("/strategy/mode").and_then(Value::as_str) {
        Some(mode) => {
            let n = value
                .get("targets")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            format!("{mode} ({n} targets)")
        }
        None => or_dash(
            value
                .get("provider")
                .or_else(|| value.get("virtual_key"))
                .and_then(Value::as_str),
        ),
    }
}

impl Tabular for Config {
    fn headers() -> &'static [&'static str] {
        &[
            "SLUG",
            "NAME",
            "ROUTING",
            "STATUS",
            "DEFAULT",
            "WORKSPACE",
            "UPDATED",
        ]
    }

    /// At 80 columns: without the workspace and the update time.
    fn optional_columns() -> &'static [usize] {
        &[5, 6]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.slug.clone(),
            self.name.clone(),
            routing(&self.config),
            self.status.clone(),
            if self.is_default == 1 { "yes" } else { "no" }.to_owned(),
            or_dash(self.workspace_id.as_deref()),
            or_dash(self.last_updated_at.as_deref()),
        ]
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        vec![
            ("slug", self.slug.clone()),
            ("name", self.name.clone()),
            ("status", self.status.clone()),
            (
                "default",
                if self.is_default == 1 { "yes" } else { "no" }.to_owned(),
            ),
            ("workspace", or_dash(self.workspace_id.as_deref())),
            ("version", self.version_id.clone()),
            ("created", or_dash(self.created_at.as_deref())),
            ("updated", or_dash(self.last_updated_at.as_deref())),
            ("id", self.id.clone()),
            ("config", pretty(&self.config)),
        ]
    }
}

impl Tabular for ConfigVersion {
    fn headers() -> &'static [&'static str] {
        &["VERSION", "CREATED", "CONFIG", "ID"]
    }

    fn optional_columns() -> &'static [usize] {
        &[3]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.version.to_string(),
            or_dash(self.created_at.as_deref()),
            compact(&self.config),
            self.id.clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_name_the_line_column_or_path() {
        let e = parse_config("gw.json", "{\n  \"provider\": \"@a\",\n}").unwrap_err();
        assert!(
            e.message
                .starts_with("gw.json is not valid JSON: line 3, column 1"),
            "{}",
            e.message
        );
        let e = parse_config(
            "gw.json",
            r#"{"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "@a"}, {"provider": "@b", "weight": -2}]}"#,
        )
        .unwrap_err();
        assert!(
            e.message
                .starts_with("gw.json: `targets[1].weight` must be a number of 0 or more"),
            "{}",
            e.message
        );
        let e = parse_config("stdin", r#"{"provider": "openai", "api_key": "sk-x"}"#).unwrap_err();
        assert!(
            e.message.contains("`api_key` holds a credential"),
            "{}",
            e.message
        );
        assert_eq!(
            routing(r#"{"strategy":{"mode":"fallback"},"targets":[{},{}]}"#),
            "fallback (2 targets)"
        );
    }
}
