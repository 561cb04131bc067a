//! The filter signs what it decided; the sidecar trusts nothing else.
//!
//! Every `x-meshgate-*` header the filter sets (except the signature itself) is covered,
//! together with the method and the path, so a decision cannot be moved to another
//! request line or have a header added or removed. A timestamp bounds how long a decision
//! lives; a nonce (VM id + counter) makes it single-use at each sidecar (`replay.rs`); and
//! where the filter has the body (admin requests, the policy sync) its SHA-256 is sealed too,
//! so a captured decision cannot carry another body.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::SignatureError;
use crate::principal::Principal;
use crate::scope::Scope;

/// Prefix of every internal header; any a client sends is stripped by the filter.
pub const INTERNAL_PREFIX: &str = "x-meshgate-";
pub const SIGNATURE_HEADER: &str = "x-meshgate-signature";
pub const TIMESTAMP_HEADER: &str = "x-meshgate-ts";
pub const PRINCIPAL_HEADER: &str = "x-meshgate-principal";
pub const SERVERS_HEADER: &str = "x-meshgate-servers";
/// Signed pseudo-headers of a decision: its single-use nonce and the body it is bound to.
pub const NONCE_HEADER: &str = "x-meshgate-nonce";
pub const BODY_HEADER: &str = "x-meshgate-body";
/// How far a signature's timestamp may be from the verifier's clock.
pub const MAX_SKEW_MS: u64 = 60_000;

type HmacSha256 = Hmac<Sha256>;

pub fn is_internal_header(name: &str) -> bool {
    name.len() >= INTERNAL_PREFIX.len()
        && name.as_bytes()[..INTERNAL_PREFIX.len()].eq_ignore_ascii_case(INTERNAL_PREFIX.as_bytes())
}

/// Signs `method`, `path` and the given internal headers (which must include the timestamp).
/// Returns the lowercase hex signature.
pub fn sign(secret: &[u8], method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    hex::encode(mac(secret, method, path, headers).finalize().into_bytes())
}

/// Verifies a signature over `headers` (all internal headers of the request except the
/// signature). `now_ms` is the verifier's clock.
pub fn verify(
    secret: &[u8],
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    signature_hex: Option<&str>,
    now_ms: u64,
) -> Result<(), SignatureError> {
    let signature_hex = signature_hex.ok_or(SignatureError::Missing)?;
    let signature = hex::decode(signature_hex.trim()).map_err(|_| SignatureError::Malformed)?;
    let ts: u64 = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(TIMESTAMP_HEADER))
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or(SignatureError::Malformed)?;
    if ts.abs_diff(now_ms) > MAX_SKEW_MS {
        return Err(SignatureError::Stale);
    }
    mac(secret, method, path, headers)
        .verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)
}

