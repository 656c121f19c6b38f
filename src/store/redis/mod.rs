//! Admission counters shared by every replica of a catalog, in Redis.
//!
//! A hold is one Lua script (`admit.lua`): it checks every level's counter and takes its
//! amounts at once, or refuses and takes nothing; a settlement is another (`release.lua`),
//! a no-op for a hold already settled. Every key of a catalog carries its hash tag
//! (`{catalog:ORG}`), so one slot holds them all and the scripts stay atomic on a
//! cluster too.
//!
//! Redis keeps live state only. The catalog's database keeps every hold and every
//! settled charge; the counters in Redis are *seeded* from it, absolutely, under a
//! generation of their own: a seeding writes a new set of keys and then points the seed
//! marker at them, so a counter is never added to twice. A Redis that restarted (its run
//! id changed) or lost the marker is seeded again before it admits anything. See
//! [`crate::store::sql::SqlStore`] for how the two are kept in step.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use redis::{Commands, Connection, RedisError, Script, Value};

use super::{StoreError, StoreResult, Unavailable};

/// How long connecting, or waiting for an answer, may take before Redis counts as
/// unreachable.
const TIMEOUT: Duration = Duration::from_secs(2);

/// One entry of a hold, as the admission script reads it (see `admit.lua`).
#[derive(Debug, Clone)]
pub struct Entry {
    /// `b`udget, `r`ate or `c`oncurrency.
    pub kind: char,
    /// `SCOPE|LIMIT`.
    pub counter: String,
    pub amount: i64,
    pub ceiling: i64,
    /// Budget: the window start believed stored, the current one, its last reset.
    /// Rate: the current slot, the oldest slot counted.
    pub args: [String; 3],
}

/// What the admission script answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Held (or, for a probe, would be), under this seeding.
    Admitted { seed: String },
    Refused {
        index: usize,
        held_out: bool,
        headroom: i64,
        used: i64,
        /// A rate limit's counted slots.
        slots: Vec<(i64, i64)>,
    },
    /// A budget's stored window is not the one the caller believed.
    Window {
        index: usize,
        window: String,
        reset: String,
    },
    /// No seeding: the counters must be seeded from the catalog first.
    NoSeed,
}

/// The counters as the catalog's database has them, to seed Redis with.
#[derive(Debug, Default)]
pub struct Seed {
    /// `SCOPE|LIMIT` → used, held, window start, last reset.
    pub counters: HashMap<String, (i64, i64, Option<String>, Option<String>)>,
    /// `SCOPE|LIMIT` → slot → amount.
    pub slots: HashMap<String, HashMap<i64, i64>>,
    /// Hold id → owner, entries.
    pub holds: Vec<(String, String, Vec<SeedEntry>)>,
}

/// An entry of an open hold: kind (`b`, `r`, `c`), `SCOPE|LIMIT`, amount, rate slot.
pub type SeedEntry = (char, String, i64, Option<i64>);

/// A counter an admin write set (`SCOPE|LIMIT`, and used, window start, last reset), or
/// removed (`None`).
pub type UsageChange = (String, Option<(i64, Option<String>, Option<String>)>);

/// The seeding Redis points at, and the run of Redis that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub seed: String,
    pub run_id: String,
}

pub struct RedisCounters {
    client: redis::Client,
    /// The URL with its password masked, for messages.
    shown: String,
    /// `{catalog:ORG}`.
    prefix: String,
    idle: Mutex<Vec<Connection>>,
    /// A connection was opened since the seeding was last checked.
    reconnected: AtomicBool,
    /// The seeding this process last found the catalog naming.
    confirmed: Mutex<Option<Marker>>,
    /// Budget windows as last seen: `SCOPE|LIMIT` → start, last reset.
    windows: Mutex<HashMap<String, (String, String)>>,
    /// Budgets whose exhaustion this process recorded: (`SCOPE|LIMIT`, window).
    exhausted: Mutex<HashSet<(String, String)>>,
    admit: Script,
    release: Script,
    set_usage: Script,
}

