//! Alert delivery in `catalog serve`: a task that picks up the alerts settlement raises
//! (the `alerts` outbox of the ledger), logs each once, and POSTs it as JSON to every
//! configured webhook until each has acknowledged it with a 2xx.
//!
//! Deliveries are rows of their own, one per (alert, webhook), claimed before each
//! attempt and recorded after it, so nothing is lost when a webhook is down or the
//! server stops: a failed attempt is retried with exponential backoff, forever, and a
//! healthy webhook never receives an alert twice because another one is failing. An
//! attempt cut short by a crash is made again (when the next server starts, or once its
//! claim runs out), so a receiver may (rarely) see an alert twice: the alert's `id`,
//! also sent as `x-catalog-alert-id`, is its idempotency key.
//!
//! A webhook URL may carry a token (in its userinfo, query or path): it is never stored
//! and never logged. The store knows a webhook by a hash of its URL and by its origin.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use super::{log_field, log_line, AppState};
use crate::api::alerts::AlertEvent;
use crate::domain::alerts::described;
use crate::store::{AlertWebhook, DeliveryAttempt, DueDelivery, StoreResult};

/// How often the outbox is looked at (sooner after a settlement in this process).
const POLL: Duration = Duration::from_secs(1);
/// After a settlement wakes the task, it waits this long so that a burst is one look.
const SETTLE_GAP: Duration = Duration::from_millis(100);
/// How long a webhook has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a claimed attempt is nobody else's: longer than any attempt takes.
const LEASE: Duration = Duration::from_secs(30);
/// Attempts in flight at once, over every webhook.
const IN_FLIGHT: usize = 16;
/// After this many failed attempts at one delivery, one log line says it keeps failing.
const KEEPS_FAILING: i64 = 3;

/// The header that repeats the alert's id, for receivers that deduplicate on headers.
pub const ID_HEADER: &str = "x-catalog-alert-id";

/// An `http://` or `https://` URL alerts are POSTed to. It is shown only as its origin
/// and a short id: its userinfo, path and query may hold a token.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: reqwest::Url,
}

impl FromStr for WebhookUrl {
    type Err = String;

    /// Errors never repeat the URL.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let example = "write the whole URL, e.g. https://hooks.example.com/catalog";
        let url = reqwest::Url::parse(text.trim())
            .map_err(|e| format!("it is not a URL ({e}); {example}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "the scheme must be http or https, not `{}`; {example}",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("it has no host; {example}"));
        }
        Ok(WebhookUrl { url })
    }
}

impl WebhookUrl {
    /// The webhook's id: the first 16 hex digits of the SHA-256 of its URL.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.url.as_str().as_bytes());
        crate::crypto::hex(&digest)[..16].to_owned()
    }

    /// `scheme://host[:port]`: nothing that may be secret.
    pub fn origin(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{}://{host}:{port}", self.url.scheme()),
            None => format!("{}://{host}", self.url.scheme()),
        }
    }

    /// How logs and notices name it: `https://hooks.example.com (#3f2a9c1d5e7b8a90)`.
    pub fn label(&self) -> String {
        format!("{} (#{})", self.origin(), self.id())
    }

    fn store_key(&self) -> AlertWebhook {
        AlertWebhook {
            id: self.id(),
            origin: self.origin(),
        }
    }
}

/// Never the URL itself: `Debug` output lands in logs too.
impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", self.label())
    }
}

/// clap's parser for `--alert-webhook`: a refused value is repeated without its
/// credentials, query or path.
#[derive(Debug, Clone, Copy)]
pub struct WebhookUrlParser;

impl clap::builder::TypedValueParser for WebhookUrlParser {
    type Value = WebhookUrl;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<WebhookUrl, clap::Error> {
        let text = value.to_string_lossy();
        match text.parse::<WebhookUrl>() {
            Ok(url) => Ok(url),
            Err(reason) => {
                // clap's own wording, naming the flag, about the redacted value.
                let refuse = move |_: &str| -> Result<WebhookUrl, String> { Err(reason.clone()) };
                refuse.parse_ref(cmd, arg, std::ffi::OsStr::new(&redacted(&text)))
            }
        }
    }
}

/// A value that may be a URL with secrets in it, cut down to its scheme and host.
fn redacted(text: &str) -> String {
    let text = text.trim();
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), text),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let more = if end < rest.len() || host.len() < authority.len() {
        "…"
    } else {
        ""
    };
    format!("{scheme}{host}{more}")
}

/// How delivery retries: `first` after the first failure, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The wait after the `failures`-th failed attempt (1 for the first).
    pub fn delay(&self, failures: i64) -> Duration {
        let doublings = u32::try_from(failures.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.first
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max)
    }
}

