//! `catalog usage [--workspace WS] [--integration SLUG] [--provider @P]`: every budget,
//! rate limit and concurrency limit in scope with its live usage, a bar, the alert state
//! and when it resets; `--watch` redraws it on a terminal.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;

use super::providers::get::parse_provider_slug;
use super::Ctx;
use crate::api::usage::{AlertState, LimitKind, LimitType, UsageItem};
use crate::client::usage::UsageQuery;
use crate::exit::{CliError, ErrorKind};
use crate::printer::{OutputFormat, Tabular};
use crate::types::Slug;

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Only this integration's limits: its own budget, its access for each workspace and
    /// the AI providers built on it
    #[arg(long, value_name = "SLUG")]
    pub integration: Option<Slug>,

    /// The limits a call through this AI provider counts at: its workspace, integration,
    /// access and itself (needs --workspace)
    #[arg(long, value_name = "@PROVIDER", value_parser = parse_provider_slug)]
    pub provider: Option<Slug>,

    /// Redraw every SECONDS (2 when not given) until interrupted; needs a terminal
    #[arg(
        long,
        value_name = "SECONDS",
        num_args = 0..=1,
        default_missing_value = "2",
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub watch: Option<u64>,
}

pub fn run(ctx: &Ctx, args: UsageArgs) -> anyhow::Result<()> {
    let printer = ctx.printer();
    if args.watch.is_some() {
        if printer.format != OutputFormat::Table {
            return Err(CliError::usage(
                "`--watch` redraws a table and cannot be used with `-o json` or `-o yaml`",
            )
            .with_hint("scripts can run `catalog usage -o json` on their own schedule")
            .into());
        }
        if !printer.stdout_is_terminal() {
            return Err(CliError::usage(
                "`--watch` redraws the table on a terminal, and stdout is not one",
            )
            .with_hint("leave out --watch when piping or redirecting; `catalog usage -o json` suits scripts")
            .into());
        }
    }
    let ws = ctx.workspace()?;
    if args.provider.is_some() && ws.is_none() {
        return Err(CliError::usage(
            "--provider needs --workspace: an AI provider's slug names it within its workspace",
        )
        .with_hint("pass --workspace WORKSPACE")
        .into());
    }
    let query = UsageQuery {
        workspace_id: ws.as_ref().map(|w| w.id.as_str()),
        integration: args.integration.as_ref().map(Slug::as_str),
        provider: args.provider.as_ref().map(Slug::as_str),
    };
    let fetch = || {
        ctx.client()?.usage(&query).map_err(|e| {
            let hint = match e.downcast_ref::<CliError>() {
                Some(c) if c.message.contains("AI provider") => format!(
                    "list them with `catalog providers list --workspace {}`",
                    ws.as_ref().map_or("WORKSPACE", |w| w.slug.as_str())
                ),
                Some(c) if c.message.contains("integration") => {
                    "list them with `catalog integrations list`".to_owned()
                }
                Some(c) if c.message.contains("workspace") => {
                    "list workspaces with `catalog workspaces list`".to_owned()
                }
                _ => "`GET /v1/usage` is an extension of `catalog serve`: Portkey's hosted API does not serve it".to_owned(),
            };
            crate::exit::hint_on(e, ErrorKind::NotFound, hint)
        })
    };
    let Some(seconds) = args.watch else {
        return show(ctx, &fetch()?, Utc::now());
    };
    loop {
        let items = fetch()?;
        let now = Utc::now();
        printer.clear_screen();
        show(ctx, &items, now)?;
        printer.status(format!(
            "{} · every {seconds} s · Ctrl-C to stop",
            now.format("%H:%M:%S UTC")
        ));
        std::thread::sleep(Duration::from_secs(seconds));
    }
}

