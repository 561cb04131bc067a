//! Streamable HTTP for clients: POST (JSON or SSE replies), GET (server stream), DELETE.

use bytes::Bytes;
use futures_util::future::join_all;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use super::audit_notes::Notes;
use super::context::{frame, Answer, Ctx};
use super::dispatch;
use super::{stateless, supported_version, DEFAULT_VERSION};
use crate::body::{self, Body};
use crate::error::HttpError;
use crate::jsonrpc::{self, Frame, Id, RpcError};
use crate::limited_body::{self, BodyError};
use crate::relay::{Exchange, StreamLimits};
use crate::sessions::id::ClientSession;
use crate::sessions::life::Lifetimes;
use crate::sse::encode_message;
use crate::state::AppState;
use crate::verify::Principal;
use meshgate_policy::origin::origin_allowed;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Methods answered by an upstream that may send the client notifications or requests
/// before the result: these run with a client stream to relay them on.
const RELAYED: &[&str] = &[
    "tools/call",
    "prompts/get",
    "resources/read",
    "completion/complete",
];

pub async fn handle(
    state: &Arc<AppState>,
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
        Method::GET | Method::DELETE if stateless::header_is_stateless(req.headers()) => {
            return stateless::method_not_allowed()
        }
        Method::POST => post(state, principal, req).await,
        Method::GET => get(state, &principal, req.headers()),
        Method::DELETE => delete(state, &principal, req.headers()).await,
        _ => Err(HttpError::MethodNotAllowed),
    };
    result.unwrap_or_else(HttpError::into_response)
}

/// Reads and checks the session id; None when the client sent none. An id of another
/// principal, ended, expired or idle too long is a 404, like a foreign one.
fn session(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
) -> Result<Option<ClientSession>, HttpError> {
    let Some(value) = headers.get(SESSION_HEADER) else {
        return Ok(None);
    };
    let token = value.to_str().map_err(|_| HttpError::SessionNotFound)?;
    let info = state
        .sessions
        .open(token, &principal.name)
        .ok_or(HttpError::SessionNotFound)?;
    let lifetimes = Lifetimes::of(&state.runtime.load().config.meshgate);
    if !state.session_life.admit(token, &info, lifetimes) {
        return Err(HttpError::SessionNotFound);
    }
    Ok(Some(ClientSession {
        token: token.to_string(),
        info,
    }))
}

fn check_version_header(headers: &HeaderMap) -> Result<Option<&'static str>, HttpError> {
    match headers.get(VERSION_HEADER) {
        None => Ok(None),
        Some(v) => {
            let text = v.to_str().unwrap_or_default();
            supported_version(text)
                .or_else(|| stateless::is_stateless(text).then_some(stateless::VERSION))
                .map(Some)
                .ok_or_else(|| HttpError::UnsupportedVersion(text.chars().take(40).collect()))
        }
    }
}

fn accepts_sse(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"))
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
    state: &Arc<AppState>,
    principal: Principal,
    req: Request<Incoming>,
) -> Result<Response<Body>, HttpError> {
    let runtime = state.runtime();
    let (mut parts, incoming) = req.into_parts();
    let header_version = check_version_header(&parts.headers)?;
    let limit = runtime.config.meshgate.max_body_bytes;
    let bytes = read_body(incoming, limit).await?;
    let sse = wants_sse_only(&parts.headers);

    let msg = match jsonrpc::parse_frame(&bytes) {
        Err(refusal) => return Ok(refused(StatusCode::BAD_REQUEST, &refusal)),
        Ok(Frame::One(msg)) => msg,
        Ok(Frame::Batch(items)) => {
            let session = session(state, &principal, &parts.headers)?;
            let version = session
                .as_ref()
                .map(|s| s.info.protocol_version)
                .or(header_version)
                .unwrap_or(DEFAULT_VERSION);
            if let Err(resp) = check_accept(version, &parts.headers, None) {
                return Ok(*resp);
            }
            if version != "2025-03-26" {
                return Ok(rpc_error_reply(
                    StatusCode::BAD_REQUEST,
                    RpcError::invalid_request(format!("Invalid Request: JSON-RPC batches are not allowed in protocol {version} (MCP removed them in 2025-06-18); send one message per POST"),
                    ),
                ));
            }
            let max = runtime.config.meshgate.max_batch_size;
            if items.len() > max {
                return Ok(rpc_error_reply(
                    StatusCode::BAD_REQUEST,
                    RpcError::invalid_request(format!(
                            "Invalid Request: a batch of {} messages is more than meshgate.max_batch_size ({max})",
                            items.len()
                        ),
                    ),
                ));
            }
            let ctx = Ctx::new(
                state,
                runtime,
                principal,
                std::mem::take(&mut parts.headers),
            )
            .with_session(session);
            let notes = Notes::of_batch(&items, ctx.runtime.config.meshgate.audit_arguments);
            return batch(&ctx, items, sse).await.map(|resp| notes.set(resp));
        }
    };
    let notes = Notes::of(&msg, runtime.config.meshgate.audit_arguments);
    let resp = post_one(state, runtime, principal, parts, msg, header_version, sse).await;
    resp.map(|resp| notes.set(resp))
}

