//! `/policies/usage-limits` and `/policies/rate-limits`: budgets and rate limits for the
//! requests that match a policy's conditions, one counter per value of its group.
//! Organisation-wide policies need an organisation key; a workspace key manages its own
//! workspace's policies. Deleting a policy archives it: it stops applying at once.

use axum::extract::State;
use axum::Extension;
use chrono::Utc;

use super::now;
use crate::api::policies::{
    CreateRatePolicy, CreateUsagePolicy, CreatedPolicy, EntityUsage, PolicyCondition, PolicyEntity,
    RateLimitPolicy, ResetEntity, UpdateRatePolicy, UpdateUsagePolicy, UsageLimitPolicy,
};
use crate::api::usage::UsageState;
use crate::api::ListEnvelope;
use crate::domain::policies::{self, Policy};
use crate::server::auth::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::{Body, Path, Query};
use crate::server::json::Json;
use crate::server::AppState;
use crate::store::{PolicyQuery, Unit, UsageScope, BUDGET};

/// The workspace a new policy is limited to: the one named, a workspace key's own, or
/// none (organisation-wide, organisation keys only).
fn scope_of(
    state: &AppState,
    principal: &Principal,
    given: Option<&str>,
) -> ApiResult<Option<String>> {
    match (
        given.filter(|g| !g.is_empty()),
        principal.pinned_workspace(),
    ) {
        (Some(w), _) => Ok(Some(super::workspaces::visible(state, principal, w)?.id)),
        (None, Some(own)) => Ok(Some(own.to_owned())),
        (None, None) => Ok(None),
    }
}

/// Conditions as stored: keys checked, a provider without its `@`, a workspace by id.
fn normalised(
    state: &AppState,
    principal: &Principal,
    conditions: Vec<PolicyCondition>,
) -> ApiResult<Vec<PolicyCondition>> {
    conditions
        .into_iter()
        .map(|mut c| {
            c.value = c.value.trim().to_owned();
            match c.key.as_str() {
                "provider" => c.value = c.value.trim_start_matches('@').to_owned(),
                "api_key" if c.value != "*" => c.value = api_key_id(state, principal, &c.value)?,
                "workspace_id" if c.value != "*" => {
                    c.value = super::workspaces::visible(state, principal, &c.value)
                        .map_err(|_| {
                            ApiError::invalid(format!(
                                "condition `workspace_id` names no workspace: `{}`",
                                c.value.chars().take(64).collect::<String>()
                            ))
                        })?
                        .id
                }
                _ => {}
            }
            Ok(c)
        })
        .collect()
}

/// An API key named by id, or by its name when one key visible to the caller has it.
fn api_key_id(state: &AppState, principal: &Principal, given: &str) -> ApiResult<String> {
    let mut read = state.store.read()?;
    if read.api_key(given)?.is_some() {
        return Ok(given.to_owned());
    }
    let (_, keys) = read.api_keys(&crate::store::ApiKeyQuery {
        workspace_id: principal.pinned_workspace().map(str::to_owned),
        page: crate::store::Page {
            current_page: 0,
            page_size: u64::MAX,
        },
        ..Default::default()
    })?;
    let named: Vec<_> = keys.iter().filter(|k| k.name == given).collect();
    match named.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(ApiError::invalid(format!(
            "condition `api_key` names no API key: `{}` is neither a key's id nor its name",
            given.chars().take(64).collect::<String>()
        ))),
        _ => Err(ApiError::invalid(format!(
            "condition `api_key`: {} keys are named `{given}`; name one by id",
            named.len()
        ))),
    }
}

fn check_organisation(state: &AppState, organisation_id: Option<&str>) -> ApiResult<()> {
    match organisation_id {
        Some(o) if !o.is_empty() && o != state.store.organisation_id() => Err(ApiError::invalid(
            "`organisation_id` is not this organisation's id; leave it out",
        )),
        _ => Ok(()),
    }
}

