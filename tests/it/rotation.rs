//! Master-key rotation (`catalog admin rotate-master-key`) on a real database file while a
//! real `catalog serve` keeps reading, writing and calling upstreams; interrupted with
//! `kill -9` and resumed; and the new keys it refuses.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use catalog::crypto::MasterKey;
use serde_json::{json, Value};

use crate::common::{contains, database_bytes, Api, Mode, Output, Server, World, ADMIN_KEY};
use crate::upstream::Upstream;

fn api(server: &Server) -> Api {
    Api {
        http: reqwest::blocking::Client::new(),
        base: server.url.clone(),
    }
}

/// An embedded-mode world (admin commands act on its database file directly) whose
/// database a `catalog serve` shares.
struct Catalog {
    w: World,
    db: PathBuf,
}

impl Catalog {
    fn new() -> Catalog {
        let w = World::new(Mode::Embedded);
        let db = w.home.path().join("server/catalog.db");
        Catalog { w, db }
    }

    fn serve(&self, env: &[(&str, &str)]) -> Server {
        Server::start_with(self.w.home.path(), &self.db, env)
    }

    fn key_file(&self) -> PathBuf {
        self.db.with_extension("key")
    }

    /// `catalog admin ARGS --db DB` with `env` added.
    fn admin(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut all = vec!["admin"];
        all.extend_from_slice(args);
        let mut cmd = self.w.command(&all);
        cmd.arg("--db").arg(&self.db);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.w.run_cmd(cmd)
    }

    /// A command against the running server.
    fn served(&self, server: &Server, args: &[&str]) -> Output {
        let mut cmd = self.w.command(args);
        cmd.env("CATALOG_BASE_URL", &server.url)
            .env("CATALOG_API_KEY", ADMIN_KEY);
        let out = self.w.run_cmd(cmd);
        assert_eq!(out.code, 0, "catalog {args:?}: {out:?}");
        out
    }

    fn status(&self) -> Value {
        let out = self.admin(&["master-key", "status", "-o", "json"], &[]);
        assert_eq!(out.code, 0, "{out:?}");
        out.json()
    }
}

fn new_key() -> String {
    MasterKey::generate().encode()
}

fn fingerprint(key: &str) -> String {
    MasterKey::decode(key).unwrap().check_value()
}

