//! Write transactions: `BEGIN IMMEDIATE` on the writer connection, `COMMIT` on
//! [`StoreTx::commit`], `ROLLBACK` when dropped uncommitted.

use std::sync::MutexGuard;

use rusqlite::{params, Connection};

use super::read::Db;
use super::{internal, to_doc, unique_or_internal};
use crate::api::api_key::ApiKey;
use crate::api::configs::{Config, ConfigVersion};
use crate::api::usage::UsageState;
use crate::api::workspace::Workspace;
use crate::store::{
    AccessRecord, ApiKeyRecord, IntegrationRecord, ModelRecord, ProviderRecord, SealedOwner,
    SealedValue, StoreError, StoreResult, StoreTx, Unit, UsageScope, VirtualKeyRecord,
};

pub struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
}

impl<'a> SqliteTx<'a> {
    pub(super) fn begin(conn: MutexGuard<'a, Connection>) -> StoreResult<SqliteTx<'a>> {
        // IMMEDIATE takes the write lock up front, so two processes never deadlock
        // upgrading a read lock; other writers wait (busy timeout), readers never do.
        conn.execute_batch("BEGIN IMMEDIATE").map_err(internal)?;
        Ok(SqliteTx { conn, open: true })
    }

    fn exec(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> StoreResult<usize> {
        self.conn
            .prepare_cached(sql)
            .map_err(internal)?
            .execute(args)
            .map_err(internal)
    }

    fn exec_unique(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
        conflict: impl FnOnce() -> String,
    ) -> StoreResult<usize> {
        self.conn
            .prepare_cached(sql)
            .map_err(internal)?
            .execute(args)
            .map_err(|e| unique_or_internal(e, conflict))
    }
}

/// Documents never hold usage: it lives in counters, which only counter operations write.
fn provider_doc(record: &ProviderRecord) -> StoreResult<String> {
    let mut public = record.public.clone();
    public.usage = None;
    to_doc(&public)
}

fn vk_doc(record: &VirtualKeyRecord) -> StoreResult<String> {
    let mut public = record.public.clone();
    public.usage = None;
    to_doc(&public)
}

fn expect_one(n: usize, missing: impl FnOnce() -> String) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound(missing()))
    } else {
        Ok(())
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Db for SqliteTx<'_> {
    fn db(&self) -> &Connection {
        &self.conn
    }
}

