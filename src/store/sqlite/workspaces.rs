use rusqlite::{params, Connection, OptionalExtension};

use super::{docs, from_doc, internal, page_of, to_doc, unique_or_internal, SqliteStore};
use crate::api::workspace::Workspace;
use crate::store::{Mutation, StoreError, StoreResult, WorkspaceDependents, WorkspaceQuery};

pub fn insert(tx: &Connection, ws: &Workspace) -> StoreResult<()> {
    {
        tx.execute(
            "INSERT INTO workspaces(id, slug, name, status, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                ws.id,
                ws.slug,
                ws.name,
                ws.status.as_deref().unwrap_or("active"),
                to_doc(ws)?
            ],
        )
        .map_err(|e| {
            unique_or_internal(e, || {
                format!("a workspace with slug `{}` already exists", ws.slug)
            })
        })?;
        Ok(())
    }
}

pub fn list(store: &SqliteStore, q: &WorkspaceQuery) -> StoreResult<(u64, Vec<Workspace>)> {
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
    let params: Vec<&dyn rusqlite::ToSql> =
        args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
    docs(page_of(
        &store.conn(),
        "workspaces",
        "doc",
        &filter,
        &params,
        &q.page,
        |r| r.get(0),
    )?)
}

pub fn get(conn: &Connection, id_or_slug: &str) -> StoreResult<Option<Workspace>> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT doc FROM workspaces WHERE id = ?1 OR slug = ?1",
            [id_or_slug],
            |r| r.get(0),
        )
        .optional()
        .map_err(internal)?;
    doc.map(|d| from_doc(&d)).transpose()
}

pub fn update(
    store: &SqliteStore,
    id_or_slug: &str,
    mutate: Mutation<'_, Workspace>,
) -> StoreResult<Workspace> {
    store.write(|tx| {
        let mut ws = get(tx, id_or_slug)?
            .ok_or_else(|| StoreError::NotFound(format!("workspace `{id_or_slug}` not found")))?;
        mutate(&mut ws)?;
        tx.execute(
            "UPDATE workspaces SET name = ?2, status = ?3, doc = ?4 WHERE id = ?1",
            params![
                ws.id,
                ws.name,
                ws.status.as_deref().unwrap_or("active"),
                to_doc(&ws)?
            ],
        )
        .map_err(internal)?;
        Ok(ws)
    })
}

pub fn dependents(conn: &Connection, id: &str) -> StoreResult<WorkspaceDependents> {
    let column = |sql: &str| -> StoreResult<Vec<String>> {
        let mut stmt = conn.prepare(sql).map_err(internal)?;
        let rows = stmt
            .query_map([id], |r| r.get::<_, String>(0))
            .map_err(internal)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        Ok(rows)
    };
    Ok(WorkspaceDependents {
        integrations: column(
            "SELECT slug FROM integrations WHERE workspace_id = ?1 ORDER BY rowid",
        )?,
        providers: column("SELECT slug FROM providers WHERE workspace_id = ?1 ORDER BY rowid")?,
        virtual_keys: column("SELECT slug FROM virtual_keys WHERE workspace_id = ?1 ORDER BY rowid")?,
        api_keys: column(
            "SELECT json_extract(doc, '$.name') FROM api_keys WHERE workspace_id = ?1 ORDER BY rowid",
        )?,
    })
}

pub fn delete(store: &SqliteStore, id: &str, cascade: bool) -> StoreResult<()> {
    store.write(|tx| {
        if !cascade {
            let deps = dependents(tx, id)?;
            if !deps.is_empty() {
                return Err(StoreError::Conflict(describe_dependents(&deps)));
            }
        }
        // Dependents go through ON DELETE CASCADE, in the same transaction.
        let n = tx
            .execute("DELETE FROM workspaces WHERE id = ?1", [id])
            .map_err(internal)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("workspace `{id}` not found")));
        }
        Ok(())
    })
}

fn describe_dependents(deps: &WorkspaceDependents) -> String {
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
