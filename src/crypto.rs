//! Sealing of stored provider secrets (XChaCha20-Poly1305 under a 256-bit master key),
//! hashing of API keys, and masking of secrets for display.

use anyhow::{anyhow, bail, Context};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// The key that seals provider secrets. Never written to the database.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
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

    /// A fingerprint stored beside sealed data to detect a wrong master key early.
    pub fn check_value(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"catalog master key check v1");
        h.update(self.0);
        hex(&h.finalize()[..8])
    }

    /// A key derived for fingerprints, distinct from the sealing key.
    pub fn fingerprint_key(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"catalog fingerprint key v1");
        h.update(self.0);
        h.finalize().into()
    }

    /// Encrypts `plaintext`, binding it to `context` (e.g. the owning row's id).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, blob: &[u8], context: &str) -> anyhow::Result<Vec<u8>> {
        if blob.len() < 1 + NONCE_LEN || blob[0] != SEAL_VERSION {
            bail!("sealed secret has an unknown format");
        }
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher
            .decrypt(
                XNonce::from_slice(&blob[1..1 + NONCE_LEN]),
                Payload {
                    msg: &blob[1 + NONCE_LEN..],
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow!("sealed secret cannot be opened with this master key"))
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_context() {
        let key = MasterKey::generate();
        let blob = key.seal(b"sk-secret", "row-1");
        assert!(!blob.windows(9).any(|w| w == b"sk-secret"));
        assert_eq!(key.open(&blob, "row-1").unwrap(), b"sk-secret");
        assert!(key.open(&blob, "row-2").is_err());
        assert!(MasterKey::generate().open(&blob, "row-1").is_err());
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
