use clap::Args;

use crate::commands::Ctx;

#[derive(Debug, Args)]
pub struct ListArgs {}

pub fn run(ctx: &Ctx, _args: ListArgs) -> anyhow::Result<()> {
    let ws = super::workspace(ctx)?;
    let providers = ctx.client()?.list_providers(&ws.id)?;
    ctx.printer().list(&providers)
}
