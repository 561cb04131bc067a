//! MCP 2026-07-28 towards a streamable-HTTP server that speaks only that revision.
//!
//! Detection: `initialize` is refused in a way a 2026-only server refuses it (HTTP 400
//! with -32022 UnsupportedProtocolVersion, -32601, or HTTP 404/405) and `server/discover`
//! lists 2026-07-28 among `supportedVersions`. From then on (per server) every request
//! is stateless: no session, `MCP-Protocol-Version: 2026-07-28`, `Mcp-Method` /
//! `Mcp-Name` headers, and `_meta` with the protocol version, the client's capabilities
//! and the gateway's client info. An MRTR `input_required` result is answered by asking
//! the client through the relay and retrying with `inputResponses` and `requestState`.
//! Cancellation is closing the response stream. A server that later refuses the
//! revision (or cannot be reached) is detected afresh on the next request.

use base64::Engine;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::wire::{self, Endpoint, SessionHeaders, UpstreamReply};
use crate::jsonrpc::{self, Message, RpcError, METHOD_NOT_FOUND, UNSUPPORTED_VERSION};
use crate::relay::exchange::cancelled;
use crate::relay::link::ServerLink;
use crate::relay::{ClientCaps, Exchange};
use crate::upstream::call::CallContext;
use crate::upstream::error::{UpstreamError, UpstreamResult};
use crate::upstream::handshake::client_info;
use crate::upstream::pending::rpc_error_from;

/// The stateless revision.
const MODERN_VERSION: &str = "2026-07-28";
/// How many times one request may come back asking for client input.
const MAX_INPUT_ROUNDS: usize = 4;
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPS: &str = "io.modelcontextprotocol/clientCapabilities";
const META_CLIENT: &str = "io.modelcontextprotocol/clientInfo";
const META_SERVER: &str = "io.modelcontextprotocol/serverInfo";

/// The stateless side of one streamable-HTTP server: whether the server was found to
/// speak only 2026-07-28, the probe that finds it, and its requests.
pub(super) struct Stateless {
    endpoint: Endpoint,
    link: Arc<ServerLink>,
    next_id: AtomicU64,
    /// Found by a probe; forgotten when a stateless request fails as if the server
    /// changed.
    found: AtomicBool,
}

impl Stateless {
    pub fn new(endpoint: Endpoint, link: Arc<ServerLink>) -> Stateless {
        Stateless {
            endpoint,
            link,
            next_id: AtomicU64::new(1),
            found: AtomicBool::new(false),
        }
    }

    /// Whether requests go statelessly.
    pub fn is_on(&self) -> bool {
        self.found.load(Ordering::Acquire)
    }

    /// What a session lookup reports for a server without sessions.
    pub fn sessionless(&self) -> UpstreamError {
        UpstreamError::Unavailable(format!(
            "server `{}` speaks MCP {MODERN_VERSION} (no sessions)",
            self.endpoint.name
        ))
    }

    /// Passes a successful `initialize` response on; a refusal becomes an error, after
    /// probing `server/discover` when it looks like a 2026-only server's.
    pub async fn refused_initialize(
        &self,
        headers: &HeaderMap,
        caps: ClientCaps,
        resp: http::Response<Incoming>,
    ) -> Result<http::Response<Incoming>, UpstreamError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let error = serde_json::from_slice::<Message>(&body)
            .ok()
            .and_then(|m| m.error)
            .map(|e| rpc_error_from(&e));
        let maybe_modern = match &error {
            Some(e) => matches!(e.code, UNSUPPORTED_VERSION | METHOD_NOT_FOUND),
            None => matches!(
                status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
        };
        if maybe_modern
            && matches!(status.as_u16(), 400 | 404 | 405)
            && self.probe(headers, caps).await
        {
            return Err(self.sessionless());
        }
        Err(match error {
            Some(e) => UpstreamError::Rpc(e),
            None => UpstreamError::Unavailable(format!(
                "server `{}` refused initialize (HTTP {})",
                self.endpoint.name,
                status.as_u16()
            )),
        })
    }

