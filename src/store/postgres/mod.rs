//! PostgreSQL's connections for [`SqlStore`]: the catalog of several `catalog serve`
//! replicas.
//!
//! Transactions keep SQLite's semantics, which the shared SQL relies on:
//! - a read is a `REPEATABLE READ READ ONLY` snapshot: it never waits for a writer;
//! - every write transaction, an admin write or a ledger step (a hold, a settlement),
//!   takes one transaction-level advisory lock first, so writers take turns across every
//!   replica as they do on one SQLite file, and each statement after the lock sees every
//!   earlier writer's commit. Admission is exact across replicas; its rate is that of
//!   one writer at a time.
//!
//! The driver is `tokio-postgres`, its connections driven by a small runtime of the
//! store's own: the store's callers block (as they do on SQLite), from any thread, inside
//! or outside another runtime.
//!
//! Replicas know each other's liveness by heartbeat (`replicas`): the holds of a replica
//! not seen for [`DEAD_AFTER`] are settled by the others. A replica that never wrote a
//! heartbeat holds nothing: it writes one before it serves.

mod certificate;
pub mod copy;
mod pgpass;
mod schema;
mod tls;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use anyhow::Context;
use bytes::BytesMut;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::{Client, Statement};

use super::sql::{
    Arg, DbError, DbResult, Dialect, Pool, Row, Sql, SqlStore, TxConn, TxKind, Value,
};
use super::{owner, StoreError, StoreResult};

/// The most connections one process opens; a transaction beyond them waits for one.
const CONNECTIONS: usize = 16;
/// How long a transaction waits for a connection before it fails.
const CONNECTION_WAIT: Duration = Duration::from_secs(30);
/// How long a new connection may take, TLS and sign-in included, unless the URL's
/// `connect_timeout` says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The advisory lock every write transaction takes.
const WRITE_LOCK: i64 = 0x6361_7461_6c6f_6701;
/// The advisory lock schema migrations take.
const MIGRATE_LOCK: i64 = 0x6361_7461_6c6f_6702;
/// A replica not seen for this long is gone: the others settle its holds.
pub const DEAD_AFTER: Duration = Duration::from_secs(15);

/// One connection, with its prepared statements.
struct Conn {
    client: Client,
    statements: RefCell<HashMap<String, Statement>>,
}

pub struct PgStore {
    /// Drives the connections; `None` only while the store is dropped.
    runtime: Option<tokio::runtime::Runtime>,
    /// What connections are made with: the URL, and `PGPASSWORD` where it gives none.
    config: tokio_postgres::Config,
    /// TLS as the URL's `sslmode` and `sslrootcert` ask (see [`tls`]).
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// Idle connections, and how many are open in all.
    pool: Mutex<(Vec<Conn>, usize)>,
    returned: Condvar,
    /// Replicas whose heartbeat stopped, as the last heartbeat of this one found them.
    stopped: Mutex<HashSet<String>>,
    /// When this replica last wrote its heartbeat.
    last_heartbeat: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
}

impl PgStore {
    /// Connects to the catalog at `url`, creating its schema or bringing it up to date
    /// (once, however many replicas start together).
    pub fn open(url: &str) -> anyhow::Result<SqlStore> {
        Self::open_as(url, "--database-url")
    }

    /// [`PgStore::open`], its errors naming the URL as the `flag` that gave it.
    pub fn open_as(url: &str, flag: &str) -> anyhow::Result<SqlStore> {
        let pool = Self::connect_only(url, flag)?;
        let organisation_id = pool
            .migrate()
            .with_context(|| format!("cannot prepare the catalog at {}", redact(url)))?;
        Ok(SqlStore::new(Box::new(pool), organisation_id))
    }

