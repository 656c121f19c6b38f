//! Per-service validation of integration `configurations`, and the split of a
//! configuration into public settings and sealed secrets.

use serde_json::{Map, Value};

use crate::api::lenient::flex_bool;
use crate::crypto::mask;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Secret,
    Bool,
    Object,
    SecretObject,
    Url,
    Headers,
    Deployments,
}

type Field = (&'static str, Kind);

const COMMON: &[Field] = &[
    ("custom_host", Kind::Url),
    ("custom_headers", Kind::Headers),
];

const AZURE_OPENAI: &[Field] = &[
    ("azure_auth_mode", Kind::Text),
    ("azure_resource_name", Kind::Text),
    ("azure_deployment_config", Kind::Deployments),
    ("azure_entra_tenant_id", Kind::Text),
    ("azure_entra_client_id", Kind::Text),
    ("azure_entra_client_secret", Kind::Secret),
    ("azure_managed_client_id", Kind::Text),
    ("azure_workload_tenant_id", Kind::Text),
    ("azure_workload_client_id", Kind::Text),
];

const BEDROCK: &[Field] = &[
    ("aws_auth_type", Kind::Text),
    ("aws_region", Kind::Text),
    ("aws_access_key_id", Kind::Secret),
    ("aws_secret_access_key", Kind::Secret),
    ("aws_role_arn", Kind::Text),
    ("aws_external_id", Kind::Text),
];

const VERTEX: &[Field] = &[
    ("vertex_auth_type", Kind::Text),
    ("vertex_region", Kind::Text),
    ("vertex_project_id", Kind::Text),
    ("vertex_service_account_json", Kind::SecretObject),
    ("is_key_required", Kind::Bool),
    ("vertex_skip_ptu_cost_attribution", Kind::Bool),
    ("vertex_map_metadata", Kind::Object),
];

const OPENAI: &[Field] = &[
    ("openai_organization", Kind::Text),
    ("openai_project", Kind::Text),
];

const ANTHROPIC: &[Field] = &[("anthropic_inspect_stream_for_overloaded_error", Kind::Bool)];

/// Services whose only required credential is `key`.
const KEY_ONLY: &[&str] = &[
    "google",
    "mistral-ai",
    "groq",
    "together-ai",
    "fireworks-ai",
    "cohere",
    "perplexity-ai",
    "deepseek",
    "x-ai",
    "openrouter",
    "deepinfra",
    "cerebras",
    "ai21",
];

/// The services this server knows, for error messages and the CLI's `--service` choices.
pub fn known_services() -> Vec<&'static str> {
    let mut all = vec![
        "openai",
        "anthropic",
        "azure-openai",
        "bedrock",
        "vertex-ai",
        "custom",
    ];
    all.extend_from_slice(KEY_ONLY);
    all
}

fn specific_fields(service: &str) -> Option<&'static [Field]> {
    match service {
        "openai" => Some(OPENAI),
        "anthropic" => Some(ANTHROPIC),
        "azure-openai" => Some(AZURE_OPENAI),
        "bedrock" => Some(BEDROCK),
        "vertex-ai" => Some(VERTEX),
        "custom" => Some(&[]),
        s if KEY_ONLY.contains(&s) => Some(&[]),
        _ => None,
    }
}

/// Whether `field` of `service` holds a secret (sealed, read back masked). Header values
/// are always treated as secrets.
pub fn is_secret(service: &str, field: &str) -> bool {
    let any_service = [OPENAI, ANTHROPIC, AZURE_OPENAI, BEDROCK, VERTEX, COMMON];
    let kind = kind_of(service, field).or_else(|| {
        any_service
            .iter()
            .flat_map(|f| f.iter())
            .find(|(name, _)| *name == field)
            .map(|(_, kind)| *kind)
    });
    matches!(
        kind,
        Some(Kind::Secret | Kind::SecretObject | Kind::Headers)
    )
}

