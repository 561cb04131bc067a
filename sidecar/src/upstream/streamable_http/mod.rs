//! A streamable-HTTP server: one persistent MCP session per server, re-initialized
//! transparently when the upstream forgets it (404), connections pooled. Client session
//! ids keep carrying a lost upstream session's id: it is remembered as lost, so those
//! clients are served by the session that replaced it instead of adopting the dead one. A server that
//! refuses `initialize` and lists 2026-07-28 in `server/discover` is spoken to
//! statelessly instead (`stateless.rs`).

mod listen;
mod stateless;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use tokio::sync::watch;

use meshgate_policy::config::ServerConfig;

use crate::jsonrpc::{self, Message};
use crate::relay::exchange::cancelled;
use crate::relay::link::ServerLink;
use crate::relay::{ClientCaps, Exchange};
use crate::sse::SseParser;
use crate::upstream::carried::{self, CarriedSession};
use crate::upstream::client::{connect_reason, HttpClient};
use crate::upstream::credentials::ServerHeaders;
use crate::upstream::pending::rpc_error_from;
use crate::upstream::{
    initialize_params, session_key, CallContext, UpstreamError, UpstreamResult,
    UPSTREAM_PROTOCOL_VERSION,
};

/// Upstream sessions kept per server before the map is reset.
const MAX_SESSIONS: usize = 1024;
/// Lost upstream session ids remembered per server before the set is reset (then a
/// stale carried id costs one more 404 before its replacement is used).
const MAX_LOST: usize = 4096;
/// What identifies the upstream session in use.
#[derive(Clone)]
pub(super) struct Session {
    pub(super) id: Option<HeaderValue>,
    pub(super) protocol_version: HeaderValue,
    pub(super) generation: u64,
    /// What the server's `initialize` said to clients (None for an adopted session).
    pub(super) instructions: Option<Arc<str>>,
}

pub struct HttpUpstream {
    pub(super) name: String,
    pub(super) url: Uri,
    pub(super) client: HttpClient,
    pub(super) headers: ServerHeaders,
    /// Names this server in carried sessions.
    tag: u32,
    pub(super) link: Arc<ServerLink>,
    me: Weak<HttpUpstream>,
    /// One upstream session per distinct set of outbound credentials and client
    /// capabilities.
    sessions: RwLock<HashMap<u64, Session>>,
    /// Upstream session ids the server forgot (404): never adopted again.
    lost: RwLock<HashSet<HeaderValue>>,
    init_lock: tokio::sync::Mutex<()>,
    pub(super) next_id: AtomicU64,
    generation: AtomicU64,
    pub(super) stop: watch::Sender<bool>,
    /// The server speaks only MCP 2026-07-28 (found when `initialize` was refused):
    /// requests go statelessly, without sessions.
    pub(super) modern: AtomicBool,
    /// The latest `instructions` any session of this server was given (for sessions
    /// adopted from another replica, which did not see them).
    last_instructions: RwLock<Option<Arc<str>>>,
}

pub(super) enum Reply {
    Result(UpstreamResult),
    SessionLost,
}

impl HttpUpstream {
    pub fn new(
        name: &str,
        prefix: &str,
        config: &ServerConfig,
        client: HttpClient,
        link: &Arc<ServerLink>,
    ) -> Result<Arc<Self>, String> {
        let url = crate::upstream::server_url(name, config)?;
        let headers = ServerHeaders::new(prefix, config)?;
        Ok(Arc::new_cyclic(|me| HttpUpstream {
            name: name.to_string(),
            url,
            client,
            headers,
            tag: carried::server_tag(name),
            link: Arc::clone(link),
            me: me.clone(),
            sessions: RwLock::new(HashMap::new()),
            lost: RwLock::new(HashSet::new()),
            init_lock: tokio::sync::Mutex::new(()),
            next_id: AtomicU64::new(1),
            generation: AtomicU64::new(0),
            stop: watch::Sender::new(false),
            modern: AtomicBool::new(false),
            last_instructions: RwLock::new(None),
        }))
    }

