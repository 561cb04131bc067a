//! `server/discover` for 2026-07-28 clients, the protocol revisions served, and the
//! error body for an unsupported `MCP-Protocol-Version`.

use serde_json::{json, Map, Value};

use super::{UNSUPPORTED_VERSION_CODE, VERSION};
use crate::jsonrpc::{self, RpcError};
use crate::mcp::SUPPORTED_VERSIONS;

/// How long a client may cache `server/discover`.
const DISCOVER_TTL_MS: u64 = 60_000;

/// Every protocol revision served, oldest first.
pub fn all_versions() -> Vec<&'static str> {
    let mut all = SUPPORTED_VERSIONS.to_vec();
    all.push(VERSION);
    all
}

/// The body of a 400 for an unsupported `MCP-Protocol-Version` (-32022 with the
/// requested and supported versions, as 2026-07-28 defines it).
pub fn unsupported_version_body(requested: &str, message: &str) -> Vec<u8> {
    let mut err = RpcError::new(
        UNSUPPORTED_VERSION_CODE,
        format!("{message}; supported: {}", all_versions().join(", ")),
    );
    err.data = Some(json!({"requested": requested, "supported": all_versions()}));
    jsonrpc::error_response(None, &err.to_value())
}

/// `server/discover`'s result (before stamping).
pub(super) fn discover() -> Map<String, Value> {
    let result = json!({
        "supportedVersions": all_versions(),
        // listChanged and resources.subscribe are delivered by `subscriptions/listen` in
        // 2026-07-28, which the gateway does not serve: not declared.
        "capabilities": {"tools": {"listChanged": true}, "prompts": {"listChanged": true}, "resources": {"subscribe": true, "listChanged": true}, "completions": {}, "logging": {}},
        "instructions": "Tools of several MCP servers, named `<server>-<tool>`.",
        "ttlMs": DISCOVER_TTL_MS,
    });
    match result {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub(super) fn server_info() -> Value {
    json!({"name": "meshgate", "title": "meshgate MCP gateway", "version": env!("CARGO_PKG_VERSION")})
}