/// Sealed secrets under `fp` according to a status.
fn sealed_under(status: &Value, fp: &str) -> u64 {
    status["sealed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["key"] == fp)
        .map(|s| s["secrets"].as_u64().unwrap())
        .sum()
}

/// Creates `n` OpenAI integrations `{prefix}-{i}` over HTTP, four at a time.
fn create_integrations(server: &Server, prefix: &str, n: usize, host: Option<&str>) {
    let next = Arc::new(Mutex::new(0usize));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (api, next, prefix) = (api(server), next.clone(), prefix.to_owned());
            let host = host.map(str::to_owned);
            thread::spawn(move || loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                if i >= n {
                    return;
                }
                let mut body = json!({"name": format!("{prefix}-{i}"), "slug": format!("{prefix}-{i}"),
                    "ai_provider_id": "openai", "key": format!("sk-seeded-{prefix}-{i}-0123456789")});
                if let Some(h) = &host {
                    body["configurations"] = json!({"custom_host": h});
                }
                let (s, res) = api.post("/integrations", body);
                assert_eq!(s, 200, "{res}");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// Every integration's secret opens: a partial configuration update needs it.
fn every_integration_opens(server: &Server) -> usize {
    let api = api(server);
    let mut all = Vec::new();
    for page in 0.. {
        let (s, list) = api.get(&format!("/integrations?page_size=1000&current_page={page}"));
        assert_eq!(s, 200, "{list}");
        let data = list["data"].as_array().unwrap().clone();
        if data.is_empty() {
            break;
        }
        all.extend(data);
    }
    for integration in &all {
        let slug = integration["slug"].as_str().unwrap();
        let (s, body) = api.put(
            &format!("/integrations/{slug}"),
            json!({"configurations": {"openai_organization": "org-rotated"}}),
        );
        assert_eq!(s, 200, "integration {slug} cannot be opened: {body}");
    }
    all.len()
}

/// No key, old or new, in anything printed or logged, nor in the database.
fn assert_keys_never_shown(c: &Catalog, servers: &[&Server], keys: &[&str]) {
    let mut seen = c.w.everything_seen();
    for s in servers {
        seen.push_str(&s.log());
    }
    let bytes = database_bytes(&c.db);
    for key in keys {
        assert!(!seen.contains(key), "a master key was printed:\n{seen}");
        assert!(!contains(&bytes, key), "a master key is in the database");
    }
}

fn chat(http: &reqwest::blocking::Client, url: &str, key: &str, model: &str) -> u16 {
    http.post(format!("{url}/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[test]
fn a_thousand_secrets_rotate_while_writes_and_gateway_calls_continue() {
    let up = Upstream::start_blocking();
    let host = up.base_url("/v1");
    let trusted = up.host_port();
    let c = Catalog::new();
    let server = c.serve(&[("CATALOG_TRUSTED_CUSTOM_HOSTS", &trusted)]);
    let a = api(&server);
    let ws = c.served(&server, &["workspaces", "create", "eng", "-o", "json"]);
    let ws_id = ws.json()["id"].as_str().unwrap().to_owned();

    // 1,000 integrations; ten written to all along, and called through the gateway.
    create_integrations(&server, "bulk", 990, None);
    create_integrations(&server, "live", 10, Some(&host));
    for i in 0..10 {
        let slug = format!("live-{i}");
        c.served(
            &server,
            &[
                "workspaces",
                "provision",
                "eng",
                "--integration",
                &slug,
                "--yes",
            ],
        );
    }
    // Custom models with sealed headers, on an integration the gateway calls.
    let models: Vec<Value> = (0..20)
        .map(|j| json!({"slug": format!("m-{j}"), "enabled": true, "custom": true,
            "configurations": {"custom_host": host, "custom_headers": {"x-model-secret": format!("model-secret-{j}-abcdef")}}}))
        .collect();
    let (s, res) = a.put("/integrations/live-0/models", json!({"models": models}));
    assert_eq!(s, 200, "{res}");
    // Legacy virtual keys, each with its own sealed credential.
    for v in 0..20 {
        let (s, res) = a.post("/virtual-keys", json!({"name": format!("vk-{v}"), "slug": format!("vk-{v}"),
            "provider": "openai", "key": format!("sk-legacy-{v}-0123456789abcdef"), "workspace_id": ws_id}));
        assert_eq!(s, 200, "{res}");
    }
    let created = c.served(
        &server,
        &[
            "api-keys",
            "create",
            "app",
            "--type",
            "workspace",
            "--workspace",
            "eng",
            "--scope",
            "completions.write",
            "-o",
            "json",
        ],
    );
    let app_key = created.json()["key"].as_str().unwrap().to_owned();
    let old_key = std::fs::read_to_string(c.key_file())
        .unwrap()
        .trim()
        .to_owned();
    let before = c.status();
    assert_eq!(before["location"], "file", "{before}");
    assert_eq!(before["fingerprint"], fingerprint(&old_key));
    assert_eq!(
        sealed_under(&before, &fingerprint(&old_key)),
        1040,
        "{before}"
    );

    // Writers update the live integrations' keys; callers call them; all along.
    let stop = Arc::new(AtomicBool::new(false));
    let last: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(vec![String::new(); 10]));
    let writer = {
        let (stop, last, a) = (stop.clone(), last.clone(), api(&server));
        thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let i = (n % 10) as usize;
                let key = format!("sk-written-{i}-{n:06}-0123456789");
                let (s, body) = a.put(&format!("/integrations/live-{i}"), json!({"key": key}));
                assert_eq!(s, 200, "a write during the rotation failed: {body}");
                last.lock().unwrap()[i] = key;
                n += 1;
            }
            n
        })
    };
    let caller = {
        let (stop, url, key) = (stop.clone(), server.url.clone(), app_key.clone());
        thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            let mut statuses = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let model = if n % 2 == 0 {
                    format!("@live-{}/gpt-4o-mini", n % 10)
                } else {
                    format!("@live-0/m-{}", n % 20)
                };
                statuses.push(chat(&http, &url, &key, &model));
                n += 1;
            }
            statuses
        })
    };
    thread::sleep(Duration::from_millis(300));
    let new = new_key();
    let out = c.admin(
        &[
            "rotate-master-key",
            "--new-key-env",
            "NEW_MASTER_KEY",
            "--batch-size",
            "50",
            "--pause",
            "50ms",
        ],
        &[("NEW_MASTER_KEY", &new)],
    );
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let writes = writer.join().unwrap();
    let statuses = caller.join().unwrap();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "secrets re-sealed; nothing remains under key {}; the old key is no longer needed",
            fingerprint(&old_key)
        )),
        "{out:?}"
    );
    assert!(out.stderr.contains("re-sealed 50 of"), "{out:?}");
    assert!(writes > 10, "the writer wrote only {writes} times");
    assert!(statuses.len() > 10, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let after = c.status();
    assert_eq!(after["fingerprint"], fingerprint(&new), "{after}");
    assert_eq!(after["rotating_from"], Value::Null, "{after}");
    assert_eq!(after["sealed"].as_array().unwrap().len(), 1, "{after}");
    assert_eq!(sealed_under(&after, &fingerprint(&new)), 1040, "{after}");
    assert_eq!(
        std::fs::read_to_string(c.key_file()).unwrap().trim(),
        new,
        "the key file holds the new key"
    );
    assert!(!PathBuf::from(format!("{}.new", c.key_file().display())).exists());
    server.stop();

    // The new key alone opens everything: no key file, the key in CATALOG_MASTER_KEY.
    std::fs::remove_file(c.key_file()).unwrap();
    let server = c.serve(&[
        ("CATALOG_TRUSTED_CUSTOM_HOSTS", &trusted),
        ("CATALOG_MASTER_KEY", &new),
    ]);
    assert_eq!(every_integration_opens(&server), 1000);
    let a = api(&server);
    let (s, plan) = a.get("/virtual-keys/migration-plan");
    assert_eq!(s, 200, "the virtual keys' credentials open: {plan}");
    let http = reqwest::blocking::Client::new();
    let last = last.lock().unwrap().clone();
    for (i, key) in last.iter().enumerate() {
        assert_eq!(
            chat(
                &http,
                &server.url,
                &app_key,
                &format!("@live-{i}/gpt-4o-mini")
            ),
            200
        );
        let r = up.last_request();
        let expected = if key.is_empty() {
            format!("sk-seeded-live-{i}-0123456789")
        } else {
            key.clone()
        };
        assert_eq!(
            r.bearer(),
            Some(expected.as_str()),
            "live-{i}: the last write landed"
        );
    }
    for j in 0..20 {
        assert_eq!(
            chat(&http, &server.url, &app_key, &format!("@live-0/m-{j}")),
            200
        );
        let expected = format!("model-secret-{j}-abcdef");
        assert_eq!(
            up.last_request().header("x-model-secret"),
            Some(expected.as_str())
        );
    }
    assert_keys_never_shown(&c, &[&server], &[&old_key, &new]);
}

