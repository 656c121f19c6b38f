//! `/policies/usage-limits` and `/policies/rate-limits`.

use serde::Serialize;

use super::{segment, Client};
use crate::api::policies::{
    CreatedPolicy, PolicyEntity, RateLimitPolicy, ResetEntity, UsageLimitPolicy,
};
use crate::domain::policies::Policy;

/// `usage-limits` or `rate-limits`: the path segment of a policy's kind.
fn kind_path(kind: &str) -> &'static str {
    if kind == "rate" {
        "/policies/rate-limits"
    } else {
        "/policies/usage-limits"
    }
}

impl Client {
    /// Policies of both kinds in scope (one workspace's with `workspace_id`), active ones
    /// unless `archived`.
    pub fn list_policies(
        &self,
        workspace_id: Option<&str>,
        archived: bool,
    ) -> anyhow::Result<Vec<Policy>> {
        let mut query: Vec<(&str, &str)> =
            vec![("status", if archived { "all" } else { "active" })];
        if let Some(ws) = workspace_id {
            query.push(("workspace_id", ws));
        }
        let usage: Vec<UsageLimitPolicy> = self.list_all(kind_path("usage"), &query)?;
        let rate: Vec<RateLimitPolicy> = self.list_all(kind_path("rate"), &query)?;
        Ok(usage
            .into_iter()
            .map(Policy::Usage)
            .chain(rate.into_iter().map(Policy::Rate))
            .collect())
    }

    pub fn get_policy(&self, kind: &str, id: &str) -> anyhow::Result<Policy> {
        let path = format!("{}/{}", kind_path(kind), segment(id));
        Ok(if kind == "rate" {
            Policy::Rate(self.get(&path)?)
        } else {
            Policy::Usage(self.get(&format!("{path}?include_usage=true"))?)
        })
    }

    /// Creates a policy of `kind` and reads it back.
    pub fn create_policy<B: Serialize>(&self, kind: &str, body: &B) -> anyhow::Result<Policy> {
        let created: CreatedPolicy = self.post(kind_path(kind), body)?;
        self.get_policy(kind, &created.id)
    }

    /// Updates a policy and reads it back.
    pub fn update_policy<B: Serialize>(
        &self,
        kind: &str,
        id: &str,
        body: &B,
    ) -> anyhow::Result<Policy> {
        self.put(&format!("{}/{}", kind_path(kind), segment(id)), body)?;
        self.get_policy(kind, id)
    }

    pub fn archive_policy(&self, kind: &str, id: &str) -> anyhow::Result<()> {
        self.delete(&format!("{}/{}", kind_path(kind), segment(id)), None)
    }

    /// A policy's value keys with their usage, busiest first.
    pub fn policy_entities(&self, kind: &str, id: &str) -> anyhow::Result<Vec<PolicyEntity>> {
        self.list_all(
            &format!("{}/{}/entities", kind_path(kind), segment(id)),
            &[],
        )
    }

    pub fn reset_policy_entity(&self, id: &str, entity: &str) -> anyhow::Result<()> {
        self.put(
            &format!(
                "{}/{}/entities/{}/reset",
                kind_path("usage"),
                segment(id),
                segment(entity)
            ),
            &ResetEntity {},
        )
    }
}
