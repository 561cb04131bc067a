//! Reading a request body up to `meshgate.max_body_bytes`. An over-limit body is
//! drained (read and dropped, within bounds) before the 413 goes out: a server that
//! answers and closes with unread request bytes in its socket makes the kernel reset
//! the connection, and the peer (Envoy) discards the answer with it — the client then
//! saw Envoy's text/plain 503 instead of the JSON 413.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use std::time::Duration;

/// At most this much of an over-limit body is drained, for at most [`DRAIN_TIME`];
/// beyond, the connection is closed (the client may then see a reset).
const DRAIN_BYTES: u64 = 1 << 30;
const DRAIN_TIME: Duration = Duration::from_secs(30);

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge(usize),
    Unreadable,
}

/// The whole body, or [`BodyError::TooLarge`] once it is known to exceed `limit`
/// (from `Content-Length` or while reading).
pub async fn read(mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    if body.size_hint().lower() > limit as u64 {
        drain(body).await;
        return Err(BodyError::TooLarge(limit));
    }
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(BodyError::Unreadable);
        };
        if let Some(data) = frame.data_ref() {
            if buf.len() + data.len() > limit {
                drain(body).await;
                return Err(BodyError::TooLarge(limit));
            }
            buf.extend_from_slice(data);
        }
    }
    Ok(buf.freeze())
}

async fn drain(mut body: Incoming) {
    let mut seen = 0u64;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen > DRAIN_BYTES {
                return;
            }
        }
    })
    .await;
}
