//! The command-line grammar: global options once, each with its environment twin.

use clap::builder::FalseyValueParser;
use clap::{Args, Parser};

use crate::commands::Command;
use crate::env_vars as env;
use crate::printer::OutputFormat;
use crate::settings::ColorChoice;

#[derive(Debug, Parser)]
#[command(
    name = "catalog",
    version,
    about = "Govern an organisation's access to AI models: integrations, workspaces, budgets, providers and API keys",
    long_about = "Govern an organisation's access to AI models.\n\n`catalog` speaks the Portkey Admin API. With no profile and no base URL it works on an embedded catalog (a local SQLite database, no server needed); `catalog serve` shares one catalog with a team; `catalog auth login` points it at a `catalog serve` or at Portkey's hosted API.",
    after_long_help = after_help(),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

fn after_help() -> String {
    format!(
        "{}\n\nEnvironment:\n{}",
        crate::exit::EXIT_CODES_HELP,
        env::help_table()
    )
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Profile to use (a stored server and key)
    #[arg(long, global = true, env = env::CATALOG_PROFILE, value_name = "NAME")]
    pub profile: Option<String>,

    /// Admin API base URL (a `catalog serve` or https://api.portkey.ai/v1)
    #[arg(long, global = true, env = env::CATALOG_BASE_URL, value_name = "URL")]
    pub base_url: Option<String>,

    /// Workspace (id, slug or name) for commands that act in one
    #[arg(long, global = true, env = env::CATALOG_WORKSPACE, value_name = "WORKSPACE")]
    pub workspace: Option<String>,

    /// Output format
    #[arg(short = 'o', long, global = true, env = env::CATALOG_OUTPUT, value_enum)]
    pub output: Option<OutputFormat>,

    /// Assume yes for confirmations (needed for destructive commands without a terminal)
    #[arg(short = 'y', long, global = true, env = env::CATALOG_YES, value_parser = FalseyValueParser::new())]
    pub yes: bool,

    /// Never prompt; a missing value is an error naming its flag
    #[arg(long, global = true, env = env::CATALOG_NO_INPUT, value_parser = FalseyValueParser::new())]
    pub no_input: bool,

    /// Silence status messages on stderr
    #[arg(short = 'q', long, global = true, env = env::CATALOG_QUIET, value_parser = FalseyValueParser::new())]
    pub quiet: bool,

    /// Print requests and raw error bodies on stderr
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to use colour
    #[arg(long, global = true, env = env::CATALOG_COLOR, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
