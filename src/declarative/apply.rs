//! Executing a plan through the Admin API client, in the plan's (dependency) order. Every
//! secret is read from its reference before the first write, so a missing variable or
//! file changes nothing. Each operation is idempotent against the state it was planned
//! from: after a failure or an interruption, planning again continues where it stopped.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::diff::{Op, Plan, SecretWrite};
use super::file::SecretRef;
use super::live::Live;
use crate::api::configs::{ConfigStatus, UpdateConfig};
use crate::api::provisioning::BulkUpdateWorkspaces;
use crate::client::{Client, OrgSettings};
use crate::exit::{fail, ErrorKind};
use crate::settings::Env;

/// One operation done, for `-o json`.
#[derive(Debug, Clone, Serialize)]
pub struct Done {
    pub op: String,
    pub object: String,
}

/// Reads one secret reference: a named environment variable, or a file relative to the
/// catalog file. `field` names where it is used.
pub fn read_secret(
    env: &Env,
    base_dir: &Path,
    r: &SecretRef,
    field: &str,
) -> anyhow::Result<String> {
    let value = match (&r.env, &r.file) {
        (Some(var), _) => env.named(var).map(str::to_owned).ok_or_else(|| {
            fail(
                ErrorKind::Usage,
                format!("`{field}` reads the environment variable `{var}`, which is not set (or is empty)"),
                Some(&format!(
                    "export {var}=... before applying (secrets never go in the file)"
                )),
            )
        })?,
        (None, Some(path)) => {
            let full = if path.is_absolute() {
                path.clone()
            } else {
                base_dir.join(path)
            };
            std::fs::read_to_string(&full).map_err(|e| {
                fail(
                    ErrorKind::Usage,
                    format!("`{field}` reads the file `{}`: {e}", full.display()),
                    Some("create the file, or point the reference at the right path (relative to the catalog file)"),
                )
            })?
        }
        (None, None) => unreachable!("references are checked when read"),
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(fail(
            ErrorKind::Usage,
            format!("`{field}` is empty ({})", r.describe()),
            None,
        ));
    }
    Ok(value)
}

/// The resolved values of an operation's secrets: (`key` or field, value).
type Resolved = Vec<(String, Value)>;

fn resolve(
    env: &Env,
    base_dir: &Path,
    integration: &str,
    writes: &[SecretWrite],
) -> anyhow::Result<Resolved> {
    let mut out = Vec::new();
    for w in writes {
        if let Some(r) = &w.source {
            let at = format!("integrations.{integration}.{}", w.field);
            let text = read_secret(env, base_dir, r, &at)?;
            // A secret object (a service account key) is JSON in its file.
            let value = match serde_json::from_str::<Value>(&text) {
                Ok(v @ Value::Object(_)) if w.field != "key" => v,
                _ => Value::String(text),
            };
            out.push((w.field.clone(), value));
        } else {
            let mut headers = serde_json::Map::new();
            for (h, r) in &w.headers {
                let at = format!("integrations.{integration}.configuration.custom_headers.{h}");
                headers.insert(
                    h.clone(),
                    Value::String(read_secret(env, base_dir, r, &at)?),
                );
            }
            out.push((w.field.clone(), Value::Object(headers)));
        }
    }
    Ok(out)
}

/// Reads every secret the plan would write, and drops them: a reference that cannot be
/// read fails here, before anything is written (and in a dry run, as the apply would).
pub fn check_secrets(plan: &Plan, env: &Env) -> anyhow::Result<()> {
    for op in &plan.ops {
        let (slug, secrets) = match op {
            Op::CreateIntegration { body, secrets, .. } => {
                (body.slug.clone().unwrap_or_default(), secrets)
            }
            Op::UpdateIntegration { slug, secrets, .. } => (slug.clone(), secrets),
            _ => continue,
        };
        resolve(env, &plan.base_dir, &slug, secrets)?;
    }
    Ok(())
}

