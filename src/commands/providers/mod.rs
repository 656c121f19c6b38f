//! `catalog providers ...`: AI providers, called by developers as `@slug/model`.

mod create;
mod delete;
pub(crate) mod get;
mod list;
mod update;

use clap::Subcommand;

use super::Ctx;
use crate::api::provider::Provider;
use crate::api::workspace::Workspace;
use crate::limit_args::{describe_budget, describe_concurrency, describe_rate, describe_window};
use crate::printer::{or_dash, Tabular};
use crate::prompt::missing;

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// List a workspace's AI providers with their integration, status, budget and rate limit
    List(list::ListArgs),
    /// Show one AI provider
    Get(get::GetArgs),
    /// Create an AI provider on an integration provisioned to the workspace
    Create(Box<create::CreateArgs>),
    /// Change an AI provider's name, note, limits or expiry
    Update(Box<update::UpdateArgs>),
    /// Delete an AI provider (asks for confirmation, or pass --yes)
    Delete(delete::DeleteArgs),
}

pub fn run(ctx: &Ctx, cmd: ProvidersCommand) -> anyhow::Result<()> {
    match cmd {
        ProvidersCommand::List(args) => list::run(ctx, args),
        ProvidersCommand::Get(args) => get::run(ctx, args),
        ProvidersCommand::Create(args) => create::run(ctx, *args),
        ProvidersCommand::Update(args) => update::run(ctx, *args),
        ProvidersCommand::Delete(args) => delete::run(ctx, args),
    }
}

/// The workspace providers live in: `--workspace`, the profile's, or a prompt.
pub fn workspace(ctx: &Ctx) -> anyhow::Result<Workspace> {
    if let Some(ws) = ctx.workspace()? {
        return Ok(ws);
    }
    let prompter = ctx.prompter();
    if !prompter.can() {
        return Err(missing("the workspace", "--workspace WORKSPACE"));
    }
    let all = ctx.client()?.list_workspaces(None)?;
    let items: Vec<String> = all
        .iter()
        .map(|w| format!("{} ({})", w.name, w.slug))
        .collect();
    Ok(all[prompter.select("workspace", "--workspace", &items, 0)?].clone())
}

impl Tabular for Provider {
    fn headers() -> &'static [&'static str] {
        &[
            "PROVIDER",
            "INTEGRATION",
            "SERVICE",
            "STATUS",
            "BUDGET (USED / LIMIT)",
            "RESETS",
            "RATE LIMIT",
            "EXPIRES",
            "CONCURRENCY",
        ]
    }

    /// At 80 columns: without the service, concurrency (an extension), reset kind,
    /// integration and expiry. Concurrency came last, so scripts reading the columns by
    /// position keep working.
    fn optional_columns() -> &'static [usize] {
        &[2, 8, 5, 1, 7]
    }

    fn row(&self) -> Vec<String> {
        vec![
            format!("@{}", self.slug),
            self.integration_id.clone(),
            or_dash(self.ai_provider_id.as_deref()),
            or_dash(self.status.as_deref()),
            describe_budget(
                self.usage_limits.as_ref(),
                self.usage.as_ref().map(|u| u.current_usage),
            ),
            describe_window(self.usage_limits.as_ref()),
            describe_rate(self.rate_limits.as_ref()),
            or_dash(self.expires_at.as_deref()),
            describe_concurrency(self.concurrency_limit),
        ]
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let row = self.row();
        vec![
            ("provider", row[0].clone()),
            ("name", self.name.clone()),
            ("integration", row[1].clone()),
            ("service", row[2].clone()),
            ("status", row[3].clone()),
            ("budget (used / limit)", row[4].clone()),
            ("resets", row[5].clone()),
            (
                "next reset",
                or_dash(
                    self.usage
                        .as_ref()
                        .and_then(|u| u.next_usage_reset_at.as_deref()),
                ),
            ),
            ("rate limit", row[6].clone()),
            ("concurrency", row[8].clone()),
            ("expires", row[7].clone()),
            ("note", or_dash(self.note.as_deref())),
            ("id", self.id.clone()),
        ]
    }
}
