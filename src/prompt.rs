//! Prompts, only when a person is provably there (see `Settings::can_prompt`).
//!
//! [`Prompter`] is the seam between the wizards and the terminal: [`DialoguerPrompter`]
//! draws the prompts with dialoguer, [`ScriptedPrompter`] answers them from a script in
//! tests. What happens when nobody can answer (an error naming the flag to pass) is
//! written once, in the methods on `dyn Prompter`, not in each implementation.

mod scripted;

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Password, Select};

use crate::exit::{fail, CliError, ErrorKind};
use crate::printer::Printer;
use crate::settings::Settings;

pub use scripted::ScriptedPrompter;

/// A free-text question as the terminal asks it.
pub struct TextQuestion<'a> {
    pub label: &'a str,
    pub default: Option<&'a str>,
    /// Whether an empty answer is an answer when there is no default.
    pub allow_empty: bool,
    /// Checks an answer as typed: an error is shown and the question asked again.
    pub check: &'a dyn Fn(&str) -> Result<(), String>,
}

/// The questions a terminal can ask, one method a kind of prompt.
///
/// Object-safe on purpose: `Ctx` holds one as `Box<dyn Prompter>` (the terminal's for
/// people, a script's in tests) and the wizards take `&dyn Prompter`. A generic
/// parameter would have to be threaded through `Ctx` and every command for the one place
/// that swaps it, and each wizard would be compiled once a prompter. The typed helpers
/// (`parsed`, `parsed_optional`) are generic, so they live on `dyn Prompter` instead,
/// with the missing-flag errors, and are written once for every implementation.
pub trait Prompter {
    /// Whether a person is there to answer.
    fn can(&self) -> bool;
    /// `--yes`: destructive verbs go ahead without asking.
    fn assume_yes(&self) -> bool;
    fn ask_text(&self, q: &TextQuestion<'_>) -> anyhow::Result<String>;
    /// A hidden answer.
    fn ask_secret(&self, label: &str) -> anyhow::Result<String>;
    fn ask_select(&self, label: &str, items: &[String], default: usize) -> anyhow::Result<usize>;
    fn ask_multi_select(
        &self,
        label: &str,
        items: &[String],
        checked: &[bool],
    ) -> anyhow::Result<Vec<usize>>;
    fn ask_confirm(&self, question: &str, default: bool) -> anyhow::Result<bool>;
    /// A line for the person at the prompt (stderr).
    fn status_line(&self, text: &str);
}

/// The error for a value that is missing and cannot be asked for.
pub fn missing(what: &str, flag: &str) -> anyhow::Error {
    fail(
        ErrorKind::Usage,
        format!("missing {what}: pass `{flag}`"),
        Some("prompts are off (no terminal, --no-input, CATALOG_NO_INPUT or CI)"),
    )
}

/// A prompt left with Ctrl-C or Escape (exit 130).
pub fn interrupted(why: impl std::fmt::Display) -> anyhow::Error {
    CliError::new(ErrorKind::Cancelled, format!("cancelled ({why})")).into()
}

fn any_answer(_: &str) -> Result<(), String> {
    Ok(())
}

/// What the wizards call: each value names the flag that gives it without a prompt.
impl dyn Prompter + '_ {
    fn ensure(&self, what: &str, flag: &str) -> anyhow::Result<()> {
        if self.can() {
            Ok(())
        } else {
            Err(missing(what, flag))
        }
    }

    pub fn text(&self, what: &str, flag: &str, default: Option<&str>) -> anyhow::Result<String> {
        self.ensure(what, flag)?;
        self.ask_text(&TextQuestion {
            label: &capitalize(what),
            default,
            allow_empty: false,
            check: &any_answer,
        })
    }

