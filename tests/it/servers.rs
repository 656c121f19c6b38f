//! Real PostgreSQL and Redis servers, started by the tests themselves on free loopback
//! ports, for the backends that talk to them.
//!
//! One PostgreSQL serves the whole test run ([`postgres`]): it starts on first use and
//! each test takes a database of its own ([`Postgres::create_database`]). Redis is one
//! server per test ([`Redis::start`]), since tests stop and restart it.
//!
//! When a server's binaries are not installed, the test is skipped with a line on stderr
//! (`cargo test --test it -- --nocapture` shows it), except under `CI`, where it fails:
//! `.ci/run` installs them.
//!
//! ```ignore
//! let Some(pg) = servers::postgres() else { return };
//! let url = pg.create_database();
//! ```
//!
//! PostgreSQL refuses to run as root. As root (CI, containers), `initdb` and `postgres`
//! run as the user `nobody` (`Command::uid`/`gid`, set between fork and exec), in a
//! temporary directory given to that user.
//!
//! No server outlives the test process. The servers are spawned from one thread that
//! lives as long as the process, with `PR_SET_PDEATHSIG`: when the process ends, however
//! it ends (even SIGKILL), the kernel signals them (PostgreSQL gets SIGQUIT, its immediate
//! shutdown). The signal follows the thread that forked, hence the long-lived spawning
//! thread rather than the test threads, which end with their test. The shared PostgreSQL
//! is also stopped and its directory removed by an `atexit` handler when the test binary
//! exits normally (statics are never dropped); after a kill, only its temporary
//! directory is left behind.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How often a starting server is asked whether it is ready.
const POLL: Duration = Duration::from_millis(25);
/// How long a server may take to become ready before the test fails.
const STARTUP: Duration = Duration::from_secs(60);

/// The PostgreSQL shared by the whole test run, started on first use; `None` (the test
/// is skipped) when PostgreSQL is not installed, a panic under `CI`.
pub fn postgres() -> Option<&'static Postgres> {
    let shared = SHARED_POSTGRES.get_or_init(|| {
        let pg = Postgres::launch()?;
        // SAFETY: `stop_shared_postgres` is a plain `extern "C" fn` that does not unwind.
        unsafe { libc::atexit(stop_shared_postgres) };
        Ok(pg)
    });
    match shared {
        Ok(pg) => Some(pg),
        Err(why) => skip(why),
    }
}

/// A fresh Redis for one test; `None` (the test is skipped) when Redis is not installed,
/// a panic under `CI`.
pub fn redis() -> Option<Redis> {
    Redis::start()
}

static SHARED_REDIS: OnceLock<Option<Redis>> = OnceLock::new();

/// The Redis shared by the whole test run, started on first use (each catalog keeps its
/// own keys in it); `None` as for [`redis`]. It dies with the test process.
pub fn shared_redis() -> Option<&'static Redis> {
    SHARED_REDIS.get_or_init(Redis::start).as_ref()
}

static SHARED_POSTGRES: OnceLock<Result<Postgres, String>> = OnceLock::new();

extern "C" fn stop_shared_postgres() {
    if let Some(Ok(pg)) = SHARED_POSTGRES.get() {
        // Never unwind out of an atexit handler.
        let _ = std::panic::catch_unwind(|| pg.stop());
    }
}

/// The role of the test PostgreSQL that must authenticate with a password.
pub const SECURED_ROLE: &str = "secured";

/// A PostgreSQL server on a free loopback port: user `catalog`, trust authentication,
/// data in a temporary directory. Dropping it stops the server and removes the directory.
pub struct Postgres {
    bin: PathBuf,
    port: u16,
    dir: Mutex<Option<TempDir>>,
    child: Mutex<Option<Child>>,
    databases: AtomicUsize,
}

impl Postgres {
    /// A server of its own; most tests want the shared one, [`postgres`].
    pub fn start() -> Option<Postgres> {
        match Postgres::launch() {
            Ok(pg) => Some(pg),
            Err(why) => skip(&why),
        }
    }

    /// A server of its own that takes TCP connections over TLS only, with a certificate
    /// for `localhost` signed by the root certificate at the path returned (PEM).
    pub fn start_tls() -> Option<(Postgres, PathBuf)> {
        Postgres::start_tls_with(|dir| certificates(dir, "data/server.key", "data/server.crt"))
    }