/// A name is one active policy's in its scope (the organisation, or a workspace).
fn unique_name(
    state: &AppState,
    name: Option<&String>,
    workspace_id: Option<&str>,
    except: Option<&str>,
) -> ApiResult<()> {
    let Some(name) = name else { return Ok(()) };
    let taken = state
        .store
        .read()?
        .policies(&PolicyQuery {
            status: Some("active".to_owned()),
            page: crate::store::Page {
                current_page: 0,
                page_size: u64::MAX,
            },
            ..Default::default()
        })?
        .1
        .into_iter()
        .find(|p| {
            p.workspace_id() == workspace_id
                && Some(p.id()) != except
                && matches!(p, Policy::Usage(UsageLimitPolicy { name: Some(n), .. }) | Policy::Rate(RateLimitPolicy { name: Some(n), .. }) if n == name)
        });
    match taken {
        Some(p) => Err(ApiError::conflict(format!(
            "a policy named `{name}` already exists here ({}); choose another name, or change that one",
            p.id()
        ))),
        None => Ok(()),
    }
}

/// What an update of either kind changes alike: what is fixed is refused, a new name
/// must be free in the policy's scope, new conditions are checked and normalised.
fn update_matching(
    state: &AppState,
    principal: &Principal,
    policy: &mut Policy,
    fixed_fields: [(&str, bool); 3],
    name: Option<String>,
    conditions: Option<Vec<PolicyCondition>>,
) -> ApiResult<()> {
    fixed(&fixed_fields)?;
    let (id, workspace) = (
        policy.id().to_owned(),
        policy.workspace_id().map(str::to_owned),
    );
    if let Some(name) = &name {
        unique_name(state, Some(name), workspace.as_deref(), Some(&id))?;
    }
    let group_by = policy.group_by().to_vec();
    let (current_name, current_conditions) = policy.matching_mut();
    if let Some(name) = name {
        *current_name = Some(name);
    }
    if let Some(conditions) = conditions {
        policies::validate_keys(&conditions, &group_by).map_err(ApiError::invalid)?;
        *current_conditions = normalised(state, principal, conditions)?;
    }
    Ok(())
}

/// Refuses a change to what a policy counts or where: that is a new policy.
fn fixed(fields: &[(&str, bool)]) -> ApiResult<()> {
    match fields.iter().find(|(_, given)| *given) {
        Some((field, _)) => Err(ApiError::invalid(format!(
            "`{field}` cannot change once a policy exists; create a new policy and archive this one"
        ))),
        None => Ok(()),
    }
}

/// A policy the caller may see, of the route's kind.
fn visible(state: &AppState, principal: &Principal, id: &str, kind: &str) -> ApiResult<Policy> {
    let missing = || ApiError::not_found(format!("{kind} policy `{id}` not found"));
    let policy = state.store.read()?.policy(id)?.ok_or_else(missing)?;
    if policy.kind() != kind {
        return Err(missing());
    }
    if let Some(own) = principal.pinned_workspace() {
        if policy.workspace_id() != Some(own) {
            return Err(missing());
        }
    }
    Ok(policy)
}

/// A policy the caller may change: an organisation-wide one needs an organisation key.
fn changeable(state: &AppState, principal: &Principal, id: &str, kind: &str) -> ApiResult<Policy> {
    let policy = visible(state, principal, id, kind)?;
    if policy.workspace_id().is_none() {
        principal.require_organisation("organisation-wide policies")?;
    }
    Ok(policy)
}

fn list_query(
    state: &AppState,
    principal: &Principal,
    query: &Query,
    kind: &'static str,
) -> ApiResult<PolicyQuery> {
    let workspace_id = match query.get("workspace_id") {
        Some(w) => Some(super::workspaces::visible(state, principal, w)?.id),
        None => principal.pinned_workspace().map(str::to_owned),
    };
    let status = match query.one_of("status", &["active", "archived", "all"])? {
        None => Some("active".to_owned()),
        Some("all") => None,
        Some(s) => Some(s.to_owned()),
    };
    Ok(PolicyQuery {
        kind: Some(kind),
        workspace_id,
        status,
        page: query.page(50)?,
    })
}

/// Every policy `q` selects, whatever its page (lists filter further, then page).
fn every(state: &AppState, q: &PolicyQuery) -> ApiResult<Vec<Policy>> {
    let all = PolicyQuery {
        page: crate::store::Page {
            current_page: 0,
            page_size: u64::MAX,
        },
        ..q.clone()
    };
    Ok(state.store.read()?.policies(&all)?.1)
}

