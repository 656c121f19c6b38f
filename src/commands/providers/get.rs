use clap::Args;

use crate::commands::Ctx;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Provider slug (with or without the leading @)
    #[arg(value_parser = parse_provider_slug)]
    pub slug: Slug,
}

/// Accepts `@slug` as developers write it.
pub fn parse_provider_slug(s: &str) -> Result<Slug, String> {
    s.strip_prefix('@').unwrap_or(s).parse()
}

pub fn run(ctx: &Ctx, args: GetArgs) -> anyhow::Result<()> {
    let ws = super::workspace(ctx)?;
    let provider = ctx.client()?.get_provider(&ws.id, args.slug.as_str())?;
    ctx.printer().one(&provider)
}