/// Runs a rotation and kills it with SIGKILL once it reported re-sealing a batch.
fn rotate_and_kill(c: &Catalog, new: &str) -> String {
    let mut cmd = c.w.command(&[
        "admin",
        "rotate-master-key",
        "--new-key-env",
        "NEW_MASTER_KEY",
        "--batch-size",
        "10",
        "--pause",
        "300ms",
    ]);
    cmd.arg("--db")
        .arg(&c.db)
        .env("NEW_MASTER_KEY", new)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("re-sealed 20 of") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen.contains("re-sealed 20 of"), "{seen}");
    c.w.seen.lock().unwrap().push_str(&seen);
    seen
}

#[test]
fn a_rotation_killed_midway_leaves_every_secret_readable_and_finishes_when_run_again() {
    let c = Catalog::new();
    let server = c.serve(&[]);
    create_integrations(&server, "int", 200, None);
    let old = std::fs::read_to_string(c.key_file())
        .unwrap()
        .trim()
        .to_owned();
    let new = new_key();
    rotate_and_kill(&c, &new);

    // Status after the interruption: the new key is current, the old one still sealed some.
    let during = c.status();
    assert_eq!(during["fingerprint"], fingerprint(&new), "{during}");
    assert_eq!(during["rotating_from"], fingerprint(&old), "{during}");
    let (under_old, under_new) = (
        sealed_under(&during, &fingerprint(&old)),
        sealed_under(&during, &fingerprint(&new)),
    );
    assert_eq!(under_old + under_new, 200, "{during}");
    assert!(under_old > 0 && under_new >= 20, "{during}");
    let table = c.admin(&["master-key", "status"], &[]);
    assert!(table.stdout.contains("in progress from"), "{table:?}");
    assert!(table.stdout.contains("(previous)"), "{table:?}");

    // The server that ran all along learnt the new key; it opens both kinds and writes
    // under the new key.
    assert_eq!(every_integration_opens(&server), 200);
    create_integrations(&server, "more", 5, None);
    let after_writes = c.status();
    assert_eq!(
        sealed_under(&after_writes, &fingerprint(&old)),
        under_old,
        "{after_writes}"
    );
    assert_eq!(
        sealed_under(&after_writes, &fingerprint(&new)),
        under_new + 5,
        "{after_writes}"
    );
    // A server given both keys in the environment opens everything too.
    let both = c.serve(&[
        ("CATALOG_MASTER_KEY", &new),
        ("CATALOG_MASTER_KEY_PREVIOUS", &old),
    ]);
    assert_eq!(every_integration_opens(&both), 205);
    both.stop();
    // A server that can find the new key only, mid-rotation, refuses to start naming the
    // fix (with the key file in place it would read the old key from there).
    let hidden = c.db.with_extension("key.hidden");
    std::fs::rename(c.key_file(), &hidden).unwrap();
    let refused = serve_output(&c, &[("CATALOG_MASTER_KEY", &new)]);
    std::fs::rename(&hidden, c.key_file()).unwrap();
    assert!(
        refused.0 != 0 && refused.1.contains("CATALOG_MASTER_KEY_PREVIOUS"),
        "{refused:?}"
    );

    // A different new key while this rotation is unfinished is a conflict.
    let third = new_key();
    let out = c.admin(
        &["rotate-master-key", "--new-key-env", "K"],
        &[("K", &third)],
    );
    assert_eq!(out.code, 5, "{out:?}");
    assert!(out.stderr.contains(&fingerprint(&new)), "{out:?}");

    // Run again with the same key: it finishes.
    let out = c.admin(
        &["rotate-master-key", "--new-key-env", "K", "-o", "json"],
        &[("K", &new)],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let report = out.json();
    assert_eq!(report["resumed"], true, "{report}");
    assert_eq!(report["remaining_under_old_key"], 0, "{report}");
    assert!(out.stderr.contains("nothing remains under key"), "{out:?}");
    let done = c.status();
    assert_eq!(done["rotating_from"], Value::Null, "{done}");
    assert_eq!(sealed_under(&done, &fingerprint(&new)), 205, "{done}");
    assert_eq!(std::fs::read_to_string(c.key_file()).unwrap().trim(), new);
    // Once finished, the same key again is refused: it is the current key.
    let out = c.admin(&["rotate-master-key", "--new-key-env", "K"], &[("K", &new)]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("is the catalog's current key"),
        "{out:?}"
    );
    // The server still running writes under the new key and opens everything.
    assert_eq!(every_integration_opens(&server), 205);
    let s2 = c.serve(&[("CATALOG_MASTER_KEY", &new)]);
    assert_eq!(every_integration_opens(&s2), 205);
    assert_keys_never_shown(&c, &[&server, &s2], &[&old, &new, &third]);
}

/// `catalog serve` run to its exit (a refusal): its exit code and stderr.
fn serve_output(c: &Catalog, env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = c.w.command(&["serve", "--listen", "127.0.0.1:0", "--db"]);
    cmd.arg(&c.db).env("CATALOG_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("catalog serve started although it should have refused");
}

#[test]
fn wrong_new_keys_are_refused_and_change_nothing() {
    let c = Catalog::new();
    let server = c.serve(&[]);
    create_integrations(&server, "int", 3, None);
    server.stop();
    let current = std::fs::read_to_string(c.key_file())
        .unwrap()
        .trim()
        .to_owned();
    let before = c.status();
    let dir = c.w.home.path();
    let short = dir.join("short.key");
    std::fs::write(&short, "c2hvcnQta2V5LTE2Ynl0ZQ==\n").unwrap();
    let garbage = dir.join("garbage.key");
    std::fs::write(&garbage, "this is not base64 at all!").unwrap();
    let same = dir.join("same.key");
    std::fs::write(&same, format!("{current}\n")).unwrap();
    let missing = dir.join("missing.key");
    let (short_s, garbage_s, same_s, missing_s) = (
        short.display().to_string(),
        garbage.display().to_string(),
        same.display().to_string(),
        missing.display().to_string(),
    );
    // Arguments, environment, exit code, and what stderr says.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, i32, String);
    let cases: Vec<Case> = vec![
        (
            vec!["--new-key-file", &short_s],
            vec![],
            2,
            "must be 32 bytes".into(),
        ),
        (
            vec!["--new-key-file", &garbage_s],
            vec![],
            2,
            "not valid base64".into(),
        ),
        (
            vec!["--new-key-file", &same_s],
            vec![],
            2,
            format!(
                "the new master key is the catalog's current key ({})",
                fingerprint(&current)
            ),
        ),
        (
            vec!["--new-key-env", "SAME"],
            vec![("SAME", current.as_str())],
            2,
            "current key".into(),
        ),
        (
            vec!["--new-key-env", "UNSET_VAR"],
            vec![],
            2,
            "`UNSET_VAR` given to `--new-key-env` is not set".into(),
        ),
        (
            vec!["--new-key-file", &missing_s],
            vec![],
            2,
            "cannot read `--new-key-file`".into(),
        ),
        (
            vec!["--new-key-file", &same_s, "--new-key-env", "SAME"],
            vec![("SAME", current.as_str())],
            2,
            "cannot be used with".into(),
        ),
        (vec![], vec![], 2, "--new-key-file".into()),
    ];
    for (args, env, code, needle) in cases {
        let mut all = vec!["rotate-master-key"];
        all.extend(args.iter().copied());
        let out = c.admin(&all, &env);
        assert_eq!(out.code, code, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains(&needle),
            "{args:?}: {needle:?} missing: {out:?}"
        );
    }
    // Against a server instead of the database file.
    let mut cmd =
        c.w.command(&["admin", "rotate-master-key", "--new-key-env", "K"]);
    cmd.env("K", new_key())
        .env("CATALOG_BASE_URL", "http://127.0.0.1:9/v1")
        .env("CATALOG_API_KEY", ADMIN_KEY);
    let out = c.w.run_cmd(cmd);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("works on a catalog's database file"),
        "{out:?}"
    );

    assert_eq!(c.status(), before, "a refused rotation changed the catalog");
    assert_eq!(
        std::fs::read_to_string(c.key_file()).unwrap().trim(),
        current
    );
    assert!(!PathBuf::from(format!("{}.new", c.key_file().display())).exists());
    assert_keys_never_shown(&c, &[], &[&current]);
}

#[test]
fn servers_whose_key_is_in_the_environment_roll_around_a_rotation() {
    let c = Catalog::new();
    let (old, new) = (new_key(), new_key());
    let server = c.serve(&[("CATALOG_MASTER_KEY", &old)]);
    create_integrations(&server, "int", 100, None);
    server.stop();
    assert!(
        !c.key_file().exists(),
        "no key file for a key given in the environment"
    );
    assert_eq!(c.status()["location"], "env");

    // 1. Servers restart with both keys; they still seal under the old one.
    let rolled = c.serve(&[
        ("CATALOG_MASTER_KEY", &new),
        ("CATALOG_MASTER_KEY_PREVIOUS", &old),
    ]);
    create_integrations(&rolled, "before", 5, None);
    assert_eq!(sealed_under(&c.status(), &fingerprint(&old)), 105);
    // 2. The rotation, with the old key in CATALOG_MASTER_KEY and writes going on.
    let writer = {
        let a = api(&rolled);
        thread::spawn(move || {
            for n in 0..40 {
                let (s, body) = a.put(
                    &format!("/integrations/int-{}", n % 5),
                    json!({"key": format!("sk-written-{n:04}-0123456789")}),
                );
                assert_eq!(s, 200, "{body}");
            }
        })
    };
    let out = c.admin(
        &[
            "rotate-master-key",
            "--new-key-env",
            "NEW_MASTER_KEY",
            "--batch-size",
            "7",
        ],
        &[("NEW_MASTER_KEY", &new), ("CATALOG_MASTER_KEY", &old)],
    );
    writer.join().unwrap();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("remove CATALOG_MASTER_KEY_PREVIOUS"),
        "{out:?}"
    );
    create_integrations(&rolled, "after", 5, None);
    let status = c.status();
    assert_eq!(sealed_under(&status, &fingerprint(&new)), 110, "{status}");
    assert_eq!(status["sealed"].as_array().unwrap().len(), 1, "{status}");
    rolled.stop();
    // 3. Servers restart with the new key alone; one still on the old key cannot start.
    let refused = serve_output(&c, &[("CATALOG_MASTER_KEY", &old)]);
    assert!(
        refused.0 != 0 && refused.1.contains("not the one"),
        "{refused:?}"
    );
    let done = c.serve(&[("CATALOG_MASTER_KEY", &new)]);
    assert_eq!(every_integration_opens(&done), 110);
    assert_keys_never_shown(&c, &[&done], &[&old, &new]);
}

