//! The master key that seals provider secrets, and where it lives.
//!
//! Order: `CATALOG_MASTER_KEY` (for servers); else the place recorded in the database
//! when it was first needed: the OS keyring, or a 0600 key file beside the database.
//! The key itself is never written to the database; only a check value is, so that a
//! wrong key is reported instead of producing garbage.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{bail, Context};

use crate::crypto::MasterKey;
use crate::keyring_access;
use crate::store::Store;

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
            key_file: db_path.with_extension("key"),
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

    fn resolve(&self) -> anyhow::Result<MasterKey> {
        let recorded = self.store.meta(META_LOCATION)?;
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
        match self.store.meta(META_CHECK)? {
            Some(check) if check != key.check_value() => bail!(
                "the master key from {location} is not the one this catalog's secrets were sealed with"
            ),
            Some(_) => {}
            None => {
                self.store.set_meta(META_CHECK, &key.check_value())?;
                if recorded.is_none() {
                    self.store.set_meta(META_LOCATION, location)?;
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
    }

    /// A new master key: in the OS keyring when reachable, else in a 0600 file.
    fn create(&self) -> anyhow::Result<(MasterKey, &'static str)> {
        let key = MasterKey::generate();
        if keyring_access::set(KEYRING_SERVICE, &self.account(), &key.encode()).is_ok() {
            return Ok((key, "keyring"));
        }
        write_private(&self.key_file, &key.encode())?;
        Ok((key, "file"))
    }
}

/// Writes a file readable by its owner only (created 0600, never widened).
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}
