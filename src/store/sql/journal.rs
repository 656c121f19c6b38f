//! The admission ledger of a catalog file, decided in memory and kept in a journal.
//!
//! - **Deciding.** Each process keeps the counters it admits on in memory: what the
//!   ledger's tables hold, plus every record of the journal not written to them yet.
//!   A hold or a settlement takes the journal's lock (`flock` on `<catalog>-ledger`,
//!   which every process that opens the catalog takes in turn), reads what the others
//!   appended since, decides by [`ledger::decide`] (the rule the tables use), and appends
//!   one line.
//! - **Durability.** A line is written before the hold or settlement returns: like a
//!   commit with `synchronous=NORMAL`, it survives the process being killed (`kill -9`)
//!   and is in the operating system's hands.
//! - **Flushing.** [`Journal::flush`] writes the journal's records to the ledger's
//!   tables in one transaction, which also records the journal's generation (so a
//!   journal is never written twice), then starts a new journal. `catalog serve` flushes
//!   every 50 ms; reads and admin writes flush first, so they see every
//!   settled request; a process flushes what it finds when it opens the catalog.
//! - **Changes from elsewhere.** A commit to the file by any other connection (an admin
//!   write resetting usage, another process's flush) makes the memory read the tables
//!   again.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ledger::{self, Counter, Decision, Entry, Held, Key, Window};
use super::{args, exec, Pool, Sql, TxConn, TxKind};
use crate::admission::rate;
use crate::api::usage::timestamp;
use crate::store::{owner, Admission, Gauge, HoldEntry, StoreError, StoreResult};

/// The first line of a journal: its format, the catalog it belongs to, its generation.
const MAGIC: &str = "catalog-ledger v2";
/// The format before holds named their entries by number: still read.
const MAGIC_V1: &str = "catalog-ledger v1";
/// The `meta` key naming the last journal generation written to the tables.
const FLUSHED_META: &str = "ledger_journal_flushed";
/// Records a process lets pile up before it flushes them itself.
const MOST_RECORDS: usize = 4096;

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Record {
    /// An admitted hold, each budget entry with the window it was admitted in.
    Hold {
        id: String,
        owner: String,
        at: String,
        entries: Arc<[Held]>,
    },
    /// A hold's settlement: what each entry used.
    Settle {
        id: String,
        actual: Vec<i64>,
        at: String,
    },
    /// A budget that refused a request: spent in `entry`'s window.
    Exhaust { entry: Held, used: i64, at: String },
}

/// One line of the journal: a record, or what holds are written as.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Line {
    /// An entry the holds after it name by number, the `n`th the journal defines.
    Entry { n: u32, entry: Arc<Entry> },
    /// An admitted hold naming its entries as `(number, amount, rate slot)`: read as the
    /// [`Record::Hold`] it stands for.
    Held {
        id: String,
        owner: String,
        at: String,
        entries: Vec<(u32, i64, Option<i64>)>,
    },
    #[serde(untagged)]
    Record(Record),
}

/// The entries a journal defines, which its holds name by number: a hold's line names
/// the counters, limits and windows it holds on without spelling them out each time.
#[derive(Default)]
struct Dictionary {
    entries: Vec<Arc<Entry>>,
    /// The number of each counter's newest entry.
    newest: hashbrown::HashMap<Key, u32>,
}

impl Dictionary {
    /// Entry `n`, read from the journal: `false` when it is not the next number.
    fn define(&mut self, n: u32, entry: Arc<Entry>) -> bool {
        if usize::try_from(n).ok() != Some(self.entries.len()) {
            return false;
        }
        self.newest
            .insert((entry.scope.clone(), entry.limit.clone()), n);
        self.entries.push(entry);
        true
    }

    /// `h`'s number; an entry the journal does not have yet is defined, its line added
    /// to `lines`.
    fn number(&mut self, h: &Held, lines: &mut Vec<u8>) -> StoreResult<u32> {
        if let Some(&n) = self.newest.get(&key_ref(h)) {
            let defined = &self.entries[n as usize];
            if Arc::ptr_eq(defined, &h.entry) || **defined == *h.entry {
                return Ok(n);
            }
        }
        let n =
            u32::try_from(self.entries.len()).map_err(|e| io_error(std::io::Error::other(e)))?;
        let entry = Arc::clone(&h.entry);
        write_line(
            lines,
            &Line::Entry {
                n,
                entry: Arc::clone(&entry),
            },
        )?;
        self.define(n, entry);
        Ok(n)
    }

    /// The entry the journal defines for `e` (whose counter is `key`) in `window`, if
    /// it is the counter's newest.
    fn entry_of(&self, e: &HoldEntry, key: &Key, window: Window<'_>) -> Option<Arc<Entry>> {
        let n = *self.newest.get(&KeyRef(&key.0, &key.1))?;
        let entry = &self.entries[n as usize];
        entry.is(e, key, window).then(|| Arc::clone(entry))
    }

