//! What the gateway read from the catalog to resolve requests, kept while the catalog is
//! unchanged.
//!
//! Every admin write, in any process or replica, gives the catalog a new version
//! ([`crate::store::CATALOG_VERSION`]). A request reads the version first: while it is the
//! one everything here was read at, the caller's API key, the provider's resolution (its
//! credentials opened) and the workspace's limits and policies come from memory; a new
//! version forgets them all. What depends on the time (a key's or a provider's expiry)
//! is judged again on every request, and a refusal is never kept. Counters are not
//! kept: admission reads them every time.

use foldhash::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::admit::Scope;
use super::resolve::Target;
use crate::api::api_key::ApiKey;

/// Entries of each kind kept at most; a kind that grows past it starts again empty.
const MOST: usize = 4096;

/// A provider resolved for a workspace and a model: `(workspace id, slug, model)`.
type TargetKey = (String, String, String);

#[derive(Default)]
pub struct Resolutions {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    /// The catalog version everything kept was read at.
    version: Option<String>,
    /// API keys by the hash of the key.
    keys: HashMap<String, Arc<ApiKey>>,
    targets: HashMap<TargetKey, Arc<Target>>,
    /// Workspace scopes by workspace id.
    scopes: HashMap<String, Arc<Scope>>,
}

fn keep<K: Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MOST {
        map.clear();
    }
    map.insert(key, value);
}

impl Resolutions {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets everything unless it was read at `version`, the catalog's version now.
    pub fn at(&self, version: &str) {
        let mut kept = self.kept();
        if kept.version.as_deref() != Some(version) {
            *kept = Kept {
                version: Some(version.to_owned()),
                ..Kept::default()
            };
        }
    }

    /// Runs `f` on what is kept if it was read at `version` (what a snapshot that read
    /// more said): what the catalog has moved past is not kept.
    fn keeping(&self, version: &str, f: impl FnOnce(&mut Kept)) {
        let mut kept = self.kept();
        if kept.version.as_deref() == Some(version) {
            f(&mut kept);
        }
    }

    /// The stored API key whose hash is `hash`.
    pub fn key(&self, hash: &str) -> Option<Arc<ApiKey>> {
        self.kept().keys.get(hash).cloned()
    }

    pub fn keep_key(&self, version: &str, hash: String, key: Arc<ApiKey>) {
        self.keeping(version, |k| keep(&mut k.keys, hash, key));
    }

    /// `@slug/model` as resolved for `workspace`, unless the provider has expired since.
    pub fn target(
        &self,
        workspace: &str,
        slug: &str,
        model: &str,
        now: DateTime<Utc>,
    ) -> Option<Arc<Target>> {
        let key = (workspace.to_owned(), slug.to_owned(), model.to_owned());
        self.kept()
            .targets
            .get(&key)
            .filter(|t| t.expires.is_none_or(|e| now < e))
            .cloned()
    }

    pub fn keep_target(
        &self,
        version: &str,
        (workspace, slug, model): (&str, &str, &str),
        target: Arc<Target>,
    ) {
        let key = (workspace.to_owned(), slug.to_owned(), model.to_owned());
        self.keeping(version, |k| keep(&mut k.targets, key, target));
    }

    /// The limits and policies of workspace `id`.
    pub fn scope(&self, id: &str) -> Option<Arc<Scope>> {
        self.kept().scopes.get(id).cloned()
    }

    pub fn keep_scope(&self, version: &str, id: &str, scope: Arc<Scope>) {
        self.keeping(version, |k| keep(&mut k.scopes, id.to_owned(), scope));
    }
}
