//! The streamable-HTTP wire: the requests the gateway sends a server (POST, the
//! listening GET, DELETE) and how a reply is read — JSON or an event stream, messages
//! before the response handed to the caller, a reply for another request an error, the
//! HTTP status turned into an error kind. Reading takes any body, so it is tested
//! without a network.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use std::fmt::Display;

use crate::jsonrpc::{self, Message};
use crate::sse::SseParser;
use crate::upstream::client::ServerClient;
use crate::upstream::error::{UpstreamError, UpstreamResult};
use crate::upstream::pending::rpc_error_from;

const SESSION_ID: &str = "mcp-session-id";
const PROTOCOL_VERSION: &str = "mcp-protocol-version";

/// The session headers of a request: the session id (none before `initialize`, none for
/// a stateless server) and the protocol version.
#[derive(Clone, Copy, Default)]
pub(super) struct SessionHeaders<'a> {
    pub id: Option<&'a HeaderValue>,
    pub version: Option<&'a HeaderValue>,
}

/// The outcome of one POST.
pub(super) enum UpstreamReply {
    Result(UpstreamResult),
    /// 404 to a request in a session: the server forgot the session.
    SessionLost,
}

/// A POST of one JSON-RPC message.
pub(super) fn post(
    url: &Uri,
    headers: &HeaderMap,
    session: SessionHeaders<'_>,
    body: Vec<u8>,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(url.clone())
        .body(Full::new(Bytes::from(body)))?;
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
    name_session(h, session);
    Ok(req)
}

/// The GET that opens a session's listening stream.
pub(super) fn listen(
    url: &Uri,
    headers: &HeaderMap,
    session: SessionHeaders<'_>,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(url.clone())
        .body(Full::new(Bytes::new()))?;
    let h = req.headers_mut();
    h.extend(headers.clone());
    h.insert(
        header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    name_session(h, session);
    Ok(req)
}

/// The DELETE that ends a session.
pub(super) fn delete(
    url: &Uri,
    headers: &HeaderMap,
    id: &HeaderValue,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let mut req = Request::builder()
        .method(Method::DELETE)
        .uri(url.clone())
        .body(Full::new(Bytes::new()))?;
    req.headers_mut().extend(headers.clone());
    req.headers_mut().insert(SESSION_ID, id.clone());
    Ok(req)
}

fn name_session(h: &mut HeaderMap, session: SessionHeaders<'_>) {
    if let Some(id) = session.id {
        h.insert(SESSION_ID, id.clone());
    }
    if let Some(v) = session.version {
        h.insert(PROTOCOL_VERSION, v.clone());
    }
}

/// The session id a response assigns.
pub(super) fn session_id(resp: &Response<Incoming>) -> Option<HeaderValue> {
    resp.headers().get(SESSION_ID).cloned()
}

/// Where one server's requests go and the client they go on. Connection failures are
/// reported without the URL (it may carry credentials).
#[derive(Clone)]
pub(super) struct Endpoint {
    pub name: String,
    pub url: Uri,
    pub client: ServerClient,
}

impl Endpoint {
    /// Sends a request built by this module.
    pub async fn send(
        &self,
        req: Result<Request<Full<Bytes>>, http::Error>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let req = req.map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        self.client.request(req).await.map_err(|e| {
            UpstreamError::Unavailable(format!(
                "server `{}` is unreachable: {}",
                self.name,
                e.reason()
            ))
        })
    }

    /// POSTs one message and waits for the response head.
    pub async fn post(
        &self,
        headers: &HeaderMap,
        session: SessionHeaders<'_>,
        body: Vec<u8>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        self.send(post(&self.url, headers, session, body)).await
    }

    /// Sends a request in the background, its answer read and dropped.
    pub fn detached(&self, req: Result<Request<Full<Bytes>>, http::Error>) {
        let Ok(req) = req else { return };
        let client = self.client.clone();
        tokio::spawn(async move {
            if let Ok(resp) = client.request(req).await {
                let _ = resp.into_body().collect().await;
            }
        });
    }
}

/// Reads the reply to request `id`: a JSON response, or an event stream whose messages
/// before the response go to `on_message` (they belong to this request). `in_session`:
/// the POST named a session, so a 404 means the server lost it.
pub(super) async fn read_reply<B>(
    server: &str,
    resp: Response<B>,
    id: u64,
    in_session: bool,
    on_message: impl FnMut(Message),
) -> Result<UpstreamReply, UpstreamError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Display,
{
    let status = resp.status();
    if status == StatusCode::NOT_FOUND && in_session {
        return Ok(UpstreamReply::SessionLost);
    }
    let is_sse = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if is_sse && status.is_success() {
        return Ok(UpstreamReply::Result(
            read_events(server, resp.into_body(), id, on_message).await,
        ));
    }
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| {
            UpstreamError::Unavailable(format!("server `{server}` broke off its reply: {e}"))
        })?
        .to_bytes();
    json_reply(server, status, &body, id).map(UpstreamReply::Result)
}