    /// The connections to the database at `url`, its schema untouched.
    pub(crate) fn connect_only(url: &str, flag: &str) -> anyhow::Result<PgStore> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("catalog-postgres")
            .enable_all()
            .build()
            .context("cannot start the PostgreSQL driver")?;
        let refused = |what: &str, why: String| {
            crate::exit::fail(
                crate::exit::ErrorKind::Usage,
                format!("{} {what}: {why}", redact(url)),
                Some("write postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=verify-full&sslrootcert=FILE] (a password may come from PGPASSWORD, or from the password file: ~/.pgpass, or PGPASSFILE)"),
            )
        };
        let not_usable = |why| refused("is not a PostgreSQL URL this catalog can use", why);
        let (driver_url, tls) = tls::split(url).map_err(not_usable)?;
        let mut config: tokio_postgres::Config =
            driver_url.parse().map_err(|e| not_usable(cause(&e)))?;
        // Over a Unix socket there is no TLS to ask for (libpq never does either).
        let sockets_only = !config.get_hosts().is_empty()
            && config
                .get_hosts()
                .iter()
                .all(|h| matches!(h, tokio_postgres::config::Host::Unix(_)));
        let tls = if sockets_only {
            tls::Tls::disabled()
        } else {
            tls
        };
        config.ssl_mode(tls.ssl_mode());
        let tls = tls
            .connector()
            .map_err(|why| refused("asks for TLS this catalog cannot set up", why))?;
        // An empty password is none, as libpq reads it.
        if config.get_password().is_none_or(<[u8]>::is_empty) {
            match std::env::var_os(crate::env_vars::PGPASSWORD).filter(|p| !p.is_empty()) {
                Some(password) => {
                    config.password(password.as_encoded_bytes());
                }
                None => {
                    if let Some(password) = from_password_file(&config) {
                        config.password(password);
                    }
                }
            }
        }
        let pool = PgStore {
            runtime: Some(runtime),
            config,
            tls,
            pool: Mutex::new((Vec::new(), 0)),
            returned: Condvar::new(),
            stopped: Mutex::new(HashSet::new()),
            last_heartbeat: Mutex::new(None),
        };
        // Connect now: an unreachable server or a wrong URL is said at once.
        let conn = pool
            .connect()
            .with_context(|| format!("{flag} {}", redact(url)))?;
        pool.pool.lock().unwrap_or_else(|e| e.into_inner()).1 += 1;
        pool.put_back(conn);
        Ok(pool)
    }

    /// Brings the schema up to date under an advisory lock (replicas starting together
    /// migrate once) and returns the organisation's id, created with the schema.
    fn migrate(&self) -> anyhow::Result<String> {
        let tx = PgTx {
            conn: Some(self.take()?),
            pool: self,
            open: true,
        };
        tx.batch("BEGIN")?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(?1)",
            &[Arg::Int(MIGRATE_LOCK)],
        )?;
        tx.batch("CREATE TABLE IF NOT EXISTS catalog_schema (version BIGINT NOT NULL)")?;
        let version: i64 = tx
            .query(
                "SELECT CAST(COALESCE(max(version), 0) AS BIGINT) FROM catalog_schema",
                &[],
            )?
            .first()
            .map(|r| r.get(0))
            .transpose()?
            .unwrap_or(0);
        let known = schema::MIGRATIONS.len();
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > known {
            anyhow::bail!(
                "the database was written by a newer catalog (schema {version}, this build knows {known}); upgrade catalog"
            );
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version) {
            tx.batch(sql)?;
            tx.execute(
                "INSERT INTO catalog_schema(version) VALUES (?1)",
                &[Arg::Int(i64::try_from(i + 1).unwrap_or(i64::MAX))],
            )?;
        }
        let fresh = uuid::Uuid::new_v4().to_string();
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('organisation_id', ?1) ON CONFLICT(key) DO NOTHING",
            &[Arg::Text(&fresh)],
        )?;
        let id: String = tx
            .query("SELECT value FROM meta WHERE key = 'organisation_id'", &[])?
            .first()
            .map(|r| r.get(0))
            .transpose()?
            .context("the catalog has no organisation id")?;
        Box::new(tx).commit()?;
        Ok(id)
    }

    fn connect(&self) -> anyhow::Result<Conn> {
        let (config, tls) = (self.config.clone(), self.tls.clone());
        let runtime = self
            .runtime
            .as_ref()
            .expect("the driver runs until the store is dropped");
        // The whole of it, TLS and sign-in included (the URL's `connect_timeout` bounds
        // the TCP connection alone), so that a server that never answers is said.
        let wait = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(CONNECT_TIMEOUT);
        let connecting = runtime.spawn(async move {
            let Ok(connected) = tokio::time::timeout(wait, config.connect(tls)).await else {
                return Ok(Err(wait));
            };
            let (client, connection) = connected?;
            tokio::spawn(async move {
                // Ends when the client is dropped or the server goes away; a client
                // whose connection ended reports itself closed and is not reused.
                let _ = connection.await;
            });
            Ok::<_, tokio_postgres::Error>(Ok(client))
        });
        let client = futures_executor::block_on(connecting)
            .context("the PostgreSQL driver stopped")?
            .map_err(|e| {
                let refused = e.code().is_some_and(|c| {
                    *c == SqlState::INVALID_PASSWORD
                        || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                }) || cause(&e).contains("password missing");
                if refused {
                    let why = cause(&e);
                    let hint = match tls_hint(&why) {
                        "" => "check the user and password of the URL (a password may come from PGPASSWORD, or from the password file: ~/.pgpass, or PGPASSFILE)",
                        tls => tls.trim_start_matches("; "),
                    };
                    return crate::exit::fail(
                        crate::exit::ErrorKind::Auth,
                        format!("PostgreSQL refused to let this catalog in: {why}"),
                        Some(hint),
                    );
                }
                // Callers of the gateway may see this: it names no host.
                anyhow::Error::new(super::Unavailable(format!(
                    "the catalog's PostgreSQL database cannot be reached: {}{}",
                    cause(&e),
                    tls_hint(&cause(&e))
                )))
            })?
            .map_err(|wait: Duration| {
                anyhow::Error::new(super::Unavailable(format!(
                    "the catalog's PostgreSQL database did not answer within {} s (connection, TLS and sign-in)",
                    wait.as_secs_f64()
                )))
            })?;
        Ok(Conn {
            client,
            statements: RefCell::new(HashMap::new()),
        })
    }

    /// An idle connection, a new one while fewer than [`CONNECTIONS`] are open, or the
    /// next one returned.
    fn take(&self) -> StoreResult<Conn> {
        let deadline = std::time::Instant::now() + CONNECTION_WAIT;
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match pool.0.pop() {
                Some(c) if c.client.is_closed() => pool.1 -= 1,
                Some(c) => return Ok(c),
                None if pool.1 < CONNECTIONS => {
                    pool.1 += 1;
                    drop(pool);
                    return self.connect().map_err(|e| {
                        self.forget();
                        StoreError::Internal(e)
                    });
                }
                None => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err(StoreError::Internal(anyhow::anyhow!(
                            "no PostgreSQL connection came free in {}s",
                            CONNECTION_WAIT.as_secs()
                        )));
                    }
                    pool = self
                        .returned
                        .wait_timeout(pool, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    fn put_back(&self, conn: Conn) {
        if conn.client.is_closed() {
            return self.forget();
        }
        self.pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .push(conn);
        self.returned.notify_one();
    }

    /// A connection that was open is gone.
    fn forget(&self) {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).1 -= 1;
        self.returned.notify_one();
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // The last reference may go inside another runtime's task (a server shutting
        // down), where a runtime cannot be dropped by waiting for it.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The password file's password for `config` (see [`pgpass::password_for`]); a file
/// that cannot be used is said on stderr.
fn from_password_file(config: &tokio_postgres::Config) -> Option<String> {
    pgpass::password_for(config).unwrap_or_else(|warning| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "warning: {warning}");
        None
    })
}

