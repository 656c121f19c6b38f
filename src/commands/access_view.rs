//! How workspace access to an integration is shown: who has it, the limits, usage so
//! far, the next reset in UTC and local time, and what workspaces created later get.

use chrono::{DateTime, Local, Utc};
use serde::Serialize;

use crate::api::provisioning::{GlobalWorkspaceAccess, IntegrationWorkspace, WorkspaceAccessList};
use crate::limit_args::{
    describe_budget, describe_concurrency, describe_limit, describe_rate, describe_window,
};
use crate::printer::{or_dash, Printer, Tabular};

impl Tabular for IntegrationWorkspace {
    fn headers() -> &'static [&'static str] {
        &[
            "WORKSPACE",
            "NAME",
            "ACCESS",
            "BUDGET (USED / LIMIT)",
            "RESETS",
            "NEXT RESET (UTC)",
            "NEXT RESET (LOCAL)",
            "RATE LIMIT",
            "CONCURRENCY",
        ]
    }

    /// At 80 columns: without the name, concurrency (an extension), the UTC reset and the
    /// reset kind.
    fn optional_columns() -> &'static [usize] {
        &[1, 8, 5, 4]
    }

    fn row(&self) -> Vec<String> {
        let budget = self.access.usage_limits.as_ref().and_then(|u| u.first());
        let next = self
            .usage
            .as_ref()
            .and_then(|u| u.next_usage_reset_at.as_deref())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        vec![
            self.id.clone(),
            or_dash(self.name.as_deref()),
            if self.access.enabled {
                "enabled"
            } else {
                "revoked"
            }
            .to_owned(),
            describe_budget(budget, self.usage.as_ref().map(|u| u.current_usage)),
            describe_window(budget),
            next.map_or("-".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string()),
            next.map_or("-".to_owned(), local_with_countdown),
            describe_rate(self.access.rate_limits.as_ref()),
            describe_concurrency(self.access.concurrency_limit),
        ]
    }
}

fn local_with_countdown(t: DateTime<Utc>) -> String {
    let days = (t - Utc::now()).num_hours().max(0) as f64 / 24.0;
    format!(
        "{} (in {:.0} day{})",
        t.with_timezone(&Local).format("%Y-%m-%d %H:%M %:z"),
        days.ceil(),
        if days.ceil() == 1.0 { "" } else { "s" }
    )
}

/// One line on what workspaces created later get.
pub fn describe_global(global: Option<&GlobalWorkspaceAccess>) -> String {
    match global.filter(|g| g.enabled) {
        Some(g) => format!(
            "workspaces created later: provisioned automatically (budget {}, rate limit {}, concurrency {})",
            describe_limit(g.usage_limits.as_ref().and_then(|u| u.first())),
            describe_rate(g.rate_limits.as_ref()),
            describe_concurrency(g.concurrency_limit)
        ),
        None => "workspaces created later: not provisioned".to_owned(),
    }
}

/// Prints an access list: a table and the global line for people, the object for scripts.
pub fn print(printer: &Printer, access: &WorkspaceAccessList) -> anyhow::Result<()> {
    if printer.format != crate::printer::OutputFormat::Table {
        return printer.data(access);
    }
    printer.list(&access.workspaces)?;
    // Prose, not rows: stderr.
    printer.status(describe_global(access.global_workspace_access.as_ref()));
    Ok(())
}

/// The JSON shape of a provisioning run, for scripts.
#[derive(Debug, Serialize)]
pub struct ProvisionReport<'a> {
    pub integration: &'a str,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    pub revoked: Vec<String>,
    pub new_workspaces: Option<bool>,
    pub dry_run: bool,
    pub access: Option<&'a WorkspaceAccessList>,
}
