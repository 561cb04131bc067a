//! How the gateway introduces itself to an upstream session, and what it keeps of the
//! answer.

use serde_json::Value;
use std::sync::Arc;

use crate::relay::ClientCaps;

/// Client identity the gateway presents upstream.
pub fn client_info() -> Value {
    serde_json::json!({"name": "meshgate", "version": env!("CARGO_PKG_VERSION")})
}

/// The protocol version the gateway asks upstreams for.
pub const UPSTREAM_PROTOCOL_VERSION: &str = "2025-11-25";

/// The `instructions` of an upstream's `initialize` result (non-empty text only).
pub fn instructions_of(result: &Value) -> Option<Arc<str>> {
    result
        .get("instructions")
        .and_then(Value::as_str)
        .filter(|i| !i.trim().is_empty())
        .map(Arc::from)
}

/// `initialize` on behalf of clients with these capabilities.
pub fn initialize_params(caps: ClientCaps) -> Value {
    serde_json::json!({
        "protocolVersion": UPSTREAM_PROTOCOL_VERSION,
        "capabilities": caps.to_json(),
        "clientInfo": client_info(),
    })
}
