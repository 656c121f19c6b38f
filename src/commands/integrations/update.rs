use clap::Args;

use super::config_args::{merge_deployments, ConfigArgs};
use crate::api::integration::UpdateIntegration;
use crate::api::Patch;
use crate::commands::dry_run::{self, PlannedRequest};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::limit_args::{BudgetArgs, ClearBudgetArgs};
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Integration slug (slugs never change)
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::integrations))]
    pub slug: Slug,

    /// New display name
    #[arg(long, value_parser = crate::types::parse_name)]
    pub name: Option<String>,

    /// New description
    #[arg(long, value_parser = crate::types::parse_description, conflicts_with = "clear_description")]
    pub description: Option<String>,

    /// Remove the description
    #[arg(long)]
    pub clear_description: bool,

    /// Multiply every price of this integration's models (0.8 = a negotiated 20% discount)
    #[arg(long, value_name = "FACTOR", value_parser = crate::types::parse_multiplier, allow_negative_numbers = true, conflicts_with = "clear_price_multiplier")]
    pub price_multiplier: Option<f64>,

    /// Remove the price multiplier
    #[arg(long)]
    pub clear_price_multiplier: bool,

    /// Remove the Azure deployment with this alias (or model, or deployment name); repeatable
    #[arg(long, value_name = "ALIAS")]
    pub remove_azure_deployment: Vec<String>,

    /// Show the request that would be made and write nothing
    #[arg(long)]
    pub dry_run: bool,

    // The integration's own budget, across every workspace (an extension of the Admin API).
    #[command(flatten)]
    pub budget: BudgetArgs,

    #[command(flatten)]
    pub clear: ClearBudgetArgs,

    /// Provider settings to change; settings not given stay as they are. `--azure-deployment`
    /// adds a deployment or replaces the one with the same alias (or model)
    #[command(flatten)]
    pub config: ConfigArgs,
}

pub fn run(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    // `--config` is checked against every service's secrets here; the integration (and
    // so its service) is read only when settings change.
    let mut configurations = args.config.collect(&ctx.settings, None)?;
    let changes_settings = !configurations.is_empty() || !args.remove_azure_deployment.is_empty();
    // Budget flags change the fields they name: the rest of the budget stays as it is.
    let current = match changes_settings || args.budget.any() {
        true => Some(ctx.client()?.get_integration(args.slug.as_str())?),
        false => None,
    };
    let usage_limits = if args.clear.clear_budget {
        Patch::Null
    } else if args.budget.any() {
        let stored = current
            .as_ref()
            .and_then(|c| c.usage_limits.as_ref())
            .and_then(|u| u.first());
        args.budget
            .merge(stored)?
            .map_or(Patch::Null, |u| Patch::Value(vec![u]))
    } else {
        Patch::Absent
    };
    let service = current
        .as_ref()
        .and_then(|c| crate::services::find(&c.ai_provider_id));
    if !args.config.azure_deployments.is_empty() || !args.remove_azure_deployment.is_empty() {
        let stored = current
            .as_ref()
            .and_then(|c| c.configurations.as_ref())
            .and_then(|c| c.get("azure_deployment_config"));
        configurations.insert(
            "azure_deployment_config".into(),
            merge_deployments(
                stored,
                &args.config.azure_deployments,
                &args.remove_azure_deployment,
            )?,
        );
    }
    let body = UpdateIntegration {
        name: args.name,
        description: if args.clear_description {
            Patch::Null
        } else {
            args.description.into()
        },
        configurations: (!configurations.is_empty()).then_some(configurations),
        pricing_adjustments: match (args.price_multiplier, args.clear_price_multiplier) {
            (_, true) => Patch::Null,
            (Some(f), false) => Patch::Value(serde_json::json!({"multiplier": {"default": f}})),
            (None, false) => Patch::Absent,
        },
        usage_limits,
        ..Default::default()
    };
    if body.name.is_none()
        && body.description.is_absent()
        && body.configurations.is_none()
        && body.pricing_adjustments.is_absent()
        && body.usage_limits.is_absent()
    {
        return Err(CliError::usage("nothing to update")
            .with_hint("pass --name, --description, --clear-description, --budget, --clear-budget or provider settings; to replace the key use `catalog integrations rotate-key`")
            .into());
    }
    if args.dry_run {
        let path = format!("/v1/integrations/{}", args.slug);
        return dry_run::show(
            ctx,
            &[PlannedRequest::integration(
                "PUT",
                path,
                serde_json::to_value(&body)?,
                service,
                &args.config.secret_keys(),
            )],
        );
    }
    let updated = ctx
        .client()?
        .update_integration(args.slug.as_str(), &body)?;
    ctx.printer()
        .status(format!("updated integration `{}`", updated.slug));
    ctx.printer().one(&updated)
}
