//! The store's contract, written against the `Store` traits only: every backend runs
//! this same suite (`backends()` lists them).

use std::sync::{Arc, Barrier};
use std::thread;

use catalog::api::configs::{Config, ConfigVersion};
use catalog::api::integration::Integration;
use catalog::api::limits::UsageLimits;
use catalog::api::provider::Provider;
use catalog::api::provisioning::WorkspaceAccess;
use catalog::api::usage::UsageState;
use catalog::api::virtual_key::VirtualKey;
use catalog::api::workspace::Workspace;
use catalog::store::postgres::PgStore;
use catalog::store::redis::RedisCounters;
use catalog::store::sqlite::SqliteStore;
use catalog::store::{
    AccessRecord, Admission, AlertKind, AlertOutbox, AlertQuery, AlertWebhook, ConfigQuery,
    DeliveryAttempt, Gauge, HoldEntry, IntegrationRecord, Page, ProviderRecord, Store, StoreError,
    Unit, UsageScope, VirtualKeyRecord, WorkspaceQuery, BUDGET,
};

/// A fresh, empty store of each backend, with what keeps it alive: SQLite, and
/// PostgreSQL, without and with Redis, when their servers can be started (always under
/// CI).
fn backends() -> Vec<(Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("catalog.db")).unwrap();
    let mut out: Vec<(Arc<dyn Store>, tempfile::TempDir)> = vec![(Arc::new(sqlite), dir)];
    if let Some(pg) = crate::servers::postgres() {
        let store = PgStore::open(&pg.create_database()).unwrap();
        out.push((Arc::new(store), tempfile::tempdir().unwrap()));
        // PostgreSQL with the admission counters in Redis.
        if let Some(redis) = crate::servers::shared_redis() {
            let store = PgStore::open(&pg.create_database()).unwrap();
            let counters =
                RedisCounters::connect(&redis.url(), None, &store.redis_namespace().unwrap())
                    .unwrap();
            let store = store.with_shared_counters(counters).unwrap();
            out.push((Arc::new(store), tempfile::tempdir().unwrap()));
        }
    }
    out
}

fn workspace(slug: &str) -> Workspace {
    Workspace {
        id: format!("id-{slug}"),
        slug: slug.to_owned(),
        name: slug.to_owned(),
        ..Default::default()
    }
}

fn integration(slug: &str) -> IntegrationRecord {
    IntegrationRecord {
        public: Integration {
            id: format!("id-{slug}"),
            slug: slug.to_owned(),
            name: slug.to_owned(),
            ai_provider_id: "openai".to_owned(),
            ..Default::default()
        },
        sealed_secrets: vec![1, 2, 3],
    }
}

fn provider(slug: &str, ws: &str, integ: &str) -> ProviderRecord {
    ProviderRecord {
        public: Provider {
            id: format!("id-{ws}-{slug}"),
            slug: slug.to_owned(),
            workspace_id: Some(format!("id-{ws}")),
            integration_id: integ.to_owned(),
            ..Default::default()
        },
        integration_uuid: format!("id-{integ}"),
        revoked: false,
    }
}

fn config(slug: &str, ws: &str) -> (Config, ConfigVersion) {
    let version = ConfigVersion {
        id: format!("v1-{slug}"),
        config_id: format!("id-{slug}"),
        version: 1,
        config: r#"{"provider":"@a"}"#.to_owned(),
        ..Default::default()
    };
    let config = Config {
        id: format!("id-{slug}"),
        slug: slug.to_owned(),
        name: slug.to_owned(),
        workspace_id: Some(format!("id-{ws}")),
        version_id: version.id.clone(),
        config: version.config.clone(),
        ..Default::default()
    };
    (config, version)
}