/// `url` without its password (`user:PASSWORD@` or `?password=`), for messages. The
/// credentials are taken to run to the last `@`, so that a password holding an
/// unencoded `?`, `/` or `@` is never shown, whichever way a driver reads it.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the configured URL".to_owned();
    };
    let (credentials, rest) = match rest.rsplit_once('@') {
        Some((c, r)) => (Some(c), r),
        None => (None, rest),
    };
    let credentials = match credentials {
        Some(c) => match c.split_once(':') {
            Some((user, _)) => format!("{user}:***@"),
            None => format!("{c}@"),
        },
        None => String::new(),
    };
    let Some((location, query)) = rest.split_once('?') else {
        return format!("{scheme}://{credentials}{rest}");
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if tls::decoded(k).is_ok_and(|k| k.eq_ignore_ascii_case("password")) => {
                format!("{k}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{scheme}://{credentials}{location}?{}", query.join("&"))
}

impl Pool for PgStore {
    fn begin(&self, kind: TxKind) -> StoreResult<Box<dyn TxConn + '_>> {
        let conn = self.take()?;
        let tx = PgTx {
            conn: Some(conn),
            pool: self,
            open: true,
        };
        match kind {
            TxKind::Read => tx.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?,
            TxKind::Write => tx.batch(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
            ))?,
            // Holds and settlements share the writers' lock, and take their scopes' own
            // ([`Sql::lock_scopes`]): they exclude admin writes and each other only where
            // they touch the same counters.
            TxKind::Ledger => tx.batch(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock_shared({WRITE_LOCK})"
            ))?,
        }
        Ok(Box::new(tx))
    }

    fn alive(&self, owner: &str) -> bool {
        // Replicas may run on other machines: a pid says nothing, the heartbeat does.
        // Read from what the last heartbeat learnt, never from the database: this runs
        // inside ledger transactions, which must not wait for a second connection.
        !self
            .stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(owner)
    }

    fn heartbeat(&self, now: chrono::DateTime<chrono::Utc>) -> StoreResult<()> {
        let previous = self
            .last_heartbeat
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let tx = PgTx {
            conn: Some(self.take()?),
            pool: self,
            open: false,
        };
        tx.execute(
            "INSERT INTO replicas(owner, seen_at) VALUES (?1, ?2)
             ON CONFLICT(owner) DO UPDATE SET seen_at = excluded.seen_at",
            &[
                Arg::Text(owner::this_process()),
                Arg::Text(&crate::api::usage::timestamp(now)),
            ],
        )?;
        let cutoff = crate::api::usage::timestamp(
            now - chrono::Duration::from_std(DEAD_AFTER).unwrap_or_default(),
        );
        // Others are judged only by a replica that watched the whole time: after this one
        // could not write (the database was down for everyone), the others' heartbeats
        // stopped too, and they get one interval to write again.
        let watched =
            previous.is_some_and(|p| (now - p).to_std().unwrap_or_default() <= DEAD_AFTER / 3);
        let stopped = if watched {
            tx.query(
                "SELECT owner FROM replicas WHERE seen_at < ?1",
                &[Arg::Text(&cutoff)],
            )?
            .iter()
            .map(|r| r.get::<String>(0))
            .collect::<DbResult<HashSet<String>>>()?
        } else {
            HashSet::new()
        };
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = stopped;
        // Replicas gone for a day whose holds are all settled are forgotten.
        let forgotten = crate::api::usage::timestamp(now - chrono::Duration::days(1));
        tx.execute(
            "DELETE FROM replicas WHERE seen_at < ?1
             AND NOT EXISTS (SELECT 1 FROM holds WHERE holds.owner = replicas.owner)",
            &[Arg::Text(&forgotten)],
        )?;
        *self
            .last_heartbeat
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(now);
        Ok(())
    }
}

