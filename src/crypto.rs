//! Sealing of stored provider secrets (XChaCha20-Poly1305 under a 256-bit master key),
//! hashing of API keys, and masking of secrets for display.

use anyhow::{anyhow, bail, Context};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Sealed format 1 (catalogs before master-key rotation): version, nonce, ciphertext.
const SEAL_V1: u8 = 1;
/// Sealed format 2: version, the sealing key's id (8 bytes), nonce, ciphertext; the
/// version and key id are bound into the associated data with the owner's context.
const SEAL_V2: u8 = 2;
const NONCE_LEN: usize = 24;
pub const KEY_ID_LEN: usize = 8;

/// The key that seals provider secrets. Never written to the database.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl PartialEq for MasterKey {
    fn eq(&self, other: &MasterKey) -> bool {
        self.key_id() == other.key_id()
    }
}

impl MasterKey {
    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        MasterKey(bytes)
    }

    /// Parses the base64 form (as printed by [`MasterKey::encode`] or `openssl rand -base64 32`).
    pub fn decode(text: &str) -> anyhow::Result<MasterKey> {
        let bytes = STANDARD
            .decode(text.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim()))
            .context("the master key is not valid base64")?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow!("the master key must be 32 bytes (44 base64 characters)"))?;
        Ok(MasterKey(array))
    }

    pub fn encode(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The key's id: 8 bytes of a hash of the key under its own label, never usable to
    /// seal or open. It is stored in every value the key seals and, as
    /// [`MasterKey::check_value`], in the database, so a wrong key is reported instead of
    /// producing garbage and each sealed value says which key opens it.
    pub fn key_id(&self) -> [u8; KEY_ID_LEN] {
        let mut h = Sha256::new();
        h.update(b"catalog master key check v1");
        h.update(self.0);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&h.finalize()[..KEY_ID_LEN]);
        id
    }

    /// The key's id in hex: its fingerprint, recorded in the database.
    pub fn check_value(&self) -> String {
        hex(&self.key_id())
    }

    /// A key derived for fingerprints, distinct from the sealing key.
    pub fn fingerprint_key(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"catalog fingerprint key v1");
        h.update(self.0);
        h.finalize().into()
    }

    /// Encrypts `plaintext` (format 2, naming this key), binding it to `context` (e.g. the
    /// owning row's id).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let id = self.key_id();
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &v2_aad(&id, context),
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + sealed.len());
        out.push(SEAL_V2);
        out.extend_from_slice(&id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value this key sealed: format 2 naming this key, or format 1.
    pub fn open(&self, blob: &[u8], context: &str) -> anyhow::Result<Vec<u8>> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let opened = match sealed_by(blob)? {
            SealedBy::V1 => cipher.decrypt(
                XNonce::from_slice(&blob[1..1 + NONCE_LEN]),
                Payload {
                    msg: &blob[1 + NONCE_LEN..],
                    aad: context.as_bytes(),
                },
            ),
            SealedBy::Key(id) if id != self.key_id() => {
                return Err(MissingKey {
                    fingerprint: hex(&id),
                }
                .into())
            }
            SealedBy::Key(id) => {
                let start = 1 + KEY_ID_LEN;
                cipher.decrypt(
                    XNonce::from_slice(&blob[start..start + NONCE_LEN]),
                    Payload {
                        msg: &blob[start + NONCE_LEN..],
                        aad: &v2_aad(&id, context),
                    },
                )
            }
        };
        opened.map_err(|_| anyhow!("sealed secret cannot be opened with this master key"))
    }
}

fn v2_aad(id: &[u8; KEY_ID_LEN], context: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + KEY_ID_LEN + context.len());
    aad.push(SEAL_V2);
    aad.extend_from_slice(id);
    aad.extend_from_slice(context.as_bytes());
    aad
}

/// Which key sealed a value, as the value itself says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedBy {
    /// Format 1 names no key: it was sealed by the catalog's key before its first rotation.
    V1,
    Key([u8; KEY_ID_LEN]),
}

/// Reads the format and key id of a sealed value.
pub fn sealed_by(blob: &[u8]) -> anyhow::Result<SealedBy> {
    match blob.first() {
        Some(&SEAL_V1) if blob.len() > NONCE_LEN => Ok(SealedBy::V1),
        Some(&SEAL_V2) if blob.len() >= 1 + KEY_ID_LEN + NONCE_LEN => {
            let mut id = [0u8; KEY_ID_LEN];
            id.copy_from_slice(&blob[1..1 + KEY_ID_LEN]);
            Ok(SealedBy::Key(id))
        }
        _ => bail!("sealed secret has an unknown format"),
    }
}

/// A sealed value names a key this process does not hold.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the secret is sealed under master key {fingerprint}, which is not available here")]
pub struct MissingKey {
    pub fingerprint: String,
}

/// Whether opening failed only because the value's key is not held.
pub fn is_missing_key(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<MissingKey>().is_some())
}

/// The master keys a process holds: the current one, which seals, and during a rotation
/// the previous one, which only opens.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: MasterKey,
    others: Vec<MasterKey>,
}

impl KeyRing {
    pub fn new(current: MasterKey, others: Vec<MasterKey>) -> KeyRing {
        let others = others.into_iter().filter(|k| *k != current).collect();
        KeyRing { current, others }
    }

    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// Whether this ring holds the key with this fingerprint.
    pub fn holds(&self, fingerprint: &str) -> bool {
        self.keys().any(|k| k.check_value() == fingerprint)
    }

    fn keys(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(&self.current).chain(&self.others)
    }
}