    /// An `initialize` answered with a JSON-RPC error: a 2026-only server's, if
    /// `server/discover` says so.
    pub async fn initialize_failed(
        &self,
        headers: &HeaderMap,
        caps: ClientCaps,
        e: RpcError,
    ) -> UpstreamError {
        if matches!(e.code, UNSUPPORTED_VERSION | METHOD_NOT_FOUND)
            && self.probe(headers, caps).await
        {
            return self.sessionless();
        }
        UpstreamError::Rpc(e)
    }

    /// Asks `server/discover`; true (and remembered) when the server lists 2026-07-28.
    async fn probe(&self, headers: &HeaderMap, caps: ClientCaps) -> bool {
        let method = "server/discover";
        let Ok(request_headers) = modern_headers(headers, method, None) else {
            return false;
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = jsonrpc::request(id, method, Some(&with_meta(None, caps)));
        let Ok(resp) = self.post(&request_headers, body).await else {
            return false;
        };
        let listed = match self.read_reply(headers, 0, resp, id, None).await {
            Ok(UpstreamReply::Result(Ok(raw))) => serde_json::from_str::<Value>(raw.get())
                .ok()
                .and_then(|v| v.get("supportedVersions").cloned())
                .and_then(|v| v.as_array().cloned())
                .is_some_and(|list| list.iter().any(|v| v.as_str() == Some(MODERN_VERSION))),
            _ => false,
        };
        if listed {
            tracing::info!(server = %self.endpoint.name, "upstream speaks only MCP {MODERN_VERSION}; requests go statelessly");
            self.found.store(true, Ordering::Release);
        }
        listed
    }

    /// One request to a 2026-only server; cancelled by dropping the POST (closing the
    /// response stream).
    pub async fn request(
        &self,
        method: &str,
        params: Option<&Value>,
        call: &CallContext<'_>,
        headers: &HeaderMap,
        key: u64,
    ) -> UpstreamResult {
        match method {
            // Gone in 2026-07-28: nothing to ask a server that has no sessions.
            "ping" | "logging/setLevel" => return empty_result(),
            "resources/subscribe" | "resources/unsubscribe" => {
                return Err(UpstreamError::Rpc(RpcError::method_not_found(format!(
                    "server `{}` speaks MCP {MODERN_VERSION}, which has no `{method}`",
                    self.endpoint.name
                ))))
            }
            _ => {}
        }
        let outcome = tokio::select! {
            r = self.rounds(method, params, call, headers, key) => r,
            _ = cancelled(call.exchange) => return Err(UpstreamError::Cancelled),
        };
        if let Err(e) = &outcome {
            let forget = match e {
                UpstreamError::Rpc(e) => e.code == UNSUPPORTED_VERSION,
                UpstreamError::Unavailable(_) | UpstreamError::Protocol(_) => true,
                UpstreamError::Timeout(_) | UpstreamError::Cancelled => false,
            };
            if forget && self.found.swap(false, Ordering::AcqRel) {
                tracing::info!(server = %self.endpoint.name, "upstream failed a {MODERN_VERSION} request; its revision will be detected again");
            }
        }
        outcome
    }

    /// Sends the request, answering `input_required` results, until it completes.
    async fn rounds(
        &self,
        method: &str,
        params: Option<&Value>,
        call: &CallContext<'_>,
        headers: &HeaderMap,
        key: u64,
    ) -> UpstreamResult {
        let request_headers = modern_headers(headers, method, params)?;
        let mut params = with_meta(params, call.caps);
        for _round in 0..=MAX_INPUT_ROUNDS {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let body = jsonrpc::request(id, method, Some(&params));
            let resp = self.post(&request_headers, body).await?;
            let raw = match self
                .read_reply(headers, key, resp, id, call.exchange)
                .await?
            {
                UpstreamReply::Result(r) => r?,
                UpstreamReply::SessionLost => {
                    return Err(UpstreamError::Protocol("unexpected session loss".into()))
                }
            };
            let Ok(Value::Object(mut result)) = serde_json::from_str::<Value>(raw.get()) else {
                return Err(UpstreamError::Protocol(format!(
                    "server `{}` sent a result that is not a JSON object",
                    self.endpoint.name
                )));
            };
            if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
                return complete(result);
            }
            let answers = self.gather_input(&result, call, key).await?;
            if let Some(p) = params.as_object_mut() {
                p.insert("inputResponses".into(), Value::Object(answers));
                match result.remove("requestState") {
                    Some(state) => p.insert("requestState".into(), state),
                    None => p.remove("requestState"),
                };
            }
        }
        Err(UpstreamError::Protocol(format!(
            "server `{}` asked for client input more than {MAX_INPUT_ROUNDS} times",
            self.endpoint.name
        )))
    }

