//! `catalog workspaces provision`: give workspaces access to an integration, with a
//! budget, a rate limit and a concurrency limit each, and optionally every workspace
//! created later.

use std::collections::HashMap;

use clap::Args;

use crate::api::limits::{BudgetType, PeriodicReset};
use crate::api::limits::{ConcurrencyLimit, RateLimit, UsageLimits};
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
use crate::limit_args::{
    describe_concurrency, describe_limit, describe_rate, describe_window, BudgetKind, LimitArgs,
};
use crate::prompt::{missing, Prompter};
use crate::types::{Amount, RateSpec, ResetSpec, Slug};

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Workspaces (id, slug or name) to give access
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::workspaces))]
    pub workspaces: Vec<String>,

    /// The integration to provision
    #[arg(long, add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::integrations))]
    pub integration: Option<Slug>,

    /// Every existing workspace
    #[arg(long, conflicts_with = "workspaces")]
    pub all: bool,

    /// Also provision workspaces created later, with the same limits
    #[arg(long, conflicts_with = "no_new_workspaces")]
    pub new_workspaces: bool,

    /// Stop provisioning workspaces created later (access already given stays)
    #[arg(long)]
    pub no_new_workspaces: bool,

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
    /// The limit flags (and answers): applied to each workspace's current limits.
    pub limits: LimitArgs,
    /// Workspaces created later: on, off, or left as they are (`None`).
    pub new_workspaces: Option<bool>,
    pub reset_usage: bool,
    pub provider_slug: Option<String>,
}

pub fn run(ctx: &Ctx, args: ProvisionArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let prompter = ctx.prompter();
    let interactive =
        prompter.can() && (args.integration.is_none() || (args.workspaces.is_empty() && !args.all));
    let integration = match &args.integration {
        Some(s) => s.to_string(),
        None => choose_integration(ctx, prompter)?,
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
        choose_workspaces(ctx, prompter, &current.workspaces)?
    } else if args.new_workspaces || args.no_new_workspaces {
        (Vec::new(), Vec::new())
    } else {
        return Err(missing(
            "the workspaces to provision",
            "WORKSPACE...` or `--all",
        ));
    };
    let mut limits = args.limits.clone();
    let mut new_workspaces = flag_pair(args.new_workspaces, args.no_new_workspaces);
    if interactive {
        ask_limits(prompter, &mut limits, current_budget(&current, &targets))?;
        if new_workspaces.is_none() {
            new_workspaces = Some(ask_new_workspaces(prompter, &current)?);
        }
    }
    let plan = Plan {
        integration,
        targets,
        revoke,
        limits,
        new_workspaces,
        reset_usage: args.reset_usage,
        provider_slug: args.provider_slug.map(Slug::into_string),
    };
    apply(ctx, &plan, &current, args.dry_run, interactive)
}