/// Seals under the current master key and opens under whichever key a value names.
pub trait Sealer {
    fn seal(&self, plaintext: &[u8], context: &str) -> anyhow::Result<Vec<u8>>;
    /// Fails with [`MissingKey`] in the chain when the value's key is not held.
    fn open(&self, blob: &[u8], context: &str) -> anyhow::Result<Vec<u8>>;
    /// A key for fingerprints, derived from the current master key.
    fn fingerprint_key(&self) -> anyhow::Result<[u8; 32]>;
}

impl Sealer for KeyRing {
    fn seal(&self, plaintext: &[u8], context: &str) -> anyhow::Result<Vec<u8>> {
        Ok(self.current.seal(plaintext, context))
    }

    fn fingerprint_key(&self) -> anyhow::Result<[u8; 32]> {
        Ok(self.current.fingerprint_key())
    }

    fn open(&self, blob: &[u8], context: &str) -> anyhow::Result<Vec<u8>> {
        match sealed_by(blob)? {
            SealedBy::Key(id) => match self.keys().find(|k| k.key_id() == id) {
                Some(key) => key.open(blob, context),
                None => Err(MissingKey {
                    fingerprint: hex(&id),
                }
                .into()),
            },
            // Format 1 names no key: the catalog's key before its first rotation, which
            // during that rotation is the previous one.
            SealedBy::V1 => {
                let mut last = None;
                for key in self.others.iter().chain(std::iter::once(&self.current)) {
                    match key.open(blob, context) {
                        Ok(plain) => return Ok(plain),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.expect("a key ring holds at least one key"))
            }
        }
    }
}

impl Sealer for MasterKey {
    fn seal(&self, plaintext: &[u8], context: &str) -> anyhow::Result<Vec<u8>> {
        Ok(MasterKey::seal(self, plaintext, context))
    }

    fn open(&self, blob: &[u8], context: &str) -> anyhow::Result<Vec<u8>> {
        MasterKey::open(self, blob, context)
    }

    fn fingerprint_key(&self) -> anyhow::Result<[u8; 32]> {
        Ok(MasterKey::fingerprint_key(self))
    }
}

/// A new random API key.
pub fn new_api_key() -> String {
    let mut bytes = [0u8; 30];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of an API key: SHA-256, hex.
pub fn hash_api_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// A display form that never reveals enough of a secret to use it: `sk*****xyz`.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "*****".to_owned();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}*****{tail}")
}

/// Lower-case hexadecimal, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn hex_is_two_lower_case_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff, 0x10]), "000fa5ff10");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn seal_round_trips_and_binds_context() {
        let key = MasterKey::generate();
        let blob = key.seal(b"sk-secret", "row-1");
        assert!(!blob.windows(9).any(|w| w == b"sk-secret"));
        assert_eq!(key.open(&blob, "row-1").unwrap(), b"sk-secret");
        assert!(key.open(&blob, "row-2").is_err());
        assert!(MasterKey::generate().open(&blob, "row-1").is_err());
    }

    /// A value sealed in format 1 (before rotations), as earlier catalogs wrote it.
    pub(crate) fn seal_v1(key: &MasterKey, plaintext: &[u8], context: &str) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&key.0).into());
        let nonce = [7u8; NONCE_LEN];
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .unwrap();
        let mut out = vec![SEAL_V1];
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    #[test]
    fn sealed_values_name_their_key_and_bind_it() {
        let key = MasterKey::generate();
        let blob = key.seal(b"sk-secret", "row-1");
        assert_eq!(sealed_by(&blob).unwrap(), SealedBy::Key(key.key_id()));
        assert_eq!(key.check_value(), hex(&key.key_id()));
        // Another key id written over the first is refused, not tried.
        let mut forged = blob.clone();
        forged[1] ^= 1;
        assert!(key.open(&forged, "row-1").is_err());
        let other = MasterKey::generate();
        let e = other.open(&blob, "row-1").unwrap_err();
        assert!(is_missing_key(&e), "{e:#}");
        assert!(e.to_string().contains(&key.check_value()), "{e:#}");
    }

    #[test]
    fn a_key_ring_seals_under_its_current_key_and_opens_under_any() {
        let (old, new) = (MasterKey::generate(), MasterKey::generate());
        let during = KeyRing::new(new.clone(), vec![old.clone()]);
        let under_old = old.seal(b"a", "row-1");
        let v1 = seal_v1(&old, b"b", "row-2");
        assert_eq!(during.open(&under_old, "row-1").unwrap(), b"a");
        assert_eq!(during.open(&v1, "row-2").unwrap(), b"b");
        assert!(during.open(&v1, "row-3").is_err());
        let sealed = Sealer::seal(&during, b"c", "row-4").unwrap();
        assert_eq!(sealed_by(&sealed).unwrap(), SealedBy::Key(new.key_id()));
        let after = KeyRing::new(new.clone(), vec![]);
        assert_eq!(after.open(&sealed, "row-4").unwrap(), b"c");
        let e = after.open(&under_old, "row-1").unwrap_err();
        assert!(is_missing_key(&e));
        assert!(after.holds(&new.check_value()) && !after.holds(&old.check_value()));
        // A format-1 value opens with the key alone, too.
        assert_eq!(old.open(&v1, "row-2").unwrap(), b"b");
    }

    #[test]
    fn master_key_encoding_round_trips() {
        let key = MasterKey::generate();
        let again = MasterKey::decode(&key.encode()).unwrap();
        assert_eq!(key.check_value(), again.check_value());
        assert!(MasterKey::decode("c2hvcnQ=").is_err());
    }

    #[test]
    fn mask_hides_short_secrets_entirely() {
        assert_eq!(mask("short"), "*****");
        assert_eq!(mask("sk-abcdefghijklmnop"), "sk*****nop");
    }
}
