//! Reading secrets without argv: an environment variable named by the user, stdin, a
//! file, or a hidden prompt. A secret given as a plain argument is refused.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use crate::exit::{fail, ErrorKind};
use crate::prompt::Prompter;
use crate::settings::Settings;
use crate::types::KeyValue;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, Args)]
pub struct KeyArgs {
    /// Read the provider key from this environment variable
    #[arg(long, value_name = "VAR", conflicts_with_all = ["key_stdin", "key_file"])]
    pub key_env: Option<String>,

    /// Read the provider key from standard input
    #[arg(long, conflicts_with = "key_file")]
    pub key_stdin: bool,

    /// Read the provider key from a file
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// Refused: a secret in argv is visible in `ps` and shell history
    #[arg(long, hide = true, value_name = "SECRET")]
    pub key: Option<String>,
}

impl KeyArgs {
    pub fn given(&self) -> bool {
        self.key_env.is_some() || self.key_stdin || self.key_file.is_some() || self.key.is_some()
    }

    /// The key from the source the user chose, `None` if no source was given.
    pub fn read(&self, settings: &Settings) -> anyhow::Result<Option<String>> {
        if self.key.is_some() {
            return Err(fail(
                ErrorKind::Usage,
                "a secret cannot be passed as a command-line value",
                Some("use `--key-env VAR`, `--key-stdin` or `--key-file PATH`; argv is visible to other users and kept in shell history"),
            ));
        }
        let value = if let Some(var) = &self.key_env {
            Some(from_env(settings, var, "--key-env")?)
        } else if self.key_stdin {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            Some(text)
        } else if let Some(path) = &self.key_file {
            Some(from_file(path, "--key-file")?)
        } else {
            None
        };
        match value.map(|v| v.trim().to_owned()) {
            Some(v) if v.is_empty() => {
                Err(fail(ErrorKind::Usage, "the provider key is empty", None))
            }
            other => Ok(other),
        }
    }

    /// The key from a flag, or from a hidden prompt when a person is there.
    pub fn read_or_prompt(
        &self,
        settings: &Settings,
        prompter: &dyn Prompter,
    ) -> anyhow::Result<String> {
        match self.read(settings)? {
            Some(k) => Ok(k),
            None => prompter.secret(
                "provider API key",
                "--key-env VAR, --key-stdin or --key-file PATH",
            ),
        }
    }
}

/// A secret from the environment variable `var`, named by `flag`.
pub fn from_env(settings: &Settings, var: &str, flag: &str) -> anyhow::Result<String> {
    settings
        .env
        .named(var)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            fail(
                ErrorKind::Usage,
                format!("the environment variable `{var}` given to `{flag}` is not set or empty"),
                None,
            )
        })
}

/// A secret from the file at `path` (trimmed), named by `flag`.
pub fn from_file(path: &std::path::Path, flag: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(
            ErrorKind::Usage,
            format!("cannot read `{flag}` {}: {e}", path.display()),
            None,
        )
    })?;
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(fail(
            ErrorKind::Usage,
            format!("`{flag}` {} is empty", path.display()),
            None,
        ));
    }
    Ok(text)
}

/// Header names that carry credentials: their values never come from argv.
pub fn is_credential_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization"
        || n == "proxy-authorization"
        || n == "cookie"
        || ["key", "token", "secret", "password", "auth"]
            .iter()
            .any(|w| n.contains(w))
}

/// Headers sent to a provider: plain values in argv, credentials from the environment or
/// a file only.
#[derive(Debug, Clone, Default, Args)]
pub struct HeaderArgs {
    /// Header sent to the provider, NAME=VALUE (repeatable; not for credentials: names
    /// like authorization, *key*, *token*, *secret* need --header-env or --header-file)
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<KeyValue>,
    /// Header whose value is read from an environment variable, NAME=VAR (repeatable)
    #[arg(long = "header-env", value_name = "NAME=VAR")]
    pub header_env: Vec<KeyValue>,
    /// Header whose value is read from a file, NAME=PATH (repeatable)
    #[arg(long = "header-file", value_name = "NAME=PATH")]
    pub header_file: Vec<KeyValue>,
}

impl HeaderArgs {
    /// The headers, by name; a credential-like name given a value in argv is refused.
    pub fn collect(&self, settings: &Settings) -> anyhow::Result<Map<String, Value>> {
        let mut out = Map::new();
        for kv in &self.headers {
            if is_credential_header(&kv.key) {
                return Err(fail(
                    ErrorKind::Usage,
                    format!(
                        "the value of header `{}` is a credential and cannot be passed in argv",
                        kv.key
                    ),
                    Some(&format!(
                        "use `--header-env {k}=VAR` or `--header-file {k}=PATH`",
                        k = kv.key
                    )),
                ));
            }
            out.insert(kv.key.clone(), Value::String(kv.value.clone()));
        }
        for kv in &self.header_env {
            let value = from_env(settings, &kv.value, &format!("--header-env {}", kv.key))?;
            out.insert(kv.key.clone(), Value::String(value));
        }
        for kv in &self.header_file {
            let path = std::path::Path::new(&kv.value);
            let value = from_file(path, &format!("--header-file {}", kv.key))?;
            out.insert(kv.key.clone(), Value::String(value));
        }
        Ok(out)
    }

    /// The names of headers whose values came from the environment or files.
    pub fn secret_names(&self) -> impl Iterator<Item = String> + '_ {
        self.header_env
            .iter()
            .chain(&self.header_file)
            .map(|kv| kv.key.clone())
    }
}
