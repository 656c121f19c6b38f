use clap::Args;
use serde_json::{Map, Value};

use super::config_args::{needs_secret, secret_field};
use crate::api::integration::UpdateIntegration;
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::secret_input::KeyArgs;
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
    let current = client.get_integration(&args.slug.0)?;
    let config = current.configurations.clone().unwrap_or_default();
    if !needs_secret(&current.ai_provider_id, &config) {
        return Err(CliError::usage(format!(
            "integration `{}` ({}) holds no key to rotate",
            current.slug, current.ai_provider_id
        ))
        .into());
    }
    let secret = args.key.read_or_prompt(&ctx.settings, ctx.prompter())?;
    let mut body = UpdateIntegration::default();
    match secret_field(&current.ai_provider_id, &config) {
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
