use clap::Args;

use crate::api::models::{BulkUpdateModels, ModelUpdate};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::types::AtSlug;

#[derive(Debug, Args)]
pub struct AllowArgs {
    /// The integration (`@slug`), or a provider of --workspace
    pub integration: AtSlug,

    /// Models to enable
    pub models: Vec<String>,

    /// Enable every model of the service (turns the allow-list off)
    #[arg(long, conflicts_with_all = ["models", "only"])]
    pub all: bool,

    /// Switch to an allow-list of exactly these models (comma-separated)
    #[arg(long, value_delimiter = ',', conflicts_with = "models")]
    pub only: Vec<String>,

    /// Accept models the built-in registry does not know
    #[arg(long)]
    pub custom: bool,
}

#[derive(Debug, Args)]
pub struct DenyArgs {
    /// The integration (`@slug`), or a provider of --workspace
    pub integration: AtSlug,

    /// Models to disable
    #[arg(required = true)]
    pub models: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The integration (`@slug`), or a provider of --workspace
    pub integration: AtSlug,

    /// Custom models to remove (built-in ones are disabled)
    #[arg(required = true)]
    pub models: Vec<String>,
}

fn updates(models: &[String], enabled: bool) -> Vec<ModelUpdate> {
    models
        .iter()
        .map(|slug| ModelUpdate {
            slug: slug.clone(),
            enabled,
            ..Default::default()
        })
        .collect()
}

pub fn allow(ctx: &Ctx, args: AllowArgs) -> anyhow::Result<()> {
    let integration = super::resolve_integration(ctx, &args.integration.0)?;
    let body = if args.all {
        BulkUpdateModels {
            models: Vec::new(),
            allow_all_models: Some(true),
        }
    } else if !args.only.is_empty() {
        if !args.custom {
            super::check_known(&integration.ai_provider_id, &args.only)?;
        }
        // Exactly these: everything else enabled before is switched off.
        let current = ctx.client()?.models(&integration.slug)?;
        let mut models = updates(&args.only, true);
        for m in current
            .models
            .iter()
            .filter(|m| m.enabled == Some(true) && !args.only.contains(&m.slug))
        {
            models.push(ModelUpdate {
                slug: m.slug.clone(),
                enabled: false,
                ..Default::default()
            });
        }
        BulkUpdateModels {
            models,
            allow_all_models: Some(false),
        }
    } else if args.models.is_empty() {
        return Err(CliError::usage("name the models to enable, or pass --all or --only").into());
    } else {
        if !args.custom {
            super::check_known(&integration.ai_provider_id, &args.models)?;
        }
        BulkUpdateModels {
            models: updates(&args.models, true),
            allow_all_models: None,
        }
    };
    ctx.client()?.put_models(&integration.slug, &body)?;
    ctx.printer()
        .status(match (&body.allow_all_models, args.all) {
            (_, true) => format!(
                "`{}` now allows every {} model",
                integration.slug, integration.ai_provider_id
            ),
            (Some(false), _) => format!(
                "`{}` now allows only: {}",
                integration.slug,
                args.only.join(", ")
            ),
            _ => format!(
                "enabled {} on `{}`",
                args.models.join(", "),
                integration.slug
            ),
        });
    super::list::print_integration_models(ctx, &integration.slug)
}

pub fn deny(ctx: &Ctx, args: DenyArgs) -> anyhow::Result<()> {
    let integration = super::resolve_integration(ctx, &args.integration.0)?;
    ctx.client()?.put_models(
        &integration.slug,
        &BulkUpdateModels {
            models: updates(&args.models, false),
            allow_all_models: None,
        },
    )?;
    ctx.printer().status(format!(
        "disabled {} on `{}`",
        args.models.join(", "),
        integration.slug
    ));
    super::list::print_integration_models(ctx, &integration.slug)
}

pub fn remove(ctx: &Ctx, args: RemoveArgs) -> anyhow::Result<()> {
    let integration = super::resolve_integration(ctx, &args.integration.0)?;
    ctx.prompter().confirm_destructive(&format!(
        "Remove {} from `{}`?",
        args.models.join(", "),
        integration.slug
    ))?;
    ctx.client()?
        .delete_models(&integration.slug, &args.models)?;
    ctx.printer().status(format!(
        "removed {} from `{}`",
        args.models.join(", "),
        integration.slug
    ));
    super::list::print_integration_models(ctx, &integration.slug)
}
