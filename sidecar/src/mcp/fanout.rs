//! Fan-out of a list method to every allowed upstream, in parallel, each bounded by the
//! list timeout, draining pagination. A server that fails (or does not offer the
//! feature) is left out: logged at warn, or at debug when it simply lacks the method.
//! What happened to each server is reported as LiteLLM does, in the result's
//! `_meta["litellm.ai/server_outcomes"]`: `{<server>: {"status": "ok"}}` or a failure
//! kind with a fixed reason (never the upstream's text, URL or credentials).

use futures_util::future::join_all;
use serde_json::Value;
use std::sync::Arc;

use super::context::Ctx;
use crate::jsonrpc::METHOD_NOT_FOUND;
use crate::log_limit::warn_limited;
use crate::upstream::{Upstream, UpstreamError};
use serde_json::Map;

const MAX_PAGES: usize = 100;
/// The `_meta` key of per-server outcomes (LiteLLM's).
pub const OUTCOMES_META_KEY: &str = "litellm.ai/server_outcomes";

/// One server's outcome on a list: `{"status": "ok"}`, or a failure kind and a reason
/// that names no URL, credential or upstream text.
pub fn outcome(result: Result<(), &UpstreamError>) -> Value {
    let (status, reason) = match result {
        Ok(()) => return serde_json::json!({"status": "ok"}),
        Err(UpstreamError::Timeout(d)) => (
            "timeout",
            format!("did not answer within {} ms", d.as_millis()),
        ),
        Err(UpstreamError::Unavailable(_)) => ("unavailable", "could not be reached".into()),
        Err(UpstreamError::Protocol(_)) => (
            "protocol_error",
            "answered with something that is not MCP".into(),
        ),
        Err(UpstreamError::Rpc(e)) => ("error", format!("returned JSON-RPC error {}", e.code)),
        Err(UpstreamError::Cancelled) => ("cancelled", "the request was cancelled".into()),
    };
    serde_json::json!({"status": status, "reason": reason})
}

/// Puts the outcomes into a list result's `_meta`.
pub fn with_outcomes(mut result: Value, outcomes: Map<String, Value>) -> Value {
    if let Some(obj) = result.as_object_mut() {
        let meta = obj
            .entry("_meta")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(OUTCOMES_META_KEY.into(), Value::Object(outcomes));
        }
    }
    result
}

/// `method`'s `field` array from each allowed upstream, in configuration order.
pub async fn list_all(
    ctx: &Ctx<'_>,
    method: &str,
    field: &str,
) -> Vec<(Arc<Upstream>, Vec<Value>)> {
    list_all_with_outcomes(ctx, method, field).await.0
}

/// As [`list_all`], with each server's outcome (keyed by server name).
pub async fn list_all_with_outcomes(
    ctx: &Ctx<'_>,
    method: &str,
    field: &str,
) -> (Vec<(Arc<Upstream>, Vec<Value>)>, Map<String, Value>) {
    let upstreams = ctx.allowed();
    let call = ctx.call_context();
    let call = &call;
    let timeout = ctx.runtime.list_timeout();
    let results = join_all(upstreams.iter().map(|u| async move {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = cursor.as_ref().map(|c| serde_json::json!({"cursor": c}));
            let page = match u.request(method, params.as_ref(), timeout, call).await {
                Ok(raw) => serde_json::from_str::<Value>(raw.get()).unwrap_or(Value::Null),
                Err(UpstreamError::Rpc(e)) if e.code == METHOD_NOT_FOUND => {
                    tracing::debug!(server = %u.name, method, "not offered");
                    let mut ok = outcome(Ok(()));
                    ok["supported"] = Value::Bool(false);
                    return (None, ok);
                }
                Err(e) => {
                    let why = e.to_string();
                    warn_limited!(&u.name, &format!("{method} {why}"), server = %u.name, method, "left out: {why}");
                    return (None, outcome(Err(&e)));
                }
            };
            if let Some(Value::Array(list)) = page.get(field) {
                items.extend(list.iter().cloned());
            }
            cursor = page
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        (Some(items), outcome(Ok(())))
    }))
    .await;
    let mut outcomes = Map::new();
    let mut lists = Vec::new();
    for (u, (items, result)) in upstreams.into_iter().zip(results) {
        outcomes.insert(u.name.clone(), result);
        if let Some(items) = items {
            lists.push((u, items));
        }
    }
    (lists, outcomes)
}
