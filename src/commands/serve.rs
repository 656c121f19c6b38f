//! `catalog serve`: the Admin API over HTTP on a database file shared by a team.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::time_args::Age;
use super::Ctx;
use crate::env_vars as env;
use crate::gateway::hosts::TrustedHost;
use crate::server::alerts::{Backoff, DeliveryConfig, WebhookUrl, WebhookUrlParser};
use crate::server::listen::Timeouts;
use crate::server::{self, AppState, Database, ServerConfig};

/// Where `catalog serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, env = env::CATALOG_LISTEN, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Database file (default: the embedded catalog's database)
    #[arg(long, env = env::CATALOG_DB, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Run on PostgreSQL instead of a file (it takes precedence over --db):
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DB, over TLS with
    /// ?sslmode=verify-full&sslrootcert=FILE (as libpq). Several replicas may share one database;
    /// the master key must then be given (CATALOG_MASTER_KEY or --master-key-file), the
    /// same on every replica
    #[arg(
        long,
        env = env::CATALOG_DATABASE_URL,
        value_name = "URL",
        value_parser = DATABASE_URL,
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Keep the admission counters replicas share (budgets, rate and concurrency
    /// limits) in Redis, redis://[:PASSWORD@]HOST[:PORT][/DB] (rediss:// over TLS); needs
    /// --database-url, and the same on every replica. Without it, replicas on one
    /// PostgreSQL still admit exactly, taking turns on the database
    #[arg(
        long,
        env = env::CATALOG_REDIS_URL,
        value_name = "URL",
        value_parser = REDIS_URL,
        hide_env_values = true
    )]
    pub redis_url: Option<String>,

    /// The root certificates (a PEM file) that signed the certificate of a rediss://
    /// Redis, when no public root did
    #[arg(long, env = env::CATALOG_REDIS_CA_FILE, value_name = "FILE")]
    pub redis_ca_file: Option<PathBuf>,

    /// A file holding the base64 master key that seals provider secrets (instead of
    /// CATALOG_MASTER_KEY)
    #[arg(long, env = env::CATALOG_MASTER_KEY_FILE, value_name = "PATH")]
    pub master_key_file: Option<PathBuf>,

    /// Time a client has to send a request's headers before its connection is closed
    #[arg(long, env = env::CATALOG_HEADER_TIMEOUT, value_name = "DURATION", default_value = "10s")]
    pub header_timeout: Seconds,

    /// Close a connection with no request in flight and no traffic for this long
    #[arg(long, env = env::CATALOG_IDLE_TIMEOUT, value_name = "DURATION", default_value = "60s")]
    pub idle_timeout: Seconds,

    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish
    #[arg(long, env = env::CATALOG_SHUTDOWN_TIMEOUT, value_name = "DURATION", default_value = "10s")]
    pub shutdown_timeout: Seconds,

    /// Threads that answer requests [default: one fewer than the CPUs, at least one; the
    /// kernel's network work and the catalog's database writes keep the one left]
    #[arg(long, env = env::CATALOG_WORKERS, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// A private, loopback or internal upstream host the gateway may call when a
    /// `custom_host` names it (a self-hosted model server); repeatable
    #[arg(
        long = "trusted-custom-host",
        env = env::CATALOG_TRUSTED_CUSTOM_HOSTS,
        value_name = "HOST[:PORT]",
        value_delimiter = ','
    )]
    pub trusted_custom_hosts: Vec<TrustedHost>,

    /// POST each budget alert as JSON to this http(s) URL, retrying until it answers
    /// 2xx; repeatable (the environment variable takes them comma-separated)
    #[arg(
        long = "alert-webhook",
        env = env::CATALOG_ALERT_WEBHOOKS,
        value_name = "URL",
        value_delimiter = ',',
        value_parser = WebhookUrlParser,
        hide_env_values = true
    )]
    pub alert_webhooks: Vec<WebhookUrl>,

    /// Retries of a failed alert delivery: the first wait, doubling up to the second
    #[arg(
        long,
        env = env::CATALOG_ALERT_BACKOFF,
        value_name = "FIRST..MAX",
        default_value = "1s..5m"
    )]
    pub alert_backoff: BackoffArg,

    /// Delete audit records older than this (90d, 52w; at least 1h), checked hourly;
    /// each pruning is itself recorded. Without it, every record is kept
    #[arg(long, env = env::CATALOG_AUDIT_RETENTION, value_name = "AGE", value_parser = parse_retention)]
    pub audit_retention: Option<Age>,
}

/// A URL that may carry a password: checked by its scheme, and named in errors with the
/// password masked (clap's own error would repeat the value as typed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct UrlParser(fn(&str) -> Option<&'static str>);

/// `postgres://` URLs (`--database-url`, `db copy --to`).
pub(crate) const DATABASE_URL: UrlParser = UrlParser(|text| {
    (!(text.starts_with("postgres://") || text.starts_with("postgresql://")))
        .then_some("not a PostgreSQL URL; write postgres://USER@HOST[:PORT]/DB")
});

