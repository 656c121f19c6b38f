//! Reads, shared by read snapshots and write transactions: both are a [`Db`].

use super::{args, docs, from_doc, one, page_of, rows, Arg, DbResult, Dialect, Row, Sql, ToArg};
use crate::api::api_key::ApiKey;
use crate::api::configs::{Config, ConfigVersion};
use crate::api::usage::UsageState;
use crate::api::workspace::Workspace;
use crate::store::redis::RedisCounters;
use crate::store::{
    AccessRecord, Alert, AlertOutbox, AlertQuery, ApiKeyQuery, ConfigQuery, CounterState,
    IntegrationQuery, IntegrationRecord, IntegrationScope, ModelRecord, ProviderRecord,
    SealedOwner, SealedValue, StoreRead, StoreResult, UsageScope, VirtualKeyRecord,
    WorkspaceDependents, WorkspaceQuery,
};

/// A connection in a transaction (a read snapshot or a write transaction).
/// A setting of the catalog's `meta` table.
pub(super) fn meta(conn: &dyn Sql, key: &str) -> StoreResult<Option<String>> {
    one(
        conn,
        "SELECT value FROM meta WHERE key = ?1",
        args![key],
        |r| r.get(0),
    )
}

pub(super) trait Db {
    fn db(&self) -> &dyn Sql;
    /// Admission counters shared in Redis: what requests in flight hold is there.
    fn shared(&self) -> Option<&RedisCounters> {
        None
    }
}

fn doc_of<T: serde::de::DeserializeOwned>(doc: Option<String>) -> StoreResult<Option<T>> {
    doc.map(|d| from_doc(&d)).transpose()
}

fn integration_row(r: &Row) -> DbResult<(String, Vec<u8>)> {
    Ok((r.get(0)?, r.get(1)?))
}

fn to_integration((doc, sealed_secrets): (String, Vec<u8>)) -> StoreResult<IntegrationRecord> {
    Ok(IntegrationRecord {
        public: from_doc(&doc)?,
        sealed_secrets,
    })
}

/// The budget counter's columns, read beside a record (`c` joined on its scope).
const USAGE_COLUMNS: &str = "CAST(c.used AS DOUBLE PRECISION) / c.scale, c.window_started_at, c.last_reset_at, c.scope IS NOT NULL, c.exhausted_window IS NOT DISTINCT FROM c.window_started_at";
const ACCESS_USAGE: &str = "LEFT JOIN counters c ON c.scope = 'access/' || a.integration_id || '/' || a.workspace_id AND c.limit_key = 'budget'";
const PROVIDER_USAGE: &str =
    "LEFT JOIN counters c ON c.scope = 'provider/' || p.id AND c.limit_key = 'budget'";
const VK_USAGE: &str =
    "LEFT JOIN counters c ON c.scope = 'virtual_key/' || v.id AND c.limit_key = 'budget'";

/// The counter columns starting at `at`, as a usage view.
fn usage_at(r: &Row, at: usize) -> DbResult<Option<UsageState>> {
    if !r.get::<bool>(at + 3)? {
        return Ok(None);
    }
    Ok(Some(UsageState {
        current_usage: r.get(at)?,
        window_started_at: r.get(at + 1)?,
        next_usage_reset_at: None,
        last_reset_at: r.get(at + 2)?,
        exhausted: r.get(at + 4)?,
    }))
}

fn doc_and_usage(r: &Row) -> DbResult<(String, Option<UsageState>)> {
    Ok((r.get(0)?, usage_at(r, 1)?))
}

fn to_access((doc, usage): (String, Option<UsageState>)) -> StoreResult<AccessRecord> {
    let mut access: AccessRecord = from_doc(&doc)?;
    access.usage = usage;
    Ok(access)
}

type ProviderRow = (String, String, bool, Option<UsageState>);

fn provider_row(r: &Row) -> DbResult<ProviderRow> {
    Ok((r.get(0)?, r.get(1)?, r.get::<i64>(2)? != 0, usage_at(r, 3)?))
}

