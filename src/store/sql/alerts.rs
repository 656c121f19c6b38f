//! The alert outbox: the list the Admin API shows, and what a delivery task
//! picks up, claims and records. Settlement inserts the alerts (see [`super::ledger`]);
//! everything here runs on the ledger's connection or a reader.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{args, exec, internal, one, rows, Arg, Sql, ToArg};
use crate::api::usage::timestamp;
use crate::store::{
    Alert, AlertDelivery, AlertEvent, AlertKind, AlertOutbox, AlertQuery, AlertWebhook,
    DeliveryAttempt, DueDelivery, StoreResult,
};

/// An alert's event from its row: the document raised at settlement, with its id.
fn event(id: i64, doc: &str) -> StoreResult<AlertEvent> {
    let mut v: serde_json::Value = serde_json::from_str(doc).map_err(internal)?;
    v["id"] = id.into();
    serde_json::from_value(v).map_err(internal)
}

/// `?first, ?first+1, ...`: one placeholder per webhook.
fn placeholders(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const FILTER: &str = "WHERE (?1 IS NULL OR kind = ?1)
    AND (?2 IS NULL OR (CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END) = CAST(?2 AS BIGINT))
    AND (?3 IS NULL OR created_at >= ?3)";

pub(super) fn list(conn: &dyn Sql, q: &AlertQuery) -> StoreResult<(u64, Vec<Alert>)> {
    let kind = q.kind.map(AlertKind::as_str);
    let since = q.since.map(timestamp);
    let total: i64 = one(
        conn,
        &format!("SELECT count(*) FROM alerts {FILTER}"),
        args![kind, q.delivered, since],
        |r| r.get(0),
    )?
    .unwrap_or(0);
    let limit = i64::try_from(q.page.page_size).unwrap_or(i64::MAX);
    let offset = i64::try_from(q.page.offset()).unwrap_or(i64::MAX);
    let found = rows(
        conn,
        &format!(
            "SELECT id, doc, delivered_at, attempts FROM alerts {FILTER}
             ORDER BY id DESC LIMIT ?4 OFFSET ?5"
        ),
        args![kind, q.delivered, since, limit, offset],
        |r| {
            Ok((
                r.get::<i64>(0)?,
                r.get::<String>(1)?,
                r.get::<Option<String>>(2)?,
                r.get::<i64>(3)?,
            ))
        },
    )?;
    let mut alerts = Vec::with_capacity(found.len());
    for (id, doc, delivered_at, attempts) in found {
        alerts.push(Alert {
            event: event(id, &doc)?,
            delivered: delivered_at.is_some(),
            delivered_at,
            attempts,
            deliveries: Vec::new(),
        });
    }
    attach_deliveries(conn, &mut alerts)?;
    Ok((u64::try_from(total).unwrap_or(0), alerts))
}

/// Reads the deliveries of a page of alerts (one query over the page's id range).
fn attach_deliveries(conn: &dyn Sql, alerts: &mut [Alert]) -> StoreResult<()> {
    let (Some(lo), Some(hi)) = (
        alerts.iter().map(|a| a.event.id).min(),
        alerts.iter().map(|a| a.event.id).max(),
    ) else {
        return Ok(());
    };
    let at: HashMap<i64, usize> = alerts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.event.id, i))
        .collect();
    let deliveries = rows(
        conn,
        "SELECT d.alert_id, d.webhook, w.origin, d.delivered_at, d.attempts,
                d.next_attempt_at, d.last_error
         FROM alert_deliveries d JOIN alert_webhooks w ON w.id = d.webhook
         WHERE d.alert_id BETWEEN ?1 AND ?2
         ORDER BY w.configured_at, d.webhook",
        args![lo, hi],
        |r| {
            let delivered_at: Option<String> = r.get(3)?;
            let next: String = r.get(5)?;
            Ok((
                r.get::<i64>(0)?,
                AlertDelivery {
                    webhook: r.get(1)?,
                    origin: r.get(2)?,
                    next_attempt_at: delivered_at.is_none().then_some(next),
                    delivered_at,
                    attempts: r.get(4)?,
                    last_error: r.get(6)?,
                },
            ))
        },
    )?;
    for (id, delivery) in deliveries {
        if let Some(&i) = at.get(&id) {
            alerts[i].deliveries.push(delivery);
        }
    }
    Ok(())
}

pub(super) fn outbox(conn: &dyn Sql, webhooks: &[String]) -> StoreResult<AlertOutbox> {
    let unseen: bool = one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM alerts WHERE seen_at IS NULL)",
        args![],
        |r| r.get(0),
    )?
    .unwrap_or(false);
    let next_due: Option<String> = if webhooks.is_empty() {
        None
    } else {
        let hooks: Vec<Arg<'_>> = webhooks.iter().map(|w| w.to_arg()).collect();
        one(
            conn,
            &format!(
                "SELECT min(next_attempt_at) FROM alert_deliveries
                 WHERE delivered_at IS NULL AND webhook IN ({})",
                placeholders(webhooks.len(), 1)
            ),
            &hooks,
            |r| r.get(0),
        )?
        .flatten()
    };
    let next_due = next_due
        .map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(internal)
        })
        .transpose()?;
    Ok(AlertOutbox { unseen, next_due })
}

