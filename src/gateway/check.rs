//! Why a workspace can or cannot call a model, step by step, with the gateway's own
//! resolution and without calling upstream (`GET /v1/check`, `catalog check`).

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::resolve::{self, Step, Steps};
use super::upstream::{self, Endpoint};
use super::{hosts, SCOPE};
use crate::api::api_key::ApiKey;
use crate::server::AppState;

/// The answer of `GET /v1/check`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Explanation {
    pub object: String,
    /// The model as asked, `@provider/model`.
    pub model: String,
    pub workspace_id: String,
    /// Whether the gateway would send the call upstream.
    pub admitted: bool,
    /// Each step in the gateway's order; a refused call ends with the failed step.
    pub steps: Vec<Step>,
}

fn key_step(key: &ApiKey, workspace_id: &str) -> Step {
    let fail = |detail: String| Step {
        step: "api key".to_owned(),
        ok: false,
        detail,
    };
    if key.workspace_id.as_deref() != Some(workspace_id) {
        return fail(format!(
            "API key `{}` is not a key of this workspace; calls need a workspace API key of the workspace",
            key.name
        ));
    }
    let expired = key
        .expires_at
        .as_deref()
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .is_some_and(|e| e < chrono::Utc::now());
    if expired {
        return fail(format!(
            "API key `{}` expired; an admin can create a new one with `catalog api-keys create`",
            key.name
        ));
    }
    if !key.scopes.iter().any(|s| s == SCOPE) {
        return fail(format!(
            "API key `{}` lacks the `{SCOPE}` scope; an admin can create a key that holds it with `catalog api-keys create NAME --type workspace --workspace WS --scope {SCOPE}`",
            key.name
        ));
    }
    Step {
        step: "api key".to_owned(),
        ok: true,
        detail: format!("API key `{}` holds `{SCOPE}`", key.name),
    }
}

/// Runs the gateway's resolution for `model` in `workspace_id` and says where it stops.
pub async fn explain(
    state: &AppState,
    workspace_id: &str,
    model: &str,
    key: Option<&ApiKey>,
) -> Explanation {
    let mut steps = Steps::default();
    let done = |steps: Vec<Step>| Explanation {
        object: "check".to_owned(),
        model: model.to_owned(),
        workspace_id: workspace_id.to_owned(),
        admitted: steps.iter().all(|s| s.ok),
        steps,
    };
    let mut leading = Vec::new();
    if let Some(k) = key {
        let step = key_step(k, workspace_id);
        let ok = step.ok;
        leading.push(step);
        if !ok {
            return done(leading);
        }
    }
    let with_leading = |rest: Vec<Step>| leading.iter().cloned().chain(rest).collect::<Vec<_>>();
    let named = match resolve::named(&HeaderMap::new(), Some(model), None) {
        Ok(Some(n)) => n,
        Ok(None) => {
            steps.at("provider");
            let e = super::error::GatewayError::invalid(format!(
                "`{model}` names no AI provider: write it as `@PROVIDER/MODEL`"
            ));
            return done(with_leading(steps.failed(&e)));
        }
        Err(e) => {
            steps.at("provider");
            return done(with_leading(steps.failed(&e)));
        }
    };
    let resolved = {
        let read = state.store.read();
        match read {
            Ok(mut read) => resolve::target(state, &mut *read, workspace_id, &named, &mut steps),
            Err(e) => Err(e.into()),
        }
    };
    let target = match resolved {
        Ok(t) => t,
        Err(e) => return done(with_leading(steps.failed(&e))),
    };
    steps.at("upstream");
    let prepared = upstream::prepare(&target, Endpoint::ChatCompletions, serde_json::Map::new());
    let checked = match (&prepared, &target.custom_host) {
        (Ok(_), Some(host)) => hosts::check(host, &state.gateway.trusted, &target.slug).await,
        _ => Ok(()),
    };
    match prepared.and_then(|p| checked.map(|()| p)) {
        Ok(p) => {
            let url = p.url.split('?').next().unwrap_or(&p.url).to_owned();
            steps.pass(format!("would call {} at {url}", target.service));
            done(with_leading(steps.passed))
        }
        Err(e) => done(with_leading(steps.failed(&e))),
    }
}
