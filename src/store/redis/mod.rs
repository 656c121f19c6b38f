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
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use redis::{Commands, Connection, RedisError, RedisResult, Script, Value};

use super::{StoreError, StoreResult, Unavailable};

/// How long connecting, or waiting for an answer, may take before Redis counts as
/// unreachable.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The most idle connections kept.
const IDLE: usize = 32;

/// The id of the Redis run `conn` talks to (a new one each time Redis starts).
fn run_id_of(conn: &mut Connection) -> RedisResult<String> {
    let info: String = redis::cmd("INFO").arg("server").query(conn)?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("run_id:"))
        .unwrap_or_default()
        .trim()
        .to_owned())
}

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
    /// The seeding this process last found the catalog naming.
    confirmed: Mutex<Option<Marker>>,
    /// Redis must be seeded again, even if its seeding is the catalog's.
    stale: AtomicBool,
    /// Budget windows as last seen: `SCOPE|LIMIT` → start, last reset.
    windows: Mutex<HashMap<String, (String, String)>>,
    /// Budgets whose exhaustion this process recorded: (`SCOPE|LIMIT`, window).
    exhausted: Mutex<HashSet<(String, String)>>,
    admit: Script,
    release: Script,
    set_usage: Script,
}

impl RedisCounters {
    /// Connects to the Redis at `url` (over TLS for `rediss://`, its certificate signed
    /// by a public root, or, given `roots` (a PEM file), by one of those) for the counters of the catalog
    /// whose keys are under `namespace` (see
    /// [`crate::store::sql::SqlStore::redis_namespace`]).
    pub fn connect(
        url: &str,
        roots: Option<&Path>,
        namespace: &str,
    ) -> anyhow::Result<RedisCounters> {
        let shown = super::postgres::redact(url);
        let usage = |what: String, hint: &str| {
            crate::exit::fail(crate::exit::ErrorKind::Usage, what, Some(hint))
        };
        let opened = match roots {
            None => redis::Client::open(url),
            Some(_) if !url.starts_with("rediss://") => {
                return Err(usage(
                    format!("--redis-ca-file checks the certificate of a Redis reached over TLS, and --redis-url {shown} is not rediss://"),
                    "write rediss://HOST[:PORT] for TLS, or drop --redis-ca-file",
                ));
            }
            Some(path) => {
                let shown = path.display();
                let hint =
                    "give the PEM file of the root certificates that signed the Redis server's";
                let pem = std::fs::read(path).map_err(|e| {
                    usage(format!("--redis-ca-file {shown} cannot be read: {e}"), hint)
                })?;
                use rustls::pki_types::{pem::PemObject, CertificateDer};
                let read: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
                match read {
                    Ok(certificates) if !certificates.is_empty() => {}
                    Ok(_) => {
                        return Err(usage(
                            format!("--redis-ca-file {shown} holds no PEM certificate"),
                            hint,
                        ))
                    }
                    Err(e) => {
                        return Err(usage(
                            format!(
                                "--redis-ca-file {shown} cannot be read as PEM certificates: {e}"
                            ),
                            hint,
                        ))
                    }
                }
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(url, certificates)
            }
        };
        let client = opened.map_err(|e| {
            usage(
                format!("--redis-url {shown} is not a Redis URL this catalog can use: {e}"),
                "write redis://[:PASSWORD@]HOST[:PORT][/DB] (rediss:// over TLS)",
            )
        })?;
        let counters = RedisCounters {
            client,
            shown,
            prefix: format!("{{catalog:{namespace}}}"),
            idle: Mutex::new(Vec::new()),
            confirmed: Mutex::new(None),
            stale: AtomicBool::new(false),
            windows: Mutex::new(HashMap::new()),
            exhausted: Mutex::new(HashSet::new()),
            admit: Script::new(include_str!("admit.lua")),
            release: Script::new(include_str!("release.lua")),
            set_usage: Script::new(include_str!("set_usage.lua")),
        };
        counters
            .with(|c| redis::cmd("PING").query::<String>(c))
            .map_err(|e| {
                let why = e.to_string();
                if why.contains("refused the credentials") {
                    return crate::exit::fail(
                        crate::exit::ErrorKind::Auth,
                        why,
                        Some("check the password of --redis-url (redis://[USER]:PASSWORD@HOST)"),
                    );
                }
                let e = anyhow::Error::from(e);
                let tls = url.starts_with("rediss://");
                if why.contains("certificate") {
                    return e.context(match roots {
                        None => "the Redis server's certificate was not accepted: if no public root signed it, give the PEM file of the roots that did with --redis-ca-file FILE; it must also name the URL's host and be in date",
                        Some(_) => "the Redis server's certificate was not accepted: it must be signed by a root of --redis-ca-file, name the URL's host and be in date",
                    });
                }
                // Something answered, but not as the URL's scheme expects: TLS to a plain
                // port stalls the handshake (the read times out); plain to a TLS port has
                // the connection reset. Any other failure says nothing of TLS.
                let stalled = why.contains("os error 11") || why.contains("InvalidContentType");
                let reset = why.contains("os error 104") || why.contains("os error 32");
                match (tls, stalled, reset) {
                    (true, true, _) => e.context(
                        "that port did not complete a TLS handshake: if it is Redis's plain port, write redis:// (rediss:// is for its tls-port)",
                    ),
                    (false, _, true) => e.context(
                        "the connection was reset: if that port is Redis's tls-port, write rediss://",
                    ),
                    _ => e,
                }
            })
            .with_context(|| format!("--redis-url {}", counters.shown))?;
        Ok(counters)
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
    fn with<T>(&self, mut f: impl FnMut(&mut Connection) -> RedisResult<T>) -> StoreResult<T> {
        Ok(self
            .run(false, &mut f)?
            .expect("an unchecked call always runs"))
    }

    /// [`Self::with`]; with `check`, a new connection first makes sure Redis is still the
    /// run whose seeding this process confirmed (`None` when it is not: a restart,
    /// perhaps from an older snapshot). An idle connection Redis dropped (it restarted) is
    /// replaced once; the scripts run again are idempotent.
    fn run<T>(
        &self,
        check: bool,
        f: &mut dyn FnMut(&mut Connection) -> RedisResult<T>,
    ) -> StoreResult<Option<T>> {
        let mut retried = false;
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let fresh = idle.is_none();
            let mut conn = match idle {
                Some(c) => c,
                None => self.open()?,
            };
            if fresh && check {
                let run_id = run_id_of(&mut conn).map_err(|e| self.error(e))?;
                let confirmed = self
                    .confirmed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .is_some_and(|m| m.run_id == run_id);
                self.put_back(conn);
                if !confirmed {
                    self.recheck();
                    return Ok(None);
                }
                continue;
            }
            match f(&mut conn) {
                Ok(v) => {
                    self.put_back(conn);
                    return Ok(Some(v));
                }
                Err(e) if !fresh && !retried && (e.is_io_error() || e.is_connection_dropped()) => {
                    // The other idle connections went with it.
                    self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
                    retried = true;
                }
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    fn open(&self) -> StoreResult<Connection> {
        let c = self
            .client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(|e| self.error(e))?;
        c.set_read_timeout(Some(TIMEOUT))
            .map_err(|e| self.error(e))?;
        c.set_write_timeout(Some(TIMEOUT))
            .map_err(|e| self.error(e))?;
        Ok(c)
    }

    fn put_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE {
            idle.push(conn);
        }
    }

    fn error(&self, e: RedisError) -> StoreError {
        // Answers of a Redis that cannot serve for now (loading, out of memory under
        // `noeviction`, a read-only replica after a failover, ...) count as it being
        // unreachable: requests wait or get 503, and settlements are retried.
        let transient = matches!(
            e.code(),
            Some(
                "OOM"
                    | "LOADING"
                    | "MISCONF"
                    | "READONLY"
                    | "MASTERDOWN"
                    | "BUSY"
                    | "TRYAGAIN"
                    | "CLUSTERDOWN"
                    | "NOREPLICAS"
            )
        );
        let unreachable = e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_unrecoverable_error();
        if e.kind() == redis::ErrorKind::AuthenticationFailed {
            StoreError::Internal(anyhow::Error::new(Unavailable(format!(
                "Redis refused the credentials of --redis-url: {e}"
            ))))
        } else if transient || unreachable {
            let what = if transient {
                "cannot serve for now"
            } else {
                "cannot be reached"
            };
            // Callers of the gateway see this: it names no host.
            StoreError::Internal(anyhow::Error::new(Unavailable(format!(
                "Redis, which keeps the admission counters, {what}: {e}"
            ))))
        } else {
            StoreError::Internal(anyhow::anyhow!("Redis: {e}"))
        }
    }

    /// Whether this process has confirmed the seeding Redis uses (else the next
    /// admission checks it against the catalog first).
    pub fn is_confirmed(&self) -> bool {
        self.confirmed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Asks for the seeding to be checked against the catalog before the next admission.
    pub fn recheck(&self) {
        *self.confirmed.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Redis holds what the catalog does not: it is seeded again before the next
    /// admission, whatever its seeding.
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::SeqCst);
        self.recheck();
    }

    /// Whether Redis was marked stale (and no longer is).
    pub fn take_stale(&self) -> bool {
        self.stale.swap(false, Ordering::SeqCst)
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
        let (fields, run_id): (HashMap<String, String>, String) =
            self.with(|c| Ok((c.hgetall(&key)?, run_id_of(c)?)))?;
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
    /// `run_id`); returns the seeding's name.
    pub fn seed(&self, state: &Seed, run_id: &str) -> StoreResult<String> {
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
            // As admit.lua records them: [kind, key, amount, slot], amounts as text.
            let record: Vec<[String; 4]> = entries
                .iter()
                .map(|(kind, counter, amount, slot)| {
                    [
                        kind.to_string(),
                        self.key(&seed, *kind, counter),
                        amount.to_string(),
                        slot.map(|s| s.to_string()).unwrap_or_default(),
                    ]
                })
                .collect();
            let record = serde_json::Value::from(
                record
                    .into_iter()
                    .map(|e| serde_json::Value::from(e.to_vec()))
                    .collect::<Vec<_>>(),
            )
            .to_string();
            pipe.hset_multiple(
                self.key(&seed, 'h', hold),
                &[
                    ("owner", owner.as_str()),
                    ("at", "0"),
                    ("entries", record.as_str()),
                ],
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
        Ok(seed)
    }

    /// Removes the keys of every seeding but `current` (abandoned ones, or one cut short),
    /// best effort: they are never read again.
    pub fn remove_other_seedings(&self, current: &str) {
        let pattern = format!("{}:*", self.prefix);
        let keep = [self.marker_key(), format!("{}:{current}:", self.prefix)];
        let _ = self.with(|c| {
            let keys: Vec<String> = c
                .scan_match::<_, String>(&pattern)?
                .filter_map(Result::ok)
                .filter(|k| *k != keep[0] && !k.starts_with(&keep[1]))
                .collect();
            for chunk in keys.chunks(500) {
                redis::cmd("UNLINK").arg(chunk).query::<()>(c)?;
            }
            Ok(())
        });
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
            .arg(entries.len())
            .arg(chrono::Utc::now().timestamp_millis());
        for e in entries {
            call.arg(e.kind.to_string())
                .arg(&e.counter)
                .arg(e.amount)
                .arg(e.ceiling)
                .arg(&e.args[0])
                .arg(&e.args[1])
                .arg(&e.args[2]);
        }
        let Some(answer) = self.run(true, &mut |c| call.invoke::<Vec<Value>>(c))? else {
            return Ok(Outcome::NoSeed);
        };
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

    /// The open holds on the counters: id, owner, and when admitted (milliseconds since
    /// the epoch; 0 for holds seeded from the catalog).
    pub fn holds(&self) -> StoreResult<Vec<(String, String, i64)>> {
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
            pipe.cmd("HMGET")
                .arg(self.key(&marker.seed, 'h', id))
                .arg("owner")
                .arg("at");
        }
        let found: Vec<(Option<String>, Option<i64>)> = self.with(|c| pipe.query(c))?;
        Ok(ids
            .into_iter()
            .zip(found)
            .filter_map(|(id, (owner, at))| Some((id, owner?, at.unwrap_or(0))))
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
