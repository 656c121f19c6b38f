//! Test harness: runs the real `catalog` binary against the embedded catalog (a temp
//! CATALOG_HOME) or against a real `catalog serve` on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_catalog");
pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef";
/// The provider key used throughout; it must never appear in any output or file.
pub const PROVIDER_KEY: &str = "sk-test-PROVIDERKEY-4f9a8b7c6d5e4f3a2b1c";
/// The master key of catalogs on PostgreSQL in tests (base64 of 32 bytes).
pub const REPLICA_MASTER_KEY: &str = "cmVwbGljYS1tYXN0ZXIta2V5LTAxMjM0NTY3ODlhYmM=";
pub const ROTATED_KEY: &str = "sk-test-ROTATEDKEY-0a1b2c3d4e5f6a7b8c9d";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Embedded,
    Served,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A `catalog serve` child process whose stderr (the request log) is collected.
pub struct Server {
    child: Child,
    pub url: String,
    pub db: PathBuf,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(home: &Path, db: &Path) -> Server {
        Self::start_with(home, db, &[])
    }

    /// `catalog serve` on the file `db`; with `CATALOG_TEST_POSTGRES` set, on a new
    /// PostgreSQL database instead (the contract suites run on both engines this way),
    /// and with `CATALOG_TEST_REDIS` set too, with its admission counters in Redis.
    pub fn start_with(home: &Path, db: &Path, extra_env: &[(&str, &str)]) -> Server {
        if std::env::var_os("CATALOG_TEST_POSTGRES").is_some() {
            if let Some(pg) = crate::servers::postgres() {
                let mut env = extra_env.to_vec();
                let redis = std::env::var_os("CATALOG_TEST_REDIS")
                    .and_then(|_| crate::servers::shared_redis())
                    .map(crate::servers::Redis::url);
                if let Some(url) = &redis {
                    env.push(("CATALOG_REDIS_URL", url));
                }
                return Self::start_on_postgres(home, &pg.create_database(), &env);
            }
        }
        Self::start_on(home, &["--db", db.to_str().unwrap()], db, extra_env)
    }

    /// A replica on the PostgreSQL database at `url`, with the master key all replicas of
    /// a test share.
    pub fn start_on_postgres(home: &Path, url: &str, extra_env: &[(&str, &str)]) -> Server {
        let mut env = vec![("CATALOG_MASTER_KEY", REPLICA_MASTER_KEY)];
        env.extend_from_slice(extra_env);
        Self::start_on(home, &["--database-url", url], Path::new(""), &env)
    }

    /// `catalog serve` with these storage arguments (`--db PATH`, `--database-url URL`).
    pub fn start_on(
        home: &Path,
        storage: &[&str],
        db: &Path,
        extra_env: &[(&str, &str)],
    ) -> Server {
        let mut cmd = base_command(home);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .args(storage)
            .env("CATALOG_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start catalog serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or("").to_owned();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url);
                    }
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("catalog serve did not start:\n{}", log.lock().unwrap()));
        Server {
            child,
            url,
            db: db.to_path_buf(),
            log,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Stops with SIGTERM (graceful) and waits.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(50));
        self.log()
    }

    /// Sends SIGTERM and returns how long the server took to exit, if it did within `limit`.
    pub fn terminate_within(mut self, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        while started.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The `host:port` the server listens on.
    pub fn addr(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches("/v1")
            .to_owned()
    }

    /// Kills with SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base_command(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    hermetic(&mut cmd, home);
    cmd
}

/// The harness environment: a temp HOME/XDG/CATALOG_HOME, no prompts, no colour.
fn hermetic(cmd: &mut Command, home: &Path) {
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("xdg-config"))
        .env("XDG_DATA_HOME", home.join("xdg-data"))
        .env("XDG_RUNTIME_DIR", home.join("xdg-runtime"))
        .env("CATALOG_HOME", home.join("catalog"))
        .env("NO_COLOR", "1")
        .env("CATALOG_NO_INPUT", "1")
        .env("COLUMNS", "200")
        .stdin(Stdio::null());
}

/// One test's world: a temp home, the mode, and every output seen (for secret checks).
pub struct World {
    pub home: TempDir,
    pub mode: Mode,
    pub server: Option<Server>,
    pub seen: Mutex<String>,
    pub extra_env: Vec<(String, String)>,
}

impl World {
    pub fn new(mode: Mode) -> World {
        let home = tempfile::tempdir().unwrap();
        let server = match mode {
            Mode::Embedded => None,
            Mode::Served => Some(Server::start(
                home.path(),
                &home.path().join("server/catalog.db"),
            )),
        };
        World {
            home,
            mode,
            server,
            seen: Mutex::new(String::new()),
            extra_env: vec![
                ("PROVIDER_KEY".into(), PROVIDER_KEY.into()),
                ("ROTATED_KEY".into(), ROTATED_KEY.into()),
            ],
        }
    }

    /// A served world on an existing home and database file (after a restart).
    pub fn served_on(home: TempDir, db: &Path) -> World {
        let server = Server::start(home.path(), db);
        World {
            home,
            mode: Mode::Served,
            server: Some(server),
            seen: Mutex::new(String::new()),
            extra_env: vec![("PROVIDER_KEY".into(), PROVIDER_KEY.into())],
        }
    }

