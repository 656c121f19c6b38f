//! `catalog auth ...`

mod login;

pub use login::HOSTED_BASE_URL;
mod logout;
mod status;
mod use_profile;

use clap::Subcommand;

use super::Ctx;

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Check an API key against a server and store it for a profile
    Login(login::LoginArgs),
    /// Show the profile, the server and which credential source is used
    Status(status::StatusArgs),
    /// Remove a profile and its stored key
    Logout(logout::LogoutArgs),
    /// Make a profile current (or `embedded`: the embedded catalog)
    Use(use_profile::UseArgs),
}

/// The name `auth use` gives the embedded catalog.
pub const EMBEDDED: &str = "embedded";

pub fn run(ctx: &Ctx, cmd: AuthCommand) -> anyhow::Result<()> {
    match cmd {
        AuthCommand::Login(args) => login::run(ctx, args),
        AuthCommand::Status(args) => status::run(ctx, args),
        AuthCommand::Logout(args) => logout::run(ctx, args),
        AuthCommand::Use(args) => use_profile::run(ctx, args),
    }
}

/// The profile an auth command acts on: `--profile`, else the current one, else `default`.
fn profile_name(ctx: &Ctx) -> String {
    ctx.settings
        .profile_name
        .clone()
        .unwrap_or_else(|| "default".to_owned())
}
