//! `prompts/list` (aggregated, names `{prefix}-{prompt}`) and `prompts/get` (routed by
//! prefix, or by a bare name exactly one server has).

use serde_json::Value;
use std::sync::Arc;

use meshgate_policy::routing::{unique_owner, Resolution, Unowned};

use super::context::{upstream_failed, Answer, Ctx, Handled};
use super::fanout::{list_all, list_all_with_outcomes, with_outcomes};
use crate::jsonrpc::RpcError;
use crate::naming::prefixed;
use crate::upstream::Upstream;

pub async fn list(ctx: &Ctx<'_>) -> Handled {
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
    Ok(Answer::Value(with_outcomes(
        serde_json::json!({ "prompts": prompts }),
        outcomes,
    )))
}

pub async fn get(ctx: &Ctx<'_>, params: Option<Value>) -> Handled {
    let Some(Value::Object(mut params)) = params else {
        return Err(RpcError::invalid_params(
            "prompts/get needs params with a `name`",
        ));
    };
    let Some(name) = params
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Err(RpcError::invalid_params(
            "prompts/get needs a string `name`",
        ));
    };
    let (upstream, bare) = route(ctx, &name).await?;
    params.insert("name".into(), Value::String(bare));
    let raw = upstream
        .request(
            "prompts/get",
            Some(&Value::Object(params)),
            ctx.runtime.call_timeout(),
            &ctx.call_context(),
        )
        .await
        .map_err(|e| {
            upstream_failed(&format!("prompt '{name}': server '{}'", upstream.prefix), e)
        })?;
    Ok(Answer::Raw(raw))
}

/// The upstream for a prompt name by the routing rule (`policy::routing`): a prefix of
/// an allowed server names it; anything else (a server out of scope included) is a
/// bare name, which exactly one allowed server must offer.
pub(crate) async fn route(ctx: &Ctx<'_>, name: &str) -> Result<(Arc<Upstream>, String), RpcError> {
    let upstreams = ctx.allowed();
    if let Resolution::Prefixed { target, rest } = ctx.resolve(name, &upstreams) {
        return Ok((Arc::clone(target), rest.to_string()));
    }
    let owners = list_all(ctx, "prompts/list", "prompts")
        .await
        .into_iter()
        .filter(|(_, items)| {
            items
                .iter()
                .any(|p| p.get("name").and_then(Value::as_str) == Some(name))
        })
        .map(|(u, _)| u)
        .collect();
    match unique_owner(owners) {
        Ok(only) => Ok((only, name.to_string())),
        Err(Unowned::NotFound) => Err(RpcError::invalid_params(format!(
            "Prompt '{name}' not found"
        ))),
        Err(Unowned::Ambiguous(many)) => Err(RpcError::invalid_params(format!(
            "prompt '{name}' is offered by several servers; use one of: {}",
            many.iter()
                .map(|u| prefixed(&u.prefix, name))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
