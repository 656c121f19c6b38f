//! `catalog check @provider/model --workspace WS`: whether the workspace can call the
//! model, step by step, with the gateway's own resolution and no call upstream.

use clap::Args;
use serde::Serialize;

use super::Ctx;
use crate::exit::CliError;
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
    } else {
        printer.data(&explanation)?;
    }
    match explanation.steps.iter().find(|s| !s.ok) {
        None => {
            printer.status(format!("workspace `{}` can call `{model}`", ws.slug));
            Ok(())
        }
        Some(step) => Err(CliError::new(
            crate::exit::ErrorKind::Failed,
            format!(
                "workspace `{}` cannot call `{model}`: the `{}` step fails",
                ws.slug, step.step
            ),
        )
        .with_hint(step.detail.clone())
        .into()),
    }
}
