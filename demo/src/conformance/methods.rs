//! The JSON-RPC method table of a session (everything but `initialize`, which creates
//! the session, and `tools/call` of streamed tools, which the transport runs).

use super::session::{log_severity, Session};
use super::tools::{self, Plan};
use super::{prompts, resources, Fixture, RpcError, PROTOCOL_VERSIONS};
use serde_json::{json, Value};

/// The negotiated revision: the client's when supported, else the newest.
pub fn negotiate(params: &Value) -> &'static str {
    let asked = params
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    PROTOCOL_VERSIONS
        .iter()
        .copied()
        .find(|v| *v == asked)
        .unwrap_or(PROTOCOL_VERSIONS[0])
}

pub fn initialize_result(fx: &Fixture, version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": {
            "tools": {"listChanged": true},
            "resources": {"subscribe": true, "listChanged": true},
            "prompts": {"listChanged": true},
            "logging": {},
            "completions": {}
        },
        "serverInfo": {"name": fx.name, "title": "meshgate conformance fixture", "version": "1.0.0"},
        "instructions": "Fixture server for the MCP conformance suite's server scenarios."
    })
}

pub fn dispatch(fx: &Fixture, session: &Session, method: &str, params: &Value) -> Plan {
    let outcome = match method {
        "ping" => Ok(json!({})),
        "tools/list" => Ok(tools::list(fx)),
        "tools/call" => return tools::plan(fx, session, params),
        "resources/list" => Ok(resources::list()),
        "resources/templates/list" => Ok(resources::templates()),
        "resources/read" => resources::read(fx, params),
        "resources/subscribe" => resources::subscribe(session, params),
        "resources/unsubscribe" => resources::unsubscribe(session, params),
        "prompts/list" => Ok(prompts::list()),
        "prompts/get" => prompts::get(params),
        "completion/complete" => prompts::complete(params),
        "logging/setLevel" => {
            let level = params.get("level").and_then(Value::as_str).unwrap_or("");
            match log_severity(level) {
                Some(l) => {
                    session.set_log_level(l);
                    Ok(json!({}))
                }
                None => Err(RpcError::invalid_params(format!(
                    "Unknown log level: {level}"
                ))),
            }
        }
        "initialize" => Err(RpcError::new(-32600, "The session is already initialized")),
        other => Err(RpcError::new(-32601, format!("Method not found: {other}"))),
    };
    Plan::Now(outcome)
}