    /// [`Postgres::start_tls`] with the certificate PostgreSQL's documentation makes: one
    /// that signs itself (a CA too), naming `localhost` in its common name only. The
    /// root file given back is that certificate.
    pub fn start_tls_self_signed() -> Option<(Postgres, PathBuf)> {
        Postgres::start_tls_with(|dir| {
            let mut openssl = as_unprivileged(Command::new("openssl"), dir);
            openssl
                .args(["req", "-new", "-x509", "-days", "2", "-nodes"])
                .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
                .args(["-keyout", "data/server.key", "-out", "data/server.crt"])
                .args(["-subj", "/CN=localhost"])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"]);
            run(&mut openssl);
            let key = dir.join("data/server.key");
            std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
            dir.join("data/server.crt")
        })
    }

    /// A server that takes TCP connections over TLS only, its key and certificate made
    /// by `certify` (given the server's directory; it answers the root file).
    fn start_tls_with(certify: impl FnOnce(&Path) -> PathBuf) -> Option<(Postgres, PathBuf)> {
        if find_on_path("openssl").is_none() {
            return skip(NO_OPENSSL);
        }
        let mut root = PathBuf::new();
        let launched = Postgres::launch_with(|dir, data| {
            root = certify(dir);
            let conf = data.join("postgresql.conf");
            let mut text = std::fs::read_to_string(&conf).unwrap();
            text.push_str("\nssl = on\n");
            std::fs::write(&conf, text).unwrap();
            // TCP without TLS is refused before any other line can let it in.
            let hba = data.join("pg_hba.conf");
            let lines = std::fs::read_to_string(&hba).unwrap();
            std::fs::write(
                &hba,
                format!("hostnossl all all 127.0.0.1/32 reject\n{lines}"),
            )
            .unwrap();
        });
        match launched {
            Ok(pg) => Some((pg, root)),
            Err(why) => skip(&why),
        }
    }

    /// `Err` only when PostgreSQL is not installed; any other failure panics.
    fn launch() -> Result<Postgres, String> {
        Postgres::launch_with(|_, _| {})
    }

