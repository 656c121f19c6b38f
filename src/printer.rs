//! Everything `catalog` shows. stdout carries data only; status, warnings, hints and
//! errors go to stderr. One view model per resource, rendered as a table, JSON or YAML.

use std::io::{IsTerminal, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

/// How a resource shows as a table row and as a detail view.
pub trait Tabular {
    fn headers() -> &'static [&'static str];
    fn row(&self) -> Vec<String>;
    /// Field/value pairs for the detail view; defaults to the row.
    fn details(&self) -> Vec<(&'static str, String)> {
        Self::headers().iter().copied().zip(self.row()).collect()
    }
}

#[derive(Debug, Clone)]
pub struct Printer {
    pub format: OutputFormat,
    /// The format was chosen explicitly (flag or env), not defaulted.
    pub explicit: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub color: bool,
}

impl Printer {
    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    fn stdout(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }

    fn stderr_line(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    /// Tables were not asked for by name and stdout is not a terminal: plain
    /// tab-separated lines instead of box drawing.
    fn piped(&self) -> bool {
        !self.explicit && !std::io::stdout().is_terminal()
    }

    /// A status line on stderr, silenced by `-q`.
    pub fn status(&self, text: impl AsRef<str>) {
        if !self.quiet {
            self.stderr_line(text.as_ref());
        }
    }

    /// A plan or summary shown before writing: silenced by `-q`, unless a question about
    /// it follows (`asking`).
    pub fn summary(&self, text: impl AsRef<str>, asking: bool) {
        if asking || !self.quiet {
            self.stderr_line(text.as_ref());
        }
    }

    /// A message on stderr that `-q` does not silence (e.g. a key shown once).
    pub fn notice(&self, text: impl AsRef<str>) {
        self.stderr_line(text.as_ref());
    }

    pub fn warn(&self, text: impl AsRef<str>) {
        self.stderr_line(&format!(
            "{}: {}",
            self.paint("warning", "33"),
            text.as_ref()
        ));
    }

    pub fn hint(&self, text: impl AsRef<str>) {
        if !self.quiet {
            self.stderr_line(&format!("{}: {}", self.paint("hint", "36"), text.as_ref()));
        }
    }

    /// Diagnostics shown with `-v`.
    pub fn debug(&self, text: impl AsRef<str>) {
        if self.verbose {
            self.stderr_line(text.as_ref());
        }
    }

    pub fn paint(&self, text: &str, ansi: &str) -> String {
        if self.color {
            format!("\x1b[{ansi}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Serializable data in the chosen machine format.
    pub fn data<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let text = match self.format {
            OutputFormat::Yaml => serde_yaml::to_string(value)?,
            _ => serde_json::to_string_pretty(value)?,
        };
        self.stdout(&text);
        Ok(())
    }

    /// A list: a table for people (tab-separated rows when piped), an array for scripts.
    pub fn list<T: Serialize + Tabular>(&self, items: &[T]) -> anyhow::Result<()> {
        if self.format != OutputFormat::Table {
            return self.data(items);
        }
        if self.piped() {
            let rows: Vec<String> = items.iter().map(|i| i.row().join("\t")).collect();
            if !rows.is_empty() {
                self.stdout(&rows.join("\n"));
            }
            return Ok(());
        }
        let mut table = new_table();
        table.set_header(T::headers().to_vec());
        for item in items {
            table.add_row(item.row());
        }
        self.stdout(&table.to_string());
        Ok(())
    }

    /// One object: a field/value table for people, the object for scripts.
    pub fn one<T: Serialize + Tabular>(&self, item: &T) -> anyhow::Result<()> {
        if self.format != OutputFormat::Table {
            return self.data(item);
        }
        if self.piped() {
            let lines: Vec<String> = item
                .details()
                .into_iter()
                .map(|(field, value)| format!("{field}\t{value}"))
                .collect();
            self.stdout(&lines.join("\n"));
            return Ok(());
        }
        let mut table = new_table();
        for (field, value) in item.details() {
            table.add_row(vec![field.to_owned(), value]);
        }
        self.stdout(&table.to_string());
        Ok(())
    }

    /// Free text that is the command's data (e.g. a completion script).
    pub fn raw(&self, text: &str) {
        self.stdout(text);
    }
}

fn new_table() -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table
}

/// `-` for a missing value in tables.
pub fn or_dash(value: Option<&str>) -> String {
    value
        .filter(|v| !v.is_empty())
        .map_or_else(|| "-".to_owned(), str::to_owned)
}
