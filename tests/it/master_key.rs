//! The master key is created once per catalog, whoever races to need it first, and an
//! existing key or database is never replaced.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::thread;

use crate::common::{Api, Mode, Server, World, ADMIN_KEY};
use serde_json::{json, Value};

fn bedrock(name: &str, secret: &str) -> Value {
    json!({"name": name, "ai_provider_id": "bedrock", "configurations": {
        "aws_auth_type": "accessKey", "aws_region": "us-east-1",
        "aws_access_key_id": "AKIAEXAMPLEKEYID1", "aws_secret_access_key": secret}})
}

fn api(server: &Server) -> Api {
    Api {
        http: reqwest::blocking::Client::new(),
        base: server.url.clone(),
    }
}

/// Every integration's sealed secret opens: a partial configuration update needs it.
fn every_secret_opens(server: &Server) -> usize {
    let api = api(server);
    let (s, list) = api.get("/integrations?page_size=1000");
    assert_eq!(s, 200, "{list}");
    let all = list["data"].as_array().unwrap();
    for integration in all {
        let slug = integration["slug"].as_str().unwrap();
        let (s, body) = api.put(
            &format!("/integrations/{slug}"),
            json!({"configurations": {"aws_region": "eu-west-1"}}),
        );
        assert_eq!(s, 200, "integration {slug} cannot be opened: {body}");
    }
    all.len()
}

fn concurrent_creates(server: &Server, prefix: &str, n: usize) {
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, api, name) = (barrier.clone(), api(server), format!("{prefix}-{i}"));
            thread::spawn(move || {
                barrier.wait();
                api.post("/integrations", bedrock(&name, "race-secret-value-0123"))
            })
        })
        .collect();
    for h in handles {
        let (s, body) = h.join().unwrap();
        assert_eq!(s, 200, "{body}");
    }
}

#[test]
fn concurrent_first_writes_over_http_share_one_master_key() {
    for round in 0..20 {
        let home = tempfile::tempdir().unwrap();
        let db = home.path().join("server/catalog.db");
        let server = Server::start(home.path(), &db);
        concurrent_creates(&server, &format!("r{round}"), 8);
        server.stop();
        let server = Server::start(home.path(), &db);
        assert_eq!(every_secret_opens(&server), 8, "round {round}");
    }
}

#[test]
fn embedded_cli_and_server_racing_on_a_fresh_database_share_one_master_key() {
    for round in 0..5 {
        let w = World::new(Mode::Embedded);
        let db = w.db();
        assert!(!db.exists());
        // The embedded CLI writes secrets while `catalog serve` starts on the same new file.
        let cli: Vec<_> = (0..3)
            .map(|i| {
                let mut cmd = w.command(&[
                    "integrations",
                    "connect",
                    &format!("cli-{i}"),
                    "--service",
                    "openai",
                    "--key-env",
                    "PROVIDER_KEY",
                    "--skip-provisioning",
                    "--skip-models",
                ]);
                cmd.stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        let server = Server::start(w.home.path(), &db);
        concurrent_creates(&server, &format!("http{round}"), 4);
        for child in cli {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        server.stop();
        let server = Server::start(w.home.path(), &db);
        let api = api(&server);
        // The CLI's integrations hold an API key: rotating one needs the old one opened.
        for i in 0..3 {
            let (s, body) = api.put(
                &format!("/integrations/cli-{i}"),
                json!({"key": "sk-rotated-0123456789abcdef"}),
            );
            assert_eq!(s, 200, "round {round}: cli-{i}: {body}");
        }
        for i in 0..4 {
            let (s, body) = api.put(
                &format!("/integrations/http{round}-{i}"),
                json!({"configurations": {"aws_region": "eu-west-1"}}),
            );
            assert_eq!(s, 200, "round {round}: http{round}-{i}: {body}");
        }
    }
}

fn serve_output(home: &Path, db: &Path) -> std::process::Output {
    std::process::Command::new(crate::common::BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("CATALOG_HOME", home.join("catalog"))
        .env("CATALOG_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .output()
        .unwrap()
}

#[test]
fn an_empty_or_foreign_database_file_is_refused_and_the_key_file_kept() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("catalog.db");
    let key_file = home.path().join("catalog.key");
    std::fs::write(&db, b"").unwrap();
    std::fs::write(&key_file, b"the-existing-key-file").unwrap();
    let out = serve_output(home.path(), &db);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("empty file, not a catalog database"),
        "{stderr}"
    );
    assert!(!stderr.contains(ADMIN_KEY));
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "left untouched");
    assert_eq!(std::fs::read(&key_file).unwrap(), b"the-existing-key-file");

    let garbage = b"this is a text file, not SQLite at all, with enough bytes".repeat(20);
    std::fs::write(&db, &garbage).unwrap();
    let out = serve_output(home.path(), &db);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not a catalog database"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "left untouched");

    // A SQLite database of something else.
    std::fs::remove_file(&db).unwrap();
    let other = rusqlite::Connection::open(&db).unwrap();
    other
        .execute_batch("CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    drop(other);
    let before = std::fs::read(&db).unwrap();
    let out = serve_output(home.path(), &db);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not a catalog database"), "{stderr}");
    let other = rusqlite::Connection::open(&db).unwrap();
    let tables: i64 = other
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1, "nothing was added to a foreign database");
    drop(other);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "not even switched to WAL"
    );
}

#[test]
fn a_key_file_already_beside_a_new_catalog_is_adopted_not_replaced() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("server/catalog.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    // A key left by a first run that stopped after writing it.
    let key = catalog::crypto::MasterKey::generate().encode();
    let key_file = db.with_extension("key");
    std::fs::write(&key_file, &key).unwrap();
    let server = Server::start(home.path(), &db);
    concurrent_creates(&server, "adopt", 2);
    server.stop();
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    let server = Server::start(home.path(), &db);
    assert_eq!(every_secret_opens(&server), 2);
}

#[test]
fn a_server_whose_key_file_is_wrong_refuses_to_start() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("server/catalog.db");
    let server = Server::start(home.path(), &db);
    concurrent_creates(&server, "k", 1);
    server.stop();
    let key_file = db.with_extension("key");
    std::fs::write(&key_file, catalog::crypto::MasterKey::generate().encode()).unwrap();
    let out = serve_output(home.path(), &db);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("master key"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
}
