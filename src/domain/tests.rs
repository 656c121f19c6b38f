//! The domain's rules, tested over a real store and without HTTP.

use chrono::Utc;

use super::error::DomainError;
use super::provisioning::{grant, revoke, Grant};
use super::slugs::{ensure_free_in_workspace, Claimant};
use super::status::Status;
use crate::api::integration::Integration;
use crate::api::limits::{ConcurrencyLimit, RateLimit, RateLimitType, RateUnit, UsageLimits};
use crate::api::virtual_key::VirtualKey;
use crate::api::workspace::Workspace;
use crate::store::sqlite::SqliteStore;
use crate::store::{IntegrationRecord, Store, StoreTx, VirtualKeyRecord};

/// A store with workspace `eng` and organisation integration `openai-prod`.
fn catalog() -> (
    crate::store::sql::SqlStore,
    Workspace,
    IntegrationRecord,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.db")).unwrap();
    let ws = Workspace {
        id: "id-eng".into(),
        slug: "eng".into(),
        name: "Engineering".into(),
        ..Default::default()
    };
    let integration = IntegrationRecord {
        public: Integration {
            id: "id-openai-prod".into(),
            slug: "openai-prod".into(),
            name: "OpenAI".into(),
            ai_provider_id: "openai".into(),
            ..Default::default()
        },
        sealed_secrets: vec![],
    };
    let mut tx = store.begin().unwrap();
    tx.insert_workspace(&ws).unwrap();
    tx.insert_integration(&integration).unwrap();
    tx.commit().unwrap();
    (store, ws, integration, dir)
}

fn plain_grant() -> Grant {
    Grant {
        usage_limits: None,
        rate_limits: None,
        concurrency_limit: None,
        create_default_provider: true,
        default_provider_slug: None,
    }
}

fn insert_key(tx: &mut dyn StoreTx, slug: &str) {
    tx.insert_virtual_key(&VirtualKeyRecord {
        public: VirtualKey {
            id: format!("vk-{slug}"),
            slug: slug.into(),
            workspace_id: Some("id-eng".into()),
            ..Default::default()
        },
        sealed_secrets: vec![],
    })
    .unwrap();
}

#[test]
fn providers_and_virtual_keys_share_a_workspace_namespace() {
    let (store, ws, integration, _dir) = catalog();
    let mut tx = store.begin().unwrap();
    insert_key(&mut *tx, "legacy");
    let err = ensure_free_in_workspace(&mut *tx, &ws.id, "legacy", Claimant::Provider).unwrap_err();
    assert!(
        matches!(&err, DomainError::Conflict(m) if m.contains("provider or virtual key")),
        "{err}"
    );
    grant(&mut *tx, &integration, &ws, plain_grant(), Utc::now()).unwrap();
    // The default provider took the integration's slug: a key may not take it too.
    let err = ensure_free_in_workspace(&mut *tx, &ws.id, "openai-prod", Claimant::VirtualKey)
        .unwrap_err();
    assert!(err.to_string().contains("provider or virtual key"), "{err}");
    let err =
        ensure_free_in_workspace(&mut *tx, &ws.id, "openai-prod", Claimant::Provider).unwrap_err();
    assert!(
        err.to_string().contains("an AI provider with slug"),
        "{err}"
    );
    assert!(ensure_free_in_workspace(&mut *tx, &ws.id, "free", Claimant::Provider).is_ok());
}

#[test]
fn a_default_provider_cannot_take_a_virtual_keys_slug() {
    let (store, ws, integration, _dir) = catalog();
    let mut tx = store.begin().unwrap();
    insert_key(&mut *tx, "openai-prod");
    let err = grant(&mut *tx, &integration, &ws, plain_grant(), Utc::now()).unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)), "{err}");
}

#[test]
fn revoking_disables_providers_and_granting_again_enables_them() {
    let (store, ws, integration, _dir) = catalog();
    let now = Utc::now();
    let mut tx = store.begin().unwrap();
    grant(&mut *tx, &integration, &ws, plain_grant(), now).unwrap();
    let provider = |tx: &mut dyn StoreTx| tx.provider(&ws.id, "openai-prod").unwrap().unwrap();
    assert_eq!(
        Status::of_provider(&provider(&mut *tx), now),
        Status::Active
    );
    revoke(&mut *tx, &integration.public.id, &ws.id).unwrap();
    assert_eq!(
        Status::of_provider(&provider(&mut *tx), now),
        Status::Disabled
    );
    let access = tx.access(&integration.public.id, &ws.id).unwrap().unwrap();
    assert!(!access.access.enabled);
    grant(&mut *tx, &integration, &ws, plain_grant(), now).unwrap();
    assert_eq!(
        Status::of_provider(&provider(&mut *tx), now),
        Status::Active
    );
    assert_eq!(tx.providers(Some(&ws.id), None).unwrap().len(), 1);
}

