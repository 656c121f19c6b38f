//! `catalog workspaces ...`

mod create;
mod delete;
mod get;
mod list;
pub mod provision;
mod revoke;
mod update;

use clap::Subcommand;

use super::Ctx;
use crate::api::workspace::Workspace;
use crate::printer::{or_dash, Tabular};

#[derive(Debug, Subcommand)]
pub enum WorkspacesCommand {
    /// List workspaces
    List(list::ListArgs),
    /// Show one workspace
    Get(get::GetArgs),
    /// Create a workspace
    Create(create::CreateArgs),
    /// Change a workspace's name, description or metadata
    Update(update::UpdateArgs),
    /// Delete a workspace (asks for confirmation, or pass --yes)
    Delete(delete::DeleteArgs),
    /// Give workspaces access to an integration, with budgets and rate limits
    Provision(Box<provision::ProvisionArgs>),
    /// Take an integration away from workspaces (their providers are disabled)
    Revoke(revoke::RevokeArgs),
}

pub fn run(ctx: &Ctx, cmd: WorkspacesCommand) -> anyhow::Result<()> {
    match cmd {
        WorkspacesCommand::List(args) => list::run(ctx, args),
        WorkspacesCommand::Get(args) => get::run(ctx, args),
        WorkspacesCommand::Create(args) => create::run(ctx, args),
        WorkspacesCommand::Update(args) => update::run(ctx, args),
        WorkspacesCommand::Delete(args) => delete::run(ctx, args),
        WorkspacesCommand::Provision(args) => provision::run(ctx, *args),
        WorkspacesCommand::Revoke(args) => revoke::run(ctx, args),
    }
}

impl Tabular for Workspace {
    fn headers() -> &'static [&'static str] {
        &["NAME", "SLUG", "ID", "DESCRIPTION", "CREATED"]
    }

    /// At 80 columns: without the id and the creation time.
    fn optional_columns() -> &'static [usize] {
        &[2, 4]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.slug.clone(),
            self.id.clone(),
            or_dash(self.description.as_deref()),
            or_dash(self.created_at.as_deref()),
        ]
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let metadata = self
            .defaults
            .as_ref()
            .and_then(|d| d.metadata.as_ref())
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
        vec![
            ("name", self.name.clone()),
            ("slug", self.slug.clone()),
            ("id", self.id.clone()),
            ("description", or_dash(self.description.as_deref())),
            ("metadata", or_dash(metadata.as_deref())),
            ("status", or_dash(self.status.as_deref())),
            ("created_at", or_dash(self.created_at.as_deref())),
            ("last_updated_at", or_dash(self.last_updated_at.as_deref())),
        ]
    }
}
