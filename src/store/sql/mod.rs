//! The catalog's store over SQL, written once for every SQL engine it runs on (SQLite,
//! PostgreSQL).
//!
//! The queries are in one dialect, SQLite's, kept to what PostgreSQL also understands
//! (`?N` placeholders become `$N`; PostgreSQL's schema defines the few SQLite functions
//! the queries use, such as `instr` and `json_extract`). Where the engines differ in a
//! way no shim covers, [`Dialect`] says how. An engine supplies connections in a
//! transaction ([`Pool`]); everything above them, reads, audited writes, the admission
//! ledger, alerts, policies and the audit log, is here.

mod alerts;
mod audit;
mod journal;
mod ledger;
mod policies;
mod read;
mod shared;
mod store;
mod write;

pub use store::SqlStore;

use super::{StoreError, StoreResult};

/// The engine a connection speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The function that builds a JSON object's text from key, value, key, value...
    /// (SQLite's `json_object(`); the query closes its parenthesis.
    pub fn json_object(self) -> &'static str {
        match self {
            Dialect::Sqlite => "json_object(",
            Dialect::Postgres => "json_build_object(",
        }
    }
}

/// A query argument, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// A NULL where text would be.
    Null,
    /// A NULL where an integer would be.
    NullInt,
    /// A NULL where bytes would be.
    NullBlob,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What can be passed as a query argument.
pub trait ToArg {
    /// The NULL of this type (PostgreSQL types its parameters).
    const NULL: Arg<'static> = Arg::Null;
    fn to_arg(&self) -> Arg<'_>;
}

impl ToArg for str {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl ToArg for String {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl ToArg for [u8] {
    const NULL: Arg<'static> = Arg::NullBlob;
    fn to_arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}

impl ToArg for Vec<u8> {
    const NULL: Arg<'static> = Arg::NullBlob;
    fn to_arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}

impl ToArg for i64 {
    const NULL: Arg<'static> = Arg::NullInt;
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(*self)
    }
}

impl ToArg for i32 {
    const NULL: Arg<'static> = Arg::NullInt;
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}

impl ToArg for bool {
    const NULL: Arg<'static> = Arg::NullInt;
    fn to_arg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}

impl ToArg for f64 {
    fn to_arg(&self) -> Arg<'_> {
        Arg::Real(*self)
    }
}

impl<T: ToArg + ?Sized> ToArg for &T {
    const NULL: Arg<'static> = T::NULL;
    fn to_arg(&self) -> Arg<'_> {
        (**self).to_arg()
    }
}

impl<T: ToArg> ToArg for Option<T> {
    const NULL: Arg<'static> = T::NULL;
    fn to_arg(&self) -> Arg<'_> {
        match self {
            Some(v) => v.to_arg(),
            None => T::NULL,
        }
    }
}

/// The arguments of a query: `args![id, name]`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_args {
    ($($arg:expr),* $(,)?) => {
        &[$($crate::store::sql::ToArg::to_arg(&$arg)),*][..]
    };
}
pub(crate) use crate::sql_args as args;

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
}

