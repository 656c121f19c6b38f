//! [`StoreTx`] over one SQLite transaction.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{from_doc, internal, to_doc, unique_or_internal};
use crate::api::workspace::Workspace;
use crate::store::{
    AccessRecord, IntegrationRecord, ModelRecord, ProviderRecord, StoreError, StoreResult, StoreTx,
    VirtualKeyRecord,
};

pub struct SqliteTx<'a, 'c>(pub &'a Transaction<'c>);

fn rows<T>(
    tx: &Transaction<'_>,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = tx.prepare_cached(sql).map_err(internal)?;
    let out = stmt
        .query_map(args, f)
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    Ok(out)
}

/// Providers and virtual keys share one slug namespace per workspace.
fn slug_free(tx: &Transaction<'_>, table: &str, workspace_id: &str, slug: &str) -> StoreResult<()> {
    let taken: Option<i64> = tx
        .query_row(
            &format!("SELECT 1 FROM {table} WHERE workspace_id = ?1 AND slug = ?2"),
            [workspace_id, slug],
            |r| r.get(0),
        )
        .optional()
        .map_err(internal)?;
    match taken {
        Some(_) => Err(StoreError::Conflict(format!(
            "`{slug}` is already used by a provider or virtual key in this workspace"
        ))),
        None => Ok(()),
    }
}

fn vk_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, Vec<u8>)> {
    Ok((r.get(0)?, r.get(1)?))
}

fn to_vk((doc, sealed_secrets): (String, Vec<u8>)) -> StoreResult<VirtualKeyRecord> {
    Ok(VirtualKeyRecord {
        public: from_doc(&doc)?,
        sealed_secrets,
    })
}

fn provider_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, bool)> {
    Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0))
}

fn to_provider(
    (doc, integration_uuid, revoked): (String, String, bool),
) -> StoreResult<ProviderRecord> {
    Ok(ProviderRecord {
        public: from_doc(&doc)?,
        integration_uuid,
        revoked,
    })
}

impl StoreTx for SqliteTx<'_, '_> {
    fn integration(&mut self, slug_or_id: &str) -> StoreResult<Option<IntegrationRecord>> {
        super::integrations::get(self.0, slug_or_id)
    }

    fn all_integrations(&mut self) -> StoreResult<Vec<IntegrationRecord>> {
        rows(
            self.0,
            "SELECT doc, secrets FROM integrations ORDER BY rowid",
            &[],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )?
        .into_iter()
        .map(|(doc, sealed_secrets)| {
            Ok(IntegrationRecord {
                public: from_doc(&doc)?,
                sealed_secrets,
            })
        })
        .collect()
    }

    fn save_integration(&mut self, record: &IntegrationRecord) -> StoreResult<()> {
        self.0
            .execute(
                "UPDATE integrations SET doc = ?2, secrets = ?3 WHERE id = ?1",
                params![
                    record.public.id,
                    to_doc(&record.public)?,
                    record.sealed_secrets
                ],
            )
            .map_err(internal)?;
        Ok(())
    }

    fn insert_integration(&mut self, record: &IntegrationRecord) -> StoreResult<()> {
        super::integrations::insert(self.0, record)
    }

    fn delete_integration(&mut self, id: &str) -> StoreResult<()> {
        self.0
            .execute("DELETE FROM integrations WHERE id = ?1", [id])
            .map_err(internal)?;
        Ok(())
    }

    fn workspace(&mut self, id_or_slug: &str) -> StoreResult<Option<Workspace>> {
        super::workspaces::get(self.0, id_or_slug)
    }

    fn insert_workspace(&mut self, workspace: &Workspace) -> StoreResult<()> {
        super::workspaces::insert(self.0, workspace)
    }

