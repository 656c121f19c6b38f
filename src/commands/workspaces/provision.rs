//! `catalog workspaces provision`: give workspaces access to an integration, with a
//! budget and a rate limit each, and optionally every workspace created later.

use std::collections::HashMap;

use clap::Args;

use crate::api::limits::{RateLimit, UsageLimits};
use crate::api::provisioning::{
    BulkUpdateWorkspaces, GlobalWorkspaceAccess, IntegrationWorkspace, WorkspaceAccessList,
    WorkspaceAccessUpdate,
};
use crate::api::workspace::Workspace;
use crate::api::Patch;
use crate::client::provisioning::access_path;
use crate::commands::access_view::{self, ProvisionReport};
use crate::commands::dry_run::{self, PlannedRequest};
use crate::commands::Ctx;
use crate::exit::{CliError, ErrorKind};
use crate::limit_args::{describe_budget, describe_rate, describe_window, BudgetKind, LimitArgs};
use crate::prompt::{missing, Prompter};
use crate::types::{RateSpec, ResetSpec, Slug};

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Workspaces (id, slug or name) to give access
    pub workspaces: Vec<String>,

    /// The integration to provision
    #[arg(long)]
    pub integration: Option<Slug>,

    /// Every existing workspace
    #[arg(long, conflicts_with = "workspaces")]
    pub all: bool,

    /// Also provision workspaces created later, with the same limits
    #[arg(long)]
    pub new_workspaces: bool,

    #[command(flatten)]
    pub limits: LimitArgs,

    /// Zero the usage of the budgets of these workspaces
    #[arg(long)]
    pub reset_usage: bool,

    /// Slug of the AI provider created in each newly provisioned workspace [default: the integration's slug]
    #[arg(long)]
    pub provider_slug: Option<Slug>,

    /// Show the request that would be made and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// What provisioning asks for, once flags and prompts are combined.
pub struct Plan {
    pub integration: String,
    pub targets: Vec<Workspace>,
    /// Workspaces unticked at the prompt that had access.
    pub revoke: Vec<Workspace>,
    pub usage: Option<UsageLimits>,
    pub rate: Option<Vec<RateLimit>>,
    pub new_workspaces: bool,
    pub reset_usage: bool,
    pub provider_slug: Option<String>,
}

pub fn run(ctx: &Ctx, args: ProvisionArgs) -> anyhow::Result<()> {
    args.limits.check()?;
    let client = ctx.client()?;
    let prompter = ctx.prompter();
    let interactive =
        prompter.can() && (args.integration.is_none() || (args.workspaces.is_empty() && !args.all));
    let integration = match &args.integration {
        Some(s) => s.0.clone(),
        None => choose_integration(ctx, &prompter)?,
    };
    let current = client.workspace_access(&integration)?;
    let (targets, revoke) = if !args.workspaces.is_empty() {
        let mut found = Vec::new();
        for w in &args.workspaces {
            found.push(client.resolve_workspace(w)?);
        }
        (found, Vec::new())
    } else if args.all {
        (client.list_workspaces(None)?, Vec::new())
    } else if prompter.can() {
        choose_workspaces(ctx, &prompter, &current.workspaces)?
    } else if args.new_workspaces {
        (Vec::new(), Vec::new())
    } else {
        return Err(missing(
            "the workspaces to provision",
            "WORKSPACE...` or `--all",
        ));
    };
    let mut limits = args.limits.clone();
    let mut new_workspaces = args.new_workspaces;
    if interactive {
        ask_limits(&prompter, &mut limits)?;
        limits.check()?;
        if !args.new_workspaces {
            new_workspaces = prompter.confirm("Also provision workspaces created later?", false)?;
        }
    }
    let plan = Plan {
        integration,
        targets,
        revoke,
        usage: limits.usage_limits(),
        rate: limits.rate_limits(),
        new_workspaces,
        reset_usage: args.reset_usage,
        provider_slug: args.provider_slug.map(|s| s.0),
    };
    apply(ctx, &plan, &current, args.dry_run, interactive)
}

fn choose_integration(ctx: &Ctx, prompter: &Prompter<'_>) -> anyhow::Result<String> {
    if !prompter.can() {
        return Err(missing("the integration", "--integration SLUG"));
    }
    let all = ctx
        .client()?
        .list_integrations(Some("organisation"), None)?;
    if all.is_empty() {
        return Err(CliError::new(
            ErrorKind::NotFound,
            "there are no organisation integrations to provision",
        )
        .with_hint("connect one first: `catalog integrations connect SLUG`")
        .into());
    }
    let items: Vec<String> = all
        .iter()
        .map(|i| format!("{} ({})", i.slug, i.ai_provider_id))
        .collect();
    Ok(
        all[prompter.select("integration", "--integration", &items, 0)?]
            .slug
            .clone(),
    )
}