/// `redis://` URLs (`--redis-url`).
const REDIS_URL: UrlParser = UrlParser(|text| {
    (!(text.starts_with("redis://") || text.starts_with("rediss://")))
        .then_some("not a Redis URL; write redis://HOST[:PORT] (rediss:// over TLS)")
});

impl clap::builder::TypedValueParser for UrlParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let text = value.to_string_lossy();
        match (self.0)(&text) {
            None => Ok(text.into_owned()),
            Some(problem) => {
                // clap's own wording, naming the flag, about the redacted value.
                let refuse = move |_: &str| -> Result<String, &'static str> { Err(problem) };
                let shown = crate::store::postgres::redact(&text);
                refuse.parse_ref(cmd, arg, std::ffi::OsStr::new(&shown))
            }
        }
    }
}

/// The master key and where it came from: CATALOG_MASTER_KEY, else the contents of
/// `--master-key-file`.
fn master_key(
    ctx: &Ctx,
    file: Option<&std::path::Path>,
) -> anyhow::Result<Option<(String, String)>> {
    use crate::exit::{fail, ErrorKind};
    match (ctx.settings.master_key.clone(), file) {
        (Some(_), Some(_)) => Err(fail(
            ErrorKind::Usage,
            "both CATALOG_MASTER_KEY and --master-key-file give the master key",
            Some("keep one: unset CATALOG_MASTER_KEY, or drop --master-key-file"),
        )),
        (Some(key), None) => Ok(Some((key, env::CATALOG_MASTER_KEY.to_owned()))),
        (None, Some(path)) => {
            let from = format!("the key file {} (--master-key-file)", path.display());
            let text = std::fs::read_to_string(path).map_err(|e| {
                fail(
                    ErrorKind::Usage,
                    format!("cannot read {from}: {e}"),
                    Some("point --master-key-file at the file holding the base64 master key"),
                )
            })?;
            let text = text.trim().to_owned();
            let problem = if text.is_empty() {
                Some("it is empty".to_owned())
            } else {
                crate::crypto::MasterKey::decode(&text)
                    .err()
                    .map(|e| e.to_string())
            };
            if let Some(problem) = problem {
                return Err(fail(
                    ErrorKind::Usage,
                    format!("{from} holds no master key: {problem}"),
                    Some("the file holds one base64 key of 32 bytes (`openssl rand -base64 32` makes one)"),
                ));
            }
            Ok(Some((text, from)))
        }
        (None, None) => Ok(None),
    }
}

fn parse_retention(text: &str) -> Result<Age, String> {
    let age: Age = text
        .parse()
        .map_err(|_| format!("`{text}` is not a retention; write e.g. 90d, 52w or 12h (at least 1h, at most 100 years)"))?;
    if age.0 < chrono::Duration::hours(1) {
        return Err(format!(
            "`{text}` is shorter than an hour; keep records at least 1h"
        ));
    }
    Ok(age)
}

/// `FIRST..MAX`: two durations, the first at most the second (`1s..5m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffArg(pub Backoff);

impl FromStr for BackoffArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (first, max) = text
            .split_once("..")
            .ok_or_else(|| format!("`{text}` is not FIRST..MAX; use e.g. 1s..5m"))?;
        let (Seconds(first), Seconds(max)) = (first.parse()?, max.parse()?);
        if first > max {
            return Err(format!(
                "`{text}`: the first wait must not be longer than the longest"
            ));
        }
        Ok(BackoffArg(Backoff { first, max }))
    }
}

/// A duration such as `10s`, `500ms`, `2m` or a plain number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl FromStr for Seconds {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration; use e.g. 10s, 500ms or 2m"))?;
        let d = match unit {
            "" | "s" => Duration::from_secs(n),
            "ms" => Duration::from_millis(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            _ => return Err(format!("`{text}` has an unknown unit; use ms, s or m")),
        };
        if d.is_zero() || d > Duration::from_secs(3600) {
            return Err(format!("`{text}` must be more than 0 and at most 1 hour"));
        }
        Ok(Seconds(d))
    }
}

