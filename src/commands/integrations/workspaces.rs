use clap::Args;

use crate::commands::{access_view, Ctx};
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct WorkspacesArgs {
    /// Integration slug
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::integrations))]
    pub slug: Slug,
}

/// Who has access, with what limits, usage so far and next reset.
pub fn run(ctx: &Ctx, args: WorkspacesArgs) -> anyhow::Result<()> {
    let access = ctx.client()?.workspace_access(args.slug.as_str())?;
    access_view::print(ctx.printer(), &access)
}
