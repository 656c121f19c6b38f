//! Several `catalog serve` replicas on one PostgreSQL database: one catalog, one set of
//! counters, kept in the database or shared in Redis. Budgets and rate limits stay exact
//! however the calls are spread; an admin write through one replica reaches the gateway
//! of another on its next request; a replica killed mid-load loses no settled charge and
//! its holds are settled by the others; Redis stopped means 503s, and restarted, correct
//! counters again. The PostgreSQL and Redis servers are started by the tests (skipped
//! outside CI without them).

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::Server;
use crate::gateway::{priced_body as body, Gateway};
use crate::servers::{self, Postgres, Redis};

/// What one call costs: 30 tokens at $1,000 per million.
const CALL_USD: f64 = 0.03;

/// A governed catalog on a fresh PostgreSQL database, served by `n` replicas: the
/// gateway's own and `n - 1` more; with `redis`, their admission counters are there.
fn replicas(
    n: usize,
    redis: Option<&Redis>,
) -> Option<(Gateway, Vec<Server>, &'static Postgres, String)> {
    let pg = servers::postgres()?;
    let url = pg.create_database();
    let redis_url = redis.map(Redis::url);
    let mut env = Vec::new();
    if let Some(r) = &redis_url {
        env.push(("CATALOG_REDIS_URL", r.as_str()));
    }
    let gw = Gateway::governed_on_postgres(&url, &env);
    let host = gw.up.host_port();
    env.push(("CATALOG_TRUSTED_CUSTOM_HOSTS", host.as_str()));
    let others = (1..n)
        .map(|_| Server::start_on_postgres(gw.w.home.path(), &url, &env))
        .collect();
    Some((gw, others, pg, url))
}

/// A Redis of the test's own, and the replicas using it.
fn replicas_on_redis(n: usize) -> Option<(Gateway, Vec<Server>, &'static Postgres, String, Redis)> {
    let redis = servers::redis()?;
    let (gw, others, pg, url) = replicas(n, Some(&redis))?;
    Some((gw, others, pg, url, redis))
}

fn redis_conn(redis: &Redis) -> redis::Connection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

/// The keys of the seeding Redis uses now matching `kind` (`h` holds, `n` counters).
fn seeded_keys(conn: &mut redis::Connection, kind: &str) -> Vec<String> {
    let markers: Vec<String> = redis::cmd("KEYS")
        .arg("{catalog:*}:seed")
        .query(conn)
        .unwrap();
    assert_eq!(markers.len(), 1, "one catalog in this Redis: {markers:?}");
    let seed: String = redis::cmd("HGET")
        .arg(&markers[0])
        .arg("gen")
        .query(conn)
        .unwrap();
    let prefix = markers[0].trim_end_matches(":seed");
    redis::cmd("KEYS")
        .arg(format!("{prefix}:{seed}:{kind}:*"))
        .query(conn)
        .unwrap()
}

