//! The listening GET stream of an upstream HTTP session: what the server sends
//! unrelated to any request, handed to the relay.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use std::sync::Weak;
use std::time::Duration;

use super::{HttpUpstream, Session};
use crate::jsonrpc::Message;
use crate::sse::SseParser;

/// How often an idle listening stream checks that its session is still the one in use.
const LISTEN_CHECK: Duration = Duration::from_secs(15);

/// The session's GET stream: what the server sends unrelated to any request
/// (list_changed, resource updates, logs). Reopened while the session is in use; ends
/// when the server has none (405), the session is replaced, or the server is removed.
pub(super) async fn listen(me: Weak<HttpUpstream>, key: u64, headers: HeaderMap, session: Session) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let Some(this) = me.upgrade() else { return };
        let mut stop = this.stop.subscribe();
        if *stop.borrow() || !this.is_current(key, session.generation) {
            return;
        }
        let Ok(mut req) = Request::builder()
            .method(Method::GET)
            .uri(this.url.clone())
            .body(Full::new(Bytes::new()))
        else {
            return;
        };
        let h = req.headers_mut();
        h.extend(headers.clone());
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        if let Some(id) = &session.id {
            h.insert("mcp-session-id", id.clone());
        }
        h.insert("mcp-protocol-version", session.protocol_version.clone());
        let resp = match this.client.request(req).await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                tracing::debug!(server = %this.name, status = r.status().as_u16(), "no listening stream");
                return;
            }
            Err(_) => {
                drop(this);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        let mut body = resp.into_body();
        let mut parser = SseParser::default();
        loop {
            let frame = tokio::select! {
                f = body.frame() => f,
                _ = stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(LISTEN_CHECK) => {
                    if this.is_current(key, session.generation) { continue } else { return }
                }
            };
            let Some(Ok(frame)) = frame else { break };
            let Some(chunk) = frame.data_ref() else {
                continue;
            };
            let Ok(events) = parser.push(chunk) else {
                break;
            };
            for event in events {
                let Ok(msg) = serde_json::from_str::<Message>(&event.data) else {
                    continue;
                };
                if msg.is_request() {
                    this.answer(key, &headers, msg, None);
                } else if !msg.is_response() {
                    this.link.notification(key, &msg, None);
                }
            }
            backoff = Duration::from_millis(500);
        }
        drop(this);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
