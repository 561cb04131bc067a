//! MCP 2026-07-28 for the clients that declare it (`MCP-Protocol-Version: 2026-07-28`):
//! stateless requests (no `initialize`, no `Mcp-Session-Id`, capabilities from each
//! request's `_meta`), `server/discover`, `Mcp-Method`/`Mcp-Name` checked against the
//! body, results stamped with `resultType`, the gateway's `serverInfo` and cache hints,
//! and server→client requests bridged to MRTR: an upstream's sampling / elicitation /
//! roots request during a 2026 client's call answers that HTTP request with an
//! `input_required` result whose `requestState` names the parked upstream request; the
//! client's retry (same request + `inputResponses` + `requestState`) feeds the answers
//! back upstream and gets what the upstream does next.
//!
//! Upstreams are reached as they are: handshake-era ones with the capabilities this
//! request declared, 2026-only ones statelessly (the stateless client in `upstream/`).

//!
//! This file: the entry point [`serve`] and the classification of a request (is it
//! 2026-07-28, is its method served, streamed, or removed). The rest, by concern:
//! `discover` (`server/discover`), `listen`
//! (`subscriptions/listen`), `headers`
//! (`Mcp-Method`/`Mcp-Name` against the body), `meta` (reserved `_meta` keys, MRTR
//! fields), `stamp` (result stamping, cache hints, error-code mapping), `drive`
//! (answering a streamed request as JSON or an event stream), `relayed` (what a
//! relayed message is to the client), `mrtr` (the `input_required` bridge's
//! parked-request table) and `resume` (a retry carrying `requestState`).

mod discover;
mod drive;
mod headers;
mod listen;
mod meta;
mod mrtr;
mod relayed;
mod resume;
mod stamp;

pub use headers::check_headers;

use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::oneshot;

use super::context::Ctx;
use super::dispatch;
use crate::body::{self, Body};
use crate::jsonrpc::{self, Id, Message, RpcError};
use crate::relay::{ClientCaps, Exchange};
use crate::sse::encode_message;
use crate::state::{AppState, Runtime};
use crate::verify::Principal;

use crate::mcp::log_levels;
use discover::discover;
use drive::drive;
use meta::{clean_params, META_CAPS, META_LOG_LEVEL, META_VERSION};
use mrtr::Pending;
use resume::resume_parked;
use stamp::{finish, frame, stamp};

pub use crate::versions::STATELESS as VERSION;

/// The methods of 2026-07-28 the gateway serves; any other is a 404.
const SERVED: &[&str] = &[
    "server/discover",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "completion/complete",
    "subscriptions/listen",
];
/// Handshake-era methods 2026-07-28 removed (named in the 404's message).
const REMOVED: &[&str] = &[
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];
/// Answered by an upstream that may send progress or ask the client before its result.
const STREAMED: &[&str] = &[
    "tools/call",
    "prompts/get",
    "resources/read",
    "completion/complete",
];

pub fn is_stateless(version: &str) -> bool {
    version == VERSION
}

/// Whether a request's `MCP-Protocol-Version` header is 2026-07-28.
pub fn header_is_stateless(headers: &HeaderMap) -> bool {
    headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_stateless)
}