/// The holds open in Redis, once the replicas have settled (or recovered) them.
fn redis_holds(redis: &Redis) -> usize {
    let mut conn = redis_conn(redis);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = seeded_keys(&mut conn, "h").len();
        if n == 0 || Instant::now() > deadline {
            return n;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Redis counts what the catalog counts: every budget's usage is the settled usage in
/// PostgreSQL, and nothing is held.
fn assert_counters_agree(redis: &Redis, pg: &Postgres, url: &str) {
    // Settlements run just after the answers: wait for them.
    assert_eq!(redis_holds(redis), 0, "holds left in Redis");
    let mut conn = redis_conn(redis);
    let settled = pg.psql(
        url,
        "SELECT scope || '|' || limit_key || '=' || used FROM counters WHERE limit_key = 'budget'",
    );
    let mut checked = 0;
    for key in seeded_keys(&mut conn, "n") {
        let counter = key.split_once(":n:").unwrap().1.to_owned();
        let (used, held): (Option<i64>, Option<i64>) = redis::cmd("HMGET")
            .arg(&key)
            .arg("used")
            .arg("held")
            .query(&mut conn)
            .unwrap();
        assert_eq!(held.unwrap_or(0), 0, "{counter} still holds");
        if !counter.ends_with("|budget") {
            continue;
        }
        let line = format!("{counter}={}", used.unwrap_or(0));
        assert!(
            settled.lines().any(|l| l.trim() == line),
            "Redis has {line}; PostgreSQL has\n{settled}"
        );
        checked += 1;
    }
    assert!(checked > 0, "no budget counter in Redis");
}

/// Every replica's base URL, the gateway's first.
fn urls(gw: &Gateway, others: &[Server]) -> Vec<String> {
    let mut out = vec![gw.w.server.as_ref().unwrap().url.clone()];
    out.extend(others.iter().map(|s| s.url.clone()));
    out
}

/// One chat call through the replica at `base`: its status and body.
fn call(base: &str, key: &str) -> (u16, String) {
    let res = reqwest::blocking::Client::new()
        .post(format!("{base}/chat/completions"))
        .bearer_auth(key)
        .json(&body())
        .timeout(Duration::from_secs(60))
        .send()
        .expect("the replica answers");
    (res.status().as_u16(), res.text().unwrap_or_default())
}

/// `n` calls released at once, spread over the replicas in turn.
fn spread(urls: &[String], key: &str, n: usize) -> Vec<(u16, String)> {
    let barrier = Arc::new(Barrier::new(n));
    (0..n)
        .map(|i| {
            let (base, key, barrier) = (
                urls[i % urls.len()].clone(),
                key.to_owned(),
                barrier.clone(),
            );
            thread::spawn(move || {
                barrier.wait();
                call(&base, &key)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect()
}

/// What the replicas logged beyond one line per request, for a failure's message.
fn logs(gw: &Gateway, others: &[Server]) -> String {
    std::iter::once(gw.w.server.as_ref().unwrap().log())
        .chain(others.iter().map(Server::log))
        .flat_map(|l| l.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| !l.contains(" POST /v1/chat/completions 200 ") && !l.contains(" 412 "))
        .take(40)
        .collect::<Vec<_>>()
        .join("\n")
}

fn provider(gw: &Gateway) -> Value {
    gw.w.json(&["providers", "get", "openai-prod", "--workspace", "eng"])
}

fn open_holds(pg: &Postgres, url: &str) -> i64 {
    pg.psql(url, "SELECT count(*) FROM holds")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn three_replicas_never_overspend_one_budget() {
    let Some((gw, others, pg, url)) = replicas(3, None) else {
        return;
    };
    never_overspend(&gw, &others, pg, &url);
}

#[test]
fn three_replicas_on_redis_never_overspend_one_budget() {
    let Some((gw, others, pg, url, redis)) = replicas_on_redis(3) else {
        return;
    };
    never_overspend(&gw, &others, pg, &url);
    assert_eq!(redis_holds(&redis), 0, "a hold was left in Redis");
    assert_counters_agree(&redis, pg, &url);
}

/// 300 calls spread over the replicas against one $1 budget.
fn never_overspend(gw: &Gateway, others: &[Server], pg: &Postgres, url: &str) {
    gw.up.set(|k| k.latency = Duration::from_millis(20));
    gw.limit_provider(&["--budget", "1"]);
    let answers = spread(&urls(gw, others), &gw.key, 300);
    let admitted = answers.iter().filter(|(s, _)| *s == 200).count();
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 412),
        "only admissions and budget refusals: {:?}\n{}",
        answers.iter().find(|(s, _)| *s != 200 && *s != 412),
        logs(gw, others)
    );
    assert_eq!(
        gw.up.request_count(),
        admitted,
        "only admitted calls went upstream"
    );
    let used = provider(gw)["usage"]["current_usage"].as_f64().unwrap();
    assert!(
        (used - admitted as f64 * CALL_USD).abs() < 1e-9,
        "{used} for {admitted} calls"
    );
    assert!(used <= 1.0, "overspent: ${used}");
    assert!(used > 0.9, "refused with ${used} of $1 spent");
    assert_eq!(open_holds(pg, url), 0);
}

#[test]
fn three_replicas_share_one_request_rate() {
    let Some((gw, others, _pg, _url)) = replicas(3, None) else {
        return;
    };
    share_one_rate(&gw, &others);
}

#[test]
fn three_replicas_on_redis_share_one_request_rate_and_concurrency() {
    let Some((gw, others, _pg, _url, _redis)) = replicas_on_redis(3) else {
        return;
    };
    share_one_rate(&gw, &others);
    // Requests in flight: at most 4 at once across the replicas.
    gw.limit_provider(&["--rate-limit", "none", "--concurrency", "4"]);
    gw.up.set(|k| k.latency = Duration::from_millis(400));
    let before = gw.up.request_count();
    let answers = spread(&urls(&gw, &others), &gw.key, 12);
    let admitted = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(admitted, 4, "{answers:?}");
    assert_eq!(gw.up.request_count() - before, 4);
    // Settled: the slots are free again.
    assert_eq!(call(&others[0].url, &gw.key).0, 200);
}

/// 60 calls spread over the replicas against 20 requests a minute.
fn share_one_rate(gw: &Gateway, others: &[Server]) {
    gw.limit_provider(&["--rate-limit", "20/min"]);
    let answers = spread(&urls(gw, others), &gw.key, 60);
    let admitted = answers.iter().filter(|(s, _)| *s == 200).count();
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 429),
        "only admissions and rate refusals: {:?}",
        answers.iter().find(|(s, _)| *s != 200 && *s != 429)
    );
    assert_eq!(admitted, 20, "exactly the rate, across replicas");
    assert_eq!(gw.up.request_count(), 20);
}

#[test]
fn an_admin_write_through_one_replica_reaches_the_gateway_of_another() {
    let Some((gw, others, _pg, _url)) = replicas(2, None) else {
        return;
    };
    let other = &others[0].url;
    assert_eq!(call(other, &gw.key).0, 200);
    // Revoked through the first replica's Admin API; the second refuses at once.
    gw.w.ok(&[
        "workspaces",
        "revoke",
        "eng",
        "--integration",
        "openai-prod",
        "--yes",
    ]);
    let (status, text) = call(other, &gw.key);
    assert_eq!(status, 412, "{text}");
    assert!(text.contains("revoked"), "{text}");
}

#[test]
fn a_replica_killed_mid_load_loses_no_charge_and_its_holds_are_settled() {
    let Some((gw, others, pg, url)) = replicas(2, None) else {
        return;
    };
    killed_mid_load(&gw, others, pg, &url);
}

#[test]
fn on_redis_a_replica_killed_mid_load_loses_no_charge_and_its_holds_are_settled() {
    let Some((gw, others, pg, url, redis)) = replicas_on_redis(2) else {
        return;
    };
    killed_mid_load(&gw, others, pg, &url);
    assert_eq!(
        redis_holds(&redis),
        0,
        "the dead replica's holds stay in Redis"
    );
    assert_counters_agree(&redis, pg, &url);
}

/// A replica killed (`kill -9`) with four calls in flight.
fn killed_mid_load(gw: &Gateway, mut others: Vec<Server>, pg: &Postgres, url: &str) {
    gw.up.set(|k| k.latency = Duration::from_millis(500));
    gw.limit_provider(&["--budget", "100"]);
    let victim = others.remove(0);
    for _ in 0..3 {
        assert_eq!(call(&victim.url, &gw.key).0, 200);
    }
    let flying: Vec<_> = (0..4)
        .map(|_| {
            let (base, key) = (victim.url.clone(), gw.key.clone());
            thread::spawn(move || {
                let _ = reqwest::blocking::Client::new()
                    .post(format!("{base}/chat/completions"))
                    .bearer_auth(key)
                    .json(&body())
                    .send();
            })
        })
        .collect();
    gw.up.wait_for_requests(7, Duration::from_secs(10));
    assert_eq!(open_holds(pg, url), 4, "the calls in flight hold");
    victim.kill9();
    for t in flying {
        let _ = t.join();
    }
    // The surviving replica sees the victim's heartbeat stop and settles its holds at
    // their full amounts: more than the calls cost, never less.
    let deadline = Instant::now() + Duration::from_secs(60);
    while open_holds(pg, url) > 0 {
        assert!(
            Instant::now() < deadline,
            "the dead replica's holds were never settled"
        );
        thread::sleep(Duration::from_millis(250));
    }
    let used = provider(gw)["usage"]["current_usage"].as_f64().unwrap();
    assert!(
        used > 7.0 * CALL_USD && used < 3.0 * CALL_USD + 4.0 * 0.1,
        "${used}"
    );
    // The survivor goes on serving.
    assert_eq!(call(&gw.w.server.as_ref().unwrap().url, &gw.key).0, 200);
}

/// `catalog serve --listen 127.0.0.1:0 ARGS` that is to refuse to start, in a clean
/// environment of `home` and `env`: its exit code and stderr.
fn refused_serve(
    home: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let mut cmd = std::process::Command::new(crate::common::BIN);
    cmd.env_clear()
        .env("HOME", home)
        .env("CATALOG_HOME", home.join("catalog"))
        .env("CATALOG_NO_INPUT", "1")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied());
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "catalog serve did not stop");
        thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_server_on_postgres_refuses_to_start_without_the_master_key_or_with_another() {
    let Some(pg) = servers::postgres() else {
        return;
    };
    let url = pg.create_database();
    let home = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, &str)]| refused_serve(home.path(), &["--database-url", &url], env);
    let (code, err) = run(&[]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("CATALOG_MASTER_KEY") && err.contains("--master-key-file"),
        "{err}"
    );
    // A catalog whose secrets are sealed under one key refuses another.
    let gw_home = tempfile::tempdir().unwrap();
    let first = Server::start_on_postgres(gw_home.path(), &url, &[]);
    let w = crate::common::World {
        home: gw_home,
        mode: crate::common::Mode::Served,
        server: Some(first),
        seen: Default::default(),
        extra_env: vec![("PROVIDER_KEY".into(), crate::common::PROVIDER_KEY.into())],
    };
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
    let (code, err) = run(&[(
        "CATALOG_MASTER_KEY",
        "b3RoZXItbWFzdGVyLWtleS0wMTIzNDU2Nzg5YWJjZGU=",
    )]);
    assert_ne!(code, Some(0));
    assert!(err.contains("master key"), "{err}");
    let secrets = pg.psql(
        &url,
        "SELECT count(*) FROM integrations WHERE secrets IS NOT NULL",
    );
    assert_eq!(secrets.trim(), "1");
    assert!(!pg
        .psql(&url, "SELECT encode(secrets, 'escape') FROM integrations")
        .contains(crate::common::PROVIDER_KEY));
}