impl RedisCounters {
    /// Connects to the Redis at `url` for the counters of organisation `organisation`.
    pub fn connect(url: &str, organisation: &str) -> anyhow::Result<RedisCounters> {
        let shown = super::postgres::redact(url);
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("--redis-url {shown} is not a Redis URL: {e}"))?;
        let counters = RedisCounters {
            client,
            shown,
            prefix: format!("{{catalog:{organisation}}}"),
            idle: Mutex::new(Vec::new()),
            reconnected: AtomicBool::new(true),
            confirmed: Mutex::new(None),
            windows: Mutex::new(HashMap::new()),
            exhausted: Mutex::new(HashSet::new()),
            admit: Script::new(include_str!("admit.lua")),
            release: Script::new(include_str!("release.lua")),
            set_usage: Script::new(include_str!("set_usage.lua")),
        };
        counters.with(|c| redis::cmd("PING").query::<String>(c))?;
        Ok(counters)
    }

    /// The URL, password masked.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn marker_key(&self) -> String {
        format!("{}:seed", self.prefix)
    }

    fn key(&self, seed: &str, kind: char, name: &str) -> String {
        match kind {
            'r' => format!("{}:{seed}:r:{name}", self.prefix),
            'h' => format!("{}:{seed}:h:{name}", self.prefix),
            _ => format!("{}:{seed}:n:{name}", self.prefix),
        }
    }

    /// Runs `f` on a connection: an idle one, else a new one. A connection that failed
    /// is dropped; one that cannot be had is [`Unavailable`].
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>) -> StoreResult<T> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match idle {
            Some(c) => c,
            None => {
                let c = self
                    .client
                    .get_connection_with_timeout(TIMEOUT)
                    .map_err(|e| self.error(e))?;
                c.set_read_timeout(Some(TIMEOUT))
                    .map_err(|e| self.error(e))?;
                c.set_write_timeout(Some(TIMEOUT))
                    .map_err(|e| self.error(e))?;
                self.reconnected.store(true, Ordering::SeqCst);
                c
            }
        };
        match f(&mut conn) {
            Ok(v) => {
                self.idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(conn);
                Ok(v)
            }
            Err(e) => Err(self.error(e)),
        }
    }

    fn error(&self, e: RedisError) -> StoreError {
        if e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_unrecoverable_error()
        {
            StoreError::Internal(anyhow::Error::new(Unavailable(format!(
                "Redis at {}, which keeps the admission counters, cannot be reached: {e}",
                self.shown
            ))))
        } else {
            StoreError::Internal(anyhow::anyhow!("Redis at {}: {e}", self.shown))
        }
    }

    /// Whether a connection was opened since the last call: Redis may have restarted.
    pub fn take_reconnected(&self) -> bool {
        self.reconnected.swap(false, Ordering::SeqCst)
    }

    /// Asks for the seeding to be checked against the catalog before the next admission.
    pub fn recheck(&self) {
        *self.confirmed.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.reconnected.store(true, Ordering::SeqCst);
    }

    /// Whether the catalog was last found naming seeding `marker`.
    pub fn confirmed(&self, marker: &Marker) -> bool {
        self.confirmed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            == Some(marker)
    }

    /// Remembers that the catalog names seeding `marker`.
    pub fn confirm(&self, marker: Marker) {
        *self.confirmed.lock().unwrap_or_else(|e| e.into_inner()) = Some(marker);
    }

    /// The seeding Redis points at (if any) and the id of Redis' current run.
    pub fn marker(&self) -> StoreResult<(Option<Marker>, String)> {
        let key = self.marker_key();
        let (fields, info): (HashMap<String, String>, String) = self.with(|c| {
            redis::pipe()
                .hgetall(&key)
                .cmd("INFO")
                .arg("server")
                .query(c)
        })?;
        let run_id = info
            .lines()
            .find_map(|l| l.strip_prefix("run_id:"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        let marker = match (fields.get("gen"), fields.get("run_id")) {
            (Some(seed), Some(run)) => Some(Marker {
                seed: seed.clone(),
                run_id: run.clone(),
            }),
            _ => None,
        };
        Ok((marker, run_id))
    }

    /// Writes `state` under a new seeding and points the marker at it (for Redis' run
    /// `run_id`); returns the seeding's name. The keys of `previous` are removed after.
    pub fn seed(&self, state: &Seed, run_id: &str, previous: Option<&str>) -> StoreResult<String> {
        let seed = uuid::Uuid::new_v4().simple().to_string();
        let mut pipe = redis::pipe();
        for (counter, (used, held, window, reset)) in &state.counters {
            let key = self.key(&seed, 'n', counter);
            pipe.hset_multiple(
                &key,
                &[("used", used.to_string()), ("held", held.to_string())],
            )
            .ignore();
            if let Some(w) = window {
                pipe.hset(&key, "win", w).ignore();
            }
            if let Some(r) = reset {
                pipe.hset(&key, "reset", r).ignore();
            }
        }
        for (counter, slots) in &state.slots {
            let key = self.key(&seed, 'r', counter);
            for (slot, amount) in slots {
                pipe.hset(&key, slot, amount).ignore();
            }
        }
        for (hold, owner, entries) in &state.holds {
            let record: String = entries
                .iter()
                .map(|(kind, counter, amount, slot)| {
                    format!(
                        "{kind}\t{}\t{amount}\t{}\n",
                        self.key(&seed, *kind, counter),
                        slot.map(|s| s.to_string()).unwrap_or_default()
                    )
                })
                .collect();
            pipe.hset_multiple(
                self.key(&seed, 'h', hold),
                &[("owner", owner.as_str()), ("entries", record.as_str())],
            )
            .ignore();
            pipe.sadd(format!("{}:{seed}:holds", self.prefix), hold)
                .ignore();
        }
        pipe.hset_multiple(
            self.marker_key(),
            &[("gen", seed.as_str()), ("run_id", run_id)],
        )
        .ignore();
        self.with(|c| pipe.query::<()>(c))?;
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        if let Some(previous) = previous {
            // Best effort: keys of an abandoned seeding are never read again.
            let pattern = format!("{}:{previous}:*", self.prefix);
            let _ = self.with(|c| {
                let keys: Vec<String> = c
                    .scan_match::<_, String>(&pattern)?
                    .collect::<redis::RedisResult<_>>()?;
                for chunk in keys.chunks(500) {
                    redis::cmd("UNLINK").arg(chunk).query::<()>(c)?;
                }
                Ok(())
            });
        }
        Ok(seed)
    }

    /// Runs the admission script (`dry`: decide only).
    pub fn admit(
        &self,
        hold: &str,
        owner: &str,
        entries: &[Entry],
        dry: bool,
    ) -> StoreResult<Outcome> {
        let mut call = self.admit.prepare_invoke();
        call.key(self.marker_key())
            .arg(&self.prefix)
            .arg(hold)
            .arg(owner)
            .arg(if dry { "1" } else { "0" })
            .arg(entries.len());
        for e in entries {
            call.arg(e.kind.to_string())
                .arg(&e.counter)
                .arg(e.amount)
                .arg(e.ceiling)
                .arg(&e.args[0])
                .arg(&e.args[1])
                .arg(&e.args[2]);
        }
        let answer: Vec<Value> = self.with(|c| call.invoke(c))?;
        parse_outcome(&answer).ok_or_else(|| {
            StoreError::Internal(anyhow::anyhow!(
                "Redis at {}: an admission answer this build does not read: {answer:?}",
                self.shown
            ))
        })
    }

    /// Settles hold `hold` on the counters: `used` per entry, `None` for the whole
    /// amounts. Returns whether the hold was there.
    pub fn release(&self, hold: &str, used: Option<&[i64]>) -> StoreResult<bool> {
        let mut call = self.release.prepare_invoke();
        call.key(self.marker_key()).arg(&self.prefix).arg(hold);
        match used {
            Some(used) => {
                for u in used {
                    call.arg(*u);
                }
            }
            None => {
                call.arg("full");
            }
        }
        let n: i64 = self.with(|c| call.invoke(c))?;
        Ok(n == 1)
    }

    /// Sets counters as an admin write left them: (`SCOPE|LIMIT`, used, window, reset),
    /// `None` when the write removed the counter.
    pub fn set_usage(&self, changes: &[UsageChange]) -> StoreResult<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut call = self.set_usage.prepare_invoke();
        call.key(self.marker_key()).arg(&self.prefix);
        for (counter, state) in changes {
            match state {
                Some((used, window, reset)) => call
                    .arg(counter)
                    .arg(*used)
                    .arg(window.as_deref().unwrap_or_default())
                    .arg(reset.as_deref().unwrap_or_default()),
                None => call.arg(counter).arg("").arg("").arg(""),
            };
        }
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| !changes.iter().any(|(c, _)| c == k));
        self.with(|c| call.invoke::<i64>(c))?;
        Ok(())
    }

    /// What requests in flight hold on each of `counters` (`SCOPE|LIMIT`).
    pub fn held(&self, counters: &[String]) -> StoreResult<Vec<i64>> {
        let Some(seed) = self.current_seed()? else {
            return Ok(vec![0; counters.len()]);
        };
        if counters.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for c in counters {
            pipe.hget(self.key(&seed, 'n', c), "held");
        }
        let held: Vec<Option<i64>> = self.with(|c| pipe.query(c))?;
        Ok(held.into_iter().map(|h| h.unwrap_or(0).max(0)).collect())
    }

    /// A rate limit's count over its slots from `from_slot` on, requests in flight
    /// included.
    pub fn rate_total(&self, counter: &str, from_slot: i64) -> StoreResult<i64> {
        let Some(seed) = self.current_seed()? else {
            return Ok(0);
        };
        let slots: HashMap<i64, i64> = self.with(|c| c.hgetall(self.key(&seed, 'r', counter)))?;
        Ok(slots
            .into_iter()
            .filter(|(slot, _)| *slot >= from_slot)
            .map(|(_, n)| n)
            .sum())
    }

    fn current_seed(&self) -> StoreResult<Option<String>> {
        self.with(|c| c.hget(self.marker_key(), "gen"))
    }

    /// The open holds on the counters, with their owners.
    pub fn holds(&self) -> StoreResult<Vec<(String, String)>> {
        let (marker, _) = self.marker()?;
        let Some(marker) = marker else {
            return Ok(Vec::new());
        };
        let set = format!("{}:{}:holds", self.prefix, marker.seed);
        let ids: Vec<String> = self.with(|c| redis::cmd("SMEMBERS").arg(&set).query(c))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hget(self.key(&marker.seed, 'h', id), "owner");
        }
        let owners: Vec<Option<String>> = self.with(|c| pipe.query(c))?;
        Ok(ids
            .into_iter()
            .zip(owners)
            .filter_map(|(id, owner)| Some((id, owner?)))
            .collect())
    }

    /// The budget window last seen for a counter: start, last reset (`""` for none).
    pub fn window(&self, counter: &str) -> (String, String) {
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(counter)
            .cloned()
            .unwrap_or_default()
    }

    pub fn saw_window(&self, counter: &str, window: String, reset: String) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            windows.clear();
        }
        windows.insert(counter.to_owned(), (window, reset));
    }

    /// Whether this process has yet to record that `counter` ran out in `window` (and
    /// remembers that it now has).
    pub fn first_exhaustion(&self, counter: &str, window: &str) -> bool {
        let mut seen = self.exhausted.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 100_000 {
            seen.clear();
        }
        seen.insert((counter.to_owned(), window.to_owned()))
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => text(other)?.parse().ok(),
    }
}

