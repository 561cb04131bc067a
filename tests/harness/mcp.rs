//! A raw MCP client over streamable HTTP for tests that must see every message: it
//! reads event streams incrementally, so a test can answer a server's request in the
//! middle of a stream, cancel, or hold a GET stream open.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::time::Duration;

/// How long a test waits for the next message before failing.
pub const NEXT_WITHIN: Duration = Duration::from_secs(30);

pub struct RawMcp {
    pub url: String,
    key: String,
    pub session: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl RawMcp {
    /// Initializes a session declaring `capabilities`.
    pub async fn connect(url: &str, key: &str, capabilities: Value) -> RawMcp {
        let mut mcp = RawMcp {
            url: url.to_string(),
            key: key.to_string(),
            session: None,
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        let params = json!({
            "protocolVersion": "2025-11-25",
            "capabilities": capabilities,
            "clientInfo": {"name": "meshgate-raw-test", "version": "1"},
        });
        let resp = mcp
            .send(
                "POST",
                Some(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})),
            )
            .await;
        assert_eq!(resp.status(), 200, "initialize");
        mcp.session = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        assert!(mcp.session.is_some(), "initialize returned no session id");
        Events::from(resp).next().await;
        assert_eq!(mcp.notify("notifications/initialized", None).await, 202);
        mcp
    }

    async fn send(&self, method: &str, body: Option<Value>) -> hyper::Response<Incoming> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(&self.url)
            .header("authorization", format!("Bearer {}", self.key))
            .header("mcp-protocol-version", "2025-11-25");
        req = if body.is_some() {
            req.header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
        } else {
            req.header("accept", "text/event-stream")
        };
        if let Some(s) = &self.session {
            req = req.header("mcp-session-id", s);
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = req.body(Full::new(Bytes::from(body))).expect("request");
        self.client.request(req).await.expect("gateway reachable")
    }

    /// Sends a request and returns its reply as a stream of messages.
    pub async fn start(&self, id: Value, method: &str, params: Value) -> Events {
        let resp = self
            .send(
                "POST",
                Some(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})),
            )
            .await;
        assert_eq!(resp.status(), 200, "{method}");
        Events::from(resp)
    }

    /// A request whose related messages are ignored; returns the response.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let mut events = self.start(json!(method), method, params).await;
        loop {
            let m = events.next().await.expect("a response");
            if m.get("method").is_none() {
                return m;
            }
        }
    }

    pub async fn notify(&self, method: &str, params: Option<Value>) -> u16 {
        let mut msg = json!({"jsonrpc": "2.0", "method": method});
        if let Some(p) = params {
            msg["params"] = p;
        }
        self.send("POST", Some(msg)).await.status().as_u16()
    }

    /// Answers a request the gateway relayed from an upstream.
    pub async fn answer(&self, id: &Value, result: Value) -> u16 {
        let msg = json!({"jsonrpc": "2.0", "id": id, "result": result});
        self.send("POST", Some(msg)).await.status().as_u16()
    }

    /// Opens the session's GET stream.
    pub async fn listen(&self) -> Events {
        let resp = self.send("GET", None).await;
        assert_eq!(resp.status(), 200, "GET stream");
        Events::from(resp)
    }
}

/// Messages of one response: a JSON body (one message) or an event stream.
pub struct Events {
    pub content_type: String,
    body: Incoming,
    buffer: Vec<u8>,
    json: bool,
    done: bool,
}

impl From<hyper::Response<Incoming>> for Events {
    fn from(resp: hyper::Response<Incoming>) -> Self {
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Events {
            json: content_type.starts_with("application/json"),
            content_type,
            body: resp.into_body(),
            buffer: Vec::new(),
            done: false,
        }
    }
}

impl Events {
    /// The next message, None at the end; fails the test after [`NEXT_WITHIN`].
    pub async fn next(&mut self) -> Option<Value> {
        self.next_within(NEXT_WITHIN)
            .await
            .unwrap_or_else(|| panic!("no message within {NEXT_WITHIN:?}"))
    }

    /// Like `next`, but None (instead of failing) when nothing comes in time.
    pub async fn next_within(&mut self, within: Duration) -> Option<Option<Value>> {
        tokio::time::timeout(within, self.read()).await.ok()
    }

    async fn read(&mut self) -> Option<Value> {
        loop {
            if !self.json {
                if let Some(end) = find(&self.buffer, b"\n\n") {
                    let event: Vec<u8> = self.buffer.drain(..end + 2).collect();
                    let text = String::from_utf8_lossy(&event);
                    let data: Vec<&str> = text
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:"))
                        .map(str::trim_start)
                        .collect();
                    if data.is_empty() || data.iter().all(|d| d.is_empty()) {
                        continue;
                    }
                    return Some(
                        serde_json::from_str(&data.join("\n")).expect("event data is JSON"),
                    );
                }
            }
            if self.done {
                if self.json && !self.buffer.is_empty() {
                    let body = std::mem::take(&mut self.buffer);
                    return Some(serde_json::from_slice(&body).expect("JSON body"));
                }
                return None;
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(d) = frame.data_ref() {
                        self.buffer.extend_from_slice(d);
                    }
                }
                _ => self.done = true,
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// POSTs `body` with `headers` and returns the status and the reply as messages (for
/// streams not tied to a session, e.g. 2026-07-28 `subscriptions/listen`).
pub async fn post_events(url: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Events) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let resp = client.request(req).await.expect("gateway reachable");
    (resp.status().as_u16(), Events::from(resp))
}

/// A legacy HTTP+SSE (2024-11-05) client's stream: `GET {base}/sse` with `headers`.
/// Returns the stream's messages after its `endpoint` event, and the URL that event
/// names (where the client POSTs its messages, each answered 202 and on the stream).
pub async fn legacy_sse(base: &str, headers: &[(&str, &str)]) -> (Events, String) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::builder()
        .method("GET")
        .uri(format!("{base}/sse"))
        .header("accept", "text/event-stream");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("gateway reachable");
    assert_eq!(resp.status(), 200, "GET /sse");
    let mut events = Events::from(resp);
    loop {
        if let Some(end) = find(&events.buffer, b"\n\n") {
            let event: Vec<u8> = events.buffer.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&event).into_owned();
            if let Some(path) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
                return (events, format!("{base}{}", path.trim()));
            }
            continue;
        }
        let frame = tokio::time::timeout(NEXT_WITHIN, events.body.frame())
            .await
            .expect("endpoint event in time")
            .expect("stream open")
            .expect("stream readable");
        if let Some(d) = frame.data_ref() {
            events.buffer.extend_from_slice(d);
        }
    }
}
