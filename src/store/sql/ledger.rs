//! The admission ledger in the database's tables: [`decide`] is the one rule of
//! admission (whichever engine keeps the counters); on PostgreSQL, holds and settlements
//! are transactions of their own, and on a catalog file the journal ([`super::journal`])
//! decides in memory and writes its records here in batches.
//!
//! A hold reads every counter it needs in two statements, decides in memory, and writes
//! them back in two more (absolute values: nothing else writes inside the transaction),
//! plus the hold's own row; a settlement is a delete and one or two updates.

use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{args, exec, one, rows, Arg, Sql, ToArg};
use crate::admission::rate;
use crate::api::usage::{timestamp, UsageState};
use crate::store::{Admission, Gauge, HoldEntry, Refusal, StoreError, StoreResult, Unit};

/// A counter's key: its scope's key and the limit's.
pub(super) type Key = (String, String);

/// The key of `entry`'s counter.
pub(super) fn key_of_entry(entry: &HoldEntry) -> Key {
    (entry.scope.key(), entry.limit.clone())
}

/// Counters and rate slots by key, as a hold is decided on them: read from the tables
/// ([`Standing::read`]), or kept in memory by the journal.
#[derive(Default)]
pub(super) struct Standing {
    /// Budgets' and concurrency limits' counters.
    pub(super) counters: hashbrown::HashMap<Key, Counter>,
    /// Rate limits' slots: amount by slot.
    pub(super) slots: hashbrown::HashMap<Key, BTreeMap<i64, i64>>,
}

impl Standing {
    /// The counters of `counter_keys` and the slots of `rate_keys` from `from_slot` on.
    pub(super) fn read(
        conn: &dyn Sql,
        counter_keys: &[Key],
        rate_keys: &[Key],
        from_slot: i64,
    ) -> StoreResult<Standing> {
        Ok(Standing {
            counters: counters(conn, counter_keys)?.into_iter().collect(),
            slots: slots(conn, rate_keys, from_slot)?
                .into_iter()
                .map(|(k, s)| (k, s.into_iter().collect()))
                .collect(),
        })
    }

    /// A rate limit's slots from `first` on, `(slot, amount)`.
    fn slots_from(&self, key: &Key, first: i64) -> Vec<(i64, i64)> {
        self.slots
            .get(key)
            .map(|s| {
                s.range(first..)
                    .map(|(slot, amount)| (*slot, *amount))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A counter row (a budget's or a concurrency limit's) as admission reads it.
#[derive(Debug, Clone, Default)]
pub(super) struct Counter {
    pub(super) used: i64,
    pub(super) held: i64,
    pub(super) window_started_at: Option<String>,
    pub(super) last_reset_at: Option<String>,
    pub(super) exhausted_window: Option<String>,
}

/// `(?,?),(?,?),...`: `n` pairs of placeholders.
fn pairs(n: usize) -> String {
    vec!["(?,?)"; n].join(",")
}

fn key_args(keys: &[Key]) -> Vec<Arg<'_>> {
    keys.iter()
        .flat_map(|(s, l)| [s.to_arg(), l.to_arg()])
        .collect()
}

pub(super) fn counters(conn: &dyn Sql, keys: &[Key]) -> StoreResult<HashMap<Key, Counter>> {
    if keys.is_empty() {
        return Ok(HashMap::default());
    }
    let sql = format!(
        "SELECT scope, limit_key, used, held, window_started_at, last_reset_at, exhausted_window
         FROM counters WHERE (scope, limit_key) IN (VALUES {})",
        pairs(keys.len())
    );
    let found = rows(conn, &sql, &key_args(keys), |r| {
        Ok((
            (r.get(0)?, r.get(1)?),
            Counter {
                used: r.get(2)?,
                held: r.get(3)?,
                window_started_at: r.get(4)?,
                last_reset_at: r.get(5)?,
                exhausted_window: r.get(6)?,
            },
        ))
    })?;
    Ok(found.into_iter().collect())
}

pub(super) fn slots(
    conn: &dyn Sql,
    keys: &[Key],
    from: i64,
) -> StoreResult<HashMap<Key, Vec<(i64, i64)>>> {
    let mut out: HashMap<Key, Vec<(i64, i64)>> = HashMap::default();
    if keys.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT scope, limit_key, slot, amount FROM rate_slots
         WHERE (scope, limit_key) IN (VALUES {}) AND slot >= ?",
        pairs(keys.len())
    );
    let mut args = key_args(keys);
    args.push(from.to_arg());
    for (key, slot) in rows(conn, &sql, &args, |r| {
        Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?)))
    })? {
        out.entry(key).or_default().push(slot);
    }
    Ok(out)
}