    /// The entries a hold's line names; `None` when one is not defined.
    fn hold(&self, named: &[(u32, i64, Option<i64>)]) -> Option<Arc<[Held]>> {
        named
            .iter()
            .map(|(n, amount, slot)| {
                Some(Held {
                    entry: Arc::clone(self.entries.get(*n as usize)?),
                    amount: *amount,
                    slot: *slot,
                })
            })
            .collect()
    }
}

/// `record` as the journal's lines, added to `lines`: a hold names its entries by
/// number, defining those the journal does not have yet.
fn encode(dictionary: &mut Dictionary, record: &Record, lines: &mut Vec<u8>) -> StoreResult<()> {
    let Record::Hold {
        id,
        owner,
        at,
        entries,
    } = record
    else {
        return write_line(lines, &Line::Record(record.clone()));
    };
    let named = entries
        .iter()
        .map(|h| Ok((dictionary.number(h, lines)?, h.amount, h.slot)))
        .collect::<StoreResult<Vec<_>>>()?;
    write_line(
        lines,
        &Line::Held {
            id: id.clone(),
            owner: owner.clone(),
            at: at.clone(),
            entries: named,
        },
    )
}

fn write_line(lines: &mut Vec<u8>, line: &Line) -> StoreResult<()> {
    serde_json::to_writer(&mut *lines, line)
        .map_err(|e| StoreError::Internal(anyhow::anyhow!("cannot record a hold: {e}")))?;
    lines.push(b'\n');
    Ok(())
}

/// A budget crossing to raise an alert for, once the tables have it.
struct Crossing {
    held: Held,
    kind: &'static str,
    used: i64,
    window: String,
    at: DateTime<Utc>,
}

/// Counters and rate slots, for the keys one knows.
#[derive(Default)]
struct Counts {
    rows: ledger::Standing,
    /// The keys these counts follow (a key absent from `counters` has no counter yet).
    known: hashbrown::HashSet<Key>,
}

fn key_of(h: &Held) -> Key {
    (h.scope.clone(), h.limit.clone())
}

/// A held entry's [`Key`], borrowed: finds a counter without making a key. It hashes as
/// the `(String, String)` it stands for.
#[derive(Hash)]
struct KeyRef<'a>(&'a str, &'a str);

impl hashbrown::Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

fn key_ref(h: &Held) -> KeyRef<'_> {
    KeyRef(&h.scope, &h.limit)
}