/// Multi-select of all workspaces, those with access pre-ticked; returns the ticked ones
/// and those unticked that had access.
pub fn choose_workspaces(
    ctx: &Ctx,
    prompter: &Prompter<'_>,
    current: &[IntegrationWorkspace],
) -> anyhow::Result<(Vec<Workspace>, Vec<Workspace>)> {
    let all = ctx.client()?.list_workspaces(None)?;
    let enabled: Vec<bool> = all
        .iter()
        .map(|w| {
            current
                .iter()
                .any(|c| c.enabled && (c.id == w.slug || c.id == w.id))
        })
        .collect();
    let items: Vec<String> = all
        .iter()
        .map(|w| format!("{} ({})", w.name, w.slug))
        .collect();
    let chosen = prompter.multi_select(
        "workspaces (space to toggle)",
        "WORKSPACE...",
        &items,
        &enabled,
    )?;
    let mut targets = Vec::new();
    let mut revoke = Vec::new();
    for (i, ws) in all.into_iter().enumerate() {
        if chosen.contains(&i) {
            targets.push(ws);
        } else if enabled[i] {
            revoke.push(ws);
        }
    }
    Ok((targets, revoke))
}

/// Asks for the limits that flags did not give.
pub fn ask_limits(p: &Prompter<'_>, limits: &mut LimitArgs) -> anyhow::Result<()> {
    if limits.budget.is_none() {
        let text = p.text("budget (empty for none)", "--budget", Some(""))?;
        if !text.trim().is_empty() {
            limits.budget = Some(
                text.trim()
                    .parse()
                    .map_err(|_| CliError::usage(format!("`{text}` is not a number")))?,
            );
        }
    }
    if limits.budget.is_none() {
        limits.budget_type = None;
    } else {
        if limits.budget_type.is_none() {
            let i = p.select(
                "budget type",
                "--budget-type",
                &["cost (USD)".to_owned(), "tokens".to_owned()],
                0,
            )?;
            limits.budget_type = Some(if i == 0 {
                BudgetKind::Cost
            } else {
                BudgetKind::Tokens
            });
        }
        if limits.reset.is_none() {
            let options = ["none", "weekly", "monthly", "every N days"].map(str::to_owned);
            limits.reset = Some(match p.select("reset", "--reset", &options, 0)? {
                0 => ResetSpec::None,
                1 => ResetSpec::Weekly,
                2 => ResetSpec::Monthly,
                _ => p
                    .text("reset every (e.g. 30d)", "--reset", Some("30d"))?
                    .parse()
                    .map_err(CliError::usage)?,
            });
        }
        if limits.alert.is_none() {
            let text = p.text("alert at (empty for none)", "--alert", Some(""))?;
            if !text.trim().is_empty() {
                limits.alert = Some(
                    text.trim()
                        .parse()
                        .map_err(|_| CliError::usage(format!("`{text}` is not a number")))?,
                );
            }
        }
    }
    if limits.rate_limit.is_none() {
        let text = p.text(
            "rate limit, e.g. 100/min (empty for none)",
            "--rate-limit",
            Some(""),
        )?;
        if !text.trim().is_empty() {
            limits.rate_limit = Some(text.parse::<RateSpec>().map_err(CliError::usage)?);
        }
    }
    Ok(())
}

pub fn describe(usage: Option<&UsageLimits>, rate: Option<&Vec<RateLimit>>) -> String {
    format!(
        "budget {} ({}), rate limit {}",
        describe_budget(usage, None).trim_start_matches("0 / "),
        describe_window(usage),
        describe_rate(rate)
    )
}

/// The change a plan makes against the current access: the request body, a line per
/// workspace for people, and the report for scripts.
pub struct Change<'a> {
    pub body: BulkUpdateWorkspaces,
    pub lines: Vec<String>,
    pub report: ProvisionReport<'a>,
}

impl Change<'_> {
    pub fn is_noop(&self) -> bool {
        self.body.workspaces.is_empty() && self.body.global_workspace_access.is_none()
    }
}

