use super::{segment, with_query, Client};
use crate::api::integration::{CreateIntegration, Created, Integration, UpdateIntegration};

impl Client {
    pub fn list_integrations(
        &self,
        kind: Option<&str>,
        workspace_id: Option<&str>,
    ) -> anyhow::Result<Vec<Integration>> {
        let mut query = Vec::new();
        if let Some(k) = kind {
            query.push(("type", k));
        }
        if let Some(w) = workspace_id {
            query.push(("workspace_id", w));
        }
        self.list_all("/integrations", &query)
    }

    pub fn get_integration(&self, slug: &str) -> anyhow::Result<Integration> {
        self.get(&format!("/integrations/{}", segment(slug)))
    }

    pub fn create_integration(&self, body: &CreateIntegration) -> anyhow::Result<Integration> {
        let created: Created = self.post("/integrations", body)?;
        let slug = if created.slug.is_empty() {
            body.slug.clone().unwrap_or(created.id)
        } else {
            created.slug
        };
        self.get_integration(&slug)
    }

    pub fn update_integration(
        &self,
        slug: &str,
        body: &UpdateIntegration,
    ) -> anyhow::Result<Integration> {
        self.put(&format!("/integrations/{}", segment(slug)), body)?;
        self.get_integration(slug)
    }

    /// Deletes an integration; with `force`, the AI providers using it go too.
    pub fn delete_integration(&self, slug: &str, force: bool) -> anyhow::Result<()> {
        let path = format!("/integrations/{}", segment(slug));
        let path = if force {
            with_query(&path, &[("force_delete".to_owned(), "true".to_owned())])
        } else {
            path
        };
        self.delete(&path, None)
    }
}
