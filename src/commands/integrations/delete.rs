use clap::Args;

use crate::commands::Ctx;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Integration slug
    pub slug: Slug,
}

pub fn run(ctx: &Ctx, args: DeleteArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let integration = client.get_integration(&args.slug.0)?;
    ctx.prompter().confirm_destructive(&format!(
        "Delete integration `{}` ({}) and its stored credentials?",
        integration.slug, integration.ai_provider_id
    ))?;
    client.delete_integration(&integration.slug)?;
    ctx.printer()
        .status(format!("deleted integration `{}`", integration.slug));
    if ctx.printer().is_json() {
        ctx.printer()
            .data(&serde_json::json!({"deleted": true, "slug": integration.slug}))?;
    }
    Ok(())
}