/// A budget's counter in its current window: a new one starts now; one whose reset came
/// due starts over from zero (what it holds stays held).
pub(super) fn in_window(
    mut c: Counter,
    limits: &crate::api::limits::UsageLimits,
    now: DateTime<Utc>,
) -> Counter {
    // The common case, without formatting a time: a window that has not come due.
    let started = c
        .window_started_at
        .as_deref()
        .and_then(crate::api::usage::parse);
    if let Some(start) = started {
        if crate::api::usage::next_reset(limits, start, start).is_none_or(|due| due > now) {
            return c;
        }
    }
    let mut state = UsageState {
        window_started_at: Some(
            c.window_started_at
                .clone()
                .unwrap_or_else(|| timestamp(now)),
        ),
        last_reset_at: c.last_reset_at.clone(),
        ..UsageState::fresh(now)
    };
    let before = state.window_started_at.clone();
    state.refresh(limits, now);
    if state.window_started_at != before {
        c.used = 0;
        c.exhausted_window = None;
        c.last_reset_at = state.last_reset_at;
    }
    c.window_started_at = state.window_started_at;
    c
}

/// When a spent budget's window resets, as a wait from `now`.
pub(super) fn until_reset(
    c: &Counter,
    limits: &crate::api::limits::UsageLimits,
    now: DateTime<Utc>,
) -> Option<std::time::Duration> {
    let mut state = UsageState {
        window_started_at: c.window_started_at.clone(),
        ..UsageState::fresh(now)
    };
    state.refresh(limits, now);
    let at = DateTime::parse_from_rfc3339(state.next_usage_reset_at.as_deref()?).ok()?;
    (at.with_timezone(&Utc) - now).to_std().ok()
}

/// Writes counters back as they now stand.
pub(super) fn save_counters(conn: &dyn Sql, rows: &[(&Key, i64, &Counter)]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO counters(scope, limit_key, scale, used, held, window_started_at,
                              last_reset_at, exhausted_window)
         VALUES {}
         ON CONFLICT(scope, limit_key) DO UPDATE SET scale = excluded.scale,
            used = excluded.used, held = excluded.held,
            window_started_at = excluded.window_started_at,
            last_reset_at = excluded.last_reset_at, exhausted_window = excluded.exhausted_window",
        vec!["(?,?,?,?,?,?,?,?)"; rows.len()].join(",")
    );
    let args: Vec<Arg<'_>> = rows
        .iter()
        .flat_map(|(k, scale, c)| {
            [
                k.0.to_arg(),
                k.1.to_arg(),
                scale.to_arg(),
                c.used.to_arg(),
                c.held.to_arg(),
                c.window_started_at.to_arg(),
                c.last_reset_at.to_arg(),
                c.exhausted_window.to_arg(),
            ]
        })
        .collect();
    exec(conn, &sql, &args)?;
    Ok(())
}

/// What a hold keeps of an entry for its settlement (or its recovery after a crash): the
/// amount, and the entry it counts against, which every hold of that entry shares.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Held {
    #[serde(flatten)]
    pub(super) entry: Arc<Entry>,
    pub(super) amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) slot: Option<i64>,
}