fn show(ctx: &Ctx, items: &[UsageItem], now: DateTime<Utc>) -> anyhow::Result<()> {
    let printer = ctx.printer();
    let unicode = printer.unicode();
    let rows: Vec<Row> = items
        .iter()
        .map(|item| Row { item, now, unicode })
        .collect();
    printer.list(&rows)?;
    if items.is_empty() {
        printer.status("no budget, rate limit or concurrency limit in scope");
    }
    Ok(())
}

/// One limit as a table row; as JSON, the API's item.
#[derive(Serialize)]
#[serde(transparent)]
struct Row<'a> {
    item: &'a UsageItem,
    #[serde(skip)]
    now: DateTime<Utc>,
    #[serde(skip)]
    unicode: bool,
}

impl Tabular for Row<'_> {
    fn headers() -> &'static [&'static str] {
        &[
            "LEVEL",
            "NAME",
            "LIMIT",
            "USED / LIMIT",
            "USE",
            "%",
            "ALERT",
            "RESETS",
        ]
    }

    /// On narrow terminals: without the limit's kind (USED / LIMIT names its unit, RESETS
    /// its period), then the bar (the percentage says as much), then the level (names
    /// tell most apart: `@provider`, `integration/workspace`), then the alert state.
    fn optional_columns() -> &'static [usize] {
        &[2, 4, 0, 6]
    }

    fn row(&self) -> Vec<String> {
        let it = self.item;
        vec![
            level(&it.level).to_owned(),
            it.name.clone(),
            limit_name(it),
            used_of_limit(it),
            bar(it.percent, self.unicode),
            percent(it.percent),
            match it.alert {
                AlertState::None => "-",
                AlertState::Threshold => "threshold",
                AlertState::Exhausted => "exhausted",
            }
            .to_owned(),
            resets(it, self.now),
        ]
    }
}

/// A level as the table shows it (no spaces: identifiers are never broken).
pub(super) fn level(level: &str) -> &str {
    match level {
        "api_key" => "api-key",
        "workspace_access" => "access",
        "virtual_key" => "virtual-key",
        other => other,
    }
}

fn period_short(item: &UsageItem) -> &'static str {
    match item.period.as_deref() {
        Some("second") => "s",
        Some("minute") => "min",
        Some("hour") => "hour",
        Some("day") => "day",
        _ => "week",
    }
}

/// `budget`, `requests/min`, `tokens/hour`, `concurrency`.
fn limit_name(item: &UsageItem) -> String {
    match item.limit_type {
        LimitType::Budget => item.limit_key.clone(),
        LimitType::Rate => {
            let kind = if item.kind == LimitKind::Tokens {
                "tokens"
            } else {
                "requests"
            };
            format!("{kind}/{}", period_short(item))
        }
        LimitType::Concurrency => "concurrency".to_owned(),
    }
}

