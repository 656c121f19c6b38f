//! GET latency on `catalog serve` while another process holds the database's write lock
//! (as the embedded CLI does while it writes), against the same GETs with no writer.
//! Prints p50/p99; asserts nothing about them.

mod common;

use std::time::{Duration, Instant};

use reqwest::Method;

fn sample(http: &reqwest::blocking::Client, url: &str, until: Instant) -> Vec<Duration> {
    let mut out = Vec::new();
    while Instant::now() < until {
        let start = Instant::now();
        let res = http
            .get(url)
            .header("x-portkey-api-key", common::ADMIN_KEY)
            .send()
            .unwrap();
        assert!(res.status().is_success());
        let _ = res.bytes();
        out.push(start.elapsed());
    }
    out.sort();
    out
}

fn report(what: &str, samples: &[Duration]) {
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{what:<48} n={:<6} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        samples.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3
    );
}

fn main() {
    let home = tempfile::tempdir().unwrap();
    let (mut server, url) = common::serve(home.path());
    let http = reqwest::blocking::Client::new();
    for i in 0..200 {
        common::call(
            &http,
            Method::POST,
            &format!("{url}/admin/workspaces"),
            serde_json::json!({ "name": format!("team {i}") }),
        );
    }
    let list = format!("{url}/admin/workspaces?page_size=50");
    report(
        "GET /admin/workspaces, no writer",
        &sample(&http, &list, Instant::now() + Duration::from_secs(2)),
    );
    let conn = rusqlite::Connection::open(home.path().join("catalog.db")).unwrap();
    conn.execute_batch(
        "BEGIN IMMEDIATE; UPDATE meta SET value = value WHERE key = 'organisation_id';",
    )
    .unwrap();
    report(
        "GET /admin/workspaces, write lock held 2 s",
        &sample(&http, &list, Instant::now() + Duration::from_secs(2)),
    );
    conn.execute_batch("COMMIT").unwrap();
    let _ = server.kill();
    let _ = server.wait();
}
