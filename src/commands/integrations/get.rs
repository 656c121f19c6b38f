use clap::Args;

use crate::commands::Ctx;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Integration slug
    pub slug: Slug,
}

pub fn run(ctx: &Ctx, args: GetArgs) -> anyhow::Result<()> {
    let integration = ctx.client()?.get_integration(&args.slug.0)?;
    ctx.printer().one(&integration)
}
