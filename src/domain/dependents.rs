//! What still depends on an object that someone wants to delete.

use super::error::{DomainError, DomainResult};
use crate::store::{StoreTx, WorkspaceDependents};

/// Deletes a workspace; without `force`, only when nothing depends on it (a conflict
/// naming what remains otherwise). With `force`, its dependents go with it.
pub fn delete_workspace(tx: &mut dyn StoreTx, id: &str, force: bool) -> DomainResult<()> {
    if !force {
        let deps = tx.workspace_dependents(id)?;
        if !deps.is_empty() {
            return Err(DomainError::conflict(describe_dependents(&deps)));
        }
    }
    tx.delete_workspace(id)?;
    Ok(())
}

/// Why a workspace cannot be deleted without `force_delete`, naming what remains.
pub fn describe_dependents(deps: &WorkspaceDependents) -> String {
    let mut parts = Vec::new();
    if !deps.integrations.is_empty() {
        parts.push(format!(
            "{} integration(s) ({})",
            deps.integrations.len(),
            quoted(&deps.integrations)
        ));
    }
    if !deps.providers.is_empty() {
        parts.push(format!(
            "{} AI provider(s) ({})",
            deps.providers.len(),
            quoted(&deps.providers)
        ));
    }
    if !deps.virtual_keys.is_empty() {
        parts.push(format!(
            "{} virtual key(s) ({})",
            deps.virtual_keys.len(),
            quoted(&deps.virtual_keys)
        ));
    }
    if !deps.api_keys.is_empty() {
        parts.push(format!(
            "{} API key(s) ({})",
            deps.api_keys.len(),
            quoted(&deps.api_keys)
        ));
    }
    if !deps.configs.is_empty() {
        parts.push(format!(
            "{} config(s) ({})",
            deps.configs.len(),
            quoted(&deps.configs)
        ));
    }
    format!(
        "the workspace still has {}; delete them first or set force_delete to delete them with it",
        parts.join(" and ")
    )
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
