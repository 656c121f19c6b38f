//! `GET /whoami` (an extension of this catalog's server): which key is calling and, for
//! a workspace key, its workspace.

use reqwest::Method;
use serde::Deserialize;

use super::Client;
use crate::config::KeyWorkspace;

/// The calling key, as `/whoami` describes it (lenient: unknown fields are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WhoAmI {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub workspace_slug: Option<String>,
}

impl WhoAmI {
    /// The key's own workspace, for workspace keys.
    pub fn workspace(&self) -> Option<KeyWorkspace> {
        let id = self.workspace_id.clone()?;
        Some(KeyWorkspace {
            slug: self.workspace_slug.clone().unwrap_or_else(|| id.clone()),
            id,
        })
    }
}

impl Client {
    /// Who the key is; `None` from a server without the extension (such as the hosted API).
    pub fn whoami(&self) -> anyhow::Result<Option<WhoAmI>> {
        match self.send(Method::GET, "/whoami", None) {
            Ok(reply) => reply.decode().map(Some),
            Err(e) => match e.downcast_ref::<crate::exit::CliError>() {
                Some(c) if c.kind == crate::exit::ErrorKind::NotFound => Ok(None),
                _ => Err(e),
            },
        }
    }
}
