//! `completion/complete`, routed by the prompt or resource it completes.

use serde_json::Value;

use super::context::{upstream_failed, Answer, Ctx, Handled};
use super::{prompts, resources};
use crate::jsonrpc::RpcError;

pub async fn complete(ctx: &Ctx<'_>, params: Option<Value>) -> Handled {
    let Some(Value::Object(mut params)) = params else {
        return Err(RpcError::invalid_params(
            "completion/complete needs params with a `ref`",
        ));
    };
    let Some(reference) = params.get_mut("ref").and_then(Value::as_object_mut) else {
        return Err(RpcError::invalid_params(
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
            return Err(RpcError::invalid_params(format!(
                "unknown completion ref type `{other}`"
            )))
        }
    };
    let Some(value) = value.map(str::to_string) else {
        return Err(RpcError::invalid_params(format!(
            "completion ref needs a `{field}`"
        )));
    };
    // Routed as prompts/get and resources/read route the prompt or the URI.
    let owner = if field == "name" {
        prompts::route(ctx, &value).await
    } else {
        resources::route(ctx, &value)
    };
    let (upstream, original) = owner.map_err(|e| {
        RpcError::invalid_params(format!(
            "no available server offers `{value}` ({})",
            e.message
        ))
    })?;
    reference.insert(field.into(), Value::String(original));
    let raw = upstream
        .request(
            "completion/complete",
            Some(&Value::Object(params)),
            ctx.runtime.call_timeout(),
            &ctx.call_context(),
        )
        .await
        .map_err(|e| upstream_failed(&format!("completion: server '{}'", upstream.prefix), e))?;
    Ok(Answer::Raw(raw))
}
