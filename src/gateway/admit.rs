//! Admission in the gateway: every level that limits a request (the caller's API key and
//! workspace, then the integration, its access for the workspace and the AI provider)
//! holds the most the request can cost, all at once, before it goes upstream; the hold
//! is settled with what the upstream reports it used.
//!
//! A request that would fit once requests in flight settle waits for them (a little
//! while) instead of being refused: holds are upper bounds, so refusing then would turn
//! a budget into less than it is.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::Utc;
use tokio::sync::Notify;

use super::error::{masked, GatewayError};
use crate::admission::demand::Demand;
use crate::admission::price::Prices;
use crate::admission::{self, Level, LevelKind, PlanError, Used};
use crate::api::api_key::ApiKey;
use crate::api::limits::BudgetType;
use crate::api::workspace::Workspace;
use crate::domain::policies;
use crate::server::AppState;
use crate::store::{Admission, Gauge, HoldEntry, Refusal};

/// How long a hold or settlement waits, without a thread, for the store to be free to
/// decide it in place (see [`crate::store::Store::try_admit`]: a flush of its journal, or
/// another process, has it) before it waits on the blocking pool.
const IN_PLACE_WAIT: Duration = Duration::from_secs(5);
/// How soon it tries again.
const IN_PLACE_POLL: Duration = Duration::from_millis(1);

/// How long a request waits for requests in flight to settle before it is refused.
const HELD_WAIT: Duration = Duration::from_secs(30);
/// How soon a waiting request looks again when no settlement in this process woke it
/// (another process or replica may have settled); the wait doubles, up to
/// [`HELD_POLL_MAX`], so that many waiters do not crowd out the settlements they wait for.
const HELD_POLL: Duration = Duration::from_millis(50);
const HELD_POLL_MAX: Duration = Duration::from_millis(800);

/// Settlements of this process: they run after the answer is sent (off the caller's
/// latency); requests waiting for holds and Admin API reads wait for them.
#[derive(Default)]
pub struct Settlements {
    notify: Notify,
    /// Settlements started and not finished.
    pending: std::sync::atomic::AtomicUsize,
    idle: Notify,
}

/// How long an Admin API read waits for settlements in flight.
const QUIESCE: Duration = Duration::from_millis(500);

impl Settlements {
    /// Resolves at the next settlement in this process (once enabled or polled).
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// Waits (a little while at most) until every settlement this process started has
    /// landed, so that a read after an answer counts that answer's usage.
    pub async fn quiesce(&self) {
        use std::sync::atomic::Ordering;
        let deadline = tokio::time::Instant::now() + QUIESCE;
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return;
            }
        }
    }

    /// Whether settlements of this process are under way.
    fn in_flight(&self) -> bool {
        self.pending.load(std::sync::atomic::Ordering::Acquire) > 0
    }

    fn started(&self) {
        self.pending
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    fn finished(&self) {
        self.notify.notify_waiters();
        if self
            .pending
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.idle.notify_waiters();
        }
    }
}

/// What the caller's workspace brings to admission: its own limits, and the policies in
/// its scope.
pub struct Scope {
    pub workspace: Option<Workspace>,
    pub policies: Vec<policies::Policy>,
}

impl Scope {
    pub fn read(
        read: &mut dyn crate::store::StoreRead,
        workspace_id: &str,
    ) -> Result<Scope, GatewayError> {
        let workspace = read.workspace(workspace_id)?;
        let policies = match &workspace {
            Some(w) => read.policies_in_scope(&w.id)?,
            None => Vec::new(),
        };
        Ok(Scope {
            workspace,
            policies,
        })
    }
}