/// A transaction on a pooled connection: rolled back on drop unless committed.
struct PgTx<'a> {
    conn: Option<Conn>,
    pool: &'a PgStore,
    open: bool,
}

impl PgTx<'_> {
    fn conn(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a transaction holds its connection until dropped")
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        futures_executor::block_on(self.conn().client.batch_execute(sql)).map_err(db_error)
    }

    /// The prepared statement for `sql` with arguments of these kinds. Parameters are
    /// typed by their arguments (a `NULL` as text): PostgreSQL cannot infer the type of
    /// one that is only tested (`?1 IS NULL OR ...`), and SQLite's values carry theirs.
    fn statement(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<Statement> {
        let conn = self.conn();
        let mut key = String::with_capacity(sql.len() + args.len() + 1);
        key.extend(args.iter().map(|a| match a {
            Arg::Null | Arg::Text(_) => 't',
            Arg::NullInt | Arg::Int(_) => 'i',
            Arg::Real(_) => 'r',
            Arg::NullBlob | Arg::Blob(_) => 'b',
        }));
        key.push(':');
        key.push_str(sql);
        if let Some(s) = conn.statements.borrow().get(&key) {
            return Ok(s.clone());
        }
        let types: Vec<Type> = args
            .iter()
            .map(|a| match a {
                Arg::Null | Arg::Text(_) => Type::TEXT,
                Arg::NullInt | Arg::Int(_) => Type::INT8,
                Arg::Real(_) => Type::FLOAT8,
                Arg::NullBlob | Arg::Blob(_) => Type::BYTEA,
            })
            .collect();
        let prepared =
            futures_executor::block_on(conn.client.prepare_typed(&placeholders(sql), &types))
                .map_err(in_statement(sql))?;
        conn.statements.borrow_mut().insert(key, prepared.clone());
        Ok(prepared)
    }
}

