//! LiteLLM's REST tool endpoints: `GET /mcp-rest/tools/list` and `POST
//! /mcp-rest/tools/call`, limited to the servers the filter allowed for this request and
//! enforcing the same tool rules as MCP `tools/call` (server `allowed_tools` /
//! `disallowed_tools`, key and team tool permissions, `allowed_params`), all checked
//! before the upstream is called.
//!
//! Beside LiteLLM's shapes they speak the LLM APIs' (docs/bridge.md, with the
//! `meshgate-bridge` crate's conversions): `tools/list?format=openai|responses|anthropic`
//! lists the tools as the API's tool definitions (prefixed names, schemas normalized as
//! LiteLLM does), and `tools/call` takes a model's tool call — OpenAI `{"id",
//! "type": "function", "function": {"name", "arguments"}}`, a Responses `function_call`
//! item or an Anthropic `tool_use` block — and answers in the matching shape (a `tool`
//! message, a `function_call_output` item, a `tool_result` block).

use futures_util::future::join_all;
use http::StatusCode;
use meshgate_bridge::{convert_tool, BridgeError, Format, McpTool, ToolCall};
use meshgate_policy::hooks::HookEvent;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

use crate::naming::prefixed;
use meshgate_policy::tool_rules::ToolRules;

use super::error::ApiError;
use super::request::{ok, required_str, type_name, AdminRequest, AdminResult};
use super::servers::{all_entries, server_not_found};
use crate::body;
use crate::guardrails;
use crate::mcp::context::Ctx;
use crate::mcp::tools;
use crate::relay::Exchange;
use crate::spend::record::{self as spend, CallStatus, Started, ToolCallOutcome};
use crate::state::AppState;
use crate::upstream::Upstream;
use meshgate_policy::audit::{ARGUMENTS_HEADER, CALL_HEADER};

fn ctx<'a>(state: &'a AppState, req: &AdminRequest) -> Ctx<'a> {
    Ctx::new(
        state,
        state.runtime(),
        req.principal.clone(),
        req.headers.clone(),
    )
}

/// Server name → id, as `/v1/mcp/server` shows them (empty if the database is down).
async fn server_ids(state: &AppState, ctx: &Ctx<'_>) -> HashMap<String, String> {
    all_entries(state, &ctx.runtime)
        .await
        .map(|entries| {
            entries
                .into_iter()
                .filter(|e| e.active)
                .map(|e| (e.name, e.id))
                .collect()
        })
        .unwrap_or_default()
}

/// The upstream a `server_id` names (id, name or alias, case-insensitive): 403
/// `access_denied` when outside this request's scope; when there is none, 404
/// `server_not_found` — or, for `tools/list` (`unknown_is_denied`), 403 as LiteLLM
/// answers there.
async fn resolve(
    ctx: &Ctx<'_>,
    ids: &HashMap<String, String>,
    ident: &str,
    unknown_is_denied: bool,
) -> Result<Arc<Upstream>, ApiError> {
    let denied = || ApiError::Denied {
        code: "access_denied",
        message: format!("The key is not allowed to access server {ident}"),
    };
    let upstreams = &ctx.runtime.upstreams;
    let found = upstreams
        .values()
        .find(|u| u.name == ident)
        .or_else(|| {
            upstreams.values().find(|u| {
                u.name.eq_ignore_ascii_case(ident) || u.prefix.eq_ignore_ascii_case(ident)
            })
        })
        .or_else(|| {
            ids.iter()
                .find(|(_, id)| id.as_str() == ident)
                .and_then(|(name, _)| upstreams.get(name))
        })
        .ok_or_else(|| {
            if unknown_is_denied {
                denied()
            } else {
                server_not_found(ident)
            }
        })?;
    if !ctx.principal.scope.allows(&found.name) {
        return Err(denied());
    }
    Ok(Arc::clone(found))
}

fn mcp_info(upstream: &Upstream, ids: &HashMap<String, String>) -> Value {
    let alias = (upstream.prefix != upstream.name).then(|| upstream.prefix.clone());
    serde_json::json!({
        "server_name": upstream.name,
        "alias": alias,
        "server_id": ids.get(&upstream.name),
    })
}

