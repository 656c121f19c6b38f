//! [`Store`] over any engine's [`Pool`]: read snapshots, audited write transactions and
//! the ledger's transactions.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::journal::Journal;
use super::ledger::Counting;
use super::write::SqlTx;
use super::{alerts, audit, ledger, Pool, Sql, TxConn, TxKind};
use crate::store::redis::RedisCounters;
use crate::store::{
    owner, Admission, AlertEvent, AlertWebhook, DeliveryAttempt, DueDelivery, HoldEntry, Store,
    StoreRead, StoreResult, StoreTx,
};

/// How often flushes of the journal checkpoint the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The `meta` key of [`SqlStore::redis_namespace`].
const NAMESPACE_META: &str = "redis_namespace";

pub struct SqlStore {
    pool: Box<dyn Pool>,
    organisation_id: String,
    /// Admission counters shared in Redis; without them the ledger's tables count.
    shared: Option<RedisCounters>,
    /// Admission decided in memory, kept in a journal beside the catalog's file.
    journal: Option<Journal>,
    /// When the journal's flushes last checkpointed the database.
    checkpointed: std::sync::Mutex<Option<std::time::Instant>>,
}

impl SqlStore {
    pub fn new(pool: Box<dyn Pool>, organisation_id: String) -> SqlStore {
        SqlStore {
            pool,
            organisation_id,
            shared: None,
            journal: None,
            checkpointed: std::sync::Mutex::new(None),
        }
    }

    /// Admits in memory, with a journal beside the catalog's file (see [`super::journal`]),
    /// when the engine keeps the catalog in a file of this machine.
    pub fn with_journal(mut self) -> StoreResult<SqlStore> {
        if let Some(path) = self.pool.journal_beside() {
            self.journal = Some(Journal::open(path, &self.organisation_id, &*self.pool)?);
        }
        Ok(self)
    }

    /// Writes what the journal holds to the tables, unless that would wait.
    fn flush_if_free(&self) -> StoreResult<()> {
        match &self.journal {
            Some(j) => j.flush_if_free(&*self.pool),
            None => Ok(()),
        }
    }

    /// The name under which this catalog's counters live in Redis, made on first use: a
    /// copy of a catalog (same organisation) pointed at the same Redis gets its own.
    pub fn redis_namespace(&self) -> StoreResult<String> {
        self.transaction(TxKind::Write, |conn| {
            if let Some(found) = super::read::meta(conn, NAMESPACE_META)? {
                return Ok(found);
            }
            let made = uuid::Uuid::new_v4().simple().to_string();
            super::exec(
                conn,
                "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                super::args![NAMESPACE_META, made],
            )?;
            Ok(made)
        })
    }

    /// Admits on counters shared in Redis (seeded from the catalog now, if they need it).
    pub fn with_shared_counters(mut self, redis: RedisCounters) -> StoreResult<SqlStore> {
        if let Some(journal) = self.journal.take() {
            journal.flush(&*self.pool)?;
        }
        self.seed_shared(&redis)?;
        self.shared = Some(redis);
        Ok(self)
    }

    fn counting(&self) -> Counting {
        match self.shared {
            Some(_) => Counting::Shared,
            None => Counting::InDatabase,
        }
    }

    /// Runs `f` in one transaction of `kind`, committed when it succeeds (a copy of a
    /// whole catalog between engines works on connections, not on objects).
    pub fn transaction<T>(
        &self,
        kind: TxKind,
        f: impl FnOnce(&dyn Sql) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let tx = self.pool.begin(kind)?;
        let value = f(&*tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `f` in one transaction that takes turns with every writer (alerts, recovery,
    /// pruning): all of it lands, or (on an error) none.
    fn ledger_tx<T>(&self, f: impl FnOnce(&dyn Sql) -> StoreResult<T>) -> StoreResult<T> {
        self.flush_if_free()?;
        self.transaction(TxKind::Write, f)
    }
}

/// A read snapshot (with the shared counters, when there are).
struct Snapshot<'a>(Box<dyn TxConn + 'a>, Option<&'a RedisCounters>);

impl super::read::Db for Snapshot<'_> {
    fn db(&self) -> &dyn Sql {
        &*self.0
    }

    fn shared(&self) -> Option<&RedisCounters> {
        self.1
    }
}

impl Store for SqlStore {
    fn organisation_id(&self) -> &str {
        &self.organisation_id
    }

    fn read(&self) -> StoreResult<Box<dyn StoreRead + '_>> {
        self.flush_if_free()?;
        Ok(Box::new(Snapshot(
            self.pool.begin(TxKind::Read)?,
            self.shared.as_ref(),
        )))
    }

    fn local(&self) -> bool {
        self.pool.local()
    }

    fn catalog_version(&self) -> StoreResult<String> {
        self.pool.catalog_version()
    }

    fn begin(&self) -> StoreResult<Box<dyn StoreTx + '_>> {
        self.flush_if_free()?;
        Ok(Box::new(SqlTx::new(
            self.pool.begin(TxKind::Write)?,
            self.shared.as_ref(),
        )))
    }

