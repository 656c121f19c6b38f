//! The admission journal of a catalog file (`catalog.db-ledger`): several processes
//! (here, several opened stores: each has its own descriptor, lock and memory) admit
//! exactly on one file; what a killed process left is written by the next one to open
//! the file, never twice; a line cut short is skipped without losing the next one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;

use catalog::api::limits::UsageLimits;
use catalog::store::sqlite::SqliteStore;
use catalog::store::{Admission, Gauge, HoldEntry, Store, Unit, UsageScope, BUDGET};

fn entry(limit_usd: f64, amount_usd: f64) -> HoldEntry {
    entry_on("p1", limit_usd, amount_usd)
}

/// A hold of `amount_usd` on provider `p`'s budget of `limit_usd`.
fn entry_on(p: &str, limit_usd: f64, amount_usd: f64) -> HoldEntry {
    let unit = Unit::NanoUsd;
    HoldEntry {
        scope: UsageScope::Provider(p.into()),
        limit: BUDGET.into(),
        unit,
        gauge: Gauge::Budget {
            limits: UsageLimits::cost(limit_usd),
            ceiling: unit.units(limit_usd),
            alert: None,
        },
        amount: unit.units(amount_usd),
        level: "provider".into(),
        name: format!("@{p}"),
        slot: None,
    }
}

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn used(store: &dyn Store) -> f64 {
    used_on(store, "p1")
}

fn used_on(store: &dyn Store, p: &str) -> f64 {
    store
        .read()
        .unwrap()
        .usage(&UsageScope::Provider(p.into()), BUDGET)
        .unwrap()
        .map_or(0.0, |u| u.current_usage)
}

/// Open holds as the ledger's table has them, read around the store.
fn hold_rows(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT count(*) FROM holds", [], |r| r.get(0))
        .unwrap()
}

fn journal_of(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-ledger");
    PathBuf::from(p)
}

fn admit(store: &dyn Store, hold: &str, e: HoldEntry) -> Admission {
    store.admit(hold, &[e], chrono::Utc::now()).unwrap()
}

