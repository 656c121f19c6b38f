//! `catalog`: the admin command line and server for an organisation's model catalog.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod admission;
pub mod api;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod declarative;
pub mod domain;
pub mod env_vars;
pub mod exit;
pub mod files;
pub mod gateway;
pub mod keyring_access;
pub mod limit_args;
pub mod printer;
pub mod prompt;
pub mod registry;
pub mod secret_input;
pub mod server;
pub mod services;
pub mod settings;
pub mod store;
pub mod suggest;
pub mod types;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::exit::{CliError, ErrorKind};
use crate::printer::OutputFormat;

/// Parses the command line, runs the command, renders any error, returns the exit code.
pub fn main() -> ExitCode {
    commands::completion::answer_if_asked();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let json_errors = cli.global.output == Some(OutputFormat::Json);
    let result = settings::Settings::resolve(&cli.global, settings::Env::from_process())
        .and_then(|settings| commands::run(cli.command, settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if crate::exit::kind_of(&e) == ErrorKind::Changes => {
            ExitCode::from(ErrorKind::Changes.exit_code())
        }
        Err(e) => {
            let kind = render_error(&e, json_errors);
            ExitCode::from(kind.exit_code())
        }
    }
}

/// Prints `error: ...`, `Caused by: ...`, `hint: ...` (or one JSON object) on stderr.
fn render_error(e: &anyhow::Error, json: bool) -> ErrorKind {
    let typed = e.chain().find_map(|c| c.downcast_ref::<CliError>());
    let kind = crate::exit::kind_of(e);
    let hint = typed.and_then(|t| t.hint.clone());
    let mut err = std::io::stderr().lock();
    if json {
        let message = e
            .chain()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        let body = serde_json::json!({
            "error": message,
            "code": kind.name(),
            "exit_code": kind.exit_code(),
            "hint": hint,
        });
        let _ = writeln!(err, "{body}");
        return kind;
    }
    let _ = writeln!(err, "error: {e}");
    for cause in e.chain().skip(1) {
        let _ = writeln!(err, "  Caused by: {cause}");
    }
    if let Some(h) = hint {
        let _ = writeln!(err, "hint: {h}");
    }
    kind
}
