//! Resources across many servers. Every URI a client sees is `meshgate://{prefix}/{uri}`
//! — the upstream's own URI stays readable in it — so `resources/read` routes by URI
//! with any number of servers (LiteLLM refuses reads unless exactly one is allowed).

use serde_json::Value;
use std::sync::Arc;

use crate::naming::prefixed;

use super::context::{Answer, Ctx};
use super::fanout::{by_prefix, list_all_with_outcomes, with_outcomes};
use crate::jsonrpc::{RpcError, INVALID_PARAMS, INVALID_REQUEST};
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

pub async fn list(ctx: &Ctx<'_>) -> Answer {
    let (items, outcomes) = rewritten(ctx, "resources/list", "resources", "uri").await;
    Answer::Value(with_outcomes(
        serde_json::json!({ "resources": items }),
        outcomes,
    ))
}

pub async fn templates(ctx: &Ctx<'_>) -> Answer {
    let (items, outcomes) = rewritten(
        ctx,
        "resources/templates/list",
        "resourceTemplates",
        "uriTemplate",
    )
    .await;
    Answer::Value(with_outcomes(
        serde_json::json!({ "resourceTemplates": items }),
        outcomes,
    ))
}

async fn rewritten(
    ctx: &Ctx<'_>,
    method: &str,
    field: &str,
    uri_field: &str,
) -> (Vec<Value>, serde_json::Map<String, Value>) {
    let mut out = Vec::new();
    let (lists, outcomes) = list_all_with_outcomes(ctx, method, field).await;
    for (upstream, items) in lists {
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
    (out, outcomes)
}

pub async fn read(ctx: &Ctx<'_>, params: Option<Value>) -> Answer {
    let Some(Value::Object(mut params)) = params else {
        return Answer::Error(RpcError::new(
            INVALID_PARAMS,
            "resources/read needs params with a `uri`",
        ));
    };
    let Some(uri) = params
        .get("uri")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Answer::Error(RpcError::new(
            INVALID_PARAMS,
            "resources/read needs a string `uri`",
        ));
    };
    let (upstream, original) = match route(ctx, &uri) {
        Ok(r) => r,
        Err(e) => return Answer::Error(e),
    };
    // Contents come back in the form the client asked in.
    let rewrite = from_gateway_uri(&uri).is_some();
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
        Err(UpstreamError::Rpc(e)) => return Answer::Error(e),
        Err(e) => {
            return Answer::Error(RpcError::new(
                crate::jsonrpc::INTERNAL_ERROR,
                meshgate_policy::scrub::scrub_urls(&format!(
                    "resource '{uri}': server '{}' failed: {e}",
                    upstream.prefix
                )),
            ))
        }
    };
    let mut result: Value = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(_) => return Answer::Raw(raw),
    };
    if !rewrite {
        return Answer::Value(result);
    }
    if let Some(Value::Array(contents)) = result.get_mut("contents") {
        for c in contents {
            if let Some(u) = c.get("uri").and_then(Value::as_str).map(str::to_string) {
                c["uri"] = Value::String(to_gateway_uri(&upstream.prefix, &u));
            }
        }
    }
    Answer::Value(result)
}

/// `resources/subscribe` (`on`) and `resources/unsubscribe`: recorded per session and
/// passed to the owning server; its `notifications/resources/updated` reach the
/// session's GET stream with the URI as the client subscribed to it.
pub async fn subscribe(ctx: &Ctx<'_>, params: Option<Value>, on: bool) -> Answer {
    let method = if on {
        "resources/subscribe"
    } else {
        "resources/unsubscribe"
    };
    let Some(uri) = params
        .as_ref()
        .and_then(|p| p.get("uri"))
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Answer::Error(RpcError::new(
            INVALID_PARAMS,
            format!("{method} needs a string `uri`"),
        ));
    };
    let Some(session) = &ctx.session else {
        return Answer::Error(RpcError::new(
            INVALID_REQUEST,
            format!("{method} needs a session (send the Mcp-Session-Id from initialize)"),
        ));
    };
    let (upstream, original) = match route(ctx, &uri) {
        Ok(r) => r,
        Err(e) => return Answer::Error(e),
    };
    let hub = &ctx.state.hub;
    let forward = if on {
        hub.subscribe(&upstream.name, &original, &session.token, &uri);
        true
    } else {
        hub.unsubscribe(&upstream.name, &original, &session.token)
    };
    if !forward {
        return Answer::Value(serde_json::json!({}));
    }
    let upstream_params = serde_json::json!({ "uri": original });
    match upstream
        .request(
            method,
            Some(&upstream_params),
            ctx.runtime.call_timeout(),
            &ctx.call_context(),
        )
        .await
    {
        Ok(_) => Answer::Value(serde_json::json!({})),
        Err(e) => {
            if on {
                hub.unsubscribe(&upstream.name, &original, &session.token);
            }
            match e {
                UpstreamError::Rpc(e) => Answer::Error(e),
                other => Answer::Error(RpcError::new(
                    crate::jsonrpc::INTERNAL_ERROR,
                    format!(
                        "{method} '{uri}': server '{}' failed: {other}",
                        upstream.prefix
                    ),
                )),
            }
        }
    }
}

/// The upstream owning a URI: a gateway URI names its server; a plain URI is accepted
/// when exactly one server is allowed (what LiteLLM clients send).
pub(crate) fn route(ctx: &Ctx<'_>, uri: &str) -> Result<(Arc<Upstream>, String), RpcError> {
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
    match ctx.allowed().as_slice() {
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