/// What an operation does, for progress and reports.
pub fn describe(op: &Op) -> (String, String) {
    let (verb, object) = match op {
        Op::OrgSettings { .. } => ("update", "organisation settings".to_owned()),
        Op::CreateWorkspace { body } => ("create", format!("workspace {}", body.name)),
        Op::UpdateWorkspace { workspace, .. } => ("update", format!("workspace {workspace}")),
        Op::DeleteWorkspace { workspace } => ("delete", format!("workspace {workspace}")),
        Op::CreateIntegration { body, .. } => (
            "create",
            format!("integration {}", body.slug.clone().unwrap_or_default()),
        ),
        Op::UpdateIntegration { slug, .. } => ("update", format!("integration {slug}")),
        Op::DeleteIntegration { slug, .. } => ("delete", format!("integration {slug}")),
        Op::Access {
            integration, items, ..
        } => (
            if items.iter().all(|i| i.enabled) {
                "provision"
            } else {
                "revoke"
            },
            format!("access to {integration}"),
        ),
        Op::Models { integration, .. } => ("update", format!("models of {integration}")),
        Op::DeleteModels { integration, slugs } => (
            "delete",
            format!("models {} of {integration}", slugs.join(", ")),
        ),
        Op::CreateProvider { workspace, body } => (
            "create",
            format!(
                "provider {workspace}/@{}",
                body.slug.clone().unwrap_or_default()
            ),
        ),
        Op::UpdateProvider {
            workspace, slug, ..
        } => ("update", format!("provider {workspace}/@{slug}")),
        Op::DeleteProvider { workspace, slug } => {
            ("delete", format!("provider {workspace}/@{slug}"))
        }
        Op::CreateConfig {
            workspace, body, ..
        } => (
            "create",
            format!(
                "config {}",
                super::live::config_label(workspace.as_deref(), &body.name)
            ),
        ),
        Op::UpdateConfig { label, .. } => ("update", format!("config {label}")),
        Op::DeleteConfig { label, .. } => ("delete", format!("config {label}")),
    };
    (verb.to_owned(), object)
}

