//! `catalog org ...`: organisation-wide settings.

mod settings;

use clap::Subcommand;

use super::Ctx;

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Show the organisation's settings, or change them with flags
    Settings(settings::SettingsArgs),
}

pub fn run(ctx: &Ctx, cmd: OrgCommand) -> anyhow::Result<()> {
    match cmd {
        OrgCommand::Settings(args) => settings::run(ctx, args),
    }
}
