//! `tools/list` (parallel fan-out with per-server timeouts, prefixed names) and
//! `tools/call` (routed by prefix, or by a bare name exactly one server has).

use futures_util::future::join_all;
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::Arc;

use meshgate_policy::grants::disallowed_params;
use meshgate_policy::routing::{unique_owner, Resolution, Unowned};
use meshgate_policy::tool_rules::ToolRules;

use super::context::{Answer, Ctx, Handled};
use crate::guardrails;
use crate::hooks;
use crate::jsonrpc::{tool_error_result, RpcError};
use crate::log_limit::warn_limited;
use crate::relay::Exchange;
use crate::spend::record::{self as spend, CallStatus, Started, ToolCallOutcome};
use crate::upstream::{Upstream, UpstreamError};
use meshgate_policy::hooks::HookEvent;

pub async fn list(ctx: &Ctx<'_>) -> Handled {
    let started = Started::now();
    let ttl = ctx.runtime.tools_ttl();
    let timeout = ctx.runtime.list_timeout();
    let upstreams = ctx.allowed();
    let call = ctx.call_context();
    let call = &call;
    let results = join_all(upstreams.iter().map(|u| u.tools(ttl, timeout, call))).await;
    let mut outcomes = serde_json::Map::new();
    let catalogs: Vec<_> = upstreams
        .iter()
        .zip(results)
        .map(|(u, r)| {
            outcomes.insert(
                u.name.clone(),
                super::fanout::outcome(r.as_ref().map(|_| ())),
            );
            r.inspect_err(|e| {
                let why = e.to_string();
                warn_limited!(&u.name, &why, server = %u.name, "left out of tools/list: {why}");
            })
            .ok()
        })
        .collect();
    let answered = catalogs.iter().any(Option::is_some);
    spend::tools_list(ctx, answered, upstreams.len(), started).await;
    let mut out = String::with_capacity(4096);
    out.push_str("{\"tools\":[");
    let mut first = true;
    for (upstream, catalog) in upstreams.iter().zip(catalogs.iter()) {
        let Some(catalog) = catalog else { continue };
        let permitted = ctx.tool_permissions(&upstream.name);
        for (tool, bare) in catalog.prefixed.iter().zip(&catalog.names) {
            if permitted.is_some_and(|p| !p.contains(&bare.to_ascii_lowercase())) {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(tool.get());
        }
    }
    // `_meta["litellm.ai/server_outcomes"]`: which servers answered (LiteLLM's).
    out.push_str("],\"_meta\":{\"");
    out.push_str(super::fanout::OUTCOMES_META_KEY);
    out.push_str("\":");
    out.push_str(&Value::Object(outcomes).to_string());
    out.push_str("}}");
    RawValue::from_string(out)
        .map(Answer::Raw)
        .map_err(|e| RpcError::internal(format!("cannot build tools/list: {e}")))
}

/// Why a `tools/call` is answered with an `isError` result instead of reaching the
/// tool. The text is shown to the model: it names the tool, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum ToolRefusal {
    #[error("Error: Tool '{name}' not found")]
    NotFound { name: String },
    #[error("Error: tool '{name}' is offered by several servers; call it by its prefixed name: {}", .candidates.join(", "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
    #[error("Error: tool '{name}' is not allowed: server '{prefix}' is not available to this key or request")]
    ServerNotAllowed { name: String, prefix: String },
    #[error("Error: tool '{name}' is not allowed on server '{prefix}' (allowed_tools / disallowed_tools)")]
    ByServerRules { name: String, prefix: String },
    #[error("Error: tool '{name}' is not allowed for your key or team on server '{prefix}'")]
    ByKey { name: String, prefix: String },
    #[error("Error: parameters [{}] are not allowed for tool '{name}'. Allowed parameters: [{allowed}].", .refused.join(", "))]
    Parameters {
        name: String,
        refused: Vec<String>,
        allowed: String,
    },
    #[error("Error: tool '{name}' could not be called: server '{server}' {why}")]
    Failed {
        name: String,
        server: String,
        why: String,
    },
    /// A guardrail refused the arguments or the result (its text as LiteLLM words it).
    #[error("{text}")]
    Guardrail { text: String },
    /// A custom hook denied the call, or failed and fails closed (`crate::hooks`).
    #[error("{text}")]
    Hook { text: String },
}

