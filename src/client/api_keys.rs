use super::{segment, Client};
use crate::api::api_key::{ApiKey, CreateApiKey, CreatedApiKey, KeyKind};

impl Client {
    pub fn list_api_keys(&self, workspace_id: Option<&str>) -> anyhow::Result<Vec<ApiKey>> {
        let query: Vec<(&str, &str)> = workspace_id
            .map(|w| ("workspace_id", w))
            .into_iter()
            .collect();
        self.list_all("/api-keys", &query)
    }

    pub fn get_api_key(&self, id: &str) -> anyhow::Result<ApiKey> {
        self.get(&format!("/api-keys/{}", segment(id)))
    }

    pub fn create_api_key(
        &self,
        kind: KeyKind,
        body: &CreateApiKey,
    ) -> anyhow::Result<CreatedApiKey> {
        self.post(&format!("/api-keys/{}", kind.path()), body)
    }

    pub fn delete_api_key(&self, id: &str) -> anyhow::Result<()> {
        self.delete(&format!("/api-keys/{}", segment(id)), None)
    }
}
