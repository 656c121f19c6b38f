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

mod data_version;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension};

use super::sql::{
    Arg, DbError, DbResult, Dialect, Pool, Row, Sql, SqlStore, TxConn, TxKind, Value,
};
use super::{StoreError, StoreResult};
use data_version::DataVersion;

/// How long a connection waits for another process's write before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle reader connections kept open for reuse.
const IDLE_READERS: usize = 8;

/// The SQLite engine's connections.
pub struct SqliteStore {
    writer: Mutex<Connection>,
    /// The admission ledger's own connection: holds and settlements never queue behind an
    /// admin write in this process (SQLite's lock still makes them atomic against it).
    ledger: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Reads the catalog's version, on every gateway request: see [`Version`].
    version: Mutex<Version>,
    /// The ledger connection's `data_version`, asked at every step of the admission
    /// journal; locked after `ledger`.
    ledger_data_version: Mutex<DataVersion>,
    path: PathBuf,
}

/// A connection that only reads the catalog's version, and the version it read last.
/// SQLite's `data_version` changes whenever another connection (of any process) has
/// committed, and this one never writes: while it is unchanged, so is the version, and
/// asking costs no statement on the catalog's tables (see [`DataVersion`]).
struct Version {
    conn: Connection,
    data_version: DataVersion,
    seen: Option<(i64, String)>,
}

impl Version {
    fn read(&mut self) -> StoreResult<String> {
        let data_version = self.data_version.get(&self.conn).map_err(db_error)?;
        if let Some((seen, version)) = &self.seen {
            if *seen == data_version {
                return Ok(version.clone());
            }
        }
        let version: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut s| {
                s.query_row([crate::store::CATALOG_VERSION], |r| r.get(0))
                    .optional()
            })
            .map_err(db_error)?;
        let version = version.unwrap_or_default();
        self.seen = Some((data_version, version.clone()));
        Ok(version)
    }
}

impl SqliteStore {
    /// Opens the catalog database at `path`, creating it when no file is there, and brings
    /// its schema up to date.
    ///
    /// A new database is prepared under a temporary name and linked into place only once it
    /// is a complete catalog, so a file at `path` is always a catalog: a process racing to
    /// create the same catalog opens the winner's. A file that exists but is empty or not a
    /// catalog is refused, never initialised.
    pub fn open(path: &Path) -> anyhow::Result<SqlStore> {
        Self::open_as(path, "--db")
    }

    /// [`SqliteStore::open`], its messages naming `flag` as where the path came from.
    pub fn open_as(path: &Path, flag: &str) -> anyhow::Result<SqlStore> {
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
                "{} is a directory, not a catalog database; point `{flag}` at a file",
                path.display()
            ),
            Ok(m) if m.len() == 0 => anyhow::bail!(
                "{} is an empty file, not a catalog database; remove it to start a new catalog there, or point `{flag}` at the catalog's file",
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
            Err(e) => return Err(not_a_catalog(path, flag, e)),
            Ok(_) if !is_catalog(&probe) => anyhow::bail!(
                "{} is not a catalog database; point `{flag}` at the catalog's file",
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
        // The journal's flushes never copy the log into the file (a checkpoint, with its
        // `fsync`) while holds wait for them: see `Pool::checkpoint`.
        ledger.pragma_update(None, "wal_autocheckpoint", 0)?;
        // Every statement of a hold and a settlement stays prepared.
        ledger.set_prepared_statement_cache_capacity(64);
        let version = Version {
            conn: connect(path)?,
            data_version: DataVersion::new(path),
            seen: None,
        };
        let pool = SqliteStore {
            writer: Mutex::new(conn),
            ledger: Mutex::new(ledger),
            readers: Mutex::new(Vec::new()),
            version: Mutex::new(version),
            ledger_data_version: Mutex::new(DataVersion::new(path)),
            path: path.to_path_buf(),
        };
        Ok(SqlStore::new(Box::new(pool), organisation_id).with_journal()?)
    }
}

impl Pool for SqliteStore {
    fn local(&self) -> bool {
        true
    }