#[test]
fn stores_sharing_a_file_admit_exactly_and_see_each_others_charges() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let stores: Vec<Arc<dyn Store>> = (0..3)
        .map(|_| Arc::new(SqliteStore::open(&db).unwrap()) as Arc<dyn Store>)
        .collect();
    // 3 stores × 4 threads race holds of $1 against $25: exactly 25 fit.
    let barrier = Arc::new(Barrier::new(12));
    let admitted: Vec<(usize, String)> = (0..12)
        .map(|t| {
            let (store, barrier) = (stores[t % 3].clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                (0..10)
                    .filter_map(|_| {
                        let hold = id();
                        (admit(&*store, &hold, entry(25.0, 1.0)) == Admission::Admitted)
                            .then_some((t % 3, hold))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(admitted.len(), 25, "$25 of $1 holds, across three stores");
    // Each settles its own holds at $0.50; every store reads the same $12.50.
    for (s, hold) in &admitted {
        stores[*s]
            .settle(hold, &[Unit::NanoUsd.units(0.5)], chrono::Utc::now())
            .unwrap();
    }
    for store in &stores {
        assert_eq!(used(&**store), 12.5);
    }
    assert_eq!(hold_rows(&db), 0);
    // $12.50 left: 12 more holds of $1 fit, wherever they are asked.
    let more = (0..15)
        .filter(|i| admit(&*stores[i % 3], &id(), entry(25.0, 1.0)) == Admission::Admitted)
        .count();
    assert_eq!(more, 12);
}

/// A process that held $2 and settled it at $1.50, held $3 more, and was killed: nothing
/// it kept in memory is written (no flush, no drop).
fn killed_after_two_holds(db: &Path) {
    let killed = SqliteStore::open(db).unwrap();
    let (settled, open) = (id(), id());
    assert_eq!(
        admit(&killed, &settled, entry(10.0, 2.0)),
        Admission::Admitted
    );
    killed
        .settle(&settled, &[Unit::NanoUsd.units(1.5)], chrono::Utc::now())
        .unwrap();
    assert_eq!(admit(&killed, &open, entry(10.0, 3.0)), Admission::Admitted);
    std::mem::forget(killed);
}

#[test]
fn what_a_killed_process_left_is_written_once_by_the_next_to_open_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    killed_after_two_holds(&db);
    let journal = std::fs::read(journal_of(&db)).unwrap();
    assert!(!journal.is_empty());

    let next = SqliteStore::open(&db).unwrap();
    assert_eq!(used(&next), 1.5, "the settled charge survived");
    assert_eq!(hold_rows(&db), 1, "the open hold is in the ledger");
    // The same journal written back (its process died between the flush's commit and
    // starting a new journal) is not counted again.
    drop(next);
    std::fs::write(journal_of(&db), &journal).unwrap();
    let again = SqliteStore::open(&db).unwrap();
    assert_eq!(used(&again), 1.5);
    assert_eq!(hold_rows(&db), 1);
    // The open hold's process is gone: it is charged in full, never forgiven.
    assert_eq!(again.recover_holds(&|_| false).unwrap(), 1);
    assert_eq!(used(&again), 4.5);
    // Only $5.50 is left.
    assert!(matches!(
        admit(&again, &id(), entry(10.0, 6.0)),
        Admission::Refused(_)
    ));
    assert_eq!(admit(&again, &id(), entry(10.0, 5.5)), Admission::Admitted);
}

#[test]
fn a_line_cut_short_is_skipped_and_the_next_one_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(admit(&store, &id(), entry(10.0, 1.0)), Admission::Admitted);
    // A process killed in the middle of a line.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(journal_of(&db))
        .unwrap();
    f.write_all(br#"{"op":"hold","id":"cut-"#).unwrap();
    drop(f);
    assert_eq!(admit(&store, &id(), entry(10.0, 2.0)), Admission::Admitted);
    std::mem::forget(store);
    let next = SqliteStore::open(&db).unwrap();
    assert_eq!(hold_rows(&db), 2, "both holds, nothing of the cut line");
    assert_eq!(next.recover_holds(&|_| false).unwrap(), 2);
    assert_eq!(used(&next), 3.0);
}

#[test]
fn a_journal_of_another_catalog_is_never_applied() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let store = SqliteStore::open(&a).unwrap();
    let hold = id();
    assert_eq!(admit(&store, &hold, entry(10.0, 2.0)), Admission::Admitted);
    store
        .settle(&hold, &[Unit::NanoUsd.units(2.0)], chrono::Utc::now())
        .unwrap();
    let left = std::fs::read(journal_of(&a)).unwrap();
    std::mem::forget(store);
    // Another catalog, with `a`'s journal copied beside it.
    drop(SqliteStore::open(&b).unwrap());
    std::fs::write(journal_of(&b), &left).unwrap();
    let other = SqliteStore::open(&b).unwrap();
    assert_eq!(used(&other), 0.0);
    assert_eq!(hold_rows(&b), 0);
    // `a` still has its own.
    assert_eq!(used(&SqliteStore::open(&a).unwrap()), 2.0);
}

#[test]
fn a_usage_reset_by_another_store_applies_to_the_next_hold() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let (server, cli) = (
        SqliteStore::open(&db).unwrap(),
        SqliteStore::open(&db).unwrap(),
    );
    let spent = id();
    assert_eq!(
        admit(&server, &spent, entry(10.0, 6.0)),
        Admission::Admitted
    );
    server
        .settle(&spent, &[Unit::NanoUsd.units(6.0)], chrono::Utc::now())
        .unwrap();
    assert!(matches!(
        admit(&server, &id(), entry(10.0, 5.0)),
        Admission::Refused(_)
    ));
    // The other store resets the budget: a new window with nothing used.
    let fresh = catalog::api::usage::UsageState {
        current_usage: 0.0,
        window_started_at: Some(catalog::api::usage::timestamp(chrono::Utc::now())),
        ..Default::default()
    };
    let mut tx = cli.begin().unwrap();
    tx.set_usage(
        &UsageScope::Provider("p1".into()),
        BUDGET,
        Some((&fresh, Unit::NanoUsd)),
    )
    .unwrap();
    tx.commit().unwrap();
    // The settlement made before the reset is not counted again after it.
    assert_eq!(
        admit(&server, &id(), entry(10.0, 10.0)),
        Admission::Admitted
    );
    assert_eq!(used(&cli), 0.0);
}

/// The journal's lines of operation `op`, parsed.
fn lines_of(db: &Path, op: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(journal_of(db))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["op"] == op)
        .collect()
}

