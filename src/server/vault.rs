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
use std::sync::{Arc, OnceLock};

use anyhow::{bail, Context};

use crate::crypto::MasterKey;
use crate::files::create_private;
use crate::keyring_access;
use crate::store::{Store, StoreError, StoreTx};

const KEYRING_SERVICE: &str = "catalog-master-key";
const META_LOCATION: &str = "master_key_location";
const META_CHECK: &str = "master_key_check";

pub struct Vault {
    store: Arc<dyn Store>,
    explicit: Option<String>,
    key_file: PathBuf,
    key: OnceLock<MasterKey>,
}

impl Vault {
    pub fn new(store: Arc<dyn Store>, explicit: Option<String>, db_path: &Path) -> Vault {
        Vault {
            store,
            explicit,
            key_file: key_file_path(db_path),
            key: OnceLock::new(),
        }
    }

    /// The master key, resolved on first use (commands that touch no secret never load it).
    pub fn key(&self) -> anyhow::Result<&MasterKey> {
        if let Some(k) = self.key.get() {
            return Ok(k);
        }
        let key = self.resolve()?;
        Ok(self.key.get_or_init(|| key))
    }

    /// Checks, when the catalog already has a master key, that it can be read and is the
    /// right one, so that a server refuses to start rather than fail every secret later.
    pub fn check_existing(&self) -> anyhow::Result<()> {
        let recorded = self
            .store
            .read()
            .and_then(|mut db| db.meta(META_LOCATION))
            .map_err(anyhow_of)?;
        if recorded.is_some() || self.explicit.is_some() {
            self.key()?;
        }
        Ok(())
    }

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
                MasterKey::decode(text).context("CATALOG_MASTER_KEY is invalid")?,
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

    fn account(&self) -> String {
        self.store.organisation_id().to_owned()
    }

    fn read_keyring(&self) -> anyhow::Result<MasterKey> {
        let text = keyring_access::get(KEYRING_SERVICE, &self.account())
            .context("the master key is kept in the OS keyring, which cannot be read")?
            .context("the master key is missing from the OS keyring; set CATALOG_MASTER_KEY")?;
        MasterKey::decode(&text)
    }

    fn read_key_file(&self) -> anyhow::Result<MasterKey> {
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

fn anyhow_of(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Internal(e) => e,
        other => anyhow::anyhow!("{other}"),
    }
}

/// Where the master key file of the catalog at `db_path` lives.
pub fn key_file_path(db_path: &Path) -> PathBuf {
    db_path.with_extension("key")
}
