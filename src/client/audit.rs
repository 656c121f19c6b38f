//! `/audit-logs` (an extension of this server): the changes made through the Admin API.

use super::{with_query, Client};
use crate::api::audit::AuditRecord;
use crate::api::ListEnvelope;

/// Which audit records to list; every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// RFC 3339 times.
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor: Option<String>,
    pub resource_type: Option<String>,
    /// The object's id or slug.
    pub resource: Option<String>,
    pub workspace_id: Option<String>,
    pub action: Option<String>,
}

impl Client {
    /// The newest `limit` records that match, and how many match in all.
    pub fn list_audit(
        &self,
        filter: &AuditFilter,
        limit: u64,
    ) -> anyhow::Result<(u64, Vec<AuditRecord>)> {
        let mut query: Vec<(String, String)> = [
            ("start_time", &filter.since),
            ("end_time", &filter.until),
            ("actor", &filter.actor),
            ("resource_type", &filter.resource_type),
            ("resource_id", &filter.resource),
            ("workspace_id", &filter.workspace_id),
            ("action", &filter.action),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.to_owned(), v)))
        .collect();
        query.push(("page_size".to_owned(), limit.to_string()));
        let page: ListEnvelope<AuditRecord> = self.get(&with_query("/audit-logs", &query))?;
        Ok((page.total, page.data))
    }

    pub fn audit_record(&self, id: u64) -> anyhow::Result<AuditRecord> {
        self.get(&format!("/audit-logs/{id}"))
    }
}
