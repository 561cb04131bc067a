//! `server/discover` for 2026-07-28 clients.

use serde_json::{json, Map, Value};

use crate::versions::all_versions;

/// How long a client may cache `server/discover`.
const DISCOVER_TTL_MS: u64 = 60_000;

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
