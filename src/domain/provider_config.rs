//! Per-service validation of integration `configurations`, and the split of a
//! configuration into public settings and sealed secrets.

use serde_json::{Map, Value};

use crate::api::lenient::flex_bool;
use crate::services::{Credentials, Kind, Secret, Service};

/// Checks `service` and its full (plaintext) configuration against the service registry.
/// `has_key` says whether the integration holds a `key`. Errors name the field as
/// `configurations.<field>`, and an unknown service the closest known one.
pub fn validate(service: &str, config: &Map<String, Value>, has_key: bool) -> Result<(), String> {
    let service = crate::services::lookup(service).map_err(|e| format!("`ai_provider_id`: {e}"))?;
    for (name, value) in config {
        let Some(field) = service.field(name) else {
            return Err(not_a_setting(service, name));
        };
        check_kind(name, field.kind, value)?;
    }
    let why = match (&service.credentials, service.needs(config)) {
        (Credentials::ByMode { field, .. }, Some(_)) => {
            let mode = config.get(*field).and_then(Value::as_str).unwrap_or("");
            format!("for `{}` with `{field}` `{mode}`", service.id)
        }
        _ => format!("for `{}`", service.id),
    };
    for name in service.required(config) {
        if !config.get(name).is_some_and(present) {
            let kind = service.field(name).map(|f| f.kind);
            let what = match kind {
                Some(Kind::Enum(allowed)) => format!(": one of {}", allowed.join(", ")),
                Some(Kind::Deployments) => DEPLOYMENT_SHAPE.to_owned(),
                Some(Kind::SecretObject | Kind::Object) => " (a JSON object)".to_owned(),
                _ => String::new(),
            };
            let why = if service.requires.contains(&name) {
                format!("for `{}`", service.id)
            } else {
                why.clone()
            };
            return Err(format!("`configurations.{name}` is required {why}{what}"));
        }
    }
    if service.secret(config) == Secret::Key && !has_key {
        return Err(format!("`key` is required {why}"));
    }
    Ok(())
}

const DEPLOYMENT_SHAPE: &str =
    ": at least one deployment ({azure_deployment_name, azure_api_version, azure_model_slug})";

/// Whether a required setting is given: a non-blank string, a non-empty list, an object.
fn present(value: &Value) -> bool {
    match value {
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

fn not_a_setting(service: &Service, name: &str) -> String {
    let known: Vec<&str> = service.all_fields().map(|f| f.name).collect();
    let close = crate::suggest::closest(name, known.iter().copied(), 1);
    let hint = close
        .first()
        .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
    format!(
        "`configurations.{name}` is not a setting of `{}`{hint} known settings: {}",
        service.id,
        known.join(", ")
    )
}

fn check_kind(name: &str, kind: Kind, value: &Value) -> Result<(), String> {
    let field = format!("`configurations.{name}`");
    match kind {
        Kind::Text | Kind::Secret => value
            .as_str()
            .map(|_| ())
            .ok_or_else(|| format!("{field} must be a string")),
        Kind::Label => match value.as_str() {
            Some(v) if crate::services::is_label(v) => Ok(()),
            _ => Err(format!(
                "{field} must be letters, digits and hyphens (it becomes part of the service's host name), such as `my-resource` or `us-east-1`"
            )),
        },
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
        Kind::Enum(allowed) => match value.as_str() {
            Some(v) if allowed.contains(&v) => Ok(()),
            _ => Err(format!("{field} must be one of {}", allowed.join(", "))),
        },
        Kind::Deployments => check_deployments(value),
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

fn check_deployments(value: &Value) -> Result<(), String> {
    let items = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
        format!("`configurations.azure_deployment_config` needs{DEPLOYMENT_SHAPE}")
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
/// of each secret the registry names) and the secret fields, which are sealed.
pub fn split(
    service: &str,
    config: Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>) {
    let service = crate::services::find(service);
    let mut public = Map::new();
    let mut secrets = Map::new();
    for (name, value) in config {
        match crate::services::classify(service, &name).and_then(|f| f.kind.masked(&value)) {
            Some(masked) => {
                public.insert(format!("masked_{name}"), masked);
                secrets.insert(name, value);
            }
            None => {
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
    fn host_name_parts_are_letters_digits_and_hyphens() {
        let azure = |name: &str| {
            obj(
                json!({"azure_resource_name": name, "azure_auth_mode": "default",
                "azure_deployment_config": [{"azure_deployment_name": "d",
                    "azure_api_version": "2024-06-01", "azure_model_slug": "gpt-4o"}]}),
            )
        };
        assert!(validate("azure-openai", &azure("my-resource"), true).is_ok());
        for bad in ["10.0.0.5:8000/x#", "a.b", "x@y", ""] {
            let e = validate("azure-openai", &azure(bad), true).unwrap_err();
            assert!(
                e.contains("`configurations.azure_resource_name`"),
                "{bad}: {e}"
            );
        }
        let e = validate("bedrock", &obj(json!({"aws_region": "us-east-1/"})), true).unwrap_err();
        assert!(
            e.contains("`configurations.aws_region` must be letters"),
            "{e}"
        );
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
