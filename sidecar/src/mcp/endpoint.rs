//! Streamable HTTP for clients: POST (JSON or SSE replies), GET (server stream), DELETE.

use bytes::Bytes;
use futures_util::future::join_all;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::Value;
use std::time::Duration;

use super::dispatch::{self, Ctx, Reply};
use super::session::SessionInfo;
use super::{supported_version, DEFAULT_VERSION};
use crate::body::{self, Body};
use crate::error::HttpError;
use crate::jsonrpc::{self, Message, RpcError, INVALID_REQUEST, PARSE_ERROR};
use crate::state::AppState;
use crate::verify::Principal;
use meshgate_policy::origin::origin_allowed;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
const KEEPALIVE: Duration = Duration::from_secs(15);

pub async fn handle(
    state: &AppState,
    principal: Principal,
    req: Request<Incoming>,
) -> Response<Body> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let allowed = &state.runtime().config.meshgate.allowed_origins;
        if !origin.to_str().is_ok_and(|o| origin_allowed(o, allowed)) {
            return HttpError::ForbiddenOrigin.into_response();
        }
    }
    let result = match *req.method() {
        Method::POST => post(state, principal, req).await,
        Method::GET => get(state, req.headers()),
        Method::DELETE => delete(state, req.headers()),
        _ => Err(HttpError::MethodNotAllowed),
    };
    result.unwrap_or_else(HttpError::into_response)
}

/// Reads and checks the session id; None when the client sent none.
fn session(state: &AppState, headers: &HeaderMap) -> Result<Option<SessionInfo>, HttpError> {
    match headers.get(SESSION_HEADER) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|t| state.sessions.open(t))
            .map(Some)
            .ok_or(HttpError::SessionNotFound),
    }
}

fn check_version_header(headers: &HeaderMap) -> Result<Option<&'static str>, HttpError> {
    match headers.get(VERSION_HEADER) {
        None => Ok(None),
        Some(v) => {
            let text = v.to_str().unwrap_or_default();
            supported_version(text)
                .map(Some)
                .ok_or_else(|| HttpError::UnsupportedVersion(text.chars().take(40).collect()))
        }
    }
}

fn wants_sse_only(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("text/event-stream")
        && !accept.contains("application/json")
        && !accept.contains("*/*")
}

async fn post(
    state: &AppState,
    principal: Principal,
    req: Request<Incoming>,
) -> Result<Response<Body>, HttpError> {
    let runtime = state.runtime();
    let (mut parts, incoming) = req.into_parts();
    let header_version = check_version_header(&parts.headers)?;
    let limit = runtime.config.meshgate.max_body_bytes;
    let bytes = Limited::new(incoming, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                HttpError::BodyTooLarge(limit)
            } else {
                HttpError::BadRequest("the request body could not be read".into())
            }
        })?
        .to_bytes();
    let sse = wants_sse_only(&parts.headers);

    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        let session = session(state, &parts.headers)?;
        let version = session
            .as_ref()
            .map(|s| s.protocol_version)
            .or(header_version)
            .unwrap_or(DEFAULT_VERSION);
        if version != "2025-03-26" {
            return Ok(rpc_error_reply(
                StatusCode::BAD_REQUEST,
                RpcError::new(
                    INVALID_REQUEST,
                    format!("JSON-RPC batches are not allowed in protocol {version}"),
                ),
            ));
        }
        let ctx = Ctx {
            state,
            runtime,
            principal,
            client_headers: std::mem::take(&mut parts.headers),
        };
        return batch(&ctx, &bytes, sse).await;
    }

    let msg: Message = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            return Ok(rpc_error_reply(
                StatusCode::BAD_REQUEST,
                RpcError::new(PARSE_ERROR, format!("Parse error: {e}")),
            ))
        }
    };
    if let Some(err) = invalid(&msg) {
        return Ok(rpc_error_reply(StatusCode::BAD_REQUEST, err));
    }
    let is_initialize = msg.method.as_deref() == Some("initialize");
    if !is_initialize {
        // Validated although nothing is read from it yet: a foreign or tampered id
        // is a 404, as the spec asks.
        session(state, &parts.headers)?;
    }
    let (Some(id), Some(method)) = (msg.id.clone(), msg.method.clone()) else {
        // Notifications and responses are accepted without a body.
        return Ok(accepted());
    };
    let ctx = Ctx {
        state,
        runtime,
        principal,
        client_headers: std::mem::take(&mut parts.headers),
    };
    let reply = dispatch::request(&ctx, &method, msg.params).await;
    let body_bytes = dispatch::frame(&id, &reply);
    let mut resp = if sse {
        sse_single(body_bytes)
    } else {
        body::json(StatusCode::OK, body_bytes)
    };
    if let Reply::Initialized(_, Some(session_id)) = &reply {
        if let Ok(v) = HeaderValue::from_str(session_id) {
            resp.headers_mut().insert(SESSION_HEADER, v);
        }
    }
    Ok(resp)
}

