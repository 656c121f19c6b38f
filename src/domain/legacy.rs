//! Legacy virtual keys: how their settings map onto an integration's configuration, and
//! the keyed fingerprint that groups keys holding the same credential without ever
//! revealing it.

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::crypto::Sealer;

/// What is sealed for a virtual key.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct VkSecrets {
    #[serde(default)]
    pub key: Option<String>,
}

/// The integration `configurations` a virtual key's `model_config` stands for.
pub fn integration_config(service: &str, model_config: Option<&Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(mc) = model_config.and_then(Value::as_object) else {
        return out;
    };
    if service == "azure-openai" {
        out.insert("azure_auth_mode".into(), json!("default"));
        if let Some(r) = mc.get("resourceName") {
            out.insert("azure_resource_name".into(), r.clone());
        }
        let mut deployments: Vec<Value> = mc
            .get("deploymentConfig")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|d| {
                        let name = d.get("deploymentName").cloned().unwrap_or(Value::Null);
                        let mut item = json!({
                            "azure_deployment_name": name,
                            "azure_api_version": d.get("apiVersion").cloned().unwrap_or(Value::Null),
                            "azure_model_slug": d.get("alias").cloned().unwrap_or_else(|| name.clone()),
                            "is_default": d.get("is_default").cloned().unwrap_or(json!(false)),
                        });
                        if let Some(alias) = d.get("alias") {
                            item["alias"] = alias.clone();
                        }
                        item
                    })
                    .collect()
            })
            .unwrap_or_default();
        if deployments.is_empty() {
            if let (Some(name), Some(version)) = (mc.get("deploymentName"), mc.get("apiVersion")) {
                deployments.push(json!({
                    "azure_deployment_name": name,
                    "azure_api_version": version,
                    "azure_model_slug": name,
                    "is_default": true,
                }));
            }
        }
        if deployments.len() == 1 {
            deployments[0]["is_default"] = json!(true);
        }
        if !deployments.is_empty() {
            out.insert("azure_deployment_config".into(), Value::Array(deployments));
        }
    }
    out
}

/// Equal for keys of the same service, secret and settings; reveals nothing of them.
pub fn fingerprint(
    master: &dyn Sealer,
    service: &str,
    key: Option<&str>,
    config: &Map<String, Value>,
) -> anyhow::Result<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master.fingerprint_key()?.as_slice())
        .expect("HMAC takes keys of any length");
    let canonical = json!({"service": service, "key": key, "configurations": config});
    mac.update(canonical.to_string().as_bytes());
    let bytes = mac.finalize().into_bytes();
    Ok(bytes[..12].iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_credentials_share_a_fingerprint() {
        let k = crate::crypto::MasterKey::generate();
        let a = fingerprint(&k, "openai", Some("sk-1"), &Map::new()).unwrap();
        assert_eq!(
            a,
            fingerprint(&k, "openai", Some("sk-1"), &Map::new()).unwrap()
        );
        assert_ne!(
            a,
            fingerprint(&k, "openai", Some("sk-2"), &Map::new()).unwrap()
        );
        assert_ne!(
            a,
            fingerprint(&k, "groq", Some("sk-1"), &Map::new()).unwrap()
        );
        assert!(!a.contains("sk-1"));
    }

    #[test]
    fn azure_settings_map_to_deployments() {
        let mc = json!({"resourceName": "acme", "deploymentConfig": [
            {"deploymentName": "gpt4o", "apiVersion": "2024-10-21", "is_default": true},
            {"deploymentName": "mini", "apiVersion": "2024-10-21", "alias": "gpt-4o-mini"}]});
        let c = integration_config("azure-openai", Some(&mc));
        assert_eq!(c["azure_resource_name"], "acme");
        assert_eq!(c["azure_deployment_config"][1]["alias"], "gpt-4o-mini");
        assert!(crate::domain::provider_config::validate("azure-openai", &c, true).is_ok());
    }
}
