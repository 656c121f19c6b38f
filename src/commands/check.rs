//! `catalog check @provider/model --workspace WS`: whether the workspace can call the
//! model, step by step, with the gateway's own resolution and no call upstream: the
//! provider, its state, integration, credentials, the model, the headroom each limit
//! leaves a typical request (naming the level that would refuse it) and the upstream.

use clap::Args;
use serde::Serialize;

use super::Ctx;
use crate::admission::LevelKind;
use crate::exit::CliError;
use crate::gateway::check::Headroom;
use crate::gateway::resolve::Step;
use crate::printer::Tabular;
use crate::types::ModelRef;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// `@provider/model`
    pub model: ModelRef,

    /// Also check this API key: that it belongs to the workspace, is live and may call models
    #[arg(long, value_name = "ID")]
    pub api_key_id: Option<String>,
}

#[derive(Serialize)]
struct Row<'a>(&'a Step);

impl Tabular for Row<'_> {
    fn headers() -> &'static [&'static str] {
        &["RESULT", "STEP", "DETAIL"]
    }

    fn row(&self) -> Vec<String> {
        vec![
            if self.0.ok { "pass" } else { "FAIL" }.to_owned(),
            self.0.step.clone(),
            self.0.detail.clone(),
        ]
    }
}

/// What one limit leaves for a typical request, as a table row.
#[derive(Serialize)]
struct Limit<'a>(&'a Headroom);

/// An amount in a limit's unit: `$0.97`, `2,000 tokens`, `1 request`, `2 in flight`;
/// `bare` leaves the unit out (but for dollars).
fn amount(h: &Headroom, value: f64, bare: bool) -> String {
    let n = super::usage::grouped(value);
    let unit = match h.unit.as_str() {
        "usd" => return super::usage::dollars(value),
        _ if bare => return n,
        _ if h.limit_key == crate::admission::CONCURRENCY => "in flight",
        "requests" if value == 1.0 => "request",
        unit => unit,
    };
    format!("{n} {unit}")
}

impl Tabular for Limit<'_> {
    fn headers() -> &'static [&'static str] {
        &[
            "LEVEL",
            "NAME",
            "LIMIT",
            "LEFT",
            "TYPICAL REQUEST",
            "RESULT",
        ]
    }

    fn row(&self) -> Vec<String> {
        let h = self.0;
        let limit = match h.limit_key.strip_prefix("rate/") {
            Some(rate) => rate
                .replace("/rps", "/s")
                .replace("/rpm", "/min")
                .replace("/rph", "/hour")
                .replace("/rpd", "/day")
                .replace("/rpw", "/week"),
            None => h.limit_key.clone(),
        };
        vec![
            super::usage::level(&h.level).to_owned(),
            h.name.clone(),
            limit,
            format!(
                "{} of {}",
                amount(h, h.remaining, true),
                amount(h, h.limit, false)
            ),
            amount(h, h.request, false),
            if h.refuses { "REFUSES" } else { "fits" }.to_owned(),
        ]
    }
}

pub fn run(ctx: &Ctx, args: CheckArgs) -> anyhow::Result<()> {
    let ws = super::providers::workspace(ctx)?;
    let model = args.model.to_string();
    let explanation = ctx
        .client()?
        .check(&ws.id, &model, args.api_key_id.as_deref())?;
    let printer = ctx.printer();
    if printer.format == crate::printer::OutputFormat::Table {
        let rows: Vec<Row> = explanation.steps.iter().map(Row).collect();
        printer.list(&rows)?;
        if !explanation.limits.is_empty() {
            let limits: Vec<Limit> = explanation.limits.iter().map(Limit).collect();
            printer.list(&limits)?;
        }
    } else {
        printer.data(&explanation)?;
    }
    match explanation.steps.iter().find(|s| !s.ok) {
        None => {
            printer.status(format!("workspace `{}` can call `{model}`", ws.slug));
            Ok(())
        }
        Some(step) => {
            let why = match explanation.limits.iter().find(|l| l.refuses) {
                Some(l) => format!(
                    "the {} `{}` would refuse it ({})",
                    LevelKind::parse(&l.level)
                        .map_or_else(|| l.level.clone(), |k| k.label().to_owned()),
                    l.name,
                    l.limit_key
                ),
                None => format!("the `{}` step fails", step.step),
            };
            Err(CliError::new(
                crate::exit::ErrorKind::Failed,
                format!("workspace `{}` cannot call `{model}`: {why}", ws.slug),
            )
            .with_hint(step.detail.clone())
            .into())
        }
    }
}