fn newer(window: &Option<String>, than: &Option<String>) -> bool {
    match (window, than) {
        (Some(w), Some(t)) => w > t,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

fn parse_time(at: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

impl Counts {
    fn load(conn: &dyn Sql, counter_keys: &[Key], rate_keys: &[Key]) -> StoreResult<Counts> {
        Ok(Counts {
            rows: ledger::Standing::read(conn, counter_keys, rate_keys, i64::MIN)?,
            known: counter_keys.iter().chain(rate_keys).cloned().collect(),
        })
    }

    /// An admitted hold: its amounts are held, a budget's newer window starts.
    fn hold(&mut self, held: &[Held]) {
        for h in held {
            let k = key_ref(h);
            if !self.known.contains(&k) {
                continue;
            }
            if h.gauge == 'r' {
                if !self.rows.slots.contains_key(&k) {
                    self.rows.slots.insert(key_of(h), BTreeMap::new());
                }
                let slots = self.rows.slots.get_mut(&k).expect("inserted above");
                let slot = h.slot.unwrap_or_default();
                *slots.entry(slot).or_default() += h.amount;
                // Slots no longer counted are the oldest: dropped from the front.
                let first = rate::first_counted(slot);
                while slots.first_key_value().is_some_and(|(s, _)| *s < first) {
                    slots.pop_first();
                }
                continue;
            }
            let c = self.counter(h);
            if h.gauge == 'b' && newer(&h.window, &c.window_started_at) {
                c.used = 0;
                c.window_started_at = h.window.clone();
                c.last_reset_at = h.reset.clone();
                c.exhausted_window = None;
            }
            c.held += h.amount;
        }
    }

    /// A settlement, as [`ledger`] applies one to the tables: the hold is released and
    /// what was used is charged; a budget carried across its threshold or limit is a
    /// crossing.
    fn settle(&mut self, held: &[Held], actual: &[i64], at: DateTime<Utc>) -> Vec<Crossing> {
        let mut crossings = Vec::new();
        for (i, h) in held.iter().enumerate() {
            let charge = match h.gauge {
                'c' => 0,
                _ => actual.get(i).copied().unwrap_or(h.amount).max(0),
            };
            let k = key_ref(h);
            if h.gauge == 'r' {
                let slot = h.slot.unwrap_or_default();
                if let Some(v) = self.rows.slots.get_mut(&k).and_then(|s| s.get_mut(&slot)) {
                    *v = (*v + charge - h.amount).max(0);
                }
                continue;
            }
            let Some(c) = self.rows.counters.get_mut(&k) else {
                // Not followed here, or removed by an admin write since.
                continue;
            };
            c.held = (c.held - h.amount).max(0);
            if newer(&h.window, &c.window_started_at) {
                c.used = charge;
                c.window_started_at = h.window.clone();
                c.last_reset_at = h.reset.clone();
                c.exhausted_window = None;
            } else {
                c.used += charge;
            }
            if h.gauge != 'b' {
                continue;
            }
            let (after, before) = (c.used, c.used - charge);
            let window = c.window_started_at.clone().unwrap_or_else(|| timestamp(at));
            let crossing = |kind| Crossing {
                held: h.clone(),
                kind,
                used: after,
                window: window.clone(),
                at,
            };
            if h.alert.is_some_and(|a| before < a && a <= after) {
                crossings.push(crossing("threshold"));
            }
            if before < h.ceiling && h.ceiling <= after {
                c.exhausted_window = c.window_started_at.clone();
                crossings.push(crossing("limit"));
            }
        }
        crossings
    }

    /// The counter of `h`, made if it has none yet.
    fn counter(&mut self, h: &Held) -> &mut Counter {
        if !self.rows.counters.contains_key(&key_ref(h)) {
            self.rows.counters.insert(key_of(h), Counter::default());
        }
        self.rows
            .counters
            .get_mut(&key_ref(h))
            .expect("inserted above")
    }

    /// A budget found spent by a refusal: its window shows `exhausted`, once.
    fn exhaust(&mut self, entry: &Held, used: i64, at: DateTime<Utc>) -> Option<Crossing> {
        if !self.known.contains(&key_ref(entry)) {
            return None;
        }
        let c = self.counter(entry);
        if newer(&entry.window, &c.window_started_at) {
            c.used = 0;
            c.window_started_at = entry.window.clone();
            c.last_reset_at = entry.reset.clone();
            c.exhausted_window = None;
        }
        let window = c.window_started_at.clone()?;
        if c.exhausted_window.as_ref() == Some(&window) {
            return None;
        }
        c.exhausted_window = Some(window.clone());
        Some(Crossing {
            held: entry.clone(),
            kind: "limit",
            used: used.max(c.used),
            window,
            at,
        })
    }
}

/// What the journal knows, in this process.
struct State {
    /// The generation of the journal read so far.
    generation: String,
    /// Bytes of the journal read (whole lines).
    offset: u64,
    /// The journal's length when last synced: past `offset`, a line cut short.
    end: u64,
    /// Records of the journal, in order, not yet in the tables.
    records: Vec<Record>,
    /// Holds admitted and not settled, as far as this process knows them.
    open: HashMap<String, Arc<[Held]>>,
    /// Holds settled by a record not yet in the tables.
    settled: HashSet<String>,
    /// The counters this process has decided on: the tables plus `records`.
    mirror: Counts,
    /// The database's `data_version` the mirror was read at.
    data_version: Option<i64>,
    /// The entries the journal read so far defines.
    dictionary: Dictionary,
}

impl State {
    /// Reads journal generation `generation` from `offset` on, knowing none of its
    /// records and entries yet.
    fn read_from(&mut self, generation: String, offset: u64) {
        self.generation = generation;
        self.offset = offset;
        self.records.clear();
        self.settled.clear();
        self.dictionary = Dictionary::default();
    }
}

/// The journal of one catalog file.
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
    organisation_id: String,
    state: Mutex<State>,
    /// Flushes writing (or about to): a hold that must not wait goes elsewhere.
    writing: AtomicUsize,
    /// Wakes the steps that found a flush writing, once it has let go of the state.
    freed: tokio::sync::Notify,
}

/// How many times a step in place tries for the state.
const IN_PLACE_TRIES: usize = 64;

/// The state held by a flush, or by a step that may wait for the journal's lock.
struct Writing<'a> {
    /// `None` only while dropped.
    state: Option<std::sync::MutexGuard<'a, State>>,
    journal: &'a Journal,
}

impl std::ops::Deref for Writing<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        self.state.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Writing<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.state.as_mut().expect("held until dropped")
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        drop(self.state.take());
        self.journal.writing.fetch_sub(1, Ordering::AcqRel);
        self.journal.freed.notify_waiters();
    }
}

/// The journal's lock, released when dropped.
struct Locked<'a>(&'a File);

