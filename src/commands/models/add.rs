use clap::Args;

use crate::api::models::{
    usd_per_mtok_to_cents_per_token, BulkUpdateModels, ModelConfigurations, ModelUpdate,
    PayAsYouGo, Price, PricingConfig,
};
use crate::api::Patch;
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::secret_input::HeaderArgs;
use crate::types::{parse_price, AtSlug};

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The integration (`@slug`), or a provider of --workspace
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::at_integrations))]
    pub integration: AtSlug,

    /// The model's id, as callers will name it (e.g. ft:gpt-4o:acme)
    pub slug: String,

    /// A fine-tuned model (needs --base)
    #[arg(long)]
    pub finetune: bool,

    /// The API-compatible model it is based on (its limits apply)
    #[arg(long, value_name = "MODEL")]
    pub base: Option<String>,

    /// Input price, USD per 1M tokens
    #[arg(long, value_name = "USD", value_parser = parse_price, allow_negative_numbers = true)]
    pub input_price: Option<f64>,

    /// Output price, USD per 1M tokens
    #[arg(long, value_name = "USD", value_parser = parse_price, allow_negative_numbers = true)]
    pub output_price: Option<f64>,

    /// Where this model is served, if not the integration's host
    #[arg(long, value_name = "URL", value_parser = crate::types::parse_http_url)]
    pub custom_host: Option<String>,

    /// Headers sent with requests to this model (stored sealed)
    #[command(flatten)]
    pub headers: HeaderArgs,
}

/// A `pricing_config` from USD per 1M tokens.
pub fn pricing(
    input: Option<f64>,
    output: Option<f64>,
    cache_read: Option<f64>,
) -> Option<PricingConfig> {
    if input.is_none() && output.is_none() && cache_read.is_none() {
        return None;
    }
    let price = |usd: Option<f64>| {
        usd.map(|u| Price {
            price: usd_per_mtok_to_cents_per_token(u),
        })
    };
    Some(PricingConfig {
        kind: "static".to_owned(),
        pay_as_you_go: PayAsYouGo {
            request_token: price(input),
            response_token: price(output),
            cache_read_input_token: price(cache_read),
        },
    })
}

pub fn run(ctx: &Ctx, args: AddArgs) -> anyhow::Result<()> {
    if args.finetune && args.base.is_none() {
        return Err(CliError::usage(
            "a fine-tuned model needs `--base MODEL`, the model it was tuned from",
        )
        .into());
    }
    let integration = super::resolve_integration(ctx, args.integration.as_str())?;
    if crate::registry::Registry::builtin()
        .find(&integration.ai_provider_id, &args.slug)
        .is_some()
    {
        return Err(CliError::usage(format!(
            "`{}` is a built-in `{}` model, not a custom one",
            args.slug, integration.ai_provider_id
        ))
        .with_hint(format!(
            "enable it with `catalog models allow @{i} {m}`; set its price with `catalog models price @{i}/{m} --input-price USD --output-price USD`",
            i = integration.slug,
            m = args.slug
        ))
        .into());
    }
    if let Some(base) = &args.base {
        super::check_known(&integration.ai_provider_id, std::slice::from_ref(base))?;
    }
    let headers = args.headers.collect(&ctx.settings)?;
    let configurations =
        (args.custom_host.is_some() || !headers.is_empty()).then(|| ModelConfigurations {
            custom_host: args.custom_host.clone(),
            custom_headers: (!headers.is_empty()).then_some(headers),
            masked_custom_headers: None,
        });
    let body = BulkUpdateModels {
        models: vec![ModelUpdate {
            slug: args.slug.clone(),
            enabled: true,
            is_custom: Some(!args.finetune),
            is_finetune: Some(args.finetune),
            base_model_slug: args.base.clone(),
            configurations,
            pricing_config: pricing(args.input_price, args.output_price, None)
                .map_or(Patch::Absent, Patch::Value),
        }],
        allow_all_models: None,
    };
    ctx.client()?.put_models(&integration.slug, &body)?;
    ctx.printer().status(format!(
        "added {} model `{}` to `{}`",
        if args.finetune {
            "fine-tuned"
        } else {
            "custom"
        },
        args.slug,
        integration.slug
    ));
    super::list::print_changed(ctx, &integration.slug, &[args.slug])
}