#[test]
fn db_copy_moves_a_file_catalog_to_postgres_whole() {
    let Some(pg) = servers::postgres() else {
        return;
    };
    let mut gw = Gateway::governed();
    gw.limit_provider(&["--budget", "5"]);
    for _ in 0..3 {
        gw.chat(&body()).ok();
    }
    let before = provider(&gw);
    let audit_before = gw.w.json(&["audit", "--limit", "1000"]);
    let server = gw.w.server.take().unwrap();
    let db = server.db.clone();
    server.stop();
    let key = std::fs::read_to_string(db.with_extension("key")).expect("the catalog's key file");
    let url = pg.create_database();
    let out =
        gw.w.ok(&["db", "copy", "--from", db.to_str().unwrap(), "--to", &url]);
    assert!(out.stdout.contains("workspaces"), "{}", out.stdout);
    // A target that holds anything is refused, and left as it was.
    gw.w.fails(
        &["db", "copy", "--from", db.to_str().unwrap(), "--to", &url],
        5,
        "not empty",
    );
    // An unreachable target is named by the flag that gave it.
    let gone = format!("postgres://catalog@127.0.0.1:{}/x", servers::free_port());
    let out = gw.w.fails(
        &["db", "copy", "--from", db.to_str().unwrap(), "--to", &gone],
        6,
        "cannot be reached",
    );
    assert!(
        out.stderr.contains(&format!("--to {gone}")),
        "{}",
        out.stderr
    );
    let other = pg.create_database();
    pg.psql(
        &other,
        "CREATE TABLE customers (id int); INSERT INTO customers VALUES (1)",
    );
    gw.w.fails(
        &["db", "copy", "--from", db.to_str().unwrap(), "--to", &other],
        5,
        "table `customers`",
    );
    let tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'";
    assert_eq!(
        pg.psql(&other, tables).trim(),
        "1",
        "the refused target was changed"
    );
    // The copy's secrets open only with the key they were sealed with.
    let stranger = tempfile::tempdir().unwrap();
    let (code, err) = refused_serve(
        stranger.path(),
        &["--database-url", &url],
        &[("CATALOG_MASTER_KEY", crate::common::REPLICA_MASTER_KEY)],
    );
    assert_ne!(code, Some(0));
    assert!(
        err.contains("is not the one this catalog's secrets are sealed with"),
        "{err}"
    );
    // Served from PostgreSQL with the same key: the same objects, usage and audit log,
    // and the sealed provider key still works upstream.
    let host = gw.up.host_port();
    gw.w.server = Some(Server::start_on(
        gw.w.home.path(),
        &["--database-url", &url],
        std::path::Path::new(""),
        &[
            ("CATALOG_MASTER_KEY", key.trim()),
            ("CATALOG_TRUSTED_CUSTOM_HOSTS", host.as_str()),
        ],
    ));
    let after = provider(&gw);
    assert_eq!(after["usage"], before["usage"], "{after}");
    assert_eq!(after["id"], before["id"]);
    let audit_after = gw.w.json(&["audit", "--limit", "1000"]);
    assert_eq!(
        audit_after.as_array().unwrap().len(),
        audit_before.as_array().unwrap().len()
    );
    gw.chat(&body()).ok();
    let used = provider(&gw)["usage"]["current_usage"].as_f64().unwrap();
    assert!((used - 4.0 * CALL_USD).abs() < 1e-9, "{used}");
    // Bad input: no file, not a catalog, not a PostgreSQL URL, nothing listening.
    gw.w.fails(
        &["db", "copy", "--from", "/nonexistent.db", "--to", &url],
        4,
        "--from",
    );
    let junk = gw.w.home.path().join("junk.db");
    std::fs::write(&junk, "not a database at all, not even close to one").unwrap();
    gw.w.fails(
        &["db", "copy", "--from", junk.to_str().unwrap(), "--to", &url],
        1,
        "point `--from`",
    );
    gw.w.fails(
        &[
            "db",
            "copy",
            "--from",
            db.to_str().unwrap(),
            "--to",
            "mysql://x",
        ],
        2,
        "postgres://",
    );
    let unreachable = "postgres://catalog@127.0.0.1:1/x?password=hunter2";
    gw.w.fails(
        &[
            "db",
            "copy",
            "--from",
            db.to_str().unwrap(),
            "--to",
            unreachable,
        ],
        6,
        "cannot be reached",
    );
    assert!(
        !gw.w.everything_seen().contains("hunter2"),
        "a password was shown"
    );
}

