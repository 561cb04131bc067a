//! A streamable-HTTP server: one persistent MCP session per server, re-initialized
//! transparently when the upstream forgets it (404), connections pooled. Client session
//! ids keep carrying a lost upstream session's id: it is remembered as lost, so those
//! clients are served by the session that replaced it instead of adopting the dead one. A server that
//! refuses `initialize` and lists 2026-07-28 in `server/discover` is spoken to
//! statelessly instead (`stateless.rs`). How requests are built and replies read is
//! `wire.rs`.

mod listen;
mod stateless;
mod wire;

use http::{HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use tokio::sync::watch;

use meshgate_policy::config::ServerConfig;

use self::listen::{Listened, Listener};
use self::stateless::Stateless;
use self::wire::{Endpoint, SessionHeaders, UpstreamReply};
use crate::jsonrpc::{self, Message};
use crate::relay::exchange::cancelled;
use crate::relay::link::ServerLink;
use crate::relay::{ClientCaps, Exchange};
use crate::upstream::call::{CallContext, Outbound};
use crate::upstream::carried::{self, CarriedSession};
use crate::upstream::client::{server_url, ServerClient};
use crate::upstream::credentials::ServerHeaders;
use crate::upstream::error::{UpstreamError, UpstreamResult};
use crate::upstream::handshake::{initialize_params, instructions_of, UPSTREAM_PROTOCOL_VERSION};

/// Upstream sessions kept per server before the map is reset.
const MAX_SESSIONS: usize = 1024;
/// Lost upstream session ids remembered per server before the set is reset (then a
/// stale carried id costs one more 404 before its replacement is used).
const MAX_LOST: usize = 4096;
/// What identifies the upstream session in use.
#[derive(Clone)]
struct Session {
    id: Option<HeaderValue>,
    protocol_version: HeaderValue,
    generation: u64,
    /// What the server's `initialize` said to clients (None for an adopted session).
    instructions: Option<Arc<str>>,
}

impl Session {
    fn headers(&self) -> SessionHeaders<'_> {
        SessionHeaders {
            id: self.id.as_ref(),
            version: Some(&self.protocol_version),
        }
    }
}

pub struct HttpUpstream {
    endpoint: Endpoint,
    headers: ServerHeaders,
    /// Names this server in carried sessions.
    tag: u32,
    link: Arc<ServerLink>,
    me: Weak<HttpUpstream>,
    /// One upstream session per distinct set of outbound credentials and client
    /// capabilities.
    sessions: RwLock<HashMap<u64, Session>>,
    /// Upstream session ids the server forgot (404): never adopted again.
    lost: RwLock<HashSet<HeaderValue>>,
    init_lock: tokio::sync::Mutex<()>,
    next_id: AtomicU64,
    generation: AtomicU64,
    stop: watch::Sender<bool>,
    /// For a server that speaks only MCP 2026-07-28 (found when `initialize` was
    /// refused): requests go statelessly, without sessions.
    stateless: Stateless,
    /// The latest `instructions` any session of this server was given (for sessions
    /// adopted from another replica, which did not see them).
    last_instructions: RwLock<Option<Arc<str>>>,
}

impl HttpUpstream {
    pub fn new(
        name: &str,
        prefix: &str,
        config: &ServerConfig,
        client: ServerClient,
        link: &Arc<ServerLink>,
    ) -> Result<Arc<Self>, String> {
        let url = server_url(name, config)?;
        let headers = ServerHeaders::new(prefix, config)?;
        let endpoint = Endpoint {
            name: name.to_string(),
            url,
            client,
        };
        Ok(Arc::new_cyclic(|me| HttpUpstream {
            stateless: Stateless::new(endpoint.clone(), Arc::clone(link)),
            endpoint,
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
            last_instructions: RwLock::new(None),
        }))
    }

    /// Ends the listening streams.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    /// How this server's share of a call's headers is made.
    pub(super) fn server_headers(&self) -> &ServerHeaders {
        &self.headers
    }

    pub async fn request(
        &self,
        method: &str,
        params: Option<&Value>,
        out: &Outbound,
        call: &CallContext<'_>,
    ) -> UpstreamResult {
        let (headers, key) = (&out.headers, out.key);
        if self.stateless.is_on() {
            return self
                .stateless
                .request(method, params, call, headers, key)
                .await;
        }
        for _attempt in 0..2 {
            let session = match self.session(key, headers, call).await {
                Ok(s) => s,
                Err(_) if self.stateless.is_on() => {
                    return self
                        .stateless
                        .request(method, params, call, headers, key)
                        .await
                }
                Err(e) => return Err(e),
            };
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let body = jsonrpc::request(id, method, params);
            let posted = self.post(headers, key, &session, id, body, call.exchange);
            let reply = tokio::select! {
                r = posted => r?,
                _ = cancelled(call.exchange) => {
                    let note = serde_json::json!({"requestId": id, "reason": "cancelled by the client"});
                    self.post_detached(key, headers, jsonrpc::notification("notifications/cancelled", Some(&note)));
                    return Err(UpstreamError::Cancelled);
                }
            };
            match reply {
                UpstreamReply::Result(r) => return r,
                UpstreamReply::SessionLost => {
                    tracing::info!(server = %self.endpoint.name, "upstream session expired; re-initializing");
                    self.forget(&session);
                    self.drop_session(key, session.generation);
                }
            }
        }
        Err(UpstreamError::Unavailable(format!(
            "server `{}` keeps losing its session",
            self.endpoint.name
        )))
    }