fn mac(secret: &[u8], method: &str, path: &str, headers: &[(&str, &str)]) -> HmacSha256 {
    let mut sorted: Vec<(String, &str)> = headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(SIGNATURE_HEADER))
        .map(|(n, v)| (n.to_ascii_lowercase(), *v))
        .collect();
    sorted.sort();
    // HMAC accepts keys of any length; the error branch cannot happen.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => HmacSha256::new(&Default::default()),
    };
    mac.update(b"meshgate-v1\n");
    for part in [method, path] {
        mac.update(part.as_bytes());
        mac.update(b"\n");
    }
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        mac.update(b"\n");
    }
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret";

    fn headers(ts: &str) -> Vec<(&str, &str)> {
        vec![
            (TIMESTAMP_HEADER, ts),
            (PRINCIPAL_HEADER, "master"),
            (SERVERS_HEADER, "*"),
        ]
    }

    #[test]
    fn round_trip_and_order_independence() {
        let h = headers("1000");
        let sig = sign(SECRET, "POST", "/mcp", &h);
        let mut reversed = h.clone();
        reversed.reverse();
        assert_eq!(
            verify(SECRET, "POST", "/mcp", &reversed, Some(&sig), 1000),
            Ok(())
        );
    }

    #[test]
    fn any_change_breaks_it() {
        let h = headers("1000");
        let sig = sign(SECRET, "POST", "/mcp", &h);
        assert_eq!(
            verify(SECRET, "POST", "/mcp/x", &h, Some(&sig), 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, "GET", "/mcp", &h, Some(&sig), 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", "POST", "/mcp", &h, Some(&sig), 1000),
            Err(SignatureError::Mismatch)
        );
        let mut more = h.clone();
        more.push(("x-meshgate-extra", "1"));
        assert_eq!(
            verify(SECRET, "POST", "/mcp", &more, Some(&sig), 1000),
            Err(SignatureError::Mismatch)
        );
        let fewer: Vec<_> = h
            .iter()
            .filter(|(n, _)| *n != SERVERS_HEADER)
            .cloned()
            .collect();
        assert_eq!(
            verify(SECRET, "POST", "/mcp", &fewer, Some(&sig), 1000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_malformed_and_stale() {
        let h = headers("1000");
        assert_eq!(
            verify(SECRET, "POST", "/mcp", &h, None, 1000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, "POST", "/mcp", &h, Some("zz"), 1000),
            Err(SignatureError::Malformed)
        );
        let sig = sign(SECRET, "POST", "/mcp", &h);
        assert_eq!(
            verify(
                SECRET,
                "POST",
                "/mcp",
                &h,
                Some(&sig),
                1000 + MAX_SKEW_MS + 1
            ),
            Err(SignatureError::Stale)
        );
        let no_ts = vec![(PRINCIPAL_HEADER, "master")];
        assert_eq!(
            verify(SECRET, "POST", "/mcp", &no_ts, Some(&sig), 1000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn internal_header_detection() {
        assert!(is_internal_header("X-Meshgate-Principal"));
        assert!(!is_internal_header("x-mesh"));
        assert!(!is_internal_header("x-mcp-servers"));
    }
}

/// The one header that carries a signed decision:
/// `v2 <ts> <nonce> <principal> <servers> <body sha-256 | -> <sig>`.
/// One header instead of several saves host calls in the filter on every request.
pub const DECISION_HEADER: &str = "x-meshgate-decision";
const DECISION_VERSION: &str = "v2";
/// Placeholder for "no body bound" in the decision header.
const NO_BODY: &str = "-";

/// What the filter decided about one request, as it seals it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seal<'a> {
    pub ts_ms: u64,
    /// Unique per decision: see [`Nonce`].
    pub nonce: Nonce,
    /// [`Principal::encode`]'s wire form (tests may seal anything).
    pub principal: &'a str,
    /// [`Scope::encode`]'s wire form: `*`, or a comma list of server names.
    pub servers: &'a str,
    /// Lowercase hex SHA-256 of the request body, when the filter read it.
    pub body_sha256: Option<&'a str>,
}

/// A decision's single-use id: the random id of the filter VM that sealed it and that
/// VM's counter. Unique without coordination; the sidecar remembers each VM's recent
/// counters (a sliding window, [`crate::replay::ReplayWindow`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce {
    pub vm: u64,
    pub counter: u64,
}

impl Nonce {
    /// `<vm: 16 hex digits>-<counter: hex>`.
    pub fn encode(&self) -> String {
        format!("{:016x}-{:x}", self.vm, self.counter)
    }

    pub fn parse(text: &str) -> Option<Nonce> {
        let (vm, counter) = text.split_once('-')?;
        if vm.len() != 16 || counter.is_empty() || counter.len() > 16 {
            return None;
        }
        let hex_only = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_only(vm) || !hex_only(counter) {
            return None;
        }
        Some(Nonce {
            vm: u64::from_str_radix(vm, 16).ok()?,
            counter: u64::from_str_radix(counter, 16).ok()?,
        })
    }
}

/// What the filter decided, as the sidecar reads it back (signature verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDecision {
    pub ts_ms: u64,
    pub nonce: Nonce,
    /// As sealed; read it with [`SignedDecision::who`].
    pub principal: String,
    /// As sealed; read it with [`SignedDecision::scope`].
    pub servers: String,
    pub body_sha256: Option<String>,
}

impl SignedDecision {
    /// The principal, if the seal carries one the filter can write.
    pub fn who(&self) -> Option<Principal> {
        Principal::parse(&self.principal)
    }

    pub fn scope(&self) -> Scope {
        Scope::parse(&self.servers)
    }
}

/// Lowercase hex SHA-256 of a body, as sealed in a decision.
pub fn body_digest(body: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(body))
}

pub use crate::paths::{binds_body, is_admin_api_path, MAX_BOUND_BODY_BYTES};

fn signed_fields<'a>(
    ts: &'a str,
    nonce: &'a str,
    principal: &'a str,
    servers: &'a str,
    body: &'a str,
) -> [(&'static str, &'a str); 5] {
    [
        (TIMESTAMP_HEADER, ts),
        (NONCE_HEADER, nonce),
        (PRINCIPAL_HEADER, principal),
        (SERVERS_HEADER, servers),
        (BODY_HEADER, body),
    ]
}

/// The `x-meshgate-decision` value for a request (principal and servers contain no spaces).
pub fn seal_decision(secret: &[u8], method: &str, path: &str, seal: &Seal<'_>) -> String {
    let ts = seal.ts_ms.to_string();
    let nonce = seal.nonce.encode();
    let body = seal.body_sha256.unwrap_or(NO_BODY);
    let fields = signed_fields(&ts, &nonce, seal.principal, seal.servers, body);
    let sig = sign(secret, method, path, &fields);
    format!(
        "{DECISION_VERSION} {ts} {nonce} {} {} {body} {sig}",
        seal.principal, seal.servers
    )
}

/// Reads and verifies an `x-meshgate-decision` value (signature and freshness; the
/// caller checks the nonce against what it has seen and the body against the hash).
pub fn open_decision(
    secret: &[u8],
    method: &str,
    path: &str,
    value: Option<&str>,
    now_ms: u64,
) -> Result<SignedDecision, SignatureError> {
    let value = value.ok_or(SignatureError::Missing)?;
    let mut parts = value.splitn(7, ' ');
    let (Some(DECISION_VERSION), Some(ts), Some(nonce), Some(principal), Some(servers)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SignatureError::Malformed);
    };
    let (Some(body), Some(sig)) = (parts.next(), parts.next()) else {
        return Err(SignatureError::Malformed);
    };
    let fields = signed_fields(ts, nonce, principal, servers, body);
    verify(secret, method, path, &fields, Some(sig), now_ms)?;
    let ts_ms = ts.parse().map_err(|_| SignatureError::Malformed)?;
    let nonce = Nonce::parse(nonce).ok_or(SignatureError::Malformed)?;
    let body_sha256 = match body {
        NO_BODY => None,
        hash if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(hash.to_ascii_lowercase())
        }
        _ => return Err(SignatureError::Malformed),
    };
    Ok(SignedDecision {
        ts_ms,
        nonce,
        principal: principal.to_string(),
        servers: servers.to_string(),
        body_sha256,
    })
}

