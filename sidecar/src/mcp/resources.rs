//! Resources across many servers. Every URI a client sees is `meshgate://{prefix}/{uri}`
//! (`policy::resource_uri`) — the upstream's own URI stays readable in it — so
//! `resources/read` routes by URI with any number of servers (LiteLLM refuses reads
//! unless exactly one is allowed).

use serde_json::Value;
use std::sync::Arc;

use meshgate_policy::resource_uri::GatewayUri;
use meshgate_policy::routing::unique_owner;

use super::context::{upstream_failed, Answer, Ctx, Handled};
use super::fanout::{list_all_with_outcomes, with_outcomes};
use crate::jsonrpc::RpcError;
use crate::naming::prefixed;
use crate::upstream::Upstream;

pub async fn list(ctx: &Ctx<'_>) -> Handled {
    let (items, outcomes) = rewritten(ctx, "resources/list", "resources", "uri").await;
    Ok(Answer::Value(with_outcomes(
        serde_json::json!({ "resources": items }),
        outcomes,
    )))
}

pub async fn templates(ctx: &Ctx<'_>) -> Handled {
    let (items, outcomes) = rewritten(
        ctx,
        "resources/templates/list",
        "resourceTemplates",
        "uriTemplate",
    )
    .await;
    Ok(Answer::Value(with_outcomes(
        serde_json::json!({ "resourceTemplates": items }),
        outcomes,
    )))
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
                item[uri_field] = gateway_uri(&upstream, &uri);
            }
            if let Some(name) = item.get("name").and_then(Value::as_str).map(str::to_string) {
                item["name"] = Value::String(prefixed(&upstream.prefix, &name));
            }
            out.push(item);
        }
    }
    (out, outcomes)
}

fn gateway_uri(upstream: &Upstream, uri: &str) -> Value {
    Value::String(GatewayUri::new(&upstream.prefix, uri).to_string())
}

pub async fn read(ctx: &Ctx<'_>, params: Option<Value>) -> Handled {
    let Some(Value::Object(mut params)) = params else {
        return Err(RpcError::invalid_params(
            "resources/read needs params with a `uri`",
        ));
    };
    let Some(uri) = params
        .get("uri")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Err(RpcError::invalid_params(
            "resources/read needs a string `uri`",
        ));
    };
    let (upstream, original) = route(ctx, &uri)?;
    // Contents come back in the form the client asked in.
    let rewrite = GatewayUri::parse(&uri).is_some();
    params.insert("uri".into(), Value::String(original));
    let raw = upstream
        .request(
            "resources/read",
            Some(&Value::Object(params)),
            ctx.runtime.call_timeout(),
            &ctx.call_context(),
        )
        .await
        .map_err(|e| {
            upstream_failed(
                &format!("resource '{uri}': server '{}'", upstream.prefix),
                e,
            )
        })?;
    let mut result: Value = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(_) => return Ok(Answer::Raw(raw)),
    };
    if !rewrite {
        return Ok(Answer::Value(result));
    }
    if let Some(Value::Array(contents)) = result.get_mut("contents") {
        for c in contents {
            if let Some(u) = c.get("uri").and_then(Value::as_str).map(str::to_string) {
                c["uri"] = gateway_uri(&upstream, &u);
            }
        }
    }
    Ok(Answer::Value(result))
}

/// `resources/subscribe` (`on`) and `resources/unsubscribe`: recorded per session and
/// passed to the owning server; its `notifications/resources/updated` reach the
/// session's GET stream with the URI as the client subscribed to it.
pub async fn subscribe(ctx: &Ctx<'_>, params: Option<Value>, on: bool) -> Handled {
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
        return Err(RpcError::invalid_params(format!(
            "{method} needs a string `uri`"
        )));
    };
    let Some(session) = &ctx.session else {
        return Err(RpcError::invalid_request(format!(
            "{method} needs a session (send the Mcp-Session-Id from initialize)"
        )));
    };
    let (upstream, original) = route(ctx, &uri)?;
    let hub = &ctx.state.hub;
    let forward = if on {
        hub.subscribe(&upstream.name, &original, &session.token, &uri);
        true
    } else {
        hub.unsubscribe(&upstream.name, &original, &session.token)
    };
    if !forward {
        return Ok(Answer::Value(serde_json::json!({})));
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
        Ok(_) => Ok(Answer::Value(serde_json::json!({}))),
        Err(e) => {
            if on {
                hub.unsubscribe(&upstream.name, &original, &session.token);
            }
            Err(upstream_failed(
                &format!("{method} '{uri}': server '{}'", upstream.prefix),
                e,
            ))
        }
    }
}

/// The upstream owning a URI: a gateway URI names its server; a plain URI is accepted
/// when exactly one server is allowed (what LiteLLM clients send).
pub(crate) fn route(ctx: &Ctx<'_>, uri: &str) -> Result<(Arc<Upstream>, String), RpcError> {
    if let Some(GatewayUri {
        prefix,
        uri: original,
    }) = GatewayUri::parse(uri)
    {
        return ctx
            .by_prefix(prefix)
            .map(|u| (u, original.to_string()))
            .ok_or_else(|| {
                RpcError::resource_not_found(format!(
                    "Resource not found: no available server `{prefix}` for {uri}"
                ))
            });
    }
    unique_owner(ctx.allowed())
        .map(|only| (only, uri.to_string()))
        .map_err(|_| {
            RpcError::resource_not_found(format!(
                "Resource not found: {uri} (use the meshgate:// URI from resources/list)"
            ))
        })
}
