//! The settings step between clap and the commands: flag > environment > profile file >
//! default, resolved once. Commands never read the environment or files themselves.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::config::{ConfigFile, CredentialStore, CredentialsFile, Profile};
use crate::env_vars as env;
use crate::exit::{fail, ErrorKind};
use crate::printer::{OutputFormat, Printer};

/// The process environment, captured once.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    pub fn from_process() -> Env {
        Env(std::env::vars().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// An environment of exactly these variables (tests).
    pub fn from_vars<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env(vars
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }

    /// An environment variable's value by a name the user chose (e.g. `--key-env VAR`).
    pub fn named(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}

#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
    pub credentials_file: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    fn resolve(env: &Env) -> anyhow::Result<Paths> {
        let (config_dir, data_dir) = match env.get(env::CATALOG_HOME) {
            Some(home) => (PathBuf::from(home), PathBuf::from(home)),
            None => (
                dirs::config_dir()
                    .ok_or_else(|| {
                        anyhow::anyhow!("cannot find a config directory; set CATALOG_HOME")
                    })?
                    .join("catalog"),
                dirs::data_dir()
                    .ok_or_else(|| {
                        anyhow::anyhow!("cannot find a data directory; set CATALOG_HOME")
                    })?
                    .join("catalog"),
            ),
        };
        Ok(Paths {
            config_file: config_dir.join("config.yaml"),
            credentials_file: config_dir.join("credentials.yaml"),
            data_dir,
        })
    }

    pub fn embedded_db(&self) -> PathBuf {
        crate::server::default_db_path(&self.data_dir)
    }
}

/// Where requests go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The in-process server over the local database; acts as the organisation owner.
    Embedded { db_path: PathBuf },
    /// An Admin API over HTTP (`catalog serve`, or Portkey's hosted API).
    Remote {
        base_url: String,
        profile: Option<String>,
    },
}

/// Which credential won for a remote target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    EnvVar,
    Keyring,
    File,
}

