//! `catalog workspaces revoke`: take an integration away from workspaces. Their AI
//! providers are disabled, not deleted, and come back if access is granted again.

use clap::Args;

use super::provision::{apply, Plan};
use crate::commands::Ctx;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Workspaces (id, slug or name) to take access from
    #[arg(required = true, add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::workspaces))]
    pub workspaces: Vec<String>,

    /// The integration
    #[arg(long, add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::integrations))]
    pub integration: Slug,

    /// Show the request that would be made and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(ctx: &Ctx, args: RevokeArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let current = client.workspace_access(args.integration.as_str())?;
    let mut revoke = Vec::new();
    for w in &args.workspaces {
        let ws = client.resolve_workspace(w)?;
        if current
            .workspaces
            .iter()
            .any(|a| a.access.enabled && (a.id == ws.slug || a.id == ws.id))
        {
            revoke.push(ws);
        } else {
            ctx.printer().status(format!(
                "`{}` has no access to `{}`; nothing to revoke there",
                ws.slug, args.integration
            ));
        }
    }
    if !revoke.is_empty() && !args.dry_run {
        let names: Vec<&str> = revoke.iter().map(|w| w.slug.as_str()).collect();
        ctx.prompter().confirm_destructive(&format!(
            "Revoke `{}` from {}? Their AI providers will be disabled.",
            args.integration,
            names.join(", ")
        ))?;
    }
    let plan = Plan {
        integration: args.integration.into_string(),
        targets: Vec::new(),
        revoke,
        limits: Default::default(),
        new_workspaces: None,
        reset_usage: false,
        provider_slug: None,
    };
    apply(ctx, &plan, &current, args.dry_run, false)
}
