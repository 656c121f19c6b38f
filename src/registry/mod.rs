//! The built-in model registry: chat, embedding and image models per service, with token
//! limits, prices per 1M tokens, capabilities and deprecation dates.
//!
//! `data/model_registry.json` is derived from LiteLLM's model cost map (MIT; see
//! `data/README.md`) by [`generate`], reproducibly: `CATALOG_UPDATE_REGISTRY=1 cargo test
//! --test it registry` rewrites it, and the same test fails when it no longer matches.

mod generate;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use generate::generate;

const EMBEDDED: &str = include_str!("../../data/model_registry.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Chat,
    Embedding,
    Image,
}

/// One model of one service, as the registry knows it. Prices are USD per 1M tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub slug: String,
    pub kind: ModelKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_per_mtok: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_per_mtok: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_per_mtok: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation_date: Option<String>,
}

/// The registry file: where it came from, and the models of each service (`ai_provider_id`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registry {
    pub source: String,
    pub license: String,
    pub services: BTreeMap<String, Vec<ModelSpec>>,
}

impl Registry {
    /// The registry embedded in the binary. Its index is read on first use and each
    /// service's models only when that service is asked for.
    pub fn builtin() -> &'static Builtin {
        static BUILTIN: OnceLock<Builtin> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let raw: RawRegistry<'static> =
                serde_json::from_str(EMBEDDED).expect("the embedded model registry is valid JSON");
            Builtin {
                services: raw
                    .services
                    .into_iter()
                    .map(|(k, v)| (k, (v, OnceLock::new())))
                    .collect(),
            }
        })
    }
}

#[derive(Deserialize)]
struct RawRegistry<'a> {
    #[serde(borrow)]
    services: BTreeMap<&'a str, &'a RawValue>,
}

/// The embedded registry, parsed per service on demand.
pub struct Builtin {
    services: BTreeMap<&'static str, (&'static RawValue, OnceLock<Vec<ModelSpec>>)>,
}

impl Builtin {
    /// A service's models, sorted by slug.
    pub fn models(&self, service: &str) -> &[ModelSpec] {
        match self.services.get(service) {
            Some((raw, cell)) => cell.get_or_init(|| {
                serde_json::from_str(raw.get()).expect("the embedded model registry is valid JSON")
            }),
            None => &[],
        }
    }

    pub fn find(&self, service: &str, slug: &str) -> Option<&ModelSpec> {
        let models = self.models(service);
        models
            .binary_search_by(|m| m.slug.as_str().cmp(slug))
            .ok()
            .map(|i| &models[i])
    }

    /// Up to `n` known slugs of `service` closest to `slug`, best first.
    pub fn suggest(&self, service: &str, slug: &str, n: usize) -> Vec<&str> {
        crate::suggest::closest(
            slug,
            self.models(service).iter().map(|m| m.slug.as_str()),
            n,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_registry_covers_the_main_services() {
        let r = Registry::builtin();
        for service in [
            "openai",
            "anthropic",
            "azure-openai",
            "bedrock",
            "vertex-ai",
            "google",
            "mistral-ai",
            "groq",
            "together-ai",
            "fireworks-ai",
        ] {
            assert!(r.models(service).len() >= 5, "{service} has too few models");
        }
        for id in r.services.keys() {
            assert!(
                crate::services::find(id).is_some(),
                "`{id}` is not in the service registry"
            );
        }
        let gpt4o = r.find("openai", "gpt-4o").expect("gpt-4o");
        assert_eq!(gpt4o.kind, ModelKind::Chat);
        assert_eq!(gpt4o.input_per_mtok, Some(2.5));
        assert_eq!(gpt4o.output_per_mtok, Some(10.0));
        assert_eq!(gpt4o.max_input_tokens, Some(128_000));
        assert!(gpt4o.capabilities.iter().any(|c| c == "vision"));
    }

    #[test]
    fn unknown_models_get_close_suggestions() {
        let r = Registry::builtin();
        let s = r.suggest("openai", "gpt-4o-mni", 3);
        assert!(s.contains(&"gpt-4o-mini"), "{s:?}");
        assert!(r.find("openai", "gpt-4o-mni").is_none());
    }
}
