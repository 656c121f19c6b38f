//! The admission ledger on SQLite: holds and settlements are `BEGIN IMMEDIATE`
//! transactions on a connection of their own, so they are atomic across every process
//! that opens the catalog (a `catalog serve` and an embedded CLI alike).
//!
//! That connection commits with `synchronous=NORMAL`: in WAL mode a commit is in the
//! operating system's hands when it returns, so it survives the process being killed
//! (`kill -9`); only a power cut can take the last commits with it.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::internal;
use crate::admission::rate;
use crate::api::usage::{timestamp, UsageState};
use crate::store::{Admission, Gauge, HoldEntry, Refusal, StoreError, StoreResult};

/// A counter row as admission reads it.
struct Counter {
    used: i64,
    held: i64,
    window_started_at: Option<String>,
    last_reset_at: Option<String>,
}

fn counter(conn: &Connection, scope: &str, limit: &str) -> StoreResult<Option<Counter>> {
    conn.prepare_cached(
        "SELECT used, held, window_started_at, last_reset_at FROM counters
         WHERE scope = ?1 AND limit_key = ?2",
    )
    .map_err(internal)?
    .query_row(params![scope, limit], |r| {
        Ok(Counter {
            used: r.get(0)?,
            held: r.get(1)?,
            window_started_at: r.get(2)?,
            last_reset_at: r.get(3)?,
        })
    })
    .optional()
    .map_err(internal)
}

