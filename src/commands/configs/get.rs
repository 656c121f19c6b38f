use clap::Args;

use crate::commands::Ctx;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Config slug (`pc-...`) or id
    pub slug: Slug,
}

pub fn run(ctx: &Ctx, args: GetArgs) -> anyhow::Result<()> {
    let config = ctx.client()?.get_config(args.slug.as_str())?;
    ctx.printer().one(&config)
}
