//! `/organisation/settings` (an extension of this catalog's server).

use serde::{Deserialize, Serialize};

use super::Client;

/// Organisation-wide switches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgSettings {
    /// Whether workspace admins (workspace API keys) may create their own integrations.
    #[serde(deserialize_with = "crate::api::lenient::opt_flex_bool", default)]
    pub allow_workspace_integrations: Option<bool>,
}

impl Client {
    pub fn org_settings(&self) -> anyhow::Result<OrgSettings> {
        self.get("/organisation/settings")
    }

    pub fn update_org_settings(&self, body: &OrgSettings) -> anyhow::Result<OrgSettings> {
        self.put("/organisation/settings", body)?;
        self.org_settings()
    }
}
