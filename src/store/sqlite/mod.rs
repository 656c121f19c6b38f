//! SQLite implementation of [`Store`]: WAL mode, foreign keys on, `synchronous=FULL` so
//! that every acknowledged write is on disk, and a busy timeout so that an embedded CLI
//! and a running `catalog serve` can write to the same file.
//!
//! Each row keeps the API object as a JSON document beside the columns used for lookups
//! and constraints; sealed secrets live in a BLOB column of their own.

mod api_keys;
mod integrations;
mod schema;
mod tx;
mod workspaces;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{StoreError, StoreResult};

pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    organisation_id: String,
}

impl SqliteStore {
    /// Opens the catalog database at `path`, creating it when no file is there, and brings
    /// its schema up to date.
    ///
    /// A new database is prepared under a temporary name and linked into place only once it
    /// is a complete catalog, so a file at `path` is always a catalog: a process racing to
    /// create the same catalog opens the winner's. A file that exists but is empty or not a
    /// catalog is refused, never initialised.
    pub fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))?;
        }
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_new(path)?,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot open the catalog database {}", path.display())
                })
            }
            Ok(m) if m.is_dir() => anyhow::bail!(
                "{} is a directory, not a catalog database; point `--db` at a file",
                path.display()
            ),
            Ok(m) if m.len() == 0 => anyhow::bail!(
                "{} is an empty file, not a catalog database; remove it to start a new catalog there, or point `--db` at the catalog's file",
                path.display()
            ),
            Ok(_) => {}
        }
        let mut conn = connect(path)?;
        if !is_catalog(&conn) {
            anyhow::bail!(
                "{} is not a catalog database; point `--db` at the catalog's file",
                path.display()
            );
        }
        schema::migrate(&mut conn)
            .with_context(|| format!("cannot prepare the catalog database {}", path.display()))?;
        let organisation_id = schema::organisation_id(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            organisation_id,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in an IMMEDIATE transaction (the write lock is taken up front, so two
    /// processes never deadlock upgrading a read lock) and commits it.
    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(internal)?;
        let out = f(&tx)?;
        tx.commit().map_err(internal)?;
        Ok(out)
    }

    fn meta_get(&self, key: &str) -> StoreResult<Option<String>> {
        self.conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(internal)
    }

    fn meta_set(&self, key: &str, value: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map_err(internal)?;
            Ok(())
        })
    }
}

/// Opens a connection with the catalog's settings.
fn connect(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open the catalog database {}", path.display()))?;
    restrict_permissions(path);
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| not_a_catalog(path, e))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn not_a_catalog(path: &Path, e: rusqlite::Error) -> anyhow::Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => anyhow::anyhow!(
            "{} is not a catalog database (not even SQLite); point `--db` at the catalog's file",
            path.display()
        ),
        _ => anyhow::Error::new(e).context(format!(
            "cannot open the catalog database {}",
            path.display()
        )),
    }
}

/// Whether an opened database is a catalog: every catalog records its organisation.
fn is_catalog(conn: &Connection) -> bool {
    conn.query_row(
        "SELECT 1 FROM meta WHERE key = 'organisation_id'",
        [],
        |_| Ok(()),
    )
    .is_ok()
}

/// Creates a complete new catalog at `path`, unless another process got there first.
fn create_new(path: &Path) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "catalog.db".to_owned());
    let staging = path.with_file_name(format!(".{name}.{}.new", uuid::Uuid::new_v4().simple()));
    let prepared = (|| {
        let mut conn = connect(&staging)?;
        schema::migrate(&mut conn)?;
        schema::organisation_id(&mut conn)?;
        conn.close().map_err(|(_, e)| e)?;
        std::fs::File::open(&staging)?.sync_all()?;
        anyhow::Ok(())
    })()
    .with_context(|| format!("cannot create the catalog database {}", path.display()));
    let linked = prepared.and_then(|()| match std::fs::hard_link(&staging, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => {
            Err(e).with_context(|| format!("cannot create the catalog database {}", path.display()))
        }
    });
    for suffix in ["", "-wal", "-shm"] {
        let mut p = staging.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    linked?;
    crate::files::sync_parent(path)?;
    Ok(())
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

pub(crate) fn internal(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Internal(e.into())
}

/// Maps a UNIQUE violation to a conflict with `message`, anything else to an internal error.
pub(crate) fn unique_or_internal(
    e: rusqlite::Error,
    message: impl FnOnce() -> String,
) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict(message())
        }
        _ => internal(e),
    }
}

pub(crate) fn to_doc<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(internal)
}

pub(crate) fn from_doc<T: DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(internal)
}