    /// A typed answer, checked at the prompt: a bad answer says why and asks again.
    pub fn parsed<T, E: std::fmt::Display>(
        &self,
        what: &str,
        flag: &str,
        default: Option<&str>,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> anyhow::Result<T> {
        self.ensure(what, flag)?;
        let text = self.ask_text(&TextQuestion {
            label: &capitalize(what),
            default,
            allow_empty: false,
            check: &|t| parse(t.trim()).map(|_| ()).map_err(|e| e.to_string()),
        })?;
        parse(text.trim()).map_err(|e| CliError::usage(e.to_string()).into())
    }

    /// As [`parsed`](#method.parsed), where an empty answer is `None`.
    pub fn parsed_optional<T, E: std::fmt::Display>(
        &self,
        what: &str,
        flag: &str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> anyhow::Result<Option<T>> {
        self.ensure(what, flag)?;
        let text = self.ask_text(&TextQuestion {
            label: &capitalize(what),
            default: None,
            allow_empty: true,
            check: &|t| match t.trim() {
                "" => Ok(()),
                t => parse(t).map(|_| ()).map_err(|e| e.to_string()),
            },
        })?;
        match text.trim() {
            "" => Ok(None),
            t => parse(t)
                .map(Some)
                .map_err(|e| CliError::usage(e.to_string()).into()),
        }
    }

    pub fn optional_text(&self, what: &str, flag: &str) -> anyhow::Result<Option<String>> {
        self.ensure(what, flag)?;
        let value = self.ask_text(&TextQuestion {
            label: &format!("{} (optional)", capitalize(what)),
            default: None,
            allow_empty: true,
            check: &any_answer,
        })?;
        Ok(Some(value).filter(|v| !v.trim().is_empty()))
    }

    pub fn secret(&self, what: &str, flag: &str) -> anyhow::Result<String> {
        self.ensure(what, flag)?;
        self.ask_secret(&capitalize(what))
    }

    pub fn select(
        &self,
        what: &str,
        flag: &str,
        items: &[String],
        default: usize,
    ) -> anyhow::Result<usize> {
        self.ensure(what, flag)?;
        self.ask_select(&capitalize(what), items, default)
    }

    pub fn multi_select(
        &self,
        what: &str,
        flag: &str,
        items: &[String],
        checked: &[bool],
    ) -> anyhow::Result<Vec<usize>> {
        self.ensure(what, flag)?;
        self.ask_multi_select(&capitalize(what), items, checked)
    }

    pub fn confirm(&self, question: &str, default: bool) -> anyhow::Result<bool> {
        self.ensure("a confirmation", "--yes")?;
        self.ask_confirm(question, default)
    }

    /// For destructive verbs: `--yes`, or an explicit yes at a prompt.
    pub fn confirm_destructive(&self, question: &str) -> anyhow::Result<()> {
        if self.assume_yes() {
            return Ok(());
        }
        if !self.can() {
            return Err(fail(
                ErrorKind::Usage,
                "refusing to go ahead without confirmation",
                Some("pass `--yes` to confirm when there is no terminal"),
            ));
        }
        if self.confirm(question, false)? {
            Ok(())
        } else {
            Err(CliError::new(ErrorKind::Cancelled, "cancelled; nothing was changed").into())
        }
    }
}

/// The terminal: dialoguer's prompts on stderr, when settings say a person is there.
pub struct DialoguerPrompter {
    can: bool,
    yes: bool,
    printer: Printer,
}

impl DialoguerPrompter {
    pub fn new(settings: &Settings) -> DialoguerPrompter {
        DialoguerPrompter {
            can: settings.can_prompt,
            yes: settings.yes,
            printer: settings.printer.clone(),
        }
    }
}

fn theme() -> ColorfulTheme {
    ColorfulTheme::default()
}

impl Prompter for DialoguerPrompter {
    fn can(&self) -> bool {
        self.can
    }

    fn assume_yes(&self) -> bool {
        self.yes
    }

    fn ask_text(&self, q: &TextQuestion<'_>) -> anyhow::Result<String> {
        let theme = theme();
        let mut input = Input::<String>::with_theme(&theme)
            .with_prompt(q.label)
            .allow_empty(q.allow_empty)
            .validate_with(|t: &String| (q.check)(t));
        if let Some(d) = q.default {
            input = input.default(d.to_owned());
        }
        input.interact_text().map_err(interrupted)
    }

    fn ask_secret(&self, label: &str) -> anyhow::Result<String> {
        Password::with_theme(&theme())
            .with_prompt(label)
            .interact()
            .map_err(interrupted)
    }

    fn ask_select(&self, label: &str, items: &[String], default: usize) -> anyhow::Result<usize> {
        Select::with_theme(&theme())
            .with_prompt(label)
            .items(items)
            .default(default)
            .interact()
            .map_err(interrupted)
    }

    fn ask_multi_select(
        &self,
        label: &str,
        items: &[String],
        checked: &[bool],
    ) -> anyhow::Result<Vec<usize>> {
        MultiSelect::with_theme(&theme())
            .with_prompt(label)
            .items(items)
            .defaults(checked)
            .interact()
            .map_err(interrupted)
    }

    fn ask_confirm(&self, question: &str, default: bool) -> anyhow::Result<bool> {
        Confirm::with_theme(&theme())
            .with_prompt(question)
            .default(default)
            .interact()
            .map_err(interrupted)
    }

    fn status_line(&self, text: &str) {
        self.printer.notice(text);
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