    /// Asks the client each of an `input_required` result's `inputRequests` (through
    /// the relay, as a server→client request of the handshake era); the answers keyed
    /// like the requests.
    async fn gather_input(
        &self,
        result: &Map<String, Value>,
        call: &CallContext<'_>,
        session: u64,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let Some(Value::Object(requests)) = result.get("inputRequests") else {
            return Err(UpstreamError::Protocol(
                "input_required without `inputRequests`".into(),
            ));
        };
        let mut answers = Map::new();
        for (n, (key, request)) in requests.iter().enumerate() {
            let Some(method) = request.get("method").and_then(Value::as_str) else {
                return Err(UpstreamError::Protocol(format!(
                    "input request `{key}` names no method"
                )));
            };
            let msg = Message {
                id: Some(jsonrpc::Id::from_string(&format!("mrtr-{n}"))),
                method: Some(method.to_string()),
                params: request.get("params").cloned(),
                result: None,
                error: None,
            };
            let reply = self.link.server_request(session, &msg, call.exchange).await;
            let reply: Message = serde_json::from_slice(&reply)
                .map_err(|e| UpstreamError::Protocol(format!("relayed answer: {e}")))?;
            let answer = match (reply.result, reply.error) {
                (Some(r), _) => serde_json::from_str::<Value>(r.get())
                    .map_err(|e| UpstreamError::Protocol(format!("relayed answer: {e}")))?,
                (None, Some(e)) => return Err(UpstreamError::Rpc(rpc_error_from(&e))),
                _ => return Err(UpstreamError::Protocol("empty relayed answer".into())),
            };
            answers.insert(key.clone(), answer);
        }
        Ok(answers)
    }

    /// POSTs one stateless request.
    async fn post(
        &self,
        headers: &HeaderMap,
        body: Vec<u8>,
    ) -> Result<http::Response<Incoming>, UpstreamError> {
        let version = HeaderValue::from_static(MODERN_VERSION);
        let session = SessionHeaders {
            id: None,
            version: Some(&version),
        };
        self.endpoint.post(headers, session, body).await
    }

    /// Reads the reply to `id`; server→client requests before it are relayed to the
    /// client and answered on a POST of their own, other messages go to the relay.
    async fn read_reply(
        &self,
        headers: &HeaderMap,
        key: u64,
        resp: http::Response<Incoming>,
        id: u64,
        exchange: Option<&Arc<Exchange>>,
    ) -> Result<UpstreamReply, UpstreamError> {
        wire::read_reply(&self.endpoint.name, resp, id, false, |msg| {
            if msg.is_request() {
                self.answer(key, headers, msg, exchange.cloned());
            } else {
                self.link.notification(key, &msg, exchange);
            }
        })
        .await
    }

    /// Answers a server→client request (once its client did) on a new POST, in the
    /// background.
    fn answer(&self, key: u64, headers: &HeaderMap, msg: Message, exchange: Option<Arc<Exchange>>) {
        let (link, endpoint, headers) = (
            Arc::clone(&self.link),
            self.endpoint.clone(),
            headers.clone(),
        );
        tokio::spawn(async move {
            let reply = link.server_request(key, &msg, exchange.as_ref()).await;
            endpoint.detached(wire::post(
                &endpoint.url,
                &headers,
                SessionHeaders::default(),
                reply,
            ));
        });
    }
}

fn empty_result() -> UpstreamResult {
    serde_json::value::to_raw_value(&serde_json::json!({}))
        .map_err(|e| UpstreamError::Protocol(e.to_string()))
}

