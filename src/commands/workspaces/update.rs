use clap::Args;

use super::create::metadata_map;
use crate::api::workspace::{DefaultsInput, UpdateWorkspace};
use crate::api::Patch;
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::types::KeyValue;

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Workspace id, slug or name
    #[arg(value_name = "WORKSPACE", add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::workspaces))]
    pub target: String,

    /// New name
    #[arg(long, value_parser = crate::types::parse_name)]
    pub name: Option<String>,

    /// New description
    #[arg(long, value_parser = crate::types::parse_description, conflicts_with = "clear_description")]
    pub description: Option<String>,

    /// Remove the description
    #[arg(long)]
    pub clear_description: bool,

    /// Replace the default metadata with these KEY=VALUE pairs (repeatable)
    #[arg(
        long = "metadata",
        value_name = "KEY=VALUE",
        conflicts_with = "clear_metadata"
    )]
    pub metadata: Vec<KeyValue>,

    /// Remove the default metadata
    #[arg(long)]
    pub clear_metadata: bool,
}

pub fn run(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    let metadata = if args.clear_metadata {
        Patch::Null
    } else if args.metadata.is_empty() {
        Patch::Absent
    } else {
        Patch::Value(metadata_map(&args.metadata))
    };
    let body = UpdateWorkspace {
        name: args.name,
        description: if args.clear_description {
            Patch::Null
        } else {
            args.description.into()
        },
        defaults: (!metadata.is_absent()).then(|| DefaultsInput {
            metadata,
            ..Default::default()
        }),
        ..Default::default()
    };
    if body.name.is_none() && body.description.is_absent() && body.defaults.is_none() {
        return Err(CliError::usage("nothing to update")
            .with_hint(
                "pass --name, --description, --clear-description, --metadata or --clear-metadata",
            )
            .into());
    }
    let client = ctx.client()?;
    let ws = client.resolve_workspace(&args.target)?;
    let updated = client.update_workspace(&ws.id, &body)?;
    ctx.printer().status(format!(
        "updated workspace `{}` ({})",
        updated.name, updated.slug
    ));
    ctx.printer().one(&updated)
}
