use super::{segment, with_query, Client};
use crate::api::integration::Created;
use crate::api::provider::{CreateProvider, Provider, UpdateProvider};
use crate::api::provisioning::{BulkUpdateWorkspaces, WorkspaceAccessList};

/// `/providers/{slug}?workspace_id=...`
pub fn provider_path(workspace_id: &str, slug: &str) -> String {
    with_query(
        &format!("/providers/{}", segment(slug)),
        &[("workspace_id".to_owned(), workspace_id.to_owned())],
    )
}

impl Client {
    pub fn workspace_access(&self, integration: &str) -> anyhow::Result<WorkspaceAccessList> {
        self.get(&access_path(integration))
    }

    pub fn put_workspace_access(
        &self,
        integration: &str,
        body: &BulkUpdateWorkspaces,
    ) -> anyhow::Result<()> {
        self.put(&access_path(integration), body)
    }

    pub fn list_providers(&self, workspace_id: &str) -> anyhow::Result<Vec<Provider>> {
        self.list_all("/providers", &[("workspace_id", workspace_id)])
    }

    /// Every workspace's providers in one listing, where the server offers it (this
    /// server's `all_workspaces` extension); `None` where it does not.
    pub fn list_every_provider(&self) -> anyhow::Result<Option<Vec<Provider>>> {
        match self.list_all::<Provider>("/providers", &[("all_workspaces", "true")]) {
            Ok(all) if all.iter().all(|p| p.workspace_id.is_some()) => Ok(Some(all)),
            Ok(_) => Ok(None),
            Err(e)
                if e.downcast_ref::<crate::exit::CliError>().is_some_and(|c| {
                    matches!(
                        c.kind,
                        crate::exit::ErrorKind::Usage | crate::exit::ErrorKind::Auth
                    )
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub fn get_provider(&self, workspace_id: &str, slug: &str) -> anyhow::Result<Provider> {
        self.get(&provider_path(workspace_id, slug))
    }

    pub fn create_provider(&self, body: &CreateProvider) -> anyhow::Result<Provider> {
        let created: Created = self.post("/providers", body)?;
        let workspace = body.workspace_id.clone().unwrap_or_default();
        let slug = if created.slug.is_empty() {
            created.id
        } else {
            created.slug
        };
        self.get_provider(&workspace, &slug)
    }

    pub fn update_provider(
        &self,
        workspace_id: &str,
        slug: &str,
        body: &UpdateProvider,
    ) -> anyhow::Result<Provider> {
        self.put(&provider_path(workspace_id, slug), body)?;
        self.get_provider(workspace_id, slug)
    }

    pub fn delete_provider(&self, workspace_id: &str, slug: &str) -> anyhow::Result<()> {
        self.delete(&provider_path(workspace_id, slug), None)
    }
}

pub fn access_path(integration: &str) -> String {
    format!("/integrations/{}/workspaces", segment(integration))
}

impl Client {
    pub fn models(&self, integration: &str) -> anyhow::Result<crate::api::models::ModelAccessList> {
        self.get(&format!("/integrations/{}/models", segment(integration)))
    }

    pub fn put_models(
        &self,
        integration: &str,
        body: &crate::api::models::BulkUpdateModels,
    ) -> anyhow::Result<()> {
        self.put(
            &format!("/integrations/{}/models", segment(integration)),
            body,
        )
    }
}

impl Client {
    /// `DELETE /integrations/{slug}/models?slugs=...`
    pub fn delete_models(&self, integration: &str, slugs: &[String]) -> anyhow::Result<()> {
        let path = with_query(
            &format!("/integrations/{}/models", segment(integration)),
            &[("slugs".to_owned(), slugs.join(","))],
        );
        self.delete(&path, None)
    }

    /// `GET /models?workspace_id=...`: the models a workspace can call.
    pub fn catalog_models(
        &self,
        workspace_id: &str,
        filters: &[(&str, &str)],
    ) -> anyhow::Result<Vec<crate::api::models::CatalogModel>> {
        let mut params = vec![("workspace_id".to_owned(), workspace_id.to_owned())];
        params.extend(
            filters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let list: crate::api::ListEnvelope<crate::api::models::CatalogModel> =
            self.get(&with_query("/models", &params))?;
        Ok(list.data)
    }
}
