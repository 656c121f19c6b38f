//! `/configs`: saved gateway configs. Slugs are unique in the organisation, so only
//! listing and creating name a workspace.

use super::{segment, Client};
use crate::api::configs::{Config, ConfigCreated, ConfigVersion, CreateConfig, UpdateConfig};

/// `/configs/{slug}`
pub fn config_path(slug: &str) -> String {
    format!("/configs/{}", segment(slug))
}

impl Client {
    /// One workspace's configs, or every config the key may see.
    pub fn list_configs(&self, workspace_id: Option<&str>) -> anyhow::Result<Vec<Config>> {
        match workspace_id {
            Some(ws) => self.list_all("/configs", &[("workspace_id", ws)]),
            None => self.list_all("/configs", &[]),
        }
    }

    pub fn get_config(&self, slug: &str) -> anyhow::Result<Config> {
        self.get(&config_path(slug))
    }

    /// Creates a config and reads it back.
    pub fn create_config(&self, body: &CreateConfig) -> anyhow::Result<Config> {
        let created: ConfigCreated = self.post("/configs", body)?;
        let slug = if created.slug.is_empty() {
            created.id
        } else {
            created.slug
        };
        self.get_config(&slug)
    }

    /// Updates a config and reads it back (the contract disputes the update's answer).
    pub fn update_config(&self, slug: &str, body: &UpdateConfig) -> anyhow::Result<Config> {
        self.put(&config_path(slug), body)?;
        self.get_config(slug)
    }

    pub fn delete_config(&self, slug: &str) -> anyhow::Result<()> {
        self.delete(&config_path(slug), None)
    }

    /// Every version of a config, newest first.
    pub fn config_versions(&self, slug: &str) -> anyhow::Result<Vec<ConfigVersion>> {
        self.list_all(&format!("{}/versions", config_path(slug)), &[])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_are_one_path_segment() {
        assert_eq!(super::config_path("pc-a-1"), "/configs/pc-a-1");
        assert_eq!(crate::client::with_query("/configs", &[]), "/configs");
    }
}
