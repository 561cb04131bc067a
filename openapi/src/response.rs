//! HTTP response → MCP `CallToolResult`.
//!
//! * status ≥ 400: `isError: true`, one text `HTTP <status>: <body text>` (body cut at 4 KiB).
//! * JSON (`application/json`, `*+json`): the body as text, plus `structuredContent` when the
//!   body is a JSON object (arrays and scalars get none; tools only declare an `outputSchema`
//!   for object responses, so the two always agree).
//! * `text/*`, XML, YAML, …: text. `image/*`: image content; `audio/*`: audio content;
//!   anything else: an embedded resource `openapi://response` with a base64 `blob`.
//! * Empty body: text `HTTP <status>`.
//! * No content type: JSON if it parses as JSON, text if it is UTF-8, else a blob.

use base64::Engine as _;
use serde_json::{json, Value};

use crate::media::{essence, is_json, is_text};

/// How much of an error body is kept.
pub const ERROR_BODY_LIMIT: usize = 4096;

fn text_result(text: String, is_error: bool) -> Value {
    json!({ "content": [{ "type": "text", "text": text }], "isError": is_error })
}

/// A `CallToolResult` carrying an error message (e.g. a [`crate::CallError`]).
pub fn error_result(message: &str) -> Value {
    text_result(message.to_string(), true)
}

fn truncate_utf8(s: &str, limit: usize) -> String {
    if s.len() <= limit {
        return s.to_string();
    }
    let mut cut = limit;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… (truncated, {} bytes in all)", &s[..cut], s.len())
}

/// Turn an HTTP response into an MCP CallToolResult JSON object.
pub fn response_to_result(status: u16, content_type: Option<&str>, body: &[u8]) -> Value {
    if status >= 400 {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return if text.is_empty() {
            text_result(format!("HTTP {status}"), true)
        } else {
            text_result(
                format!("HTTP {status}: {}", truncate_utf8(text, ERROR_BODY_LIMIT)),
                true,
            )
        };
    }
    if body.is_empty() {
        return text_result(format!("HTTP {status}"), false);
    }
    let ct = content_type.map(essence).filter(|c| !c.is_empty());
    match ct.as_deref() {
        Some(c) if is_json(c) => json_result(body),
        Some(c) if is_text(c) => text_result(String::from_utf8_lossy(body).into_owned(), false),
        Some(c) if c.starts_with("image/") => media_result("image", c, body),
        Some(c) if c.starts_with("audio/") => media_result("audio", c, body),
        Some(c) => blob_result(c, body),
        None => match std::str::from_utf8(body) {
            Ok(s) if serde_json::from_str::<Value>(s).is_ok() => json_result(body),
            Ok(s) => text_result(s.to_string(), false),
            Err(_) => blob_result("application/octet-stream", body),
        },
    }
}

fn json_result(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body).into_owned();
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let mut result = text_result(text, false);
    if let Some(obj @ Value::Object(_)) = parsed {
        result["structuredContent"] = obj;
    }
    result
}

fn media_result(kind: &str, mime: &str, body: &[u8]) -> Value {
    let data = base64::engine::general_purpose::STANDARD.encode(body);
    json!({
        "content": [{ "type": kind, "data": data, "mimeType": mime }],
        "isError": false,
    })
}

fn blob_result(mime: &str, body: &[u8]) -> Value {
    let blob = base64::engine::general_purpose::STANDARD.encode(body);
    json!({
        "content": [{
            "type": "resource",
            "resource": { "uri": "openapi://response", "mimeType": mime, "blob": blob },
        }],
        "isError": false,
    })
}