#[test]
fn while_postgresql_is_down_requests_get_503_with_retry_after_then_recover() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let url = pg.create_database();
    let gw = Gateway::governed_on_postgres(&url, &[]);
    gw.limit_provider(&["--budget", "100"]);
    let base = gw.w.server.as_ref().unwrap().url.clone();
    assert_eq!(call(&base, &gw.key).0, 200);
    // A call in flight when the database goes: its settlement waits for it to return.
    gw.up.set(|k| k.latency = Duration::from_millis(1500));
    let flying = {
        let (base, key) = (base.clone(), gw.key.clone());
        thread::spawn(move || call(&base, &key))
    };
    gw.up.wait_for_requests(2, Duration::from_secs(10));
    pg.pause();
    assert_eq!(
        flying.join().unwrap().0,
        200,
        "the answer does not wait for the ledger"
    );
    gw.up.set(|k| k.latency = Duration::ZERO);
    let admin = reqwest::blocking::Client::new()
        .get(format!("{base}/admin/workspaces"))
        .header("x-portkey-api-key", crate::common::ADMIN_KEY)
        .send()
        .unwrap();
    assert_eq!(admin.status().as_u16(), 503);
    assert_eq!(admin.headers()["retry-after"], "1");
    let text = admin.text().unwrap();
    assert!(
        text.contains("PostgreSQL") && text.contains("retry"),
        "{text}"
    );
    let (status, text) = call(&base, &gw.key);
    assert_eq!(status, 503, "{text}");
    pg.resume();
    // The pool's broken connections are dropped; the next requests find the database.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = call(&base, &gw.key);
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never recovered: {status}"
        );
        thread::sleep(Duration::from_millis(200));
    }
    // Every call charged once, the one in flight included; no hold left behind.
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_holds(&pg, &url) > 0 {
        assert!(
            Instant::now() < deadline,
            "a settlement was lost in the outage"
        );
        thread::sleep(Duration::from_millis(200));
    }
    let used = provider(&gw)["usage"]["current_usage"].as_f64().unwrap();
    let calls = gw.up.request_count() as f64;
    assert!(
        (used - calls * CALL_USD).abs() < 1e-9,
        "${used} for {calls} calls"
    );
}

/// A $1 budget on the provider, $0.30 of it spent by ten calls spread over the replicas;
/// their URLs.
fn ten_calls_of_one_dollar(gw: &Gateway, others: &[Server]) -> Vec<String> {
    gw.limit_provider(&["--budget", "1"]);
    let all = urls(gw, others);
    for base in all.iter().cycle().take(10) {
        assert_eq!(call(base, &gw.key).0, 200);
    }
    all
}

