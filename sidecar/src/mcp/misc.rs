//! Smaller methods: `completion/complete` (routed by the prompt or resource it completes)
//! and `logging/setLevel` (fanned out to every allowed server).

use futures_util::future::join_all;
use serde_json::Value;

use super::dispatch::{Ctx, Reply};
use super::fanout::by_prefix;
use super::tools::allowed;
use super::{prompts, resources};
use crate::jsonrpc::{RpcError, INVALID_PARAMS};
use crate::upstream::UpstreamError;

pub async fn complete(ctx: &Ctx<'_>, params: Option<Value>) -> Reply {
    let Some(Value::Object(mut params)) = params else {
        return Reply::Error(RpcError::new(
            INVALID_PARAMS,
            "completion/complete needs params with a `ref`",
        ));
    };
    let Some(reference) = params.get_mut("ref").and_then(Value::as_object_mut) else {
        return Reply::Error(RpcError::new(
            INVALID_PARAMS,
            "completion/complete needs a `ref` object",
        ));
    };
    let kind = reference
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let (field, value) = match kind.as_str() {
        "ref/prompt" => ("name", reference.get("name").and_then(Value::as_str)),
        "ref/resource" => ("uri", reference.get("uri").and_then(Value::as_str)),
        other => {
            return Reply::Error(RpcError::new(
                INVALID_PARAMS,
                format!("unknown completion ref type `{other}`"),
            ))
        }
    };
    let Some(value) = value.map(str::to_string) else {
        return Reply::Error(RpcError::new(
            INVALID_PARAMS,
            format!("completion ref needs a `{field}`"),
        ));
    };
    // Prefixed names and gateway URIs name their server; a bare prompt name or a plain
    // URI is routed as prompts/get and resources/read route it.
    let owner = if field == "name" {
        match super::tools::split_name(ctx, &value)
            .and_then(|(p, rest)| by_prefix(ctx, p).map(|u| (u, rest.to_string())))
        {
            Some(found) => Ok(found),
            None => prompts::bare_owner(ctx, &value).await,
        }
    } else {
        resources::route(ctx, &value)
    };
    let (upstream, original) = match owner {
        Ok(found) => found,
        Err(e) => {
            return Reply::Error(RpcError::new(
                INVALID_PARAMS,
                format!("no available server offers `{value}` ({})", e.message),
            ))
        }
    };
    reference.insert(field.into(), Value::String(original));
    match upstream
        .request(
            "completion/complete",
            Some(&Value::Object(params)),
            ctx.runtime.call_timeout(),
            &ctx.call_context(),
        )
        .await
    {
        Ok(raw) => Reply::Raw(raw),
        Err(UpstreamError::Rpc(e)) => Reply::Error(e),
        Err(e) => Reply::Error(RpcError::new(
            crate::jsonrpc::INTERNAL_ERROR,
            meshgate_policy::scrub::scrub_urls(&format!(
                "completion: server '{}' failed: {e}",
                upstream.prefix
            )),
        )),
    }
}

/// Sets the level on every allowed server that supports logging; servers without it
/// are skipped. Answers `{}` as a single server would.
pub async fn set_level(ctx: &Ctx<'_>, params: Option<Value>) -> Reply {
    let Some(level) = params
        .as_ref()
        .and_then(|p| p.get("level"))
        .and_then(Value::as_str)
    else {
        return Reply::Error(RpcError::new(
            INVALID_PARAMS,
            "logging/setLevel needs a string `level`",
        ));
    };
    const LEVELS: &[&str] = &[
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
    ];
    if !LEVELS.contains(&level) {
        return Reply::Error(RpcError::new(
            INVALID_PARAMS,
            format!("unknown log level `{level}`"),
        ));
    }
    let call = ctx.call_context();
    let call = &call;
    let timeout = ctx.runtime.list_timeout();
    let params = params.clone();
    let params = &params;
    join_all(allowed(ctx).iter().map(|u| async move {
        if let Err(e) = u
            .request("logging/setLevel", params.as_ref(), timeout, call)
            .await
        {
            tracing::debug!(server = %u.name, "logging/setLevel not applied: {e}");
        }
    }))
    .await;
    Reply::Value(serde_json::json!({}))
}
