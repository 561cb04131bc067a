//! The request headers of MCP 2026-07-28: every POST names its JSON-RPC method in
//! `Mcp-Method`, and `tools/call`, `prompts/get` and `resources/read` name their target
//! in `Mcp-Name` (= `params.name`, or `params.uri` for a resource). Values that are not
//! plain visible ASCII travel as `=?base64?<standard base64 of the UTF-8 bytes>?=`.
//!
//! The filter reads them at header time (no body buffering) to refuse what can never be
//! allowed; the sidecar, which parses the body, checks that they say what the body says
//! ([`check_against_body`]) and refuses a mismatch with HTTP 400 and JSON-RPC
//! [`HEADER_MISMATCH_CODE`]. Requests without these headers (older protocol revisions)
//! are never refused here.

use serde_json::Value;
use std::borrow::Cow;
use thiserror::Error;

use crate::names::{split_known, DEFAULT_SEPARATOR};
use crate::resource_uri::GatewayUri;

/// `Mcp-Method`, lowercase as Envoy and hyper give header names.
pub const METHOD_HEADER: &str = "mcp-method";
/// `Mcp-Name`, lowercase.
pub const NAME_HEADER: &str = "mcp-name";
/// JSON-RPC error code of a header that disagrees with the body (2026-07-28).
pub const HEADER_MISMATCH_CODE: i64 = -32020;
/// HTTP status sent with [`HEADER_MISMATCH_CODE`].
pub const HEADER_MISMATCH_STATUS: u16 = 400;

const METHOD_DISPLAY: &str = "Mcp-Method";
const NAME_DISPLAY: &str = "Mcp-Name";
const ENCODED_START: &str = "=?base64?";
const ENCODED_END: &str = "?=";
/// Longest piece of a client-supplied value quoted back in a message (characters).
const SHOWN_CHARS: usize = 64;

/// A header value that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("header {header} is malformed: {problem}")]
pub struct BadHeader {
    /// `Mcp-Method` or `Mcp-Name`.
    pub header: &'static str,
    pub problem: &'static str,
}

/// A header that says something other than the body. `message` names the header, the
/// header's value and the body's value (each truncated); send it with HTTP
/// [`HEADER_MISMATCH_STATUS`] and JSON-RPC [`HEADER_MISMATCH_CODE`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct HeaderMismatch {
    /// `Mcp-Method` or `Mcp-Name`.
    pub header: &'static str,
    pub message: String,
}

impl HeaderMismatch {
    pub const CODE: i64 = HEADER_MISMATCH_CODE;
    pub const STATUS: u16 = HEADER_MISMATCH_STATUS;

    fn new(header: &'static str, message: String) -> Self {
        HeaderMismatch { header, message }
    }
}

/// What a request's headers say it is. Both fields are `None` for clients of protocol
/// revisions before 2026-07-28.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestIntent<'a> {
    /// Decoded `Mcp-Method`.
    pub method: Option<Cow<'a, str>>,
    /// Decoded `Mcp-Name`.
    pub name: Option<Cow<'a, str>>,
}

impl<'a> RequestIntent<'a> {
    /// Reads the intent from a header list (names matched case-insensitively). A header
    /// sent twice is malformed: the filter and the sidecar must not read different ones.
    pub fn from_headers(headers: &'a [(String, String)]) -> Result<Self, BadHeader> {
        Self::from_pairs(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }

    /// As [`RequestIntent::from_headers`], over any `(name, value)` pairs (for hyper's
    /// `HeaderMap`: `map.iter().filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))`).
    pub fn from_pairs<I>(pairs: I) -> Result<Self, BadHeader>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut method: Option<&'a str> = None;
        let mut name: Option<&'a str> = None;
        for (header, value) in pairs {
            let (slot, display) = if header.eq_ignore_ascii_case(METHOD_HEADER) {
                (&mut method, METHOD_DISPLAY)
            } else if header.eq_ignore_ascii_case(NAME_HEADER) {
                (&mut name, NAME_DISPLAY)
            } else {
                continue;
            };
            if slot.replace(value).is_some() {
                return Err(BadHeader {
                    header: display,
                    problem: "it is sent more than once",
                });
            }
        }
        Self::from_values(method, name)
    }

    /// The intent from the raw values of `Mcp-Method` and `Mcp-Name`, when sent.
    pub fn from_values(method: Option<&'a str>, name: Option<&'a str>) -> Result<Self, BadHeader> {
        Ok(RequestIntent {
            method: method
                .map(|v| decode_value(METHOD_DISPLAY, v))
                .transpose()?,
            name: name.map(|v| decode_value(NAME_DISPLAY, v)).transpose()?,
        })
    }

