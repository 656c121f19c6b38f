use rusqlite::{params, Connection, OptionalExtension};

use super::{from_doc, internal, page_of, to_doc, unique_or_internal, SqliteStore};
use crate::store::{
    IntegrationQuery, IntegrationRecord, IntegrationScope, Mutation, StoreError, StoreResult,
};

pub fn create(store: &SqliteStore, record: &IntegrationRecord) -> StoreResult<()> {
    store.write(|tx| insert(tx, record))
}

pub fn insert(tx: &Connection, record: &IntegrationRecord) -> StoreResult<()> {
    let public = &record.public;
    {
        tx.execute(
            "INSERT INTO integrations(id, slug, workspace_id, doc, secrets) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                public.id,
                public.slug,
                public.workspace_id,
                to_doc(public)?,
                record.sealed_secrets
            ],
        )
        .map_err(|e| {
            unique_or_internal(e, || {
                format!("an integration with slug `{}` already exists", public.slug)
            })
        })?;
        Ok(())
    }
}

pub fn list(
    store: &SqliteStore,
    q: &IntegrationQuery,
) -> StoreResult<(u64, Vec<IntegrationRecord>)> {
    let scope = match q.scope {
        IntegrationScope::Organisation => "workspace_id IS NULL",
        IntegrationScope::Workspace => "workspace_id IS NOT NULL",
        IntegrationScope::All => "1 = 1",
    };
    let workspace = match &q.workspace_id {
        Some(_) => "(workspace_id IS NULL OR workspace_id = ?1)",
        None => "?1 IS NULL",
    };
    let (total, rows) = page_of(
        &store.conn(),
        "integrations",
        "doc, secrets",
        &format!("WHERE {scope} AND {workspace}"),
        &[&q.workspace_id],
        &q.page,
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)),
    )?;
    let items = rows
        .into_iter()
        .map(|(doc, sealed_secrets)| {
            Ok(IntegrationRecord {
                public: from_doc(&doc)?,
                sealed_secrets,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok((total, items))
}

pub fn get(conn: &Connection, slug_or_id: &str) -> StoreResult<Option<IntegrationRecord>> {
    let row: Option<(String, Vec<u8>)> = conn
        .query_row(
            "SELECT doc, secrets FROM integrations WHERE slug = ?1 OR id = ?1",
            [slug_or_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(internal)?;
    row.map(|(doc, sealed_secrets)| {
        Ok(IntegrationRecord {
            public: from_doc(&doc)?,
            sealed_secrets,
        })
    })
    .transpose()
}

pub fn update(
    store: &SqliteStore,
    slug_or_id: &str,
    mutate: Mutation<'_, IntegrationRecord>,
) -> StoreResult<IntegrationRecord> {
    store.write(|tx| {
        let mut record = get(tx, slug_or_id)?.ok_or_else(|| not_found(slug_or_id))?;
        mutate(&mut record)?;
        tx.execute(
            "UPDATE integrations SET doc = ?2, secrets = ?3 WHERE id = ?1",
            params![
                record.public.id,
                to_doc(&record.public)?,
                record.sealed_secrets
            ],
        )
        .map_err(internal)?;
        Ok(record)
    })
}

pub fn delete(store: &SqliteStore, slug_or_id: &str) -> StoreResult<()> {
    store.write(|tx| {
        let n = tx
            .execute(
                "DELETE FROM integrations WHERE slug = ?1 OR id = ?1",
                [slug_or_id],
            )
            .map_err(internal)?;
        if n == 0 {
            return Err(not_found(slug_or_id));
        }
        Ok(())
    })
}

fn not_found(slug: &str) -> StoreError {
    StoreError::NotFound(format!("integration `{slug}` not found"))
}