/// Every level a request to `target` is held at, in the order admission checks them: the
/// caller's API key (none for the embedded CLI) and workspace, the target's integration,
/// access and provider, then the policies that apply to it.
pub fn levels(
    scope: &Scope,
    key: Option<&ApiKey>,
    target: &super::resolve::Target,
    metadata: &std::collections::BTreeMap<String, String>,
    config: Option<(String, String)>,
) -> Vec<Level> {
    let mut levels = Vec::new();
    if let Some(k) = key {
        levels.push(Level::of_api_key(k, masked(&k.id)));
    }
    if let Some(w) = &scope.workspace {
        levels.push(Level::of_workspace(w));
    }
    levels.extend(target.levels.iter().cloned());
    let (Some(ws), false) = (&scope.workspace, scope.policies.is_empty()) else {
        return levels;
    };
    // The policies that apply to this request, each a level of its own.
    let defaults =
        |d: Option<&crate::api::workspace::WorkspaceDefaults>| d.and_then(|d| d.metadata.clone());
    let subject = policies::Subject {
        api_key: key.map(|k| k.id.clone()),
        workspace_id: ws.id.clone(),
        provider: target.slug.clone(),
        model: target.model.clone(),
        config,
        metadata: policies::layered(
            metadata,
            defaults(key.and_then(|k| k.defaults.as_ref())).as_ref(),
            defaults(ws.defaults.as_ref()).as_ref(),
        ),
    };
    levels.extend(policies::levels(&scope.policies, &subject, masked));
    levels
}

/// What a request asks the ledger to hold.
pub struct Ask {
    pub entries: Vec<HoldEntry>,
    pub demand: Demand,
    pub prices: Option<Prices>,
}

/// The hold of an ask, or why there can be none.
pub fn ask(
    levels: &[Level],
    demand: Demand,
    prices: Option<Prices>,
    model: &str,
) -> Result<Ask, GatewayError> {
    let entries = admission::plan(levels, demand, prices).map_err(|e| match e {
        PlanError::NoPrice { level, name } => GatewayError::governance(
            exhaust_type(level),
            format!(
                "model `{model}` has no known price, and the {} `{name}` has a cost budget, which cannot be kept without one; an admin can set its price with `catalog models price`",
                level.label()
            ),
        )
        .code(exhaust_code(level)),
    })?;
    Ok(Ask {
        entries,
        demand,
        prices,
    })
}

/// One attempt's hold, until it is settled. Dropped unsettled (the caller went away, the
/// stream was cut), it settles what was consumed as far as it can be told: the input,
/// and the output streamed so far.
pub struct Held {
    state: AppState,
    id: String,
    entries: Vec<HoldEntry>,
    prices: Option<Prices>,
    demand: Demand,
    /// Output bytes passed to the caller so far (for a stream cut short).
    pub streamed_bytes: u64,
    /// What the upstream reported so far (a stream reports as it goes).
    pub reported: Option<Used>,
    done: bool,
}

impl Held {
    /// Settles with what the upstream reported (`None`: it reported nothing, so nothing
    /// beyond the request itself is charged), after the answer is on its way: the answer
    /// does not wait for it, and reads wait for it ([`Settlements::quiesce`]).
    pub fn settle(mut self, used: Option<Used>) {
        self.done = true;
        if self.entries.is_empty() {
            return;
        }
        let amounts = admission::settlement(&self.entries, used.unwrap_or_default(), self.prices);
        settle_soon(self.state.clone(), std::mem::take(&mut self.id), amounts);
    }

    /// Lets go of the hold with nothing charged anywhere: the request was refused before
    /// anything left the gateway.
    pub fn release(mut self) {
        self.done = true;
        if self.entries.is_empty() {
            return;
        }
        let amounts = vec![0; self.entries.len()];
        settle_soon(self.state.clone(), std::mem::take(&mut self.id), amounts);
    }