#[test]
fn while_redis_is_down_calls_get_503_then_resume_with_correct_counters() {
    let Some((gw, others, pg, url, mut redis)) = replicas_on_redis(2) else {
        return;
    };
    let all = ten_calls_of_one_dollar(&gw, &others);
    // A call in flight when Redis goes: charged once, when Redis is back.
    gw.up.set(|k| k.latency = Duration::from_millis(1500));
    let flying = {
        let (base, key) = (all[0].clone(), gw.key.clone());
        thread::spawn(move || call(&base, &key))
    };
    gw.up.wait_for_requests(11, Duration::from_secs(10));
    redis.stop();
    assert_eq!(flying.join().unwrap().0, 200);
    gw.up.set(|k| k.latency = Duration::ZERO);
    for base in &all {
        let res = reqwest::blocking::Client::new()
            .post(format!("{base}/chat/completions"))
            .bearer_auth(&gw.key)
            .json(&body())
            .send()
            .unwrap();
        assert_eq!(res.status().as_u16(), 503);
        assert_eq!(res.headers()["retry-after"], "1");
        let text = res.text().unwrap();
        assert!(text.contains("Redis"), "{text}");
    }
    assert_eq!(gw.up.request_count(), 11, "a call went upstream unadmitted");
    // Admin reads do not need Redis; a check, which reads what is held, says it is down.
    assert!(provider(&gw)["usage"]["current_usage"].as_f64().unwrap() > 0.0);
    let check =
        gw.w.run(&["check", "@openai-prod/gpt-4o-mini", "--workspace", "eng"]);
    assert_eq!(check.code, 6, "{check:?}");
    assert!(check.stderr.contains("Redis"), "{check:?}");
    // An empty Redis comes back: it is seeded from the catalog, and the budget holds.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    while call(&all[1], &gw.key).0 != 200 {
        assert!(Instant::now() < deadline, "the replicas never recovered");
        thread::sleep(Duration::from_millis(200));
    }
    let answers = spread(&all, &gw.key, 60);
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 412),
        "{answers:?}"
    );
    let calls = gw.up.request_count();
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_holds(pg, &url) > 0 {
        assert!(Instant::now() < deadline, "a settlement was lost");
        thread::sleep(Duration::from_millis(200));
    }
    let used = provider(&gw)["usage"]["current_usage"].as_f64().unwrap();
    assert!(
        (used - calls as f64 * CALL_USD).abs() < 1e-9,
        "${used} for {calls} calls: each charged once"
    );
    assert!(used <= 1.0, "overspent: ${used}");
    assert!(used > 0.9, "refused with ${used} of $1 spent");
    assert_eq!(redis_holds(&redis), 0);
    assert_counters_agree(&redis, pg, &url);
}

#[test]
fn on_redis_a_usage_reset_through_one_replica_reaches_the_gateway_of_another() {
    let Some((gw, others, pg, url, redis)) = replicas_on_redis(2) else {
        return;
    };
    gw.limit_provider(&["--budget", "1"]);
    let other = &others[0].url;
    let mut admitted = 0;
    while call(other, &gw.key).0 == 200 {
        admitted += 1;
        assert!(admitted < 40, "the budget never bit");
    }
    gw.limit_provider(&["--reset-usage"]);
    assert_eq!(call(other, &gw.key).0, 200, "the reset did not reach Redis");
    assert_counters_agree(&redis, pg, &url);
    // Redis down: a reset cannot reach it, so it is refused and nothing changes.
    let mut redis = redis;
    redis.stop();
    let out = gw.w.run(&[
        "providers",
        "update",
        "openai-prod",
        "--workspace",
        "eng",
        "--reset-usage",
    ]);
    assert_eq!(out.code, 6, "{out:?}");
    assert!(out.stderr.contains("Redis"), "{out:?}");
    assert!(provider(&gw)["usage"]["current_usage"].as_f64().unwrap() > 0.0);
    // A write that leaves the window alone does not need Redis.
    gw.limit_provider(&["--note", "still editable", "--rate-limit", "100/min"]);
    assert_eq!(provider(&gw)["note"], "still editable");
}

