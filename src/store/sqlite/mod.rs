//! SQLite implementation of [`Store`]: WAL mode, foreign keys on, `synchronous=FULL` so
//! that every acknowledged write is on disk, and a busy timeout so that an embedded CLI
//! and a running `catalog serve` can write to the same file.
//!
//! Each row keeps the API object as a JSON document beside the columns used for lookups
//! and constraints; sealed secrets live in a BLOB column of their own.
//!
//! One writer connection serialises this process's write transactions (SQLite's own lock
//! serialises processes); reads run on a small pool of reader connections, each in its
//! own snapshot, so that in WAL mode a read never waits for a writer.

mod alerts;
mod audit;
mod ledger;
mod policies;
mod read;
mod schema;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use rusqlite::Connection;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{StoreError, StoreRead, StoreResult, StoreTx};
use read::Db;
pub use write::SqliteTx;

/// Idle reader connections kept open for reuse.
const IDLE_READERS: usize = 8;

pub struct SqliteStore {
    writer: Mutex<Connection>,
    /// The admission ledger's own connection (see [`ledger`]).
    ledger: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
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
        // Looked at before anything is changed: a file that is not a catalog stays as it was.
        let probe = Connection::open(path)
            .with_context(|| format!("cannot open the catalog database {}", path.display()))?;
        probe.busy_timeout(Duration::from_secs(10))?;
        match probe.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Err(e) => return Err(not_a_catalog(path, e)),
            Ok(_) if !is_catalog(&probe) => anyhow::bail!(
                "{} is not a catalog database; point `--db` at the catalog's file",
                path.display()
            ),
            Ok(_) => {}
        }
        drop(probe);
        let mut conn = connect(path)?;
        schema::migrate(&mut conn)
            .with_context(|| format!("cannot prepare the catalog database {}", path.display()))?;
        let organisation_id = schema::organisation_id(&mut conn)?;
        let ledger = connect(path)?;
        ledger.pragma_update(None, "synchronous", "NORMAL")?;
        // Every statement of a hold and a settlement stays prepared.
        ledger.set_prepared_statement_cache_capacity(64);
        Ok(SqliteStore {
            writer: Mutex::new(conn),
            ledger: Mutex::new(ledger),
            readers: Mutex::new(Vec::new()),
            path: path.to_path_buf(),
            organisation_id,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reader(&self) -> StoreResult<Reader<'_>> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => connect(&self.path).map_err(StoreError::Internal)?,
        };
        // A deferred transaction: one consistent snapshot for every read through it.
        conn.execute_batch("BEGIN DEFERRED").map_err(internal)?;
        Ok(Reader {
            conn: Some(conn),
            store: self,
        })
    }
}

/// A read snapshot on a pooled reader connection.
struct Reader<'a> {
    conn: Option<Connection>,
    store: &'a SqliteStore,
}

impl Db for Reader<'_> {
    fn db(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a reader holds its connection until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if conn.execute_batch("ROLLBACK").is_ok() {
                let mut idle = self.store.readers.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < IDLE_READERS {
                    idle.push(conn);
                }
            }
        }
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
    // Pages are read through a shared memory map rather than copied in by `pread`: the
    // operating system's page cache serves every connection of every process.
    conn.pragma_update(None, "mmap_size", 256i64 * 1024 * 1024)?;
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