/// The counter, limit and budget window that held amounts count against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Entry {
    pub(super) scope: String,
    pub(super) limit: String,
    pub(super) unit: Unit,
    /// `b`udget, `r`ate or `c`oncurrency.
    pub(super) gauge: char,
    pub(super) ceiling: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) alert: Option<i64>,
    pub(super) level: String,
    pub(super) name: String,
    /// The budget window the hold was admitted in, when the counters are kept elsewhere
    /// (Redis): the settlement starts that window here if it is newer than this row's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reset: Option<String>,
}

impl std::ops::Deref for Held {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        &self.entry
    }
}

/// A budget window as a hold records it: when it started, and the reset that started it.
pub(super) type Window<'a> = Option<(&'a str, Option<&'a str>)>;

/// `e`'s gauge as an entry keeps it: its letter, ceiling and alert threshold.
fn gauge_of(e: &HoldEntry) -> (char, i64, Option<i64>) {
    match &e.gauge {
        Gauge::Budget { ceiling, alert, .. } => ('b', *ceiling, *alert),
        Gauge::Rate { ceiling, .. } => ('r', *ceiling, None),
        Gauge::Concurrency { ceiling } => ('c', *ceiling, None),
    }
}

impl Entry {
    /// Whether this is the entry of `e` (whose counter is `key`) in budget window `window`.
    pub(super) fn is(&self, e: &HoldEntry, key: &Key, window: Window<'_>) -> bool {
        let (gauge, ceiling, alert) = gauge_of(e);
        let (start, reset) = window.map_or((None, None), |(w, r)| (Some(w), r));
        self.scope == key.0
            && self.limit == key.1
            && self.unit == e.unit
            && self.gauge == gauge
            && self.ceiling == ceiling
            && self.alert == alert
            && self.level == e.level
            && self.name == e.name
            && self.window.as_deref() == start
            && self.reset.as_deref() == reset
    }
}

impl Held {
    pub(super) fn of(e: &HoldEntry) -> Held {
        Held::keyed(e, key_of_entry(e), e.slot)
    }

    /// [`Held::of`] with `e`'s counter key already made, and its rate slot.
    pub(super) fn keyed(e: &HoldEntry, (scope, limit): Key, slot: Option<i64>) -> Held {
        let (gauge, ceiling, alert) = gauge_of(e);
        Held {
            entry: Arc::new(Entry {
                scope,
                limit,
                unit: e.unit,
                gauge,
                ceiling,
                alert,
                level: e.level.clone(),
                name: e.name.clone(),
                window: None,
                reset: None,
            }),
            amount: e.amount,
            slot,
        }
    }

    /// Records the budget window this entry was admitted in.
    pub(super) fn in_window(mut self, window: Window<'_>) -> Held {
        if let Some((start, reset)) = window {
            let entry = Arc::make_mut(&mut self.entry);
            entry.window = Some(start.to_owned());
            entry.reset = reset.map(str::to_owned);
        }
        self
    }

    pub(super) fn scope(&self) -> &str {
        &self.scope
    }

    pub(super) fn limit(&self) -> &str {
        &self.limit
    }

    pub(super) fn gauge(&self) -> char {
        self.gauge
    }

    pub(super) fn amount(&self) -> i64 {
        self.amount
    }

    pub(super) fn slot(&self) -> Option<i64> {
        self.slot
    }
}

/// Where the live counters of admission are: in these tables, or shared in Redis with
/// these tables keeping what settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counting {
    /// Holds count in `counters.held` and `rate_slots`; a settlement corrects them.
    InDatabase,
    /// Holds count in Redis; a settlement adds what was used (creating the counter and
    /// starting the window the hold was admitted in, as Redis did).
    Shared,
}

/// Records an alert of a budget's window, once (`kind`: `threshold` or `limit`).
pub(super) fn raise(
    conn: &dyn Sql,
    h: &Held,
    kind: &str,
    used: i64,
    window: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let doc = serde_json::json!({
        "kind": kind,
        "level": h.level,
        "name": h.name,
        "scope": h.scope,
        "limit_key": h.limit,
        "unit": match h.unit { Unit::NanoUsd => "cost", Unit::Tokens => "tokens", Unit::Requests => "requests" },
        "used": h.unit.shown(used),
        "credit_limit": h.unit.shown(h.ceiling),
        "alert_threshold": h.alert.map(|a| h.unit.shown(a)),
        "window_started_at": window,
        "created_at": timestamp(now),
    });
    exec(
        conn,
        "INSERT INTO alerts(scope, limit_key, window_started_at, kind, doc, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(scope, limit_key, window_started_at, kind) DO NOTHING",
        args![
            h.scope,
            h.limit,
            window,
            kind,
            doc.to_string(),
            timestamp(now)
        ],
    )?;
    Ok(())
}

