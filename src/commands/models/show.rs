use clap::Args;
use serde::Serialize;

use super::snippets::{render, Snippet};
use crate::api::models::CatalogModel;
use crate::commands::login_base_url;
use crate::commands::Ctx;
use crate::exit::{fail, ErrorKind};
use crate::printer::{or_dash, Tabular};
use crate::types::ModelRef;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// `@provider/model`
    pub model: ModelRef,

    /// Print ready-to-use code calling the model
    #[arg(long, value_enum)]
    pub snippet: Option<Snippet>,
}

#[derive(Debug, Serialize)]
struct ModelDetails<'a> {
    #[serde(flatten)]
    model: &'a CatalogModel,
    snippet: Option<String>,
}

impl Tabular for ModelDetails<'_> {
    fn headers() -> &'static [&'static str] {
        &[]
    }

    fn row(&self) -> Vec<String> {
        Vec::new()
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let m = self.model;
        let p = m.pricing.clone().unwrap_or_default();
        let num = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{x}"));
        vec![
            ("model", m.id.clone()),
            ("service", m.ai_service.clone()),
            ("integration", m.integration.clone()),
            ("kind", or_dash(m.kind.as_deref())),
            (
                "context window",
                m.max_input_tokens.map_or("-".to_owned(), |t| t.to_string()),
            ),
            (
                "max output",
                m.max_output_tokens
                    .map_or("-".to_owned(), |t| t.to_string()),
            ),
            ("input $/1M", num(p.input_per_mtok)),
            ("output $/1M", num(p.output_per_mtok)),
            ("cache read $/1M", num(p.cache_read_per_mtok)),
            ("price source", p.source.clone()),
            ("multiplier", num(p.multiplier)),
            ("deprecation", or_dash(m.deprecation_date.as_deref())),
        ]
    }
}

pub fn run(ctx: &Ctx, args: ShowArgs) -> anyhow::Result<()> {
    let ws = super::super::providers::workspace(ctx)?;
    let models = ctx
        .client()?
        .catalog_models(&ws.id, &[("provider", args.model.provider.as_str())])?;
    let wanted = args.model.to_string();
    let model = models.iter().find(|m| m.id == wanted).ok_or_else(|| {
        fail(
            ErrorKind::NotFound,
            format!("`{wanted}` is not a model workspace `{}` can call", ws.slug),
            Some(&format!(
                "see what it can call: `catalog models list --workspace {} --provider @{}`",
                ws.slug, args.model.provider
            )),
        )
    })?;
    let base = login_base_url(&ctx.settings);
    let snippet = args.snippet.map(|s| {
        render(
            s,
            &wanted,
            &base,
            model.kind.as_deref() == Some("embedding"),
        )
    });
    let printer = ctx.printer();
    if printer.format != crate::printer::OutputFormat::Table {
        return printer.data(&ModelDetails { model, snippet });
    }
    match snippet {
        // With --snippet, stdout is the code alone, ready to paste or pipe into a file.
        Some(code) => {
            printer.status(format!("{wanted} through {base}"));
            printer.raw(&code);
            Ok(())
        }
        None => printer.one(&ModelDetails {
            model,
            snippet: None,
        }),
    }
}