pub fn run(ctx: &Ctx, args: ServeArgs) -> anyhow::Result<()> {
    // The port first: on a busy port nothing is created and no admin key is printed.
    let listener = std::net::TcpListener::bind(args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    listener.set_nonblocking(true)?;
    let (master_key, master_key_from) = master_key(ctx, args.master_key_file.as_deref())?.unzip();
    if args.redis_ca_file.is_some() && args.redis_url.is_none() {
        return Err(crate::exit::fail(
            crate::exit::ErrorKind::Usage,
            "--redis-ca-file (or CATALOG_REDIS_CA_FILE) checks the certificate of the Redis of --redis-url, and no --redis-url is given",
            Some("add --redis-url rediss://HOST:PORT, or drop --redis-ca-file (unset CATALOG_REDIS_CA_FILE)"),
        ));
    }
    let database = match args.database_url {
        Some(url) => {
            if master_key.is_none() {
                return Err(crate::exit::fail(
                    crate::exit::ErrorKind::Usage,
                    "catalog serve on PostgreSQL needs the master key that seals provider secrets, the same on every replica",
                    Some("set CATALOG_MASTER_KEY or pass --master-key-file PATH (`openssl rand -base64 32` makes a new one)"),
                ));
            }
            Database::Postgres(url)
        }
        None if args.redis_url.is_some() => {
            return Err(crate::exit::fail(
                crate::exit::ErrorKind::Usage,
                "--redis-url shares admission counters between replicas of a catalog on PostgreSQL; a catalog file is one machine's",
                Some("add --database-url postgres://USER@HOST/DB, or drop --redis-url"),
            ));
        }
        None => Database::Sqlite(args.db.unwrap_or_else(|| ctx.settings.paths.embedded_db())),
    };
    let shown_redis = args
        .redis_url
        .as_deref()
        .map(|u| {
            format!(
                ", admission counters in Redis at {}",
                crate::store::postgres::redact(u)
            )
        })
        .unwrap_or_default();
    let shown = database.to_string();
    let state = AppState::open(&ServerConfig {
        database,
        redis_url: args.redis_url,
        redis_ca_file: args.redis_ca_file,
        master_key,
        master_key_from,
        master_key_previous: ctx.settings.master_key_previous.clone(),
        trusted_custom_hosts: args.trusted_custom_hosts,
    })?;
    state.vault.check_existing()?;
    // Only a replica that can open the catalog's secrets joins the others.
    state
        .store
        .heartbeat(chrono::Utc::now())
        .map_err(|e| anyhow::anyhow!("cannot record this replica: {e}"))?;
    let printer = ctx.printer();
    let bootstrap = ctx.settings.env.get(env::CATALOG_BOOTSTRAP_ADMIN_KEY);
    match server::bootstrap(&state, bootstrap)? {
        Some(key) if key.is_empty() => printer
            .notice("installed CATALOG_BOOTSTRAP_ADMIN_KEY as the organisation admin API key"),
        Some(key) => printer.notice(format!(
            "created the organisation admin API key; it is shown once, store it now:\n  {key}"
        )),
        None => {}
    }
    let webhooks = args.alert_webhooks;
    let queued = server::alerts::configure(&state, &webhooks)?;
    if !webhooks.is_empty() {
        let labels: Vec<String> = webhooks.iter().map(WebhookUrl::label).collect();
        printer.notice(format!(
            "catalog serve: budget alerts go to {}{}",
            labels.join(", "),
            match queued {
                0 => String::new(),
                1 => "; 1 alert of a current budget window queued".to_owned(),
                n => format!("; {n} alerts of current budget windows queued"),
            }
        ));
    }
    let delivery = DeliveryConfig {
        webhooks,
        backoff: args.alert_backoff.0,
    };
    let timeouts = Timeouts {
        header: args.header_timeout.0,
        idle: args.idle_timeout.0,
        drain: args.shutdown_timeout.0,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.map_or_else(default_workers, usize::from))
        .enable_all()
        .build()?;
    runtime.spawn(server::alerts::run(state.clone(), delivery));
    runtime.spawn(server::replicas::run(state.clone()));
    if state.store.local() {
        runtime.spawn(server::ledger::run(state.clone()));
    }
    if let Some(Age(retention)) = args.audit_retention {
        runtime.spawn(server::audit::retain(state.clone(), retention));
    }
    let state_for_exit = state.clone();
    runtime.block_on(server::serve(state, listener, timeouts, |addr| {
        printer.notice(format!(
            "catalog serve: listening on http://{addr}/v1 (database {shown}{shown_redis})"
        ));
    }))?;
    // Settlements of the last answers land before the process goes.
    runtime.block_on(state_for_exit.gateway.settlements.quiesce());
    if let Err(e) = state_for_exit.store.flush_ledger() {
        printer.warn(format!("catalog serve: the admission journal stays beside the database until the next start: {e}"));
    }
    printer.status("catalog serve: stopped");
    Ok(())
}

/// One worker fewer than the CPUs, at least one: on a loopback benchmark of this
/// machine's two CPUs, one worker answered sooner and more often than two, which
/// competed with the kernel's network work and the database writes for the CPUs.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_nonsense() {
        assert_eq!("10s".parse(), Ok(Seconds(Duration::from_secs(10))));
        assert_eq!("250ms".parse(), Ok(Seconds(Duration::from_millis(250))));
        assert_eq!("2m".parse(), Ok(Seconds(Duration::from_secs(120))));
        assert_eq!("7".parse(), Ok(Seconds(Duration::from_secs(7))));
        for bad in ["", "0", "-1s", "1h", "ten", "2d", "99999m"] {
            assert!(bad.parse::<Seconds>().is_err(), "{bad}");
        }
    }

    #[test]
    fn backoffs_are_two_durations_in_order() {
        let b: BackoffArg = "250ms..2s".parse().unwrap();
        assert_eq!(b.0.first, Duration::from_millis(250));
        assert_eq!(b.0.max, Duration::from_secs(2));
        for bad in ["1s", "5m..1s", "..", "1s..", "x..1s"] {
            assert!(bad.parse::<BackoffArg>().is_err(), "{bad}");
        }
    }
}
