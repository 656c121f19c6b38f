//! `catalog audit [--since 7d] [--actor KEY] [--object integrations/azure-prod]`: the
//! changes made through the Admin API, newest first (`GET /v1/audit-logs`, an extension);
//! `catalog audit show ID`: one change as a field diff.

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use serde_json::Value;

use super::time_args::parse_time;
use super::Ctx;
use crate::api::audit::{AuditRecord, FieldChange, ObjectChange};
use crate::client::AuditFilter;
use crate::domain::audit::ACTIONS;
use crate::exit::CliError;
use crate::printer::{OutputFormat, Tabular};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,

    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Show one change: who, when, the request, and each field before and after
    Show {
        /// The record's id (the first column of `catalog audit`)
        id: u64,
    },
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only changes at or after this time: an age (7d, 12h), a date or an RFC 3339 time
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<String>,

    /// Only changes before this time: an age (7d, 12h), a date or an RFC 3339 time
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<String>,

    /// Only changes made with this API key (id or name), by the local CLI (`embedded`)
    /// or by the server itself (`system`)
    #[arg(long, value_name = "KEY")]
    pub actor: Option<String>,

    /// Only changes to this object, as TYPE/NAME: workspaces/eng,
    /// integrations/azure-prod, providers/@openai-prod, virtual-keys/SLUG, api-keys/ID,
    /// configs/SLUG, policies/NAME, org/settings
    #[arg(long, value_name = "TYPE/NAME", value_parser = parse_object)]
    pub object: Option<ObjectRef>,

    /// Only changes of this kind
    #[arg(long, value_parser = PossibleValuesParser::new(ACTIONS))]
    pub action: Option<String>,

    /// Show at most this many records, newest first
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: u64,
}

/// An object named on the command line: its type in audit records and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub resource_type: &'static str,
    pub name: Option<String>,
}

const OBJECT_TYPES: &[(&[&str], &str)] = &[
    (&["workspaces", "workspace"], "workspace"),
    (&["integrations", "integration"], "integration"),
    (&["providers", "provider"], "provider"),
    (
        &["virtual-keys", "virtual-key", "virtual_keys", "virtual_key"],
        "virtual_key",
    ),
    (&["api-keys", "api-key", "api_keys", "api_key"], "api_key"),
    (&["configs", "config"], "config"),
    (
        &["org", "organisation", "organisation_setting"],
        "organisation_setting",
    ),
    (&["policies", "policy"], "policy"),
];

fn parse_object(text: &str) -> Result<ObjectRef, String> {
    let (kind, name) = match text.split_once('/') {
        Some((k, n)) => (k, Some(n.trim_start_matches('@')).filter(|n| !n.is_empty())),
        None => (text, None),
    };
    let resource_type = OBJECT_TYPES
        .iter()
        .find(|(names, _)| names.contains(&kind))
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            format!(
                "`{kind}` is not a kind of object; use workspaces, integrations, providers, virtual-keys, api-keys, configs, policies or org, as in integrations/azure-prod"
            )
        })?;
    let name = name
        .filter(|_| resource_type != "organisation_setting")
        .map(str::to_owned);
    Ok(ObjectRef {
        resource_type,
        name,
    })
}

pub fn run(ctx: &Ctx, args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        Some(AuditCommand::Show { id }) => show(ctx, id),
        None => list(ctx, args.list),
    }
}

fn list(ctx: &Ctx, args: ListArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let mut resource = args.object.as_ref().and_then(|o| o.name.clone());
    // A workspace is named as everywhere else (id, slug or name); records know its id.
    if let (Some(o), Some(name)) = (&args.object, &resource) {
        if o.resource_type == "workspace" {
            resource = Some(client.resolve_workspace(name)?.id);
        }
    }
    let filter = AuditFilter {
        since: args.since,
        until: args.until,
        actor: args.actor,
        resource_type: args.object.as_ref().map(|o| o.resource_type.to_owned()),
        resource,
        workspace_id: ctx.workspace()?.map(|w| w.id),
        action: args.action,
    };
    let (total, records) = client.list_audit(&filter, args.limit)?;
    let printer = ctx.printer();
    printer.list(&records)?;
    if printer.format == OutputFormat::Table {
        if records.is_empty() {
            printer.status("no changes match");
        } else if total > records.len() as u64 {
            printer.status(format!(
                "the newest {} of {total} changes; --limit, --since or --object show others",
                records.len()
            ));
        }
    }
    Ok(())
}

