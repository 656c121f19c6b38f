//! Wall-time figures for the real binary: `catalog --version`, and
//! `catalog workspaces list -o json` over 1,000 workspaces, embedded and over loopback.
//! Run with `cargo bench --bench workspaces_list`; it prints figures, it asserts nothing.

mod common;

use std::time::Instant;

use common::{call, command, report, serve, time, ADMIN_KEY};

const WORKSPACES: usize = 1_000;

fn main() {
    let home = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(home.path());
    let http = reqwest::blocking::Client::new();
    let seed = Instant::now();
    for i in 0..WORKSPACES {
        call(
            &http,
            reqwest::Method::POST,
            &format!("{url}/admin/workspaces"),
            serde_json::json!({"name": format!("team-{i:04}"), "description": "benchmark workspace"}),
        );
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
