//! Answering a 2026-07-28 request that an upstream serves (`tools/call` and the like):
//! the reply is plain JSON, an event stream once a notification must go first, or
//! `input_required` when the upstream asks the client something (`relayed.rs` tells
//! which a relayed message is).

use bytes::Bytes;
use http::Response;
use std::sync::Arc;

use super::mrtr::{park, Pending};
use super::relayed::{classify, Relayed};
use super::stamp::{frame, Outcome};
use super::{single, Declared};
use crate::body::{self, Body};
use crate::jsonrpc::{Id, RpcError};
use crate::relay::Exchange;
use crate::sse::encode_message;

/// Cancels the upstream request when the client goes away while it is being answered.
struct CancelOnDrop(Option<Arc<Exchange>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(e) = self.0.take() {
            e.cancel();
        }
    }
}

/// Answers the HTTP request of `pending`: its final result, or `input_required` when the
/// upstream asks the client something first (the request is then parked). Plain JSON
/// when nothing is relayed first; an event stream as soon as a notification is.
pub(super) async fn drive(mut pending: Pending, id: Id, declared: Declared) -> Response<Body> {
    let mut guard = CancelOnDrop(Some(Arc::clone(&pending.exchange)));
    let first = loop {
        tokio::select! {
            biased;
            m = pending.rx.recv() => match m {
                Some(m) => match classify(&m, declared.log_level) {
                    Relayed::Ask(key, request) => {
                        guard.0 = None;
                        let framed = park(pending, &id, key, request);
                        return single(framed, declared.sse_only);
                    }
                    Relayed::Notify(n) if declared.sse => break n,
                    _ => continue,
                },
                None => {
                    guard.0 = None;
                    let framed = frame(&id, (&mut pending.done).await.unwrap_or_else(|_| lost()));
                    return single(framed, declared.sse_only);
                }
            },
            framed = &mut pending.done => {
                guard.0 = None;
                let framed = frame(&id, framed.unwrap_or_else(|_| lost()));
                return single(framed, declared.sse_only);
            }
        }
    };
    guard.0 = None;
    let (tx, body) = body::channel(64);
    tokio::spawn(async move {
        let exchange = Arc::clone(&pending.exchange);
        let send = |m: &[u8]| tx.send(Bytes::from(encode_message(m)));
        if send(&first).await.is_err() {
            exchange.cancel();
            return;
        }
        loop {
            tokio::select! {
                biased;
                m = pending.rx.recv() => match m {
                    Some(m) => match classify(&m, declared.log_level) {
                        Relayed::Ask(key, request) => {
                            let framed = park(pending, &id, key, request);
                            let _ = send(&framed).await;
                            return;
                        }
                        Relayed::Notify(n) => {
                            if send(&n).await.is_err() {
                                exchange.cancel();
                                return;
                            }
                        }
                        Relayed::Drop => {}
                    },
                    None => {
                        let framed = frame(&id, (&mut pending.done).await.unwrap_or_else(|_| lost()));
                        let _ = send(&framed).await;
                        return;
                    }
                },
                framed = &mut pending.done => {
                    let framed = frame(&id, framed.unwrap_or_else(|_| lost()));
                    let _ = send(&framed).await;
                    return;
                }
            }
        }
    });
    body::sse_response(body)
}

fn lost() -> Outcome {
    Err(RpcError::internal("the request ended without a reply").to_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_messages_need_an_opt_in() {
        let m = br#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":1}}"#;
        assert!(matches!(classify(m, None), Relayed::Drop));
        assert!(matches!(classify(m, Some(1)), Relayed::Notify(_)));
        assert!(matches!(classify(m, Some(3)), Relayed::Drop));
        let ask = br#"{"jsonrpc":"2.0","id":"mg-s-1","method":"roots/list"}"#;
        assert!(matches!(classify(ask, None), Relayed::Ask(k, _) if k == "mg-s-1"));
    }
}
