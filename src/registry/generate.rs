//! Derives the registry from LiteLLM's model cost map. Deterministic: the same input
//! always gives the same bytes (sorted maps, prices rounded to 1e-6 USD per 1M tokens).

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::{Map, Value};

use super::{ModelKind, ModelSpec, Registry};

/// LiteLLM provider names and the `ai_provider_id` each maps to.
const SERVICES: &[(&str, &str)] = &[
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("azure", "azure-openai"),
    ("bedrock", "bedrock"),
    ("bedrock_converse", "bedrock"),
    ("vertex_ai", "vertex-ai"),
    ("vertex_ai-language-models", "vertex-ai"),
    ("vertex_ai-anthropic_models", "vertex-ai"),
    ("vertex_ai-mistral_models", "vertex-ai"),
    ("vertex_ai-llama_models", "vertex-ai"),
    ("vertex_ai-embedding-models", "vertex-ai"),
    ("vertex_ai-image-models", "vertex-ai"),
    ("gemini", "google"),
    ("mistral", "mistral-ai"),
    ("groq", "groq"),
    ("together_ai", "together-ai"),
    ("fireworks_ai", "fireworks-ai"),
    ("cohere", "cohere"),
    ("cohere_chat", "cohere"),
    ("deepseek", "deepseek"),
    ("xai", "x-ai"),
    ("perplexity", "perplexity-ai"),
    ("cerebras", "cerebras"),
    ("openrouter", "openrouter"),
    ("deepinfra", "deepinfra"),
];

pub const SOURCE: &str =
    "LiteLLM model cost map (model_prices_and_context_window.json, litellm 1.109.1)";
pub const LICENSE: &str = "MIT, Copyright (c) 2023 Berri AI; see data/README.md";

fn per_mtok(entry: &Map<String, Value>, field: &str) -> Option<f64> {
    let per_token = entry.get(field)?.as_f64()?;
    Some((per_token * 1e12).round() / 1e6)
}

fn slug_for(key: &str, provider: &str) -> Option<String> {
    let slug = match key.split_once('/') {
        Some((prefix, rest))
            if prefix == provider || SERVICES.iter().any(|(p, _)| *p == prefix) =>
        {
            rest
        }
        _ => key,
    };
    // Region- or commitment-specific Bedrock paths are not model ids.
    if provider.starts_with("bedrock") && slug.contains('/') {
        return None;
    }
    (!slug.is_empty()).then(|| slug.to_owned())
}

/// Price keys that are not models: image prices per size and quality
/// (`high/1024-x-1024/gpt-image-1`) and per-session tools (`container`).
fn is_model(slug: &str, kind: ModelKind, entry: &Map<String, Value>) -> bool {
    let size_or_quality = slug.split('/').any(|part| {
        matches!(part, "low" | "medium" | "high" | "hd" | "standard")
            || part
                .split_once("-x-")
                .is_some_and(|(w, h)| w.parse::<u32>().is_ok() && h.parse::<u32>().is_ok())
    });
    let has = |field: &str| entry.contains_key(field);
    let tokens = has("max_input_tokens")
        || has("max_output_tokens")
        || has("max_tokens")
        || has("input_cost_per_token")
        || has("output_cost_per_token");
    !size_or_quality && (kind != ModelKind::Chat || tokens)
}

/// The registry file for `source` (the JSON text of the cost map).
pub fn generate(source: &str) -> anyhow::Result<String> {
    let map: Map<String, Value> =
        serde_json::from_str(source).context("the model cost map is not a JSON object")?;
    let mut services: BTreeMap<String, BTreeMap<String, ModelSpec>> = BTreeMap::new();
    for (key, value) in &map {
        let Some(entry) = value.as_object() else {
            continue;
        };
        let Some(provider) = entry.get("litellm_provider").and_then(Value::as_str) else {
            continue;
        };
        let Some((_, service)) = SERVICES.iter().find(|(p, _)| *p == provider) else {
            continue;
        };
        let kind = match entry.get("mode").and_then(Value::as_str) {
            Some("chat" | "responses" | "completion") => ModelKind::Chat,
            Some("embedding") => ModelKind::Embedding,
            Some("image_generation") => ModelKind::Image,
            _ => continue,
        };
        let Some(slug) = slug_for(key, provider) else {
            continue;
        };
        if !is_model(&slug, kind, entry) {
            continue;
        }
        let mut capabilities: Vec<String> = entry
            .iter()
            .filter(|(k, v)| k.starts_with("supports_") && v.as_bool() == Some(true))
            .map(|(k, _)| k.trim_start_matches("supports_").to_owned())
            .collect();
        capabilities.sort();
        let spec = ModelSpec {
            slug: slug.clone(),
            kind,
            max_input_tokens: entry.get("max_input_tokens").and_then(Value::as_u64),
            max_output_tokens: entry.get("max_output_tokens").and_then(Value::as_u64),
            input_per_mtok: per_mtok(entry, "input_cost_per_token"),
            output_per_mtok: per_mtok(entry, "output_cost_per_token"),
            cache_read_per_mtok: per_mtok(entry, "cache_read_input_token_cost"),
            capabilities,
            deprecation_date: entry
                .get("deprecation_date")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        // The first key (in sorted order) for a model wins; later duplicates are aliases.
        services
            .entry((*service).to_owned())
            .or_default()
            .entry(slug)
            .or_insert(spec);
    }
    let registry = Registry {
        source: SOURCE.to_owned(),
        license: LICENSE.to_owned(),
        services: services
            .into_iter()
            .map(|(service, models)| (service, models.into_values().collect()))
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&registry)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_prices_are_normalised() {
        let source = r#"{
            "azure/gpt-4o": {"litellm_provider": "azure", "mode": "chat", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, "supports_vision": true},
            "bedrock/us-east-1/anthropic.claude": {"litellm_provider": "bedrock", "mode": "chat"},
            "whisper": {"litellm_provider": "openai", "mode": "audio_transcription"},
            "openai/container": {"litellm_provider": "openai", "mode": "chat", "code_interpreter_cost_per_session": 0.03},
            "high/1024-x-1024/gpt-image-1": {"litellm_provider": "openai", "mode": "image_generation"},
            "sample_spec": {"note": "not a model"}
        }"#;
        let text = generate(source).unwrap();
        let r: Registry = serde_json::from_str(&text).unwrap();
        let m = &r.services["azure-openai"][0];
        assert_eq!(m.slug, "gpt-4o");
        assert_eq!(
            (m.input_per_mtok, m.output_per_mtok),
            (Some(2.5), Some(10.0))
        );
        assert_eq!(m.capabilities, ["vision"]);
        assert!(!r.services.contains_key("bedrock"));
        assert!(!r.services.contains_key("openai"));
        assert_eq!(generate(source).unwrap(), text, "deterministic");
    }

    #[test]
    fn every_mapped_service_is_in_the_service_registry() {
        for (litellm, id) in SERVICES {
            assert!(
                crate::services::find(id).is_some(),
                "LiteLLM `{litellm}` maps to `{id}`, which the service registry does not know"
            );
        }
    }
}