    /// True when neither header was sent (a client of an older protocol revision).
    pub fn is_empty(&self) -> bool {
        self.method.is_none() && self.name.is_none()
    }

    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The server prefix `Mcp-Name` addresses for `Mcp-Method`, if any (see
    /// [`addressed_prefix`]).
    pub fn addressed_prefix(&self) -> Option<&str> {
        addressed_prefix(self.method()?, self.name()?)
    }

    /// As [`RequestIntent::addressed_prefix`], with the configured separator and the
    /// known server prefixes (the longest one the name starts with wins).
    pub fn addressed_prefix_in<'k>(
        &self,
        separator: &str,
        known: impl IntoIterator<Item = &'k str>,
    ) -> Option<&str> {
        addressed_prefix_in(self.method()?, self.name()?, separator, known)
    }
}

/// Decodes one header value: a plain value as it is (borrowed), the
/// `=?base64?…?=` form (standard alphabet, padding optional) to its UTF-8 text.
/// `header` names the header in the error.
pub fn decode_value<'v>(header: &'static str, raw: &'v str) -> Result<Cow<'v, str>, BadHeader> {
    let Some(payload) = raw
        .strip_prefix(ENCODED_START)
        .and_then(|rest| rest.strip_suffix(ENCODED_END))
    else {
        return Ok(Cow::Borrowed(raw));
    };
    let bytes = decode_base64(payload).ok_or(BadHeader {
        header,
        problem: "the =?base64?…?= value is not valid base64",
    })?;
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| BadHeader {
            header,
            problem: "the =?base64?…?= value does not decode to UTF-8 text",
        })
}

/// The body field `Mcp-Name` mirrors for a method: `name` for `tools/call` and
/// `prompts/get`, `uri` for `resources/read`; None for methods without `Mcp-Name`.
pub fn name_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// Whether a method's requests must carry `Mcp-Name`.
pub fn requires_name(method: &str) -> bool {
    name_field(method).is_some()
}

/// The server prefix a target name addresses: `web` for a `tools/call` or `prompts/get`
/// of `web-add` (split at the first `-`), `fs` for a `resources/read` of
/// `meshgate://fs/file:///a`. None for bare names, plain URIs and other methods.
pub fn addressed_prefix<'n>(method: &str, name: &'n str) -> Option<&'n str> {
    addressed_prefix_in(method, name, DEFAULT_SEPARATOR, [])
}

/// As [`addressed_prefix`], splitting tool and prompt names with `separator` at the
/// longest of the `known` prefixes (see [`crate::names::split_known`]).
pub fn addressed_prefix_in<'n, 'k>(
    method: &str,
    name: &'n str,
    separator: &str,
    known: impl IntoIterator<Item = &'k str>,
) -> Option<&'n str> {
    match method {
        "tools/call" | "prompts/get" => {
            split_known(name, separator, known).map(|(prefix, _)| prefix)
        }
        "resources/read" => GatewayUri::parse(name).map(|g| g.prefix),
        _ => None,
    }
}

/// Checks the headers against the parsed body (`body_method`, `params`). A request
/// without either header passes (older revisions). Otherwise `Mcp-Method` must equal
/// the method, and `Mcp-Name` must equal `params.name` / `params.uri` for the methods
/// that carry one and be absent for the others. A body that lacks the field is left
/// to the method's own parameter check.
pub fn check_against_body(
    intent: &RequestIntent<'_>,
    body_method: &str,
    params: Option<&Value>,
) -> Result<(), HeaderMismatch> {
    if intent.is_empty() {
        return Ok(());
    }
    match intent.method() {
        None => {
            return Err(HeaderMismatch::new(
                METHOD_DISPLAY,
                format!(
                    "header {METHOD_DISPLAY} is missing; the body's method is `{}`",
                    shown(body_method)
                ),
            ))
        }
        Some(m) if m != body_method => {
            return Err(HeaderMismatch::new(
                METHOD_DISPLAY,
                format!(
                    "header {METHOD_DISPLAY} `{}` does not match the body's method `{}`",
                    shown(m),
                    shown(body_method)
                ),
            ))
        }
        Some(_) => {}
    }
    let Some(field) = name_field(body_method) else {
        return match intent.name() {
            None => Ok(()),
            Some(n) => Err(HeaderMismatch::new(
                NAME_DISPLAY,
                format!(
                    "header {NAME_DISPLAY} `{}` was sent, but method `{}` has no name or uri",
                    shown(n),
                    shown(body_method)
                ),
            )),
        };
    };
    let in_body = params.and_then(|p| p.get(field)).and_then(Value::as_str);
    match (intent.name(), in_body) {
        (Some(h), Some(b)) if h == b => Ok(()),
        (Some(h), Some(b)) => Err(HeaderMismatch::new(
            NAME_DISPLAY,
            format!(
                "header {NAME_DISPLAY} `{}` does not match params.{field} `{}` in the body",
                shown(h),
                shown(b)
            ),
        )),
        (Some(h), None) => Err(HeaderMismatch::new(
            NAME_DISPLAY,
            format!(
                "header {NAME_DISPLAY} `{}` was sent, but the body has no string params.{field}",
                shown(h)
            ),
        )),
        (None, Some(b)) => Err(HeaderMismatch::new(
            NAME_DISPLAY,
            format!(
                "header {NAME_DISPLAY} is missing; {} needs it to equal params.{field} `{}`",
                shown(body_method),
                shown(b)
            ),
        )),
        (None, None) => Ok(()),
    }
}

