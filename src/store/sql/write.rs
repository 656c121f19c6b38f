//! Write transactions: `BEGIN IMMEDIATE` on the writer connection, `COMMIT` on
//! [`StoreTx::commit`], `ROLLBACK` when dropped uncommitted.

use super::read::Db;
use super::{args, exec, internal, one, to_doc, unique_or, Arg, Dialect, Sql, TxConn};
use crate::api::api_key::ApiKey;
use crate::api::configs::{Config, ConfigVersion};
use crate::api::usage::UsageState;
use crate::api::workspace::Workspace;
use crate::domain::audit::{self, AuditContext, Change};
use crate::domain::policies::Policy;
use crate::store::redis::{RedisCounters, UsageChange};
use crate::store::{
    AccessRecord, ApiKeyRecord, IntegrationRecord, ModelRecord, ProviderRecord, SealedOwner,
    SealedValue, StoreError, StoreResult, StoreTx, Unit, UsageScope, VirtualKeyRecord,
};

pub struct SqlTx<'a> {
    conn: Box<dyn TxConn + 'a>,
    /// The request being audited and what the transaction has written for it so far.
    trail: Option<(AuditContext, Vec<Change>)>,
    /// Admission counters shared in Redis, and the counters this transaction set: they
    /// are set there too, before the commit (while writers still wait for this one).
    shared: Option<(&'a RedisCounters, Vec<UsageChange>)>,
}

/// A stored object, by its key: what the audit trail reads before and after a write.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Row {
    Workspace(String),
    Integration(String),
    Access(String, String),
    Model(String, String),
    Provider(String),
    VirtualKey(String),
    ApiKey(String),
    Config(String),
    Setting(String),
    Counter(String, String),
    Policy(String),
}

impl Row {
    /// The object's type in audit records, its query (document, sealed secret, slug,
    /// workspace) and the query's two arguments.
    fn query(&self, dialect: Dialect) -> (&'static str, String, [&str; 2]) {
        let (kind, sql, keys) = self.query_text();
        (
            kind,
            sql.replace("json_object(", dialect.json_object()),
            keys,
        )
    }

    /// [`Row::query`] in SQLite's dialect.
    fn query_text(&self) -> (&'static str, &'static str, [&str; 2]) {
        match self {
            Row::Workspace(id) => ("workspace", "SELECT doc, NULL, slug, id FROM workspaces WHERE id = ?1 AND ?2 = ''", [id.as_str(), ""]),
            Row::Integration(id) => ("integration", "SELECT doc, secrets, slug, workspace_id FROM integrations WHERE id = ?1 AND ?2 = ''", [id.as_str(), ""]),
            Row::Access(i, w) => ("integration_workspace", "SELECT doc, NULL, NULL, workspace_id FROM integration_workspaces WHERE integration_id = ?1 AND workspace_id = ?2", [i.as_str(), w.as_str()]),
            Row::Model(i, slug) => ("integration_model", "SELECT doc, secrets, slug, NULL FROM integration_models WHERE integration_id = ?1 AND slug = ?2", [i.as_str(), slug.as_str()]),
            Row::Provider(id) => ("provider", "SELECT doc, NULL, slug, workspace_id FROM providers WHERE id = ?1 AND ?2 = ''", [id.as_str(), ""]),
            Row::VirtualKey(id) => ("virtual_key", "SELECT doc, secrets, slug, NULLIF(workspace_id, '') FROM virtual_keys WHERE id = ?1 AND ?2 = ''", [id.as_str(), ""]),
            Row::ApiKey(id) => ("api_key", "SELECT doc, key_hash, json_extract(doc, '$.name'), workspace_id FROM api_keys WHERE id = ?1 AND ?2 = ''", [id.as_str(), ""]),
            Row::Config(id) => ("config", "SELECT doc, NULL, slug, workspace_id FROM configs WHERE id = ?1 AND ?2 = ''", [id.as_str(), ""]),
            Row::Setting(key) => ("organisation_setting", "SELECT json_object('value', value), NULL, key, NULL FROM meta WHERE key = ?1 AND ?2 = ''", [key.as_str(), ""]),
            Row::Policy(id) => ("policy", "SELECT doc, NULL, json_extract(doc, '$.name'), workspace_id FROM policies WHERE id = ?1 AND ?2 = ''", [id.as_str(), ""]),
            Row::Counter(scope, limit) => ("usage", "SELECT json_object('current_usage', CAST(used AS DOUBLE PRECISION) / scale, 'window_started_at', window_started_at, 'last_reset_at', last_reset_at), NULL, limit_key, NULL FROM counters WHERE scope = ?1 AND limit_key = ?2", [scope.as_str(), limit.as_str()]),
        }
    }

