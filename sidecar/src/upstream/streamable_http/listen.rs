//! The listening GET stream of an upstream HTTP session: what the server sends
//! unrelated to any request, handed back to the connector that opened the session.

use http::{HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use std::sync::Weak;
use std::time::Duration;
use tokio::sync::watch;

use super::wire::{self, Endpoint, SessionHeaders};
use crate::jsonrpc::Message;
use crate::sse::SseParser;

/// How often an idle listening stream checks that its session is still the one in use.
const LISTEN_CHECK: Duration = Duration::from_secs(15);

/// What a listening stream needs from the connector whose session it listens to.
pub(super) trait Listener: Send + Sync + 'static {
    fn endpoint(&self) -> &Endpoint;
    /// Turns true when the server is removed.
    fn stopped(&self) -> watch::Receiver<bool>;
    /// Whether the session of `key` is still the one of this `generation`.
    fn is_current(&self, key: u64, generation: u64) -> bool;
    /// A message the server sent on the stream of `key`.
    fn received(&self, key: u64, headers: &HeaderMap, msg: Message);
}

/// The session being listened to.
pub(super) struct Listened {
    pub key: u64,
    pub headers: HeaderMap,
    pub id: Option<HeaderValue>,
    pub version: HeaderValue,
    pub generation: u64,
}

/// The session's GET stream: what the server sends unrelated to any request
/// (list_changed, resource updates, logs). Reopened while the session is in use; ends
/// when the server has none (405), the session is replaced, or the server is removed.
pub(super) async fn listen<L: Listener>(me: Weak<L>, session: Listened) {
    let Listened {
        key,
        headers,
        id,
        version,
        generation,
    } = session;
    let mut backoff = Duration::from_millis(500);
    loop {
        let Some(this) = me.upgrade() else { return };
        let mut stop = this.stopped();
        if *stop.borrow() || !this.is_current(key, generation) {
            return;
        }
        let endpoint = this.endpoint();
        let named = SessionHeaders {
            id: id.as_ref(),
            version: Some(&version),
        };
        let Ok(req) = wire::listen(&endpoint.url, &headers, named) else {
            return;
        };
        let resp = match endpoint.client.request(req).await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                tracing::debug!(server = %endpoint.name, status = r.status().as_u16(), "no listening stream");
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
                    if this.is_current(key, generation) { continue } else { return }
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
                if !msg.is_response() {
                    this.received(key, &headers, msg);
                }
            }
            backoff = Duration::from_millis(500);
        }
        drop(this);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
