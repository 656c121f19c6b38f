use clap::Args;

use crate::commands::Ctx;

#[derive(Debug, Args)]
pub struct ListArgs {}

/// One workspace's configs with `--workspace` (or a workspace key's own); otherwise every
/// config the key may see.
pub fn run(ctx: &Ctx, _args: ListArgs) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    let configs = ctx
        .client()?
        .list_configs(ws.as_ref().map(|w| w.id.as_str()))?;
    ctx.printer().list(&configs)
}