/// GET and DELETE for a 2026-07-28 client: there is no stream and no session.
pub fn method_not_allowed() -> Response<Body> {
    let mut resp = error_reply(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        RpcError::invalid_request(
            "MCP 2026-07-28 has no GET stream and no sessions to DELETE; POST each request",
        ),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    resp
}

/// A request whose `MCP-Protocol-Version` header or `_meta` declares 2026-07-28.
pub fn declares_stateless(header_version: Option<&str>, msg: &Message) -> bool {
    header_version.is_some_and(is_stateless)
        || msg
            .params
            .as_ref()
            .and_then(|p| p.get("_meta"))
            .and_then(|m| m.get(META_VERSION))
            .is_some()
}

/// What a 2026-07-28 request declared about itself in `_meta`.
struct Declared {
    caps: ClientCaps,
    /// Index in [`log_levels::LOG_LEVELS`]; None: no `notifications/message` for this request.
    log_level: Option<usize>,
    /// The client reads event streams.
    sse: bool,
    /// The client reads nothing but event streams.
    sse_only: bool,
}

/// Serves one 2026-07-28 POST (already parsed and checked to be JSON-RPC).
pub async fn serve(
    state: &Arc<AppState>,
    runtime: Arc<Runtime>,
    principal: Principal,
    headers: HeaderMap,
    msg: Message,
    header_version: Option<&str>,
) -> Response<Body> {
    let id = msg.id.clone();
    let meta = msg
        .params
        .as_ref()
        .and_then(|p| p.get("_meta"))
        .and_then(Value::as_object);
    // `_meta`'s version must say what the header says (a missing `_meta` version is
    // taken from the header).
    if let Some(in_meta) = meta.and_then(|m| m.get(META_VERSION)) {
        if in_meta.as_str() != header_version {
            let shown = |v: Option<&str>| v.map_or("(none)".to_string(), |v| format!("`{v}`"));
            return error_reply(
                StatusCode::BAD_REQUEST,
                id.as_ref(),
                RpcError::header_mismatch(format!(
                        "header MCP-Protocol-Version {} does not match params._meta[\"{META_VERSION}\"] {}",
                        shown(header_version),
                        shown(in_meta.as_str().map(|v| &v[..v.len().min(40)]))
                    ),
                ),
            );
        }
    }
    let Some(method) = msg.method.clone() else {
        // 2026-07-28 clients answer nothing over HTTP (MRTR replaced server requests).
        return accepted();
    };
    if let Err(resp) = check_headers(&headers, id.as_ref(), &method, msg.params.as_ref(), true) {
        return *resp;
    }
    let Some(id) = id else {
        // No client→server notifications in 2026-07-28 over HTTP (cancelling is
        // closing the response); accepted and ignored.
        return accepted();
    };
    if !SERVED.contains(&method.as_str()) {
        let why = if REMOVED.contains(&method.as_str()) {
            format!("Method not found: `{method}` was removed in MCP 2026-07-28")
        } else {
            format!("Method not found: {method}")
        };
        return error_reply(
            StatusCode::NOT_FOUND,
            Some(&id),
            RpcError::method_not_found(why),
        );
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let sse = accept.contains("text/event-stream");
    let declared = Declared {
        caps: ClientCaps::from_json(meta.and_then(|m| m.get(META_CAPS))),
        log_level: meta
            .and_then(|m| m.get(META_LOG_LEVEL))
            .and_then(Value::as_str)
            .and_then(log_levels::rank),
        sse,
        sse_only: sse && !accept.contains("application/json") && !accept.contains("*/*"),
    };
    let (params, resume) = match clean_params(msg.params) {
        Ok(p) => p,
        Err(e) => return error_reply(StatusCode::OK, Some(&id), e),
    };
    if method == "server/discover" {
        let mut result = discover();
        stamp(&method, &mut result);
        return single(
            jsonrpc::response_value(&id, &Value::Object(result)),
            declared.sse_only,
        );
    }
    if method == "subscriptions/listen" {
        return listen::open(
            state,
            runtime,
            principal,
            headers,
            id,
            params,
            declared.caps,
        )
        .await;
    }
    if let Some((request_state, responses)) = resume {
        return resume_parked(
            state,
            &principal,
            &id,
            &method,
            &request_state,
            responses,
            declared,
        )
        .await;
    }
    let streamed = STREAMED.contains(&method.as_str());
    let (exchange, rx) = if streamed {
        let (e, rx) = Exchange::new(declared.caps, true);
        (Some(e), rx)
    } else {
        (None, None)
    };
    let ctx_caps = declared.caps;
    let run = {
        let state = Arc::clone(state);
        let exchange = exchange.clone();
        let principal = principal.clone();
        let method = method.clone();
        async move {
            let ctx = Ctx::new(&state, runtime, principal, headers)
                .with_exchange(exchange)
                .with_caps(ctx_caps);
            let reply = dispatch::request(&ctx, &method, params).await;
            finish(&method, reply)
        }
    };
    match (exchange, rx) {
        (Some(exchange), Some(rx)) => {
            let (done_tx, done_rx) = oneshot::channel();
            tokio::spawn(async move {
                let _ = done_tx.send(run.await);
            });
            let pending = Pending {
                principal: principal.name,
                method,
                rx,
                done: done_rx,
                exchange,
            };
            drive(pending, id, declared).await
        }
        _ => single(frame(&id, run.await), declared.sse_only),
    }
}

fn single(framed: Vec<u8>, sse_only: bool) -> Response<Body> {
    if sse_only {
        body::sse_response(body::full(encode_message(&framed)))
    } else {
        body::json(StatusCode::OK, framed)
    }
}

fn accepted() -> Response<Body> {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}

fn error_reply(status: StatusCode, id: Option<&Id>, err: RpcError) -> Response<Body> {
    body::json(status, err.to_response(id))
}
