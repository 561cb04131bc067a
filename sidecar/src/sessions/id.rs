//! Client session ids: self-contained and encrypted (ChaCha20-Poly1305 under a key
//! derived from the shared secret), so any replica with the same secret can read one,
//! and a tampered or foreign id simply fails to open. An id names the principal that
//! opened it (a tag of its name) and opens only for that principal; it carries its issue
//! time, so its lifetime is checked without state (`life.rs` does idle time and
//! revocation).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::SUPPORTED_VERSIONS;
use crate::relay::ClientCaps;
use crate::upstream::carried::{self, CarriedSession};

const FORMAT_VERSION: u8 = 3;
const PREFIX: &str = "m2.";
/// Format byte, protocol version, capabilities, issue time (ms), principal tag.
const FIXED_LEN: usize = 1 + 1 + 1 + 8 + 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub protocol_version: &'static str,
    /// Unix milliseconds of the `initialize` that minted it.
    pub issued_at: u64,
    /// [`principal_tag`] of the principal that opened it.
    pub principal: u64,
    /// What the client declared at initialize.
    pub caps: ClientCaps,
    /// The upstream sessions opened for it, so any replica can continue them.
    pub upstreams: Vec<CarriedSession>,
}

/// A client session as a request carries it: its id and what the id says.
#[derive(Debug, Clone)]
pub struct ClientSession {
    pub token: String,
    pub info: SessionInfo,
}

pub struct SessionKeys {
    cipher: ChaCha20Poly1305,
}

impl SessionKeys {
    pub fn derive(secret: &[u8]) -> Self {
        let key = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
            Ok(mut mac) => {
                mac.update(b"meshgate session key v1");
                mac.finalize().into_bytes()
            }
            Err(_) => Default::default(),
        };
        SessionKeys {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    pub fn mint(&self, info: &SessionInfo) -> Option<String> {
        let version_index = SUPPORTED_VERSIONS
            .iter()
            .position(|v| *v == info.protocol_version)? as u8;
        let mut plain = Vec::with_capacity(FIXED_LEN);
        plain.push(FORMAT_VERSION);
        plain.push(version_index);
        plain.push(info.caps.0);
        plain.extend_from_slice(&info.issued_at.to_be_bytes());
        plain.extend_from_slice(&info.principal.to_be_bytes());
        carried::encode(&info.upstreams, &mut plain);
        let mut nonce = [0u8; 12];
        getrandom::getrandom(&mut nonce).ok()?;
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .ok()?;
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&sealed);
        Some(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw)))
    }

    /// None for anything that is not a session id this key minted for `principal`.
    pub fn open(&self, token: &str, principal: &str) -> Option<SessionInfo> {
        let info = self.open_any(token)?;
        (info.principal == principal_tag(principal)).then_some(info)
    }

    fn open_any(&self, token: &str) -> Option<SessionInfo> {
        let raw = URL_SAFE_NO_PAD.decode(token.strip_prefix(PREFIX)?).ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let (nonce, sealed) = raw.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), sealed).ok()?;
        if plain.len() <= FIXED_LEN || plain[0] != FORMAT_VERSION {
            return None;
        }
        let protocol_version = SUPPORTED_VERSIONS.get(plain[1] as usize)?;
        let caps = ClientCaps(plain[2]);
        let issued_at = u64::from_be_bytes(plain[3..11].try_into().ok()?);
        let principal = u64::from_be_bytes(plain[11..FIXED_LEN].try_into().ok()?);
        let upstreams = carried::decode(&plain[FIXED_LEN..])?;
        Some(SessionInfo {
            protocol_version,
            issued_at,
            principal,
            caps,
            upstreams,
        })
    }
}

/// Names a principal inside session ids (64 bits of a keyed-free hash: the id is
/// encrypted and authenticated, so the tag only has to tell principals apart).
pub fn principal_tag(name: &str) -> u64 {
    let digest = <Sha256 as sha2::Digest>::digest(name.as_bytes());
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(tag)
}

/// What a revocation is recorded under: a hash of the id (the id itself, a bearer
/// credential, is never stored).
pub fn revocation_key(token: &str) -> String {
    let digest = <Sha256 as sha2::Digest>::digest(token.as_bytes());
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_tamper_and_foreign_key() {
        let keys = SessionKeys::derive(b"0123456789abcdef0123");
        let info = SessionInfo {
            protocol_version: "2025-06-18",
            issued_at: 42,
            principal: principal_tag("key:alice"),
            caps: ClientCaps(5),
            upstreams: vec![],
        };
        let token = keys.mint(&info).unwrap();
        assert!(token.len() < 80, "{}", token.len());
        assert!(token.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_eq!(keys.open(&token, "key:alice"), Some(info));
        // Another principal (another key, the master key) cannot use it.
        assert_eq!(keys.open(&token, "key:bob"), None);
        assert_eq!(keys.open(&token, "master"), None);
        assert_ne!(revocation_key(&token), revocation_key("m2.other"));
        assert!(!revocation_key(&token).contains(&token[3..20]));
        let mut bad = token.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            keys.open(std::str::from_utf8(&bad).unwrap(), "key:alice"),
            None
        );
        assert_eq!(
            SessionKeys::derive(b"another secret value").open(&token, "key:alice"),
            None
        );
        assert_eq!(keys.open("m2.!!", "key:alice"), None);
    }

    /// The size the issue asks about: a session carrying five upstream sessions.
    #[test]
    fn five_upstream_sessions_stay_small() {
        let keys = SessionKeys::derive(b"0123456789abcdef0123");
        let upstreams: Vec<CarriedSession> = (0..5)
            .map(|i| CarriedSession {
                server: carried::server_tag(&format!("server{i}")),
                key: i,
                protocol: "2025-11-25",
                id: format!("0f8e6a3c-1b2d-4e5f-8a9b-0c1d2e3f4a5{i}"),
            })
            .collect();
        let info = SessionInfo {
            protocol_version: "2025-11-25",
            issued_at: 1_790_000_000_000,
            principal: principal_tag("master"),
            caps: ClientCaps(0),
            upstreams,
        };
        let token = keys.mint(&info).unwrap();
        // 19 fixed + 1 + 5 × 25 bytes = 145, + 12 nonce + 16 tag = 173 bytes,
        // base64 without padding = 231, + "m2." = 234 characters.
        assert_eq!(token.len(), 234, "{token}");
        assert_eq!(keys.open(&token, "master"), Some(info));
        assert_eq!(keys.open("made-up", "master"), None);
    }
}
