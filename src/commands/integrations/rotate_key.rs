use clap::Args;
use serde_json::{Map, Value};

use super::config_args::secret_of;
use crate::api::integration::UpdateIntegration;
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::secret_input::KeyArgs;
use crate::services::Secret;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct RotateKeyArgs {
    /// Integration slug
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::integrations))]
    pub slug: Slug,

    #[command(flatten)]
    pub key: KeyArgs,
}

pub fn run(ctx: &Ctx, args: RotateKeyArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let current = client.get_integration(args.slug.as_str())?;
    let config = current.configurations.clone().unwrap_or_default();
    // The stored secret to replace: `key`, or the setting that holds it.
    let field = match secret_of(&current.ai_provider_id, &config) {
        Secret::Key => None,
        Secret::OptionalKey if current.masked_key.is_some() => None,
        Secret::Field(field) => Some(field),
        Secret::OptionalKey | Secret::None => {
            return Err(CliError::usage(format!(
                "integration `{}` ({}) holds no key to rotate",
                current.slug, current.ai_provider_id
            ))
            .into())
        }
    };
    let secret = args.key.read_or_prompt(&ctx.settings, &ctx.prompter())?;
    let mut body = UpdateIntegration::default();
    match field {
        Some(field) => {
            let mut c = Map::new();
            c.insert(field.to_owned(), Value::String(secret));
            body.configurations = Some(c);
        }
        None => body.key = Some(secret),
    }
    let updated = client.update_integration(&current.slug, &body)?;
    ctx.printer()
        .status(format!("rotated the key of integration `{}`", updated.slug));
    ctx.printer().one(&updated)
}
