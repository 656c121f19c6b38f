//! The master key that seals provider secrets, and where it lives.
//!
//! Order: `CATALOG_MASTER_KEY` (for servers); else the place recorded in the database
//! when it was first needed: the OS keyring, or a 0600 key file beside the database.
//! The key itself is never written to the database; only a check value is, so that a
//! wrong key is reported instead of producing garbage.
//!
//! The key is created exactly once per catalog. Resolution runs inside one write
//! transaction of the store, so threads and processes that need the key at the same time
//! take turns: the first creates it (the key file with create-new semantics, written and
//! fsynced before the check value is committed) and every later one reads the key that the
//! committed check value names. An existing key, in the keyring or in the file, is never
//! replaced: one left behind by an interrupted first run is adopted.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context};

use crate::crypto::{is_missing_key, KeyRing, MasterKey, Sealer};
use crate::files::create_private;
use crate::keyring_access;
use crate::store::{Store, StoreError, StoreRead, StoreTx};

pub(crate) const KEYRING_SERVICE: &str = "catalog-master-key";
pub(crate) const META_LOCATION: &str = "master_key_location";
/// The fingerprint of the current master key, which seals.
pub(crate) const META_CHECK: &str = "master_key_check";
/// During a rotation, the fingerprint of the key being replaced, which still opens.
pub(crate) const META_PREVIOUS: &str = "master_key_previous_check";

/// What the database records about the master key: never the key, only where it lives
/// and fingerprints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    pub location: Option<String>,
    pub current: Option<String>,
    pub previous: Option<String>,
}

impl Recorded {
    pub fn read(db: &mut dyn StoreRead) -> anyhow::Result<Recorded> {
        Ok(Recorded {
            location: db.meta(META_LOCATION).map_err(anyhow_of)?,
            current: db.meta(META_CHECK).map_err(anyhow_of)?,
            previous: db.meta(META_PREVIOUS).map_err(anyhow_of)?,
        })
    }
}

pub struct Vault {
    store: Arc<dyn Store>,
    explicit: Option<String>,
    explicit_previous: Option<String>,
    key_file: PathBuf,
    /// Where the explicit key came from, for messages (`CATALOG_MASTER_KEY`).
    explicit_from: String,
    /// Only the explicit key counts: the catalog is shared by replicas on other machines
    /// (PostgreSQL), so no keyring or key file here is the catalog's.
    explicit_only: bool,
    /// The keys last loaded, with what the database recorded when they were.
    loaded: RwLock<Option<(Recorded, Arc<KeyRing>)>>,
}

impl Vault {
    pub fn new(
        store: Arc<dyn Store>,
        explicit: Option<String>,
        explicit_previous: Option<String>,
        db_path: &Path,
    ) -> Vault {
        Vault {
            store,
            explicit,
            explicit_previous,
            key_file: key_file_path(db_path),
            explicit_from: crate::env_vars::CATALOG_MASTER_KEY.to_owned(),
            explicit_only: false,
            loaded: RwLock::new(None),
        }
    }

    /// A vault whose only key is the one given (`explicit`, from `from`): a catalog
    /// shared by replicas keeps no key of its own anywhere.
    pub fn given_only(mut self, from: String) -> Vault {
        self.explicit_from = from;
        self.explicit_only = true;
        self
    }

