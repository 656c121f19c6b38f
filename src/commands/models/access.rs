use clap::Args;

use crate::api::models::{BulkUpdateModels, ModelAccessList, ModelUpdate};
use crate::commands::Ctx;
use crate::exit::{fail, CliError, ErrorKind};
use crate::types::AtSlug;

#[derive(Debug, Args)]
pub struct AllowArgs {
    /// The integration (`@slug`), or a provider of --workspace
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::at_integrations))]
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
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::at_integrations))]
    pub integration: AtSlug,

    /// Models to disable
    #[arg(required = true)]
    pub models: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The integration (`@slug`), or a provider of --workspace
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::at_integrations))]
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

/// An allow-list of exactly `only`: everything else enabled before is switched off.
pub fn only_body(current: &ModelAccessList, only: &[String]) -> BulkUpdateModels {
    let mut models = updates(only, true);
    for m in current
        .models
        .iter()
        .filter(|m| m.enabled == Some(true) && !only.contains(&m.slug))
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
}

/// Whether `body` would leave the integration's models as they are.
pub fn changes_nothing(current: &ModelAccessList, body: &BulkUpdateModels) -> bool {
    let allow_all_same = body
        .allow_all_models
        .is_none_or(|a| current.allow_all_models.unwrap_or(true) == a);
    allow_all_same
        && body.models.iter().all(|u| {
            current
                .models
                .iter()
                .any(|m| m.slug == u.slug && m.enabled == Some(u.enabled))
                && u.pricing_config.is_absent()
                && u.configurations.is_none()
        })
}

pub fn allow(ctx: &Ctx, args: AllowArgs) -> anyhow::Result<()> {
    let integration = super::resolve_integration(ctx, args.integration.as_str())?;
    let body = if args.all {
        BulkUpdateModels {
            models: Vec::new(),
            allow_all_models: Some(true),
        }
    } else if !args.only.is_empty() {
        if !args.custom {
            super::check_known(&integration.ai_provider_id, &args.only)?;
        }
        only_body(&ctx.client()?.models(&integration.slug)?, &args.only)
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
    let changed = if args.only.is_empty() {
        args.models
    } else {
        args.only
    };
    super::list::print_changed(ctx, &integration.slug, &changed)
}

pub fn deny(ctx: &Ctx, args: DenyArgs) -> anyhow::Result<()> {
    let integration = super::resolve_integration(ctx, args.integration.as_str())?;
    // A typo would disable nothing and leave the model callable: a model the
    // integration does not list must be one the registry knows.
    let listed = ctx.client()?.models(&integration.slug)?;
    let unlisted: Vec<String> = args
        .models
        .iter()
        .filter(|m| !listed.models.iter().any(|l| l.slug.eq_ignore_ascii_case(m)))
        .cloned()
        .collect();
    super::check_known_or(
        &integration.ai_provider_id,
        &unlisted,
        "`catalog models list --integration INTEGRATION` lists its models",
    )?;
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
    super::list::print_changed(ctx, &integration.slug, &args.models)
}

pub fn remove(ctx: &Ctx, args: RemoveArgs) -> anyhow::Result<()> {
    let integration = super::resolve_integration(ctx, args.integration.as_str())?;
    let client = ctx.client()?;
    let current = client.models(&integration.slug)?;
    let registry = crate::registry::Registry::builtin();
    // What happens to each model, said before asking: custom models go (with their
    // settings); built-in ones are disabled and keep their price override.
    let mut what = Vec::new();
    for slug in &args.models {
        let stored = current.models.iter().find(|m| &m.slug == slug);
        let custom =
            stored.is_some_and(|m| m.is_custom == Some(true) || m.is_finetune == Some(true));
        let known = registry.find(&integration.ai_provider_id, slug).is_some();
        what.push(match (stored, custom, known) {
            (Some(m), true, _) => format!(
                "remove custom model `{slug}`{}",
                if m.pricing_config.is_some() {
                    " and its price"
                } else {
                    ""
                }
            ),
            (Some(m), false, _) if m.pricing_config.is_some() => {
                format!("disable built-in `{slug}` (its price override is kept)")
            }
            (Some(_), false, _) | (None, _, true) => format!("disable built-in `{slug}`"),
            (None, _, false) => {
                return Err(fail(
                    ErrorKind::NotFound,
                    format!("`{slug}` is not a model of `{}`", integration.slug),
                    Some(&format!(
                        "list them with `catalog models list --integration {}`",
                        integration.slug
                    )),
                ))
            }
        });
    }
    ctx.prompter().confirm_destructive(&format!(
        "On `{}`: {}?",
        integration.slug,
        what.join("; ")
    ))?;
    client.delete_models(&integration.slug, &args.models)?;
    ctx.printer()
        .status(format!("on `{}`: {}", integration.slug, what.join("; ")));
    super::list::print_changed(ctx, &integration.slug, &args.models)
}
