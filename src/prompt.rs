//! Prompts, only when a person is provably there (see `Settings::can_prompt`).

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Password, Select};

use crate::exit::{fail, CliError, ErrorKind};
use crate::settings::Settings;

fn theme() -> ColorfulTheme {
    ColorfulTheme::default()
}

/// The error for a value that is missing and cannot be asked for.
pub fn missing(what: &str, flag: &str) -> anyhow::Error {
    fail(
        ErrorKind::Usage,
        format!("missing {what}: pass `{flag}`"),
        Some("prompts are off (no terminal, --no-input, CATALOG_NO_INPUT or CI)"),
    )
}

fn interrupted(e: dialoguer::Error) -> anyhow::Error {
    CliError::new(ErrorKind::Cancelled, format!("cancelled ({e})")).into()
}

pub struct Prompter<'a> {
    settings: &'a Settings,
}

impl<'a> Prompter<'a> {
    pub fn new(settings: &'a Settings) -> Prompter<'a> {
        Prompter { settings }
    }

    pub fn can(&self) -> bool {
        self.settings.can_prompt
    }

    fn ensure(&self, what: &str, flag: &str) -> anyhow::Result<()> {
        if self.can() {
            Ok(())
        } else {
            Err(missing(what, flag))
        }
    }

    pub fn text(&self, what: &str, flag: &str, default: Option<&str>) -> anyhow::Result<String> {
        self.ensure(what, flag)?;
        let theme = theme();
        let mut input = Input::<String>::with_theme(&theme).with_prompt(capitalize(what));
        if let Some(d) = default {
            input = input.default(d.to_owned());
        }
        input.interact_text().map_err(interrupted)
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
        let theme = theme();
        let mut input = Input::<String>::with_theme(&theme)
            .with_prompt(capitalize(what))
            .validate_with(|t: &String| parse(t.trim()).map(|_| ()).map_err(|e| e.to_string()));
        if let Some(d) = default {
            input = input.default(d.to_owned());
        }
        let text = input.interact_text().map_err(interrupted)?;
        parse(text.trim()).map_err(|e| CliError::usage(e.to_string()).into())
    }

    /// As [`Prompter::parsed`], where an empty answer is `None`.
    pub fn parsed_optional<T, E: std::fmt::Display>(
        &self,
        what: &str,
        flag: &str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> anyhow::Result<Option<T>> {
        self.ensure(what, flag)?;
        let theme = theme();
        let text = Input::<String>::with_theme(&theme)
            .with_prompt(capitalize(what))
            .allow_empty(true)
            .validate_with(|t: &String| {
                if t.trim().is_empty() {
                    Ok(())
                } else {
                    parse(t.trim()).map(|_| ()).map_err(|e| e.to_string())
                }
            })
            .interact_text()
            .map_err(interrupted)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        parse(text.trim())
            .map(Some)
            .map_err(|e| CliError::usage(e.to_string()).into())
    }

    pub fn optional_text(&self, what: &str, flag: &str) -> anyhow::Result<Option<String>> {
        self.ensure(what, flag)?;
        let theme = theme();
        let value: String = Input::with_theme(&theme)
            .with_prompt(format!("{} (optional)", capitalize(what)))
            .allow_empty(true)
            .interact_text()
            .map_err(interrupted)?;
        Ok(Some(value).filter(|v| !v.trim().is_empty()))
    }

    pub fn secret(&self, what: &str, flag: &str) -> anyhow::Result<String> {
        self.ensure(what, flag)?;
        Password::with_theme(&theme())
            .with_prompt(capitalize(what))
            .interact()
            .map_err(interrupted)
    }

    pub fn select(
        &self,
        what: &str,
        flag: &str,
        items: &[String],
        default: usize,
    ) -> anyhow::Result<usize> {
        self.ensure(what, flag)?;
        Select::with_theme(&theme())
            .with_prompt(capitalize(what))
            .items(items)
            .default(default)
            .interact()
            .map_err(interrupted)
    }

    pub fn multi_select(
        &self,
        what: &str,
        flag: &str,
        items: &[String],
        checked: &[bool],
    ) -> anyhow::Result<Vec<usize>> {
        self.ensure(what, flag)?;
        MultiSelect::with_theme(&theme())
            .with_prompt(capitalize(what))
            .items(items)
            .defaults(checked)
            .interact()
            .map_err(interrupted)
    }

    /// A line for the person at the prompt (stderr).
    pub fn status_line(&self, text: &str) {
        self.settings.printer.notice(text);
    }

    pub fn confirm(&self, question: &str, default: bool) -> anyhow::Result<bool> {
        self.ensure("a confirmation", "--yes")?;
        Confirm::with_theme(&theme())
            .with_prompt(question)
            .default(default)
            .interact()
            .map_err(interrupted)
    }

    /// For destructive verbs: `--yes`, or an explicit yes at a prompt.
    pub fn confirm_destructive(&self, question: &str) -> anyhow::Result<()> {
        if self.settings.yes {
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

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