impl From<hooks::Refused> for ToolRefusal {
    fn from(r: hooks::Refused) -> Self {
        ToolRefusal::Hook { text: r.text() }
    }
}

impl From<guardrails::Refusal> for ToolRefusal {
    fn from(r: guardrails::Refusal) -> Self {
        ToolRefusal::Guardrail { text: r.text }
    }
}

/// A `tools/call`: answered, and its spend row written (with the cost a `post_call`
/// hook set, if any: [`ToolCallOutcome::cost_override`]).
pub async fn call(ctx: &Ctx<'_>, params: Option<Value>) -> Handled {
    let Some(Value::Object(mut params)) = params else {
        return Err(RpcError::invalid_params(
            "tools/call needs params with a `name`",
        ));
    };
    let Some(name) = params
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Err(RpcError::invalid_params("tools/call needs a string `name`"));
    };
    let started = Started::now();
    let mut outcome = ToolCallOutcome::new(&name);
    let routed = call_routed(ctx, &name, &mut params, &mut outcome).await;
    outcome.status = match &routed {
        Ok(Ok(Answer::Raw(raw))) => CallStatus::of_result(raw),
        Ok(Ok(_)) => CallStatus::Ok,
        Ok(Err(_)) | Err(ToolRefusal::Failed { .. }) => CallStatus::UpstreamError,
        Err(_) => CallStatus::Refused,
    };
    spend::tool_call(ctx, &outcome, started).await;
    match routed {
        Ok(answer) => answer,
        Err(refusal) => Ok(Answer::Value(tool_error_result(&refusal.to_string()))),
    }
}

/// Routes, checks and forwards a call; the upstream's own JSON-RPC error is the
/// request's error (inside `Ok`), anything else refused is a [`ToolRefusal`]. Where it
/// was routed goes into `outcome` (its spend row).
async fn call_routed(
    ctx: &Ctx<'_>,
    name: &str,
    params: &mut serde_json::Map<String, Value>,
    outcome: &mut ToolCallOutcome,
) -> Result<Handled, ToolRefusal> {
    let (upstream, bare) = route(ctx, name).await?;
    outcome.routed = Some((Arc::clone(&upstream), bare.clone()));
    if ctx
        .tool_permissions(&upstream.name)
        .is_some_and(|p| !p.contains(&bare.to_ascii_lowercase()))
    {
        return Err(ToolRefusal::ByKey {
            name: name.to_string(),
            prefix: upstream.prefix.clone(),
        });
    }
    check_arguments(&upstream, name, &bare, params.get("arguments"))?;
    let requested = guardrails::requested(&ctx.client_headers, params.get("_meta"));
    let plan = guardrails::plan(
        &ctx.runtime,
        ctx.principal.key_id(),
        &requested,
        &upstream.name,
        &bare,
        !ctx.arguments_scanned_by_filter,
    )
    .map_err(|e| ToolRefusal::Guardrail {
        text: format!("Error: {e}"),
    })?;
    let client = &ctx.state.client;
    if let Some(arguments) = params.get_mut("arguments") {
        plan.pre(client, arguments).await?;
    }
    let hooks = Arc::clone(&ctx.runtime.hooks);
    let hook_call = hooks::Call {
        server: &upstream.name,
        tool: &bare,
        name,
        who: ctx.hook_who(),
    };
    let pre = if hooks.wants(HookEvent::PreCall, &upstream.name) {
        let arguments = params
            .entry("arguments")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        hooks.pre_call(&hook_call, arguments)?
    } else {
        hooks::Pre::default()
    };
    params.insert("name".into(), Value::String(bare.clone()));
    let params = Value::Object(std::mem::take(params));
    let arguments = params.get("arguments").unwrap_or(&Value::Null);
    // A during guardrail cancels the upstream request through the request's exchange
    // (one of its own when the client has none).
    let own_exchange = (ctx.exchange.is_none() && plan.has_during_service())
        .then(|| Exchange::new(ctx.caps(), false).0);
    let exchange = ctx.exchange.as_ref().or(own_exchange.as_ref());
    let mut call = ctx.call_context();
    call.exchange = exchange;
    call.hook_headers = Some(&pre.headers).filter(|h| !h.is_empty());
    let clock = hooks::Clock::start();
    let request = upstream.request(
        "tools/call",
        Some(&params),
        ctx.runtime.call_timeout(),
        &call,
    );
    let result = plan
        .during(client, arguments, request, || {
            if let Some(e) = exchange {
                e.cancel();
            }
        })
        .await?;
    match result {
        Ok(raw) => {
            let timing = clock.stop();
            let raw = plan.post(client, raw).await?;
            if !hooks.wants(HookEvent::PostCall, &upstream.name) {
                return Ok(Ok(Answer::Raw(raw)));
            }
            let post = hooks.post_call(&hook_call, arguments, raw, timing)?;
            outcome.cost_override = post.cost_override;
            Ok(Ok(Answer::Raw(post.result)))
        }
        Err(UpstreamError::Rpc(e)) => Ok(Err(e)),
        Err(e) => Err(ToolRefusal::Failed {
            name: name.to_string(),
            server: upstream.name.clone(),
            why: describe(&e),
        }),
    }
}

