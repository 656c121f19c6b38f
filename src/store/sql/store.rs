//! [`Store`] over any engine's [`Pool`]: read snapshots, audited write transactions and
//! the ledger's transactions.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::write::SqlTx;
use super::{alerts, audit, ledger, Pool, Sql, TxConn, TxKind};
use crate::store::{
    owner, Admission, AlertEvent, AlertWebhook, DeliveryAttempt, DueDelivery, HoldEntry, Store,
    StoreRead, StoreResult, StoreTx,
};

pub struct SqlStore {
    pool: Box<dyn Pool>,
    organisation_id: String,
}

impl SqlStore {
    pub fn new(pool: Box<dyn Pool>, organisation_id: String) -> SqlStore {
        SqlStore {
            pool,
            organisation_id,
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
        self.transaction(TxKind::Write, f)
    }
}

/// A read snapshot.
struct Snapshot<'a>(Box<dyn TxConn + 'a>);

impl super::read::Db for Snapshot<'_> {
    fn db(&self) -> &dyn Sql {
        &*self.0
    }
}

impl Store for SqlStore {
    fn organisation_id(&self) -> &str {
        &self.organisation_id
    }

    fn read(&self) -> StoreResult<Box<dyn StoreRead + '_>> {
        Ok(Box::new(Snapshot(self.pool.begin(TxKind::Read)?)))
    }

    fn begin(&self) -> StoreResult<Box<dyn StoreTx + '_>> {
        Ok(Box::new(SqlTx::new(self.pool.begin(TxKind::Write)?)))
    }

    fn admit(
        &self,
        hold: &str,
        entries: &[HoldEntry],
        now: DateTime<Utc>,
    ) -> StoreResult<Admission> {
        self.transaction(TxKind::Ledger, |conn| {
            ledger::admit(conn, owner::this_process(), hold, entries, now)
        })
    }

    fn probe(&self, entries: &[HoldEntry], now: DateTime<Utc>) -> StoreResult<Admission> {
        // The very admission a request would get, in a transaction that is never
        // committed: dropping it rolls back the windows it rolled, the amounts it took,
        // the hold it recorded and any exhaustion it marked.
        let tx = self.pool.begin(TxKind::Ledger)?;
        let probe = format!("probe-{}", uuid::Uuid::new_v4());
        ledger::admit(&*tx, owner::this_process(), &probe, entries, now)
    }

    fn settle(&self, hold: &str, actual: &[i64], now: DateTime<Utc>) -> StoreResult<()> {
        self.transaction(TxKind::Ledger, |conn| {
            ledger::settle(conn, hold, actual, now)
        })
    }

    fn recover_holds(&self, alive: &dyn Fn(&str) -> bool) -> StoreResult<u64> {
        self.ledger_tx(|conn| ledger::recover(conn, alive, Utc::now()))
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