fn kind_of(service: &str, field: &str) -> Option<Kind> {
    specific_fields(service)?
        .iter()
        .chain(COMMON)
        .find(|(name, _)| *name == field)
        .map(|(_, kind)| *kind)
}

/// Checks `service` and its full (plaintext) configuration. `has_key` says whether the
/// integration holds a `key`. Errors name the field as `configurations.<field>`.
pub fn validate(service: &str, config: &Map<String, Value>, has_key: bool) -> Result<(), String> {
    let Some(fields) = specific_fields(service) else {
        return Err(format!(
            "unknown `ai_provider_id` `{service}`; this server knows: {}",
            known_services().join(", ")
        ));
    };
    for (name, value) in config {
        let Some(kind) = kind_of(service, name) else {
            let known: Vec<&str> = fields.iter().chain(COMMON).map(|(n, _)| *n).collect();
            return Err(format!(
                "`configurations.{name}` is not a setting of `{service}`; known settings: {}",
                known.join(", ")
            ));
        };
        check_kind(name, kind, value)?;
    }
    let text = |name: &str| config.get(name).and_then(Value::as_str);
    let require = |name: &str, why: &str| -> Result<(), String> {
        match text(name) {
            Some(v) if !v.trim().is_empty() => Ok(()),
            _ => Err(format!("`configurations.{name}` is required {why}")),
        }
    };
    let need_key = |why: &str| -> Result<(), String> {
        if has_key {
            Ok(())
        } else {
            Err(format!("`key` is required {why}"))
        }
    };
    match service {
        "azure-openai" => {
            let mode = text("azure_auth_mode").unwrap_or("");
            require("azure_resource_name", "for azure-openai")?;
            check_deployments(config.get("azure_deployment_config"))?;
            match mode {
                "default" => need_key("for azure-openai with `azure_auth_mode` `default`")?,
                "entra" => {
                    for f in [
                        "azure_entra_tenant_id",
                        "azure_entra_client_id",
                        "azure_entra_client_secret",
                    ] {
                        require(f, "with `azure_auth_mode` `entra`")?;
                    }
                }
                "entraFederated" => {
                    for f in ["azure_entra_tenant_id", "azure_entra_client_id"] {
                        require(f, "with `azure_auth_mode` `entraFederated`")?;
                    }
                }
                "managed" => {}
                "workload" => {
                    for f in ["azure_workload_tenant_id", "azure_workload_client_id"] {
                        require(f, "with `azure_auth_mode` `workload`")?;
                    }
                }
                _ => {
                    return Err("`configurations.azure_auth_mode` must be one of default, entra, entraFederated, managed, workload".to_owned())
                }
            }
        }
        "bedrock" => {
            require("aws_region", "for bedrock")?;
            match text("aws_auth_type").unwrap_or("") {
                "accessKey" => {
                    require("aws_access_key_id", "with `aws_auth_type` `accessKey`")?;
                    require("aws_secret_access_key", "with `aws_auth_type` `accessKey`")?;
                }
                "assumedRole" => require("aws_role_arn", "with `aws_auth_type` `assumedRole`")?,
                "apiKey" => need_key("with `aws_auth_type` `apiKey`")?,
                _ => return Err(
                    "`configurations.aws_auth_type` must be one of accessKey, assumedRole, apiKey"
                        .to_owned(),
                ),
            }
        }
        "vertex-ai" => {
            require("vertex_region", "for vertex-ai")?;
            match text("vertex_auth_type").unwrap_or("") {
                "serviceAccount" => {
                    if !config
                        .get("vertex_service_account_json")
                        .is_some_and(Value::is_object)
                    {
                        return Err("`configurations.vertex_service_account_json` (a JSON object) is required with `vertex_auth_type` `serviceAccount`".to_owned());
                    }
                }
                "basic" | "workload" => {
                    require("vertex_project_id", "with `vertex_auth_type` `basic`")?
                }
                _ => {
                    return Err("`configurations.vertex_auth_type` must be one of serviceAccount, basic, workload".to_owned())
                }
            }
        }
        "custom" => require("custom_host", "for a custom service")?,
        _ => need_key(&format!("for `{service}`"))?,
    }
    Ok(())
}

