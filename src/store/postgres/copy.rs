//! `catalog db copy`: a team's SQLite catalog moved, whole, into an empty PostgreSQL
//! database. Every table is copied row for row in one PostgreSQL transaction: objects,
//! sealed secrets (as they are: the same master key opens them), usage counters and
//! rate-limit windows, holds, alerts and the audit log with its ids. A target that
//! holds anything is refused; a copy that fails leaves the target as it was.

use std::path::Path;

use anyhow::Context;

use super::PgStore;
use crate::exit::{fail, ErrorKind};
use crate::store::sql::{Arg, Pool, Sql, SqlStore, TxKind, Value};
use crate::store::sqlite::SqliteStore;

/// Tables PostgreSQL has that SQLite has not: its own bookkeeping.
const TARGET_ONLY: &[&str] = &["catalog_schema", "replicas"];

/// Rows copied, per table, in the order they were copied.
pub type Copied = Vec<(String, u64)>;

/// Copies the catalog at `from` into the empty PostgreSQL database at `to`.
pub fn sqlite_to_postgres(from: &Path, to: &str) -> anyhow::Result<Copied> {
    if !from.is_file() {
        return Err(fail(
            ErrorKind::NotFound,
            format!("no catalog database at {} (--from)", from.display()),
            Some("point --from at the catalog's SQLite file"),
        ));
    }
    let source = SqliteStore::open_as(from, "--from")?;
    let known = source.transaction(TxKind::Read, |src| Ok(sqlite_tables(src)?))?;
    // Looked at before anything is created: a database holding anything else is left
    // exactly as it was.
    let foreign: Vec<String> = {
        let raw = PgStore::connect_only(to, "--to")?;
        let tx = raw.begin(TxKind::Read)?;
        tables_of(&*tx)?
            .into_iter()
            .filter(|t| !known.contains(t) && !TARGET_ONLY.contains(&t.as_str()))
            .collect()
    };
    if let Some(t) = foreign.first() {
        return Err(not_empty(&format!(
            "it has a table `{t}` the catalog does not"
        )));
    }
    let target = PgStore::open_as(to, "--to")?;
    run(&source, &target)
}

/// The copy, in one transaction of each; a refusal keeps its kind (and exit code).
fn run(source: &SqlStore, target: &SqlStore) -> anyhow::Result<Copied> {
    let mut refused = None;
    let copied = source.transaction(TxKind::Read, |src| {
        target.transaction(TxKind::Write, |dst| {
            copy(src, dst).map_err(|e| {
                let message = format!("{e:#}");
                refused = Some(e);
                crate::store::StoreError::Internal(anyhow::anyhow!(message))
            })
        })
    });
    match (copied, refused) {
        (Ok(copied), _) => Ok(copied),
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(anyhow::anyhow!("{e}")),
    }
}

/// The catalog's tables in the SQLite file, in the order they were created (so that
/// every table comes after those it refers to).
fn sqlite_tables(src: &dyn Sql) -> anyhow::Result<Vec<String>> {
    Ok(src
        .query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
            &[],
        )?
        .iter()
        .map(|r| r.get::<String>(0))
        .collect::<Result<_, _>>()?)
}

/// The tables of the PostgreSQL database's current schema.
fn tables_of(dst: &dyn Sql) -> anyhow::Result<Vec<String>> {
    Ok(dst
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
            &[],
        )?
        .iter()
        .map(|r| r.get::<String>(0))
        .collect::<Result<_, _>>()?)
}

fn not_empty(why: &str) -> anyhow::Error {
    fail(
        ErrorKind::Conflict,
        format!("the target database is not empty: {why}"),
        Some("copy into a new, empty database (`createdb NAME`)"),
    )
}

fn copy(src: &dyn Sql, dst: &dyn Sql) -> anyhow::Result<Copied> {
    let tables = sqlite_tables(src)?;
    let present = tables_of(dst)?;
    for table in &tables {
        if !present.contains(table) {
            anyhow::bail!("the PostgreSQL catalog has no table `{table}`: is it an older catalog than the file?");
        }
    }
    // Empty: nothing but the organisation id a new catalog records.
    for table in present
        .iter()
        .filter(|t| !TARGET_ONLY.contains(&t.as_str()))
    {
        let n: i64 = dst
            .query(
                &format!(
                    "SELECT count(*) FROM {table} WHERE {}",
                    not_bookkeeping(table)
                ),
                &[],
            )?
            .first()
            .map(|r| r.get(0))
            .transpose()?
            .unwrap_or(0);
        if n > 0 {
            let rows = if n == 1 {
                "1 row".to_owned()
            } else {
                format!("{n} rows")
            };
            return Err(not_empty(&format!("table `{table}` has {rows}")));
        }
    }
    dst.execute("DELETE FROM meta", &[])?;
    let mut copied = Vec::new();
    for table in &tables {
        let columns: Vec<(String, String)> = src
            .query(
                &format!("SELECT name, type FROM pragma_table_info('{table}')"),
                &[],
            )?
            .iter()
            .map(|r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))
            .collect::<Result<_, crate::store::sql::DbError>>()?;
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let rows = src.query(&format!("SELECT {} FROM {table}", names.join(", ")), &[])?;
        let insert = format!(
            "INSERT INTO {table}({}) VALUES ({})",
            names.join(", "),
            (1..=names.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for row in &rows {
            let values: Vec<Value> = (0..columns.len())
                .map(|i| row.get::<Value>(i))
                .collect::<Result<_, _>>()?;
            let args: Vec<Arg<'_>> = values
                .iter()
                .zip(&columns)
                .map(|(v, (_, ty))| arg(v, ty))
                .collect();
            dst.execute(&insert, &args)
                .with_context(|| format!("cannot copy a row of `{table}`"))?;
        }
        copied.push((table.clone(), rows.len() as u64));
    }
    // Ids assigned from here on follow the copied ones.
    for table in ["alerts", "audit_log"] {
        dst.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            ),
            &[],
        )?;
    }
    Ok(copied)
}

/// The rows of `table` a new catalog has before anything is put in it.
fn not_bookkeeping(table: &str) -> String {
    if table == "meta" {
        format!(
            "key NOT IN ('organisation_id', '{}')",
            crate::store::CATALOG_VERSION
        )
    } else {
        "true".to_owned()
    }
}

/// A value as an argument; a NULL typed by its SQLite column's declared type.
fn arg<'a>(value: &'a Value, declared: &str) -> Arg<'a> {
    match value {
        Value::Null if declared.eq_ignore_ascii_case("BLOB") => Arg::NullBlob,
        Value::Null if declared.to_ascii_uppercase().contains("INT") => Arg::NullInt,
        Value::Null => Arg::Null,
        Value::Int(i) => Arg::Int(*i),
        Value::Real(f) => Arg::Real(*f),
        Value::Text(t) => Arg::Text(t),
        Value::Blob(b) => Arg::Blob(b),
    }
}
