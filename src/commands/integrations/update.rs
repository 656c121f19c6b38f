use clap::Args;

use super::config_args::ConfigArgs;
use crate::api::integration::UpdateIntegration;
use crate::api::Patch;
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Integration slug (slugs never change)
    pub slug: Slug,

    /// New display name
    #[arg(long)]
    pub name: Option<String>,

    /// New description
    #[arg(long, conflicts_with = "clear_description")]
    pub description: Option<String>,

    /// Remove the description
    #[arg(long)]
    pub clear_description: bool,

    /// Provider settings to change; settings not given stay as they are
    #[command(flatten)]
    pub config: ConfigArgs,
}

pub fn run(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    let configurations = args.config.collect(&ctx.settings)?;
    let body = UpdateIntegration {
        name: args.name,
        description: if args.clear_description {
            Patch::Null
        } else {
            args.description.into()
        },
        configurations: (!configurations.is_empty()).then_some(configurations),
        ..Default::default()
    };
    if body.name.is_none() && body.description.is_absent() && body.configurations.is_none() {
        return Err(CliError::usage("nothing to update")
            .with_hint("pass --name, --description, --clear-description or provider settings; to replace the key use `catalog integrations rotate-key`")
            .into());
    }
    let updated = ctx.client()?.update_integration(&args.slug.0, &body)?;
    ctx.printer()
        .status(format!("updated integration `{}`", updated.slug));
    ctx.printer().one(&updated)
}
