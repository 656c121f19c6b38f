//! Azure OpenAI: a model name picks one of the integration's deployments.

use serde_json::{Map, Value};

/// One deployment of an Azure OpenAI resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub name: String,
    pub api_version: String,
    /// The model the deployment serves, when the integration says.
    pub model_slug: Option<String>,
}

fn field(d: &Value, name: &str) -> Option<String> {
    d.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// The deployment whose alias is `model`, else the default deployment.
pub fn deployment(config: &Map<String, Value>, model: &str) -> Option<Deployment> {
    let all = config.get("azure_deployment_config")?.as_array()?;
    let by_alias = all
        .iter()
        .find(|d| d.get("alias").and_then(Value::as_str) == Some(model));
    let chosen = by_alias.or_else(|| {
        all.iter()
            .find(|d| d.get("is_default").and_then(Value::as_bool) == Some(true))
    })?;
    Some(Deployment {
        name: field(chosen, "azure_deployment_name")?,
        api_version: field(chosen, "azure_api_version")?,
        model_slug: field(chosen, "azure_model_slug"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_alias_wins_then_the_default() {
        let config = json!({"azure_deployment_config": [
            {"azure_deployment_name": "d1", "azure_api_version": "2024-10-21", "azure_model_slug": "gpt-4o", "is_default": true},
            {"azure_deployment_name": "d2", "azure_api_version": "2024-06-01", "azure_model_slug": "gpt-4o-mini", "alias": "mini"}
        ]});
        let config = config.as_object().unwrap();
        assert_eq!(deployment(config, "mini").unwrap().name, "d2");
        assert_eq!(deployment(config, "anything").unwrap().name, "d1");
        assert_eq!(deployment(&Map::new(), "x"), None);
    }
}
