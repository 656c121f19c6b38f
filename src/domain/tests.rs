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
fn catalog() -> (SqliteStore, Workspace, IntegrationRecord, tempfile::TempDir) {
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