/// A budget that refused a request: its window shows `exhausted`, and its limit alert
/// is raised.
fn exhaust_counter(
    conn: &dyn Sql,
    entry: &HoldEntry,
    key: &Key,
    mut c: Counter,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let window = c
        .window_started_at
        .clone()
        .unwrap_or_else(|| timestamp(now));
    if c.exhausted_window.as_deref() == Some(window.as_str()) {
        return Ok(());
    }
    c.exhausted_window = Some(window.clone());
    save_counters(conn, &[(key, entry.unit.scale(), &c)])?;
    raise(conn, &Held::of(entry), "limit", c.used, &window, now)
}

/// What admission decided, before anything is written.
pub(super) enum Decision {
    /// Every entry fits.
    Admitted {
        /// Each rate limit's slot, and whether the hold opens it (is its first amount:
        /// older slots are cleared then); `None` for the other entries.
        slots: Vec<Option<(i64, bool)>>,
        /// Each budget's and concurrency limit's counter with the hold taken, by the
        /// index of its entry, with its unit's scale.
        after: Vec<(usize, i64, Counter)>,
    },
    /// The first entry that does not fit; `exhaust`: a budget that is spent, as its
    /// counter now stands in its window (to be marked `exhausted`).
    Refused {
        refusal: Refusal,
        exhaust: Option<Counter>,
    },
}

/// Decides a hold of `entries` (whose counters' keys are `keys`) at `now` on counters as
/// they stand, in memory: the one rule of admission, whichever engine keeps the counters.
pub(super) fn decide(
    entries: &[HoldEntry],
    keys: &[Key],
    standing: &Standing,
    now: DateTime<Utc>,
) -> Decision {
    let now_ms = now.timestamp_millis();
    let mut slots = Vec::with_capacity(entries.len());
    let mut after: Vec<(usize, i64, Counter)> = Vec::new();
    for (index, (entry, k)) in entries.iter().zip(keys).enumerate() {
        let refusal = |held_out, retry_after, headroom: i64| Refusal {
            index,
            held_out,
            retry_after,
            headroom: headroom.max(0),
        };
        let mut slot = None;
        match &entry.gauge {
            Gauge::Budget {
                limits, ceiling, ..
            } => {
                let c = in_window(
                    standing.counters.get(k).cloned().unwrap_or_default(),
                    limits,
                    now,
                );
                if c.used + c.held + entry.amount > *ceiling {
                    let r = refusal(
                        c.used + entry.amount <= *ceiling,
                        until_reset(&c, limits, now),
                        ceiling - c.used - c.held,
                    );
                    let exhaust = (!r.held_out).then_some(c);
                    return Decision::Refused {
                        refusal: r,
                        exhaust,
                    };
                }
                let held = c.held + entry.amount;
                after.push((index, entry.unit.scale(), Counter { held, ..c }));
            }
            Gauge::Rate {
                slot_ms, ceiling, ..
            } => {
                let current = rate::slot_of(now_ms, *slot_ms);
                let first = rate::first_counted(current);
                let counted = standing.slots.get(k).map(|s| s.range(first..));
                let (total, taken) = counted
                    .into_iter()
                    .flatten()
                    .fold((0, false), |(total, taken), (s, amount)| {
                        (total + amount, taken || *s == current)
                    });
                slot = Some((current, !taken));
                if total + entry.amount > *ceiling {
                    let mine = standing.slots_from(k, first);
                    let wait = rate::retry_after(&mine, entry.amount, *ceiling, *slot_ms, now_ms);
                    return Decision::Refused {
                        refusal: refusal(false, wait, ceiling - total),
                        exhaust: None,
                    };
                }
            }
            Gauge::Concurrency { ceiling } => {
                let c = standing.counters.get(k).cloned().unwrap_or_default();
                if c.held + entry.amount > *ceiling {
                    return Decision::Refused {
                        refusal: refusal(false, None, ceiling - c.held),
                        exhaust: None,
                    };
                }
                let held = c.held + entry.amount;
                after.push((index, entry.unit.scale(), Counter { held, ..c }));
            }
        }
        slots.push(slot);
    }
    Decision::Admitted { slots, after }
}