/// `GET /mcp-rest/tools/list[?server_id=][&format=]` → `{"tools": [{name (bare),
/// description, inputSchema, mcp_info}], "error": null | "partial_failure" |
/// "server_error" | "access_denied", "message"}`; a refusal keeps the envelope
/// (`"tools": []`). With `format=openai` (`responses`, `anthropic`) each tool is that
/// API's tool definition instead, named by its prefixed name (what a call needs without
/// `server_id`); `format=mcp` is the default shape; any other format is a 400.
pub async fn tools_list(state: &AppState, req: &AdminRequest) -> AdminResult {
    Ok(list_tools(state, req).await.unwrap_or_else(|e| {
        e.into_response_with(|body| {
            body.insert("tools".into(), Value::Array(Vec::new()));
        })
    }))
}

async fn list_tools(state: &AppState, req: &AdminRequest) -> AdminResult {
    let format = match req.query("format") {
        None => Format::Mcp,
        Some(f) => f
            .parse::<Format>()
            .map_err(|e| ApiError::invalid("format", e.to_string()))?,
    };
    let ctx = ctx(state, req);
    let ids = server_ids(state, &ctx).await;
    let asked = req
        .query("server_id")
        .or_else(|| req.query("mcp_server_name"));
    let upstreams = match asked {
        Some(ident) => vec![resolve(&ctx, &ids, ident, true).await?],
        None => ctx.allowed(),
    };
    if upstreams.is_empty() {
        return ok(&serde_json::json!({
            "tools": [],
            "error": "access_denied",
            "message": "The key is not allowed to access any MCP servers.",
        }));
    }
    let ttl = ctx.runtime.tools_ttl();
    let timeout = ctx.runtime.list_timeout();
    let call = ctx.call_context();
    let call = &call;
    let catalogs = join_all(
        upstreams
            .iter()
            .map(|u| async move { u.tools(ttl, timeout, call).await }),
    )
    .await;
    let mut listed: Vec<Value> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for (upstream, catalog) in upstreams.iter().zip(catalogs) {
        let catalog = match catalog {
            Ok(c) => c,
            Err(e) => {
                let why = e.to_string();
                crate::log_limit::warn_limited!(&upstream.name, &why, server = %upstream.name, "left out of /mcp-rest/tools/list: {why}");
                failed.push(format!("{} {}", upstream.name, tools::describe(&e)));
                continue;
            }
        };
        let permitted = ctx.tool_permissions(&upstream.name);
        let info = mcp_info(upstream, &ids);
        for (raw, bare) in catalog.prefixed.iter().zip(&catalog.names) {
            if permitted.is_some_and(|p| !p.contains(&bare.to_ascii_lowercase())) {
                continue;
            }
            let tool: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
            if format != Format::Mcp {
                // The catalog's entries are the prefixed tools, validated when listed.
                if let Ok(tool) = McpTool::from_value(&tool) {
                    listed.push(convert_tool(&tool, format));
                }
                continue;
            }
            let mut entry = Map::new();
            entry.insert("name".into(), Value::String(bare.clone()));
            entry.insert(
                "description".into(),
                tool.get("description").cloned().unwrap_or(Value::Null),
            );
            entry.insert(
                "inputSchema".into(),
                tool.get("inputSchema")
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({"type": "object"})),
            );
            for extra in ["title", "outputSchema", "annotations"] {
                if let Some(v) = tool.get(extra) {
                    entry.insert(extra.into(), v.clone());
                }
            }
            entry.insert("mcp_info".into(), info.clone());
            listed.push(Value::Object(entry));
        }
    }
    let (error, message) = if failed.is_empty() {
        (Value::Null, "Successfully retrieved tools".to_string())
    } else if failed.len() == upstreams.len() {
        (
            Value::String("server_error".into()),
            format!("Failed to get tools: {}", failed.join("; ")),
        )
    } else {
        (
            Value::String("partial_failure".into()),
            format!("Some servers could not be listed: {}", failed.join("; ")),
        )
    };
    ok(&serde_json::json!({"tools": listed, "error": error, "message": message}))
}

