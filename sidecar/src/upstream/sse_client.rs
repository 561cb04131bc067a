//! A legacy HTTP+SSE server (2024-11-05): GET the SSE URL, learn the POST endpoint from
//! the `endpoint` event, POST every message there, read responses off the stream.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::oneshot;

use meshgate_policy::config::ServerConfig;

use super::call::{CallContext, Outbound};
use super::client::{server_url, ServerClient};
use super::credentials::ServerHeaders;
use super::error::{UpstreamError, UpstreamResult};
use super::handshake::{initialize_params, instructions_of};
use super::pending::Pending;
use crate::jsonrpc::{self, Message};
use crate::relay::exchange::cancelled;
use crate::relay::link::ServerLink;
use crate::relay::ClientCaps;
use crate::sse::SseParser;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

struct Stream {
    endpoint: Uri,
    pending: Pending,
    alive: AtomicBool,
    reader: tokio::task::JoinHandle<()>,
    /// What the server's `initialize` said to clients.
    instructions: std::sync::OnceLock<Arc<str>>,
}

pub struct SseUpstream {
    name: String,
    url: Uri,
    client: ServerClient,
    headers: ServerHeaders,
    link: Arc<ServerLink>,
    /// One event stream (= one upstream session) per distinct set of outbound credentials
    /// and client capabilities.
    streams: RwLock<HashMap<u64, Arc<Stream>>>,
    connect_lock: tokio::sync::Mutex<()>,
}

