//! The legacy HTTP+SSE transport (2024-11-05) for old clients: `GET /sse` (or
//! LiteLLM's `/mcp/sse`) opens a stream whose first event names the POST endpoint;
//! each message POSTed there is accepted (202) at once and answered on the stream,
//! along with whatever the upstreams relay meanwhile (the client answers relayed
//! requests with further POSTs, so nothing may wait for the result).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::audit_notes::Notes;
use super::context::{frame, Ctx};
use super::dispatch;
use super::DEFAULT_VERSION;
use crate::body::{self, Body};
use crate::error::HttpError;
use crate::jsonrpc::{self, Frame, RpcError};
use crate::relay::{ClientCaps, Exchange, StreamLimits};
use crate::sessions::id::{ClientSession, SessionInfo};
use crate::sessions::legacy_streams::LegacyStream;
use crate::sse::encode_message;
use crate::state::AppState;
use crate::verify::Principal;

const KEEPALIVE: Duration = Duration::from_secs(15);

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
    let hub = Arc::clone(&state.hub);
    let limits = StreamLimits::of(&state.runtime().config.meshgate);
    let opened = hub.open_stream(&id, &principal.name, principal.scope.clone(), limits);
    let (stream_id, mut unsolicited) = match opened {
        Ok(o) => o,
        Err(e) => return HttpError::from(e).into_response(),
    };
    let (tx, body) = body::channel(64);
    let first = Bytes::from(format!(
        "event: endpoint\ndata: {endpoint}?sessionId={id}\n\n"
    ));
    if tx.try_send(first).is_err() {
        hub.close_stream(stream_id);
        return HttpError::BadRequest("stream could not start".into()).into_response();
    }
    // The transport has no session id to expire: the stream itself is the session,
    // ended after `meshgate.session_max_lifetime_ms` like any other.
    let lifetime = Duration::from_millis(state.runtime().config.meshgate.session_max_lifetime_ms);
    let stream = LegacyStream {
        principal,
        tx: tx.clone(),
        caps: AtomicU8::new(0),
    };
    state.legacy.insert(&id, stream);
    let sessions = Arc::clone(&state.legacy);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(KEEPALIVE);
        tick.tick().await;
        let ends = tokio::time::sleep(lifetime);
        tokio::pin!(ends);
        loop {
            let next = tokio::select! {
                m = unsolicited.recv() => match m {
                    Some(m) => m,
                    None => break,
                },
                _ = tick.tick() => Bytes::from_static(b": keepalive\n\n"),
                _ = tx.closed() => break,
                _ = &mut ends => break,
            };
            if tx.send(next).await.is_err() {
                break;
            }
        }
        hub.close_stream(stream_id);
        hub.end_session(&id);
        sessions.remove(&id);
    });
    body::sse_response(body)
}

pub async fn post_message(
    state: &Arc<AppState>,
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
    let Some(stream) = state.legacy.get(&session_id) else {
        return HttpError::SessionNotFound.into_response();
    };
    if stream.principal.name != principal.name {
        // Another principal's session does not exist for this one (as for a foreign id).
        return HttpError::SessionNotFound.into_response();
    }
    let runtime = state.runtime();
    let limit = runtime.config.meshgate.max_body_bytes;
    let (parts, incoming) = req.into_parts();
    let bytes = match crate::limited_body::read(incoming, limit).await {
        Ok(b) => b,
        Err(crate::limited_body::BodyError::TooLarge(limit)) => {
            return HttpError::BodyTooLarge(limit).into_response()
        }
        Err(crate::limited_body::BodyError::Unreadable) => {
            return HttpError::BadRequest("the request body could not be read".into())
                .into_response()
        }
    };
    let msg = match jsonrpc::parse_frame(&bytes) {
        Ok(Frame::One(msg)) => msg,
        Ok(Frame::Batch(_)) => {
            let err = RpcError::invalid_request(
                "Invalid Request: the HTTP+SSE transport takes one message per POST, not a batch",
            );
            return body::json(StatusCode::BAD_REQUEST, err.to_response(None));
        }
        Err(refusal) => return body::json(StatusCode::BAD_REQUEST, refusal.to_bytes()),
    };
    // The answer travels on the stream, so the 202 is what names the call to the audit.
    let notes = Notes::of(&msg, runtime.config.meshgate.audit_arguments);
    let caps = ClientCaps(stream.caps.load(Ordering::Relaxed));
    let session = ClientSession {
        token: session_id,
        info: SessionInfo {
            protocol_version: DEFAULT_VERSION,
            issued_at: 0,
            principal: crate::sessions::id::principal_tag(&principal.name),
            caps,
            upstreams: Vec::new(),
        },
    };
    match (msg.id.clone(), msg.method.clone()) {
        (Some(id), Some(method)) => {
            if method == "initialize" {
                let declared = msg.params.as_ref().and_then(|p| p.get("capabilities"));
                stream
                    .caps
                    .store(ClientCaps::from_json(declared).0, Ordering::Relaxed);
            }
            let (exchange, rx) = Exchange::new(caps, true);
            let tracked = state.hub.track(&session.token, &id, &exchange);
            // The answer goes on the stream after whatever was relayed meanwhile; the
            // scope and the client credentials are this POST's.
            let state = Arc::clone(state);
            tokio::spawn(async move {
                let ctx = Ctx::new(&state, runtime, principal, parts.headers)
                    .with_session(Some(session))
                    .with_exchange(Some(exchange));
                let Some(mut rx) = rx else { return };
                let send = |m: &[u8]| stream.tx.send(Bytes::from(encode_message(m)));
                let dispatched = dispatch::request(&ctx, &method, msg.params);
                tokio::pin!(dispatched);
                let reply = loop {
                    tokio::select! {
                        biased;
                        Some(m) = rx.recv() => {
                            let _ = send(&m).await;
                        }
                        reply = &mut dispatched => break reply,
                    }
                };
                while let Ok(m) = rx.try_recv() {
                    let _ = send(&m).await;
                }
                drop(tracked);
                let _ = send(&frame(&id, &reply)).await;
            });
        }
        (None, Some(method)) => {
            if method == "notifications/cancelled" {
                if let Some(id) = msg.params.as_ref().and_then(|p| p.get("requestId")) {
                    state.hub.cancel(&session.token, id);
                }
            }
        }
        _ => {
            state.hub.client_answered(msg);
        }
    }
    let mut resp = Response::new(body::full("Accepted"));
    *resp.status_mut() = StatusCode::ACCEPTED;
    notes.set(resp)
}