    /// What a request cut short consumed: what the upstream reported so far, else its
    /// input as held; and at least a token per 4 bytes streamed (more than streams
    /// carry), never more output than was held.
    fn consumed(&self) -> Used {
        let reported = self.reported.unwrap_or(Used {
            input_tokens: self.demand.input_tokens,
            ..Used::default()
        });
        let streamed = (self.streamed_bytes / 4).min(self.demand.output_tokens);
        Used {
            output_tokens: reported.output_tokens.max(streamed),
            ..reported
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.done || self.entries.is_empty() {
            return;
        }
        let amounts = admission::settlement(&self.entries, self.consumed(), self.prices);
        settle_soon(self.state.clone(), std::mem::take(&mut self.id), amounts);
    }
}

/// Settles in a task of its own, which runs once the current one (the answer's) yields,
/// so that it lands even if the caller goes away: in place as soon as the store lets it,
/// else on the blocking pool. Counted in [`Settlements`] from now on, so a read that
/// follows the answer waits for it.
fn settle_soon(state: AppState, id: String, amounts: Vec<i64>) {
    state.gateway.settlements.started();
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        std::thread::spawn(move || settle(&state, &id, &amounts));
        return;
    };
    handle.spawn(async move {
        if in_place(&state, || {
            settled_at_once(&state, &id, &amounts).then_some(())
        })
        .await
        .is_some()
        {
            state.gateway.settlements.finished();
            return;
        }
        drop(tokio::task::spawn_blocking(move || {
            settle(&state, &id, &amounts)
        }));
    });
}

/// Settles in place if the store can without waiting (see [`crate::store::Store::try_settle`]);
/// `false` when it cannot, and nothing was done.
fn settled_at_once(state: &AppState, id: &str, amounts: &[i64]) -> bool {
    match state.store.try_settle(id, amounts, Utc::now()) {
        None => false,
        Some(Ok(())) => {
            state.gateway.settlements.notify.notify_waiters();
            true
        }
        Some(Err(e)) => {
            log_unsettled(id, &e);
            true
        }
    }
}

fn log_unsettled(id: &str, e: &crate::store::StoreError) {
    // The hold stays and is settled in full when this process is gone: never forgiven.
    crate::server::log_line(&format!(
        "{} ledger: hold {id} could not be settled ({e}); it stays held",
        crate::server::handlers::now()
    ));
}

/// How long a settlement is tried again while the database cannot take it (a PostgreSQL
/// restart): settling is idempotent, so a try that landed unseen is not charged twice.
const SETTLE_PERSISTENCE: Duration = Duration::from_secs(600);

fn settle(state: &AppState, id: &str, amounts: &[i64]) {
    let started = Instant::now();
    let mut wait = Duration::from_millis(250);
    loop {
        match state.store.settle(id, amounts, Utc::now()) {
            Ok(()) => break,
            Err(e) if e.unavailable().is_some() && started.elapsed() < SETTLE_PERSISTENCE => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(15));
            }
            Err(e) => {
                log_unsettled(id, &e);
                break;
            }
        }
    }
    state.gateway.settlements.finished();
}

/// Runs `step` in place as soon as the store lets it, for [`IN_PLACE_WAIT`] at most: again
/// when this process lets go of the store (a flush ends), or after [`IN_PLACE_POLL`] (for
/// another process); `None` when the store decides nothing in place, or the wait ran out.
async fn in_place<T>(state: &AppState, mut step: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    while state.store.admits_in_place() && started.elapsed() < IN_PLACE_WAIT {
        // Listening before the try: a flush that ends in between still wakes this.
        let freed = state.store.in_place_freed();
        tokio::pin!(freed);
        if let Some(freed) = freed.as_mut().as_pin_mut() {
            freed.enable();
        }
        if let Some(done) = step() {
            return Some(done);
        }
        match freed.as_pin_mut() {
            Some(freed) => drop(tokio::time::timeout(IN_PLACE_POLL, freed).await),
            None => tokio::time::sleep(IN_PLACE_POLL).await,
        }
    }
    None
}