/// Counts the rows of `table` that match `filter` (a `WHERE` clause or empty) and reads
/// one page of `columns` from them, in insertion order.
pub(crate) fn page_of<T>(
    conn: &rusqlite::Connection,
    table: &str,
    columns: &str,
    filter: &str,
    params: &[&dyn rusqlite::ToSql],
    page: &super::Page,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<(u64, Vec<T>)> {
    let total: i64 = conn
        .query_row(
            &format!("SELECT COUNT(*) FROM {table} {filter}"),
            params,
            |r| r.get(0),
        )
        .map_err(internal)?;
    let limit = i64::try_from(page.page_size).unwrap_or(i64::MAX);
    let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {columns} FROM {table} {filter} ORDER BY rowid LIMIT {limit} OFFSET {offset}"
        ))
        .map_err(internal)?;
    let rows = stmt
        .query_map(params, row)
        .map_err(internal)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    Ok((u64::try_from(total).unwrap_or(0), rows))
}

/// Decodes a page of JSON documents.
pub(crate) fn docs<T: DeserializeOwned>(
    (total, docs): (u64, Vec<String>),
) -> StoreResult<(u64, Vec<T>)> {
    let items = docs
        .iter()
        .map(|d| from_doc(d))
        .collect::<StoreResult<Vec<T>>>()?;
    Ok((total, items))
}

impl super::Store for SqliteStore {
    fn organisation_id(&self) -> &str {
        &self.organisation_id
    }

    fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.meta_get(key)
    }

    fn transaction(&self, f: &mut super::TxFn<'_, ()>) -> StoreResult<()> {
        self.write(|tx| f(&mut tx::SqliteTx(tx)))
    }

    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.meta_set(key, value)
    }

    fn list_workspaces(
        &self,
        query: &super::WorkspaceQuery,
    ) -> StoreResult<(u64, Vec<crate::api::workspace::Workspace>)> {
        workspaces::list(self, query)
    }

    fn get_workspace(
        &self,
        id_or_slug: &str,
    ) -> StoreResult<Option<crate::api::workspace::Workspace>> {
        workspaces::get(&self.conn(), id_or_slug)
    }

    fn update_workspace(
        &self,
        id_or_slug: &str,
        mutate: super::Mutation<'_, crate::api::workspace::Workspace>,
    ) -> StoreResult<crate::api::workspace::Workspace> {
        workspaces::update(self, id_or_slug, mutate)
    }

    fn workspace_dependents(&self, id: &str) -> StoreResult<super::WorkspaceDependents> {
        workspaces::dependents(&self.conn(), id)
    }

    fn delete_workspace(&self, id: &str, cascade: bool) -> StoreResult<()> {
        workspaces::delete(self, id, cascade)
    }

    fn create_integration(&self, record: &super::IntegrationRecord) -> StoreResult<()> {
        integrations::create(self, record)
    }

    fn list_integrations(
        &self,
        query: &super::IntegrationQuery,
    ) -> StoreResult<(u64, Vec<super::IntegrationRecord>)> {
        integrations::list(self, query)
    }

    fn get_integration(&self, slug_or_id: &str) -> StoreResult<Option<super::IntegrationRecord>> {
        integrations::get(&self.conn(), slug_or_id)
    }

    fn update_integration(
        &self,
        slug_or_id: &str,
        mutate: super::Mutation<'_, super::IntegrationRecord>,
    ) -> StoreResult<super::IntegrationRecord> {
        integrations::update(self, slug_or_id, mutate)
    }

    fn delete_integration(&self, slug_or_id: &str) -> StoreResult<()> {
        integrations::delete(self, slug_or_id)
    }

    fn count_api_keys(&self) -> StoreResult<u64> {
        api_keys::count(&self.conn())
    }

    fn create_api_key(&self, record: &super::ApiKeyRecord) -> StoreResult<()> {
        api_keys::create(self, record)
    }

    fn list_api_keys(
        &self,
        query: &super::ApiKeyQuery,
    ) -> StoreResult<(u64, Vec<crate::api::api_key::ApiKey>)> {
        api_keys::list(self, query)
    }

    fn get_api_key(&self, id: &str) -> StoreResult<Option<crate::api::api_key::ApiKey>> {
        api_keys::get(&self.conn(), id)
    }

    fn find_api_key_by_hash(&self, hash: &str) -> StoreResult<Option<crate::api::api_key::ApiKey>> {
        api_keys::find_by_hash(&self.conn(), hash)
    }

    fn update_api_key(
        &self,
        id: &str,
        mutate: super::Mutation<'_, crate::api::api_key::ApiKey>,
    ) -> StoreResult<crate::api::api_key::ApiKey> {
        api_keys::update(self, id, mutate)
    }

    fn delete_api_key(&self, id: &str) -> StoreResult<()> {
        api_keys::delete(self, id)
    }
}