/// A choice parameter read as its type (every allowed value names one).
fn choice<T: serde::de::DeserializeOwned>(
    query: &Query,
    name: &str,
    allowed: &[&str],
) -> ApiResult<Option<T>> {
    query
        .one_of(name, allowed)?
        .map(|v| {
            serde_json::from_value(serde_json::Value::String(v.to_owned()))
                .map_err(|e| ApiError::internal(format!("`{name}` `{v}`: {e}")))
        })
        .transpose()
}

// ---- usage-limit policies ----

pub async fn create_usage(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Body(body): Body<CreateUsagePolicy>,
) -> ApiResult<Json<CreatedPolicy>> {
    check_organisation(&state, body.organisation_id.as_deref())?;
    policies::validate_keys(&body.conditions, &body.group_by).map_err(ApiError::invalid)?;
    let at = now();
    let policy = UsageLimitPolicy {
        id: uuid::Uuid::new_v4().to_string(),
        name: body.name,
        conditions: normalised(&state, &principal, body.conditions)?,
        group_by: body.group_by,
        kind: body.kind,
        credit_limit: body.credit_limit,
        alert_threshold: body.alert_threshold,
        periodic_reset: body.periodic_reset,
        periodic_reset_days: body.periodic_reset_days,
        status: "active".to_owned(),
        workspace_id: scope_of(&state, &principal, body.workspace_id.as_deref())?,
        organisation_id: Some(state.store.organisation_id().to_owned()),
        created_at: Some(at.clone()),
        last_updated_at: Some(at),
        value_key_usage_map: None,
        object: "usage-limits-policy".to_owned(),
    };
    policies::validate_budget(&policy).map_err(ApiError::invalid)?;
    unique_name(
        &state,
        policy.name.as_ref(),
        policy.workspace_id.as_deref(),
        None,
    )?;
    let mut tx = state.begin()?;
    tx.insert_policy(&Policy::Usage(policy.clone()))?;
    tx.commit()?;
    Ok(Json(CreatedPolicy {
        id: policy.id,
        object: policy.object,
    }))
}

pub async fn list_usage(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<UsageLimitPolicy>>> {
    let kind =
        choice::<crate::api::limits::BudgetType>(&query, "type", &["cost", "tokens", "requests"])?;
    let q = list_query(&state, &principal, &query, "usage")?;
    let matching: Vec<UsageLimitPolicy> = every(&state, &q)?
        .into_iter()
        .filter_map(|p| match p {
            Policy::Usage(u) if kind.is_none_or(|k| u.kind == k) => Some(u),
            _ => None,
        })
        .collect();
    let total = matching.len() as u64;
    Ok(Json(ListEnvelope::new(total, q.page.slice(matching))))
}

pub async fn retrieve_usage(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    query: Query,
) -> ApiResult<Json<UsageLimitPolicy>> {
    let policy = visible(&state, &principal, &id, "usage")?;
    let include = match query.typed("include_usage")? {
        None => false,
        Some(v) => crate::api::lenient::flex_bool(&serde_json::Value::String(v.to_owned()))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "query parameter `include_usage` must be true or false, got `{v}`"
                ))
            })?,
    };
    let map = if include {
        let entities = policies::entities(&mut *state.store.read()?, &policy, Utc::now())?;
        Some(
            entities
                .into_iter()
                .map(|e| {
                    (
                        e.value_key,
                        EntityUsage {
                            current_usage: e.current_usage,
                            status: e.status,
                        },
                    )
                })
                .collect(),
        )
    } else {
        None
    };
    let Policy::Usage(mut u) = policy else {
        unreachable!("visible() checked the kind")
    };
    u.value_key_usage_map = map;
    Ok(Json(u))
}

pub async fn update_usage(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Body(body): Body<UpdateUsagePolicy>,
) -> ApiResult<Json<UsageLimitPolicy>> {
    let mut policy = changeable(&state, &principal, &id, "usage")?;
    update_matching(
        &state,
        &principal,
        &mut policy,
        body.fixed.given(),
        body.name,
        body.conditions,
    )?;
    let Policy::Usage(mut p) = policy else {
        unreachable!("changeable() checked the kind")
    };
    if let Some(limit) = body.credit_limit {
        p.credit_limit = limit;
    }
    p.alert_threshold = body.alert_threshold.apply(p.alert_threshold);
    p.periodic_reset = body.periodic_reset.apply(p.periodic_reset);
    p.periodic_reset_days = body.periodic_reset_days.apply(p.periodic_reset_days);
    p.status = status(body.status.as_deref(), p.status)?;
    policies::validate_budget(&p).map_err(ApiError::invalid)?;
    p.last_updated_at = Some(now());
    let mut tx = state.begin()?;
    tx.save_policy(&Policy::Usage(p.clone()))?;
    if let Some(value) = body.reset_usage_for_value {
        reset(&mut *tx, &p, &value)?;
    }
    tx.commit()?;
    Ok(Json(p))
}