/// The oldest rate slot any of `entries` counts at `now`.
fn oldest_slot(entries: &[HoldEntry], now: DateTime<Utc>) -> i64 {
    entries
        .iter()
        .filter_map(|e| match e.gauge {
            Gauge::Rate { slot_ms, .. } => Some(rate::first_counted(rate::slot_of(
                now.timestamp_millis(),
                slot_ms,
            ))),
            _ => None,
        })
        .min()
        .unwrap_or(0)
}

/// The counters and rate slots `entries` (whose keys are `keys`) are decided on, as the
/// database has them.
pub(super) fn load(
    conn: &dyn Sql,
    entries: &[HoldEntry],
    keys: &[Key],
    from_slot: i64,
) -> StoreResult<Standing> {
    let of = |rate: bool| -> Vec<Key> {
        entries
            .iter()
            .zip(keys)
            .filter(|(e, _)| matches!(e.gauge, Gauge::Rate { .. }) == rate)
            .map(|(_, k)| k.clone())
            .collect()
    };
    Standing::read(conn, &of(false), &of(true), from_slot)
}

pub(super) fn admit(
    conn: &dyn Sql,
    owner: &str,
    hold: &str,
    entries: &[HoldEntry],
    now: DateTime<Utc>,
) -> StoreResult<Admission> {
    super::shared::refuse_if_shared(conn)?;
    let keys: Vec<Key> = entries.iter().map(key_of_entry).collect();
    lock(conn, keys.iter().map(|(scope, _)| scope.clone()).collect())?;
    let standing = load(conn, entries, &keys, oldest_slot(entries, now))?;
    let (slots, after) = match decide(entries, &keys, &standing, now) {
        Decision::Refused { refusal, exhaust } => {
            if let Some(c) = exhaust {
                let i = refusal.index;
                exhaust_counter(conn, &entries[i], &keys[i], c, now)?;
            }
            return Ok(Admission::Refused(refusal));
        }
        Decision::Admitted { slots, after } => (slots, after),
    };
    let rows: Vec<(&Key, i64, &Counter)> =
        after.iter().map(|(i, s, c)| (&keys[*i], *s, c)).collect();
    save_counters(conn, &rows)?;
    // Each rate limit's `(key, amount, slot, opens the slot)`.
    let rates: Vec<(&Key, i64, i64, bool)> = entries
        .iter()
        .zip(&keys)
        .zip(&slots)
        .filter_map(|((e, k), s)| s.map(|(slot, new)| (k, e.amount, slot, new)))
        .collect();
    if !rates.is_empty() {
        let sql = format!(
            "INSERT INTO rate_slots(scope, limit_key, slot, amount) VALUES {}
             ON CONFLICT(scope, limit_key, slot) DO UPDATE
             SET amount = rate_slots.amount + excluded.amount",
            vec!["(?,?,?,?)"; rates.len()].join(",")
        );
        let args: Vec<Arg<'_>> = rates
            .iter()
            .flat_map(|((scope, limit), amount, slot, _)| {
                [
                    scope.to_arg(),
                    limit.to_arg(),
                    slot.to_arg(),
                    amount.to_arg(),
                ]
            })
            .collect();
        exec(conn, &sql, &args)?;
        // Slots no window counts any more go, once per slot.
        for ((scope, limit), _, slot, new) in &rates {
            if *new {
                exec(
                    conn,
                    "DELETE FROM rate_slots WHERE scope = ?1 AND limit_key = ?2 AND slot < ?3",
                    args![scope, limit, rate::first_counted(*slot)],
                )?;
            }
        }
    }
    let held: Vec<Held> = entries
        .iter()
        .zip(keys)
        .zip(&slots)
        .map(|((e, k), s)| Held::keyed(e, k, s.map(|(slot, _)| slot).or(e.slot)))
        .collect();
    record_hold(conn, owner, hold, &held, now, None)?;
    Ok(Admission::Admitted)
}