/// One JSON-RPC message (not a batch).
async fn post_one(
    state: &Arc<AppState>,
    runtime: Arc<crate::state::Runtime>,
    principal: Principal,
    mut parts: http::request::Parts,
    msg: jsonrpc::Message,
    header_version: Option<&'static str>,
    sse: bool,
) -> Result<Response<Body>, HttpError> {
    if stateless::declares_stateless(header_version, &msg) {
        let headers = std::mem::take(&mut parts.headers);
        return Ok(stateless::serve(state, runtime, principal, headers, msg, header_version).await);
    }
    if let Some(method) = msg.method.as_deref() {
        let (id, params) = (msg.id.as_ref(), msg.params.as_ref());
        if let Err(resp) = stateless::check_headers(&parts.headers, id, method, params, false) {
            return Ok(*resp);
        }
    }
    let session = if msg.method.as_deref() == Some("initialize") {
        None
    } else {
        // A foreign or tampered id is a 404, as the spec asks.
        session(state, &principal, &parts.headers)?
    };
    let version = session
        .as_ref()
        .map(|s| s.info.protocol_version)
        .or(header_version);
    if let Some(version) = version {
        if let Err(resp) = check_accept(version, &parts.headers, msg.id.as_ref()) {
            return Ok(*resp);
        }
    }
    let (id, method) = match (msg.id.clone(), msg.method.clone()) {
        (Some(id), Some(method)) => (id, method),
        (None, Some(method)) => {
            client_notification(state, session.as_ref(), &method, msg.params.as_ref());
            if method == "notifications/roots/list_changed" {
                // The upstream sessions this client uses ask for its roots again.
                let state = Arc::clone(state);
                let headers = std::mem::take(&mut parts.headers);
                tokio::spawn(async move {
                    let ctx = Ctx::new(&state, runtime, principal, headers).with_session(session);
                    let call = ctx.call_context();
                    for upstream in ctx.allowed() {
                        upstream.notify(&method, msg.params.as_ref(), &call);
                    }
                });
            }
            return Ok(accepted());
        }
        _ => {
            // A response: the answer to a request relayed from an upstream.
            state.hub.client_answered(msg);
            return Ok(accepted());
        }
    };
    let client_headers = std::mem::take(&mut parts.headers);
    let streaming = accepts_sse(&client_headers) && RELAYED.contains(&method.as_str());
    if !streaming {
        let ctx = Ctx::new(state, runtime, principal, client_headers).with_session(session);
        let reply = dispatch::request(&ctx, &method, msg.params).await;
        let body_bytes = frame(&id, &reply);
        let mut resp = if sse {
            sse_single(body_bytes)
        } else {
            body::json(StatusCode::OK, body_bytes)
        };
        if let Ok(Answer::Initialized(_, Some(session_id))) = &reply {
            if let Ok(v) = HeaderValue::from_str(session_id) {
                resp.headers_mut().insert(SESSION_HEADER, v);
            }
        }
        return Ok(resp);
    }
    let caps = session.as_ref().map(|s| s.info.caps).unwrap_or_default();
    let (exchange, rx) = Exchange::new(caps, true);
    let tracked = session
        .as_ref()
        .and_then(|s| state.hub.track(&s.token, &id, &exchange));
    // Polled here while the answer may still be plain JSON; moved to a task of its own
    // only if the response turns into a stream.
    let state = Arc::clone(state);
    let work: Work = Box::pin(async move {
        let ctx = Ctx::new(&state, runtime, principal, client_headers)
            .with_session(session)
            .with_exchange(Some(exchange));
        let reply = dispatch::request(&ctx, &method, msg.params).await;
        drop(tracked);
        frame(&id, &reply)
    });
    Ok(match rx {
        Some(rx) => respond(rx, work, sse).await,
        None => single(work.await, sse),
    })
}

