//! What an upstream connection reports back: its notifications and server→client
//! requests, handed to the hub with the client request they belong to (if known).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{ClientCaps, Exchange, Hub};
use crate::jsonrpc::{self, Message};

pub struct ServerLink {
    pub name: String,
    pub hub: Arc<Hub>,
    /// Bumped on `notifications/tools/list_changed`: cached tool lists are stale.
    tools_generation: AtomicU64,
}

impl ServerLink {
    pub fn new(name: &str, hub: Arc<Hub>) -> Arc<ServerLink> {
        Arc::new(ServerLink {
            name: name.to_string(),
            hub,
            tools_generation: AtomicU64::new(0),
        })
    }

    /// Notes that a client session (with these capabilities, part of `key`) used the
    /// upstream session `key`.
    pub fn used_by(&self, key: u64, session: Option<&str>, caps: ClientCaps) {
        self.hub.note_user(&self.name, key, session, caps);
    }

    pub fn tools_generation(&self) -> u64 {
        self.tools_generation.load(Ordering::Acquire)
    }

    /// A notification from the upstream session `key`; `related` is the client request
    /// it came with, if known.
    pub fn notification(&self, key: u64, msg: &Message, related: Option<&Arc<Exchange>>) {
        let Some(method) = msg.method.as_deref() else {
            return;
        };
        let params = msg.params.as_ref();
        match method {
            "notifications/progress" => self.hub.relay_progress(params),
            "notifications/message" => {
                let framed = jsonrpc::notification(method, params);
                match related.filter(|e| e.can_stream()) {
                    Some(exchange) => {
                        exchange.send(framed);
                    }
                    None => self.hub.broadcast(&self.name, key, &framed),
                }
            }
            "notifications/tools/list_changed" => {
                self.tools_generation.fetch_add(1, Ordering::AcqRel);
                tracing::info!(server = %self.name, "tools changed upstream");
                self.hub
                    .broadcast(&self.name, key, &jsonrpc::notification(method, None));
            }
            "notifications/prompts/list_changed" | "notifications/resources/list_changed" => {
                self.hub
                    .broadcast(&self.name, key, &jsonrpc::notification(method, None));
            }
            "notifications/resources/updated" => {
                if let Some(p) = params {
                    self.hub.resource_updated(&self.name, key, p);
                }
            }
            other => tracing::debug!(server = %self.name, method = other, "upstream notification"),
        }
    }

    /// A request from the upstream session `key` (sampling, elicitation, roots, ping):
    /// the reply to send back upstream, once the client answered. One tied to no client
    /// request goes to a GET stream of a client session behind that upstream session.
    pub async fn server_request(
        &self,
        key: u64,
        msg: &Message,
        related: Option<&Arc<Exchange>>,
    ) -> Vec<u8> {
        match related {
            Some(exchange) => self.hub.ask_client(Some(exchange), msg).await,
            None => self.hub.ask_unrelated(&self.name, key, msg).await,
        }
    }
}
