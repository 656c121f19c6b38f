//! Why a workspace can or cannot call a model, step by step, with the gateway's own
//! resolution and without calling upstream (`GET /v1/check`, `catalog check`).

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::admit;
use super::error::GatewayError;
use super::resolve::{self, Step, Steps, Target};
use super::upstream::{self, Endpoint};
use super::{hosts, SCOPE};
use crate::admission::{demand, price::Prices, LevelKind};
use crate::api::api_key::ApiKey;
use crate::domain::usage_report;
use crate::server::AppState;
use crate::store::{Admission, StoreRead};

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
    /// Each limit a typical request of the model meets, in the order admission checks
    /// them (empty when the check stopped before the limits step).
    #[serde(default)]
    pub limits: Vec<Headroom>,
}

/// What one limit leaves for a typical request: 1,000 input tokens and up to 1,000
/// output tokens (fewer when the model allows fewer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Headroom {
    /// `api_key`, `workspace`, `integration`, `workspace_access`, `provider` or
    /// `virtual_key`.
    pub level: String,
    pub name: String,
    /// `budget`, `rate/requests/rpm`, ..., `concurrency`.
    pub limit_key: String,
    /// `usd`, `tokens` or `requests`.
    pub unit: String,
    pub limit: f64,
    /// Left before the limit now, requests in flight taken off.
    pub remaining: f64,
    /// The most a typical request holds here.
    pub request: f64,
    /// This limit would refuse the request (the first that would, in admission's order).
    pub refuses: bool,
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
/// `Err` only when what the explanation stands on (the database, Redis) cannot be
/// reached: that is no answer about the call.
pub async fn explain(
    state: &AppState,
    workspace_id: &str,
    model: &str,
    key: Option<&ApiKey>,
) -> Result<Explanation, GatewayError> {
    let mut steps = Steps::default();
    let explained = |steps: Vec<Step>, limits: Vec<Headroom>| Explanation {
        object: "check".to_owned(),
        model: model.to_owned(),
        workspace_id: workspace_id.to_owned(),
        admitted: steps.iter().all(|s| s.ok),
        steps,
        limits,
    };
    let done = |steps: Vec<Step>| Ok(explained(steps, Vec::new()));
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
    let resolved = state
        .store
        .read()
        .map_err(GatewayError::from)
        .and_then(|mut read| {
            let target = resolve::target(state, &mut *read, workspace_id, &named, &mut steps)?;
            let limits = limits(state, &mut *read, workspace_id, key, &target, &mut steps)?;
            Ok((target, limits))
        });
    let (target, (limits, refusal)) = match resolved {
        Ok(t) => t,
        Err(e) if e.status == axum::http::StatusCode::SERVICE_UNAVAILABLE => return Err(e),
        Err(e) => return done(with_leading(steps.failed(&e))),
    };
    if let Some(refused) = refusal {
        let mut all = with_leading(steps.passed);
        all.push(refused);
        return Ok(explained(all, limits));
    }
    steps.at("upstream");
    let prepared = upstream::prepare(&target, Endpoint::ChatCompletions, serde_json::Map::new());
    let checked = match (&prepared, &target.custom_host) {
        (Ok(_), Some(host)) => {
            hosts::check_resolving(host, &state.gateway.trusted, &target.slug).await
        }
        _ => Ok(()),
    };
    match prepared.and_then(|p| checked.map(|()| p)) {
        Ok(p) => {
            let url = p.url.split('?').next().unwrap_or(&p.url).to_owned();
            steps.pass(format!("would call {} at {url}", target.service));
            Ok(explained(with_leading(steps.passed), limits))
        }
        Err(e) => Ok(explained(with_leading(steps.failed(&e)), limits)),
    }
}

/// The `limits` step: what each level leaves for a typical request of the model, by the
/// gateway's own admission run in a transaction that is rolled back (nothing is held),
/// and the level that would refuse it. The refusing step (if any) comes back apart.
fn limits(
    state: &AppState,
    read: &mut dyn StoreRead,
    workspace_id: &str,
    key: Option<&ApiKey>,
    target: &Target,
    steps: &mut Steps,
) -> Result<(Vec<Headroom>, Option<Step>), GatewayError> {
    steps.at("limits");
    let scope = admit::Scope::read(read, workspace_id)?;
    // Policies as they apply to a request without metadata of its own.
    let levels = admit::levels(&scope, key, target, &Default::default(), None);
    let typical = demand::typical(target.max_output_tokens, target.max_input_tokens);
    let prices = Prices::of(target.pricing.as_ref());
    let ask = admit::ask(&levels, typical, prices, &target.model)?;
    if ask.entries.is_empty() {
        steps.pass("no budget, rate limit or concurrency limit applies to this call");
        return Ok((Vec::new(), None));
    }
    let now = chrono::Utc::now();
    let usage = usage_report::of_levels(read, &levels, now).map_err(|e| match e {
        crate::domain::DomainError::Internal(e)
            if crate::exit::kind_of(&e) == crate::exit::ErrorKind::Unavailable =>
        {
            GatewayError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                format!("{e}; retry shortly"),
            )
        }
        e => GatewayError::internal(format!("cannot read the limits' usage: {e}")),
    })?;
    let admission = state.store.probe(&ask.entries, now)?;
    let headroom: Vec<Headroom> = ask
        .entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let item = usage.iter().find(|u| {
                u.level == entry.level && u.name == entry.name && u.limit_key == entry.limit
            });
            Headroom {
                level: entry.level.clone(),
                name: entry.name.clone(),
                limit_key: entry.limit.clone(),
                unit: item.map_or_else(String::new, |u| u.unit.clone()),
                limit: item.map_or(0.0, |u| u.limit),
                remaining: item.map_or(0.0, |u| u.remaining),
                request: entry.unit.shown(entry.amount),
                refuses: matches!(&admission, Admission::Refused(r) if r.index == i && !r.held_out),
            }
        })
        .collect();
    let sized = format!(
        "a typical request ({} input and up to {} output tokens)",
        typical.input_tokens, typical.output_tokens
    );
    match admission {
        Admission::Refused(r) if !r.held_out => {
            let refused = Step {
                step: "limits".to_owned(),
                ok: false,
                detail: admit::refused(&ask.entries[r.index], &r).message,
            };
            Ok((headroom, Some(refused)))
        }
        Admission::Refused(r) => {
            let entry = &ask.entries[r.index];
            steps.pass(format!(
                "{sized} would wait: requests in flight hold the rest of the {} `{}`'s `{}`",
                LevelKind::parse(&entry.level).map_or("level", LevelKind::label),
                entry.name,
                entry.limit
            ));
            Ok((headroom, None))
        }
        Admission::Admitted => {
            let all = match headroom.len() {
                1 => "the one limit".to_owned(),
                n => format!("all {n} limits"),
            };
            steps.pass(format!("{sized} fits {all}"));
            Ok((headroom, None))
        }
    }
}
