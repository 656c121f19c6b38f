//! `catalog models ...`: which models each integration exposes, custom models and prices,
//! and the Model Garden: every model a workspace can call, with limits, prices and snippets.
//!
//! Prices on the command line are USD per 1M tokens; the API's `pricing_config` is USD
//! cents per token, converted here.

pub mod access;
mod add;
mod list;
mod price;
mod show;
pub mod snippets;
mod test;

use clap::Subcommand;

use super::Ctx;
use crate::api::integration::Integration;
use crate::exit::{fail, ErrorKind};
use crate::registry::Registry;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Enable models on an integration (`--only` switches it to an allow-list, `--all` to every model)
    Allow(access::AllowArgs),
    /// Disable models on an integration
    Deny(access::DenyArgs),
    /// Add a custom or fine-tuned model to an integration
    Add(Box<add::AddArgs>),
    /// Remove a custom model (a built-in model is disabled instead)
    Remove(access::RemoveArgs),
    /// Override a model's price (USD per 1M tokens), or --reset to the registry's
    Price(price::PriceArgs),
    /// The Model Garden: every model a workspace can call; or one integration's models with --integration
    List(list::ListArgs),
    /// One model's details and ready-to-use code calling it
    Show(show::ShowArgs),
    /// Call a model through the gateway as a workspace would, and show what answered
    Test(test::TestArgs),
}

pub fn run(ctx: &Ctx, cmd: ModelsCommand) -> anyhow::Result<()> {
    match cmd {
        ModelsCommand::Allow(args) => access::allow(ctx, args),
        ModelsCommand::Deny(args) => access::deny(ctx, args),
        ModelsCommand::Add(args) => add::run(ctx, *args),
        ModelsCommand::Remove(args) => access::remove(ctx, args),
        ModelsCommand::Price(args) => price::run(ctx, args),
        ModelsCommand::List(args) => list::run(ctx, args),
        ModelsCommand::Show(args) => show::run(ctx, args),
        ModelsCommand::Test(args) => test::run(ctx, args),
    }
}

/// `@x` names an integration; if it names a workspace provider instead, its integration
/// is used, and the user is told.
pub fn resolve_integration(ctx: &Ctx, name: &str) -> anyhow::Result<Integration> {
    let client = ctx.client()?;
    match client.get_integration(name) {
        Ok(i) => return Ok(i),
        Err(e) if crate::client::is_missing(&e) => {}
        Err(e) => return Err(e),
    }
    if let Some(ws) = ctx.workspace()? {
        if let Ok(p) = client.get_provider(&ws.id, name) {
            ctx.printer().status(format!(
                "`@{name}` is an AI provider in `{}`; acting on its integration `{}`",
                ws.slug, p.integration_id
            ));
            return client.get_integration(&p.integration_id);
        }
    }
    Err(fail(
        ErrorKind::NotFound,
        format!("no integration `{name}`"),
        Some("list them with `catalog integrations list`; to name a workspace's provider, add --workspace"),
    ))
}

/// Refuses model slugs the registry does not know for the service, suggesting the closest.
pub fn check_known(service: &str, slugs: &[String]) -> anyhow::Result<()> {
    check_known_or(
        service,
        slugs,
        "pass --custom to enable a model the registry does not know",
    )
}

/// [`check_known`], with `otherwise` saying what to do about a model the registry does
/// not know.
pub fn check_known_or(service: &str, slugs: &[String], otherwise: &str) -> anyhow::Result<()> {
    let registry = Registry::builtin();
    if registry.models(service).is_empty() {
        return Ok(());
    }
    for slug in slugs {
        if registry.find(service, slug).is_none() {
            let near = registry.suggest(service, slug, 3);
            let hint = if near.is_empty() {
                otherwise.to_owned()
            } else {
                format!(
                    "did you mean {}? {otherwise}",
                    near.iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(fail(
                ErrorKind::Usage,
                format!("`{slug}` is not a known `{service}` model"),
                Some(&hint),
            ));
        }
    }
    Ok(())
}