/// Records an admitted hold, for its settlement or its recovery after a crash. With
/// `seed`, only while the catalog still names that seeding of the shared counters (see
/// [`super::shared`]); returns whether it was recorded.
pub(super) fn record_hold(
    conn: &dyn Sql,
    owner: &str,
    hold: &str,
    held: &[Held],
    now: DateTime<Utc>,
    seed: Option<&str>,
) -> StoreResult<bool> {
    let doc = serde_json::to_string(&held)
        .map_err(|e| StoreError::Internal(anyhow::anyhow!("cannot record a hold: {e}")))?;
    let n = match seed {
        None => exec(
            conn,
            "INSERT INTO holds(id, owner, created_at, entries) VALUES (?1, ?2, ?3, ?4)",
            args![hold, owner, timestamp(now), doc],
        )?,
        Some(seed) => exec(
            conn,
            "INSERT INTO holds(id, owner, created_at, entries)
             SELECT ?1, ?2, ?3, ?4 WHERE EXISTS
                (SELECT 1 FROM meta WHERE key = ?5 AND value = ?6)",
            args![
                hold,
                owner,
                timestamp(now),
                doc,
                super::shared::SEED_META,
                seed
            ],
        )?,
    };
    if n > 0 && seed.is_some() {
        create_counters(conn, held.iter())?;
    }
    Ok(n > 0)
}

/// Creates the counters of `held` that do not exist yet (Redis admits without writing
/// here; reports list the counters found here), in the window they were admitted in.
fn create_counters<'h>(conn: &dyn Sql, held: impl Iterator<Item = &'h Held>) -> StoreResult<()> {
    let held: Vec<&Held> = held.filter(|h| h.gauge != 'r').collect();
    if held.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO counters(scope, limit_key, scale, used, held, window_started_at,
                              last_reset_at)
         VALUES {} ON CONFLICT(scope, limit_key) DO NOTHING",
        vec!["(?,?,?,0,0,?,?)"; held.len()].join(",")
    );
    let scales: Vec<i64> = held.iter().map(|h| h.unit.scale()).collect();
    let args: Vec<Arg<'_>> = held
        .iter()
        .zip(&scales)
        .flat_map(|(h, scale)| {
            [
                h.scope.to_arg(),
                h.limit.to_arg(),
                scale.to_arg(),
                h.window.to_arg(),
                h.reset.to_arg(),
            ]
        })
        .collect();
    exec(conn, &sql, &args)?;
    Ok(())
}

/// A budget Redis refused outright: its window here shows `exhausted` (starting that
/// window if it is newer than the row's), and its limit alert is raised, once a window.
pub(super) fn mark_exhausted(
    conn: &dyn Sql,
    entry: &HoldEntry,
    window: &str,
    reset: Option<&str>,
    used: i64,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let changed = exec(
        conn,
        "INSERT INTO counters(scope, limit_key, scale, used, held, window_started_at,
                              last_reset_at, exhausted_window)
         VALUES (?1, ?2, ?3, 0, 0, ?4, ?5, ?4)
         ON CONFLICT(scope, limit_key) DO UPDATE SET
            used = CASE WHEN counters.window_started_at IS NULL
                     OR counters.window_started_at < excluded.window_started_at
                THEN 0 ELSE counters.used END,
            last_reset_at = CASE WHEN counters.window_started_at IS NULL
                     OR counters.window_started_at < excluded.window_started_at
                THEN excluded.last_reset_at ELSE counters.last_reset_at END,
            window_started_at = excluded.window_started_at,
            exhausted_window = excluded.exhausted_window
         WHERE counters.exhausted_window IS DISTINCT FROM excluded.exhausted_window
           AND (counters.window_started_at IS NULL
                OR counters.window_started_at <= excluded.window_started_at)",
        args![
            entry.scope.key(),
            entry.limit,
            entry.unit.scale(),
            window,
            reset
        ],
    )?;
    if changed == 0 {
        return Ok(());
    }
    raise(conn, &Held::of(entry), "limit", used, window, now)
}

