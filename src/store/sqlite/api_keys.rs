use rusqlite::{params, Connection, OptionalExtension};

use super::{docs, from_doc, internal, page_of, to_doc, unique_or_internal, SqliteStore};
use crate::api::api_key::ApiKey;
use crate::store::{ApiKeyQuery, ApiKeyRecord, Mutation, StoreError, StoreResult};

pub fn count(conn: &Connection) -> StoreResult<u64> {
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get(0))
        .map_err(internal)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub fn create(store: &SqliteStore, record: &ApiKeyRecord) -> StoreResult<()> {
    let public = &record.public;
    store.write(|tx| {
        tx.execute(
            "INSERT INTO api_keys(id, key_hash, workspace_id, doc) VALUES (?1, ?2, ?3, ?4)",
            params![
                public.id,
                record.key_hash,
                public.workspace_id,
                to_doc(public)?
            ],
        )
        .map_err(|e| unique_or_internal(e, || "this API key already exists".to_owned()))?;
        Ok(())
    })
}

pub fn list(store: &SqliteStore, q: &ApiKeyQuery) -> StoreResult<(u64, Vec<ApiKey>)> {
    let types = serde_json::to_string(&q.types).map_err(internal)?;
    docs(page_of(
        &store.conn(),
        "api_keys",
        "doc",
        "WHERE (?1 IS NULL OR workspace_id = ?1)
           AND (?2 = '[]' OR json_extract(doc, '$.type') IN (SELECT value FROM json_each(?2)))",
        &[&q.workspace_id, &types],
        &q.page,
        |r| r.get(0),
    )?)
}

pub fn get(conn: &Connection, id: &str) -> StoreResult<Option<ApiKey>> {
    one(conn, "SELECT doc FROM api_keys WHERE id = ?1", id)
}

pub fn find_by_hash(conn: &Connection, hash: &str) -> StoreResult<Option<ApiKey>> {
    one(conn, "SELECT doc FROM api_keys WHERE key_hash = ?1", hash)
}

fn one(conn: &Connection, sql: &str, arg: &str) -> StoreResult<Option<ApiKey>> {
    let doc: Option<String> = conn
        .query_row(sql, [arg], |r| r.get(0))
        .optional()
        .map_err(internal)?;
    doc.map(|d| from_doc(&d)).transpose()
}

pub fn update(store: &SqliteStore, id: &str, mutate: Mutation<'_, ApiKey>) -> StoreResult<ApiKey> {
    store.write(|tx| {
        let mut key = get(tx, id)?.ok_or_else(|| not_found(id))?;
        mutate(&mut key)?;
        tx.execute(
            "UPDATE api_keys SET doc = ?2 WHERE id = ?1",
            params![key.id, to_doc(&key)?],
        )
        .map_err(internal)?;
        Ok(key)
    })
}

pub fn delete(store: &SqliteStore, id: &str) -> StoreResult<()> {
    store.write(|tx| {
        let n = tx
            .execute("DELETE FROM api_keys WHERE id = ?1", [id])
            .map_err(internal)?;
        if n == 0 {
            return Err(not_found(id));
        }
        Ok(())
    })
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("API key `{id}` not found"))
}
