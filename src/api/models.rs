//! Model provisioning of an integration (`/integrations/{slug}/models`) and the
//! workspace model list (`GET /v1/models`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient::opt_flex_bool;

/// Per-token prices in USD cents, as the contract's `pricing_config` carries them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PricingConfig {
    #[schemars(schema_with = "super::schema::pricing_type")]
    #[serde(rename = "type", default = "static_type")]
    pub kind: String,
    pub pay_as_you_go: PayAsYouGo,
}

fn static_type() -> String {
    "static".to_owned()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PayAsYouGo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_token: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_token: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token: Option<Price>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Price {
    /// USD cents per token.
    pub price: f64,
}

/// USD per 1M tokens from USD cents per token, and back.
pub fn cents_per_token_to_usd_per_mtok(cents: f64) -> f64 {
    (cents * 10_000.0 * 1e6).round() / 1e6
}

pub fn usd_per_mtok_to_cents_per_token(usd: f64) -> f64 {
    usd / 10_000.0
}

/// Model-level settings of a custom or fine-tuned model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelConfigurations {
    #[schemars(schema_with = "super::schema::opt_custom_host")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_host: Option<String>,
    /// Write-only; read back as `masked_custom_headers`.
    #[schemars(schema_with = "super::schema::opt_string_map")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_headers: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_custom_headers: Option<Map<String, Value>>,
}

/// One model of an integration, as returned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IntegrationModel {
    pub slug: String,
    #[serde(default)]
    pub name: Option<String>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(default, deserialize_with = "opt_flex_bool")]
    pub enabled: Option<bool>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(default, deserialize_with = "opt_flex_bool")]
    pub is_custom: Option<bool>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(default, deserialize_with = "opt_flex_bool")]
    pub is_finetune: Option<bool>,
    #[serde(default)]
    pub base_model_slug: Option<String>,
    #[serde(default)]
    pub configurations: Option<ModelConfigurations>,
    #[serde(default)]
    pub pricing_config: Option<PricingConfig>,
}

/// `GET /integrations/{slug}/models`. Every key is optional on read; `data` is accepted for `models`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelAccessList {
    #[serde(default)]
    pub total: u64,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(default, deserialize_with = "opt_flex_bool")]
    pub allow_all_models: Option<bool>,
    #[serde(default, alias = "data")]
    pub models: Vec<IntegrationModel>,
    #[serde(default = "list_object")]
    pub object: String,
}

fn list_object() -> String {
    "list".to_owned()
}

/// One item of the bulk PUT.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelUpdate {
    #[schemars(schema_with = "super::schema::name")]
    pub slug: String,
    #[schemars(schema_with = "super::schema::flex_bool")]
    #[serde(deserialize_with = "required_bool")]
    pub enabled: bool,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(
        default,
        deserialize_with = "opt_flex_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_custom: Option<bool>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(
        default,
        deserialize_with = "opt_flex_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_finetune: Option<bool>,
    #[schemars(schema_with = "super::schema::opt_model_slug")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configurations: Option<ModelConfigurations>,
    /// `null` removes a price override.
    #[serde(default, skip_serializing_if = "super::Patch::is_absent")]
    pub pricing_config: super::Patch<PricingConfig>,
}

fn required_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    opt_flex_bool(d)?.ok_or_else(|| serde::de::Error::custom("expected a boolean"))
}

/// `PUT /integrations/{slug}/models`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BulkUpdateModels {
    pub models: Vec<ModelUpdate>,
    #[schemars(schema_with = "super::schema::opt_flex_bool")]
    #[serde(
        default,
        deserialize_with = "opt_flex_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_all_models: Option<bool>,
}

/// One entry of `GET /v1/models`: the contract's fields, then documented extensions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CatalogModel {
    /// `@provider/model`.
    pub id: String,
    pub slug: String,
    #[serde(default)]
    pub canonical_slug: String,
    #[serde(default = "model_object")]
    pub object: String,
    /// Extension: the provider slug, its service and the integration behind it.
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub ai_service: String,
    #[serde(default)]
    pub integration: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub max_input_tokens: Option<u64>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    /// Extension: effective prices in USD per 1M tokens, after overrides and multipliers.
    #[serde(default)]
    pub pricing: Option<EffectivePricing>,
    #[serde(default)]
    pub is_custom: bool,
    #[serde(default)]
    pub is_finetune: bool,
    #[serde(default)]
    pub deprecation_date: Option<String>,
}

fn model_object() -> String {
    "model".to_owned()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EffectivePricing {
    #[serde(default)]
    pub input_per_mtok: Option<f64>,
    #[serde(default)]
    pub output_per_mtok: Option<f64>,
    #[serde(default)]
    pub cache_read_per_mtok: Option<f64>,
    /// `registry`, `override` (a pricing_config), or `none`.
    #[serde(default)]
    pub source: String,
    /// The integration's multiplier, when one applies.
    #[serde(default)]
    pub multiplier: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_per_token_and_usd_per_million_convert() {
        assert_eq!(cents_per_token_to_usd_per_mtok(0.00025), 2.5);
        assert_eq!(usd_per_mtok_to_cents_per_token(2.5), 0.00025);
    }
}