/// An upstream failure as clients read it: without any URL (`policy::scrub`).
pub(crate) fn describe(e: &UpstreamError) -> String {
    meshgate_policy::scrub::scrub_urls(&describe_raw(e))
}

fn describe_raw(e: &UpstreamError) -> String {
    match e {
        UpstreamError::Timeout(d) => format!("did not answer within {} ms", d.as_millis()),
        UpstreamError::Cancelled => "was told the client cancelled the request".to_string(),
        UpstreamError::Unavailable(why) => format!("is unavailable ({why})"),
        UpstreamError::Protocol(why) => format!("answered with something that is not MCP ({why})"),
        UpstreamError::Rpc(r) => format!("returned error {}: {}", r.code, r.message),
    }
}

/// `allowed_params`: refuses arguments the server's configuration does not allow for
/// this tool, before the upstream is contacted.
pub(crate) fn check_arguments(
    upstream: &Upstream,
    name: &str,
    bare: &str,
    arguments: Option<&Value>,
) -> Result<(), ToolRefusal> {
    if upstream.config.allowed_params.is_empty() {
        return Ok(());
    }
    let names = arguments
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|a| a.keys().map(String::as_str));
    let refused = disallowed_params(&upstream.config.allowed_params, bare, names);
    if refused.is_empty() {
        return Ok(());
    }
    let allowed = upstream
        .config
        .allowed_params
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(bare))
        .map(|(_, p)| p.join(", "))
        .unwrap_or_default();
    Err(ToolRefusal::Parameters {
        name: name.to_string(),
        refused: refused.into_iter().map(str::to_string).collect(),
        allowed,
    })
}

/// Whether a server offers a tool: from its catalog, refreshed once when the name is
/// missing (the tool may be new). A server whose list cannot be fetched gets the call
/// anyway, so its real error reaches the client.
pub(crate) async fn offers(ctx: &Ctx<'_>, upstream: &Upstream, bare: &str) -> bool {
    let timeout = ctx.runtime.list_timeout();
    if let Some(c) = upstream.cached_tools(&ctx.call_context()) {
        if c.bare_names.contains(bare) {
            return true;
        }
    }
    match upstream
        .tools(std::time::Duration::ZERO, timeout, &ctx.call_context())
        .await
    {
        Ok(c) => c.bare_names.contains(bare),
        Err(_) => true,
    }
}