    /// The id an audit record names the object by (an access or a model: its integration).
    fn id(&self) -> &str {
        match self {
            Row::Workspace(id)
            | Row::Integration(id)
            | Row::Access(id, _)
            | Row::Model(id, _)
            | Row::Provider(id)
            | Row::VirtualKey(id)
            | Row::ApiKey(id)
            | Row::Config(id)
            | Row::Setting(id)
            | Row::Policy(id)
            | Row::Counter(id, _) => id,
        }
    }
}

/// An object as stored: its document, sealed secret (or key hash), slug and workspace.
type Stored = (String, Option<Vec<u8>>, Option<String>, Option<String>);

impl<'a> SqlTx<'a> {
    pub(super) fn new(conn: Box<dyn TxConn + 'a>, shared: Option<&'a RedisCounters>) -> SqlTx<'a> {
        SqlTx {
            conn,
            trail: None,
            shared: shared.map(|r| (r, Vec::new())),
        }
    }

    fn stored(&self, row: &Row) -> StoreResult<Option<Stored>> {
        let (_, sql, keys) = row.query(self.conn.dialect());
        one(&*self.conn, &sql, args![keys[0], keys[1]], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
    }

    /// Runs `write`; in an audited transaction, notes the object `row` names as it was
    /// before and is after.
    fn tracked<T>(
        &mut self,
        row: Row,
        write: impl FnOnce(&Self) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.tracked_with(row, false, write)
    }

    /// [`Self::tracked`] for a delete: the objects that go with it (`ON DELETE CASCADE`)
    /// are noted as deleted too.
    fn tracked_delete<T>(
        &mut self,
        row: Row,
        write: impl FnOnce(&Self) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.tracked_with(row, true, write)
    }

    fn tracked_with<T>(
        &mut self,
        row: Row,
        cascade: bool,
        write: impl FnOnce(&Self) -> StoreResult<T>,
    ) -> StoreResult<T> {
        if self.trail.is_none() {
            return write(self);
        }
        let mut rows = vec![row];
        if cascade {
            let mut i = 0;
            while i < rows.len() {
                for more in self.dependents(&rows[i])? {
                    if !rows.contains(&more) {
                        rows.push(more);
                    }
                }
                i += 1;
            }
        }
        let before = rows
            .iter()
            .map(|r| self.stored(r))
            .collect::<StoreResult<Vec<_>>>()?;
        let out = write(self)?;
        let mut changes = Vec::new();
        for (row, before) in rows.iter().zip(before) {
            let after = self.stored(row)?;
            changes.push(change_of(row, before, after)?);
        }
        if let Some((_, trail)) = &mut self.trail {
            trail.extend(changes);
        }
        Ok(out)
    }

    /// What a database delete of `row` takes with it, one level down.
    fn dependents(&self, row: &Row) -> StoreResult<Vec<Row>> {
        let ids = |sql: &str, id: &str| -> StoreResult<Vec<(String, String)>> {
            super::rows(&*self.conn, sql, args![id], |r| Ok((r.get(0)?, r.get(1)?)))
        };
        Ok(match row {
            Row::Workspace(id) => {
                let mut out = Vec::new();
                for (kind, key) in ids(
                    "SELECT 'api_key', id FROM api_keys WHERE workspace_id = ?1
                     UNION ALL SELECT 'integration', id FROM integrations WHERE workspace_id = ?1
                     UNION ALL SELECT 'provider', id FROM providers WHERE workspace_id = ?1
                     UNION ALL SELECT 'virtual_key', id FROM virtual_keys WHERE workspace_id = ?1
                     UNION ALL SELECT 'config', id FROM configs WHERE workspace_id = ?1
                     UNION ALL SELECT 'policy', id FROM policies WHERE workspace_id = ?1
                     UNION ALL SELECT 'access', integration_id FROM integration_workspaces WHERE workspace_id = ?1",
                    id,
                )? {
                    out.push(match kind.as_str() {
                        "api_key" => Row::ApiKey(key),
                        "integration" => Row::Integration(key),
                        "provider" => Row::Provider(key),
                        "virtual_key" => Row::VirtualKey(key),
                        "config" => Row::Config(key),
                        "policy" => Row::Policy(key),
                        _ => Row::Access(key, id.clone()),
                    });
                }
                out
            }
            Row::Integration(id) => ids(
                "SELECT 'provider', id FROM providers WHERE integration_id = ?1
                 UNION ALL SELECT 'access', workspace_id FROM integration_workspaces WHERE integration_id = ?1
                 UNION ALL SELECT 'model', slug FROM integration_models WHERE integration_id = ?1",
                id,
            )?
            .into_iter()
            .map(|(kind, key)| match kind.as_str() {
                "provider" => Row::Provider(key),
                "access" => Row::Access(id.clone(), key),
                _ => Row::Model(id.clone(), key),
            })
            .collect(),
            _ => Vec::new(),
        })
    }

    fn exec(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        exec(&*self.conn, sql, args)
    }

    fn exec_unique(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        conflict: impl FnOnce() -> String,
    ) -> StoreResult<u64> {
        self.conn
            .execute_or_refuse(sql, args)
            .map_err(|e| unique_or(e, conflict))
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

/// The change to `row` from `before` to `after` (as stored).
fn change_of(row: &Row, before: Option<Stored>, after: Option<Stored>) -> StoreResult<Change> {
    let (resource_type, _, _) = row.query_text();
    let known = after.as_ref().or(before.as_ref());
    let workspace_id = match row {
        // A counter knows its workspace by its scope, when it has one.
        Row::Counter(scope, _) => match crate::store::UsageScope::parse(scope) {
            Some(crate::store::UsageScope::Access { workspace_id, .. })
            | Some(crate::store::UsageScope::Workspace(workspace_id)) => Some(workspace_id),
            _ => None,
        },
        _ => known.and_then(|k| k.3.clone()),
    };
    Ok(Change {
        resource_type,
        resource_id: row.id().to_owned(),
        slug: known.and_then(|k| k.2.clone()),
        workspace_id,
        secret_changed: match (&before, &after) {
            (b, Some(a)) => a
                .1
                .as_ref()
                .is_some_and(|s| !s.is_empty() && b.as_ref().and_then(|b| b.1.as_ref()) != Some(s)),
            (_, None) => false,
        },
        before: before.map(|b| document(&b.0)).transpose()?,
        after: after.map(|a| document(&a.0)).transpose()?,
    })
}

fn document(text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(internal)
}

fn expect_one(n: u64, missing: impl FnOnce() -> String) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound(missing()))
    } else {
        Ok(())
    }
}