/// `POST /mcp-rest/tools/call` `{"server_id", "name", "arguments"}` → the upstream's
/// CallToolResult. Refusals: 400 `missing_parameter`, 404 `server_not_found` /
/// `tool_not_found`, 403 `access_denied` / `tool_not_allowed` / `parameters_not_allowed`.
/// An upstream that fails or does not answer in time is a 200 `isError` result (as
/// LiteLLM answers), its text free of URLs and secrets.
///
/// The body may instead be a model's tool call ([`ToolCall::detect`]; `server_id`
/// optional, the name routed as on MCP when absent): arguments that are not a JSON
/// object are a 400 naming the tool, and the result (an `isError` one too) is answered
/// as the tool message / `function_call_output` / `tool_result` that the API expects.
pub async fn tools_call(state: &AppState, req: &AdminRequest) -> AdminResult {
    let started = Started::now();
    let ctx = ctx(state, req);
    // The body is read once; the spend row's name, the call and its audit note use it.
    let body = req.object().map(Value::Object);
    let name = body
        .as_ref()
        .ok()
        .and_then(|b| match ToolCall::detect(b) {
            Some(Ok(call)) => Some(call.name().to_string()),
            Some(Err(_)) => None,
            None => b.get("name").and_then(Value::as_str).map(str::to_string),
        })
        .unwrap_or_default();
    let mut outcome = ToolCallOutcome::new(&name);
    let mut audited_arguments = None;
    let answer = match body {
        Ok(body) => {
            call_tool(
                state,
                req,
                &body,
                &ctx,
                &mut outcome,
                &mut audited_arguments,
            )
            .await
        }
        Err(e) => Err(e),
    };
    // A REST call is a tool call: its spend row as on MCP (refusals cost nothing).
    spend::tool_call(&ctx, &outcome, started).await;
    answer.map(|resp| with_audit_headers(resp, &outcome, audited_arguments))
}

/// The audit record's call, as on `/mcp` (`x-meshgate-call: tools/call <name>`, the name
/// as clients see it once routed) and, with `meshgate.audit_arguments`, its arguments;
/// the filter moves both into the record and removes them.
fn with_audit_headers(
    mut resp: http::Response<body::Body>,
    outcome: &ToolCallOutcome,
    arguments: Option<String>,
) -> http::Response<body::Body> {
    let Some((upstream, bare)) = &outcome.routed else {
        return resp;
    };
    let call = format!("tools/call {}", prefixed(&upstream.prefix, bare));
    if let Ok(value) = http::HeaderValue::from_str(&call) {
        resp.headers_mut().insert(CALL_HEADER, value);
    }
    if let Some(value) = arguments.and_then(|a| http::HeaderValue::from_str(&a).ok()) {
        resp.headers_mut().insert(ARGUMENTS_HEADER, value);
    }
    resp
}

