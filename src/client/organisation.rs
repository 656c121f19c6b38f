//! `/organisation/settings` (an extension of this catalog's server).

use serde::{Deserialize, Serialize};

use super::Client;

/// Organisation-wide switches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgSettings {
    /// Whether workspace admins (workspace API keys) may create their own integrations.
    #[serde(deserialize_with = "crate::api::lenient::opt_flex_bool", default)]
    pub allow_workspace_integrations: Option<bool>,
    /// The version of each secret reference `catalog apply` last wrote, by
    /// `INTEGRATION/FIELD` (an extension: stored secrets cannot be read back to compare).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_versions: Option<std::collections::BTreeMap<String, u64>>,
}

impl Client {
    pub fn org_settings(&self) -> anyhow::Result<OrgSettings> {
        self.get("/organisation/settings")
    }

    pub fn update_org_settings(&self, body: &OrgSettings) -> anyhow::Result<OrgSettings> {
        self.put("/organisation/settings", body)?;
        self.org_settings()
    }

    /// Records secret versions (`None` forgets one); other entries stay.
    pub fn put_secret_versions(
        &self,
        versions: &std::collections::BTreeMap<String, Option<u64>>,
    ) -> anyhow::Result<()> {
        self.put(
            "/organisation/settings",
            &serde_json::json!({ "secret_versions": versions }),
        )
    }
}