    /// [`Postgres::launch`], `prepare` given the server's directory and its data directory
    /// once `initdb` made it.
    fn launch_with(prepare: impl FnOnce(&Path, &Path)) -> Result<Postgres, String> {
        let bin = postgres_bin_dir().ok_or_else(|| {
            "PostgreSQL is not installed (no `initdb` and `postgres` on PATH \
             or in /usr/lib/postgresql/*/bin)"
                .to_owned()
        })?;
        let dir = server_dir("catalog-pg-");
        let data = dir.path().join("data");
        let mut initdb = as_unprivileged(Command::new(bin.join("initdb")), dir.path());
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "catalog", "--auth=trust", "-E", "UTF8"])
            // The collation of the database is bytewise, whatever the environment's
            // locale, so that the tests behave the same everywhere.
            .args(["--locale=C", "--no-sync"]);
        run(&mut initdb);
        // The role `secured` (made by the tests that need it) must give its password.
        let hba = data.join("pg_hba.conf");
        let trusted = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        std::fs::write(
            &hba,
            format!("host all {SECURED_ROLE} 127.0.0.1/32 scram-sha-256\n{trusted}"),
        )
        .expect("write pg_hba.conf");
        prepare(dir.path(), &data);

        for attempt in 1.. {
            let port = free_port();
            let log_path = dir.path().join("postgres.log");
            let child = spawn_tied(postgres_command(&bin, dir.path(), port), libc::SIGQUIT);
            let pg = Postgres {
                bin: bin.clone(),
                port,
                dir: Mutex::new(None),
                child: Mutex::new(Some(child)),
                databases: AtomicUsize::new(0),
            };
            match pg.wait_ready() {
                Ok(()) => {
                    *pg.dir.lock().unwrap() = Some(dir);
                    return Ok(pg);
                }
                // Another process took the port between `free_port` and the bind.
                Err(()) if attempt < 5 && port_was_taken(&log_path) => continue,
                Err(()) => panic!(
                    "PostgreSQL did not start on port {port}:\n{}",
                    read_log(&log_path)
                ),
            }
        }
        unreachable!()
    }

    /// Polls `pg_isready`; `Err` when the server exited first or never became ready
    /// (the server is stopped).
    fn wait_ready(&self) -> Result<(), ()> {
        let started = Instant::now();
        loop {
            {
                let mut child = self.child.lock().unwrap();
                let c = child.as_mut().expect("a running server");
                if c.try_wait().expect("try_wait").is_some() {
                    child.take();
                    return Err(());
                }
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "catalog", "-d", "postgres"])
                .status()
                .expect("run pg_isready");
            if ready.success() {
                return Ok(());
            }
            if started.elapsed() > STARTUP {
                self.stop();
                return Err(());
            }
            std::thread::sleep(POLL);
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://catalog@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a new, empty database with a name no other test uses, and returns its URL.
    pub fn create_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("test_{n}");
        let mut cmd = Command::new(self.bin.join("createdb"));
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "catalog",
        ])
        .arg(&name);
        run(&mut cmd);
        self.url(&name)
    }

    /// Runs `sql` with `psql` against the database at `url`; its unaligned, tuples-only
    /// output (`|` between columns), trimmed. Panics when a statement fails.
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ]);
        run(&mut cmd).trim().to_owned()
    }

    /// Stops the server at once (immediate shutdown) and removes its directory; idempotent.
    /// Stops the server, keeping its data: the database is down until [`Postgres::resume`].
    pub fn pause(&self) {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut child) = child {
            // SAFETY: signalling our own child, which has not been reaped yet.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            let _ = child.wait();
        }
    }

    /// Starts the paused server again on the same port and data.
    pub fn resume(&self) {
        let dir = (self.dir.lock().unwrap().as_ref())
            .expect("a paused server keeps its directory")
            .path()
            .to_path_buf();
        let child = spawn_tied(postgres_command(&self.bin, &dir, self.port), libc::SIGQUIT);
        *self.child.lock().unwrap() = Some(child);
        self.wait_ready().expect("PostgreSQL starts again");
    }

    fn stop(&self) {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut child) = child {
            // SAFETY: signalling our own child, which has not been reaped yet.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGQUIT) };
            let _ = child.wait();
        }
        drop(self.dir.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

/// `postgres` on `port`, its data and socket in `dir`, logging to `dir/postgres.log`.
fn postgres_command(bin: &Path, dir: &Path, port: u16) -> Command {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("postgres.log"))
        .expect("open postgres.log");
    let mut cmd = as_unprivileged(Command::new(bin.join("postgres")), dir);
    cmd.arg("-D")
        .arg(dir.join("data"))
        .arg("-k")
        .arg(dir)
        .args(["-p", &port.to_string(), "-h", "127.0.0.1"])
        // No fsync: a test never survives the machine crashing.
        .arg("-F")
        .args(["-c", "max_connections=200"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone log"))
        .stderr(log);
    cmd
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis server on a free loopback port that keeps nothing on disk. Dropping it kills it.
pub struct Redis {
    bin: PathBuf,
    port: u16,
    /// A second port that takes TLS connections only ([`Redis::start_tls`]).
    tls_port: Option<u16>,
    dir: TempDir,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Option<Redis> {
        Redis::start_with(false)
    }

    /// A server that also takes TLS connections, on [`Redis::tls_url`], with a certificate
    /// for `localhost` signed by the root certificate at the path returned (PEM).
    pub fn start_tls() -> Option<(Redis, PathBuf)> {
        if find_on_path("openssl").is_none() {
            return skip(NO_OPENSSL);
        }
        let redis = Redis::start_with(true)?;
        let root = redis.dir.path().join("root.pem");
        Some((redis, root))
    }

    fn start_with(tls: bool) -> Option<Redis> {
        let Some(bin) = find_on_path("redis-server") else {
            return skip("Redis is not installed (no `redis-server` on PATH)");
        };
        let dir = server_dir("catalog-redis-");
        if tls {
            certificates(dir.path(), "server.key", "server.crt");
        }
        let mut redis = Redis {
            bin,
            port: 0,
            tls_port: None,
            dir,
            child: None,
        };
        for attempt in 1.. {
            redis.port = free_port();
            redis.tls_port = tls.then(free_port);
            match redis.launch() {
                Ok(()) => return Some(redis),
                Err(log) if attempt < 5 && log.contains("Address already in use") => continue,
                Err(log) => panic!("Redis did not start on port {}:\n{log}", redis.port),
            }
        }
        unreachable!()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The URL of the TLS port, on `host`.
    pub fn tls_url(&self, host: &str) -> String {
        format!(
            "rediss://{host}:{}",
            self.tls_port.expect("a server with TLS")
        )
    }

    /// Kills the server (SIGKILL, as a crash would): everything it held is lost.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if it runs, and starts an empty one on the same port.
    pub fn restart(&mut self) {
        let _ = std::fs::remove_file(self.dir.path().join("dump.rdb"));
        self.restart_from_snapshot();
    }

    /// Writes a snapshot of what the server holds now (`SAVE`).
    pub fn snapshot(&self) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to Redis");
        let mut reply = [0u8; 5];
        stream.write_all(b"SAVE\r\n").unwrap();
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"+OK\r\n");
    }

    /// Stops the server if it runs, and starts one on the same port from the last
    /// snapshot (an older state than the one it stopped with).
    pub fn restart_from_snapshot(&mut self) {
        self.stop();
        let started = Instant::now();
        loop {
            match self.launch() {
                Ok(()) => return,
                // Someone else holds the port for now: wait for it.
                Err(log)
                    if log.contains("Address already in use") && started.elapsed() < STARTUP =>
                {
                    std::thread::sleep(POLL);
                }
                Err(log) => panic!("Redis did not restart on port {}:\n{log}", self.port),
            }
        }
    }

    /// Starts the server on `self.port` and waits for it to answer PING; `Err(log)` when
    /// it exits first.
    fn launch(&mut self) -> Result<(), String> {
        let log_path = self.dir.path().join("redis.log");
        let log = File::create(&log_path).expect("create redis.log");
        let mut cmd = Command::new(&self.bin);
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(self.tls_port.iter().flat_map(|p| {
                let (p, dir) = (p.to_string(), self.dir.path().display().to_string());
                [
                    "--tls-port".to_owned(),
                    p,
                    "--tls-cert-file".to_owned(),
                    format!("{dir}/server.crt"),
                    "--tls-key-file".to_owned(),
                    format!("{dir}/server.key"),
                    "--tls-ca-cert-file".to_owned(),
                    format!("{dir}/root.pem"),
                    "--tls-auth-clients".to_owned(),
                    "no".to_owned(),
                ]
            }))
            .arg("--dir")
            .arg(self.dir.path())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log);
        let mut child = spawn_tied(cmd, libc::SIGKILL);
        let started = Instant::now();
        loop {
            if child.try_wait().expect("try_wait").is_some() {
                return Err(read_log(&log_path));
            }
            if ping(self.port) {
                self.child = Some(child);
                return Ok(());
            }
            if started.elapsed() > STARTUP {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "not ready after {STARTUP:?}\n{}",
                    read_log(&log_path)
                ));
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

const NO_OPENSSL: &str = "openssl is not installed (it makes the test certificates)";

/// Makes, in `dir`, a root certificate (`root.pem`, whose path is returned) and a
/// certificate for `localhost` it signed, at `key` and `crt` (relative to `dir`, the key
/// readable by its owner only). Runs `openssl` as the server will run.
fn certificates(dir: &Path, key: &str, crt: &str) -> PathBuf {
    let new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    let words = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
    let openssl = |args: Vec<String>| {
        run(as_unprivileged(Command::new("openssl"), dir).args(args));
    };
    let mut root = words(&format!(
        "req -x509 {new_key} -days 2 -keyout root.key -out root.pem"
    ));
    root.extend(["-subj", "/CN=catalog test root"].map(str::to_owned));
    root.extend(words(
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign",
    ));
    openssl(root);
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(words(&format!(
        "req {new_key} -keyout {key} -out server.csr -subj /CN=localhost"
    )));
    openssl(words(&format!(
        "x509 -req -in server.csr -CA root.pem -CAkey root.key -CAcreateserial -days 2 -extfile san.ext -out {crt}"
    )));
    std::fs::set_permissions(dir.join(key), std::fs::Permissions::from_mode(0o600)).unwrap();
    dir.join("root.pem")
}

/// Whether a Redis answers PING on `port`.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

/// The test is skipped (a line on stderr) or, under `CI`, fails.
fn skip<T>(why: &str) -> Option<T> {
    let current = std::thread::current();
    let test = current.name().unwrap_or("test");
    if std::env::var_os("CI").is_some() {
        panic!("{why}; under CI this test must run (.ci/run installs it)");
    }
    eprintln!("skipped {test}: {why}");
    None
}

/// The directory holding `initdb`, `postgres`, `pg_isready`, `createdb` and `psql`:
/// the one on PATH, else the newest /usr/lib/postgresql/<version>/bin (Debian's layout,
/// where only the client wrappers are on PATH).
fn postgres_bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "postgres", "pg_isready", "createdb", "psql"]
            .iter()
            .all(|tool| is_executable(&dir.join(tool)))
    };
    if let Some(initdb) = find_on_path("initdb") {
        let dir = initdb.parent()?.to_path_buf();
        if complete(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| complete(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn find_on_path(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(tool))
        .find(|path| is_executable(path))
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The user and group `nobody`, which root runs PostgreSQL as.
fn nobody() -> (u32, u32) {
    // SAFETY: getpwnam returns null or a pointer to a static record, read at once.
    unsafe {
        let pw = libc::getpwnam(c"nobody".as_ptr());
        if pw.is_null() {
            (65534, 65534)
        } else {
            ((*pw).pw_uid, (*pw).pw_gid)
        }
    }
}

/// A temporary directory for a server. As root it belongs to `nobody` and is made where
/// `nobody` can reach it: the system temporary directory if every directory above it
/// lets others through, else /tmp.
fn server_dir(prefix: &str) -> TempDir {
    if !is_root() {
        return tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    }
    let base = std::env::temp_dir();
    let reachable = base.ancestors().all(|dir| {
        dir.metadata()
            .is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    });
    let base = if reachable {
        base
    } else {
        PathBuf::from("/tmp")
    };
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base)
        .unwrap();
    let (uid, gid) = nobody();
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown to nobody");
    dir
}

/// `cmd`, run as `nobody` when we are root (PostgreSQL refuses root), from `cwd`.
fn as_unprivileged(mut cmd: Command, cwd: &Path) -> Command {
    if is_root() {
        let (uid, gid) = nobody();
        cmd.uid(uid).gid(gid);
    }
    cmd.current_dir(cwd);
    cmd
}

/// Runs `cmd` to completion; its stdout, or a panic with its output when it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free loopback port")
        .port()
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log: {e})"))
}

fn port_was_taken(log: &Path) -> bool {
    read_log(log).contains("Address already in use")
}

/// Spawns `cmd` so that it gets `signal` when the test process ends (see the module
/// docs): from a thread that lives as long as the process, with `PR_SET_PDEATHSIG`.
fn spawn_tied(mut cmd: Command, signal: libc::c_int) -> Child {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, receive) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("server-spawner".into())
            // Never returns: the sender lives in a static.
            .spawn(move || {
                for (mut cmd, reply) in receive {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("start the server-spawner thread");
        jobs
    });
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
    // system calls (prctl, getppid).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The test process may have ended before the prctl.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::other("the test process has ended"));
            }
            Ok(())
        });
    }
    let (reply, result) = mpsc::channel();
    spawner.send((cmd, reply)).expect("server-spawner thread");
    result
        .recv()
        .expect("server-spawner thread")
        .unwrap_or_else(|e| panic!("spawn a server: {e}"))
}