/// `tools_call`'s work on the request's `body`; where it was routed and how it ended go
/// into `outcome`, and (with `meshgate.audit_arguments`) the arguments as the audit
/// record keeps them into `audited_arguments`.
async fn call_tool(
    state: &AppState,
    req: &AdminRequest,
    body: &Value,
    ctx: &Ctx<'_>,
    outcome: &mut ToolCallOutcome,
    audited_arguments: &mut Option<String>,
) -> AdminResult {
    let RestCall {
        server,
        name,
        arguments,
        shape,
    } = read_call(body)?;
    if ctx.runtime.config.meshgate.audit_arguments {
        *audited_arguments = Some(meshgate_policy::audit::arguments_for_audit(&arguments));
    }
    let name = name.as_str();
    let (upstream, bare) = match server {
        Some(server) => {
            let ids = server_ids(state, ctx).await;
            let upstream = resolve(ctx, &ids, &server, false).await?;
            let bare = bare_name(ctx, &upstream, name);
            (upstream, bare)
        }
        None => tools::route(ctx, name).await.map_err(route_refused)?,
    };
    // A model's tool call is answered in its API's shape (an `isError` result too).
    let answer = |result: http::Response<body::Body>, raw: &Value| match &shape {
        Some(call) => body::json(StatusCode::OK, call.answer(raw).to_string()),
        None => result,
    };
    outcome.routed = Some((Arc::clone(&upstream), bare.clone()));
    let shown = prefixed(&upstream.prefix, &bare);
    if !ToolRules::for_server(&upstream.name, &upstream.prefix, &upstream.config).permits(&bare) {
        return Err(ApiError::Denied {
            code: "tool_not_allowed",
            message: format!(
                "Tool '{bare}' is not allowed on server '{}' (allowed_tools / disallowed_tools)",
                upstream.prefix
            ),
        });
    }
    if ctx
        .tool_permissions(&upstream.name)
        .is_some_and(|p| !p.contains(&bare.to_ascii_lowercase()))
    {
        return Err(ApiError::Denied {
            code: "tool_not_allowed",
            message: format!(
                "Tool '{bare}' is not allowed for your key or team on server '{}'",
                upstream.prefix
            ),
        });
    }
    if let Err(text) = tools::check_arguments(&upstream, &shown, &bare, Some(&arguments)) {
        return Err(ApiError::Denied {
            code: "parameters_not_allowed",
            message: text.to_string().trim_start_matches("Error: ").to_string(),
        });
    }
    if !tools::offers(ctx, &upstream, &bare).await {
        return Err(ApiError::NotFound {
            code: "tool_not_found",
            message: format!("Tool '{bare}' not found on server '{}'", upstream.prefix),
        });
    }
    let requested = guardrails::requested(&req.headers, body.get("_meta"));
    let plan = guardrails::plan(
        &ctx.runtime,
        ctx.principal.key_id(),
        &requested,
        &upstream.name,
        &bare,
        !ctx.arguments_scanned_by_filter,
    )
    .map_err(|e| ApiError::invalid("guardrails", e.to_string()))?;
    let client = &state.client;
    let mut arguments = arguments;
    if let Err(r) = plan.pre(client, &mut arguments).await {
        return Ok(guardrail_violation(&r));
    }
    let hooks = std::sync::Arc::clone(&ctx.runtime.hooks);
    let hook_call = crate::hooks::Call {
        server: &upstream.name,
        tool: &bare,
        name: &shown,
        who: ctx.hook_who(),
    };
    let pre = if hooks.wants(HookEvent::PreCall, &upstream.name) {
        match hooks.pre_call(&hook_call, &mut arguments) {
            Ok(pre) => pre,
            Err(r) => return Ok(hook_refusal(&r)),
        }
    } else {
        crate::hooks::Pre::default()
    };
    let params = serde_json::json!({"name": bare, "arguments": arguments});
    let exchange = plan
        .has_during_service()
        .then(|| Exchange::new(ctx.caps(), false).0);
    let mut call = ctx.call_context();
    call.exchange = exchange.as_ref();
    call.hook_headers = Some(&pre.headers).filter(|h| !h.is_empty());
    let clock = crate::hooks::Clock::start();
    let request = upstream.request(
        "tools/call",
        Some(&params),
        ctx.runtime.call_timeout(),
        &call,
    );
    let cancel = || {
        if let Some(e) = &exchange {
            e.cancel();
        }
    };
    let answered = match plan
        .during(client, &params["arguments"], request, cancel)
        .await
    {
        Ok(answered) => answered,
        Err(r) => return Ok(guardrail_violation(&r)),
    };
    match answered {
        Ok(raw) => {
            let timing = clock.stop();
            let raw = match plan.post(client, raw).await {
                Ok(raw) => raw,
                Err(r) => return Ok(guardrail_violation(&r)),
            };
            let raw = if hooks.wants(HookEvent::PostCall, &upstream.name) {
                match hooks.post_call(&hook_call, &params["arguments"], raw, timing) {
                    Ok(post) => {
                        outcome.cost_override = post.cost_override;
                        post.result
                    }
                    Err(r) => return Ok(answer(hook_refusal(&r), &refusal_result(&r.text()))),
                }
            } else {
                raw
            };
            outcome.status = CallStatus::of_result(&raw);
            let parsed = match &shape {
                Some(_) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
                None => Value::Null,
            };
            Ok(answer(
                body::json(StatusCode::OK, raw.get().to_owned()),
                &parsed,
            ))
        }
        Err(e) => {
            outcome.status = CallStatus::UpstreamError;
            let text = format!("Error: server '{}' {}", upstream.name, tools::describe(&e));
            let result = refusal_result(&text);
            Ok(answer(
                body::json(StatusCode::OK, result.to_string()),
                &result,
            ))
        }
    }
}

/// What a `tools/call` body asked for.
struct RestCall {
    /// `server_id`, when given (required in LiteLLM's shape).
    server: Option<String>,
    name: String,
    arguments: Value,
    /// The model's tool call when the body is one: the answer takes its shape.
    shape: Option<ToolCall>,
}