impl SseUpstream {
    pub fn new(
        name: &str,
        prefix: &str,
        config: &ServerConfig,
        client: ServerClient,
        link: &Arc<ServerLink>,
    ) -> Result<Self, String> {
        let url = server_url(name, config)?;
        Ok(SseUpstream {
            name: name.to_string(),
            url,
            client,
            headers: ServerHeaders::new(prefix, config)?,
            link: Arc::clone(link),
            streams: RwLock::new(HashMap::new()),
            connect_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// How this server's share of a call's headers is made.
    pub(super) fn server_headers(&self) -> &ServerHeaders {
        &self.headers
    }

    pub async fn request(
        &self,
        method: &str,
        params: Option<&Value>,
        timeout: Duration,
        out: &Outbound,
        call: &CallContext<'_>,
    ) -> UpstreamResult {
        let headers = &out.headers;
        let stream = self.stream(out, call.caps).await?;
        let (id, rx) = stream.pending.register(call.exchange);
        if let Err(e) = self
            .post(&stream, headers, jsonrpc::request(id, method, params))
            .await
        {
            stream.pending.forget(id);
            return Err(e);
        }
        let outcome = tokio::select! {
            r = tokio::time::timeout(timeout, rx) => r,
            _ = cancelled(call.exchange) => {
                stream.pending.forget(id);
                let note = serde_json::json!({"requestId": id, "reason": "cancelled by the client"});
                let _ = self
                    .post(&stream, headers, jsonrpc::notification("notifications/cancelled", Some(&note)))
                    .await;
                return Err(UpstreamError::Cancelled);
            }
        };
        match outcome {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(UpstreamError::Unavailable(format!(
                "server `{}` closed its event stream",
                self.name
            ))),
            Err(_) => {
                stream.pending.forget(id);
                Err(UpstreamError::Timeout(timeout))
            }
        }
    }

    /// Opens (or finds) this client's event stream: its session exists afterwards.
    pub async fn open(&self, out: &Outbound, caps: ClientCaps) -> Result<(), UpstreamError> {
        self.stream(out, caps).await.map(|_| ())
    }

    /// The `instructions` of this client's upstream session (opened if needed).
    pub async fn instructions(&self, out: &Outbound, caps: ClientCaps) -> Option<Arc<str>> {
        let stream = self.stream(out, caps).await.ok()?;
        stream.instructions.get().cloned()
    }

    pub fn shutdown(&self) {
        let streams: Vec<Arc<Stream>> = match self.streams.write() {
            Ok(mut map) => map.drain().map(|(_, s)| s).collect(),
            Err(_) => return,
        };
        for s in streams {
            s.reader.abort();
            s.pending.fail_all("the gateway closed the connection");
        }
    }

    async fn stream(&self, out: &Outbound, caps: ClientCaps) -> Result<Arc<Stream>, UpstreamError> {
        let key = out.key;
        let current = || {
            self.streams
                .read()
                .ok()
                .and_then(|s| s.get(&key).cloned())
                .filter(|s| s.alive.load(Ordering::Acquire))
        };
        if let Some(s) = current() {
            return Ok(s);
        }
        let _guard = self.connect_lock.lock().await;
        if let Some(s) = current() {
            return Ok(s);
        }
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, self.connect(out, caps))
            .await
            .map_err(|_| UpstreamError::Timeout(CONNECT_TIMEOUT))??;
        if let Ok(mut map) = self.streams.write() {
            map.retain(|_, s| s.alive.load(Ordering::Acquire));
            map.insert(key, Arc::clone(&stream));
        }
        Ok(stream)
    }

    async fn connect(
        &self,
        out: &Outbound,
        caps: ClientCaps,
    ) -> Result<Arc<Stream>, UpstreamError> {
        let headers = &out.headers;
        let mut req = Request::builder()
            .method(Method::GET)
            .uri(self.url.clone())
            .body(Full::new(Bytes::new()))
            .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        req.headers_mut().extend(headers.clone());
        req.headers_mut().insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        let resp = self.client.request(req).await.map_err(|e| {
            UpstreamError::Unavailable(format!(
                "server `{}` is unreachable: {}",
                self.name,
                e.reason()
            ))
        })?;
        if !resp.status().is_success() {
            return Err(UpstreamError::Unavailable(format!(
                "server `{}` answered HTTP {} to the SSE GET",
                self.name,
                resp.status().as_u16()
            )));
        }
        let (endpoint_tx, endpoint_rx) = oneshot::channel::<String>();
        let holder: Arc<RwLock<Option<Arc<Stream>>>> = Arc::new(RwLock::new(None));
        let reader = tokio::spawn(read_events(
            Arc::clone(&self.link),
            out.key,
            headers.clone(),
            self.client.clone(),
            resp.into_body(),
            endpoint_tx,
            Arc::clone(&holder),
        ));
        let endpoint = endpoint_rx.await.map_err(|_| {
            UpstreamError::Protocol(format!("server `{}` sent no `endpoint` event", self.name))
        })?;
        let endpoint = resolve(&self.url, &endpoint).ok_or_else(|| {
            UpstreamError::Protocol(format!("server `{}` sent an unusable endpoint", self.name))
        })?;
        let stream = Arc::new(Stream {
            endpoint,
            pending: Pending::default(),
            alive: AtomicBool::new(true),
            reader,
            instructions: std::sync::OnceLock::new(),
        });
        if let Ok(mut h) = holder.write() {
            *h = Some(Arc::clone(&stream));
        }
        // Handshake on the new stream.
        let (id, rx) = stream.pending.register(None);
        self.post(
            &stream,
            headers,
            jsonrpc::request(id, "initialize", Some(&initialize_params(caps))),
        )
        .await?;
        match tokio::time::timeout(CONNECT_TIMEOUT, rx).await {
            Ok(Ok(Ok(result))) => {
                let parsed = serde_json::from_str::<Value>(result.get()).unwrap_or_default();
                if let Some(i) = instructions_of(&parsed) {
                    let _ = stream.instructions.set(i);
                }
            }
            Ok(Ok(Err(e))) => return Err(e),
            _ => {
                return Err(UpstreamError::Unavailable(format!(
                    "server `{}` did not answer initialize",
                    self.name
                )))
            }
        }
        self.post(
            &stream,
            headers,
            jsonrpc::notification("notifications/initialized", None),
        )
        .await?;
        tracing::info!(server = %self.name, "upstream SSE session initialized");
        Ok(stream)
    }

    async fn post(
        &self,
        stream: &Stream,
        headers: &HeaderMap,
        body: Vec<u8>,
    ) -> Result<(), UpstreamError> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(stream.endpoint.clone())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        req.headers_mut().extend(headers.clone());
        req.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let resp = self.client.request(req).await.map_err(|e| {
            UpstreamError::Unavailable(format!(
                "server `{}` is unreachable: {}",
                self.name,
                e.reason()
            ))
        })?;
        let status = resp.status();
        let _ = resp.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else {
            if status == http::StatusCode::NOT_FOUND {
                stream.alive.store(false, Ordering::Release);
            }
            Err(UpstreamError::Unavailable(format!(
                "server `{}` answered HTTP {} to a message",
                self.name,
                status.as_u16()
            )))
        }
    }
}

async fn read_events(
    link: Arc<ServerLink>,
    key: u64,
    headers: HeaderMap,
    client: ServerClient,
    mut body: hyper::body::Incoming,
    endpoint_tx: oneshot::Sender<String>,
    holder: Arc<RwLock<Option<Arc<Stream>>>>,
) {
    let name = link.name.clone();
    let mut endpoint_tx = Some(endpoint_tx);
    let mut parser = SseParser::default();
    let stream = || holder.read().ok().and_then(|h| h.clone());
    while let Some(Ok(frame)) = body.frame().await {
        let Some(chunk) = frame.data_ref() else {
            continue;
        };
        let Ok(events) = parser.push(chunk) else {
            break;
        };
        for event in events {
            if event.event.as_deref() == Some("endpoint") {
                if let Some(tx) = endpoint_tx.take() {
                    let _ = tx.send(event.data.trim().to_string());
                }
                continue;
            }
            let Ok(msg) = serde_json::from_str::<Message>(&event.data) else {
                continue;
            };
            let Some(s) = stream() else { continue };
            if msg.is_response() {
                s.pending.complete(msg);
            } else if msg.is_request() {
                let related = s.pending.sole_exchange();
                let (link, headers, client) = (Arc::clone(&link), headers.clone(), client.clone());
                let endpoint = s.endpoint.clone();
                tokio::spawn(async move {
                    let reply = link.server_request(key, &msg, related.as_ref()).await;
                    let Ok(mut req) = Request::builder()
                        .method(Method::POST)
                        .uri(endpoint)
                        .body(Full::new(Bytes::from(reply)))
                    else {
                        return;
                    };
                    req.headers_mut().extend(headers);
                    req.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    if let Ok(resp) = client.request(req).await {
                        let _ = resp.into_body().collect().await;
                    }
                });
            } else {
                link.notification(key, &msg, s.pending.sole_exchange().as_ref());
            }
        }
    }
    if let Some(s) = stream() {
        s.alive.store(false, Ordering::Release);
        s.pending.fail_all("the server closed its event stream");
    }
    tracing::info!(server = %name, "upstream SSE stream ended");
}

/// Resolves the `endpoint` event's URI (usually a path) against the SSE URL.
fn resolve(base: &Uri, endpoint: &str) -> Option<Uri> {
    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        return endpoint.parse().ok();
    }
    let path = if endpoint.starts_with('/') {
        endpoint.to_string()
    } else {
        let base_path = base.path();
        let dir = base_path.rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{endpoint}")
    };
    Uri::builder()
        .scheme(base.scheme()?.clone())
        .authority(base.authority()?.clone())
        .path_and_query(path)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_endpoints() {
        let base: Uri = "http://127.0.0.1:9/sse".parse().unwrap();
        assert_eq!(
            resolve(&base, "/message?sessionId=1").unwrap().to_string(),
            "http://127.0.0.1:9/message?sessionId=1"
        );
        assert_eq!(
            resolve(&base, "messages").unwrap().to_string(),
            "http://127.0.0.1:9/messages"
        );
        assert_eq!(
            resolve(&base, "http://h:1/x").unwrap().to_string(),
            "http://h:1/x"
        );
    }
}