/// A reply that is not an event stream: the response to `id`, else an error by status.
fn json_reply(
    server: &str,
    status: StatusCode,
    body: &[u8],
    id: u64,
) -> Result<UpstreamResult, UpstreamError> {
    match serde_json::from_slice::<Message>(body).ok() {
        // An error for a request the server could not read carries `id: null`.
        Some(msg)
            if msg.is_response()
                && !answers(&msg, id)
                && !(msg.error.is_some() && msg.id.as_ref().is_none_or(jsonrpc::Id::is_null)) =>
        {
            Err(UpstreamError::Protocol(format!(
                "server `{server}` answered another request than the one sent"
            )))
        }
        Some(msg) if msg.is_response() => Ok(outcome(msg)),
        _ if status.is_success() => Err(UpstreamError::Protocol(format!(
            "server `{server}` answered HTTP {status} without a JSON-RPC response"
        ))),
        _ => Err(UpstreamError::Unavailable(format!(
            "server `{server}` answered HTTP {}",
            status.as_u16()
        ))),
    }
}

/// Reads an event stream until the response to `id`; other messages go to `on_message`.
async fn read_events<B>(
    server: &str,
    mut body: B,
    id: u64,
    mut on_message: impl FnMut(Message),
) -> UpstreamResult
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Display,
{
    let mut parser = SseParser::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            UpstreamError::Unavailable(format!("server `{server}` broke off its event stream: {e}"))
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
            if msg.is_response() && answers(&msg, id) {
                return outcome(msg);
            }
            on_message(msg);
        }
    }
    Err(UpstreamError::Unavailable(format!(
        "server `{server}` ended its event stream without a response"
    )))
}

fn answers(msg: &Message, id: u64) -> bool {
    msg.id.as_ref().and_then(jsonrpc::Id::as_u64) == Some(id)
}

