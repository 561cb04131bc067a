//! Client session ids (`Mcp-Session-Id`): any text a client sends, and — since only the
//! sealed part is trusted — any plaintext sealed under the key (what a replica with the
//! same secret may have minted in another format version). Never panics; a minted id
//! opens to what was minted.
#![no_main]

use libfuzzer_sys::fuzz_target;

// session.rs, with the few sidecar items it names, compiled in place (the sidecar is a
// binary crate; its modules are not moved for the fuzzer). session.rs reaches them as
// `super::SUPPORTED_VERSIONS`, `crate::relay::ClientCaps` and `crate::upstream::carried`.

/// As in sidecar/src/versions.rs (only the count matters to the decoder).
pub const SUPPORTED_VERSIONS: &[&str] = &["2025-03-26", "2025-06-18", "2025-11-25"];
#[path = "../../sidecar/src/upstream/carried.rs"]
#[allow(dead_code)]
pub(crate) mod carried;
#[path = "../../sidecar/src/relay/caps.rs"]
#[allow(dead_code)]
mod relay;
mod upstream {
    pub(crate) use crate::carried;
}
#[path = "../../sidecar/src/sessions/id.rs"]
#[allow(dead_code)]
mod session;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use session::SessionKeys;
use sha2::Sha256;

const SECRET: &[u8] = b"fuzz-shared-secret-0123456789abcdef";

/// The same key derivation as session.rs, so arbitrary plaintexts can be sealed.
fn seal(plain: &[u8]) -> Option<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET).ok()?;
    mac.update(b"meshgate session key v1");
    let key = mac.finalize().into_bytes();
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&key));
    let nonce = [7u8; 12];
    let sealed = cipher.encrypt(Nonce::from_slice(&nonce), plain).ok()?;
    let mut raw = nonce.to_vec();
    raw.extend_from_slice(&sealed);
    Some(format!("m2.{}", URL_SAFE_NO_PAD.encode(raw)))
}

/// Where session.rs keeps the principal tag in the plaintext (after format, protocol,
/// capabilities and the issue time).
const PRINCIPAL_TAG: std::ops::Range<usize> = 11..19;
const PRINCIPAL: &str = "master";

fuzz_target!(|input: &[u8]| {
    let keys = SessionKeys::derive(SECRET);
    // What a client sends.
    let _ = keys.open(&String::from_utf8_lossy(input), PRINCIPAL);
    // What the key could have sealed — for the principal asking (an id opens only for
    // the principal it was minted for), and as it is (for another principal).
    let mut plain = input.to_vec();
    if let Some(tag) = plain.get_mut(PRINCIPAL_TAG) {
        tag.copy_from_slice(&session::principal_tag(PRINCIPAL).to_be_bytes());
    }
    if let Some(other) = seal(input) {
        let _ = keys.open(&other, "key:other");
    }
    let Some(token) = seal(&plain) else {
        return;
    };
    if let Some(info) = keys.open(&token, PRINCIPAL) {
        // Minting what was opened gives an id that opens to the same thing. (An id
        // carrying more than MAX_CARRIED upstream sessions opens, but minting keeps
        // only MAX_CARRIED — finding F2 in docs/security.md.)
        if info.upstreams.len() > carried::MAX_CARRIED {
            return;
        }
        if let Some(again) = keys.mint(&info) {
            assert_eq!(
                keys.open(&again, PRINCIPAL),
                Some(info),
                "re-minted id opened differently"
            );
        }
    }
});