/// Asks the store to hold `entries` as hold `id`: in place when the store decides in
/// memory, on the blocking pool otherwise.
pub async fn admit(
    state: &AppState,
    id: &str,
    entries: &[HoldEntry],
) -> Result<Admission, GatewayError> {
    if let Some(admission) =
        in_place(state, || state.store.try_admit(id, entries, Utc::now())).await
    {
        return Ok(admission?);
    }
    let (s, id, entries) = (state.clone(), id.to_owned(), entries.to_vec());
    tokio::task::spawn_blocking(move || s.store.admit(&id, &entries, Utc::now()))
        .await
        .map_err(|_| GatewayError::internal("admission stopped unexpectedly"))?
        .map_err(GatewayError::from)
}

/// Holds `ask` (its first try, `first`, already made), waiting while requests in flight
/// hold what it needs; the refusal in Portkey's shape otherwise.
pub async fn hold(
    state: &AppState,
    id: String,
    ask: Ask,
    first: Admission,
) -> Result<Held, GatewayError> {
    let started = Instant::now();
    let mut admission = first;
    let mut poll = HELD_POLL;
    let mut quiesced = false;
    loop {
        match admission {
            Admission::Admitted => {
                return Ok(Held {
                    state: state.clone(),
                    id,
                    entries: ask.entries,
                    prices: ask.prices,
                    demand: ask.demand,
                    streamed_bytes: 0,
                    reported: None,
                    done: false,
                })
            }
            Admission::Refused(r) if r.held_out && started.elapsed() < HELD_WAIT => {
                let woken = state.gateway.settlements.notify.notified();
                if tokio::time::timeout(poll, woken).await.is_err() {
                    poll = (poll * 2).min(HELD_POLL_MAX);
                }
                admission = admit(state, &id, &ask.entries).await?;
            }
            // A settlement under way (the caller's previous answer, say) may give back
            // part of a rate limit's hold: the request is decided again once it landed.
            Admission::Refused(_) if !quiesced && state.gateway.settlements.in_flight() => {
                quiesced = true;
                state.gateway.settlements.quiesce().await;
                admission = admit(state, &id, &ask.entries).await?;
            }
            Admission::Refused(r) => return Err(refused(&ask.entries[r.index], &r)),
        }
    }
}

/// Portkey's code of a spent budget: `06` for a usage-limit policy, `04` elsewhere.
fn exhaust_code(kind: LevelKind) -> &'static str {
    if kind == LevelKind::Policy {
        "06"
    } else {
        "04"
    }
}

fn exhaust_type(kind: LevelKind) -> &'static str {
    match kind {
        LevelKind::ApiKey => "api_key_exhaust_error",
        LevelKind::Workspace => "workspace_exhaust_error",
        LevelKind::Integration | LevelKind::Access => "integration_exhaust_error",
        LevelKind::Provider | LevelKind::VirtualKey => "virtual_key_exhaust_error",
        LevelKind::Policy => "usage_limits_policy_exhaust_error",
    }
}

/// Portkey's opening words for a spent budget at each level.
fn exhaust_title(kind: LevelKind, name: &str) -> String {
    match kind {
        LevelKind::ApiKey => format!("Portkey API Key Usage Limit Exceeded: API key {name}"),
        LevelKind::Workspace => {
            format!("Portkey Workspace Usage Limit Exceeded: workspace `{name}`")
        }
        LevelKind::Integration => format!(
            "Portkey Integration {name} Usage Limit Exceeded: integration `{name}` across every workspace"
        ),
        LevelKind::Access => format!("Portkey Integration {name} Usage Limit Exceeded: integration access `{name}`"),
        LevelKind::Provider => {
            format!("Portkey Virtual Key Usage Limit Exceeded: AI provider `{name}`")
        }
        LevelKind::VirtualKey => {
            format!("Portkey Virtual Key Usage Limit Exceeded: virtual key `{name}`")
        }
        LevelKind::Policy => format!("Portkey Usage Limits Policy Exceeded: policy {name}"),
    }
}

/// An amount in a budget's unit, for people.
fn shown(unit: crate::store::Unit, units: i64, kind: BudgetType) -> String {
    match kind {
        BudgetType::Cost => format!("${:.6}", unit.shown(units))
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned(),
        BudgetType::Tokens | BudgetType::Requests => format!("{units} {}", kind.unit()),
    }
}

