//! Usage reports: every budget, rate limit and concurrency limit in a scope (the whole
//! organisation, a workspace, an integration, an AI provider) with its live usage, as
//! admission sees it now.
//!
//! Nothing here keeps its own idea of windows or slots: budgets roll with
//! [`UsageState::refresh`] (as the ledger does before it holds), rate limits count the
//! slots [`rate::first_counted`] names, and each level's limits come from
//! [`Level`]'s constructors, the ones the gateway holds with.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::status::Status;
use super::{DomainError, DomainResult};
use crate::admission::{self, rate, Level};
use crate::api::alerts::Alert;
use crate::api::api_key::ApiKey;
use crate::api::integration::Integration;
use crate::api::limits::{RateLimit, RateLimitType, RateUnit, UsageLimits};
use crate::api::usage::{AlertState, LimitKind, LimitType, UsageItem, UsageState};
use crate::api::workspace::Workspace;
use crate::store::{
    AlertQuery, ApiKeyQuery, CounterState, Page, ProviderRecord, StoreRead, Unit, UsageScope,
    VirtualKeyRecord, WorkspaceQuery,
};

/// What a report covers: each name as given (an id or a slug; a provider's slug with or
/// without its `@`). Nothing named is the whole organisation.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub workspace: Option<String>,
    pub integration: Option<String>,
    /// An AI provider (or a legacy virtual key) of `workspace`.
    pub provider: Option<String>,
}

/// Who reads the report.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// The organisation (its keys, the embedded owner): every level.
    Organisation,
    /// A workspace API key: its own workspace's limits, and of API keys only its own.
    WorkspaceKey {
        workspace_id: String,
        api_key_id: String,
    },
}

/// Alerts read to tell which budgets raised one in their current window (newest first;
/// a window's alerts are among the newest).
const ALERTS_READ: u64 = 10_000;

/// A level with what a report says about it besides its limits.
struct Subject {
    level: Level,
    id: Option<String>,
    workspace_id: Option<String>,
    integration_id: Option<String>,
    /// Why nothing is called through it now (`disabled`, `expired`).
    off: Option<&'static str>,
}

impl Subject {
    /// A level known only by its counter scope (the ids it carries).
    fn bare(level: Level) -> Subject {
        let (id, workspace_id, integration_id) = match &level.scope {
            UsageScope::ApiKey(id) | UsageScope::Provider(id) | UsageScope::VirtualKey(id) => {
                (Some(id.clone()), None, None)
            }
            UsageScope::Workspace(id) => (Some(id.clone()), Some(id.clone()), None),
            UsageScope::Policy { policy_id, .. } => (Some(policy_id.clone()), None, None),
            UsageScope::Integration(id) => (Some(id.clone()), None, Some(id.clone())),
            UsageScope::Access {
                integration_id,
                workspace_id,
            } => (
                None,
                Some(workspace_id.clone()),
                Some(integration_id.clone()),
            ),
        };
        Subject {
            level,
            id,
            workspace_id,
            integration_id,
            off: None,
        }
    }

    fn api_key(key: &ApiKey, now: DateTime<Utc>) -> Subject {
        let expired = key
            .expires_at
            .as_deref()
            .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
            .is_some_and(|e| e < now);
        Subject {
            workspace_id: key.workspace_id.clone(),
            off: expired.then_some("expired"),
            ..Subject::bare(Level::of_api_key(key, key.name.clone()))
        }
    }

    fn workspace(ws: &Workspace) -> Subject {
        Subject::bare(Level::of_workspace(ws))
    }

    fn integration(integration: &Integration) -> Subject {
        Subject::bare(Level::of_integration(integration))
    }

    fn access(
        integration: &Integration,
        workspace_id: &str,
        workspace_slug: &str,
        access: &crate::api::provisioning::WorkspaceAccess,
    ) -> Subject {
        let mut level = Level::of_access(integration, workspace_id, access);
        level.name = format!("{}/{workspace_slug}", integration.slug);
        Subject {
            off: (!access.enabled).then_some("disabled"),
            ..Subject::bare(level)
        }
    }

    fn provider(record: &ProviderRecord, now: DateTime<Utc>) -> Subject {
        let off = match Status::of_provider(record, now) {
            Status::Disabled => Some("disabled"),
            Status::Expired => Some("expired"),
            Status::Active | Status::Exhausted => None,
        };
        Subject {
            workspace_id: record.public.workspace_id.clone(),
            integration_id: Some(record.integration_uuid.clone()),
            off,
            ..Subject::bare(Level::of_provider(&record.public))
        }
    }