    /// The master keys, resolved on first use (commands that touch no secret never load
    /// them); the key is created on a catalog's first need.
    pub fn keys(&self) -> anyhow::Result<Arc<KeyRing>> {
        if let Some((_, ring)) = &*self.loaded.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok(ring.clone());
        }
        self.refresh()
    }

    /// The master keys for what the database records now: loaded again when a rotation
    /// began or ended since they were last loaded. Costs one read of the database.
    pub fn refresh(&self) -> anyhow::Result<Arc<KeyRing>> {
        let recorded = Recorded::read(&mut *self.store.read().map_err(anyhow_of)?)?;
        if let Some((r, ring)) = &*self.loaded.read().unwrap_or_else(|e| e.into_inner()) {
            if *r == recorded {
                return Ok(ring.clone());
            }
        }
        let (recorded, ring) = if recorded.current.is_none() {
            let key = self.resolve()?;
            let recorded = Recorded::read(&mut *self.store.read().map_err(anyhow_of)?)?;
            (recorded, Arc::new(KeyRing::new(key, Vec::new())))
        } else {
            let ring = Arc::new(self.load(&recorded)?);
            (recorded, ring)
        };
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Some((recorded, ring.clone()));
        Ok(ring)
    }

    /// Checks, when the catalog already has a master key, that it can be read and is the
    /// right one, so that a server refuses to start rather than fail every secret later;
    /// during a rotation, that the key being replaced can be read too.
    pub fn check_existing(&self) -> anyhow::Result<()> {
        let recorded = Recorded::read(&mut *self.store.read().map_err(anyhow_of)?)?;
        if recorded.location.is_none() && self.explicit.is_none() {
            return Ok(());
        }
        let ring = self.refresh()?;
        if let Some(previous) = &recorded.previous {
            if !ring.holds(previous) {
                bail!(
                    "a master key rotation is in progress and the key it replaces ({previous}) is not available here; set CATALOG_MASTER_KEY_PREVIOUS to it, or finish the rotation with `catalog admin rotate-master-key` first"
                );
            }
        }
        Ok(())
    }

    /// The keys this process can find for what the database records: the environment's
    /// first, then the place the catalog keeps its key (where, during a rotation, the new
    /// key waits beside the current one).
    fn load(&self, recorded: &Recorded) -> anyhow::Result<KeyRing> {
        self.load_with(recorded, Vec::new())
    }

    /// As [`Vault::load`], with keys given in hand (a rotation's new key) found first.
    pub(crate) fn load_with(
        &self,
        recorded: &Recorded,
        mut found: Vec<MasterKey>,
    ) -> anyhow::Result<KeyRing> {
        let current = recorded.current.as_deref().unwrap_or_default();
        if let Some(text) = &self.explicit {
            found.push(
                MasterKey::decode(text).with_context(|| {
                    format!("the master key in {} is invalid", self.explicit_from)
                })?,
            );
        }
        if let Some(text) = &self.explicit_previous {
            found.push(MasterKey::decode(text).context("CATALOG_MASTER_KEY_PREVIOUS is invalid")?);
        }
        let needed: Vec<&str> = std::iter::once(current)
            .chain(recorded.previous.as_deref())
            .collect();
        let has = |found: &[MasterKey], fp: &str| found.iter().any(|k| k.check_value() == fp);
        let mut problem = None;
        if !self.explicit_only && !needed.iter().all(|fp| has(&found, fp)) {
            let stored = match recorded.location.as_deref() {
                Some("keyring") => Some(self.stored_in_keyring()),
                Some("file") => Some(self.stored_in_files()),
                Some("env") | None => None,
                Some(other) => bail!("unknown master key location `{other}` in the database"),
            };
            match stored {
                Some(Ok(keys)) => found.extend(keys),
                Some(Err(e)) => problem = Some(e),
                None => {}
            }
        }
        let pick = |fp: &str| found.iter().find(|k| k.check_value() == fp).cloned();
        let Some(key) = pick(current) else {
            if let Some(e) = problem {
                return Err(e);
            }
            let rotating = match &recorded.previous {
                Some(p) => format!(" (key {current}; a rotation from key {p} is in progress)"),
                None => String::new(),
            };
            return match (&self.explicit, recorded.location.as_deref()) {
                (Some(_), _) => Err(anyhow::anyhow!(
                    "the master key from {} is not the one this catalog's secrets are sealed with{rotating}",
                    self.explicit_from
                )),
                (None, Some("env")) => Err(anyhow::anyhow!(
                    "this catalog's secrets are sealed with a master key given in CATALOG_MASTER_KEY{rotating}; set it again"
                )),
                (None, _) => Err(anyhow::anyhow!(
                    "the master key this catalog's secrets are sealed with{rotating} is not where the catalog keeps it; set CATALOG_MASTER_KEY"
                )),
            };
        };
        let previous = recorded.previous.as_deref().and_then(pick);
        Ok(KeyRing::new(key, previous.into_iter().collect()))
    }

    /// The keys in the OS keyring: the catalog's, and a new one a rotation put beside it.
    /// The second entry is read first: a rotation's last step writes the new key into the
    /// first entry before it removes the second, so one of the two reads finds it.
    fn stored_in_keyring(&self) -> anyhow::Result<Vec<MasterKey>> {
        let mut keys = Vec::new();
        if let Ok(Some(text)) = keyring_access::get(KEYRING_SERVICE, &self.pending_account()) {
            keys.push(
                MasterKey::decode(&text)
                    .context("the new master key in the OS keyring is damaged")?,
            );
        }
        keys.push(self.read_keyring()?);
        Ok(keys)
    }

    /// The keys in the key files: the catalog's, and a new one a rotation put beside it.
    /// The new one is read first: a rotation's last step renames it over the other, so one
    /// of the two reads finds it.
    fn stored_in_files(&self) -> anyhow::Result<Vec<MasterKey>> {
        let mut keys = Vec::new();
        let pending = pending_key_file(&self.key_file);
        if let Ok(text) = std::fs::read_to_string(&pending) {
            keys.push(MasterKey::decode(&text).with_context(|| {
                format!("the new master key file {} is damaged", pending.display())
            })?);
        }
        keys.push(self.read_key_file()?);
        Ok(keys)
    }

    /// The keyring account where a rotation keeps the new key until it is the catalog's.
    pub(crate) fn pending_account(&self) -> String {
        format!("{}.new", self.account())
    }

    /// The catalog's first key, created or adopted (see the module's comment).
    fn resolve(&self) -> anyhow::Result<MasterKey> {
        let mut tx = self.store.begin().map_err(anyhow_of)?;
        let key = self.resolve_in(&mut *tx)?;
        tx.commit().map_err(anyhow_of)?;
        Ok(key)
    }

    /// Reads, or on a catalog's first need creates, the key while holding the store's write
    /// lock, and commits its check value in the same transaction.
    fn resolve_in(&self, tx: &mut dyn StoreTx) -> anyhow::Result<MasterKey> {
        let recorded = tx.meta(META_LOCATION)?;
        let (key, location) = match (&self.explicit, recorded.as_deref()) {
            (Some(text), _) => (
                MasterKey::decode(text)
                    .with_context(|| format!("the master key in {} is invalid", self.explicit_from))?,
                "env",
            ),
            (None, Some("keyring")) => (self.read_keyring()?, "keyring"),
            (None, Some("file")) => (self.read_key_file()?, "file"),
            (None, Some("env")) => bail!(
                "this catalog's secrets are sealed with a master key given in CATALOG_MASTER_KEY; set it again"
            ),
            (None, Some(other)) => bail!("unknown master key location `{other}` in the database"),
            (None, None) => self.create()?,
        };
        match tx.meta(META_CHECK)? {
            Some(check) if check != key.check_value() => bail!(
                "the master key from {location} is not the one this catalog's secrets were sealed with"
            ),
            Some(_) => {}
            None => {
                tx.set_meta(META_CHECK, &key.check_value())?;
                if recorded.is_none() {
                    tx.set_meta(META_LOCATION, location)?;
                }
            }
        }
        Ok(key)
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// Forgets the keys loaded, so that the next use loads them again.
    pub(crate) fn forget(&self) {
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub(crate) fn account(&self) -> String {
        self.store.organisation_id().to_owned()
    }

    pub(crate) fn read_keyring(&self) -> anyhow::Result<MasterKey> {
        let text = keyring_access::get(KEYRING_SERVICE, &self.account())
            .context("the master key is kept in the OS keyring, which cannot be read")?
            .context("the master key is missing from the OS keyring; set CATALOG_MASTER_KEY")?;
        MasterKey::decode(&text)
    }

    pub(crate) fn read_key_file(&self) -> anyhow::Result<MasterKey> {
        let text = std::fs::read_to_string(&self.key_file).with_context(|| {
            format!(
                "cannot read the master key file {}",
                self.key_file.display()
            )
        })?;
        MasterKey::decode(&text)
            .with_context(|| format!("the master key file {} is damaged", self.key_file.display()))
    }

    /// The catalog's first master key: in the OS keyring when reachable, else in a 0600
    /// file. A key already there (left by a first run that stopped before committing) is
    /// adopted, never replaced.
    fn create(&self) -> anyhow::Result<(MasterKey, &'static str)> {
        let account = self.account();
        if let Ok(existing) = keyring_access::get(KEYRING_SERVICE, &account) {
            if let Some(text) = existing {
                return Ok((MasterKey::decode(&text)?, "keyring"));
            }
            let key = MasterKey::generate();
            if keyring_access::set(KEYRING_SERVICE, &account, &key.encode()).is_ok() {
                return Ok((key, "keyring"));
            }
        }
        let key = MasterKey::generate();
        match create_private(&self.key_file, &key.encode()) {
            Ok(()) => Ok((key, "file")),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok((self.read_key_file()?, "file"))
            }
            Err(e) => Err(e).with_context(|| {
                format!(
                    "cannot create the master key file {}",
                    self.key_file.display()
                )
            }),
        }
    }
}

