use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;

use crate::api::alerts::AlertKind;
use crate::client::AlertFilter;
use crate::commands::Ctx;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only alerts of this kind: the alert threshold crossed, or the limit reached
    #[arg(
        long,
        value_name = "KIND",
        value_parser = PossibleValuesParser::new(["threshold", "limit"])
            .map(|k| k.parse::<AlertKind>().expect("one of the possible values"))
    )]
    pub kind: Option<AlertKind>,

    /// Only alerts some webhook has not acknowledged yet (or that no webhook received)
    #[arg(long)]
    pub undelivered: bool,

    /// Only alerts raised at or after this time (2026-05-01 or 2026-05-01T12:00:00Z)
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    pub since: Option<String>,
}

/// A date (midnight UTC) or an RFC 3339 time, as an RFC 3339 time in UTC.
fn parse_since(s: &str) -> Result<String, String> {
    use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
    let text = s.trim();
    let at: DateTime<Utc> = match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| {
                format!("`{s}` is not a date or time; write 2026-05-01 or 2026-05-01T12:00:00Z")
            })?
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc(),
    };
    Ok(at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

pub fn run(ctx: &Ctx, args: ListArgs) -> anyhow::Result<()> {
    let filter = AlertFilter {
        kind: args.kind,
        delivered: args.undelivered.then_some(false),
        since: args.since,
    };
    let alerts = ctx.client()?.list_alerts(&filter)?;
    ctx.printer().list(&alerts)
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_takes_dates_and_times() {
        assert_eq!(
            super::parse_since("2026-05-01").unwrap(),
            "2026-05-01T00:00:00Z"
        );
        assert_eq!(
            super::parse_since("2026-05-01T14:00:00+02:00").unwrap(),
            "2026-05-01T12:00:00Z"
        );
        assert!(super::parse_since("yesterday").is_err());
    }
}