fn check_kind(name: &str, kind: Kind, value: &Value) -> Result<(), String> {
    let field = format!("`configurations.{name}`");
    match kind {
        Kind::Text | Kind::Secret => value
            .as_str()
            .map(|_| ())
            .ok_or_else(|| format!("{field} must be a string")),
        Kind::Bool => flex_bool(value)
            .map(|_| ())
            .ok_or_else(|| format!("{field} must be a boolean")),
        Kind::Object | Kind::SecretObject => value
            .as_object()
            .map(|_| ())
            .ok_or_else(|| format!("{field} must be a JSON object")),
        Kind::Url => {
            let text = value
                .as_str()
                .ok_or_else(|| format!("{field} must be a URL string"))?;
            match reqwest::Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
                _ => Err(format!(
                    "{field} must be an http(s) URL such as https://llm.internal/v1"
                )),
            }
        }
        Kind::Headers => {
            let map = value
                .as_object()
                .ok_or_else(|| format!("{field} must be an object of header names to values"))?;
            for (k, v) in map {
                check_header(&format!("configurations.{name}"), k, v)?;
            }
            Ok(())
        }
        Kind::Deployments => Ok(()),
    }
}

/// A header to send upstream: a valid header name, and a string value without line
/// breaks or other control characters (which would inject headers of their own). The
/// value is never repeated in the error: it may be a credential.
pub fn check_header(at: &str, name: &str, value: &Value) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!(
            "`{at}` has a header name that is not a valid HTTP header name; use letters, digits and `-`"
        ));
    }
    match value.as_str() {
        None => Err(format!("`{at}.{name}` must be a string")),
        Some(v) if v.chars().any(|c| c.is_control() && c != '\t') => Err(format!(
            "`{at}.{name}` must not contain line breaks or other control characters"
        )),
        Some(_) => Ok(()),
    }
}

fn check_deployments(value: Option<&Value>) -> Result<(), String> {
    let items = value.and_then(Value::as_array).filter(|a| !a.is_empty()).ok_or_else(|| {
        "`configurations.azure_deployment_config` needs at least one deployment ({azure_deployment_name, azure_api_version, azure_model_slug})".to_owned()
    })?;
    let mut defaults = 0;
    for (i, item) in items.iter().enumerate() {
        let at = format!("configurations.azure_deployment_config[{i}]");
        let obj = item
            .as_object()
            .ok_or_else(|| format!("`{at}` must be an object"))?;
        for f in [
            "azure_deployment_name",
            "azure_api_version",
            "azure_model_slug",
        ] {
            match obj.get(f).and_then(Value::as_str) {
                Some(v) if !v.trim().is_empty() => {}
                _ => return Err(format!("`{at}.{f}` is required")),
            }
        }
        let version = obj
            .get("azure_api_version")
            .and_then(Value::as_str)
            .unwrap_or("");
        if version.len() > 30 {
            return Err(format!("`{at}.azure_api_version` is at most 30 characters"));
        }
        let is_default = match obj.get("is_default") {
            None | Some(Value::Null) => false,
            Some(v) => {
                flex_bool(v).ok_or_else(|| format!("`{at}.is_default` must be a boolean"))?
            }
        };
        if is_default {
            defaults += 1;
        } else if items.len() > 1 && obj.get("alias").and_then(Value::as_str).is_none() {
            return Err(format!(
                "`{at}.alias` is required for a deployment that is not the default"
            ));
        }
    }
    if defaults > 1 {
        return Err(
            "`configurations.azure_deployment_config` may mark only one deployment `is_default`"
                .to_owned(),
        );
    }
    Ok(())
}

