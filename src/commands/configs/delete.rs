use clap::Args;

use crate::client::configs::config_path;
use crate::commands::dry_run::{self, PlannedRequest};
use crate::commands::Ctx;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Config slug (`pc-...`) or id
    pub slug: Slug,

    /// Show the request that would be made and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(ctx: &Ctx, args: DeleteArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let config = client.get_config(args.slug.as_str())?;
    if args.dry_run {
        let path = format!("/v1{}", config_path(&config.slug));
        return dry_run::show(ctx, &[PlannedRequest::new("DELETE", path, None)]);
    }
    ctx.prompter().confirm_destructive(&format!(
        "Delete config `{}` ({}) and all its versions? Requests that send it will fail.",
        config.slug, config.name
    ))?;
    client.delete_config(&config.slug)?;
    ctx.printer()
        .status(format!("deleted config `{}`", config.slug));
    if ctx.printer().is_json() {
        ctx.printer()
            .data(&serde_json::json!({"deleted": true, "slug": config.slug}))?;
    }
    Ok(())
}