fn status(given: Option<&str>, current: String) -> ApiResult<String> {
    match given {
        None => Ok(current),
        Some(s @ ("active" | "archived")) => Ok(s.to_owned()),
        Some(other) => Err(ApiError::invalid(format!(
            "`status` must be `active` or `archived`, got `{}`",
            other.chars().take(64).collect::<String>()
        ))),
    }
}

/// Starts a value key's counter over, in the transaction `tx`.
fn reset(
    tx: &mut dyn crate::store::StoreTx,
    p: &UsageLimitPolicy,
    value_key: &str,
) -> ApiResult<()> {
    let scope = UsageScope::Policy {
        policy_id: p.id.clone(),
        value_key: value_key.to_owned(),
    };
    if tx.usage(&scope, BUDGET)?.is_none() {
        return Err(ApiError::not_found(format!(
            "policy `{}` has counted nothing for `{}`; `GET /policies/usage-limits/{}/entities` lists what it has",
            p.id,
            value_key.chars().take(128).collect::<String>(),
            p.id
        )));
    }
    let fresh = UsageState::fresh(Utc::now());
    tx.set_usage(&scope, BUDGET, Some((&fresh, Unit::of_budget(p.kind))))?;
    Ok(())
}

pub async fn delete_usage(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<crate::api::schema::Empty>> {
    archive(&state, &principal, &id, "usage")
}

/// Archives a policy: it stops applying at once; its counters are kept.
fn archive(
    state: &AppState,
    principal: &Principal,
    id: &str,
    kind: &str,
) -> ApiResult<Json<crate::api::schema::Empty>> {
    let mut policy = changeable(state, principal, id, kind)?;
    let at = Some(now());
    match &mut policy {
        Policy::Usage(u) => (u.status, u.last_updated_at) = ("archived".to_owned(), at),
        Policy::Rate(r) => (r.status, r.last_updated_at) = ("archived".to_owned(), at),
    }
    let mut tx = state.begin()?;
    tx.save_policy(&policy)?;
    tx.commit()?;
    Ok(Json(crate::api::schema::Empty {}))
}

fn entities(
    state: &AppState,
    principal: &Principal,
    id: &str,
    kind: &str,
    query: &Query,
) -> ApiResult<Json<ListEnvelope<PolicyEntity>>> {
    let policy = visible(state, principal, id, kind)?;
    let status = query
        .one_of("status", &["active", "exhausted"])?
        .map(str::to_owned);
    let search = query.get("search").map(str::to_lowercase);
    let page = query.page(50)?;
    if page.page_size > 100 {
        return Err(ApiError::invalid(
            "query parameter `page_size` must be at most 100 here",
        ));
    }
    let all: Vec<PolicyEntity> =
        policies::entities(&mut *state.store.read()?, &policy, Utc::now())?
            .into_iter()
            .filter(|e| status.as_ref().is_none_or(|s| &e.status == s))
            .filter(|e| {
                search
                    .as_ref()
                    .is_none_or(|s| e.value_key.to_lowercase().contains(s))
            })
            .collect();
    let total = all.len() as u64;
    Ok(Json(ListEnvelope::new(total, page.slice(all))))
}

pub async fn usage_entities(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<PolicyEntity>>> {
    entities(&state, &principal, &id, "usage", &query)
}

pub async fn reset_usage_entity(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((id, entity)): Path<(String, String)>,
    Body(_): Body<ResetEntity>,
) -> ApiResult<Json<PolicyEntity>> {
    let policy = changeable(&state, &principal, &id, "usage")?;
    let Policy::Usage(p) = &policy else {
        unreachable!("changeable() checked the kind")
    };
    let now = Utc::now();
    let found = policies::entities(&mut *state.store.read()?, &policy, now)?
        .into_iter()
        .find(|e| e.id == entity || e.value_key == entity)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "policy `{id}` has no entity `{}`; `GET /policies/usage-limits/{id}/entities` lists them",
                entity.chars().take(128).collect::<String>()
            ))
        })?;
    let mut tx = state.begin()?;
    reset(&mut *tx, p, &found.value_key)?;
    tx.commit()?;
    let after = policies::entities(&mut *state.store.read()?, &policy, Utc::now())?
        .into_iter()
        .find(|e| e.id == found.id)
        .unwrap_or(found);
    Ok(Json(after))
}