/// A complete result as a handshake-era result: without `resultType`, cache hints and
/// the server's `serverInfo` (a 2026 client gets the gateway's stamped on instead).
fn complete(mut result: Map<String, Value>) -> UpstreamResult {
    result.remove("resultType");
    result.remove("ttlMs");
    result.remove("cacheScope");
    if let Some(Value::Object(meta)) = result.get_mut("_meta") {
        meta.remove(META_SERVER);
        if meta.is_empty() {
            result.remove("_meta");
        }
    }
    serde_json::value::to_raw_value(&Value::Object(result))
        .map_err(|e| UpstreamError::Protocol(e.to_string()))
}

/// The params with the per-request `_meta` of 2026-07-28 added to what `_meta` holds.
fn with_meta(params: Option<&Value>, caps: ClientCaps) -> Value {
    let mut params = match params {
        Some(Value::Object(p)) => p.clone(),
        _ => Map::new(),
    };
    let meta = params
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Some(m) = meta.as_object_mut() {
        m.insert(META_VERSION.into(), Value::String(MODERN_VERSION.into()));
        m.insert(META_CAPS.into(), caps.to_json());
        m.insert(META_CLIENT.into(), client_info());
    }
    Value::Object(params)
}

/// The outbound headers plus `Mcp-Method` and, where the method has one, `Mcp-Name`.
fn modern_headers(
    base: &HeaderMap,
    method: &str,
    params: Option<&Value>,
) -> Result<HeaderMap, UpstreamError> {
    use meshgate_policy::mcp_headers::{name_field, METHOD_HEADER, NAME_HEADER};
    let mut h = base.clone();
    h.insert(METHOD_HEADER, header_value(method)?);
    let name = name_field(method).and_then(|f| params?.get(f)?.as_str());
    if let Some(name) = name {
        h.insert(NAME_HEADER, header_value(name)?);
    }
    Ok(h)
}

/// A header value: plain visible ASCII as it is, anything else as
/// `=?base64?<standard base64 of the UTF-8 bytes>?=`.
fn header_value(value: &str) -> Result<HeaderValue, UpstreamError> {
    let plain = !value.is_empty()
        && value.bytes().all(|b| (0x21..=0x7e).contains(&b))
        && !value.starts_with("=?base64?");
    let text = if plain {
        value.to_string()
    } else {
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
        )
    };
    HeaderValue::from_str(&text).map_err(|e| UpstreamError::Protocol(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_outside_visible_ascii_are_encoded() {
        assert_eq!(header_value("add").unwrap(), "add");
        assert_eq!(header_value("café").unwrap(), "=?base64?Y2Fmw6k=?=");
        assert_eq!(header_value("a b").unwrap(), "=?base64?YSBi?=");
    }

    #[test]
    fn headers_name_the_method_and_target() {
        let params = json!({"name": "echo"});
        let h = modern_headers(&HeaderMap::new(), "tools/call", Some(&params)).unwrap();
        assert_eq!(h["mcp-method"], "tools/call");
        assert_eq!(h["mcp-name"], "echo");
        let h = modern_headers(&HeaderMap::new(), "tools/list", Some(&params)).unwrap();
        assert!(h.get("mcp-name").is_none());
    }

    #[test]
    fn meta_is_added_beside_what_is_there() {
        let p = with_meta(
            Some(&json!({"_meta": {"progressToken": "t"}, "x": 1})),
            ClientCaps(0),
        );
        assert_eq!(p["_meta"]["progressToken"], "t");
        assert_eq!(p["_meta"][META_VERSION], MODERN_VERSION);
        assert_eq!(p["x"], 1);
        assert!(p["_meta"][META_CLIENT]["name"].is_string());
    }

    #[test]
    fn complete_results_lose_the_2026_fields() {
        let r = json!({"resultType": "complete", "ttlMs": 5, "cacheScope": "public",
                       "_meta": {META_SERVER: {}}, "tools": []});
        let Value::Object(r) = r else { unreachable!() };
        let raw = complete(r).unwrap();
        assert_eq!(raw.get(), r#"{"tools":[]}"#);
    }
}
