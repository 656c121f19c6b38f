//! `GET /usage` (an extension): every limit in a scope with its live usage.

use super::Client;
use crate::api::usage::UsageItem;

/// What a usage report covers: nothing named is the whole organisation.
#[derive(Debug, Clone, Default)]
pub struct UsageQuery<'a> {
    pub workspace_id: Option<&'a str>,
    /// An integration's slug or id.
    pub integration: Option<&'a str>,
    /// An AI provider's slug (with `workspace_id`).
    pub provider: Option<&'a str>,
}

impl Client {
    pub fn usage(&self, query: &UsageQuery<'_>) -> anyhow::Result<Vec<UsageItem>> {
        let params: Vec<(&str, &str)> = [
            ("workspace_id", query.workspace_id),
            ("integration", query.integration),
            ("provider", query.provider),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
        self.list_all("/usage", &params)
    }
}
