//! Durability: restarts, `kill -9` right after a 2xx, and two processes writing the
//! same database file (the embedded CLI and a running `catalog serve`).

use std::sync::Arc;
use std::thread;

use crate::common::{Mode, Server, World, ADMIN_KEY};

#[test]
fn data_survives_restarts_and_kill_9() {
    let w = World::new(Mode::Served);
    let db = w.db();
    w.ok(&["workspaces", "create", "before-restart"]);
    w.ok(&[
        "integrations",
        "connect",
        "openai-prod",
        "--service",
        "openai",
        "--key-env",
        "PROVIDER_KEY",
    ]);
    let World { home, server, .. } = w;
    let log = server.unwrap().stop();
    assert!(
        log.contains("stopped"),
        "graceful shutdown on SIGTERM: {log}"
    );

    // Restarted on the same file: nothing lost, no new bootstrap key.
    let server = Server::start(home.path(), &db);
    assert!(!server
        .log()
        .contains("created the organisation admin API key"));
    let w = World {
        home,
        mode: Mode::Served,
        server: Some(server),
        seen: Default::default(),
        extra_env: vec![("PROVIDER_KEY".into(), crate::common::PROVIDER_KEY.into())],
    };
    let names = w.json(&["workspaces", "list"]);
    assert_eq!(names[0]["name"], "before-restart");
    assert_eq!(
        w.json(&["integrations", "get", "openai-prod"])["ai_provider_id"],
        "openai"
    );

    // kill -9 immediately after each 2xx: every acknowledged write is there afterwards.
    for i in 0..5 {
        w.ok(&["workspaces", "create", &format!("acked-{i}")]);
    }
    let World { home, server, .. } = w;
    server.unwrap().kill9();
    let w = World::served_on(home, &db);
    let all = w.json(&["workspaces", "list"]);
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "before-restart",
            "acked-0",
            "acked-1",
            "acked-2",
            "acked-3",
            "acked-4"
        ]
    );
    // The integration's secret still opens with the master key (an update re-seals it).
    w.ok(&[
        "integrations",
        "update",
        "openai-prod",
        "--config",
        "openai_project=p1",
    ]);
}

#[test]
fn embedded_cli_and_server_write_the_same_file() {
    let w = Arc::new(World::new(Mode::Embedded));
    // The embedded catalog creates the file and its master key first.
    w.ok(&["workspaces", "create", "seed"]);
    let server = Server::start(w.home.path(), &w.db());
    let url = server.url.clone();
    const EACH: usize = 15;
    let embedded = {
        let w = w.clone();
        thread::spawn(move || {
            for i in 0..EACH {
                w.ok(&["workspaces", "create", &format!("embedded-{i}")]);
            }
        })
    };
    let served = {
        let w = w.clone();
        thread::spawn(move || {
            for i in 0..EACH {
                let mut cmd = w.command(&["workspaces", "create", &format!("served-{i}")]);
                cmd.env("CATALOG_BASE_URL", &url)
                    .env("CATALOG_API_KEY", ADMIN_KEY);
                let out = w.run_cmd(cmd);
                assert_eq!(out.code, 0, "{out:?}");
            }
        })
    };
    embedded.join().unwrap();
    served.join().unwrap();
    let all = w.json(&["workspaces", "list"]);
    assert_eq!(
        all.as_array().unwrap().len(),
        1 + 2 * EACH,
        "no write was lost"
    );
    let integrity = std::process::Command::new("sqlite3")
        .arg(w.db())
        .arg("PRAGMA integrity_check;")
        .output();
    if let Ok(out) = integrity {
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
        }
    }
    drop(server);
}
