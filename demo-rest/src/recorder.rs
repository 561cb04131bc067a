//! Keeps every request received, for tests to assert on (`GET /__recorded`).

use base64::Engine as _;
use serde_json::{json, Map, Value};

/// One recorded request: method, raw path, raw query, headers (names lowercased, repeated
/// headers joined with `, `), and the body as text (`body_encoding: "text"`) or base64.
pub fn record(parts: &http::request::Parts, body: &[u8]) -> Value {
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let key = name.as_str().to_ascii_lowercase();
        match headers.get_mut(&key) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&v);
            }
            _ => {
                headers.insert(key, Value::String(v));
            }
        }
    }
    let (body, encoding) = match std::str::from_utf8(body) {
        Ok(s) => (s.to_string(), "text"),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(body),
            "base64",
        ),
    };
    json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "body": body,
        "body_encoding": encoding,
    })
}
