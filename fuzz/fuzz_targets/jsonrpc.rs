//! The sidecar's JSON-RPC framing: a client body (single message or batch) and an
//! upstream message. Never panics, and whatever it frames back is valid JSON that
//! carries the request's id unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[path = "../../sidecar/src/jsonrpc/mod.rs"]
#[allow(dead_code)]
mod jsonrpc;

use jsonrpc::{Frame, Message, RpcError};

fn check_framing(msg: &Message) {
    let _ = (msg.is_request(), msg.is_response());
    let Some(id) = msg.id.as_ref() else {
        return;
    };
    // What the parser lets through has an id JSON-RPC and MCP allow — a string or an
    // integer (finding F1: a float id came back changed; it is now -32600) — or null.
    let text = id.json();
    let first = text.as_bytes().first().copied().unwrap_or(b' ');
    assert!(
        id.is_null() || first == b'"' || first == b'-' || first.is_ascii_digit(),
        "an id that is neither string nor integer was accepted: {text}"
    );
    if !id.is_null() {
        assert!(
            !text.contains(['.', 'e', 'E']) || first == b'"',
            "a float id was accepted: {text}"
        );
    }
    // Framed back byte for byte.
    let wanted = format!("\"id\":{text}");
    let err = RpcError::new(jsonrpc::INVALID_REQUEST, "fuzz").to_value();
    let framed = jsonrpc::error_response(Some(id), &err);
    let back: Value = serde_json::from_slice(&framed).unwrap_or(Value::Null);
    assert!(back.is_object(), "error response is not JSON");
    assert!(
        String::from_utf8_lossy(&framed).contains(&wanted),
        "error response changed the id"
    );
    if let Some(result) = msg.result.as_deref() {
        let framed = jsonrpc::response(id, result);
        if let Err(e) = serde_json::from_slice::<Value>(&framed) {
            panic!("spliced response is not JSON: {e}");
        }
        assert!(
            String::from_utf8_lossy(&framed).contains(&wanted),
            "spliced response changed the id"
        );
    }
    if let Some(method) = msg.method.as_deref() {
        let framed = jsonrpc::request(7, method, msg.params.as_ref());
        let back: Value = serde_json::from_slice(&framed).unwrap_or(Value::Null);
        assert_eq!(back.get("method").and_then(Value::as_str), Some(method));
    }
}

fuzz_target!(|bytes: &[u8]| {
    // A client body as `POST /mcp` reads it: one message, or a batch whose items are
    // read one by one. Refusals are fine; what is accepted must frame back exactly.
    match jsonrpc::parse_frame(bytes) {
        Ok(Frame::One(msg)) => check_framing(&msg),
        Ok(Frame::Batch(items)) => {
            for item in items {
                if let Ok(msg) = jsonrpc::parse_message(item.get()) {
                    check_framing(&msg);
                }
            }
        }
        Err(_) => {}
    }
    // An upstream message, as the transports read it.
    let _ = serde_json::from_slice::<Message>(bytes);
});
