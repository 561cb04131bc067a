//! The SSE response of one request: what a tool sends before its result (log and
//! progress notifications, sampling and elicitation requests) goes on this stream, and
//! the client's answers to those requests come back as separate POSTs.

use super::body::sse_event;
use super::session::Session;
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub struct Call {
    pub session: Arc<Session>,
    pub tx: mpsc::Sender<Bytes>,
    pub progress_token: Option<Value>,
    pub client_timeout: Duration,
}

impl Call {
    /// Sends a message on the stream; Err when the client has gone away.
    pub async fn send(&self, msg: &Value) -> Result<(), String> {
        self.tx
            .send(sse_event(msg))
            .await
            .map_err(|_| "the client closed the response stream".to_string())
    }

    pub async fn notify(&self, method: &str, params: Value) -> Result<(), String> {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await
    }

    /// A `notifications/message`, unless the session's log level filters it out.
    pub async fn log(&self, level: &str, data: &str) -> Result<(), String> {
        if !self.session.log_enabled(level) {
            return Ok(());
        }
        self.notify(
            "notifications/message",
            json!({"level": level, "logger": "conformance-fixture", "data": data}),
        )
        .await
    }

    /// A `notifications/progress` for the request's token (nothing without one).
    pub async fn progress(&self, progress: u64, total: u64, message: &str) -> Result<(), String> {
        let Some(token) = &self.progress_token else {
            return Ok(());
        };
        self.notify(
            "notifications/progress",
            json!({"progressToken": token, "progress": progress, "total": total, "message": message}),
        )
        .await
    }

    /// Sends a server→client request and waits for the client's result.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, String> {
        let (id, answer) = self.session.begin_request();
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        if let Err(e) = self.send(&msg).await {
            self.session.abandon_request(&id);
            return Err(e);
        }
        let reply = match tokio::time::timeout(self.client_timeout, answer).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => {
                return Err(format!("no answer to {method}"));
            }
            Err(_) => {
                self.session.abandon_request(&id);
                return Err(format!(
                    "the client did not answer {method} within {} ms",
                    self.client_timeout.as_millis()
                ));
            }
        };
        if let Some(err) = reply.get("error") {
            return Err(format!(
                "the client answered {method} with an error: {}",
                err.get("message").and_then(Value::as_str).unwrap_or("?")
            ));
        }
        reply
            .get("result")
            .cloned()
            .ok_or_else(|| format!("the client's answer to {method} has no result"))
    }
}