// ---- rate-limit policies ----

pub async fn create_rate(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Body(body): Body<CreateRatePolicy>,
) -> ApiResult<Json<CreatedPolicy>> {
    check_organisation(&state, body.organisation_id.as_deref())?;
    if body.target.as_deref().is_some_and(|t| t != "llm") {
        return Err(ApiError::invalid(
            "`target` must be `llm`: this server limits model requests (`mcp_tools` is not served)",
        ));
    }
    policies::validate_keys(&body.conditions, &body.group_by).map_err(ApiError::invalid)?;
    policies::validate_rate(body.unit, body.value).map_err(ApiError::invalid)?;
    let at = now();
    let policy = RateLimitPolicy {
        id: uuid::Uuid::new_v4().to_string(),
        name: body.name,
        conditions: normalised(&state, &principal, body.conditions)?,
        group_by: body.group_by,
        kind: body.kind,
        unit: body.unit,
        value: body.value,
        status: "active".to_owned(),
        workspace_id: scope_of(&state, &principal, body.workspace_id.as_deref())?,
        organisation_id: Some(state.store.organisation_id().to_owned()),
        created_at: Some(at.clone()),
        last_updated_at: Some(at),
        object: "rate-limits-policy".to_owned(),
    };
    unique_name(
        &state,
        policy.name.as_ref(),
        policy.workspace_id.as_deref(),
        None,
    )?;
    let mut tx = state.begin()?;
    tx.insert_policy(&Policy::Rate(policy.clone()))?;
    tx.commit()?;
    Ok(Json(CreatedPolicy {
        id: policy.id,
        object: policy.object,
    }))
}

pub async fn list_rate(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<RateLimitPolicy>>> {
    let kind =
        choice::<crate::api::limits::RateLimitType>(&query, "type", &["requests", "tokens"])?;
    let unit =
        choice::<crate::api::limits::RateUnit>(&query, "unit", &["rpm", "rph", "rpd", "rpw"])?;
    let q = list_query(&state, &principal, &query, "rate")?;
    let matching: Vec<RateLimitPolicy> = every(&state, &q)?
        .into_iter()
        .filter_map(|p| match p {
            Policy::Rate(r)
                if kind.is_none_or(|k| r.kind == k) && unit.is_none_or(|u| r.unit == u) =>
            {
                Some(r)
            }
            _ => None,
        })
        .collect();
    let total = matching.len() as u64;
    Ok(Json(ListEnvelope::new(total, q.page.slice(matching))))
}

pub async fn retrieve_rate(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<RateLimitPolicy>> {
    match visible(&state, &principal, &id, "rate")? {
        Policy::Rate(r) => Ok(Json(r)),
        Policy::Usage(_) => unreachable!("visible() checked the kind"),
    }
}

pub async fn update_rate(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Body(body): Body<UpdateRatePolicy>,
) -> ApiResult<Json<RateLimitPolicy>> {
    let mut policy = changeable(&state, &principal, &id, "rate")?;
    update_matching(
        &state,
        &principal,
        &mut policy,
        body.fixed.given(),
        body.name,
        body.conditions,
    )?;
    let Policy::Rate(mut p) = policy else {
        unreachable!("changeable() checked the kind")
    };
    p.unit = body.unit.unwrap_or(p.unit);
    p.value = body.value.unwrap_or(p.value);
    policies::validate_rate(p.unit, p.value).map_err(ApiError::invalid)?;
    p.status = status(body.status.as_deref(), p.status)?;
    p.last_updated_at = Some(now());
    let mut tx = state.begin()?;
    tx.save_policy(&Policy::Rate(p.clone()))?;
    tx.commit()?;
    Ok(Json(p))
}

pub async fn delete_rate(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<crate::api::schema::Empty>> {
    archive(&state, &principal, &id, "rate")
}

pub async fn rate_entities(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    query: Query,
) -> ApiResult<Json<ListEnvelope<PolicyEntity>>> {
    entities(&state, &principal, &id, "rate", &query)
}
