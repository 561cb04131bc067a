//! Streamable HTTP (2025-06-18 / 2025-11-25) on `/mcp`: POST carries one JSON-RPC message
//! and is answered with JSON, or with an SSE stream when the request sends messages of
//! its own before its result; GET opens the session's stream for unrelated server
//! messages; DELETE ends the session. Host/Origin must be loopback (DNS rebinding).

use super::body::{self, Resp};
use super::call::Call;
use super::methods;
use super::session::Session;
use super::tools::{self, Plan};
use super::{origin, response, Fixture, PROTOCOL_VERSIONS};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{HeaderMap, Method, Request, StatusCode};
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const MAX_BODY: usize = 4 * 1024 * 1024;
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub async fn handle(fx: Arc<Fixture>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    Ok(route(fx, req).await)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn accepts(headers: &HeaderMap, media: &str) -> bool {
    match header(headers, "accept") {
        None => true,
        Some(a) => a.contains(media) || a.contains("*/*"),
    }
}

async fn route(fx: Arc<Fixture>, req: Request<Incoming>) -> Resp {
    if req.uri().path() != "/mcp" {
        return body::rpc_error(
            StatusCode::NOT_FOUND,
            -32000,
            "Not found: the MCP endpoint is /mcp",
        );
    }
    let host = header(req.headers(), "host")
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    if !origin::host_allowed(host.as_deref())
        || !origin::origin_allowed(header(req.headers(), "origin"))
    {
        return body::rpc_error(
            StatusCode::FORBIDDEN,
            -32000,
            "Forbidden: Host and Origin must name a loopback address",
        );
    }
    match *req.method() {
        Method::POST => post(fx, req).await,
        Method::GET => get(&fx, req.headers()),
        Method::DELETE => delete(&fx, req.headers()),
        _ => {
            let mut r =
                body::rpc_error(StatusCode::METHOD_NOT_ALLOWED, -32000, "Method not allowed");
            r.headers_mut()
                .insert("allow", HeaderValue::from_static("GET, POST, DELETE"));
            r
        }
    }
}

/// Why a request names no usable session.
pub struct NoSession(StatusCode, i64, &'static str);

impl NoSession {
    fn into_response(self) -> Resp {
        body::rpc_error(self.0, self.1, self.2)
    }
}

/// The session named by `Mcp-Session-Id`: 400 without the header, 404 when unknown.
fn session_of(fx: &Fixture, headers: &HeaderMap) -> Result<Arc<Session>, NoSession> {
    let Some(id) = header(headers, "mcp-session-id") else {
        return Err(NoSession(
            StatusCode::BAD_REQUEST,
            -32000,
            "Bad Request: Mcp-Session-Id header is required",
        ));
    };
    fx.sessions.get(id).ok_or(NoSession(
        StatusCode::NOT_FOUND,
        -32001,
        "Session not found",
    ))
}

async fn post(fx: Arc<Fixture>, req: Request<Incoming>) -> Resp {
    let headers = req.headers().clone();
    if !(accepts(&headers, "application/json") && accepts(&headers, "text/event-stream")) {
        return body::rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            -32000,
            "Not Acceptable: the client must accept application/json and text/event-stream",
        );
    }
    if !header(&headers, "content-type").is_some_and(|c| c.contains("application/json")) {
        return body::rpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            -32000,
            "Unsupported Media Type: Content-Type must be application/json",
        );
    }
    if let Some(v) = header(&headers, "mcp-protocol-version") {
        if !PROTOCOL_VERSIONS.contains(&v) {
            return body::rpc_error(
                StatusCode::BAD_REQUEST,
                -32000,
                &format!("Bad Request: unsupported MCP-Protocol-Version {v}"),
            );
        }
    }
    let bytes = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return body::rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32000,
                "Request body too large",
            )
        }
    };
    let msg: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => return body::rpc_error(StatusCode::BAD_REQUEST, -32700, "Parse error"),
    };
    if msg.is_array() {
        return body::rpc_error(
            StatusCode::BAD_REQUEST,
            -32600,
            "Invalid Request: JSON-RPC batches are not supported (removed in 2025-06-18)",
        );
    }
    if msg.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return body::rpc_error(StatusCode::BAD_REQUEST, -32600, "Invalid Request");
    }
    let method = msg
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_string);
    let id = msg.get("id").cloned();
    let params = msg.get("params").cloned().unwrap_or(Value::Null);

    if let (Some("initialize"), Some(id)) = (method.as_deref(), &id) {
        return initialize(&fx, id, &params);
    }
    let session = match session_of(&fx, &headers) {
        Ok(s) => s,
        Err(refusal) => return refusal.into_response(),
    };
    match (method, id) {
        // A response to one of our requests (sampling, elicitation).
        (None, Some(_)) => {
            session.deliver(msg);
            body::empty(StatusCode::ACCEPTED)
        }
        // A notification (initialized, cancelled, roots/list_changed…).
        (Some(_), None) => body::empty(StatusCode::ACCEPTED),
        (Some(method), Some(id)) => match methods::dispatch(&fx, &session, &method, &params) {
            Plan::Now(outcome) => body::json(StatusCode::OK, &response(&id, &outcome)),
            Plan::Stream(streamed) => {
                let (tx, rx) = mpsc::channel(32);
                let call = Call {
                    session,
                    tx,
                    progress_token: params.pointer("/_meta/progressToken").cloned(),
                    client_timeout: fx.client_timeout,
                };
                tokio::spawn(async move {
                    let outcome = tools::run(streamed, &call).await;
                    let _ = call.send(&response(&id, &outcome)).await;
                });
                body::sse(rx)
            }
        },
        (None, None) => body::rpc_error(StatusCode::BAD_REQUEST, -32600, "Invalid Request"),
    }
}

fn initialize(fx: &Fixture, id: &Value, params: &Value) -> Resp {
    let version = methods::negotiate(params);
    let capabilities = params
        .get("capabilities")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    let session = fx.sessions.create(version, capabilities);
    let result = methods::initialize_result(fx, version);
    let mut resp = body::json(StatusCode::OK, &response(id, &Ok(result)));
    if let Ok(v) = HeaderValue::from_str(&session.id) {
        resp.headers_mut().insert("mcp-session-id", v);
    }
    resp
}

fn get(fx: &Fixture, headers: &HeaderMap) -> Resp {
    if !header(headers, "accept").is_some_and(|a| a.contains("text/event-stream")) {
        return body::rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            -32000,
            "Not Acceptable: the client must accept text/event-stream",
        );
    }
    let session = match session_of(fx, headers) {
        Ok(s) => s,
        Err(refusal) => return refusal.into_response(),
    };
    let (tx, rx) = mpsc::channel(32);
    if !session.open_get_stream(tx.clone()) {
        return body::rpc_error(
            StatusCode::CONFLICT,
            -32000,
            "Conflict: the session's GET stream is already open",
        );
    }
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(KEEP_ALIVE).await;
            if tx
                .send(Bytes::from_static(b": keep-alive\n\n"))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    body::sse(rx)
}

fn delete(fx: &Fixture, headers: &HeaderMap) -> Resp {
    match session_of(fx, headers) {
        Ok(session) => {
            fx.sessions.remove(&session.id);
            body::empty(StatusCode::OK)
        }
        Err(refusal) => refusal.into_response(),
    }
}
