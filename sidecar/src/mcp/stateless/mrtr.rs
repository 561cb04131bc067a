//! The MRTR bridge's table: an upstream request that asked the client something is
//! parked in memory (at most 1024 per replica, for 5 minutes, bound to the principal
//! and method) under a random `requestState`, until the client's retry takes it
//! (`resume.rs`).

use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use super::relayed::{classify, Relayed};
use super::stamp::{stamp, Outcome};
use crate::jsonrpc::{self, Id, RpcError};
use crate::relay::Exchange;

/// How long an upstream request waits parked for the client's `inputResponses`.
const PARK_TTL: Duration = Duration::from_secs(300);
/// Parked requests per replica at most; beyond, a new one is refused.
const MAX_PARKED: usize = 1024;

/// An upstream request of a 2026-07-28 client in flight: its relayed messages, its
/// final reply, and the exchange the relay asks the client through.
pub(super) struct Pending {
    pub(super) principal: String,
    pub(super) method: String,
    pub(super) rx: mpsc::UnboundedReceiver<Vec<u8>>,
    pub(super) done: oneshot::Receiver<Outcome>,
    pub(super) exchange: Arc<Exchange>,
}

/// A pending request waiting for the client's `inputResponses`.
pub(super) struct Parked {
    pub(super) pending: Pending,
    /// The `inputRequests` keys the client must answer.
    pub(super) keys: HashSet<String>,
}

fn parked() -> &'static Mutex<HashMap<String, Parked>> {
    static PARKED: OnceLock<Mutex<HashMap<String, Parked>>> = OnceLock::new();
    PARKED.get_or_init(Default::default)
}

/// Parks `pending` (the upstream waits for the client's answer to `request`, plus any
/// other question already queued) and frames the `input_required` result naming it.
pub(super) fn park(mut pending: Pending, id: &Id, key: String, request: Value) -> Vec<u8> {
    let mut requests = Map::new();
    requests.insert(key, request);
    let mut held = Vec::new();
    // Questions asked together are asked together; notifications stay queued in order
    // behind them (delivered on the retry's response).
    while let Ok(m) = pending.rx.try_recv() {
        match classify(&m, Some(0)) {
            Relayed::Ask(k, r) => {
                requests.insert(k, r);
            }
            _ => held.push(m),
        }
    }
    if !held.is_empty() {
        // Re-queue what was not a question, through a fresh channel in front of the rest.
        let (tx, rx) = mpsc::unbounded_channel();
        for m in held {
            let _ = tx.send(m);
        }
        let rest = std::mem::replace(&mut pending.rx, rx);
        tokio::spawn(forward(rest, tx));
    }
    let Some(token) = fresh_token() else {
        pending.exchange.cancel();
        return RpcError::internal("no randomness for a requestState").to_response(Some(id));
    };
    let keys = requests.keys().cloned().collect();
    let method = pending.method.clone();
    let exchange = Arc::clone(&pending.exchange);
    let admitted = parked().lock().is_ok_and(|mut m| {
        if m.len() >= MAX_PARKED {
            return false;
        }
        m.insert(token.clone(), Parked { pending, keys });
        true
    });
    if !admitted {
        exchange.cancel();
        return RpcError::internal(format!(
            "too many requests are waiting for client input; `{method}` was cancelled"
        ))
        .to_response(Some(id));
    }
    let expiring = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(PARK_TTL).await;
        let gone = parked().lock().ok().and_then(|mut m| m.remove(&expiring));
        if let Some(p) = gone {
            // The upstream hears that the client did not answer; its call ends.
            p.pending.exchange.cancel();
        }
    });
    let mut result = Map::new();
    result.insert("resultType".into(), Value::String("input_required".into()));
    result.insert("inputRequests".into(), Value::Object(requests));
    result.insert("requestState".into(), Value::String(token));
    stamp(&method, &mut result);
    jsonrpc::response_value(id, &Value::Object(result))
}

async fn forward(mut from: mpsc::UnboundedReceiver<Vec<u8>>, to: mpsc::UnboundedSender<Vec<u8>>) {
    while let Some(m) = from.recv().await {
        if to.send(m).is_err() {
            return;
        }
    }
}

/// Takes the request parked under `request_state` if it is this principal's and
/// method's.
pub(super) fn take(request_state: &str, principal: &str, method: &str) -> Option<Parked> {
    parked().lock().ok().and_then(|mut m| {
        let ok = m
            .get(request_state)
            .is_some_and(|p| p.pending.principal == principal && p.pending.method == method);
        if ok {
            m.remove(request_state)
        } else {
            None
        }
    })
}

/// Parks a taken request again under its `requestState` (its retry was incomplete).
pub(super) fn put_back(request_state: &str, parked_request: Parked) {
    if let Ok(mut m) = parked().lock() {
        m.insert(request_state.to_string(), parked_request);
    }
}

fn fresh_token() -> Option<String> {
    let mut bytes = [0u8; 18];
    getrandom::getrandom(&mut bytes).ok()?;
    Some(format!("mg-rs-{}", hex::encode(bytes)))
}