/// What the delivery task is given.
#[derive(Debug, Clone, Default)]
pub struct DeliveryConfig {
    pub webhooks: Vec<WebhookUrl>,
    pub backoff: Backoff,
}

/// Remembers the webhooks and queues for each the alerts of current windows it has not
/// had yet (a webhook configured later does not receive alerts of past windows);
/// returns how many were queued. Runs before the server starts serving.
pub fn configure(state: &AppState, webhooks: &[WebhookUrl]) -> anyhow::Result<u64> {
    let keys: Vec<AlertWebhook> = webhooks.iter().map(WebhookUrl::store_key).collect();
    state
        .store
        .configure_alert_webhooks(&keys, &|o| state.store.alive(o), Utc::now())
        .map_err(|e| anyhow::anyhow!("cannot prepare alert delivery: {e}"))
}

/// Runs a store call on the blocking pool.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&AppState) -> StoreResult<T> + Send + 'static,
) -> Result<T, String> {
    let state = state.clone();
    match tokio::task::spawn_blocking(move || f(&state)).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("the store call stopped unexpectedly".to_owned()),
    }
}

/// The delivery task: runs until the runtime stops.
pub async fn run(state: AppState, config: DeliveryConfig) {
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("catalog/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            log_line(&format!(
                "{} alerts: cannot deliver alerts ({e}); they stay queued",
                super::handlers::now()
            ));
            return;
        }
    };
    let hooks: Arc<HashMap<String, WebhookUrl>> = Arc::new(
        config
            .webhooks
            .iter()
            .map(|w| (w.id(), w.clone()))
            .collect(),
    );
    let ids: Arc<Vec<String>> = Arc::new(hooks.keys().cloned().collect());
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut store_failing = false;
    let gateway = state.gateway.clone();
    loop {
        while in_flight.try_join_next().is_some() {}
        // Registered before looking, so a settlement meanwhile still wakes the task.
        let settled = gateway.settlements.notified();
        tokio::pin!(settled);
        settled.as_mut().enable();

        let looked = look(
            &state,
            &ids,
            &hooks,
            &client,
            config.backoff,
            &mut in_flight,
        )
        .await;
        // Until the next look: a second at most, less when an attempt comes due sooner.
        let wait = match &looked {
            Ok(Some(due)) => (*due - Utc::now()).to_std().unwrap_or_default().min(POLL),
            _ => POLL,
        };
        match looked {
            Ok(_) if store_failing => {
                store_failing = false;
                log_line(&format!(
                    "{} alerts: the outbox can be read again",
                    super::handlers::now()
                ));
            }
            Ok(_) => {}
            Err(e) if !store_failing => {
                store_failing = true;
                log_line(&format!(
                    "{} alerts: cannot read the outbox ({e}); alerts stay queued, trying again",
                    super::handlers::now()
                ));
            }
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = &mut settled => tokio::time::sleep(SETTLE_GAP).await,
            Some(_) = in_flight.join_next() => {}
        }
    }
}

/// One look at the outbox: new alerts are logged and queued, due deliveries started.
/// Returns when the next delivery not started yet is due.
async fn look(
    state: &AppState,
    ids: &Arc<Vec<String>>,
    hooks: &Arc<HashMap<String, WebhookUrl>>,
    client: &reqwest::Client,
    backoff: Backoff,
    in_flight: &mut JoinSet<()>,
) -> Result<Option<DateTime<Utc>>, String> {
    let webhooks = ids.clone();
    let outbox = blocking(state, move |s| s.store.read()?.alert_outbox(&webhooks)).await?;
    if outbox.unseen {
        let webhooks = ids.clone();
        let new = blocking(state, move |s| {
            s.store.take_new_alerts(&webhooks, Utc::now())
        })
        .await?;
        for alert in new {
            log_raised(&described(alert), ids.len());
        }
    }
    let room = IN_FLIGHT.saturating_sub(in_flight.len());
    let now = Utc::now();
    // New alerts were just queued for every webhook: due now.
    let next_due = match outbox.next_due {
        _ if outbox.unseen && !ids.is_empty() => Some(now),
        due => due,
    };
    if next_due.is_some_and(|t| t <= now) && room > 0 {
        let webhooks = ids.clone();
        let due = blocking(state, move |s| {
            s.store
                .claim_alert_deliveries(&webhooks, Utc::now(), LEASE, room)
        })
        .await?;
        for delivery in due {
            let Some(hook) = hooks.get(&delivery.webhook).cloned() else {
                continue;
            };
            let (state, client) = (state.clone(), client.clone());
            in_flight.spawn(attempt(state, client, hook, delivery, backoff));
        }
        // What is left (or was not claimed for want of room) is looked at again soon.
        return Ok(None);
    }
    Ok(next_due)
}

