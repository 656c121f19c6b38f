//! What exact admission costs, without HTTP: one hold and one settlement of a request
//! limited at all five levels (API key, workspace, integration, access, provider: 5
//! budgets, 4 request rates, 2 concurrency limits), on a SQLite catalog in a temporary
//! directory. Prints p50/p99 of hold, settle and both, one thread and several; asserts
//! nothing about them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog::admission::demand::Demand;
use catalog::admission::price::Prices;
use catalog::admission::{self, Level, LevelKind, Used};
use catalog::api::limits::{RateLimit, RateLimitType, RateUnit, UsageLimits};
use catalog::store::sqlite::SqliteStore;
use catalog::store::{Admission, Store, UsageScope};

fn levels() -> Vec<Level> {
    let rate = RateLimit {
        kind: RateLimitType::Requests,
        unit: RateUnit::Rpm,
        value: 1_000_000_000,
    };
    let level = |scope, kind, concurrency| Level {
        scope,
        kind,
        name: format!("{kind:?}"),
        budgets: vec![UsageLimits::cost(1e9)],
        rates: if kind == LevelKind::Integration {
            Vec::new()
        } else {
            vec![rate.clone()]
        },
        concurrency,
    };
    vec![
        level(UsageScope::ApiKey("k".into()), LevelKind::ApiKey, None),
        level(
            UsageScope::Workspace("w".into()),
            LevelKind::Workspace,
            None,
        ),
        level(
            UsageScope::Integration("i".into()),
            LevelKind::Integration,
            None,
        ),
        level(
            UsageScope::Access {
                integration_id: "i".into(),
                workspace_id: "w".into(),
            },
            LevelKind::Access,
            Some(1_000_000),
        ),
        level(
            UsageScope::Provider("p".into()),
            LevelKind::Provider,
            Some(1_000_000),
        ),
    ]
}

fn at(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)].as_secs_f64() * 1e6
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("catalog.db")).unwrap());
    let prices = Prices {
        input: 150_000,
        output: 600_000,
        cached_input: 75_000,
    };
    let demand = Demand {
        input_tokens: 100,
        output_tokens: 16,
    };
    let entries = admission::plan(&levels(), demand, Some(prices)).unwrap();
    let used = Used {
        input_tokens: 20,
        cached_tokens: 0,
        output_tokens: 16,
    };
    let amounts = admission::settlement(&entries, used, Some(prices));
    println!("{} entries per hold", entries.len());
    let one = |store: &Arc<dyn Store>| {
        let id = uuid::Uuid::new_v4().to_string();
        let t0 = Instant::now();
        let a = store.admit(&id, &entries, chrono::Utc::now()).unwrap();
        assert_eq!(a, Admission::Admitted);
        let t1 = Instant::now();
        store.settle(&id, &amounts, chrono::Utc::now()).unwrap();
        (t1 - t0, t1.elapsed())
    };
    for _ in 0..500 {
        one(&store);
    }
    let one_thread = |label: &str| {
        let (mut hold, mut settle, mut both) = (Vec::new(), Vec::new(), Vec::new());
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            let (h, s) = one(&store);
            hold.push(h);
            settle.push(s);
            both.push(h + s);
        }
        let n = both.len();
        println!(
            "{label}: {n} requests in 3 s   hold p50 {:.1} us p99 {:.1} us   settle p50 {:.1} us p99 {:.1} us   both p50 {:.1} us p99 {:.1} us",
            at(&mut hold, 0.5),
            at(&mut hold, 0.99),
            at(&mut settle, 0.5),
            at(&mut settle, 0.99),
            at(&mut both, 0.5),
            at(&mut both, 0.99),
        );
    };
    one_thread("1 thread");
    for threads in [2, 8] {
        let start = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let store = store.clone();
                let entries = entries.clone();
                let amounts = amounts.clone();
                std::thread::spawn(move || {
                    let mut times = Vec::new();
                    while start.elapsed() < Duration::from_secs(3) {
                        let id = uuid::Uuid::new_v4().to_string();
                        let t0 = Instant::now();
                        store.admit(&id, &entries, chrono::Utc::now()).unwrap();
                        store.settle(&id, &amounts, chrono::Utc::now()).unwrap();
                        times.push(t0.elapsed());
                    }
                    times
                })
            })
            .collect();
        let mut all: Vec<Duration> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        println!(
            "{threads} threads: {:.0} requests/s   hold+settle p50 {:.1} us p99 {:.1} us",
            all.len() as f64 / 3.0,
            at(&mut all, 0.5),
            at(&mut all, 0.99),
        );
    }
    // A catalog with many API keys: each has counters and rate slots of its own, and a
    // request still reads and writes only its own levels' rows.
    let others = levels()[..1].to_vec();
    for i in 0..10_000 {
        let mut level = others[0].clone();
        level.scope = UsageScope::ApiKey(format!("other-{i}"));
        let entries = admission::plan(&[level], demand, Some(prices)).unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        store.admit(&id, &entries, chrono::Utc::now()).unwrap();
        let amounts = admission::settlement(&entries, used, Some(prices));
        store.settle(&id, &amounts, chrono::Utc::now()).unwrap();
    }
    one_thread("1 thread, 10,000 other API keys counted");
}
