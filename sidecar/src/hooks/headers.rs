//! Which upstream headers a hook may set. A hook's headers go to the one server the
//! call reaches, added last (they win over forwarded client headers, the server's
//! credential and `static_headers`, as LiteLLM's hook `extra_headers` do), and they
//! select the upstream session like any credential does, so a session is never shared
//! between calls that sent different ones.
//!
//! Never settable: the gateway's own headers (`x-meshgate-*`, the gateway key headers,
//! `x-mcp-*` — how clients address credentials to a server, so a hook cannot speak for
//! another server), the MCP transport's headers (session, protocol version, method,
//! name) and HTTP framing. Asking for one makes the answer garbage: the hook is broken.

use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::error::HookFault;

/// Most headers one answer may add.
const MAX_HEADERS: usize = 32;

/// Exact names a hook may not set.
const FORBIDDEN: &[&str] = &[
    // The gateway key's headers (LiteLLM's and the common alternatives).
    "x-litellm-api-key",
    "api-key",
    "x-api-key-gateway",
    // The MCP transport.
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
    // HTTP framing and routing.
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-connection",
    "accept",
];

/// Prefixes of names a hook may not set.
const FORBIDDEN_PREFIXES: &[&str] = &["x-meshgate-", "x-mcp-", "x-envoy-", ":"];

/// Why a hook may not set `name` (lowercase), or None when it may.
pub fn refusal(name: &str) -> Option<&'static str> {
    if FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Some("is reserved for the gateway");
    }
    if FORBIDDEN.contains(&name) {
        return Some("is set by the gateway or the transport");
    }
    None
}

/// The `headers` object of an answer as header pairs; any name a hook may not set, or
/// a value that is not a valid header string, makes the answer garbage.
pub fn checked_headers(
    map: &Map<String, Value>,
) -> Result<Vec<(HeaderName, HeaderValue)>, HookFault> {
    if map.len() > MAX_HEADERS {
        return Err(HookFault::Garbage(format!(
            "`headers` has more than {MAX_HEADERS} entries"
        )));
    }
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HookFault::Garbage(format!("`headers`: `{name}` is not a header name")))?;
        if let Some(why) = refusal(parsed.as_str()) {
            return Err(HookFault::Garbage(format!(
                "`headers`: `{}` {why}; a hook may not set it",
                parsed.as_str()
            )));
        }
        let Some(text) = value.as_str() else {
            return Err(HookFault::Garbage(format!(
                "`headers.{name}` must be a string"
            )));
        };
        let mut value = HeaderValue::from_str(text).map_err(|_| {
            HookFault::Garbage(format!("`headers.{name}` is not a valid header value"))
        })?;
        value.set_sensitive(true);
        out.push((parsed, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_and_transport_headers_are_refused() {
        for name in [
            "x-meshgate-decision",
            "X-Meshgate-Principal",
            "x-mcp-github-authorization",
            "x-mcp-servers",
            "x-litellm-api-key",
            "mcp-session-id",
            "host",
            "content-length",
            "x-envoy-original-path",
        ] {
            let map: Map<String, Value> = [(name.to_string(), Value::String("v".into()))]
                .into_iter()
                .collect();
            assert!(checked_headers(&map).is_err(), "{name}");
        }
        let map: Map<String, Value> = [
            (
                "authorization".to_string(),
                Value::String("Bearer jwt".into()),
            ),
            ("x-tenant".to_string(), Value::String("acme".into())),
        ]
        .into_iter()
        .collect();
        assert_eq!(checked_headers(&map).unwrap().len(), 2);
        let map: Map<String, Value> = [("x-a".to_string(), Value::String("a\nb".into()))]
            .into_iter()
            .collect();
        assert!(checked_headers(&map).is_err());
    }
}
