use clap::Args;

use crate::commands::Ctx;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct VersionsArgs {
    /// Config slug (`pc-...`) or id
    pub slug: Slug,
}

pub fn run(ctx: &Ctx, args: VersionsArgs) -> anyhow::Result<()> {
    let versions = ctx.client()?.config_versions(args.slug.as_str())?;
    ctx.printer().list(&versions)
}