fn to_provider(
    (doc, integration_uuid, revoked, usage): ProviderRow,
) -> StoreResult<ProviderRecord> {
    let mut public: crate::api::provider::Provider = from_doc(&doc)?;
    public.usage = usage;
    Ok(ProviderRecord {
        public,
        integration_uuid,
        revoked,
    })
}

type VkRow = (String, Vec<u8>, Option<UsageState>);

fn vk_row(r: &Row) -> DbResult<VkRow> {
    Ok((r.get(0)?, r.get(1)?, usage_at(r, 2)?))
}

fn to_vk((doc, sealed_secrets, usage): VkRow) -> StoreResult<VirtualKeyRecord> {
    let mut public: crate::api::virtual_key::VirtualKey = from_doc(&doc)?;
    public.usage = usage;
    Ok(VirtualKeyRecord {
        public,
        sealed_secrets,
    })
}

/// The fingerprint of the key that sealed a `secrets` column's value, in SQL: format 2
/// stores it (8 bytes) after the version byte; format 1 names none (NULL).
pub(super) fn sealed_by(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "CASE WHEN substr(secrets, 1, 1) = x'02' THEN lower(hex(substr(secrets, 2, 8))) END"
        }
        Dialect::Postgres => {
            "CASE WHEN get_byte(secrets, 0) = 2 THEN encode(substr(secrets, 2, 8), 'hex') END"
        }
    }
}

impl<T: Db> StoreRead for T {
    fn meta(&mut self, key: &str) -> StoreResult<Option<String>> {
        meta(self.db(), key)
    }

