use clap::Args;

use crate::api::configs::{CreateConfig, Flag};
use crate::commands::dry_run::{self, PlannedRequest};
use crate::commands::Ctx;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Display name
    #[arg(long, value_parser = crate::types::parse_name)]
    pub name: String,

    /// The config as a JSON file; `-` reads stdin
    #[arg(long, value_name = "PATH")]
    pub file: String,

    /// Make it the workspace's default config
    #[arg(long)]
    pub default: bool,

    /// Show the request that would be made and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<()> {
    let config = super::read_config(&args.file)?;
    let ws = crate::commands::providers::workspace(ctx)?;
    let body = CreateConfig {
        name: args.name,
        config,
        is_default: args.default.then_some(Flag(true)),
        workspace_id: Some(ws.id.clone()),
    };
    if args.dry_run {
        return dry_run::show(
            ctx,
            &[PlannedRequest::new(
                "POST",
                "/v1/configs",
                Some(serde_json::to_value(&body)?),
            )],
        );
    }
    let created = ctx.client()?.create_config(&body)?;
    ctx.printer().status(format!(
        "saved config `{}` in `{}`; send it as the header `x-portkey-config: {}`",
        created.slug, ws.slug, created.slug
    ));
    ctx.printer().one(&created)
}
