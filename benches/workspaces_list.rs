//! Wall-time figures for the real binary: `catalog --version`, and
//! `catalog workspaces list -o json` over 1,000 workspaces, embedded and over loopback.
//! Run with `cargo bench --bench workspaces_list`; it prints figures, it asserts nothing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_catalog");
const ADMIN_KEY: &str = "bench-admin-key-0123456789abcdef";
const WORKSPACES: usize = 1_000;

fn command(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("HOME", home)
        .env("CATALOG_HOME", home)
        .env("CATALOG_NO_INPUT", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn time(runs: usize, mut make: impl FnMut() -> Command) -> (Duration, Duration) {
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let status = make().status().expect("run catalog");
            assert!(status.success());
            start.elapsed()
        })
        .collect();
    samples.sort();
    (samples[0], samples[samples.len() / 2])
}

fn report(what: &str, (min, median): (Duration, Duration)) {
    println!(
        "{what:<58} median {:>8.2} ms   min {:>8.2} ms",
        median.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3
    );
}

fn main() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("catalog.db");
    let mut server = Command::new(BIN)
        .env_clear()
        .env("CATALOG_HOME", home.path())
        .env("CATALOG_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(server.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let url = loop {
        let line = lines.next().expect("server output").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));

    let http = reqwest::blocking::Client::new();
    let seed = Instant::now();
    for i in 0..WORKSPACES {
        let res = http
            .post(format!("{url}/admin/workspaces"))
            .header("x-portkey-api-key", ADMIN_KEY)
            .json(&serde_json::json!({"name": format!("team-{i:04}"), "description": "benchmark workspace"}))
            .send()
            .unwrap();
        assert!(res.status().is_success());
    }
    let seeded = seed.elapsed();
    println!(
        "seeded {WORKSPACES} workspaces over loopback in {:.0} ms ({:.2} ms per create)",
        seeded.as_secs_f64() * 1e3,
        seeded.as_secs_f64() * 1e3 / WORKSPACES as f64
    );

    report(
        "catalog --version",
        time(50, || {
            let mut c = command(home.path());
            c.arg("--version");
            c
        }),
    );
    report(
        "catalog workspaces list -o json (embedded, 1,000)",
        time(15, || {
            let mut c = command(home.path());
            c.args(["workspaces", "list", "-o", "json"]);
            c
        }),
    );
    report(
        "catalog workspaces list -o json (loopback serve, 1,000)",
        time(15, || {
            let mut c = command(home.path());
            c.args(["workspaces", "list", "-o", "json"])
                .env("CATALOG_BASE_URL", &url)
                .env("CATALOG_API_KEY", ADMIN_KEY);
            c
        }),
    );
    let _ = server.kill();
    let _ = server.wait();
}
