//! The profile file (`config.yaml` in the config directory): base URL, default workspace
//! and where each profile's key is kept. Keys themselves live in the OS keyring, or in a
//! separate 0600 `credentials.yaml` when `--insecure-storage` was asked for.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Profile {
    pub base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default)]
    pub credential: CredentialStore,
    /// The workspace a workspace API key belongs to, learnt at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_workspace: Option<KeyWorkspace>,
}

/// A workspace key's own workspace: enough to act in it without listing workspaces.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyWorkspace {
    pub id: String,
    pub slug: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CredentialStore {
    #[default]
    Keyring,
    File,
}

impl ConfigFile {
    pub fn load(path: &Path) -> anyhow::Result<ConfigFile> {
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Ok(ConfigFile::default()),
            Ok(text) => serde_yaml::from_str(&text)
                .with_context(|| format!("cannot read the config file {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes atomically (temp file and rename), so a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        write_atomic(path, &serde_yaml::to_string(self)?)
    }
}

/// Profile name → API key, for profiles stored with `--insecure-storage`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CredentialsFile {
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
}

impl CredentialsFile {
    pub fn load(path: &Path) -> anyhow::Result<CredentialsFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_yaml::from_str(&text)
                .with_context(|| format!("cannot read {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CredentialsFile::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        write_atomic(path, &serde_yaml::to_string(self)?)
    }
}

/// Writes a 0600 file through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    crate::files::write_private(&tmp, contents)?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