fn show(ctx: &Ctx, id: u64) -> anyhow::Result<()> {
    let record = ctx
        .client()?
        .audit_record(id)
        .map_err(|e| match e.downcast::<CliError>() {
            Ok(c) if c.kind == crate::exit::ErrorKind::NotFound => c
                .with_hint("`catalog audit` lists the records and their ids")
                .into(),
            Ok(c) => c.into(),
            Err(e) => e,
        })?;
    let printer = ctx.printer();
    if printer.format != OutputFormat::Table {
        return printer.data(&record);
    }
    printer.one(&record)?;
    printer.raw(&diff_text(&record.changes));
    Ok(())
}

/// Each object's change, then its fields: `+` set on creation, `-` gone with the
/// object, `~` changed; secrets only as `(secret) changed`.
pub fn diff_text(changes: &[ObjectChange]) -> String {
    let mut out = String::new();
    for c in changes {
        let name = c.slug.as_deref().unwrap_or(&c.resource_id);
        out.push_str(&format!("{} {name} ({})\n", c.resource_type, c.change));
        let mark = match c.change.as_str() {
            "created" => "+",
            "deleted" => "-",
            _ => "~",
        };
        for f in &c.fields {
            out.push_str(&format!("  {mark} {}\n", field_text(f, &c.change)));
        }
    }
    out
}

fn field_text(f: &FieldChange, change: &str) -> String {
    if f.secret {
        let what = if change == "created" {
            "set"
        } else {
            "changed"
        };
        return format!("{}: (secret) {what}", f.field);
    }
    match change {
        "created" => format!("{}: {}", f.field, value_text(&f.after)),
        "deleted" => format!("{}: {}", f.field, value_text(&f.before)),
        _ => format!(
            "{}: {} → {}",
            f.field,
            value_text(&f.before),
            value_text(&f.after)
        ),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "(none)".to_owned(),
        other => other.to_string(),
    }
}

/// The fields a record changed, in a few words: `name, usage_limits`, `created`.
fn summary(record: &AuditRecord) -> String {
    match record.changes.as_slice() {
        [] => "-".to_owned(),
        [one] if one.change != "updated" => one.change.clone(),
        [one] => {
            let names: Vec<&str> = one.fields.iter().map(|f| f.field.as_str()).collect();
            names.join(", ")
        }
        many => format!("{} objects", many.len()),
    }
}

/// `2026-05-01 12:00:00`: a record's time to the second, for tables.
fn when(record: &AuditRecord) -> String {
    record
        .created_at
        .get(..19)
        .unwrap_or(&record.created_at)
        .replace('T', " ")
}

impl Tabular for AuditRecord {
    fn headers() -> &'static [&'static str] {
        &["ID", "WHEN (UTC)", "ACTOR", "ACTION", "OBJECT", "CHANGED"]
    }

    /// At 80 columns: without what changed, then without the actor.
    fn optional_columns() -> &'static [usize] {
        &[5, 2]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            when(self),
            self.actor.label(),
            self.action.clone(),
            self.subject(),
            summary(self),
        ]
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.to_string()),
            ("when", self.created_at.clone()),
            ("actor", self.actor.label()),
            ("action", self.action.clone()),
            ("object", self.subject()),
            (
                "workspace",
                self.workspace_id.clone().unwrap_or_else(|| "-".to_owned()),
            ),
            ("request", format!("{} {}", self.method, self.path)),
            ("request id", self.request_id.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_type_and_name() {
        assert_eq!(
            parse_object("integrations/azure-prod").unwrap(),
            ObjectRef {
                resource_type: "integration",
                name: Some("azure-prod".into())
            }
        );
        assert_eq!(
            parse_object("providers/@openai").unwrap().name.as_deref(),
            Some("openai")
        );
        assert_eq!(parse_object("workspaces").unwrap().name, None);
        assert!(parse_object("integrationz/x")
            .unwrap_err()
            .contains("integrations/azure-prod"));
    }
}