    /// The database file the catalog under test uses.
    pub fn db(&self) -> PathBuf {
        match &self.server {
            Some(s) => s.db.clone(),
            None => self.home.path().join("catalog/catalog.db"),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = base_command(self.home.path());
        if let Some(s) = &self.server {
            cmd.env("CATALOG_BASE_URL", &s.url)
                .env("CATALOG_API_KEY", ADMIN_KEY);
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd.args(args);
        cmd
    }

    /// A `sh -c SCRIPT` in `dir` with the harness environment, `catalog` first on PATH.
    pub fn shell(&self, script: &str, dir: &Path) -> Command {
        let mut cmd = Command::new("sh");
        hermetic(&mut cmd, self.home.path());
        let bin_dir = Path::new(BIN).parent().unwrap();
        cmd.env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .current_dir(dir)
        .arg("-c")
        .arg(script);
        if let Some(s) = &self.server {
            cmd.env("CATALOG_BASE_URL", &s.url)
                .env("CATALOG_API_KEY", ADMIN_KEY);
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run_cmd(&self, mut cmd: Command) -> Output {
        let out = cmd.output().expect("run catalog");
        let output = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if let Ok(value) = serde_json::from_str::<Value>(&output.stdout) {
            assert_wire_numbers(&value, "stdout");
        }
        let mut seen = self.seen.lock().unwrap();
        seen.push_str(&output.stdout);
        seen.push_str(&output.stderr);
        output
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_cmd(self.command(args))
    }

    /// Runs and asserts success.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(out.code, 0, "catalog {args:?} failed: {out:?}");
        out
    }

    /// Runs with `-o json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        self.ok(&all).json()
    }

    /// Runs, expecting a failure with this exit code and a message containing `needle`.
    pub fn fails(&self, args: &[&str], code: i32, needle: &str) -> Output {
        let out = self.run(args);
        assert_eq!(out.code, code, "catalog {args:?}: wrong exit code: {out:?}");
        assert!(
            out.stderr.contains(needle),
            "catalog {args:?}: stderr lacks {needle:?}: {out:?}"
        );
        out
    }

    /// Everything printed so far, plus the server's request log.
    pub fn everything_seen(&self) -> String {
        let mut all = self.seen.lock().unwrap().clone();
        if let Some(s) = &self.server {
            all.push_str(&s.log());
        }
        all
    }
}

/// An embedded catalog with workspaces `eng` and `research` and the integration
/// `openai-prod` (no models chosen, nothing provisioned).
pub fn world_with_openai() -> World {
    let w = World::new(Mode::Embedded);
    for n in ["eng", "research"] {
        w.ok(&["workspaces", "create", n]);
    }
    w.ok(&[
        "integrations",
        "connect",
        "openai-prod",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
        "--skip-models",
    ]);
    w
}

/// Runs `f` once against the embedded catalog and once against `catalog serve`.
pub fn both(f: impl Fn(&World)) {
    for mode in [Mode::Embedded, Mode::Served] {
        let world = World::new(mode);
        f(&world);
    }
}

/// The bytes of a database file and its WAL, for secret checks.
pub fn database_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(b) = std::fs::read(PathBuf::from(p)) {
            bytes.extend(b);
        }
    }
    bytes
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A plain HTTP client for the served catalog, as an independent client sees it.
pub struct Api {
    pub http: reqwest::blocking::Client,
    pub base: String,
}

impl Api {
    pub fn new(w: &World) -> Api {
        Api {
            http: reqwest::blocking::Client::new(),
            base: w.server.as_ref().unwrap().url.clone(),
        }
    }

    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-portkey-api-key", ADMIN_KEY);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        let res = req.send().unwrap();
        let status = res.status().as_u16();
        let text = res.text().unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_wire_numbers(&value, &format!("{path} ->"));
        (status, value)
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(&body.to_string()))
    }

    pub fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(&body.to_string()))
    }

    pub fn delete(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(
            reqwest::Method::DELETE,
            path,
            body.map(|b| b.to_string()).as_deref(),
        )
    }
}

pub fn assert_error(got: (u16, Value), status: u16, code: &str, needle: &str) {
    assert_eq!(got.0, status, "{:?}", got.1);
    assert_eq!(got.1["success"], false, "{:?}", got.1);
    assert_eq!(got.1["data"]["errorCode"], code, "{:?}", got.1);
    let message = got.1["data"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

/// Every response and JSON output of the suite passes here: integral numbers are JSON
/// integers (Terraform decodes `credit_limit` as one and fails on `1000.0`), and "no
/// limits" is `null`, never `[]`.
pub fn assert_wire_numbers(value: &Value, at: &str) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap();
            assert!(f.fract() != 0.0, "{at} is written as a float: {n}");
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert_wire_numbers(item, &format!("{at}[{i}]"));
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                if k.ends_with("_limits") {
                    assert!(
                        v.as_array().is_none_or(|a| !a.is_empty()),
                        "{at}.{k} is [] where no limits must be null"
                    );
                }
                assert_wire_numbers(v, &format!("{at}.{k}"));
            }
        }
        _ => {}
    }
}