fn exec(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> StoreResult<usize> {
    conn.prepare_cached(sql)
        .map_err(internal)?
        .execute(args)
        .map_err(internal)
}

/// A budget's counter in its current window: created on first use, rolled (usage back
/// to zero) when a reset came due.
fn budget_counter(
    conn: &Connection,
    entry: &HoldEntry,
    limits: &crate::api::limits::UsageLimits,
    now: DateTime<Utc>,
) -> StoreResult<Counter> {
    let scope = entry.scope.key();
    let current = counter(conn, &scope, &entry.limit)?;
    let mut state = UsageState {
        window_started_at: current.as_ref().and_then(|c| c.window_started_at.clone()),
        last_reset_at: current.as_ref().and_then(|c| c.last_reset_at.clone()),
        ..UsageState::fresh(now)
    };
    if state.window_started_at.is_none() {
        state.window_started_at = Some(timestamp(now));
    }
    let before = state.window_started_at.clone();
    state.refresh(limits, now);
    let rolled = state.window_started_at != before;
    let mut c = current.unwrap_or(Counter {
        used: 0,
        held: 0,
        window_started_at: None,
        last_reset_at: None,
    });
    if rolled || c.window_started_at.is_none() {
        if rolled {
            c.used = 0;
        }
        c.window_started_at = state.window_started_at;
        c.last_reset_at = state.last_reset_at;
        exec(
            conn,
            "INSERT INTO counters(scope, limit_key, scale, used, held, window_started_at, last_reset_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(scope, limit_key) DO UPDATE SET used = excluded.used,
                window_started_at = excluded.window_started_at,
                last_reset_at = excluded.last_reset_at, exhausted_window = NULL",
            params![
                scope,
                entry.limit,
                entry.unit.scale(),
                c.used,
                c.held,
                c.window_started_at,
                c.last_reset_at
            ],
        )?;
    }
    Ok(c)
}

fn rate_slots(
    conn: &Connection,
    scope: &str,
    limit: &str,
    from: i64,
) -> StoreResult<Vec<(i64, i64)>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT slot, amount FROM rate_slots WHERE scope = ?1 AND limit_key = ?2 AND slot >= ?3",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map(params![scope, limit, from], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

/// Checks one entry; `Some` refusal when it does not fit. Budget windows roll here.
fn check(
    conn: &Connection,
    index: usize,
    entry: &mut HoldEntry,
    now: DateTime<Utc>,
) -> StoreResult<Option<Refusal>> {
    let scope = entry.scope.key();
    let refusal = |held_out, retry_after, headroom| Refusal {
        index,
        held_out,
        retry_after,
        headroom,
    };
    Ok(match &entry.gauge {
        Gauge::Budget {
            limits, ceiling, ..
        } => {
            let c = budget_counter(conn, entry, limits, now)?;
            if c.used + c.held + entry.amount <= *ceiling {
                None
            } else {
                let next = UsageState {
                    window_started_at: c.window_started_at.clone(),
                    ..UsageState::fresh(now)
                };
                let mut next = next;
                next.refresh(limits, now);
                let retry_after = next
                    .next_usage_reset_at
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .and_then(|t| (t.with_timezone(&Utc) - now).to_std().ok());
                let held_out = c.used + entry.amount <= *ceiling;
                Some(refusal(
                    held_out,
                    retry_after,
                    (ceiling - c.used - c.held).max(0),
                ))
            }
        }
        Gauge::Rate {
            slot_ms, ceiling, ..
        } => {
            let now_ms = now.timestamp_millis();
            let current = rate::slot_of(now_ms, *slot_ms);
            let slots = rate_slots(conn, &scope, &entry.limit, rate::first_counted(current))?;
            let counted: i64 = slots.iter().map(|(_, a)| a).sum();
            entry.slot = Some(current);
            entry.new_slot = !slots.iter().any(|(s, _)| *s == current);
            if counted + entry.amount <= *ceiling {
                None
            } else {
                let wait = rate::retry_after(&slots, entry.amount, *ceiling, *slot_ms, now_ms);
                Some(refusal(false, wait, (ceiling - counted).max(0)))
            }
        }
        Gauge::Concurrency { ceiling } => {
            let held = counter(conn, &scope, &entry.limit)?.map_or(0, |c| c.held);
            if held + entry.amount <= *ceiling {
                None
            } else {
                Some(refusal(false, None, (ceiling - held).max(0)))
            }
        }
    })
}

/// Takes the entry's amount (after every entry was checked).
fn take(conn: &Connection, entry: &HoldEntry) -> StoreResult<()> {
    let scope = entry.scope.key();
    match &entry.gauge {
        Gauge::Budget { .. } | Gauge::Concurrency { .. } => {
            exec(
                conn,
                "INSERT INTO counters(scope, limit_key, scale, held) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(scope, limit_key) DO UPDATE SET held = held + excluded.held",
                params![scope, entry.limit, entry.unit.scale(), entry.amount],
            )?;
        }
        Gauge::Rate { .. } => {
            let slot = entry.slot.unwrap_or_default();
            exec(
                conn,
                "INSERT INTO rate_slots(scope, limit_key, slot, amount) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(scope, limit_key, slot) DO UPDATE SET amount = amount + excluded.amount",
                params![scope, entry.limit, slot, entry.amount],
            )?;
            // Slots that no window counts any more go, once per slot.
            if entry.new_slot {
                exec(
                    conn,
                    "DELETE FROM rate_slots WHERE scope = ?1 AND limit_key = ?2 AND slot < ?3",
                    params![scope, entry.limit, rate::first_counted(slot)],
                )?;
            }
        }
    }
    Ok(())
}

/// Marks a budget's current window as exhausted and raises its limit alert.
fn exhaust(conn: &Connection, entry: &HoldEntry, used: i64, now: DateTime<Utc>) -> StoreResult<()> {
    let scope = entry.scope.key();
    exec(
        conn,
        "UPDATE counters SET exhausted_window = window_started_at WHERE scope = ?1 AND limit_key = ?2",
        params![scope, entry.limit],
    )?;
    raise(conn, entry, "limit", used, now)
}

/// Records an alert of a budget's current window, once.
fn raise(
    conn: &Connection,
    entry: &HoldEntry,
    kind: &str,
    used: i64,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let Gauge::Budget {
        limits,
        ceiling,
        alert,
    } = &entry.gauge
    else {
        return Ok(());
    };
    let scope = entry.scope.key();
    let Some(window) = counter(conn, &scope, &entry.limit)?.and_then(|c| c.window_started_at)
    else {
        return Ok(());
    };
    let doc = serde_json::json!({
        "kind": kind,
        "level": entry.level,
        "name": entry.name,
        "scope": scope,
        "limit_key": entry.limit,
        "unit": match limits.kind {
            crate::api::limits::BudgetType::Cost => "cost",
            crate::api::limits::BudgetType::Tokens => "tokens",
        },
        "used": entry.unit.shown(used),
        "credit_limit": entry.unit.shown(*ceiling),
        "alert_threshold": alert.map(|a| entry.unit.shown(a)),
        "window_started_at": window,
        "created_at": timestamp(now),
    });
    exec(
        conn,
        "INSERT INTO alerts(scope, limit_key, window_started_at, kind, doc, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(scope, limit_key, window_started_at, kind) DO NOTHING",
        params![
            scope,
            entry.limit,
            window,
            kind,
            doc.to_string(),
            timestamp(now)
        ],
    )?;
    Ok(())
}

pub(super) fn admit(
    conn: &Connection,
    owner: &str,
    hold: &str,
    entries: &[HoldEntry],
    now: DateTime<Utc>,
) -> StoreResult<Admission> {
    let mut entries = entries.to_vec();
    for (i, entry) in entries.iter_mut().enumerate() {
        if let Some(refusal) = check(conn, i, entry, now)? {
            if !refusal.held_out && matches!(entry.gauge, Gauge::Budget { .. }) {
                let used = counter(conn, &entry.scope.key(), &entry.limit)?.map_or(0, |c| c.used);
                exhaust(conn, entry, used, now)?;
            }
            return Ok(Admission::Refused(refusal));
        }
    }
    for entry in &entries {
        take(conn, entry)?;
    }
    let doc = serde_json::to_string(&entries)
        .map_err(|e| StoreError::Internal(anyhow::anyhow!("cannot record a hold: {e}")))?;
    exec(
        conn,
        "INSERT INTO holds(id, owner, created_at, entries) VALUES (?1, ?2, ?3, ?4)",
        params![hold, owner, timestamp(now), doc],
    )?;
    Ok(Admission::Admitted)
}

/// Replaces one entry's held amount with `actual`.
fn settle_entry(
    conn: &Connection,
    entry: &HoldEntry,
    actual: i64,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let scope = entry.scope.key();
    match &entry.gauge {
        Gauge::Budget { ceiling, alert, .. } => {
            let used: Option<i64> = conn
                .prepare_cached(
                    "UPDATE counters SET held = max(held - ?3, 0), used = used + ?4
                     WHERE scope = ?1 AND limit_key = ?2 RETURNING used",
                )
                .map_err(internal)?
                .query_row(params![scope, entry.limit, entry.amount, actual], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(internal)?;
            let Some(used) = used else { return Ok(()) };
            if alert.is_some_and(|a| used >= a) {
                raise(conn, entry, "threshold", used, now)?;
            }
            if used >= *ceiling {
                exhaust(conn, entry, used, now)?;
            }
        }
        Gauge::Rate { .. } => {
            exec(
                conn,
                "UPDATE rate_slots SET amount = max(amount - ?4 + ?5, 0)
                 WHERE scope = ?1 AND limit_key = ?2 AND slot = ?3",
                params![
                    scope,
                    entry.limit,
                    entry.slot.unwrap_or_default(),
                    entry.amount,
                    actual
                ],
            )?;
        }
        Gauge::Concurrency { .. } => {
            exec(
                conn,
                "UPDATE counters SET held = max(held - ?3, 0) WHERE scope = ?1 AND limit_key = ?2",
                params![scope, entry.limit, entry.amount],
            )?;
        }
    }
    Ok(())
}

/// The hold's entries, taken out of the ledger; `None` when it is already settled.
fn take_hold(conn: &Connection, hold: &str) -> StoreResult<Option<Vec<HoldEntry>>> {
    let doc: Option<String> = conn
        .prepare_cached("DELETE FROM holds WHERE id = ?1 RETURNING entries")
        .map_err(internal)?
        .query_row([hold], |r| r.get(0))
        .optional()
        .map_err(internal)?;
    doc.map(|d| {
        serde_json::from_str(&d)
            .map_err(|e| StoreError::Internal(anyhow::anyhow!("hold `{hold}` is unreadable: {e}")))
    })
    .transpose()
}

pub(super) fn settle(
    conn: &Connection,
    hold: &str,
    actual: &[i64],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let Some(entries) = take_hold(conn, hold)? else {
        return Ok(());
    };
    for (i, entry) in entries.iter().enumerate() {
        let used = match entry.gauge {
            Gauge::Concurrency { .. } => 0,
            _ => actual.get(i).copied().unwrap_or(entry.amount).max(0),
        };
        settle_entry(conn, entry, used, now)?;
    }
    Ok(())
}

/// Holds of processes that are gone, settled at their full amounts.
pub(super) fn recover(
    conn: &Connection,
    alive: &dyn Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let holds: Vec<(String, String)> = {
        let mut stmt = conn
            .prepare_cached("SELECT id, owner FROM holds")
            .map_err(internal)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(internal)?;
        rows.collect::<Result<_, _>>().map_err(internal)?
    };
    let mut n = 0;
    for (id, owner) in holds {
        if alive(&owner) {
            continue;
        }
        if let Some(entries) = take_hold(conn, &id)? {
            for entry in &entries {
                let full = match entry.gauge {
                    Gauge::Concurrency { .. } => 0,
                    _ => entry.amount,
                };
                settle_entry(conn, entry, full, now)?;
            }
            n += 1;
        }
    }
    Ok(n)
}
