use clap::Args;

use crate::commands::Ctx;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Workspace id, slug or name
    #[arg(value_name = "WORKSPACE", add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::workspaces))]
    pub target: String,
}

pub fn run(ctx: &Ctx, args: GetArgs) -> anyhow::Result<()> {
    let ws = ctx.client()?.resolve_workspace(&args.target)?;
    ctx.printer().one(&ws)
}