    /// This client's upstream session as its session id should carry it.
    pub async fn carry(&self, out: &Outbound, call: &CallContext<'_>) -> Option<CarriedSession> {
        let key = out.key;
        let session = self.session(key, &out.headers, call).await.ok()?;
        Some(CarriedSession {
            server: self.tag,
            key: carried::key_tag(key),
            protocol: carried::protocol(session.protocol_version.to_str().ok()?)?,
            id: session.id?.to_str().ok()?.to_string(),
        })
    }

    /// The `instructions` of this client's upstream session (opened if needed).
    pub async fn instructions(&self, out: &Outbound, call: &CallContext<'_>) -> Option<Arc<str>> {
        if self.stateless.is_on() {
            return None;
        }
        let session = self.session(out.key, &out.headers, call).await.ok()?;
        session
            .instructions
            .or_else(|| self.last_instructions.read().ok()?.clone())
    }

    /// Ends a session the gateway will not use (DELETE, in the background).
    pub(super) fn end_session(&self, headers: &HeaderMap, id: HeaderValue) {
        let e = &self.endpoint;
        e.detached(wire::delete(&e.url, headers, &id));
    }

    /// POSTs a message outside any session (how transport detection probes).
    pub(super) async fn post_sessionless(
        &self,
        headers: &HeaderMap,
        body: Vec<u8>,
    ) -> Result<http::Response<Incoming>, UpstreamError> {
        self.endpoint
            .post(headers, SessionHeaders::default(), body)
            .await
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
        if self.stateless.is_on() {
            return Err(self.stateless.sessionless());
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
            let listened = Listened {
                key,
                headers: headers.clone(),
                id: session.id.clone(),
                version: session.protocol_version.clone(),
                generation: session.generation,
            };
            tokio::spawn(listen::listen(self.me.clone(), listened));
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
        tracing::info!(server = %self.endpoint.name, "continuing the upstream session the client's session carries");
        Some(session)
    }

    async fn initialize(
        &self,
        key: u64,
        headers: &HeaderMap,
        caps: ClientCaps,
    ) -> Result<Session, UpstreamError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = jsonrpc::request(id, "initialize", Some(&initialize_params(caps)));
        let resp = self.post_sessionless(headers, body).await?;
        let resp = self
            .stateless
            .refused_initialize(headers, caps, resp)
            .await?;
        let session_id = wire::session_id(&resp);
        let result = match self.read_reply(headers, key, resp, id, false, None).await? {
            UpstreamReply::Result(Err(UpstreamError::Rpc(e))) => {
                return Err(self.stateless.initialize_failed(headers, caps, e).await)
            }
            UpstreamReply::Result(r) => r?,
            UpstreamReply::SessionLost => {
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
        let instructions = parsed.as_ref().and_then(instructions_of);
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
        let resp = self.endpoint.post(headers, session.headers(), note).await?;
        let _ = resp.into_body().collect().await;
        tracing::info!(server = %self.endpoint.name, version, "upstream session initialized");
        Ok(session)
    }

    async fn post(
        &self,
        headers: &HeaderMap,
        key: u64,
        session: &Session,
        id: u64,
        body: Vec<u8>,
        exchange: Option<&Arc<Exchange>>,
    ) -> Result<UpstreamReply, UpstreamError> {
        let resp = self.endpoint.post(headers, session.headers(), body).await?;
        let in_session = session.id.is_some();
        self.read_reply(headers, key, resp, id, in_session, exchange)
            .await
    }

    /// Reads the reply to `id`; messages before it belong to that request.
    async fn read_reply(
        &self,
        headers: &HeaderMap,
        key: u64,
        resp: http::Response<Incoming>,
        id: u64,
        in_session: bool,
        exchange: Option<&Arc<Exchange>>,
    ) -> Result<UpstreamReply, UpstreamError> {
        wire::read_reply(&self.endpoint.name, resp, id, in_session, |msg| {
            self.relay(key, headers, msg, exchange)
        })
        .await
    }

    /// A message from the server: a request is relayed to a client and its answer
    /// POSTed back (in the background), anything else goes to the relay.
    fn relay(&self, key: u64, headers: &HeaderMap, msg: Message, exchange: Option<&Arc<Exchange>>) {
        if !msg.is_request() {
            self.link.notification(key, &msg, exchange);
            return;
        }
        let me = self.me.clone();
        let headers = headers.clone();
        let exchange = exchange.cloned();
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
    pub fn notify(&self, body: Vec<u8>, out: &Outbound) {
        if self.stateless.is_on() {
            return;
        }
        if self.sessions.read().is_ok_and(|s| s.contains_key(&out.key)) {
            self.post_detached(out.key, &out.headers, body);
        }
    }

    /// POSTs a notification or response to the session of `key`, in the background.
    fn post_detached(&self, key: u64, headers: &HeaderMap, body: Vec<u8>) {
        let session = self.sessions.read().ok().and_then(|s| s.get(&key).cloned());
        let named = session.as_ref().map(Session::headers).unwrap_or_default();
        let e = &self.endpoint;
        e.detached(wire::post(&e.url, headers, named, body));
    }
}

impl Listener for HttpUpstream {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn stopped(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    fn is_current(&self, key: u64, generation: u64) -> bool {
        self.sessions
            .read()
            .ok()
            .is_some_and(|m| m.get(&key).is_some_and(|s| s.generation == generation))
    }

    fn received(&self, key: u64, headers: &HeaderMap, msg: Message) {
        self.relay(key, headers, msg, None);
    }
}