pub fn compute<'a>(plan: &'a Plan, current: &WorkspaceAccessList, dry_run: bool) -> Change<'a> {
    let by_slug: HashMap<&str, &IntegrationWorkspace> = current
        .workspaces
        .iter()
        .map(|a| (a.id.as_str(), a))
        .collect();
    let mut report = ProvisionReport {
        integration: &plan.integration,
        added: Vec::new(),
        changed: Vec::new(),
        unchanged: Vec::new(),
        revoked: Vec::new(),
        new_workspaces: None,
        dry_run,
        access: None,
    };
    let mut items = Vec::new();
    let mut lines = Vec::new();
    for ws in &plan.targets {
        let existing = by_slug.get(ws.slug.as_str()).filter(|a| a.enabled);
        let usage = plan
            .usage
            .clone()
            .or_else(|| existing.and_then(|a| a.usage_limits.as_ref()?.first().cloned()));
        let rate = plan
            .rate
            .clone()
            .or_else(|| existing.and_then(|a| a.rate_limits.clone()));
        let same = existing.is_some_and(|a| {
            a.usage_limits
                .as_ref()
                .and_then(|u| u.first())
                .map(strip_reset)
                == usage.as_ref().map(strip_reset)
                && a.rate_limits.as_ref().and_then(|r| r.first())
                    == rate.as_ref().and_then(|r| r.first())
        });
        let (bucket, mark) = match (existing, same && !plan.reset_usage) {
            (None, _) => (&mut report.added, "+ add"),
            (Some(_), false) => (&mut report.changed, "~ change"),
            (Some(_), true) => (&mut report.unchanged, "= keep"),
        };
        bucket.push(ws.slug.clone());
        lines.push(format!(
            "  {mark:<9} {} ({}): {}",
            ws.slug,
            ws.name,
            describe(usage.as_ref(), rate.as_ref())
        ));
        if mark != "= keep" {
            items.push(WorkspaceAccessUpdate {
                id: ws.id.clone(),
                enabled: true,
                usage_limits: usage.map_or(Patch::Null, |u| Patch::Value(vec![u])),
                rate_limits: rate.map_or(Patch::Null, Patch::Value),
                reset_usage: plan.reset_usage.then_some(true),
                default_provider_slug: plan.provider_slug.clone(),
                ..Default::default()
            });
        }
    }
    for ws in &plan.revoke {
        report.revoked.push(ws.slug.clone());
        lines.push(format!("  {:<9} {} ({})", "- revoke", ws.slug, ws.name));
        items.push(WorkspaceAccessUpdate {
            id: ws.id.clone(),
            enabled: false,
            ..Default::default()
        });
    }
    let global = plan.new_workspaces.then(|| GlobalWorkspaceAccess {
        enabled: true,
        usage_limits: plan.usage.clone().map(|u| vec![u]),
        rate_limits: plan.rate.clone(),
    });
    let global_changes =
        global.is_some() && global.as_ref() != current.global_workspace_access.as_ref();
    if plan.new_workspaces {
        report.new_workspaces = Some(true);
        let mark = if global_changes { "+ add" } else { "= keep" };
        lines.push(format!(
            "  {mark:<9} workspaces created later: {}",
            describe(plan.usage.as_ref(), plan.rate.as_ref())
        ));
    }
    Change {
        body: BulkUpdateWorkspaces {
            workspaces: items,
            global_workspace_access: global.filter(|_| global_changes),
            ..Default::default()
        },
        lines,
        report,
    }
}

/// Computes the change, shows it, confirms when interactive, and applies it.
pub fn apply(
    ctx: &Ctx,
    plan: &Plan,
    current: &WorkspaceAccessList,
    dry_run: bool,
    confirm: bool,
) -> anyhow::Result<()> {
    let printer = ctx.printer();
    let mut change = compute(plan, current, dry_run);
    if change.is_noop() {
        printer.status(format!(
            "nothing to change: `{}` is already provisioned as asked",
            plan.integration
        ));
        change.report.access = Some(current);
        return finish(ctx, current, &change.report);
    }
    printer.notice(format!("Provisioning `{}`:", plan.integration));
    for l in &change.lines {
        printer.notice(l);
    }
    if dry_run {
        let request = PlannedRequest::new(
            "PUT",
            format!("/v1{}", access_path(&plan.integration)),
            Some(serde_json::to_value(&change.body)?),
        );
        return dry_run::show(ctx, &[request]);
    }
    if confirm && !ctx.settings.yes && !ctx.prompter().confirm("Apply these changes?", true)? {
        return Err(CliError::new(ErrorKind::Cancelled, "cancelled; nothing was changed").into());
    }
    let client = ctx.client()?;
    client.put_workspace_access(&plan.integration, &change.body)?;
    let after = client.workspace_access(&plan.integration)?;
    let r = &change.report;
    printer.status(format!(
        "provisioned `{}`: {} added, {} changed, {} unchanged, {} revoked",
        plan.integration,
        r.added.len(),
        r.changed.len(),
        r.unchanged.len(),
        r.revoked.len()
    ));
    change.report.access = Some(&after);
    finish(ctx, &after, &change.report)
}

/// Compares budgets without the server-computed next reset.
fn strip_reset(u: &UsageLimits) -> UsageLimits {
    UsageLimits {
        next_usage_reset_at: None,
        ..u.clone()
    }
}

fn finish(
    ctx: &Ctx,
    access: &crate::api::provisioning::WorkspaceAccessList,
    report: &ProvisionReport<'_>,
) -> anyhow::Result<()> {
    let printer = ctx.printer();
    if printer.format == crate::printer::OutputFormat::Table {
        access_view::print(printer, access)
    } else {
        printer.data(report)
    }
}
