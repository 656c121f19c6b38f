//! Everything `catalog` shows. stdout carries data only; status, warnings, hints and
//! errors go to stderr. One view model per resource, rendered as a table, JSON or YAML.

use std::io::{IsTerminal, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width};
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
    /// Columns that may be left out, first to last, when the table is wider than the
    /// terminal (indices into `headers`).
    fn optional_columns() -> &'static [usize] {
        &[]
    }
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
    /// `COLUMNS`, when set: the table width.
    pub columns: Option<u16>,
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

    /// Whether stdout is a terminal (a table can be redrawn there).
    pub fn stdout_is_terminal(&self) -> bool {
        std::io::stdout().is_terminal()
    }

    /// Whether tables may draw with Unicode blocks: as for colour (`--color`, `NO_COLOR`,
    /// a terminal), and not into a pipe; otherwise plain ASCII.
    pub fn unicode(&self) -> bool {
        self.color && !self.piped()
    }

    /// Clears the terminal for a redraw (`--watch`).
    pub fn clear_screen(&self) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b"\x1b[H\x1b[2J");
        let _ = out.flush();
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
            OutputFormat::Yaml => {
                let whole: serde_json::Value =
                    serde_json::from_slice(&crate::api::json::to_vec(value)?)?;
                serde_yaml::to_string(&whole)?
            }
            _ => crate::api::json::to_string_pretty(value)?,
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
        let rows: Vec<Vec<String>> = items.iter().map(Tabular::row).collect();
        let table = layout(
            T::headers(),
            rows,
            T::optional_columns(),
            self.table_width(),
            true,
        );
        self.stdout(&table.to_string());
        Ok(())
    }

    /// The width tables fit in: `COLUMNS`, else the terminal's, else 80.
    fn table_width(&self) -> u16 {
        self.columns
            .or_else(|| Table::new().width())
            .filter(|w| *w >= 20)
            .unwrap_or(80)
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
        let rows = item
            .details()
            .into_iter()
            .map(|(field, value)| vec![field.to_owned(), value])
            .collect();
        // The detail view shows values whole.
        let mut table = layout(&[], rows, &[], self.table_width(), false);
        table.set_constraints(vec![ColumnConstraint::ContentWidth]);
        self.stdout(&table.to_string());
        Ok(())
    }

    /// Free text that is the command's data (e.g. a completion script).
    pub fn raw(&self, text: &str) {
        self.stdout(text);
    }
}

/// Free text longer than this is cut with an ellipsis in tables.
const MAX_TEXT: usize = 40;

fn width_of(text: &str) -> usize {
    text.chars().count()
}

fn longest_word(text: &str) -> usize {
    text.split_whitespace().map(width_of).max().unwrap_or(0)
}

/// A table that fits `width`: identifiers (cells without spaces: slugs, `@provider/model`,
/// ids) are never broken; free text is cut at [`MAX_TEXT`] characters with an ellipsis
/// and wraps between words; optional columns are left out, in order, until the rest fits.
fn layout(
    headers: &[&str],
    mut rows: Vec<Vec<String>>,
    optional: &[usize],
    width: u16,
    truncate: bool,
) -> Table {
    let columns = headers
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    for row in &mut rows {
        for cell in row.iter_mut() {
            if truncate && cell.contains(char::is_whitespace) && width_of(cell) > MAX_TEXT {
                let cut: String = cell.chars().take(MAX_TEXT - 1).collect();
                *cell = format!("{}…", cut.trim_end());
            }
        }
    }
    let is_identifier = |c: usize| {
        rows.iter().all(|r| {
            r.get(c)
                .is_none_or(|cell| !cell.contains(char::is_whitespace))
        })
    };
    let minimum = |c: usize| {
        let header = headers.get(c).map_or(0, |h| longest_word(h));
        let cells = rows.iter().filter_map(|r| r.get(c));
        let content = if is_identifier(c) {
            cells.map(|cell| width_of(cell)).max().unwrap_or(0)
        } else {
            cells.map(|cell| longest_word(cell)).max().unwrap_or(0)
        };
        header.max(content) + 3
    };
    let mut keep: Vec<usize> = (0..columns).collect();
    let mut dropping = optional.iter();
    while keep.iter().map(|c| minimum(*c)).sum::<usize>() + 1 > usize::from(width) {
        match dropping.next() {
            Some(c) => keep.retain(|k| k != c),
            None => break,
        }
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width);
    if !headers.is_empty() {
        table.set_header(keep.iter().map(|c| headers[*c]).collect::<Vec<_>>());
    }
    for row in &rows {
        table.add_row(
            keep.iter()
                .map(|c| row.get(*c).cloned().unwrap_or_default())
                .collect::<Vec<_>>(),
        );
    }
    let constraints: Vec<ColumnConstraint> = keep
        .iter()
        // Widths include the padding: a column is never narrower than its longest
        // identifier or word.
        .map(|c| ColumnConstraint::LowerBoundary(Width::Fixed((minimum(*c) - 1) as u16)))
        .collect();
    table.set_constraints(constraints);
    table
}

/// `-` for a missing value in tables.
pub fn or_dash(value: Option<&str>) -> String {
    value
        .filter(|v| !v.is_empty())
        .map_or_else(|| "-".to_owned(), str::to_owned)
}
