//! `catalog integrations ...`

mod config_args;
mod connect;
mod delete;
mod get;
mod list;
mod rotate_key;
mod update;
mod workspaces;

pub use config_args::ServiceParser;

use clap::Subcommand;

use super::Ctx;
use crate::api::integration::Integration;
use crate::limit_args::{describe_limit, describe_window};
use crate::printer::{or_dash, Tabular};

#[derive(Debug, Subcommand)]
pub enum IntegrationsCommand {
    /// List integrations
    List(list::ListArgs),
    /// Show one integration (secrets masked)
    Get(get::GetArgs),
    /// Connect a provider: service, credentials, configuration, name and scope
    Connect(Box<connect::ConnectArgs>),
    /// Change an integration's name, description, configuration or budget
    Update(Box<update::UpdateArgs>),
    /// Replace an integration's provider key
    RotateKey(rotate_key::RotateKeyArgs),
    /// Delete an integration (asks for confirmation, or pass --yes)
    Delete(delete::DeleteArgs),
    /// Show which workspaces may use an integration, their limits, usage and next reset
    Workspaces(workspaces::WorkspacesArgs),
}

pub fn run(ctx: &Ctx, cmd: IntegrationsCommand) -> anyhow::Result<()> {
    match cmd {
        IntegrationsCommand::List(args) => list::run(ctx, args),
        IntegrationsCommand::Get(args) => get::run(ctx, args),
        IntegrationsCommand::Connect(args) => connect::run(ctx, *args),
        IntegrationsCommand::Update(args) => update::run(ctx, *args),
        IntegrationsCommand::RotateKey(args) => rotate_key::run(ctx, args),
        IntegrationsCommand::Delete(args) => delete::run(ctx, args),
        IntegrationsCommand::Workspaces(args) => workspaces::run(ctx, args),
    }
}

fn scope(i: &Integration) -> String {
    match (&i.kind, &i.workspace_id) {
        (_, Some(ws)) => format!("workspace {ws}"),
        (Some(k), None) => k.clone(),
        (None, None) => "organisation".to_owned(),
    }
}

impl Tabular for Integration {
    fn headers() -> &'static [&'static str] {
        &["SLUG", "NAME", "SERVICE", "SCOPE", "KEY", "STATUS"]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.slug.clone(),
            self.name.clone(),
            self.ai_provider_id.clone(),
            scope(self),
            or_dash(self.masked_key.as_deref()),
            or_dash(self.status.as_deref()),
        ]
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let configurations = self
            .configurations
            .as_ref()
            .filter(|c| !c.is_empty())
            .map(|c| serde_json::to_string_pretty(c).unwrap_or_default());
        let budget = self.usage_limits.as_ref().and_then(|u| u.first());
        vec![
            ("slug", self.slug.clone()),
            ("name", self.name.clone()),
            ("id", self.id.clone()),
            ("service", self.ai_provider_id.clone()),
            ("scope", scope(self)),
            ("description", or_dash(self.description.as_deref())),
            ("key", or_dash(self.masked_key.as_deref())),
            ("configurations", or_dash(configurations.as_deref())),
            ("budget (all workspaces)", describe_limit(budget)),
            ("resets", describe_window(budget)),
            ("status", or_dash(self.status.as_deref())),
            ("created_at", or_dash(self.created_at.as_deref())),
            ("last_updated_at", or_dash(self.last_updated_at.as_deref())),
        ]
    }
}
