//! Calls through the gateway (`catalog models test`) and its explanations (`catalog check`).

use reqwest::Method;

use super::transport::Streamed;
use super::{segment, with_query, Client};
use crate::api::api_key::{CreateApiKey, KeyKind};
use crate::gateway::check::Explanation;

/// A short-lived workspace key made for one test call, deleted afterwards.
pub struct TemporaryKey {
    pub id: String,
    pub key: String,
}

impl Client {
    /// `GET /check`: whether `workspace_id` can call `model`, step by step.
    pub fn check(
        &self,
        workspace_id: &str,
        model: &str,
        api_key_id: Option<&str>,
    ) -> anyhow::Result<Explanation> {
        let mut params = vec![
            ("model".to_owned(), model.to_owned()),
            ("workspace_id".to_owned(), workspace_id.to_owned()),
        ];
        if let Some(id) = api_key_id {
            params.push(("api_key_id".to_owned(), id.to_owned()));
        }
        self.send(Method::GET, &with_query("/check", &params), None)?
            .decode()
    }

    /// A workspace key with `completions.write` that expires in ten minutes.
    pub fn temporary_key(&self, workspace_id: &str) -> anyhow::Result<TemporaryKey> {
        let expires = chrono::Utc::now() + chrono::Duration::minutes(10);
        let created = self.create_api_key(
            KeyKind::WorkspaceService,
            &CreateApiKey {
                name: "catalog models test".to_owned(),
                scopes: vec![crate::gateway::SCOPE.to_owned()],
                workspace_id: Some(workspace_id.to_owned()),
                description: Some(
                    "Made by `catalog models test` for one call; deleted after it".to_owned(),
                ),
                expires_at: Some(expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                ..Default::default()
            },
        )?;
        Ok(TemporaryKey {
            id: created.id,
            key: created.key,
        })
    }

    pub fn drop_temporary_key(&self, key: &TemporaryKey) -> anyhow::Result<()> {
        self.delete(&format!("/api-keys/{}", segment(&key.id)), None)
    }

    /// One call through the gateway; the body reaches `sink` as it arrives.
    pub fn call_gateway(
        &self,
        path: &str,
        body: &serde_json::Value,
        workspace_id: &str,
        workspace_key: Option<&str>,
        sink: impl FnMut(&[u8]),
    ) -> anyhow::Result<Streamed> {
        self.runtime.block_on(self.transport.call_gateway(
            path,
            body,
            workspace_id,
            workspace_key,
            sink,
        ))
    }

    /// Whether requests go to the in-process catalog.
    pub fn is_embedded(&self) -> bool {
        matches!(self.transport, super::Transport::Embedded { .. })
    }
}
