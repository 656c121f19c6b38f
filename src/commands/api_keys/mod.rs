//! `catalog api-keys ...`

mod create;
mod delete;
mod list;

use clap::Subcommand;

use super::Ctx;
use crate::api::api_key::ApiKey;
use crate::printer::{or_dash, Tabular};

#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// List API keys (of one workspace with --workspace)
    List(list::ListArgs),
    /// Create an API key; the key is shown once
    Create(create::CreateArgs),
    /// Delete an API key (asks for confirmation, or pass --yes)
    Delete(delete::DeleteArgs),
}

pub fn run(ctx: &Ctx, cmd: ApiKeysCommand) -> anyhow::Result<()> {
    match cmd {
        ApiKeysCommand::List(args) => list::run(ctx, args),
        ApiKeysCommand::Create(args) => create::run(ctx, args),
        ApiKeysCommand::Delete(args) => delete::run(ctx, args),
    }
}

impl Tabular for ApiKey {
    fn headers() -> &'static [&'static str] {
        &["NAME", "ID", "TYPE", "WORKSPACE", "KEY", "SCOPES", "STATUS"]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.id.clone(),
            or_dash(self.kind.as_deref()),
            or_dash(self.workspace_id.as_deref()),
            or_dash(self.key.as_deref()),
            self.scopes.join(","),
            or_dash(self.status.as_deref()),
        ]
    }
}