fn parse_outcome(answer: &[Value]) -> Option<Outcome> {
    let index = |v: &Value| int(v).and_then(|i| usize::try_from(i - 1).ok());
    match text(answer.first()?)?.as_str() {
        "noseed" => Some(Outcome::NoSeed),
        "ok" => Some(Outcome::Admitted {
            seed: text(answer.get(1)?)?,
        }),
        "window" => Some(Outcome::Window {
            index: index(answer.get(1)?)?,
            window: text(answer.get(2)?)?,
            reset: text(answer.get(3)?)?,
        }),
        "refused" => {
            let slots = answer
                .get(5..)?
                .chunks(2)
                .map(|p| Some((int(p.first()?)?, int(p.get(1)?)?)))
                .collect::<Option<Vec<_>>>()?;
            Some(Outcome::Refused {
                index: index(answer.get(1)?)?,
                held_out: int(answer.get(2)?)? == 1,
                headroom: int(answer.get(3)?)?,
                used: int(answer.get(4)?)?,
                slots,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn admission_answers_are_read() {
        assert_eq!(parse_outcome(&[bulk("noseed")]), Some(Outcome::NoSeed));
        assert_eq!(
            parse_outcome(&[bulk("ok"), bulk("g1")]),
            Some(Outcome::Admitted { seed: "g1".into() })
        );
        assert_eq!(
            parse_outcome(&[
                bulk("refused"),
                Value::Int(2),
                Value::Int(0),
                Value::Int(3),
                Value::Int(17),
                bulk("100"),
                bulk("5")
            ]),
            Some(Outcome::Refused {
                index: 1,
                held_out: false,
                headroom: 3,
                used: 17,
                slots: vec![(100, 5)]
            })
        );
        assert_eq!(parse_outcome(&[bulk("what")]), None);
        assert_eq!(parse_outcome(&[bulk("refused"), Value::Int(0)]), None);
    }
}
