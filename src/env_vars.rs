//! Every environment variable `catalog` reads, in one place. Only the settings step
//! reads them; the table below also feeds `--help` and the man page.

pub const CATALOG_PROFILE: &str = "CATALOG_PROFILE";
pub const CATALOG_BASE_URL: &str = "CATALOG_BASE_URL";
pub const CATALOG_API_KEY: &str = "CATALOG_API_KEY";
pub const CATALOG_WORKSPACE: &str = "CATALOG_WORKSPACE";
pub const CATALOG_OUTPUT: &str = "CATALOG_OUTPUT";
pub const CATALOG_YES: &str = "CATALOG_YES";
pub const CATALOG_NO_INPUT: &str = "CATALOG_NO_INPUT";
pub const CATALOG_QUIET: &str = "CATALOG_QUIET";
pub const CATALOG_VERBOSE: &str = "CATALOG_VERBOSE";
pub const CATALOG_COLOR: &str = "CATALOG_COLOR";
pub const CATALOG_HOME: &str = "CATALOG_HOME";
pub const CATALOG_MASTER_KEY: &str = "CATALOG_MASTER_KEY";
pub const CATALOG_MASTER_KEY_PREVIOUS: &str = "CATALOG_MASTER_KEY_PREVIOUS";
pub const CATALOG_BOOTSTRAP_ADMIN_KEY: &str = "CATALOG_BOOTSTRAP_ADMIN_KEY";
pub const CATALOG_LISTEN: &str = "CATALOG_LISTEN";
pub const CATALOG_DB: &str = "CATALOG_DB";
pub const CATALOG_DATABASE_URL: &str = "CATALOG_DATABASE_URL";
pub const CATALOG_REDIS_URL: &str = "CATALOG_REDIS_URL";
pub const CATALOG_REDIS_CA_FILE: &str = "CATALOG_REDIS_CA_FILE";
pub const CATALOG_MASTER_KEY_FILE: &str = "CATALOG_MASTER_KEY_FILE";
pub const CATALOG_AUDIT_RETENTION: &str = "CATALOG_AUDIT_RETENTION";
pub const CATALOG_HEADER_TIMEOUT: &str = "CATALOG_HEADER_TIMEOUT";
pub const CATALOG_IDLE_TIMEOUT: &str = "CATALOG_IDLE_TIMEOUT";
pub const CATALOG_SHUTDOWN_TIMEOUT: &str = "CATALOG_SHUTDOWN_TIMEOUT";
pub const CATALOG_WORKERS: &str = "CATALOG_WORKERS";
pub const CATALOG_TRUSTED_CUSTOM_HOSTS: &str = "CATALOG_TRUSTED_CUSTOM_HOSTS";
pub const CATALOG_ALERT_WEBHOOKS: &str = "CATALOG_ALERT_WEBHOOKS";
pub const CATALOG_ALERT_BACKOFF: &str = "CATALOG_ALERT_BACKOFF";
pub const PGPASSWORD: &str = "PGPASSWORD";
pub const PGPASSFILE: &str = "PGPASSFILE";
pub const PGSSLMODE: &str = "PGSSLMODE";
pub const PGSSLROOTCERT: &str = "PGSSLROOTCERT";
pub const NO_COLOR: &str = "NO_COLOR";
pub const CI: &str = "CI";
pub const COLUMNS: &str = "COLUMNS";
pub const CATALOG_COMPLETE: &str = "CATALOG_COMPLETE";

