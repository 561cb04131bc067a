//! `x-meshgate-decision` as the sidecar reads it: any value, method and path. Never
//! panics; a value sealed with the secret opens to what was sealed, and the same value
//! never opens for another method or path (the replay-to-another-route rule).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshgate_policy::signing::{open_decision, seal_decision, Nonce, Seal};

const SECRET: &[u8] = b"fuzz-shared-secret-0123456789abcdef";
const NOW: u64 = 1_790_000_000_000;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    // Fields separated by newlines: value, method, path, principal, servers.
    let mut fields = text.split('\n');
    let value = fields.next().unwrap_or_default();
    let method = fields.next().unwrap_or("POST");
    let path = fields.next().unwrap_or("/mcp");
    let principal = fields.next().unwrap_or("master");
    let servers = fields.next().unwrap_or("*");

    // Anything an attacker can put in the header.
    let _ = open_decision(SECRET, method, path, Some(value), NOW);
    let _ = open_decision(b"", method, path, Some(value), NOW);

    // What the filter seals opens back, only for its own route and time.
    if principal.contains(' ') || servers.contains(' ') || principal.is_empty() {
        return;
    }
    let nonce = Nonce {
        vm: input.len() as u64,
        counter: u64::from(input.first().copied().unwrap_or_default()),
    };
    let seal = Seal {
        ts_ms: NOW,
        nonce,
        principal,
        servers,
        body_sha256: None,
    };
    let sealed = seal_decision(SECRET, method, path, &seal);
    match open_decision(SECRET, method, path, Some(&sealed), NOW) {
        Ok(d) => {
            assert_eq!(d.principal, principal);
            assert_eq!(d.servers, servers);
            assert_eq!(d.ts_ms, NOW);
            assert_eq!(d.nonce, nonce);
            assert_eq!(d.body_sha256, None);
        }
        Err(e) => panic!("a freshly sealed decision did not open: {e:?}"),
    }
    let other_path = format!("{path}x");
    assert!(open_decision(SECRET, method, &other_path, Some(&sealed), NOW).is_err());
    assert!(open_decision(SECRET, method, path, Some(&sealed), NOW + 120_000).is_err());
    assert!(open_decision(b"another secret", method, path, Some(&sealed), NOW).is_err());
});