#[test]
fn redis_urls_are_checked_and_their_passwords_never_shown() {
    let Some(pg) = servers::postgres() else {
        return;
    };
    let url = pg.create_database();
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        refused_serve(
            home.path(),
            args,
            &[("CATALOG_MASTER_KEY", crate::common::REPLICA_MASTER_KEY)],
        )
    };
    let (code, err) = run(&["--redis-url", "redis://127.0.0.1:1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--database-url"), "{err}");
    let (code, err) = run(&["--database-url", &url, "--redis-url", "http://x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("redis://"), "{err}");
    let (code, err) = run(&[
        "--database-url",
        &url,
        "--redis-url",
        "rediss://:hunter2@x.invalid:6380",
    ]);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("rediss://:***@x.invalid:6380"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let (code, err) = run(&["--database-url", "mysql://u:hunter2@h/x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("postgres://") && !err.contains("hunter2"),
        "{err}"
    );
    let (code, err) = run(&["--database-url", "postgres://u:hunter2@h:port/x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("is not a PostgreSQL URL") && !err.contains("hunter2"),
        "{err}"
    );
    let (code, err) = run(&[
        "--database-url",
        &url,
        "--redis-url",
        "redis://:hunter2@127.0.0.1:1",
    ]);
    assert_eq!(code, Some(6), "{err}");
    assert!(
        err.contains("Redis") && err.contains("127.0.0.1:1"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn a_redis_restored_from_an_older_snapshot_is_seeded_again_before_it_admits() {
    let Some((gw, others, pg, url, mut redis)) = replicas_on_redis(2) else {
        return;
    };
    let all = ten_calls_of_one_dollar(&gw, &others);
    redis.snapshot();
    // Spent to the end of the budget after the snapshot.
    let mut i = 0;
    while call(&all[i % 2], &gw.key).0 == 200 {
        i += 1;
        assert!(i < 40, "the budget never bit");
    }
    let spent = gw.up.request_count();
    // Redis comes back from the snapshot, counting $0.30: its run id changed, so every
    // replica seeds it from the catalog before admitting anything.
    redis.restart_from_snapshot();
    let answers = spread(&all, &gw.key, 40);
    assert!(
        answers.iter().all(|(s, _)| *s == 412 || *s == 503),
        "{answers:?}"
    );
    assert_eq!(
        gw.up.request_count(),
        spent,
        "admitted on the snapshot's counters"
    );
    let used = provider(&gw)["usage"]["current_usage"].as_f64().unwrap();
    assert!(used <= 1.0, "overspent: ${used}");
    assert_counters_agree(&redis, pg, &url);
}

#[test]
fn on_redis_settlements_redis_refuses_for_a_while_land_when_it_can() {
    let Some((gw, _others, pg, url, redis)) = replicas_on_redis(1) else {
        return;
    };
    gw.limit_provider(&["--concurrency", "2", "--budget", "100"]);
    let base = gw.w.server.as_ref().unwrap().url.clone();
    gw.up.set(|k| k.latency = Duration::from_millis(1500));
    let flying: Vec<_> = (0..2)
        .map(|_| {
            let (base, key) = (base.clone(), gw.key.clone());
            thread::spawn(move || call(&base, &key))
        })
        .collect();
    gw.up.wait_for_requests(2, Duration::from_secs(10));
    // Out of memory under `noeviction`: Redis answers, but takes no write.
    let mut conn = redis_conn(&redis);
    let config = |conn: &mut redis::Connection, key: &str, value: &str| {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(key)
            .arg(value)
            .query::<()>(conn)
            .unwrap()
    };
    config(&mut conn, "maxmemory-policy", "noeviction");
    config(&mut conn, "maxmemory", "1");
    for t in flying {
        assert_eq!(t.join().unwrap().0, 200);
    }
    gw.up.set(|k| k.latency = Duration::ZERO);
    // The two holds are not released yet: a call is refused for them (429), or for
    // Redis (503); never admitted past the limit.
    let (status, text) = call(&base, &gw.key);
    assert!(status == 429 || status == 503, "{status} {text}");
    config(&mut conn, "maxmemory", "0");
    // The settlements were retried: both slots are free again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while redis_holds(&redis) > 0 || open_holds(pg, &url) > 0 {
        assert!(Instant::now() < deadline, "a settlement was given up");
        thread::sleep(Duration::from_millis(200));
    }
    gw.up.set(|k| k.latency = Duration::from_millis(500));
    let answers = spread(&[base], &gw.key, 2);
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    assert_counters_agree(&redis, pg, &url);
}

#[test]
fn replicas_with_and_without_redis_never_count_apart() {
    let Some((gw, _others, _pg, url)) = replicas(1, None) else {
        return;
    };
    let Some(redis) = servers::redis() else {
        return;
    };
    gw.limit_provider(&["--concurrency", "1"]);
    let base = gw.w.server.as_ref().unwrap().url.clone();
    assert_eq!(call(&base, &gw.key).0, 200);
    // A replica with Redis joins: the one without stops admitting, naming why.
    let redis_url = redis.url();
    let host = gw.up.host_port();
    let with = Server::start_on_postgres(
        gw.w.home.path(),
        &url,
        &[
            ("CATALOG_REDIS_URL", redis_url.as_str()),
            ("CATALOG_TRUSTED_CUSTOM_HOSTS", host.as_str()),
        ],
    );
    assert_eq!(call(&with.url, &gw.key).0, 200);
    let (status, text) = call(&base, &gw.key);
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("--redis-url"), "{text}");
    // And a replica without Redis is not let in beside it.
    let home = tempfile::tempdir().unwrap();
    let (code, err) = refused_serve(
        home.path(),
        &["--database-url", &url],
        &[("CATALOG_MASTER_KEY", crate::common::REPLICA_MASTER_KEY)],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("keep its admission counters in Redis"),
        "{err}"
    );
}

#[test]
fn a_postgresql_password_comes_from_pgpassword_and_a_refusal_is_an_authentication_error() {
    let Some(pg) = servers::postgres() else {
        return;
    };
    let url = pg.create_database();
    let role = servers::SECURED_ROLE;
    pg.psql(
        &url,
        &format!(
            "DO $$ BEGIN CREATE ROLE {role} LOGIN PASSWORD 'pw-secret-1';
             EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ),
    );
    let name = url.rsplit('/').next().unwrap();
    pg.psql(&url, &format!("ALTER DATABASE {name} OWNER TO {role}"));
    pg.psql(&url, &format!("ALTER SCHEMA public OWNER TO {role}"));
    let secured = format!("postgres://{role}@127.0.0.1:{}/{name}", pg.port());
    let home = tempfile::tempdir().unwrap();
    let run = |password: Option<&str>| {
        let mut env = vec![("CATALOG_MASTER_KEY", crate::common::REPLICA_MASTER_KEY)];
        env.extend(password.map(|p| ("PGPASSWORD", p)));
        refused_serve(home.path(), &["--database-url", &secured], &env)
    };
    for password in [None, Some("wrong")] {
        let (code, err) = run(password);
        assert_eq!(code, Some(3), "{err}");
        assert!(
            err.contains("PGPASSWORD") && !err.contains("pw-secret-1"),
            "{err}"
        );
    }
    let server = Server::start_on_postgres(home.path(), &secured, &[("PGPASSWORD", "pw-secret-1")]);
    assert!(!server.log().contains("pw-secret-1"));
    server.stop();

    // Else the password file, as libpq reads it: ~/.pgpass (or PGPASSFILE), the first
    // line that matches, and only when others may not read it.
    use std::os::unix::fs::PermissionsExt;
    let pgpass = home.path().join(".pgpass");
    let lines = format!(
        "# host:port:database:user:password\n\
         127.0.0.1:{}:{name}:someone-else:not-this\n\
         127.0.0.1:*:{name}:{role}:pw-secret-1\n\
         *:*:*:*:not-this-either\n",
        pg.port()
    );
    std::fs::write(&pgpass, &lines).unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, err) = run(None);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("chmod 600") && err.contains(".pgpass") && !err.contains("pw-secret-1"),
        "{err}"
    );
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    Server::start_on_postgres(home.path(), &secured, &[]).stop();
    // PGPASSWORD comes first, as with libpq.
    let (code, err) = run(Some("wrong"));
    assert_eq!(code, Some(3), "{err}");
    let elsewhere = home.path().join("elsewhere.pgpass");
    std::fs::rename(&pgpass, &elsewhere).unwrap();
    let file = elsewhere.display().to_string();
    Server::start_on_postgres(home.path(), &secured, &[("PGPASSFILE", file.as_str())]).stop();
    // With several hosts, the driver gives each the same password: the file's is used
    // only when it gives each host the same one, so no host gets another's.
    let port = pg.port();
    let two = format!("postgres://{role}@127.0.0.1:{port},localhost:{port}/{name}");
    let env = [
        ("CATALOG_MASTER_KEY", crate::common::REPLICA_MASTER_KEY),
        ("PGPASSFILE", file.as_str()),
    ];
    let (code, err) = refused_serve(home.path(), &["--database-url", &two], &env);
    assert_eq!(code, Some(3), "{err}");
    // An empty password is none: the file's is used.
    let empty = secured.replacen(&format!("{role}@"), &format!("{role}:@"), 1);
    Server::start_on_postgres(home.path(), &empty, &[("PGPASSFILE", file.as_str())]).stop();
}

#[test]
fn postgres_is_reached_over_tls_as_sslmode_asks() {
    let Some((pg, root)) = Postgres::start_tls() else {
        return;
    };
    let url = pg.create_database();
    let root = root.display().to_string();
    let on = |host: &str, query: &str| url.replacen("127.0.0.1", host, 1) + query;
    let key = [("CATALOG_MASTER_KEY", crate::common::REPLICA_MASTER_KEY)];
    let home = tempfile::tempdir().unwrap();
    let refused = |u: String| refused_serve(home.path(), &["--database-url", &u], &key);

    // The server takes no connection without TLS: the refusal says how to ask for it.
    let (code, err) = refused(on("127.0.0.1", "?sslmode=disable"));
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("no encryption") && err.contains("sslmode=verify-full&sslrootcert="),
        "{err}"
    );
    // A mode that checks the certificate needs root certificates to check it against.
    let (code, err) = refused(on("localhost", "?sslmode=verify-full"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("add sslrootcert=/path/to/root.crt"), "{err}");
    let (code, err) = refused(on("localhost", "?sslmode=verify-all"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`verify-all` is not one of"), "{err}");
    // verify-full checks the host's name: the certificate names localhost, not 127.0.0.1.
    let full = |host: &str| on(host, &format!("?sslmode=verify-full&sslrootcert={root}"));
    let (code, err) = refused(full("127.0.0.1"));
    assert_eq!(code, Some(6), "{err}");
    assert!(
        err.contains("certificate") && err.contains("check the URL's sslmode and sslrootcert"),
        "{err}"
    );
    // The server's own certificate is no root: it does not sign itself.
    let leaf = std::path::Path::new(&root).with_file_name("data/server.crt");
    let leaf = format!("?sslmode=verify-ca&sslrootcert={}", leaf.display());
    let (code, err) = refused(on("localhost", &leaf));
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("certificate"), "{err}");
    // Roots that did not sign it (the public ones) are refused in every checking mode.
    let (_, err) = refused(on("localhost", "?sslrootcert=system"));
    assert!(err.contains("UnknownIssuer"), "{err}");
    // ...which sign certificates for anyone's hosts: with them, only the full check.
    let (code, err) = refused(on("localhost", "?sslmode=verify-ca&sslrootcert=system"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("sslmode=verify-full only"), "{err}");
    // The query is where the driver reads it, after a password holding a `?`; and the
    // password is never shown.
    let secret = url.replacen("catalog@", "catalog:pa?ssSECRET@", 1);
    let (code, err) = refused(format!("{secret}?sslmode=disable"));
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("no encryption") && !err.contains("SECRET"),
        "{err}"
    );
    // A server that never answers is said, within the URL's connect_timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    thread::spawn(move || {
        let held: Vec<_> = silent.incoming().take(4).collect();
        thread::sleep(Duration::from_secs(60));
        drop(held);
    });
    let (code, err) = refused(format!(
        "postgres://catalog@127.0.0.1:{silent_port}/x?sslmode=require&connect_timeout=1"
    ));
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("did not answer within 1 s"), "{err}");

    // Each of these reaches it: the full check on the certificate's name, the chain
    // alone on another name, encryption without a check (require, and the default,
    // prefer), and the environment's PGSSLMODE and PGSSLROOTCERT.
    let ca = on(
        "127.0.0.1",
        &format!("?sslmode=verify-ca&sslrootcert={root}"),
    );
    // Over the Unix socket (in the root's directory) there is no TLS, whatever the mode.
    let dir = std::path::Path::new(&root)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let socket = format!(
        "postgres://catalog@{}:{}/test_0?sslmode=verify-full",
        dir.replace('/', "%2F"),
        pg.port()
    );
    let served = [
        (socket, vec![]),
        (full("localhost"), vec![]),
        (ca, vec![]),
        (on("127.0.0.1", "?sslmode=require"), vec![]),
        (on("127.0.0.1", ""), vec![]),
        (
            on("localhost", ""),
            vec![
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", root.as_str()),
            ],
        ),
    ];
    for (u, env) in served {
        let server = reached(home.path(), &u, &env);
        // The catalog's connections, open in its pool, are encrypted (over TCP).
        let connections = pg.psql(
            &pg.url("postgres"),
            "SELECT count(*) FILTER (WHERE ssl), count(*) FILTER (WHERE NOT ssl)
             FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE datname = 'test_0'",
        );
        let (encrypted, plain) = connections.split_once('|').unwrap();
        let (encrypted, plain) = (encrypted != "0", plain != "0");
        let over_socket = u.contains("%2F");
        assert!(
            encrypted != over_socket && plain == over_socket,
            "{u}: {connections}"
        );
        server.stop();
    }
}

/// A `catalog serve` on the PostgreSQL at `url`, once it answers the Admin API.
fn reached(home: &std::path::Path, url: &str, env: &[(&str, &str)]) -> Server {
    let server = Server::start_on_postgres(home, url, env);
    let reply = reqwest::blocking::Client::new()
        .get(format!("{}/admin/workspaces", server.url))
        .header("x-portkey-api-key", crate::common::ADMIN_KEY)
        .send()
        .unwrap();
    assert_eq!(reply.status(), 200, "{url}");
    server
}

#[test]
fn postgres_with_the_self_signed_certificate_of_its_documentation_is_reached_as_libpq_would() {
    // That certificate is its own root (a CA), and names localhost in its common name
    // only: the Web PKI alone refuses both.
    let Some((pg, root)) = Postgres::start_tls_self_signed() else {
        return;
    };
    let url = pg.create_database().replacen("127.0.0.1", "localhost", 1);
    let with = |query: String| format!("{url}?{query}");
    let checked = |mode: &str| with(format!("sslmode={mode}&sslrootcert={}", root.display()));
    let home = tempfile::tempdir().unwrap();
    let refused = |u: String| {
        let key = [("CATALOG_MASTER_KEY", crate::common::REPLICA_MASTER_KEY)];
        refused_serve(home.path(), &["--database-url", &u], &key)
    };
    // verify-full still checks the name: the certificate names localhost, not 127.0.0.1.
    let (code, err) = refused(checked("verify-full").replacen("localhost", "127.0.0.1", 1));
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("NotValidForName"), "{err}");
    // Roots that do not hold it (the public ones) refuse it as before.
    let (code, err) = refused(with("sslrootcert=system".to_owned()));
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("invalid peer certificate"), "{err}");
    let by_address = checked("verify-ca").replacen("localhost", "127.0.0.1", 1);
    for u in [checked("verify-full"), by_address, checked("require")] {
        reached(home.path(), &u, &[]).stop();
    }
}

