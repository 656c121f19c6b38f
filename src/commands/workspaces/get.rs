use clap::Args;

use crate::commands::Ctx;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Workspace id, slug or name
    pub workspace: String,
}

pub fn run(ctx: &Ctx, args: GetArgs) -> anyhow::Result<()> {
    let ws = ctx.client()?.resolve_workspace(&args.workspace)?;
    ctx.printer().one(&ws)
}