fn choose_integration(ctx: &Ctx, prompter: &dyn Prompter) -> anyhow::Result<String> {
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
    prompter: &dyn Prompter,
    current: &[IntegrationWorkspace],
) -> anyhow::Result<(Vec<Workspace>, Vec<Workspace>)> {
    let all = ctx.client()?.list_workspaces(None)?;
    let enabled: Vec<bool> = all
        .iter()
        .map(|w| {
            current
                .iter()
                .any(|c| c.access.enabled && (c.id == w.slug || c.id == w.id))
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

/// `--new-workspaces` / `--no-new-workspaces`: on, off, or unchanged.
pub fn flag_pair(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// "Also provision workspaces created later?", defaulting to the current setting.
pub fn ask_new_workspaces(p: &dyn Prompter, current: &WorkspaceAccessList) -> anyhow::Result<bool> {
    let on = current
        .global_workspace_access
        .as_ref()
        .is_some_and(|g| g.enabled);
    p.confirm("Also provision workspaces created later?", on)
}

/// The budget the prompts start from: that of the first chosen workspace with access.
pub fn current_budget<'a>(
    current: &'a WorkspaceAccessList,
    targets: &[Workspace],
) -> Option<&'a UsageLimits> {
    targets.iter().find_map(|ws| {
        current
            .workspaces
            .iter()
            .find(|a| a.access.enabled && (a.id == ws.slug || a.id == ws.id))
            .and_then(|a| a.access.usage_limits.as_ref()?.first())
    })
}

/// Asks for the limits that flags did not give; each answer is checked at its prompt.
/// An empty answer leaves the current value; defaults follow `current`.
pub fn ask_limits(
    p: &dyn Prompter,
    limits: &mut LimitArgs,
    current: Option<&UsageLimits>,
) -> anyhow::Result<()> {
    if limits.budget.amount.is_none() {
        let what = if current.is_some() {
            "budget (empty to keep the current one)"
        } else {
            "budget (empty for none)"
        };
        limits.budget.amount = p.parsed_optional(what, "--budget", |t| t.parse::<Amount>())?;
    }
    if limits.budget.amount.is_some() {
        if limits.budget.budget_type.is_none() {
            let default = usize::from(current.is_some_and(|u| u.kind == BudgetType::Tokens));
            let i = p.select(
                "budget type",
                "--budget-type",
                &["cost (USD)".to_owned(), "tokens".to_owned()],
                default,
            )?;
            limits.budget.budget_type = Some(if i == 0 {
                BudgetKind::Cost
            } else {
                BudgetKind::Tokens
            });
        }
        if limits.budget.reset.is_none() {
            let options = ["none", "weekly", "monthly", "every N days"].map(str::to_owned);
            let default = match current.map(|u| (u.periodic_reset, u.periodic_reset_days)) {
                Some((Some(PeriodicReset::Weekly), _)) => 1,
                Some((Some(PeriodicReset::Monthly), _)) => 2,
                Some((None, Some(_))) => 3,
                _ => 0,
            };
            limits.budget.reset = Some(match p.select("reset", "--reset", &options, default)? {
                0 => ResetSpec::None,
                1 => ResetSpec::Weekly,
                2 => ResetSpec::Monthly,
                _ => {
                    let days = current
                        .and_then(|u| u.periodic_reset_days)
                        .map_or("30d".to_owned(), |d| format!("{d}d"));
                    p.parsed("reset every (e.g. 30d)", "--reset", Some(&days), |t| {
                        t.parse::<ResetSpec>()
                    })?
                }
            });
        }
        if limits.budget.alert.is_none() {
            let budget = limits.budget.amount.map_or(f64::MAX, |b| b.get());
            let below = |t: &str| {
                let alert = t.parse::<Amount>()?;
                if alert.get() >= budget {
                    return Err(format!("the alert must be below the budget ({budget})"));
                }
                Ok(alert)
            };
            limits.budget.alert = match current.and_then(|u| u.alert_threshold) {
                // The current alert would not fit under the new budget: a new one is needed.
                Some(old) if old >= budget => Some(p.parsed(
                    &format!("alert at (the current {old} is not below the new budget)"),
                    "--alert",
                    None,
                    below,
                )?),
                Some(_) => {
                    p.parsed_optional("alert at (empty to keep the current one)", "--alert", below)?
                }
                None => p.parsed_optional("alert at (empty for none)", "--alert", below)?,
            };
        }
    }
    if limits.rate_limit.is_none() {
        let what = if current.is_some() {
            "rate limit, e.g. 100/min (empty to keep the current one, 0 for none)"
        } else {
            "rate limit, e.g. 100/min (empty for none)"
        };
        limits.rate_limit = p.parsed_optional(what, "--rate-limit", |t| t.parse::<RateSpec>())?;
    }
    Ok(())
}

/// The limits of one workspace's access (or of workspaces created later), as a plan
/// compares and shows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Terms {
    pub usage: Option<UsageLimits>,
    pub rate: Option<Vec<RateLimit>>,
    pub concurrency: Option<ConcurrencyLimit>,
}

impl Terms {
    /// Terms as stored: the budget without its computed next reset, no empty lists.
    fn stored(
        usage: Option<&Vec<UsageLimits>>,
        rate: Option<&Vec<RateLimit>>,
        concurrency: Option<ConcurrencyLimit>,
    ) -> Terms {
        Terms {
            usage: usage.and_then(|u| u.first()).map(strip_reset),
            rate: rate.filter(|r| !r.is_empty()).cloned(),
            concurrency,
        }
    }

    /// These terms with the limit flags (and answers) applied.
    fn merged(&self, limits: &LimitArgs) -> anyhow::Result<Terms> {
        Ok(Terms {
            usage: limits.merge_usage(self.usage.as_ref())?,
            rate: limits.merge_rate(self.rate.as_ref()),
            concurrency: limits.merge_concurrency(self.concurrency),
        })
    }
}

/// Every field of the terms: amount, reset, alert, rate, concurrency.
pub fn describe(terms: &Terms) -> String {
    describe_change(terms, terms)
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

pub fn compute<'a>(
    plan: &'a Plan,
    current: &WorkspaceAccessList,
    dry_run: bool,
) -> anyhow::Result<Change<'a>> {
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
        let existing = by_slug
            .get(ws.slug.as_str())
            .map(|a| &a.access)
            .filter(|a| a.enabled);
        if let (Some(slug), Some(_)) = (&plan.provider_slug, existing) {
            return Err(CliError::usage(format!(
                "--provider-slug {slug} names the AI provider created when a workspace is first provisioned; `{}` already has access",
                ws.slug
            ))
            .with_hint(format!(
                "create another provider with `catalog providers create {slug} --integration {} --workspace {}`",
                plan.integration, ws.slug
            ))
            .into());
        }
        let old = existing.map_or_else(Terms::default, |a| {
            Terms::stored(
                a.usage_limits.as_ref(),
                a.rate_limits.as_ref(),
                a.concurrency_limit,
            )
        });
        let new = old.merged(&plan.limits)?;
        let (bucket, mark, text) = match (existing, old == new && !plan.reset_usage) {
            (None, _) => (&mut report.added, "+ add", describe(&new)),
            (Some(_), false) => (&mut report.changed, "~ change", describe_change(&old, &new)),
            (Some(_), true) => (&mut report.unchanged, "= keep", describe(&new)),
        };
        bucket.push(ws.slug.clone());
        lines.push(format!("  {mark:<9} {} ({}): {text}", ws.slug, ws.name));
        if mark != "= keep" {
            items.push(WorkspaceAccessUpdate {
                id: ws.id.clone(),
                enabled: true,
                usage_limits: new.usage.map_or(Patch::Null, |u| Patch::Value(vec![u])),
                rate_limits: new.rate.map_or(Patch::Null, Patch::Value),
                concurrency_limit: new.concurrency.map_or(Patch::Null, Patch::Value),
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
    let global = global_change(plan, current.global_workspace_access.as_ref())?;
    if let Some(g) = &global {
        report.new_workspaces = plan.new_workspaces;
        lines.push(g.line.clone());
    }
    Ok(Change {
        body: BulkUpdateWorkspaces {
            workspaces: items,
            global_workspace_access: global.and_then(|g| g.body),
            ..Default::default()
        },
        lines,
        report,
    })
}

/// What happens to workspaces created later: the line shown, and the setting to send
/// when it changes.
struct GlobalChange {
    line: String,
    body: Option<GlobalWorkspaceAccess>,
}

fn global_change(
    plan: &Plan,
    current: Option<&GlobalWorkspaceAccess>,
) -> anyhow::Result<Option<GlobalChange>> {
    let on = current.filter(|g| g.enabled);
    let old = on.map_or_else(Terms::default, |g| {
        Terms::stored(
            g.usage_limits.as_ref(),
            g.rate_limits.as_ref(),
            g.concurrency_limit,
        )
    });
    let label = "workspaces created later";
    Ok(match plan.new_workspaces {
        None => None,
        Some(false) if on.is_none() => Some(GlobalChange {
            line: format!("  {:<9} {label}: not provisioned", "= keep"),
            body: None,
        }),
        Some(false) => Some(GlobalChange {
            line: format!("  {:<9} {label}: no longer provisioned", "- revoke"),
            body: Some(GlobalWorkspaceAccess {
                enabled: false,
                usage_limits: None,
                rate_limits: None,
                concurrency_limit: None,
            }),
        }),
        Some(true) => {
            let new = old.merged(&plan.limits)?;
            let wanted = GlobalWorkspaceAccess {
                enabled: true,
                usage_limits: new.usage.clone().map(|u| vec![u]),
                rate_limits: new.rate.clone(),
                concurrency_limit: new.concurrency,
            };
            let (mark, text) = match on {
                None => ("+ add", describe(&new)),
                Some(_) if old == new => ("= keep", describe(&new)),
                Some(_) => ("~ change", describe_change(&old, &new)),
            };
            Some(GlobalChange {
                line: format!("  {mark:<9} {label}: {text}"),
                body: (mark != "= keep").then_some(wanted),
            })
        }
    })
}

/// Each field of a limit change, as `old → new` where it changes. Concurrency, an
/// extension, is shown only where it is (or was) set.
pub fn describe_change(old: &Terms, new: &Terms) -> String {
    let fields = |t: &Terms| {
        let usage = t.usage.as_ref();
        let amount = usage.map_or("none".to_owned(), |u| describe_limit(Some(u)));
        let alert = usage
            .and_then(|u| u.alert_threshold)
            .map_or("none".to_owned(), |a| a.to_string());
        [
            ("budget", amount),
            ("reset", describe_window(usage)),
            ("alert", alert),
            ("rate limit", describe_rate(t.rate.as_ref())),
            ("concurrency", describe_concurrency(t.concurrency)),
        ]
    };
    let before = fields(old);
    let after = fields(new);
    let budget = old.usage.is_some() || new.usage.is_some();
    let concurrency = old.concurrency.is_some() || new.concurrency.is_some();
    before
        .iter()
        .zip(after.iter())
        .filter(|((name, _), _)| match *name {
            // Reset and alert only mean something beside a budget.
            "reset" | "alert" => budget,
            "concurrency" => concurrency,
            _ => true,
        })
        .map(|((name, a), (_, b))| {
            if a == b {
                format!("{name} {b}")
            } else {
                format!("{name} {a} → {b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
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
    let mut change = compute(plan, current, dry_run)?;
    if change.is_noop() {
        printer.status(format!(
            "nothing to change: `{}` is already provisioned as asked",
            plan.integration
        ));
        change.report.access = Some(current);
        return finish(ctx, current, &change.report);
    }
    let asking = confirm && !ctx.settings.yes && !dry_run;
    printer.summary(format!("Provisioning `{}`:", plan.integration), asking);
    for l in &change.lines {
        printer.summary(l, asking);
    }
    if dry_run {
        let request = PlannedRequest::new(
            "PUT",
            format!("/v1{}", access_path(&plan.integration)),
            Some(serde_json::to_value(&change.body)?),
        );
        return dry_run::show(ctx, &[request]);
    }
    // Taking access away is not the default answer.
    let revokes = !change.report.revoked.is_empty()
        || change
            .body
            .global_workspace_access
            .as_ref()
            .is_some_and(|g| !g.enabled);
    if confirm && !ctx.settings.yes && !ctx.prompter().confirm("Apply these changes?", !revokes)? {
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
pub fn strip_reset(u: &UsageLimits) -> UsageLimits {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::Harness;
    use crate::exit::kind_of;
    use crate::prompt::ScriptedPrompter;

    /// A catalog with workspaces eng, research and ops, and `openai-prod` provisioned to ops.
    fn catalog() -> Harness {
        let h = Harness::new();
        for n in ["eng", "research", "ops"] {
            h.ok(&["workspaces", "create", n]);
        }
        h.connect_openai(&["--provision", "ops"]);
        h
    }

    /// Provisions ops with these limits, by flags.
    fn provision_ops(h: &Harness, limits: &[&str]) {
        let mut args = vec![
            "workspaces",
            "provision",
            "ops",
            "--integration",
            "openai-prod",
        ];
        args.extend(limits);
        h.ok(&args);
    }

    fn enabled(h: &Harness) -> Vec<String> {
        let access = h.read(|c| c.workspace_access("openai-prod"));
        let mut names: Vec<String> = access
            .workspaces
            .iter()
            .filter(|a| a.access.enabled)
            .map(|a| a.name.clone().unwrap_or_default())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn selection_limits_and_confirmation() {
        let h = catalog();
        // ops is pre-ticked: tick eng, untick ops.
        let answers = || {
            ScriptedPrompter::new()
                .enter("Integration")
                .tick("Workspaces", &["eng ("])
                .enter("Budget type")
                .choose("Reset", "weekly")
                .enter("Alert at")
                .text("Rate limit", "50/min")
                .confirm("Also provision workspaces created later?", false)
        };
        let p = answers().enter("Apply these changes?"); // a revoke: no by default
        let e = h
            .run(&p, &["workspaces", "provision", "--budget", "1000"])
            .unwrap_err();
        assert_eq!(kind_of(&e).exit_code(), 130);
        let log = p.log().join("\n");
        assert!(log.contains("*ops ("), "ops is pre-ticked: {log}");
        assert!(log.contains("`Apply these changes?` [y/N]"), "{log}");
        assert_eq!(enabled(&h), ["ops"], "no wrote nothing");

        let p = answers().confirm("Apply these changes?", true);
        h.run(&p, &["workspaces", "provision", "--budget", "1000"])
            .unwrap();
        assert_eq!(enabled(&h), ["eng"]);
        let access = h.read(|c| c.workspace_access("openai-prod"));
        let eng = access.workspaces.iter().find(|a| a.access.enabled).unwrap();
        let budget = &eng.access.usage_limits.as_ref().unwrap()[0];
        assert_eq!(budget.credit_limit, 1000.0);
        assert_eq!(budget.periodic_reset, Some(PeriodicReset::Weekly));
        assert_eq!(eng.access.rate_limits.as_ref().unwrap()[0].value, 50);
    }

    #[test]
    fn answers_default_to_the_current_limits_and_bad_ones_are_asked_again() {
        let h = catalog();
        provision_ops(
            &h,
            &[
                "--new-workspaces",
                "--budget",
                "1000",
                "--reset",
                "monthly",
                "--alert",
                "800",
            ],
        );
        let p = ScriptedPrompter::new()
            .enter("Workspaces") // ops stays ticked
            .text("Budget (empty to keep the current one)", "1200")
            .enter("Budget type")
            .enter("Reset") // the current one: monthly
            .refused(
                "Alert at (empty to keep the current one)",
                "5000",
                "below the budget",
            )
            .text("Alert at", "900")
            .refused("Rate limit", "abc", "does not start with a number")
            .enter("Rate limit")
            // Later workspaces are provisioned now: no turns that off.
            .confirm("Also provision workspaces created later?", false)
            .confirm("Apply these changes?", true);
        h.run(
            &p,
            &["workspaces", "provision", "--integration", "openai-prod"],
        )
        .unwrap();
        let log = p.log().join("\n");
        assert!(log.contains("*monthly"), "{log}");
        assert!(
            log.contains("`Also provision workspaces created later?` [Y/n]"),
            "{log}"
        );
        let access = h.read(|c| c.workspace_access("openai-prod"));
        assert!(!access.global_workspace_access.unwrap().enabled);
        let budget = &access.workspaces[0].access.usage_limits.as_ref().unwrap()[0];
        assert_eq!(budget.credit_limit, 1200.0);
        assert_eq!(budget.periodic_reset, Some(PeriodicReset::Monthly));
        assert_eq!(budget.alert_threshold, Some(900.0));
    }

    #[test]
    fn a_lower_budget_asks_for_an_alert_that_fits() {
        let h = catalog();
        provision_ops(&h, &["--budget", "1000", "--alert", "800"]);
        let p = ScriptedPrompter::new()
            .enter("Workspaces")
            .enter("Budget type")
            .enter("Reset")
            // Empty is not an answer here; neither is an alert above the budget.
            .refused(
                "Alert at (the current 800 is not below",
                "",
                "an answer is needed",
            )
            .refused("Alert at", "600", "below the budget (500)")
            .text("Alert at", "300")
            .enter("Rate limit")
            .enter("Also provision workspaces created later?")
            .confirm("Apply these changes?", true);
        h.run(
            &p,
            &[
                "workspaces",
                "provision",
                "--integration",
                "openai-prod",
                "--budget",
                "500",
            ],
        )
        .unwrap();
        let access = h.read(|c| c.workspace_access("openai-prod"));
        let budget = &access.workspaces[0].access.usage_limits.as_ref().unwrap()[0];
        assert_eq!(budget.credit_limit, 500.0);
        assert_eq!(budget.alert_threshold, Some(300.0));
    }

    #[test]
    fn ctrl_c_at_the_selection_cancels() {
        let h = catalog();
        let p = ScriptedPrompter::new()
            .enter("Integration")
            .interrupt("Workspaces");
        let e = h.run(&p, &["workspaces", "provision"]).unwrap_err();
        assert_eq!(kind_of(&e).exit_code(), 130);
        assert_eq!(enabled(&h), ["ops"]);
    }

    #[test]
    fn without_a_terminal_missing_values_name_their_flags() {
        let h = catalog();
        let nobody = ScriptedPrompter::not_a_terminal;
        let e = h
            .run(&nobody(), &["workspaces", "provision", "eng"])
            .unwrap_err();
        assert!(e.to_string().contains("--integration SLUG"), "{e}");
        let e = h
            .run(
                &nobody(),
                &["workspaces", "provision", "--integration", "openai-prod"],
            )
            .unwrap_err();
        assert_eq!(kind_of(&e).exit_code(), 2);
        assert!(e.to_string().contains("`WORKSPACE...` or `--all`"), "{e}");
        // Flags alone apply without asking.
        h.ok(&[
            "workspaces",
            "provision",
            "eng",
            "--integration",
            "openai-prod",
        ]);
        assert_eq!(enabled(&h), ["eng", "ops"]);
    }

    #[test]
    fn limits_asked_without_a_budget_skip_its_details() {
        let p = ScriptedPrompter::new()
            .enter("Budget (empty for none)")
            .text("Rate limit", "100/min");
        let mut limits = LimitArgs::default();
        ask_limits(&p, &mut limits, None).unwrap();
        assert!(limits.budget.amount.is_none());
        assert!(limits.rate_limit.is_some());
    }
}
