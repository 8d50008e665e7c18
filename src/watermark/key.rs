//! The 32-byte secret behind a watermark, and its public id.

use std::fmt;

use zeroize::Zeroize;

use super::error::WatermarkError;

/// Bytes in a secret key.
pub const KEY_BYTES: usize = 32;

/// BLAKE3 `derive_key` context for keys made from a passphrase (globally unique, never reused).
const PASSPHRASE_CONTEXT: &str = "retort 2026-12-06 watermark v1: key from passphrase";
/// BLAKE3 `derive_key` context for the public key id.
const KEY_ID_CONTEXT: &str = "retort 2026-12-06 watermark v1: key id";

/// A watermark's secret. Whoever holds it can mark text as the device's and can find the mark, so
/// it is never printed: `Debug` shows the [`KeyId`] only, and the bytes are zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_BYTES]);

impl SecretKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<SecretKey, WatermarkError> {
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| WatermarkError::Randomness(e.to_string()))?;
        Ok(SecretKey(bytes))
    }

    /// The key BLAKE3's `derive_key` makes of `passphrase`: the same passphrase gives the same
    /// key on every device. `derive_key` is fast, not a password hash, so the passphrase must be
    /// long and random (a guessable one gives a guessable key).
    pub fn from_passphrase(passphrase: &str) -> Result<SecretKey, WatermarkError> {
        if passphrase.is_empty() {
            return Err(WatermarkError::BadParam {
                name: "passphrase",
                value: "\"\"".into(),
                rule: "must not be empty",
            });
        }
        Ok(SecretKey(blake3::derive_key(
            PASSPHRASE_CONTEXT,
            passphrase.as_bytes(),
        )))
    }

    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> SecretKey {
        SecretKey(bytes)
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }

    /// The public id of this key.
    pub fn id(&self) -> KeyId {
        let digest = blake3::derive_key(KEY_ID_CONTEXT, &self.0);
        KeyId(hex::encode(&digest[..8]))
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(id {})", self.id())
    }
}

/// The public name of a key: 16 hex digits of a BLAKE3 hash of the secret (one-way, so printing
/// it reveals nothing of the key). The verifier prints it, so a verdict always says which key it
/// was made under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// The 16 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passphrase_gives_the_same_key_everywhere() {
        let a = SecretKey::from_passphrase("correct horse battery staple").unwrap();
        let b = SecretKey::from_passphrase("correct horse battery staple").unwrap();
        assert_eq!(a, b);
        // Pinned: a passphrase key must survive upgrades and platforms.
        assert_eq!(
            hex::encode(a.as_bytes()),
            hex::encode(blake3::derive_key(
                PASSPHRASE_CONTEXT,
                b"correct horse battery staple"
            ))
        );
        assert_ne!(
            a,
            SecretKey::from_passphrase("correct horse battery stapler").unwrap()
        );
        assert!(SecretKey::from_passphrase("").is_err());
    }

    #[test]
    fn random_keys_differ_and_debug_hides_the_secret() {
        let a = SecretKey::generate().unwrap();
        let b = SecretKey::generate().unwrap();
        assert_ne!(a, b);
        assert_ne!(a.id(), b.id());
        let shown = format!("{a:?}");
        assert!(shown.contains(a.id().as_str()));
        assert!(!shown.contains(&hex::encode(a.as_bytes())));
        assert_eq!(a.id().as_str().len(), 16);
    }

    #[test]
    fn key_id_is_pinned() {
        let key = SecretKey::from_bytes([7; KEY_BYTES]);
        assert_eq!(key.id().as_str(), PINNED_ID_OF_SEVENS);
    }

    /// The id of the all-sevens key, from `tests/data/watermark_prf_vectors.py` (a change here
    /// changes every key id).
    const PINNED_ID_OF_SEVENS: &str = "e1dd43ca0f8e30d7";
}
