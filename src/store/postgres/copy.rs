//! `catalog db copy`: a team's SQLite catalog moved, whole, into an empty PostgreSQL
//! database. Every table is copied row for row in one PostgreSQL transaction: objects,
//! sealed secrets (as they are: the same master key opens them), usage counters and
//! rate-limit windows, holds, alerts and the audit log with its ids. A target that
//! holds anything is refused; a copy that fails leaves the target as it was.

use std::path::Path;

use anyhow::{bail, Context};

use super::PgStore;
use crate::store::sql::{Arg, Sql, TxKind, Value};
use crate::store::sqlite::SqliteStore;

/// Tables PostgreSQL has that SQLite has not: its own bookkeeping.
const TARGET_ONLY: &[&str] = &["catalog_schema", "replicas"];

/// Rows copied, per table, in the order they were copied.
pub type Copied = Vec<(String, u64)>;

/// Copies the catalog at `from` into the empty PostgreSQL database at `to`.
pub fn sqlite_to_postgres(from: &Path, to: &str) -> anyhow::Result<Copied> {
    if !from.is_file() {
        bail!("no catalog database at {} (--from)", from.display());
    }
    let source = SqliteStore::open(from)?;
    let target = PgStore::open(to)?;
    source
        .transaction(TxKind::Read, |src| {
            target.transaction(TxKind::Write, |dst| copy(src, dst).map_err(Into::into))
        })
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn copy(src: &dyn Sql, dst: &dyn Sql) -> anyhow::Result<Copied> {
    let tables: Vec<String> = src
        .query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
            &[],
        )?
        .iter()
        .map(|r| r.get::<String>(0))
        .collect::<Result<_, _>>()?;
    let present: Vec<String> = dst
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
            &[],
        )?
        .iter()
        .map(|r| r.get::<String>(0))
        .collect::<Result<_, _>>()?;
    for table in &tables {
        if !present.contains(table) {
            bail!("the PostgreSQL catalog has no table `{table}`: is it an older catalog than the file?");
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
            bail!("the target is not empty (table `{table}` has {n} rows); copy into a new, empty database");
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
fn not_bookkeeping(table: &str) -> &'static str {
    if table == "meta" {
        "key <> 'organisation_id'"
    } else {
        "true"
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
