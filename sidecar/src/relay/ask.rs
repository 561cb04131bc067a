//! Server→client requests relayed to a client and its answers relayed back.

use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::{ClientAnswer, Exchange, Hub, MAX_ASK, UNRELATED_ASK};
use crate::jsonrpc::{self, Message, RpcError};
use crate::sse::encode_message;

impl Hub {
    /// Relays a server→client request to the client of `exchange` and returns the
    /// JSON-RPC reply for the upstream (with the upstream's id).
    pub async fn ask_client(&self, exchange: Option<&Arc<Exchange>>, msg: &Message) -> Vec<u8> {
        let upstream_id = msg.id.clone().unwrap_or_else(jsonrpc::Id::null);
        let method = msg.method.as_deref().unwrap_or_default();
        if method == "ping" {
            return jsonrpc::response_value(&upstream_id, &serde_json::json!({}));
        }
        let refuse = |why: String| RpcError::method_not_found(why).to_response(Some(&upstream_id));
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
            _ => RpcError::internal(format!("the client did not answer `{method}`"))
                .to_response(Some(&upstream_id)),
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
        let Some(id) = msg.id.as_ref().and_then(jsonrpc::Id::as_string) else {
            return false;
        };
        let Some(tx) = self.answers.lock().ok().and_then(|mut m| m.remove(&id)) else {
            return false;
        };
        tx.send(ClientAnswer {
            result: msg.result,
            error: msg.error,
        })
        .is_ok()
    }
}
