//! Policies on SQLite: each row keeps the policy's API object, with its kind (`usage`,
//! `rate`), workspace and status beside it for lookups.

use rusqlite::{params, Connection, OptionalExtension, ToSql};

use super::{from_doc, internal, to_doc};
use crate::domain::policies::Policy;
use crate::store::{PolicyQuery, StoreResult};

fn policy(kind: &str, doc: &str) -> StoreResult<Policy> {
    Ok(match kind {
        "rate" => Policy::Rate(from_doc(doc)?),
        _ => Policy::Usage(from_doc(doc)?),
    })
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

fn all(rows: Vec<(String, String)>) -> StoreResult<Vec<Policy>> {
    rows.iter().map(|(k, d)| policy(k, d)).collect()
}

/// The document and columns of a policy, as written.
pub(super) fn columns(p: &Policy) -> StoreResult<(String, Option<String>, String, String)> {
    let doc = match p {
        Policy::Usage(u) => to_doc(u)?,
        Policy::Rate(r) => to_doc(r)?,
    };
    Ok((
        p.kind().to_owned(),
        p.workspace_id().map(str::to_owned),
        p.status().to_owned(),
        doc,
    ))
}

const FILTER: &str = "WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR workspace_id = ?2)
    AND (?3 IS NULL OR status = ?3)";

pub(super) fn list(conn: &Connection, q: &PolicyQuery) -> StoreResult<(u64, Vec<Policy>)> {
    let filters: [&dyn ToSql; 3] = [&q.kind, &q.workspace_id, &q.status];
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM policies {FILTER}"))
        .map_err(internal)?
        .query_row(&filters[..], |r| r.get(0))
        .map_err(internal)?;
    let limit = i64::try_from(q.page.page_size).unwrap_or(i64::MAX);
    let offset = i64::try_from(q.page.offset()).unwrap_or(i64::MAX);
    let mut args = filters.to_vec();
    args.extend([&limit as &dyn ToSql, &offset]);
    let rows = conn
        .prepare_cached(&format!(
            "SELECT kind, doc FROM policies {FILTER} ORDER BY rowid LIMIT ?4 OFFSET ?5"
        ))
        .map_err(internal)?
        .query_map(&args[..], row)
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    Ok((u64::try_from(total).unwrap_or(0), all(rows)?))
}

pub(super) fn get(conn: &Connection, id: &str) -> StoreResult<Option<Policy>> {
    conn.prepare_cached("SELECT kind, doc FROM policies WHERE id = ?1")
        .map_err(internal)?
        .query_row([id], row)
        .optional()
        .map_err(internal)?
        .map(|(k, d)| policy(&k, &d))
        .transpose()
}

pub(super) fn in_scope(conn: &Connection, workspace_id: &str) -> StoreResult<Vec<Policy>> {
    let rows = conn
        .prepare_cached(
            "SELECT kind, doc FROM policies
             WHERE status = 'active' AND (workspace_id IS NULL OR workspace_id = ?1)
             ORDER BY rowid",
        )
        .map_err(internal)?
        .query_map([workspace_id], row)
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    all(rows)
}

pub(super) fn rate_usages(
    conn: &Connection,
    prefix: &str,
    limit: &str,
    from_slot: i64,
) -> StoreResult<Vec<(String, i64)>> {
    // `prefix` sorts before every scope it starts, and `prefix || x'ff'`-like bounds are
    // avoided: scopes are text, so the range is [prefix, prefix + U+10FFFF).
    let upper = format!("{prefix}\u{10FFFF}");
    conn.prepare_cached(
        "SELECT scope, sum(amount) FROM rate_slots
         WHERE scope >= ?1 AND scope < ?2 AND limit_key = ?3 AND slot >= ?4
         GROUP BY scope ORDER BY scope",
    )
    .map_err(internal)?
    .query_map(params![prefix, upper, limit, from_slot], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .map_err(internal)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(internal)
}
