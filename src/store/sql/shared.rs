//! Admission on counters shared in Redis ([`RedisCounters`]), with the catalog's
//! database as the ledger.
//!
//! - A hold is decided by one script in Redis, then recorded in the database (for its
//!   settlement and for recovery after a crash) only while the database still names the
//!   seeding the script used; otherwise it is taken back and decided again.
//! - A settlement lands in the database first (the durable charge), then in Redis; both
//!   steps do nothing the second time, so a settlement is retried whole until both land.
//! - Seeding copies the database's counters, rate slots and open holds into a fresh set
//!   of keys, absolutely, under the exclusive write lock: no hold is recorded and nothing
//!   settles while it reads, so nothing is counted twice or lost.
//! - A process killed between the two steps of a settlement leaves its hold in Redis;
//!   the replicas that outlive it release it at its whole amount (never less than what
//!   was used).

use chrono::{DateTime, Utc};

use super::ledger::{self, Counter, Counting, Held};
use super::read::meta;
use super::{args, exec, rows, Sql, SqlStore, TxKind};
use crate::admission::rate;
use crate::store::redis::{Entry, Marker, Outcome, RedisCounters, Seed};
use crate::store::{
    owner, Admission, Gauge, HoldEntry, Refusal, StoreError, StoreResult, Unavailable,
};

/// The `meta` key naming the seeding of Redis the catalog's holds were admitted under.
pub(super) const SEED_META: &str = "redis_seed";

/// How many times an admission is decided again (a budget's window moved, Redis was
/// seeded meanwhile) before the request is answered 503.
const ATTEMPTS: usize = 6;

/// How old a hold in Redis that the catalog does not know must be to count as stray.
const STRAY_AFTER_MS: i64 = 60_000;

/// A counter's name in Redis: `SCOPE|LIMIT`.
pub(super) fn counter(scope: &str, limit: &str) -> String {
    format!("{scope}|{limit}")
}