#[test]
fn a_hold_names_its_entries_by_number_each_defined_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let (one, other) = (
        SqliteStore::open(&db).unwrap(),
        SqliteStore::open(&db).unwrap(),
    );
    for store in [&one, &other, &one] {
        assert_eq!(admit(store, &id(), entry(10.0, 1.0)), Admission::Admitted);
    }
    // The limit changed: a new entry, for the holds after it.
    assert_eq!(admit(&other, &id(), entry(20.0, 1.0)), Admission::Admitted);
    let (entries, held) = (lines_of(&db, "entry"), lines_of(&db, "held"));
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["n"], 0);
    assert_eq!(entries[1]["n"], 1);
    let named: Vec<u64> = held
        .iter()
        .map(|h| h["entries"][0][0].as_u64().unwrap())
        .collect();
    assert_eq!(named, [0, 0, 0, 1]);
    // Either store reads the other's holds through the entries it defined.
    assert!(matches!(
        admit(&one, &id(), entry(20.0, 16.5)),
        Admission::Refused(_)
    ));
    assert_eq!(admit(&one, &id(), entry(20.0, 16.0)), Admission::Admitted);
}

#[test]
fn a_journal_an_earlier_version_left_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    killed_after_two_holds(&db);
    // The same journal as the first format wrote it: each hold with its entries spelled
    // out, no entry lines.
    let text = std::fs::read_to_string(journal_of(&db)).unwrap();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .replace("catalog-ledger v2", "catalog-ledger v1");
    let mut defined = Vec::new();
    let mut v1 = vec![header];
    for line in lines {
        let mut l: serde_json::Value = serde_json::from_str(line).unwrap();
        match l["op"].as_str().unwrap() {
            "entry" => defined.push(l["entry"].clone()),
            "held" => {
                let entries: Vec<serde_json::Value> = l["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| {
                        let mut full = defined[e[0].as_u64().unwrap() as usize].clone();
                        full["amount"] = e[1].clone();
                        if !e[2].is_null() {
                            full["slot"] = e[2].clone();
                        }
                        full
                    })
                    .collect();
                l["op"] = "hold".into();
                l["entries"] = entries.into();
                v1.push(l.to_string());
            }
            _ => v1.push(line.to_owned()),
        }
    }
    assert_eq!(defined.len(), 1);
    std::fs::write(journal_of(&db), v1.join("\n") + "\n").unwrap();

    let next = SqliteStore::open(&db).unwrap();
    assert_eq!(used(&next), 1.5, "the settled charge survived");
    assert_eq!(hold_rows(&db), 1, "the open hold is in the ledger");
    assert_eq!(next.recover_holds(&|_| false).unwrap(), 1);
    assert_eq!(used(&next), 4.5);
    // What is written now is the new format.
    assert_eq!(admit(&next, &id(), entry(10.0, 1.0)), Admission::Admitted);
    let now = std::fs::read_to_string(journal_of(&db)).unwrap();
    assert!(now.starts_with("catalog-ledger v2 "), "{now}");
}

#[test]
fn a_line_cut_just_before_its_newline_is_skipped_by_every_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let killed = SqliteStore::open(&db).unwrap();
    assert_eq!(
        admit(&killed, &id(), entry_on("p1", 10.0, 2.0)),
        Admission::Admitted
    );
    std::mem::forget(killed);
    // Killed after writing its entry line but its newline: what is left is JSON.
    let text = std::fs::read_to_string(journal_of(&db)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].contains(r#""op":"entry""#), "{text}");
    std::fs::write(journal_of(&db), lines[..2].join("\n")).unwrap();
    // The next process defines its own entry 0 (p2): every process must read it so.
    let next = SqliteStore::open(&db).unwrap();
    let held = id();
    assert_eq!(
        admit(&next, &held, entry_on("p2", 10.0, 9.0)),
        Admission::Admitted
    );
    let other = SqliteStore::open(&db).unwrap();
    assert!(
        matches!(
            admit(&other, &id(), entry_on("p2", 10.0, 5.0)),
            Admission::Refused(_)
        ),
        "$9 of $10 is held on p2"
    );
    std::mem::forget(next);
    std::mem::forget(other);
    let last = SqliteStore::open(&db).unwrap();
    assert_eq!(last.recover_holds(&|_| false).unwrap(), 1);
    assert_eq!(used_on(&last, "p1"), 0.0, "the cut hold was never admitted");
    assert_eq!(used_on(&last, "p2"), 9.0);
}

#[test]
fn a_journal_of_the_first_format_is_started_anew_in_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    drop(SqliteStore::open(&db).unwrap());
    let empty = std::fs::read_to_string(journal_of(&db)).unwrap();
    std::fs::write(
        journal_of(&db),
        empty.replace("catalog-ledger v2", "catalog-ledger v1"),
    )
    .unwrap();
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(admit(&store, &id(), entry(10.0, 2.0)), Admission::Admitted);
    let now = std::fs::read_to_string(journal_of(&db)).unwrap();
    assert!(now.starts_with("catalog-ledger v2 "), "{now}");
}
