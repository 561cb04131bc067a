//! In-flight requests of one upstream connection, keyed by the gateway's own ids
//! (client ids are remapped so many clients can share one connection).

use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

use crate::relay::Exchange;

use super::error::{UpstreamError, UpstreamResult};
use crate::jsonrpc::{Message, RpcError, INTERNAL_ERROR};

#[derive(Default)]
pub struct Pending {
    next_id: AtomicU64,
    waiting: Mutex<HashMap<u64, Waiter>>,
}

struct Waiter {
    tx: oneshot::Sender<UpstreamResult>,
    /// The client request this one serves, for relaying what the server sends meanwhile.
    exchange: Option<Arc<Exchange>>,
}

impl Pending {
    /// Reserves an id and the receiver its answer will arrive on.
    pub fn register(
        &self,
        exchange: Option<&Arc<Exchange>>,
    ) -> (u64, oneshot::Receiver<UpstreamResult>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiting.lock() {
            w.insert(
                id,
                Waiter {
                    tx,
                    exchange: exchange.cloned(),
                },
            );
        }
        (id, rx)
    }

    /// The client request a message from the server belongs to. A stdio or legacy SSE
    /// connection does not say, so it is only known when exactly one request with a
    /// client stream is in flight; otherwise None (never a guess: a wrong guess would
    /// show one client another's data).
    pub fn sole_exchange(&self) -> Option<Arc<Exchange>> {
        let w = self.waiting.lock().ok()?;
        let mut streaming = w.values().filter_map(|x| x.exchange.as_ref());
        let first = streaming.next()?;
        streaming.next().is_none().then(|| Arc::clone(first))
    }

    pub fn forget(&self, id: u64) {
        if let Ok(mut w) = self.waiting.lock() {
            w.remove(&id);
        }
    }

    /// Routes a response message to its waiter; false if nobody waits for it.
    pub fn complete(&self, msg: Message) -> bool {
        let Some(id) = msg.id.as_ref().and_then(crate::jsonrpc::Id::as_u64) else {
            return false;
        };
        let Some(Waiter { tx, .. }) = self.waiting.lock().ok().and_then(|mut w| w.remove(&id))
        else {
            return false;
        };
        let outcome = match (msg.result, msg.error) {
            (Some(result), _) => Ok(result),
            (None, Some(err)) => Err(UpstreamError::Rpc(rpc_error_from(&err))),
            (None, None) => Err(UpstreamError::Protocol(
                "response without result or error".into(),
            )),
        };
        let _ = tx.send(outcome);
        true
    }

    /// Fails every waiter (the connection is gone).
    pub fn fail_all(&self, why: &str) {
        let drained: Vec<_> = match self.waiting.lock() {
            Ok(mut w) => w.drain().collect(),
            Err(_) => return,
        };
        for (_, Waiter { tx, .. }) in drained {
            let _ = tx.send(Err(UpstreamError::Unavailable(why.to_string())));
        }
    }
}

pub fn rpc_error_from(err: &Value) -> RpcError {
    RpcError {
        code: err
            .get("code")
            .and_then(Value::as_i64)
            .unwrap_or(INTERNAL_ERROR),
        message: err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("upstream error")
            .to_string(),
        data: err.get("data").cloned(),
    }
}
