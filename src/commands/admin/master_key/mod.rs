//! `catalog admin master-key ...`.

mod status;

use clap::Subcommand;

use crate::commands::Ctx;

#[derive(Debug, Subcommand)]
pub enum MasterKeyCommand {
    /// Where the master key lives, its fingerprint, any rotation in progress, and how
    /// many secrets each key sealed
    Status(status::StatusArgs),
}

pub fn run(ctx: &Ctx, cmd: MasterKeyCommand) -> anyhow::Result<()> {
    match cmd {
        MasterKeyCommand::Status(args) => status::run(ctx, args),
    }
}
