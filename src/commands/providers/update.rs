use clap::Args;

use super::get::parse_provider_slug;
use crate::api::provider::{OneOrMany, UpdateProvider};
use crate::api::Patch;
use crate::client::provisioning::provider_path;
use crate::commands::dry_run::{self, PlannedRequest};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::limit_args::{ClearBudgetArgs, LimitArgs};
use crate::types::{ConcurrencySpec, Slug};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Provider slug
    #[arg(value_parser = parse_provider_slug)]
    pub slug: Slug,

    /// New display name
    #[arg(long, value_parser = crate::types::parse_name)]
    pub name: Option<String>,

    /// New note
    #[arg(long, value_parser = crate::types::parse_description, conflicts_with = "clear_note")]
    pub note: Option<String>,

    /// Remove the note
    #[arg(long)]
    pub clear_note: bool,

    /// New expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future
    #[arg(long, value_name = "DATE", value_parser = crate::types::parse_expiry, conflicts_with = "clear_expires")]
    pub expires: Option<String>,

    /// Remove the expiry
    #[arg(long)]
    pub clear_expires: bool,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub clear: ClearBudgetArgs,

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
    let ws = super::workspace(ctx)?;
    // Limit flags change the fields they name: the rest of the budget stays as it is.
    let (usage, rate) = if args.limits.any_budget() || args.limits.rate_limit.is_some() {
        let current = ctx.client()?.get_provider(&ws.id, args.slug.as_str())?;
        let usage = args.limits.merge_usage(current.usage_limits.as_ref())?;
        let rate = args.limits.merge_rate(current.rate_limits.as_ref());
        (
            Some(usage.map_or(Patch::Null, Patch::Value)),
            Some(rate.map_or(Patch::Null, |r| Patch::Value(OneOrMany::Many(r)))),
        )
    } else {
        (None, None)
    };
    let body = UpdateProvider {
        name: args.name,
        note: patch(args.note, args.clear_note),
        usage_limits: if args.clear.clear_budget {
            Patch::Null
        } else {
            usage
                .filter(|_| args.limits.any_budget())
                .unwrap_or(Patch::Absent)
        },
        rate_limits: if args.clear_rate_limit {
            Patch::Null
        } else {
            rate.filter(|_| args.limits.rate_limit.is_some())
                .unwrap_or(Patch::Absent)
        },
        concurrency_limit: match args.limits.concurrency {
            None => Patch::Absent,
            Some(ConcurrencySpec(None)) => Patch::Null,
            Some(ConcurrencySpec(Some(limit))) => Patch::Value(limit),
        },
        expires_at: patch(args.expires, args.clear_expires),
        reset_usage: args.reset_usage.then_some(true),
        workspace_id: None,
    };
    if serde_json::to_value(&body)?
        .as_object()
        .is_some_and(|o| o.is_empty())
    {
        return Err(CliError::usage("nothing to update")
            .with_hint("pass --name, --note, --budget, --rate-limit, --concurrency, --expires, a --clear-* flag or --reset-usage")
            .into());
    }
    if args.dry_run {
        let path = format!("/v1{}", provider_path(&ws.id, args.slug.as_str()));
        return dry_run::show(
            ctx,
            &[PlannedRequest::new(
                "PUT",
                path,
                Some(serde_json::to_value(&body)?),
            )],
        );
    }
    let updated = ctx
        .client()?
        .update_provider(&ws.id, args.slug.as_str(), &body)?;
    ctx.printer()
        .status(format!("updated AI provider `@{}`", updated.slug));
    ctx.printer().one(&updated)
}
