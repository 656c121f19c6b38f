use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::api::api_key::{CreateApiKey, KeyKind};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::files::write_private;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyType {
    Organisation,
    Workspace,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SubType {
    Service,
    User,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Key name
    #[arg(value_parser = crate::types::parse_name)]
    pub name: String,

    /// Organisation (admin) key, or a key pinned to the workspace given by --workspace
    #[arg(long = "type", value_enum, default_value = "workspace")]
    pub kind: KeyType,

    /// Service key, or a user key (needs --user-id)
    #[arg(long, value_enum, default_value = "service")]
    pub sub_type: SubType,

    /// Scope granted to the key (repeatable), e.g. completions.write
    #[arg(long = "scope", value_name = "SCOPE", required = true)]
    pub scopes: Vec<String>,

    /// User the key belongs to (user keys)
    #[arg(long)]
    pub user_id: Option<String>,

    /// Description
    #[arg(long, value_parser = crate::types::parse_description)]
    pub description: Option<String>,

    /// Expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future
    #[arg(long, value_name = "DATE", value_parser = crate::types::parse_expiry)]
    pub expires: Option<String>,

    /// Write the new key to this file (0600) instead of standard output
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<()> {
    let kind = match (args.kind, args.sub_type) {
        (KeyType::Organisation, SubType::Service) => KeyKind::OrganisationService,
        (KeyType::Workspace, SubType::Service) => KeyKind::WorkspaceService,
        (KeyType::Workspace, SubType::User) => KeyKind::WorkspaceUser,
        (KeyType::Organisation, SubType::User) => {
            return Err(CliError::usage("organisation keys are service keys only")
                .with_hint("use `--type workspace --sub-type user` for a user key")
                .into())
        }
    };
    let workspace = ctx.workspace()?;
    if kind.is_workspace() && workspace.is_none() {
        return Err(crate::prompt::missing(
            "the workspace of the key",
            "--workspace",
        ));
    }
    let body = CreateApiKey {
        name: args.name,
        scopes: args.scopes,
        workspace_id: workspace.filter(|_| kind.is_workspace()).map(|w| w.id),
        user_id: args.user_id,
        description: args.description,
        expires_at: args.expires,
        ..Default::default()
    };
    let created = ctx.client()?.create_api_key(kind, &body)?;
    let printer = ctx.printer();
    match &args.key_file {
        Some(path) => {
            write_private(path, &format!("{}\n", created.key))?;
            printer.status(format!(
                "created API key `{}` ({}); the key is in {}",
                body.name,
                created.id,
                path.display()
            ));
            if printer.is_json() {
                printer.data(&serde_json::json!({"id": created.id, "object": created.object}))?;
            }
        }
        None => {
            printer.status(format!(
                "created API key `{}` ({}); it is shown once, store it now",
                body.name, created.id
            ));
            if printer.format == crate::printer::OutputFormat::Table {
                printer.raw(&created.key);
            } else {
                printer.data(&created)?;
            }
        }
    }
    Ok(())
}
