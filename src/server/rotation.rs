//! Master-key rotation: every sealed secret re-sealed under a new key, in batches, while
//! servers keep reading and writing.
//!
//! The order of the steps keeps every secret readable with keys that can be found, at
//! every instant, whatever step a `kill -9` interrupts:
//!
//! 1. The new key is put beside the current one where the catalog keeps its key (a
//!    second keyring entry, or `catalog.key.new` written and renamed into place) — for a
//!    key given in `CATALOG_MASTER_KEY`, the operator gives it to the servers instead.
//!    Until step 2 nothing refers to it.
//! 2. One transaction records the new key's fingerprint as current and the old one's as
//!    previous. From here servers seal under the new key (they check the recorded
//!    fingerprint before sealing) and open under either; the database refuses a secret
//!    written under any other key.
//! 3. Batches re-seal what is not under the new key, each in one write transaction,
//!    replacing a value only if it is still the one read.
//! 4. The transaction that finds nothing left under another key forgets the previous
//!    fingerprint; from then on the database refuses writes under the old key.
//! 5. The new key replaces the old where the catalog keeps it, and the second entry or
//!    file goes away. Until then the loader finds the new key in either place.
//!
//! Run again after an interruption with the same new key, it resumes where it stopped.

use std::time::Duration;

use anyhow::Context;

use super::handlers::integration_models::headers_context;
use super::vault::{
    anyhow_of, pending_key_file, Recorded, Vault, KEYRING_SERVICE, META_CHECK, META_PREVIOUS,
};
use crate::crypto::{KeyRing, MasterKey, Sealer};
use crate::keyring_access;
use crate::store::SealedOwner;

/// Why a rotation does not start.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "this catalog has no master key yet: nothing is sealed, so there is nothing to rotate"
    )]
    NoKey,
    #[error("the new master key is the catalog's current key ({0})")]
    SameKey(String),
    #[error("a rotation to master key {pending} is in progress; the key given is {given}")]
    OtherInProgress { pending: String, given: String },
}

/// How a rotation runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Secrets re-sealed per write transaction.
    pub batch_size: usize,
    /// A pause between batches, leaving the database to other writers.
    pub pause: Option<Duration>,
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Whether it resumed a rotation an interruption left unfinished.
    pub resumed: bool,
    pub resealed: u64,
    pub old: String,
    pub new: String,
    pub location: String,
}

/// Progress after each batch: secrets re-sealed so far, and how many there were to do.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// The context (associated data) a sealed value is bound to.
pub fn context_of(owner: &SealedOwner) -> String {
    match owner {
        SealedOwner::Integration(id) | SealedOwner::VirtualKey(id) => id.clone(),
        SealedOwner::ModelHeaders {
            integration_id,
            slug,
        } => headers_context(integration_id, slug),
    }
}

fn describe(owner: &SealedOwner) -> String {
    match owner {
        SealedOwner::Integration(id) => format!("integration {id}"),
        SealedOwner::VirtualKey(id) => format!("virtual key {id}"),
        SealedOwner::ModelHeaders {
            integration_id,
            slug,
        } => format!("the headers of model `{slug}` of integration {integration_id}"),
    }
}

impl Vault {
    /// What the database records about the master key now.
    pub fn recorded(&self) -> anyhow::Result<Recorded> {
        Recorded::read(&mut *self.store().read().map_err(anyhow_of)?)
    }

    /// How many sealed values each key sealed, by fingerprint; values in the format that
    /// names no key count under the key they were sealed with: the one a rotation is
    /// replacing, else the current one.
    pub fn sealed_counts(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let mut db = self.store().read().map_err(anyhow_of)?;
        let recorded = Recorded::read(&mut *db)?;
        let original = recorded.previous.or(recorded.current).unwrap_or_default();
        let mut counts: Vec<(String, u64)> = Vec::new();
        for (fp, n) in db.sealed_counts().map_err(anyhow_of)? {
            let fp = fp.unwrap_or_else(|| original.clone());
            match counts.iter_mut().find(|(k, _)| *k == fp) {
                Some((_, total)) => *total += n,
                None => counts.push((fp, n)),
            }
        }
        Ok(counts)
    }