    fn virtual_key(record: &VirtualKeyRecord, now: DateTime<Utc>) -> Subject {
        let off =
            (Status::of_virtual_key(&record.public, now) == Status::Expired).then_some("expired");
        Subject {
            workspace_id: record.public.workspace_id.clone(),
            off,
            ..Subject::bare(Level::of_virtual_key(&record.public))
        }
    }
}

/// Every limit `viewer` may see in `selection`, with its usage at `now`: levels in the
/// order admission checks them (API key, workspace, integration, access, provider,
/// virtual key), by name within a level; budgets, then rate limits, then concurrency.
///
/// With a provider named, the levels a call through it counts at (its workspace,
/// integration, access and itself; API keys aside). With an integration named, its own
/// budget, its access for each workspace and the providers built on it (in the named
/// workspace only, if one is). A workspace API key sees its workspace, its accesses and
/// providers, and its own key: never the budgets integrations keep across workspaces.
pub fn report(
    read: &mut dyn StoreRead,
    selection: &Selection,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> DomainResult<Vec<UsageItem>> {
    let mut subjects = subjects(read, selection, viewer, now)?;
    subjects.retain(|s| s.level.limits_anything());
    subjects.sort_by(|a, b| (a.level.kind, &a.level.name).cmp(&(b.level.kind, &b.level.name)));
    let mut out = items(read, &subjects, now)?;
    if selection.provider.is_none() && selection.integration.is_none() {
        out.extend(policy_items(read, selection, viewer, now)?);
    }
    Ok(out)
}

/// The value keys a policy shows in a report: its busiest.
const BUSIEST: usize = 5;

/// The policies in scope (the organisation's and, with a workspace, its own; for a
/// workspace key, its workspace's own only), each with its busiest value keys, named
/// `policy (value key)`; a policy that has counted nothing yet shows as itself at zero.
fn policy_items(
    read: &mut dyn StoreRead,
    selection: &Selection,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> DomainResult<Vec<UsageItem>> {
    let workspace = match (selection.workspace.as_deref(), viewer) {
        (Some(w), _) => read.workspace(w)?.map(|w| w.id),
        (None, Viewer::WorkspaceKey { workspace_id, .. }) => Some(workspace_id.clone()),
        (None, Viewer::Organisation) => None,
    };
    let policies = match &workspace {
        Some(ws) => read.policies_in_scope(ws)?,
        None => {
            read.policies(&crate::store::PolicyQuery {
                status: Some("active".to_owned()),
                page: crate::store::Page {
                    current_page: 0,
                    page_size: u64::MAX,
                },
                ..Default::default()
            })?
            .1
        }
    };
    // An organisation-wide policy's value keys come from every workspace: a workspace
    // key sees its own workspace's policies only.
    let policies: Vec<_> = match viewer {
        Viewer::WorkspaceKey { workspace_id, .. } => policies
            .into_iter()
            .filter(|p| p.workspace_id() == Some(workspace_id.as_str()))
            .collect(),
        Viewer::Organisation => policies,
    };
    let mut out = Vec::new();
    for policy in &policies {
        let mut items = crate::domain::policies::usage_items(read, policy, now)?;
        items.truncate(BUSIEST);
        if items.is_empty() {
            let level = crate::domain::policies::levels_of(policy, String::new());
            items = of_levels(read, &[level], now)?;
            for item in &mut items {
                item.name = format!("{} (nothing counted yet)", policy.label());
            }
        } else {
            for item in &mut items {
                item.name = format!("{} ({})", policy.label(), item.name);
            }
        }
        out.extend(items);
    }
    Ok(out)
}

/// The usage of every limit of `levels` (as the gateway holds them), in their order.
pub fn of_levels(
    read: &mut dyn StoreRead,
    levels: &[Level],
    now: DateTime<Utc>,
) -> DomainResult<Vec<UsageItem>> {
    let subjects: Vec<Subject> = levels.iter().cloned().map(Subject::bare).collect();
    items(read, &subjects, now)
}

fn subjects(
    read: &mut dyn StoreRead,
    selection: &Selection,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> DomainResult<Vec<Subject>> {
    let (pinned, own_key) = match viewer {
        Viewer::Organisation => (None, None),
        Viewer::WorkspaceKey {
            workspace_id,
            api_key_id,
        } => (Some(workspace_id.as_str()), Some(api_key_id.as_str())),
    };
    let organisation = pinned.is_none();
    let workspace = match (selection.workspace.as_deref(), pinned) {
        (Some(w), _) => {
            let ws = read
                .workspace(w)?
                .ok_or_else(|| DomainError::not_found("workspace", w))?;
            if pinned.is_some_and(|p| p != ws.id) {
                return Err(DomainError::forbidden(
                    "this API key is pinned to another workspace",
                ));
            }
            Some(ws)
        }
        (None, Some(p)) => Some(
            read.workspace(p)?
                .ok_or_else(|| DomainError::not_found("workspace", p))?,
        ),
        (None, None) => None,
    };
    let integration = match selection.integration.as_deref() {
        Some(i) => {
            let found = read
                .integration(i)?
                .map(|r| r.public)
                // Another workspace's own integration is not there for a workspace key.
                .filter(|r| {
                    pinned.is_none_or(|p| r.workspace_id.as_deref().is_none_or(|w| w == p))
                });
            Some(found.ok_or_else(|| DomainError::not_found("integration", i))?)
        }
        None => None,
    };
    let workspace_id = workspace.as_ref().map(|w| w.id.clone());

    if let Some(p) = selection.provider.as_deref() {
        let slug = p.strip_prefix('@').unwrap_or(p);
        let Some(ws) = workspace.as_ref() else {
            return Err(DomainError::invalid(
                "`provider` needs `workspace_id`: an AI provider's slug names it within its workspace",
            ));
        };
        let mut out = vec![Subject::workspace(ws)];
        if let Some(record) = read.provider(&ws.id, slug)? {
            if let Some(i) = &integration {
                if i.id != record.integration_uuid {
                    return Err(DomainError::invalid(format!(
                        "AI provider `@{slug}` is not built on integration `{}`; leave out one of the two",
                        i.slug
                    )));
                }
            }
            if let Some(i) = read.integration(&record.integration_uuid)? {
                let i = i.public;
                if organisation {
                    out.push(Subject::integration(&i));
                }
                if let Some(a) = read.access(&i.id, &ws.id)? {
                    out.push(Subject::access(&i, &ws.id, &ws.slug, &a.access));
                }
            }
            out.push(Subject::provider(&record, now));
            return Ok(out);
        }
        if let (Some(vk), None) = (read.virtual_key(&ws.id, slug)?, &integration) {
            out.push(Subject::virtual_key(&vk, now));
            return Ok(out);
        }
        return Err(DomainError::NotFound(format!(
            "AI provider `@{slug}` not found in workspace `{}`",
            ws.slug
        )));
    }

    let workspaces = match &workspace {
        Some(w) => vec![w.clone()],
        None => all_workspaces(read)?,
    };
    let slugs: HashMap<String, String> = workspaces
        .iter()
        .map(|w| (w.id.clone(), w.slug.clone()))
        .collect();
    let integrations: HashMap<String, Integration> = match &integration {
        Some(i) => HashMap::from([(i.id.clone(), i.clone())]),
        None => read
            .all_integrations()?
            .into_iter()
            .map(|r| (r.public.id.clone(), r.public))
            .collect(),
    };
    let integration_id = integration.as_ref().map(|i| i.id.clone());
    let accesses = read.accesses(integration_id.as_deref(), workspace_id.as_deref())?;

    let mut out = Vec::new();
    if integration.is_none() {
        for key in all_api_keys(read, workspace_id.as_deref())? {
            if own_key.is_none_or(|own| own == key.id) {
                out.push(Subject::api_key(&key, now));
            }
        }
        out.extend(workspaces.iter().map(Subject::workspace));
    }
    if organisation {
        // With a workspace named, the integrations it has access to.
        let mut listed: Vec<&Integration> = integrations
            .values()
            .filter(|i| {
                workspace_id.is_none()
                    || accesses
                        .iter()
                        .any(|a| a.integration_id == i.id && a.access.enabled)
            })
            .collect();
        listed.sort_by(|a, b| a.slug.cmp(&b.slug));
        out.extend(listed.into_iter().map(Subject::integration));
    }
    for a in &accesses {
        if let (Some(i), Some(slug)) = (
            integrations.get(&a.integration_id),
            slugs.get(&a.workspace_id),
        ) {
            out.push(Subject::access(i, &a.workspace_id, slug, &a.access));
        }
    }
    for p in read.providers(workspace_id.as_deref(), integration_id.as_deref())? {
        out.push(Subject::provider(&p, now));
    }
    if integration.is_none() {
        for v in read.virtual_keys(workspace_id.as_deref())? {
            out.push(Subject::virtual_key(&v, now));
        }
    }
    Ok(out)
}

fn all_workspaces(read: &mut dyn StoreRead) -> DomainResult<Vec<Workspace>> {
    let mut all = Vec::new();
    let mut page = Page {
        current_page: 0,
        page_size: 1000,
    };
    loop {
        let (_, items) = read.workspaces(&WorkspaceQuery {
            page,
            ..Default::default()
        })?;
        let last = (items.len() as u64) < page.page_size;
        all.extend(items);
        if last {
            return Ok(all);
        }
        page.current_page += 1;
    }
}

fn all_api_keys(read: &mut dyn StoreRead, workspace_id: Option<&str>) -> DomainResult<Vec<ApiKey>> {
    let mut all = Vec::new();
    let mut page = Page {
        current_page: 0,
        page_size: 1000,
    };
    loop {
        let (_, items) = read.api_keys(&ApiKeyQuery {
            workspace_id: workspace_id.map(str::to_owned),
            types: Vec::new(),
            page,
        })?;
        let last = (items.len() as u64) < page.page_size;
        all.extend(items);
        if last {
            return Ok(all);
        }
        page.current_page += 1;
    }
}

/// The counters and alerts every item is read from, read once.
struct Ledger {
    counters: HashMap<(String, String), CounterState>,
    alerts: Vec<Alert>,
}

impl Ledger {
    fn counter(&self, scope: &str, limit: &str) -> Option<&CounterState> {
        self.counters.get(&(scope.to_owned(), limit.to_owned()))
    }

    /// The alert of `kind` raised in the window that started at `window`.
    fn alert(&self, scope: &str, limit: &str, window: &str, kind: &str) -> Option<&Alert> {
        self.alerts.iter().find(|a| {
            a.event.scope == scope
                && a.event.limit_key == limit
                && a.event.window_started_at == window
                && a.event.kind.as_str() == kind
        })
    }
}

fn items(
    read: &mut dyn StoreRead,
    subjects: &[Subject],
    now: DateTime<Utc>,
) -> DomainResult<Vec<UsageItem>> {
    let ledger = Ledger {
        counters: read
            .counters(&[])?
            .into_iter()
            .map(|c| ((c.scope.clone(), c.limit.clone()), c))
            .collect(),
        alerts: read
            .alerts(&AlertQuery {
                page: Page {
                    current_page: 0,
                    page_size: ALERTS_READ,
                },
                ..AlertQuery::default()
            })?
            .1,
    };
    let mut out = Vec::new();
    for s in subjects {
        for (i, b) in s.level.budgets.iter().enumerate() {
            out.push(budget(s, &admission::budget_key(i), b, &ledger, now));
        }
        for r in s.level.rates.iter().filter(|r| r.value > 0) {
            out.push(rate_item(read, s, r, now)?);
        }
        if let Some(max) = s.level.concurrency {
            out.push(concurrency(s, max, &ledger));
        }
    }
    Ok(out)
}

/// An item's fields that only depend on the level.
fn item(s: &Subject, limit_key: String, limit_type: LimitType, kind: LimitKind) -> UsageItem {
    UsageItem {
        level: s.level.kind.as_str().to_owned(),
        name: s.level.name.clone(),
        id: s.id.clone(),
        workspace_id: s.workspace_id.clone(),
        integration_id: s.integration_id.clone(),
        limit_key,
        limit_type,
        kind,
        unit: match kind {
            LimitKind::Cost => "usd",
            LimitKind::Tokens => "tokens",
            LimitKind::Requests | LimitKind::Concurrency => "requests",
        }
        .to_owned(),
        limit: 0.0,
        used: 0.0,
        held: 0.0,
        remaining: 0.0,
        percent: 0.0,
        window_started_at: None,
        next_reset_at: None,
        last_reset_at: None,
        period: None,
        period_seconds: None,
        alert_threshold: None,
        alert: AlertState::None,
        alert_raised_at: None,
        status: s.off.unwrap_or("ok").to_owned(),
    }
}

/// `used` of `ceiling` as a percentage, to two decimals.
fn percent(used: i64, ceiling: i64) -> f64 {
    if ceiling <= 0 {
        return if used > 0 { 100.0 } else { 0.0 };
    }
    let p = used as f64 * 100.0 / ceiling as f64;
    (p * 100.0).round() / 100.0
}

fn budget(
    s: &Subject,
    key: &str,
    limits: &UsageLimits,
    ledger: &Ledger,
    now: DateTime<Utc>,
) -> UsageItem {
    let scope = s.level.scope.key();
    let unit = Unit::of_budget(limits.kind);
    let ceiling = unit.units(limits.credit_limit);
    let counter = ledger.counter(&scope, key);
    let counted_window = counter.and_then(|c| c.window_started_at.clone());
    let mut state = UsageState {
        window_started_at: counted_window.clone(),
        last_reset_at: counter.and_then(|c| c.last_reset_at.clone()),
        exhausted: counter.is_some_and(|c| c.exhausted),
        ..UsageState::default()
    };
    // The window as admission would find it now: a reset that came due zeroes it.
    state.refresh(limits, now);
    let live = state.window_started_at == counted_window;
    let used = if live {
        counter.map_or(0, |c| c.used)
    } else {
        0
    };
    let held = counter.map_or(0, |c| c.held);
    let raised = |kind: &str| {
        counted_window
            .as_deref()
            .filter(|_| live)
            .and_then(|w| ledger.alert(&scope, key, w, kind))
    };
    let alert_units = limits.alert_threshold.map(|a| unit.units(a));
    let (alert, raised_at) =
        if (live && state.exhausted) || used >= ceiling || raised("limit").is_some() {
            (AlertState::Exhausted, raised("limit"))
        } else if alert_units.is_some_and(|a| used >= a) || raised("threshold").is_some() {
            (AlertState::Threshold, raised("threshold"))
        } else {
            (AlertState::None, None)
        };
    let kind = match unit {
        Unit::NanoUsd => LimitKind::Cost,
        Unit::Requests => LimitKind::Requests,
        Unit::Tokens => LimitKind::Tokens,
    };
    let mut it = item(s, key.to_owned(), LimitType::Budget, kind);
    if alert == AlertState::Exhausted && s.off.is_none() {
        it.status = "exhausted".to_owned();
    }
    UsageItem {
        limit: limits.credit_limit,
        used: unit.shown(used),
        held: unit.shown(held),
        remaining: unit.shown((ceiling - used - held).max(0)),
        percent: percent(used, ceiling),
        window_started_at: state.window_started_at,
        next_reset_at: state.next_usage_reset_at,
        last_reset_at: state.last_reset_at,
        alert_threshold: limits.alert_threshold,
        alert,
        alert_raised_at: raised_at.map(|a| a.event.created_at.clone()),
        ..it
    }
}

fn period_name(unit: RateUnit) -> &'static str {
    match unit {
        RateUnit::Rps => "second",
        RateUnit::Rpm => "minute",
        RateUnit::Rph => "hour",
        RateUnit::Rpd => "day",
        RateUnit::Rpw => "week",
    }
}

fn rate_item(
    read: &mut dyn StoreRead,
    s: &Subject,
    r: &RateLimit,
    now: DateTime<Utc>,
) -> DomainResult<UsageItem> {
    let key = admission::rate_key(r);
    let period_ms = rate::period_ms(r.unit);
    let current = rate::slot_of(now.timestamp_millis(), rate::slot_ms(period_ms));
    // The slots admission counts now: requests in flight are in them at their holds.
    let counted = read.rate_usage(&s.level.scope, &key, rate::first_counted(current))?;
    let kind = match r.kind {
        RateLimitType::Requests => LimitKind::Requests,
        RateLimitType::Tokens => LimitKind::Tokens,
    };
    let mut it = item(s, key, LimitType::Rate, kind);
    if counted >= r.value && s.off.is_none() {
        it.status = "limited".to_owned();
    }
    Ok(UsageItem {
        limit: r.value as f64,
        used: counted as f64,
        remaining: (r.value - counted).max(0) as f64,
        percent: percent(counted, r.value),
        period: Some(period_name(r.unit).to_owned()),
        period_seconds: Some(period_ms / 1000),
        ..it
    })
}

fn concurrency(s: &Subject, max: i64, ledger: &Ledger) -> UsageItem {
    let in_flight = ledger
        .counter(&s.level.scope.key(), admission::CONCURRENCY)
        .map_or(0, |c| c.held);
    let mut it = item(
        s,
        admission::CONCURRENCY.to_owned(),
        LimitType::Concurrency,
        LimitKind::Concurrency,
    );
    if in_flight >= max && s.off.is_none() {
        it.status = "limited".to_owned();
    }
    UsageItem {
        limit: max as f64,
        used: in_flight as f64,
        held: in_flight as f64,
        remaining: (max - in_flight).max(0) as f64,
        percent: percent(in_flight, max),
        ..it
    }
}