/// Reads LiteLLM's `{"server_id", "name", "arguments"}` or a model's tool call.
fn read_call(value: &Value) -> Result<RestCall, ApiError> {
    let body = value
        .as_object()
        .ok_or_else(|| ApiError::MalformedJson("the request body must be a JSON object".into()))?;
    let Some(detected) = ToolCall::detect(value) else {
        let server = required_str(body, "server_id")?.to_string();
        let name = required_str(body, "name")?.to_string();
        let arguments = match body.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(other) => {
                return Err(ApiError::invalid(
                    "arguments",
                    format!(
                        "invalid arguments: expected an object, found {}",
                        type_name(other)
                    ),
                ))
            }
        };
        return Ok(RestCall {
            server: Some(server),
            name,
            arguments,
            shape: None,
        });
    };
    let call = detected.map_err(|e| ApiError::invalid("tool_call", e.to_string()))?;
    let mcp = call.to_mcp_call().map_err(|e| match e {
        BridgeError::InvalidArguments { .. } => ApiError::invalid("arguments", e.to_string()),
        other => ApiError::invalid("tool_call", other.to_string()),
    })?;
    let server = match body.get("server_id") {
        None | Some(Value::Null) => None,
        Some(_) => Some(required_str(body, "server_id")?.to_string()),
    };
    Ok(RestCall {
        server,
        name: mcp.name,
        arguments: Value::Object(mcp.arguments),
        shape: Some(call),
    })
}

/// A routing refusal (a tool call without `server_id`) as the REST error LiteLLM's
/// endpoint gives for the same case.
fn route_refused(r: tools::ToolRefusal) -> ApiError {
    let message = r.to_string().trim_start_matches("Error: ").to_string();
    match r {
        tools::ToolRefusal::NotFound { .. } => ApiError::NotFound {
            code: "tool_not_found",
            message,
        },
        tools::ToolRefusal::Ambiguous { .. } => ApiError::invalid("name", message),
        tools::ToolRefusal::ServerNotAllowed { .. } => ApiError::Denied {
            code: "access_denied",
            message,
        },
        _ => ApiError::Denied {
            code: "tool_not_allowed",
            message,
        },
    }
}

/// An `isError` CallToolResult with one text.
fn refusal_result(text: &str) -> Value {
    serde_json::json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
    })
}

/// A custom hook's refusal: an `isError` result naming the hook's message, as MCP
/// clients get it.
fn hook_refusal(r: &crate::hooks::Refused) -> http::Response<body::Body> {
    body::json(StatusCode::OK, refusal_result(&r.text()).to_string())
}

/// A guardrail's refusal as LiteLLM's REST endpoint answers it: 400 with
/// `guardrail_violation`, the message naming the guardrail (never a value).
fn guardrail_violation(r: &guardrails::Refusal) -> http::Response<body::Body> {
    let message = r.text.trim_start_matches("Error: ").to_string();
    body::json(
        StatusCode::BAD_REQUEST,
        serde_json::json!({
            "error": "guardrail_violation",
            "message": message,
            "guardrail": r.guardrail,
            "detail": {"error": "guardrail_violation", "message": message, "guardrail": r.guardrail},
        })
        .to_string(),
    )
}

/// The upstream's name for a tool: as given, or without this server's prefix when the
/// client sent the prefixed form (`web-add` → `add`).
fn bare_name(ctx: &Ctx<'_>, upstream: &Upstream, name: &str) -> String {
    let Some((prefix, rest)) = crate::naming::split(name, [upstream.prefix.as_str()]) else {
        return name.to_string();
    };
    let ours = prefix.eq_ignore_ascii_case(&upstream.prefix)
        || prefix.eq_ignore_ascii_case(&upstream.name);
    let offered_as_is = upstream
        .cached_tools(&ctx.call_context())
        .is_some_and(|c| c.bare_names.contains(name));
    if ours && !offered_as_is {
        rest.to_string()
    } else {
        name.to_string()
    }
}

/// `GET /guardrails/metrics` (master key): what the sidecar's guardrails blocked and
/// masked, per guardrail, entity, server, phase and action.
pub fn guardrail_metrics(req: &AdminRequest) -> AdminResult {
    if !req.is_master() {
        return Err(ApiError::Forbidden(
            "guardrail metrics need the master key".into(),
        ));
    }
    ok(&guardrails::counters::snapshot())
}