#[cfg(test)]
mod decision_header_tests {
    use super::*;

    const SECRET: &[u8] = b"secret-secret-secret";
    const NONCE: Nonce = Nonce {
        vm: 0xabcdef,
        counter: 7,
    };

    fn seal(servers: &str, body: Option<&str>) -> String {
        seal_decision(
            SECRET,
            "POST",
            "/mcp",
            &Seal {
                ts_ms: 5_000,
                nonce: NONCE,
                principal: "key:ab",
                servers,
                body_sha256: body,
            },
        )
    }

    #[test]
    fn sealed_decisions_open_only_unchanged() {
        let v = seal("a,b", None);
        let d = open_decision(SECRET, "POST", "/mcp", Some(&v), 5_000).unwrap();
        assert_eq!(
            (d.principal.as_str(), d.servers.as_str(), d.ts_ms, d.nonce),
            ("key:ab", "a,b", 5_000, NONCE)
        );
        assert_eq!(d.body_sha256, None);
        assert_eq!(d.who(), Some(Principal::Key("ab".into())));
        assert_eq!(d.scope(), Scope::only(&["a", "b"]));
        let empty = seal("", None);
        assert_eq!(
            open_decision(SECRET, "POST", "/mcp", Some(&empty), 5_000)
                .unwrap()
                .servers,
            ""
        );
        let forged = v.replace("a,b", "*");
        assert_eq!(
            open_decision(SECRET, "POST", "/mcp", Some(&forged), 5_000),
            Err(SignatureError::Mismatch)
        );
        let other_nonce = v.replace("-7 ", "-8 ");
        assert_ne!(other_nonce, v);
        assert_eq!(
            open_decision(SECRET, "POST", "/mcp", Some(&other_nonce), 5_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            open_decision(SECRET, "GET", "/mcp", Some(&v), 5_000),
            Err(SignatureError::Mismatch)
        );
        for malformed in ["v1 x", "v2 1 2 3 4 5", "", "v2"] {
            assert_eq!(
                open_decision(SECRET, "POST", "/mcp", Some(malformed), 5_000),
                Err(SignatureError::Malformed),
                "{malformed}"
            );
        }
        assert_eq!(
            open_decision(SECRET, "POST", "/mcp", None, 5_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            open_decision(SECRET, "POST", "/mcp", Some(&v), 5_000 + MAX_SKEW_MS + 1),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn the_body_hash_is_sealed() {
        let hash = body_digest(b"{\"key_alias\":\"a\"}");
        let v = seal("*", Some(&hash));
        let d = open_decision(SECRET, "POST", "/mcp", Some(&v), 5_000).unwrap();
        assert_eq!(d.body_sha256.as_deref(), Some(hash.as_str()));
        let other = body_digest(b"{\"key\":\"sk-evil\"}");
        assert_eq!(
            open_decision(
                SECRET,
                "POST",
                "/mcp",
                Some(&v.replace(&hash, &other)),
                5_000
            ),
            Err(SignatureError::Mismatch)
        );
        let unbound = v.replace(&hash, "-");
        assert_eq!(
            open_decision(SECRET, "POST", "/mcp", Some(&unbound), 5_000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn nonces_round_trip_and_refuse_junk() {
        let n = Nonce {
            vm: u64::MAX,
            counter: 0,
        };
        assert_eq!(Nonce::parse(&n.encode()), Some(n));
        assert_eq!(Nonce::parse(&NONCE.encode()), Some(NONCE));
        for bad in [
            "",
            "-",
            "abc-1",
            "00000000000000zz-1",
            "0000000000000000-",
            "0000000000000000-+1",
            "0000000000000000-11111111111111111",
        ] {
            assert_eq!(Nonce::parse(bad), None, "{bad}");
        }
    }
}
