//! Exit codes and the typed errors that carry them. Mapped in one place.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 1: the operation failed.
    Failed,
    /// 2: usage error or invalid input.
    Usage,
    /// 3: authentication or permission.
    Auth,
    /// 4: not found.
    NotFound,
    /// 5: conflict (already exists, or has dependents).
    Conflict,
    /// 6: server unreachable or timed out, or what it stands on (a 503).
    Unavailable,
    /// 130: cancelled by the user.
    Cancelled,
    /// 10: not an error: `catalog plan --exit-code` found changes to make.
    Changes,
}

impl ErrorKind {
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Failed => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Auth => 3,
            ErrorKind::NotFound => 4,
            ErrorKind::Conflict => 5,
            ErrorKind::Unavailable => 6,
            ErrorKind::Cancelled => 130,
            ErrorKind::Changes => 10,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Failed => "failed",
            ErrorKind::Usage => "usage",
            ErrorKind::Auth => "auth",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Changes => "changes",
        }
    }
}

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    ok
  1    failed
  2    usage error or invalid input
  3    authentication or permission
  4    not found
  5    conflict (already exists, or still in use)
  6    server unreachable or timed out, or its database or Redis unreachable (503)
  10   `catalog plan --exit-code`: the plan has changes (not an error)
  130  cancelled";

/// An error with a meaning for the user: an exit code and, where one helps, a hint.
#[derive(Debug, Clone)]
pub struct CliError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> CliError {
        CliError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(ErrorKind::Usage, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Builds a `CliError` inside an `anyhow::Error`.
pub fn fail(kind: ErrorKind, message: impl Into<String>, hint: Option<&str>) -> anyhow::Error {
    let mut e = CliError::new(kind, message);
    e.hint = hint.map(str::to_owned);
    e.into()
}

/// The exit code an error maps to: its `CliError`'s kind anywhere in the chain, else failed.
pub fn kind_of(e: &anyhow::Error) -> ErrorKind {
    if let Some(t) = e.chain().find_map(|c| c.downcast_ref::<CliError>()) {
        return t.kind;
    }
    // A database that cannot be reached is the unreachable server's exit code.
    if e.chain().any(|c| c.is::<crate::store::Unavailable>())
        || e.chain().any(|c| {
            c.downcast_ref::<crate::store::StoreError>()
                .is_some_and(|s| s.unavailable().is_some())
        })
    {
        return ErrorKind::Unavailable;
    }
    ErrorKind::Failed
}

/// An error as one line for a prompt: its message, then its hint.
pub fn one_line(e: &anyhow::Error) -> String {
    match e.downcast_ref::<CliError>() {
        Some(CliError {
            message,
            hint: Some(hint),
            ..
        }) => format!("{message}; {hint}"),
        _ => format!("{e:#}"),
    }
}

/// Adds `hint` to a typed error (keeping its kind), or wraps any other error as failed with it.
pub fn hint_on_any(e: anyhow::Error, hint: &str) -> anyhow::Error {
    let kind = kind_of(&e);
    let message = format!("{e:#}");
    CliError::new(kind, message).with_hint(hint).into()
}

/// Adds `hint` to an error of kind `kind`; other errors pass through unchanged.
pub fn hint_on(e: anyhow::Error, kind: ErrorKind, hint: impl Into<String>) -> anyhow::Error {
    match e.downcast::<CliError>() {
        Ok(c) if c.kind == kind => c.with_hint(hint).into(),
        Ok(c) => c.into(),
        Err(e) => e,
    }
}
