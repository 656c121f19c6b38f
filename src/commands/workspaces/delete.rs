use clap::Args;

use crate::commands::Ctx;
use crate::exit::{hint_on, ErrorKind};

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Workspace id, slug or name
    #[arg(value_name = "WORKSPACE", add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::workspaces))]
    pub target: String,

    /// Also delete what depends on it (workspace integrations, API keys)
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Ctx, args: DeleteArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let ws = client.resolve_workspace(&args.target)?;
    let what = if args.force {
        " and everything in it"
    } else {
        ""
    };
    ctx.prompter().confirm_destructive(&format!(
        "Delete workspace `{}` ({}){what}?",
        ws.name, ws.slug
    ))?;
    client.delete_workspace(&ws, args.force).map_err(|e| {
        hint_on(
            e,
            ErrorKind::Conflict,
            format!(
                "pass `--force` to delete them with it: `catalog workspaces delete {} --force`",
                ws.slug
            ),
        )
    })?;
    ctx.printer()
        .status(format!("deleted workspace `{}` ({})", ws.name, ws.slug));
    if ctx.printer().is_json() {
        ctx.printer()
            .data(&serde_json::json!({"deleted": true, "id": ws.id, "slug": ws.slug}))?;
    }
    Ok(())
}
