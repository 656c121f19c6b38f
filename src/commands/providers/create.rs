use clap::Args;

use super::get::parse_provider_slug;
use crate::api::provider::CreateProvider;
use crate::api::workspace::Workspace;
use crate::commands::dry_run::{self, PlannedRequest};
use crate::commands::Ctx;
use crate::exit::{CliError, ErrorKind};
use crate::limit_args::LimitArgs;
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Slug developers will call as `@SLUG/model` (immutable)
    #[arg(value_parser = parse_provider_slug)]
    pub slug: Slug,

    /// The integration it draws on (must be provisioned to the workspace)
    #[arg(long, add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::integrations))]
    pub integration: Slug,

    /// Display name [default: the slug]
    #[arg(long, value_parser = crate::types::parse_name)]
    pub name: Option<String>,

    /// A note for other admins
    #[arg(long, value_parser = crate::types::parse_description)]
    pub note: Option<String>,

    /// Expiry: a date (2027-01-01, midnight UTC) or an ISO-8601 timestamp, in the future
    #[arg(long, value_name = "DATE", value_parser = crate::types::parse_expiry)]
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
        name: args.name.unwrap_or_else(|| args.slug.to_string()),
        integration_id: args.integration.into_string(),
        workspace_id: Some(ws.id.clone()),
        slug: Some(args.slug.into_string()),
        note: args.note,
        usage_limits,
        rate_limits: args.limits.merge_rate(None),
        concurrency_limit: args.limits.merge_concurrency(None),
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
    let client = ctx.client()?;
    if !has_access(client, &body.integration_id, &ws) {
        return Err(CliError::new(
            ErrorKind::Auth,
            format!(
                "workspace `{}` has no access to integration `{}`",
                ws.slug, body.integration_id
            ),
        )
        .with_hint(format!(
            "provision it first: `catalog workspaces provision {} --integration {}`",
            ws.slug, body.integration_id
        ))
        .into());
    }
    let created = client.create_provider(&body)?;
    ctx.printer().status(format!(
        "created AI provider `@{}` in `{}`; call models as `@{}/MODEL`",
        created.slug, ws.slug, created.slug
    ));
    ctx.printer().one(&created)
}

/// Whether `ws` may build providers on `integration`: its own workspace integration, or
/// an organisation integration provisioned to it. When the access cannot be read (a
/// workspace key), the server decides.
fn has_access(client: &crate::client::Client, integration: &str, ws: &Workspace) -> bool {
    let Ok(i) = client.get_integration(integration) else {
        return true;
    };
    if let Some(own) = &i.workspace_id {
        return own == &ws.id || own == &ws.slug;
    }
    client.workspace_access(integration).map_or(true, |list| {
        list.workspaces.iter().any(|a| {
            a.access.enabled
                && (a.id == ws.slug || a.id == ws.id || a.workspace_id.as_deref() == Some(&ws.id))
        })
    })
}
