//! `catalog db ...`: the catalog's database as a whole.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::Ctx;
use crate::printer::Tabular;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy a catalog file into an empty PostgreSQL database, whole: objects, sealed
    /// secrets (the same master key opens them), usage and rate windows, alerts, audit log
    Copy(CopyArgs),
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The catalog's SQLite file
    #[arg(long, value_name = "PATH")]
    pub from: PathBuf,
    /// The empty PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DB
    #[arg(long, value_name = "URL", value_parser = super::serve::DATABASE_URL)]
    pub to: String,
}

/// Rows copied from one table.
#[derive(Debug, Serialize)]
pub struct TableCopy {
    pub table: String,
    pub rows: u64,
}

impl Tabular for TableCopy {
    fn headers() -> &'static [&'static str] {
        &["TABLE", "ROWS"]
    }

    fn row(&self) -> Vec<String> {
        vec![self.table.clone(), self.rows.to_string()]
    }
}

pub fn run(ctx: &Ctx, cmd: DbCommand) -> anyhow::Result<()> {
    match cmd {
        DbCommand::Copy(args) => {
            let copied = crate::store::postgres::copy::sqlite_to_postgres(&args.from, &args.to)?;
            let printer = ctx.printer();
            printer.status(format!(
                "copied the catalog at {} into {}: {} rows; serve it with `catalog serve --database-url URL` and the same master key",
                args.from.display(),
                crate::store::postgres::redact(&args.to),
                copied.iter().map(|(_, n)| n).sum::<u64>()
            ));
            let tables: Vec<TableCopy> = copied
                .into_iter()
                .map(|(table, rows)| TableCopy { table, rows })
                .collect();
            printer.list(&tables)
        }
    }
}