/// The hold's entries, taken out of the ledger; `None` when it is already settled.
pub(super) fn take_hold(conn: &dyn Sql, hold: &str) -> StoreResult<Option<Vec<Held>>> {
    let Some(doc) = one(
        conn,
        "DELETE FROM holds WHERE id = ?1 RETURNING entries",
        args![hold],
        |r| r.get::<String>(0),
    )?
    else {
        return Ok(None);
    };
    serde_json::from_str(&doc)
        .map(Some)
        .map_err(|e| StoreError::Internal(anyhow::anyhow!("hold `{hold}` is unreadable: {e}")))
}

/// Replaces the held amounts with `actual` (one per entry); raises the alerts of budgets
/// it carries across their threshold or limit.
fn apply(
    conn: &dyn Sql,
    held: &[Held],
    actual: &[i64],
    now: DateTime<Utc>,
    counting: Counting,
) -> StoreResult<()> {
    let used = |i: usize, h: &Held| match h.gauge {
        'c' => 0,
        _ => actual.get(i).copied().unwrap_or(h.amount).max(0),
    };
    let counted: Vec<(usize, &Held)> = held
        .iter()
        .enumerate()
        .filter(|(_, h)| h.gauge != 'r')
        .collect();
    if !counted.is_empty() {
        if counting == Counting::Shared {
            // Removed by an admin write since, perhaps.
            create_counters(conn, counted.iter().map(|(_, h)| *h))?;
        }
        // A hold admitted in a window newer than the row's starts that window here.
        let newer = "(s.win IS NOT NULL AND (counters.window_started_at IS NULL
                      OR counters.window_started_at < s.win))";
        let sql = format!(
            "WITH s(scope, limit_key, release, charge, win, reset) AS (VALUES {values})
             UPDATE counters SET held = CASE WHEN counters.held > s.release
                    THEN counters.held - s.release ELSE 0 END,
                used = CASE WHEN {newer} THEN s.charge ELSE counters.used + s.charge END,
                window_started_at = CASE WHEN {newer} THEN s.win
                    ELSE counters.window_started_at END,
                last_reset_at = CASE WHEN {newer} THEN s.reset ELSE counters.last_reset_at END,
                exhausted_window = CASE WHEN {newer} THEN NULL
                    ELSE counters.exhausted_window END
             FROM s WHERE counters.scope = s.scope AND counters.limit_key = s.limit_key
             RETURNING counters.scope, counters.limit_key, counters.used, counters.window_started_at",
            values = vec![
                "(?,?,CAST(? AS BIGINT),CAST(? AS BIGINT),CAST(? AS TEXT),CAST(? AS TEXT))";
                counted.len()
            ]
            .join(",")
        );
        let charges: Vec<i64> = counted.iter().map(|(i, h)| used(*i, h)).collect();
        let args: Vec<Arg<'_>> = counted
            .iter()
            .zip(&charges)
            .flat_map(|((_, h), c)| {
                [
                    h.scope.to_arg(),
                    h.limit.to_arg(),
                    h.amount.to_arg(),
                    c.to_arg(),
                    h.window.to_arg(),
                    h.reset.to_arg(),
                ]
            })
            .collect();
        let changed: Vec<(Key, i64, Option<String>)> = rows(conn, &sql, &args, |r| {
            Ok(((r.get(0)?, r.get(1)?), r.get(2)?, r.get(3)?))
        })?;
        for (key, after, window) in changed {
            let Some(((_, h), charge)) = counted
                .iter()
                .zip(&charges)
                .find(|((_, h), _)| h.gauge == 'b' && h.scope == key.0 && h.limit == key.1)
            else {
                continue;
            };
            let before = after - charge;
            let window = window.unwrap_or_else(|| timestamp(now));
            if h.alert.is_some_and(|a| before < a && a <= after) {
                raise(conn, h, "threshold", after, &window, now)?;
            }
            if before < h.ceiling && h.ceiling <= after {
                exec(
                    conn,
                    "UPDATE counters SET exhausted_window = window_started_at
                     WHERE scope = ?1 AND limit_key = ?2",
                    args![h.scope, h.limit],
                )?;
                raise(conn, h, "limit", after, &window, now)?;
            }
        }
    }
    for (i, h) in held.iter().enumerate() {
        if h.gauge != 'r' {
            continue;
        }
        let slot = h.slot.unwrap_or_default();
        match counting {
            Counting::InDatabase => {
                let delta = used(i, h) - h.amount;
                if delta != 0 {
                    exec(
                        conn,
                        "UPDATE rate_slots
                         SET amount = CASE WHEN amount + ?4 > 0 THEN amount + ?4 ELSE 0 END
                         WHERE scope = ?1 AND limit_key = ?2 AND slot = ?3",
                        args![h.scope, h.limit, slot, delta],
                    )?;
                }
            }
            Counting::Shared => {
                // What settled, for counters Redis reseeds from; older slots go.
                exec(
                    conn,
                    "INSERT INTO rate_slots(scope, limit_key, slot, amount) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(scope, limit_key, slot) DO UPDATE
                     SET amount = rate_slots.amount + excluded.amount",
                    args![h.scope, h.limit, slot, used(i, h)],
                )?;
                exec(
                    conn,
                    "DELETE FROM rate_slots WHERE scope = ?1 AND limit_key = ?2 AND slot < ?3",
                    args![h.scope, h.limit, rate::first_counted(slot)],
                )?;
            }
        }
    }
    Ok(())
}

