//! The edges of `catalog serve`: stalled and idle clients, shutdown, oversized and
//! malformed requests, a busy port.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::{assert_error, Api, Mode, Server, World, ADMIN_KEY};
use serde_json::{json, Value};

/// Reads until the server closes the connection; `None` if it is still open after `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&got).into_owned())
            }
            Err(_) => return None,
        }
    }
}

fn served(env: &[(&str, &str)]) -> (tempfile::TempDir, Server) {
    let home = tempfile::tempdir().unwrap();
    let server = Server::start_with(home.path(), &home.path().join("catalog.db"), env);
    (home, server)
}

#[test]
fn stalled_and_idle_connections_are_closed() {
    let (_home, server) = served(&[
        ("CATALOG_HEADER_TIMEOUT", "1s"),
        ("CATALOG_IDLE_TIMEOUT", "2s"),
        // More workers than the default: connections spread over several threads.
        ("CATALOG_WORKERS", "3"),
    ]);
    let mut stalled: Vec<TcpStream> = (0..40)
        .map(|i| {
            let mut s = TcpStream::connect(server.addr()).unwrap();
            if i % 2 == 0 {
                // Half a request: headers that never end.
                s.write_all(b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nx-portkey-api-key: ")
                    .unwrap();
            }
            s
        })
        .collect();
    for s in &mut stalled {
        assert!(
            closed_within(s, Duration::from_secs(15)).is_some(),
            "a stalled connection was left open"
        );
    }
    // A request whose body stops arriving is cut as well.
    let mut slow_body = TcpStream::connect(server.addr()).unwrap();
    write!(
        slow_body,
        "POST /v1/admin/workspaces HTTP/1.1\r\nHost: x\r\nx-portkey-api-key: {ADMIN_KEY}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"na"
    )
    .unwrap();
    let answered = closed_within(&mut slow_body, Duration::from_secs(15))
        .expect("a stalled body was left open");
    assert!(!answered.starts_with("HTTP/1.1 2"), "{answered}");
    // A kept-alive connection that goes quiet after a request is closed too.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    write!(
        s,
        "GET /v1/whoami HTTP/1.1\r\nHost: x\r\nx-portkey-api-key: {ADMIN_KEY}\r\n\r\n"
    )
    .unwrap();
    let answered = closed_within(&mut s, Duration::from_secs(15)).expect("idle connection closed");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    // The server still serves.
    let api = Api {
        http: reqwest::blocking::Client::new(),
        base: server.url.clone(),
    };
    assert_eq!(api.get("/whoami").0, 200);
}

#[test]
fn shutdown_drains_for_a_bounded_time_despite_half_sent_requests() {
    let (_home, server) = served(&[
        ("CATALOG_HEADER_TIMEOUT", "60s"),
        ("CATALOG_SHUTDOWN_TIMEOUT", "1s"),
    ]);
    let _half: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr()).unwrap();
            s.write_all(b"POST /v1/admin/workspaces HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let took = server.terminate_within(Duration::from_secs(20));
    let took = took.expect("catalog serve did not exit on SIGTERM");
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
}

#[test]
fn oversized_malformed_and_misrouted_requests_get_json_errors() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let big = json!({"name": "x", "description": "d".repeat(3 * 1024 * 1024)});
    // On its own client: the server closes a connection whose body it did not read, and
    // a pooled client could otherwise reuse that connection for the next request.
    let once = Api {
        http: reqwest::blocking::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
        base: api.base.clone(),
    };
    assert_error(
        once.post("/admin/workspaces", big),
        413,
        "AB01",
        "larger than",
    );
    assert_error(api.get("/integrations/%FF"), 400, "AB01", "path");
    assert_error(
        api.call(reqwest::Method::POST, "/admin/workspaces", Some(" \n\t ")),
        400,
        "AB01",
        "blank",
    );
    let res = api
        .http
        .patch(format!("{}/integrations", api.base))
        .header("x-portkey-api-key", ADMIN_KEY)
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    let allow = res
        .headers()
        .get("allow")
        .expect("405 carries Allow")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let body: Value = res.json().expect("405 has a JSON body");
    assert_eq!(body["success"], false);
    assert_eq!(
        api.get("/admin/workspaces").1["total"],
        0,
        "nothing was created"
    );
}

#[test]
fn a_busy_port_creates_nothing_and_prints_no_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("fresh/catalog.db");
    let out = std::process::Command::new(crate::common::BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("CATALOG_HOME", home.path().join("catalog"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("cannot listen"), "{stderr}");
    assert!(!stderr.contains("admin API key"), "{stderr}");
    assert!(!db.exists(), "no database was created");
    assert!(!db.with_extension("key").exists());
}

#[test]
fn a_write_that_refers_to_a_deleted_workspace_is_not_found() {
    use catalog::store::{sqlite::SqliteStore, ApiKeyRecord, Store, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.db")).unwrap();
    let record = ApiKeyRecord {
        public: catalog::api::api_key::ApiKey {
            id: "k1".into(),
            workspace_id: Some("a-workspace-deleted-meanwhile".into()),
            kind: Some("workspace-service".into()),
            ..Default::default()
        },
        key_hash: "h".into(),
    };
    let mut tx = store.begin().unwrap();
    match tx.insert_api_key(&record) {
        Err(StoreError::NotFound(m)) => assert!(m.contains("deleted meanwhile"), "{m}"),
        other => panic!("expected not found, got {other:?}"),
    }
}

/// A misspelt filter is refused naming it and what the route reads, instead of being
/// ignored (which would list everything); the SDK's paging spellings are read.
#[test]
fn unknown_query_parameters_are_refused_naming_them() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    let (status, body) = api.get("/admin/workspaces?naem=eng");
    assert_eq!(status, 400, "{body}");
    let message = body["data"]["message"].as_str().unwrap();
    assert!(
        message.contains("`naem`") && message.contains("`name`"),
        "{message}"
    );
    let (status, body) = api.get("/admin/workspaces?currentPage=0&pageSize=5&name=e");
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.get("/usage?foo=1");
    assert_eq!(status, 400, "{body}");
}

#[test]
fn a_bad_worker_count_is_refused_naming_the_flag() {
    for bad in ["0", "many", "-1"] {
        let stderr = crate::alerts::serve_refused(&["--workers", bad], &[]);
        assert!(stderr.contains("--workers"), "{stderr}");
    }
    let stderr = crate::alerts::serve_refused(&[], &[("CATALOG_WORKERS", "0")]);
    assert!(stderr.contains("--workers"), "{stderr}");
}