    fn sealed_counts(&mut self) -> StoreResult<Vec<(Option<String>, u64)>> {
        rows(
            self.db(),
            &format!(
                "SELECT {} AS k, count(*) FROM (
                    SELECT secrets FROM integrations
                    UNION ALL SELECT secrets FROM integration_models WHERE secrets IS NOT NULL
                    UNION ALL SELECT secrets FROM virtual_keys
                 ) s GROUP BY k ORDER BY k",
                sealed_by(self.db().dialect())
            ),
            args![],
            |r| Ok((r.get(0)?, u64::try_from(r.get::<i64>(1)?).unwrap_or(0))),
        )
    }

    fn sealed_not_under(
        &mut self,
        fingerprint: &str,
        limit: usize,
    ) -> StoreResult<Vec<SealedValue>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let not_under = format!("({}) IS DISTINCT FROM ?1", sealed_by(self.db().dialect()));
        let mut out = rows(
            self.db(),
            &format!(
                "SELECT id, secrets FROM integrations WHERE {not_under} ORDER BY rowid LIMIT ?2"
            ),
            args![fingerprint, limit],
            |r| {
                Ok(SealedValue {
                    owner: SealedOwner::Integration(r.get(0)?),
                    sealed: r.get(1)?,
                })
            },
        )?;
        let left = limit - i64::try_from(out.len()).unwrap_or(0);
        if left > 0 {
            out.extend(rows(
                self.db(),
                &format!(
                    "SELECT integration_id, slug, secrets FROM integration_models
                     WHERE secrets IS NOT NULL AND {not_under} ORDER BY rowid LIMIT ?2"
                ),
                args![fingerprint, left],
                |r| {
                    Ok(SealedValue {
                        owner: SealedOwner::ModelHeaders {
                            integration_id: r.get(0)?,
                            slug: r.get(1)?,
                        },
                        sealed: r.get(2)?,
                    })
                },
            )?);
        }
        let left = limit - i64::try_from(out.len()).unwrap_or(0);
        if left > 0 {
            out.extend(rows(
                self.db(),
                &format!(
                    "SELECT id, secrets FROM virtual_keys WHERE {not_under} ORDER BY rowid LIMIT ?2"
                ),
                args![fingerprint, left],
                |r| {
                    Ok(SealedValue {
                        owner: SealedOwner::VirtualKey(r.get(0)?),
                        sealed: r.get(1)?,
                    })
                },
            )?);
        }
        Ok(out)
    }

    fn workspaces(&mut self, q: &WorkspaceQuery) -> StoreResult<(u64, Vec<Workspace>)> {
        let mut clauses = Vec::new();
        let mut args: Vec<String> = Vec::new();
        if let Some(name) = &q.name {
            args.push(name.clone());
            clauses.push(format!("instr(name, ?{}) > 0", args.len()));
        }
        if let Some(exact) = &q.exact_name {
            args.push(exact.clone());
            clauses.push(format!("name = ?{}", args.len()));
        }
        if let Some(statuses) = &q.status {
            let mut marks = Vec::new();
            for s in statuses {
                args.push(s.clone());
                marks.push(format!("?{}", args.len()));
            }
            clauses.push(format!("status IN ({})", marks.join(", ")));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let params: Vec<Arg<'_>> = args.iter().map(|a| a.to_arg()).collect();
        docs(page_of(
            self.db(),
            "workspaces",
            "doc",
            &filter,
            &params,
            &q.page,
            |r| r.get(0),
        )?)
    }

    fn workspace(&mut self, id_or_slug: &str) -> StoreResult<Option<Workspace>> {
        doc_of(one(
            self.db(),
            "SELECT doc FROM workspaces WHERE id = ?1 OR slug = ?1",
            args![id_or_slug],
            |r| r.get(0),
        )?)
    }

    fn workspace_dependents(&mut self, id: &str) -> StoreResult<WorkspaceDependents> {
        let conn = self.db();
        let column = |sql: &str| -> StoreResult<Vec<String>> {
            rows(conn, sql, args![id], |r| r.get::<String>(0))
        };
        Ok(WorkspaceDependents {
            integrations: column(
                "SELECT slug FROM integrations WHERE workspace_id = ?1 ORDER BY rowid",
            )?,
            providers: column(
                "SELECT slug FROM providers WHERE workspace_id = ?1 ORDER BY rowid",
            )?,
            virtual_keys: column(
                "SELECT slug FROM virtual_keys WHERE workspace_id = ?1 ORDER BY rowid",
            )?,
            api_keys: column(
                "SELECT json_extract(doc, '$.name') FROM api_keys WHERE workspace_id = ?1 ORDER BY rowid",
            )?,
            configs: column("SELECT slug FROM configs WHERE workspace_id = ?1 ORDER BY rowid")?,
        })
    }

    fn integrations(&mut self, q: &IntegrationQuery) -> StoreResult<(u64, Vec<IntegrationRecord>)> {
        let scope = match q.scope {
            IntegrationScope::Organisation => "workspace_id IS NULL",
            IntegrationScope::Workspace => "workspace_id IS NOT NULL",
            IntegrationScope::All => "1 = 1",
        };
        let workspace = match &q.workspace_id {
            Some(_) => "(workspace_id IS NULL OR workspace_id = ?1)",
            None => "?1 IS NULL",
        };
        let (total, found) = page_of(
            self.db(),
            "integrations",
            "doc, secrets",
            &format!("WHERE {scope} AND {workspace}"),
            args![q.workspace_id],
            &q.page,
            integration_row,
        )?;
        let items = found
            .into_iter()
            .map(to_integration)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((total, items))
    }

    fn integration(&mut self, slug_or_id: &str) -> StoreResult<Option<IntegrationRecord>> {
        one(
            self.db(),
            "SELECT doc, secrets FROM integrations WHERE slug = ?1 OR id = ?1",
            args![slug_or_id],
            integration_row,
        )?
        .map(to_integration)
        .transpose()
    }

    fn all_integrations(&mut self) -> StoreResult<Vec<IntegrationRecord>> {
        rows(
            self.db(),
            "SELECT doc, secrets FROM integrations ORDER BY rowid",
            args![],
            integration_row,
        )?
        .into_iter()
        .map(to_integration)
        .collect()
    }

    fn access(
        &mut self,
        integration_id: &str,
        workspace_id: &str,
    ) -> StoreResult<Option<AccessRecord>> {
        one(
            self.db(),
            &format!(
                "SELECT a.doc, {USAGE_COLUMNS} FROM integration_workspaces a {ACCESS_USAGE}
                 WHERE a.integration_id = ?1 AND a.workspace_id = ?2"
            ),
            args![integration_id, workspace_id],
            doc_and_usage,
        )?
        .map(to_access)
        .transpose()
    }

    fn accesses(
        &mut self,
        integration_id: Option<&str>,
        workspace_id: Option<&str>,
    ) -> StoreResult<Vec<AccessRecord>> {
        rows(
            self.db(),
            &format!(
                "SELECT a.doc, {USAGE_COLUMNS} FROM integration_workspaces a {ACCESS_USAGE}
                 WHERE (?1 IS NULL OR a.integration_id = ?1) AND (?2 IS NULL OR a.workspace_id = ?2)
                 ORDER BY a.rowid"
            ),
            args![integration_id, workspace_id],
            doc_and_usage,
        )?
        .into_iter()
        .map(to_access)
        .collect()
    }

    fn provider(
        &mut self,
        workspace_id: &str,
        slug_or_id: &str,
    ) -> StoreResult<Option<ProviderRecord>> {
        one(
            self.db(),
            &format!(
                "SELECT p.doc, p.integration_id, p.revoked, {USAGE_COLUMNS} FROM providers p
                 {PROVIDER_USAGE} WHERE p.workspace_id = ?1 AND (p.slug = ?2 OR p.id = ?2)"
            ),
            args![workspace_id, slug_or_id],
            provider_row,
        )?
        .map(to_provider)
        .transpose()
    }

    fn providers(
        &mut self,
        workspace_id: Option<&str>,
        integration_id: Option<&str>,
    ) -> StoreResult<Vec<ProviderRecord>> {
        rows(
            self.db(),
            &format!(
                "SELECT p.doc, p.integration_id, p.revoked, {USAGE_COLUMNS} FROM providers p
                 {PROVIDER_USAGE}
                 WHERE (?1 IS NULL OR p.workspace_id = ?1) AND (?2 IS NULL OR p.integration_id = ?2)
                 ORDER BY p.rowid"
            ),
            args![workspace_id, integration_id],
            provider_row,
        )?
        .into_iter()
        .map(to_provider)
        .collect()
    }

    fn providers_page(
        &mut self,
        workspace_id: Option<&str>,
        page: &crate::store::Page,
    ) -> StoreResult<(u64, Vec<ProviderRecord>)> {
        let total: i64 = one(
            self.db(),
            "SELECT count(*) FROM providers WHERE ?1 IS NULL OR workspace_id = ?1",
            args![workspace_id],
            |r| r.get(0),
        )?
        .unwrap_or(0);
        let limit = i64::try_from(page.page_size).unwrap_or(i64::MAX);
        let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
        let records = rows(
            self.db(),
            &format!(
                "SELECT p.doc, p.integration_id, p.revoked, {USAGE_COLUMNS} FROM providers p
                 {PROVIDER_USAGE}
                 WHERE ?1 IS NULL OR p.workspace_id = ?1
                 ORDER BY p.rowid LIMIT ?2 OFFSET ?3"
            ),
            args![workspace_id, limit, offset],
            provider_row,
        )?
        .into_iter()
        .map(to_provider)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok((u64::try_from(total).unwrap_or(0), records))
    }

    fn models(&mut self, integration_id: &str) -> StoreResult<Vec<ModelRecord>> {
        rows(
            self.db(),
            "SELECT doc, secrets FROM integration_models WHERE integration_id = ?1 ORDER BY rowid",
            args![integration_id],
            |r| Ok((r.get::<String>(0)?, r.get::<Option<Vec<u8>>>(1)?)),
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

    fn virtual_key(
        &mut self,
        workspace_id: &str,
        slug_or_id: &str,
    ) -> StoreResult<Option<VirtualKeyRecord>> {
        one(
            self.db(),
            &format!(
                "SELECT v.doc, v.secrets, {USAGE_COLUMNS} FROM virtual_keys v {VK_USAGE}
                 WHERE v.workspace_id = ?1 AND (v.slug = ?2 OR v.id = ?2)"
            ),
            args![workspace_id, slug_or_id],
            vk_row,
        )?
        .map(to_vk)
        .transpose()
    }

    fn virtual_keys(&mut self, workspace_id: Option<&str>) -> StoreResult<Vec<VirtualKeyRecord>> {
        rows(
            self.db(),
            &format!(
                "SELECT v.doc, v.secrets, {USAGE_COLUMNS} FROM virtual_keys v {VK_USAGE}
                 WHERE (?1 IS NULL OR v.workspace_id = ?1) ORDER BY v.rowid"
            ),
            args![workspace_id],
            vk_row,
        )?
        .into_iter()
        .map(to_vk)
        .collect()
    }

    fn count_api_keys(&mut self) -> StoreResult<u64> {
        let n: i64 = one(self.db(), "SELECT COUNT(*) FROM api_keys", args![], |r| {
            r.get(0)
        })?
        .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn api_keys(&mut self, q: &ApiKeyQuery) -> StoreResult<(u64, Vec<ApiKey>)> {
        let mut params = vec![q.workspace_id.to_arg()];
        params.extend(q.types.iter().map(|t| t.to_arg()));
        let types = if q.types.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (2..=params.len()).map(|i| format!("?{i}")).collect();
            format!("AND json_extract(doc, '$.type') IN ({})", marks.join(", "))
        };
        docs(page_of(
            self.db(),
            "api_keys",
            "doc",
            &format!("WHERE (?1 IS NULL OR workspace_id = ?1) {types}"),
            &params,
            &q.page,
            |r| r.get(0),
        )?)
    }

    fn api_key(&mut self, id: &str) -> StoreResult<Option<ApiKey>> {
        doc_of(one(
            self.db(),
            "SELECT doc FROM api_keys WHERE id = ?1",
            args![id],
            |r| r.get(0),
        )?)
    }

    fn usage(&mut self, scope: &UsageScope, limit: &str) -> StoreResult<Option<UsageState>> {
        one(
            self.db(),
            "SELECT CAST(used AS DOUBLE PRECISION) / scale, window_started_at, last_reset_at, 1,
                    exhausted_window IS NOT DISTINCT FROM window_started_at
             FROM counters WHERE scope = ?1 AND limit_key = ?2",
            args![scope.key(), limit],
            |r| usage_at(r, 0),
        )
        .map(Option::flatten)
    }

    fn counters(&mut self, prefixes: &[String]) -> StoreResult<Vec<CounterState>> {
        // Each prefix is a range of the primary key: `[prefix, prefix + U+10FFFF)`.
        let all = [String::new()];
        let prefixes = if prefixes.is_empty() {
            &all[..]
        } else {
            prefixes
        };
        let mut out = Vec::new();
        for prefix in prefixes {
            let upper = format!("{prefix}\u{10FFFF}");
            out.extend(rows(
                self.db(),
                "SELECT scope, limit_key, scale, used, held, window_started_at, last_reset_at,
                        exhausted_window IS NOT DISTINCT FROM window_started_at
                 FROM counters WHERE scope >= ?1 AND scope < ?2 ORDER BY scope, limit_key",
                args![prefix, upper],
                |r| {
                    Ok(CounterState {
                        scope: r.get(0)?,
                        limit: r.get(1)?,
                        unit_scale: r.get(2)?,
                        used: r.get(3)?,
                        held: r.get(4)?,
                        window_started_at: r.get(5)?,
                        last_reset_at: r.get(6)?,
                        exhausted: r.get(7)?,
                    })
                },
            )?);
        }
        out.sort_by(|a, b| (&a.scope, &a.limit).cmp(&(&b.scope, &b.limit)));
        out.dedup_by(|a, b| a.scope == b.scope && a.limit == b.limit);
        if let Some(redis) = self.shared() {
            let names: Vec<String> = out
                .iter()
                .map(|c| super::shared::counter(&c.scope, &c.limit))
                .collect();
            for (c, held) in out.iter_mut().zip(redis.held(&names)?) {
                c.held = held;
            }
        }
        Ok(out)
    }

    fn rate_usage(&mut self, scope: &UsageScope, limit: &str, from_slot: i64) -> StoreResult<i64> {
        if let Some(redis) = self.shared() {
            return redis.rate_total(&super::shared::counter(&scope.key(), limit), from_slot);
        }
        Ok(one(
            self.db(),
            "SELECT CAST(COALESCE(sum(amount), 0) AS BIGINT) FROM rate_slots
             WHERE scope = ?1 AND limit_key = ?2 AND slot >= ?3",
            args![scope.key(), limit, from_slot],
            |r| r.get(0),
        )?
        .unwrap_or(0))
    }

    fn alerts(&mut self, query: &AlertQuery) -> StoreResult<(u64, Vec<Alert>)> {
        super::alerts::list(self.db(), query)
    }

    fn alert_outbox(&mut self, webhooks: &[String]) -> StoreResult<AlertOutbox> {
        super::alerts::outbox(self.db(), webhooks)
    }

    fn policies(
        &mut self,
        query: &crate::store::PolicyQuery,
    ) -> StoreResult<(u64, Vec<crate::domain::policies::Policy>)> {
        super::policies::list(self.db(), query)
    }

    fn policy(&mut self, id: &str) -> StoreResult<Option<crate::domain::policies::Policy>> {
        super::policies::get(self.db(), id)
    }

    fn policies_in_scope(
        &mut self,
        workspace_id: &str,
    ) -> StoreResult<Vec<crate::domain::policies::Policy>> {
        super::policies::in_scope(self.db(), workspace_id)
    }

    fn rate_usages(
        &mut self,
        prefix: &str,
        limit: &str,
        from_slot: i64,
    ) -> StoreResult<Vec<(String, i64)>> {
        super::policies::rate_usages(self.db(), prefix, limit, from_slot)
    }

    fn audit_records(
        &mut self,
        query: &crate::store::AuditQuery,
    ) -> StoreResult<(u64, Vec<crate::api::audit::AuditRecord>)> {
        super::audit::list(self.db(), query)
    }

    fn audit_record(&mut self, id: i64) -> StoreResult<Option<crate::api::audit::AuditRecord>> {
        super::audit::get(self.db(), id)
    }

    fn configs(&mut self, q: &ConfigQuery) -> StoreResult<(u64, Vec<Config>)> {
        docs(page_of(
            self.db(),
            "configs",
            "doc",
            "WHERE (?1 IS NULL OR workspace_id = ?1)",
            args![q.workspace_id],
            &q.page,
            |r| r.get(0),
        )?)
    }

    fn config(&mut self, slug_or_id: &str) -> StoreResult<Option<Config>> {
        doc_of(one(
            self.db(),
            "SELECT doc FROM configs WHERE slug = ?1 OR id = ?1",
            args![slug_or_id],
            |r| r.get(0),
        )?)
    }

    fn config_versions(&mut self, config_id: &str) -> StoreResult<Vec<ConfigVersion>> {
        rows(
            self.db(),
            "SELECT doc FROM config_versions WHERE config_id = ?1 ORDER BY rowid DESC",
            args![config_id],
            |r| r.get::<String>(0),
        )?
        .iter()
        .map(|d| from_doc(d))
        .collect()
    }

    fn api_key_by_hash(&mut self, hash: &str) -> StoreResult<Option<ApiKey>> {
        doc_of(one(
            self.db(),
            "SELECT doc FROM api_keys WHERE key_hash = ?1",
            args![hash],
            |r| r.get(0),
        )?)
    }
}
