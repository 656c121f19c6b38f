//! Saved gateway configs (`/configs`): a named, versioned [`GatewayConfig`] in a workspace,
//! which requests name in `x-portkey-config` by slug (`pc-fallba-1a2b3c`) or id.
//!
//! [`GatewayConfig`]: super::gateway_config::GatewayConfig

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::lenient::opt_flex_bool;

/// A saved config as `GET /configs/{slug}` shows it: flat, with `config` as JSON text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Config {
    #[serde(default)]
    pub id: String,
    pub slug: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub organisation_id: Option<String>,
    /// `active` or `archived` (the gateway refuses an archived config).
    #[serde(default = "active")]
    pub status: String,
    /// `1` for the workspace's default config, else `0`.
    #[schemars(with = "u8")]
    #[serde(default, deserialize_with = "flag")]
    pub is_default: u8,
    /// The current version's id.
    #[serde(default)]
    pub version_id: String,
    /// The current version's config, as JSON text: parse it.
    #[schemars(with = "String")]
    #[serde(default, deserialize_with = "json_text")]
    pub config: String,
    /// Always `json`.
    #[serde(default = "json_format")]
    pub format: String,
    /// `ORG_CONFIG`, Portkey's type for configs saved through the API or the app.
    #[serde(default = "org_config", rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub last_updated_at: Option<String>,
    #[serde(default = "config_object")]
    pub object: String,
}

fn active() -> String {
    "active".to_owned()
}

fn json_format() -> String {
    "json".to_owned()
}

fn org_config() -> String {
    "ORG_CONFIG".to_owned()
}

fn config_object() -> String {
    "config".to_owned()
}

/// `is_default` as `0`/`1`, also read from a boolean or a string.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    Ok(opt_flex_bool(d)?.map_or(0, u8::from))
}

/// `config` as JSON text; a server that sends the object itself is read too.
fn json_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// The statuses a config may be set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConfigStatus {
    Active,
    Archived,
}

impl ConfigStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigStatus::Active => "active",
            ConfigStatus::Archived => "archived",
        }
    }
}

/// `POST /configs`. `isDefault` is camelCase in the contract; `is_default` is read too.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateConfig {
    #[schemars(schema_with = "super::schema::name")]
    #[serde(deserialize_with = "super::text::name")]
    pub name: String,
    /// The gateway config: `{strategy, targets, provider, override_params, retry, ...}`.
    pub config: Map<String, Value>,
    /// `1` makes it the workspace's default config.
    #[serde(
        rename = "isDefault",
        alias = "is_default",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_default: Option<Flag>,
    /// The workspace (id or slug); required with an organisation key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
}

/// A yes/no the contract sends as `1`/`0`; `true`/`false` and `"1"`/`"true"` are read
/// too. Written as `1` or `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flag(pub bool);

impl Serialize for Flag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(u8::from(self.0))
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        super::lenient::flex_bool(&v)
            .map(Flag)
            .ok_or_else(|| serde::de::Error::custom(format!("expected 1 or 0, got {v}")))
    }
}

impl schemars::JsonSchema for Flag {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Flag".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        super::schema::flex_bool(generator)
    }
}

/// `PUT /configs/{slug}`: fields left out stay; a changed `config` is a new version.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateConfig {
    #[schemars(schema_with = "super::schema::opt_name")]
    #[serde(
        deserialize_with = "super::text::opt_name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ConfigStatus>,
    #[serde(
        rename = "isDefault",
        alias = "is_default",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_default: Option<Flag>,
}

/// The answer to `POST /configs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigCreated {
    pub id: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub version_id: String,
}

/// One version of a config, as `GET /configs/{slug}/versions` lists them (newest first).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigVersion {
    /// The version's id (`version_id` of the config while it is current).
    pub id: String,
    #[serde(default)]
    pub config_id: String,
    /// 1 for the first version, counting up.
    #[serde(default)]
    pub version: u32,
    /// The config of this version, as JSON text.
    #[schemars(with = "String")]
    #[serde(default, deserialize_with = "json_text")]
    pub config: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default = "version_object")]
    pub object: String,
}

fn version_object() -> String {
    "config-version".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_shapes_servers_send() {
        let c: Config = serde_json::from_value(json!({
            "id": "1", "slug": "pc-a-000000", "is_default": true,
            "config": {"retry": {"attempts": 2}}, "type": "ORG_CONFIG"
        }))
        .unwrap();
        assert_eq!(c.is_default, 1);
        assert_eq!(c.config, r#"{"retry":{"attempts":2}}"#);
        assert_eq!(c.format, "json");
        let body: CreateConfig =
            serde_json::from_value(json!({"name": "a", "config": {}, "isDefault": 1})).unwrap();
        assert_eq!(body.is_default, Some(Flag(true)));
        assert_eq!(serde_json::to_value(&body).unwrap()["isDefault"], 1);
    }
}
