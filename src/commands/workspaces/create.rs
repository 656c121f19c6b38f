use std::collections::BTreeMap;

use clap::Args;

use crate::api::workspace::{CreateWorkspace, DefaultsInput};
use crate::api::Patch;
use crate::commands::Ctx;
use crate::exit::{CliError, ErrorKind};
use crate::types::KeyValue;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Workspace name
    #[arg(value_parser = crate::types::parse_name)]
    pub name: String,

    /// Description
    #[arg(long, value_parser = crate::types::parse_description)]
    pub description: Option<String>,

    /// Default request metadata, KEY=VALUE (repeatable)
    #[arg(long = "metadata", value_name = "KEY=VALUE")]
    pub metadata: Vec<KeyValue>,

    /// When a workspace with this name exists, print it and succeed instead of failing
    #[arg(long)]
    pub if_not_exists: bool,
}

pub fn metadata_map(items: &[KeyValue]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect()
}

pub fn run(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    // A key that may not list workspaces cannot check: the server decides.
    let existing = match client.workspaces_named(&args.name) {
        Ok(found) => found.into_iter().next(),
        Err(e)
            if e.downcast_ref::<CliError>()
                .is_some_and(|c| c.kind == ErrorKind::Auth) =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(ws) = existing {
        if args.if_not_exists {
            ctx.printer().status(format!(
                "workspace `{}` already exists ({}); nothing was created",
                ws.name, ws.slug
            ));
            return ctx.printer().one(&ws);
        }
        return Err(CliError::new(
            ErrorKind::Conflict,
            format!("workspace `{}` already exists ({})", ws.name, ws.slug),
        )
        .with_hint(format!(
            "pass `--if-not-exists` to reuse it (scripts that run again), or see it with `catalog workspaces get {}`",
            ws.slug
        ))
        .into());
    }
    let body = CreateWorkspace {
        name: args.name,
        description: args.description,
        defaults: (!args.metadata.is_empty()).then(|| DefaultsInput {
            metadata: Patch::Value(metadata_map(&args.metadata)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let ws = client.create_workspace(&body)?;
    ctx.printer()
        .status(format!("created workspace `{}` ({})", ws.name, ws.slug));
    ctx.printer().one(&ws)
}
