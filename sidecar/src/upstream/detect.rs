//! A URL server configured without `transport` (LiteLLM's documented examples omit it
//! for both kinds): which transport it speaks is found as the MCP specification's
//! backwards-compatibility section says — POST an `initialize` to the URL; if it
//! succeeds, it is streamable HTTP; on a 4xx, GET the URL and expect the legacy SSE
//! stream with its `endpoint` event. The answer is remembered for the server (and
//! logged); until one is found (the server is down, or answers 5xx), every request
//! detects again. A server that refuses both (e.g. one that speaks only MCP 2026-07-28)
//! is left to the streamable-HTTP connector, which has its own detection for that.

use http::StatusCode;
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use meshgate_policy::config::{ServerConfig, Transport};

use super::call::{CallContext, Outbound};
use super::client::ServerClient;
use super::credentials::ServerHeaders;
use super::error::{UpstreamError, UpstreamResult};
use super::handshake::initialize_params;
use super::sse_client::SseUpstream;
use super::streamable_http::HttpUpstream;
use crate::jsonrpc;
use crate::relay::link::ServerLink;

pub struct DetectingUpstream {
    name: String,
    http: Arc<HttpUpstream>,
    sse: Arc<SseUpstream>,
    chosen: OnceLock<Transport>,
    detect_lock: tokio::sync::Mutex<()>,
}

/// What the `initialize` probe showed.
enum Probe {
    Streamable,
    /// A 4xx: a legacy server, if its GET opens an event stream.
    Refused(u16),
}

impl DetectingUpstream {
    pub fn new(
        name: &str,
        prefix: &str,
        config: &ServerConfig,
        client: ServerClient,
        link: &Arc<ServerLink>,
    ) -> Result<Self, String> {
        Ok(DetectingUpstream {
            name: name.to_string(),
            http: HttpUpstream::new(name, prefix, config, client.clone(), link)?,
            sse: Arc::new(SseUpstream::new(name, prefix, config, client, link)?),
            chosen: OnceLock::new(),
            detect_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The transport detection chose, once it has.
    pub fn chosen(&self) -> Option<Transport> {
        self.chosen.get().copied()
    }

    pub(super) fn server_headers(&self) -> &ServerHeaders {
        self.http.server_headers()
    }

    /// The transport in use, detecting it first if nobody has yet.
    async fn transport(
        &self,
        out: &Outbound,
        call: &CallContext<'_>,
    ) -> Result<Transport, UpstreamError> {
        if let Some(t) = self.chosen.get() {
            return Ok(*t);
        }
        let _guard = self.detect_lock.lock().await;
        if let Some(t) = self.chosen.get() {
            return Ok(*t);
        }
        match self.probe(out, call).await? {
            Probe::Streamable => Ok(self.remember(Transport::Http, "initialize was accepted")),
            Probe::Refused(status) => match self.sse.open(out, call.caps).await {
                Ok(()) => Ok(self.remember(
                    Transport::Sse,
                    &format!("initialize got HTTP {status}; the GET opened a legacy event stream"),
                )),
                Err(e) => {
                    tracing::info!(server = %self.name, "initialize got HTTP {status} and the legacy SSE GET failed ({e}); trying streamable HTTP");
                    // Not remembered: the streamable-HTTP connector decides (e.g. a
                    // 2026-07-28 server), or the server is not ready yet.
                    Ok(Transport::Http)
                }
            },
        }
    }

    fn remember(&self, transport: Transport, why: &str) -> Transport {
        if self.chosen.set(transport).is_ok() {
            let kind = match transport {
                Transport::Sse => "legacy HTTP+SSE",
                _ => "streamable HTTP",
            };
            tracing::info!(server = %self.name, transport = kind, "no `transport` configured: detected {kind} ({why})");
        }
        transport
    }

    /// POSTs `initialize` with this request's headers. A session it opens is ended
    /// again (the connector opens its own, per credential set).
    async fn probe(&self, out: &Outbound, call: &CallContext<'_>) -> Result<Probe, UpstreamError> {
        let headers = &out.headers;
        let body = jsonrpc::request(0, "initialize", Some(&initialize_params(call.caps)));
        let resp = self.http.post_sessionless(headers, body).await?;
        let status = resp.status();
        let session = resp.headers().get("mcp-session-id").cloned();
        // Only the status matters; a streamed reply is not waited for.
        drop(resp);
        if status.is_success() {
            if let Some(id) = session {
                self.http.end_session(headers, id);
            }
            return Ok(Probe::Streamable);
        }
        if status.is_client_error() && status != StatusCode::REQUEST_TIMEOUT {
            return Ok(Probe::Refused(status.as_u16()));
        }
        Err(UpstreamError::Unavailable(format!(
            "server `{}` answered HTTP {} to initialize",
            self.name,
            status.as_u16()
        )))
    }

    pub async fn request(
        &self,
        method: &str,
        params: Option<&Value>,
        timeout: Duration,
        out: &Outbound,
        call: &CallContext<'_>,
    ) -> UpstreamResult {
        match self.transport(out, call).await? {
            Transport::Sse => self.sse.request(method, params, timeout, out, call).await,
            _ => {
                let result = self.http.request(method, params, out, call).await;
                if result.is_ok() && self.chosen.get().is_none() {
                    self.remember(
                        Transport::Http,
                        "the legacy GET failed, streamable HTTP worked",
                    );
                }
                result
            }
        }
    }

    pub async fn carry(
        &self,
        out: &Outbound,
        call: &CallContext<'_>,
    ) -> Option<super::carried::CarriedSession> {
        match self.transport(out, call).await.ok()? {
            Transport::Sse => {
                let _ = self.sse.open(out, call.caps).await;
                None
            }
            _ => self.http.carry(out, call).await,
        }
    }

    pub async fn instructions(&self, out: &Outbound, call: &CallContext<'_>) -> Option<Arc<str>> {
        match self.transport(out, call).await.ok()? {
            Transport::Sse => self.sse.instructions(out, call.caps).await,
            _ => self.http.instructions(out, call).await,
        }
    }

    pub fn notify(&self, body: Vec<u8>, out: &Outbound) {
        if let Some(Transport::Http) = self.chosen.get() {
            self.http.notify(body, out);
        }
    }

    pub fn shutdown(&self) {
        self.http.shutdown();
        self.sse.shutdown();
    }
}