    /// Ends the listening streams.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    pub async fn request(
        &self,
        method: &str,
        params: Option<&Value>,
        call: &CallContext<'_>,
    ) -> UpstreamResult {
        if self.is_modern() {
            return self.modern_request(method, params, call).await;
        }
        let headers = call.outbound(&self.headers);
        let key = session_key(&headers, call.caps);
        self.link.used_by(key, call.session, call.caps);
        for _attempt in 0..2 {
            let session = match self.session(key, &headers, call).await {
                Ok(s) => s,
                Err(_) if self.is_modern() => {
                    return self.modern_request(method, params, call).await
                }
                Err(e) => return Err(e),
            };
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let body = jsonrpc::request(id, method, params);
            let posted = self.post(&headers, key, Some(&session), id, body, call.exchange);
            let reply = tokio::select! {
                r = posted => r?,
                _ = cancelled(call.exchange) => {
                    let note = serde_json::json!({"requestId": id, "reason": "cancelled by the client"});
                    self.post_detached(key, &headers, jsonrpc::notification("notifications/cancelled", Some(&note)));
                    return Err(UpstreamError::Cancelled);
                }
            };
            match reply {
                Reply::Result(r) => return r,
                Reply::SessionLost => {
                    tracing::info!(server = %self.name, "upstream session expired; re-initializing");
                    self.forget(&session);
                    self.drop_session(key, session.generation);
                }
            }
        }
        Err(UpstreamError::Unavailable(format!(
            "server `{}` keeps losing its session",
            self.name
        )))
    }

    /// The session for one credential set, initialized on first use.
    /// This client's upstream session as its session id should carry it.
    pub async fn carry(&self, call: &CallContext<'_>) -> Option<CarriedSession> {
        let headers = call.outbound(&self.headers);
        let key = session_key(&headers, call.caps);
        self.link.used_by(key, call.session, call.caps);
        let session = self.session(key, &headers, call).await.ok()?;
        Some(CarriedSession {
            server: self.tag,
            key: carried::key_tag(key),
            protocol: carried::protocol(session.protocol_version.to_str().ok()?)?,
            id: session.id?.to_str().ok()?.to_string(),
        })
    }

    /// The `instructions` of this client's upstream session (opened if needed).
    pub async fn instructions(&self, call: &CallContext<'_>) -> Option<Arc<str>> {
        if self.is_modern() {
            return None;
        }
        let headers = call.outbound(&self.headers);
        let key = session_key(&headers, call.caps);
        let session = self.session(key, &headers, call).await.ok()?;
        session
            .instructions
            .or_else(|| self.last_instructions.read().ok()?.clone())
    }

    /// Ends a session the gateway will not use (DELETE, in the background).
    pub(super) fn end_session(&self, headers: &HeaderMap, id: HeaderValue) {
        let (client, url, headers) = (self.client.clone(), self.url.clone(), headers.clone());
        tokio::spawn(async move {
            let Ok(mut req) = Request::builder()
                .method(Method::DELETE)
                .uri(url)
                .body(Full::new(Bytes::new()))
            else {
                return;
            };
            req.headers_mut().extend(headers);
            req.headers_mut().insert("mcp-session-id", id);
            if let Ok(resp) = client.request(req).await {
                let _ = resp.into_body().collect().await;
            }
        });
    }

    /// The session for one credential set: in use here, else the one the client's
    /// session id carries (begun on another replica), else a new one.
    async fn session(
        &self,
        key: u64,
        headers: &HeaderMap,
        call: &CallContext<'_>,
    ) -> Result<Session, UpstreamError> {
        let cached = |this: &Self| this.sessions.read().ok().and_then(|s| s.get(&key).cloned());
        if let Some(s) = cached(self) {
            return Ok(s);
        }
        let _guard = self.init_lock.lock().await;
        if let Some(s) = cached(self) {
            return Ok(s);
        }
        if self.is_modern() {
            return Err(self.sessionless());
        }
        let session = match self.adopt(key, call.carried) {
            Some(s) => s,
            None => self.initialize(key, headers, call.caps).await?,
        };
        if let Ok(mut map) = self.sessions.write() {
            if map.len() >= MAX_SESSIONS {
                // Many distinct client credentials: start over rather than grow without bound.
                map.clear();
            }
            map.insert(key, session.clone());
        }
        if session.id.is_some() {
            tokio::spawn(listen::listen(
                self.me.clone(),
                key,
                headers.clone(),
                session.clone(),
            ));
        }
        Ok(session)
    }

    fn drop_session(&self, key: u64, generation: u64) {
        if let Ok(mut map) = self.sessions.write() {
            if map.get(&key).is_some_and(|s| s.generation == generation) {
                map.remove(&key);
            }
        }
    }

    /// Remembers a session the server no longer knows, so no carried id revives it.
    fn forget(&self, session: &Session) {
        let Some(id) = &session.id else { return };
        if let Ok(mut lost) = self.lost.write() {
            if lost.len() >= MAX_LOST {
                lost.clear();
            }
            lost.insert(id.clone());
        }
    }

    fn adopt(&self, key: u64, carried: &[CarriedSession]) -> Option<Session> {
        let found = carried
            .iter()
            .find(|c| c.server == self.tag && c.key == carried::key_tag(key))?;
        let id = HeaderValue::from_str(&found.id).ok()?;
        if self.lost.read().is_ok_and(|lost| lost.contains(&id)) {
            // Stale: the server forgot it; a new session serves this client instead.
            return None;
        }
        let session = Session {
            id: Some(id),
            protocol_version: HeaderValue::from_static(found.protocol),
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            instructions: None,
        };
        tracing::info!(server = %self.name, "continuing the upstream session the client's session carries");
        Some(session)
    }

    pub(super) fn is_current(&self, key: u64, generation: u64) -> bool {
        self.sessions
            .read()
            .ok()
            .is_some_and(|m| m.get(&key).is_some_and(|s| s.generation == generation))
    }

    async fn initialize(
        &self,
        key: u64,
        headers: &HeaderMap,
        caps: ClientCaps,
    ) -> Result<Session, UpstreamError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = jsonrpc::request(id, "initialize", Some(&initialize_params(caps)));
        let resp = self.send(headers, None, None, body).await?;
        let resp = self.refused_initialize(headers, caps, resp).await?;
        let session_id = resp.headers().get("mcp-session-id").cloned();
        let result = match self.read_reply(headers, key, resp, id, None).await? {
            Reply::Result(Err(UpstreamError::Rpc(e))) => {
                return Err(self.initialize_failed(headers, caps, e).await)
            }
            Reply::Result(r) => r?,
            Reply::SessionLost => {
                return Err(UpstreamError::Unavailable(
                    "initialize was refused (404)".into(),
                ))
            }
        };
        let parsed = serde_json::from_str::<Value>(result.get()).ok();
        let version = parsed
            .as_ref()
            .and_then(|v| {
                v.get("protocolVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| UPSTREAM_PROTOCOL_VERSION.to_string());
        let instructions = parsed.as_ref().and_then(crate::upstream::instructions_of);
        if let (Some(i), Ok(mut last)) = (&instructions, self.last_instructions.write()) {
            *last = Some(Arc::clone(i));
        }
        let session = Session {
            instructions,
            id: session_id,
            protocol_version: HeaderValue::from_str(&version)
                .unwrap_or(HeaderValue::from_static(UPSTREAM_PROTOCOL_VERSION)),
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
        };
        let note = jsonrpc::notification("notifications/initialized", None);
        let resp = self
            .send(
                headers,
                session.id.as_ref(),
                Some(&session.protocol_version),
                note,
            )
            .await?;
        let _ = resp.into_body().collect().await;
        tracing::info!(server = %self.name, version, "upstream session initialized");
        Ok(session)
    }

    async fn post(
        &self,
        headers: &HeaderMap,
        key: u64,
        session: Option<&Session>,
        id: u64,
        body: Vec<u8>,
        exchange: Option<&Arc<Exchange>>,
    ) -> Result<Reply, UpstreamError> {
        let resp = self
            .send(
                headers,
                session.and_then(|s| s.id.as_ref()),
                session.map(|s| &s.protocol_version),
                body,
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND && session.is_some_and(|s| s.id.is_some()) {
            return Ok(Reply::SessionLost);
        }
        self.read_reply(headers, key, resp, id, exchange).await
    }

    pub(super) async fn send(
        &self,
        headers: &HeaderMap,
        session_id: Option<&HeaderValue>,
        version: Option<&HeaderValue>,
        body: Vec<u8>,
    ) -> Result<http::Response<hyper::body::Incoming>, UpstreamError> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        let h = req.headers_mut();
        h.extend(headers.clone());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        if let Some(id) = session_id {
            h.insert("mcp-session-id", id.clone());
        }
        if let Some(v) = version {
            h.insert("mcp-protocol-version", v.clone());
        }
        self.client.request(req).await.map_err(|e| {
            UpstreamError::Unavailable(format!(
                "server `{}` is unreachable: {}",
                self.name,
                connect_reason(&e)
            ))
        })
    }

    /// Reads a JSON or SSE reply until the response to `id` arrives.
    pub(super) async fn read_reply(
        &self,
        headers: &HeaderMap,
        key: u64,
        resp: http::Response<hyper::body::Incoming>,
        id: u64,
        exchange: Option<&Arc<Exchange>>,
    ) -> Result<Reply, UpstreamError> {
        let status = resp.status();
        let is_sse = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_sse && status.is_success() {
            return Ok(Reply::Result(
                self.read_sse(headers, key, resp.into_body(), id, exchange)
                    .await,
            ));
        }
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| {
                UpstreamError::Unavailable(format!(
                    "server `{}` broke off its reply: {e}",
                    self.name
                ))
            })?
            .to_bytes();
        let parsed: Option<Message> = serde_json::from_slice(&body).ok();
        match parsed {
            // A reply for another request is not this call's result (an error for a
            // request the server could not read carries `id: null`).
            Some(msg)
                if msg.is_response()
                    && msg.id.as_ref().and_then(jsonrpc::Id::as_u64) != Some(id)
                    && !(msg.error.is_some()
                        && msg.id.as_ref().is_none_or(jsonrpc::Id::is_null)) =>
            {
                Err(UpstreamError::Protocol(format!(
                    "server `{}` answered another request than the one sent",
                    self.name
                )))
            }
            Some(msg) if msg.is_response() => Ok(Reply::Result(match (msg.result, msg.error) {
                (Some(r), _) => Ok(r),
                (None, Some(e)) => Err(UpstreamError::Rpc(rpc_error_from(&e))),
                _ => Err(UpstreamError::Protocol("empty response".into())),
            })),
            _ if status.is_success() => Err(UpstreamError::Protocol(format!(
                "server `{}` answered HTTP {status} without a JSON-RPC response",
                self.name
            ))),
            _ => Err(UpstreamError::Unavailable(format!(
                "server `{}` answered HTTP {}",
                self.name,
                status.as_u16()
            ))),
        }
    }

    /// Reads the event stream of one POST: messages before the response belong to
    /// that request and go to its client.
    async fn read_sse(
        &self,
        headers: &HeaderMap,
        key: u64,
        mut body: hyper::body::Incoming,
        id: u64,
        exchange: Option<&Arc<Exchange>>,
    ) -> UpstreamResult {
        let mut parser = SseParser::default();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                UpstreamError::Unavailable(format!(
                    "server `{}` broke off its event stream: {e}",
                    self.name
                ))
            })?;
            let Some(chunk) = frame.data_ref() else {
                continue;
            };
            for event in parser
                .push(chunk)
                .map_err(|e| UpstreamError::Protocol(e.to_string()))?
            {
                if event.event.as_deref().is_some_and(|e| e != "message") || event.data.is_empty() {
                    continue;
                }
                let Ok(msg) = serde_json::from_str::<Message>(&event.data) else {
                    continue;
                };
                if msg.is_response() && msg.id.as_ref().and_then(jsonrpc::Id::as_u64) == Some(id) {
                    return match (msg.result, msg.error) {
                        (Some(r), _) => Ok(r),
                        (None, Some(e)) => Err(UpstreamError::Rpc(rpc_error_from(&e))),
                        _ => Err(UpstreamError::Protocol("empty response".into())),
                    };
                }
                if msg.is_request() {
                    self.answer(key, headers, msg, exchange.cloned());
                } else {
                    self.link.notification(key, &msg, exchange);
                }
            }
        }
        Err(UpstreamError::Unavailable(format!(
            "server `{}` ended its event stream without a response",
            self.name
        )))
    }

    /// Answers a server→client request (once its client did) on a new POST, in the
    /// background.
    pub(super) fn answer(
        &self,
        key: u64,
        headers: &HeaderMap,
        msg: Message,
        exchange: Option<Arc<Exchange>>,
    ) {
        let me = self.me.clone();
        let headers = headers.clone();
        tokio::spawn(async move {
            let Some(link) = me.upgrade().map(|u| Arc::clone(&u.link)) else {
                return;
            };
            let reply = link.server_request(key, &msg, exchange.as_ref()).await;
            if let Some(this) = me.upgrade() {
                this.post_detached(key, &headers, reply);
            }
        });
    }

    /// Passes a client notification to this client's upstream session, if it has one.
    pub fn notify(&self, body: Vec<u8>, call: &CallContext<'_>) {
        if self.modern.load(Ordering::Acquire) {
            return;
        }
        let headers = call.outbound(&self.headers);
        let key = session_key(&headers, call.caps);
        if self.sessions.read().is_ok_and(|s| s.contains_key(&key)) {
            self.post_detached(key, &headers, body);
        }
    }

    /// POSTs a notification or response to the session of `key`, in the background.
    fn post_detached(&self, key: u64, headers: &HeaderMap, body: Vec<u8>) {
        let session = self.sessions.read().ok().and_then(|s| s.get(&key).cloned());
        let this = (self.client.clone(), self.url.clone(), headers.clone());
        tokio::spawn(async move {
            let (client, url, headers) = this;
            let Ok(mut req) = Request::builder()
                .method(Method::POST)
                .uri(url)
                .body(Full::new(Bytes::from(body)))
            else {
                return;
            };
            let h = req.headers_mut();
            h.extend(headers);
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            h.insert(
                header::ACCEPT,
                HeaderValue::from_static("application/json, text/event-stream"),
            );
            if let Some(s) = session {
                if let Some(id) = s.id {
                    h.insert("mcp-session-id", id);
                }
                h.insert("mcp-protocol-version", s.protocol_version);
            }
            if let Ok(resp) = client.request(req).await {
                let _ = resp.into_body().collect().await;
            }
        });
    }
}