/// One row of a query's result.
#[derive(Debug, Clone, Default)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    pub fn new(values: Vec<Value>) -> Row {
        Row { values }
    }

    /// Column `i`, as `T`.
    pub fn get<T: FromValue>(&self, i: usize) -> DbResult<T> {
        let value = self
            .values
            .get(i)
            .ok_or_else(|| DbError::other(anyhow::anyhow!("no column {i} in the row")))?;
        T::from_value(value).ok_or_else(|| {
            DbError::other(anyhow::anyhow!(
                "column {i} holds {value:?}, not a {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// What a column can be read as.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Blob(b) => Some(b.clone()),
            Value::Text(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Real(f) => Some(*f),
            // SQLite keeps a whole REAL as an integer when it can.
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// What went wrong in the database, as far as the store tells them apart.
#[derive(Debug)]
pub enum DbError {
    /// A UNIQUE or PRIMARY KEY constraint refused the write.
    Unique(anyhow::Error),
    /// A foreign key refused the write: what it refers to is gone.
    ForeignKey(anyhow::Error),
    Other(anyhow::Error),
}

impl DbError {
    pub fn other(e: impl Into<anyhow::Error>) -> DbError {
        DbError::Other(e.into())
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Unique(e) | DbError::ForeignKey(e) | DbError::Other(e) => {
                write!(f, "{e:#}")
            }
        }
    }
}

impl std::error::Error for DbError {}

pub type DbResult<T> = Result<T, DbError>;

impl From<DbError> for StoreError {
    fn from(e: DbError) -> StoreError {
        match e {
            DbError::ForeignKey(_) => StoreError::NotFound(
                "a workspace or integration this request refers to was deleted meanwhile".into(),
            ),
            DbError::Unique(e) | DbError::Other(e) => StoreError::Internal(e),
        }
    }
}

/// Maps a UNIQUE violation to a conflict with `message`, anything else as usual.
pub(crate) fn unique_or(e: DbError, message: impl FnOnce() -> String) -> StoreError {
    match e {
        DbError::Unique(_) => StoreError::Conflict(message()),
        e => e.into(),
    }
}

/// A connection inside a transaction.
pub trait Sql {
    fn dialect(&self) -> Dialect;
    /// Runs a query and reads every row it returns.
    fn query(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<Vec<Row>>;
    /// Runs a statement; returns how many rows it changed.
    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<u64>;
    /// [`Sql::execute`] for a statement that may be refused (a UNIQUE constraint): when it
    /// is, the transaction goes on without it, as SQLite's does.
    fn execute_or_refuse(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<u64> {
        self.execute(sql, args)
    }
    /// In a [`TxKind::Ledger`] transaction, takes the counters of these scopes for the
    /// rest of it, in one order (so two transactions never wait for each other in a
    /// circle). Engines whose ledger transactions already exclude each other need not
    /// (SQLite's `BEGIN IMMEDIATE`): they answer `false` and do nothing.
    fn lock_scopes(&self, scopes: &[String]) -> DbResult<bool> {
        let _ = scopes;
        Ok(false)
    }
}

/// A connection in a transaction of its own: [`TxConn::commit`] lands it, dropping it
/// rolls it back.
pub trait TxConn: Sql {
    fn commit(self: Box<Self>) -> DbResult<()>;
}

/// What a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    /// A consistent snapshot; never waits for writers.
    Read,
    /// An admin write, or a ledger step that is not a hold or a settlement (alerts,
    /// recovery, audit pruning): writers take turns.
    Write,
    /// A hold or a settlement: atomic against every writer that touches the counters of
    /// the scopes it takes ([`Sql::lock_scopes`]), and against every admin write.
    Ledger,
}

/// An engine's connections.
pub trait Pool: Send + Sync {
    fn begin(&self, kind: TxKind) -> StoreResult<Box<dyn TxConn + '_>>;
    /// Whether the database is a file of this machine.
    fn local(&self) -> bool {
        false
    }
    /// The catalog's version (see [`crate::store::Store::catalog_version`]).
    fn catalog_version(&self) -> StoreResult<String> {
        let tx = self.begin(TxKind::Read)?;
        Ok(read::meta(&*tx, crate::store::CATALOG_VERSION)?.unwrap_or_default())
    }
    /// Whether the owner of a hold or a claimed delivery (see [`crate::store::owner`])
    /// may still be running: by default, a process of this machine.
    fn alive(&self, owner: &str) -> bool {
        crate::store::owner::alive(owner)
    }
    /// Tells the other processes sharing the catalog that this one is alive.
    fn heartbeat(&self, now: chrono::DateTime<chrono::Utc>) -> StoreResult<()> {
        let _ = now;
        Ok(())
    }
    /// Copies what the write-ahead log holds into the database file, as far as readers
    /// allow, without waiting for writers (SQLite's passive checkpoint).
    fn checkpoint(&self) -> StoreResult<()> {
        Ok(())
    }
    /// The catalog file, when admission may keep its journal beside it (see
    /// [`journal`]): a file that only processes of this machine open.
    fn journal_beside(&self) -> Option<&std::path::Path> {
        None
    }
    /// A number that changes whenever a connection other than the ledger's has
    /// committed (SQLite's `data_version` on the ledger's connection).
    fn ledger_data_version(&self) -> StoreResult<i64> {
        Err(internal(anyhow::anyhow!(
            "this database keeps no admission journal"
        )))
    }
    /// A [`TxKind::Ledger`] transaction if one can start without waiting; `None` while
    /// another connection writes.
    fn begin_ledger_if_free(&self) -> StoreResult<Option<Box<dyn TxConn + '_>>> {
        self.begin(TxKind::Ledger).map(Some)
    }
}

/// Every row of a query, each read by `f`.
pub(crate) fn rows<T>(
    conn: &dyn Sql,
    sql: &str,
    args: &[Arg<'_>],
    f: impl FnMut(&Row) -> DbResult<T>,
) -> StoreResult<Vec<T>> {
    Ok(conn
        .query(sql, args)?
        .iter()
        .map(f)
        .collect::<DbResult<Vec<T>>>()?)
}

/// The first row of a query, if any, read by `f`.
pub(crate) fn one<T>(
    conn: &dyn Sql,
    sql: &str,
    args: &[Arg<'_>],
    f: impl FnOnce(&Row) -> DbResult<T>,
) -> StoreResult<Option<T>> {
    Ok(conn.query(sql, args)?.first().map(f).transpose()?)
}

/// Runs a statement; returns how many rows it changed.
pub(crate) fn exec(conn: &dyn Sql, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
    Ok(conn.execute(sql, args)?)
}

pub(crate) fn internal(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Internal(e.into())
}

pub(crate) fn to_doc<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(internal)
}

pub(crate) fn from_doc<T: serde::de::DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(internal)
}

/// Counts the rows of `table` that match `filter` (a `WHERE` clause or empty) and reads
/// one page of `columns` from them, in insertion order.
pub(crate) fn page_of<T>(
    conn: &dyn Sql,
    table: &str,
    columns: &str,
    filter: &str,
    params: &[Arg<'_>],
    page: &super::Page,
    row: impl FnMut(&Row) -> DbResult<T>,
) -> StoreResult<(u64, Vec<T>)> {
    page_in_order(conn, table, columns, filter, "rowid", params, page, row)
}

/// [`page_of`] in the order `order` (an `ORDER BY` list).
#[allow(clippy::too_many_arguments)]
pub(crate) fn page_in_order<T>(
    conn: &dyn Sql,
    table: &str,
    columns: &str,
    filter: &str,
    order: &str,
    params: &[Arg<'_>],
    page: &super::Page,
    row: impl FnMut(&Row) -> DbResult<T>,
) -> StoreResult<(u64, Vec<T>)> {
    let total: i64 = one(
        conn,
        &format!("SELECT COUNT(*) FROM {table} {filter}"),
        params,
        |r| r.get(0),
    )?
    .unwrap_or(0);
    let limit = i64::try_from(page.page_size).unwrap_or(i64::MAX);
    let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
    let items = rows(
        conn,
        &format!(
            "SELECT {columns} FROM {table} {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        ),
        params,
        row,
    )?;
    Ok((u64::try_from(total).unwrap_or(0), items))
}

/// Decodes a page of JSON documents.
pub(crate) fn docs<T: serde::de::DeserializeOwned>(
    (total, docs): (u64, Vec<String>),
) -> StoreResult<(u64, Vec<T>)> {
    let items = docs
        .iter()
        .map(|d| from_doc(d))
        .collect::<StoreResult<Vec<T>>>()?;
    Ok((total, items))
}
