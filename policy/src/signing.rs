//! The filter signs what it decided; the sidecar trusts nothing else.
//!
//! Every `x-meshgate-*` header the filter sets (except the signature itself) is covered,
//! together with the method and the path, so a decision cannot be moved to another
//! request line or have a header added or removed. A timestamp bounds replay.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::SignatureError;

/// Prefix of every internal header; any a client sends is stripped by the filter.
pub const INTERNAL_PREFIX: &str = "x-meshgate-";
pub const SIGNATURE_HEADER: &str = "x-meshgate-signature";
pub const TIMESTAMP_HEADER: &str = "x-meshgate-ts";
pub const PRINCIPAL_HEADER: &str = "x-meshgate-principal";
pub const SERVERS_HEADER: &str = "x-meshgate-servers";
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

/// The one header that carries a signed decision: `v1 <ts> <principal> <servers> <sig>`.
/// One header instead of four saves host calls in the filter on every request.
pub const DECISION_HEADER: &str = "x-meshgate-decision";

/// What the filter decided, as the sidecar reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDecision {
    pub ts_ms: u64,
    pub principal: String,
    /// `*`, or a comma list of server names (possibly empty).
    pub servers: String,
}

/// The `x-meshgate-decision` value for a request (principal and servers contain no spaces).
pub fn seal_decision(
    secret: &[u8],
    method: &str,
    path: &str,
    ts_ms: u64,
    principal: &str,
    servers: &str,
) -> String {
    let ts = ts_ms.to_string();
    let signed = [
        (TIMESTAMP_HEADER, ts.as_str()),
        (PRINCIPAL_HEADER, principal),
        (SERVERS_HEADER, servers),
    ];
    let sig = sign(secret, method, path, &signed);
    format!("v1 {ts} {principal} {servers} {sig}")
}

/// Reads and verifies an `x-meshgate-decision` value.
pub fn open_decision(
    secret: &[u8],
    method: &str,
    path: &str,
    value: Option<&str>,
    now_ms: u64,
) -> Result<SignedDecision, SignatureError> {
    let value = value.ok_or(SignatureError::Missing)?;
    let mut parts = value.splitn(5, ' ');
    let (Some("v1"), Some(ts), Some(principal), Some(servers), Some(sig)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SignatureError::Malformed);
    };
    let signed = [
        (TIMESTAMP_HEADER, ts),
        (PRINCIPAL_HEADER, principal),
        (SERVERS_HEADER, servers),
    ];
    verify(secret, method, path, &signed, Some(sig), now_ms)?;
    let ts_ms = ts.parse().map_err(|_| SignatureError::Malformed)?;
    Ok(SignedDecision {
        ts_ms,
        principal: principal.to_string(),
        servers: servers.to_string(),
    })
}

#[cfg(test)]
mod decision_header_tests {
    use super::*;

    #[test]
    fn sealed_decisions_open_only_unchanged() {
        let v = seal_decision(
            b"secret-secret-secret",
            "POST",
            "/mcp",
            5_000,
            "key:ab",
            "a,b",
        );
        let d = open_decision(b"secret-secret-secret", "POST", "/mcp", Some(&v), 5_000).unwrap();
        assert_eq!(
            (d.principal.as_str(), d.servers.as_str(), d.ts_ms),
            ("key:ab", "a,b", 5_000)
        );
        let empty = seal_decision(b"secret-secret-secret", "POST", "/mcp", 5_000, "key:ab", "");
        assert_eq!(
            open_decision(b"secret-secret-secret", "POST", "/mcp", Some(&empty), 5_000)
                .unwrap()
                .servers,
            ""
        );
        let forged = v.replace("a,b", "*");
        assert_eq!(
            open_decision(
                b"secret-secret-secret",
                "POST",
                "/mcp",
                Some(&forged),
                5_000
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            open_decision(b"secret-secret-secret", "GET", "/mcp", Some(&v), 5_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            open_decision(b"secret-secret-secret", "POST", "/mcp", Some("v1 x"), 5_000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            open_decision(b"secret-secret-secret", "POST", "/mcp", None, 5_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            open_decision(
                b"secret-secret-secret",
                "POST",
                "/mcp",
                Some(&v),
                5_000 + MAX_SKEW_MS + 1
            ),
            Err(SignatureError::Stale)
        );
    }
}
