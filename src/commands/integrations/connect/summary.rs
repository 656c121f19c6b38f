//! What `connect` shows before writing: the integration, secrets masked.

use serde_json::Value;

use crate::api::integration::CreateIntegration;
use crate::crypto::mask;
use crate::services::{self, Kind, Service};

/// The summary shown before anything is written; the settings the registry marks secret
/// for `service`, and `secret_keys` (given from the environment or files), appear masked.
pub fn summary_lines(
    body: &CreateIntegration,
    service: &Service,
    workspace: Option<&str>,
    exists: bool,
    secret_keys: &[String],
) -> Vec<String> {
    let width = body
        .configurations
        .iter()
        .flatten()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0)
        .max(9);
    let mut lines = Vec::new();
    lines.push(
        if exists {
            "\nAbout to update the existing integration:"
        } else {
            "\nAbout to create:"
        }
        .to_owned(),
    );
    lines.push(format!(
        "  {:<width$} {}",
        "slug",
        body.slug.as_deref().unwrap_or("-")
    ));
    lines.push(format!("  {:<width$} {}", "name", body.name));
    lines.push(format!("  {:<width$} {}", "service", body.ai_provider_id));
    lines.push(format!(
        "  {:<width$} {}",
        "scope",
        workspace.map_or("organisation".to_owned(), |w| format!("workspace {w}"))
    ));
    if let Some(k) = &body.key {
        lines.push(format!("  {:<width$} {}", "key", mask(k)));
    }
    for (k, v) in body.configurations.iter().flatten() {
        let kind = services::classify(Some(service), k).map(|f| f.kind);
        let shown = match (kind, kind.and_then(|kind| kind.masked(v))) {
            (Some(Kind::Headers), Some(masked)) => masked
                .as_object()
                .into_iter()
                .flatten()
                .map(|(h, hv)| format!("{h}: {}", hv.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", "),
            (Some(Kind::SecretObject), _) => "(set)".to_owned(),
            (_, Some(masked)) => masked.as_str().unwrap_or("").to_owned(),
            _ if secret_keys.contains(k) => mask(v.as_str().unwrap_or("")),
            (Some(Kind::Deployments), _) => describe_deployments(v),
            _ => v.as_str().map_or_else(|| v.to_string(), str::to_owned),
        };
        lines.push(format!("  {k:<width$} {shown}"));
    }
    lines
}

/// Azure deployments as people read them: `gpt4o → gpt-4o (2024-10-21, default)`.
pub fn describe_deployments(v: &Value) -> String {
    let text = |d: &Value, k: &str| d.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
    v.as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let mut extra = vec![text(d, "azure_api_version")];
            if let Some(alias) = d.get("alias").and_then(Value::as_str) {
                extra.push(format!("alias {alias}"));
            }
            if d.get("is_default").and_then(Value::as_bool) == Some(true) {
                extra.push("default".to_owned());
            }
            format!(
                "{} → {} ({})",
                text(d, "azure_deployment_name"),
                text(d, "azure_model_slug"),
                extra.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
