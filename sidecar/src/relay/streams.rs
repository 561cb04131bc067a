//! Client GET streams and what reaches them unprompted: which client sessions stand
//! behind which upstream session, list changes, logs, resource subscriptions.

use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

use super::{ClientCaps, ClientStream, Hub, Users, MAX_USERS, STREAM_QUEUE};
use crate::jsonrpc;
use crate::sse::encode_message;
use crate::verify::ServerScope;

/// How many server streams may be open at once (`meshgate.max_streams_per_session`,
/// `meshgate.max_streams_per_key`).
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub per_session: usize,
    pub per_key: usize,
}

/// A stream refused because a limit is reached: which setting, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyStreams {
    pub setting: &'static str,
    pub limit: usize,
}

impl StreamLimits {
    pub fn of(settings: &meshgate_policy::config::MeshgateSettings) -> Self {
        StreamLimits {
            per_session: settings.max_streams_per_session,
            per_key: settings.max_streams_per_key,
        }
    }
}

impl Hub {
    /// A client's server stream: unsolicited notifications of the servers in `scope`.
    /// Refused when the session or the principal already holds as many as allowed
    /// (every kind counts for the principal: GET, legacy SSE and listen streams).
    pub fn open_stream(
        &self,
        session: &str,
        principal: &str,
        scope: ServerScope,
        limits: StreamLimits,
    ) -> Result<(u64, mpsc::Receiver<Bytes>), TooManyStreams> {
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let Ok(mut m) = self.streams.lock() else {
            return Ok((id, rx));
        };
        m.retain(|_, s| !s.tx.is_closed());
        let (mut of_session, mut of_principal) = (0, 0);
        for s in m.values() {
            of_session += usize::from(s.session == session);
            of_principal += usize::from(s.principal == principal);
        }
        if of_session >= limits.per_session {
            return Err(TooManyStreams {
                setting: "meshgate.max_streams_per_session",
                limit: limits.per_session,
            });
        }
        if of_principal >= limits.per_key {
            return Err(TooManyStreams {
                setting: "meshgate.max_streams_per_key",
                limit: limits.per_key,
            });
        }
        m.insert(
            id,
            ClientStream {
                session: session.to_string(),
                principal: principal.to_string(),
                scope,
                tx,
            },
        );
        Ok((id, rx))
    }

    /// Ends the streams of the sessions `ended` says are over (revoked elsewhere).
    pub fn end_sessions_where(&self, ended: impl Fn(&str) -> bool) {
        let sessions: std::collections::HashSet<String> = match self.streams.lock() {
            Ok(m) => m.values().map(|s| s.session.clone()).collect(),
            Err(_) => return,
        };
        for session in sessions.iter().filter(|s| ended(s)) {
            self.end_session(session);
        }
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

    pub(super) fn users_of(&self, server: &str, key: u64) -> Option<Users> {
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