/// Runs every operation of `plan`; `progress(done, total, what)` is told before each.
pub fn execute(
    client: &Client,
    plan: &Plan,
    live: &Live,
    env: &Env,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> anyhow::Result<Vec<Done>> {
    // Every secret first: nothing is written when one is missing.
    let mut secrets: BTreeMap<usize, Resolved> = BTreeMap::new();
    for (i, op) in plan.ops.iter().enumerate() {
        match op {
            Op::CreateIntegration {
                body, secrets: w, ..
            } => {
                let slug = body.slug.clone().unwrap_or_default();
                secrets.insert(i, resolve(env, &plan.base_dir, &slug, w)?);
            }
            Op::UpdateIntegration {
                slug, secrets: w, ..
            } => {
                secrets.insert(i, resolve(env, &plan.base_dir, slug, w)?);
            }
            _ => {}
        }
    }
    let mut ids: BTreeMap<String, String> = live
        .workspaces
        .iter()
        .map(|(n, w)| (n.clone(), w.id.clone()))
        .collect();
    let id_of = |ids: &BTreeMap<String, String>, name: &str| -> anyhow::Result<String> {
        ids.get(name).cloned().ok_or_else(|| {
            fail(
                ErrorKind::NotFound,
                format!("workspace `{name}` is not in the live catalog"),
                Some(
                    "it may have been renamed or deleted since the plan: run `catalog plan` again",
                ),
            )
        })
    };
    let total = plan.ops.len();
    let mut done = Vec::new();
    for (i, op) in plan.ops.iter().enumerate() {
        let (verb, object) = describe(op);
        progress(i, total, &format!("{verb} {object}"));
        let result: anyhow::Result<()> = (|| {
            match op {
                Op::OrgSettings {
                    allow_workspace_integrations,
                } => {
                    client.update_org_settings(&OrgSettings {
                        allow_workspace_integrations: Some(*allow_workspace_integrations),
                        secret_versions: None,
                    })?;
                }
                Op::CreateWorkspace { body } => {
                    let ws = client.create_workspace(body)?;
                    ids.insert(body.name.clone(), ws.id);
                }
                Op::UpdateWorkspace { workspace, body } => {
                    client.update_workspace(&id_of(&ids, workspace)?, body)?;
                }
                Op::DeleteWorkspace { workspace } => {
                    let ws = client.get_workspace(&id_of(&ids, workspace)?)?;
                    // Keys may have been made since the plan (a saved one, or while the
                    // prompt waited): the workspace is deleted only while it has none.
                    let keys = client.list_api_keys(Some(&ws.id))?;
                    if !keys.is_empty() {
                        let names: Vec<String> = keys
                            .iter()
                            .map(crate::declarative::live::key_label)
                            .collect();
                        return Err(crate::exit::fail(
                            crate::exit::ErrorKind::Conflict,
                            format!(
                                "workspace `{workspace}` now holds API keys ({}), which a catalog file never governs; it was not deleted",
                                names.join(", ")
                            ),
                            Some("delete those keys first with `catalog api-keys delete ID`, then apply again; or keep the workspace in the file"),
                        ));
                    }
                    client.delete_workspace(&ws, true)?;
                }
                Op::CreateIntegration {
                    body,
                    workspace,
                    versions,
                    ..
                } => {
                    let mut body = body.clone();
                    if let Some(w) = workspace {
                        body.workspace_id = Some(id_of(&ids, w)?);
                    }
                    for (field, value) in secrets.remove(&i).unwrap_or_default() {
                        if field == "key" {
                            body.key = value.as_str().map(str::to_owned);
                        } else {
                            body.configurations
                                .get_or_insert_with(Default::default)
                                .insert(field, value);
                        }
                    }
                    client.create_integration(&body)?;
                    if !versions.is_empty() {
                        client.put_secret_versions(versions)?;
                    }
                }
                Op::UpdateIntegration {
                    slug,
                    body,
                    versions,
                    ..
                } => {
                    let mut body = body.clone();
                    for (field, value) in secrets.remove(&i).unwrap_or_default() {
                        if field == "key" {
                            body.key = value.as_str().map(str::to_owned);
                        } else {
                            body.configurations
                                .get_or_insert_with(Default::default)
                                .insert(field, value);
                        }
                    }
                    client.update_integration(slug, &body)?;
                    if !versions.is_empty() {
                        client.put_secret_versions(versions)?;
                    }
                }
                Op::DeleteIntegration { slug, versions } => {
                    client.delete_integration(slug, true)?;
                    if !versions.is_empty() {
                        client.put_secret_versions(versions)?;
                    }
                }
                Op::Access {
                    integration,
                    items,
                    global,
                } => {
                    let mut workspaces = Vec::new();
                    for item in items {
                        let mut item = item.clone();
                        item.id = id_of(&ids, &item.id)?;
                        workspaces.push(item);
                    }
                    client.put_workspace_access(
                        integration,
                        &BulkUpdateWorkspaces {
                            workspaces,
                            global_workspace_access: global.clone(),
                            ..Default::default()
                        },
                    )?;
                }
                Op::Models { integration, body } => client.put_models(integration, body)?,
                Op::DeleteModels { integration, slugs } => {
                    client.delete_models(integration, slugs)?
                }
                Op::CreateProvider { workspace, body } => {
                    let mut body = body.clone();
                    body.workspace_id = Some(id_of(&ids, workspace)?);
                    client.create_provider(&body)?;
                }
                Op::UpdateProvider {
                    workspace,
                    slug,
                    body,
                } => {
                    client.update_provider(&id_of(&ids, workspace)?, slug, body)?;
                }
                Op::DeleteProvider { workspace, slug } => {
                    client.delete_provider(&id_of(&ids, workspace)?, slug)?;
                }
                Op::CreateConfig {
                    workspace,
                    body,
                    status,
                } => {
                    let mut body = body.clone();
                    if let Some(w) = workspace {
                        body.workspace_id = Some(id_of(&ids, w)?);
                    }
                    let created = client.create_config(&body)?;
                    if *status != ConfigStatus::Active {
                        client.update_config(
                            &created.slug,
                            &UpdateConfig {
                                status: Some(*status),
                                ..Default::default()
                            },
                        )?;
                    }
                }
                Op::UpdateConfig { slug, body, .. } => {
                    client.update_config(slug, body)?;
                }
                Op::DeleteConfig { slug, .. } => client.delete_config(slug)?,
            }
            Ok(())
        })();
        if let Err(e) = result {
            return Err(e.context(format!(
                "while applying step {} of {total} ({verb} {object}); {} step(s) were done",
                i + 1,
                i
            )));
        }
        done.push(Done { op: verb, object });
    }
    progress(total, total, "done");
    Ok(done)
}