pub(super) fn configure(
    conn: &dyn Sql,
    webhooks: &[AlertWebhook],
    alive: &dyn Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let at = timestamp(now);
    // Attempts a crash cut short are due again now, not when their claim runs out.
    let owners: Vec<String> = rows(
        conn,
        "SELECT DISTINCT claimed_by FROM alert_deliveries
         WHERE claimed_by IS NOT NULL AND delivered_at IS NULL",
        args![],
        |r| r.get(0),
    )?;
    for owner in owners.iter().filter(|o| !alive(o)) {
        exec(
            conn,
            "UPDATE alert_deliveries SET claimed_by = NULL, next_attempt_at = ?2
             WHERE claimed_by = ?1 AND delivered_at IS NULL",
            args![owner, at],
        )?;
    }
    let mut queued = 0;
    for w in webhooks {
        exec(
            conn,
            "INSERT INTO alert_webhooks(id, origin, configured_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET origin = excluded.origin",
            args![w.id, w.origin, at],
        )?;
        // A window is current while its counter still counts in it.
        queued += exec(
            conn,
            "INSERT INTO alert_deliveries(alert_id, webhook, next_attempt_at)
             SELECT a.id, ?1, ?2 FROM alerts a
             JOIN counters c ON c.scope = a.scope AND c.limit_key = a.limit_key
                AND c.window_started_at = a.window_started_at
             WHERE true
             ON CONFLICT(alert_id, webhook) DO NOTHING",
            args![w.id, at],
        )?;
    }
    // An alert queued for one more webhook is not delivered until that one has it.
    exec(
        conn,
        "UPDATE alerts SET delivered_at = NULL WHERE delivered_at IS NOT NULL
         AND EXISTS (SELECT 1 FROM alert_deliveries d
                     WHERE d.alert_id = alerts.id AND d.delivered_at IS NULL)",
        args![],
    )?;
    Ok(queued)
}

pub(super) fn take_new(
    conn: &dyn Sql,
    webhooks: &[String],
    now: DateTime<Utc>,
) -> StoreResult<Vec<AlertEvent>> {
    let at = timestamp(now);
    let mut taken: Vec<(i64, String)> = rows(
        conn,
        "UPDATE alerts SET seen_at = ?1 WHERE seen_at IS NULL RETURNING id, doc",
        args![at],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    taken.sort_by_key(|(id, _)| *id);
    for (id, _) in &taken {
        for w in webhooks {
            exec(
                conn,
                "INSERT INTO alert_deliveries(alert_id, webhook, next_attempt_at)
                 VALUES (?1, ?2, ?3) ON CONFLICT(alert_id, webhook) DO NOTHING",
                args![id, w, at],
            )?;
        }
    }
    taken.iter().map(|(id, doc)| event(*id, doc)).collect()
}

pub(super) fn claim(
    conn: &dyn Sql,
    owner: &str,
    webhooks: &[String],
    now: DateTime<Utc>,
    lease: std::time::Duration,
    limit: usize,
) -> StoreResult<Vec<DueDelivery>> {
    if webhooks.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let at = timestamp(now);
    let until = timestamp(now + chrono::Duration::from_std(lease).map_err(internal)?);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut params = vec![at.to_arg(), limit.to_arg()];
    params.extend(webhooks.iter().map(|w| w.to_arg()));
    let found: Vec<(i64, String, i64, String)> = rows(
        conn,
        &format!(
            "SELECT d.alert_id, d.webhook, d.attempts, a.doc
             FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
             WHERE d.delivered_at IS NULL AND d.next_attempt_at <= ?1 AND d.webhook IN ({})
             ORDER BY d.alert_id LIMIT ?2",
            placeholders(webhooks.len(), 3)
        ),
        &params,
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let mut due = Vec::with_capacity(found.len());
    for (id, webhook, attempts, doc) in found {
        exec(
            conn,
            "UPDATE alert_deliveries SET next_attempt_at = ?3, claimed_by = ?4
             WHERE alert_id = ?1 AND webhook = ?2",
            args![id, webhook, until, owner],
        )?;
        due.push(DueDelivery {
            alert: event(id, &doc)?,
            webhook,
            attempts,
        });
    }
    Ok(due)
}

pub(super) fn record(
    conn: &dyn Sql,
    alert_id: i64,
    webhook: &str,
    attempt: &DeliveryAttempt,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    let at = timestamp(now);
    let attempts: Option<i64> = match attempt {
        DeliveryAttempt::Delivered => one(
            conn,
            "UPDATE alert_deliveries SET attempts = attempts + 1, delivered_at = ?3,
                last_error = NULL, claimed_by = NULL
             WHERE alert_id = ?1 AND webhook = ?2 AND delivered_at IS NULL
             RETURNING attempts",
            args![alert_id, webhook, at],
            |r| r.get(0),
        )?,
        DeliveryAttempt::Failed { error, retry_at } => one(
            conn,
            "UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = ?3,
                last_error = ?4, claimed_by = NULL
             WHERE alert_id = ?1 AND webhook = ?2 AND delivered_at IS NULL
             RETURNING attempts",
            args![alert_id, webhook, timestamp(*retry_at), error],
            |r| r.get(0),
        )?,
    };
    // Already delivered (or never queued): nothing to record.
    let Some(attempts) = attempts else {
        return Ok(0);
    };
    exec(
        conn,
        "UPDATE alerts SET attempts = attempts + 1,
            delivered_at = CASE WHEN EXISTS (SELECT 1 FROM alert_deliveries
                                             WHERE alert_id = ?1 AND delivered_at IS NULL)
                           THEN NULL ELSE ?2 END
         WHERE id = ?1",
        args![alert_id, at],
    )?;
    Ok(attempts)
}