#[test]
fn a_key_in_the_os_keyring_is_replaced_there() {
    use crate::keyring::{have, in_keyring_session};
    if !(have("dbus-run-session") && have("gnome-keyring-daemon") && have("secret-tool")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install dbus, gnome-keyring and libsecret-tools (see .ci/run)"
        );
        eprintln!("skipped: dbus-run-session, gnome-keyring-daemon or secret-tool is missing");
        return;
    }
    let mut w = World::new(Mode::Embedded);
    let new = new_key();
    let dir = w.home.path().to_owned();
    std::fs::write(dir.join("new.key"), format!("{new}\n")).unwrap();
    w.extra_env.push((
        "SECOND_KEY".into(),
        "sk-test-SECONDKEY-99887766554433".into(),
    ));
    let script = format!(
        r#"
cd {dir}
entries() {{ secret-tool search --all service catalog-master-key 2>&1 | grep -c '^attribute.username'; }}
$C integrations connect oa --service openai --key-env PROVIDER_KEY --skip-models --skip-provisioning >/dev/null; echo "connect=$?"
echo "entries-before=$(entries)"
$C admin master-key status -o json; echo "status=$?"
$C admin rotate-master-key --new-key-file new.key 2>&1; echo "rotate=$?"
$C admin master-key status -o json; echo "status2=$?"
echo "entries-after=$(entries)"
ORG=$(secret-tool search --all service catalog-master-key 2>&1 | sed -n 's/^attribute.username = //p' | head -1)
[ "$(secret-tool lookup service catalog-master-key username "$ORG")" = "$(cat new.key)" ]; echo "keyring-holds-new=$?"
$C integrations rotate-key oa --key-env SECOND_KEY >/dev/null; echo "opens=$?"
ls catalog/catalog.key* 2>/dev/null | wc -l | sed 's/^/key-files=/'
"#,
        dir = dir.display()
    );
    let out = in_keyring_session(&w, "", &script);
    for marker in [
        "connect=0",
        "entries-before=1",
        "status=0",
        "rotate=0",
        "status2=0",
        "entries-after=1",
        "keyring-holds-new=0",
        "opens=0",
        "key-files=0",
    ] {
        assert!(out.contains(marker), "missing {marker}:\n{out}");
    }
    assert!(out.contains("\"location\": \"keyring\""), "{out}");
    assert!(
        out.contains("the OS keyring now holds the new key"),
        "{out}"
    );
    assert!(
        out.contains(&format!("\"fingerprint\": \"{}\"", fingerprint(&new))),
        "{out}"
    );
    assert!(!out.contains(&new), "the new key was printed:\n{out}");
}
