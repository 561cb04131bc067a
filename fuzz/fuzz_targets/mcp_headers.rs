//! `Mcp-Method` / `Mcp-Name` (2026-07-28) as the filter and the sidecar read them: any
//! header pairs, any body. Never panics; a name the `=?base64?…?=` form encodes decodes
//! back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshgate_policy::mcp_headers::{self, RequestIntent};
use serde_json::Value;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    // Header lines `name: value` until an empty line; the rest is the JSON-RPC body.
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let pairs: Vec<(&str, &str)> = head
        .split('\n')
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim(), v.trim_start()))
        .collect();
    let intent = match RequestIntent::from_pairs(pairs.iter().copied()) {
        Ok(i) => i,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = intent.addressed_prefix();
    if let Some(method) = intent.method() {
        let _ = mcp_headers::requires_name(method);
        if let Some(name) = intent.name() {
            let _ = mcp_headers::addressed_prefix(method, name);
        }
    }
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let body_method = body.get("method").and_then(Value::as_str).unwrap_or("");
    if let Err(e) = mcp_headers::check_against_body(&intent, body_method, body.get("params")) {
        let _ = e.to_string();
    }
    // Round trip of the encoded form.
    if let Some(name) = intent.name() {
        use base64::Engine;
        let encoded = format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(name.as_bytes())
        );
        match mcp_headers::decode_value("Mcp-Name", &encoded) {
            Ok(back) => assert_eq!(back, name),
            Err(e) => panic!("encoded name did not decode: {e}"),
        }
    }
});
