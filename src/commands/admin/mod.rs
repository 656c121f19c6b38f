//! `catalog admin ...`: operations on a catalog's database file itself, run where the
//! database is (never through a server).

mod master_key;
mod rotate_master_key;

use std::path::PathBuf;

use clap::Subcommand;

use super::Ctx;
use crate::exit::{fail, ErrorKind};
use crate::server::{AppState, ServerConfig};
use crate::settings::Target;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Re-seal every stored secret under a new master key, while servers keep running
    #[command(name = "rotate-master-key")]
    RotateMasterKey(rotate_master_key::RotateArgs),
    /// The master key: where it lives and what it sealed
    #[command(subcommand, name = "master-key")]
    MasterKey(master_key::MasterKeyCommand),
}

pub fn run(ctx: &Ctx, cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::RotateMasterKey(args) => rotate_master_key::run(ctx, args),
        AdminCommand::MasterKey(cmd) => master_key::run(ctx, cmd),
    }
}

/// The catalog database an admin command works on: `--db`, else the embedded catalog's.
/// A profile or base URL pointing at a server is refused: these commands need the
/// database file and the master key, which no server hands out.
fn local_catalog(
    ctx: &Ctx,
    db: Option<PathBuf>,
    command: &str,
) -> anyhow::Result<(AppState, PathBuf)> {
    let db_path = match (db, &ctx.settings.target) {
        (Some(db), _) => db,
        (None, Target::Embedded { db_path }) => {
            ctx.settings.check_profile()?;
            db_path.clone()
        }
        (None, Target::Remote { base_url, .. }) => {
            return Err(fail(
                ErrorKind::Usage,
                format!(
                    "`catalog admin {command}` works on a catalog's database file, not through a server ({base_url})"
                ),
                Some("run it on the machine that holds the database, with `--db PATH` (the file `catalog serve --db` uses)"),
            ))
        }
    };
    if !db_path.is_file() {
        return Err(fail(
            ErrorKind::NotFound,
            format!("no catalog database at {}", db_path.display()),
            Some("pass the database `catalog serve` uses with `--db PATH`"),
        ));
    }
    let state = AppState::open(&ServerConfig {
        database: crate::server::Database::Sqlite(db_path.clone()),
        redis_url: None,
        redis_ca_file: None,
        master_key_from: None,
        master_key: ctx.settings.master_key.clone(),
        master_key_previous: ctx.settings.master_key_previous.clone(),
        trusted_custom_hosts: Vec::new(),
    })?;
    Ok((state, db_path))
}
