//! Policies: each row keeps the policy's API object, with its kind (`usage`,
//! `rate`), workspace and status beside it for lookups.

use super::{args, from_doc, one, page_of, rows, to_doc, DbResult, Row, Sql, ToArg};
use crate::domain::policies::Policy;
use crate::store::{PolicyQuery, StoreResult};

fn policy(kind: &str, doc: &str) -> StoreResult<Policy> {
    Ok(match kind {
        "rate" => Policy::Rate(from_doc(doc)?),
        _ => Policy::Usage(from_doc(doc)?),
    })
}

fn row(r: &Row) -> DbResult<(String, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

fn all(found: Vec<(String, String)>) -> StoreResult<Vec<Policy>> {
    found.iter().map(|(k, d)| policy(k, d)).collect()
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

pub(super) fn list(conn: &dyn Sql, q: &PolicyQuery) -> StoreResult<(u64, Vec<Policy>)> {
    let filters = [q.kind.to_arg(), q.workspace_id.to_arg(), q.status.to_arg()];
    let (total, found) = page_of(
        conn,
        "policies",
        "kind, doc",
        FILTER,
        &filters,
        &q.page,
        row,
    )?;
    Ok((total, all(found)?))
}

pub(super) fn get(conn: &dyn Sql, id: &str) -> StoreResult<Option<Policy>> {
    one(
        conn,
        "SELECT kind, doc FROM policies WHERE id = ?1",
        args![id],
        row,
    )?
    .map(|(k, d)| policy(&k, &d))
    .transpose()
}

pub(super) fn in_scope(conn: &dyn Sql, workspace_id: &str) -> StoreResult<Vec<Policy>> {
    all(rows(
        conn,
        "SELECT kind, doc FROM policies
         WHERE status = 'active' AND (workspace_id IS NULL OR workspace_id = ?1)
         ORDER BY rowid",
        args![workspace_id],
        row,
    )?)
}

pub(super) fn rate_usages(
    conn: &dyn Sql,
    prefix: &str,
    limit: &str,
    from_slot: i64,
) -> StoreResult<Vec<(String, i64)>> {
    // `prefix` sorts before every scope it starts, and `prefix || x'ff'`-like bounds are
    // avoided: scopes are text, so the range is [prefix, prefix + U+10FFFF).
    let upper = format!("{prefix}\u{10FFFF}");
    rows(
        conn,
        "SELECT scope, CAST(sum(amount) AS BIGINT) FROM rate_slots
         WHERE scope >= ?1 AND scope < ?2 AND limit_key = ?3 AND slot >= ?4
         GROUP BY scope ORDER BY scope",
        args![prefix, upper, limit, from_slot],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
