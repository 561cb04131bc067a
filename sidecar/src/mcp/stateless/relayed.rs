//! What one message an upstream relays during a 2026-07-28 request means for the
//! client: a server→client request (answered through MRTR), a notification for the
//! response stream, or nothing it gets.

use serde_json::{json, Value};

use crate::jsonrpc::Message;
use crate::mcp::log_levels;

/// What one relayed message means for a 2026-07-28 client.
pub(super) enum Relayed {
    /// A server→client request: (key, `{method, params}`).
    Ask(String, Value),
    /// A notification to put on the response stream.
    Notify(Vec<u8>),
    Drop,
}

pub(super) fn classify(message: &[u8], log_level: Option<usize>) -> Relayed {
    let Ok(msg) = serde_json::from_slice::<Message>(message) else {
        return Relayed::Drop;
    };
    match (msg.id, msg.method) {
        (Some(id), Some(method)) => {
            let key = id.as_string().unwrap_or_else(|| id.json().to_string());
            let mut request = json!({"method": method});
            if let Some(p) = msg.params {
                request["params"] = p;
            }
            Relayed::Ask(key, request)
        }
        (None, Some(method)) if method == "notifications/message" => {
            // Log messages only for requests that opted in, at or above their level.
            let level = msg
                .params
                .as_ref()
                .and_then(|p| p.get("level"))
                .and_then(Value::as_str)
                .and_then(log_levels::rank);
            match (log_level, level) {
                (Some(min), Some(l)) if l >= min => Relayed::Notify(message.to_vec()),
                _ => Relayed::Drop,
            }
        }
        (None, Some(_)) => Relayed::Notify(message.to_vec()),
        _ => Relayed::Drop,
    }
}