fn in_words(wait: Duration) -> String {
    let s = wait.as_secs();
    match s {
        0 => "in under a second".to_owned(),
        1..=119 => format!("in {s} s"),
        120..=7199 => format!("in {} min", s / 60),
        7200..=172_799 => format!("in {} h", s / 3600),
        _ => format!("in {} days", s / 86_400),
    }
}

/// The refusal of `entry`, in Portkey's codes: a spent budget 412 `04`, a rate limit
/// 429 (`05` at the key and workspace), too many requests in flight 429.
pub fn refused(entry: &HoldEntry, r: &Refusal) -> GatewayError {
    let kind = LevelKind::parse(&entry.level).unwrap_or(LevelKind::Provider);
    let name = &entry.name;
    match &entry.gauge {
        Gauge::Budget {
            limits, ceiling, ..
        } => {
            let (unit, k) = (entry.unit, limits.kind);
            if r.held_out {
                return GatewayError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    format!(
                        "the {} `{name}`'s budget is held by requests in flight; this request may cost up to {}, and {} is not yet settled: retry shortly",
                        kind.label(),
                        shown(unit, entry.amount, k),
                        shown(unit, *ceiling - r.headroom, k),
                    ),
                )
                .retry_after(Some(Duration::from_secs(1)));
            }
            let why = if entry.amount > *ceiling {
                format!(
                    "this request may cost up to {}, more than the whole budget of {}; lower `max_tokens` or shorten the request",
                    shown(unit, entry.amount, k),
                    shown(unit, *ceiling, k)
                )
            } else {
                format!(
                    "{} of {} left, and this request may cost up to {}",
                    shown(unit, r.headroom, k),
                    shown(unit, *ceiling, k),
                    shown(unit, entry.amount, k)
                )
            };
            let when = r.retry_after.map_or_else(
                || "; an admin can raise the budget or reset its usage".to_owned(),
                |w| format!("; the budget resets {}", in_words(w)),
            );
            GatewayError::governance(
                exhaust_type(kind),
                format!("{}: {why}{when}", exhaust_title(kind, name)),
            )
            .code(exhaust_code(kind))
            .retry_after(r.retry_after)
        }
        Gauge::Rate { ceiling, .. } => {
            let what = if entry.unit == crate::store::Unit::Tokens {
                format!("up to {} tokens", entry.amount)
            } else {
                "a request".to_owned()
            };
            let limit = admission::rate_of_key(&entry.limit, *ceiling)
                .map_or_else(|| format!("{ceiling} {}", entry.limit), |r| r.to_string());
            let when = r.retry_after.map_or_else(
                || "; it never will: the request alone is over the limit, lower `max_tokens`".to_owned(),
                |w| format!("; it fits {}", in_words(w)),
            );
            let message = format!(
                "{} `{name}` rate limit exceeded: {limit}, and {what} does not fit{when}",
                kind.label()
            );
            let (kind_name, code) = match kind {
                LevelKind::ApiKey | LevelKind::Workspace => ("rate_limit_error", Some("05")),
                LevelKind::Integration | LevelKind::Access => {
                    ("integration_rate_limit_error", None)
                }
                LevelKind::Provider | LevelKind::VirtualKey => {
                    ("virtual_key_rate_limit_error", None)
                }
                LevelKind::Policy => ("rate_limits_policy_exhaust_error", None),
            };
            let mut e = GatewayError::new(StatusCode::TOO_MANY_REQUESTS, kind_name, message)
                .retry_after(r.retry_after);
            if let Some(c) = code {
                e = e.code(c);
            }
            e
        }
        Gauge::Concurrency { ceiling } => GatewayError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "concurrency_limit_error",
            format!(
                "the {} `{name}` allows {ceiling} requests in flight, and all are taken; retry when one ends",
                kind.label()
            ),
        )
        .retry_after(Some(Duration::from_secs(1))),
    }
}
