//! Fan-out of a list method to every allowed upstream, in parallel, each bounded by the
//! list timeout, draining pagination. A server that fails (or does not offer the
//! feature) is left out: logged at warn, or at debug when it simply lacks the method.

use futures_util::future::join_all;
use serde_json::Value;
use std::sync::Arc;

use super::dispatch::Ctx;
use super::tools::allowed;
use crate::jsonrpc::METHOD_NOT_FOUND;
use crate::log_limit::warn_limited;
use crate::upstream::{Upstream, UpstreamError};

const MAX_PAGES: usize = 100;

/// `method`'s `field` array from each allowed upstream, in configuration order.
pub async fn list_all(
    ctx: &Ctx<'_>,
    method: &str,
    field: &str,
) -> Vec<(Arc<Upstream>, Vec<Value>)> {
    let upstreams = allowed(ctx);
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
                    return None;
                }
                Err(e) => {
                    let why = e.to_string();
                    warn_limited!(&u.name, &format!("{method} {why}"), server = %u.name, method, "left out: {why}");
                    return None;
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
        Some(items)
    }))
    .await;
    upstreams
        .into_iter()
        .zip(results)
        .filter_map(|(u, items)| items.map(|i| (u, i)))
        .collect()
}

/// The allowed upstream with this prefix (exact, then case-insensitive).
pub fn by_prefix(ctx: &Ctx<'_>, prefix: &str) -> Option<Arc<Upstream>> {
    let upstreams = allowed(ctx);
    upstreams
        .iter()
        .find(|u| u.prefix == prefix)
        .or_else(|| {
            upstreams
                .iter()
                .find(|u| u.prefix.eq_ignore_ascii_case(prefix))
        })
        .cloned()
}
