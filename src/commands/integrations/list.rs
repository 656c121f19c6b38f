use clap::{Args, ValueEnum};

use crate::commands::Ctx;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Organisation,
    Workspace,
    All,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which integrations: organisation-level, workspace-level, or all
    #[arg(long = "type", value_enum, default_value = "all")]
    pub kind: Kind,
}

pub fn run(ctx: &Ctx, args: ListArgs) -> anyhow::Result<()> {
    let workspace = ctx.workspace()?;
    let kind = match args.kind {
        Kind::Organisation => "organisation",
        Kind::Workspace => "workspace",
        Kind::All => "all",
    };
    let items = ctx
        .client()?
        .list_integrations(Some(kind), workspace.as_ref().map(|w| w.id.as_str()))?;
    ctx.printer().list(&items)
}
