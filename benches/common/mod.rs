//! Shared by the benchmarks: a `catalog serve` on loopback and wall-time sampling of
//! the real binary. Figures are printed; nothing is asserted about them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_catalog");
pub const ADMIN_KEY: &str = "bench-admin-key-0123456789abcdef";

/// A command with a clean environment whose embedded catalog is `home`.
pub fn command(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("HOME", home)
        .env("CATALOG_HOME", home)
        .env("CATALOG_NO_INPUT", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Starts `catalog serve` on a free loopback port over `home`'s database; returns it and its URL.
pub fn serve(home: &Path) -> (Child, String) {
    let mut server = Command::new(BIN)
        .env_clear()
        .env("CATALOG_HOME", home)
        .env("CATALOG_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(home.join("catalog.db"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server output").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (server, url)
}

/// An admin HTTP call to the served catalog; panics unless it succeeds.
pub fn call(
    http: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
    body: serde_json::Value,
) {
    let res = http
        .request(method, url)
        .header("x-portkey-api-key", ADMIN_KEY)
        .json(&body)
        .send()
        .unwrap();
    assert!(
        res.status().is_success(),
        "{url}: {}",
        res.text().unwrap_or_default()
    );
}

/// Runs `make()` `runs` times; returns (min, median).
pub fn time(runs: usize, mut make: impl FnMut() -> Command) -> (Duration, Duration) {
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

pub fn report(what: &str, (min, median): (Duration, Duration)) {
    println!(
        "{what:<62} median {:>8.2} ms   min {:>8.2} ms",
        median.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3
    );
}
