use clap::Args;

use crate::commands::Ctx;
use crate::exit::{hint_on, ErrorKind};
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Integration slug
    pub slug: Slug,

    /// Also delete the AI providers that use it
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Ctx, args: DeleteArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let integration = client.get_integration(&args.slug.0)?;
    ctx.prompter().confirm_destructive(&format!(
        "Delete integration `{}` ({}) and its stored credentials?",
        integration.slug, integration.ai_provider_id
    ))?;
    client
        .delete_integration(&integration.slug, args.force)
        .map_err(|e| {
            hint_on(
                e,
                ErrorKind::Conflict,
                format!(
                    "pass `--force` to delete those providers with it: `catalog integrations delete {} --force`",
                    integration.slug
                ),
            )
        })?;
    ctx.printer()
        .status(format!("deleted integration `{}`", integration.slug));
    if ctx.printer().is_json() {
        ctx.printer()
            .data(&serde_json::json!({"deleted": true, "slug": integration.slug}))?;
    }
    Ok(())
}