/// A request's dispatch, owning everything it needs, yielding the framed answer.
type Work = std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send>>;

/// Notifications from the client: cancellations reach the upstream request; the
/// rest needs nothing from the gateway.
fn client_notification(
    state: &AppState,
    session: Option<&ClientSession>,
    method: &str,
    params: Option<&Value>,
) {
    if method == "notifications/cancelled" {
        if let (Some(s), Some(id)) = (session, params.and_then(|p| p.get("requestId"))) {
            state.hub.cancel(&s.token, id);
        }
    }
}

fn single(framed: Vec<u8>, sse: bool) -> Response<Body> {
    if sse {
        sse_single(framed)
    } else {
        body::json(StatusCode::OK, framed)
    }
}

/// Answers with plain JSON when the result comes before anything else; switches to an
/// event stream as soon as there is a message to relay first, so the fast path stays
/// a single JSON body and relayed messages are never held back.
async fn respond(
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    mut work: Work,
    sse: bool,
) -> Response<Body> {
    let first = tokio::select! {
        biased;
        framed = &mut work => {
            let mut queued = Vec::new();
            while let Ok(m) = rx.try_recv() {
                queued.extend_from_slice(&encode_message(&m));
            }
            if queued.is_empty() {
                return single(framed, sse);
            }
            queued.extend_from_slice(&encode_message(&framed));
            return body::sse_response(body::full(queued));
        }
        m = rx.recv() => m,
    };
    let (done_tx, mut done) = oneshot::channel();
    tokio::spawn(async move {
        let _ = done_tx.send(work.await);
    });
    let (tx, body) = body::channel(64);
    tokio::spawn(async move {
        if let Some(m) = first {
            if tx.send(Bytes::from(encode_message(&m))).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                biased;
                m = rx.recv() => match m {
                    Some(m) => {
                        if tx.send(Bytes::from(encode_message(&m))).await.is_err() {
                            return;
                        }
                    }
                    None => {
                        let framed = (&mut done).await.unwrap_or_else(|_| lost_reply());
                        let _ = tx.send(Bytes::from(encode_message(&framed))).await;
                        return;
                    }
                },
                framed = &mut done => {
                    while let Ok(m) = rx.try_recv() {
                        if tx.send(Bytes::from(encode_message(&m))).await.is_err() {
                            return;
                        }
                    }
                    let framed = framed.unwrap_or_else(|_| lost_reply());
                    let _ = tx.send(Bytes::from(encode_message(&framed))).await;
                    return;
                }
            }
        }
    });
    body::sse_response(body)
}

fn lost_reply() -> Vec<u8> {
    RpcError::internal("the request ended without a reply").to_response(None)
}

