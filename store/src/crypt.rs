//! Credentials at rest. The configuration of a database-registered MCP server carries its
//! credentials (`auth_value`, header and `env` values, `client_secret`, tokens in URLs or
//! arguments), so the whole `config` column is sealed with ChaCha20-Poly1305 under a key
//! the operator holds — never one stored in the database. A sealed value is the JSON
//! string `mg1:<key id>:<base64url(nonce ‖ ciphertext)>`, bound to its row (the server id
//! is the associated data, so ciphertexts cannot be swapped between rows). A column that
//! still holds a plain JSON object (written before encryption, or without a key) is read
//! as it is and sealed by the next write; opening the store re-seals every row that is
//! plain or under a previous key, which completes a key rotation.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

use crate::error::StoreError;

const PREFIX: &str = "mg1:";

struct SealKey {
    id: String,
    cipher: ChaCha20Poly1305,
}

impl SealKey {
    fn derive(material: &str) -> SealKey {
        let mut h = Sha256::new();
        h.update(b"meshgate-store-key-v1\0");
        h.update(material.as_bytes());
        let key = h.finalize();
        let id = hex::encode(
            &Sha256::digest([b"meshgate-store-key-id\0".as_slice(), &key].concat())[..4],
        );
        SealKey {
            id,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }
}

/// The current sealing key and the previous ones still accepted for reading.
pub struct StoreKeys {
    current: SealKey,
    previous: Vec<SealKey>,
}

impl fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreKeys")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl StoreKeys {
    /// Keys from secret strings (each hashed into a 256-bit key; use ≥ 32 random characters).
    pub fn new(current: &str, previous: &[&str]) -> StoreKeys {
        StoreKeys {
            current: SealKey::derive(current),
            previous: previous.iter().map(|m| SealKey::derive(m)).collect(),
        }
    }

    /// The id of the current key (shown in logs; not secret).
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    pub(crate) fn seal(&self, row: &str, plaintext: &[u8]) -> Result<String, StoreError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce)
            .map_err(|e| StoreError::Database(format!("no randomness for a nonce: {e}")))?;
        let sealed = self
            .current
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: row.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Database("sealing a column failed".into()))?;
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}{}:{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(raw)
        ))
    }

    /// Whether a stored value needs sealing again (plain, or under a previous key).
    pub(crate) fn is_current(&self, stored: &str) -> bool {
        stored
            .strip_prefix(PREFIX)
            .and_then(|r| r.split_once(':'))
            .is_some_and(|(id, _)| id == self.current.id)
    }

    pub(crate) fn open(&self, row: &str, stored: &str) -> Result<Vec<u8>, StoreError> {
        let bad = |why: &str| StoreError::Database(format!("a sealed column of `{row}` {why}"));
        let (id, body) = stored
            .strip_prefix(PREFIX)
            .and_then(|r| r.split_once(':'))
            .ok_or_else(|| bad("has an unknown format"))?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| {
                bad("was sealed with a key this sidecar does not have (set MESHGATE_STORE_KEY_PREVIOUS)")
            })?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| bad("is not valid base64"))?;
        if raw.len() < 12 {
            return Err(bad("is too short"));
        }
        let (nonce, sealed) = raw.split_at(12);
        key.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: row.as_bytes(),
                },
            )
            .map_err(|_| bad("does not open with its key (tampered or another row's)"))
    }
}

/// Whether a stored JSON string is a sealed value.
pub(crate) fn is_sealed(s: &str) -> bool {
    s.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_rotate_and_bind_to_the_row() {
        let old = StoreKeys::new("old material", &[]);
        let sealed = old.seal("a", b"{\"auth_value\":\"s3cret\"}").unwrap();
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            old.open("a", &sealed).unwrap(),
            b"{\"auth_value\":\"s3cret\"}"
        );
        assert!(old.open("b", &sealed).is_err(), "bound to its row");
        let rotated = StoreKeys::new("new material", &["old material"]);
        assert!(!rotated.is_current(&sealed));
        assert_eq!(
            rotated.open("a", &sealed).unwrap(),
            b"{\"auth_value\":\"s3cret\"}"
        );
        let resealed = rotated.seal("a", b"x").unwrap();
        assert!(rotated.is_current(&resealed));
        let without_old = StoreKeys::new("new material", &[]);
        let e = without_old.open("a", &sealed).unwrap_err().to_string();
        assert!(e.contains("MESHGATE_STORE_KEY_PREVIOUS"), "{e}");
        let mut tampered = resealed.clone();
        tampered.push('A');
        assert!(rotated.open("a", &tampered).is_err());
        assert!(format!("{rotated:?}").contains(rotated.current_id()));
    }
}
