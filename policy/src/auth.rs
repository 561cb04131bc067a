//! Finding the gateway key in a request and comparing it with stored hashes.

use sha2::{Digest, Sha256};

/// LiteLLM's gateway-key header.
pub const DEFAULT_KEY_HEADER: &str = "x-litellm-api-key";

/// Where the gateway key was found; the filter removes that header before forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    KeyHeader,
    Authorization,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    pub key: &'a str,
    pub source: KeySource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLookupError {
    /// No key header and no `Authorization: Bearer`.
    Missing,
    /// More than one `Authorization` header (or one Envoy joined from several with
    /// `,`): ambiguous, refused.
    DuplicateAuthorization,
    /// More than one gateway-key header: ambiguous, refused.
    DuplicateKeyHeader,
    /// The key header is present but empty.
    Empty,
}

/// Picks the gateway key: the key header first (`Bearer` prefix optional); else
/// `Authorization: Bearer`. When both are sent, `Authorization` belongs to the upstream.
pub fn find_gateway_key<'a>(
    headers: &'a [(String, String)],
    key_header: &str,
) -> Result<PresentedKey<'a>, KeyLookupError> {
    let mut authorization: Option<&str> = None;
    let mut auth_count = 0;
    let mut key_value: Option<&str> = None;
    let mut key_count = 0;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case(key_header) {
            key_count += 1;
            key_value.get_or_insert(value.as_str());
        } else if name.eq_ignore_ascii_case("authorization") {
            auth_count += 1;
            authorization = Some(value.as_str());
        }
    }
    if auth_count > 1 || authorization.is_some_and(joins_credentials) {
        return Err(KeyLookupError::DuplicateAuthorization);
    }
    if key_count > 1 || key_value.is_some_and(joins_credentials) {
        return Err(KeyLookupError::DuplicateKeyHeader);
    }
    if let Some(value) = key_value {
        let key = strip_bearer(value).unwrap_or(value.trim());
        if key.is_empty() {
            return Err(KeyLookupError::Empty);
        }
        return Ok(PresentedKey {
            key,
            source: KeySource::KeyHeader,
        });
    }
    match authorization.and_then(strip_bearer) {
        Some(key) if !key.is_empty() => Ok(PresentedKey {
            key,
            source: KeySource::Authorization,
        }),
        Some(_) => Err(KeyLookupError::Empty),
        None => Err(KeyLookupError::Missing),
    }
}

/// Envoy joins repeated headers it knows (such as `Authorization`) into one value with
/// `,`. A bearer token never contains a comma, so a Bearer credential with one, or a
/// later comma-separated part that starts a Bearer credential, means several were sent.
/// (Commas inside one non-Bearer credential, e.g. Digest parameters, stay allowed.)
fn joins_credentials(value: &str) -> bool {
    let mut parts = value.split(',');
    let first = parts.next().unwrap_or_default().trim();
    let starts_bearer = |p: &str| {
        p.get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer "))
            || p.eq_ignore_ascii_case("bearer")
    };
    let mut rest = parts.map(str::trim).peekable();
    if rest.peek().is_none() {
        return false;
    }
    starts_bearer(first) || rest.any(starts_bearer)
}

fn strip_bearer(value: &str) -> Option<&str> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("bearer") {
        return Some("");
    }
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Keys are stored and compared as lowercase hex SHA-256.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Constant-time comparison of two hashes (no early exit on the first differing byte).
pub fn hashes_equal(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn key_header_wins_and_leaves_authorization_to_upstream() {
        let headers = h(&[
            ("authorization", "Bearer upstream"),
            ("x-litellm-api-key", "Bearer sk-1"),
        ]);
        let k = find_gateway_key(&headers, DEFAULT_KEY_HEADER).unwrap();
        assert_eq!(
            k,
            PresentedKey {
                key: "sk-1",
                source: KeySource::KeyHeader
            }
        );
    }

    #[test]
    fn authorization_bearer_is_the_fallback() {
        let headers = h(&[("Authorization", "Bearer sk-2")]);
        let k = find_gateway_key(&headers, DEFAULT_KEY_HEADER).unwrap();
        assert_eq!(
            k,
            PresentedKey {
                key: "sk-2",
                source: KeySource::Authorization
            }
        );
    }

    #[test]
    fn raw_key_header_is_accepted_and_errors_are_distinct() {
        let headers = h(&[("X-LiteLLM-Api-Key", "sk-raw")]);
        assert_eq!(
            find_gateway_key(&headers, DEFAULT_KEY_HEADER).unwrap().key,
            "sk-raw"
        );
        assert_eq!(
            find_gateway_key(&h(&[]), DEFAULT_KEY_HEADER),
            Err(KeyLookupError::Missing)
        );
        assert_eq!(
            find_gateway_key(&h(&[("authorization", "Basic abc")]), DEFAULT_KEY_HEADER),
            Err(KeyLookupError::Missing)
        );
        assert_eq!(
            find_gateway_key(
                &h(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]),
                DEFAULT_KEY_HEADER
            ),
            Err(KeyLookupError::DuplicateAuthorization)
        );
        assert_eq!(
            find_gateway_key(&h(&[("x-litellm-api-key", "Bearer ")]), DEFAULT_KEY_HEADER),
            Err(KeyLookupError::Empty)
        );
    }

    #[test]
    fn credentials_joined_by_envoy_or_repeated_are_ambiguous() {
        for value in [
            "Bearer a,Bearer b",
            "Bearer a, Bearer b",
            "Basic x,Bearer b",
            "bearer a,",
        ] {
            assert_eq!(
                find_gateway_key(&h(&[("authorization", value)]), DEFAULT_KEY_HEADER),
                Err(KeyLookupError::DuplicateAuthorization),
                "{value}"
            );
        }
        // Even when the key header carries the gateway key: the upstream's
        // credential would be a guess.
        assert_eq!(
            find_gateway_key(
                &h(&[
                    ("x-litellm-api-key", "sk-1"),
                    ("authorization", "Bearer a,Bearer b")
                ]),
                DEFAULT_KEY_HEADER
            ),
            Err(KeyLookupError::DuplicateAuthorization)
        );
        // One Digest credential has commas of its own.
        assert_eq!(
            find_gateway_key(
                &h(&[
                    ("x-litellm-api-key", "sk-1"),
                    ("authorization", "Digest username=\"u\", realm=\"r\"")
                ]),
                DEFAULT_KEY_HEADER
            )
            .unwrap()
            .key,
            "sk-1"
        );
        for headers in [
            h(&[("x-litellm-api-key", "sk-1"), ("x-litellm-api-key", "sk-2")]),
            h(&[("x-litellm-api-key", "Bearer sk-1,Bearer sk-2")]),
        ] {
            assert_eq!(
                find_gateway_key(&headers, DEFAULT_KEY_HEADER),
                Err(KeyLookupError::DuplicateKeyHeader)
            );
        }
    }

    #[test]
    fn custom_key_header() {
        let headers = h(&[("x-gw-key", "sk-3")]);
        assert_eq!(find_gateway_key(&headers, "x-gw-key").unwrap().key, "sk-3");
    }

    #[test]
    fn hashing() {
        assert_eq!(hash_key("sk-1").len(), 64);
        assert!(hashes_equal(&hash_key("a"), &hash_key("a")));
        assert!(!hashes_equal(&hash_key("a"), &hash_key("b")));
    }
}