    fn checkpoint(&self) -> StoreResult<()> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => connect(&self.path).map_err(StoreError::Internal)?,
        };
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(db_error)?;
        let mut idle = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        Ok(())
    }

    fn journal_beside(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn ledger_data_version(&self) -> StoreResult<i64> {
        let conn = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        self.ledger_data_version
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&conn)
            .map_err(|e| db_error(e).into())
    }

    fn begin_ledger_if_free(&self) -> StoreResult<Option<Box<dyn TxConn + '_>>> {
        let conn = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        conn.busy_timeout(Duration::ZERO).map_err(db_error)?;
        let begun = conn.execute_batch("BEGIN IMMEDIATE");
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_error)?;
        match begun {
            Ok(()) => Ok(Some(Box::new(Locked { conn, open: true }))),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(None),
            Err(e) => Err(db_error(e).into()),
        }
    }

    fn catalog_version(&self) -> StoreResult<String> {
        self.version
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .read()
    }

    fn begin(&self, kind: TxKind) -> StoreResult<Box<dyn TxConn + '_>> {
        match kind {
            TxKind::Read => {
                let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let conn = match pooled {
                    Some(c) => c,
                    None => connect(&self.path).map_err(StoreError::Internal)?,
                };
                // A deferred transaction: one consistent snapshot for every read through it.
                conn.execute_batch("BEGIN DEFERRED").map_err(db_error)?;
                Ok(Box::new(Reader {
                    conn: Some(conn),
                    idle: &self.readers,
                }))
            }
            // IMMEDIATE takes the write lock up front, so two processes never deadlock
            // upgrading a read lock; other writers wait (busy timeout), readers never do.
            TxKind::Write => Locked::begin(&self.writer),
            TxKind::Ledger => Locked::begin(&self.ledger),
        }
    }
}

/// A read snapshot on a pooled reader connection.
struct Reader<'a> {
    conn: Option<Connection>,
    idle: &'a Mutex<Vec<Connection>>,
}

impl Reader<'_> {
    fn conn(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a reader holds its connection until dropped")
    }
}

impl Sql for Reader<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<Vec<Row>> {
        query(self.conn(), sql, args)
    }

    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<u64> {
        execute(self.conn(), sql, args)
    }
}

impl TxConn for Reader<'_> {
    fn commit(self: Box<Self>) -> DbResult<()> {
        Ok(())
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if conn.execute_batch("ROLLBACK").is_ok() {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < IDLE_READERS {
                    idle.push(conn);
                }
            }
        }
    }
}

/// A `BEGIN IMMEDIATE` transaction on one of the two writing connections, rolled back on
/// drop unless committed.
struct Locked<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
}

impl<'a> Locked<'a> {
    fn begin(conn: &'a Mutex<Connection>) -> StoreResult<Box<dyn TxConn + 'a>> {
        let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db_error)?;
        Ok(Box::new(Locked { conn, open: true }))
    }
}

impl Sql for Locked<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<Vec<Row>> {
        query(&self.conn, sql, args)
    }

    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<u64> {
        execute(&self.conn, sql, args)
    }
}

impl TxConn for Locked<'_> {
    fn commit(mut self: Box<Self>) -> DbResult<()> {
        self.open = false;
        self.conn.execute_batch("COMMIT").map_err(|e| {
            let _ = self.conn.execute_batch("ROLLBACK");
            db_error(e)
        })
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Null | Arg::NullInt | Arg::NullBlob => ValueRef::Null,
            Arg::Int(i) => ValueRef::Integer(i),
            Arg::Real(f) => ValueRef::Real(f),
            Arg::Text(s) => ValueRef::Text(s.as_bytes()),
            Arg::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn query(conn: &Connection, sql: &str, args: &[Arg<'_>]) -> DbResult<Vec<Row>> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare_cached(sql).map_err(db_error)?;
    let columns = stmt.column_count();
    let mut found = stmt
        .query(rusqlite::params_from_iter(args))
        .map_err(db_error)?;
    let mut out = Vec::new();
    while let Some(r) = found.next().map_err(db_error)? {
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(match r.get_ref(i).map_err(db_error)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Int(i),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(Row::new(values));
    }
    Ok(out)
}

fn execute(conn: &Connection, sql: &str, args: &[Arg<'_>]) -> DbResult<u64> {
    let n = conn
        .prepare_cached(sql)
        .map_err(db_error)?
        .execute(rusqlite::params_from_iter(args))
        .map_err(db_error)?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

/// A SQLite error as the store tells them apart.
fn db_error(e: rusqlite::Error) -> DbError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            DbError::Unique(e.into())
        }
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            DbError::ForeignKey(e.into())
        }
        _ => DbError::Other(e.into()),
    }
}

/// Opens a connection with the catalog's settings.
fn connect(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open the catalog database {}", path.display()))?;
    restrict_permissions(path);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| not_a_catalog(path, "--db", e))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Pages are read through a shared memory map rather than copied in by `pread`: the
    // operating system's page cache serves every connection of every process.
    conn.pragma_update(None, "mmap_size", 256i64 * 1024 * 1024)?;
    Ok(conn)
}

fn not_a_catalog(path: &Path, flag: &str, e: rusqlite::Error) -> anyhow::Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => anyhow::anyhow!(
            "{} is not a catalog database (not even SQLite); point `{flag}` at the catalog's file",
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
