use std::collections::BTreeMap;

use clap::Args;

use crate::api::workspace::{CreateWorkspace, DefaultsInput};
use crate::api::Patch;
use crate::commands::Ctx;
use crate::types::KeyValue;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Workspace name
    pub name: String,

    /// Description
    #[arg(long)]
    pub description: Option<String>,

    /// Default request metadata, KEY=VALUE (repeatable)
    #[arg(long = "metadata", value_name = "KEY=VALUE")]
    pub metadata: Vec<KeyValue>,
}

pub fn metadata_map(items: &[KeyValue]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect()
}

pub fn run(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<()> {
    let body = CreateWorkspace {
        name: args.name,
        description: args.description,
        defaults: (!args.metadata.is_empty()).then(|| DefaultsInput {
            metadata: Patch::Value(metadata_map(&args.metadata)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let ws = ctx.client()?.create_workspace(&body)?;
    ctx.printer()
        .status(format!("created workspace `{}` ({})", ws.name, ws.slug));
    ctx.printer().one(&ws)
}