    fn admit(
        &self,
        hold: &str,
        entries: &[HoldEntry],
        now: DateTime<Utc>,
    ) -> StoreResult<Admission> {
        if let Some(redis) = &self.shared {
            return self.admit_shared(redis, hold, entries, now, false);
        }
        if let Some(journal) = &self.journal {
            return journal.admit(&*self.pool, hold, entries, now, false);
        }
        self.transaction(TxKind::Ledger, |conn| {
            ledger::admit(conn, owner::this_process(), hold, entries, now)
        })
    }

    fn probe(&self, entries: &[HoldEntry], now: DateTime<Utc>) -> StoreResult<Admission> {
        let probe = format!("probe-{}", uuid::Uuid::new_v4());
        if let Some(redis) = &self.shared {
            return self.admit_shared(redis, &probe, entries, now, true);
        }
        if let Some(journal) = &self.journal {
            return journal.admit(&*self.pool, &probe, entries, now, true);
        }
        // The very admission a request would get, in a transaction that is never
        // committed: dropping it rolls back the windows it rolled, the amounts it took,
        // the hold it recorded and any exhaustion it marked.
        let tx = self.pool.begin(TxKind::Ledger)?;
        ledger::admit(&*tx, owner::this_process(), &probe, entries, now)
    }

    fn settle(&self, hold: &str, actual: &[i64], now: DateTime<Utc>) -> StoreResult<()> {
        if let Some(redis) = &self.shared {
            return self.settle_shared(redis, hold, actual, now);
        }
        if let Some(journal) = &self.journal {
            return journal.settle(&*self.pool, hold, actual, now);
        }
        self.transaction(TxKind::Ledger, |conn| {
            ledger::settle(conn, hold, actual, now, self.counting())
        })
    }

    fn recover_holds(&self, alive: &dyn Fn(&str) -> bool) -> StoreResult<u64> {
        if let Some(redis) = &self.shared {
            return self.recover_shared(redis, alive);
        }
        self.flush_ledger()?;
        self.ledger_tx(|conn| ledger::recover(conn, alive, Utc::now(), self.counting()))
    }

    fn admits_in_place(&self) -> bool {
        self.journal.is_some()
    }

    fn in_place_freed(&self) -> Option<tokio::sync::futures::Notified<'_>> {
        self.journal.as_ref().map(|j| j.freed())
    }

    fn try_admit(
        &self,
        hold: &str,
        entries: &[HoldEntry],
        now: DateTime<Utc>,
    ) -> Option<StoreResult<Admission>> {
        self.journal
            .as_ref()?
            .try_admit(&*self.pool, hold, entries, now)
    }

    fn try_settle(
        &self,
        hold: &str,
        actual: &[i64],
        now: DateTime<Utc>,
    ) -> Option<StoreResult<()>> {
        self.journal
            .as_ref()?
            .try_settle(&*self.pool, hold, actual, now)
    }

    fn flush_ledger(&self) -> StoreResult<()> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        journal.flush(&*self.pool)?;
        // The ledger's connection leaves checkpoints to this, outside the journal's lock.
        let due = {
            let mut last = self.checkpointed.lock().unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= CHECKPOINT_EVERY);
            if due {
                *last = Some(std::time::Instant::now());
            }
            due
        };
        if due {
            self.pool.checkpoint()?;
        }
        Ok(())
    }

    fn heartbeat(&self, now: DateTime<Utc>) -> StoreResult<()> {
        self.pool.heartbeat(now)
    }

    fn alive(&self, owner: &str) -> bool {
        self.pool.alive(owner)
    }

    fn prune_audit(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<u64> {
        self.ledger_tx(|conn| audit::prune(conn, cutoff, now))
    }

    fn configure_alert_webhooks(
        &self,
        webhooks: &[AlertWebhook],
        alive: &dyn Fn(&str) -> bool,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.ledger_tx(|conn| alerts::configure(conn, webhooks, alive, now))
    }

    fn take_new_alerts(
        &self,
        webhooks: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<AlertEvent>> {
        self.ledger_tx(|conn| alerts::take_new(conn, webhooks, now))
    }

    fn claim_alert_deliveries(
        &self,
        webhooks: &[String],
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> StoreResult<Vec<DueDelivery>> {
        self.ledger_tx(|conn| {
            alerts::claim(conn, owner::this_process(), webhooks, now, lease, limit)
        })
    }

    fn record_alert_delivery(
        &self,
        alert_id: i64,
        webhook: &str,
        attempt: &DeliveryAttempt,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        self.ledger_tx(|conn| alerts::record(conn, alert_id, webhook, attempt, now))
    }
}

impl Drop for SqlStore {
    fn drop(&mut self) {
        // What is left is written by the next process to open the catalog otherwise.
        let _ = self.flush_if_free();
    }
}