impl<'a> Locked<'a> {
    fn wait(file: &'a File) -> StoreResult<Locked<'a>> {
        file.lock().map_err(io_error)?;
        Ok(Locked(file))
    }

    fn try_take(file: &'a File) -> Option<Locked<'a>> {
        file.try_lock().ok().map(|()| Locked(file))
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn io_error(e: std::io::Error) -> StoreError {
    StoreError::Internal(anyhow::anyhow!("the admission journal: {e}"))
}

fn new_generation() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Journal {
    /// Opens (or starts) the journal beside the catalog file `db`, and writes whatever
    /// an earlier process left in it to the tables.
    pub(crate) fn open(db: &Path, organisation_id: &str, pool: &dyn Pool) -> StoreResult<Journal> {
        // Every process finds the same journal, whatever path it opened the file by.
        let db = std::fs::canonicalize(db).map_err(io_error)?;
        let mut path = db.as_os_str().to_owned();
        path.push("-ledger");
        let path = PathBuf::from(path);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_error)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        let journal = Journal {
            file,
            path,
            organisation_id: organisation_id.to_owned(),
            state: Mutex::new(State {
                generation: String::new(),
                offset: 0,
                end: 0,
                records: Vec::new(),
                open: HashMap::default(),
                settled: HashSet::default(),
                mirror: Counts::default(),
                data_version: None,
                dictionary: Dictionary::default(),
            }),
            writing: AtomicUsize::new(0),
            freed: tokio::sync::Notify::new(),
        };
        journal.flush(pool)?;
        journal.upgrade(pool)?;
        Ok(journal)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// [`crate::store::Store::admit`] (or, `dry`, `probe`: nothing recorded).
    pub(crate) fn admit(
        &self,
        pool: &dyn Pool,
        hold: &str,
        entries: &[HoldEntry],
        now: DateTime<Utc>,
        dry: bool,
    ) -> StoreResult<Admission> {
        let mut state = self.state_to_write();
        let _lock = Locked::wait(&self.file)?;
        let admission = self.admit_locked(&mut state, pool, hold, entries, now, dry)?;
        if state.records.len() >= MOST_RECORDS {
            self.write_out(&mut state, pool, true)?;
        }
        Ok(admission)
    }

    /// [`Journal::admit`] unless another thread or process has the journal: `None`, and
    /// nothing done, then.
    pub(crate) fn try_admit(
        &self,
        pool: &dyn Pool,
        hold: &str,
        entries: &[HoldEntry],
        now: DateTime<Utc>,
    ) -> Option<StoreResult<Admission>> {
        self.in_place(|state| self.admit_locked(state, pool, hold, entries, now, false))
    }

    /// [`Journal::settle`] unless another thread or process has the journal.
    pub(crate) fn try_settle(
        &self,
        pool: &dyn Pool,
        hold: &str,
        actual: &[i64],
        now: DateTime<Utc>,
    ) -> Option<StoreResult<()>> {
        self.in_place(|state| self.settle_locked(state, pool, hold, actual, now))
    }

    /// `step` with the state and the journal's lock, unless a flush or a step that may
    /// wait has the state, or another process the lock (holds and settlements in place
    /// keep the state for microseconds: they are tried for a little while).
    fn in_place<T>(
        &self,
        step: impl FnOnce(&mut State) -> StoreResult<T>,
    ) -> Option<StoreResult<T>> {
        let mut state = (0..IN_PLACE_TRIES).find_map(|_| {
            if self.writing.load(Ordering::Acquire) > 0 {
                return Some(None);
            }
            match self.state.try_lock() {
                Ok(state) => Some(Some(state)),
                Err(std::sync::TryLockError::Poisoned(e)) => Some(Some(e.into_inner())),
                Err(std::sync::TryLockError::WouldBlock) => {
                    std::thread::yield_now();
                    None
                }
            }
        })??;
        let _lock = Locked::try_take(&self.file)?;
        Some(step(&mut state))
    }

    /// Resolves (once enabled or polled) when a flush of this process lets go of the
    /// journal: a step that could not run in place may try again.
    pub(crate) fn freed(&self) -> tokio::sync::futures::Notified<'_> {
        self.freed.notified()
    }

    /// The state for a flush, counted in [`Journal::writing`] until it is dropped.
    fn state_to_write(&self) -> Writing<'_> {
        self.writing.fetch_add(1, Ordering::AcqRel);
        Writing {
            state: Some(self.state()),
            journal: self,
        }
    }

    fn admit_locked(
        &self,
        state: &mut State,
        pool: &dyn Pool,
        hold: &str,
        entries: &[HoldEntry],
        now: DateTime<Utc>,
        dry: bool,
    ) -> StoreResult<Admission> {
        self.sync(state, pool)?;
        let keys: Vec<Key> = entries.iter().map(ledger::key_of_entry).collect();
        self.follow(state, pool, entries, &keys)?;
        let admission = match ledger::decide(entries, &keys, &state.mirror.rows, now) {
            Decision::Refused { refusal, exhaust } => {
                if let (false, Some(c)) = (dry, exhaust) {
                    let i = refusal.index;
                    let window = c
                        .window_started_at
                        .as_deref()
                        .map(|w| (w, c.last_reset_at.as_deref()));
                    let spent = state.mirror.rows.counters.get(&keys[i]).is_some_and(|m| {
                        m.exhausted_window.is_some()
                            && m.exhausted_window.as_deref() == window.map(|(w, _)| w)
                    });
                    if !spent {
                        let record = Record::Exhaust {
                            entry: Held::keyed(&entries[i], keys[i].clone(), entries[i].slot)
                                .in_window(window),
                            used: c.used,
                            at: timestamp(now),
                        };
                        self.append(state, record)?;
                    }
                }
                Admission::Refused(refusal)
            }
            Decision::Admitted { .. } if dry => Admission::Admitted,
            Decision::Admitted { slots, after } => {
                let held: Vec<Held> = entries
                    .iter()
                    .zip(keys)
                    .zip(slots)
                    .enumerate()
                    .map(|(i, ((e, k), slot))| {
                        let window = match e.gauge {
                            Gauge::Budget { .. } => after
                                .iter()
                                .find(|(j, _, _)| *j == i)
                                .and_then(|(_, _, c)| {
                                    c.window_started_at
                                        .as_deref()
                                        .map(|w| (w, c.last_reset_at.as_deref()))
                                }),
                            _ => None,
                        };
                        let slot = slot.map(|(s, _)| s).or(e.slot);
                        match state.dictionary.entry_of(e, &k, window) {
                            Some(entry) => Held {
                                entry,
                                amount: e.amount,
                                slot,
                            },
                            None => Held::keyed(e, k, slot).in_window(window),
                        }
                    })
                    .collect();
                let record = Record::Hold {
                    id: hold.to_owned(),
                    owner: owner::this_process().to_owned(),
                    at: timestamp(now),
                    entries: held.into(),
                };
                self.append(state, record)?;
                Admission::Admitted
            }
        };
        Ok(admission)
    }

    /// [`crate::store::Store::settle`].
    pub(crate) fn settle(
        &self,
        pool: &dyn Pool,
        hold: &str,
        actual: &[i64],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut state = self.state_to_write();
        let _lock = Locked::wait(&self.file)?;
        self.settle_locked(&mut state, pool, hold, actual, now)
    }

    fn settle_locked(
        &self,
        state: &mut State,
        pool: &dyn Pool,
        hold: &str,
        actual: &[i64],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.sync(state, pool)?;
        if entries_of(state, pool, hold)?.is_none() {
            return Ok(());
        }
        let record = Record::Settle {
            id: hold.to_owned(),
            actual: actual.to_vec(),
            at: timestamp(now),
        };
        self.append(state, record)
    }

    /// Writes the journal to the tables, waiting for its lock and the database's.
    pub(crate) fn flush(&self, pool: &dyn Pool) -> StoreResult<()> {
        let mut state = self.state_to_write();
        let _lock = Locked::wait(&self.file)?;
        self.sync(&mut state, pool)?;
        self.write_out(&mut state, pool, true)
    }

    /// [`Journal::flush`], unless another process or connection is writing: a read or
    /// an admin write flushes first, and must not wait for itself.
    pub(crate) fn flush_if_free(&self, pool: &dyn Pool) -> StoreResult<()> {
        // Never waits for the state either: its holder may be waiting for this thread.
        self.writing.fetch_add(1, Ordering::AcqRel);
        let state = match self.state.try_lock() {
            Ok(state) => Some(state),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        let Some(state) = state else {
            self.writing.fetch_sub(1, Ordering::AcqRel);
            self.freed.notify_waiters();
            return Ok(());
        };
        let mut state = Writing {
            state: Some(state),
            journal: self,
        };
        if state.records.is_empty() && self.file.metadata().map_err(io_error)?.len() <= state.offset
        {
            return Ok(());
        }
        let Some(_lock) = Locked::try_take(&self.file) else {
            return Ok(());
        };
        self.sync(&mut state, pool)?;
        self.write_out(&mut state, pool, false)
    }

    /// Brings `state` up to the journal and the database: a new journal (another
    /// process flushed) or a commit by another connection drops what the mirror knows;
    /// lines other processes appended are read. Cut short by an error, it leaves
    /// nothing half-read: the next step reads the journal again from its start.
    fn sync(&self, state: &mut State, pool: &dyn Pool) -> StoreResult<()> {
        let synced = self.read_on(state, pool);
        if synced.is_err() {
            forget(state);
        }
        synced
    }

    fn read_on(&self, state: &mut State, pool: &dyn Pool) -> StoreResult<()> {
        // Another process's flush commits to the database before it starts a new
        // journal: while neither the journal's length nor the database changed since this
        // process's last step, there is nothing to read.
        let data_version = pool.ledger_data_version()?;
        if !state.generation.is_empty()
            && state.data_version == Some(data_version)
            && self.file.metadata().map_err(io_error)?.len() == state.end
        {
            return Ok(());
        }
        let generation = match self.header()? {
            Some((g, _)) => g,
            None => self.start_new(state)?,
        };
        if generation != state.generation {
            state.read_from(generation, self.header_len());
            state.mirror = Counts::default();
        }
        if state.data_version != Some(data_version) {
            state.mirror = Counts::default();
            state.data_version = Some(data_version);
            // A process that flushed this journal and died before starting a new one.
            let tx = pool.begin(TxKind::Read)?;
            let flushed = super::read::meta(&*tx, FLUSHED_META)?;
            drop(tx);
            if flushed.as_deref() == Some(state.generation.as_str()) {
                self.start_new(state)?;
            }
        }
        let len = self.file.metadata().map_err(io_error)?.len();
        state.end = len;
        if len <= state.offset {
            return Ok(());
        }
        let mut tail = vec![
            0;
            usize::try_from(len - state.offset)
                .map_err(|e| io_error(std::io::Error::other(e)))?
        ];
        self.file
            .read_exact_at(&mut tail, state.offset)
            .map_err(io_error)?;
        let Some(end) = tail.iter().rposition(|b| *b == b'\n') else {
            return Ok(());
        };
        for line in tail[..end].split(|b| *b == b'\n') {
            match serde_json::from_slice::<Line>(line) {
                Ok(Line::Entry { n, entry }) => {
                    if !state.dictionary.define(n, entry) {
                        self.skipped("an entry out of order");
                    }
                }
                Ok(Line::Held {
                    id,
                    owner,
                    at,
                    entries,
                }) => match state.dictionary.hold(&entries) {
                    Some(entries) => {
                        let hold = Record::Hold {
                            id,
                            owner,
                            at,
                            entries,
                        };
                        take(state, pool, hold)?;
                    }
                    None => self.skipped("a hold naming an entry it does not define"),
                },
                Ok(Line::Record(record)) => take(state, pool, record)?,
                // A line cut short by a crash: what it began was never acknowledged.
                Err(_) => self.skipped("an incomplete line"),
            }
        }
        state.offset += end as u64 + 1;
        Ok(())
    }

    /// Makes the counters of `entries` known to the mirror: as the tables have them,
    /// with the journal's records applied.
    fn follow(
        &self,
        state: &mut State,
        pool: &dyn Pool,
        entries: &[HoldEntry],
        keys: &[Key],
    ) -> StoreResult<()> {
        let missing = |rate: bool| -> Vec<Key> {
            entries
                .iter()
                .zip(keys)
                .filter(|(e, k)| {
                    matches!(e.gauge, Gauge::Rate { .. }) == rate
                        && !state.mirror.known.contains(*k)
                })
                .map(|(_, k)| k.clone())
                .collect()
        };
        let (counter_keys, rate_keys) = (missing(false), missing(true));
        if counter_keys.is_empty() && rate_keys.is_empty() {
            return Ok(());
        }
        let tx = pool.begin(TxKind::Read)?;
        let mut fresh = Counts::load(&*tx, &counter_keys, &rate_keys)?;
        let (steps, _) = steps(&state.records, &mut |id| stored_hold(&*tx, id))?;
        fresh.replay(&steps);
        let mirror = &mut state.mirror;
        mirror.rows.counters.extend(fresh.rows.counters);
        mirror.rows.slots.extend(fresh.rows.slots);
        mirror.known.extend(fresh.known);
        Ok(())
    }

    fn skipped(&self, what: &str) {
        crate::server::log_line(&format!(
            "{} ledger: skipped {what} of {}",
            timestamp(Utc::now()),
            self.path.display()
        ));
    }

    /// Appends `record` (after the lock is taken and `state` synced) and applies it.
    fn append(&self, state: &mut State, record: Record) -> StoreResult<()> {
        let mut lines = Vec::with_capacity(512);
        let len = state.end;
        if len > state.offset {
            // The rest of a line cut short by a crash: ended here with a character after
            // which no line is JSON, it is skipped by every process, also when all that
            // was cut was its newline.
            lines.extend_from_slice(b"#\n");
        }
        let written = encode(&mut state.dictionary, &record, &mut lines)
            .and_then(|()| (&self.file).write_all(&lines).map_err(io_error));
        if let Err(e) = written {
            // What the journal holds is unknown now (the entries this line defined, say):
            // the next step reads it again from its start.
            forget(state);
            return Err(e);
        }
        state.offset = len + lines.len() as u64;
        state.end = state.offset;
        apply(state, record);
        Ok(())
    }

    /// Writes every record to the tables in one transaction, then starts a new journal.
    fn write_out(&self, state: &mut State, pool: &dyn Pool, wait: bool) -> StoreResult<()> {
        if state.records.is_empty() {
            return Ok(());
        }
        let before = pool.ledger_data_version()?;
        let tx: Box<dyn TxConn + '_> = if wait {
            pool.begin(TxKind::Ledger)?
        } else {
            match pool.begin_ledger_if_free()? {
                Some(tx) => tx,
                None => return Ok(()),
            }
        };
        if super::read::meta(&*tx, FLUSHED_META)?.as_deref() != Some(state.generation.as_str()) {
            write_records(&*tx, &state.records)?;
            exec(
                &*tx,
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                args![FLUSHED_META, state.generation],
            )?;
        }
        tx.commit()?;
        // Other processes' holds are in the tables now: their entries are read there
        // when their settlements come, not kept here.
        let mine = owner::this_process();
        for record in &state.records {
            if let Record::Hold { id, owner, .. } = record {
                if owner != mine {
                    state.open.remove(id);
                }
            }
        }
        // Written: whatever fails now, the next step must read the journal again.
        let after = match self
            .start_new(state)
            .and_then(|_| pool.ledger_data_version())
        {
            Ok(after) => after,
            Err(e) => {
                forget(state);
                return Err(e);
            }
        };
        // The tables now hold what the mirror does, unless another connection committed
        // meanwhile (this connection's own commits leave `data_version` as it was).
        if state.data_version != Some(before) || before != after {
            state.mirror = Counts::default();
            state.data_version = Some(after);
        }
        Ok(())
    }

    fn header_len(&self) -> u64 {
        // `MAGIC ORGANISATION GENERATION\n`
        (MAGIC.len() + 1 + self.organisation_id.len() + 1 + 32 + 1) as u64
    }

    /// The journal's generation and whether it is in this format (`false`: the first
    /// format), `None` when it has no header (new, or another catalog's left beside
    /// this file).
    fn header(&self) -> StoreResult<Option<(String, bool)>> {
        let len = self.header_len();
        let mut head = vec![0; len as usize];
        if self.file.metadata().map_err(io_error)?.len() < len
            || self.file.read_exact_at(&mut head, 0).is_err()
        {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&head);
        let mut parts = text.trim_end_matches('\n').split(' ');
        let magic = format!(
            "{} {}",
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("")
        );
        let (Some(organisation), Some(generation)) = (parts.next(), parts.next()) else {
            return Ok(None);
        };
        if (magic != MAGIC && magic != MAGIC_V1)
            || organisation != self.organisation_id
            || !text.ends_with('\n')
        {
            return Ok(None);
        }
        Ok(Some((generation.to_owned(), magic == MAGIC)))
    }

    /// Starts a journal of the first format anew in this one, once what it holds is in
    /// the tables: no process appends lines of one format under the other's header.
    fn upgrade(&self, pool: &dyn Pool) -> StoreResult<()> {
        let mut state = self.state_to_write();
        let _lock = Locked::wait(&self.file)?;
        if !matches!(self.header()?, Some((_, false))) {
            return Ok(());
        }
        self.sync(&mut state, pool)?;
        if state.records.is_empty() {
            self.start_new(&mut state)?;
        } else {
            // Starts a new journal once it has written this one.
            self.write_out(&mut state, pool, true)?;
        }
        Ok(())
    }

    /// Empties the journal under a new generation (its lock taken).
    fn start_new(&self, state: &mut State) -> StoreResult<String> {
        let generation = new_generation();
        self.file.set_len(0).map_err(io_error)?;
        let header = format!("{MAGIC} {} {generation}\n", self.organisation_id);
        (&self.file)
            .write_all(header.as_bytes())
            .map_err(io_error)?;
        state.read_from(generation.clone(), header.len() as u64);
        state.end = state.offset;
        Ok(generation)
    }
}

/// Drops what `state` knows of the journal and the database: the next step reads both
/// again from the start.
fn forget(state: &mut State) {
    state.generation.clear();
    state.data_version = None;
    state.mirror = Counts::default();
}

/// A record read from the journal or appended to it, applied to what the process knows.
fn take(state: &mut State, pool: &dyn Pool, record: Record) -> StoreResult<()> {
    if let Record::Settle { id, actual, at } = &record {
        if !state.open.contains_key(id) && !state.settled.contains(id) {
            // A hold this process has not seen: its entries are in the tables.
            if let Some(held) = entries_of(state, pool, id)? {
                state.mirror.settle(&held, actual, parse_time(at));
                state.settled.insert(id.clone());
                state.records.push(record);
                return Ok(());
            }
        }
    }
    apply(state, record);
    Ok(())
}

fn apply(state: &mut State, record: Record) {
    match &record {
        Record::Hold { id, entries, .. } => {
            state.mirror.hold(entries);
            state.open.insert(id.clone(), Arc::clone(entries));
        }
        Record::Settle { id, actual, at } => {
            if let Some(held) = state.open.remove(id) {
                state.mirror.settle(&held, actual, parse_time(at));
            }
            state.settled.insert(id.clone());
        }
        Record::Exhaust { entry, used, at } => {
            state.mirror.exhaust(entry, *used, parse_time(at));
        }
    }
    state.records.push(record);
}

/// The entries of open hold `id`: from the journal, else from the tables; `None` when
/// it is settled (or was never admitted).
fn entries_of(state: &State, pool: &dyn Pool, id: &str) -> StoreResult<Option<Arc<[Held]>>> {
    if state.settled.contains(id) {
        return Ok(None);
    }
    if let Some(held) = state.open.get(id) {
        return Ok(Some(Arc::clone(held)));
    }
    let tx = pool.begin(TxKind::Read)?;
    stored_hold(&*tx, id)
}

/// The entries of hold `id` as the tables have it.
fn stored_hold(conn: &dyn Sql, id: &str) -> StoreResult<Option<Arc<[Held]>>> {
    let doc: Option<String> = super::one(
        conn,
        "SELECT entries FROM holds WHERE id = ?1",
        args![id],
        |r| r.get(0),
    )?;
    doc.map(|d| {
        serde_json::from_str::<Vec<Held>>(&d)
            .map(Into::into)
            .map_err(|e| StoreError::Internal(anyhow::anyhow!("hold `{id}` is unreadable: {e}")))
    })
    .transpose()
}

/// One step of replaying records: a settlement carries its hold's entries.
enum Step {
    Hold(Arc<[Held]>),
    Settle(Arc<[Held]>, Vec<i64>, DateTime<Utc>),
    Exhaust(Held, i64, DateTime<Utc>),
}

/// Looks up an open hold's entries where the tables keep them.
type StoredHold<'a> = dyn FnMut(&str) -> StoreResult<Option<Arc<[Held]>>> + 'a;

/// An admitted hold that `records` leave open: `(id, owner, at, entries)`.
type Open<'r> = (&'r str, &'r str, &'r str, &'r Arc<[Held]>);

/// `records` as steps, in order, each settlement with its hold's entries (from a hold
/// record among them, else from `stored`: `None` for a hold already settled); and the
/// holds they leave open, in order.
fn steps<'r>(
    records: &'r [Record],
    stored: &mut StoredHold<'_>,
) -> StoreResult<(Vec<Step>, Vec<Open<'r>>)> {
    let mut opened: HashMap<&str, Open<'r>> = HashMap::default();
    let mut order = Vec::new();
    let mut out = Vec::new();
    for record in records {
        match record {
            Record::Hold {
                id,
                owner,
                at,
                entries,
            } => {
                opened.insert(id, (id, owner, at, entries));
                order.push(id.as_str());
                out.push(Step::Hold(Arc::clone(entries)));
            }
            Record::Settle { id, actual, at } => {
                let held = match opened.remove(id.as_str()) {
                    Some((_, _, _, held)) => Some(Arc::clone(held)),
                    None => stored(id)?,
                };
                if let Some(held) = held {
                    out.push(Step::Settle(held, actual.clone(), parse_time(at)));
                }
            }
            Record::Exhaust { entry, used, at } => {
                out.push(Step::Exhaust(entry.clone(), *used, parse_time(at)));
            }
        }
    }
    let open = order
        .into_iter()
        .filter_map(|id| opened.get(id).copied())
        .collect();
    Ok((out, open))
}

impl Counts {
    /// Applies `steps` in order; returns the crossings they make.
    fn replay(&mut self, steps: &[Step]) -> Vec<Crossing> {
        let mut crossings = Vec::new();
        for step in steps {
            match step {
                Step::Hold(held) => self.hold(held),
                Step::Settle(held, actual, at) => crossings.extend(self.settle(held, actual, *at)),
                Step::Exhaust(entry, used, at) => crossings.extend(self.exhaust(entry, *used, *at)),
            }
        }
        crossings
    }
}

/// Writes `records` to the ledger's tables: counters and rate slots as the records leave
/// them, holds still open as rows, crossings as alerts.
fn write_records(conn: &dyn Sql, records: &[Record]) -> StoreResult<()> {
    let (steps, open) = steps(records, &mut |id| {
        Ok(ledger::take_hold(conn, id)?.map(Into::into))
    })?;
    let mut scales: hashbrown::HashMap<Key, i64> = hashbrown::HashMap::default();
    let mut counter_keys: Vec<Key> = Vec::new();
    let mut rate_keys: Vec<Key> = Vec::new();
    let mut note = |h: &Held| {
        if scales.contains_key(&key_ref(h)) {
            return;
        }
        scales.insert(key_of(h), h.unit.scale());
        if h.gauge == 'r' {
            rate_keys.push(key_of(h));
        } else {
            counter_keys.push(key_of(h));
        }
    };
    for step in &steps {
        match step {
            Step::Hold(held) | Step::Settle(held, _, _) => held.iter().for_each(&mut note),
            Step::Exhaust(entry, _, _) => note(entry),
        }
    }
    let mut counts = Counts::load(conn, &counter_keys, &rate_keys)?;
    let crossings = counts.replay(&steps);
    let rows: Vec<(&Key, i64, &Counter)> = counter_keys
        .iter()
        .filter_map(|k| counts.rows.counters.get(k).map(|c| (k, scales[k], c)))
        .collect();
    ledger::save_counters(conn, &rows)?;
    for k in &rate_keys {
        exec(
            conn,
            "DELETE FROM rate_slots WHERE scope = ?1 AND limit_key = ?2",
            args![k.0, k.1],
        )?;
        for (slot, amount) in counts.rows.slots.get(k).into_iter().flatten() {
            exec(
                conn,
                "INSERT INTO rate_slots(scope, limit_key, slot, amount) VALUES (?1, ?2, ?3, ?4)",
                args![k.0, k.1, slot, amount],
            )?;
        }
    }
    for (id, owner, at, held) in open {
        ledger::record_hold(conn, owner, id, held, parse_time(at), None)?;
    }
    for c in crossings {
        ledger::raise(conn, &c.held, c.kind, c.used, &c.window, c.at)?;
    }
    Ok(())
}
