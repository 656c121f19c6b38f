use clap::Args;

use super::get::parse_provider_slug;
use crate::api::provider::{OneOrMany, UpdateProvider};
use crate::api::Patch;
use crate::client::provisioning::provider_path;
use crate::commands::dry_run::{self, PlannedRequest};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::limit_args::LimitArgs;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Provider slug
    #[arg(value_parser = parse_provider_slug)]
    pub slug: Slug,

    /// New display name
    #[arg(long)]
    pub name: Option<String>,

    /// New note
    #[arg(long, conflicts_with = "clear_note")]
    pub note: Option<String>,

    /// Remove the note
    #[arg(long)]
    pub clear_note: bool,

    /// New expiry, ISO-8601
    #[arg(long, value_name = "TIMESTAMP", conflicts_with = "clear_expires")]
    pub expires: Option<String>,

    /// Remove the expiry
    #[arg(long)]
    pub clear_expires: bool,

    #[command(flatten)]
    pub limits: LimitArgs,

    /// Remove the budget
    #[arg(long, conflicts_with = "budget")]
    pub clear_budget: bool,

    /// Remove the rate limit
    #[arg(long, conflicts_with = "rate_limit")]
    pub clear_rate_limit: bool,

    /// Zero the budget's usage and start a fresh window
    #[arg(long)]
    pub reset_usage: bool,

    /// Show the request that would be made and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

fn patch<T>(value: Option<T>, clear: bool) -> Patch<T> {
    match (value, clear) {
        (_, true) => Patch::Null,
        (Some(v), false) => Patch::Value(v),
        (None, false) => Patch::Absent,
    }
}

pub fn run(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    args.limits.check()?;
    let body = UpdateProvider {
        name: args.name,
        note: patch(args.note, args.clear_note),
        usage_limits: patch(args.limits.usage_limits(), args.clear_budget),
        rate_limits: patch(
            args.limits.rate_limits().map(OneOrMany::Many),
            args.clear_rate_limit,
        ),
        expires_at: patch(args.expires, args.clear_expires),
        reset_usage: args.reset_usage.then_some(true),
        workspace_id: None,
    };
    if serde_json::to_value(&body)?
        .as_object()
        .is_some_and(|o| o.is_empty())
    {
        return Err(CliError::usage("nothing to update")
            .with_hint("pass --name, --note, --budget, --rate-limit, --expires, a --clear-* flag or --reset-usage")
            .into());
    }
    let ws = super::workspace(ctx)?;
    if args.dry_run {
        let path = format!("/v1{}", provider_path(&ws.id, &args.slug.0));
        return dry_run::show(
            ctx,
            &[PlannedRequest::new(
                "PUT",
                path,
                Some(serde_json::to_value(&body)?),
            )],
        );
    }
    let updated = ctx.client()?.update_provider(&ws.id, &args.slug.0, &body)?;
    ctx.printer()
        .status(format!("updated AI provider `@{}`", updated.slug));
    ctx.printer().one(&updated)
}
