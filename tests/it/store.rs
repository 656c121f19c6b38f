//! The store's contract, written against the `Store` traits only: every backend runs
//! this same suite (`backends()` lists them).

use std::sync::{Arc, Barrier};
use std::thread;

use catalog::api::configs::{Config, ConfigVersion};
use catalog::api::integration::Integration;
use catalog::api::provider::Provider;
use catalog::api::provisioning::WorkspaceAccess;
use catalog::api::usage::UsageState;
use catalog::api::virtual_key::VirtualKey;
use catalog::api::workspace::Workspace;
use catalog::store::sqlite::SqliteStore;
use catalog::store::{
    AccessRecord, ConfigQuery, IntegrationRecord, Page, ProviderRecord, Store, StoreError,
    UsageScope, VirtualKeyRecord, WorkspaceQuery, BUDGET,
};

/// A fresh, empty store of each backend, with what keeps it alive.
fn backends() -> Vec<(Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("catalog.db")).unwrap();
    vec![(Arc::new(sqlite), dir)]
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
        tx.charge(&access, BUDGET, 5.0).unwrap();
        tx.charge(&UsageScope::Provider(p.public.id.clone()), BUDGET, 2.0)
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

#[test]
fn counters_charge_hold_and_settle_exactly_under_concurrency() {
    for (store, _dir) in backends() {
        let scope = UsageScope::Provider("p1".into());
        let mut tx = store.begin().unwrap();
        assert_eq!(tx.charge(&scope, BUDGET, 1.5).unwrap(), 1.5);
        assert_eq!(tx.charge(&scope, BUDGET, 2.0).unwrap(), 3.5);
        tx.commit().unwrap();
        // 8 threads race 5 holds of 1 each against a ceiling of 10: exactly 6.5 fit.
        let barrier = Arc::new(Barrier::new(8));
        let admitted: usize = (0..8)
            .map(|_| {
                let (store, barrier, scope) = (store.clone(), barrier.clone(), scope.clone());
                thread::spawn(move || {
                    barrier.wait();
                    (0..5)
                        .filter(|_| {
                            let mut tx = store.begin().unwrap();
                            let ok = tx.hold(&scope, BUDGET, 1.0, 10.0).unwrap();
                            tx.commit().unwrap();
                            ok
                        })
                        .count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(
            admitted, 6,
            "3.5 used + 6 held fits in 10; a seventh would not"
        );
        // Settling releases what was held and charges what was used.
        let mut tx = store.begin().unwrap();
        for _ in 0..6 {
            tx.settle(&scope, BUDGET, 1.0, 0.25).unwrap();
        }
        assert!(
            tx.hold(&scope, BUDGET, 5.0, 10.0).unwrap(),
            "5 used + 5 held fits again"
        );
        tx.commit().unwrap();
        let usage = store
            .read()
            .unwrap()
            .usage(&scope, BUDGET)
            .unwrap()
            .unwrap();
        assert_eq!(usage.current_usage, 5.0);
        // A new window: set, then removed.
        let mut tx = store.begin().unwrap();
        let fresh = UsageState {
            current_usage: 0.0,
            window_started_at: Some("2026-12-01T00:00:00.000Z".into()),
            ..Default::default()
        };
        tx.set_usage(&scope, BUDGET, Some(&fresh)).unwrap();
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
    conn.execute_batch(
        "DROP TRIGGER access_counters; DROP TRIGGER provider_counters; DROP TRIGGER virtual_key_counters;
         DROP TABLE usage_counters;
         DROP TABLE config_versions; DROP TABLE configs;
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
