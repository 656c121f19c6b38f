use clap::Args;

use crate::api::integration::Integration;
use crate::commands::Ctx;
use crate::exit::{hint_on, CliError, ErrorKind};
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Integration slug
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::integrations))]
    pub slug: Slug,

    /// Also delete the AI providers that use it
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Ctx, args: DeleteArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let integration = client.get_integration(args.slug.as_str())?;
    // Said before asking: which AI providers use it, each with its workspace.
    let users = providers_using(ctx, &integration).unwrap_or_default();
    let named: Vec<String> = users
        .iter()
        .map(|(ws, p)| format!("`@{p}` in `{ws}`"))
        .collect();
    if !users.is_empty() && !args.force {
        return Err(CliError::new(
            ErrorKind::Conflict,
            format!(
                "integration `{}` is in use by {} AI provider(s): {}",
                integration.slug,
                users.len(),
                named.join(", ")
            ),
        )
        .with_hint(format!(
            "pass `--force` to delete those providers with it: `catalog integrations delete {} --force`",
            integration.slug
        ))
        .into());
    }
    let also = if users.is_empty() {
        String::new()
    } else {
        format!(", and the AI providers {}", named.join(", "))
    };
    ctx.prompter().confirm_destructive(&format!(
        "Delete integration `{}` ({}) and its stored credentials{also}?",
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

/// The AI providers built on `integration`, as (workspace slug, provider slug): in every
/// workspace that has or had access, and in its own workspace.
fn providers_using(ctx: &Ctx, integration: &Integration) -> anyhow::Result<Vec<(String, String)>> {
    let client = ctx.client()?;
    let mut workspaces: Vec<String> = integration.workspace_id.iter().cloned().collect();
    if integration.workspace_id.is_none() {
        for a in client.workspace_access(&integration.slug)?.workspaces {
            workspaces.push(a.workspace_id.unwrap_or(a.id));
        }
    }
    let mut out = Vec::new();
    for ws in workspaces {
        let ws = client.resolve_workspace(&ws)?;
        for p in client.list_providers(&ws.id)? {
            if p.integration_id == integration.slug || p.integration_id == integration.id {
                out.push((ws.slug.clone(), p.slug));
            }
        }
    }
    Ok(out)
}