/// Finds the upstream for a tool name by the routing rule (`policy::routing`): a
/// prefixed name must be a tool its server's rules permit and that it offers; a bare
/// name must be offered by exactly one allowed server.
pub(crate) async fn route(
    ctx: &Ctx<'_>,
    name: &str,
) -> Result<(Arc<Upstream>, String), ToolRefusal> {
    let upstreams = ctx.allowed();
    let not_found = || ToolRefusal::NotFound {
        name: name.to_string(),
    };
    match ctx.resolve(name, &upstreams) {
        Resolution::Prefixed { target: u, rest } => {
            if !ToolRules::for_server(&u.name, &u.prefix, &u.config).permits(rest) {
                return Err(ToolRefusal::ByServerRules {
                    name: name.to_string(),
                    prefix: u.prefix.clone(),
                });
            }
            return if offers(ctx, u, rest).await {
                Ok((Arc::clone(u), rest.to_string()))
            } else {
                Err(not_found())
            };
        }
        Resolution::NotAllowed { prefix } => {
            return Err(ToolRefusal::ServerNotAllowed {
                name: name.to_string(),
                prefix: prefix.to_string(),
            })
        }
        Resolution::Bare => {}
    }
    let ttl = ctx.runtime.tools_ttl();
    let timeout = ctx.runtime.list_timeout();
    let call = ctx.call_context();
    let call = &call;
    let offers = join_all(upstreams.iter().map(|u| async move {
        let catalog = match u.cached_tools(call) {
            Some(c) => Some(c),
            None => u.tools(ttl, timeout, call).await.ok(),
        };
        catalog.is_some_and(|c| c.bare_names.contains(name))
    }))
    .await;
    let owners = upstreams
        .iter()
        .zip(offers)
        .filter(|(_, has)| *has)
        .map(|(u, _)| u)
        .collect();
    match unique_owner(owners) {
        Ok(only) => Ok((Arc::clone(only), name.to_string())),
        Err(Unowned::NotFound) => Err(not_found()),
        Err(Unowned::Ambiguous(many)) => Err(ToolRefusal::Ambiguous {
            name: name.to_string(),
            candidates: many
                .iter()
                .map(|u| crate::naming::prefixed(&u.prefix, name))
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::ToolRefusal;

    /// The texts models and LiteLLM-era clients read (the e2e tests match some).
    #[test]
    fn refusal_texts() {
        let name = || "gh-search".to_string();
        let cases = [
            (
                ToolRefusal::NotFound { name: name() },
                "Error: Tool 'gh-search' not found",
            ),
            (
                ToolRefusal::Ambiguous {
                    name: "search".into(),
                    candidates: vec!["a-search".into(), "b-search".into()],
                },
                "Error: tool 'search' is offered by several servers; call it by its prefixed name: a-search, b-search",
            ),
            (
                ToolRefusal::ServerNotAllowed { name: name(), prefix: "gh".into() },
                "Error: tool 'gh-search' is not allowed: server 'gh' is not available to this key or request",
            ),
            (
                ToolRefusal::ByServerRules { name: name(), prefix: "gh".into() },
                "Error: tool 'gh-search' is not allowed on server 'gh' (allowed_tools / disallowed_tools)",
            ),
            (
                ToolRefusal::ByKey { name: name(), prefix: "gh".into() },
                "Error: tool 'gh-search' is not allowed for your key or team on server 'gh'",
            ),
            (
                ToolRefusal::Parameters {
                    name: name(),
                    refused: vec!["limit".into(), "page".into()],
                    allowed: "query".into(),
                },
                "Error: parameters [limit, page] are not allowed for tool 'gh-search'. Allowed parameters: [query].",
            ),
            (
                ToolRefusal::Failed {
                    name: name(),
                    server: "github".into(),
                    why: "did not answer within 5 ms".into(),
                },
                "Error: tool 'gh-search' could not be called: server 'github' did not answer within 5 ms",
            ),
        ];
        for (refusal, text) in cases {
            assert_eq!(refusal.to_string(), text);
        }
    }
}