/// Name and meaning of each variable, for help text, the man page and the README.
pub const DOCUMENTED: &[(&str, &str)] = &[
    (CATALOG_PROFILE, "profile to use (as --profile)"),
    (
        CATALOG_BASE_URL,
        "Admin API base URL, e.g. http://127.0.0.1:8787/v1 (as --base-url)",
    ),
    (
        CATALOG_API_KEY,
        "API key; overrides any key stored for the profile",
    ),
    (
        CATALOG_WORKSPACE,
        "default workspace id, slug or name (as --workspace)",
    ),
    (CATALOG_OUTPUT, "table, json or yaml (as --output)"),
    (CATALOG_YES, "assume yes for confirmations (as --yes)"),
    (CATALOG_NO_INPUT, "never prompt (as --no-input)"),
    (CATALOG_QUIET, "silence status messages (as --quiet)"),
    (CATALOG_VERBOSE, "print requests and raw error bodies (as --verbose)"),
    (CATALOG_COLOR, "auto, always or never (as --color)"),
    (
        CATALOG_HOME,
        "directory for the config file and the embedded database (default: XDG dirs)",
    ),
    (
        CATALOG_MASTER_KEY,
        "base64 master key sealing provider secrets (servers; default: OS keyring or a 0600 key file)",
    ),
    (
        CATALOG_MASTER_KEY_PREVIOUS,
        "during a master-key rotation, the base64 key being replaced (servers whose key is in CATALOG_MASTER_KEY)",
    ),
    (
        CATALOG_BOOTSTRAP_ADMIN_KEY,
        "admin API key to install on a server's first start instead of a generated one",
    ),
    (CATALOG_LISTEN, "address for `catalog serve` (as --listen)"),
    (
        CATALOG_DB,
        "database file for `catalog serve` and `catalog admin` (as --db)",
    ),
    (
        CATALOG_DATABASE_URL,
        "`catalog serve`: the catalog on PostgreSQL, postgres://USER@HOST/DB, instead of a file (as --database-url)",
    ),
    (
        CATALOG_REDIS_URL,
        "`catalog serve` on PostgreSQL: Redis for the admission counters replicas share, redis://HOST:PORT or rediss:// over TLS (as --redis-url)",
    ),
    (
        CATALOG_REDIS_CA_FILE,
        "`catalog serve`: the root certificates (PEM) that signed the certificate of a rediss:// Redis, when no public root did (as --redis-ca-file)",
    ),
    (
        PGPASSWORD,
        "`catalog serve` and `catalog db copy` on PostgreSQL: the password when the URL gives none (as libpq reads it)",
    ),
    (
        PGPASSFILE,
        "`catalog serve` and `catalog db copy` on PostgreSQL: the password file read when neither the URL nor PGPASSWORD gives a password (default ~/.pgpass, as libpq reads it)",
    ),
    (
        PGSSLMODE,
        "`catalog serve` and `catalog db copy` on PostgreSQL: TLS when the URL has no sslmode: disable, prefer (default), require, verify-ca, verify-full (as libpq reads it)",
    ),
    (
        PGSSLROOTCERT,
        "`catalog serve` and `catalog db copy` on PostgreSQL: the root certificates (PEM file, or `system`) when the URL has no sslrootcert (as libpq reads it)",
    ),
    (
        CATALOG_MASTER_KEY_FILE,
        "`catalog serve`: a file holding the base64 master key (as --master-key-file; instead of CATALOG_MASTER_KEY)",
    ),
    (
        CATALOG_HEADER_TIMEOUT,
        "`catalog serve`: time a client has to send a request's headers (as --header-timeout)",
    ),
    (
        CATALOG_IDLE_TIMEOUT,
        "`catalog serve`: an idle connection is closed after this (as --idle-timeout)",
    ),
    (
        CATALOG_SHUTDOWN_TIMEOUT,
        "`catalog serve`: how long SIGTERM waits for in-flight requests (as --shutdown-timeout)",
    ),
    (
        CATALOG_WORKERS,
        "`catalog serve`: threads that answer requests (as --workers; default: one fewer than the CPUs, at least one)",
    ),
    (
        CATALOG_TRUSTED_CUSTOM_HOSTS,
        "gateway: private upstream hosts a `custom_host` may name, comma-separated HOST[:PORT] (as --trusted-custom-host)",
    ),
    (
        CATALOG_ALERT_WEBHOOKS,
        "`catalog serve`: URLs budget alerts are POSTed to, comma-separated (as --alert-webhook)",
    ),
    (
        CATALOG_ALERT_BACKOFF,
        "`catalog serve`: retries of a failed alert delivery, FIRST..MAX (as --alert-backoff; default 1s..5m)",
    ),
    (
        CATALOG_AUDIT_RETENTION,
        "`catalog serve`: delete audit records older than this, e.g. 365d (as --audit-retention; default: keep all)",
    ),
    (NO_COLOR, "disable colour"),
    (CI, "when set, never prompt"),
    (COLUMNS, "width tables and errors on a terminal fit in (default: the terminal's, else 80)"),
    (
        CATALOG_COMPLETE,
        "set by the shell scripts of `catalog completion` to ask for completions",
    ),
];

pub fn help_table() -> String {
    DOCUMENTED
        .iter()
        .map(|(name, what)| format!("  {name:<29} {what}"))
        .collect::<Vec<_>>()
        .join("\n")
}
