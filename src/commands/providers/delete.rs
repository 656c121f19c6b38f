use clap::Args;

use super::get::parse_provider_slug;
use crate::client::provisioning::provider_path;
use crate::commands::dry_run::{self, PlannedRequest};
use crate::commands::Ctx;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Provider slug
    #[arg(value_parser = parse_provider_slug)]
    pub slug: Slug,

    /// Show the request that would be made and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(ctx: &Ctx, args: DeleteArgs) -> anyhow::Result<()> {
    let ws = super::workspace(ctx)?;
    let client = ctx.client()?;
    let provider = client.get_provider(&ws.id, args.slug.as_str())?;
    if args.dry_run {
        let path = format!("/v1{}", provider_path(&ws.id, &provider.slug));
        return dry_run::show(ctx, &[PlannedRequest::new("DELETE", path, None)]);
    }
    ctx.prompter().confirm_destructive(&format!(
        "Delete AI provider `@{}` from `{}`? Calls to `@{}/...` will fail.",
        provider.slug, ws.slug, provider.slug
    ))?;
    client.delete_provider(&ws.id, &provider.slug)?;
    ctx.printer()
        .status(format!("deleted AI provider `@{}`", provider.slug));
    if ctx.printer().is_json() {
        ctx.printer()
            .data(&serde_json::json!({"deleted": true, "slug": provider.slug}))?;
    }
    Ok(())
}
