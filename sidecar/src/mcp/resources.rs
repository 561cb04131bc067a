//! Resources across many servers. Every URI a client sees is `meshgate://{prefix}/{uri}`
//! — the upstream's own URI stays readable in it — so `resources/read` routes by URI
//! with any number of servers (LiteLLM refuses reads unless exactly one is allowed).

use serde_json::Value;
use std::sync::Arc;

use meshgate_policy::names::prefixed;

use super::dispatch::{Ctx, Reply};
use super::fanout::{by_prefix, list_all};
use super::tools::allowed;
use crate::jsonrpc::{RpcError, INVALID_PARAMS};
use crate::upstream::{Upstream, UpstreamError};

const SCHEME: &str = "meshgate://";
/// MCP's "resource not found" (≤ 2025-11-25).
const RESOURCE_NOT_FOUND: i64 = -32002;

pub fn to_gateway_uri(prefix: &str, uri: &str) -> String {
    format!("{SCHEME}{prefix}/{uri}")
}

/// (prefix, upstream URI) of a gateway URI.
pub fn from_gateway_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix(SCHEME)?;
    let (prefix, original) = rest.split_once('/')?;
    (!prefix.is_empty() && !original.is_empty()).then_some((prefix, original))
}

pub async fn list(ctx: &Ctx<'_>) -> Reply {
    Reply::Value(
        serde_json::json!({ "resources": rewritten(ctx, "resources/list", "resources", "uri").await }),
    )
}

pub async fn templates(ctx: &Ctx<'_>) -> Reply {
    let items = rewritten(
        ctx,
        "resources/templates/list",
        "resourceTemplates",
        "uriTemplate",
    )
    .await;
    Reply::Value(serde_json::json!({ "resourceTemplates": items }))
}

async fn rewritten(ctx: &Ctx<'_>, method: &str, field: &str, uri_field: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for (upstream, items) in list_all(ctx, method, field).await {
        for mut item in items {
            if let Some(uri) = item
                .get(uri_field)
                .and_then(Value::as_str)
                .map(str::to_string)
            {
                item[uri_field] = Value::String(to_gateway_uri(&upstream.prefix, &uri));
            }
            if let Some(name) = item.get("name").and_then(Value::as_str).map(str::to_string) {
                item["name"] = Value::String(prefixed(&upstream.prefix, &name));
            }
            out.push(item);
        }
    }
    out
}

pub async fn read(ctx: &Ctx<'_>, params: Option<Value>) -> Reply {
    let Some(Value::Object(mut params)) = params else {
        return Reply::Error(RpcError::new(
            INVALID_PARAMS,
            "resources/read needs params with a `uri`",
        ));
    };
    let Some(uri) = params
        .get("uri")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Reply::Error(RpcError::new(
            INVALID_PARAMS,
            "resources/read needs a string `uri`",
        ));
    };
    let (upstream, original) = match route(ctx, &uri) {
        Ok(r) => r,
        Err(e) => return Reply::Error(e),
    };
    params.insert("uri".into(), Value::String(original));
    let raw = match upstream
        .request(
            "resources/read",
            Some(&Value::Object(params)),
            ctx.runtime.call_timeout(),
            &ctx.call_context(),
        )
        .await
    {
        Ok(raw) => raw,
        Err(UpstreamError::Rpc(e)) => return Reply::Error(e),
        Err(e) => {
            return Reply::Error(RpcError::new(
                crate::jsonrpc::INTERNAL_ERROR,
                format!("resource '{uri}': server '{}' failed: {e}", upstream.prefix),
            ))
        }
    };
    let mut result: Value = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(_) => return Reply::Raw(raw),
    };
    if let Some(Value::Array(contents)) = result.get_mut("contents") {
        for c in contents {
            if let Some(u) = c.get("uri").and_then(Value::as_str).map(str::to_string) {
                c["uri"] = Value::String(to_gateway_uri(&upstream.prefix, &u));
            }
        }
    }
    Reply::Value(result)
}

/// The upstream owning a URI: a gateway URI names its server; a plain URI is accepted
/// when exactly one server is allowed (what LiteLLM clients send).
fn route(ctx: &Ctx<'_>, uri: &str) -> Result<(Arc<Upstream>, String), RpcError> {
    if let Some((prefix, original)) = from_gateway_uri(uri) {
        return by_prefix(ctx, prefix)
            .map(|u| (u, original.to_string()))
            .ok_or_else(|| {
                RpcError::new(
                    RESOURCE_NOT_FOUND,
                    format!("Resource not found: no available server `{prefix}` for {uri}"),
                )
            });
    }
    match allowed(ctx).as_slice() {
        [only] => Ok((Arc::clone(only), uri.to_string())),
        _ => Err(RpcError::new(
            RESOURCE_NOT_FOUND,
            format!("Resource not found: {uri} (use the meshgate:// URI from resources/list)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_uris_round_trip() {
        let u = to_gateway_uri("fs", "file:///tmp/a b.txt");
        assert_eq!(u, "meshgate://fs/file:///tmp/a b.txt");
        assert_eq!(from_gateway_uri(&u), Some(("fs", "file:///tmp/a b.txt")));
        assert_eq!(from_gateway_uri("demo://resource/static/1"), None);
        assert_eq!(from_gateway_uri("meshgate://fs/"), None);
    }
}