impl StoreTx for SqliteTx<'_> {
    fn set_meta(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.exec(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )?;
        Ok(())
    }

    fn delete_meta(&mut self, key: &str) -> StoreResult<()> {
        self.exec("DELETE FROM meta WHERE key = ?1", &[&key])?;
        Ok(())
    }

    fn replace_sealed(&mut self, value: &SealedValue, sealed: &[u8]) -> StoreResult<bool> {
        let n = match &value.owner {
            SealedOwner::Integration(id) => self.exec(
                "UPDATE integrations SET secrets = ?2 WHERE id = ?1 AND secrets = ?3",
                params![id, sealed, value.sealed],
            )?,
            SealedOwner::ModelHeaders {
                integration_id,
                slug,
            } => self.exec(
                "UPDATE integration_models SET secrets = ?3
                 WHERE integration_id = ?1 AND slug = ?2 AND secrets = ?4",
                params![integration_id, slug, sealed, value.sealed],
            )?,
            SealedOwner::VirtualKey(id) => self.exec(
                "UPDATE virtual_keys SET secrets = ?2 WHERE id = ?1 AND secrets = ?3",
                params![id, sealed, value.sealed],
            )?,
        };
        Ok(n == 1)
    }

    fn insert_workspace(&mut self, ws: &Workspace) -> StoreResult<()> {
        self.exec_unique(
            "INSERT INTO workspaces(id, slug, name, status, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                ws.id,
                ws.slug,
                ws.name,
                ws.status.as_deref().unwrap_or("active"),
                to_doc(ws)?
            ],
            || format!("a workspace with slug `{}` already exists", ws.slug),
        )?;
        Ok(())
    }

    fn save_workspace(&mut self, ws: &Workspace) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE workspaces SET name = ?2, status = ?3, doc = ?4 WHERE id = ?1",
            params![
                ws.id,
                ws.name,
                ws.status.as_deref().unwrap_or("active"),
                to_doc(ws)?
            ],
        )?;
        expect_one(n, || format!("workspace `{}` not found", ws.slug))
    }

    fn delete_workspace(&mut self, id: &str) -> StoreResult<()> {
        // Dependents go through ON DELETE CASCADE, in the same transaction.
        let n = self.exec("DELETE FROM workspaces WHERE id = ?1", &[&id])?;
        expect_one(n, || format!("workspace `{id}` not found"))
    }

    fn insert_integration(&mut self, record: &IntegrationRecord) -> StoreResult<()> {
        let public = &record.public;
        self.exec_unique(
            "INSERT INTO integrations(id, slug, workspace_id, doc, secrets) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                public.id,
                public.slug,
                public.workspace_id,
                to_doc(public)?,
                record.sealed_secrets
            ],
            || format!("an integration with slug `{}` already exists", public.slug),
        )?;
        Ok(())
    }

    fn save_integration(&mut self, record: &IntegrationRecord) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE integrations SET doc = ?2, secrets = ?3 WHERE id = ?1",
            params![
                record.public.id,
                to_doc(&record.public)?,
                record.sealed_secrets
            ],
        )?;
        expect_one(n, || {
            format!("integration `{}` not found", record.public.slug)
        })
    }

    fn delete_integration(&mut self, id: &str) -> StoreResult<()> {
        let n = self.exec("DELETE FROM integrations WHERE id = ?1", &[&id])?;
        expect_one(n, || format!("integration `{id}` not found"))
    }

    fn save_access(&mut self, access: &AccessRecord) -> StoreResult<()> {
        let doc = to_doc(&AccessRecord {
            usage: None,
            ..access.clone()
        })?;
        self.exec(
            "INSERT INTO integration_workspaces(integration_id, workspace_id, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT(integration_id, workspace_id) DO UPDATE SET doc = excluded.doc",
            params![access.integration_id, access.workspace_id, doc],
        )?;
        Ok(())
    }

    fn insert_provider(&mut self, record: &ProviderRecord) -> StoreResult<()> {
        let p = &record.public;
        self.exec_unique(
            "INSERT INTO providers(id, slug, workspace_id, integration_id, revoked, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                p.id,
                p.slug,
                p.workspace_id,
                record.integration_uuid,
                i64::from(record.revoked),
                provider_doc(record)?
            ],
            || {
                format!(
                    "an AI provider with slug `{}` already exists in this workspace",
                    p.slug
                )
            },
        )?;
        Ok(())
    }

    fn save_provider(&mut self, record: &ProviderRecord) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE providers SET revoked = ?2, doc = ?3 WHERE id = ?1",
            params![
                record.public.id,
                i64::from(record.revoked),
                provider_doc(record)?
            ],
        )?;
        expect_one(n, || {
            format!("AI provider `{}` not found", record.public.slug)
        })
    }

    fn delete_provider(&mut self, id: &str) -> StoreResult<()> {
        self.exec("DELETE FROM providers WHERE id = ?1", &[&id])?;
        Ok(())
    }

    fn save_model(&mut self, integration_id: &str, model: &ModelRecord) -> StoreResult<()> {
        self.exec(
            "INSERT INTO integration_models(integration_id, slug, doc, secrets) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(integration_id, slug) DO UPDATE SET doc = excluded.doc, secrets = excluded.secrets",
            params![integration_id, model.public.slug, to_doc(&model.public)?, model.sealed_headers],
        )?;
        Ok(())
    }

    fn delete_model(&mut self, integration_id: &str, slug: &str) -> StoreResult<()> {
        self.exec(
            "DELETE FROM integration_models WHERE integration_id = ?1 AND slug = ?2",
            &[&integration_id, &slug],
        )?;
        Ok(())
    }

    fn insert_virtual_key(&mut self, record: &VirtualKeyRecord) -> StoreResult<()> {
        let v = &record.public;
        let ws = v.workspace_id.as_deref().unwrap_or("");
        self.exec_unique(
            "INSERT INTO virtual_keys(id, slug, workspace_id, doc, secrets) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![v.id, v.slug, ws, vk_doc(record)?, record.sealed_secrets],
            || {
                format!(
                    "a virtual key with slug `{}` already exists in this workspace",
                    v.slug
                )
            },
        )?;
        Ok(())
    }

    fn save_virtual_key(&mut self, record: &VirtualKeyRecord) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE virtual_keys SET doc = ?2, secrets = ?3 WHERE id = ?1",
            params![record.public.id, vk_doc(record)?, record.sealed_secrets],
        )?;
        expect_one(n, || {
            format!("virtual key `{}` not found", record.public.slug)
        })
    }

    fn delete_virtual_key(&mut self, id: &str) -> StoreResult<()> {
        self.exec("DELETE FROM virtual_keys WHERE id = ?1", &[&id])?;
        Ok(())
    }

    fn set_usage(
        &mut self,
        scope: &UsageScope,
        limit: &str,
        state: Option<(&UsageState, Unit)>,
    ) -> StoreResult<()> {
        match state {
            None => {
                self.exec(
                    "DELETE FROM counters WHERE scope = ?1 AND limit_key = ?2",
                    &[&scope.key(), &limit],
                )?;
            }
            Some((s, unit)) => {
                self.exec(
                    "INSERT INTO counters(scope, limit_key, scale, used, held, window_started_at, last_reset_at)
                     VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)
                     ON CONFLICT(scope, limit_key) DO UPDATE SET used = excluded.used,
                        scale = excluded.scale,
                        window_started_at = excluded.window_started_at,
                        last_reset_at = excluded.last_reset_at,
                        exhausted_window = NULL",
                    params![
                        scope.key(),
                        limit,
                        unit.scale(),
                        unit.units(s.current_usage),
                        s.window_started_at,
                        s.last_reset_at
                    ],
                )?;
            }
        }
        Ok(())
    }

    fn insert_api_key(&mut self, record: &ApiKeyRecord) -> StoreResult<()> {
        let public = &record.public;
        self.exec_unique(
            "INSERT INTO api_keys(id, key_hash, workspace_id, doc) VALUES (?1, ?2, ?3, ?4)",
            params![
                public.id,
                record.key_hash,
                public.workspace_id,
                to_doc(public)?
            ],
            || "this API key already exists".to_owned(),
        )?;
        Ok(())
    }

    fn save_api_key(&mut self, key: &ApiKey) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE api_keys SET doc = ?2 WHERE id = ?1",
            params![key.id, to_doc(key)?],
        )?;
        expect_one(n, || format!("API key `{}` not found", key.id))
    }

    fn delete_api_key(&mut self, id: &str) -> StoreResult<()> {
        let n = self.exec("DELETE FROM api_keys WHERE id = ?1", &[&id])?;
        expect_one(n, || format!("API key `{id}` not found"))
    }

    fn insert_config(&mut self, config: &Config, first: &ConfigVersion) -> StoreResult<()> {
        self.exec_unique(
            "INSERT INTO configs(id, slug, workspace_id, doc) VALUES (?1, ?2, ?3, ?4)",
            params![config.id, config.slug, config.workspace_id, to_doc(config)?],
            || format!("a config with slug `{}` already exists", config.slug),
        )?;
        self.insert_config_version(first)
    }

    fn save_config(&mut self, config: &Config) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE configs SET doc = ?2 WHERE id = ?1",
            params![config.id, to_doc(config)?],
        )?;
        expect_one(n, || format!("config `{}` not found", config.slug))
    }

    fn insert_config_version(&mut self, version: &ConfigVersion) -> StoreResult<()> {
        self.exec_unique(
            "INSERT INTO config_versions(id, config_id, doc) VALUES (?1, ?2, ?3)",
            params![version.id, version.config_id, to_doc(version)?],
            || format!("config version `{}` already exists", version.id),
        )?;
        Ok(())
    }

    fn delete_config(&mut self, id: &str) -> StoreResult<()> {
        let n = self.exec("DELETE FROM configs WHERE id = ?1", &[&id])?;
        expect_one(n, || format!("config `{id}` not found"))
    }

    fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.conn.execute_batch("COMMIT").map_err(internal)?;
        self.open = false;
        Ok(())
    }
}
