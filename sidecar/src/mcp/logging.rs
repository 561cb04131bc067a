//! `logging/setLevel`, fanned out to every allowed server.

use futures_util::future::join_all;
use serde_json::Value;

use super::context::{Answer, Ctx, Handled};
use super::log_levels::rank;
use crate::jsonrpc::RpcError;

/// Sets the level on every allowed server that supports logging; servers without it
/// are skipped. Answers `{}` as a single server would.
pub async fn set_level(ctx: &Ctx<'_>, params: Option<Value>) -> Handled {
    let Some(level) = params
        .as_ref()
        .and_then(|p| p.get("level"))
        .and_then(Value::as_str)
    else {
        return Err(RpcError::invalid_params(
            "logging/setLevel needs a string `level`",
        ));
    };
    if rank(level).is_none() {
        return Err(RpcError::invalid_params(format!(
            "unknown log level `{level}`"
        )));
    }
    let call = ctx.call_context();
    let call = &call;
    let timeout = ctx.runtime.list_timeout();
    let params = params.clone();
    let params = &params;
    join_all(ctx.allowed().iter().map(|u| async move {
        if let Err(e) = u
            .request("logging/setLevel", params.as_ref(), timeout, call)
            .await
        {
            tracing::debug!(server = %u.name, "logging/setLevel not applied: {e}");
        }
    }))
    .await;
    Ok(Answer::Value(serde_json::json!({})))
}
