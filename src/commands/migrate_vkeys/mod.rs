//! `catalog migrate-vkeys`: turn legacy virtual keys into integrations provisioned to
//! their workspaces, and AI providers with the same slugs; or, with `--rewrite-configs`,
//! rewrite gateway config files from `virtual_key` to `provider: "@slug"`.

mod rewrite;

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::Ctx;
use crate::api::virtual_key::{MigrateGroup, MigratedGroup, MigrationPlan, PlannedKey, VirtualKey};
use crate::exit::{fail, CliError, ErrorKind};
use crate::limit_args::{describe_budget, describe_rate};
use crate::printer::{or_dash, Tabular};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Migrate the keys of every workspace (the default when --workspace is not given)
    #[arg(long)]
    pub all_workspaces: bool,

    /// Show the plan and write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Instead of migrating keys, rewrite these gateway config files (JSON) from
    /// `virtual_key: "x"` to `provider: "@x"`, showing the diff first
    #[arg(long = "rewrite-configs", value_name = "PATH", num_args = 1..)]
    pub rewrite_configs: Vec<PathBuf>,

    /// With --rewrite-configs: do not keep the original of each file as FILE.bak
    #[arg(long, requires = "rewrite_configs")]
    pub no_backup: bool,
}

/// One row of the plan table: a key and what it becomes.
#[derive(Debug, Serialize)]
struct PlanRow<'a> {
    key: &'a PlannedKey,
    service: &'a str,
    integration: &'a str,
    new_integration: bool,
}

impl Tabular for PlanRow<'_> {
    fn headers() -> &'static [&'static str] {
        &[
            "VIRTUAL KEY",
            "WORKSPACE",
            "SERVICE",
            "INTEGRATION",
            "BUDGET",
            "RATE LIMIT",
            "EXPIRES",
        ]
    }

    fn row(&self) -> Vec<String> {
        vec![
            format!("@{}", self.key.slug),
            self.key.workspace.clone(),
            self.service.to_owned(),
            format!(
                "{} ({})",
                self.integration,
                if self.new_integration {
                    "new"
                } else {
                    "existing"
                }
            ),
            describe_budget(self.key.usage_limits.as_ref(), None)
                .trim_start_matches("0 / ")
                .to_owned(),
            describe_rate(self.key.rate_limits.as_ref()),
            or_dash(self.key.expires_at.as_deref()),
        ]
    }
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    plan: &'a MigrationPlan,
    dry_run: bool,
    migrated: Vec<MigratedGroup>,
}

fn plan_path(workspace_id: Option<&str>) -> String {
    match workspace_id {
        Some(ws) => crate::client::with_query(
            "/virtual-keys/migration-plan",
            &[("workspace_id".to_owned(), ws.to_owned())],
        ),
        None => "/virtual-keys/migration-plan".to_owned(),
    }
}

/// A server without the planning extension (such as the hosted catalog): fine if every
/// virtual key is already backed by an integration.
fn without_extension(ctx: &Ctx, workspace_id: Option<&str>) -> anyhow::Result<()> {
    let query: Vec<(&str, &str)> = workspace_id
        .map(|w| ("workspace_id", w))
        .into_iter()
        .collect();
    let keys: Vec<VirtualKey> = ctx.client()?.list_all("/virtual-keys", &query)?;
    let legacy = keys
        .iter()
        .filter(|k| k.integration_id.as_deref().unwrap_or("").is_empty())
        .count();
    if legacy == 0 {
        ctx.printer().status(format!(
            "nothing to migrate: all {} virtual key(s) are already AI providers backed by integrations",
            keys.len()
        ));
        return Ok(());
    }
    Err(fail(
        ErrorKind::Failed,
        format!("{legacy} virtual key(s) are not backed by an integration, and this server cannot plan their migration"),
        Some("migrate them with a `catalog serve` catalog, or in the server's own console"),
    ))
}