impl Sql for PgTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<Vec<Row>> {
        let statement = self.statement(sql, args)?;
        let params: Vec<PgArg<'_>> = args.iter().map(|a| PgArg(*a)).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let found = futures_executor::block_on(self.conn().client.query(&statement, &refs))
            .map_err(in_statement(sql))?;
        found.iter().map(row_of).collect()
    }

    fn execute(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<u64> {
        let statement = self.statement(sql, args)?;
        let params: Vec<PgArg<'_>> = args.iter().map(|a| PgArg(*a)).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        futures_executor::block_on(self.conn().client.execute(&statement, &refs))
            .map_err(in_statement(sql))
    }

    fn execute_or_refuse(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<u64> {
        self.refusable(sql, args)
    }

    fn lock_scopes(&self, scopes: &[String]) -> DbResult<bool> {
        if !scopes.is_empty() {
            // One round trip; the function takes them in the order given.
            self.execute(
                "SELECT catalog_lock_scopes(?1)",
                &[Arg::Text(&scopes.join("\n"))],
            )?;
        }
        Ok(true)
    }
}

impl PgTx<'_> {
    fn refusable(&self, sql: &str, args: &[Arg<'_>]) -> DbResult<u64> {
        // An error aborts a PostgreSQL transaction; under a savepoint, only the statement.
        self.batch("SAVEPOINT refusable")?;
        match self.execute(sql, args) {
            Ok(n) => {
                self.batch("RELEASE SAVEPOINT refusable")?;
                Ok(n)
            }
            Err(e) => {
                self.batch("ROLLBACK TO SAVEPOINT refusable")?;
                Err(e)
            }
        }
    }
}

impl TxConn for PgTx<'_> {
    fn commit(mut self: Box<Self>) -> DbResult<()> {
        self.open = false;
        let done = self.batch("COMMIT");
        if done.is_err() {
            let _ = self.batch("ROLLBACK");
        }
        done
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open && self.batch("ROLLBACK").is_err() {
            // A connection in an unknown state is not reused.
            self.conn = None;
            self.pool.forget();
        }
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(conn);
        }
    }
}

/// `?N` and `?` placeholders as PostgreSQL's `$N`, outside quoted text.
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 0;
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    next += 1;
                    digits = next.to_string();
                }
                out.push('$');
                out.push_str(&digits);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A row's values, by their PostgreSQL types.
fn row_of(r: &tokio_postgres::Row) -> DbResult<Row> {
    let mut values = Vec::with_capacity(r.len());
    for (i, column) in r.columns().iter().enumerate() {
        let ty = column.type_();
        let value = match *ty {
            Type::INT8 => r.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int)),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|v| Value::Int(i64::from(v)))),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|v| Value::Int(i64::from(v)))),
            Type::BOOL => r
                .try_get::<_, Option<bool>>(i)
                .map(|v| v.map(|v| Value::Int(i64::from(v)))),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::Real)),
            Type::FLOAT4 => r
                .try_get::<_, Option<f32>>(i)
                .map(|v| v.map(|v| Value::Real(f64::from(v)))),
            Type::BYTEA => r
                .try_get::<_, Option<Vec<u8>>>(i)
                .map(|v| v.map(Value::Blob)),
            _ => r
                .try_get::<_, Option<AsText>>(i)
                .map(|v| v.map(|t| Value::Text(t.0))),
        }
        .map_err(|e| {
            DbError::other(anyhow::anyhow!(
                "cannot read column `{}` ({ty}): {e}",
                column.name()
            ))
        })?;
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row::new(values))
}

/// A column of a text type, or of another type whose binary form is text (`json`;
/// `jsonb` after its version byte), read as text.
struct AsText(String);