async fn batch(ctx: &Ctx<'_>, bytes: &[u8], sse: bool) -> Result<Response<Body>, HttpError> {
    let items: Vec<Value> = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return Ok(rpc_error_reply(
                StatusCode::BAD_REQUEST,
                RpcError::new(PARSE_ERROR, format!("Parse error: {e}")),
            ))
        }
    };
    if items.is_empty() {
        return Ok(rpc_error_reply(
            StatusCode::BAD_REQUEST,
            RpcError::new(INVALID_REQUEST, "empty batch"),
        ));
    }
    let replies = join_all(items.into_iter().map(|item| async move {
        let msg: Message = match serde_json::from_value(item) {
            Ok(m) => m,
            Err(e) => {
                return Some(jsonrpc::error_response(
                    None,
                    &RpcError::new(INVALID_REQUEST, e.to_string()).to_value(),
                ))
            }
        };
        if let Some(err) = invalid(&msg) {
            return Some(jsonrpc::error_response(msg.id.as_ref(), &err.to_value()));
        }
        let (Some(id), Some(method)) = (msg.id, msg.method) else {
            return None;
        };
        if method == "initialize" {
            let err = RpcError::new(INVALID_REQUEST, "initialize cannot be batched");
            return Some(jsonrpc::error_response(Some(&id), &err.to_value()));
        }
        let reply = dispatch::request(ctx, &method, msg.params).await;
        Some(dispatch::frame(&id, &reply))
    }))
    .await;
    let replies: Vec<Vec<u8>> = replies.into_iter().flatten().collect();
    if replies.is_empty() {
        return Ok(accepted());
    }
    let mut out = b"[".to_vec();
    out.extend_from_slice(&replies.join(&b","[..]));
    out.push(b']');
    Ok(if sse {
        sse_single(out)
    } else {
        body::json(StatusCode::OK, out)
    })
}

fn invalid(msg: &Message) -> Option<RpcError> {
    if msg.jsonrpc.as_deref() != Some("2.0") {
        return Some(RpcError::new(
            INVALID_REQUEST,
            "Invalid Request: `jsonrpc` must be \"2.0\"",
        ));
    }
    if msg.method.is_none() && !msg.is_response() {
        return Some(RpcError::new(
            INVALID_REQUEST,
            "Invalid Request: no `method`",
        ));
    }
    None
}

fn get(state: &AppState, headers: &HeaderMap) -> Result<Response<Body>, HttpError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !accept.contains("text/event-stream") {
        return Err(HttpError::NotAcceptable(
            "GET needs `Accept: text/event-stream`",
        ));
    }
    if session(state, headers)?.is_none() {
        return Err(HttpError::BadRequest(
            "GET needs the Mcp-Session-Id header from initialize".into(),
        ));
    }
    let (tx, body) = body::channel(8);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(KEEPALIVE);
        tick.tick().await;
        loop {
            tick.tick().await;
            if tx
                .send(Bytes::from_static(b": keepalive\n\n"))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    Ok(body::sse_response(body))
}

fn delete(state: &AppState, headers: &HeaderMap) -> Result<Response<Body>, HttpError> {
    match session(state, headers)? {
        Some(_) => Ok(body::json(StatusCode::OK, "{}")),
        None => Err(HttpError::BadRequest(
            "DELETE needs the Mcp-Session-Id header".into(),
        )),
    }
}

fn accepted() -> Response<Body> {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}

fn sse_single(json: Vec<u8>) -> Response<Body> {
    body::sse_response(body::full(crate::sse::encode_message(&json)))
}

fn rpc_error_reply(status: StatusCode, err: RpcError) -> Response<Body> {
    body::json(status, jsonrpc::error_response(None, &err.to_value()))
}
