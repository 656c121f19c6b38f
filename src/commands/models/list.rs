use clap::Args;
use serde::Serialize;

use crate::api::models::{cents_per_token_to_usd_per_mtok, CatalogModel};
use crate::commands::Ctx;
use crate::printer::{or_dash, Tabular};
use crate::registry::Registry;
use crate::types::{AtSlug, Slug};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this provider's models (`@slug`)
    #[arg(long)]
    pub provider: Option<AtSlug>,

    /// Only this service's models (e.g. openai)
    #[arg(long, value_parser = crate::commands::integrations::ServiceParser)]
    pub service: Option<&'static crate::services::Service>,

    /// Only models whose id contains this text
    #[arg(long)]
    pub search: Option<String>,

    /// Also show models past their deprecation date (marked as such)
    #[arg(long)]
    pub include_deprecated: bool,

    /// Show at most this many models
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Instead: what is enabled on this integration, and why (combines with --search)
    #[arg(long, conflicts_with_all = ["provider", "service"])]
    pub integration: Option<Slug>,
}

/// Whether a deprecation date has passed (dates are `YYYY-MM-DD`).
fn is_past(date: Option<&str>) -> bool {
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    date.is_some_and(|d| d <= today.as_str())
}

/// What the price marks mean, once, under a table that uses them.
const LEGEND: &str =
    "prices in USD per 1M tokens; * a price override on the integration; x the integration's price multiplier applied";

fn usd(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |p| format!("{p}"))
}

fn tokens(v: Option<u64>) -> String {
    v.map_or("-".to_owned(), |t| t.to_string())
}

impl Tabular for CatalogModel {
    fn headers() -> &'static [&'static str] {
        &[
            "MODEL",
            "SERVICE",
            "CONTEXT",
            "MAX OUTPUT",
            "INPUT $/1M",
            "OUTPUT $/1M",
            "STATUS",
        ]
    }

    /// At 80 columns: without the service (the provider names it) and token limits;
    /// with very long model ids, without the status.
    fn optional_columns() -> &'static [usize] {
        &[1, 3, 2, 6]
    }

    fn row(&self) -> Vec<String> {
        let p = self.pricing.clone().unwrap_or_default();
        let mark = match (p.source.as_str(), p.multiplier) {
            ("override", _) => "*",
            (_, Some(_)) => "x",
            _ => "",
        };
        let status = if self.is_finetune {
            "fine-tuned".to_owned()
        } else if self.is_custom {
            "custom".to_owned()
        } else if let Some(d) = &self.deprecation_date {
            if is_past(Some(d)) {
                format!("deprecated since {d}")
            } else {
                format!("deprecated from {d}")
            }
        } else {
            "available".to_owned()
        };
        vec![
            self.id.clone(),
            self.ai_service.clone(),
            tokens(self.max_input_tokens),
            tokens(self.max_output_tokens),
            format!("{}{mark}", usd(p.input_per_mtok)),
            format!("{}{mark}", usd(p.output_per_mtok)),
            status,
        ]
    }
}

/// One model of an integration and why it is (or is not) enabled.
#[derive(Debug, Serialize)]
pub struct IntegrationModelRow {
    pub slug: String,
    pub enabled: bool,
    pub why: String,
    pub input_per_mtok: Option<f64>,
    pub output_per_mtok: Option<f64>,
    pub price_override: bool,
}

impl Tabular for IntegrationModelRow {
    fn headers() -> &'static [&'static str] {
        &["MODEL", "ENABLED", "WHY", "INPUT $/1M", "OUTPUT $/1M"]
    }

    fn row(&self) -> Vec<String> {
        let mark = if self.price_override { "*" } else { "" };
        vec![
            self.slug.clone(),
            if self.enabled { "yes" } else { "no" }.to_owned(),
            self.why.clone(),
            format!("{}{mark}", usd(self.input_per_mtok)),
            format!("{}{mark}", usd(self.output_per_mtok)),
        ]
    }
}

/// Prints what an integration enables and why (allow-all, allow-list, custom).
pub fn print_integration_models(ctx: &Ctx, slug: &str, args: &ListArgs) -> anyhow::Result<()> {
    let (integration, allow_all, mut rows) = integration_rows(ctx, slug)?;
    let registry = Registry::builtin();
    if !args.include_deprecated {
        rows.retain(|r| {
            let spec = registry.find(&integration.ai_provider_id, &r.slug);
            !is_past(spec.and_then(|s| s.deprecation_date.as_deref()))
        });
    }
    if let Some(text) = &args.search {
        let needle = text.to_ascii_lowercase();
        rows.retain(|r| r.slug.to_ascii_lowercase().contains(&needle));
    }
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    ctx.printer().status(if allow_all {
        format!(
            "`{slug}` allows every {} model, except those disabled",
            integration.ai_provider_id
        )
    } else {
        format!("`{slug}` allows only the models enabled below (an allow-list)")
    });
    ctx.printer().list(&rows)?;
    if rows.iter().any(|r| r.price_override) {
        ctx.printer().status(LEGEND);
    }
    Ok(())
}