impl Db for SqlTx<'_> {
    fn db(&self) -> &dyn Sql {
        &*self.conn
    }
}

impl StoreTx for SqlTx<'_> {
    fn audit(&mut self, context: AuditContext) {
        self.trail = Some((context, Vec::new()));
    }

    fn set_meta(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.tracked(Row::Setting(String::from(key)), |tx| {
            tx.exec(
                "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                args![key, value],
            )?;
            Ok(())
        })
    }

    fn delete_meta(&mut self, key: &str) -> StoreResult<()> {
        self.exec("DELETE FROM meta WHERE key = ?1", args![key])?;
        Ok(())
    }

    fn replace_sealed(&mut self, value: &SealedValue, sealed: &[u8]) -> StoreResult<bool> {
        let n = match &value.owner {
            SealedOwner::Integration(id) => self.exec(
                "UPDATE integrations SET secrets = ?2 WHERE id = ?1 AND secrets = ?3",
                args![id, sealed, value.sealed],
            )?,
            SealedOwner::ModelHeaders {
                integration_id,
                slug,
            } => self.exec(
                "UPDATE integration_models SET secrets = ?3
                 WHERE integration_id = ?1 AND slug = ?2 AND secrets = ?4",
                args![integration_id, slug, sealed, value.sealed],
            )?,
            SealedOwner::VirtualKey(id) => self.exec(
                "UPDATE virtual_keys SET secrets = ?2 WHERE id = ?1 AND secrets = ?3",
                args![id, sealed, value.sealed],
            )?,
        };
        Ok(n == 1)
    }

    fn insert_workspace(&mut self, ws: &Workspace) -> StoreResult<()> {
        self.tracked(Row::Workspace(String::from(&ws.id)), |tx| {
            tx.exec_unique(
                "INSERT INTO workspaces(id, slug, name, status, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                args![
                    ws.id,
                    ws.slug,
                    ws.name,
                    ws.status.as_deref().unwrap_or("active"),
                    to_doc(ws)?
                ],
                || format!("a workspace with slug `{}` already exists", ws.slug),
            )?;
            Ok(())
        })
    }

    fn save_workspace(&mut self, ws: &Workspace) -> StoreResult<()> {
        self.tracked(Row::Workspace(String::from(&ws.id)), |tx| {
            let n = tx.exec(
                "UPDATE workspaces SET name = ?2, status = ?3, doc = ?4 WHERE id = ?1",
                args![
                    ws.id,
                    ws.name,
                    ws.status.as_deref().unwrap_or("active"),
                    to_doc(ws)?
                ],
            )?;
            expect_one(n, || format!("workspace `{}` not found", ws.slug))
        })
    }

    fn delete_workspace(&mut self, id: &str) -> StoreResult<()> {
        self.tracked_delete(Row::Workspace(String::from(id)), |tx| {
            // Dependents go through ON DELETE CASCADE, in the same transaction.
            let n = tx.exec("DELETE FROM workspaces WHERE id = ?1", args![id])?;
            expect_one(n, || format!("workspace `{id}` not found"))
        })
    }

    fn insert_integration(&mut self, record: &IntegrationRecord) -> StoreResult<()> {
        self.tracked(Row::Integration(String::from(&record.public.id)), |tx| {
            let public = &record.public;
            tx.exec_unique(
                "INSERT INTO integrations(id, slug, workspace_id, doc, secrets) VALUES (?1, ?2, ?3, ?4, ?5)",
                args![
                    public.id,
                    public.slug,
                    public.workspace_id,
                    to_doc(public)?,
                    record.sealed_secrets
                ],
                || format!("an integration with slug `{}` already exists", public.slug),
            )?;
            Ok(())
        })
    }

    fn save_integration(&mut self, record: &IntegrationRecord) -> StoreResult<()> {
        self.tracked(Row::Integration(String::from(&record.public.id)), |tx| {
            let n = tx.exec(
                "UPDATE integrations SET doc = ?2, secrets = ?3 WHERE id = ?1",
                args![
                    record.public.id,
                    to_doc(&record.public)?,
                    record.sealed_secrets
                ],
            )?;
            expect_one(n, || {
                format!("integration `{}` not found", record.public.slug)
            })
        })
    }

    fn delete_integration(&mut self, id: &str) -> StoreResult<()> {
        self.tracked_delete(Row::Integration(String::from(id)), |tx| {
            let n = tx.exec("DELETE FROM integrations WHERE id = ?1", args![id])?;
            expect_one(n, || format!("integration `{id}` not found"))
        })
    }

    fn save_access(&mut self, access: &AccessRecord) -> StoreResult<()> {
        self.tracked(Row::Access(String::from(&access.integration_id), String::from(&access.workspace_id)), |tx| {
            let doc = to_doc(&AccessRecord {
                usage: None,
                ..access.clone()
            })?;
            tx.exec(
                "INSERT INTO integration_workspaces(integration_id, workspace_id, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT(integration_id, workspace_id) DO UPDATE SET doc = excluded.doc",
                args![access.integration_id, access.workspace_id, doc],
            )?;
            Ok(())
        })
    }

    fn insert_provider(&mut self, record: &ProviderRecord) -> StoreResult<()> {
        self.tracked(Row::Provider(String::from(&record.public.id)), |tx| {
            let p = &record.public;
            tx.exec_unique(
                "INSERT INTO providers(id, slug, workspace_id, integration_id, revoked, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![
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
        })
    }

    fn save_provider(&mut self, record: &ProviderRecord) -> StoreResult<()> {
        self.tracked(Row::Provider(String::from(&record.public.id)), |tx| {
            let n = tx.exec(
                "UPDATE providers SET revoked = ?2, doc = ?3 WHERE id = ?1",
                args![
                    record.public.id,
                    i64::from(record.revoked),
                    provider_doc(record)?
                ],
            )?;
            expect_one(n, || {
                format!("AI provider `{}` not found", record.public.slug)
            })
        })
    }

    fn delete_provider(&mut self, id: &str) -> StoreResult<()> {
        self.tracked(Row::Provider(String::from(id)), |tx| {
            tx.exec("DELETE FROM providers WHERE id = ?1", args![id])?;
            Ok(())
        })
    }

    fn save_model(&mut self, integration_id: &str, model: &ModelRecord) -> StoreResult<()> {
        self.tracked(Row::Model(String::from(integration_id), String::from(&model.public.slug)), |tx| {
            tx.exec(
                "INSERT INTO integration_models(integration_id, slug, doc, secrets) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(integration_id, slug) DO UPDATE SET doc = excluded.doc, secrets = excluded.secrets",
                args![integration_id, model.public.slug, to_doc(&model.public)?, model.sealed_headers],
            )?;
            Ok(())
        })
    }

    fn delete_model(&mut self, integration_id: &str, slug: &str) -> StoreResult<()> {
        self.tracked(
            Row::Model(String::from(integration_id), String::from(slug)),
            |tx| {
                tx.exec(
                    "DELETE FROM integration_models WHERE integration_id = ?1 AND slug = ?2",
                    args![integration_id, slug],
                )?;
                Ok(())
            },
        )
    }

    fn insert_virtual_key(&mut self, record: &VirtualKeyRecord) -> StoreResult<()> {
        self.tracked(Row::VirtualKey(String::from(&record.public.id)), |tx| {
            let v = &record.public;
            let ws = v.workspace_id.as_deref().unwrap_or("");
            tx.exec_unique(
                "INSERT INTO virtual_keys(id, slug, workspace_id, doc, secrets) VALUES (?1, ?2, ?3, ?4, ?5)",
                args![v.id, v.slug, ws, vk_doc(record)?, record.sealed_secrets],
                || {
                    format!(
                        "a virtual key with slug `{}` already exists in this workspace",
                        v.slug
                    )
                },
            )?;
            Ok(())
        })
    }

    fn save_virtual_key(&mut self, record: &VirtualKeyRecord) -> StoreResult<()> {
        self.tracked(Row::VirtualKey(String::from(&record.public.id)), |tx| {
            let n = tx.exec(
                "UPDATE virtual_keys SET doc = ?2, secrets = ?3 WHERE id = ?1",
                args![record.public.id, vk_doc(record)?, record.sealed_secrets],
            )?;
            expect_one(n, || {
                format!("virtual key `{}` not found", record.public.slug)
            })
        })
    }

    fn delete_virtual_key(&mut self, id: &str) -> StoreResult<()> {
        self.tracked(Row::VirtualKey(String::from(id)), |tx| {
            tx.exec("DELETE FROM virtual_keys WHERE id = ?1", args![id])?;
            Ok(())
        })
    }

    fn set_usage(
        &mut self,
        scope: &UsageScope,
        limit: &str,
        state: Option<(&UsageState, Unit)>,
    ) -> StoreResult<()> {
        // Redis follows a write that starts a window (a reset, a new budget) or removes a
        // counter; one that keeps the window keeps what Redis counts in it.
        let stored: Option<Option<String>> = match self.shared {
            Some(_) => one(
                &*self.conn,
                "SELECT window_started_at FROM counters WHERE scope = ?1 AND limit_key = ?2",
                args![scope.key(), limit],
                |r| r.get(0),
            )?,
            None => None,
        };
        let moves = match (&stored, state) {
            (None, None) => false,
            (Some(window), Some((s, _))) => *window != s.window_started_at,
            _ => true,
        };
        if let (true, Some((_, changes))) = (moves, &mut self.shared) {
            changes.push((
                super::shared::counter(&scope.key(), limit),
                state.map(|(s, unit)| {
                    (
                        unit.units(s.current_usage),
                        s.window_started_at.clone(),
                        s.last_reset_at.clone(),
                    )
                }),
            ));
        }
        self.tracked(Row::Counter(String::from(&scope.key()), String::from(limit)), |tx| {
            match state {
                None => {
                    tx.exec(
                        "DELETE FROM counters WHERE scope = ?1 AND limit_key = ?2",
                        args![scope.key(), limit],
                    )?;
                }
                Some((s, unit)) => {
                    tx.exec(
                        "INSERT INTO counters(scope, limit_key, scale, used, held, window_started_at, last_reset_at)
                         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)
                         ON CONFLICT(scope, limit_key) DO UPDATE SET used = excluded.used,
                            scale = excluded.scale,
                            window_started_at = excluded.window_started_at,
                            last_reset_at = excluded.last_reset_at,
                            exhausted_window = NULL",
                        args![
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
        })
    }

    fn insert_api_key(&mut self, record: &ApiKeyRecord) -> StoreResult<()> {
        self.tracked(Row::ApiKey(String::from(&record.public.id)), |tx| {
            let public = &record.public;
            tx.exec_unique(
                "INSERT INTO api_keys(id, key_hash, workspace_id, doc) VALUES (?1, ?2, ?3, ?4)",
                args![
                    public.id,
                    record.key_hash,
                    public.workspace_id,
                    to_doc(public)?
                ],
                || "this API key already exists".to_owned(),
            )?;
            Ok(())
        })
    }

    fn save_api_key(&mut self, key: &ApiKey) -> StoreResult<()> {
        self.tracked(Row::ApiKey(String::from(&key.id)), |tx| {
            let n = tx.exec(
                "UPDATE api_keys SET doc = ?2 WHERE id = ?1",
                args![key.id, to_doc(key)?],
            )?;
            expect_one(n, || format!("API key `{}` not found", key.id))
        })
    }

    fn delete_api_key(&mut self, id: &str) -> StoreResult<()> {
        self.tracked(Row::ApiKey(String::from(id)), |tx| {
            let n = tx.exec("DELETE FROM api_keys WHERE id = ?1", args![id])?;
            expect_one(n, || format!("API key `{id}` not found"))
        })
    }

    fn insert_config(&mut self, config: &Config, first: &ConfigVersion) -> StoreResult<()> {
        self.tracked(Row::Config(String::from(&config.id)), |tx| {
            tx.exec_unique(
                "INSERT INTO configs(id, slug, workspace_id, doc) VALUES (?1, ?2, ?3, ?4)",
                args![config.id, config.slug, config.workspace_id, to_doc(config)?],
                || format!("a config with slug `{}` already exists", config.slug),
            )?;
            Ok(())
        })?;
        self.insert_config_version(first)
    }

    fn save_config(&mut self, config: &Config) -> StoreResult<()> {
        self.tracked(Row::Config(String::from(&config.id)), |tx| {
            let n = tx.exec(
                "UPDATE configs SET doc = ?2 WHERE id = ?1",
                args![config.id, to_doc(config)?],
            )?;
            expect_one(n, || format!("config `{}` not found", config.slug))
        })
    }

    fn insert_config_version(&mut self, version: &ConfigVersion) -> StoreResult<()> {
        self.exec_unique(
            "INSERT INTO config_versions(id, config_id, doc) VALUES (?1, ?2, ?3)",
            args![version.id, version.config_id, to_doc(version)?],
            || format!("config version `{}` already exists", version.id),
        )?;
        Ok(())
    }

    fn delete_config(&mut self, id: &str) -> StoreResult<()> {
        self.tracked(Row::Config(String::from(id)), |tx| {
            let n = tx.exec("DELETE FROM configs WHERE id = ?1", args![id])?;
            expect_one(n, || format!("config `{id}` not found"))
        })
    }

    fn insert_policy(&mut self, policy: &Policy) -> StoreResult<()> {
        let (kind, workspace_id, status, doc) = super::policies::columns(policy)?;
        self.tracked(Row::Policy(String::from(policy.id())), |tx| {
            tx.exec_unique(
                "INSERT INTO policies(id, kind, workspace_id, status, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                args![policy.id(), kind, workspace_id, status, doc],
                || format!("policy `{}` already exists", policy.id()),
            )?;
            Ok(())
        })
    }

    fn save_policy(&mut self, policy: &Policy) -> StoreResult<()> {
        let (_, _, status, doc) = super::policies::columns(policy)?;
        self.tracked(Row::Policy(String::from(policy.id())), |tx| {
            let n = tx.exec(
                "UPDATE policies SET status = ?2, doc = ?3 WHERE id = ?1",
                args![policy.id(), status, doc],
            )?;
            expect_one(n, || format!("policy `{}` not found", policy.id()))
        })
    }

    fn commit(mut self: Box<Self>) -> StoreResult<()> {
        if let Some((context, changes)) = self.trail.take() {
            if let Some(record) = audit::record(&context, &changes, chrono::Utc::now()) {
                super::audit::append(&*self.conn, &record)?;
            }
        }
        if let Some((redis, changes)) = &self.shared {
            redis.set_usage(changes)?;
        }
        self.exec(
            "UPDATE meta SET value = ?2 WHERE key = ?1",
            args![
                crate::store::CATALOG_VERSION,
                uuid::Uuid::new_v4().simple().to_string()
            ],
        )?;
        let committed = self.conn.commit();
        if let (Err(_), Some((redis, changes))) = (&committed, &self.shared) {
            if !changes.is_empty() {
                // Redis has what the catalog does not: seed it again before admitting.
                redis.mark_stale();
            }
        }
        Ok(committed?)
    }
}
