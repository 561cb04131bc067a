//! What a 2026-07-28 client gets as a result: `resultType`, the gateway's `serverInfo`
//! in `_meta`, cache hints (`ttlMs` / `cacheScope`), handshake-era error codes mapped
//! (-32002 → -32602), and the framing of an outcome as a JSON-RPC response.

use serde_json::{Map, Value};

use super::discover::server_info;
use super::meta::META_SERVER_INFO;
use crate::jsonrpc::{self, Id, RpcError, INVALID_PARAMS, RESOURCE_NOT_FOUND};
use crate::mcp::context::{Answer, Handled};

/// Results that carry `ttlMs` and `cacheScope`.
const CACHEABLE: &[&str] = &[
    "server/discover",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// Stamps a 2026-07-28 result: `resultType`, the gateway's `serverInfo` in `_meta`, and
/// for cacheable results `ttlMs` / `cacheScope` (private: what a key sees depends on it).
pub(super) fn stamp(method: &str, result: &mut Map<String, Value>) {
    result
        .entry("resultType")
        .or_insert_with(|| Value::String("complete".into()));
    let meta = result
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Some(m) = meta.as_object_mut() {
        m.insert(META_SERVER_INFO.into(), server_info());
    }
    if CACHEABLE.contains(&method) {
        result.entry("ttlMs").or_insert_with(|| Value::from(0));
        result
            .entry("cacheScope")
            .or_insert_with(|| Value::String("private".into()));
    }
}

/// A request's outcome for a 2026-07-28 client: its result or its error object. Framed
/// only when sent, with the id of the HTTP request that carries it (an MRTR retry
/// has an id of its own).
pub(super) type Outcome = Result<Value, Value>;

/// A dispatched reply as a 2026-07-28 client gets it.
pub(super) fn finish(method: &str, handled: Handled) -> Outcome {
    let value = match handled {
        Ok(Answer::Raw(raw)) => serde_json::from_str::<Value>(raw.get()),
        Ok(Answer::Value(v) | Answer::Initialized(v, _)) => Ok(v),
        Err(mut e) => {
            if e.code == RESOURCE_NOT_FOUND {
                e.code = INVALID_PARAMS;
            }
            return Err(e.to_value());
        }
    };
    match value {
        Ok(Value::Object(mut result)) => {
            stamp(method, &mut result);
            Ok(Value::Object(result))
        }
        _ => Err(RpcError::internal("an upstream result is not a JSON object").to_value()),
    }
}

pub(super) fn frame(id: &Id, outcome: Outcome) -> Vec<u8> {
    match outcome {
        Ok(result) => jsonrpc::response_value(id, &result),
        Err(error) => jsonrpc::error_response(Some(id), &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stamps_results_for_2026_clients() {
        let mut r = Map::new();
        r.insert("tools".into(), json!([]));
        stamp("tools/list", &mut r);
        assert_eq!(r["resultType"], "complete");
        assert_eq!(r["ttlMs"], 0);
        assert_eq!(r["cacheScope"], "private");
        assert_eq!(r["_meta"][META_SERVER_INFO]["name"], "meshgate");
        let mut r = Map::new();
        r.insert("_meta".into(), json!({"x": 1}));
        stamp("tools/call", &mut r);
        assert_eq!(r["_meta"]["x"], 1);
        assert!(r.get("ttlMs").is_none());
        let outcome = finish("resources/read", Err(RpcError::resource_not_found("gone")));
        assert_eq!(outcome.unwrap_err()["code"], INVALID_PARAMS);
    }
}
