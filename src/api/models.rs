//! Model provisioning of an integration (`/integrations/{slug}/models`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient::opt_flex_bool;

/// One model of an integration, as returned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntegrationModel {
    pub slug: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_flex_bool")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "opt_flex_bool")]
    pub is_custom: Option<bool>,
    #[serde(default, deserialize_with = "opt_flex_bool")]
    pub is_finetune: Option<bool>,
    #[serde(default)]
    pub base_model_slug: Option<String>,
}

/// `GET /integrations/{slug}/models`. Every key is optional on read; `data` is accepted for `models`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelAccessList {
    #[serde(default)]
    pub total: u64,
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelUpdate {
    pub slug: String,
    #[serde(deserialize_with = "required_bool")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_custom: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_finetune: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_slug: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configurations: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_config: Option<Value>,
}

fn required_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    opt_flex_bool(d)?.ok_or_else(|| serde::de::Error::custom("expected a boolean"))
}

/// `PUT /integrations/{slug}/models`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BulkUpdateModels {
    pub models: Vec<ModelUpdate>,
    #[serde(
        default,
        deserialize_with = "opt_flex_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_all_models: Option<bool>,
}