async fn batch(
    ctx: &Ctx<'_>,
    items: Vec<Box<serde_json::value::RawValue>>,
    sse: bool,
) -> Result<Response<Body>, HttpError> {
    if items.is_empty() {
        return Ok(rpc_error_reply(
            StatusCode::BAD_REQUEST,
            RpcError::invalid_request("Invalid Request: empty batch"),
        ));
    }
    let replies = join_all(items.into_iter().map(|item| async move {
        let msg = match jsonrpc::parse_message(item.get()) {
            Ok(m) => m,
            Err(refusal) => return Some(refusal.to_bytes()),
        };
        let Some(method) = msg.method else {
            // A response: the answer to a request relayed from an upstream.
            ctx.state.hub.client_answered(msg);
            return None;
        };
        let Some(id) = msg.id else {
            client_notification(
                ctx.state,
                ctx.session.as_ref(),
                &method,
                msg.params.as_ref(),
            );
            return None;
        };
        if method == "initialize" {
            let err = RpcError::invalid_request("Invalid Request: initialize cannot be batched");
            return Some(err.to_response(Some(&id)));
        }
        let reply = dispatch::request(ctx, &method, msg.params).await;
        Some(frame(&id, &reply))
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

/// Reads the body within `meshgate.max_body_bytes` (an over-limit one is drained
/// first, so the 413 reaches the client).
async fn read_body(incoming: Incoming, limit: usize) -> Result<Bytes, HttpError> {
    limited_body::read(incoming, limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(limit) => HttpError::BodyTooLarge(limit),
            BodyError::Unreadable => {
                HttpError::BadRequest("the request body could not be read".into())
            }
        })
}

/// Whether an `Accept` header lists a media type (or a wildcard covering it).
fn accepts(headers: &HeaderMap, media: &str) -> bool {
    let family = media.split('/').next().unwrap_or_default();
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|m| m.split(';').next().unwrap_or_default().trim())
        .any(|m| {
            m.eq_ignore_ascii_case(media)
                || m == "*/*"
                || m.strip_suffix("/*")
                    .is_some_and(|f| f.eq_ignore_ascii_case(family))
        })
}

/// From 2025-06-18 on, every POST must accept both answers the server may give (the
/// spec's MUST; LiteLLM answers 406 too): 406 with a JSON-RPC error otherwise.
fn check_accept(
    version: &str,
    headers: &HeaderMap,
    id: Option<&Id>,
) -> Result<(), Box<Response<Body>>> {
    if version < "2025-06-18" || stateless::is_stateless(version) {
        return Ok(());
    }
    if accepts(headers, "application/json") && accepts(headers, "text/event-stream") {
        return Ok(());
    }
    let err = RpcError::invalid_request(format!("Not Acceptable: in MCP {version} a POST must send `Accept: application/json, text/event-stream`"),
    );
    Err(Box::new(body::json(
        StatusCode::NOT_ACCEPTABLE,
        err.to_response(id),
    )))
}

fn get(
    state: &Arc<AppState>,
    principal: &Principal,
    headers: &HeaderMap,
) -> Result<Response<Body>, HttpError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !accept.contains("text/event-stream") {
        return Err(HttpError::NotAcceptable(
            "GET needs `Accept: text/event-stream`",
        ));
    }
    let Some(session) = session(state, principal, headers)? else {
        return Err(HttpError::BadRequest(
            "GET needs the Mcp-Session-Id header from initialize".into(),
        ));
    };
    let hub = Arc::clone(&state.hub);
    let limits = StreamLimits::of(&state.runtime().config.meshgate);
    let (stream_id, mut messages) = hub.open_stream(
        &session.token,
        &principal.name,
        principal.scope.clone(),
        limits,
    )?;
    let (tx, body) = body::channel(8);
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(KEEPALIVE);
        tick.tick().await;
        loop {
            let next = tokio::select! {
                m = messages.recv() => match m {
                    Some(m) => m,
                    None => break,
                },
                _ = tick.tick() => {
                    // An open stream is activity; one that expired ends.
                    let lifetimes = Lifetimes::of(&state.runtime.load().config.meshgate);
                    if !state.session_life.admit(&session.token, &session.info, lifetimes) {
                        break;
                    }
                    Bytes::from_static(b": keepalive\n\n")
                }
                _ = tx.closed() => break,
            };
            if tx.send(next).await.is_err() {
                break;
            }
        }
        hub.close_stream(stream_id);
    });
    Ok(body::sse_response(body))
}

/// Ends the session for good: its streams close, and the id is refused from now on
/// here and, once the store has it, on every replica.
async fn delete(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
) -> Result<Response<Body>, HttpError> {
    let Some(s) = session(state, principal, headers)? else {
        return Err(HttpError::BadRequest(
            "DELETE needs the Mcp-Session-Id header".into(),
        ));
    };
    state.hub.end_session(&s.token);
    let lifetimes = Lifetimes::of(&state.runtime().config.meshgate);
    if let Err(e) = state
        .session_life
        .revoke(&state.store, &s.token, &s.info, lifetimes)
        .await
    {
        tracing::warn!("a session revocation was not stored: {e}");
        return Err(HttpError::RevocationNotShared);
    }
    Ok(body::json(StatusCode::OK, "{}"))
}

fn accepted() -> Response<Body> {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}

fn sse_single(json: Vec<u8>) -> Response<Body> {
    body::sse_response(body::full(crate::sse::encode_message(&json)))
}

fn refused(status: StatusCode, refusal: &jsonrpc::Refusal) -> Response<Body> {
    body::json(status, refusal.to_bytes())
}

fn rpc_error_reply(status: StatusCode, err: RpcError) -> Response<Body> {
    body::json(status, err.to_response(None))
}