/// A client-supplied value for a message: escaped onto one line, cut after
/// [`SHOWN_CHARS`] characters.
pub(crate) fn shown(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(SHOWN_CHARS + 8));
    for (i, c) in value.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out
}

/// Standard-alphabet base64 (RFC 4648 §4). Padding is optional but, when present, must
/// complete the last quantum; the unused bits of the last character must be zero.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let data = match bytes {
        [rest @ .., b'=', b'='] => rest,
        [rest @ .., b'='] => rest,
        _ => bytes,
    };
    if data.len() != bytes.len() && !bytes.len().is_multiple_of(4) {
        return None;
    }
    if data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for &b in data {
        acc = (acc << 6) | u32::from(sextet(b)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    // Leftover bits (2 or 4) must be zero for a canonical encoding.
    (acc & ((1 << bits) - 1) == 0).then_some(out)
}

fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn base64_decoder_follows_rfc4648() {
        let cases: &[(&str, &[u8])] = &[
            ("", b""),
            ("Zg==", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg==", b"foob"),
            ("Zm9vYmE=", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
            ("Zg", b"f"),
            ("Zm8", b"fo"),
            ("+/+/", &[0xfb, 0xff, 0xbf]),
        ];
        for (text, bytes) in cases {
            assert_eq!(decode_base64(text).as_deref(), Some(*bytes), "{text}");
        }
        for bad in [
            "Z", "Zm9vY", "Zg=", "Zg===", "Z===", "Zm9v=", "Zh==", "Zm9=", "Zm-v", "Zm_v", "Zm 9v",
            "Zm9v\n", "=", "==", "é",
        ] {
            assert_eq!(decode_base64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn plain_values_are_borrowed() {
        let v = decode_value("Mcp-Name", "web-add").unwrap();
        assert!(matches!(v, Cow::Borrowed("web-add")));
        // Half a sentinel is a plain value.
        assert_eq!(
            decode_value("Mcp-Name", "=?base64?abc").unwrap(),
            "=?base64?abc"
        );
        assert_eq!(decode_value("Mcp-Name", "abc?=").unwrap(), "abc?=");
        // The markers are case-sensitive.
        assert_eq!(
            decode_value("Mcp-Name", "=?BASE64?Zm9v?=").unwrap(),
            "=?BASE64?Zm9v?="
        );
        // The two markers may not share their `?`.
        assert_eq!(
            decode_value("Mcp-Name", "=?base64?=").unwrap(),
            "=?base64?="
        );
    }

    #[test]
    fn encoded_values_are_decoded() {
        // "wëb-äđd" and the spec's own example of a value that looks like the sentinel.
        assert_eq!(
            decode_value("Mcp-Name", "=?base64?d8OrYi3DpMSRZA==?=").unwrap(),
            "wëb-äđd"
        );
        assert_eq!(
            decode_value("Mcp-Name", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=").unwrap(),
            "=?base64?literal?="
        );
        assert_eq!(decode_value("Mcp-Name", "=?base64??=").unwrap(), "");
        assert_eq!(decode_value("Mcp-Name", "=?base64?IHg=?=").unwrap(), " x");
    }

    #[test]
    fn bad_encodings_name_the_header() {
        let e = decode_value("Mcp-Name", "=?base64?not base64!?=").unwrap_err();
        assert_eq!(e.header, "Mcp-Name");
        assert!(e.to_string().contains("Mcp-Name"), "{e}");
        assert!(e.to_string().contains("base64"), "{e}");
        // Valid base64 of bytes that are not UTF-8 (0xff 0xfe).
        let e = decode_value("Mcp-Method", "=?base64?//4=?=").unwrap_err();
        assert_eq!(e.header, "Mcp-Method");
        assert!(e.to_string().contains("UTF-8"), "{e}");
    }

    #[test]
    fn intent_from_headers() {
        let headers = h(&[
            (":method", "POST"),
            ("mcp-method", "tools/call"),
            ("Mcp-Name", "=?base64?d8OrYi3DpMSRZA==?="),
        ]);
        let intent = RequestIntent::from_headers(&headers).unwrap();
        assert_eq!(intent.method(), Some("tools/call"));
        assert_eq!(intent.name(), Some("wëb-äđd"));
        assert!(!intent.is_empty());
        assert_eq!(intent.addressed_prefix(), Some("wëb"));

        let plain = h(&[("content-type", "application/json")]);
        let none = RequestIntent::from_headers(&plain).unwrap();
        assert!(none.is_empty());
        assert_eq!(none, RequestIntent::default());
        assert_eq!(none.addressed_prefix(), None);

        let ping = h(&[("mcp-method", "ping")]);
        let only_method = RequestIntent::from_headers(&ping).unwrap();
        assert_eq!(only_method.name(), None);
        assert_eq!(only_method.addressed_prefix(), None);
    }

    #[test]
    fn intent_errors() {
        let e =
            RequestIntent::from_headers(&h(&[("mcp-name", "a"), ("MCP-NAME", "b")])).unwrap_err();
        assert_eq!(e.header, "Mcp-Name");
        assert!(e.problem.contains("more than once"));
        let e = RequestIntent::from_headers(&h(&[("mcp-method", "a"), ("mcp-method", "a")]))
            .unwrap_err();
        assert_eq!(e.header, "Mcp-Method");
        let e = RequestIntent::from_headers(&h(&[
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?%%?="),
        ]))
        .unwrap_err();
        assert_eq!(e.header, "Mcp-Name");
        let e = RequestIntent::from_values(Some("=?base64?***?="), None).unwrap_err();
        assert_eq!(e.header, "Mcp-Method");
    }

    #[test]
    fn intent_from_pairs_and_values() {
        let pairs = [("x-other", "1"), ("mcp-method", "prompts/get")];
        let intent = RequestIntent::from_pairs(pairs).unwrap();
        assert_eq!(intent.method(), Some("prompts/get"));
        let intent = RequestIntent::from_values(Some("resources/read"), Some("x")).unwrap();
        assert_eq!(intent.name(), Some("x"));
    }

    #[test]
    fn which_methods_carry_a_name() {
        assert_eq!(name_field("tools/call"), Some("name"));
        assert_eq!(name_field("prompts/get"), Some("name"));
        assert_eq!(name_field("resources/read"), Some("uri"));
        for m in [
            "tools/list",
            "initialize",
            "server/discover",
            "ping",
            "Tools/Call",
        ] {
            assert_eq!(name_field(m), None, "{m}");
            assert!(!requires_name(m));
        }
        assert!(requires_name("resources/read"));
    }

    #[test]
    fn addressed_prefixes() {
        assert_eq!(addressed_prefix("tools/call", "web-add"), Some("web"));
        assert_eq!(addressed_prefix("tools/call", "web-get-sum"), Some("web"));
        assert_eq!(addressed_prefix("prompts/get", "web-greet"), Some("web"));
        assert_eq!(addressed_prefix("tools/call", "add"), None);
        assert_eq!(addressed_prefix("tools/call", "-add"), None);
        assert_eq!(addressed_prefix("tools/list", "web-add"), None);
        assert_eq!(
            addressed_prefix("resources/read", "meshgate://fs/file:///a"),
            Some("fs")
        );
        assert_eq!(addressed_prefix("resources/read", "meshgate://fs/"), None);
        assert_eq!(
            addressed_prefix_in("tools/call", "my-gh-add", "-", ["my", "my-gh"]),
            Some("my-gh")
        );
        assert_eq!(
            addressed_prefix_in("tools/call", "web__get-sum", "__", ["web"]),
            Some("web")
        );
        assert_eq!(
            addressed_prefix_in("tools/call", "web-add", "__", ["web"]),
            None
        );
        assert_eq!(addressed_prefix("resources/read", "meshgate:///x"), None);
        assert_eq!(addressed_prefix("resources/read", "meshgate://fs"), None);
        assert_eq!(addressed_prefix("resources/read", "file:///a"), None);
        assert_eq!(addressed_prefix("resources/read", "fs-x"), None);
    }

    fn intent<'a>(method: Option<&'a str>, name: Option<&'a str>) -> RequestIntent<'a> {
        RequestIntent::from_values(method, name).unwrap()
    }

    #[test]
    fn body_check_passes_matching_and_headerless_requests() {
        let params = json!({"name": "web-add", "arguments": {}});
        let none = RequestIntent::default();
        assert_eq!(
            check_against_body(&none, "tools/call", Some(&params)),
            Ok(())
        );
        assert_eq!(check_against_body(&none, "ping", None), Ok(()));
        let ok = intent(Some("tools/call"), Some("web-add"));
        assert_eq!(check_against_body(&ok, "tools/call", Some(&params)), Ok(()));
        let uri = json!({"uri": "meshgate://fs/file:///a"});
        let ok = intent(Some("resources/read"), Some("meshgate://fs/file:///a"));
        assert_eq!(
            check_against_body(&ok, "resources/read", Some(&uri)),
            Ok(())
        );
        assert_eq!(
            check_against_body(&intent(Some("tools/list"), None), "tools/list", None),
            Ok(())
        );
        // Decoded values are compared.
        let encoded = intent(Some("prompts/get"), Some("=?base64?d8OrYi3DpMSRZA==?="));
        let params = json!({"name": "wëb-äđd"});
        assert_eq!(
            check_against_body(&encoded, "prompts/get", Some(&params)),
            Ok(())
        );
        // A body without the field is for the method's own parameter check.
        assert_eq!(
            check_against_body(&intent(Some("tools/call"), None), "tools/call", None),
            Ok(())
        );
    }

    #[test]
    fn body_check_refuses_mismatches() {
        let params = json!({"name": "alpha-echo"});
        let e = check_against_body(
            &intent(Some("tools/call"), Some("beta-echo")),
            "tools/call",
            Some(&params),
        )
        .unwrap_err();
        assert_eq!(e.header, "Mcp-Name");
        assert!(
            e.message.contains("Mcp-Name")
                && e.message.contains("`beta-echo`")
                && e.message.contains("`alpha-echo`")
                && e.message.contains("params.name"),
            "{e}"
        );
        assert_eq!(
            (HeaderMismatch::CODE, HeaderMismatch::STATUS),
            (-32020, 400)
        );

        let e = check_against_body(
            &intent(Some("tools/list"), None),
            "tools/call",
            Some(&params),
        )
        .unwrap_err();
        assert_eq!(e.header, "Mcp-Method");
        assert!(e.message.contains("`tools/list`") && e.message.contains("`tools/call`"));

        let e = check_against_body(
            &intent(None, Some("alpha-echo")),
            "tools/call",
            Some(&params),
        )
        .unwrap_err();
        assert_eq!(e.header, "Mcp-Method");
        assert!(e.message.contains("missing"), "{e}");

        let e = check_against_body(
            &intent(Some("tools/call"), None),
            "tools/call",
            Some(&params),
        )
        .unwrap_err();
        assert_eq!(e.header, "Mcp-Name");
        assert!(e.message.contains("missing") && e.message.contains("alpha-echo"));

        let e = check_against_body(
            &intent(Some("tools/call"), Some("alpha-echo")),
            "tools/call",
            Some(&json!({"name": 7})),
        )
        .unwrap_err();
        assert!(e.message.contains("no string params.name"), "{e}");

        let e = check_against_body(
            &intent(Some("resources/read"), Some("meshgate://a/x")),
            "resources/read",
            Some(&json!({"uri": "meshgate://b/x"})),
        )
        .unwrap_err();
        assert!(e.message.contains("params.uri"), "{e}");

        let e = check_against_body(&intent(Some("tools/list"), Some("x")), "tools/list", None)
            .unwrap_err();
        assert_eq!(e.header, "Mcp-Name");
        assert!(e.message.contains("has no name"), "{e}");

        // Comparison is exact (case matters).
        assert!(check_against_body(
            &intent(Some("tools/call"), Some("Alpha-echo")),
            "tools/call",
            Some(&params)
        )
        .is_err());
    }

    #[test]
    fn mismatch_messages_are_truncated_and_one_line() {
        let long = "x".repeat(5000);
        let params = json!({ "name": long });
        let e = check_against_body(
            &intent(Some("tools/call"), Some("a\nb")),
            "tools/call",
            Some(&params),
        )
        .unwrap_err();
        assert!(e.message.len() < 300, "{}", e.message.len());
        assert!(e.message.contains('…'));
        assert!(!e.message.contains('\n') && e.message.contains("a\\nb"));
        assert_eq!(shown("short"), "short");
        assert_eq!(shown(&"é".repeat(64)), "é".repeat(64));
        assert_eq!(shown(&"é".repeat(65)), format!("{}…", "é".repeat(64)));
    }
}