fn given(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// Refuses to admit from the database's counters while the catalog's are in Redis (a
/// replica started without `--redis-url` beside replicas with it would count apart).
pub(super) fn refuse_if_shared(conn: &dyn Sql) -> StoreResult<()> {
    match meta(conn, SEED_META)? {
        None => Ok(()),
        Some(_) => Err(StoreError::Internal(anyhow::Error::new(Unavailable(
            "this catalog's admission counters are in Redis, where its other replicas keep them; this replica runs without --redis-url and admits nothing: restart it with the same --redis-url as the others".to_owned(),
        )))),
    }
}

impl SqlStore {
    /// For a replica that keeps the admission counters in the database: `Err` naming the
    /// problem while other replicas of the catalog (seen in the last `window`) keep them
    /// in Redis; otherwise the counters come back to the database (the next replica with
    /// `--redis-url` seeds Redis again).
    pub fn claim_database_counters(&self, since: DateTime<Utc>) -> StoreResult<Result<(), String>> {
        self.transaction(TxKind::Write, |conn| {
            if meta(conn, SEED_META)?.is_none() {
                return Ok(Ok(()));
            }
            let others = rows(
                conn,
                "SELECT owner FROM replicas WHERE seen_at >= ?1 AND owner <> ?2",
                args![crate::api::usage::timestamp(since), owner::this_process()],
                |r| r.get::<String>(0),
            )?;
            if !others.is_empty() {
                return Ok(Err(format!(
                    "{} other replica(s) of this catalog keep its admission counters in Redis; a replica without --redis-url would count apart from them",
                    others.len()
                )));
            }
            exec(conn, "DELETE FROM meta WHERE key = ?1", args![SEED_META])?;
            Ok(Ok(()))
        })
    }

    /// Seeds Redis from the catalog unless it already holds the seeding the catalog
    /// names, written by Redis' current run.
    pub(super) fn seed_shared(&self, redis: &RedisCounters) -> StoreResult<()> {
        let force = redis.take_stale();
        let seeded = self.seed_unless_current(redis, force);
        if seeded.is_err() && force {
            redis.mark_stale();
        }
        if let Some(seed) = seeded? {
            // Outside the lock: the keys of earlier seedings are never read again.
            redis.remove_other_seedings(&seed);
        }
        Ok(())
    }

    /// Seeds Redis unless it is current (or `force`); returns the new seeding's name.
    fn seed_unless_current(
        &self,
        redis: &RedisCounters,
        force: bool,
    ) -> StoreResult<Option<String>> {
        // Most checks follow a new connection to the same Redis: nothing to do.
        if let (Some(m), run_id) = redis.marker()? {
            if !force && m.run_id == run_id && redis.confirmed(&m) {
                return Ok(None);
            }
        }
        self.transaction(TxKind::Write, |conn| {
            let (marker, run_id) = redis.marker()?;
            let named = meta(conn, SEED_META)?;
            if let (false, Some(m)) = (force, marker.clone()) {
                if m.run_id == run_id && named.as_deref() == Some(m.seed.as_str()) {
                    redis.confirm(m);
                    return Ok(None);
                }
            }
            let state = seed_of(conn)?;
            let seed = redis.seed(&state, &run_id)?;
            exec(
                conn,
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                args![SEED_META, seed],
            )?;
            redis.confirm(Marker {
                seed: seed.clone(),
                run_id,
            });
            Ok(Some(seed))
        })
    }

    /// [`crate::store::Store::admit`] (or, `dry`, `probe`) on the shared counters.
    pub(super) fn admit_shared(
        &self,
        redis: &RedisCounters,
        hold: &str,
        entries: &[HoldEntry],
        now: DateTime<Utc>,
        dry: bool,
    ) -> StoreResult<Admission> {
        let owner = owner::this_process();
        let now_ms = now.timestamp_millis();
        for _ in 0..ATTEMPTS {
            if !redis.is_confirmed() {
                self.seed_shared(redis)?;
            }
            let mut windows: Vec<Option<(String, Option<String>)>> = vec![None; entries.len()];
            let plan: Vec<Entry> = entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let name = counter(&e.scope.key(), &e.limit);
                    let (kind, ceiling, args) = match &e.gauge {
                        Gauge::Budget {
                            limits, ceiling, ..
                        } => {
                            let (stored, reset) = redis.window(&name);
                            let now_in = ledger::in_window(
                                Counter {
                                    window_started_at: given(stored.clone()),
                                    last_reset_at: given(reset),
                                    ..Counter::default()
                                },
                                limits,
                                now,
                            );
                            let window = now_in.window_started_at.unwrap_or_default();
                            let reset = now_in.last_reset_at;
                            windows[i] = Some((window.clone(), reset.clone()));
                            ('b', *ceiling, [stored, window, reset.unwrap_or_default()])
                        }
                        Gauge::Rate {
                            slot_ms, ceiling, ..
                        } => {
                            let slot = rate::slot_of(now_ms, *slot_ms);
                            let first = rate::first_counted(slot);
                            (
                                'r',
                                *ceiling,
                                [slot.to_string(), first.to_string(), String::new()],
                            )
                        }
                        Gauge::Concurrency { ceiling } => ('c', *ceiling, Default::default()),
                    };
                    Entry {
                        kind,
                        counter: name,
                        amount: e.amount,
                        ceiling,
                        args,
                    }
                })
                .collect();
            match redis.admit(hold, owner, &plan, dry)? {
                Outcome::NoSeed => self.seed_shared(redis)?,
                Outcome::Window {
                    index,
                    window,
                    reset,
                } => redis.saw_window(&plan[index].counter, window, reset),
                Outcome::Refused {
                    index,
                    held_out,
                    headroom,
                    used,
                    slots,
                } => {
                    let entry = &entries[index];
                    let retry_after = match (&entry.gauge, &windows[index]) {
                        (Gauge::Budget { limits, .. }, Some((window, _))) => ledger::until_reset(
                            &Counter {
                                window_started_at: Some(window.clone()),
                                ..Counter::default()
                            },
                            limits,
                            now,
                        ),
                        (
                            Gauge::Rate {
                                slot_ms, ceiling, ..
                            },
                            _,
                        ) => rate::retry_after(&slots, entry.amount, *ceiling, *slot_ms, now_ms),
                        _ => None,
                    };
                    if let (false, false, Some((window, reset))) = (dry, held_out, &windows[index])
                    {
                        if redis.first_exhaustion(&plan[index].counter, window) {
                            self.transaction(TxKind::Ledger, |conn| {
                                ledger::mark_exhausted(
                                    conn,
                                    entry,
                                    window,
                                    reset.as_deref(),
                                    used,
                                    now,
                                )
                            })?;
                        }
                    }
                    return Ok(Admission::Refused(Refusal {
                        index,
                        held_out,
                        retry_after,
                        headroom: headroom.max(0),
                    }));
                }
                Outcome::Admitted { seed } => {
                    if dry {
                        return Ok(Admission::Admitted);
                    }
                    for (p, w) in plan.iter().zip(&windows) {
                        if let Some((window, reset)) = w {
                            redis.saw_window(
                                &p.counter,
                                window.clone(),
                                reset.clone().unwrap_or_default(),
                            );
                        }
                    }
                    let held: Vec<Held> = entries
                        .iter()
                        .zip(&plan)
                        .zip(windows)
                        .map(|((e, p), w)| {
                            let mut e = e.clone();
                            if p.kind == 'r' {
                                e.slot = p.args[0].parse().ok();
                            }
                            Held::of(&e)
                                .in_window(w.as_ref().map(|(w, r)| (w.as_str(), r.as_deref())))
                        })
                        .collect();
                    let recorded = self.transaction(TxKind::Ledger, |conn| {
                        ledger::record_hold(conn, owner, hold, &held, now, Some(&seed))
                    });
                    match recorded {
                        Ok(true) => return Ok(Admission::Admitted),
                        Ok(false) => {
                            // Seeded again meanwhile: take the hold back (if it is in the
                            // seeding Redis now uses) and decide again.
                            redis.release(hold, Some(&vec![0; entries.len()]))?;
                            redis.recheck();
                        }
                        Err(e) => {
                            let _ = redis.release(hold, Some(&vec![0; entries.len()]));
                            return Err(e);
                        }
                    }
                }
            }
        }
        Err(StoreError::Internal(anyhow::Error::new(Unavailable(
            "the admission counters in Redis kept changing while this request was admitted"
                .to_owned(),
        ))))
    }

    /// [`crate::store::Store::settle`] on the shared counters: the charge lands in the
    /// catalog, then in Redis.
    pub(super) fn settle_shared(
        &self,
        redis: &RedisCounters,
        hold: &str,
        actual: &[i64],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.transaction(TxKind::Ledger, |conn| {
            ledger::settle(conn, hold, actual, now, Counting::Shared)
        })?;
        let used: Vec<i64> = actual.iter().map(|a| (*a).max(0)).collect();
        redis.release(hold, Some(&used))?;
        Ok(())
    }

    /// [`crate::store::Store::recover_holds`] on the shared counters.
    pub(super) fn recover_shared(
        &self,
        redis: &RedisCounters,
        alive: &dyn Fn(&str) -> bool,
    ) -> StoreResult<u64> {
        let n = self.transaction(TxKind::Write, |conn| {
            ledger::recover(conn, alive, Utc::now(), Counting::Shared)
        })?;
        // A Redis that came back empty is seeded now, not at the next call: usage reports
        // read it in the meantime.
        self.seed_shared(redis)?;
        // A hold of a live replica that the catalog does not know after a minute had its
        // settlement land here but not in Redis (which refused for longer than the
        // settlement is retried): seeding again counts exactly what settled.
        let stale = Utc::now().timestamp_millis() - STRAY_AFTER_MS;
        let mut strays = Vec::new();
        for (hold, owner, at) in redis.holds()? {
            if !alive(&owner) {
                redis.release(&hold, None)?;
            } else if at > 0 && at < stale {
                strays.push(hold);
            }
        }
        if !strays.is_empty() {
            let known = self.transaction(TxKind::Read, |conn| {
                let mut known = 0;
                for hold in &strays {
                    known += rows(
                        conn,
                        "SELECT 1 FROM holds WHERE id = ?1",
                        args![hold],
                        |_| Ok(()),
                    )?
                    .len();
                }
                Ok(known)
            })?;
            if known < strays.len() {
                redis.mark_stale();
                self.seed_shared(redis)?;
            }
        }
        Ok(n)
    }
}