/// A database error as a store error: a foreign-key violation means that something the
/// write refers to (a workspace, an integration) was deleted meanwhile.
pub(crate) fn internal(e: impl Into<anyhow::Error>) -> StoreError {
    let e = e.into();
    if let Some(rusqlite::Error::SqliteFailure(f, _)) = e.downcast_ref::<rusqlite::Error>() {
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY {
            return StoreError::NotFound(
                "a workspace or integration this request refers to was deleted meanwhile".into(),
            );
        }
    }
    StoreError::Internal(e)
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

    fn read(&self) -> StoreResult<Box<dyn StoreRead + '_>> {
        Ok(Box::new(self.reader()?))
    }

    fn begin(&self) -> StoreResult<Box<dyn StoreTx + '_>> {
        let conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(Box::new(SqliteTx::begin(conn)?))
    }

    fn admit(
        &self,
        hold: &str,
        entries: &[super::HoldEntry],
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<super::Admission> {
        let tx = self.ledger_begin()?;
        let admission = ledger::admit(&tx, super::owner::this_process(), hold, entries, now)?;
        tx.commit()?;
        Ok(admission)
    }

    fn probe(
        &self,
        entries: &[super::HoldEntry],
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<super::Admission> {
        // The very admission a request would get, in a transaction that is never
        // committed: dropping it rolls back the windows it rolled, the amounts it took,
        // the hold it recorded and any exhaustion it marked.
        let tx = self.ledger_begin()?;
        let probe = format!("probe-{}", uuid::Uuid::new_v4());
        ledger::admit(&tx, super::owner::this_process(), &probe, entries, now)
    }

    fn settle(
        &self,
        hold: &str,
        actual: &[i64],
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        let tx = self.ledger_begin()?;
        ledger::settle(&tx, hold, actual, now)?;
        tx.commit()
    }

    fn recover_holds(&self, alive: &dyn Fn(&str) -> bool) -> StoreResult<u64> {
        let tx = self.ledger_begin()?;
        let n = ledger::recover(&tx, alive, chrono::Utc::now())?;
        tx.commit()?;
        Ok(n)
    }

    fn prune_audit(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<u64> {
        self.ledger_tx(|conn| audit::prune(conn, cutoff, now))
    }

    fn configure_alert_webhooks(
        &self,
        webhooks: &[super::AlertWebhook],
        alive: &dyn Fn(&str) -> bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<u64> {
        self.ledger_tx(|conn| alerts::configure(conn, webhooks, alive, now))
    }

    fn take_new_alerts(
        &self,
        webhooks: &[String],
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Vec<super::AlertEvent>> {
        self.ledger_tx(|conn| alerts::take_new(conn, webhooks, now))
    }

    fn claim_alert_deliveries(
        &self,
        webhooks: &[String],
        now: chrono::DateTime<chrono::Utc>,
        lease: Duration,
        limit: usize,
    ) -> StoreResult<Vec<super::DueDelivery>> {
        self.ledger_tx(|conn| {
            alerts::claim(
                conn,
                super::owner::this_process(),
                webhooks,
                now,
                lease,
                limit,
            )
        })
    }

    fn record_alert_delivery(
        &self,
        alert_id: i64,
        webhook: &str,
        attempt: &super::DeliveryAttempt,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<i64> {
        self.ledger_tx(|conn| alerts::record(conn, alert_id, webhook, attempt, now))
    }
}

impl SqliteStore {
    /// A `BEGIN IMMEDIATE` transaction on the ledger's connection: all of it lands on
    /// [`LedgerTx::commit`], none of it if it is dropped first (an error, or a probe).
    /// Runs `f` in one ledger transaction: all of it lands, or (on an error) none.
    fn ledger_tx<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let tx = self.ledger_begin()?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    fn ledger_begin(&self) -> StoreResult<LedgerTx<'_>> {
        let conn = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute_batch("BEGIN IMMEDIATE").map_err(internal)?;
        Ok(LedgerTx { conn, open: true })
    }
}

/// A write transaction of the admission ledger, rolled back on drop unless committed.
struct LedgerTx<'a> {
    conn: std::sync::MutexGuard<'a, Connection>,
    open: bool,
}

impl LedgerTx<'_> {
    fn commit(mut self) -> StoreResult<()> {
        self.open = false;
        self.conn.execute_batch("COMMIT").map_err(|e| {
            let _ = self.conn.execute_batch("ROLLBACK");
            internal(e)
        })
    }
}

impl std::ops::Deref for LedgerTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Drop for LedgerTx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
