//! The audit log: an append-only table. A trigger refuses every `UPDATE`, and
//! every `DELETE` of a record not older than the retention cutoff that pruning records in
//! `meta` in the same transaction: no code path, and no mistaken SQL, rewrites history.

use chrono::{DateTime, Utc};

use super::{args, exec, internal, one, page_in_order, Sql, ToArg};
use crate::api::audit::AuditRecord;
use crate::domain::audit::{prune_record, timestamp};
use crate::store::{AuditQuery, StoreResult};

/// The meta row holding the cutoff below which pruning may delete records.
const PRUNE_BEFORE: &str = "audit_prune_before";

/// Appends `record` (its `id` is assigned here).
pub(super) fn append(conn: &dyn Sql, record: &AuditRecord) -> StoreResult<i64> {
    let workspaces = format!(",{},", record.workspaces().join(","));
    let objects = format!(",{},", record.objects().join(","));
    let doc = serde_json::to_string(record).map_err(internal)?;
    let id = one(
        conn,
        "INSERT INTO audit_log(created_at, actor_type, actor_id, actor_name, action,
            resource_type, resource_id, resource_slug, workspaces, objects, request_id, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
        args![
            record.created_at,
            record.actor.kind,
            record.actor.api_key_id,
            record.actor.name,
            record.action,
            record.resource_type,
            record.resource_id,
            record.resource_slug,
            workspaces,
            objects,
            record.request_id,
            doc
        ],
        |r| r.get(0),
    )?;
    id.ok_or_else(|| internal(anyhow::anyhow!("the audit record was not stored")))
}

fn from_row(id: i64, doc: &str) -> StoreResult<AuditRecord> {
    let mut record: AuditRecord = serde_json::from_str(doc).map_err(internal)?;
    record.id = id;
    Ok(record)
}

const FILTER: &str = "WHERE (?1 IS NULL OR created_at >= ?1)
    AND (?2 IS NULL OR created_at < ?2)
    AND (?3 IS NULL OR actor_id = ?3 OR actor_name = ?3 OR actor_type = ?3)
    AND (?4 IS NULL OR resource_type = ?4 OR instr(objects, ',' || ?4 || ':') > 0)
    AND (?5 IS NULL OR (?4 IS NULL AND (resource_id = ?5 OR resource_slug = ?5
            OR instr(objects, ':' || ?5 || ',') > 0))
        OR instr(objects, ',' || ?4 || ':' || ?5 || ',') > 0)
    AND (?6 IS NULL OR instr(workspaces, ',' || ?6 || ',') > 0)
    AND (?7 IS NULL OR action = ?7)";

/// Records matching `q`, newest first, and how many match.
pub(super) fn list(conn: &dyn Sql, q: &AuditQuery) -> StoreResult<(u64, Vec<AuditRecord>)> {
    let since = q.since.map(timestamp);
    let until = q.until.map(timestamp);
    let filters = [
        since.to_arg(),
        until.to_arg(),
        q.actor.to_arg(),
        q.resource_type.to_arg(),
        q.resource.to_arg(),
        q.workspace_id.to_arg(),
        q.action.to_arg(),
    ];
    let (total, found) = page_in_order(
        conn,
        "audit_log",
        "id, doc",
        FILTER,
        "id DESC",
        &filters,
        &q.page,
        |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?)),
    )?;
    let records = found
        .iter()
        .map(|(id, doc)| from_row(*id, doc))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok((total, records))
}

pub(super) fn get(conn: &dyn Sql, id: i64) -> StoreResult<Option<AuditRecord>> {
    one(
        conn,
        "SELECT doc FROM audit_log WHERE id = ?1",
        args![id],
        |r| r.get::<String>(0),
    )?
    .map(|doc| from_row(id, &doc))
    .transpose()
}

/// Deletes the records older than `cutoff` and, when there were any, records that.
pub(super) fn prune(conn: &dyn Sql, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64> {
    let cutoff_text = timestamp(cutoff);
    exec(
        conn,
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        args![PRUNE_BEFORE, cutoff_text],
    )?;
    let deleted = exec(
        conn,
        "DELETE FROM audit_log WHERE created_at < ?1",
        args![cutoff_text],
    )?;
    if deleted > 0 {
        append(conn, &prune_record(deleted, cutoff, now))?;
    }
    Ok(deleted)
}
