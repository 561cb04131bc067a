//! The legacy HTTP+SSE transport (2024-11-05) for old clients: `GET /sse` (or
//! LiteLLM's `/mcp/sse`) opens a stream whose first event names the POST endpoint;
//! each message POSTed there is accepted (202) and answered on the stream.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

use super::dispatch::{self, Ctx};
use crate::body::{self, Body};
use crate::error::HttpError;
use crate::jsonrpc::{self, Message, RpcError, INVALID_REQUEST, PARSE_ERROR};
use crate::sse::encode_message;
use crate::state::AppState;
use crate::verify::Principal;

const KEEPALIVE: Duration = Duration::from_secs(15);

/// Open legacy streams on this sidecar, by session id.
#[derive(Default)]
pub struct LegacySessions {
    open: Mutex<HashMap<String, (Principal, mpsc::Sender<Bytes>)>>,
}

pub fn is_stream_path(path: &str) -> bool {
    path == "/sse" || path == "/mcp/sse"
}

pub fn is_message_path(path: &str) -> bool {
    path == "/messages" || path == "/mcp/sse/messages"
}

pub fn open_stream(state: &AppState, principal: Principal, path: &str) -> Response<Body> {
    let mut raw = [0u8; 16];
    if getrandom::getrandom(&mut raw).is_err() {
        return HttpError::BadRequest("no randomness for a session id".into()).into_response();
    }
    let id = hex::encode(raw);
    let endpoint = if path == "/mcp/sse" {
        "/mcp/sse/messages"
    } else {
        "/messages"
    };
    let (tx, body) = body::channel(64);
    let first = Bytes::from(format!(
        "event: endpoint\ndata: {endpoint}?sessionId={id}\n\n"
    ));
    if tx.try_send(first).is_err() {
        return HttpError::BadRequest("stream could not start".into()).into_response();
    }
    if let Ok(mut open) = state.legacy.open.lock() {
        open.insert(id.clone(), (principal, tx.clone()));
    }
    let sessions = Arc::clone(&state.legacy);
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
                break;
            }
        }
        if let Ok(mut open) = sessions.open.lock() {
            open.remove(&id);
        }
    });
    body::sse_response(body)
}

pub async fn post_message(
    state: &AppState,
    principal: Principal,
    req: Request<Incoming>,
) -> Response<Body> {
    let session_id = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("sessionId=")))
        .map(str::to_string);
    let Some(session_id) = session_id else {
        return HttpError::BadRequest("the message endpoint needs `?sessionId=`".into())
            .into_response();
    };
    let stream = state
        .legacy
        .open
        .lock()
        .ok()
        .and_then(|open| open.get(&session_id).cloned());
    let Some((owner, tx)) = stream else {
        return HttpError::SessionNotFound.into_response();
    };
    if owner.name != principal.name {
        return body::json_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this session belongs to another key",
        );
    }
    let runtime = state.runtime();
    let limit = runtime.config.meshgate.max_body_bytes;
    let (parts, incoming) = req.into_parts();
    let bytes = match Limited::new(incoming, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return HttpError::BodyTooLarge(limit).into_response(),
    };
    let msg: Message = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            let err = RpcError::new(PARSE_ERROR, format!("Parse error: {e}"));
            return body::json(
                StatusCode::BAD_REQUEST,
                jsonrpc::error_response(None, &err.to_value()),
            );
        }
    };
    if msg.jsonrpc.as_deref() != Some("2.0") {
        let err = RpcError::new(
            INVALID_REQUEST,
            "Invalid Request: `jsonrpc` must be \"2.0\"",
        );
        return body::json(
            StatusCode::BAD_REQUEST,
            jsonrpc::error_response(msg.id.as_ref(), &err.to_value()),
        );
    }
    if let (Some(id), Some(method)) = (msg.id.clone(), msg.method.clone()) {
        // The answer goes on the stream (the POST returns once it is there); the scope and
        // the client credentials are this POST's.
        let ctx = Ctx {
            state,
            runtime,
            principal,
            client_headers: parts.headers,
        };
        let reply = dispatch::request(&ctx, &method, msg.params).await;
        let framed = Bytes::from(encode_message(&dispatch::frame(&id, &reply)));
        if tx.send(framed).await.is_err() {
            return HttpError::SessionNotFound.into_response();
        }
    }
    let mut resp = Response::new(body::full("Accepted"));
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}