/// After a change to some models: only their rows, not the integration's whole list.
pub fn print_changed(ctx: &Ctx, slug: &str, models: &[String]) -> anyhow::Result<()> {
    let (_, _, rows) = integration_rows(ctx, slug)?;
    let rows: Vec<IntegrationModelRow> = rows
        .into_iter()
        .filter(|r| models.contains(&r.slug))
        .collect();
    ctx.printer().list(&rows)
}

/// An integration's models, whether it allows every model, and a row per model.
fn integration_rows(
    ctx: &Ctx,
    slug: &str,
) -> anyhow::Result<(
    crate::api::integration::Integration,
    bool,
    Vec<IntegrationModelRow>,
)> {
    let client = ctx.client()?;
    let integration = client.get_integration(slug)?;
    let list = client.models(slug)?;
    let registry = Registry::builtin();
    let allow_all = list.allow_all_models.unwrap_or(true);
    let mut rows = Vec::new();
    let row_for = |m: &crate::api::models::IntegrationModel, allow_all: bool| {
        let spec = registry.find(
            &integration.ai_provider_id,
            m.base_model_slug.as_deref().unwrap_or(&m.slug),
        );
        let over = m.pricing_config.as_ref().map(|p| &p.pay_as_you_go);
        let enabled = m.enabled.unwrap_or(allow_all);
        let why = if m.is_finetune == Some(true) {
            format!("fine-tuned from {}", or_dash(m.base_model_slug.as_deref()))
        } else if m.is_custom == Some(true) {
            "custom".to_owned()
        } else if !enabled {
            "disabled".to_owned()
        } else if allow_all {
            "allow-all".to_owned()
        } else {
            "allow-list".to_owned()
        };
        // Shown only with --include-deprecated: marked as such.
        let why = match spec.and_then(|s| s.deprecation_date.as_deref()) {
            Some(d) if is_past(Some(d)) && m.is_custom != Some(true) => {
                format!("{why}; deprecated since {d}")
            }
            _ => why,
        };
        IntegrationModelRow {
            slug: m.slug.clone(),
            enabled,
            why,
            input_per_mtok: over
                .and_then(|p| {
                    p.request_token
                        .map(|x| cents_per_token_to_usd_per_mtok(x.price))
                })
                .or(spec.and_then(|s| s.input_per_mtok)),
            output_per_mtok: over
                .and_then(|p| {
                    p.response_token
                        .map(|x| cents_per_token_to_usd_per_mtok(x.price))
                })
                .or(spec.and_then(|s| s.output_per_mtok)),
            price_override: over.is_some(),
        }
    };
    if allow_all {
        for spec in registry.models(&integration.ai_provider_id) {
            let stored = list.models.iter().find(|m| m.slug == spec.slug).cloned();
            let m = stored.unwrap_or_else(|| crate::api::models::IntegrationModel {
                slug: spec.slug.clone(),
                enabled: Some(true),
                ..Default::default()
            });
            rows.push(row_for(&m, true));
        }
        for m in list.models.iter().filter(|m| {
            registry
                .find(&integration.ai_provider_id, &m.slug)
                .is_none()
        }) {
            rows.push(row_for(m, true));
        }
    } else {
        for m in &list.models {
            rows.push(row_for(m, false));
        }
    }
    Ok((integration, allow_all, rows))
}

pub fn run(ctx: &Ctx, args: ListArgs) -> anyhow::Result<()> {
    if let Some(slug) = &args.integration {
        return print_integration_models(ctx, slug.as_str(), &args);
    }
    let ws = super::super::providers::workspace(ctx)?;
    let mut filters = Vec::new();
    if let Some(p) = &args.provider {
        filters.push(("provider", p.as_str()));
    }
    if let Some(s) = &args.service {
        filters.push(("ai_service", s.id));
    }
    let client = ctx.client()?;
    let mut models = client.catalog_models(&ws.id, &filters)?;
    if let (Some(p), true) = (&args.provider, models.is_empty()) {
        // Nothing to call through it: say whether the provider exists at all.
        if let Err(e) = client.get_provider(&ws.id, p.as_str()) {
            if crate::client::is_missing(&e) {
                return Err(crate::exit::fail(
                    crate::exit::ErrorKind::NotFound,
                    format!(
                        "no AI provider `@{}` in workspace `{}`",
                        p.as_str(),
                        ws.slug
                    ),
                    Some(&format!(
                        "list them with `catalog providers list --workspace {}`",
                        ws.slug
                    )),
                ));
            }
            return Err(e);
        }
    }
    if let Some(text) = &args.search {
        let needle = text.to_ascii_lowercase();
        models.retain(|m| m.id.to_ascii_lowercase().contains(&needle));
    }
    if !args.include_deprecated {
        models.retain(|m| !is_past(m.deprecation_date.as_deref()));
    }
    if let Some(n) = args.limit {
        models.truncate(n);
    }
    ctx.printer().list(&models)?;
    let marked = models.iter().any(|m| {
        m.pricing
            .as_ref()
            .is_some_and(|p| p.source == "override" || p.multiplier.is_some())
    });
    if marked {
        ctx.printer().status(LEGEND);
    }
    Ok(())
}
