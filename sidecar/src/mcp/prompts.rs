//! `prompts/list` (aggregated, names `{prefix}-{prompt}`) and `prompts/get` (routed by
//! prefix, or by a bare name exactly one server has).

use serde_json::Value;

use crate::naming::prefixed;

use super::context::{Answer, Ctx};
use super::fanout::{by_prefix, list_all, list_all_with_outcomes, with_outcomes};
use crate::jsonrpc::{RpcError, INVALID_PARAMS};
use crate::upstream::UpstreamError;

pub async fn list(ctx: &Ctx<'_>) -> Answer {
    let mut prompts = Vec::new();
    let (lists, outcomes) = list_all_with_outcomes(ctx, "prompts/list", "prompts").await;
    for (upstream, items) in lists {
        for mut prompt in items {
            let Some(name) = prompt
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                continue;
            };
            prompt["name"] = Value::String(prefixed(&upstream.prefix, &name));
            prompts.push(prompt);
        }
    }
    Answer::Value(with_outcomes(
        serde_json::json!({ "prompts": prompts }),
        outcomes,
    ))
}

pub async fn get(ctx: &Ctx<'_>, params: Option<Value>) -> Answer {
    let Some(Value::Object(mut params)) = params else {
        return Answer::Error(RpcError::new(
            INVALID_PARAMS,
            "prompts/get needs params with a `name`",
        ));
    };
    let Some(name) = params
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Answer::Error(RpcError::new(
            INVALID_PARAMS,
            "prompts/get needs a string `name`",
        ));
    };
    let routed = match ctx
        .split_name(&name)
        .and_then(|(p, rest)| by_prefix(ctx, p).map(|u| (u, rest.to_string())))
    {
        Some(r) => r,
        None => match bare_owner(ctx, &name).await {
            Ok(r) => r,
            Err(e) => return Answer::Error(e),
        },
    };
    let (upstream, bare) = routed;
    params.insert("name".into(), Value::String(bare));
    match upstream
        .request(
            "prompts/get",
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
                "prompt '{name}': server '{}' failed: {e}",
                upstream.prefix
            )),
        )),
    }
}

/// A bare prompt name offered by exactly one allowed server.
pub(crate) async fn bare_owner(
    ctx: &Ctx<'_>,
    name: &str,
) -> Result<(std::sync::Arc<crate::upstream::Upstream>, String), RpcError> {
    let owners: Vec<_> = list_all(ctx, "prompts/list", "prompts")
        .await
        .into_iter()
        .filter(|(_, items)| {
            items
                .iter()
                .any(|p| p.get("name").and_then(Value::as_str) == Some(name))
        })
        .map(|(u, _)| u)
        .collect();
    match owners.as_slice() {
        [only] => Ok((only.clone(), name.to_string())),
        [] => Err(RpcError::new(
            INVALID_PARAMS,
            format!("Prompt '{name}' not found"),
        )),
        many => Err(RpcError::new(
            INVALID_PARAMS,
            format!(
                "prompt '{name}' is offered by several servers; use one of: {}",
                many.iter()
                    .map(|u| prefixed(&u.prefix, name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
