use serde_json::json;

use super::{segment, Client};
use crate::api::workspace::{CreateWorkspace, UpdateWorkspace, Workspace};
use crate::exit::{fail, CliError, ErrorKind};

/// Strips the icon emoji that the hosted API prefixes onto workspace names.
fn normalize(mut ws: Workspace) -> Workspace {
    if let Some(icon) = ws.icon.as_deref().filter(|i| !i.is_empty()) {
        if let Some(rest) = ws.name.strip_prefix(icon) {
            ws.name = rest.trim_start().to_owned();
        }
    }
    ws
}

impl Client {
    pub fn list_workspaces(&self, name: Option<&str>) -> anyhow::Result<Vec<Workspace>> {
        let query: Vec<(&str, &str)> = name.map(|n| ("name", n)).into_iter().collect();
        let items: Vec<Workspace> = self.list_all("/admin/workspaces", &query)?;
        Ok(items.into_iter().map(normalize).collect())
    }

    pub fn get_workspace(&self, id_or_slug: &str) -> anyhow::Result<Workspace> {
        self.get(&format!("/admin/workspaces/{}", segment(id_or_slug)))
            .map(normalize)
    }

    /// The workspaces named exactly `name` (the hosted API may have prefixed an icon).
    pub fn workspaces_named(&self, name: &str) -> anyhow::Result<Vec<Workspace>> {
        let mut found: Vec<Workspace> = self
            .list_all::<Workspace>("/admin/workspaces", &[("exact_name", name)])?
            .into_iter()
            .map(normalize)
            .filter(|w| w.name == name)
            .collect();
        if found.is_empty() {
            // A server that ignores `exact_name` with an icon-prefixed name.
            found = self
                .list_workspaces(Some(name))?
                .into_iter()
                .filter(|w| w.name == name)
                .collect();
        }
        Ok(found)
    }

    /// Finds a workspace by id, slug or unique name.
    pub fn resolve_workspace(&self, reference: &str) -> anyhow::Result<Workspace> {
        match self.get_workspace(reference) {
            Ok(ws) => return Ok(ws),
            Err(e) if is_missing(&e) => {}
            Err(e) => return Err(e),
        }
        let mut found = self.workspaces_named(reference)?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(fail(
                ErrorKind::NotFound,
                format!("workspace `{reference}` not found"),
                Some("list workspaces with `catalog workspaces list`; a workspace is named by its id, slug or name"),
            )),
            n => Err(fail(
                ErrorKind::Usage,
                format!("{n} workspaces are named `{reference}`"),
                Some("name the workspace by its slug or id instead"),
            )),
        }
    }

    pub fn create_workspace(&self, body: &CreateWorkspace) -> anyhow::Result<Workspace> {
        let created: serde_json::Value = self.post("/admin/workspaces", body)?;
        match created.get("id").and_then(|v| v.as_str()) {
            Some(id) => self.get_workspace(id),
            None => self.resolve_workspace(&body.name),
        }
    }

    pub fn update_workspace(&self, id: &str, body: &UpdateWorkspace) -> anyhow::Result<Workspace> {
        self.put(&format!("/admin/workspaces/{}", segment(id)), body)?;
        self.get_workspace(id)
    }

    pub fn delete_workspace(&self, ws: &Workspace, force: bool) -> anyhow::Result<()> {
        let body = json!({"name": ws.name, "force_delete": force});
        self.delete(
            &format!("/admin/workspaces/{}", segment(&ws.id)),
            Some(&body),
        )
    }
}

/// 404, and the 403 AB03 some endpoints send for a missing resource.
pub fn is_missing(e: &anyhow::Error) -> bool {
    e.downcast_ref::<CliError>().is_some_and(|c| {
        c.kind == ErrorKind::NotFound || (c.kind == ErrorKind::Auth && c.message.contains("AB03"))
    })
}