    /// Re-seals every secret under `new` (see the module's comment); resumes a rotation to
    /// the same key that an interruption left unfinished.
    pub fn rotate(
        &self,
        new: &MasterKey,
        options: &Options,
        progress: Progress<'_>,
    ) -> anyhow::Result<Outcome> {
        // Each step that changes where keys live runs holding the database's write lock,
        // so that two rotations never interleave.
        let mut tx = self.store().begin().map_err(anyhow_of)?;
        let recorded = Recorded::read(&mut *tx)?;
        let Some(current) = recorded.current.clone() else {
            return Err(Refusal::NoKey.into());
        };
        let location = recorded
            .location
            .clone()
            .unwrap_or_else(|| "env".to_owned());
        let given = new.check_value();
        let (old, resumed) = match &recorded.previous {
            None if given == current => {
                // Either a finished rotation whose last step an interruption cut short, or
                // a mistake.
                if self.settle(&location, new)? {
                    return Ok(Outcome {
                        resumed: true,
                        resealed: 0,
                        old: String::new(),
                        new: given,
                        location,
                    });
                }
                return Err(Refusal::SameKey(given).into());
            }
            None => {
                // The current key must be at hand before anything changes.
                let ring = self.load_with(&recorded, Vec::new())?;
                self.settle(&location, ring.current())?;
                self.put_pending(&location, new)?;
                tx.set_meta(META_CHECK, &given).map_err(anyhow_of)?;
                tx.set_meta(META_PREVIOUS, &current).map_err(anyhow_of)?;
                (current, false)
            }
            Some(previous) if given == current => {
                self.put_pending(&location, new)?;
                (previous.clone(), true)
            }
            Some(_) => {
                return Err(Refusal::OtherInProgress {
                    pending: current,
                    given,
                }
                .into())
            }
        };
        tx.commit().map_err(anyhow_of)?;
        let now = self.recorded()?;
        let ring = self.load_with(&now, vec![new.clone()])?;
        if !ring.holds(&old) {
            anyhow::bail!(
                "the master key being replaced ({old}) is not available; set CATALOG_MASTER_KEY_PREVIOUS to it and run the command again"
            );
        }
        let resealed = self.reseal(&ring, &given, options, progress)?;
        let mut tx = self.store().begin().map_err(anyhow_of)?;
        let recorded = Recorded::read(&mut *tx)?;
        if recorded.current.as_deref() == Some(given.as_str()) && recorded.previous.is_none() {
            self.settle(&location, new)?;
        }
        drop(tx);
        self.forget();
        Ok(Outcome {
            resumed,
            resealed,
            old,
            new: given,
            location,
        })
    }

    /// Re-seals, batch by batch, whatever is not under the key `new`; the transaction that
    /// finds nothing left forgets the previous key.
    fn reseal(
        &self,
        ring: &KeyRing,
        new: &str,
        options: &Options,
        progress: Progress<'_>,
    ) -> anyhow::Result<u64> {
        let total: u64 = self
            .sealed_counts()?
            .iter()
            .filter(|(fp, _)| fp != new)
            .map(|(_, n)| n)
            .sum();
        let mut resealed = 0;
        loop {
            let mut tx = self.store().begin().map_err(anyhow_of)?;
            let batch = tx
                .sealed_not_under(new, options.batch_size.max(1))
                .map_err(anyhow_of)?;
            if batch.is_empty() {
                tx.delete_meta(META_PREVIOUS).map_err(anyhow_of)?;
                tx.commit().map_err(anyhow_of)?;
                return Ok(resealed);
            }
            for value in &batch {
                let context = context_of(&value.owner);
                let plain = ring
                    .open(&value.sealed, &context)
                    .with_context(|| format!("cannot open {}", describe(&value.owner)))?;
                let sealed = ring.seal(&plain, &context)?;
                if tx.replace_sealed(value, &sealed).map_err(anyhow_of)? {
                    resealed += 1;
                }
            }
            tx.commit().map_err(anyhow_of)?;
            progress(resealed, total.max(resealed));
            if let Some(pause) = options.pause {
                std::thread::sleep(pause);
            }
        }
    }

