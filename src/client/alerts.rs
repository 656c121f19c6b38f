//! `/alerts` (an extension of this server): budget alerts, newest first.

use super::Client;
use crate::api::alerts::{Alert, AlertKind};

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub kind: Option<AlertKind>,
    /// Only delivered (`true`) or undelivered (`false`) alerts.
    pub delivered: Option<bool>,
    /// Only alerts raised at or after this RFC 3339 time.
    pub since: Option<String>,
}

impl Client {
    pub fn list_alerts(&self, filter: &AlertFilter) -> anyhow::Result<Vec<Alert>> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(kind) = filter.kind {
            query.push(("kind", kind.as_str()));
        }
        if let Some(delivered) = filter.delivered {
            query.push(("delivered", if delivered { "true" } else { "false" }));
        }
        if let Some(since) = &filter.since {
            query.push(("since", since));
        }
        self.list_all("/alerts", &query)
    }
}
