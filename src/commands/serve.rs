//! `catalog serve`: the Admin API over HTTP on a database file shared by a team.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::Ctx;
use crate::env_vars as env;
use crate::server::{self, AppState, ServerConfig};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, env = env::CATALOG_LISTEN, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// Database file (default: the embedded catalog's database)
    #[arg(long, env = env::CATALOG_DB, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: ServeArgs) -> anyhow::Result<()> {
    let db_path = args.db.unwrap_or_else(|| ctx.settings.paths.embedded_db());
    let state = AppState::open(&ServerConfig {
        db_path: db_path.clone(),
        master_key: ctx.settings.master_key.clone(),
    })?;
    let printer = ctx.printer();
    let bootstrap = ctx.settings.env.get(env::CATALOG_BOOTSTRAP_ADMIN_KEY);
    match server::bootstrap(&state, bootstrap)? {
        Some(key) if key.is_empty() => printer
            .notice("installed CATALOG_BOOTSTRAP_ADMIN_KEY as the organisation admin API key"),
        Some(key) => printer.notice(format!(
            "created the organisation admin API key; it is shown once, store it now:\n  {key}"
        )),
        None => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(server::serve(state, args.listen, |addr| {
        printer.notice(format!(
            "catalog serve: listening on http://{addr}/v1 (database {})",
            db_path.display()
        ));
    }))?;
    printer.status("catalog serve: stopped");
    Ok(())
}
