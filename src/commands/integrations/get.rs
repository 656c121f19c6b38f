use clap::Args;

use crate::commands::Ctx;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Integration slug
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::integrations))]
    pub slug: Slug,
}

pub fn run(ctx: &Ctx, args: GetArgs) -> anyhow::Result<()> {
    let integration = ctx.client()?.get_integration(args.slug.as_str())?;
    ctx.printer().one(&integration)
}