#[test]
fn access_cannot_shrink_below_a_providers_limits() {
    let (store, ws, integration, _dir) = catalog();
    let now = Utc::now();
    let mut tx = store.begin().unwrap();
    grant(&mut *tx, &integration, &ws, plain_grant(), now).unwrap();
    let mut p = tx.provider(&ws.id, "openai-prod").unwrap().unwrap();
    p.public.rate_limits = Some(vec![RateLimit {
        kind: RateLimitType::Requests,
        unit: RateUnit::Rpm,
        value: 500,
    }]);
    p.public.usage_limits = Some(UsageLimits::cost(50.0));
    tx.save_provider(&p).unwrap();
    let tighter = Grant {
        rate_limits: Some(vec![RateLimit {
            kind: RateLimitType::Requests,
            unit: RateUnit::Rph,
            value: 600,
        }]),
        ..plain_grant()
    };
    let err = grant(&mut *tx, &integration, &ws, tighter, now).unwrap_err();
    let DomainError::Conflict(message) = err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert!(
        message.contains("`@openai-prod`")
            && message.contains("500 requests/min")
            && message.contains("catalog providers update openai-prod --workspace eng"),
        "{message}"
    );
}

#[test]
fn access_cannot_allow_fewer_requests_in_flight_than_a_provider_takes() {
    let (store, ws, integration, _dir) = catalog();
    let now = Utc::now();
    let mut tx = store.begin().unwrap();
    grant(&mut *tx, &integration, &ws, plain_grant(), now).unwrap();
    let mut p = tx.provider(&ws.id, "openai-prod").unwrap().unwrap();
    p.public.concurrency_limit = Some(ConcurrencyLimit::new(12).unwrap());
    tx.save_provider(&p).unwrap();
    let with = |n| Grant {
        concurrency_limit: Some(ConcurrencyLimit::new(n).unwrap()),
        ..plain_grant()
    };
    let err = grant(&mut *tx, &integration, &ws, with(8), now).unwrap_err();
    let DomainError::Conflict(message) = err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert!(
        message.contains("`concurrency_limit` 12") && message.contains("the 8 requests in flight"),
        "{message}"
    );
    grant(&mut *tx, &integration, &ws, with(12), now).unwrap();
    let access = tx.access(&integration.public.id, &ws.id).unwrap().unwrap();
    assert_eq!(
        access.access.concurrency_limit.map(ConcurrencyLimit::get),
        Some(12)
    );
}

/// Holds `amount` units at `entry` and settles `actual` of them.
fn spend(
    store: &crate::store::sql::SqlStore,
    entry: &crate::store::HoldEntry,
    amount: i64,
    actual: i64,
) {
    let id = uuid::Uuid::new_v4().to_string();
    let now = Utc::now();
    let held = crate::store::HoldEntry {
        amount,
        ..entry.clone()
    };
    assert_eq!(
        store.admit(&id, &[held], now).unwrap(),
        crate::store::Admission::Admitted
    );
    store.settle(&id, &[actual], now).unwrap();
}