/// The line of an alert, when the server first sees it.
fn log_raised(alert: &AlertEvent, webhooks: usize) {
    log_line(&format!(
        "{} alert id={} kind={} level={} name={} webhooks={webhooks}: {}",
        super::handlers::now(),
        alert.id,
        alert.kind.as_str(),
        log_field(&alert.level),
        log_field(&alert.name),
        alert.message.replace(char::is_control, " "),
    ));
}

/// One attempt at one delivery, recorded however it went.
async fn attempt(
    state: AppState,
    client: reqwest::Client,
    hook: WebhookUrl,
    delivery: DueDelivery,
    backoff: Backoff,
) {
    let alert = described(delivery.alert);
    let id = alert.id;
    let outcome = match crate::api::json::to_vec(&alert) {
        Ok(body) => post(&client, &hook, id, body).await,
        Err(e) => Err(format!("cannot encode the alert: {e}")),
    };
    let failures = delivery.attempts + 1;
    let attempt = match &outcome {
        Ok(()) => DeliveryAttempt::Delivered,
        Err(error) => DeliveryAttempt::Failed {
            error: error.clone(),
            retry_at: Utc::now()
                + chrono::Duration::from_std(backoff.delay(failures))
                    .unwrap_or_else(|_| chrono::Duration::seconds(300)),
        },
    };
    let webhook = hook.id();
    let recorded = blocking(&state, move |s| {
        s.store
            .record_alert_delivery(id, &webhook, &attempt, Utc::now())
    })
    .await;
    let now = super::handlers::now();
    let label = hook.label();
    match (recorded, outcome) {
        (Err(e), _) => log_line(&format!(
            "{now} alert id={id} webhook={label}: the attempt could not be recorded ({e}); it will be made again"
        )),
        (Ok(n), Err(error)) if n == KEEPS_FAILING => log_line(&format!(
            "{now} alert id={id} webhook={label}: delivery keeps failing ({error}, {n} attempts); retrying with backoff up to {}",
            span(backoff.max)
        )),
        (Ok(n), Ok(())) if n > KEEPS_FAILING => log_line(&format!(
            "{now} alert id={id} webhook={label}: delivered after {n} attempts"
        )),
        _ => {}
    }
}

/// A duration for people: `500ms`, `30s`, `5min`.
fn span(d: Duration) -> String {
    match d.as_millis() {
        ms if ms < 1000 => format!("{ms}ms"),
        ms if ms < 60_000 || ms % 60_000 != 0 => format!("{}s", d.as_secs_f64()),
        ms => format!("{}min", ms / 60_000),
    }
}

/// POSTs the alert; `Ok` on a 2xx, else why not (never naming the URL).
async fn post(
    client: &reqwest::Client,
    hook: &WebhookUrl,
    id: i64,
    body: Vec<u8>,
) -> Result<(), String> {
    let answer = client
        .post(hook.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(ID_HEADER, id.to_string())
        .body(body)
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        // reqwest's own messages name the URL: only the kind of failure is kept.
        Err(e) if e.is_timeout() => Err("timed out".to_owned()),
        Err(e) if e.is_connect() => Err("connection failed".to_owned()),
        Err(e) if e.is_redirect() => Err("redirected (not followed)".to_owned()),
        Err(_) => Err("the request failed".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_need_http_and_a_host_and_never_show_their_secrets() {
        let url: WebhookUrl =
            "https://user:s3cret@hooks.example.com:8443/services/T0/B0/XyZ?token=t0k"
                .parse()
                .unwrap();
        assert_eq!(url.origin(), "https://hooks.example.com:8443");
        let shown = format!("{} {:?}", url.label(), url);
        for secret in ["s3cret", "user", "XyZ", "t0k", "services"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(url.id().len(), 16);
        let other: WebhookUrl = "https://hooks.example.com:8443/services/T0/B0/other"
            .parse()
            .unwrap();
        assert_ne!(
            url.id(),
            other.id(),
            "the id tells webhooks of one host apart"
        );
        for bad in ["ftp://x/y", "hooks.example.com/a", "", "http://"] {
            let err = bad.parse::<WebhookUrl>().unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
        assert_eq!(
            redacted("htps://u:pw@hooks.example.com/T/B?token=x"),
            "htps://hooks.example.com…"
        );
        assert_eq!(redacted("hooks.example.com"), "hooks.example.com");
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=12).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(b.delay(i64::MAX), Duration::from_secs(300));
        assert_eq!(b.delay(0), Duration::from_secs(1));
        assert_eq!(span(b.max), "5min");
        assert_eq!(span(Duration::from_millis(500)), "500ms");
        assert_eq!(span(Duration::from_millis(1500)), "1.5s");
    }
}
