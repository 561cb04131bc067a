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
//! Upstreams are untouched: the gateway keeps speaking the handshake era to them, with
//! the capabilities this request declared.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use super::dispatch::{self, Ctx, Reply};
use super::SUPPORTED_VERSIONS;
use crate::body::{self, Body};
use crate::jsonrpc::{self, Message, RpcError, INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND};
use crate::relay::{ClientCaps, Exchange};
use crate::sse::encode_message;
use crate::state::{AppState, Runtime};
use crate::verify::Principal;
use meshgate_policy::mcp_headers::{check_against_body, RequestIntent, HEADER_MISMATCH_CODE};

/// The stateless revision served besides the handshake-era ones.
pub const VERSION: &str = "2026-07-28";
/// JSON-RPC code of an unsupported protocol version (2026-07-28), sent with HTTP 400.
pub const UNSUPPORTED_VERSION_CODE: i64 = -32022;

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPS: &str = "io.modelcontextprotocol/clientCapabilities";
const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// Handshake-era "resource not found"; 2026-07-28 uses -32602 instead.
const LEGACY_RESOURCE_NOT_FOUND: i64 = -32002;
/// How long a client may cache `server/discover`.
const DISCOVER_TTL_MS: u64 = 60_000;
/// How long an upstream request waits parked for the client's `inputResponses`.
const PARK_TTL: Duration = Duration::from_secs(300);
/// Parked requests per replica at most; beyond, a new one is refused.
const MAX_PARKED: usize = 1024;

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
/// Results that carry `ttlMs` and `cacheScope`.
const CACHEABLE: &[&str] = &[
    "server/discover",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];
/// RFC 5424 severities, least severe first (`logLevel` and `notifications/message`).
const LOG_LEVELS: &[&str] = &[
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

pub fn is_modern(version: &str) -> bool {
    version == VERSION
}

/// Whether a request's `MCP-Protocol-Version` header is 2026-07-28.
pub fn header_is_modern(headers: &HeaderMap) -> bool {
    headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_modern)
}

/// Every protocol revision served, oldest first.
pub fn all_versions() -> Vec<&'static str> {
    let mut all = SUPPORTED_VERSIONS.to_vec();
    all.push(VERSION);
    all
}

/// The body of a 400 for an unsupported `MCP-Protocol-Version` (-32022 with the
/// requested and supported versions, as 2026-07-28 defines it).
pub fn unsupported_version_body(requested: &str, message: &str) -> Vec<u8> {
    let mut err = RpcError::new(
        UNSUPPORTED_VERSION_CODE,
        format!("{message}; supported: {}", all_versions().join(", ")),
    );
    err.data = Some(json!({"requested": requested, "supported": all_versions()}));
    jsonrpc::error_response(None, &err.to_value())
}

/// GET and DELETE for a 2026-07-28 client: there is no stream and no session.
pub fn method_not_allowed() -> Response<Body> {
    let mut resp = error_reply(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        RpcError::new(
            jsonrpc::INVALID_REQUEST,
            "MCP 2026-07-28 has no GET stream and no sessions to DELETE; POST each request",
        ),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    resp
}

/// `Mcp-Method` / `Mcp-Name` against the parsed body. `required`: a 2026-07-28 request,
/// which must name its method. Older clients do not send the headers; when one does,
/// they are held to the body too (the filter may have authorized on them).
pub fn check_headers(
    headers: &HeaderMap,
    id: Option<&Value>,
    method: &str,
    params: Option<&Value>,
    required: bool,
) -> Result<(), Box<Response<Body>>> {
    let mismatch = |message: String| {
        Box::new(error_reply(
            StatusCode::BAD_REQUEST,
            id,
            RpcError::new(HEADER_MISMATCH_CODE, message),
        ))
    };
    let pairs = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)));
    let intent = RequestIntent::from_pairs(pairs).map_err(|e| mismatch(e.to_string()))?;
    for name in [
        meshgate_policy::mcp_headers::METHOD_HEADER,
        meshgate_policy::mcp_headers::NAME_HEADER,
    ] {
        // A value hyper cannot show as text never reached `from_pairs`.
        if headers.get(name).is_some_and(|v| v.to_str().is_err()) {
            return Err(mismatch(format!(
                "header {name} is malformed: it is not visible ASCII (use =?base64?…?=)"
            )));
        }
    }
    if required && intent.method().is_none() {
        return Err(mismatch(format!(
            "header Mcp-Method is missing; MCP 2026-07-28 requests must carry it (the body's method is `{}`)",
            method.chars().take(64).collect::<String>()
        )));
    }
    check_against_body(&intent, method, params).map_err(|e| mismatch(e.message))
}