impl CredentialSource {
    pub fn describe(&self) -> &'static str {
        match self {
            CredentialSource::EnvVar => "CATALOG_API_KEY environment variable",
            CredentialSource::Keyring => "OS keyring",
            CredentialSource::File => "credentials file (insecure storage)",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub env: Env,
    pub paths: Paths,
    pub config: ConfigFile,
    /// The profile chosen by flag, environment or the config file's current profile.
    pub profile_name: Option<String>,
    pub target: Target,
    /// A profile named by `--profile`/`CATALOG_PROFILE` that is not in the config file.
    pub unknown_profile: Option<String>,
    pub workspace: Option<String>,
    /// The workspace of the profile's workspace API key (commands default to it).
    pub key_workspace: Option<crate::config::KeyWorkspace>,
    pub yes: bool,
    pub can_prompt: bool,
    pub printer: Printer,
    pub master_key: Option<String>,
    /// During a master-key rotation, the key being replaced.
    pub master_key_previous: Option<String>,
    /// Private upstream hosts the in-process gateway may call (`CATALOG_TRUSTED_CUSTOM_HOSTS`).
    pub trusted_custom_hosts: Vec<crate::gateway::hosts::TrustedHost>,
}

impl Settings {
    pub fn resolve(global: &GlobalArgs, env: Env) -> anyhow::Result<Settings> {
        let paths = Paths::resolve(&env)?;
        let config = ConfigFile::load(&paths.config_file)?;
        let profile_name = global
            .profile
            .clone()
            .or_else(|| config.current_profile.clone());
        let profile: Option<&Profile> = profile_name.as_ref().and_then(|p| config.profiles.get(p));
        let target = match (&global.base_url, profile) {
            (Some(url), _) => Target::Remote {
                base_url: normalize_base_url(url),
                profile: profile_name.clone().filter(|_| profile.is_some()),
            },
            (None, Some(p)) => Target::Remote {
                base_url: normalize_base_url(&p.base_url),
                profile: profile_name.clone(),
            },
            (None, None) => Target::Embedded {
                db_path: paths.embedded_db(),
            },
        };
        let unknown_profile = global
            .profile
            .clone()
            .filter(|p| !config.profiles.contains_key(p));
        let workspace = global
            .workspace
            .clone()
            .or_else(|| profile.and_then(|p| p.workspace.clone()));
        // A workspace key's own workspace, learnt at login, while the profile's key is used.
        let key_workspace = match (&target, env.get(env::CATALOG_API_KEY)) {
            (
                Target::Remote {
                    profile: Some(_), ..
                },
                None,
            ) => profile.and_then(|p| p.key_workspace.clone()),
            _ => None,
        };
        let no_input = global.no_input || env.get(env::CI).is_some();
        let can_prompt =
            !no_input && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        let color = match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                env.get(env::NO_COLOR).is_none() && std::io::stderr().is_terminal()
            }
        };
        let printer = Printer {
            format: global.output.unwrap_or(OutputFormat::Table),
            explicit: global.output.is_some(),
            quiet: global.quiet,
            verbose: global.verbose > 0,
            color,
            columns: env.get(env::COLUMNS).and_then(|c| c.trim().parse().ok()),
        };
        let trusted_custom_hosts = env
            .get(env::CATALOG_TRUSTED_CUSTOM_HOSTS)
            .map(|list| {
                list.split(',')
                    .filter(|h| !h.trim().is_empty())
                    .map(|h| h.parse().map_err(anyhow::Error::msg))
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .transpose()
            .map_err(|e| e.context("CATALOG_TRUSTED_CUSTOM_HOSTS"))?
            .unwrap_or_default();
        Ok(Settings {
            trusted_custom_hosts,
            master_key: env.get(env::CATALOG_MASTER_KEY).map(str::to_owned),
            master_key_previous: env.get(env::CATALOG_MASTER_KEY_PREVIOUS).map(str::to_owned),
            env,
            paths,
            config,
            profile_name,
            target,
            unknown_profile,
            workspace,
            key_workspace,
            yes: global.yes,
            can_prompt,
            printer,
        })
    }

    /// Refuses to run against the embedded catalog when the user named a profile that
    /// does not exist: a typo must not silently act on the wrong catalog.
    pub fn check_profile(&self) -> anyhow::Result<()> {
        match (&self.unknown_profile, &self.target) {
            (Some(p), Target::Embedded { .. }) => Err(fail(
                ErrorKind::Usage,
                format!("profile `{p}` does not exist"),
                Some(&format!("log in with `catalog auth login --profile {p} --base-url URL`, or drop --profile to use the embedded catalog")),
            )),
            _ => Ok(()),
        }
    }

    /// The API key for a remote target and where it came from.
    pub fn api_key(&self) -> anyhow::Result<(String, CredentialSource)> {
        if let Some(key) = self.env.get(env::CATALOG_API_KEY) {
            return Ok((key.to_owned(), CredentialSource::EnvVar));
        }
        let Target::Remote { base_url, profile } = &self.target else {
            anyhow::bail!("the embedded catalog needs no API key");
        };
        let Some(profile) = profile else {
            return Err(fail(
                ErrorKind::Auth,
                format!("no API key for {base_url}"),
                Some(
                    "set CATALOG_API_KEY, or run `catalog auth login --base-url URL` to store one",
                ),
            ));
        };
        let store = self
            .config
            .profiles
            .get(profile)
            .map(|p| p.credential)
            .unwrap_or_default();
        let found = match store {
            CredentialStore::Keyring => crate::keyring_access::get(KEYRING_SERVICE, profile)
                .map_err(|e| {
                    fail(
                        ErrorKind::Auth,
                        format!("cannot read the API key of profile `{profile}`: {e}"),
                        Some("set CATALOG_API_KEY, or log in again with `catalog auth login --insecure-storage`"),
                    )
                })?
                .map(|k| (k, CredentialSource::Keyring)),
            CredentialStore::File => CredentialsFile::load(&self.paths.credentials_file)?
                .keys
                .get(profile)
                .cloned()
                .map(|k| (k, CredentialSource::File)),
        };
        found.ok_or_else(|| {
            fail(
                ErrorKind::Auth,
                format!("no API key is stored for profile `{profile}`"),
                Some(&format!(
                    "run `catalog auth login --profile {profile}`, or set CATALOG_API_KEY"
                )),
            )
        })
    }
}

/// The keyring service under which profile keys are stored (account = profile name).
pub const KEYRING_SERVICE: &str = "catalog";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Trims trailing slashes; a URL given without `/v1` gets it.
pub fn normalize_base_url(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    if trimmed.ends_with("/v1") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/v1")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base_urls_gain_v1() {
        assert_eq!(
            super::normalize_base_url("http://127.0.0.1:8787/"),
            "http://127.0.0.1:8787/v1"
        );
        assert_eq!(
            super::normalize_base_url("https://api.portkey.ai/v1"),
            "https://api.portkey.ai/v1"
        );
    }
}