#[test]
fn postgres_gives_each_test_a_database_of_its_own() {
    let Some(pg) = postgres() else { return };
    let a = pg.create_database();
    let b = pg.create_database();
    assert_ne!(a, b);
    assert!(a.starts_with(&format!("postgres://catalog@127.0.0.1:{}/", pg.port())));
    assert_eq!(pg.psql(&a, "select 1"), "1");
    pg.psql(&a, "create table t (x bigint); insert into t values (42)");
    assert_eq!(pg.psql(&a, "select x from t"), "42");
    assert_eq!(pg.psql(&b, "select to_regclass('t') is null"), "t");
    assert_eq!(pg.psql(&b, "select current_user"), "catalog");
    // The same shared server for every caller.
    assert_eq!(postgres().unwrap().port(), pg.port());
}

#[test]
fn a_postgres_of_its_own_is_gone_once_dropped() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.create_database();
    assert_eq!(pg.psql(&url, "show fsync"), "off");
    assert_eq!(pg.psql(&url, "show max_connections"), "200");
    let port = pg.port();
    let dir = pg.dir.lock().unwrap().as_ref().unwrap().path().to_owned();
    assert!(dir.join("data/PG_VERSION").is_file());
    drop(pg);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

#[test]
fn redis_stops_and_restarts_on_its_port() {
    let Some(mut redis) = redis() else { return };
    let port = redis.port();
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
            + String::from_utf8_lossy(&out.stderr).trim()
    };
    assert_eq!(cli(&["ping"]), "PONG");
    assert_eq!(cli(&["set", "k", "v"]), "OK");
    let url = redis.url();
    redis.stop();
    assert!(!ping(port));
    assert!(
        cli(&["ping"]).contains("Connection refused"),
        "{}",
        cli(&["ping"])
    );
    redis.restart();
    assert_eq!(redis.url(), url);
    assert_eq!(cli(&["ping"]), "PONG");
    // A restarted Redis is empty: nothing is saved.
    assert_eq!(cli(&["get", "k"]), "");
}