/// A request whose `MCP-Protocol-Version` header or `_meta` declares 2026-07-28.
pub fn declares_modern(header_version: Option<&str>, msg: &Message) -> bool {
    header_version.is_some_and(is_modern)
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
    /// Index in [`LOG_LEVELS`]; None: no `notifications/message` for this request.
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
                RpcError::new(
                    HEADER_MISMATCH_CODE,
                    format!(
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
            RpcError::new(METHOD_NOT_FOUND, why),
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
            .and_then(|l| LOG_LEVELS.iter().position(|x| *x == l)),
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
            let ctx = Ctx {
                state: &state,
                runtime,
                principal,
                client_headers: headers,
                session: None,
                exchange,
                caps: Some(ctx_caps),
            };
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

/// `server/discover`'s result (before stamping).
fn discover() -> Map<String, Value> {
    let result = json!({
        "supportedVersions": all_versions(),
        // listChanged and resources.subscribe are delivered by `subscriptions/listen` in
        // 2026-07-28, which the gateway does not serve: not declared.
        "capabilities": {"tools": {}, "prompts": {}, "resources": {}, "completions": {}, "logging": {}},
        "instructions": "Tools of several MCP servers, named `<server>-<tool>`.",
        "ttlMs": DISCOVER_TTL_MS,
    });
    match result {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn server_info() -> Value {
    json!({"name": "meshgate", "title": "meshgate MCP gateway", "version": env!("CARGO_PKG_VERSION")})
}

/// Stamps a 2026-07-28 result: `resultType`, the gateway's `serverInfo` in `_meta`, and
/// for cacheable results `ttlMs` / `cacheScope` (private: what a key sees depends on it).
fn stamp(method: &str, result: &mut Map<String, Value>) {
    result
        .entry("resultType")
        .or_insert_with(|| Value::String("complete".into()));
    let meta = result
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Some(m) = meta.as_object_mut() {
        m.insert(META_SERVER_INFO.into(), server_info());
    }
    if CACHEABLE.contains(&method) {
        result.entry("ttlMs").or_insert_with(|| Value::from(0));
        result
            .entry("cacheScope")
            .or_insert_with(|| Value::String("private".into()));
    }
}

/// A request's outcome for a 2026-07-28 client: its result or its error object. Framed
/// only when sent, with the id of the HTTP request that carries it (an MRTR retry
/// has an id of its own).
type Outcome = Result<Value, Value>;

/// A dispatched reply as a 2026-07-28 client gets it.
fn finish(method: &str, reply: Reply) -> Outcome {
    let value = match reply {
        Reply::Raw(raw) => serde_json::from_str::<Value>(raw.get()),
        Reply::Value(v) | Reply::Initialized(v, _) => Ok(v),
        Reply::Error(mut e) => {
            if e.code == LEGACY_RESOURCE_NOT_FOUND {
                e.code = INVALID_PARAMS;
            }
            return Err(e.to_value());
        }
    };
    match value {
        Ok(Value::Object(mut result)) => {
            stamp(method, &mut result);
            Ok(Value::Object(result))
        }
        _ => {
            Err(RpcError::new(INTERNAL_ERROR, "an upstream result is not a JSON object").to_value())
        }
    }
}

fn frame(id: &Value, outcome: Outcome) -> Vec<u8> {
    match outcome {
        Ok(result) => jsonrpc::response_value(id, &result),
        Err(error) => jsonrpc::error_response(Some(id), &error),
    }
}

/// Removes what only the gateway reads from a 2026-07-28 request's params before they
/// go upstream (the reserved `_meta` keys, `inputResponses`, `requestState`); returns
/// the MRTR resumption when the request carries `requestState`.
#[allow(clippy::type_complexity)]
fn clean_params(
    params: Option<Value>,
) -> Result<(Option<Value>, Option<(String, Map<String, Value>)>), RpcError> {
    let Some(Value::Object(mut p)) = params else {
        return Ok((params, None));
    };
    if let Some(Value::Object(meta)) = p.get_mut("_meta") {
        for key in [META_VERSION, META_CAPS, META_CLIENT_INFO, META_LOG_LEVEL] {
            meta.remove(key);
        }
        if meta.is_empty() {
            p.remove("_meta");
        }
    }
    let responses = p.remove("inputResponses");
    let resume = match p.remove("requestState") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match responses {
            Some(Value::Object(r)) => Some((s, r)),
            None | Some(Value::Null) => Some((s, Map::new())),
            Some(_) => {
                return Err(RpcError::new(
                    INVALID_PARAMS,
                    "inputResponses must be an object keyed like inputRequests",
                ))
            }
        },
        Some(_) => {
            return Err(RpcError::new(
                INVALID_PARAMS,
                "requestState must be a string",
            ))
        }
    };
    Ok((Some(Value::Object(p)), resume))
}

/// An upstream request of a 2026-07-28 client in flight: its relayed messages, its
/// final reply, and the exchange the relay asks the client through.
struct Pending {
    principal: String,
    method: String,
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    done: oneshot::Receiver<Outcome>,
    exchange: Arc<Exchange>,
}

/// A pending request waiting for the client's `inputResponses`.
struct Parked {
    pending: Pending,
    /// The `inputRequests` keys the client must answer.
    keys: HashSet<String>,
}

fn parked() -> &'static Mutex<HashMap<String, Parked>> {
    static PARKED: OnceLock<Mutex<HashMap<String, Parked>>> = OnceLock::new();
    PARKED.get_or_init(Default::default)
}

/// Cancels the upstream request when the client goes away while it is being answered.
struct CancelOnDrop(Option<Arc<Exchange>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(e) = self.0.take() {
            e.cancel();
        }
    }
}

/// What one relayed message means for a 2026-07-28 client.
enum Relayed {
    /// A server→client request: (key, `{method, params}`).
    Ask(String, Value),
    /// A notification to put on the response stream.
    Notify(Vec<u8>),
    Drop,
}

fn classify(message: &[u8], log_level: Option<usize>) -> Relayed {
    let Ok(msg) = serde_json::from_slice::<Message>(message) else {
        return Relayed::Drop;
    };
    match (msg.id, msg.method) {
        (Some(id), Some(method)) => {
            let key = match id {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let mut request = json!({"method": method});
            if let Some(p) = msg.params {
                request["params"] = p;
            }
            Relayed::Ask(key, request)
        }
        (None, Some(method)) if method == "notifications/message" => {
            // Log messages only for requests that opted in, at or above their level.
            let level = msg
                .params
                .as_ref()
                .and_then(|p| p.get("level"))
                .and_then(Value::as_str)
                .and_then(|l| LOG_LEVELS.iter().position(|x| *x == l));
            match (log_level, level) {
                (Some(min), Some(l)) if l >= min => Relayed::Notify(message.to_vec()),
                _ => Relayed::Drop,
            }
        }
        (None, Some(_)) => Relayed::Notify(message.to_vec()),
        _ => Relayed::Drop,
    }
}

/// Answers the HTTP request of `pending`: its final result, or `input_required` when the
/// upstream asks the client something first (the request is then parked). Plain JSON
/// when nothing is relayed first; an event stream as soon as a notification is.
async fn drive(mut pending: Pending, id: Value, declared: Declared) -> Response<Body> {
    let mut guard = CancelOnDrop(Some(Arc::clone(&pending.exchange)));
    let first = loop {
        tokio::select! {
            biased;
            m = pending.rx.recv() => match m {
                Some(m) => match classify(&m, declared.log_level) {
                    Relayed::Ask(key, request) => {
                        guard.0 = None;
                        let framed = park(pending, &id, key, request);
                        return single(framed, declared.sse_only);
                    }
                    Relayed::Notify(n) if declared.sse => break n,
                    _ => continue,
                },
                None => {
                    guard.0 = None;
                    let framed = frame(&id, (&mut pending.done).await.unwrap_or_else(|_| lost()));
                    return single(framed, declared.sse_only);
                }
            },
            framed = &mut pending.done => {
                guard.0 = None;
                let framed = frame(&id, framed.unwrap_or_else(|_| lost()));
                return single(framed, declared.sse_only);
            }
        }
    };
    guard.0 = None;
    let (tx, body) = body::channel(64);
    tokio::spawn(async move {
        let exchange = Arc::clone(&pending.exchange);
        let send = |m: &[u8]| tx.send(Bytes::from(encode_message(m)));
        if send(&first).await.is_err() {
            exchange.cancel();
            return;
        }
        loop {
            tokio::select! {
                biased;
                m = pending.rx.recv() => match m {
                    Some(m) => match classify(&m, declared.log_level) {
                        Relayed::Ask(key, request) => {
                            let framed = park(pending, &id, key, request);
                            let _ = send(&framed).await;
                            return;
                        }
                        Relayed::Notify(n) => {
                            if send(&n).await.is_err() {
                                exchange.cancel();
                                return;
                            }
                        }
                        Relayed::Drop => {}
                    },
                    None => {
                        let framed = frame(&id, (&mut pending.done).await.unwrap_or_else(|_| lost()));
                        let _ = send(&framed).await;
                        return;
                    }
                },
                framed = &mut pending.done => {
                    let framed = frame(&id, framed.unwrap_or_else(|_| lost()));
                    let _ = send(&framed).await;
                    return;
                }
            }
        }
    });
    body::sse_response(body)
}

/// Parks `pending` (the upstream waits for the client's answer to `request`, plus any
/// other question already queued) and frames the `input_required` result naming it.
fn park(mut pending: Pending, id: &Value, key: String, request: Value) -> Vec<u8> {
    let mut requests = Map::new();
    requests.insert(key, request);
    let mut held = Vec::new();
    // Questions asked together are asked together; notifications stay queued in order
    // behind them (delivered on the retry's response).
    while let Ok(m) = pending.rx.try_recv() {
        match classify(&m, Some(0)) {
            Relayed::Ask(k, r) => {
                requests.insert(k, r);
            }
            _ => held.push(m),
        }
    }
    if !held.is_empty() {
        // Re-queue what was not a question, through a fresh channel in front of the rest.
        let (tx, rx) = mpsc::unbounded_channel();
        for m in held {
            let _ = tx.send(m);
        }
        let rest = std::mem::replace(&mut pending.rx, rx);
        tokio::spawn(forward(rest, tx));
    }
    let Some(token) = fresh_token() else {
        pending.exchange.cancel();
        return jsonrpc::error_response(
            Some(id),
            &RpcError::new(INTERNAL_ERROR, "no randomness for a requestState").to_value(),
        );
    };
    let keys = requests.keys().cloned().collect();
    let method = pending.method.clone();
    let exchange = Arc::clone(&pending.exchange);
    let admitted = parked().lock().is_ok_and(|mut m| {
        if m.len() >= MAX_PARKED {
            return false;
        }
        m.insert(token.clone(), Parked { pending, keys });
        true
    });
    if !admitted {
        exchange.cancel();
        return jsonrpc::error_response(
            Some(id),
            &RpcError::new(
                INTERNAL_ERROR,
                format!("too many requests are waiting for client input; `{method}` was cancelled"),
            )
            .to_value(),
        );
    }
    let expiring = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(PARK_TTL).await;
        let gone = parked().lock().ok().and_then(|mut m| m.remove(&expiring));
        if let Some(p) = gone {
            // The upstream hears that the client did not answer; its call ends.
            p.pending.exchange.cancel();
        }
    });
    let mut result = Map::new();
    result.insert("resultType".into(), Value::String("input_required".into()));
    result.insert("inputRequests".into(), Value::Object(requests));
    result.insert("requestState".into(), Value::String(token));
    stamp(&method, &mut result);
    jsonrpc::response_value(id, &Value::Object(result))
}

async fn forward(mut from: mpsc::UnboundedReceiver<Vec<u8>>, to: mpsc::UnboundedSender<Vec<u8>>) {
    while let Some(m) = from.recv().await {
        if to.send(m).is_err() {
            return;
        }
    }
}

/// A retry carrying `requestState`: the answers go to the parked upstream request, and
/// this HTTP request gets what it does next.
async fn resume_parked(
    state: &Arc<AppState>,
    principal: &Principal,
    id: &Value,
    method: &str,
    request_state: &str,
    responses: Map<String, Value>,
    declared: Declared,
) -> Response<Body> {
    let refuse =
        |why: String| error_reply(StatusCode::OK, Some(id), RpcError::new(INVALID_PARAMS, why));
    let taken = parked().lock().ok().and_then(|mut m| {
        let ok = m
            .get(request_state)
            .is_some_and(|p| p.pending.principal == principal.name && p.pending.method == method);
        if ok {
            m.remove(request_state)
        } else {
            None
        }
    });
    let Some(parked_request) = taken else {
        return refuse(
            "requestState is unknown, expired, or belongs to another request; send the request again without it"
                .into(),
        );
    };
    if let Some(missing) = parked_request
        .keys
        .iter()
        .find(|k| !responses.contains_key(k.as_str()))
    {
        let missing = missing.clone();
        if let Ok(mut m) = parked().lock() {
            m.insert(request_state.to_string(), parked_request);
        }
        return refuse(format!("inputResponses lacks an answer for `{missing}`"));
    }
    for (key, answer) in responses {
        if !parked_request.keys.contains(&key) {
            continue;
        }
        let Ok(raw) = serde_json::value::to_raw_value(&answer) else {
            continue;
        };
        state.hub.client_answered(Message {
            jsonrpc: Some("2.0".into()),
            id: Some(Value::String(key)),
            method: None,
            params: None,
            result: Some(raw),
            error: None,
        });
    }
    drive(parked_request.pending, id.clone(), declared).await
}

fn fresh_token() -> Option<String> {
    let mut bytes = [0u8; 18];
    getrandom::getrandom(&mut bytes).ok()?;
    Some(format!("mg-rs-{}", hex::encode(bytes)))
}

fn lost() -> Outcome {
    Err(RpcError::new(INTERNAL_ERROR, "the request ended without a reply").to_value())
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

fn error_reply(status: StatusCode, id: Option<&Value>, err: RpcError) -> Response<Body> {
    body::json(status, jsonrpc::error_response(id, &err.to_value()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_results_for_2026_clients() {
        let mut r = Map::new();
        r.insert("tools".into(), json!([]));
        stamp("tools/list", &mut r);
        assert_eq!(r["resultType"], "complete");
        assert_eq!(r["ttlMs"], 0);
        assert_eq!(r["cacheScope"], "private");
        assert_eq!(r["_meta"][META_SERVER_INFO]["name"], "meshgate");
        let mut r = Map::new();
        r.insert("_meta".into(), json!({"x": 1}));
        stamp("tools/call", &mut r);
        assert_eq!(r["_meta"]["x"], 1);
        assert!(r.get("ttlMs").is_none());
        let outcome = finish(
            "resources/read",
            Reply::Error(RpcError::new(LEGACY_RESOURCE_NOT_FOUND, "gone")),
        );
        assert_eq!(outcome.unwrap_err()["code"], INVALID_PARAMS);
    }

    #[test]
    fn reserved_meta_and_mrtr_fields_stay_at_the_gateway() {
        let params = json!({"name": "a-b", "_meta": {META_VERSION: VERSION, META_CAPS: {}, "progressToken": 3},
                            "inputResponses": {"k": {"action": "accept"}}, "requestState": "s"});
        let (p, resume) = clean_params(Some(params)).unwrap();
        assert_eq!(
            p.unwrap(),
            json!({"name": "a-b", "_meta": {"progressToken": 3}})
        );
        let (state, responses) = resume.unwrap();
        assert_eq!(state, "s");
        assert_eq!(responses["k"]["action"], "accept");
        let (p, resume) = clean_params(Some(json!({"_meta": {META_VERSION: VERSION}}))).unwrap();
        assert_eq!(p.unwrap(), json!({}));
        assert!(resume.is_none());
        assert!(clean_params(Some(json!({"requestState": 1}))).is_err());
    }

    #[test]
    fn log_messages_need_an_opt_in() {
        let m = br#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":1}}"#;
        assert!(matches!(classify(m, None), Relayed::Drop));
        assert!(matches!(classify(m, Some(1)), Relayed::Notify(_)));
        assert!(matches!(classify(m, Some(3)), Relayed::Drop));
        let ask = br#"{"jsonrpc":"2.0","id":"mg-s-1","method":"roots/list"}"#;
        assert!(matches!(classify(ask, None), Relayed::Ask(k, _) if k == "mg-s-1"));
    }
}
