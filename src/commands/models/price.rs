use clap::Args;

use super::add::pricing;
use crate::api::models::{BulkUpdateModels, ModelUpdate};
use crate::api::Patch;
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::types::{parse_price, ModelRef};

#[derive(Debug, Args)]
pub struct PriceArgs {
    /// `@integration/model` (or a provider of --workspace)
    pub model: ModelRef,

    /// Input price, USD per 1M tokens
    #[arg(long = "input-price", value_name = "USD", value_parser = parse_price, allow_negative_numbers = true)]
    pub input_price: Option<f64>,

    /// Output price, USD per 1M tokens
    #[arg(long = "output-price", value_name = "USD", value_parser = parse_price, allow_negative_numbers = true)]
    pub output_price: Option<f64>,

    /// Cached input price, USD per 1M tokens
    #[arg(long = "cache-read-price", value_name = "USD", value_parser = parse_price, allow_negative_numbers = true)]
    pub cache_read_price: Option<f64>,

    /// Price a model the built-in registry does not know for the service
    #[arg(long)]
    pub custom: bool,

    /// Drop the override and use the registry's price again
    #[arg(long, conflicts_with_all = ["input_price", "output_price", "cache_read_price"])]
    pub reset: bool,
}

pub fn run(ctx: &Ctx, args: PriceArgs) -> anyhow::Result<()> {
    let override_ = pricing(args.input_price, args.output_price, args.cache_read_price);
    if override_.is_none() && !args.reset {
        return Err(CliError::usage(
            "pass --input-price, --output-price or --cache-read-price (USD per 1M tokens), or --reset",
        )
        .into());
    }
    let integration = super::resolve_integration(ctx, &args.model.provider)?;
    let client = ctx.client()?;
    // Keep the model's enabled state as it is.
    let current = client.models(&integration.slug)?;
    // A typo must not create a phantom model: the model is on the integration already,
    // or the registry knows it, or --custom insists.
    let on_integration = current.models.iter().any(|m| m.slug == args.model.model);
    if !on_integration && !args.custom {
        super::check_known(
            &integration.ai_provider_id,
            std::slice::from_ref(&args.model.model),
        )?;
    }
    let enabled = current
        .models
        .iter()
        .find(|m| m.slug == args.model.model)
        .and_then(|m| m.enabled)
        .unwrap_or(current.allow_all_models.unwrap_or(true));
    let body = BulkUpdateModels {
        models: vec![ModelUpdate {
            slug: args.model.model.clone(),
            enabled,
            pricing_config: override_.map_or(Patch::Null, Patch::Value),
            ..Default::default()
        }],
        allow_all_models: None,
    };
    client.put_models(&integration.slug, &body)?;
    ctx.printer().status(if args.reset {
        format!(
            "`{}` on `{}` uses the registry's price again",
            args.model.model, integration.slug
        )
    } else {
        format!(
            "set the price of `{}` on `{}`",
            args.model.model, integration.slug
        )
    });
    super::list::print_changed(ctx, &integration.slug, &[args.model.model])
}