    fn access(
        &mut self,
        integration_id: &str,
        workspace_id: &str,
    ) -> StoreResult<Option<AccessRecord>> {
        let doc: Option<String> = self
            .0
            .query_row(
                "SELECT doc FROM integration_workspaces WHERE integration_id = ?1 AND workspace_id = ?2",
                [integration_id, workspace_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(internal)?;
        doc.map(|d| from_doc(&d)).transpose()
    }

    fn accesses(
        &mut self,
        integration_id: Option<&str>,
        workspace_id: Option<&str>,
    ) -> StoreResult<Vec<AccessRecord>> {
        rows(
            self.0,
            "SELECT doc FROM integration_workspaces
             WHERE (?1 IS NULL OR integration_id = ?1) AND (?2 IS NULL OR workspace_id = ?2)
             ORDER BY rowid",
            &[&integration_id, &workspace_id],
            |r| r.get::<_, String>(0),
        )?
        .iter()
        .map(|d| from_doc(d))
        .collect()
    }

    fn save_access(&mut self, access: &AccessRecord) -> StoreResult<()> {
        self.0
            .execute(
                "INSERT INTO integration_workspaces(integration_id, workspace_id, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT(integration_id, workspace_id) DO UPDATE SET doc = excluded.doc",
                params![access.integration_id, access.workspace_id, to_doc(access)?],
            )
            .map_err(internal)?;
        Ok(())
    }

    fn provider(
        &mut self,
        workspace_id: &str,
        slug_or_id: &str,
    ) -> StoreResult<Option<ProviderRecord>> {
        self.0
            .query_row(
                "SELECT doc, integration_id, revoked FROM providers
                 WHERE workspace_id = ?1 AND (slug = ?2 OR id = ?2)",
                [workspace_id, slug_or_id],
                provider_row,
            )
            .optional()
            .map_err(internal)?
            .map(to_provider)
            .transpose()
    }

    fn providers(
        &mut self,
        workspace_id: Option<&str>,
        integration_id: Option<&str>,
    ) -> StoreResult<Vec<ProviderRecord>> {
        rows(
            self.0,
            "SELECT doc, integration_id, revoked FROM providers
             WHERE (?1 IS NULL OR workspace_id = ?1) AND (?2 IS NULL OR integration_id = ?2)
             ORDER BY rowid",
            &[&workspace_id, &integration_id],
            provider_row,
        )?
        .into_iter()
        .map(to_provider)
        .collect()
    }

    fn insert_provider(&mut self, record: &ProviderRecord) -> StoreResult<()> {
        let p = &record.public;
        slug_free(
            self.0,
            "virtual_keys",
            p.workspace_id.as_deref().unwrap_or(""),
            &p.slug,
        )?;
        self.0
            .execute(
                "INSERT INTO providers(id, slug, workspace_id, integration_id, revoked, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    p.id,
                    p.slug,
                    p.workspace_id,
                    record.integration_uuid,
                    i64::from(record.revoked),
                    to_doc(p)?
                ],
            )
            .map_err(|e| {
                unique_or_internal(e, || {
                    format!(
                        "an AI provider with slug `{}` already exists in this workspace",
                        p.slug
                    )
                })
            })?;
        Ok(())
    }

    fn save_provider(&mut self, record: &ProviderRecord) -> StoreResult<()> {
        let n = self
            .0
            .execute(
                "UPDATE providers SET revoked = ?2, doc = ?3 WHERE id = ?1",
                params![
                    record.public.id,
                    i64::from(record.revoked),
                    to_doc(&record.public)?
                ],
            )
            .map_err(internal)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "AI provider `{}` not found",
                record.public.slug
            )));
        }
        Ok(())
    }

    fn models(&mut self, integration_id: &str) -> StoreResult<Vec<ModelRecord>> {
        rows(
            self.0,
            "SELECT doc, secrets FROM integration_models WHERE integration_id = ?1 ORDER BY rowid",
            &[&integration_id],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<Vec<u8>>>(1)?)),
        )?
        .into_iter()
        .map(|(doc, sealed_headers)| {
            Ok(ModelRecord {
                public: from_doc(&doc)?,
                sealed_headers,
            })
        })
        .collect()
    }

    fn save_model(&mut self, integration_id: &str, model: &ModelRecord) -> StoreResult<()> {
        self.0
            .execute(
                "INSERT INTO integration_models(integration_id, slug, doc, secrets) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(integration_id, slug) DO UPDATE SET doc = excluded.doc, secrets = excluded.secrets",
                params![integration_id, model.public.slug, to_doc(&model.public)?, model.sealed_headers],
            )
            .map_err(internal)?;
        Ok(())
    }

    fn virtual_key(
        &mut self,
        workspace_id: &str,
        slug_or_id: &str,
    ) -> StoreResult<Option<VirtualKeyRecord>> {
        self.0
            .query_row(
                "SELECT doc, secrets FROM virtual_keys WHERE workspace_id = ?1 AND (slug = ?2 OR id = ?2)",
                [workspace_id, slug_or_id],
                vk_row,
            )
            .optional()
            .map_err(internal)?
            .map(to_vk)
            .transpose()
    }

    fn virtual_keys(&mut self, workspace_id: Option<&str>) -> StoreResult<Vec<VirtualKeyRecord>> {
        rows(
            self.0,
            "SELECT doc, secrets FROM virtual_keys WHERE (?1 IS NULL OR workspace_id = ?1) ORDER BY rowid",
            &[&workspace_id],
            vk_row,
        )?
        .into_iter()
        .map(to_vk)
        .collect()
    }

    fn insert_virtual_key(&mut self, record: &VirtualKeyRecord) -> StoreResult<()> {
        let v = &record.public;
        let ws = v.workspace_id.as_deref().unwrap_or("");
        slug_free(self.0, "providers", ws, &v.slug)?;
        self.0
            .execute(
                "INSERT INTO virtual_keys(id, slug, workspace_id, doc, secrets) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![v.id, v.slug, ws, to_doc(v)?, record.sealed_secrets],
            )
            .map_err(|e| {
                unique_or_internal(e, || {
                    format!("`{}` is already used by a provider or virtual key in this workspace", v.slug)
                })
            })?;
        Ok(())
    }

    fn save_virtual_key(&mut self, record: &VirtualKeyRecord) -> StoreResult<()> {
        self.0
            .execute(
                "UPDATE virtual_keys SET doc = ?2, secrets = ?3 WHERE id = ?1",
                params![
                    record.public.id,
                    to_doc(&record.public)?,
                    record.sealed_secrets
                ],
            )
            .map_err(internal)?;
        Ok(())
    }

    fn meta(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.0
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(internal)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.0
            .execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map_err(internal)?;
        Ok(())
    }

    fn delete_virtual_key(&mut self, id: &str) -> StoreResult<()> {
        self.0
            .execute("DELETE FROM virtual_keys WHERE id = ?1", [id])
            .map_err(internal)?;
        Ok(())
    }

    fn delete_model(&mut self, integration_id: &str, slug: &str) -> StoreResult<()> {
        self.0
            .execute(
                "DELETE FROM integration_models WHERE integration_id = ?1 AND slug = ?2",
                [integration_id, slug],
            )
            .map_err(internal)?;
        Ok(())
    }

    fn delete_provider(&mut self, id: &str) -> StoreResult<()> {
        self.0
            .execute("DELETE FROM providers WHERE id = ?1", [id])
            .map_err(internal)?;
        Ok(())
    }
}
