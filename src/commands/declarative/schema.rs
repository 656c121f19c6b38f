//! `catalog schema`: the JSON Schema of the catalog file, for editors and validators.

use clap::Args;

use crate::commands::Ctx;

#[derive(Debug, Args)]
pub struct SchemaArgs {}

pub fn run(ctx: &Ctx, _args: SchemaArgs) -> anyhow::Result<()> {
    let schema = crate::declarative::file::json_schema();
    ctx.printer().raw(&serde_json::to_string_pretty(&schema)?);
    Ok(())
}
