use clap::Args;

use crate::commands::Ctx;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only workspaces whose name contains this text
    #[arg(long)]
    pub name: Option<String>,
}

pub fn run(ctx: &Ctx, args: ListArgs) -> anyhow::Result<()> {
    let items = ctx.client()?.list_workspaces(args.name.as_deref())?;
    ctx.printer().list(&items)
}
