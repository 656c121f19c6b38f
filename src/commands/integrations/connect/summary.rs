//! What `connect` shows before writing: the integration, secrets masked.

use serde_json::Value;

use crate::api::integration::CreateIntegration;
use crate::commands::integrations::config_args::is_secret;
use crate::crypto::mask;

/// The summary shown before anything is written; secrets appear masked.
pub fn summary_lines(
    body: &CreateIntegration,
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
        let shown = if k == "custom_headers" {
            let names: Vec<String> = v
                .as_object()
                .into_iter()
                .flatten()
                .map(|(h, hv)| format!("{h}: {}", mask(hv.as_str().unwrap_or(""))))
                .collect();
            names.join(", ")
        } else if k == "vertex_service_account_json" {
            "(set)".to_owned()
        } else if is_secret(k) || secret_keys.contains(k) {
            mask(v.as_str().unwrap_or(""))
        } else if k == "azure_deployment_config" {
            describe_deployments(v)
        } else {
            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
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