    /// Puts the new key beside the current one where the catalog keeps its key.
    fn put_pending(&self, location: &str, new: &MasterKey) -> anyhow::Result<()> {
        match location {
            "keyring" => {
                keyring_access::set(KEYRING_SERVICE, &self.pending_account(), &new.encode())
                    .context("cannot store the new master key in the OS keyring")
            }
            "file" => {
                let pending = pending_key_file(self.key_file());
                let mut staging = pending.clone().into_os_string();
                staging.push(".tmp");
                let staging = std::path::PathBuf::from(staging);
                crate::files::write_private(&staging, &new.encode())?;
                std::fs::rename(&staging, &pending).with_context(|| {
                    format!("cannot write the new master key file {}", pending.display())
                })?;
                crate::files::sync_parent(&pending)?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Makes `key` (the current key, recorded as such) the one the catalog keeps, replacing
    /// the old key, and removes the entry or file that held it during a rotation. Returns
    /// whether there was anything to do.
    fn settle(&self, location: &str, key: &MasterKey) -> anyhow::Result<bool> {
        match location {
            "keyring" => {
                let pending = keyring_access::get(KEYRING_SERVICE, &self.pending_account())
                    .context("cannot read the OS keyring")?;
                let Some(text) = pending else {
                    return Ok(false);
                };
                let held = MasterKey::decode(&text).ok();
                if held.as_ref() == Some(key) {
                    keyring_access::set(KEYRING_SERVICE, &self.account(), &key.encode())
                        .context("cannot store the new master key in the OS keyring")?;
                }
                keyring_access::delete(KEYRING_SERVICE, &self.pending_account())
                    .context("cannot remove the new master key's second entry in the OS keyring")?;
                Ok(true)
            }
            "file" => {
                let pending = pending_key_file(self.key_file());
                let Ok(text) = std::fs::read_to_string(&pending) else {
                    return Ok(false);
                };
                if MasterKey::decode(&text).ok().as_ref() == Some(key) {
                    std::fs::rename(&pending, self.key_file()).with_context(|| {
                        format!(
                            "cannot replace the master key file {}",
                            self.key_file().display()
                        )
                    })?;
                } else {
                    // Left by a rotation interrupted before it recorded its key: unused.
                    std::fs::remove_file(&pending)
                        .with_context(|| format!("cannot remove {}", pending.display()))?;
                }
                crate::files::sync_parent(self.key_file())?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::integration::Integration;
    use crate::crypto::tests::seal_v1;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{IntegrationRecord, Store};

    fn integration(id: &str, sealed: Vec<u8>) -> IntegrationRecord {
        IntegrationRecord {
            public: Integration {
                id: id.into(),
                slug: id.into(),
                name: id.into(),
                ai_provider_id: "openai".into(),
                ..Default::default()
            },
            sealed_secrets: sealed,
        }
    }

    fn options() -> Options {
        Options {
            batch_size: 2,
            pause: None,
        }
    }

    #[test]
    fn format_one_values_are_resealed_and_a_retired_key_cannot_write_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("catalog.db");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
        let old = MasterKey::generate();
        let vault = Vault::new(store.clone(), Some(old.encode()), None, &db);
        vault.keys().unwrap();
        let mut tx = store.begin().unwrap();
        // Values written before rotations existed (format 1), and one written since.
        for i in 0..5 {
            let id = format!("v1-{i}");
            let sealed = seal_v1(&old, format!("secret-{i}").as_bytes(), &id);
            tx.insert_integration(&integration(&id, sealed)).unwrap();
        }
        let sealed = vault.seal(b"secret-v2", "v2").unwrap();
        tx.insert_integration(&integration("v2", sealed)).unwrap();
        tx.commit().unwrap();
        assert_eq!(vault.sealed_counts().unwrap(), [(old.check_value(), 6)]);

        let new = MasterKey::generate();
        let mut batches = Vec::new();
        let outcome = vault
            .rotate(&new, &options(), &mut |done, total| {
                batches.push((done, total))
            })
            .unwrap();
        assert_eq!(outcome.resealed, 6);
        assert_eq!(batches, [(2, 6), (4, 6), (6, 6)]);
        assert_eq!(outcome.location, "env");
        assert_eq!(vault.sealed_counts().unwrap(), [(new.check_value(), 6)]);
        let alone = KeyRing::new(new.clone(), Vec::new());
        for record in store.read().unwrap().all_integrations().unwrap() {
            let id = &record.public.id;
            let plain = alone.open(&record.sealed_secrets, id).unwrap();
            let expected = match id.strip_prefix("v1-") {
                Some(i) => format!("secret-{i}"),
                None => "secret-v2".to_owned(),
            };
            assert_eq!(plain, expected.as_bytes());
        }

        // A process that still holds only the old key cannot write under it any more.
        let stale = old.seal(b"late", "v2");
        let mut tx = store.begin().unwrap();
        let e = tx.save_integration(&integration("v2", stale)).unwrap_err();
        assert!(e.to_string().contains("does not record"), "{e}");
        drop(tx);
        // The new key again is refused: it is the current key.
        let refused = vault.rotate(&new, &options(), &mut |_, _| {}).unwrap_err();
        assert!(matches!(refused.downcast_ref(), Some(Refusal::SameKey(_))));
    }

    #[test]
    fn a_rotation_in_progress_resumes_only_with_its_own_key() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("catalog.db");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
        let old = MasterKey::generate();
        let vault = Vault::new(store.clone(), Some(old.encode()), None, &db);
        vault.keys().unwrap();
        let mut tx = store.begin().unwrap();
        for i in 0..3 {
            let id = format!("i-{i}");
            let sealed = vault.seal(b"s", &id).unwrap();
            tx.insert_integration(&integration(&id, sealed)).unwrap();
        }
        tx.commit().unwrap();
        // What an interruption right after the rotation recorded its key leaves.
        let new = MasterKey::generate();
        let mut tx = store.begin().unwrap();
        tx.set_meta(META_CHECK, &new.check_value()).unwrap();
        tx.set_meta(META_PREVIOUS, &old.check_value()).unwrap();
        tx.commit().unwrap();
        let other = MasterKey::generate();
        let e = vault
            .rotate(&other, &options(), &mut |_, _| {})
            .unwrap_err();
        assert!(
            matches!(e.downcast_ref(), Some(Refusal::OtherInProgress { pending, .. }) if *pending == new.check_value())
        );
        let e = vault.rotate(&old, &options(), &mut |_, _| {}).unwrap_err();
        assert!(matches!(
            e.downcast_ref(),
            Some(Refusal::OtherInProgress { .. })
        ));
        let outcome = vault.rotate(&new, &options(), &mut |_, _| {}).unwrap();
        assert!(outcome.resumed);
        assert_eq!(outcome.resealed, 3);
        assert_eq!(outcome.old, old.check_value());
        assert_eq!(vault.recorded().unwrap().previous, None);
    }
}