pub fn run(ctx: &Ctx, args: MigrateArgs) -> anyhow::Result<()> {
    if !args.rewrite_configs.is_empty() {
        return rewrite::run(ctx, &args.rewrite_configs, args.dry_run, !args.no_backup);
    }
    if args.all_workspaces && ctx.settings.workspace.is_some() {
        return Err(
            CliError::usage("pass either --workspace or --all-workspaces, not both").into(),
        );
    }
    let client = ctx.client()?;
    let ws = if args.all_workspaces {
        None
    } else {
        ctx.workspace()?
    };
    let ws_id = ws.as_ref().map(|w| w.id.as_str());
    let plan: MigrationPlan = match client.get(&plan_path(ws_id)) {
        Ok(p) => p,
        Err(e) if crate::client::is_missing(&e) => return without_extension(ctx, ws_id),
        Err(e) => return Err(e),
    };
    let printer = ctx.printer();
    let mut report = Report {
        plan: &plan,
        dry_run: args.dry_run,
        migrated: Vec::new(),
    };
    for u in &plan.unmigratable {
        printer.warn(format!(
            "`@{}` in `{}` cannot be migrated: {}",
            u.slug, u.workspace, u.reason
        ));
    }
    if plan.groups.is_empty() {
        printer.status(format!(
            "nothing to migrate: {} virtual key(s) are already AI providers{}",
            plan.already_migrated,
            if plan.unmigratable.is_empty() {
                ""
            } else {
                "; the keys above need attention"
            }
        ));
        return if printer.format == crate::printer::OutputFormat::Table {
            Ok(())
        } else {
            printer.data(&report)
        };
    }
    show_plan(ctx, &plan)?;
    if args.dry_run {
        if printer.format != crate::printer::OutputFormat::Table {
            printer.data(&report)?;
        }
        printer.status("dry run: nothing was written");
        return Ok(());
    }
    let keys: usize = plan.groups.iter().map(|g| g.keys.len()).sum();
    ctx.prompter().confirm_destructive(&format!(
        "Migrate {keys} virtual key(s) into {} integration(s)?",
        plan.groups.len()
    ))?;
    for group in &plan.groups {
        let body = MigrateGroup {
            group: group.group.clone(),
            workspace_id: ws_id.map(str::to_owned),
            // Exactly what the plan showed, or nothing.
            integration: Some(group.integration.clone()),
        };
        match client.post::<_, MigratedGroup>("/virtual-keys/migrate", &body) {
            Ok(done) => {
                printer.status(format!(
                    "migrated {} to integration `{}`{}, provisioned to {}",
                    done.providers.iter().map(|p| format!("@{p}")).collect::<Vec<_>>().join(", "),
                    done.integration,
                    if done.integration_created { " (created)" } else { "" },
                    done.workspaces.join(", ")
                ));
                report.migrated.push(done);
            }
            Err(e) if crate::client::is_missing(&e) => {
                printer.status(format!("`{}`: already migrated", group.integration));
            }
            Err(e) => {
                return Err(e.context(format!(
                    "migrated {} of {} group(s) before this failure; run the same command again to finish",
                    report.migrated.len(),
                    plan.groups.len()
                )))
            }
        }
    }
    printer.status(format!(
        "migrated {} virtual key(s); their slugs keep working as `@slug/model`",
        report
            .migrated
            .iter()
            .map(|g| g.providers.len())
            .sum::<usize>()
    ));
    if printer.format != crate::printer::OutputFormat::Table {
        printer.data(&report)?;
    }
    Ok(())
}

fn show_plan(ctx: &Ctx, plan: &MigrationPlan) -> anyhow::Result<()> {
    let printer = ctx.printer();
    if printer.format != crate::printer::OutputFormat::Table {
        return Ok(());
    }
    let rows: Vec<PlanRow<'_>> = plan
        .groups
        .iter()
        .flat_map(|g| {
            g.keys.iter().map(move |k| PlanRow {
                key: k,
                service: &g.service,
                integration: &g.integration,
                new_integration: !g.integration_exists,
            })
        })
        .collect();
    printer.list(&rows)?;
    for g in plan.groups.iter().filter(|g| !g.integration_exists) {
        printer.notice(format!(
            "integration to create: `{}` ({}), provisioned to {}",
            g.integration,
            g.service,
            g.workspaces.join(", ")
        ));
    }
    Ok(())
}
