use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;

use crate::api::alerts::AlertKind;
use crate::client::AlertFilter;
use crate::commands::time_args::parse_time;
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

    /// Only alerts raised at or after this time (2026-05-01, 2026-05-01T12:00:00Z, or 7d ago)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<String>,
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
