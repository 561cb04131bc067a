//! Client sessions: created by `initialize`, named by `Mcp-Session-Id`, ended by DELETE.

use bytes::Bytes;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// RFC 5424 severities as MCP names them, least severe first.
pub const LOG_LEVELS: &[&str] = &[
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

pub fn log_severity(level: &str) -> Option<usize> {
    LOG_LEVELS.iter().position(|l| *l == level)
}

pub struct Session {
    pub id: String,
    pub protocol: String,
    pub client_capabilities: Value,
    /// Minimum severity sent; `None` until `logging/setLevel` (then everything is sent).
    log_level: Mutex<Option<usize>>,
    subscriptions: Mutex<HashSet<String>>,
    get_stream: Mutex<Option<mpsc::Sender<Bytes>>>,
    /// Server→client requests awaiting the client's answer, by JSON-encoded id.
    pending: Mutex<HashMap<String, oneshot::Sender<Value>>>,
    next_request: AtomicU64,
}

impl Session {
    pub fn new(id: String, protocol: String, client_capabilities: Value) -> Self {
        Session {
            id,
            protocol,
            client_capabilities,
            log_level: Mutex::new(None),
            subscriptions: Mutex::new(HashSet::new()),
            get_stream: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
        }
    }

    /// Whether the client declared capability `name` in `initialize`.
    pub fn client_supports(&self, name: &str) -> bool {
        self.client_capabilities
            .get(name)
            .is_some_and(|v| !v.is_null())
    }

    pub fn set_log_level(&self, level: usize) {
        if let Ok(mut l) = self.log_level.lock() {
            *l = Some(level);
        }
    }

    pub fn log_enabled(&self, level: &str) -> bool {
        let min = self.log_level.lock().map(|l| *l).unwrap_or(None);
        match (min, log_severity(level)) {
            (Some(min), Some(sev)) => sev >= min,
            _ => true,
        }
    }

    pub fn subscribe(&self, uri: &str) {
        if let Ok(mut s) = self.subscriptions.lock() {
            s.insert(uri.to_string());
        }
    }

    pub fn unsubscribe(&self, uri: &str) {
        if let Ok(mut s) = self.subscriptions.lock() {
            s.remove(uri);
        }
    }

    pub fn is_subscribed(&self, uri: &str) -> bool {
        self.subscriptions
            .lock()
            .map(|s| s.contains(uri))
            .unwrap_or(false)
    }

    /// Installs the GET stream; false when one is already open (a session has one).
    pub fn open_get_stream(&self, tx: mpsc::Sender<Bytes>) -> bool {
        let Ok(mut slot) = self.get_stream.lock() else {
            return false;
        };
        if slot.as_ref().is_some_and(|s| !s.is_closed()) {
            return false;
        }
        *slot = Some(tx);
        true
    }

    /// Sends a message on the GET stream; false when none is open.
    pub fn send_on_get_stream(&self, event: Bytes) -> bool {
        let tx = self.get_stream.lock().ok().and_then(|s| s.clone());
        match tx {
            Some(tx) => tx.try_send(event).is_ok(),
            None => false,
        }
    }

    /// Allocates an id for a server→client request and the receiver of its answer.
    pub fn begin_request(&self) -> (Value, oneshot::Receiver<Value>) {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        let id = Value::String(format!("fixture-{n}"));
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id.to_string(), tx);
        }
        (id, rx)
    }

    /// Forgets a request whose answer is no longer awaited.
    pub fn abandon_request(&self, id: &Value) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&id.to_string());
        }
    }

    /// Hands a client's JSON-RPC response to the request awaiting it; false if none is.
    pub fn deliver(&self, msg: Value) -> bool {
        let Some(id) = msg.get("id") else {
            return false;
        };
        let waiter = self
            .pending
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&id.to_string()));
        match waiter {
            Some(tx) => tx.send(msg).is_ok(),
            None => false,
        }
    }
}

/// Every live session of the process.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
    counter: AtomicU64,
}

impl Sessions {
    pub fn create(&self, protocol: &str, client_capabilities: Value) -> Arc<Session> {
        let id = self.new_id();
        let session = Arc::new(Session::new(
            id.clone(),
            protocol.to_string(),
            client_capabilities,
        ));
        if let Ok(mut m) = self.map.lock() {
            m.insert(id, Arc::clone(&session));
        }
        session
    }

    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.map.lock().ok().and_then(|m| m.get(id).cloned())
    }

    pub fn remove(&self, id: &str) -> bool {
        self.map
            .lock()
            .map(|mut m| m.remove(id).is_some())
            .unwrap_or(false)
    }

    pub fn all(&self) -> Vec<Arc<Session>> {
        self.map
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// 128 random bits from the OS, hex-encoded (falls back to time and a counter).
    fn new_id(&self) -> String {
        use std::io::Read;
        let mut buf = [0u8; 16];
        let random = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut buf))
            .is_ok();
        if !random {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let n = self.counter.fetch_add(1, Ordering::Relaxed) as u128;
            buf = (nanos ^ (n << 64) ^ std::process::id() as u128).to_be_bytes();
        }
        buf.iter().map(|b| format!("{b:02x}")).collect()
    }
}
