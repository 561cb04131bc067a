//! The conformance fixture: an MCP server over streamable HTTP that offers every
//! primitive the official conformance suite (`@modelcontextprotocol/conformance`, server
//! scenarios) exercises, written by hand like the other demo servers.
//!
//! | module | concern |
//! | --- | --- |
//! | `transport` | HTTP: POST/GET/DELETE on `/mcp`, Host/Origin checks, sessions, JSON or SSE replies |
//! | `session` | one client session: negotiated version, client capabilities, log level, subscriptions, GET stream, server→client requests awaiting answers |
//! | `call` | the SSE response of one request: notifications and server→client requests sent before its result |
//! | `methods` | the JSON-RPC method table |
//! | `tools`, `resources`, `prompts` | the primitives |
//! | `content` | the fixed image and audio payloads |
//! | `body` | the response body type (whole buffer or channel-fed SSE stream) |

pub mod body;
pub mod call;
pub mod content;
pub mod methods;
pub mod origin;
pub mod prompts;
pub mod resources;
pub mod session;
pub mod tools;
pub mod transport;

use serde_json::{json, Value};
use session::Sessions;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Duration;

/// Protocol revisions the fixture negotiates, newest first.
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];

/// A JSON-RPC error: code, message, optional data.
#[derive(Debug, Clone)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(-32602, message)
    }

    pub fn to_json(&self) -> Value {
        let mut e = json!({"code": self.code, "message": self.message});
        if let Some(d) = &self.data {
            e["data"] = d.clone();
        }
        e
    }
}

pub type Outcome = Result<Value, RpcError>;

/// A JSON-RPC response message for `id`.
pub fn response(id: &Value, outcome: &Outcome) -> Value {
    match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": e.to_json()}),
    }
}

/// State shared by every session of the fixture process.
pub struct Fixture {
    pub name: String,
    pub sessions: Sessions,
    /// Whether `test_dynamic_tool` has added the tool `test_dynamic_added`.
    pub dynamic_tool: AtomicBool,
    /// The current text of `test://watched-resource`.
    pub watched: Mutex<String>,
    /// How long a server→client request (sampling, elicitation) waits for its answer.
    pub client_timeout: Duration,
}

impl Fixture {
    pub fn new(name: &str, client_timeout: Duration) -> Self {
        Fixture {
            name: name.to_string(),
            sessions: Sessions::default(),
            dynamic_tool: AtomicBool::new(false),
            watched: Mutex::new(resources::WATCHED_INITIAL.to_string()),
            client_timeout,
        }
    }
}
