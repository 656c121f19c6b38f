use clap::Args;

use super::get::parse_provider_slug;
use crate::api::provider::CreateProvider;
use crate::commands::dry_run::{self, PlannedRequest};
use crate::commands::Ctx;
use crate::limit_args::LimitArgs;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Slug developers will call as `@SLUG/model` (immutable)
    #[arg(value_parser = parse_provider_slug)]
    pub slug: Slug,

    /// The integration it draws on (must be provisioned to the workspace)
    #[arg(long)]
    pub integration: Slug,

    /// Display name [default: the slug]
    #[arg(long)]
    pub name: Option<String>,

    /// A note for other admins
    #[arg(long)]
    pub note: Option<String>,

    /// Expiry, ISO-8601 (e.g. 2027-01-01T00:00:00Z)
    #[arg(long, value_name = "TIMESTAMP")]
    pub expires: Option<String>,

    #[command(flatten)]
    pub limits: LimitArgs,

    /// Show the request that would be made and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<()> {
    let usage_limits = args.limits.merge_usage(None)?;
    let ws = super::workspace(ctx)?;
    let body = CreateProvider {
        name: args.name.unwrap_or_else(|| args.slug.0.clone()),
        integration_id: args.integration.0,
        workspace_id: Some(ws.id.clone()),
        slug: Some(args.slug.0),
        note: args.note,
        usage_limits,
        rate_limits: args.limits.merge_rate(None),
        expires_at: args.expires,
    };
    if args.dry_run {
        return dry_run::show(
            ctx,
            &[PlannedRequest::new(
                "POST",
                "/v1/providers",
                Some(serde_json::to_value(&body)?),
            )],
        );
    }
    let created = ctx.client()?.create_provider(&body)?;
    ctx.printer().status(format!(
        "created AI provider `@{}` in `{}`; call models as `@{}/MODEL`",
        created.slug, ws.slug, created.slug
    ));
    ctx.printer().one(&created)
}