#[test]
fn redis_is_reached_over_tls_with_the_roots_given() {
    let Some(pg) = servers::postgres() else {
        return;
    };
    let Some((redis, root)) = Redis::start_tls() else {
        return;
    };
    let url = pg.create_database();
    let home = tempfile::tempdir().unwrap();
    let key = [("CATALOG_MASTER_KEY", crate::common::REPLICA_MASTER_KEY)];
    let root = root.display().to_string();
    let refused = |args: &[&str]| {
        let all = [&["--database-url", url.as_str()][..], args].concat();
        refused_serve(home.path(), &all, &key)
    };
    // A certificate no public root signed: the refusal names the flag that fixes it.
    let (code, err) = refused(&["--redis-url", &redis.tls_url("localhost")]);
    assert_ne!(code, Some(0));
    assert!(err.contains("with --redis-ca-file FILE"), "{err}");
    // The certificate names localhost, not 127.0.0.1.
    let tls_ip = redis.tls_url("127.0.0.1");
    let (code, err) = refused(&["--redis-url", &tls_ip, "--redis-ca-file", &root]);
    assert_ne!(code, Some(0));
    assert!(err.contains("certificate"), "{err}");
    // TLS on one side only: the message says which side to change.
    let to_plain_port = format!("rediss://localhost:{}", redis.port());
    let (code, err) = refused(&["--redis-url", &to_plain_port, "--redis-ca-file", &root]);
    assert_eq!(code, Some(6), "{err}");
    assert!(
        err.contains("if it is Redis's plain port, write redis://"),
        "{err}"
    );
    let to_tls_port = redis
        .tls_url("localhost")
        .replacen("rediss://", "redis://", 1);
    let (code, err) = refused(&["--redis-url", &to_tls_port]);
    assert_eq!(code, Some(6), "{err}");
    assert!(
        err.contains("if that port is Redis's tls-port, write rediss://"),
        "{err}"
    );
    // Nothing listening has nothing to do with TLS.
    let closed = format!("redis://127.0.0.1:{}", servers::free_port());
    let (code, err) = refused(&["--redis-url", &closed]);
    assert_eq!(code, Some(6), "{err}");
    assert!(!err.contains("rediss://"), "{err}");
    // Roots are for TLS, and must be readable.
    let (code, err) = refused(&["--redis-url", &redis.url(), "--redis-ca-file", &root]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is not rediss://"), "{err}");
    let tls = redis.tls_url("localhost");
    let garbage = home.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let (code, err) = refused(&[
        "--redis-url",
        &tls,
        "--redis-ca-file",
        &garbage.display().to_string(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("holds no PEM certificate"), "{err}");
    let (code, err) = refused_serve(
        home.path(),
        &["--database-url", &url],
        &[key[0], ("CATALOG_REDIS_CA_FILE", root.as_str())],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("CATALOG_REDIS_CA_FILE") && err.contains("no --redis-url"),
        "{err}"
    );
    let (code, err) = refused(&["--redis-url", &tls, "--redis-ca-file", "/no/such/root.pem"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--redis-ca-file /no/such/root.pem cannot be read"),
        "{err}"
    );

    let server = Server::start_on_postgres(
        home.path(),
        &url,
        &[
            ("CATALOG_REDIS_URL", &tls),
            ("CATALOG_REDIS_CA_FILE", &root),
        ],
    );
    // The catalog seeded its counters in Redis, through the TLS port.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", redis.port())).unwrap();
    std::io::Write::write_all(&mut plain, b"DBSIZE\r\n").unwrap();
    let mut reply = [0u8; 16];
    let n = std::io::Read::read(&mut plain, &mut reply).unwrap();
    let keys = String::from_utf8_lossy(&reply[..n]);
    assert!(keys.starts_with(':') && keys.trim() != ":0", "{keys}");
    server.stop();
}
