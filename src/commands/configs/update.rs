use clap::Args;

use crate::api::configs::{ConfigStatus, Flag, UpdateConfig};
use crate::client::configs::config_path;
use crate::commands::dry_run::{self, PlannedRequest};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Config slug (`pc-...`) or id
    pub slug: Slug,

    /// New display name
    #[arg(long, value_parser = crate::types::parse_name)]
    pub name: Option<String>,

    /// The new config as a JSON file (`-` reads stdin); a changed config is a new version
    #[arg(long, value_name = "PATH")]
    pub file: Option<String>,

    /// Make it the workspace's default config
    #[arg(long)]
    pub default: bool,

    /// `archived` keeps the config but the gateway stops using it; `active` restores it
    #[arg(long, value_parser = ["active", "archived"])]
    pub status: Option<String>,

    /// Show the request that would be made and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    let config = args.file.as_deref().map(super::read_config).transpose()?;
    let body = UpdateConfig {
        name: args.name,
        config,
        status: args.status.as_deref().map(|s| match s {
            "archived" => ConfigStatus::Archived,
            _ => ConfigStatus::Active,
        }),
        is_default: args.default.then_some(Flag(true)),
    };
    if body.name.is_none()
        && body.config.is_none()
        && body.is_default.is_none()
        && body.status.is_none()
    {
        return Err(CliError::usage("nothing to update")
            .with_hint("pass --name, --file, --default or --status")
            .into());
    }
    if args.dry_run {
        let path = format!("/v1{}", config_path(args.slug.as_str()));
        return dry_run::show(
            ctx,
            &[PlannedRequest::new(
                "PUT",
                path,
                Some(serde_json::to_value(&body)?),
            )],
        );
    }
    let client = ctx.client()?;
    let before = client.get_config(args.slug.as_str())?;
    let updated = client.update_config(args.slug.as_str(), &body)?;
    let versioned = if updated.version_id != before.version_id {
        " (a new version)"
    } else {
        ""
    };
    ctx.printer()
        .status(format!("updated config `{}`{versioned}", updated.slug));
    ctx.printer().one(&updated)
}