pub(super) fn settle(
    conn: &dyn Sql,
    hold: &str,
    actual: &[i64],
    now: DateTime<Utc>,
    counting: Counting,
) -> StoreResult<()> {
    if conn.lock_scopes(&[])? {
        // The hold's entries never change: read first, then take their counters.
        let entries: Option<String> = one(
            conn,
            "SELECT entries FROM holds WHERE id = ?1",
            args![hold],
            |r| r.get(0),
        )?;
        let Some(entries) = entries else {
            return Ok(());
        };
        let held: Vec<Held> = serde_json::from_str(&entries).map_err(|e| {
            StoreError::Internal(anyhow::anyhow!("hold `{hold}` is unreadable: {e}"))
        })?;
        lock(conn, held.iter().map(|h| h.scope.clone()).collect())?;
    }
    match take_hold(conn, hold)? {
        Some(held) => apply(conn, &held, actual, now, counting),
        None => Ok(()),
    }
}

/// Takes the counters of `scopes` for the rest of the transaction, in sorted order.
fn lock(conn: &dyn Sql, mut scopes: Vec<String>) -> StoreResult<()> {
    scopes.sort();
    scopes.dedup();
    conn.lock_scopes(&scopes)?;
    Ok(())
}

/// Holds of processes that are gone, settled at their full amounts.
pub(super) fn recover(
    conn: &dyn Sql,
    alive: &dyn Fn(&str) -> bool,
    now: DateTime<Utc>,
    counting: Counting,
) -> StoreResult<u64> {
    let holds: Vec<(String, String)> = rows(
        conn,
        "SELECT id, owner FROM holds ORDER BY id",
        args![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut n = 0;
    for (id, owner) in holds {
        if alive(&owner) {
            continue;
        }
        if let Some(held) = take_hold(conn, &id)? {
            let full: Vec<i64> = held.iter().map(|h| h.amount).collect();
            apply(conn, &held, &full, now, counting)?;
            n += 1;
        }
    }
    Ok(n)
}
