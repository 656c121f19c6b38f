//! Reads never wait for writers, and requests blocked on the database never stall the
//! rest of the server.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{Api, Mode, World};
use serde_json::json;

#[test]
fn reads_answer_while_another_process_holds_the_write_lock() {
    let w = World::new(Mode::Served);
    let api = Api::new(&w);
    for i in 0..3 {
        assert_eq!(
            api.post("/admin/workspaces", json!({"name": format!("ws {i}")}))
                .0,
            200
        );
    }
    // Another process (here: this test, through its own connection) holds a write
    // transaction open, as the embedded CLI does while it writes.
    let db = w.db();
    let held = Arc::new(Barrier::new(2));
    let holder = {
        let held = held.clone();
        thread::spawn(move || {
            let conn = rusqlite::Connection::open(db).unwrap();
            conn.execute_batch(
                "BEGIN IMMEDIATE; UPDATE meta SET value = value WHERE key = 'organisation_id';",
            )
            .unwrap();
            held.wait();
            thread::sleep(Duration::from_secs(2));
            conn.execute_batch("COMMIT").unwrap();
            Instant::now()
        })
    };
    held.wait();
    // Writers queue behind the lock (four of them: more than the server's async workers).
    let writers: Vec<_> = (0..4)
        .map(|i| {
            let api = Api {
                http: reqwest::blocking::Client::new(),
                base: api.base.clone(),
            };
            thread::spawn(move || {
                let (s, _) = api.post("/admin/workspaces", json!({"name": format!("late {i}")}));
                (s, Instant::now())
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(100));
    // Reads of every kind answer meanwhile.
    let mut answered = Vec::new();
    for path in [
        "/admin/workspaces",
        "/whoami",
        "/integrations",
        "/api-keys",
        "/organisation/settings",
    ] {
        let (s, body) = api.get(path);
        assert_eq!(s, 200, "{path}: {body}");
        answered.push(Instant::now());
    }
    let released = holder.join().unwrap();
    for at in &answered {
        assert!(*at < released, "a read waited for the writer");
    }
    for h in writers {
        let (s, done) = h.join().unwrap();
        assert_eq!(
            s, 200,
            "the queued write went through after the lock was released"
        );
        assert!(done >= released);
    }
    assert_eq!(api.get("/admin/workspaces").1["total"], 7);
}