impl<'a> tokio_postgres::types::FromSql<'a> for AsText {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<AsText, BoxError> {
        let raw = match *ty {
            Type::JSONB => raw.get(1..).unwrap_or_default(),
            _ => raw,
        };
        Ok(AsText(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        <&str as tokio_postgres::types::FromSql>::accepts(ty)
            || matches!(*ty, Type::JSON | Type::JSONB)
    }
}

/// An argument bound as the type PostgreSQL expects for its parameter.
#[derive(Debug)]
struct PgArg<'a>(Arg<'a>);

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for PgArg<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let text_like = matches!(
            *ty,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
        );
        match self.0 {
            Arg::Null | Arg::NullInt | Arg::NullBlob => Ok(IsNull::Yes),
            Arg::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::FLOAT8 => (i as f64).to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                _ if text_like => i.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound as {ty}").into()),
            },
            Arg::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (f as f32).to_sql(ty, out),
                _ if text_like => f.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("a number cannot be bound as {ty}").into()),
            },
            Arg::Text(s) => match *ty {
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                _ => s.to_sql(ty, out),
            },
            Arg::Blob(b) => match *ty {
                _ if text_like => std::str::from_utf8(b)?.to_sql(ty, out),
                _ => b.to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// What went wrong, as PostgreSQL or the network said it ("db error" alone says nothing).
/// What to change when a connection failed over TLS, or for the want of it.
fn tls_hint(cause: &str) -> &'static str {
    if cause.contains("does not support TLS") {
        "; the server does not offer TLS: turn ssl on in its configuration, or lower the URL's sslmode to prefer"
    } else if cause.contains("no encryption") || cause.contains("SSL off") {
        "; the server wants TLS: add sslmode=verify-full&sslrootcert=FILE (or sslmode=require) to the URL"
    } else if cause.contains("certificate") || cause.contains("TLS") {
        "; check the URL's sslmode and sslrootcert (the file of the root certificates that signed the server's)"
    } else {
        ""
    }
}

fn cause(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

/// A PostgreSQL error as the store tells them apart, with the server's message.
fn db_error(e: tokio_postgres::Error) -> DbError {
    let io = std::iter::successors(std::error::Error::source(&e), |s| s.source())
        .any(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        // Not an answer from the server: the connection is gone.
        return DbError::Other(anyhow::Error::new(super::Unavailable(format!(
            "the catalog's PostgreSQL database cannot be reached: {}",
            cause(&e)
        ))));
    }
    let message = anyhow::anyhow!("PostgreSQL: {}", cause(&e));
    match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => DbError::Unique(message),
        Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => DbError::ForeignKey(message),
        _ => DbError::Other(message),
    }
}

/// A failed statement's error, naming the statement (its text holds no argument).
fn in_statement(sql: &str) -> impl Fn(tokio_postgres::Error) -> DbError + '_ {
    move |e| match db_error(e) {
        DbError::Other(m) => DbError::Other(m.context(format!(
            "in `{}`",
            sql.split_whitespace().collect::<Vec<_>>().join(" ")
        ))),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords_wherever_they_are() {
        assert_eq!(
            redact("postgres://u:pw@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("redis://:pw@h:6379"), "redis://:***@h:6379");
        assert_eq!(
            redact("postgres://u@h/db?sslmode=require&password=pw"),
            "postgres://u@h/db?sslmode=require&password=***"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        // However the password is written.
        for url in [
            "postgres://u:pa?ssSECRET@h/db?sslmode=require",
            "postgres://u:pa/ss@SECRET@h/db",
            "rediss://:pa?ssSECRET@h:6380",
            "postgres://u@h/db?pass%77ord=SECRET",
            "postgres://u@h/db?PASSWORD=SECRET%zz",
        ] {
            let shown = redact(url);
            assert!(
                !shown.contains("SECRET") && shown.contains("***"),
                "{shown}"
            );
        }
        assert_eq!(redact("not a url pw"), "the configured URL");
    }

    #[test]
    fn placeholders_become_numbered_outside_quoted_text() {
        assert_eq!(
            placeholders("a = ?1 AND b = '?' AND c = ?"),
            "a = $1 AND b = '?' AND c = $1"
        );
        assert_eq!(placeholders("x IN (?, ?)"), "x IN ($1, $2)");
    }
}