#[test]
fn configs_keep_their_versions_newest_first_and_go_with_their_workspace() {
    for (store, _dir) in backends() {
        let mut tx = store.begin().unwrap();
        tx.insert_workspace(&workspace("eng")).unwrap();
        tx.insert_workspace(&workspace("research")).unwrap();
        let (a, a1) = config("pc-a-000001", "eng");
        tx.insert_config(&a, &a1).unwrap();
        let (b, b1) = config("pc-b-000002", "research");
        tx.insert_config(&b, &b1).unwrap();
        // Slugs are unique across workspaces; the transaction stays usable.
        let (mut dup, dup1) = config("pc-a-000001", "research");
        dup.id = "other".into();
        assert!(matches!(
            tx.insert_config(
                &dup,
                &ConfigVersion {
                    id: "v-other".into(),
                    config_id: "other".into(),
                    ..dup1
                }
            ),
            Err(StoreError::Conflict(_))
        ));
        let v2 = ConfigVersion {
            id: "v2-a".into(),
            config_id: a.id.clone(),
            version: 2,
            config: r#"{"provider":"@b"}"#.into(),
            ..Default::default()
        };
        tx.insert_config_version(&v2).unwrap();
        tx.save_config(&Config {
            version_id: v2.id.clone(),
            config: v2.config.clone(),
            ..a.clone()
        })
        .unwrap();
        tx.commit().unwrap();

        let mut db = store.read().unwrap();
        let got = db.config("pc-a-000001").unwrap().unwrap();
        assert_eq!(
            (got.version_id.as_str(), got.config.as_str()),
            ("v2-a", r#"{"provider":"@b"}"#)
        );
        assert_eq!(
            db.config("id-pc-a-000001").unwrap().unwrap().slug,
            "pc-a-000001",
            "by id too"
        );
        let versions: Vec<String> = db
            .config_versions(&a.id)
            .unwrap()
            .into_iter()
            .map(|v| v.id)
            .collect();
        assert_eq!(versions, ["v2-a", "v1-pc-a-000001"]);
        let eng = ConfigQuery {
            workspace_id: Some("id-eng".into()),
            page: Page::default(),
        };
        assert_eq!(db.configs(&eng).unwrap().0, 1);
        assert_eq!(db.configs(&ConfigQuery::default()).unwrap().0, 2);
        assert_eq!(
            db.workspace_dependents("id-eng").unwrap().configs,
            vec!["pc-a-000001"]
        );
        drop(db);

        let mut tx = store.begin().unwrap();
        tx.delete_workspace("id-eng").unwrap();
        tx.delete_config(&b.id).unwrap();
        assert!(matches!(
            tx.delete_config(&b.id),
            Err(StoreError::NotFound(_))
        ));
        tx.commit().unwrap();
        let mut db = store.read().unwrap();
        assert!(
            db.config("pc-a-000001").unwrap().is_none(),
            "configs go with their workspace"
        );
        assert!(
            db.config_versions(&a.id).unwrap().is_empty(),
            "and their versions"
        );
        assert!(db.config_versions(&b.id).unwrap().is_empty());
        assert_eq!(db.configs(&ConfigQuery::default()).unwrap().0, 0);
    }
}

#[test]
fn a_dropped_transaction_leaves_nothing_and_a_committed_one_everything() {
    for (store, _dir) in backends() {
        {
            let mut tx = store.begin().unwrap();
            tx.insert_workspace(&workspace("gone")).unwrap();
            assert!(
                tx.workspace("gone").unwrap().is_some(),
                "a transaction reads its own writes"
            );
        }
        assert!(store.read().unwrap().workspace("gone").unwrap().is_none());
        // A snapshot taken before a commit does not see it; one taken after does.
        let mut before = store.read().unwrap();
        assert_eq!(before.workspaces(&WorkspaceQuery::default()).unwrap().0, 0);
        let mut tx = store.begin().unwrap();
        tx.insert_workspace(&workspace("kept")).unwrap();
        tx.commit().unwrap();
        assert!(
            before.workspace("kept").unwrap().is_none(),
            "snapshot isolation"
        );
        drop(before);
        assert!(store.read().unwrap().workspace("kept").unwrap().is_some());
    }
}

#[test]
fn conflicts_are_reported_and_leave_the_transaction_usable() {
    for (store, _dir) in backends() {
        let mut tx = store.begin().unwrap();
        tx.insert_workspace(&workspace("eng")).unwrap();
        let mut again = workspace("eng");
        again.id = "other-id".into();
        assert!(matches!(
            tx.insert_workspace(&again),
            Err(StoreError::Conflict(_))
        ));
        tx.insert_integration(&integration("openai-prod")).unwrap();
        assert!(matches!(
            tx.insert_integration(&IntegrationRecord {
                public: Integration {
                    id: "x".into(),
                    ..integration("openai-prod").public
                },
                sealed_secrets: vec![],
            }),
            Err(StoreError::Conflict(_))
        ));
        tx.insert_provider(&provider("team", "eng", "openai-prod"))
            .unwrap();
        // A slug taken within one table is a conflict (the namespace providers and virtual
        // keys share is the domain's rule: `domain::slugs`).
        let vk = VirtualKeyRecord {
            public: VirtualKey {
                id: "vk-1".into(),
                slug: "legacy".into(),
                workspace_id: Some("id-eng".into()),
                ..Default::default()
            },
            sealed_secrets: vec![],
        };
        tx.insert_virtual_key(&vk).unwrap();
        let again = VirtualKeyRecord {
            public: VirtualKey {
                id: "vk-2".into(),
                ..vk.public.clone()
            },
            sealed_secrets: vec![],
        };
        assert!(matches!(
            tx.insert_virtual_key(&again),
            Err(StoreError::Conflict(_))
        ));
        tx.commit().unwrap();
        let mut db = store.read().unwrap();
        assert_eq!(db.providers(None, None).unwrap().len(), 1);
        assert_eq!(db.virtual_keys(None).unwrap().len(), 1);
        // Saving something that is not there is not found.
        drop(db);
        let mut tx = store.begin().unwrap();
        assert!(matches!(
            tx.save_workspace(&workspace("nobody")),
            Err(StoreError::NotFound(_))
        ));
    }
}

#[test]
fn lists_page_in_insertion_order_with_totals() {
    for (store, _dir) in backends() {
        let mut tx = store.begin().unwrap();
        for i in 0..25 {
            tx.insert_workspace(&workspace(&format!("ws-{i:02}")))
                .unwrap();
        }
        tx.commit().unwrap();
        let mut db = store.read().unwrap();
        let page = |n| WorkspaceQuery {
            page: Page {
                current_page: n,
                page_size: 10,
            },
            ..Default::default()
        };
        let (total, first) = db.workspaces(&page(0)).unwrap();
        assert_eq!((total, first.len()), (25, 10));
        assert_eq!(first[0].slug, "ws-00");
        let (_, last) = db.workspaces(&page(2)).unwrap();
        assert_eq!(last.len(), 5);
        assert_eq!(last[4].slug, "ws-24");
        let named = db
            .workspaces(&WorkspaceQuery {
                exact_name: Some("ws-07".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(named.0, 1);
    }
}

#[test]
fn deleting_a_workspace_takes_what_belongs_to_it_and_its_counters() {
    for (store, _dir) in backends() {
        let access = UsageScope::Access {
            integration_id: "id-openai-prod".into(),
            workspace_id: "id-eng".into(),
        };
        let p = provider("team", "eng", "openai-prod");
        let mut tx = store.begin().unwrap();
        tx.insert_workspace(&workspace("eng")).unwrap();
        tx.insert_integration(&integration("openai-prod")).unwrap();
        tx.save_access(&AccessRecord {
            integration_id: "id-openai-prod".into(),
            workspace_id: "id-eng".into(),
            access: WorkspaceAccess {
                enabled: true,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        tx.insert_provider(&p).unwrap();
        let used = |n: f64| UsageState {
            current_usage: n,
            window_started_at: Some("2026-11-01T00:00:00.000Z".into()),
            ..Default::default()
        };
        tx.set_usage(&access, BUDGET, Some((&used(5.0), Unit::NanoUsd)))
            .unwrap();
        tx.set_usage(
            &UsageScope::Provider(p.public.id.clone()),
            BUDGET,
            Some((&used(2.0), Unit::NanoUsd)),
        )
        .unwrap();
        tx.commit().unwrap();
        let mut db = store.read().unwrap();
        assert_eq!(
            db.workspace_dependents("id-eng").unwrap().providers,
            vec!["team"]
        );
        assert_eq!(
            db.access("id-openai-prod", "id-eng")
                .unwrap()
                .unwrap()
                .usage
                .unwrap()
                .current_usage,
            5.0
        );
        drop(db);
        let mut tx = store.begin().unwrap();
        tx.delete_workspace("id-eng").unwrap();
        tx.commit().unwrap();
        let mut db = store.read().unwrap();
        assert!(db.providers(None, None).unwrap().is_empty());
        assert!(db.accesses(None, None).unwrap().is_empty());
        assert!(
            db.usage(&access, BUDGET).unwrap().is_none(),
            "counters go with their scope"
        );
        assert!(db
            .usage(&UsageScope::Provider(p.public.id), BUDGET)
            .unwrap()
            .is_none());
        assert!(
            db.integration("openai-prod").unwrap().is_some(),
            "organisation integrations stay"
        );
    }
}

fn budget_entry(scope: &UsageScope, limit_usd: f64, amount_usd: f64) -> HoldEntry {
    let unit = Unit::NanoUsd;
    HoldEntry {
        scope: scope.clone(),
        limit: BUDGET.into(),
        unit,
        gauge: Gauge::Budget {
            limits: UsageLimits {
                alert_threshold: Some(limit_usd / 2.0),
                ..UsageLimits::cost(limit_usd)
            },
            ceiling: unit.units(limit_usd),
            alert: Some(unit.units(limit_usd / 2.0)),
        },
        amount: unit.units(amount_usd),
        level: "provider".into(),
        name: "@p1".into(),
        slot: None,
    }
}

fn hold_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[test]
fn holds_are_exact_under_concurrency_and_settle_once() {
    for (store, _dir) in backends() {
        let scope = UsageScope::Provider("p1".into());
        let now = chrono::Utc::now();
        let first = hold_id();
        assert_eq!(
            store
                .admit(&first, &[budget_entry(&scope, 10.0, 3.5)], now)
                .unwrap(),
            Admission::Admitted
        );
        store
            .settle(&first, &[Unit::NanoUsd.units(3.5)], now)
            .unwrap();
        // Settling again changes nothing.
        store
            .settle(&first, &[Unit::NanoUsd.units(3.5)], now)
            .unwrap();
        // 8 threads race 5 holds of $1 each against $10 with $3.50 used: exactly 6 fit.
        let barrier = Arc::new(Barrier::new(8));
        let admitted: Vec<String> = (0..8)
            .map(|_| {
                let (store, barrier, scope) = (store.clone(), barrier.clone(), scope.clone());
                thread::spawn(move || {
                    barrier.wait();
                    (0..5)
                        .filter_map(|_| {
                            let id = hold_id();
                            let a = store
                                .admit(&id, &[budget_entry(&scope, 10.0, 1.0)], chrono::Utc::now())
                                .unwrap();
                            (a == Admission::Admitted).then_some(id)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(
            admitted.len(),
            6,
            "3.5 used + 6 held fits in 10; a seventh would not"
        );
        // A refusal while holds are out says that settled usage alone leaves room.
        match store
            .admit(&hold_id(), &[budget_entry(&scope, 10.0, 1.0)], now)
            .unwrap()
        {
            Admission::Refused(r) => assert!(r.held_out, "{r:?}"),
            a => panic!("{a:?}"),
        }
        for id in &admitted {
            store
                .settle(id, &[Unit::NanoUsd.units(0.25)], chrono::Utc::now())
                .unwrap();
        }
        let usage = store
            .read()
            .unwrap()
            .usage(&scope, BUDGET)
            .unwrap()
            .unwrap();
        assert_eq!(usage.current_usage, 5.0, "3.5 + 6 × 0.25, exactly");
        let (total, alerts) = store
            .read()
            .unwrap()
            .alerts(&AlertQuery::default())
            .unwrap();
        assert_eq!(
            (total, alerts.len()),
            (1, 1),
            "the $5 threshold was crossed once: {alerts:?}"
        );
        assert_eq!(alerts[0].event.kind, AlertKind::Threshold);
        // A new window: set, then removed.
        let mut tx = store.begin().unwrap();
        let fresh = UsageState {
            current_usage: 0.0,
            window_started_at: Some("2026-12-01T00:00:00.000Z".into()),
            ..Default::default()
        };
        tx.set_usage(&scope, BUDGET, Some((&fresh, Unit::NanoUsd)))
            .unwrap();
        tx.commit().unwrap();
        let usage = store
            .read()
            .unwrap()
            .usage(&scope, BUDGET)
            .unwrap()
            .unwrap();
        assert_eq!(usage.current_usage, 0.0);
        assert_eq!(
            usage.window_started_at.as_deref(),
            Some("2026-12-01T00:00:00.000Z")
        );
        let mut tx = store.begin().unwrap();
        tx.set_usage(&scope, BUDGET, None).unwrap();
        tx.commit().unwrap();
        assert!(store
            .read()
            .unwrap()
            .usage(&scope, BUDGET)
            .unwrap()
            .is_none());
    }
}

fn webhook(id: &str) -> AlertWebhook {
    AlertWebhook {
        id: id.to_owned(),
        origin: format!("https://{id}.example.com"),
    }
}

fn spend(store: &dyn Store, scope: &UsageScope, usd: f64, now: chrono::DateTime<chrono::Utc>) {
    let id = hold_id();
    let admitted = store
        .admit(&id, &[budget_entry(scope, 10.0, usd)], now)
        .unwrap();
    assert_eq!(admitted, Admission::Admitted);
    store.settle(&id, &[Unit::NanoUsd.units(usd)], now).unwrap();
}

fn alert_list(store: &dyn Store, query: AlertQuery) -> Vec<catalog::store::Alert> {
    store.read().unwrap().alerts(&query).unwrap().1
}

#[test]
fn the_alert_outbox_delivers_each_alert_once_to_each_webhook() {
    for (store, _dir) in backends() {
        let store = &*store;
        let scope = UsageScope::Provider("p1".into());
        let now = chrono::Utc::now();
        let ab = ["a".to_owned(), "b".to_owned()];
        assert_eq!(
            store
                .configure_alert_webhooks(&[webhook("a"), webhook("b")], &|_| true, now)
                .unwrap(),
            0
        );
        spend(store, &scope, 6.0, now);
        let outbox = store.read().unwrap().alert_outbox(&ab).unwrap();
        assert_eq!(
            outbox,
            AlertOutbox {
                unseen: true,
                next_due: None
            }
        );
        let new = store.take_new_alerts(&ab, now).unwrap();
        assert_eq!(new.len(), 1, "{new:?}");
        assert_eq!(new[0].kind, AlertKind::Threshold);
        assert!(
            store.take_new_alerts(&ab, now).unwrap().is_empty(),
            "seen once"
        );
        let outbox = store.read().unwrap().alert_outbox(&ab).unwrap();
        assert!(!outbox.unseen);
        assert!(outbox.next_due.is_some_and(|t| t <= now), "{outbox:?}");

        // Each webhook's delivery is claimed once; a claim is nobody else's meanwhile.
        let lease = std::time::Duration::from_secs(30);
        let claimed = store.claim_alert_deliveries(&ab, now, lease, 10).unwrap();
        assert_eq!(claimed.len(), 2, "{claimed:?}");
        assert!(store
            .claim_alert_deliveries(&ab, now, lease, 10)
            .unwrap()
            .is_empty());
        let id = new[0].id;
        assert_eq!(
            store
                .record_alert_delivery(id, "a", &DeliveryAttempt::Delivered, now)
                .unwrap(),
            1
        );
        let retry_at = now + chrono::Duration::seconds(1);
        let failed = DeliveryAttempt::Failed {
            error: "HTTP 503".into(),
            retry_at,
        };
        assert_eq!(
            store.record_alert_delivery(id, "b", &failed, now).unwrap(),
            1
        );
        let alert = &alert_list(store, AlertQuery::default())[0];
        assert!(!alert.delivered, "{alert:?}");
        assert_eq!(alert.attempts, 2);
        let b = alert.deliveries.iter().find(|d| d.webhook == "b").unwrap();
        assert_eq!(b.last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(b.origin, "https://b.example.com");
        assert!(b.next_attempt_at.is_some());

        // Only the failed one comes back, and only once it is due.
        let outbox = store.read().unwrap().alert_outbox(&ab).unwrap();
        assert!(outbox.next_due.is_some_and(|t| t > now), "{outbox:?}");
        assert!(store
            .claim_alert_deliveries(&ab, now, lease, 10)
            .unwrap()
            .is_empty());
        let later = now + chrono::Duration::seconds(2);
        let again = store.claim_alert_deliveries(&ab, later, lease, 10).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].webhook.as_str(), again[0].attempts), ("b", 1));
        store
            .record_alert_delivery(id, "b", &DeliveryAttempt::Delivered, later)
            .unwrap();
        assert_eq!(
            store
                .record_alert_delivery(id, "a", &DeliveryAttempt::Delivered, later)
                .unwrap(),
            0,
            "a delivered alert is not delivered again"
        );
        let alert = &alert_list(store, AlertQuery::default())[0];
        assert!(alert.delivered && alert.delivered_at.is_some(), "{alert:?}");
        assert_eq!(alert.attempts, 3);
        let delivered = |d: bool| AlertQuery {
            delivered: Some(d),
            ..Default::default()
        };
        assert_eq!(alert_list(store, delivered(true)).len(), 1);
        assert_eq!(alert_list(store, delivered(false)).len(), 0);
        let limits = AlertQuery {
            kind: Some(AlertKind::Limit),
            ..Default::default()
        };
        assert!(alert_list(store, limits).is_empty());
        let since = AlertQuery {
            since: Some(now + chrono::Duration::hours(1)),
            ..Default::default()
        };
        assert!(alert_list(store, since).is_empty());

        // A webhook configured later gets the alerts of the current window...
        let abc = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let queued = store
            .configure_alert_webhooks(
                &[webhook("a"), webhook("b"), webhook("c")],
                &|_| true,
                later,
            )
            .unwrap();
        assert_eq!(queued, 1);
        assert!(!alert_list(store, AlertQuery::default())[0].delivered);
        let for_c = store
            .claim_alert_deliveries(&abc, later, lease, 10)
            .unwrap();
        assert_eq!(for_c.len(), 1);
        assert_eq!(for_c[0].webhook, "c");
        // A claim whose process is gone (a crash mid-attempt) is due again at the next start.
        assert!(store
            .claim_alert_deliveries(&abc, later, lease, 10)
            .unwrap()
            .is_empty());
        store
            .configure_alert_webhooks(&[webhook("c")], &|_| true, later)
            .unwrap();
        assert!(store
            .claim_alert_deliveries(&abc, later, lease, 10)
            .unwrap()
            .is_empty());
        store
            .configure_alert_webhooks(&[webhook("c")], &|_| false, later)
            .unwrap();
        let again = store
            .claim_alert_deliveries(&abc, later, lease, 10)
            .unwrap();
        assert_eq!((again.len(), again[0].webhook.as_str()), (1, "c"));
        // ... but not those of windows that are over.
        let mut tx = store.begin().unwrap();
        let fresh = UsageState {
            window_started_at: Some("2099-01-01T00:00:00.000Z".into()),
            ..Default::default()
        };
        tx.set_usage(&scope, BUDGET, Some((&fresh, Unit::NanoUsd)))
            .unwrap();
        tx.commit().unwrap();
        assert_eq!(
            store
                .configure_alert_webhooks(&[webhook("d")], &|_| true, later)
                .unwrap(),
            0
        );

        // With no webhook, an alert is still picked up (and listed), never delivered.
        let other = UsageScope::Provider("p2".into());
        spend(store, &other, 10.0, now);
        let new = store.take_new_alerts(&[], now).unwrap();
        assert_eq!(new.len(), 2, "threshold and limit: {new:?}");
        let (total, listed) = store
            .read()
            .unwrap()
            .alerts(&AlertQuery {
                page: Page {
                    current_page: 0,
                    page_size: 2,
                },
                ..Default::default()
            })
            .unwrap();
        assert_eq!(total, 3);
        assert!(listed[0].event.id > listed[1].event.id, "newest first");
        assert!(listed
            .iter()
            .all(|a| !a.delivered && a.deliveries.is_empty()));
    }
}

#[test]
fn a_hold_is_all_or_nothing_across_levels() {
    for (store, _dir) in backends() {
        let (a, b) = (
            UsageScope::Workspace("w1".into()),
            UsageScope::Provider("p1".into()),
        );
        let now = chrono::Utc::now();
        let id = hold_id();
        let entries = [budget_entry(&a, 10.0, 4.0), budget_entry(&b, 5.0, 4.0)];
        assert_eq!(
            store.admit(&id, &entries, now).unwrap(),
            Admission::Admitted
        );
        store
            .settle(
                &id,
                &[Unit::NanoUsd.units(4.0), Unit::NanoUsd.units(4.0)],
                now,
            )
            .unwrap();
        // The provider has $1 left: a $2 hold is refused there, and the workspace,
        // checked first and with room, holds nothing either.
        match store
            .admit(
                &hold_id(),
                &entries.map(|mut e| {
                    e.amount = Unit::NanoUsd.units(2.0);
                    e
                }),
                now,
            )
            .unwrap()
        {
            Admission::Refused(r) => {
                assert_eq!(r.index, 1);
                assert!(!r.held_out);
                assert_eq!(r.headroom, Unit::NanoUsd.units(1.0));
            }
            x => panic!("{x:?}"),
        }
        let counters = store.read().unwrap().counters(&[]).unwrap();
        assert!(counters.iter().all(|c| c.held == 0), "{counters:?}");
        // The refusal marked the provider's window exhausted and raised its limit alert.
        assert!(
            store
                .read()
                .unwrap()
                .usage(&b, BUDGET)
                .unwrap()
                .unwrap()
                .exhausted
        );
        let (_, alerts) = store
            .read()
            .unwrap()
            .alerts(&AlertQuery::default())
            .unwrap();
        assert!(
            alerts
                .iter()
                .any(|x| x.event.kind == AlertKind::Limit && x.event.scope == b.key()),
            "{alerts:?}"
        );
    }
}

#[test]
fn rate_slots_and_concurrency_count_and_release() {
    for (store, _dir) in backends() {
        let scope = UsageScope::ApiKey("k1".into());
        let period_ms = 60_000;
        let rate = HoldEntry {
            scope: scope.clone(),
            limit: "rate/requests/rpm".into(),
            unit: Unit::Requests,
            gauge: Gauge::Rate {
                period_ms,
                slot_ms: 1_000,
                ceiling: 3,
            },
            amount: 1,
            level: "api_key".into(),
            name: "k1".into(),
            slot: None,
        };
        let flight = HoldEntry {
            limit: "concurrency".into(),
            gauge: Gauge::Concurrency { ceiling: 2 },
            ..rate.clone()
        };
        let now = chrono::Utc::now();
        let ids: Vec<String> = (0..3).map(|_| hold_id()).collect();
        assert_eq!(
            store
                .admit(&ids[0], &[rate.clone(), flight.clone()], now)
                .unwrap(),
            Admission::Admitted
        );
        assert_eq!(
            store
                .admit(&ids[1], &[rate.clone(), flight.clone()], now)
                .unwrap(),
            Admission::Admitted
        );
        // Two in flight: the third is refused on concurrency, taking no rate slot.
        assert!(
            matches!(store.admit(&ids[2], &[rate.clone(), flight.clone()], now).unwrap(), Admission::Refused(r) if r.index == 1)
        );
        store.settle(&ids[0], &[1, 0], now).unwrap();
        assert_eq!(
            store
                .admit(&ids[2], &[rate.clone(), flight.clone()], now)
                .unwrap(),
            Admission::Admitted
        );
        // Three requests this minute: the fourth waits until the first slot drops out.
        match store
            .admit(&hold_id(), std::slice::from_ref(&rate), now)
            .unwrap()
        {
            Admission::Refused(r) => {
                let wait = r.retry_after.unwrap();
                assert!(
                    wait > std::time::Duration::from_secs(59)
                        && wait <= std::time::Duration::from_secs(62),
                    "{wait:?}"
                );
            }
            a => panic!("{a:?}"),
        }
        let later = now + chrono::Duration::seconds(62);
        assert_eq!(
            store
                .admit(&hold_id(), std::slice::from_ref(&rate), later)
                .unwrap(),
            Admission::Admitted
        );
    }
}

#[test]
fn holds_of_a_crashed_process_are_settled_in_full() {
    for (store, _dir) in backends() {
        let scope = UsageScope::Provider("p1".into());
        let now = chrono::Utc::now();
        let id = hold_id();
        store
            .admit(&id, &[budget_entry(&scope, 10.0, 2.0)], now)
            .unwrap();
        // This process is alive: nothing to recover.
        assert_eq!(store.recover_holds(&|_| true).unwrap(), 0);
        assert_eq!(store.recover_holds(&|_| false).unwrap(), 1);
        let usage = store
            .read()
            .unwrap()
            .usage(&scope, BUDGET)
            .unwrap()
            .unwrap();
        assert_eq!(usage.current_usage, 2.0, "the whole hold is charged");
        // A settlement arriving after recovery changes nothing.
        store.settle(&id, &[0], now).unwrap();
        let usage = store
            .read()
            .unwrap()
            .usage(&scope, BUDGET)
            .unwrap()
            .unwrap();
        assert_eq!(usage.current_usage, 2.0);
    }
}

/// Everything a hold can change, as it stands: counters, rate slots, alerts, open holds.
#[derive(Debug, PartialEq)]
struct LedgerState {
    counters: Vec<catalog::store::CounterState>,
    slots: Vec<(String, String, i64, i64)>,
    alerts: usize,
    holds: i64,
}

fn ledger_state(store: &dyn Store, db: &std::path::Path) -> LedgerState {
    let counters = store.read().unwrap().counters(&[]).unwrap();
    let alerts = store
        .read()
        .unwrap()
        .alerts(&catalog::store::AlertQuery::default())
        .unwrap()
        .0 as usize;
    let conn = rusqlite::Connection::open(db).unwrap();
    let slots = conn
        .prepare("SELECT scope, limit_key, slot, amount FROM rate_slots ORDER BY 1, 2, 3")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let holds = conn
        .query_row("SELECT count(*) FROM holds", [], |r| r.get(0))
        .unwrap();
    LedgerState {
        counters,
        slots,
        alerts,
        holds,
    }
}

#[test]
fn a_probe_answers_as_admission_would_and_changes_nothing() {
    let (store, dir) = backends().remove(0);
    let db = dir.path().join("catalog.db");
    let now = chrono::Utc::now();
    let provider = UsageScope::Provider("p1".into());
    // $4 settled and $1 in flight of $10; two requests this minute on a key.
    let settled = hold_id();
    store
        .admit(&settled, &[budget_entry(&provider, 10.0, 4.0)], now)
        .unwrap();
    store
        .settle(&settled, &[Unit::NanoUsd.units(4.0)], now)
        .unwrap();
    store
        .admit(&hold_id(), &[budget_entry(&provider, 10.0, 1.0)], now)
        .unwrap();
    let rate = HoldEntry {
        scope: UsageScope::ApiKey("k1".into()),
        limit: "rate/requests/rpm".into(),
        unit: Unit::Requests,
        gauge: Gauge::Rate {
            period_ms: 60_000,
            slot_ms: 1_000,
            ceiling: 3,
        },
        amount: 1,
        level: "api_key".into(),
        name: "k1".into(),
        slot: None,
    };
    for _ in 0..2 {
        let id = hold_id();
        store.admit(&id, std::slice::from_ref(&rate), now).unwrap();
        store.settle(&id, &[1], now).unwrap();
    }
    // A weekly budget whose window ended long ago: admission would roll it.
    let old = UsageScope::Workspace("w1".into());
    let mut tx = store.begin().unwrap();
    let stale = UsageState {
        current_usage: 7.0,
        window_started_at: Some("2020-01-06T00:00:00.000Z".into()),
        ..Default::default()
    };
    tx.set_usage(&old, BUDGET, Some((&stale, Unit::NanoUsd)))
        .unwrap();
    tx.commit().unwrap();
    let mut weekly = budget_entry(&old, 10.0, 1.0);
    if let Gauge::Budget { limits, .. } = &mut weekly.gauge {
        limits.periodic_reset = Some(catalog::api::limits::PeriodicReset::Weekly);
    }
    let before = ledger_state(&*store, &db);

    // What fits is admitted, with the rate limit's last request and the rolled window.
    let fits = [
        budget_entry(&provider, 10.0, 1.0),
        rate.clone(),
        weekly.clone(),
    ];
    assert_eq!(store.probe(&fits, now).unwrap(), Admission::Admitted);
    // $7 more does not fit in the $5 left: refused where admission refuses, with the same
    // headroom; admission would also mark the window exhausted and raise an alert.
    let over = [budget_entry(&provider, 10.0, 7.0), rate.clone()];
    match store.probe(&over, now).unwrap() {
        Admission::Refused(r) => {
            assert_eq!((r.index, r.held_out), (0, false));
            assert_eq!(r.headroom, Unit::NanoUsd.units(5.0));
        }
        a => panic!("{a:?}"),
    }
    assert_eq!(
        ledger_state(&*store, &db),
        before,
        "a probe holds, rolls, marks and raises nothing"
    );
    assert!(
        !store
            .read()
            .unwrap()
            .usage(&provider, BUDGET)
            .unwrap()
            .unwrap()
            .exhausted
    );

    // The same refusal by admission does change the ledger: the probe had something to
    // leave alone.
    assert!(matches!(
        store.admit(&hold_id(), &over, now).unwrap(),
        Admission::Refused(_)
    ));
    assert_ne!(ledger_state(&*store, &db), before);
    assert_eq!(
        store.admit(&hold_id(), &fits, now).unwrap(),
        Admission::Admitted
    );
    assert_ne!(ledger_state(&*store, &db).counters, before.counters);
}

/// Takes a catalog back to before the admission ledger (schema 8) and the audit log.
const LEDGER_TABLES: &str = "DROP TABLE audit_log; DROP TABLE policies;
     DROP TRIGGER integrations_sealed_insert; DROP TRIGGER integrations_sealed_update;
     DROP TRIGGER integration_models_sealed_insert; DROP TRIGGER integration_models_sealed_update;
     DROP TRIGGER virtual_keys_sealed_insert; DROP TRIGGER virtual_keys_sealed_update;
     DROP TRIGGER access_counters; DROP TRIGGER provider_counters;
     DROP TRIGGER virtual_key_counters; DROP TRIGGER integration_counters;
     DROP TRIGGER workspace_counters; DROP TRIGGER api_key_counters;
     DROP TABLE counters; DROP TABLE rate_slots; DROP TABLE holds;
     DROP TABLE alert_deliveries; DROP TABLE alert_webhooks; DROP TABLE alerts;";

#[test]
fn sqlite_upgrade_keeps_usage_exact_in_whole_units() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        let mut tx = store.begin().unwrap();
        tx.insert_workspace(&workspace("eng")).unwrap();
        tx.insert_integration(&integration("openai-prod")).unwrap();
        tx.save_access(&AccessRecord {
            integration_id: "id-openai-prod".into(),
            workspace_id: "id-eng".into(),
            access: WorkspaceAccess {
                enabled: true,
                usage_limits: Some(vec![UsageLimits {
                    kind: catalog::api::limits::BudgetType::Tokens,
                    ..UsageLimits::cost(1000.0)
                }]),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let mut p = provider("team", "eng", "openai-prod");
        p.public.usage_limits = Some(UsageLimits::cost(10.0));
        tx.insert_provider(&p).unwrap();
        tx.commit().unwrap();
    }
    // Schema 7 counted in floating-point dollars or tokens.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(LEDGER_TABLES).unwrap();
    conn.execute_batch(
        "CREATE TABLE usage_counters (scope TEXT NOT NULL, limit_key TEXT NOT NULL,
            used REAL NOT NULL DEFAULT 0, held REAL NOT NULL DEFAULT 0,
            window_started_at TEXT, last_reset_at TEXT, PRIMARY KEY (scope, limit_key));
         CREATE TRIGGER access_counters AFTER DELETE ON integration_workspaces BEGIN SELECT 1; END;
         CREATE TRIGGER provider_counters AFTER DELETE ON providers BEGIN SELECT 1; END;
         CREATE TRIGGER virtual_key_counters AFTER DELETE ON virtual_keys BEGIN SELECT 1; END;
         INSERT INTO usage_counters VALUES ('access/id-openai-prod/id-eng', 'budget', 420, 0, '2026-11-01T00:00:00.000Z', NULL);
         INSERT INTO usage_counters SELECT 'provider/' || id, 'budget', 3.25, 0, '2026-11-01T00:00:00.000Z', NULL FROM providers;
         PRAGMA user_version = 7;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let mut db = store.read().unwrap();
    let access = db.access("id-openai-prod", "id-eng").unwrap().unwrap();
    assert_eq!(
        access.usage.unwrap().current_usage,
        420.0,
        "tokens stay tokens"
    );
    let p = db.provider("id-eng", "team").unwrap().unwrap();
    assert_eq!(
        p.public.usage.unwrap().current_usage,
        3.25,
        "dollars stay dollars"
    );
    let scales: Vec<(String, i64, i64)> = db
        .counters(&[])
        .unwrap()
        .into_iter()
        .map(|c| (c.scope[..6].to_owned(), c.unit_scale, c.used))
        .collect();
    assert_eq!(
        scales,
        [
            ("access".to_owned(), 1, 420),
            ("provid".to_owned(), 1_000_000_000, 3_250_000_000)
        ]
    );
}

#[test]
fn sqlite_upgrade_moves_usage_out_of_documents_into_counters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        let mut tx = store.begin().unwrap();
        tx.insert_workspace(&workspace("eng")).unwrap();
        tx.insert_integration(&integration("openai-prod")).unwrap();
        tx.save_access(&AccessRecord {
            integration_id: "id-openai-prod".into(),
            workspace_id: "id-eng".into(),
            access: WorkspaceAccess {
                enabled: true,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        tx.insert_provider(&provider("team", "eng", "openai-prod"))
            .unwrap();
        tx.commit().unwrap();
    }
    // The catalog as the previous schema kept it: usage inside the JSON documents.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(LEDGER_TABLES).unwrap();
    conn.execute_batch(
        "DROP TABLE config_versions; DROP TABLE configs;
         UPDATE integration_workspaces SET doc = json_set(doc, '$.usage', json('{\"current_usage\": 12.5, \"window_started_at\": \"2026-11-01T00:00:00.000Z\"}'));
         UPDATE providers SET doc = json_set(doc, '$.usage', json('{\"current_usage\": 3.25, \"last_reset_at\": \"2026-11-02T00:00:00.000Z\"}'));
         PRAGMA user_version = 5;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let mut db = store.read().unwrap();
    assert_eq!(
        db.configs(&ConfigQuery::default()).unwrap().0,
        0,
        "the upgrade adds the configs tables"
    );
    let access = db.access("id-openai-prod", "id-eng").unwrap().unwrap();
    let usage = access.usage.unwrap();
    assert_eq!(usage.current_usage, 12.5);
    assert_eq!(
        usage.window_started_at.as_deref(),
        Some("2026-11-01T00:00:00.000Z")
    );
    let p = db.provider("id-eng", "team").unwrap().unwrap();
    assert_eq!(
        p.public.usage.unwrap().last_reset_at.as_deref(),
        Some("2026-11-02T00:00:00.000Z")
    );
    drop(db);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let in_docs: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM providers WHERE json_type(doc, '$.usage') IS NOT NULL)
                  + (SELECT count(*) FROM integration_workspaces WHERE json_type(doc, '$.usage') IS NOT NULL)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(in_docs, 0, "no document holds usage any more");
}

#[test]
fn a_budget_window_rolls_over_at_its_reset() {
    for (store, _dir) in backends() {
        let scope = UsageScope::Provider("p1".into());
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        let weekly = |amount: f64| {
            let mut e = budget_entry(&scope, 10.0, amount);
            if let Gauge::Budget { limits, .. } = &mut e.gauge {
                limits.periodic_reset = Some(catalog::api::limits::PeriodicReset::Weekly);
            }
            e
        };
        // Sunday noon: $9 of $10 spent.
        let sunday = at("2026-11-22T12:00:00Z");
        let id = hold_id();
        assert_eq!(
            store.admit(&id, &[weekly(9.0)], sunday).unwrap(),
            Admission::Admitted
        );
        store
            .settle(&id, &[Unit::NanoUsd.units(9.0)], sunday)
            .unwrap();
        match store.admit(&hold_id(), &[weekly(2.0)], sunday).unwrap() {
            Admission::Refused(r) => {
                assert!(!r.held_out);
                assert_eq!(
                    r.retry_after,
                    Some(std::time::Duration::from_secs(12 * 3600)),
                    "the budget resets at Monday 00:00 UTC"
                );
            }
            a => panic!("{a:?}"),
        }
        // Monday: a new window, the week's usage starts from zero.
        let monday = at("2026-11-23T00:00:01Z");
        let id = hold_id();
        assert_eq!(
            store.admit(&id, &[weekly(2.0)], monday).unwrap(),
            Admission::Admitted
        );
        store
            .settle(&id, &[Unit::NanoUsd.units(2.0)], monday)
            .unwrap();
        let usage = store
            .read()
            .unwrap()
            .usage(&scope, BUDGET)
            .unwrap()
            .unwrap();
        assert_eq!(usage.current_usage, 2.0);
        assert_eq!(
            usage.window_started_at.as_deref(),
            Some("2026-11-23T00:00:00.000Z")
        );
        assert!(!usage.exhausted, "a new window is not exhausted");
    }
}

fn audited(route: &str, method: &str) -> catalog::domain::audit::AuditContext {
    catalog::domain::audit::AuditContext {
        actor: catalog::api::audit::AuditActor::embedded(),
        method: method.to_owned(),
        path: format!("/v1{route}"),
        route: route.to_owned(),
        request_id: "req-1".to_owned(),
    }
}

#[test]
fn an_audited_transaction_records_its_writes_on_commit_and_nothing_on_rollback() {
    for (store, _dir) in backends() {
        let count = || {
            store
                .read()
                .unwrap()
                .audit_records(&catalog::store::AuditQuery::default())
                .unwrap()
                .0
        };
        // Dropped after writing: neither the change nor a record.
        let mut tx = store.begin().unwrap();
        tx.audit(audited("/admin/workspaces", "POST"));
        tx.insert_workspace(&workspace("eng")).unwrap();
        drop(tx);
        assert_eq!(count(), 0);
        assert!(store.read().unwrap().workspace("eng").unwrap().is_none());
        // Not audited: no record.
        let mut tx = store.begin().unwrap();
        tx.insert_workspace(&workspace("eng")).unwrap();
        tx.commit().unwrap();
        assert_eq!(count(), 0);
        // Audited: one record for every write of the transaction, secrets as changed.
        let mut tx = store.begin().unwrap();
        tx.audit(audited("/integrations", "POST"));
        tx.insert_integration(&integration("openai-prod")).unwrap();
        let mut renamed = workspace("eng");
        renamed.name = "Engineering".into();
        tx.save_workspace(&renamed).unwrap();
        tx.commit().unwrap();
        let (total, records) = store
            .read()
            .unwrap()
            .audit_records(&catalog::store::AuditQuery::default())
            .unwrap();
        assert_eq!(total, 1);
        let r = &records[0];
        assert_eq!(
            (r.action.as_str(), r.resource_type.as_str()),
            ("create", "integration")
        );
        assert_eq!(r.resource_slug.as_deref(), Some("openai-prod"));
        assert_eq!(r.changes.len(), 2);
        assert!(r.changes[0]
            .fields
            .iter()
            .any(|f| f.field == "credentials" && f.secret));
        let name = r.changes[1]
            .fields
            .iter()
            .find(|f| f.field == "name")
            .unwrap();
        assert_eq!(
            (name.before.as_str(), name.after.as_str()),
            (Some("eng"), Some("Engineering"))
        );
        assert_eq!(
            store.read().unwrap().audit_record(r.id).unwrap().as_ref(),
            Some(r)
        );
    }
}

#[test]
fn postgres_migrates_from_empty_and_from_every_earlier_schema_once() {
    let Some(pg) = crate::servers::postgres() else {
        return;
    };
    let url = pg.create_database();
    let versions = || {
        pg.psql(
            &url,
            "SELECT string_agg(CAST(version AS TEXT), ',' ORDER BY version) FROM catalog_schema",
        )
        .trim()
        .to_owned()
    };
    // An empty database, five replicas starting at once: one schema, one organisation.
    let barrier = Arc::new(Barrier::new(5));
    let organisations: Vec<String> = (0..5)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                PgStore::open(&url).unwrap().organisation_id().to_owned()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(
        organisations.iter().all(|o| *o == organisations[0]),
        "{organisations:?}"
    );
    assert_eq!(versions(), "1,2,3");
    // A catalog at schema 1 gets schemas 2 and 3 on its next start, and admits with them.
    pg.psql(
        &url,
        "DELETE FROM catalog_schema WHERE version >= 2; DROP FUNCTION catalog_lock_scopes(TEXT);
         DELETE FROM meta WHERE key = 'catalog_version'",
    );
    assert_eq!(versions(), "1");
    let store = PgStore::open(&url).unwrap();
    assert_eq!(versions(), "1,2,3");
    assert!(!store.catalog_version().unwrap().is_empty());
    let scope = UsageScope::Provider("p1".into());
    let now = chrono::Utc::now();
    assert_eq!(
        store
            .admit(&hold_id(), &[budget_entry(&scope, 10.0, 1.0)], now)
            .unwrap(),
        Admission::Admitted
    );
    assert_eq!(store.organisation_id(), organisations[0]);
    drop(store);
    // A schema this build does not know is refused, and left as it is.
    pg.psql(&url, "INSERT INTO catalog_schema(version) VALUES (4)");
    let err = PgStore::open(&url)
        .err()
        .expect("a newer schema is refused");
    assert!(format!("{err:#}").contains("newer catalog"), "{err:#}");
    assert_eq!(versions(), "1,2,3,4");
}

#[test]
fn counters_named_with_any_characters_hold_and_settle_exactly() {
    for (store, _dir) in backends() {
        // A policy's value key is the caller's metadata: tabs, newlines, `|`, quotes,
        // braces and JSON-looking text included.
        let policy = UsageScope::Policy {
            policy_id: "pol1".into(),
            value_key: "user_id=1\tz\n\"}]|b|budget{x}".into(),
        };
        let provider = UsageScope::Provider("p1".into());
        let rate = HoldEntry {
            scope: provider.clone(),
            limit: "rate/requests/rpm".into(),
            unit: Unit::Requests,
            gauge: Gauge::Rate {
                period_ms: 60_000,
                slot_ms: 1_000,
                ceiling: 100,
            },
            amount: 1,
            level: "provider".into(),
            name: "@p1".into(),
            slot: None,
        };
        let now = chrono::Utc::now();
        let id = hold_id();
        let entries = [budget_entry(&policy, 10.0, 2.0), rate.clone()];
        assert_eq!(
            store.admit(&id, &entries, now).unwrap(),
            Admission::Admitted
        );
        store
            .settle(&id, &[Unit::NanoUsd.units(0.5), 1], now)
            .unwrap();
        let mut db = store.read().unwrap();
        let used = db.usage(&policy, BUDGET).unwrap().unwrap().current_usage;
        assert_eq!(used, 0.5, "the policy's counter");
        let counters = db.counters(&[]).unwrap();
        assert!(counters.iter().all(|c| c.held == 0), "{counters:?}");
        drop(db);
        // The rate limit counted one request, no more: 99 more fit, the 100th does not.
        let more: Vec<HoldEntry> = vec![HoldEntry {
            amount: 99,
            ..rate.clone()
        }];
        assert_eq!(store.probe(&more, now).unwrap(), Admission::Admitted);
        let over: Vec<HoldEntry> = vec![HoldEntry {
            amount: 100,
            ..rate.clone()
        }];
        assert!(matches!(
            store.probe(&over, now).unwrap(),
            Admission::Refused(_)
        ));
    }
}
