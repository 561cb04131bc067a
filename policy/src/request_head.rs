//! A request head as the host hands it over — names and values as raw bytes — turned
//! into the text headers `decide` reads. Envoy lets obs-text (bytes 0x80–0xFF) through
//! in header values, so a value need not be UTF-8: where the filter acts on the value it
//! is refused (400 naming the header), anywhere else the header is left to the sidecar
//! and not looked at here.

use crate::decision::{header, Rejection, SERVERS_FILTER_HEADER};
use crate::guardrails::select::REQUEST_HEADER as GUARDRAILS_HEADER;
use crate::mcp_headers::{METHOD_HEADER, NAME_HEADER};
use crate::signing::is_internal_header;

/// The header a 2026-07-28 client sends on every request.
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
/// The first protocol version whose clients get JSON-RPC shaped refusals.
pub const STATELESS_PROTOCOL: &str = "2026-07-28";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHead {
    pub method: String,
    pub path: String,
    /// Every header with a UTF-8 name and value (pseudo-headers included), in order.
    pub headers: Vec<(String, String)>,
    /// Names of client headers that look like the filter's own; they must be removed.
    pub internal: Vec<String>,
}

/// Reads a raw head. `key_header` is the configured gateway-key header (lowercase or
/// not). Internal headers are listed in `internal` and left out of `headers`.
pub fn read_head(raw: &[(Vec<u8>, Vec<u8>)], key_header: &str) -> Result<RequestHead, Rejection> {
    let mut head = RequestHead::default();
    for (name, value) in raw {
        // Envoy's codecs only pass token characters in names; anything else cannot be a
        // header the filter reads, so it is skipped rather than trusted.
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if is_internal_header(name) {
            head.internal.push(name.to_string());
            continue;
        }
        match std::str::from_utf8(value) {
            Ok(value) => head.headers.push((name.to_string(), value.to_string())),
            Err(_) if value_matters(name, key_header) => {
                let mut rejection = Rejection::new(
                    400,
                    "invalid_header",
                    format!("header `{}` is not valid UTF-8", name.to_ascii_lowercase()),
                );
                rejection.jsonrpc = wants_jsonrpc_raw(raw);
                return Err(rejection);
            }
            Err(_) => {}
        }
    }
    head.method = header(&head.headers, ":method")
        .unwrap_or("GET")
        .to_string();
    head.path = header(&head.headers, ":path").unwrap_or("/").to_string();
    Ok(head)
}

/// Headers whose value the filter decides on: pseudo-headers, credentials, narrowing,
/// the MCP 2026-07-28 routing headers and the guardrails a request adds.
fn value_matters(name: &str, key_header: &str) -> bool {
    name.starts_with(':')
        || [
            key_header,
            "authorization",
            SERVERS_FILTER_HEADER,
            METHOD_HEADER,
            NAME_HEADER,
            PROTOCOL_VERSION_HEADER,
            GUARDRAILS_HEADER,
        ]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

/// Whether a refusal should be a JSON-RPC error body: the client speaks MCP 2026-07-28
/// (its version header, or the `Mcp-Method` header only such clients send), so its SDK
/// reads the body as a JSON-RPC response.
pub fn wants_jsonrpc(headers: &[(String, String)]) -> bool {
    headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case(METHOD_HEADER)
            || (name.eq_ignore_ascii_case(PROTOCOL_VERSION_HEADER)
                && value.trim() >= STATELESS_PROTOCOL)
    })
}

fn wants_jsonrpc_raw(raw: &[(Vec<u8>, Vec<u8>)]) -> bool {
    raw.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case(METHOD_HEADER.as_bytes())
            || (name.eq_ignore_ascii_case(PROTOCOL_VERSION_HEADER.as_bytes())
                && value.trim_ascii() >= STATELESS_PROTOCOL.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &[u8])]) -> Vec<(Vec<u8>, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.to_vec()))
            .collect()
    }

    #[test]
    fn text_headers_pass_and_internal_ones_are_listed_for_removal() {
        let head = read_head(
            &raw(&[
                (":method", b"POST"),
                (":path", b"/mcp"),
                ("x-meshgate-decision", b"forged"),
                ("accept", b"*/*"),
            ]),
            "x-litellm-api-key",
        )
        .unwrap();
        assert_eq!((head.method.as_str(), head.path.as_str()), ("POST", "/mcp"));
        assert_eq!(head.internal, vec!["x-meshgate-decision".to_string()]);
        assert_eq!(head.headers.len(), 3);
    }

    #[test]
    fn a_bad_value_in_an_unrelated_header_is_ignored() {
        let head = read_head(
            &raw(&[(":path", b"/mcp"), ("x-bad", b"\xff\xfe"), ("x-ok", b"1")]),
            "x-litellm-api-key",
        )
        .unwrap();
        assert_eq!(head.headers.len(), 2);
        assert!(head.headers.iter().all(|(n, _)| n != "x-bad"));
        // A name that is not UTF-8 is skipped too.
        let head = read_head(&[(b"\xff".to_vec(), b"v".to_vec())], "k").unwrap();
        assert!(head.headers.is_empty());
    }

    #[test]
    fn a_bad_value_where_it_matters_is_a_400_naming_the_header() {
        for name in [
            "x-litellm-api-key",
            "Authorization",
            "x-mcp-servers",
            "mcp-method",
            "mcp-name",
            "mcp-protocol-version",
            "x-mcp-guardrails",
            ":path",
            "x-gw-key",
        ] {
            let key_header = if name == "x-gw-key" {
                "X-GW-Key"
            } else {
                "x-litellm-api-key"
            };
            let r = read_head(&raw(&[(name, b"ok\xff")]), key_header).unwrap_err();
            assert_eq!((r.status, r.error), (400, "invalid_header"), "{name}");
            assert_eq!(
                r.message,
                format!("header `{}` is not valid UTF-8", name.to_ascii_lowercase())
            );
        }
    }

    #[test]
    fn modern_clients_are_recognised() {
        let h = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
        assert!(wants_jsonrpc(&h("MCP-Protocol-Version", "2026-07-28")));
        assert!(wants_jsonrpc(&h("mcp-protocol-version", "2027-01-01")));
        assert!(!wants_jsonrpc(&h("mcp-protocol-version", "2025-11-25")));
        assert!(wants_jsonrpc(&h("Mcp-Method", "tools/call")));
        assert!(!wants_jsonrpc(&h("accept", "2026-07-28")));
        // The shape follows the raw head even when a value is refused.
        let r = read_head(
            &raw(&[
                ("mcp-protocol-version", b"2026-07-28"),
                ("mcp-name", b"\xff"),
            ]),
            "k",
        )
        .unwrap_err();
        assert!(r.jsonrpc);
        let r = read_head(&raw(&[("mcp-name", b"\xff")]), "k").unwrap_err();
        assert!(!r.jsonrpc);
    }
}