pub(crate) fn anyhow_of(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Internal(e) => e,
        other => anyhow::anyhow!("{other}"),
    }
}

/// Where the master key file of the catalog at `db_path` lives.
pub fn key_file_path(db_path: &Path) -> PathBuf {
    db_path.with_extension("key")
}

/// Where a rotation writes the new key before it replaces the key file.
pub fn pending_key_file(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

impl Sealer for Vault {
    /// Seals under the key the database records as current now, so that no server keeps
    /// sealing under a key a rotation replaced.
    fn seal(&self, plaintext: &[u8], context: &str) -> anyhow::Result<Vec<u8>> {
        self.refresh()?.seal(plaintext, context)
    }

    /// Opens with the keys held; a value under a key not held (a rotation began since)
    /// loads the keys again first.
    fn open(&self, blob: &[u8], context: &str) -> anyhow::Result<Vec<u8>> {
        match self.keys()?.open(blob, context) {
            Err(e) if is_missing_key(&e) => match self.refresh()?.open(blob, context) {
                Err(e) if is_missing_key(&e) => Err(anyhow::anyhow!(
                    "{e}: set CATALOG_MASTER_KEY_PREVIOUS to the key being replaced, or finish the rotation with `catalog admin rotate-master-key`"
                )),
                other => other,
            },
            other => other,
        }
    }

    fn fingerprint_key(&self) -> anyhow::Result<[u8; 32]> {
        Ok(self.refresh()?.current().fingerprint_key())
    }
}
