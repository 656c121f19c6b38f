//! The request a handler's write transaction is audited for: the route layer of every
//! change (`POST`, `PUT`, `DELETE`) runs its handler inside an [`AuditContext`], and
//! [`super::AppState::begin`] hands it to the transaction.

use axum::extract::Request;
use axum::http::{HeaderMap, Method};

use super::auth::Principal;
use crate::api::audit::AuditActor;
use crate::domain::audit::AuditContext;

tokio::task_local! {
    static CURRENT: AuditContext;
}

/// The context of the request being served, if it is a change.
pub fn current() -> Option<AuditContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `f` in `context` (when the request is a change).
pub async fn within<F: std::future::Future>(context: Option<AuditContext>, f: F) -> F::Output {
    match context {
        Some(ctx) => CURRENT.scope(ctx, f).await,
        None => f.await,
    }
}

/// The context of `request`, matched to `route`, when it is a change.
pub fn context(route: &str, request: &Request) -> Option<AuditContext> {
    let method = request.method();
    if !(method == Method::POST
        || method == Method::PUT
        || method == Method::PATCH
        || method == Method::DELETE)
    {
        return None;
    }
    let actor = match request.extensions().get::<Principal>()?.key() {
        None => AuditActor::embedded(),
        Some(key) => AuditActor {
            kind: "api_key".to_owned(),
            api_key_id: Some(key.id.clone()),
            name: Some(key.name.clone()),
        },
    };
    Some(AuditContext {
        actor,
        method: method.as_str().to_owned(),
        path: format!("/v1{}", request.uri().path()),
        route: route.to_owned(),
        request_id: request_id(request.headers()),
    })
}

/// The caller's trace id (`x-portkey-trace-id`, as Portkey's SDKs send it) when it is a
/// sensible one, else a new one.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-portkey-trace-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// How often retention looks for records to prune.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes the audit records older than `retention`, at start and then hourly; each
/// pruning that deletes something is itself recorded, and logged.
pub async fn retain(state: super::AppState, retention: chrono::Duration) {
    loop {
        let store = state.store.clone();
        let now = chrono::Utc::now();
        let cutoff = now - retention;
        match tokio::task::spawn_blocking(move || store.prune_audit(cutoff, now)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => super::log_line(&format!(
                "audit retention: deleted {n} record(s) older than {}",
                crate::domain::audit::timestamp(cutoff)
            )),
            Ok(Err(e)) => super::log_line(&format!("audit retention: cannot prune: {e}")),
            Err(e) => super::log_line(&format!("audit retention: cannot prune: {e}")),
        }
        tokio::time::sleep(PRUNE_EVERY).await;
    }
}
