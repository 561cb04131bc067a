//! Messages that flow against the request direction: upstream notifications and
//! server→client requests relayed to the client session that caused them (or, when
//! unrelated to a request, to the GET streams of sessions allowed that server), client
//! answers relayed back, progress tokens and cancellations mapped between the two.

pub mod caps;
pub mod exchange;
pub mod link;

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
use crate::jsonrpc::{self, Message, RpcError, METHOD_NOT_FOUND};
use crate::sse::encode_message;
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
        request_id: &Value,
        exchange: &Arc<Exchange>,
    ) -> Option<Registration> {
        let id = request_id.to_string();
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
        let key = (session.to_string(), request_id.to_string());
        let found = self
            .in_flight
            .lock()
            .ok()
            .and_then(|m| m.get(&key).and_then(Weak::upgrade));
        if let Some(exchange) = found {
            exchange.cancel();
        }
    }

    /// Relays a server→client request to the client of `exchange` and returns the
    /// JSON-RPC reply for the upstream (with the upstream's id).
    pub async fn ask_client(&self, exchange: Option<&Arc<Exchange>>, msg: &Message) -> Vec<u8> {
        let upstream_id = msg.id.clone().unwrap_or(Value::Null);
        let method = msg.method.as_deref().unwrap_or_default();
        if method == "ping" {
            return jsonrpc::response_value(&upstream_id, &serde_json::json!({}));
        }
        let refuse = |why: String| {
            jsonrpc::error_response(
                Some(&upstream_id),
                &RpcError::new(METHOD_NOT_FOUND, why).to_value(),
            )
        };
        let Some(exchange) = exchange.filter(|e| e.can_stream()) else {
            if method == "roots/list" {
                return jsonrpc::response_value(&upstream_id, &serde_json::json!({"roots": []}));
            }
            return refuse(format!(
                "`{method}` cannot be relayed: no client request it belongs to is streaming"
            ));
        };
        if !exchange.caps.answers(method) {
            return refuse(format!("the client did not declare support for `{method}`"));
        }
        // Unguessable: whoever POSTs a response with this id answers for the client.
        let Some(id) = Self::unguessable("s") else {
            return refuse("no randomness for a relayed request id".into());
        };
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.answers.lock() {
            m.insert(id.clone(), tx);
        }
        let mut request = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method});
        if let Some(p) = &msg.params {
            request["params"] = p.clone();
        }
        let sent = exchange.send(serde_json::to_vec(&request).unwrap_or_default());
        let outcome = if sent {
            tokio::select! {
                a = rx => a.ok(),
                _ = exchange.cancelled() => None,
                _ = exchange.stream_closed() => None,
                _ = tokio::time::sleep(MAX_ASK) => None,
            }
        } else {
            None
        };
        if let Ok(mut m) = self.answers.lock() {
            m.remove(&id);
        }
        match outcome {
            Some(ClientAnswer {
                result: Some(result),
                ..
            }) => jsonrpc::response(&upstream_id, &result),
            Some(ClientAnswer {
                error: Some(error), ..
            }) => jsonrpc::error_response(Some(&upstream_id), &error),
            _ => jsonrpc::error_response(
                Some(&upstream_id),
                &RpcError::new(
                    crate::jsonrpc::INTERNAL_ERROR,
                    format!("the client did not answer `{method}`"),
                )
                .to_value(),
            ),
        }
    }

    /// A server→client request tied to no client request (e.g. `roots/list` after
    /// `notifications/roots/list_changed`): asked on the GET stream of one client session
    /// behind that upstream session, if its clients declared the capability; else
    /// answered as [`Hub::ask_client`] answers when nothing streams.
    pub async fn ask_unrelated(&self, server: &str, key: u64, msg: &Message) -> Vec<u8> {
        let method = msg.method.as_deref().unwrap_or_default();
        let caps = self
            .users_of(server, key)
            .map(|u| u.caps)
            .filter(|caps| caps.answers(method));
        let stream = caps.and_then(|_| self.stream_of_a_user(server, key));
        let (Some(caps), Some(stream)) = (caps, stream) else {
            return self.ask_client(None, msg).await;
        };
        let (exchange, rx) = Exchange::new(caps, true);
        let Some(mut rx) = rx else {
            return self.ask_client(None, msg).await;
        };
        // The exchange only carries the request to that stream.
        let forward = tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if stream.send(Bytes::from(encode_message(&m))).await.is_err() {
                    return;
                }
            }
        });
        let asked = self.ask_client(Some(&exchange), msg);
        tokio::pin!(asked);
        let reply = tokio::select! {
            reply = &mut asked => reply,
            _ = tokio::time::sleep(UNRELATED_ASK) => {
                // Ends the wait (and its bookkeeping) with "did not answer".
                exchange.cancel();
                asked.await
            }
        };
        forward.abort();
        reply
    }

    /// The sender of one open stream of a session that used `server`'s session `key`.
    fn stream_of_a_user(&self, server: &str, key: u64) -> Option<mpsc::Sender<Bytes>> {
        let users = self.users_of(server, key)?.sessions;
        let streams = self.streams.lock().ok()?;
        let mut ids: Vec<&u64> = streams.keys().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| streams.get(id))
            .find(|s| s.scope.allows(server) && users.contains(&s.session) && !s.tx.is_closed())
            .map(|s| s.tx.clone())
    }

    /// A response POSTed by a client: true when it answered a relayed request.
    pub fn client_answered(&self, msg: Message) -> bool {
        let Some(id) = msg.id.as_ref().and_then(Value::as_str) else {
            return false;
        };
        let Some(tx) = self.answers.lock().ok().and_then(|mut m| m.remove(id)) else {
            return false;
        };
        tx.send(ClientAnswer {
            result: msg.result,
            error: msg.error,
        })
        .is_ok()
    }

    /// A client's GET stream: unsolicited notifications of the servers in `scope`.
    pub fn open_stream(&self, session: &str, scope: ServerScope) -> (u64, mpsc::Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut m) = self.streams.lock() {
            m.insert(
                id,
                ClientStream {
                    session: session.to_string(),
                    scope,
                    tx,
                },
            );
        }
        (id, rx)
    }

    pub fn close_stream(&self, id: u64) {
        if let Ok(mut m) = self.streams.lock() {
            m.remove(&id);
        }
    }

    /// Notes that a client session reached `server` through the upstream session `key`.
    pub fn note_user(&self, server: &str, key: u64, session: Option<&str>, caps: ClientCaps) {
        let Some(session) = session else { return };
        let Ok(mut users) = self.users.lock() else {
            return;
        };
        let known = users
            .get(server)
            .and_then(|keys| keys.get(&key))
            .is_some_and(|u| u.sessions.contains(session));
        if known {
            return;
        }
        let keys = users.entry(server.to_string()).or_default();
        if keys.len() >= MAX_USERS {
            keys.clear();
        }
        let entry = keys.entry(key).or_default();
        entry.caps = caps;
        if entry.sessions.len() >= MAX_USERS {
            entry.sessions.clear();
        }
        entry.sessions.insert(session.to_string());
    }

    fn users_of(&self, server: &str, key: u64) -> Option<Users> {
        self.users.lock().ok()?.get(server)?.get(&key).cloned()
    }

    /// Sends to one open stream of each session that used `server`'s upstream session
    /// `key` (and, when given, only to the sessions in `only`).
    fn deliver(
        &self,
        server: &str,
        key: u64,
        only: Option<&HashMap<String, Vec<u8>>>,
        default: &[u8],
    ) {
        let Some(Users {
            sessions: users, ..
        }) = self.users_of(server, key)
        else {
            return;
        };
        let Ok(mut streams) = self.streams.lock() else {
            return;
        };
        streams.retain(|_, s| !s.tx.is_closed());
        let mut served = std::collections::HashSet::new();
        let mut ids: Vec<&u64> = streams.keys().collect();
        ids.sort();
        for id in ids {
            let Some(s) = streams.get(id) else { continue };
            if !s.scope.allows(server) || served.contains(&s.session) || !users.contains(&s.session)
            {
                continue;
            }
            let message = match only {
                Some(sessions) => match sessions.get(&s.session) {
                    Some(m) => m.as_slice(),
                    None => continue,
                },
                None => default,
            };
            if s.tx.try_send(Bytes::from(encode_message(message))).is_ok() {
                served.insert(s.session.clone());
            }
        }
    }

    /// An unsolicited notification from `server`'s upstream session `key`.
    pub fn broadcast(&self, server: &str, key: u64, message: &[u8]) {
        self.deliver(server, key, None, message);
    }

    /// The client ended its session (DELETE): its streams close, its subscriptions go.
    pub fn end_session(&self, session: &str) {
        if let Ok(mut m) = self.streams.lock() {
            m.retain(|_, s| s.session != session);
        }
        if let Ok(mut m) = self.subscriptions.lock() {
            m.retain(|_, subscribers| {
                subscribers.remove(session);
                !subscribers.is_empty()
            });
        }
        if let Ok(mut m) = self.users.lock() {
            for keys in m.values_mut() {
                keys.retain(|_, u| {
                    u.sessions.remove(session);
                    !u.sessions.is_empty()
                });
            }
            m.retain(|_, keys| !keys.is_empty());
        }
    }

    /// Records a subscription; true when it is the first for this upstream resource.
    pub fn subscribe(&self, server: &str, uri: &str, session: &str, client_uri: &str) -> bool {
        let Ok(mut m) = self.subscriptions.lock() else {
            return true;
        };
        let subscribers = m.entry((server.to_string(), uri.to_string())).or_default();
        let first = subscribers.is_empty();
        subscribers.insert(session.to_string(), client_uri.to_string());
        first
    }

    /// Drops a subscription; true when nobody is subscribed to the resource any more.
    pub fn unsubscribe(&self, server: &str, uri: &str, session: &str) -> bool {
        let Ok(mut m) = self.subscriptions.lock() else {
            return false;
        };
        let key = (server.to_string(), uri.to_string());
        let Some(subscribers) = m.get_mut(&key) else {
            return true;
        };
        subscribers.remove(session);
        if subscribers.is_empty() {
            m.remove(&key);
            return true;
        }
        false
    }

    /// `notifications/resources/updated` for the sessions subscribed to that resource,
    /// each with the URI as it subscribed.
    pub fn resource_updated(&self, server: &str, key: u64, params: &Value) {
        let Some(uri) = params.get("uri").and_then(Value::as_str) else {
            return;
        };
        let subscribers = self
            .subscriptions
            .lock()
            .ok()
            .and_then(|m| m.get(&(server.to_string(), uri.to_string())).cloned());
        let Some(subscribers) = subscribers else {
            return;
        };
        let messages: HashMap<String, Vec<u8>> = subscribers
            .into_iter()
            .map(|(session, client_uri)| {
                let mut p = params.clone();
                p["uri"] = Value::String(client_uri);
                (
                    session,
                    jsonrpc::notification("notifications/resources/updated", Some(&p)),
                )
            })
            .collect();
        self.deliver(server, key, Some(&messages), &[]);
    }
}
