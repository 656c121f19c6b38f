use clap::Args;

use crate::commands::Ctx;

#[derive(Debug, Args)]
pub struct ListArgs {}

pub fn run(ctx: &Ctx, _args: ListArgs) -> anyhow::Result<()> {
    let workspace = ctx.workspace()?;
    let keys = ctx
        .client()?
        .list_api_keys(workspace.as_ref().map(|w| w.id.as_str()))?;
    ctx.printer().list(&keys)
}
