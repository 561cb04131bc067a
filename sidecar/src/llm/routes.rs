//! The OpenAI-compatible requests: which model, whether the key may call it, then a
//! plain proxied call (a stream relayed chunk by chunk) or the tool loop when the
//! request asks for the gateway's MCP tools (one JSON answer, or streamed by
//! `stream::` when the request has `stream: true`).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Map, Value};
use std::sync::Arc;

use meshgate_policy::models::{allows_model, Protocol};
use meshgate_policy::paths::LlmRoute;

use super::approval;
use super::budget::Deadline;
use super::chat::{self, ChatLoop};
use super::error::LlmError;
use super::providers::{self, openai, Provider};
use super::responses::{self, ResponsesLoop};
use super::responses_plain;
use super::spend::{RequestSpend, UsageTap};
use super::stored_responses::{self, Keeper};
use super::stream;
use super::tools::{Gateway, McpRequest};
use crate::body::{self, Body};
use crate::limited_body::{self, BodyError};
use crate::state::AppState;
use crate::verify::Principal;

/// Answers one request on an LLM route.
pub async fn handle(
    state: &Arc<AppState>,
    principal: Principal,
    route: LlmRoute,
    req: Request<Incoming>,
) -> Response<Body> {
    serve(state, principal, route, req)
        .await
        .unwrap_or_else(LlmError::into_response)
}

async fn serve(
    state: &Arc<AppState>,
    principal: Principal,
    route: LlmRoute,
    req: Request<Incoming>,
) -> Result<Response<Body>, LlmError> {
    let runtime = state.runtime();
    if !(principal.who.is_master() || principal.key_id().is_some()) {
        return Err(LlmError::new(
            StatusCode::UNAUTHORIZED,
            "auth_error",
            "the LLM routes need a gateway key",
        ));
    }
    let limited = runtime.llm.models_of(principal.key_id()).to_vec();
    if route == LlmRoute::Models {
        return Ok(models(&runtime.llm, &limited));
    }
    let (parts, incoming) = req.into_parts();
    let bytes = limited_body::read(incoming, runtime.config.meshgate.max_body_bytes)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(limit) => LlmError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                format!("the request body exceeds {limit} bytes (meshgate.max_body_bytes)"),
            ),
            BodyError::Unreadable => LlmError::invalid("the request body could not be read"),
        })?;
    let mut body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(LlmError::invalid("the request body must be a JSON object")),
        Err(e) => {
            return Err(LlmError::invalid(format!(
                "the request body is not valid JSON: {e}"
            )))
        }
    };
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(_) => return Err(LlmError::invalid("`model` must be a non-empty string")),
        None => return Err(LlmError::invalid("`model` is required")),
    };
    let provider = runtime
        .llm
        .providers
        .get(&model)
        .ok_or_else(|| LlmError::unknown_model(route.label(), &model))?;
    if !allows_model(&limited, &model) {
        return Err(LlmError::model_not_allowed(&limited, &model));
    }
    provider.check_served()?;
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let rounds = requested_rounds(&body, runtime.llm.max_tool_rounds)?;
    body.remove("max_tool_rounds");
    let deadline = Deadline::take(&mut body, runtime.llm.request_timeout_ms)?;
    let keep = match route {
        LlmRoute::Responses => {
            let limit = runtime.config.meshgate.max_body_bytes;
            stored_responses::expand(&state.store, &principal.name, &provider, &mut body).await?;
            Keeper::new(&state.store, &principal.name, &model, &body, limit)?
        }
        _ => None,
    };
    let spend = RequestSpend::new(
        state.clone(),
        runtime.clone(),
        principal.clone(),
        parts.headers.clone(),
        route,
        &model,
        &provider,
    );
    let mcp = McpRequest::take(&mut body, route)?;
    body.insert("model".into(), Value::String(provider.model.clone()));
    let Some(mcp) = mcp else {
        if route == LlmRoute::Responses {
            return responses_plain::serve(state, &provider, &body, keep, spend).await;
        }
        return plain(state, &provider, route, &body, spend).await;
    };
    let (principal, headers) = Gateway::prepare(&runtime, principal, parts.headers, &mcp)?;
    let mut mcp = mcp;
    if let (LlmRoute::Responses, Some(Value::Array(input))) = (route, body.get_mut("input")) {
        let signer = approval::Signer::new(&state.secret, principal.who.encode());
        mcp.approved = approval::resume(input, &signer)?;
    }
    if stream {
        let job = stream::Job {
            state: state.clone(),
            runtime: runtime.clone(),
            principal,
            headers,
            provider,
            mcp,
            model_name: model,
            keep,
            deadline,
            spend,
        };
        return match route {
            LlmRoute::ChatCompletions => {
                let lp = ChatLoop::new(body, &job.mcp, rounds, true)?;
                Ok(stream::chat::start(job, lp))
            }
            LlmRoute::Responses => {
                let lp = ResponsesLoop::new(body, &job.mcp, rounds, true)?;
                Ok(stream::responses::start(job, lp))
            }
            LlmRoute::Models => Ok(models(&runtime.llm, &limited)),
        };
    }
    let gw = Gateway::new(state, runtime.clone(), principal, headers);
    let (answer, usage) = match route {
        LlmRoute::ChatCompletions => {
            let mut lp = ChatLoop::new(body, &mcp, rounds, false)?;
            let run = chat::run(state, &provider, &gw, &mcp, &mut lp, &model);
            (deadline.run(run).await, lp.total_usage)
        }
        LlmRoute::Responses => {
            let mut lp = ResponsesLoop::new(body, &mcp, rounds, false)?;
            let run = responses::run(state, &provider, &gw, &mcp, &mut lp, &model);
            (deadline.run(run).await, lp.total_usage)
        }
        LlmRoute::Models => return Ok(models(&runtime.llm, &limited)),
    };
    let mut answer = answer.and_then(|a| a);
    if let (Ok(a), Some(k)) = (answer.as_mut(), &keep) {
        k.keep(a).await;
    }
    let status = match &answer {
        Ok(_) => "ok",
        Err(e) if e.status == StatusCode::REQUEST_TIMEOUT => "timeout",
        Err(_) => "upstream_error",
    };
    spend.record(usage.as_ref(), status).await;
    Ok(body::json(StatusCode::OK, answer?.to_string()))
}