/// `1234567` as `1,234,567`.
pub(super) fn grouped(n: f64) -> String {
    let whole = format!("{}", n.round() as i64);
    let (sign, digits) = match whole.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", whole.as_str()),
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// Dollars with the cents that matter: `$1,200`, `$0.06`, `$0.000125`.
pub(super) fn dollars(usd: f64) -> String {
    if usd.fract() == 0.0 {
        return format!("${}", grouped(usd));
    }
    let decimals = if usd >= 1.0 { 2 } else { 6 };
    let text = format!("{usd:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text.split_once('.') {
        Some((whole, cents)) => format!("${}.{cents}", grouped(whole.parse().unwrap_or(0.0))),
        None => format!("${}", grouped(text.parse().unwrap_or(0.0))),
    }
}

/// `$0.06 / $1`, `30 / 300 tokens`, `2 / 3 requests`, `1 / 8 in flight`.
fn used_of_limit(item: &UsageItem) -> String {
    match (item.kind, item.limit_type) {
        (LimitKind::Cost, _) => format!("{} / {}", dollars(item.used), dollars(item.limit)),
        (_, LimitType::Concurrency) => {
            format!("{} / {} in flight", grouped(item.used), grouped(item.limit))
        }
        (kind, _) => format!(
            "{} / {} {}",
            grouped(item.used),
            grouped(item.limit),
            if kind == LimitKind::Tokens {
                "tokens"
            } else {
                "requests"
            }
        ),
    }
}

/// The bar's width in characters.
const BAR: usize = 10;

/// `percent` as a bar: Unicode blocks (to an eighth of a cell) where tables may use
/// them, else `#` for used and `.` for the rest.
fn bar(percent: f64, unicode: bool) -> String {
    let share = (percent / 100.0).clamp(0.0, 1.0);
    if !unicode {
        let used = (share * BAR as f64).round() as usize;
        return format!("{}{}", "#".repeat(used), ".".repeat(BAR - used));
    }
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = (share * (BAR * 8) as f64).round() as usize;
    let (full, part) = (eighths / 8, eighths % 8);
    let drawn = full + usize::from(part > 0);
    format!(
        "{}{}{}",
        "█".repeat(full),
        PARTS[part],
        "░".repeat(BAR - drawn)
    )
}

fn percent(p: f64) -> String {
    if p > 0.0 && p < 1.0 {
        "<1%".to_owned()
    } else {
        format!("{}%", p.floor() as i64)
    }
}

/// How long until `at`, in the largest unit that reads well.
fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    match secs {
        ..=59 => "in under a minute".to_owned(),
        60..=7_199 => format!("in {} min", secs / 60),
        7_200..=172_799 => format!("in {} h", secs / 3_600),
        _ => format!("in {} days", secs / 86_400),
    }
}

/// `resets in 3 days (Mon 30 Nov 00:00 UTC)`, `never resets`, `rolling 1 min`.
fn resets(item: &UsageItem, now: DateTime<Utc>) -> String {
    match item.limit_type {
        LimitType::Budget => match item
            .next_reset_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        {
            Some(at) => {
                let at = at.with_timezone(&Utc);
                format!(
                    "resets {} ({})",
                    until(at, now),
                    at.format("%a %-d %b %H:%M UTC")
                )
            }
            None => "never resets".to_owned(),
        },
        LimitType::Rate => format!("rolling 1 {}", period_short(item)),
        LimitType::Concurrency => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_by_share_in_blocks_or_hashes() {
        assert_eq!(bar(0.0, false), "..........");
        assert_eq!(bar(6.0, false), "#.........");
        assert_eq!(bar(100.0, false), "##########");
        assert_eq!(bar(250.0, false), "##########");
        assert_eq!(bar(50.0, true), "█████░░░░░");
        assert_eq!(bar(5.0, true), "▌░░░░░░░░░", "half a cell");
        assert_eq!(bar(6.25, true), "▋░░░░░░░░░", "five eighths");
        assert_eq!(bar(100.0, true).chars().count(), BAR);
        for p in [0.0, 1.0, 33.3, 99.9] {
            assert_eq!(bar(p, true).chars().count(), BAR, "{p}");
        }
    }

    #[test]
    fn amounts_read_as_people_write_them() {
        assert_eq!(dollars(0.06), "$0.06");
        assert_eq!(dollars(1.0), "$1");
        assert_eq!(dollars(1200.5), "$1,200.5");
        assert_eq!(dollars(0.000125), "$0.000125");
        assert_eq!(grouped(5_000_000.0), "5,000,000");
        assert_eq!(percent(0.2), "<1%");
        assert_eq!(percent(6.0), "6%");
        assert_eq!(percent(99.9), "99%");
    }

    #[test]
    fn resets_say_when_in_words_and_in_utc() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = DateTime::parse_from_rfc3339("2026-11-30T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(until(at, now), "in 2 days");
        assert_eq!(
            at.format("%a %-d %b %H:%M UTC").to_string(),
            "Mon 30 Nov 00:00 UTC"
        );
        assert_eq!(until(now + chrono::Duration::hours(5), now), "in 5 h");
        assert_eq!(until(now + chrono::Duration::minutes(90), now), "in 90 min");
    }
}
