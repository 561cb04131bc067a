//! `completion/complete`, routed by the prompt or resource it completes.

use serde_json::Value;

use super::context::{Answer, Ctx};
use super::fanout::by_prefix;
use super::{prompts, resources};
use crate::jsonrpc::{RpcError, INVALID_PARAMS};
use crate::upstream::UpstreamError;

pub async fn complete(ctx: &Ctx<'_>, params: Option<Value>) -> Answer {
    let Some(Value::Object(mut params)) = params else {
        return Answer::Error(RpcError::new(
            INVALID_PARAMS,
            "completion/complete needs params with a `ref`",
        ));
    };
    let Some(reference) = params.get_mut("ref").and_then(Value::as_object_mut) else {
        return Answer::Error(RpcError::new(
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
            return Answer::Error(RpcError::new(
                INVALID_PARAMS,
                format!("unknown completion ref type `{other}`"),
            ))
        }
    };
    let Some(value) = value.map(str::to_string) else {
        return Answer::Error(RpcError::new(
            INVALID_PARAMS,
            format!("completion ref needs a `{field}`"),
        ));
    };
    // Prefixed names and gateway URIs name their server; a bare prompt name or a plain
    // URI is routed as prompts/get and resources/read route it.
    let owner = if field == "name" {
        match ctx
            .split_name(&value)
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
            return Answer::Error(RpcError::new(
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
        Ok(raw) => Answer::Raw(raw),
        Err(UpstreamError::Rpc(e)) => Answer::Error(e),
        Err(e) => Answer::Error(RpcError::new(
            crate::jsonrpc::INTERNAL_ERROR,
            meshgate_policy::scrub::scrub_urls(&format!(
                "completion: server '{}' failed: {e}",
                upstream.prefix
            )),
        )),
    }
}
