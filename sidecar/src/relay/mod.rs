//! Messages that flow against the request direction: upstream notifications and
//! server→client requests relayed to the client session that caused them (or, when
//! unrelated to a request, to the GET streams of sessions allowed that server), client
//! answers relayed back, progress tokens and cancellations mapped between the two.
//!
//! This file: the `Hub`'s state, progress tokens and cancellation. `ask` relays
//! server→client requests and their answers; `streams` holds the GET streams and what
//! reaches them unprompted (users of upstream sessions, subscriptions).

mod ask;
pub mod caps;
pub mod exchange;
pub mod link;
mod streams;

use bytes::Bytes;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub use self::caps::ClientCaps;
pub use self::exchange::Exchange;
pub use self::streams::{StreamLimits, TooManyStreams};
use crate::jsonrpc;
use crate::verify::ServerScope;

/// How long a relayed server→client request may wait for the client at most.
const MAX_ASK: Duration = Duration::from_secs(600);
/// Messages a GET stream may have queued before new ones are dropped for it.
const STREAM_QUEUE: usize = 256;
/// How long an unrelated server→client request waits for a client on a GET stream.
const UNRELATED_ASK: Duration = Duration::from_secs(60);
/// Client sessions remembered per upstream session before the set starts over.
const MAX_USERS: usize = 10_000;

/// What a client answered to a relayed request.
pub struct ClientAnswer {
    pub result: Option<Box<RawValue>>,
    pub error: Option<Value>,
}

struct ProgressRoute {
    client_token: Value,
    exchange: Weak<Exchange>,
}

struct ClientStream {
    session: String,
    /// Who opened it (streams are limited per principal).
    principal: String,
    scope: ServerScope,
    tx: mpsc::Sender<Bytes>,
}

#[derive(Default)]
pub struct Hub {
    next: AtomicU64,
    progress: Mutex<HashMap<String, ProgressRoute>>,
    answers: Mutex<HashMap<String, oneshot::Sender<ClientAnswer>>>,
    /// (session, client request id as JSON) → the exchange, for cancellation.
    in_flight: Mutex<HashMap<(String, String), Weak<Exchange>>>,
    streams: Mutex<HashMap<u64, ClientStream>>,
    /// (server, upstream URI) → session → the URI as the client subscribed to it.
    subscriptions: Mutex<HashMap<(String, String), HashMap<String, String>>>,
    /// (server, upstream session key) → the client sessions that used it: what an
    /// upstream session sends unprompted goes to them only (never to clients behind
    /// other credentials).
    /// Nested by server so the per-request check allocates nothing.
    users: Mutex<HashMap<String, HashMap<u64, Users>>>,
}

/// The client sessions behind one upstream session.
#[derive(Clone, Default)]
struct Users {
    /// What they declared (part of the upstream session's key: the same for all).
    caps: ClientCaps,
    sessions: HashSet<String>,
}

/// Removes a registration when the request it belongs to ends.
pub struct Registration {
    hub: Weak<Hub>,
    what: Registered,
}

enum Registered {
    Progress(String),
    InFlight(String, String),
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Some(hub) = self.hub.upgrade() else {
            return;
        };
        match &mut self.what {
            Registered::Progress(token) => {
                if let Ok(mut m) = hub.progress.lock() {
                    m.remove(token);
                }
            }
            Registered::InFlight(session, id) => {
                let key = (std::mem::take(session), std::mem::take(id));
                if let Ok(mut m) = hub.in_flight.lock() {
                    m.remove(&key);
                }
            }
        }
    }
}

impl Hub {
    fn unguessable(kind: &str) -> Option<String> {
        let mut raw = [0u8; 16];
        getrandom::getrandom(&mut raw).ok()?;
        Some(format!("mg-{kind}-{}", hex::encode(raw)))
    }

    fn fresh(&self, kind: &str) -> String {
        format!(
            "mg-{kind}-{}",
            self.next.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    /// When `params` carries `_meta.progressToken`, a copy with a gateway token (unique
    /// across every client sharing the upstream connection), routed back to `exchange`.
    pub fn map_progress(
        self: &Arc<Self>,
        params: &Value,
        exchange: &Arc<Exchange>,
    ) -> Option<(Value, Registration)> {
        let client_token = params.get("_meta")?.get("progressToken")?.clone();
        let token = self.fresh("p");
        let mut mapped = params.clone();
        mapped["_meta"]["progressToken"] = Value::String(token.clone());
        self.progress.lock().ok()?.insert(
            token.clone(),
            ProgressRoute {
                client_token,
                exchange: Arc::downgrade(exchange),
            },
        );
        Some((
            mapped,
            Registration {
                hub: Arc::downgrade(self),
                what: Registered::Progress(token),
            },
        ))
    }

    /// An upstream's `notifications/progress`: to the request that owns the token.
    pub fn relay_progress(&self, params: Option<&Value>) {
        let Some(params) = params else { return };
        let Some(token) = params.get("progressToken").and_then(Value::as_str) else {
            return;
        };
        let route = self.progress.lock().ok().and_then(|m| {
            m.get(token)
                .map(|r| (r.client_token.clone(), r.exchange.upgrade()))
        });
        let Some((client_token, Some(exchange))) = route else {
            return;
        };
        let mut params = params.clone();
        params["progressToken"] = client_token;
        exchange.send(jsonrpc::notification(
            "notifications/progress",
            Some(&params),
        ));
    }

    /// Remembers an in-flight request so `notifications/cancelled` can find it.
    pub fn track(
        self: &Arc<Self>,
        session: &str,
        request_id: &jsonrpc::Id,
        exchange: &Arc<Exchange>,
    ) -> Option<Registration> {
        let id = request_id.key();
        self.in_flight
            .lock()
            .ok()?
            .insert((session.to_string(), id.clone()), Arc::downgrade(exchange));
        Some(Registration {
            hub: Arc::downgrade(self),
            what: Registered::InFlight(session.to_string(), id),
        })
    }

    /// The client cancelled one of its requests; unknown or finished ones are ignored.
    pub fn cancel(&self, session: &str, request_id: &Value) {
        let key = (
            session.to_string(),
            jsonrpc::Id::from_value(request_id).key(),
        );
        let found = self
            .in_flight
            .lock()
            .ok()
            .and_then(|m| m.get(&key).and_then(Weak::upgrade));
        if let Some(exchange) = found {
            exchange.cancel();
        }
    }
}
