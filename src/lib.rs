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
    // On a terminal, lines wrap between words; piped, each stays whole for scripts.
    let width = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(error_width);
    let _ = writeln!(err, "{}", wrapped("error: ", &e.to_string(), width));
    for cause in e.chain().skip(1) {
        let _ = writeln!(
            err,
            "{}",
            wrapped("  Caused by: ", &cause.to_string(), width)
        );
    }
    if let Some(h) = hint {
        let _ = writeln!(err, "{}", wrapped("hint: ", &h, width));
    }
    kind
}

/// The width errors wrap at on a terminal: `COLUMNS` (20 or more), else the terminal's,
/// else 80.
fn error_width() -> usize {
    std::env::var(env_vars::COLUMNS)
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w >= 20)
        .or_else(|| {
            console::Term::stderr()
                .size_checked()
                .map(|(_, cols)| usize::from(cols))
                .filter(|w| *w >= 20)
        })
        .unwrap_or(80)
}

/// The pieces a line may break between: words, and each `` `quoted` `` span whole (a
/// command to copy), each with the spaces before it.
fn pieces(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let (mut start, mut spaces, mut quoted) = (0, 0, false);
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'`' => quoted = !quoted,
            b' ' if !quoted => {
                if start < i {
                    out.push((spaces, &line[start..i]));
                    spaces = 0;
                }
                spaces += 1;
                start = i + 1;
                continue;
            }
            _ => {}
        }
    }
    if start < line.len() {
        out.push((spaces, &line[start..]));
    }
    out
}

/// `prefix` and `text`, wrapped between words at `width` (none: one line), the lines
/// after the first indented under the text. A word longer than a line (a URL, a path)
/// and a quoted command stay whole; spaces between words on a line stay as written.
fn wrapped(prefix: &str, text: &str, width: Option<usize>) -> String {
    let Some(width) = width else {
        return format!("{prefix}{text}");
    };
    let cells = console::measure_text_width;
    let indent = " ".repeat(cells(prefix));
    let mut out = String::with_capacity(prefix.len() + text.len() + 16);
    for (n, paragraph) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let lead = if n == 0 { prefix } else { indent.as_str() };
        out.push_str(lead);
        let mut column = cells(lead);
        let mut first = true;
        for (spaces, word) in pieces(paragraph) {
            let len = cells(word);
            if !first && column + spaces + len > width {
                out.push('\n');
                out.push_str(&indent);
                column = indent.len();
            } else {
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            out.push_str(word);
            column += len;
            first = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrapped;

    #[test]
    fn errors_wrap_between_words_under_their_text() {
        let text = "the Redis server's certificate was not accepted: it must be signed by a root of --redis-ca-file";
        let out = wrapped("  Caused by: ", text, Some(40));
        for line in out.lines() {
            assert!(line.chars().count() <= 40, "{line:?} in\n{out}");
        }
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("  Caused by: the Redis"), "{out}");
        assert!(
            lines[1..].iter().all(|l| l.starts_with(&" ".repeat(13))),
            "{out}"
        );
        let words: Vec<&str> = out.split_whitespace().skip(2).collect();
        assert_eq!(words.join(" "), text);
        // A word longer than the line is not cut.
        let url = "postgres://catalog@db.internal.example.com:5432/catalog?sslmode=verify-full";
        assert!(wrapped("error: ", url, Some(40)).contains(url));
        // Without a width (piped), one line.
        assert_eq!(wrapped("hint: ", text, None), format!("hint: {text}"));
        // Spaces a message holds stay; a quoted command is never cut.
        let spaced = "workspace `a   b` not found";
        assert_eq!(
            wrapped("error: ", spaced, Some(80)),
            format!("error: {spaced}")
        );
        let hint = "generate one with `openssl rand -base64 32` and give it";
        let out = wrapped("hint: ", hint, Some(30));
        assert!(out.contains("`openssl rand -base64 32`"), "{out}");
        // Wide characters count as the cells they take.
        let wide = "名前 名前 名前 名前 名前 名前 名前 名前 名前 名前";
        for line in wrapped("error: ", wide, Some(20)).lines() {
            assert!(console::measure_text_width(line) <= 20, "{line:?}");
        }
    }
}