#[test]
fn a_usage_report_reads_live_windows_and_alert_states() {
    use super::usage_report::{report, Selection, Viewer};
    use crate::admission::{demand::Demand, plan, price::Prices, Level};
    use crate::api::limits::{BudgetType, PeriodicReset};
    use crate::api::usage::{timestamp, AlertState, UsageState};
    use crate::store::{Admission, Unit, UsageScope, BUDGET};

    let (store, mut ws, mut integration, _dir) = catalog();
    let now = Utc::now();
    ws.usage_limits = Some(vec![
        UsageLimits {
            alert_threshold: Some(5.0),
            ..UsageLimits::cost(10.0)
        },
        UsageLimits {
            kind: BudgetType::Tokens,
            ..UsageLimits::cost(1000.0)
        },
    ]);
    integration.public.usage_limits = Some(vec![UsageLimits::cost(100.0)]);
    let weekly = UsageLimits {
        periodic_reset: Some(PeriodicReset::Weekly),
        ..UsageLimits::cost(50.0)
    };
    let mut tx = store.begin().unwrap();
    tx.save_workspace(&ws).unwrap();
    tx.save_integration(&integration).unwrap();
    let terms = Grant {
        usage_limits: Some(vec![weekly]),
        ..plain_grant()
    };
    grant(&mut *tx, &integration, &ws, terms, now).unwrap();
    // The access's window began two weeks ago with $8 used: a reset has come since.
    let stale = timestamp(now - chrono::Duration::days(14));
    let access = UsageScope::Access {
        integration_id: integration.public.id.clone(),
        workspace_id: ws.id.clone(),
    };
    let old = UsageState {
        current_usage: 8.0,
        window_started_at: Some(stale.clone()),
        ..Default::default()
    };
    tx.set_usage(&access, BUDGET, Some((&old, Unit::NanoUsd)))
        .unwrap();
    tx.commit().unwrap();

    // $6 of the workspace's $10 (alert at $5), and 900 of its 1,000 tokens, after which
    // a request of 200 more was refused.
    let prices = Prices {
        input: 1_000_000,
        output: 1_000_000,
        cached_input: 1_000_000,
    };
    let entries = plan(&[Level::of_workspace(&ws)], Demand::default(), Some(prices)).unwrap();
    spend(
        &store,
        &entries[0],
        Unit::NanoUsd.units(6.0),
        Unit::NanoUsd.units(6.0),
    );
    spend(&store, &entries[1], 900, 900);
    let over = crate::store::HoldEntry {
        amount: 200,
        ..entries[1].clone()
    };
    assert!(matches!(
        store.admit("refused", &[over], now).unwrap(),
        Admission::Refused(_)
    ));

    let selection = Selection {
        workspace: Some("eng".into()),
        ..Default::default()
    };
    let items = report(
        &mut *store.read().unwrap(),
        &selection,
        &Viewer::Organisation,
        Utc::now(),
    )
    .unwrap();
    let find = |level: &str, key: &str| {
        items
            .iter()
            .find(|i| i.level == level && i.limit_key == key)
            .unwrap_or_else(|| panic!("no {level} {key}: {items:#?}"))
    };
    let cost = find("workspace", "budget");
    assert_eq!((cost.used, cost.remaining, cost.percent), (6.0, 4.0, 60.0));
    assert_eq!(cost.alert, AlertState::Threshold);
    assert!(cost.alert_raised_at.is_some(), "{cost:?}");
    assert_eq!(cost.status, "ok");
    let tokens = find("workspace", "budget/1");
    assert_eq!((tokens.used, tokens.unit.as_str()), (900.0, "tokens"));
    assert_eq!(
        (tokens.alert, tokens.status.as_str()),
        (AlertState::Exhausted, "exhausted"),
        "refused in this window, so exhausted below its limit: {tokens:?}"
    );
    let rolled = find("workspace_access", "budget");
    assert_eq!(rolled.used, 0.0, "{rolled:?}");
    assert_eq!(rolled.name, "openai-prod/eng");
    assert_ne!(rolled.window_started_at.as_deref(), Some(stale.as_str()));
    assert!(rolled.next_reset_at.is_some());
    assert_eq!(find("integration", "budget").limit, 100.0);

    // A workspace key of `eng` sees no budget kept across workspaces, nor other keys.
    let viewer = Viewer::WorkspaceKey {
        workspace_id: ws.id.clone(),
        api_key_id: "key-of-eng".into(),
    };
    let mine = report(
        &mut *store.read().unwrap(),
        &Selection::default(),
        &viewer,
        Utc::now(),
    )
    .unwrap();
    assert!(!mine.is_empty() && mine.iter().all(|i| i.level != "integration"));
    // Names that are not there, and a provider without its workspace.
    let missing = Selection {
        provider: Some("@nope".into()),
        ..selection.clone()
    };
    let err = report(
        &mut *store.read().unwrap(),
        &missing,
        &Viewer::Organisation,
        now,
    )
    .unwrap_err();
    assert!(
        matches!(&err, DomainError::NotFound(m) if m.contains("`@nope`")),
        "{err}"
    );
    let bare = Selection {
        provider: Some("openai-prod".into()),
        ..Default::default()
    };
    let err = report(
        &mut *store.read().unwrap(),
        &bare,
        &Viewer::Organisation,
        now,
    )
    .unwrap_err();
    assert!(matches!(err, DomainError::Invalid(_)), "{err}");
}