/// The counters, rate slots and open holds of the catalog, as Redis is seeded with them.
fn seed_of(conn: &dyn Sql) -> StoreResult<Seed> {
    let mut seed = Seed::default();
    for (scope, limit, used, window, reset) in rows(
        conn,
        "SELECT scope, limit_key, used, window_started_at, last_reset_at FROM counters",
        args![],
        |r| {
            Ok((
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        },
    )? {
        seed.counters
            .insert(counter(&scope, &limit), (used, 0, window, reset));
    }
    for (scope, limit, slot, amount) in rows(
        conn,
        "SELECT scope, limit_key, slot, amount FROM rate_slots",
        args![],
        |r| {
            Ok((
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get(2)?,
                r.get(3)?,
            ))
        },
    )? {
        seed.slots
            .entry(counter(&scope, &limit))
            .or_default()
            .insert(slot, amount);
    }
    for (id, owner, doc) in rows(
        conn,
        "SELECT id, owner, entries FROM holds ORDER BY id",
        args![],
        |r| {
            Ok((
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get::<String>(2)?,
            ))
        },
    )? {
        let held: Vec<Held> = serde_json::from_str(&doc)
            .map_err(|e| StoreError::Internal(anyhow::anyhow!("hold `{id}` is unreadable: {e}")))?;
        let mut entries = Vec::new();
        for h in &held {
            let name = counter(h.scope(), h.limit());
            match h.gauge() {
                'r' => {
                    *seed
                        .slots
                        .entry(name.clone())
                        .or_default()
                        .entry(h.slot().unwrap_or_default())
                        .or_default() += h.amount();
                }
                _ => {
                    seed.counters
                        .entry(name.clone())
                        .or_insert((0, 0, None, None))
                        .1 += h.amount();
                }
            }
            entries.push((h.gauge(), name, h.amount(), h.slot()));
        }
        seed.holds.push((id, owner, entries));
    }
    Ok(seed)
}