/// Splits a validated configuration into public settings (with `masked_<field>` in place
/// of each secret) and the secret fields, which are sealed.
pub fn split(
    service: &str,
    config: Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut public = Map::new();
    let mut secrets = Map::new();
    for (name, value) in config {
        match kind_of(service, &name) {
            Some(Kind::Secret) => {
                let masked = mask(value.as_str().unwrap_or_default());
                public.insert(format!("masked_{name}"), Value::String(masked));
                secrets.insert(name, value);
            }
            Some(Kind::SecretObject) => {
                public.insert(format!("masked_{name}"), Value::String("*****".into()));
                secrets.insert(name, value);
            }
            Some(Kind::Headers) => {
                let masked: Map<String, Value> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), Value::String(mask(v.as_str().unwrap_or("")))))
                    .collect();
                public.insert(format!("masked_{name}"), Value::Object(masked));
                secrets.insert(name, value);
            }
            _ => {
                public.insert(name, value);
            }
        }
    }
    (public, secrets)
}

/// Rebuilds the plaintext configuration from its public part and opened secrets.
pub fn join(public: &Map<String, Value>, secrets: &Map<String, Value>) -> Map<String, Value> {
    let mut out: Map<String, Value> = public
        .iter()
        .filter(|(k, _)| !k.starts_with("masked_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.extend(secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn azure_needs_deployments_and_aliases() {
        let base = json!({"azure_auth_mode": "default", "azure_resource_name": "r"});
        let err = validate("azure-openai", &obj(base.clone()), true).unwrap_err();
        assert!(err.contains("azure_deployment_config"), "{err}");
        let mut two = obj(base);
        two.insert(
            "azure_deployment_config".into(),
            json!([
                {"azure_deployment_name": "a", "azure_api_version": "2024-10-21", "azure_model_slug": "gpt-4o", "is_default": true},
                {"azure_deployment_name": "b", "azure_api_version": "2024-10-21", "azure_model_slug": "gpt-4o-mini"}
            ]),
        );
        let err = validate("azure-openai", &two, true).unwrap_err();
        assert!(err.contains("azure_deployment_config[1].alias"), "{err}");
    }

    #[test]
    fn bedrock_access_key_needs_both_halves() {
        let c = obj(
            json!({"aws_auth_type": "accessKey", "aws_region": "us-east-1", "aws_access_key_id": "AKIA"}),
        );
        assert!(validate("bedrock", &c, false)
            .unwrap_err()
            .contains("aws_secret_access_key"));
        let role = obj(
            json!({"aws_auth_type": "assumedRole", "aws_region": "us-east-1", "aws_role_arn": "arn:aws:iam::1:role/x"}),
        );
        assert!(validate("bedrock", &role, false).is_ok());
    }

    #[test]
    fn custom_host_must_be_http() {
        let c = obj(json!({"custom_host": "ftp://x"}));
        assert!(validate("custom", &c, false)
            .unwrap_err()
            .contains("custom_host"));
        let ok =
            obj(json!({"custom_host": "http://127.0.0.1:8000/v1", "custom_headers": {"x-a": "b"}}));
        assert!(validate("custom", &ok, false).is_ok());
    }

    #[test]
    fn unknown_settings_and_services_are_named() {
        assert!(validate("openai", &obj(json!({"nope": 1})), true)
            .unwrap_err()
            .contains("configurations.nope"));
        assert!(validate("made-up", &Map::new(), true)
            .unwrap_err()
            .contains("made-up"));
        assert!(validate("openai", &Map::new(), false)
            .unwrap_err()
            .contains("`key` is required"));
    }

    #[test]
    fn split_masks_secrets_and_join_restores_them() {
        let c = obj(
            json!({"aws_auth_type": "accessKey", "aws_region": "eu-west-1",
            "aws_access_key_id": "AKIAABCDEFGHIJKL", "aws_secret_access_key": "very-secret-value-123"}),
        );
        let (public, secrets) = split("bedrock", c.clone());
        let text = serde_json::to_string(&public).unwrap();
        assert!(!text.contains("very-secret-value-123"));
        assert!(public.contains_key("masked_aws_secret_access_key"));
        assert_eq!(join(&public, &secrets), c);
    }
}