fn outcome(msg: Message) -> UpstreamResult {
    match (msg.result, msg.error) {
        (Some(r), _) => Ok(r),
        (None, Some(e)) => Err(UpstreamError::Rpc(rpc_error_from(&e))),
        _ => Err(UpstreamError::Protocol("empty response".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, content_type: &str, body: &str) -> Response<Full<Bytes>> {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    }

    /// Reads a reply to request 7; returns it and the messages seen before it.
    async fn read(
        resp: Response<Full<Bytes>>,
        in_session: bool,
    ) -> (Result<UpstreamReply, UpstreamError>, Vec<String>) {
        let mut seen = Vec::new();
        let reply = read_reply("s", resp, 7, in_session, |m| {
            seen.push(m.method.unwrap_or_else(|| "(response)".into()))
        })
        .await;
        (reply, seen)
    }

    fn result(reply: Result<UpstreamReply, UpstreamError>) -> Result<String, UpstreamError> {
        match reply? {
            UpstreamReply::Result(r) => r.map(|raw| raw.get().to_string()),
            UpstreamReply::SessionLost => panic!("session lost"),
        }
    }

    #[tokio::test]
    async fn a_json_response_to_the_request_is_its_result() {
        let (r, _) = read(
            response(
                200,
                "application/json",
                r#"{"jsonrpc":"2.0","id":7,"result":{"a":1}}"#,
            ),
            true,
        )
        .await;
        assert_eq!(result(r).unwrap(), r#"{"a":1}"#);
    }

    #[tokio::test]
    async fn a_json_error_is_relayed_with_its_code() {
        let body = r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"bad"}}"#;
        let (r, _) = read(response(200, "application/json", body), true).await;
        assert!(matches!(result(r), Err(UpstreamError::Rpc(e)) if e.code == -32602));
    }

    #[tokio::test]
    async fn a_response_to_another_request_is_a_protocol_error() {
        let body = r#"{"jsonrpc":"2.0","id":8,"result":{}}"#;
        let (r, _) = read(response(200, "application/json", body), true).await;
        assert!(matches!(r, Err(UpstreamError::Protocol(m)) if m.contains("another request")));
    }

    #[tokio::test]
    async fn an_error_for_an_unreadable_request_counts_as_the_answer() {
        let body = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}"#;
        let (r, _) = read(response(400, "application/json", body), false).await;
        assert!(matches!(result(r), Err(UpstreamError::Rpc(e)) if e.code == -32700));
    }

    #[tokio::test]
    async fn status_decides_the_error_kind_without_a_response() {
        let (r, _) = read(response(404, "text/plain", "gone"), true).await;
        assert!(matches!(r, Ok(UpstreamReply::SessionLost)));
        let (r, _) = read(response(404, "text/plain", "gone"), false).await;
        assert!(
            matches!(r, Err(UpstreamError::Unavailable(m)) if m == "server `s` answered HTTP 404")
        );
        let (r, _) = read(response(502, "text/html", "<html>"), true).await;
        assert!(matches!(r, Err(UpstreamError::Unavailable(_))));
        let (r, _) = read(response(200, "text/plain", "ok"), true).await;
        assert!(matches!(r, Err(UpstreamError::Protocol(_))));
    }

    #[tokio::test]
    async fn messages_before_the_response_go_to_the_caller() {
        let stream = concat!(
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n",
            "event: other\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"skipped\"}\n\n",
            "data: {\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"sampling/createMessage\"}\n\n",
            "data: {\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}\n\n",
            "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"done\":true}}\n\n",
            "data: {\"jsonrpc\":\"2.0\",\"method\":\"after\"}\n\n",
        );
        let (r, seen) = read(response(200, "text/event-stream", stream), true).await;
        assert_eq!(result(r).unwrap(), r#"{"done":true}"#);
        assert_eq!(
            seen,
            [
                "notifications/progress",
                "sampling/createMessage",
                "(response)"
            ]
        );
    }

    #[tokio::test]
    async fn an_event_stream_without_the_response_is_unavailable() {
        let stream = "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n";
        let (r, seen) = read(response(200, "text/event-stream", stream), true).await;
        assert!(
            matches!(result(r), Err(UpstreamError::Unavailable(m)) if m.contains("without a response"))
        );
        assert_eq!(seen, ["notifications/message"]);
    }

    #[test]
    fn a_post_names_its_session_and_accepts_both_reply_forms() {
        let url: Uri = "http://u/mcp".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer t"));
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        let (id, version) = (
            HeaderValue::from_static("sess"),
            HeaderValue::from_static("2025-11-25"),
        );
        let session = SessionHeaders {
            id: Some(&id),
            version: Some(&version),
        };
        let req = post(&url, &headers, session, b"{}".to_vec()).unwrap();
        let h = req.headers();
        assert_eq!(req.method(), Method::POST);
        assert_eq!(h["authorization"], "Bearer t");
        assert_eq!(h[header::ACCEPT], "application/json, text/event-stream");
        assert_eq!(h[header::CONTENT_TYPE], "application/json");
        assert_eq!(h[SESSION_ID], "sess");
        assert_eq!(h[PROTOCOL_VERSION], "2025-11-25");
        let req = post(&url, &headers, SessionHeaders::default(), vec![]).unwrap();
        assert!(req.headers().get(SESSION_ID).is_none());
        assert!(req.headers().get(PROTOCOL_VERSION).is_none());
    }

    #[test]
    fn the_listening_get_and_the_delete_name_the_session() {
        let url: Uri = "http://u/mcp".parse().unwrap();
        let id = HeaderValue::from_static("sess");
        let version = HeaderValue::from_static("2025-11-25");
        let session = SessionHeaders {
            id: Some(&id),
            version: Some(&version),
        };
        let get = listen(&url, &HeaderMap::new(), session).unwrap();
        assert_eq!(get.method(), Method::GET);
        assert_eq!(get.headers()[header::ACCEPT], "text/event-stream");
        assert_eq!(get.headers()[SESSION_ID], "sess");
        let delete = delete(&url, &HeaderMap::new(), &id).unwrap();
        assert_eq!(delete.method(), Method::DELETE);
        assert_eq!(delete.headers()[SESSION_ID], "sess");
        assert!(delete.headers().get(PROTOCOL_VERSION).is_none());
    }
}
