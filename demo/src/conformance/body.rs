//! Response bodies: a whole buffer, or an SSE stream fed by a channel (the stream ends
//! when every sender is dropped).

use bytes::Bytes;
use hyper::body::Frame;
use hyper::{Response, StatusCode};
use serde_json::Value;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

pub enum Body {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b)))),
        }
    }
}

pub type Resp = Response<Body>;

fn with_type(status: StatusCode, content_type: Option<&'static str>, body: Body) -> Resp {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Some(ct) = content_type {
        r.headers_mut()
            .insert("content-type", hyper::header::HeaderValue::from_static(ct));
    }
    r
}

/// A JSON body.
pub fn json(status: StatusCode, value: &Value) -> Resp {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    with_type(
        status,
        Some("application/json"),
        Body::Full(Some(Bytes::from(bytes))),
    )
}

/// A JSON-RPC error outside any request (`id: null`), e.g. for transport-level refusals.
pub fn rpc_error(status: StatusCode, code: i64, message: &str) -> Resp {
    json(
        status,
        &serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}}),
    )
}

/// No body (202 for notifications and responses, 200 for DELETE).
pub fn empty(status: StatusCode) -> Resp {
    with_type(status, None, Body::Full(None))
}

/// An SSE stream read from `rx`.
pub fn sse(rx: mpsc::Receiver<Bytes>) -> Resp {
    let mut r = with_type(StatusCode::OK, Some("text/event-stream"), Body::Stream(rx));
    r.headers_mut().insert(
        "cache-control",
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    r
}

/// One SSE `message` event carrying a JSON-RPC message.
pub fn sse_event(msg: &Value) -> Bytes {
    let mut out = b"event: message\ndata: ".to_vec();
    out.extend_from_slice(&serde_json::to_vec(msg).unwrap_or_default());
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}
