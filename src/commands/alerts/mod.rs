//! `catalog alerts ...`: the budget alerts a catalog raised (an extension of this
//! server's Admin API, `GET /v1/alerts`), with how their delivery to webhooks stands.

mod list;

use clap::Subcommand;

use super::Ctx;
use crate::api::alerts::Alert;
use crate::domain::alerts::amount;
use crate::printer::{or_dash, Tabular};

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// List budget alerts, newest first
    List(list::ListArgs),
}

pub fn run(ctx: &Ctx, cmd: AlertsCommand) -> anyhow::Result<()> {
    match cmd {
        AlertsCommand::List(args) => list::run(ctx, args),
    }
}

/// `yes`, or why not yet: `no (3 attempts)`, `no (no webhook)`.
fn delivery(alert: &Alert) -> String {
    if alert.delivered {
        "yes".to_owned()
    } else if alert.deliveries.is_empty() {
        "no (no webhook)".to_owned()
    } else {
        match alert.attempts {
            0 => "not yet".to_owned(),
            1 => "no (1 attempt)".to_owned(),
            n => format!("no ({n} attempts)"),
        }
    }
}

impl Tabular for Alert {
    fn headers() -> &'static [&'static str] {
        &["WHEN", "LEVEL", "NAME", "KIND", "USED/LIMIT", "DELIVERED"]
    }

    /// At 80 columns: without the level.
    fn optional_columns() -> &'static [usize] {
        &[1]
    }

    fn row(&self) -> Vec<String> {
        let a = &self.event;
        vec![
            a.created_at.clone(),
            a.level.clone(),
            a.name.clone(),
            a.kind.as_str().to_owned(),
            format!(
                "{} / {}",
                amount(&a.unit, a.used),
                amount(&a.unit, a.credit_limit)
            ),
            delivery(self),
        ]
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let a = &self.event;
        vec![
            ("id", a.id.to_string()),
            ("when", a.created_at.clone()),
            ("kind", a.kind.as_str().to_owned()),
            ("message", a.message.clone()),
            ("window", a.window_started_at.clone()),
            ("delivered", delivery(self)),
            ("delivered at", or_dash(self.delivered_at.as_deref())),
        ]
    }
}
