//! The sidecar's JSON-RPC framing: a client body (single message or batch) and an
//! upstream message. Never panics, and whatever it frames back is valid JSON that
//! carries the request's id unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[path = "../../sidecar/src/jsonrpc.rs"]
#[allow(dead_code)]
mod jsonrpc;

use jsonrpc::{Message, RpcError};

fn check_framing(msg: &Message) {
    let _ = (msg.is_request(), msg.is_response());
    let Some(id) = msg.id.as_ref() else {
        return;
    };
    // Ids JSON-RPC and MCP allow: a string or an integer. A float id does not survive
    // the round trip (serde_json parses floats inexactly) — finding F1 in
    // docs/security.md; such ids must be refused before framing (issue 10, item 7).
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return;
    }
    let err = RpcError::new(jsonrpc::INVALID_REQUEST, "fuzz").to_value();
    let framed = jsonrpc::error_response(Some(id), &err);
    let back: Value = serde_json::from_slice(&framed).unwrap_or(Value::Null);
    assert_eq!(back.get("id"), Some(id), "error response changed the id");
    if let Some(result) = msg.result.as_deref() {
        let framed = jsonrpc::response(id, result);
        let back: Value = match serde_json::from_slice(&framed) {
            Ok(v) => v,
            Err(e) => panic!("spliced response is not JSON: {e}"),
        };
        assert_eq!(back.get("id"), Some(id), "spliced response changed the id");
    }
    if let Some(method) = msg.method.as_deref() {
        let framed = jsonrpc::request(7, method, msg.params.as_ref());
        let back: Value = serde_json::from_slice(&framed).unwrap_or(Value::Null);
        assert_eq!(back.get("method").and_then(Value::as_str), Some(method));
    }
}

fuzz_target!(|bytes: &[u8]| {
    // A single message, as `POST /mcp` and every upstream transport read it.
    if let Ok(msg) = serde_json::from_slice::<Message>(bytes) {
        check_framing(&msg);
    }
    // A batch, as the endpoint reads it: values first, then each one as a message.
    if let Ok(items) = serde_json::from_slice::<Vec<Value>>(bytes) {
        for item in items {
            if let Ok(msg) = serde_json::from_value::<Message>(item) {
                check_framing(&msg);
            }
        }
    }
});