/// `max_tool_rounds` of the request (meshgate's extension; it may only lower the
/// configured limit), removed before the provider sees the body.
fn requested_rounds(body: &Map<String, Value>, configured: u32) -> Result<u32, LlmError> {
    match body.get("max_tool_rounds") {
        None | Some(Value::Null) => Ok(configured),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Ok(configured.min(u32::try_from(n).unwrap_or(u32::MAX))),
            _ => Err(LlmError::invalid(
                "`max_tool_rounds` must be a whole number of at least 1",
            )),
        },
    }
}

/// A request without the gateway's MCP tools: the provider's answer as it is.
async fn plain(
    state: &AppState,
    provider: &Provider,
    route: LlmRoute,
    body: &Map<String, Value>,
    spend: RequestSpend,
) -> Result<Response<Body>, LlmError> {
    if provider.protocol == Protocol::Anthropic {
        return anthropic_plain(state, provider, route, body, spend).await;
    }
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    let (resp, spend) = spend
        .opened(openai::send(&state.client, provider, route.label(), bytes).await)
        .await?;
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    let tap = UsageTap::new(spend, stream);
    openai::relay_plain(resp, provider, stream, tap).await
}

/// A plain request for an Anthropic model: translated both ways; a stream's events
/// relayed as `chat.completion.chunk`s or Responses events as they come (an error
/// mid-stream ends it with an error event, as the tool loop's stream does).
async fn anthropic_plain(
    state: &AppState,
    provider: &Provider,
    route: LlmRoute,
    body: &Map<String, Value>,
    spend: RequestSpend,
) -> Result<Response<Body>, LlmError> {
    let body = Value::Object(body.clone());
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        let answer = providers::call_json(&state.client, provider, route.label(), &body).await;
        let status = if answer.is_ok() {
            "ok"
        } else {
            "upstream_error"
        };
        let usage = answer.as_ref().ok().and_then(|a| a.get("usage"));
        spend.record(usage, status).await;
        return Ok(body::json(StatusCode::OK, answer?.to_string()));
    }
    let opened = stream::sse::open(&state.client, provider, route.label(), &body, false).await;
    let (mut events, spend) = spend.opened(opened).await?;
    let mut tap = UsageTap::new(spend, true);
    Ok(stream::spawn(move |out| async move {
        let mut ok = true;
        loop {
            let data = match events.next().await {
                Ok(Some(data)) => data,
                Ok(None) => break,
                Err(e) => {
                    ok = false;
                    let _ = match route {
                        LlmRoute::Responses => {
                            let v = serde_json::json!({"type": "error", "code": e.kind,
                                "message": e.message, "param": null});
                            out.event("error", &v).await
                        }
                        _ => out.data(&e.body()).await,
                    };
                    break;
                }
            };
            // Responses events are framed with their `event:` line.
            let kind = (route == LlmRoute::Responses)
                .then(|| serde_json::from_str::<Value>(&data).ok())
                .flatten()
                .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string));
            let framed = match kind {
                Some(kind) => format!("event: {kind}\ndata: {data}\n\n"),
                None => format!("data: {data}\n\n"),
            };
            tap.feed(framed.as_bytes());
            if out.raw(framed).await.is_err() || data == "[DONE]" {
                break;
            }
        }
        tap.finish(ok).await;
    }))
}

/// `GET /v1/models`: the models of `model_list` this key may call, OpenAI's list shape.
fn models(llm: &super::LlmState, limited: &[String]) -> Response<Body> {
    let data: Vec<Value> = llm
        .providers
        .names()
        .filter(|m| allows_model(limited, m))
        .map(|m| {
            serde_json::json!({
                "id": m,
                "object": "model",
                "created": 1_677_610_602,
                "owned_by": "openai",
            })
        })
        .collect();
    body::json(
        StatusCode::OK,
        serde_json::json!({"object": "list", "data": data}).to_string(),
    )
}
